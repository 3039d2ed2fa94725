"""Import rows from other people's datasets: a Hugging Face dataset id (with a split), Parquet, CSV or JSONL, with
a column mapping onto instruction / input / output; every row checked by the validators, the invalid ones listed
and kept out unless asked for.

    >>> from studio import dataset_import
    >>> records = dataset_import.read_records("iac.parquet")                 # or .csv, .jsonl
    >>> mapping = dataset_import.ColumnMap(instruction="prompt", output="completion")
    >>> result = dataset_import.to_rows(records, mapping, source="iac")
    >>> len(result.rows), [(row.id, why) for row, why in result.invalid][:1]
    (180, [('iac-0007', 'schema: line 3: aws_s3_bucket.b: unknown argument "name" (did you mean "bucket"?)')])
    >>> records = dataset_import.hub_records("someone/terraform-sft", split="train")   # offline: HubUnavailable

`to_rows` fills what a studio row needs that other datasets lack: the kind (from a column, or detected from the
code), a fenced answer (code without fences is fenced in its language) and an id. A row whose output fails the
validators is listed in `invalid` with the first reason; `keep_invalid=True` keeps it among the rows too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from studio import dataset
from studio.dataset import DatasetError, Row

FORMATS = ("jsonl", "csv", "parquet")
MAX_ROWS = 50_000
FENCE = {"terraform": "hcl", "kubernetes": "yaml"}


class HubUnavailable(DatasetError):
    """The Hugging Face hub cannot be reached (offline, firewalled) or refused the dataset."""


@dataclass(frozen=True)
class ColumnMap:
    """Which column of the source holds each field of a row; an empty name means the source has none."""

    instruction: str = "instruction"
    input: str = "input"
    output: str = "output"
    kind: str = "kind"
    intent: str = "intent"
    tags: str = "tags"

    def check(self, columns: list[str]) -> None:
        """Refuse a mapping naming a column the source does not have, listing the columns it has."""
        for field_name in ("instruction", "output"):
            if not getattr(self, field_name):
                raise DatasetError(f"map a column to {field_name}: every row needs one")
        missing = [f"{name} -> {column!r}" for name, column in (("instruction", self.instruction),
                                                                ("output", self.output))
                   if column not in columns]
        if missing:
            raise DatasetError(f"no column for {', '.join(missing)}; the columns are {', '.join(columns)}")


@dataclass
class ImportResult:
    rows: list[Row]
    invalid: list[tuple[Row, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        kept_invalid = sum(1 for row, _ in self.invalid if any(r is row for r in self.rows))
        parts = [f"{len(self.rows)} row{'s' if len(self.rows) != 1 else ''} imported"]
        if self.invalid:
            parts.append(f"{len(self.invalid)} fail the validators" +
                         (" (kept)" if kept_invalid else " (left out)"))
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable (left out)")
        return ", ".join(parts)


# -- reading -----------------------------------------------------------------------------------------------


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "parquet"):
        return suffix
    if suffix == "pq":
        return "parquet"
    raise DatasetError(f"{Path(path).name}: import reads .jsonl, .csv or .parquet, not .{suffix}")


def read_records(path: str | Path, limit: int = MAX_ROWS) -> list[dict]:
    """The records of a JSONL, CSV (with a header line) or Parquet file, as dicts of column -> value."""
    path = Path(path)
    kind = format_of(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.stat().st_size > dataset.MAX_UPLOAD_BYTES * 5:
        raise DatasetError(f"{path.name} is over {dataset.MAX_UPLOAD_BYTES * 5 // 2**20} MB: split it first")
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as error:  # pyarrow raises ArrowInvalid, OSError...
            raise DatasetError(f"{path.name}: not a readable Parquet file ({error})") from error
        records = table.slice(0, limit).to_pylist()
    else:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DatasetError(f"{path.name}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error
        if kind == "jsonl":
            records = []
            for number, data in dataset._jsonl_records(text, path.name):
                if not isinstance(data, dict):
                    raise DatasetError(f"{path.name}:{number}: expected a JSON object per line")
                records.append(data)
        else:
            csv.field_size_limit(max(csv.field_size_limit(), dataset.MAX_UPLOAD_BYTES))
            try:
                records = list(csv.DictReader(io.StringIO(text, newline="")))
            except csv.Error as error:
                raise DatasetError(f"{path.name}: not valid CSV ({error})") from error
    if len(records) > limit:
        records = records[:limit]
    return records


def hub_records(dataset_id: str, split: str = "train", config: str | None = None, token: str | None = None,
                limit: int = MAX_ROWS) -> list[dict]:
    """The records of a Hugging Face dataset split (at most `limit`); offline, a HubUnavailable in seconds."""
    from studio import models

    dataset_id = (dataset_id or "").strip()
    if not models._looks_like_hub_id(dataset_id):
        raise DatasetError(f"{dataset_id!r} is not a dataset id: write it as owner/name (bigcode/the-stack)")
    reason = models._hub_reachable()
    if reason is not None:
        raise HubUnavailable(f"Cannot reach the Hugging Face hub for {dataset_id!r}: {reason}. Download the "
                             "dataset elsewhere and import its Parquet, CSV or JSONL file instead.")
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, config, split=f"{split}[:{limit}]", token=token)
    except Exception as error:  # the hub raises many kinds: not found, gated, bad split, connection
        raise HubUnavailable(f"{dataset_id} ({split}): {type(error).__name__}: {error}") from error
    return [dict(record) for record in loaded]


# -- rows --------------------------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def detect_kind(output: str) -> str | None:
    """terraform or kubernetes, from the code in an answer; None when it is neither."""
    from studio.iac.extract import extract_code

    found = extract_code(output, None)
    return found.language if found.code else None


def fenced(output: str, kind: str) -> str:
    """The output as one fenced block of its language, unless it already holds a fence."""
    if "```" in output:
        return output
    return f"```{FENCE[kind]}\n{output.strip()}\n```"


def why_invalid(report) -> str:
    """The first error of the stages a row must pass (`stage: line N: message`), for a list of left-out rows."""
    for stage, verdict in report.verdicts.items():
        if stage == "best_practice":
            continue
        for reason in verdict.reasons:
            if reason.severity == "error":
                return f"{'' if reason.message.startswith(stage + ':') else stage + ': '}{reason}"
    return report.summary()


def to_rows(records: list[dict], mapping: ColumnMap = ColumnMap(), kind: str = "auto", source: str = "import",
            keep_invalid: bool = False) -> ImportResult:
    """Studio rows from records; `kind` is "terraform", "kubernetes" or "auto" (a kind column, else detected)."""
    if kind not in ("auto", "terraform", "kubernetes"):
        raise ValueError(f"kind must be auto, terraform or kubernetes, not {kind!r}")
    if records:
        mapping.check(list(records[0]))
    stem = dataset.stem_of(Path(source))
    result = ImportResult([])
    taken: set[str] = set()
    for number, record in enumerate(records, 1):
        where = f"{source} row {number}"
        instruction = _text(record.get(mapping.instruction)).strip()
        output = _text(record.get(mapping.output)).strip()
        if not instruction or not output:
            result.unreadable.append((where, "empty instruction" if not instruction else "empty output"))
            continue
        row_kind = kind
        if row_kind == "auto":
            given = _text(record.get(mapping.kind)).strip().lower() if mapping.kind else ""
            row_kind = given if given in FENCE else detect_kind(output) or ""
        if row_kind not in FENCE:
            result.unreadable.append((where, "neither Terraform nor Kubernetes code in the output"))
            continue
        data = {"instruction": instruction, "output": fenced(output, row_kind), "kind": row_kind,
                "input": _text(record.get(mapping.input)) if mapping.input else ""}
        if mapping.intent and record.get(mapping.intent) not in (None, ""):
            data["intent"] = record[mapping.intent]
        if mapping.tags and isinstance(record.get(mapping.tags), list):
            data["tags"] = [str(tag) for tag in record[mapping.tags]]
        try:
            row = Row.from_dict(data, where)
        except DatasetError as error:
            result.unreadable.append((where, str(error).split(": ", 1)[-1]))
            continue
        row.id = dataset.free_id(f"{stem}-{number:04d}", taken)
        taken.add(row.id)
        report = dataset.check_row(row)
        if not report.ok:
            result.invalid.append((row, why_invalid(report)))
            if not keep_invalid:
                continue
        result.rows.append(row)
    return result
