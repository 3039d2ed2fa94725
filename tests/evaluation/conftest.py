"""A workspace with one finished run holding the tiny adapter, for the eval job's tests."""

from __future__ import annotations

import shutil

import pytest

from tests.factories import kill_jobs


@pytest.fixture
def eval_home(home, monkeypatch, tiny_adapter):
    """A workspace with one finished run, `sft-tiny`, holding the tiny adapter; jobs on one CPU thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("INFRAMIND_GPUS", "none")
    shutil.copytree(tiny_adapter, home / "runs" / "sft-tiny" / "adapter")
    yield home
    kill_jobs(home)
