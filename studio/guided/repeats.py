"""No name written twice where the validator refuses it: a guided answer may not declare a Terraform block's
labels again, nor set an argument its block already has, nor repeat a key of the YAML mapping it is writing; it
writes no comment lines; and it does not leave a block or mapping that lacks what its schema requires.

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
  that is not yet written could still begin with it. A nested block of at most one (the schema's `single`) counts
  as written once it is, also as a `dynamic` block's label, and so does `dynamic` once no nested block may come
  again (Terraform: "Too many ... blocks").
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
- What the schema requires: a Terraform resource or data block (or a block nested in one, or a `dynamic` block with
  its `for_each` and `content`) may not close while an argument or nested block its schema requires is missing
  (`missing required argument`: 44 of the 57 Terraform schema failures of the cpu recipe's guided answers, sixth
  session). Its `}` is taken out of the mask at the start of a line (alone or after the line's newline, in the
  tokens that hold both), and `lacking` names what is missing: where `}` was the model's likeliest token the
  processor lets the line begin only one of those names (kept from closing and left free, answers wrote nested
  blocks again and again instead). Nor may the block close on the line that opens it (`rule {}`, `rule { }`).
  Inside a `dynamic` block's `content`, which the grammar leaves free, only the names of the block it writes, and a
  name begun there goes on to one of them. A blank line of a block that lacks a name takes no spaces past the
  column of the block's names (beyond the grammar's bound on indentation no name may begin).
  Likewise a YAML line may not begin left of a mapping that lacks a required field (which would close it), nor
  may the document end (`---`, the fence) while its top level lacks one (`roleRef`); where the model's likeliest
  token would begin the line left of such a mapping (or end it blank, or begin a comment), the line begins a field
  the mapping lacks.
  The processor lifts these bans in the budget's last tokens, where an answer is walked out of its blocks.
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
_HCL_KEY_PLACE = re.compile(r"( *)([A-Za-z0-9_-]*)( *)")
_HCL_EQUALS = re.compile(r" *=(?!=)")
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
_CLOSE = re.compile(r"[ \t]*\}")
_BRACE_PAIR = re.compile(r"[ \t]*\{[ \t]*\}")
_OPEN = re.compile(r"[ \t]*\{")
# Where a nested block's `{` may come next: its name (or `dynamic "name"`), then spaces
_HCL_HEADER_PLACE = re.compile(r' *(?:[A-Za-z][A-Za-z0-9_-]*|dynamic +"[A-Za-z0-9_-]+"'
                               r'|(?:resource|data) +"[^"\n]+" +"[^"\n]*") *')
_CLOSE_NEXT = re.compile(r"([^\n]*)\n[ \t\n]*\}")
_LINE_START = re.compile(r"( *)([^ \n])")
# The arguments and block of a `dynamic "name" { ... }` block
DYNAMIC_ARGUMENTS = ("for_each", "iterator", "labels", "content")
_HCL_DYNAMIC_LABEL = re.compile(r'\s*dynamic\s+"([A-Za-z0-9_-]*)')
_HCL_DYNAMIC = re.compile(r'\s*dynamic\s+"([A-Za-z0-9_-]+)"\s*\{')
_HCL_PROVISIONER = re.compile(r'\s*provisioner\s+"([^"\n]*)"\s*\{')


class _Tables:
    """The tokens that can end a name, per tokenizer: YAML keys (key text -> [(token, leading spaces, has colon)]),
    Terraform labels (label text -> [token]), Terraform argument names (name text -> [(token, leading spaces,
    ended by a space or `=`)]), per kind the tokens that begin a comment on the line they join (`comment_starts`)
    or on a line of their own (`comment_lines`), and each token's text."""

    def __init__(self, tokenizer):
        self.words: dict[str, list] = {}
        self.labels: dict[str, list] = {}
        self.hcl_words: dict[str, list] = {}
        self.equals: list[int] = []  # Terraform: tokens that begin with an argument's `=` (spaces before it)
        self.spaces: list[int] = []  # tokens of spaces alone
        self.starts_of: dict[tuple, list[int]] = {}  # see `Repeats.starts_of`
        self.comment_starts: dict[str, list[int]] = {kind: [] for kind in _COMMENT}
        self.comment_lines: dict[str, list[int]] = {kind: [] for kind in _COMMENT}
        self.line_ends: dict[str, list[int]] = {}  # YAML: tokens that end a line, by their text before the newline
        self.trailing_comments: list[int] = []  # Terraform: after code, or after a `/` that would become `//`
        self.after_slash: list[int] = []
        # Terraform: tokens that close a block at the start of a line (`}`, `})`, ...), and those that end the line
        # first and close on the next (by their text before the newline)
        self.closes: list[int] = []
        self.brace_pairs: list[int] = []  # Terraform: tokens that open a block and close it at once (`{}`)
        self.opens: list[int] = []  # Terraform: tokens that begin with a block's `{` (spaces before it)
        self.closes_next: dict[str, list[int]] = {}
        # YAML: tokens that decide a line's column, by the spaces they begin with (then a character that is not
        # one); at column 0, those that begin a document's end (`---`, not a list item's `- `) or the fence (```),
        # and those that go on with a dash
        self.line_starts: dict[int, list[int]] = {}
        self.document_ends: list[int] = []
        self.dashes: list[int] = []
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
                # a token of no name (` =`): its spaces go before the `=`, not before a name
                lead = len(match[1]) if match[2] else 0
                self.hcl_words.setdefault(match[2], []).append((i, lead, match[3] is not None))
            if _HCL_EQUALS.match(text):
                self.equals.append(i)
            if text and not text.strip(" "):
                self.spaces.append(i)
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
            if _CLOSE.match(text):
                self.closes.append(i)
            if _BRACE_PAIR.match(text):
                self.brace_pairs.append(i)
            if _OPEN.match(text):
                self.opens.append(i)
            match = _CLOSE_NEXT.match(text)
            if match:
                self.closes_next.setdefault(match[1], []).append(i)
            match = _LINE_START.match(text)
            if match:
                self.line_starts.setdefault(len(match[1]), []).append(i)
            if text.startswith(("--", "`")):
                self.document_ends.append(i)
            if text.startswith("-"):
                self.dashes.append(i)
        self.spaces_then_end = [i for before, ids in self.line_ends.items() if before and not before.strip()
                                for i in ids]
        # YAML: the tokens that end a line holding nothing but spaces (written at such a line)
        self.blank_line_ends = [i for before, ids in self.line_ends.items() if not before.strip(" ") for i in ids]
        self.space_lengths = [(i, len(self.texts[i])) for i in self.spaces]
        self._starts_below: dict[int, object] = {}
        self._leaving: dict[int, object] = {}
        self._ids = self._named = None  # `other_than`'s and `named_other_than`'s arrays, built at their first call
        self._by_lead = None  # `words_by_lead`, built at its first call
        self._past_column: dict[int, object] = {}
        self._a_starts = None  # `a_starts`, built at its first call

    def words_by_lead(self) -> dict[tuple[str, int], list[tuple[int, bool]]]:
        """`words` keyed by (key text, leading spaces): YAML's bans look for one lead at a time."""
        if self._by_lead is None:
            self._by_lead = {}
            for text, entries in self.words.items():
                for token, lead, colon in entries:
                    self._by_lead.setdefault((text, lead), []).append((token, colon))
        return self._by_lead

    def other_than(self, allowed: set[int]):
        """Every token of the vocabulary but `allowed`, as an array."""
        if self._ids is None:
            self._ids = _sorted_ids(self.texts)
        return _without(self._ids, allowed)

    def named_other_than(self, allowed: set[int]):
        """Every token that writes some of a Terraform name (`hcl_words`, a name's characters in it) but `allowed`,
        as an array."""
        if self._named is None:
            self._named = _sorted_ids({token for word, entries in self.hcl_words.items() if word
                                       for token, _, _ in entries})
        return _without(self._named, allowed)

    def a_starts(self):
        """YAML: the tokens that begin with an `a` (at a document's first line, those that would begin `apiVersion`),
        as an array."""
        if self._a_starts is None:
            self._a_starts = _sorted_ids(token for token, text in self.texts.items() if text.startswith("a"))
        return self._a_starts

    def past_column(self, column: int):
        """YAML: the tokens that, written at a line's start, take it past `column`: spaces alone that reach beyond it,
        and those that begin with more spaces than it before a character that is not one. An array kept per column:
        past column 0 it is a third of the vocabulary, which a list made the bans copy at every step it applied
        (most of a random model's Kubernetes bans, whose answers are blank and comment lines)."""
        import numpy

        if column not in self._past_column:
            self._past_column[column] = numpy.array(
                [token for token, length in self.space_lengths if length > column]
                + [token for lead, tokens in self.line_starts.items() if lead > column for token in tokens],
                dtype=numpy.int64)
        return self._past_column[column]

    def yaml_starts(self, names, need: int) -> list[int]:
        """YAML, at a line's start `need` spaces left of a mapping's column: the tokens that begin one of `names`
        there (its first characters after `need` spaces, with its colon only where the name is whole), and the
        spaces that lead to such a token (short of the column by the spaces one begins with: a line at the column
        with spaces alone would be free to write any key)."""
        key = ("yaml", tuple(sorted(names)), need)
        if key not in self.starts_of:
            words = [(token, lead) for name in names for end in range(1, len(name) + 1)
                     for token, lead, colon in self.words.get(name[:end], ()) if not colon or end == len(name)]
            leads = {need - lead for _, lead in words if 0 < lead <= need}
            self.starts_of[key] = [token for token, lead in words if lead == need] + [
                token for token, length in self.space_lengths if length in leads and length < need]
        return self.starts_of[key]

    def leaving(self, column: int):
        """YAML: `starts_below(column)`, and the tokens that end the line blank or begin a comment on it."""
        import numpy

        if column not in self._leaving:
            self._leaving[column] = numpy.concatenate([self.starts_below(column), numpy.array(
                self.blank_line_ends + self.comment_starts["kubernetes"], dtype=numpy.int64)])
        return self._leaving[column]

    def starts_below(self, column: int):
        """YAML: the tokens that, written at a line's start, decide a column left of `column`: most of the
        vocabulary, kept once per column as an array (`Repeats.banned_parts`)."""
        import numpy

        if column not in self._starts_below:
            self._starts_below[column] = numpy.array(
                [i for lead, tokens in self.line_starts.items() if lead < column for i in tokens], dtype=numpy.int64)
        return self._starts_below[column]


class Repeats:
    """The repeat bans of one row of one kind."""

    def __init__(self, tokenizer, kind: str, names: bool = True, comments: bool = True, comment_runs: bool = False,
                 required: bool = True, kind_first: bool = False):
        from studio.guided.decoding import per_tokenizer

        self.kind = kind
        # which bans apply: repeated names, comment lines, a comment line after another where comments are allowed
        self.names, self.comments, self.comment_runs = names, comments, comment_runs
        self.required = required  # no block or mapping closed while its schema's required names are missing
        self.kind_first = kind_first  # a YAML document begins with its `kind` (`decoding.KIND_FIRST`)
        self.finishing = False  # the processor's last tokens, where a block may close whatever it lacks
        # Terraform: where the last `banned_parts` refused a block's `}` at a line's start, the names it lacks (the
        # processor then lets the row begin only those, if `}` was its likeliest token)
        self.lacking: set[str] = set()
        self._floor_above: str | None = None
        self._ceiling_above: str | None = None  # see `_complete_mapping`
        self._ceiling: int | None = None
        self._floor: tuple[int, bool, frozenset] = (0, False, frozenset())  # see `_yaml_unfinished`
        # Where `lacking` is set: the tokens that would close what lacks it (Terraform: `}`; YAML: a line begun left
        # of the mapping), and the tokens that begin one of the names lacking there (`steer_tokens`)
        self.closing: list[int] | object = []  # a list or an array of token ids
        self._steer: list[int] = []
        self._gap_cache: tuple[str | None, tuple[int, bool] | None] = (None, None)  # see `_gap_after_gap`
        self._opened_cache: tuple[tuple | None, bool] = (None, False)  # see `_opened_lacking`
        self._tables = per_tokenizer(_Tables, tokenizer)
        self._labels, self._texts = self._tables.labels, self._tables.texts
        # The mappings above the current line (they change only when a line ends) and the bans found on it.
        self._above: str | None = None
        # YAML: what `_reading` kept of the structure above the line, and the `above` it was read from
        self._read_above: str | None = None
        self._readings: dict = {}
        self._keys: dict[int, set[str]] = {}
        self._unwritten: dict[int, list[str] | None] = {}  # column -> its schema's fields not yet written, sorted
        self._bans: dict[tuple[int, str], list[int]] = {}
        self._block: tuple = (set(), None, set(), set(), None)  # `_hcl_block`
        self._text_above: str | None = None  # the lines above, and whether the next one is free text (`_in_text`)
        self._text = False
        self.text = ""  # the answer so far, as `add` gave it
        self.applied = 0  # steps where a ban took tokens out of the mask

    def add(self, token: int) -> None:
        self.text += self._texts.get(token, "")

    def banned(self, text: str | None = None) -> list[int]:
        """The tokens that, written after `text` (by default the answer so far), would repeat a name, begin a
        comment, or close what lacks a name its schema requires."""
        return [int(token) for part in self.banned_parts(text) for token in part]

    def banned_parts(self, text: str | None = None) -> list:
        """`banned` in parts, lists or arrays of token ids as the bans keep them (a YAML line may not begin left
        of a mapping that lacks a field: most of the vocabulary), for the processor to mask without copying."""
        text = self.text if text is None else text
        line = text[text.rfind("\n") + 1:]
        self.lacking, self.closing, self._steer = set(), [], []
        banned = []
        above = text[: len(text) - len(line)]
        if self.comments and self.kind in _COMMENT and not self._in_text(above):
            banned = self._tables.comment_lines[self.kind] + (
                self._tables.comment_starts[self.kind] if not line.strip() else self._trailing(line))
        elif self.comment_runs and self.kind == "kubernetes" and not self._in_text(above):
            banned = self._comment_run(above, line)
        if self.names and self.kind == "terraform":
            banned = (banned + self._terraform(text, line) + self._arguments(text, line)
                      + self._dynamic_label(text, line))
        elif self.names and self.kind == "kubernetes":
            banned = banned + self._kubernetes(text, line) + self._object_name(text, line)
        parts = [banned]
        if self.names and self.kind == "kubernetes":
            parts.append(self._complete_mapping(text, line))
        if self.names and self.kind == "terraform":
            parts += [self._outside_names(line), self._half_name(line), self._content_label(line)]
        if self.required and self.kind == "terraform" and not self.finishing:
            parts.append(self._unfinished(text, line))
        elif self.required and self.kind == "kubernetes" and not self.finishing:
            parts += self._yaml_unfinished(text, line)
        if self.kind_first and self.kind == "kubernetes" and not line and _document_start(text):
            parts.append(self._tables.a_starts())
        return [part for part in parts if len(part)]

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
        self._block_at(text[: len(text) - len(line)])
        partial = place[2]
        if place[3]:  # a name and spaces: its `=` (a block's `{`) is what is left to ban, and more spaces (all that
            # would be left: guided answers wrote spaces to the budget after `name`, 4 of 17 Terraform answers that
            # did not parse on the cpu recipe's model, eighth session)
            return self._tables.equals + self._tables.spaces + self._tables.opens if partial in self._block[0] else []
        if (0, partial) not in self._bans:
            self._bans[0, partial] = self._argument_bans(partial)
        return self._bans[0, partial]

    def _unfinished(self, text: str, line: str) -> list[int]:
        """Terraform: the tokens that would close a block that lacks an argument or block its schema requires: a
        `}` at the start of a line, a token that ends this line and closes on the next, and on the line that opens
        the block, its `}` right after the `{` (`rule {}`), or a `{}` after its name."""
        above = text[: len(text) - len(line)]
        if self._in_text(above):
            return []
        self._block_at(above)
        banned = []
        if not line.strip(" ") and self._block[2]:
            banned, self.lacking = list(self._tables.closes), self._block[2]
            # nor spaces past the column of its names, where the grammar's bound on indentation lets none begin (a
            # guided answer steered from closing `alias`, which lacked `evaluate_target_health`, wrote two lines of
            # 48 spaces and then closed it anyway, eleventh session), and the steering stays within it too
            column = _argument_column(above)
            banned += self.past(len(line), column)
            self.closing = self._tables.closes
            self._steer = self.starts_at(self._block[2], len(line), column)
        elif line.rstrip(" ").endswith("{") and self._opened_lacking(above, line):
            # `rule {}` 84 times: the grammar's one-line form closes a block on the line that opens it (8 of the 15
            # Terraform schema failures of the cpu recipe's guided answers, eleventh session)
            banned = list(self._tables.closes)
        elif _HCL_HEADER_PLACE.fullmatch(line) and self._opened_lacking(above, line.rstrip(" ") + " {"):
            banned = list(self._tables.brace_pairs)
        for before, tokens in self._tables.closes_next.items():
            if self._lacking(above, line + before):
                banned += tokens
        return banned

    def _opened_lacking(self, above: str, line: str) -> bool:
        """Whether the block `line` opens (it ends with its `{`) lacks a name its schema requires. Once per line."""
        key = (above, line)
        if self._opened_cache[0] != key:
            found = _hcl_block(above + line + "\n")
            self._opened_cache = (key, bool(found and found[2]))
        return self._opened_cache[1]

    def _block_at(self, above: str) -> None:
        """`_block`: the Terraform block the line after `above` is in, read once per line (by the braces, not the
        indentation: guided answers have set an argument again and again at column 0 inside a block, `id =
        each.value.id` 23 times; at the top level there is no block and no ban)."""
        if above != self._above:
            self._above, self._bans = above, {}
            self._block = _hcl_block(above) or (set(), None, set(), set(), None)

    def _yaml_unfinished(self, text: str, line: str) -> list:
        """YAML: at a line's start, the tokens that would put the line left of a mapping that lacks a field its
        schema requires (which closes that mapping), or end the document while its top level lacks one."""
        if line.strip(" ") and line not in ("-", "--"):
            return []  # the line's column is decided (a list of parts, as `banned_parts`)
        above = text[: len(text) - len(line)]
        if above != self._floor_above:  # once per line
            self._floor_above, self._floor = above, (0, False, frozenset())
            if not self._in_text(above):
                readings = self._reading(above)
                if "floor" not in readings:
                    readings["floor"] = _required_floor(above, self._mappings(above))
                self._floor = readings["floor"]
        floor, top, lacking = self._floor
        if line in ("-", "--"):  # `---` begun: not while the document lacks a field (a list item's `- ` may be)
            return [self._tables.dashes] if top else []
        spaces = len(line)
        parts = []
        if floor > spaces:
            parts.append(self._tables.starts_below(floor - spaces))
            if lacking:  # where the model's likeliest token begins the line left of the mapping, or leaves it
                # blank or for a comment, the line begins a name the mapping lacks
                self.lacking, self._steer = set(lacking), self._tables.yaml_starts(lacking, floor - spaces)
                self.closing = self._tables.leaving(floor - spaces)
        gap = self._gap_after_gap(above)
        # (also under a key whose value has not begun: `containers:` then comment lines to the budget, eleventh
        # session)
        if gap is not None and (floor or top or gap[1]):
            content = gap[0]
            # Right after a blank or comment line, no other while a mapping lacks a required field: kept from closing
            # it, answers wrote blank or comment lines to the budget instead (the cpu recipe's guided SFT, tenth
            # session: 6 of its 11 Kubernetes schema failures, `containers`, `port`, `template` never written); nor
            # spaces past where a line can hold anything (48 spaces, then only a newline or a comment were left).
            parts += [self._tables.blank_line_ends, self._tables.comment_starts[self.kind]]
            if content >= spaces:
                parts.append(self._tables.past_column(content - spaces))
        return parts + ([self._tables.document_ends] if top and not spaces else [])

    def _gap_after_gap(self, above: str) -> tuple[int, bool] | None:
        """Where the line before this one is blank or a comment: the deepest column a line may hold anything at,
        from the last line above that holds something (its indentation, two more where it opens a mapping or a
        list), and whether that line is a key whose value is still to come (`containers:`); None where the line
        before is not blank or a comment. Once per line."""
        if self._gap_cache[0] != above:
            found = None
            if _gap_line(above):
                content = next((row for row in reversed(above.split("\n")[:-1])
                                if row.strip(" ") and not row.lstrip(" ").startswith("#")), "")
                indent = len(content) - len(content.lstrip(" ")) + (2 if content.rstrip(" ").endswith(":") else 0)
                if content.lstrip(" ").startswith("- "):  # a list item's mapping: its keys after the `- `
                    indent += 2
                found = (indent, content.split(" #", 1)[0].rstrip(" ").endswith(":"))
            self._gap_cache = (above, found)
        return self._gap_cache[1]

    def line_length(self) -> int:
        """The length of the line being written, or 0 inside free text (a heredoc, a YAML block scalar)."""
        start = self.text.rfind("\n") + 1
        return 0 if self._in_text(self.text[:start]) else len(self.text) - start

    def in_free_text(self) -> bool:
        """Whether the line being written is free text (a heredoc, a YAML block scalar)."""
        return self._in_text(self.text[: self.text.rfind("\n") + 1])

    def heredoc(self) -> str | None:
        """Terraform: the marker of the heredoc the line being written is inside, or None."""
        return _heredoc_marker(self.text[: self.text.rfind("\n") + 1]) if self.kind == "terraform" else None

    def heredoc_ending(self, marker: str, written: str) -> list[int] | None:
        """Terraform, on a line of a heredoc that has `written` (spaces aside): the tokens that go on to its `marker`
        (the first ones, or its continuation), or None where the line must end first (it holds the marker whole, or
        text that does not begin it)."""
        if written == marker or not marker.startswith(written):
            return None
        tokens = self.continuing([marker], written) if written else self.starts_of({marker})
        return [token for token in tokens if "=" not in self._texts[token]]  # `EOT =` would be a line of text

    def missing(self, text: str | None = None) -> set[str]:
        """Terraform: what the block of the line after `text` (by default the answer so far) lacks of what its schema
        requires, whether or not the bans are on (the processor's last tokens write it before the block closes)."""
        return self._block_set(text, 2)

    def missing_arguments(self) -> set[str]:
        """Terraform: the arguments the block of the next line lacks of those its schema requires, where the grammar
        checks its names (not in a `dynamic` block's `content`, where `name {` is a block of any name)."""
        return self._block_set(None, 3)

    def _block_set(self, text: str | None, part: int) -> set[str]:
        """`_hcl_block`'s set `part` for the block of the line after `text` (by default the answer so far)."""
        text = self.text if text is None else text
        above = text[: text.rfind("\n") + 1]
        if self.kind != "terraform" or self._in_text(above):
            return set()
        self._block_at(above)
        return set(self._block[part] or ())

    def depth(self) -> int:
        """Terraform: how many blocks, objects and lists are open (by their brackets outside strings)."""
        code = _HCL_STRING.sub('""', self.text)
        return max(0, code.count("{") + code.count("[") - code.count("}") - code.count("]"))

    def steer_tokens(self) -> list[int]:
        """Where the last `banned_parts` set `lacking`: the tokens that begin writing one of those names here (a
        Terraform line: after spaces or with them; a YAML line: the spaces up to the mapping's column, then the
        name), for the processor to allow alone where the model's likeliest token was one of `closing`."""
        return self._steer

    def starts_at(self, names: set[str], have: int, column: int) -> list[int]:
        """Terraform, on a line of `have` spaces in a block whose names begin at `column`: the tokens that begin one
        of `names` without taking the line past the column (with their spaces, if any), and where a name has no
        such token, the spaces alone that stay within the column."""
        key = ("at", tuple(sorted(names)), have, column)
        if key not in self._tables.starts_of:
            room, tokens, unreached = max(column - have, 0), [], False
            for name in names:
                found = [token for end in range(1, len(name) + 1)
                         for token, spaces, ended in self._tables.hcl_words.get(name[:end], ())
                         if spaces <= room and (not ended or end == len(name))]
                unreached |= not found
                tokens += found
            if unreached and room:
                tokens += [token for token, length in self._tables.space_lengths if have + length <= column]
            self._tables.starts_of[key] = tokens
        return self._tables.starts_of[key]

    def past(self, have: int, column: int) -> list[int]:
        """The tokens of spaces alone that take a line of `have` spaces past `column`."""
        return [token for token, length in self._tables.space_lengths if have + length > column]

    def starts_of(self, names: set[str]) -> list[int]:
        """Terraform: the tokens that begin writing one of `names` at a line's start (after spaces, or with them;
        the walk-out's way to a name its block lacks; the steering's is `starts_at`)."""
        key = ("of", tuple(sorted(names)))
        if key not in self._tables.starts_of:
            tokens = []
            for name in names:
                for end in range(1, len(name) + 1):
                    tokens += [token for token, _, ended in self._tables.hcl_words.get(name[:end], ())
                               if not ended or end == len(name)]
            self._tables.starts_of[key] = tokens
        return self._tables.starts_of[key]

    def _lacking(self, above: str, rest: str) -> set[str]:
        """What the block of the line after `above + rest` lacks (`rest`: the current line, ended)."""
        if not rest.strip(" "):
            return self._block[2]
        code = _HCL_STRING.sub('""', rest).split("#", 1)[0].split("//", 1)[0]
        if not any(bracket in code for bracket in "{}[]()"):  # an argument's line: the same block
            match = _HCL_ARGUMENT.match(code)
            return self._block[2] - {match[1]} if match else self._block[2]
        found = _hcl_block(above + rest + "\n")
        return found[2] if found else set()

    def _argument_bans(self, partial: str) -> list[int]:
        written, fields = self._block[:2]
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
        if partial in written:  # the whole name is written: no space, `=` or `{` may end it (a longer name may go on)
            banned += self._tables.spaces + self._tables.equals + self._tables.opens
        return banned

    def _outside_names(self, line: str):
        """Inside a `dynamic` block's `content`, which the grammar leaves free, at a name's place: the tokens that
        write a name none of the block's unwritten names begins with, the schema's (answers wrote `content {
        for_each = ... content { ...` to the budget there: 5 of the 14 Terraform schema failures of the cpu recipe's
        guided answers, eleventh session); after a name's first characters `_half_name` refuses all but their
        continuations. Called after `_arguments`, which reads the block. One array, packed once."""
        place = _HCL_KEY_PLACE.fullmatch(line)
        if not place or place[2] or place[3] or self._block[3] is not None or self._block[1] is None:
            return []
        return self._outside(tuple(sorted(self._block[1] - self._block[0])))

    def _half_name(self, line: str):
        """Inside a `dynamic` block's `content`, after the first characters of a name: every token but those that
        go on to one of the names of the block it writes (or end one whole: a space, `=`, `{`). Called after
        `_arguments`, which reads the block. Answers ended half names there with tokens that are no name's:
        `instance_inte_{each = "db"}`, `var "queue_size" {`, `kms_master_key = "s-"` (eleventh and twelfth sessions).
        A space after a half name is refused here too, so `_arguments` needs no ban of its own for it; after a whole
        name and its spaces, what it is not followed by (`{` after an argument, `=` after a block)."""
        place = _HCL_KEY_PLACE.fullmatch(line)
        if not place or not place[2] or self._block[3] is not None or self._block[1] is None:
            return []
        names, blocks = tuple(sorted(self._block[1] - self._block[0])), frozenset(self._block[4] or ())
        if place[3]:  # a whole name and spaces: an argument's `=`, a block's `{`, `dynamic`'s label, not another's
            # (`dynamic = "orders"`, `create {` in `timeouts`, twelfth and thirteenth sessions)
            if place[2] not in names:
                return []
            if place[2] == "dynamic":
                return self._tables.equals + self._tables.opens
            return self._tables.equals if place[2] in blocks else self._tables.opens
        key = ("half", names, place[2], blocks)
        if key not in self._tables.starts_of:
            self._tables.starts_of[key] = self._tables.other_than(set(self.continuing(names, place[2], blocks)))
        return self._tables.starts_of[key]

    def continuing(self, names, partial: str, blocks: frozenset[str] | None = None) -> list[int]:
        """Terraform, after the first characters `partial` of a name: the tokens that go on to one of `names` (or
        end one whole: a space, `=`, `{`). With `blocks` (the names among them that open a block), a whole name
        ends as what it is: an argument's with `=`, a block's with `{`, `dynamic` with a space (its label next)."""
        names = tuple(sorted(names))
        key = ("on", names, partial, blocks)
        if key not in self._tables.starts_of:
            allowed = set()
            # only the words that take `partial` toward a name can go on (not every word of the vocabulary)
            words = {name[len(partial):end] for name in names if name.startswith(partial)
                     for end in range(len(partial), len(name) + 1)}
            for word in words:
                name = partial + word
                argument = blocks is None or name not in blocks and name != "dynamic"
                allowed.update(token for token, lead, ended in self._tables.hcl_words.get(word, ()) if not lead and (
                    name in names and (argument or "=" not in self._texts[token]) if ended else bool(word)))
            if partial in names:  # a whole name: the spaces, `=` or `{` after it
                allowed.update(self._tables.spaces)
                if blocks is None or partial not in blocks and partial != "dynamic":
                    allowed.update(self._tables.equals)
                if blocks is None or partial in blocks and partial != "dynamic":
                    allowed.update(self._tables.opens)
            self._tables.starts_of[key] = sorted(allowed)
        return self._tables.starts_of[key]

    def _dynamic_label(self, text: str, line: str) -> list[int]:
        """Terraform: the tokens that would end a `dynamic` block's label on a block of at most one that its block
        already has (`dynamic "versioning_configuration"` again and again, twelfth session)."""
        match = _HCL_DYNAMIC_LABEL.fullmatch(line)
        if not match:
            return []
        self._block_at(text[: len(text) - len(line)])
        written, fields = self._block[:2]
        partial = match[1]
        if fields is None:
            return []
        free = sorted(fields - written)
        banned = []
        for name in written:
            if not name.startswith(partial):
                continue
            # the label's next characters, where no name still free goes on with them (else the ban would come
            # at its closing quote, where the grammar allows nothing else, and give way)
            for end in range(len(partial) + 1, len(name) + 1):
                if not _any_starts(free, name[:end]):
                    banned += [token for token, lead, ended in self._tables.hcl_words.get(name[len(partial):end], ())
                               if not lead and not ended]
            banned += self._labels.get(name[len(partial):], ())
        return banned

    def _content_label(self, line: str):
        """Inside a `dynamic` block's `content` (free in the grammar), a `dynamic` block's label: every token but those
        that go on to a nested block of the block it writes (`dynamic "delete_marker_replication"` inside `filter`,
        thirteenth session). Called after `_dynamic_label`, which reads the block."""
        match = _HCL_DYNAMIC_LABEL.fullmatch(line)
        if not match or self._block[3] is not None or not self._block[4]:
            return []
        blocks, partial = tuple(sorted(set(self._block[4]) - {"dynamic"})), match[1]
        key = ("label", blocks, partial)
        if key not in self._tables.starts_of:
            words = {name[len(partial):end] for name in blocks if name.startswith(partial)
                     for end in range(len(partial) + 1, len(name) + 1)}
            allowed = {token for word in words for token, lead, ended in self._tables.hcl_words.get(word, ())
                       if not lead and not ended}
            allowed.update(token for text, tokens in self._labels.items() if partial + text in blocks
                           for token in tokens)
            self._tables.starts_of[key] = self._tables.other_than(allowed)
        return self._tables.starts_of[key]

    def _outside(self, names: tuple[str, ...]) -> list[int]:
        """The tokens that, at a name's place, write a name none of `names` begins with (or end one that is not
        among them)."""
        key = ("outside", names)
        if key not in self._tables.starts_of:
            # the tokens a name's beginning may go on with (any that write its first characters, those that end
            # it where it is whole); every other token that writes a name's characters is banned, as one array
            allowed = {token for word in {name[:end] for name in names for end in range(1, len(name) + 1)}
                       for token, _, ended in self._tables.hcl_words.get(word, ()) if not ended or word in names}
            self._tables.starts_of[key] = self._tables.named_other_than(allowed)
        return self._tables.starts_of[key]

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

    def _reading(self, above: str) -> dict:
        """YAML: the readings of the document's structure above the line (its mappings' keys, the fields each
        lacks, the floor and ceiling of the next line's column, the key bans by column and partial key), kept while
        the lines added to `above` are blank or comments: every reader of the structure (`_mapping_keys`,
        `_schema_at`, `_last_column`) skips those, so it would read the same. A random model's Kubernetes answers
        are mostly such lines, a new one every token or two, each read again from the top before."""
        if above != self._read_above:
            if self._read_above is None or not _gaps_only(self._read_above, above):
                self._readings = {}
            self._read_above = above
        return self._readings

    def _mappings(self, above: str) -> dict[int, set[str]]:
        """`_mapping_keys(above)`, through `_reading`."""
        readings = self._reading(above)
        if "keys" not in readings:
            readings["keys"] = _mapping_keys(above)
        return readings["keys"]

    def _kubernetes(self, text: str, line: str) -> list[int]:
        place = _YAML_KEY_PLACE.fullmatch(line)
        if not place:
            return []  # a dash (a new mapping begins), a value, a comment: nothing to ban
        indent, partial = len(place[1]), place[2]
        above = text[: len(text) - len(line)]
        if above != self._above:
            self._above, self._keys = above, self._mappings(above)
            readings = self._reading(above)
            self._unwritten, self._bans = readings.setdefault("unwritten", {}), readings.setdefault("bans", {})
        if (indent, partial) not in self._bans:
            self._bans[indent, partial] = self._kubernetes_bans(indent, partial)
        return self._bans[indent, partial]

    def _kubernetes_bans(self, indent: int, partial: str) -> list[int]:
        banned = []
        by_lead = self._tables.words_by_lead()
        for column, existing in self._keys.items():
            lead = column - indent
            if (partial and lead) or lead < 0:
                continue
            if column not in self._unwritten:
                fields = _fields(self._above, column)
                self._unwritten[column] = sorted(fields - existing) if fields is not None else None
            unwritten = self._unwritten[column]
            for key in existing:
                if not key.startswith(partial):
                    continue
                for end in range(len(partial), len(key) + 1):
                    tokens = by_lead.get((key[len(partial):end], lead))
                    if not tokens:
                        continue
                    # A token ending in a colon bans where it writes `key` whole. One without: where no field the
                    # schema has that its text could still become is unwritten (so that the row is not led to a
                    # key it may only finish with a banned colon).
                    done = unwritten is not None and not _any_starts(unwritten, key[:end])
                    banned += [token for token, colon in tokens if (end == len(key) if colon else done)]
        return banned

    def _complete_mapping(self, text: str, line: str):
        """YAML: on a line of spaces alone, the tokens that would take it past the last column where a line may still
        begin (spaces, or spaces then text), once the innermost mapping has every field its schema allows: a key
        there would repeat one (banned), and with nothing else left the bans were lifted and the key repeated (`key
        "port" is defined twice`), or the row wrote comment and blank lines to the budget."""
        if line.strip(" "):
            return []
        above = text[: len(text) - len(line)]
        if above != self._ceiling_above:  # once per line
            self._ceiling_above, self._ceiling = above, None
            if not self._in_text(above):
                readings = self._reading(above)
                if "ceiling" not in readings:
                    readings["ceiling"] = _last_column(above, self._mappings(above))
                self._ceiling = readings["ceiling"]
        if self._ceiling is None:
            return []
        return self._tables.past_column(self._ceiling - len(line))


def _document_start(text: str) -> bool:
    """Whether `text` (whole lines) ends where a YAML document's first line begins: right after the fence or a
    `---`, or after blank or comment lines that follow one."""
    for row in reversed(text.split("\n")[:-1]):
        if not _blank_or_comment(row):
            return row.rstrip() in ("---", "```yaml")
    return False


def _gaps_only(before: str, after: str) -> bool:
    """Whether `after` (whole lines) is `before` and then blank or comment lines alone."""
    return after.startswith(before) and all(map(_blank_or_comment, after[len(before):].split("\n")[:-1]))


def _blank_or_comment(row: str) -> bool:
    """A YAML line the readers of a document's structure skip (`_mapping_keys`, `_last_column`)."""
    return not row.strip() or row.lstrip().startswith("#")


def _gap_line(above: str) -> bool:
    """Whether the line before this one (the last of `above`) is blank or a comment."""
    previous = above[: -1][above[: -1].rfind("\n") + 1:] if above.endswith("\n") else None
    return previous is not None and (not previous.strip(" ") or previous.lstrip(" ").startswith("#"))


def _last_column(above: str, mappings: dict[int, set[str]]) -> int | None:
    """The deepest column a line after `above` may begin at, where the last line wrote a scalar entry that completed
    its mapping (every field of its schema written); None where the line is free. A list item's mapping leaves its
    dash's column (the list's next item); otherwise the column of the mapping around it."""
    lines = [row for row in above.split("\n")[:-1] if not _blank_or_comment(row)]
    if not lines or lines[-1].startswith(("---", "```")):
        return None
    last = _YAML_LINE.match(lines[-1])
    value = lines[-1][last.end():].strip() if last[3] and last[4] else ""
    if not value or value[0] in "|>&!":
        return None  # not a scalar entry: a block opens below it, or a list of scalars goes on
    column = len(last[1]) + len(last[2] or "")
    fields = _fields(above, column)
    if fields is None or fields - mappings.get(column, set()):
        return None
    for row in reversed(lines):  # the line that began this mapping: `- key:` at the dash's column?
        match = _YAML_LINE.match(row)
        start = len(match[1]) + len(match[2] or "")
        if start < column:
            break
        if match[2] and start == column:
            return len(match[1])
    return max((c for c in mappings if c < column), default=0)


def _sorted_ids(ids):
    import numpy

    return numpy.array(sorted(ids), dtype=numpy.int64)


def _without(ids, allowed: set[int]):
    """The sorted array `ids` less the tokens of `allowed`."""
    import numpy

    return numpy.setdiff1d(ids, numpy.fromiter(allowed, dtype=numpy.int64, count=len(allowed)), assume_unique=True)


def _any_starts(ordered: list[str], prefix: str) -> bool:
    """Whether a string of the sorted list `ordered` starts with `prefix`."""
    i = bisect.bisect_left(ordered, prefix)
    return i < len(ordered) and ordered[i].startswith(prefix)


_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n")
_BLOCK_SCALAR = re.compile(r"(?:.*:|[ \t]*-)[ \t]+[|>][-+0-9]*[ \t]*$")


def in_comment(line: str) -> bool:
    """Terraform: whether `line` ends inside a comment (`#` or `//` outside its strings)."""
    code = _HCL_STRING.sub('""', line)
    return "#" in code or "//" in code


def _heredoc_marker(text: str) -> str | None:
    """The marker of the Terraform heredoc the line after `text` (whole lines) is inside (`EOF` after `<<-EOF`), or
    None outside one."""
    openers = list(_HEREDOC.finditer(text))
    if not openers:
        return None
    last = openers[-1]
    return None if re.search(rf"(?m)^[ \t]*{last[1]}[ \t]*$", text[last.end():]) else last[1]


def _in_text(text: str, kind: str) -> bool:
    """Whether the line after `text` (whole lines) is inside free text, where `#` is not a comment: a Terraform
    heredoc not yet closed (`<<-EOF` ... `EOF`; a `#!/bin/bash` of `user_data`), a YAML block scalar (`script: |`)
    whose lines have not yet come back to its key's indentation."""
    if kind == "terraform":
        return _heredoc_marker(text) is not None
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


def _argument_column(above: str) -> int:
    """Terraform: the column where the names of the block the next line is in begin: that of its nearest line at
    its own level (an argument, a nested block's first or last line), else two right of the line that opened it."""
    depth = 0  # closers in excess below
    for line in reversed(above.split("\n")):
        if line.startswith("```"):
            break
        code = _HCL_STRING.sub('""', line).split("#", 1)[0].split("//", 1)[0]
        after = depth + sum(map(code.count, "}])")) - sum(map(code.count, "{[("))
        indent = len(line) - len(line.lstrip(" "))
        if after < 0:  # the line that opened the block
            return indent + 2
        if code.strip() and (depth == 0 or after == 0):
            return indent
        depth = after
    return 2


def _hcl_block(above: str) -> tuple | None:
    """The Terraform block the next line is inside: the arguments already set in it, the names (arguments and
    nested blocks) its schema allows there (None where unknown: a block of a type the schema lacks, `dynamic`,
    `locals`, ...), the names its schema requires that it does not have yet (arguments, nested blocks, written
    or `dynamic`), and of those the arguments, where the grammar checks the block's names (None inside a
    `dynamic` block's `content`, whose body the grammar leaves free), and the names its schema allows that open a
    block (nested blocks and `dynamic`; None where unknown); None outside a block, or inside a map or object value
    (`tags = {`), whose keys are free."""
    written: set[str] = set()
    blocks: set[str] = set()  # nested blocks written in it (`versioning_configuration {`, `dynamic "ingress" {`)
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
            dynamic = _HCL_DYNAMIC.match(line)
            provisioner = _HCL_PROVISIONER.match(line)
            if provisioner:  # Terraform's own schema (`studio.iac.terraform.PROVISIONERS`)
                path.insert(0, ("provisioner", provisioner[1]))
                inside, depth = False, 0
                continue
            if not header and not dynamic:
                return None if inside else (written, None, set(), set(), None)  # a map, an object, a list
            if header and header[1]:
                path.insert(0, (header[1], header[2]))
                break
            path.insert(0, ("dynamic", dynamic[1]) if dynamic else header[3])
            inside, depth = False, 0
        elif depth == 0 and inside:
            match = _HCL_ARGUMENT.match(code)
            nested = _HCL_BLOCK.match(code) or _HCL_DYNAMIC.match(line)
            if match:
                written.add(match[1])
            elif nested:
                blocks.add(nested[1] if nested.re is _HCL_DYNAMIC else nested[3])
    if not path or not isinstance(path[0], tuple):
        return (written, None, set(), set(), None) if path else None
    from studio.iac.aws_schema import aws_schema
    from studio.iac.terraform import CONNECTION, META_ARGUMENTS, PROVISIONERS, SINGLE_META_BLOCKS

    (what, tf_type), *nested_path = path
    schema = aws_schema()
    block = schema.resource(tf_type) if what == "resource" else schema.data_source(tf_type)
    for i, name in enumerate(nested_path):
        if i == 0 and (name == "connection" or isinstance(name, tuple) and name[0] == "provisioner"):
            # a resource's `connection` and provisioners: Terraform's own blocks
            block = CONNECTION if name == "connection" else PROVISIONERS.get(name[1])
            continue
        if isinstance(name, tuple) and name[0] == "provisioner":
            block = None
            continue
        if isinstance(name, tuple):  # `dynamic "name"`: its `content` is a `name` block
            block = block.blocks.get(name[1]) if block is not None else None
            if i == len(nested_path) - 1 and block is not None:  # inside the dynamic block itself: one `content`
                # (`content { ... }` 4 times in a guided answer once the walk-out no longer closed the block early)
                return (written | (blocks & {"content"}), set(DYNAMIC_ARGUMENTS),
                        {"for_each", "content"} - written - blocks, set(), {"content"})
            continue
        if name == "content" and i and isinstance(nested_path[i - 1], tuple):
            continue
        block = block.blocks.get(name) if block is not None else None
    if block is None:
        return written, None, set(), set(), None
    arguments = {name for name, need in block.arguments.items() if need == "required"}
    required = arguments | {name for name, child in block.blocks.items() if child.required}
    checked = not any(isinstance(name, tuple) and name[0] == "dynamic" for name in nested_path)
    # a nested block of at most one, once written, is written like an argument: not again (`spot_options { ... }`
    # 15 times, `target_object_key_format {}` 38 times in the cpu recipe's guided answers, eleventh session)
    written = written | {name for name in blocks if name in block.blocks and block.blocks[name].single
                         and block.blocks[name].nesting == "block"}
    if block.blocks and written >= set(block.blocks):  # and `dynamic` too, once no nested block may come again
        written.add("dynamic")
    if not nested_path:  # a resource's `lifecycle` and `connection` (`connection { ... }` 21 times, twelfth session)
        written |= blocks & set(SINGLE_META_BLOCKS)
    # `dynamic` only where the grammar has it, in a block with nested blocks: taken for a name still free, it kept a
    # `d` open in a block of none, whose only continuations were names already written (the ban then gave way)
    openers = set(block.blocks) | ({"dynamic"} if block.blocks else set())
    return (written, set(block.names) | (META_ARGUMENTS if not nested_path else set()) | openers,
            required - written - blocks, arguments - written if checked else None, openers)


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
        if _blank_or_comment(line):
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
    from studio.guided.kubernetes_grammar import SKIPPED_FIELDS

    schema = _schema_at(above, column)
    if schema is None:
        return None
    return set(schema["properties"]) - (SKIPPED_FIELDS if column == 0 else set())  # the grammar writes no status


def _schema_at(above: str, column: int) -> dict | None:
    """The schema of the mapping a key at `column` on the next line would join (None: free keys, or no kind)."""
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
    return schema


def _required_floor(above: str, mappings: dict[int, set[str]]) -> tuple[int, bool, frozenset[str]]:
    """Where the next line may begin: (the deepest column of an open mapping that lacks a field its schema
    requires, or 0; whether the document's top level lacks one; the fields the mapping at that column lacks).
    `mappings`: `_mapping_keys(above)`."""
    from studio.guided.kubernetes_grammar import SKIPPED_FIELDS

    floor, top, lacking = 0, False, frozenset()
    for column, keys in mappings.items():
        schema = _schema_at(above, column)
        missing = set(schema.get("required", ())) - keys - SKIPPED_FIELDS if schema is not None else set()
        if missing and column and column > floor:
            floor, lacking = column, frozenset(missing)
        elif missing and not column:
            top = True
    return floor, top, lacking


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
