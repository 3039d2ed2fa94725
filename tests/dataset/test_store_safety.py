"""No lost work (issue 16): stale row edits refused with both shown, history kept through a burst of saves,
named versions never pruned, saves locked across processes, only a dead process's partial folders cleaned."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from studio import dataset_store
from studio.dataset_store import StaleEdit, Version

REPO = Path(__file__).resolve().parents[2]

SAVER = """
import dataclasses, sys
from studio import dataset_store
from studio.dataset import Row
prefix = sys.argv[1]
for number in range(15):
    row = Row(f"request {prefix}-{number}", "```hcl\\nlocals {}\\n```", "terraform", id=f"{prefix}-{number}")
    dataset_store.save_row("shared", row, "train")
"""


def test_two_processes_saving_rows_into_one_dataset_lose_none(home, rows):
    dataset_store.create("shared", {"train": rows[:1], "eval": []})
    env = {**os.environ, "PYTHONPATH": str(REPO), "INFRAMIND_HOME": str(home)}
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, prefix], env=env, cwd=REPO, stderr=subprocess.PIPE,
                               text=True) for prefix in ("a", "b")]
    for saver in savers:
        _, errors = saver.communicate(timeout=180)
        assert saver.returncode == 0, errors
    ids = dataset_store.load("shared").ids()
    assert {f"{p}-{n}" for p in "ab" for n in range(15)} <= ids, f"{31 - len(ids)} of 30 rows lost"
    assert len(ids) == 31


def test_a_stale_row_edit_is_refused_and_both_edits_are_shown(home, rows):
    first = dataset_store.create("mine", {"train": rows, "eval": []})
    row = rows[0]
    # Two browser tabs open the row on the same version; the first saves.
    dataset_store.save_row("mine", dataclasses.replace(row, instruction="theirs: versioned"), "train",
                           replacing=row.id, base_version=first.id)
    with pytest.raises(StaleEdit) as refused:
        dataset_store.save_row("mine", dataclasses.replace(row, instruction="mine: encrypted"), "train",
                               replacing=row.id, base_version=first.id)
    message = str(refused.value)
    assert "theirs: versioned" in message and "mine: encrypted" in message
    assert first.id in message
    assert dataset_store.load("mine").find(row.id)[0].instruction == "theirs: versioned"


def test_an_edit_made_on_an_older_version_saves_when_its_row_did_not_change(home, rows):
    first = dataset_store.create("mine", {"train": rows, "eval": []})
    dataset_store.save_row("mine", dataclasses.replace(rows[1], instruction="another row"), "train",
                           replacing=rows[1].id, base_version=first.id)
    version, saved = dataset_store.save_row("mine", dataclasses.replace(rows[0], instruction="mine"), "train",
                                            replacing=rows[0].id, base_version=first.id)
    snapshot = dataset_store.load("mine")
    assert snapshot.find(rows[0].id)[0].instruction == "mine"
    assert snapshot.find(rows[1].id)[0].instruction == "another row"


def test_a_row_deleted_meanwhile_is_not_silently_added_back(home, rows):
    first = dataset_store.create("mine", {"train": rows, "eval": []})
    dataset_store.delete_row("mine", rows[0].id)
    with pytest.raises(StaleEdit, match="was deleted since you opened it"):
        dataset_store.save_row("mine", rows[0], "train", replacing=rows[0].id, base_version=first.id)


def _version(at: datetime, label: str = "") -> Version:
    return Version(f"{at:%Y%m%d-%H%M%S}-{at.microsecond:06d}-3", at.isoformat(), {"train": 3}, label=label)


def test_a_burst_of_saves_keeps_the_versions_before_it():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    burst = [_version(now - timedelta(seconds=s)) for s in range(300)]  # 300 saves in five minutes
    before = [_version(now - timedelta(hours=h)) for h in (2, 30, 24 * 20)]  # an hour, a day, a month ago
    too_old = _version(now - timedelta(days=400))
    named = _version(now - timedelta(days=800), label="before the cleanup")
    pruned = {v.id for v in dataset_store.to_prune(burst + before + [too_old, named], now)}
    assert pruned == {v.id for v in burst[dataset_store.KEEP_VERSIONS:]} | {too_old.id}, "the history stays"


def test_a_named_version_survives_any_number_of_saves(home, rows, monkeypatch):
    monkeypatch.setattr(dataset_store, "KEEP_VERSIONS", 2)
    first = dataset_store.create("mine", {"train": rows, "eval": []})
    dataset_store.name_version("mine", first.id, "hand-checked")
    for count in range(5):
        dataset_store.save("mine", {"train": rows[: count % 2 + 1], "eval": []}, f"save {count}")
    kept = dataset_store.versions("mine")
    assert first.id in [v.id for v in kept]
    assert next(v for v in kept if v.id == first.id).label == "hand-checked"


def test_only_a_dead_processs_partial_folder_is_cleaned(home, rows):
    dataset_store.create("mine", {"train": rows, "eval": []})
    base = dataset_store.folder("mine") / "versions"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    try:
        live_partial = base / f".20990101-000000-000000-3.{sleeper.pid}.partial"
        dead_partial = base / f".20990101-000000-000001-3.{int(dead.stdout)}.partial"
        for partial in (live_partial, dead_partial):
            partial.mkdir()
        dataset_store.save("mine", {"train": rows[:1], "eval": []})
        assert live_partial.exists(), "another process's save in progress was deleted"
        assert not dead_partial.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_two_browser_tabs_editing_one_row_lose_no_edit(home):
    """The Dataset tab keeps the version a row was loaded from and saves against it (issue 16)."""
    from studio.ui import dataset as tab
    from tests.dataset.test_handlers import editor_values

    tab_a = editor_values(tab.row_fields("seed", "tfc-0001"))
    tab_b = list(tab_a)
    loaded = tab.current_version_id("seed")
    tab_a[3], tab_b[3] = "Tab A's request", "Tab B's request"
    *_, status, new_base = tab.save_row_on_version("seed", "train", loaded, *tab_a)
    assert status.startswith("Saved **tfc-0001**") and new_base != loaded
    *_, status, unchanged = tab.save_row_on_version("seed", "train", loaded, *tab_b)
    assert status.startswith("✗ Not saved: row tfc-0001 was changed by another save")
    assert "Tab A's request" in status and "Tab B's request" in status
    assert dataset_store.load("seed").find("tfc-0001")[0].instruction == "Tab A's request"
    tab_a[3] = "Tab A again"  # the tab that saved saves again from its new base: not stale
    assert tab.save_row_on_version("seed", "train", new_base, *tab_a)[3].startswith("Saved")
