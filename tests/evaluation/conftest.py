"""A workspace with one finished run holding the tiny adapter, for the eval job's tests."""

from __future__ import annotations

import os
import shutil
import signal

import pytest


@pytest.fixture
def eval_home(home, monkeypatch, tiny_adapter):
    """A workspace with one finished run, `sft-tiny`, holding the tiny adapter; jobs on one CPU thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("INFRAMIND_GPUS", "none")
    shutil.copytree(tiny_adapter, home / "runs" / "sft-tiny" / "adapter")
    yield home
    from jobs import runner
    from jobs.store import JobStore

    if (home / "jobs.sqlite").exists():  # a job left running by a failed test must not outlive it
        for job in JobStore(home / "jobs.sqlite").list():
            for pid, started in ((job.trainer_pid, job.trainer_started), (job.supervisor_pid, job.supervisor_started)):
                if runner.alive(pid, started):
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
