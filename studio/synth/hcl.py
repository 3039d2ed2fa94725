"""A small writer of Terraform text from Python values, so that a generated row's code and its intent come from
one description of the resource.

    >>> from studio.synth.hcl import Block, Ref, Resource, render
    >>> print(render([Resource("aws_s3_bucket_versioning", "logs", {
    ...     "bucket": Ref("aws_s3_bucket.logs.id"),
    ...     "versioning_configuration": Block({"status": "Enabled"}),
    ... })]))
    resource "aws_s3_bucket_versioning" "logs" {
      bucket = aws_s3_bucket.logs.id
    <BLANKLINE>
      versioning_configuration {
        status = "Enabled"
      }
    }
    <BLANKLINE>

Values: a str is quoted, bool/int/float are literals, a list is a tuple, a dict is a map argument (`tags = {...}`),
`Block` is a nested block (a list of `Block`s repeats it), `Ref` is an expression written as it is
(`aws_vpc.main.id`, `var.env`), `Json` is `jsonencode(...)` of a Python object written as HCL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Ref:
    """An expression written as is: `aws_s3_bucket.logs.id`, `var.db_password`, `"${var.env}-logs"`."""

    expr: str

    @property
    def target(self) -> str | None:
        """The resource type (or `var`, `local`, `data.<type>`) the expression refers to first."""
        match = re.search(r"(?<![\w.])(data\.[a-z][\w]*|[a-z][\w]*)\.[A-Za-z_][\w-]*", self.expr)
        return match.group(1) if match else None


@dataclass(frozen=True)
class Json:
    """`jsonencode({...})` of a Python object (a policy document, a container definition)."""

    value: Any


@dataclass
class Block:
    """A nested block: `versioning_configuration { status = "Enabled" }`."""

    body: dict


@dataclass
class TopBlock:
    """A top-level block: `resource "<type>" "<name>" {...}`, `variable "<name>" {...}`, `output`, `data`."""

    keyword: str
    labels: tuple[str, ...]
    body: dict = field(default_factory=dict)

    @property
    def address(self) -> str:
        if self.keyword == "resource":
            return ".".join(self.labels)
        if self.keyword == "variable":
            return f"var.{self.labels[0]}"
        return ".".join((self.keyword, *self.labels))


def Resource(tf_type: str, name: str, body: dict) -> TopBlock:  # noqa: N802 - reads like the HCL keyword
    return TopBlock("resource", (tf_type, name), body)


def Data(tf_type: str, name: str, body: dict) -> TopBlock:  # noqa: N802
    return TopBlock("data", (tf_type, name), body)


def Variable(name: str, body: dict) -> TopBlock:  # noqa: N802
    return TopBlock("variable", (name,), body)


def Output(name: str, value: Any, **more: Any) -> TopBlock:  # noqa: N802
    return TopBlock("output", (name,), {"value": value, **more})


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("\n", "\\n") + '"'


def _key(name: str) -> str:
    return name if IDENTIFIER.match(name) else quote(name)


def value_text(value: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, Ref):
        return value.expr
    if isinstance(value, Json):
        return f"jsonencode({value_text(value.value, indent)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        items = [value_text(item, indent + 1) for item in value]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) <= 80 and "\n" not in one_line:
            return one_line
        return "[\n" + "".join(f"{pad}  {item},\n" for item in items) + f"{pad}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(_key(k)) for k in value)
        lines = [f"{pad}  {_key(k).ljust(width)} = {value_text(v, indent + 1)}\n" for k, v in value.items()]
        return "{\n" + "".join(lines) + f"{pad}}}"
    raise TypeError(f"no HCL for {type(value).__name__}")


def body_text(body: dict, indent: int) -> str:
    pad = "  " * indent
    attributes = [(k, v) for k, v in body.items() if not _is_block(v)]
    blocks = [(k, v) for k, v in body.items() if _is_block(v)]
    out = []
    if attributes:
        width = max(len(_key(k)) for k, _ in attributes)
        out.extend(f"{pad}{_key(k).ljust(width)} = {value_text(v, indent)}\n" for k, v in attributes)
    for name, value in blocks:
        for block in value if isinstance(value, list) else [value]:
            if out:
                out.append("\n")
            inner = body_text(block.body, indent + 1)
            out.append(f"{pad}{name} {{\n{inner}{pad}}}\n" if inner else f"{pad}{name} {{}}\n")
    return "".join(out)


def _is_block(value: Any) -> bool:
    return isinstance(value, Block) or (isinstance(value, list) and bool(value) and isinstance(value[0], Block))


def render(blocks: list[TopBlock]) -> str:
    """The Terraform text of `blocks`, one blank line between them."""
    parts = []
    for block in blocks:
        labels = "".join(f" {quote(label)}" for label in block.labels)
        inner = body_text(block.body, 1)
        parts.append(f"{block.keyword}{labels} {{\n{inner}}}\n" if inner else f"{block.keyword}{labels} {{}}\n")
    return "\n".join(parts)
