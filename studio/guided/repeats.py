"""No name written twice where the validator refuses it: a guided answer may not declare a Terraform block's
labels again, nor repeat a key of the YAML mapping it is writing.

    >>> from studio.guided.repeats import Repeats
    >>> repeats = Repeats(tokenizer, "kubernetes")
    >>> repeats.banned("```yaml\\nkind: Pod\\nspec:\\n  containers:\\n  - name: a\\n    image: b\\n   ")
    [...]   # the token ids of " image" (and " name"): keys this mapping already has

A context-free grammar cannot say "each key once": the orders of n keys are n! sentences. Yet the two commonest
failures of guided answers on the gpu recipe's SFT model (H200, 2026-12-04, bench/sweeps/results/gpu-h200.md)
were exactly these: `aws_sqs_queue.mailer is declared twice` (8 of 72 Terraform answers) and `key "resources" is
defined twice` (9 of 49 Kubernetes answers), a model going round a loop. So, beside the grammar's mask, each
row's text is read at the points where a name is being finished, and the tokens that would finish one already
written are taken out of the mask:
- Terraform: inside the name label of `resource "T" "name"` / `data "T" "name"` (the labels of `variable`,
  `output` and `module` likewise), the tokens that close the label on a name this type already has (its quote,
  alone or with what precedes it in the token). The grammar still lets the name go on (`mailer_2`).
- YAML: at a key's place (a line's indentation, then the key's first characters), the tokens that would write a
  key this mapping already holds, whole or as the rest of it, with or without its colon. The mapping is the one
  the key's column joins: the lines above at that column back to the line that opened it (`- ` a column to the
  left, a shallower key, or the document's start).
A ban that would leave no token at all is not applied (the grammar may allow nothing else there).
"""

from __future__ import annotations

import bisect
import functools
import re

_WORD = re.compile(r"( *)([A-Za-z0-9_./-]*)(:.*)?", re.S)
_LABEL_TOKEN = re.compile(r"([A-Za-z0-9_./:-]*)\".*", re.S)
_TERRAFORM_OPEN = re.compile(r'\s*(?:(resource|data)\s+"([^"\n]+)"\s+|(variable|output|module)\s+)"([^"\n]*)$')
_TERRAFORM_DECLARED = re.compile(r'(?m)^\s*(?:(resource|data)\s+"([^"\n]+)"\s+|(variable|output|module)\s+)'
                                 r'"([^"\n]+)"')
_YAML_KEY_PLACE = re.compile(r"( *)([A-Za-z0-9_./-]*)")
_YAML_LINE = re.compile(r"( *)(- +)?([A-Za-z0-9_./-]+|\"[^\"\n]*\"|'[^'\n]*')?( *:)?")


def _tables(tokenizer) -> tuple[dict, dict, dict]:
    """(YAML: key text -> [(token, leading spaces, has colon)], Terraform: label text -> [token], token -> its
    text) for the tokens that can end a key or a label."""
    words: dict[str, list] = {}
    labels: dict[str, list] = {}
    texts: dict[int, str] = {}
    for token, i in tokenizer.get_vocab().items():
        text = texts[i] = tokenizer.convert_tokens_to_string([token])
        match = _WORD.fullmatch(text)
        if match and (match[2] or match[3]):
            words.setdefault(match[2], []).append((i, len(match[1]), match[3] is not None))
        match = _LABEL_TOKEN.fullmatch(text)
        if match:
            labels.setdefault(match[1], []).append(i)
    return words, labels, texts


class Repeats:
    """The repeat bans of one row of one kind."""

    def __init__(self, tokenizer, kind: str):
        from studio.guided.decoding import per_tokenizer

        self.kind = kind
        self._words, self._labels, self._texts = per_tokenizer(_tables, tokenizer)
        # The mappings above the current line (they change only when a line ends) and the bans found on it.
        self._above: str | None = None
        self._keys: dict[int, set[str]] = {}
        self._fields: dict[int, set[str] | None] = {}
        self._bans: dict[tuple[int, str], list[int]] = {}
        self.text = ""  # the answer so far, as `add` gave it
        self.applied = 0  # steps where a ban took tokens out of the mask

    def add(self, token: int) -> None:
        self.text += self._texts.get(token, "")

    def banned(self, text: str | None = None) -> list[int]:
        """The tokens that, written after `text` (by default the answer so far), would repeat a name."""
        text = self.text if text is None else text
        line = text[text.rfind("\n") + 1:]
        if self.kind == "terraform":
            return self._terraform(text, line)
        if self.kind == "kubernetes":
            return self._kubernetes(text, line)
        return []

    def _terraform(self, text: str, line: str) -> list[int]:
        match = _TERRAFORM_OPEN.fullmatch(line)
        if not match:
            return []
        where = (match[1] or match[3], match[2])
        partial = match[4]
        names = {m[4] for m in _TERRAFORM_DECLARED.finditer(text) if (m[1] or m[3], m[2]) == where}
        return [i for name in names if name.startswith(partial) for i in self._labels.get(name[len(partial):], ())]

    def _kubernetes(self, text: str, line: str) -> list[int]:
        place = _YAML_KEY_PLACE.fullmatch(line)
        if not place:
            return []  # a dash (a new mapping begins), a value, a comment: nothing to ban
        indent, partial = len(place[1]), place[2]
        above = text[: len(text) - len(line)]
        if above != self._above:
            self._above, self._bans = above, {}
            self._keys, self._fields = _mapping_keys(above), {}
        if (indent, partial) not in self._bans:
            self._bans[indent, partial] = self._kubernetes_bans(indent, partial)
        return self._bans[indent, partial]

    def _kubernetes_bans(self, indent: int, partial: str) -> list[int]:
        banned = []
        for column, existing in self._keys.items():
            lead = column - indent
            if (partial and lead) or lead < 0:
                continue
            if column not in self._fields:
                self._fields[column] = _fields(self._above, column)
            fields = self._fields[column]
            unwritten = sorted(fields - existing) if fields is not None else None
            for key in existing:
                if not key.startswith(partial):
                    continue
                for end in range(len(partial), len(key) + 1):
                    tokens = self._words.get(key[len(partial):end])
                    if not tokens:
                        continue
                    # A token ending in a colon bans where it writes `key` whole. One without: where no field the
                    # schema has that its text could still become is unwritten (so that the row is not led to a
                    # key it may only finish with a banned colon).
                    done = unwritten is not None and not _any_starts(unwritten, key[:end])
                    for token, token_lead, colon in tokens:
                        if token_lead == lead and (end == len(key) if colon else done):
                            banned.append(token)
        return banned


def _any_starts(ordered: list[str], prefix: str) -> bool:
    """Whether a string of the sorted list `ordered` starts with `prefix`."""
    i = bisect.bisect_left(ordered, prefix)
    return i < len(ordered) and ordered[i].startswith(prefix)


def _mapping_keys(above: str) -> dict[int, set[str]]:
    """For each column, the keys of the mapping a key written at that column on the next line would join."""
    keys: dict[int, set[str]] = {}
    closed: set[int] = set()
    shallowest = 1 << 30
    for line in reversed(above.split("\n")):
        if line.startswith(("---", "```")):
            break
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _YAML_LINE.match(line)
        column = len(match[1]) + len(match[2] or "")
        if column > shallowest:
            continue  # inside a mapping or a block that a shallower line below has closed
        if match[3] and match[4] and column not in closed:
            keys.setdefault(column, set()).add(match[3].strip("\"'"))
        if match[2]:
            closed.add(column)  # `- ` opened this item's mapping: the lines above belong to another
        shallowest = column
    return keys


def _fields(above: str, column: int) -> set[str] | None:
    """The field names the schema allows in the mapping a key at `column` on the next line would join, or None
    where the keys are free (labels, data) or the kind is not known."""
    path: list[str] = []
    api_version = kind = None
    for line in reversed(above.split("\n")):
        if line.startswith(("---", "```")):
            break
        match = _YAML_LINE.match(line)
        if not match[3] or line.lstrip().startswith("#"):
            continue
        key_column = len(match[1]) + len(match[2] or "")
        if key_column == 0 and match[4]:
            value = line.split(":", 1)[1].strip()
            api_version = value if match[3] == "apiVersion" else api_version
            kind = value if match[3] == "kind" else kind
        if key_column < column and match[4]:
            path.insert(0, match[3].strip("\"'"))
            column = key_column
    schema = _kind_schemas().get((api_version, kind))
    if schema is None:
        return None
    for key in path:
        schema = _resolve(schema.get("properties", {}).get(key))
        if schema is not None and "items" in schema:
            schema = _resolve(schema["items"])
        if schema is None or "properties" not in schema:
            return None
    return set(schema["properties"])


@functools.lru_cache(maxsize=1)
def _kind_schemas() -> dict:
    from studio.guided.kubernetes_grammar import _kinds
    from studio.iac.kubernetes import DEFAULT_KUBERNETES_VERSION, _schema_folder

    folder, _ = _schema_folder(DEFAULT_KUBERNETES_VERSION)
    return {(api, kind): schema for api, kind, schema in _kinds(folder)}


@functools.lru_cache(maxsize=1)
def _definitions() -> dict:
    import kubernetes_validate.utils as kubernetes_validate

    from studio.iac.kubernetes import DEFAULT_KUBERNETES_VERSION, _schema_folder

    folder, _ = _schema_folder(DEFAULT_KUBERNETES_VERSION)
    return kubernetes_validate.schema_contents(f"{folder}/_definitions.json", folder)["$defs"]


def _resolve(schema: dict | None) -> dict | None:
    if schema and "$ref" in schema:
        return _definitions()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema
