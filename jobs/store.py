"""The job store: one SQLite table (WAL) of jobs and their states, shared by the app, the CLI and the supervisors.

    >>> from jobs.store import JobStore
    >>> store = JobStore()                        # workspace/jobs.sqlite
    >>> store.add("sft-iac-1", "sft", gpus=1)
    Job(name='sft-iac-1', kind='sft', state='queued', ...)
    >>> store.claim(gpu_ids=[])                   # the CPU slot is free: the job is now running on it
    [Job(name='sft-iac-1', ..., state='running', devices='cpu')]
    >>> store.finish("sft-iac-1", "succeeded", exit_code=0)

States: queued -> running -> succeeded | failed | stopped; a stopped or failed job can be queued again (resume).
Several processes write at once (a supervisor ending a job while the app queues another), so every change is one
short transaction, and claiming devices takes the write lock first (BEGIN IMMEDIATE): two schedulers never hand
the same GPU to two jobs.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

from studio import workspace

STATES = ("queued", "running", "succeeded", "failed", "stopped")
CPU = "cpu"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    gpus INTEGER NOT NULL DEFAULT 1,
    devices TEXT NOT NULL DEFAULT '',
    resume INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    queued_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    supervisor_pid INTEGER,
    supervisor_started REAL,
    trainer_pid INTEGER,
    trainer_started REAL,
    exit_code INTEGER,
    stop_requested_at REAL,
    message TEXT NOT NULL DEFAULT '',
    after TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT ''
)
"""
# How long opening the store waits for another process that is setting it up (the connection's busy timeout is 30 s).
SET_UP_WAIT_S = 30.0
# Columns added since the first release: a store written before them gets them on opening.
ADDED_COLUMNS = {"after": "TEXT NOT NULL DEFAULT ''", "owner": "TEXT NOT NULL DEFAULT ''"}


class JobNotFound(KeyError):
    def __str__(self) -> str:
        return f"no job named {self.args[0]!r}: `python -m jobs list` shows the jobs"


class JobStateError(RuntimeError):
    """An action the job's state does not allow (resuming a running job); the message says why."""


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    kind: str
    state: str
    gpus: int
    devices: str
    resume: int
    attempts: int
    created_at: float
    queued_at: float
    started_at: float | None
    ended_at: float | None
    supervisor_pid: int | None
    supervisor_started: float | None
    trainer_pid: int | None
    trainer_started: float | None
    exit_code: int | None
    stop_requested_at: float | None
    message: str
    after: str = ""  # a job that must succeed first (GRPO after the SFT run whose adapter it trains further)
    owner: str = ""  # who submitted it on a studio with roles (studio.access); empty locally

    @property
    def gpu_ids(self) -> list[str]:
        return [] if self.devices in ("", CPU) else self.devices.split(",")


_COLUMNS = [item.name for item in fields(Job)]


def _state_of(db: sqlite3.Connection, name: str) -> str:
    """The state of job `name`, read inside the caller's transaction; JobNotFound when there is none."""
    row = db.execute("SELECT state FROM jobs WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise JobNotFound(name)
    return row["state"]


class JobStore:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else workspace.home() / "jobs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.read_only = False
        deadline = time.monotonic() + SET_UP_WAIT_S
        while True:
            try:
                self._set_up()
                return
            except sqlite3.OperationalError as error:
                # Another process setting up the same new store (two jobs started at once on a fresh workspace)
                # holds its lock for a moment: the busy timeout does not cover switching the journal mode.
                if "locked" in str(error) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if not self.path.is_file() or "locked" in str(error):
                    raise
                # A full disk: SQLite cannot make its WAL files, so the store is read as it was last written (every
                # change refused), and the Jobs tab still shows the jobs until space is freed.
                self.read_only = True
                return

    def _set_up(self) -> None:
        with self._connect() as db:
            # WAL: readers (the Jobs tab's timer) never block the writer, and the writer never blocks them.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, declaration in ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: statements autocommit unless a transaction is begun explicitly.
        if self.read_only:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None)
        else:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _job(row: sqlite3.Row | None) -> Job | None:
        return Job(**{name: row[name] for name in _COLUMNS}) if row is not None else None

    # -- reading ---------------------------------------------------------------------------------------

    def get(self, name: str) -> Job:
        with self._connect() as db:
            job = self._job(db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone())
        if job is None:
            raise JobNotFound(name)
        return job

    def find(self, name: str) -> Job | None:
        try:
            return self.get(name)
        except JobNotFound:
            return None

    def list(self, states: tuple[str, ...] | None = None) -> list[Job]:
        """Jobs newest first (optionally only those in `states`)."""
        query, args = "SELECT * FROM jobs", ()
        if states:
            query += f" WHERE state IN ({','.join('?' * len(states))})"
            args = tuple(states)
        with self._connect() as db:
            return [self._job(row) for row in db.execute(query + " ORDER BY id DESC", args)]

    # -- writing ---------------------------------------------------------------------------------------

    def add(self, name: str, kind: str, gpus: int = 1, state: str = "queued", after: str = "",
            owner: str = "") -> Job:
        """Record a job; with `after`, it waits in the queue until that job succeeded (and fails if it did not).
        `owner`: who submitted it (the signed-in user; empty locally), for the per-owner quota."""
        now = time.time()
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO jobs (name, kind, state, gpus, created_at, queued_at, after, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, kind, state, gpus, now, now, after, owner),
                )
        except sqlite3.IntegrityError as error:
            raise JobStateError(f"a job named {name!r} exists already: pick another run name") from error
        return self.get(name)

    def update(self, name: str, **values) -> Job:
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job column(s): {', '.join(sorted(unknown))}")
        if "state" in values and values["state"] not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {values['state']!r}")
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._connect() as db:
            changed = db.execute(f"UPDATE jobs SET {assignments} WHERE name = ?", (*values.values(), name)).rowcount
        if not changed:
            raise JobNotFound(name)
        return self.get(name)

    def finish(self, name: str, state: str, exit_code: int | None = None, message: str = "") -> Job:
        """Record how a running job ended; a job that already ended keeps its first record."""
        if state not in ("succeeded", "failed", "stopped"):
            raise ValueError(f"a job ends succeeded, failed or stopped, not {state!r}")
        with self._transaction() as db:
            if _state_of(db, name) == "running":
                db.execute(
                    "UPDATE jobs SET state = ?, exit_code = ?, message = ?, ended_at = ?, resume = 0 WHERE name = ?",
                    (state, exit_code, message, time.time(), name),
                )
        return self.get(name)

    def requeue(self, name: str, resume: bool) -> Job:
        """Queue a stopped or failed job again, at the back of the queue."""
        with self._transaction() as db:
            state = _state_of(db, name)
            if state not in ("stopped", "failed"):
                raise JobStateError(f"{name} is {state}: only a stopped or failed job can be resumed")
            db.execute(
                "UPDATE jobs SET state = 'queued', resume = ?, queued_at = ?, started_at = NULL, ended_at = NULL, "
                "exit_code = NULL, stop_requested_at = NULL, supervisor_pid = NULL, supervisor_started = NULL, "
                "trainer_pid = NULL, trainer_started = NULL, devices = '', message = '' WHERE name = ?",
                (int(resume), time.time(), name),
            )
        return self.get(name)

    def request_stop(self, name: str) -> Job:
        """Mark a stop request: a queued job is cancelled at once, a running one is told to stop."""
        now = time.time()
        with self._transaction() as db:
            state = _state_of(db, name)
            if state == "queued":
                db.execute(
                    "UPDATE jobs SET state = 'stopped', ended_at = ?, message = ? WHERE name = ?",
                    (now, "cancelled before it started", name),
                )
            elif state == "running":
                db.execute("UPDATE jobs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE name = ?",
                           (now, name))
            else:
                raise JobStateError(f"{name} is {state}: there is nothing to stop")
        return self.get(name)

    def delete(self, name: str) -> None:
        with self._transaction() as db:
            if _state_of(db, name) == "running":
                raise JobStateError(f"{name} is running: stop it before deleting it")
            db.execute("DELETE FROM jobs WHERE name = ?", (name,))

    def claim(self, gpu_ids: list[str]) -> list[Job]:
        """Move queued jobs to running, first come first served, while devices are free; returns the claimed jobs.

        With GPUs, a job takes `gpus` of them (a job with gpus=0 takes the CPU slot); without GPUs, every job takes
        the single CPU slot. The queue is strict: a job that does not fit yet holds back the jobs behind it, so a
        job asking for several GPUs is not starved by a stream of small ones.
        """
        claimed = []
        with self._transaction() as db:
            running = [self._job(row) for row in db.execute("SELECT * FROM jobs WHERE state = 'running'")]
            busy_gpus = {gpu for job in running for gpu in job.gpu_ids}
            cpu_busy = any(job.devices == CPU for job in running)
            queue = [self._job(row) for row in db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY "
                                                          "queued_at, id")]
            states = {row["name"]: row["state"] for row in db.execute("SELECT name, state FROM jobs")}
            for job in queue:
                waits_for = states.get(job.after) if job.after else None
                if waits_for in ("queued", "running"):
                    break  # strict order: what follows waits too
                if waits_for in ("failed", "stopped"):
                    db.execute("UPDATE jobs SET state = 'failed', ended_at = ?, message = ? WHERE id = ?",
                               (time.time(), f"not started: {job.after!r}, which it runs after, {waits_for}; "
                                "resume that run, then this one", job.id))
                    continue
                wants_cpu = not gpu_ids or job.gpus == 0
                if wants_cpu:
                    if cpu_busy:
                        break
                    devices, cpu_busy = CPU, True
                elif job.gpus > len(gpu_ids):
                    # It can never fit here; failing it keeps it from holding the queue forever.
                    db.execute(
                        "UPDATE jobs SET state = 'failed', ended_at = ?, message = ? WHERE id = ?",
                        (time.time(), f"asks for {job.gpus} GPUs; this machine has {len(gpu_ids)}: edit gpus "
                         "in its job.yaml", job.id),
                    )
                    continue
                else:
                    free = [gpu for gpu in gpu_ids if gpu not in busy_gpus]
                    if len(free) < job.gpus:
                        break
                    chosen = free[: job.gpus]
                    busy_gpus.update(chosen)
                    devices = ",".join(chosen)
                db.execute(
                    "UPDATE jobs SET state = 'running', devices = ?, started_at = ?, attempts = attempts + 1, "
                    "message = '' WHERE id = ?",
                    (devices, time.time(), job.id),
                )
                claimed.append(job.name)
        return [self.get(name) for name in claimed]
