"""The dataset: Alpaca rows with the studio's extra fields, read from disk and turned into chats.

    >>> from studio import dataset
    >>> rows = dataset.read_jsonl("data/train.jsonl")
    >>> rows[0].instruction, rows[0].kind
    ('An S3 bucket for CloudTrail logs, versioned', 'terraform')
    >>> dataset.to_prompt_completion(rows[0])
    {'prompt': [{'role': 'system', ...}, {'role': 'user', ...}], 'completion': [{'role': 'assistant', ...}]}

A row is `instruction`, `input` (may be empty), `output` (the answer, one fenced code block), `kind`
("terraform" or "kubernetes"), `intent` (see studio/iac/INTENT.md), `tags` (the first is the topic) and `id`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio import chat

REQUIRED = ("instruction", "output", "kind")
FIELDS = ("id", "instruction", "input", "output", "kind", "intent", "tags")


class DatasetError(ValueError):
    """A row or file that cannot be read; the message names the file and line."""


@dataclass
class Row:
    instruction: str
    output: str
    kind: str
    input: str = ""
    intent: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    id: str = ""

    @property
    def topic(self) -> str:
        return self.tags[0] if self.tags else ""

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_dict(cls, data: dict, where: str = "row") -> "Row":
        """A row from a JSON object, with every problem named (`data/train.jsonl:12: missing "output"`)."""
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}")
        missing = [name for name in REQUIRED if not data.get(name)]
        if missing:
            raise DatasetError(f"{where}: missing {', '.join(repr(m) for m in missing)}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise DatasetError(f"{where}: unknown field(s) {', '.join(unknown)}; a row has {', '.join(FIELDS)}")
        for name in ("id", "instruction", "input", "output", "kind"):
            if name in data and not isinstance(data[name] if data[name] is not None else "", str):
                raise DatasetError(f"{where}: {name!r} must be a string, not {type(data[name]).__name__}")
        if data["kind"] not in chat.KINDS:
            raise DatasetError(f"{where}: 'kind' must be one of {', '.join(chat.KINDS)}, not {data['kind']!r}")
        intent = data.get("intent") or {}
        if isinstance(intent, str):
            try:
                intent = json.loads(intent)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{where}: 'intent' is not valid JSON: {error}") from error
        if not isinstance(intent, dict):
            raise DatasetError(f"{where}: 'intent' must be an object, not {type(intent).__name__}")
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise DatasetError(f"{where}: 'tags' must be a list of strings")
        return cls(
            instruction=data["instruction"],
            output=data["output"],
            kind=data["kind"],
            input=data.get("input") or "",
            intent=intent,
            tags=tags,
            id=data.get("id") or "",
        )


def read_jsonl(path: str | Path) -> list[Row]:
    """Every row of a JSONL file; the first bad line stops the read with its line number."""
    path = Path(path)
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from error
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})") from error
        rows.append(Row.from_dict(data, f"{path}:{number}"))
    return rows


def to_messages(row: Row) -> list[dict]:
    """The whole conversation: system, user, and the row's output as the assistant's answer."""
    return [*chat.messages_for(row.instruction, row.kind, row.input), {"role": "assistant", "content": row.output}]


def to_prompt_completion(row: Row) -> dict:
    """TRL's conversational prompt-completion form: the loss falls on the completion only."""
    messages = to_messages(row)
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(row) for row in rows]
