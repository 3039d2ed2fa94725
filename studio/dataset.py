"""The dataset: Alpaca rows with the studio's extra fields, read from disk and turned into chats.

    >>> from studio import dataset
    >>> rows = dataset.read_jsonl("data/train.jsonl")
    >>> rows[0].id, rows[0].kind, rows[0].topic
    ('tfc-0001', 'terraform', 'rds')
    >>> dataset.to_prompt_completion(rows[0])
    {'prompt': [{'role': 'system', ...}, {'role': 'user', ...}], 'completion': [{'role': 'assistant', ...}]}
    >>> splits = dataset.read_file("data/eval.jsonl")        # JSONL, JSON, CSV, a `datasets` folder or its .zip
    >>> {name: len(rows) for name, rows in splits.items()}   # rows without a `split` field are training rows
    {'train': 121, 'eval': 0}
    >>> dataset.check_row(rows[0]).ok                         # the validators' verdict, cached by content
    True

A row is `instruction`, `input` (may be empty), `output` (the answer, one fenced code block), `kind`
("terraform" or "kubernetes"), `intent` (see studio/iac/INTENT.md), `tags` (the first is the topic) and `id`.

Files hold rows of both splits: JSONL and JSON rows may carry a `split` ("train" or "eval"), a CSV a `split`
column, a `datasets` folder (what `DatasetDict.save_to_disk` writes) one dataset per split. Every problem is a
`DatasetError` naming the file and the line (or the row of a `datasets` split); files over `MAX_UPLOAD_BYTES`
are refused before they are read. The datasets in use, with their versions, live in `studio.dataset_store`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
import threading
import zipfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio import chat

if TYPE_CHECKING:
    from studio.iac.report import Report

REQUIRED = ("instruction", "output", "kind")
FIELDS = ("id", "instruction", "input", "output", "kind", "intent", "tags")
SPLITS = ("train", "eval")
# Names other tools give the held-out split; they are read as "eval".
SPLIT_ALIASES = {"validation": "eval", "valid": "eval", "val": "eval", "test": "eval", "dev": "eval"}

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# A zip is unpacked only when its files add up to at most this much: a few KB can otherwise unpack to GBs.
MAX_UNPACKED_BYTES = 5 * MAX_UPLOAD_BYTES

# The seed's split: about 16% of each (kind, topic) group held out (data/README.md, "The split").
EVAL_SHARE = 0.16


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
        if not data.get("kind") and isinstance(data.get("output"), str) and kind_of_fence(data["output"]):
            data = {**data, "kind": kind_of_fence(data["output"])}  # a plain Alpaca row: the fence says which
        missing = [name for name in REQUIRED if not data.get(name)]
        if missing:
            raise DatasetError(f"{where}: missing {', '.join(repr(m) for m in missing)}")
        unknown = sorted(str(name) for name in set(data) - set(FIELDS))
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
            except (json.JSONDecodeError, RecursionError) as error:
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


Splits = dict[str, list[Row]]

# The code fence's language tag of a plain Alpaca row (no `kind` field) says which kind of row it is.
FENCE_KINDS = {"hcl": "terraform", "terraform": "terraform", "tf": "terraform", "yaml": "kubernetes",
               "yml": "kubernetes", "kubernetes": "kubernetes", "k8s": "kubernetes"}
_FIRST_FENCE = re.compile(r"(?:`{3,}|~{3,})[ \t]*([\w+.-]+)")
# A file with many bad lines lists this many, then says how many more.
MAX_LISTED_PROBLEMS = 50


def kind_of_fence(output: str) -> str | None:
    """The kind the first code fence's language tag names, or None.

    >>> kind_of_fence("```hcl"), kind_of_fence("```yaml"), kind_of_fence("no fence")
    ('terraform', 'kubernetes', None)
    """
    match = _FIRST_FENCE.search(output or "")
    return FENCE_KINDS.get(match.group(1).lower()) if match else None


def every_problem(problems: list[str]) -> DatasetError:
    """One error listing every bad line (the first MAX_LISTED_PROBLEMS), so a file is fixed in one pass."""
    if len(problems) == 1:
        return DatasetError(problems[0])
    listed = problems[:MAX_LISTED_PROBLEMS]
    more = f"\n- ... and {len(problems) - len(listed)} more" if len(problems) > len(listed) else ""
    return DatasetError(f"{len(problems)} bad lines:\n" + "\n".join(f"- {p}" for p in listed) + more)


def read_jsonl(path: str | Path) -> list[Row]:
    """Every row of a JSONL file; a bad file is refused with every bad line and its number."""
    path = Path(path)
    rows, problems = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from error
    lines: list[str] = []
    for number, data in _jsonl_records(text, str(path), lines):
        try:
            rows.append(Row.from_dict(data, f"{path}:{number}"))
        except DatasetError as error:
            problems.append(str(error))
    if lines or problems:
        raise every_problem(_by_line(lines + problems))
    return rows


def _by_line(problems: list[str]) -> list[str]:
    """Problems (`name:12: ...`) in the order of their lines."""
    def line(problem: str) -> int:
        match = re.match(r".*?:(\d+):", problem)
        return int(match.group(1)) if match else 0

    return sorted(problems, key=line)


def _jsonl_records(text: str, name: str, problems: list[str] | None = None) -> list[tuple[int, object]]:
    """(line number, parsed object) of every line; a line that is not JSON goes into `problems` when given
    (the caller lists it with the rows' own problems), else every such line is raised at once."""
    given = problems is not None
    records, problems = [], problems if given else []
    # Split on "\n" only: str.splitlines() also breaks at U+2028, U+0085 and other characters that JSON
    # writes unescaped inside strings, which would cut a valid row in two.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(f"{name}:{number}: not valid JSON ({error.msg} at column {error.colno})")
        except RecursionError:
            problems.append(f"{name}:{number}: not valid JSON (nested too deeply)")
    if problems and not given:
        raise every_problem(problems)
    return records


def to_messages(row: Row) -> list[dict]:
    """The whole conversation: system, user, and the row's output as the assistant's answer."""
    return [*chat.messages_for(row.instruction, row.kind, row.input), {"role": "assistant", "content": row.output}]


def to_prompt_completion(row: Row) -> dict:
    """TRL's conversational prompt-completion form: the loss falls on the completion only."""
    messages = to_messages(row)
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(row) for row in rows]


# -- reading files ---------------------------------------------------------------------------------------


def format_of(path: str | Path) -> str:
    """The format a path is read or written as, from its suffix; a folder or a .zip is a `datasets` folder."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if path.is_dir() or suffix in ("zip", ""):
        return "datasets"
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("json", "csv"):
        return suffix
    raise DatasetError(f"{path.name}: unknown format .{suffix}; use .jsonl, .json, .csv or a zipped `datasets` folder")


def read_file(path: str | Path) -> Splits:
    """The rows of a dataset file by split, every row checked, ids filled in and unique.

    A row with no `split` is a training row. A row with no id gets one from the file's name and its line
    (`mydata-0012`), so it can be found again; two rows with the same id are an error naming both lines.
    Nothing is read from a file over MAX_UPLOAD_BYTES.
    """
    path = Path(path)
    kind = format_of(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    size = _size(path)
    if size > MAX_UPLOAD_BYTES:
        raise DatasetError(
            f"{path.name} is {size / 2**20:.1f} MB, over the {MAX_UPLOAD_BYTES // 2**20} MB upload limit: "
            "split it into smaller files"
        )
    unreadable: list[str] = []  # lines that are not JSON, listed with the rows' own problems
    if kind == "datasets":
        records = _datasets_records(path)
    else:
        text = _decode(path.read_bytes(), path.name)
        if kind == "jsonl":
            records = _jsonl_records(text, path.name, unreadable)
        else:
            records = {"json": _json_records, "csv": _csv_records}[kind](text, path.name)
        records = [(f"{path.name}:{number}", data) for number, data in records]
    return _rows_by_split(records, stem_of(path), unreadable)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size


def _decode(data: bytes, name: str) -> str:
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark, which is not part of the first header.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{name}:{line}: not UTF-8 text (byte {error.start} is 0x{data[error.start]:02x}); save the file as UTF-8"
        ) from error


def _json_records(text: str, name: str) -> list[tuple[int, object]]:
    """The elements of a JSON array with the line each starts on, read one by one so an error has a line."""
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"[ \t\n\r]*")

    def skip(pos: int) -> int:
        return whitespace.match(text, pos).end()

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    pos = skip(0)
    if not text.startswith("[", pos):
        what = "nothing" if pos == len(text) else "an object" if text.startswith("{", pos) else "something else"
        raise DatasetError(f"{name}:{line_at(pos)}: expected a JSON array of rows ([{{...}}, ...]), found {what}")
    records = []
    pos = skip(pos + 1)
    if text.startswith("]", pos):
        pos += 1
    else:
        line, line_pos = 1, 0
        while True:
            line += text.count("\n", line_pos, pos)  # counted incrementally: whole-text counts would be quadratic
            line_pos = pos
            try:
                data, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{name}:{error.lineno}: not valid JSON ({error.msg} at column {error.colno})") from error
            except RecursionError as error:
                raise DatasetError(f"{name}:{line}: not valid JSON (nested too deeply)") from error
            records.append((line, data))
            pos = skip(pos)
            if text.startswith(",", pos):
                pos = skip(pos + 1)
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            raise DatasetError(f"{name}:{line_at(pos)}: expected ',' or ']' after the row that starts on line {line}")
    if skip(pos) != len(text):
        raise DatasetError(f"{name}:{line_at(skip(pos))}: text after the closing ']'")
    return records


CSV_COLUMNS = ("id", "split", "kind", "instruction", "input", "output", "intent", "tags")


def _csv_records(text: str, name: str) -> list[tuple[int, object]]:
    """Rows of a CSV with a header line; `intent` is JSON text, `tags` a JSON list or words split by commas."""
    # Long outputs are normal here; the module's default cap (128 KB a cell) would refuse them.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_UPLOAD_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [column.strip() for column in header]
        unknown = sorted(set(header) - set(CSV_COLUMNS))
        if unknown:
            raise DatasetError(f"{name}:1: unknown column(s) {', '.join(unknown)}; columns are {', '.join(CSV_COLUMNS)}")
        # No `kind` column is fine when each output's code fence names the language (a plain Alpaca CSV).
        missing = [column for column in REQUIRED if column not in header and column != "kind"]
        if missing:
            raise DatasetError(f"{name}:1: the header has no {', '.join(repr(m) for m in missing)} column")
        if len(set(header)) != len(header):
            raise DatasetError(f"{name}:1: a column is named twice")
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1  # a quoted cell may span lines: report where the row starts
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise DatasetError(f"{name}:{line}: {len(cells)} cells, but the header has {len(header)} columns")
            data = dict(zip(header, cells))
            tags = data.get("tags", "").strip()
            if tags.startswith("["):
                try:
                    data["tags"] = json.loads(tags)
                except (json.JSONDecodeError, RecursionError) as error:
                    raise DatasetError(f"{name}:{line}: 'tags' is not a valid JSON list: {error}") from error
            elif "tags" in data:
                data["tags"] = [tag.strip() for tag in tags.split(",") if tag.strip()]
            records.append((line, data))
    except csv.Error as error:
        raise DatasetError(f"{name}:{reader.line_num}: not valid CSV ({error})") from error
    return records


def _datasets_records(path: Path) -> list[tuple[str, object]]:
    """Records of a `datasets` folder (`save_to_disk`), or of a .zip holding one."""
    if path.is_dir():
        return _folder_records(path, path.name)
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path.name}: not a zip file; a `datasets` folder is uploaded as a .zip of the folder")
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="inframind-unzip-") as tmp:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise DatasetError(
                f"{path.name} unpacks to {unpacked / 2**20:.0f} MB, over the {MAX_UNPACKED_BYTES // 2**20} MB limit"
            )
        try:
            archive.extractall(tmp)  # zipfile drops absolute paths and '..', so nothing lands outside tmp
        except (zipfile.BadZipFile, OSError) as error:
            raise DatasetError(f"{path.name}: the zip cannot be unpacked ({error})") from error
        markers = sorted(Path(tmp).rglob("dataset_dict.json")) or sorted(Path(tmp).rglob("state.json"))
        if not markers:
            raise DatasetError(
                f"{path.name}: no `datasets` folder inside (one holds dataset_dict.json or state.json, as "
                "`save_to_disk` writes)"
            )
        # The outermost folder: a DatasetDict's splits each hold a state.json of their own.
        folder = min((marker.parent for marker in markers), key=lambda p: len(p.parts))
        return _folder_records(folder, path.name)


def _folder_records(folder: Path, name: str) -> list[tuple[str, object]]:
    import datasets  # slow to import (pyarrow, pandas): only when such a folder is read

    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as error:  # datasets raises FileNotFoundError, ValueError, pyarrow errors...
        raise DatasetError(f"{name}: not a `datasets` folder ({type(error).__name__}: {error})") from error
    parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("train", loaded)]
    records = []
    for split, part in parts:
        for number, data in enumerate(part, start=1):
            data = dict(data)
            if "split" not in data:
                data["split"] = split
            records.append((f"{name}/{split} row {number}", data))
    return records


def stem_of(path: Path) -> str:
    """A file's name as a plain lowercase word, for ids and dataset names: `My Data.csv` -> `my-data`."""
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40]
    return stem or "row"


def _split_name(value: object, where: str) -> str:
    if value in (None, ""):
        return "train"
    if not isinstance(value, str):
        raise DatasetError(f"{where}: 'split' must be a string, not {type(value).__name__}")
    name = SPLIT_ALIASES.get(value.strip().lower(), value.strip().lower())
    if name not in SPLITS:
        raise DatasetError(f"{where}: 'split' must be train or eval, not {value!r}")
    return name


def _rows_by_split(records: list[tuple[str, object]], stem: str, unreadable: list[str] | None = None) -> Splits:
    splits: Splits = {name: [] for name in SPLITS}
    seen: dict[str, str] = {}
    unnamed: list[tuple[str, Row]] = []
    problems: list[str] = list(unreadable or [])
    for where, data in records:
        try:
            if isinstance(data, dict) and "split" in data:
                data = dict(data)
                split = _split_name(data.pop("split"), where)
            else:
                split = "train"
            row = Row.from_dict(data, where)
        except DatasetError as error:
            problems.append(str(error))
            continue
        if row.id:
            if row.id in seen:
                problems.append(f"{where}: id {row.id!r} is already used at {seen[row.id]}; ids must be unique")
                continue
            seen[row.id] = where
        else:
            unnamed.append((where, row))
        splits[split].append(row)
    if problems:
        raise every_problem(_by_line(problems))
    for where, row in unnamed:
        number = re.search(r"(\d+)$", where)
        row.id = free_id(f"{stem}-{int(number.group(1)) if number else 1:04d}", seen)
        seen[row.id] = where
    return splits


def free_id(wanted: str, taken) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`... whichever is not in `taken`.

    >>> free_id("tfa-0001", {"tfa-0001", "tfa-0001-2"})
    'tfa-0001-3'
    """
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


# -- writing files ---------------------------------------------------------------------------------------


def jsonl_text(rows: list[Row], split: str | None = None) -> str:
    """Rows as JSONL, one object a line; with `split`, each line also says which split it is in."""
    lines = []
    for row in rows:
        data = row.to_dict()
        if split:
            data = {"id": data.pop("id"), "split": split, **data}
        lines.append(json.dumps(data, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def write_file(splits: Splits, path: str | Path) -> Path:
    """Write the rows of `splits` to `path` in the format its suffix names (see `format_of`); returns `path`.

    Every row carries its split, so `read_file` gives the same splits back. A `.zip` is a zipped `datasets`
    folder; a path without a suffix becomes the folder itself.
    """
    from studio import workspace

    path = Path(path)
    kind = format_of(path)
    if kind == "jsonl":
        workspace.atomic_write_text(path, "".join(jsonl_text(splits.get(name, []), name) for name in SPLITS))
    elif kind == "json":
        items = [{"id": row.id, "split": name, **row.to_dict()} for name in SPLITS for row in splits.get(name, [])]
        workspace.atomic_write_text(path, json.dumps(items, ensure_ascii=False, indent=1) + "\n")
    elif kind == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for name in SPLITS:
            for row in splits.get(name, []):
                writer.writerow([row.id, name, row.kind, row.instruction, row.input, row.output,
                                 json.dumps(row.intent, ensure_ascii=False), json.dumps(row.tags, ensure_ascii=False)])
        workspace.atomic_write_text(path, buffer.getvalue())
    elif path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="inframind-export-") as tmp:
            folder = _write_datasets_folder(splits, Path(tmp) / path.stem)
            archive = shutil.make_archive(str(Path(tmp) / "archive"), "zip", root_dir=tmp, base_dir=folder.name)
            workspace.atomic_write_bytes(path, Path(archive).read_bytes())
    else:
        _write_datasets_folder(splits, path)
    return path


def _write_datasets_folder(splits: Splits, folder: Path) -> Path:
    import datasets

    # The intent is stored as JSON text: intents differ in shape from row to row, and Arrow would merge them
    # into one struct type, filling every missing key with null.
    features = datasets.Features({
        **{name: datasets.Value("string") for name in ("id", "instruction", "input", "output", "kind", "intent")},
        "tags": datasets.List(datasets.Value("string")),
    })
    parts = {}
    for name in SPLITS:
        rows = splits.get(name, [])
        if not rows:  # datasets 5 saves an empty split as zero shards, then cannot load it back
            continue
        columns = {column: [getattr(row, column) for row in rows] for column in FIELDS}
        columns["intent"] = [json.dumps(row.intent, ensure_ascii=False) for row in rows]
        parts[name] = datasets.Dataset.from_dict(columns, features=features)
    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a progress bar per split on the server's terminal says nothing useful
    try:
        datasets.DatasetDict(parts).save_to_disk(str(folder))
    finally:
        if not quiet:
            datasets.enable_progress_bars()
    return folder


# -- checks, de-duplication and the split -------------------------------------------------------------------


def _normalized(text: str) -> str:
    return " ".join(text.split())


def content_key(row: Row) -> tuple:
    """What makes two rows the same example: kind, request and answer, whitespace runs counted as one space.

    The id, tags and intent do not count: the same request with the same answer twice is a duplicate however
    it is labelled.
    """
    return (row.kind, _normalized(row.instruction), _normalized(row.input), _normalized(row.output))


def shingles(row: Row) -> set[tuple[str, ...]]:
    """The word 3-shingles of a row's instruction, input and output (lowercased words), for near-duplicate checks.

    >>> sorted(shingles(Row("S3 bucket logs", "```hcl\\n```", "terraform")))[:2]
    [('bucket', 'logs', 'hcl'), ('s3', 'bucket', 'logs')]
    """
    words = re.findall(r"\w+", f"{row.instruction} {row.input} {row.output}".lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass
class Deduplicated:
    """The rows kept, in their order, and each dropped row with the id of the row it repeats."""

    kept: list[Row]
    dropped: list[tuple[Row, str]]


def deduplicate(rows: list[Row], existing: list[Row] = ()) -> Deduplicated:
    """`rows` without the ones repeating an earlier row or a row of `existing` (see `content_key`).

    >>> a = Row("Bucket", "```hcl\\n```", "terraform", id="a")
    >>> b = Row("Bucket ", "```hcl\\n```", "terraform", id="b")
    >>> result = deduplicate([a, b])
    >>> [row.id for row in result.kept], [(row.id, same) for row, same in result.dropped]
    (['a'], [('b', 'a')])
    """
    first: dict[tuple, str] = {content_key(row): row.id for row in existing}
    kept, dropped = [], []
    for row in rows:
        key = content_key(row)
        if key in first:
            dropped.append((row, first[key]))
        else:
            first[key] = row.id
            kept.append(row)
    return Deduplicated(kept, dropped)


def mix(base: list[Row], extra: list[Row], ratio: float, seed: int = 0) -> list[Row]:
    """`base` and `extra` together, `extra` making `ratio` of the result, shuffled with `seed`.

    Every base row is kept and extra rows are drawn to match; when `extra` has too few, base rows are drawn
    down instead, so the ratio holds either way. `ratio` 1 is the extra rows alone.

    >>> base = [Row(f"b{i}", "```hcl\\n```", "terraform") for i in range(4)]
    >>> extra = [Row(f"e{i}", "```hcl\\n```", "terraform") for i in range(100)]
    >>> rows = mix(base, extra, 0.75)
    >>> len(rows), sum(r.instruction.startswith("e") for r in rows)
    (16, 12)
    """
    import random

    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be above 0 and at most 1, not {ratio}")
    rng = random.Random(seed)
    if ratio == 1 or not base:
        chosen = list(extra)
    else:
        wanted = round(len(base) * ratio / (1 - ratio))
        if wanted <= len(extra):
            chosen = list(base) + rng.sample(extra, wanted)
        else:
            keep = max(1, round(len(extra) * (1 - ratio) / ratio))
            chosen = rng.sample(base, min(keep, len(base))) + list(extra)
    rng.shuffle(chosen)
    return chosen


def _id_hash(row: Row) -> str:
    return hashlib.sha256(row.id.encode("utf-8")).hexdigest()


def draw_split(rows: list[Row], eval_share: float = EVAL_SHARE) -> Splits:
    """Hold out about `eval_share` of each (kind, topic) group: the rows with the smallest SHA-256 of their id.

    The seed's split was drawn this way, so it is reproduced exactly; a row keeps its side when rows are
    added elsewhere. Each group keeps at least one training row and, when it has two or more, gives at least
    one to eval.

    >>> rows = [Row(f"r{i}", "```hcl\\n```", "terraform", tags=["s3"], id=f"r{i}") for i in range(10)]
    >>> {name: len(part) for name, part in draw_split(rows, 0.2).items()}
    {'train': 8, 'eval': 2}
    """
    if not 0 <= eval_share < 1:
        raise ValueError(f"eval_share must be at least 0 and below 1, not {eval_share}")
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.kind, row.topic)].append(row)
    held_out: set[int] = set()
    for group in groups.values():
        wanted = max(1, round(len(group) * eval_share)) if eval_share > 0 else 0
        wanted = min(wanted, len(group) - 1)
        held_out.update(id(row) for row in sorted(group, key=_id_hash)[:wanted])
    return {
        "train": [row for row in rows if id(row) not in held_out],
        "eval": [row for row in rows if id(row) in held_out],
    }


# -- verdicts ----------------------------------------------------------------------------------------------


_VERDICTS: dict[str, Report] = {}
_VERDICTS_LOCK = threading.Lock()
# About 740 rows in the seed; the cap only matters after many imports, and then the oldest entries go first.
_VERDICTS_MAX = 50_000


def verdict_key(row: Row) -> str:
    """The cache key of a row's verdict: a hash of what the validators read (output, kind, intent)."""
    material = json.dumps([row.output, row.kind, row.intent], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def known_verdict(row: Row) -> Report | None:
    """The verdict on `row` if it was computed already, else None (never runs the validators)."""
    with _VERDICTS_LOCK:
        return _VERDICTS.get(verdict_key(row))


def check_row(row: Row) -> Report:
    """The validators' verdict on `row` (`studio.iac.Report`), computed once per distinct (output, kind, intent)
    in this process; callers read it, never change it.

    A row's verdict takes about 5 ms (most of it python-hcl2); the cache makes a page of the table, a filter
    or a re-save of an unchanged row free.
    """
    key = verdict_key(row)
    with _VERDICTS_LOCK:
        found = _VERDICTS.get(key)
    if found is not None:
        return found
    from studio.iac import validate

    result = validate(row.output, row.kind, row.intent)
    with _VERDICTS_LOCK:
        if len(_VERDICTS) >= _VERDICTS_MAX:
            for old in list(_VERDICTS)[: _VERDICTS_MAX // 10]:
                del _VERDICTS[old]
        _VERDICTS[key] = result
    return result
