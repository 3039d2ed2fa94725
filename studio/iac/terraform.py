"""Terraform: parse with python-hcl2 and check every block against the AWS provider schema.

    >>> from studio.iac.terraform import parse_terraform, check_terraform_schema
    >>> parsed = parse_terraform('resource "aws_s3_bucket_versioning_policy" "v" {\\n  bucket = "b"\\n}\\n')
    >>> parsed.verdict.status
    'passed'
    >>> print(check_terraform_schema(parsed).reasons[0])
    line 1: aws_s3_bucket_versioning_policy.v: unknown resource type (did you mean "aws_s3_bucket_versioning"?)

Parsing keeps python-hcl2's plain values (strings without their quotes, nested blocks as lists of dicts,
expressions as `"${...}"`) and, beside them, an outline of where every block and argument starts, so that
each reason names a line. Resources of other providers (`random_id`, `tls_private_key`...) are reported as
not checked, never as wrong.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from studio.iac.aws_schema import AwsSchema, BlockSchema, aws_schema
from studio.iac.extract import LANGUAGE_NAMES, sniff_language
from studio.iac.report import Reason, Verdict

# Plain values: no quotes kept around strings, no block markers, heredocs as plain strings, objects and
# tuples as Python dicts and lists (python-hcl2 8.x keeps quotes and adds `__is_block__` by default).
PLAIN = hcl2.SerializationOptions(
    with_comments=False,
    with_meta=False,
    wrap_objects=False,
    wrap_tuples=False,
    explicit_blocks=False,
    preserve_heredocs=False,
    strip_string_quotes=True,
)

# Valid inside any resource or data block, whatever the provider schema says.
META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
SINGLE_META_BLOCKS = ("lifecycle", "connection")  # at most one each in a resource (provisioners may repeat)
# Terraform's own blocks in a resource beside the provider's schema: `connection` (how provisioners reach the machine)
# and the three provisioners Terraform has (the vendor ones went in 0.15); any other provisioner type fails `terraform
# init` ("provisioner ... is not available"). Guided answers had written `provisioner "AWS" { ... }` and `connection {
# domain = ... }`, which the validator let pass until the thirteenth session.
_CONNECTION_ARGUMENTS = (
    "type", "user", "password", "port", "timeout", "script_path", "private_key", "certificate", "agent",
    "agent_identity", "host_key", "target_platform", "bastion_host", "bastion_host_key", "bastion_port",
    "bastion_user", "bastion_password", "bastion_private_key", "bastion_certificate", "https", "insecure", "use_ntlm",
    "cacert", "proxy_scheme", "proxy_host", "proxy_port", "proxy_user_name", "proxy_user_password")
CONNECTION = BlockSchema(arguments={"host": "required", **dict.fromkeys(_CONNECTION_ARGUMENTS, "optional")},
                         blocks={}, single=True)
_PROVISIONER_META = {"when": "optional", "on_failure": "optional"}
PROVISIONERS = {
    "local-exec": BlockSchema(arguments={"command": "required", **dict.fromkeys(
        ("working_dir", "interpreter", "environment", "quiet"), "optional"), **_PROVISIONER_META},
        blocks={"connection": CONNECTION}),
    "remote-exec": BlockSchema(arguments={**dict.fromkeys(("inline", "script", "scripts"), "optional"),
                                          **_PROVISIONER_META}, blocks={"connection": CONNECTION}),
    "file": BlockSchema(arguments={"destination": "required", **dict.fromkeys(("source", "content"), "optional"),
                                   **_PROVISIONER_META}, blocks={"connection": CONNECTION}),
}
# Top-level block keywords and how many labels each takes (None: any number, checked elsewhere).
TOP_LEVEL_LABELS = {
    "resource": 2, "data": 2, "provider": 1, "variable": 1, "output": 1, "module": 1, "check": 1,
    "terraform": 0, "locals": 0, "moved": 0, "import": 0, "removed": 0,
}
LABEL_NAMES = {2: "a type and a name", 1: "a name", 0: "no label"}
# Arguments of the blocks Terraform itself defines; `None` means anything goes (locals, module inputs).
CORE_ARGUMENTS = {
    "variable": {"type", "default", "description", "validation", "sensitive", "nullable", "ephemeral"},
    "output": {"value", "description", "sensitive", "depends_on", "precondition", "ephemeral"},
    "terraform": {"required_version", "required_providers", "backend", "cloud", "experiments",
                  "provider_meta"},
    "moved": {"from", "to"},
    "import": {"to", "id", "identity", "provider", "for_each"},
    "removed": {"from", "lifecycle", "provisioner", "connection"},
}
CORE_REQUIRED = {"output": ("value",), "module": ("source",), "moved": ("from", "to"), "import": ("to",),
                 "removed": ("from",)}
# Providers other than AWS that answers commonly use beside it; their resources are not checked.
OTHER_PROVIDERS_NOTE = "not checked: {address} belongs to the {provider} provider, not AWS"

REFERENCE = re.compile(r"(?<![\w.\-])(data\.[A-Za-z][\w-]*|[A-Za-z][\w-]*)\.([A-Za-z_][\w-]*)")
STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#.*$|//.*$')
HEREDOC_START = re.compile(r'<<-?[ \t]*"?(\w+)"?[ \t]*$')


@dataclass
class Outline:
    """Where a block starts and ends, where each of its arguments is, and the same for nested blocks."""

    line: int
    end_line: int
    labels: tuple[str, ...] = ()
    attributes: dict[str, int] = field(default_factory=dict)
    blocks: dict[str, list["Outline"]] = field(default_factory=dict)

    def block(self, name: str, index: int) -> "Outline | None":
        found = self.blocks.get(name, [])
        return found[index] if index < len(found) else None

    def dynamic(self, name: str) -> "Outline | None":
        return next((d for d in self.blocks.get("dynamic", []) if d.labels[:1] == (name,)), None)

    def line_of(self, name: str) -> int:
        if name in self.attributes:
            return self.attributes[name]
        if self.blocks.get(name):
            return self.blocks[name][0].line
        return self.line


@dataclass
class TerraformBlock:
    """One top-level block: `resource "aws_s3_bucket" "logs" { ... }` has keyword `resource`, labels
    `("aws_s3_bucket", "logs")` and its body as plain values."""

    keyword: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    outline: Outline

    @property
    def address(self) -> str:
        """How Terraform names it in messages: `aws_s3_bucket.logs`, `data.aws_iam_policy_document.x`."""
        if self.keyword == "resource":
            return ".".join(self.labels)
        return ".".join((self.keyword, *self.labels))

    @property
    def line(self) -> int:
        return self.outline.line


@dataclass
class ParsedTerraform:
    """The parse of one Terraform answer: blocks in order, and the parse verdict."""

    code: str
    blocks: list[TerraformBlock]
    verdict: Verdict

    def of(self, keyword: str) -> list[TerraformBlock]:
        return [b for b in self.blocks if b.keyword == keyword]

    def declared(self) -> set[tuple[str, str]]:
        """Every referable address as (type, name): ("aws_s3_bucket", "logs"), ("var", "env"), ..."""
        found: set[tuple[str, str]] = set()
        for block in self.blocks:
            if block.keyword == "resource" and len(block.labels) == 2:
                found.add((block.labels[0], block.labels[1]))
            elif block.keyword == "data" and len(block.labels) == 2:
                found.add((f"data.{block.labels[0]}", block.labels[1]))
            elif block.keyword in ("variable", "module") and block.labels:
                found.add(({"variable": "var"}.get(block.keyword, block.keyword), block.labels[0]))
            elif block.keyword == "locals":
                found.update(("local", name) for name in block.body)
        return found


def references_in(value: Any) -> set[tuple[str, str]]:
    """(type, name) pairs that expressions inside `value` refer to.

    >>> sorted(references_in({"bucket": "${aws_s3_bucket.logs.id}", "x": ["${var.env}-a"]}))
    [('aws_s3_bucket', 'logs'), ('var', 'env')]
    """
    found: set[tuple[str, str]] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "${" in item:
                found.update(REFERENCE.findall(item[item.index("${"):]))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


def _label_text(label) -> str:
    text = label.serialize(PLAIN)
    return text if isinstance(text, str) else str(text)


def _outline(rule: BlockRule) -> Outline:
    meta = rule._meta  # python-hcl2 keeps Lark's positions here; its serializer has no line numbers (8.1.4)
    node = Outline(getattr(meta, "line", 0), getattr(meta, "end_line", 0),
                   tuple(_label_text(label) for label in rule.labels[1:]))
    for child in rule.body.children:
        if isinstance(child, AttributeRule):
            node.attributes[_label_text(child.identifier)] = getattr(child._meta, "line", node.line)
        elif isinstance(child, BlockRule):
            node.blocks.setdefault(_label_text(child.labels[0]), []).append(_outline(child))
    return node


# python-hcl2 8.x serializes with a mutable default argument (`context=SerializationContext()`) shared by every
# call: two threads parsing at once flip each other's flags and strings keep their quotes. One parse at a time.
_HCL2_LOCK = threading.RLock()


def parse_terraform(code: str) -> ParsedTerraform:
    """Parse `code` with python-hcl2; the verdict fails with a located reason when it does not parse."""
    with _HCL2_LOCK:
        return _parse_terraform(code)


def _parse_terraform(code: str) -> ParsedTerraform:
    try:
        tree = hcl2.parses(code, discard_comments=True)
        blocks, reasons = [], []
        for child in tree.body.children:
            if isinstance(child, AttributeRule):
                name = _label_text(child.identifier)
                reasons.append(Reason(f'argument "{name}" outside any block', getattr(child._meta, "line", None)))
                continue
            if not isinstance(child, BlockRule):
                continue
            keyword = _label_text(child.labels[0])
            outline = _outline(child)
            block = TerraformBlock(keyword, outline.labels, child.body.serialize(PLAIN), outline)
            expected = TOP_LEVEL_LABELS.get(keyword)
            if expected is not None and len(block.labels) != expected:
                shown = " ".join([keyword, *(f'"{label}"' for label in block.labels)])
                example = f' ({keyword} "aws_s3_bucket" "logs" {{ ... }})' if expected == 2 else ""
                reasons.append(Reason(f"`{shown} {{` has {len(block.labels)} label(s): a {keyword} block takes "
                                      f"{LABEL_NAMES[expected]}{example}", outline.line))
                continue
            blocks.append(block)
    except UnexpectedInput as error:
        return ParsedTerraform(code, [], _parse_failure(code, error))
    except (RuntimeError, ValueError, RecursionError) as error:  # python-hcl2's own checks, deep nesting
        return ParsedTerraform(code, [], Verdict("failed", [Reason(f"does not parse: {error}")],
                                                  _partial_parse_score(code)))
    if not blocks and not reasons:
        return ParsedTerraform(code, [], Verdict("failed", [Reason("no Terraform blocks in the code")], 0.0))
    verdict = Verdict.from_reasons(reasons, 1.0 if not reasons else 0.5 * len(blocks) / (len(blocks) + len(reasons)))
    return ParsedTerraform(code, blocks, verdict)


def _scan_brackets(code: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[tuple[int, int]]]:
    """Brackets outside strings, comments and heredocs: (unclosed, unexpected closers, top-level spans).

    Only for messages and partial credit; the verdict itself always comes from the real parser.
    """
    stack: list[tuple[str, int]] = []
    stray: list[tuple[str, int]] = []
    spans: list[tuple[int, int]] = []
    pairs = {"}": "{", ")": "(", "]": "["}
    heredoc = None
    in_comment = False
    start = None
    for number, line in enumerate(code.splitlines(), 1):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if in_comment:
            if "*/" not in line:
                continue
            line, in_comment = line.split("*/", 1)[1], False
        bare = STRING_OR_COMMENT.sub("", line)
        if "/*" in bare:
            bare, rest = bare.split("/*", 1)
            in_comment = "*/" not in rest
        for char in bare:
            if char in "{([":
                if not stack and char == "{" and start is None:
                    start = number
                stack.append((char, number))
            elif char in pairs:
                if stack and stack[-1][0] == pairs[char]:
                    stack.pop()
                    if not stack and start is not None:
                        spans.append((start, number))
                        start = None
                else:
                    stray.append((char, number))
        opened = HEREDOC_START.search(line)
        if opened:
            heredoc = opened.group(1)
    return stack, stray, spans


def _parse_failure(code: str, error: UnexpectedInput) -> Verdict:
    lines = code.splitlines()
    line = getattr(error, "line", None)
    line = line if isinstance(line, int) and line > 0 else None
    text = lines[line - 1].strip() if line and line <= len(lines) else ""
    unclosed, stray, _ = _scan_brackets(code)
    if isinstance(error, UnexpectedToken) and error.token.type == "$END" or isinstance(error, UnexpectedEOF):
        if unclosed:
            char, opened = unclosed[-1]
            message = f'"{char}" opened on line {opened} is never closed (the code ends first)'
            return Verdict("failed", [Reason(message, opened)], _partial_parse_score(code, line))
        message = "the code ends in the middle of a block or expression"
    elif stray:
        char, where = stray[0]
        message = f'"{char}" closes nothing: the brackets before it are already balanced'
        return Verdict("failed", [Reason(message, where)], _partial_parse_score(code, line))
    elif isinstance(error, UnexpectedToken):
        message = f'unexpected "{error.token.value}" in `{text}`' if text else f'unexpected "{error.token.value}"'
    elif isinstance(error, UnexpectedCharacters):
        char = error.char if error.char.isprintable() else repr(error.char)
        message = f'unexpected character "{char}" in `{text}`' if text else f'unexpected character "{char}"'
    else:
        message = str(error).splitlines()[0]
    if "::" in text:
        message += " (`::` is not Terraform syntax outside provider functions like provider::aws::arn_parse)"
    elif sniff_language(code) not in (None, "terraform"):
        message += f" (this looks like {LANGUAGE_NAMES.get(sniff_language(code), 'another language')}, not HCL)"
    elif re.match(r"\s*[\w-]+\s*:\s", text):
        message += ' (HCL assigns with "=", not ":"; is this YAML?)'
    column = getattr(error, "column", None)
    if line and isinstance(column, int) and column > 0:
        message = f"column {column}: {message}"
    return Verdict("failed", [Reason(message, line)], _partial_parse_score(code, line))


def _partial_parse_score(code: str, error_line: int | None = None) -> float:
    """Partial credit for code that does not parse: 0.5 x the share of top-level blocks that parse alone.

    GRPO needs variance inside a group: two broken answers are not equally broken when one has a single
    stray brace in its fifth block and the other is Python. The LALR parser stops at the first token that
    cannot continue a valid program, so blocks that end before the error line parsed already and are not
    parsed again.
    """
    lines = code.splitlines()
    unclosed, _, spans = _scan_brackets(code)
    if not spans or len(spans) > 200:
        return 0.0
    # A block still open at the end is a piece that failed too.
    pieces = len(spans) + (1 if unclosed else 0)
    good = 0
    for start, end in spans:
        if error_line is not None and end < error_line:
            good += 1
            continue
        try:
            hcl2.parses_to_tree("\n".join(lines[start - 1:end]))
            good += 1
        except Exception:  # any failure of the piece is a failure, whatever python-hcl2 raises
            pass
    return 0.5 * good / pieces


# ---------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------


def check_terraform_schema(parsed: ParsedTerraform, schema: AwsSchema | None = None) -> Verdict:
    """Unknown resource and data-source types, unknown arguments and blocks, missing required ones, a block of at most
    one written twice.

    The score is the mean over checked blocks of 1 / (1 + errors in the block), 0 for an unknown type, and 0
    when no block was checked.
    """
    if not parsed.verdict.passed:
        return Verdict.skipped("the code does not parse")
    schema = schema or aws_schema()
    reasons: list[Reason] = []
    scores: list[float] = []
    seen: dict[tuple[str, ...], int] = {}
    for block in parsed.blocks:
        key = (block.keyword, *block.labels)
        if block.keyword in ("resource", "data", "module", "variable", "output", "provider") and key in seen:
            alias = block.body.get("alias") if block.keyword == "provider" else None
            if not alias:
                reasons.append(Reason(f"{block.address} is declared twice (first on line {seen[key]})",
                                      block.line, block.address))
                scores.append(0.0)
                continue
        seen.setdefault(key, block.line)
        before = len(reasons)
        outcome = _check_block(block, schema, reasons)
        errors = sum(1 for r in reasons[before:] if r.severity == "error")
        if outcome == "unknown":
            scores.append(0.0)
        elif outcome == "checked" or errors:
            scores.append(1.0 / (1 + errors))
    # Nothing checked (only variables, outputs, other providers) earns no schema credit: a lone
    # `variable "x" {}` must not score like a correct resource.
    score = sum(scores) / len(scores) if scores else 0.0
    return Verdict.from_reasons(reasons, score)


def _check_block(block: TerraformBlock, schema: AwsSchema, reasons: list[Reason]) -> str | None:
    """Append the block's reasons; say "checked", "unknown" (type not in the schema) or None (not counted)."""
    keyword, address = block.keyword, block.address
    if keyword in ("resource", "data"):
        tf_type = block.labels[0]
        if not tf_type.startswith("aws_"):
            provider = tf_type.split("_", 1)[0]
            reasons.append(Reason(OTHER_PROVIDERS_NOTE.format(address=address, provider=provider), block.line,
                                  address, "note"))
            return None
        is_data = keyword == "data"
        found = schema.data_source(tf_type) if is_data else schema.resource(tf_type)
        if found is None:
            reasons.append(Reason(_unknown_type_message(tf_type, address, schema, is_data), block.line, address))
            return "unknown"
        _check_body(found, block.body, block.outline, address, address, reasons, top=True)
        return "checked"
    if keyword == "provider":
        if block.labels[0] != "aws":
            reasons.append(Reason(f"not checked: provider {block.labels[0]} is not AWS", block.line, address,
                                  "note"))
            return None
        _check_body(schema.provider, block.body, block.outline, address, address, reasons, top=False)
        return "checked"
    if keyword not in TOP_LEVEL_LABELS:
        hint = ""
        if keyword.startswith("aws_"):
            hint = f' (did you mean resource "{keyword}" "{(block.labels or ("<name>",))[0]}"?)'
        reasons.append(Reason(f'unknown top-level block "{keyword}"{hint}', block.line, keyword))
        return "unknown"
    allowed = CORE_ARGUMENTS.get(keyword)
    if allowed is not None:
        for name in block.body:
            if name not in allowed:
                reasons.append(Reason(f'{address}: unknown argument "{name}" in a {keyword} block',
                                      block.outline.line_of(name), f"{address}.{name}"))
    for name in CORE_REQUIRED.get(keyword, ()):
        if name not in block.body:
            reasons.append(Reason(f'{address}: missing required argument "{name}"', block.line, address))
    return None


def _unknown_type_message(tf_type: str, address: str, schema: AwsSchema, is_data: bool) -> str:
    other = schema.resource(tf_type) if is_data else schema.data_source(tf_type)
    if other is not None:
        if is_data:
            return f'{address}: {tf_type} is a resource, not a data source (write resource "{tf_type}" ...)'
        return f'{address}: {tf_type} is a data source, not a resource (write data "{tf_type}" ...)'
    kind = "data source" if is_data else "resource"
    guess = schema.suggest_type(tf_type, data=is_data)
    hint = f' (did you mean "{guess}"?)' if guess else ""
    return f"{address}: unknown {kind} type{hint}"


def _check_body(block_schema: BlockSchema, body: dict, outline: Outline | None, address: str, path: str,
                reasons: list[Reason], *, top: bool) -> None:
    where = address if path == address else f"{address}: {path[len(address) + 1:]}"
    line = outline.line if outline else None
    for name, value in body.items():
        at = outline.line_of(name) if outline else line
        if top and name in META_ARGUMENTS:
            if name in SINGLE_META_BLOCKS and isinstance(value, list) and len(value) > 1:
                reasons.append(Reason(f'{where}: duplicate {name} block: a resource has at most one (Terraform: '
                                      f'"Duplicate {name} block")', at, f"{path}.{name}"))
            if name in ("connection", "provisioner"):
                _check_core_blocks(name, value, outline, address, path, reasons)
            continue
        if name == "dynamic" and not (outline and name in outline.attributes):
            _check_dynamic(block_schema, value, outline, address, path, reasons)
            continue
        if name in block_schema.arguments:
            if outline and name in outline.blocks and name not in outline.attributes:
                reasons.append(Reason(f'{where}: "{name}" is an argument, not a block (write {name} = ...)',
                                      at, f"{path}.{name}"))
            continue
        child = block_schema.blocks.get(name)
        if child is None:
            guess = AwsSchema.suggest_argument(name, block_schema, address.split(".")[-2] if top else "")
            hint = f" (did you mean {_quoted(guess)}?)" if guess else ""
            what = "argument or block" if outline and name in outline.blocks else "argument"
            reasons.append(Reason(f'{where}: unknown {what} "{name}"{hint}', at, f"{path}.{name}"))
            continue
        if child.nesting == "block" and outline and name in outline.attributes:
            reasons.append(Reason(f'{where}: "{name}" is a block, not an argument (write {name} {{ ... }} '
                                  'without "=")', at, f"{path}.{name}"))
            continue
        items = value if isinstance(value, list) else [value]
        if child.single and child.nesting == "block" and len(items) > 1:
            reasons.append(Reason(f'{where}: too many "{name}" blocks: at most one is allowed, {len(items)} are '
                                  'written (Terraform: "Too many ... blocks")', at, f"{path}.{name}"))
        for index, item in enumerate(items):
            if isinstance(item, dict):
                child_outline = outline.block(name, index) if outline and name in outline.blocks else None
                _check_body(child, item, child_outline or outline, address, f"{path}.{name}", reasons, top=False)
    dynamics = body.get("dynamic")  # a list of blocks; an argument named `dynamic` (`dynamic = true`) is none
    dynamics = dynamics if isinstance(dynamics, list) else []
    dynamic_names = {next(iter(d), None) for d in dynamics if isinstance(d, dict)}
    for name, need in block_schema.arguments.items():
        if need == "required" and name not in body:
            reasons.append(Reason(f'{where}: missing required argument "{name}"', line, f"{path}.{name}"))
    for name, child in block_schema.blocks.items():
        if child.required and name not in body and name not in dynamic_names:
            reasons.append(Reason(f'{where}: missing required block "{name}"', line, f"{path}.{name}"))


def _check_core_blocks(name: str, value: Any, outline: Outline | None, address: str, path: str,
                       reasons: list[Reason]) -> None:
    """A resource's `connection` block and its `provisioner "<type>"` blocks, by Terraform's own schemas."""
    where = address if path == address else f"{address}: {path[len(address) + 1:]}"
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(item, dict):
            continue
        node = outline.block(name, index) if outline and name in outline.blocks else None
        at = node.line if node else (outline.line if outline else None)
        if name == "connection":
            _check_body(CONNECTION, item, node or outline, address, f"{path}.connection", reasons, top=False)
            continue
        for kind, body in item.items():
            schema = PROVISIONERS.get(kind)
            if schema is None:
                known = ", ".join(f'"{k}"' for k in PROVISIONERS)
                reasons.append(Reason(f'{where}: unknown provisioner "{kind}" (Terraform has {known})', at,
                                      f"{path}.provisioner.{kind}"))
            elif isinstance(body, dict):
                _check_body(schema, body, node or outline, address, f'{path}.provisioner "{kind}"', reasons,
                            top=False)


def _quoted(suggestion: str) -> str:
    """An argument name in quotes; a snippet such as `tags = { Name = ... }` as it is."""
    return f'"{suggestion}"' if suggestion.isidentifier() else suggestion


def _check_dynamic(block_schema: BlockSchema, value: Any, outline: Outline | None, address: str, path: str,
                   reasons: list[Reason]) -> None:
    where = address if path == address else f"{address}: {path[len(address) + 1:]}"
    for entry in value if isinstance(value, list) else [value]:
        if not isinstance(entry, dict):
            continue
        for name, spec in entry.items():
            node = outline.dynamic(name) if outline else None
            at = node.line if node else (outline.line if outline else None)
            child = block_schema.blocks.get(name)
            if child is None:
                guess = AwsSchema.suggest_argument(name, block_schema)
                hint = f' (did you mean "{guess}"?)' if guess else ""
                reasons.append(Reason(f'{where}: dynamic "{name}": no nested block "{name}" here{hint}', at,
                                      f"{path}.dynamic.{name}"))
                continue
            if not isinstance(spec, dict):
                continue
            if "for_each" not in spec:
                reasons.append(Reason(f'{where}: dynamic "{name}" needs for_each', at, f"{path}.dynamic.{name}"))
            contents = spec.get("content")
            if not contents:
                reasons.append(Reason(f'{where}: dynamic "{name}" needs a content block', at,
                                      f"{path}.dynamic.{name}"))
                continue
            if isinstance(contents, list) and len(contents) > 1:  # Terraform: "Extraneous dynamic content block"
                reasons.append(Reason(f'{where}: dynamic "{name}" has {len(contents)} content blocks; only one is '
                                      "allowed (it is the body of every block it writes)", at,
                                      f"{path}.dynamic.{name}"))
            for content in contents if isinstance(contents, list) else [contents]:
                if isinstance(content, dict):
                    content_outline = node.block("content", 0) if node else None
                    _check_body(child, content, content_outline, address, f"{path}.{name}", reasons, top=False)
