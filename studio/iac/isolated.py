"""Validate untrusted text in a worker process with memory and time limits, so no answer can take the app down.

    >>> from studio.iac import isolated, validate
    >>> with isolated.untrusted():            # what the app's event handlers run under (studio.access)
    ...     report = validate("```yaml\\n" + "{" * 24_000 + "\\n```", "kubernetes")
    >>> report.parses.status, isolated.worker_pids() != []
    ('failed', True)

`validate` itself already returns a verdict for any input (`studio.iac.limits`); this is the second wall, for
what no check foresaw: a parser that crashes in C, loops, or eats memory. Inside `untrusted()`, `validate`
sends its arguments to one of `WORKERS` spawned processes, each limited to `MEMORY_LIMIT_BYTES` of address
space (RLIMIT_AS), and waits at most `TIME_LIMIT_S`. A worker that runs over is killed and replaced, and the
answer gets a failed verdict that says why; the app process never runs the parsers on that text.

Training, evaluation jobs and the CLI call `validate` directly, in their own processes (the reward pool of
`studio.iac.rewards`), where a crash costs one job, not everyone's studio.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import multiprocessing
import os
import queue
import threading
from typing import Any, Iterator

MEMORY_LIMIT_BYTES = int(os.environ.get("INFRAMIND_VALIDATE_MEMORY_MB", "1536")) * 2**20
TIME_LIMIT_S = float(os.environ.get("INFRAMIND_VALIDATE_TIMEOUT_S", "20"))
WORKERS = 2

_UNTRUSTED = contextvars.ContextVar("inframind_untrusted_validation", default=False)


@contextlib.contextmanager
def untrusted() -> Iterator[None]:
    """Within this block (and in threads it starts with its context), `validate` runs in a worker."""
    token = _UNTRUSTED.set(True)
    try:
        yield
    finally:
        _UNTRUSTED.reset(token)


def active() -> bool:
    return _UNTRUSTED.get()


def _serve(connection, memory_limit: int) -> None:
    """A worker's loop: validate what comes, send back the report (or the error as text)."""
    import resource

    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    from studio.iac.validation import validate

    validate('resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n', "terraform")  # load the schema once
    while True:
        try:
            args, kwargs = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send(("report", validate(*args, **kwargs)))
        except BaseException as error:  # MemoryError while sending, or anything validate let through
            try:
                connection.send(("error", f"{type(error).__name__}: {str(error)[:200]}"))
            except BaseException:
                return


class _Worker:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no app threads, no torch
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, MEMORY_LIMIT_BYTES), daemon=True,
                                       name="inframind-validate")
        self.process.start()
        child.close()

    def call(self, args: tuple, kwargs: dict, timeout: float) -> tuple[str, Any]:
        """("report", Report) or ("error", why); ("lost", why) when the worker had to be killed or died."""
        try:
            self.connection.send((args, kwargs))
            if not self.connection.poll(timeout):
                self.kill()
                return "lost", f"checking took longer than {timeout:.0f} s and was stopped"
            return self.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.kill()
            code = self.process.exitcode
            return "lost", f"the checking process ended ({_exit_text(code)})"

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


_idle: queue.LifoQueue = queue.LifoQueue()
_all: list[_Worker] = []
_guard = threading.Lock()


def _take() -> _Worker:
    while True:
        try:
            return _idle.get_nowait()
        except queue.Empty:
            pass
        with _guard:
            _all[:] = [w for w in _all if w.alive()]
            if len(_all) < WORKERS:
                worker = _Worker()
                _all.append(worker)
                return worker
        try:  # every worker is busy: wait for one (or for a dead one's place)
            return _idle.get(timeout=1.0)
        except queue.Empty:
            continue


def validate_in_worker(*args, **kwargs):
    """`validate(*args, **kwargs)` run in a worker; a worker that crashes or runs over gives a failed verdict."""
    from studio.iac.validation import failed_report

    worker = _take()
    kind = kwargs.get("kind", args[1] if len(args) > 1 else None)
    try:
        outcome, value = worker.call(args, kwargs, TIME_LIMIT_S)
    finally:
        if worker.alive():
            _idle.put(worker)
    if outcome == "report":
        return value
    return failed_report(f"the answer could not be checked: {value}", kind)


def worker_pids() -> list[int]:
    """The worker processes alive now (for tests: a hostile answer must not have killed one)."""
    return [w.process.pid for w in _all if w.alive()]


@atexit.register
def shutdown() -> None:
    """Stop every worker (also done at exit)."""
    with _guard:
        for worker in _all:
            worker.kill()
        _all.clear()
    while not _idle.empty():
        _idle.get_nowait()
