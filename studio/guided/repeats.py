"""No name written twice where the validator refuses it: a guided answer may not declare a Terraform block's
labels again, nor set an argument its block already has, nor repeat a key of the YAML mapping it is writing; and
it writes no comment lines.

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
- Terraform arguments: at an argument's place inside a resource or data block (or a block nested in one), the
  tokens that would write the name of an argument this block already sets (`db_name = ...` twice: Terraform
  refuses "Attribute redefined"), ended by a space or `=`, or whole where no argument or block of the schema
  that is not yet written could still begin with it.
- YAML: at a key's place (a line's indentation, then the key's first characters), the tokens that would write a
  key this mapping already holds, whole or as the rest of it, with or without its colon. The mapping is the one
  the key's column joins: the lines above at that column back to the line that opened it (`- ` a column to the
  left, a shallower key, or the document's start).
- Comments: no token that begins a comment line (`#`, `//`, `/*` after the line's indentation), except inside a
  heredoc or a YAML block scalar, where `#` is text (a `#!/bin/bash` of `user_data`); in Terraform none after
  code either (`#` or `//` outside a string), where a model kept from comment lines and from endless whitespace
  would loop next. The grammar
  accepts comments (66 of the 740 seed answers have one), but where the grammar takes away the token a model
  wanted, a comment is the one place where anything may follow: on the gpu recipe's SFT model (H200, 2026-12-04)
  21 of 121 guided answers wrote comments against 2 unguided, 13 of them looped inside them, and none passed.
  (`decoding.COMMENT_BANS` says for which kinds: Terraform, where they were measured to help.) Where comments
  stay allowed (Kubernetes), optionally no comment line right after another (`decoding.COMMENT_RUNS`, off: not
  measured to help): the seed answers never write two in a row, and a guided answer that loops in comments writes
  the same one again and again.
- Kubernetes objects: the `metadata.name` of a document may not end on the name an earlier document of the same
  kind has (`Deployment frontend is declared twice`).
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
_HCL_WORD = re.compile(r"( *)([A-Za-z0-9_-]*)( +| *=.*)?", re.S)
_HCL_KEY_PLACE = re.compile(r"( *)([A-Za-z0-9_-]*)")
_HCL_ARGUMENT = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=(?!=)")
_HCL_BLOCK = re.compile(r'\s*(?:(resource|data)\s+"([^"\n]+)"\s+"[^"\n]*"|([A-Za-z0-9_-]+))\s*\{')
_HCL_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')
# A comment's opener (in HCL also `//`, `/*`, or its first half: `/` then `*` as two tokens), by kind
_COMMENT = {"terraform": r"[ \t]*(?:#|//|/\*|/$)", "kubernetes": r"[ \t]*#"}
_COMMENT_START = {kind: re.compile(pattern) for kind, pattern in _COMMENT.items()}
_COMMENT_LINE = {kind: re.compile("\n" + pattern) for kind, pattern in _COMMENT.items()}
# After code on a Terraform line: a comment's opener (a lone `/` stays: it divides), or after a `/` a token that
# begins with another (the grammar has no `/* */`).
_TRAILING_COMMENT = re.compile(r"[ \t]*(?:#|//)")
_YAML_LINE = re.compile(r"( *)(- +)?([A-Za-z0-9_./-]+|\"[^\"\n]*\"|'[^'\n]*')?( *:)?")


class _Tables:
    """The tokens that can end a name, per tokenizer: YAML keys (key text -> [(token, leading spaces, has colon)]),
    Terraform labels (label text -> [token]), Terraform argument names (name text -> [(token, leading spaces,
    ended by a space or `=`)]), per kind the tokens that begin a comment on the line they join (`comment_starts`)
    or on a line of their own (`comment_lines`), and each token's text."""

    def __init__(self, tokenizer):
        self.words: dict[str, list] = {}
        self.labels: dict[str, list] = {}
        self.hcl_words: dict[str, list] = {}
        self.comment_starts: dict[str, list[int]] = {kind: [] for kind in _COMMENT}
        self.comment_lines: dict[str, list[int]] = {kind: [] for kind in _COMMENT}
        self.line_ends: dict[str, list[int]] = {}  # YAML: tokens that end a line, by their text before the newline
        self.trailing_comments: list[int] = []  # Terraform: after code, or after a `/` that would become `//`
        self.after_slash: list[int] = []
        self.texts: dict[int, str] = {}
        for token, i in tokenizer.get_vocab().items():
            text = self.texts[i] = tokenizer.convert_tokens_to_string([token])
            match = _WORD.fullmatch(text)
            if match and (match[2] or match[3]):
                self.words.setdefault(match[2], []).append((i, len(match[1]), match[3] is not None))
            match = _LABEL_TOKEN.fullmatch(text)
            if match:
                self.labels.setdefault(match[1], []).append(i)
            match = _HCL_WORD.fullmatch(text)
            if match and (match[2] or match[3]):
                self.hcl_words.setdefault(match[2], []).append((i, len(match[1]), match[3] is not None))
            for kind in _COMMENT:
                if "\n" not in text and _COMMENT_START[kind].match(text):
                    self.comment_starts[kind].append(i)
                if _COMMENT_LINE[kind].search(text):
                    self.comment_lines[kind].append(i)
            if "\n" in text:
                self.line_ends.setdefault(text.split("\n", 1)[0], []).append(i)
            if "\n" not in text and _TRAILING_COMMENT.match(text):
                self.trailing_comments.append(i)
            if text.startswith("/"):
                self.after_slash.append(i)
        self.spaces_then_end = [i for before, ids in self.line_ends.items() if before and not before.strip()
                                for i in ids]


class Repeats:
    """The repeat bans of one row of one kind."""

    def __init__(self, tokenizer, kind: str, names: bool = True, comments: bool = True, comment_runs: bool = False):
        from studio.guided.decoding import per_tokenizer

        self.kind = kind
        # which bans apply: repeated names, comment lines, a comment line after another where comments are allowed
        self.names, self.comments, self.comment_runs = names, comments, comment_runs
        self._tables = per_tokenizer(_Tables, tokenizer)
        self._words, self._labels, self._texts = self._tables.words, self._tables.labels, self._tables.texts
        # The mappings above the current line (they change only when a line ends) and the bans found on it.
        self._above: str | None = None
        self._keys: dict[int, set[str]] = {}
        self._fields: dict[int, set[str] | None] = {}
        self._bans: dict[tuple[int, str], list[int]] = {}
        self._block: tuple[set[str], set[str] | None] = (set(), None)  # Terraform: see `_hcl_block`
        self._text_above: str | None = None  # the lines above, and whether the next one is free text (`_in_text`)
        self._text = False
        self.text = ""  # the answer so far, as `add` gave it
        self.applied = 0  # steps where a ban took tokens out of the mask

    def add(self, token: int) -> None:
        self.text += self._texts.get(token, "")

    def banned(self, text: str | None = None) -> list[int]:
        """The tokens that, written after `text` (by default the answer so far), would repeat a name."""
        text = self.text if text is None else text
        line = text[text.rfind("\n") + 1:]
        banned = []
        above = text[: len(text) - len(line)]
        if self.comments and self.kind in _COMMENT and not self._in_text(above):
            banned = self._tables.comment_lines[self.kind] + (
                self._tables.comment_starts[self.kind] if not line.strip() else self._trailing(line))
        elif self.comment_runs and self.kind == "kubernetes" and not self._in_text(above):
            banned = self._comment_run(above, line)
        if self.names and self.kind == "terraform":
            banned = banned + self._terraform(text, line) + self._arguments(text, line)
        elif self.names and self.kind == "kubernetes":
            banned = banned + self._kubernetes(text, line) + self._object_name(text, line)
        return banned

    def _comment_run(self, above: str, line: str) -> list[int]:
        """YAML: the tokens that would begin a comment line right after a comment line (blank lines between)."""
        stripped = line.lstrip(" ")
        if stripped.startswith("#"):  # inside a comment line: no token that ends it and begins another
            return self._tables.comment_lines[self.kind]
        if stripped:
            return []
        previous = next((row for row in reversed(above.split("\n")[:-1]) if row.strip()), "")
        if not previous.lstrip(" ").startswith("#"):
            return []
        return self._tables.comment_starts[self.kind] + self._tables.comment_lines[self.kind]

    def _trailing(self, line: str) -> list[int]:
        """Terraform: the tokens that would begin a comment after the code of this line (outside a string)."""
        if self.kind != "terraform" or (line.count('"') - line.count('\\"')) % 2:
            return []
        return self._tables.trailing_comments + (self._tables.after_slash if line.endswith("/") else [])

    def _terraform(self, text: str, line: str) -> list[int]:
        match = _TERRAFORM_OPEN.fullmatch(line)
        if not match:
            return []
        where = (match[1] or match[3], match[2])
        partial = match[4]
        names = {m[4] for m in _TERRAFORM_DECLARED.finditer(text) if (m[1] or m[3], m[2]) == where}
        return [i for name in names if name.startswith(partial) for i in self._labels.get(name[len(partial):], ())]

    def _in_text(self, above: str) -> bool:
        if above != self._text_above:  # once per line
            self._text_above, self._text = above, _in_text(above, self.kind)
        return self._text

    def _arguments(self, text: str, line: str) -> list[int]:
        place = _HCL_KEY_PLACE.fullmatch(line)
        if not place:
            return []  # not at an argument's place
        above = text[: len(text) - len(line)]
        if above != self._above:  # once per line: the block's arguments so far and the names its schema allows
            # (by the braces, not the indentation: guided answers have set an argument again and again at column
            # 0 inside a block, `id = each.value.id` 23 times; at the top level there is no block and no ban)
            self._above, self._bans = above, {}
            self._block = _hcl_block(above) or (set(), None)
        partial = place[2]
        if (0, partial) not in self._bans:
            self._bans[0, partial] = self._argument_bans(partial)
        return self._bans[0, partial]

    def _argument_bans(self, partial: str) -> list[int]:
        written, fields = self._block
        unwritten = sorted(fields - written) if fields is not None else None
        banned = []
        for name in written:
            if not name.startswith(partial):
                continue
            for end in range(len(partial), len(name) + 1):
                done = unwritten is not None and not _any_starts(unwritten, name[:end])
                for token, lead, ended in self._tables.hcl_words.get(name[len(partial):end], ()):
                    if partial and lead:
                        continue
                    if (end == len(name) if ended else done):
                        banned.append(token)
        return banned

    def _object_name(self, text: str, line: str) -> list[int]:
        """YAML: inside `metadata.name` of a document, the tokens that would end the line on the name an earlier
        document of the same kind has (`Deployment frontend is declared twice`: 5 of 196 guided Kubernetes answers
        of the gpu recipe's models, fifth session). The name may go on (`frontend-canary`)."""
        place = _OBJECT_NAME.fullmatch(line)
        if not place:
            return []
        documents = _DOCUMENT_BREAK.split(text[: len(text) - len(line)])
        current = _object_header(documents[-1])
        top = [row for row in documents[-1].split("\n") if row[:1].strip()]
        if current is None or current[1] is not None or not top or not top[-1].startswith("metadata:"):
            return []  # no kind yet, a name already written, or not under `metadata`
        partial = place[1]
        taken = {header[1] for header in map(_object_header, documents[:-1])
                 if header and header[0] == current[0] and header[1]}
        ends = self._tables.line_ends
        return [i for name in taken if name.startswith(partial)
                for i in ends.get(name[len(partial):], []) + (self._tables.spaces_then_end if name == partial else [])]

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


_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n")
_BLOCK_SCALAR = re.compile(r"(?:.*:|[ \t]*-)[ \t]+[|>][-+0-9]*[ \t]*$")


def _in_text(text: str, kind: str) -> bool:
    """Whether the line after `text` (whole lines) is inside free text, where `#` is not a comment: a Terraform
    heredoc not yet closed (`<<-EOF` ... `EOF`; a `#!/bin/bash` of `user_data`), a YAML block scalar (`script: |`)
    whose lines have not yet come back to its key's indentation."""
    if kind == "terraform":
        openers = list(_HEREDOC.finditer(text))
        if not openers:
            return False
        last = openers[-1]
        return not re.search(rf"(?m)^[ \t]*{last[1]}[ \t]*$", text[last.end():])
    deepest = 1 << 30  # the least indentation of the lines below the one being read
    for line in reversed(text.split("\n")[:-1]):
        if line.startswith(("```", "---")):
            return False
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if _BLOCK_SCALAR.match(line):
            return indent < deepest
        deepest = min(deepest, indent)
        if indent == 0:
            return False
    return False


def _hcl_block(above: str) -> tuple[set[str], set[str] | None] | None:
    """The arguments already set in the Terraform block the next line is inside, and the names (arguments and
    nested blocks) its schema allows there (None where unknown: a block of a type the schema lacks, `dynamic`,
    `locals`, ...); None outside a block, or inside a map or object value (`tags = {`), whose keys are free."""
    written: set[str] = set()
    path: list[str] = []
    depth = 0
    inside = True  # still collecting the current block's arguments
    for line in reversed(above.split("\n")):
        if line.startswith("```"):
            break
        code = _HCL_STRING.sub('""', line)
        code = code.split("#", 1)[0].split("//", 1)[0]
        depth += code.count("}") + code.count("]") + code.count(")") - code.count("{") - code.count("[") - \
            code.count("(")
        if depth < 0:  # this line opens the block the lines below are in
            header = _HCL_BLOCK.match(line)
            if not header:
                return None if inside else (written, None)  # a map, an object, a list: not a block
            if header[1]:
                path.insert(0, (header[1], header[2]))
                break
            path.insert(0, header[3])
            inside, depth = False, 0
        elif depth == 0 and inside:
            match = _HCL_ARGUMENT.match(code)
            if match:
                written.add(match[1])
    if not path or not isinstance(path[0], tuple):
        return (written, None) if path else None
    from studio.iac.aws_schema import aws_schema
    from studio.iac.terraform import META_ARGUMENTS

    (what, tf_type), *nested = path
    schema = aws_schema()
    block = schema.resource(tf_type) if what == "resource" else schema.data_source(tf_type)
    for name in nested:
        block = block.blocks.get(name) if block is not None else None
    if block is None:
        return written, None
    return written, set(block.names) | (META_ARGUMENTS | {"dynamic"} if not nested else set())


_OBJECT_NAME = re.compile(r"  name: ([A-Za-z0-9_.-]*)")
_DOCUMENT_BREAK = re.compile(r"(?m)^---[ \t]*$|^```yaml$")
_KIND = re.compile(r"(?m)^kind:[ \t]*(\S+)")
_METADATA_NAME = re.compile(r"(?m)^metadata:[ \t]*\n(?:(?:  .*| *)\n)*?  name:[ \t]*(\S+)[ \t]*\n")


def _object_header(document: str) -> tuple[str, str | None] | None:
    """A YAML document's kind and `metadata.name` (None while not written), or None before its kind."""
    kind = _KIND.search(document)
    if not kind:
        return None
    name = _METADATA_NAME.search(document)
    return kind[1], name[1] if name else None


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
