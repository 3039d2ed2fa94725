"""The Kubernetes grammar: block-style YAML whose apiVersion/kind pairs and field names are the schemas'.

    >>> from studio.guided.kubernetes_grammar import kubernetes_gbnf
    >>> text = kubernetes_gbnf()
    >>> '"apps/v1\\\\nkind: Deployment\\\\n"' in text
    True

Generated from the strict schemas `kubernetes-validate` ships for `DEFAULT_KUBERNETES_VERSION`: every kind of
`KINDS` (by default the GA kinds of the core, apps, batch, networking, policy, autoscaling, rbac and storage
groups: every kind of the seed dataset and more), each document `apiVersion: <group/version>` then
`kind: <Kind>` (or the two the other way round) then the object's fields. Field names are restricted per kind and
per path, with the indentation YAML gives them (a rule per schema definition and indentation, made only where
reached): a mapping's keys at its indentation, a list's items as `- ` at the key's indentation or two further
(both block styles are YAML), objects also as `{}`, lists also in flow style on one line (a list of objects: of flow
mappings). Maps with free keys (labels, annotations, data, resource limits) take any key. Scalars follow the
field's type (`SCALAR_LINES`): strings plain (not one YAML reads as a boolean, number or date: `NOT_PLAIN_STRING`,
Lark only), quoted or block scalars (`|`, `>`); integers, numbers, booleans as such; a map of strings takes string
values only. An object's top-level `status` is left out: the cluster writes it, not a manifest. No carriage returns.
"""

from __future__ import annotations

import json
import re

import kubernetes_validate.utils as kubernetes_validate

from studio.guided.gbnf import Rules, lit, text_line
from studio.iac.kubernetes import DEFAULT_KUBERNETES_VERSION, _schema_folder

FENCE_OPEN, FENCE_CLOSE = "```yaml\n", "```"
# API groups whose GA kinds the grammar knows; "" is the core group (v1).
GROUPS = ("", "apps", "batch", "networking.k8s.io", "policy", "autoscaling", "rbac.authorization.k8s.io",
          "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io")
# Deeper than this, any YAML is allowed (recursive schemas such as CRD validation trees).
MAX_INDENT = 40
# The value line of a scalar field by the types its schema allows (a field of other types takes any scalar).
SCALAR_LINES = {frozenset({"string"}): "str-line", frozenset({"integer"}): "int-line",
                frozenset({"number"}): "num-line", frozenset({"boolean"}): "bool-line",
                frozenset({"string", "integer"}): "int-or-str-line", frozenset({"string", "number"}): "qty-line"}
# The value lines that may also be a block scalar (`|`, `>`): a string.
TEXT_LINES = ("str-line", "int-or-str-line", "qty-line", "line")
# What a plain (unquoted) scalar may not be where a string is expected: PyYAML (YAML 1.1, which the validator
# reads) takes these for booleans, numbers, dates or its `=` value (`CHECKOUT_V2: true` in a ConfigMap's data,
# `expected string, got boolean true`: 26 of 98 guided Kubernetes schema failures on the GPU, fifth session). As
# a Lark regex for llguidance, which can say "not" (`& ~`); GBNF cannot, so the exported GBNF lets them through.
NOT_PLAIN_STRING = ("(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
                    "|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
                    "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+"
                    "|[-+]?[0-9][0-9_]*[.][0-9_]*([eE][-+][0-9]+)?|[.][0-9][0-9_]*([eE][-+][0-9]+)?"
                    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+[.][0-9_]*|[-+]?[.](inf|Inf|INF)|[.](nan|NaN|NAN)"
                    "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt \\t].*)?|=|<<)")
SKIPPED_FIELDS = {"status"}


def _kinds(folder: str) -> list[tuple[str, str, dict]]:
    """(apiVersion, kind, schema) of every top-level kind of GROUPS, GA versions only."""
    files = kubernetes_validate.importlib_resources.files("kubernetes_validate").joinpath(folder)
    found = {}
    for entry in sorted(files.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json") or entry.name.startswith("_") or entry.name == "all.json":
            continue
        schema = json.loads(entry.read_text())
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            properties = schema.get("properties", {})
            if group not in GROUPS or "alpha" in version or "beta" in version or "kind" not in properties:
                continue
            # Objects a manifest creates have metadata; DeleteOptions, Status, WatchEvent and lists do not count.
            if kind.endswith("List") or "apiVersion" not in properties or "metadata" not in properties:
                continue
            api_version = f"{group}/{version}" if group else version
            found[(api_version, kind)] = schema
    return [(api, kind, schema) for (api, kind), schema in sorted(found.items())]


class _Builder:
    def __init__(self, rules: Rules, definitions: dict):
        self.rules = rules
        self.definitions = definitions
        self.names: dict[str, str] = {}

    def resolve(self, schema: dict) -> tuple[str | None, dict]:
        """(definition name or None, the schema with its $ref followed)."""
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return name, self.definitions[name]
        return None, schema

    def shape(self, schema: dict) -> str:
        """object (fields), map (free keys), list, or scalar."""
        _, schema = self.resolve(schema)
        types = schema.get("type", [])
        types = types if isinstance(types, list) else [types]
        if "properties" in schema:
            return "object"
        if "array" in types:
            return "list"
        if "object" in types:
            return "map"
        return "scalar"

    def short(self, definition: str) -> str:
        if definition not in self.names:
            self.names[definition] = f"d{len(self.names)}"
        return self.names[definition]

    def mapping(self, key: str, schema: dict, indent: int) -> str:
        """The rule for an object's entries at `indent`, each on its own line; `<rule>-first` is the same with
        the first entry already begun after `- `."""
        if indent > MAX_INDENT:
            return f"any-map-{MAX_INDENT}"
        name = f"m{indent}-{key}"
        if name in self.rules:
            return name
        self.rules.add(name, "")  # reserved against recursion; written below
        entries = []
        for field, field_schema in sorted(schema.get("properties", {}).items()):
            if indent == 0 and field in ("apiVersion", "kind", *SKIPPED_FIELDS):
                continue
            entries.append(f"{lit(field + ':')} {self.value(field_schema, indent)}")
        entry = self.rules.add(f"{name}-entry", " | ".join(entries) if entries else '"#"')
        pad = f"{lit(' ' * indent)} " if indent else ""
        # Right recursion rather than `+`: a rule that refers to itself stays a rule when llguidance converts
        # the grammar, where `( ... )+` over lexemes alone would become one many-line lexeme, and the greedy
        # lexer, which never backtracks, would run it into the next line's indentation.
        self.rules.replace(name, _at_least_one(self.rules, name, f"{pad}{entry}"))
        self.rules.add(f"{name}-first", f"{entry} {name}-more?")
        return name

    def scalar(self, schema: dict) -> str:
        """The value-line rule of a scalar field, by its schema's types (`null` aside: an empty value is one)."""
        _, resolved = self.resolve(schema)
        types = set()
        for option in resolved.get("oneOf", [resolved]):
            found = self.resolve(option)[1].get("type", [])
            types |= set(found if isinstance(found, list) else [found])
        return SCALAR_LINES.get(frozenset(types - {"null"}), "line")

    def value(self, schema: dict, indent: int) -> str:
        """What follows `key:` for a field of this schema, at `indent` (the key's column), newline included."""
        definition, resolved = self.resolve(schema)
        shape = self.shape(schema)
        deeper = min(indent + 2, MAX_INDENT)
        if shape == "object":
            key = self.short(definition or json.dumps(resolved, sort_keys=True))
            return f"(eol {self.mapping(key, resolved, indent + 2)} | empty-map)"
        if shape == "map":
            values = resolved.get("additionalProperties")
            if isinstance(values, dict) and self.shape(values) == "scalar":
                return f"(eol {self.scalar_map(self.scalar(values), deeper)} | empty-map)"
            return f"(eol any-map-{deeper} | flow-map | empty-map)"
        if shape == "list":
            items = resolved.get("items", {})
            if self.shape(items) == "object":
                item_def, item_schema = self.resolve(items)
                key = self.short(item_def or json.dumps(item_schema, sort_keys=True))
                columns = [c for c in (indent, indent + 2) if c + 2 <= MAX_INDENT]
                sequences = " | ".join(self.sequence(key, item_schema, c) for c in columns)
                # in flow style too, items are mappings (`ports: ["web"]`: "expected mapping, got string", 3 of the 11
                # Kubernetes schema failures of the cpu recipe's guided SFT answers, tenth session)
                return f"(eol ({sequences}) | flow-map-list | empty-list)"
            if self.shape(items) == "scalar":
                line = self.scalar(items)
                return (f"(eol ({self.scalar_list(line, indent)} | {self.scalar_list(line, deeper)}) | flow-list "
                        "| empty-list)")
            return f"(eol (scalar-list-{indent} | scalar-list-{deeper}) | flow-list | empty-list)"
        line = self.scalar(schema)
        return f"({line} | block-head block-{deeper})" if line in TEXT_LINES else line

    def scalar_map(self, line: str, indent: int) -> str:
        """A map with free keys whose values are scalars of one type (labels, annotations, data: strings)."""
        name = f"{line}-map-{indent}"
        if name not in self.rules:
            pad = f"{lit(' ' * indent)} " if indent else ""
            value = f"({line} | block-head block-{indent + 2})" if line in TEXT_LINES else line
            self.rules.add(name, "")
            self.rules.replace(name, _at_least_one(self.rules, name, f"{pad}free-key {value}"))
        return name

    def scalar_list(self, line: str, indent: int) -> str:
        """A block list of scalars of one type (a container's `args`, `command`)."""
        name = f"{line}-list-{indent}"
        if name not in self.rules:
            value = f"({line} | block-head block-{indent + 2})" if line in TEXT_LINES else line
            self.rules.add(name, "")
            self.rules.replace(name, _at_least_one(self.rules, name, f"{lit(' ' * indent + '-')} {value}"))
        return name

    def sequence(self, key: str, item_schema: dict, column: int) -> str:
        name = f"s{column}-{key}"
        if name not in self.rules:
            self.rules.add(name, "")
            first = self.mapping(key, item_schema, column + 2)
            self.rules.replace(name, _at_least_one(self.rules, name, f"{lit(' ' * column + '- ')} {first}-first"))
        return name


def _at_least_one(rules: Rules, name: str, entry: str) -> str:
    """The body of rule `name`: blank or comment lines (`gap`) and at least one `entry` line, any number after it,
    as `name-more` holds them. A key with none is null to YAML (`containers:` then a comment, then the fence:
    "expected list, got null", both Kubernetes schema failures left of the cpu recipe's guided answers once they were
    steered to missing fields, eleventh session); `{}` and `[]` say empty."""
    more = rules.add(f"{name}-more", "")
    rules.replace(more, f"({entry} | gap) {more}?")
    return f"gap {name} | {entry} {more}?"


def _generic(rules: Rules) -> None:
    """Lexemes, scalars and free YAML (any keys) at each indentation.

    The llguidance lexer is greedy and never backtracks, so every lexeme ends with its line's newline and
    each line's indentation starts the next lexeme (alone, or as part of `- `): two lexemes never compete
    over the same characters past the point where one of them has ended.
    """
    # No tabs (YAML refuses them in indentation; two guided answers of the gpu recipe's models failed to parse on
    # them, one looped in them), and no run of spaces before a line's end longer than 48.
    rules.add("gap", '" "{0,48} ("#" [^\\r\\n]*)? "\\n"')
    # After a key or a value a comment needs a space before its `#` (`key:#text` is a key of its own to YAML, and
    # `"value"#text` no YAML at all).
    comment = '(" "{1,48} "#" [^\\r\\n]* | " "{0,48}) "\\n"'
    rules.add("eol", comment)
    # A plain scalar may not start with an indicator, nor hold ": " or " #"; quoted scalars are free; flow
    # collections run to the end of the line.
    tail = '([^: \\t\\r\\n] | ":" [^ \\t\\r\\n] | [ \\t]+ [^ \\t\\r\\n#:])*'
    plain = f'([^-?:,\\[\\]{{}}#&*!|>\'"%@` \\t\\r\\n] | [-?:] [^ \\t\\r\\n]) {tail}'
    quoted = '"\\"" ([^"\\\\\\r\\n] | "\\\\" [^\\r\\n])* "\\"" | "\'" ([^\'\\r\\n] | "\'\'")* "\'"'
    flow = '"[" [^\\r\\n]* "]" | "{" [^\\r\\n]* "}"'
    rules.add("line", f'" " ({plain} | {quoted} | {flow}) {comment}')
    rules.add("empty", f'" " ("{{}}" | "[]") {comment}')
    # Typed scalars (`Builder.scalar`). `plain-str` is a plain scalar that YAML reads as a string: in Lark,
    # `refine_lark` takes NOT_PLAIN_STRING out of it.
    rules.add("plain-str", plain)
    integer = '[-+]? ("0" [0-7_]* | [1-9] [0-9_]* | "0x" [0-9a-fA-F_]+ | "0b" [01_]+)'  # YAML 1.1: `0555` is octal
    number = f'{integer} | [-+]? [0-9]+ "." [0-9]* ([eE] [-+] [0-9]+)?'
    rules.add("str-line", f'" " (plain-str | {quoted}) {comment}')
    rules.add("int-line", f'" " {integer} {comment}')
    rules.add("num-line", f'" " ({number}) {comment}')
    rules.add("bool-line", f'" " ("true" | "false") {comment}')
    rules.add("int-or-str-line", f'" " ({integer} | plain-str | {quoted}) {comment}')
    rules.add("qty-line", f'" " ({number} | plain-str | {quoted}) {comment}')
    rules.add("flow-map", f'" " "{{" [^\\r\\n]* "}}" {comment}')
    rules.add("flow-list", f'" " "[" [^\\r\\n]* "]" {comment}')
    rules.add("flow-map-list", f'" " "[" " "* "{{" [^\\r\\n]* "}}" " "* "]" {comment}')
    rules.add("empty-map", f'" " "{{}}" {comment}')
    rules.add("empty-list", f'" " "[]" {comment}')
    rules.add("block-head", f'" " ("|" | ">") [-+]? {comment}')
    rules.add("free-key", '[a-zA-Z0-9_./-]+ ":" | "\\"" [^"\\r\\n]+ "\\":"')
    for indent in range(0, MAX_INDENT + 3, 2):
        pad = " " * indent
        if indent:
            # A blank line of spaces only: a tab there is no YAML (PyYAML: "found character '\t' that cannot start
            # any token"; a guided answer wrote such a line to the budget, eighth session).
            rules.add(f"block-line-{indent}", f'{lit(pad)} {text_line()} "\\n" | " "* "\\n"')
            rules.add(f"block-{indent}", f"block-line-{indent} block-{indent}?")
        rules.add(f"scalar-list-{indent}", f'({lit(pad + "-")} line | gap) scalar-list-{indent}?')
    for indent in range(0, MAX_INDENT + 1, 2):
        deeper = min(indent + 2, MAX_INDENT)
        value = (f"line | empty | block-head block-{indent + 2} | eol any-map-{deeper}"
                 f" | eol scalar-list-{indent} | eol scalar-list-{indent + 2}")
        pad = f"{lit(' ' * indent)} " if indent else ""
        rules.add(f"any-map-{indent}", f"({pad}free-key ({value}) | gap) any-map-{indent}?")


def build(kubernetes_version: str | None = None) -> Rules:
    folder, _ = _schema_folder(kubernetes_version or DEFAULT_KUBERNETES_VERSION)
    definitions = kubernetes_validate.schema_contents(f"{folder}/_definitions.json", folder)["$defs"]
    rules = Rules()
    rules.add("root", f'{lit(FENCE_OPEN)} ("---\\n")? document ("---\\n" document)* {lit(FENCE_CLOSE)}')
    # At most one comment or blank line before a document's `apiVersion` (no seed document has one): the base model,
    # guided, wrote comment lines to the budget before it in 25 of its 49 Kubernetes answers (eighth session).
    # The header either way round: `kind` first lets a model name the kind a request asks for before it commits to
    # an apiVersion (`decoding.KIND_FIRST`); the seed documents, and most models, write `apiVersion` first.
    rules.add("document", 'gap? ("apiVersion: " kind-body | "kind: " version-body)')
    builder = _Builder(rules, definitions)
    options, kind_first = [], []
    for api_version, kind, schema in _kinds(folder):
        body = builder.mapping(f"k-{kind.lower()}-{api_version.replace('/', '-').replace('.', '-')}", schema, 0)
        header, swapped = lit(f"{api_version}\nkind: {kind}\n"), lit(f"{kind}\napiVersion: {api_version}\n")
        options.append(f"{header} {body}")
        kind_first.append(f"{swapped} {body}")
    rules.add("kind-body", " | ".join(options))
    rules.add("version-body", " | ".join(kind_first))
    _generic(rules)
    return rules


def kubernetes_gbnf(kubernetes_version: str | None = None) -> str:
    return build(kubernetes_version).text()


# A rule that repeats itself at its right end (`m4-spec-more: ("    " entry | gap) m4-spec-more?`, GBNF's way of
# saying "one or more", which llama.cpp's matcher needs) and its left-recursive form (`x: x body | body`) say the
# same; to llguidance's Earley parser the right-recursive one is a chain that grows a link per line, and every line's
# end completes it again, in every mapping open around the line. Left-recursive in the Lark form only: Kubernetes
# masks with Qwen's vocabulary took 6.0 ms at a value at column 14 (`memory: 12`), 4.0 left-recursive; a line's
# start at column 10 3.0 ms, 1.8 (fourteenth session, this 2-core CPU, bench/sweeps/results/guided-h200.md).
_RIGHT_RECURSIVE = re.compile(r"(\w+): (\(.*\)|\w+) \1\?")


def refine_lark(lark: str) -> str:
    """The Lark form of the grammar (`gbnf_to_lark`'s) with `plain-str` no longer a boolean, number or date, its
    repetitions left-recursive (`repeat_left_recursively`), and blank and comment lines taken after the line before
    them (`gaps_after_lines`)."""
    return gaps_after_lines(repeat_left_recursively(lark))


def repeat_left_recursively(lark: str) -> str:
    """`lark` with `plain-str` no longer a boolean, number or date, and its repetitions left-recursive
    (`_RIGHT_RECURSIVE`)."""
    head = "PLAIN_STR: "
    lines = lark.split("\n")
    if not any(line.startswith(head) for line in lines):
        raise ValueError("the Kubernetes grammar has no PLAIN_STR lexeme to refine")
    for i, line in enumerate(lines):
        if line.startswith(head):
            lines[i] = f"{head}({line[len(head):]}) & ~/{NOT_PLAIN_STRING}/"
        elif (match := _RIGHT_RECURSIVE.fullmatch(line)) and _one_group(match[2]):
            name, body = match[1], match[2]
            lines[i] = f"{name}: {name} {body} | {body}"
    return "\n".join(lines)


# A blank or comment line (`gap`) may come between any two lines. The GBNF takes it in every mapping's and list's
# repetition and before a mapping's first entry, so after each line the parser keeps a way for it at every level
# open around the line: llguidance paid for that at every token ending a line, the more the deeper. The Lark form
# (g19) takes such lines at one place instead, right after the line before them, as `gaps`: a mask at a value at
# column 14 with Qwen's vocabulary 1.44 ms from 4.05, at a line's start at column 10 0.11 from 1.79, the same tokens
# allowed (`bench/yaml_masks.py`, fifteenth session). The same language (a block scalar's trailing blank lines are
# its own or gaps, either way), but for a free map or list of comment lines alone, null to YAML, now refused.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/|\w+|\S')
_NO_TRAILING_GAPS = re.compile(r"(start|document|gaps|block_\d+)$")  # a block's own blank lines stay its own
_QUANTIFIERS = ("?", "*", "+")


def gaps_after_lines(lark: str) -> str:
    """`lark` with every `GAP` taken out of the repetitions and mapping starts, and `gaps?` after every element
    that ends a line (a lexeme or literal ending with a newline, a block scalar) in the rules."""
    lines = lark.split("\n")
    bodies: dict[str, str] = {}
    name = None
    for line in lines:
        if match := re.match(r"(\w+): (.*)$", line):
            name = match[1]
            bodies[name] = match[2]
        elif name and re.match(r"\s+\|", line):
            bodies[name] += " " + line.strip()
        elif not line.strip():
            name = None
    ending = _line_ending_lexemes(bodies)
    out, i, name = [], 0, None
    while i < len(lines):
        line = lines[i]
        head = re.match(r"(\w+): (.*)$", line)
        if head:
            name = head[1]
        elif not line.strip():
            name = None
        if name and name[0].islower() and name not in ("document", "gaps"):
            if head and head[2] == f"GAP {name}":  # `x: GAP x | first more?`: the line before takes the gaps now
                following = lines[i + 1]
                if not re.match(r"\s+\| ", following):
                    raise ValueError(f"the Kubernetes grammar's rule {name} has no entry after its leading GAP")
                line, i = f"{name}: {following.strip()[2:]}", i + 1
            line = line.replace(" | GAP)", ")")
            if not _NO_TRAILING_GAPS.match(name):
                indent, body = (f"{name}: ", line[len(name) + 2:]) if head else (re.match(r"\s*", line)[0],
                                                                                  line.strip())
                line = indent + _with_gaps(body, ending)
        out.append(line)
        i += 1
    refined = "\n".join(out) + "\n\ngaps: gaps GAP | GAP\n"
    for line in refined.split("\n"):
        head = re.match(r"(\w+):", line)
        if head and head[1][0].islower() and head[1] not in ("document", "gaps") and "GAP" in _TOKEN.findall(line):
            raise ValueError(f"a GAP is left in the Kubernetes grammar's rule {head[1]}")
    return refined


def _with_gaps(body: str, ending: set[str]) -> str:
    """A rule's `body` with `gaps?` after each element that ends a line (after its quantifier, if it has one)."""
    tokens = _TOKEN.findall(body)
    written = []
    for k, token in enumerate(tokens):
        written.append(token)
        if k + 1 < len(tokens) and tokens[k + 1] in _QUANTIFIERS:
            continue  # after the quantifier
        element = tokens[k - 1] if token in _QUANTIFIERS else token
        if element in ending or element.endswith('\\n"') or re.fullmatch(r"block_\d+", element):
            written.append("gaps?")
    return " ".join(written)


def _line_ending_lexemes(bodies: dict[str, str]) -> set[str]:
    """The lexemes every alternative of which ends with a newline (a line's value, `key:` and its newline, a whole
    entry), blank lines, block scalars' heads and lines aside."""
    ending: set[str] = set()
    grown = True
    while grown:
        grown = False
        for name, body in bodies.items():
            if (name.isupper() and name not in ending and name not in ("GAP", "BLOCK_HEAD")
                    and not name.startswith("BLOCK_LINE") and _every_alternative_ends(body, ending)):
                ending.add(name)
                grown = True
    return ending


def _every_alternative_ends(body: str, ending: set[str]) -> bool:
    depth, last, ends = 0, None, []
    for token in _TOKEN.findall(body):
        depth += (token == "(") - (token == ")")
        if depth == 0 and token == "|":
            ends.append(last)
        else:
            last = token
    ends.append(last)
    return all(end is not None and (end in ending or end.endswith('\\n"')) for end in ends)


def _one_group(body: str) -> bool:
    """Whether a rule's `body` is one name, or one parenthesized group (`(a) | (b)` is two: rewriting `x: (a) | (b)
    x?` as a repetition would change it). Quoted literals may hold parentheses and escaped quotes (`_TOKEN`)."""
    tokens = _TOKEN.findall(body)
    if tokens[:1] != ["("]:
        return True
    depth = 0
    for i, token in enumerate(tokens):
        depth += (token == "(") - (token == ")")
        if depth == 0 and i != len(tokens) - 1:
            return False
    return True
