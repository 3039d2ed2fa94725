"""The datasets in use: named, in the workspace, every save a new version, older versions kept and restorable.

    >>> import dataclasses
    >>> from studio import dataset_store
    >>> dataset_store.names()                                  # the seed is copied from data/ on first use
    ['seed']
    >>> dataset_store.dataset_path("seed", "train")            # what a training job reads
    PosixPath('.../datasets/seed/versions/...-740/train.jsonl')
    >>> snapshot = dataset_store.load("seed")
    >>> snapshot.counts()
    {'train': 619, 'eval': 121}
    >>> row, split = snapshot.find("tfc-0001")
    >>> edited = dataclasses.replace(row, instruction="Postgres 16 on RDS, db.t4g.micro, 20 GB, encrypted.")
    >>> version, saved = dataset_store.save_row("seed", edited, split, replacing="tfc-0001")
    >>> [v.note for v in dataset_store.versions("seed")][:2]
    ['edited tfc-0001', 'seeded from data/train.jsonl and data/eval.jsonl']
    >>> _ = dataset_store.restore("seed", dataset_store.versions("seed")[1].id)

For the training jobs: `dataset_path(name, split)` is the JSONL file of `split` ("train" or "eval") in the
current version of dataset `name`, readable by `studio.dataset.read_jsonl` (one row a line, no split field).
A version's files never change once written, so a job that started on a version keeps reading the same rows
while the dataset is edited; the path is valid until the version is pruned (the newest KEEP_VERSIONS stay, then
the last of each hour for a week and of each day for a year; a version named with `name_version` always stays).

Every read-modify-write holds the dataset's lock, across threads and processes (`fcntl.flock` on `<name>/.lock`),
so two tabs or two processes saving at once both land. A row save may carry the version it was edited on
(`save_row(..., base_version=...)`): if that row changed since, the save is refused (StaleEdit) with both edits.

On disk, under `studio.workspace.datasets_dir()`:

    <name>/current.json                     {"version": "<id>"}: the version in use, replaced atomically
    <name>/versions/<id>/train.jsonl        the rows of each split
    <name>/versions/<id>/eval.jsonl
    <name>/versions/<id>/version.json       when it was saved, its row counts, what changed, its name if named
    <name>/.lock                            the lock file saves take (fcntl), across processes

A save writes a complete version folder under a hidden name (`.<id>.<pid>.partial`; only a dead process's are
ever cleaned), renames it into place, then points
`current.json` at it (`studio.workspace.atomic_write_text`). Interrupted anywhere, the previous version is
still the one in use, whole. A restore is a save too: it copies an old version into a new one, so the history
only grows and a restore can itself be undone.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

from studio import dataset, workspace
from studio.dataset import SPLITS, DatasetError, Row, Splits

SEED = "seed"
DATA = workspace.SEED_DATA
# At ~1 MB a version for the seed, 100 versions are ~100 MB: history enough to undo a day of edits.
KEEP_VERSIONS = 100
# Beyond the newest KEEP_VERSIONS, the last version of every hour is kept for a week and of every day for a
# year, so a burst of saves never pushes out the history before it; a named version is never pruned.
KEEP_HOURLY_DAYS = 7
KEEP_DAILY_DAYS = 365
CURRENT = "current.json"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Version:
    """One saved state of a dataset: its id (a UTC timestamp, which sorts by time), row counts and a note."""

    id: str
    saved_at: str
    counts: dict
    note: str = ""
    label: str = ""  # a named version (`name_version`): never pruned

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass
class Snapshot:
    """A dataset as one version holds it: the rows of each split, in file order."""

    name: str
    version: Version
    splits: Splits

    def counts(self) -> dict:
        return {split: len(self.splits.get(split, [])) for split in SPLITS}

    def rows(self) -> list[tuple[Row, str]]:
        """Every row with its split, training rows first."""
        return [(row, split) for split in SPLITS for row in self.splits.get(split, [])]

    def find(self, row_id: str) -> tuple[Row, str]:
        for row, split in self.rows():
            if row.id == row_id:
                return row, split
        raise DatasetError(f"{self.name} has no row {row_id!r} (version {self.version.id})")

    def ids(self) -> set[str]:
        return {row.id for row, _ in self.rows()}

    def tags(self) -> list[str]:
        """Every tag in use, topics (first tags) first, each group sorted."""
        topics = {row.topic for row, _ in self.rows() if row.topic}
        others = {tag for row, _ in self.rows() for tag in row.tags} - topics
        return sorted(topics) + sorted(others)

    def search(self, text: str = "", kind: str = "", tag: str = "", verdict: str = "",
               split: str = "") -> list[tuple[Row, str]]:
        """The rows matching every filter given; an empty filter (or "all") matches everything.

        `text`: each word must occur in the id, instruction, input or output (any case). `verdict`: "pass" or
        "fail", which runs the validators on rows not checked yet.
        """
        words = (text or "").lower().split()
        wanted = {name: value for name, value in
                  (("kind", kind), ("tag", tag), ("verdict", verdict), ("split", split)) if value and value != "all"}
        found = []
        for row, row_split in self.rows():
            if "split" in wanted and row_split != wanted["split"]:
                continue
            if "kind" in wanted and row.kind != wanted["kind"]:
                continue
            if "tag" in wanted and wanted["tag"] not in row.tags:
                continue
            if words:
                haystack = f"{row.id}\n{row.instruction}\n{row.input}\n{row.output}".lower()
                if not all(word in haystack for word in words):
                    continue
            if "verdict" in wanted and ("pass" if dataset.check_row(row).ok else "fail") != wanted["verdict"]:
                continue
            found.append((row, row_split))
        return found


class StaleEdit(DatasetError):
    """A row save made on an older version than the row's current one: refused, with both shown."""


class _DatasetLock:
    """One dataset's lock, across threads (reentrant) and across processes (`fcntl.flock` on `<name>/.lock`).

    Two browser tabs, or the app and a script, saving rows at once both land: each read-modify-write of a
    dataset runs alone. The kernel releases the file lock when a process dies, so a crash never leaves it held.
    """

    def __init__(self, path: Path):
        self.path = path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.handle = None

    def __enter__(self):
        self.thread_lock.acquire()
        try:
            if self.depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = open(self.path, "a+")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                except BaseException:
                    handle.close()
                    raise
                self.handle = handle
            self.depth += 1
        except BaseException:
            self.thread_lock.release()
            raise
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0 and self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
        self.thread_lock.release()


_LOCKS: dict[str, _DatasetLock] = {}
_LOCKS_GUARD = threading.Lock()
_LOADED: dict[tuple[str, str, str], Snapshot] = {}
_LOADED_LOCK = threading.Lock()


def _lock(name: str) -> _DatasetLock:
    # Reentrant: a first save_row("seed") holds the lock when load() seeds the dataset under it.
    path = folder(name) / LOCK_FILE
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), _DatasetLock(path))


def folder(name: str) -> Path:
    """The folder of dataset `name`; refuses names that are not plain (`../x`, `a/b`)."""
    return workspace.inside(workspace.datasets_dir(), name)


def names() -> list[str]:
    """The datasets in the workspace, the seed first; the seed is created from data/ if it is missing."""
    ensure_seed()
    found = sorted(p.name for p in workspace.datasets_dir().iterdir() if (p / CURRENT).is_file())
    return sorted(found, key=lambda name: name != SEED)


def exists(name: str) -> bool:
    return (folder(name) / CURRENT).is_file()


def ensure_seed() -> None:
    """Create the `seed` dataset from data/train.jsonl and data/eval.jsonl, keeping their split, if absent."""
    if exists(SEED):
        return
    splits = {"train": dataset.read_jsonl(DATA / "train.jsonl"), "eval": dataset.read_jsonl(DATA / "eval.jsonl")}
    with _lock(SEED):
        if not exists(SEED):
            _write_version(SEED, splits, "seeded from data/train.jsonl and data/eval.jsonl")


def current_version(name: str) -> Version:
    if name == SEED:
        ensure_seed()
    pointer = folder(name) / CURRENT
    try:
        version_id = json.loads(pointer.read_text(encoding="utf-8"))["version"]
    except FileNotFoundError:
        raise DatasetError(f"there is no dataset named {name!r}; the datasets are {', '.join(names())}") from None
    return _read_version(name, version_id)


def dataset_path(name: str, split: str) -> Path:
    """The JSONL file of `split` in the current version of dataset `name`: what a training job reads."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return folder(name) / "versions" / current_version(name).id / f"{split}.jsonl"


def label(name: str, split: str) -> str:
    """How a dataset's split is named in a picker: `seed · train · 619 rows · version 20261203-...-740`."""
    version = current_version(name)
    return f"{name} · {split} · {version.counts.get(split, 0)} rows · version {version.id}"


def describe_file(path: str | Path) -> dict | None:
    """Which dataset, version and split a JSONL file is, when it is a version's file in this workspace:
    {"name", "version", "split", "rows", "note"}; None for any other file.

    >>> describe_file(dataset_path("seed", "train"))["split"]
    'train'
    """
    try:
        relative = Path(path).expanduser().resolve().relative_to(workspace.datasets_dir().resolve())
    except (ValueError, OSError):
        return None
    parts = relative.parts
    if len(parts) != 4 or parts[1] != "versions" or not parts[3].endswith(".jsonl"):
        return None
    name, version_id, split = parts[0], parts[2], parts[3][: -len(".jsonl")]
    try:
        version = _read_version(name, version_id)
    except (OSError, ValueError, KeyError):
        return None
    return {"name": name, "version": version_id, "split": split, "rows": version.counts.get(split, 0),
            "note": version.note}


OPENED = "opened.json"


def remember_opened(name: str) -> None:
    """Note `name` as the dataset open in the Dataset tab: the Train and Evaluate tabs default to it."""
    if exists(name):
        workspace.atomic_write_text(workspace.datasets_dir() / OPENED, json.dumps({"name": name}))


def opened() -> str:
    """The dataset last opened in the Dataset tab (the seed until another is opened, or when it is gone)."""
    try:
        name = json.loads((workspace.datasets_dir() / OPENED).read_text(encoding="utf-8"))["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return SEED
    return name if isinstance(name, str) and name != OPENED and exists(name) else SEED


def versions(name: str) -> list[Version]:
    """Every kept version of `name`, the newest first."""
    base = folder(name) / "versions"
    found = []
    for path in sorted(base.iterdir(), reverse=True) if base.is_dir() else []:
        if path.name.startswith(".") or not (path / "version.json").is_file():
            continue  # a hidden folder is a save that was interrupted: never a version
        found.append(_read_version(name, path.name))
    return found


def _read_version(name: str, version_id: str) -> Version:
    path = folder(name) / "versions" / version_id / "version.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return Version(id=version_id, saved_at=data["saved_at"], counts=data["counts"], note=data.get("note", ""),
                   label=data.get("label", ""))


def load(name: str, version_id: str | None = None) -> Snapshot:
    """The rows of dataset `name` in its current version (or `version_id`); read once, then kept in memory.

    Treat the snapshot as read-only: it is shared. Change rows through `save`, `save_row` and the others.
    """
    version = current_version(name) if version_id is None else _read_version(name, version_id)
    key = (str(workspace.datasets_dir()), name, version.id)
    with _LOADED_LOCK:
        snapshot = _LOADED.get(key)
    if snapshot is None:
        base = folder(name) / "versions" / version.id
        splits = {split: dataset.read_jsonl(base / f"{split}.jsonl") for split in SPLITS}
        snapshot = Snapshot(name, version, splits)
        with _LOADED_LOCK:
            if len(_LOADED) > 16:  # a handful of versions in memory is plenty; they are cheap to read again
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[key] = snapshot
    return snapshot


def _new_version_id(base: Path, total: int) -> str:
    stamp = datetime.now(timezone.utc)
    version_id = f"{stamp:%Y%m%d-%H%M%S}-{stamp.microsecond:06d}-{total}"
    while (base / version_id).exists():  # two saves in one microsecond: wait for the clock to move
        time.sleep(0.000_01)
        stamp = datetime.now(timezone.utc)
        version_id = f"{stamp:%Y%m%d-%H%M%S}-{stamp.microsecond:06d}-{total}"
    return version_id


def _write_version(name: str, splits: Splits, note: str) -> Version:
    """Write `splits` as a new version and make it current. The caller holds the dataset's lock."""
    splits = {split: list(splits.get(split, [])) for split in SPLITS}
    _check_ids(splits)
    base = folder(name) / "versions"
    base.mkdir(parents=True, exist_ok=True)
    _clean_debris(base)
    counts = {split: len(rows) for split, rows in splits.items()}
    version_id = _new_version_id(base, sum(counts.values()))
    version = Version(version_id, datetime.now(timezone.utc).isoformat(timespec="seconds"), counts, note)
    partial, final = base / f".{version_id}.{os.getpid()}.partial", base / version_id
    partial.mkdir()
    try:
        for split, rows in splits.items():
            workspace.atomic_write_text(partial / f"{split}.jsonl", dataset.jsonl_text(rows))
        meta = {k: v for k, v in asdict(version).items() if k != "id"}
        workspace.atomic_write_text(partial / "version.json", json.dumps(meta, indent=1) + "\n")
        os.replace(partial, final)
        workspace.atomic_write_text(folder(name) / CURRENT, json.dumps({"version": version_id}) + "\n")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        # Renamed but never made current: not a version anyone saw, so it leaves no trace in the history.
        # (A power cut at this very point leaves it whole and listed, which is harmless: it is never current.)
        shutil.rmtree(final, ignore_errors=True)
        raise
    _prune(name, keep=version_id)
    return version


def _check_ids(splits: Splits) -> None:
    seen = set()
    for split in SPLITS:
        for row in splits[split]:
            if not row.id:
                raise DatasetError(f"a {split} row has no id: {row.instruction[:60]!r}")
            if row.id in seen:
                raise DatasetError(f"id {row.id!r} is used twice; ids must be unique in a dataset")
            seen.add(row.id)


def _clean_debris(base: Path) -> None:
    """Remove the partial folders of saves whose process died (`.<id>.<pid>.partial`); a live one's stay."""
    for debris in base.glob(".*.partial"):
        parts = debris.name.split(".")
        pid = int(parts[-2]) if len(parts) >= 4 and parts[-2].isdigit() else None
        if pid is not None and psutil.pid_exists(pid):
            continue
        shutil.rmtree(debris, ignore_errors=True)


def _saved_time(version: Version) -> datetime:
    try:
        return datetime.strptime(version.id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc)


def to_prune(kept: list[Version], now: datetime | None = None) -> list[Version]:
    """The versions (of `kept`, newest first) that pruning removes: not among the newest KEEP_VERSIONS, not
    the last of their hour (within KEEP_HOURLY_DAYS) or of their day (within KEEP_DAILY_DAYS), not named."""
    now = now or datetime.now(timezone.utc)
    keep = {version.id for version in kept[:KEEP_VERSIONS]} | {version.id for version in kept if version.label}
    buckets = set()
    for version in kept:
        saved = _saved_time(version)
        age_days = (now - saved).total_seconds() / 86400
        if age_days < KEEP_HOURLY_DAYS:
            bucket = saved.strftime("%Y%m%d%H")
        elif age_days < KEEP_DAILY_DAYS:
            bucket = saved.strftime("%Y%m%d")
        else:
            continue
        if bucket not in buckets:  # newest first: the first seen is the last saved in that hour or day
            buckets.add(bucket)
            keep.add(version.id)
    return [version for version in kept if version.id not in keep]


def _prune(name: str, keep: str) -> None:
    for old in to_prune(versions(name)):
        if old.id != keep:
            shutil.rmtree(folder(name) / "versions" / old.id, ignore_errors=True)


def name_version(name: str, version_id: str, label: str) -> Version:
    """Give version `version_id` of dataset `name` a label ("before the cleanup"): a named version is never
    pruned. An empty label removes the name (the version is then pruned like any other)."""
    with _lock(name):
        version = _read_version(name, version_id)
        path = folder(name) / "versions" / version_id / "version.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["label"] = (label or "").strip()[:100]
        workspace.atomic_write_text(path, json.dumps(data, indent=1) + "\n")
        return dataclasses.replace(version, label=data["label"])


def save(name: str, splits: Splits, note: str = "saved") -> Version:
    """Make `splits` the new current version of `name` (created if new); returns the version."""
    with _lock(name):
        return _write_version(name, splits, note)


def create(name: str, splits: Splits, note: str = "imported") -> Version:
    """A new dataset `name`; refuses a name already in use, so an import never overwrites a dataset."""
    with _lock(name):
        if exists(name):
            raise DatasetError(f"a dataset named {name!r} already exists: pick another name, or append to it")
        return _write_version(name, splits, note)


def restore(name: str, version_id: str) -> Version:
    """Make the rows of an older version current again, as a new version (the history is kept whole)."""
    with _lock(name):
        old = load(name, version_id)
        return _write_version(name, old.splits, f"restored {version_id}")


def save_row(name: str, row: Row, split: str, replacing: str | None = None,
             base_version: str | None = None) -> tuple[Version, Row]:
    """Save a copy of `row` into `split`: in place of row `replacing` (it may move split), or as a new row.

    The row is checked as a file's row would be (`Row.from_dict`). A new row, or one whose id is empty or
    taken by another row, gets a free id (see `dataset.free_id`). Returns the version and the row as saved.
    `base_version`: the version the edit was made on (the editor keeps it); when row `replacing` has changed
    since, the save is refused with StaleEdit showing both, instead of silently overwriting the other edit.
    """
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    row = _copy(row)
    with _lock(name):
        snapshot = load(name)
        if replacing is not None and base_version and base_version != snapshot.version.id:
            _refuse_stale(name, replacing, split, row, base_version, snapshot)
        splits = {part: list(rows) for part, rows in snapshot.splits.items()}
        others = snapshot.ids() - {replacing}
        row.id = dataset.free_id(row.id or next_id(snapshot.ids(), row.kind), others)
        if replacing is None:
            splits[split].append(row)
            note = f"added {row.id}"
        else:
            old, old_split = snapshot.find(replacing)
            position = snapshot.splits[old_split].index(old)
            if old_split == split:
                splits[split][position] = row
            else:
                del splits[old_split][position]
                splits[split].append(row)
            note = f"edited {replacing}" if row.id == replacing else f"edited {replacing} (now {row.id})"
            if old_split != split:
                note += f", moved to {split}"
        return _write_version(name, splits, note), row


def _refuse_stale(name: str, row_id: str, split: str, mine: Row, base_version: str, snapshot: Snapshot) -> None:
    """StaleEdit when row `row_id` differs between `base_version` and the current version; else nothing."""
    try:
        before = load(name, base_version).find(row_id)
    except (DatasetError, OSError, KeyError, ValueError):
        before = None  # the version edited is gone (pruned): compare with nothing, so any row now is a change
    try:
        now = snapshot.find(row_id)
    except DatasetError:
        raise StaleEdit(f"row {row_id} was deleted since you opened it (version {base_version}; now "
                        f"{snapshot.version.id}). Nothing was saved; your edit, to add it back as a new row:\n"
                        f"{_describe(mine, split)}") from None
    if before == now:
        return  # other rows changed, this one did not: the save goes ahead
    theirs, their_split = now
    raise StaleEdit(f"row {row_id} was changed by another save since you opened it (you edited version "
                    f"{base_version}; it is now {snapshot.version.id}: {snapshot.version.note}). Nothing was saved. "
                    f"Theirs (saved):\n{_describe(theirs, their_split)}\nYours (not saved):\n{_describe(mine, split)}"
                    "\nReload the row, apply your change to theirs, and save again.")


def _describe(row: Row, split: str) -> str:
    fields = [("split", split), ("kind", row.kind), ("tags", ", ".join(row.tags)), ("instruction", row.instruction),
              ("input", row.input), ("output", row.output)]
    return "\n".join(f"  {key}: {value[:300]!r}" for key, value in fields if value)


def _copy(row: Row) -> Row:
    """A checked deep copy: snapshots are shared, so a row saved must never be an object a caller still holds."""
    return Row.from_dict(json.loads(json.dumps(row.to_dict())), f"row {row.id or '(new)'}")


def delete_row(name: str, row_id: str) -> Version:
    with _lock(name):
        snapshot = load(name)
        row, split = snapshot.find(row_id)
        splits = {part: [r for r in rows if r is not row] for part, rows in snapshot.splits.items()}
        return _write_version(name, splits, f"deleted {row_id}")


def duplicate_row(name: str, row_id: str) -> tuple[Version, Row]:
    """A copy of row `row_id` right after it in the same split, under a new id; returns it too."""
    with _lock(name):
        snapshot = load(name)
        row, split = snapshot.find(row_id)
        copy = _copy(row)
        copy.id = dataset.free_id(f"{row.id}-copy", snapshot.ids())
        splits = {part: list(rows) for part, rows in snapshot.splits.items()}
        splits[split].insert(splits[split].index(row) + 1, copy)
        return _write_version(name, splits, f"duplicated {row_id} as {copy.id}"), copy


def append(name: str, splits: Splits, source: str = "an import") -> tuple[Version | None, dataset.Deduplicated]:
    """Add the rows of `splits` to dataset `name`, dropping exact duplicates of its rows or of each other.

    An imported id already in use gets a free one. Returns the new version (None when every row was a
    duplicate and nothing changed) and what was dropped.
    """
    with _lock(name):
        snapshot = load(name)
        merged = {part: list(rows) for part, rows in snapshot.splits.items()}
        incoming = [(row, split) for split in SPLITS for row in splits.get(split, [])]
        kept = dataset.deduplicate([row for row, _ in incoming], existing=[row for row, _ in snapshot.rows()])
        kept_ids = {id(row) for row in kept.kept}
        taken = snapshot.ids()
        added = 0
        for row, split in incoming:
            if id(row) not in kept_ids:
                continue
            row = _copy(row)
            row.id = dataset.free_id(row.id or next_id(taken, row.kind), taken)
            taken.add(row.id)
            merged[split].append(row)
            added += 1
        if not added:
            return None, kept
        return _write_version(name, merged, f"appended {added} rows from {source}"), kept


def next_id(taken, kind: str) -> str:
    """A fresh id for a row written in the studio: `new-tf-0001`, `new-k8s-0001`, the next number free."""
    prefix = "new-tf" if kind == "terraform" else "new-k8s"
    number = 1
    while f"{prefix}-{number:04d}" in taken:
        number += 1
    return f"{prefix}-{number:04d}"
