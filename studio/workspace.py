"""Where the studio keeps its files, and how it writes them without ever leaving half a file behind.

    >>> from studio import workspace
    >>> workspace.home()                       # INFRAMIND_HOME, default ./workspace
    PosixPath('.../workspace')
    >>> workspace.inside(workspace.runs_dir(), "sft-1")       # a name, never a path out
    PosixPath('.../workspace/runs/sft-1')
    >>> workspace.atomic_write_text(path, "text")               # tmp file + fsync + rename

The workspace layout:

    models/     materialized models (the embedded SmolLM2 as a plain Hugging Face folder)
    datasets/   datasets in use, with their version history
    runs/       one folder per job: job.yaml, metrics.jsonl, train.log, checkpoints/, adapter/
    exports/    merged weights, adapters, GGUF files
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

HOME_ENV = "INFRAMIND_HOME"
# The checkout the studio runs from: its seed data (data/), recipes (recipes/) and the folder jobs start in.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEED_DATA = PROJECT_ROOT / "data"

SPACE_PERSISTENT = Path("/data")


def home() -> Path:
    """The workspace folder, created on first use.

    `$INFRAMIND_HOME` when set; on a Hugging Face Space with persistent storage `/data/inframind`, so runs
    survive a restart; else `./workspace`.
    """
    default = "workspace"
    if os.environ.get("SPACE_ID") and SPACE_PERSISTENT.is_dir() and os.access(SPACE_PERSISTENT, os.W_OK):
        default = str(SPACE_PERSISTENT / "inframind")
    path = Path(os.environ.get(HOME_ENV) or default).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    return _sub("models")


def datasets_dir() -> Path:
    return _sub("datasets")


def runs_dir() -> Path:
    return _sub("runs")


def exports_dir() -> Path:
    return _sub("exports")


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class UnsafeName(ValueError):
    """A user-given name that would leave its folder (`../x`, `/etc`, `a/b`) or is not a plain name."""


def inside(base: Path, name: str) -> Path:
    """`base / name` for a plain name; refuses anything that could point outside `base`.

    >>> inside(Path("/ws/exports"), "my-model")
    PosixPath('/ws/exports/my-model')
    >>> inside(Path("/ws/exports"), "../../etc")
    Traceback (most recent call last):
    UnsafeName: ...
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in {".", ".."}:
        raise UnsafeName(
            f"{name!r} is not a valid name: use letters, digits, '.', '_' and '-' "
            "(at most 128 characters, starting with a letter or digit), no slashes"
        )
    path = (base / name).resolve()
    # resolve() follows symlinks, so a link planted inside base that points out is refused too.
    if path.parent != base.resolve():
        raise UnsafeName(f"{name!r} resolves outside {base}")
    return path


class DiskFull(OSError):
    """Not enough free space to start, resume or checkpoint a job, or to save: says how much and where."""


def min_free_bytes() -> int:
    """Free space a job needs to start, resume or checkpoint: INFRAMIND_MIN_FREE_GB (default 1 GiB)."""
    return int(float(os.environ.get("INFRAMIND_MIN_FREE_GB", "1")) * 2**30)


def check_free_space(what: str, path: Path | None = None, need: int | None = None) -> int:
    """The free bytes where `path` (the workspace) lives; DiskFull when fewer than `need` (min_free_bytes()).

    >>> check_free_space("a checkpoint", need=0) > 0
    True
    """
    path = Path(path) if path is not None else home()
    while not path.exists() and path.parent != path:  # a folder about to be made: its disk is its parent's
        path = path.parent
    need = min_free_bytes() if need is None else need
    free = shutil.disk_usage(path).free
    if free < need:
        raise DiskFull(errno.ENOSPC, f"not enough free space for {what}: {free / 2**30:.2f} GiB free in {path}, "
                       f"{need / 2**30:.2f} GiB needed (INFRAMIND_MIN_FREE_GB). Free some space (old runs, "
                       "checkpoints or exports), then try again")
    return free


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def jsonl_records(text: str) -> list[dict]:
    """The objects of JSONL text that one process appends to while others read: a line being written, or one
    a crash cut short, is skipped rather than an error.

    >>> jsonl_records('{"step": 1}\n{"step": 2}\n{"st')
    [{'step': 1}, {'step': 2}]
    """
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
