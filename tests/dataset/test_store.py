"""The datasets in use: seeded with the held-out split kept, every change a version, saves that cannot tear."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from studio import dataset, dataset_store, workspace
from studio.dataset import DatasetError, Row
from tests.dataset.conftest import DATA


def current_files(name: str) -> dict[str, bytes]:
    """Every byte of the dataset's current version, and the pointer to it."""
    files = {split: dataset_store.dataset_path(name, split).read_bytes() for split in dataset.SPLITS}
    files["current.json"] = (dataset_store.folder(name) / "current.json").read_bytes()
    return files


def test_the_seed_is_data_with_its_split_kept(home):
    assert dataset_store.names() == ["seed"]
    for split in ("train", "eval"):
        path = dataset_store.dataset_path("seed", split)
        assert path.is_relative_to(workspace.datasets_dir())
        assert dataset.read_jsonl(path) == dataset.read_jsonl(DATA / f"{split}.jsonl")
    version = dataset_store.current_version("seed")
    assert version.counts == {"train": 619, "eval": 121}
    assert version.id.endswith("-740")  # the row count is in the folder's name


def test_dataset_path_asks_for_a_real_split_and_name(home):
    with pytest.raises(ValueError, match="split must be one of train, eval"):
        dataset_store.dataset_path("seed", "test")
    with pytest.raises(DatasetError, match="no dataset named 'mine'"):
        dataset_store.dataset_path("mine", "train")
    with pytest.raises(workspace.UnsafeName):
        dataset_store.dataset_path("../seed", "train")


def test_an_edit_is_a_new_version_and_the_old_one_stays(home):
    before = dataset_store.dataset_path("seed", "train")
    old_bytes = before.read_bytes()
    row, split = dataset_store.load("seed").find("tfc-0001")
    edited = dataclasses.replace(row, instruction="Postgres 16 on RDS, small and encrypted.")
    version, saved = dataset_store.save_row("seed", edited, split, replacing="tfc-0001")
    assert saved.id == "tfc-0001" and version.note == "edited tfc-0001"
    assert dataset_store.load("seed").find("tfc-0001")[0].instruction == edited.instruction
    assert dataset_store.dataset_path("seed", "train") != before
    assert before.read_bytes() == old_bytes, "a version's files never change once written"
    assert row.instruction != edited.instruction, "the shared snapshot was not touched"
    # order and neighbours are kept
    ids = [r.id for r in dataset_store.load("seed").splits["train"]]
    assert ids == [r.id for r in dataset.read_jsonl(DATA / "train.jsonl")]


def test_moving_a_row_to_eval_and_restoring(home):
    first = dataset_store.current_version("seed")
    row, _ = dataset_store.load("seed").find("tfc-0001")
    version, _ = dataset_store.save_row("seed", row, "eval", replacing="tfc-0001")
    assert version.counts == {"train": 618, "eval": 122}
    assert "moved to eval" in version.note
    restored = dataset_store.restore("seed", first.id)
    assert restored.counts == {"train": 619, "eval": 121}
    assert dataset_store.load("seed").splits == dataset_store.load("seed", first.id).splits
    assert [v.note for v in dataset_store.versions("seed")][:3] == [
        f"restored {first.id}", version.note, first.note]


def test_add_duplicate_and_delete_rows(home, rows):
    version, added = dataset_store.save_row("seed", dataclasses.replace(rows[0], id=""), "train")
    assert added.id == "new-tf-0001" and version.counts["train"] == 620
    _, copy = dataset_store.duplicate_row("seed", "tfc-0002")
    train = [r.id for r in dataset_store.load("seed").splits["train"]]
    assert copy.id == "tfc-0002-copy" and train[train.index("tfc-0002") + 1] == "tfc-0002-copy"
    dataset_store.delete_row("seed", "tfc-0002-copy")
    assert "tfc-0002-copy" not in dataset_store.load("seed").ids()
    with pytest.raises(DatasetError, match="has no row 'nope'"):
        dataset_store.delete_row("seed", "nope")


def test_an_invalid_row_is_refused_and_nothing_is_saved(home, rows):
    before = current_files("seed")
    with pytest.raises(DatasetError, match="'kind' must be one of"):
        dataset_store.save_row("seed", dataclasses.replace(rows[0], kind="ansible"), "train")
    with pytest.raises(DatasetError, match="missing 'output'"):
        dataset_store.save_row("seed", dataclasses.replace(rows[0], output=""), "train")
    assert current_files("seed") == before


def test_create_never_overwrites_and_append_drops_duplicates(home, rows, seed_splits):
    dataset_store.create("mine", {"train": rows[:2], "eval": []})
    with pytest.raises(DatasetError, match="'mine' already exists"):
        dataset_store.create("mine", {"train": rows, "eval": []})
    again = dataclasses.replace(rows[0], id="other-id", instruction=rows[0].instruction + "  ")  # same example
    clash = dataclasses.replace(seed_splits["train"][5], id="t-1")  # an id in use, a new example
    version, result = dataset_store.append("mine", {"train": [again, clash], "eval": [rows[2]]}, "more.jsonl")
    assert [row.id for row, _ in result.dropped] == ["other-id"]
    assert [row.id for row in dataset_store.load("mine").splits["train"]] == ["t-1", "t-2", "t-1-2"]
    assert [row.id for row in dataset_store.load("mine").splits["eval"]] == ["k-1"]
    assert version.note == "appended 2 rows from more.jsonl"
    assert dataset_store.append("mine", {"train": rows, "eval": []})[0] is None, "nothing new: no version"
    assert dataset_store.names() == ["seed", "mine"]


def test_a_save_interrupted_midway_leaves_the_previous_version_intact(home, rows, monkeypatch):
    dataset_store.create("mine", {"train": rows[:2], "eval": rows[2:]})
    before = current_files("mine")
    versions = dataset_store.versions("mine")
    real_write = workspace.atomic_write_text
    calls = []

    def crash_on_second_file(path, text):
        calls.append(path)
        if len(calls) == 2:  # train.jsonl is written, eval.jsonl is not
            raise KeyboardInterrupt("power cut")
        real_write(path, text)

    monkeypatch.setattr(workspace, "atomic_write_text", crash_on_second_file)
    with pytest.raises(KeyboardInterrupt):
        dataset_store.save("mine", {"train": rows[:1], "eval": []}, "half a save")
    monkeypatch.setattr(workspace, "atomic_write_text", real_write)

    assert current_files("mine") == before
    assert dataset_store.versions("mine") == versions
    assert dataset_store.load("mine").splits == {"train": rows[:2], "eval": rows[2:]}
    assert not list((dataset_store.folder("mine") / "versions").glob(".*")), "the half-written folder is removed"


@pytest.mark.parametrize("step", ["version folder", "pointer"])
def test_a_crash_at_the_renames_leaves_the_previous_version_current(home, rows, monkeypatch, step):
    dataset_store.create("mine", {"train": rows, "eval": []})
    before = current_files("mine")
    real_replace = dataset_store.os.replace

    def crash(source, target):
        is_pointer = str(target).endswith("current.json")
        if (step == "pointer") == is_pointer:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(dataset_store.os, "replace", crash)  # the same `os` that workspace uses
    with pytest.raises(OSError, match="disk full"):
        dataset_store.save("mine", {"train": rows[:1], "eval": []})
    monkeypatch.setattr(dataset_store.os, "replace", real_replace)  # not undo(): that would drop `home` too
    assert current_files("mine") == before
    assert len(dataset_store.versions("mine")) == 1, "the save that failed left no version behind"
    # the next save works, whatever a crash left behind
    dataset_store.save("mine", {"train": rows[:1], "eval": []})
    assert dataset_store.load("mine").counts() == {"train": 1, "eval": 0}


def test_debris_of_a_killed_save_is_never_a_version(home, rows):
    dataset_store.create("mine", {"train": rows, "eval": []})
    debris = dataset_store.folder("mine") / "versions" / ".20990101-000000-000000-3.partial"
    debris.mkdir()
    (debris / "train.jsonl").write_text("{half a line")
    assert len(dataset_store.versions("mine")) == 1
    dataset_store.save("mine", {"train": rows[:1], "eval": []})
    assert not debris.exists()


def test_old_versions_are_pruned_but_never_the_current(home, rows, monkeypatch):
    monkeypatch.setattr(dataset_store, "KEEP_VERSIONS", 3)
    dataset_store.create("mine", {"train": rows[:1], "eval": []})
    for count in range(2, 6):
        dataset_store.save("mine", {"train": rows[: count % 3 + 1], "eval": []}, f"save {count}")
    kept = dataset_store.versions("mine")
    assert [v.note for v in kept] == ["save 5", "save 4", "save 3"]
    assert dataset_store.current_version("mine") == kept[0]


def test_concurrent_saves_of_rows_all_land(home, rows):
    dataset_store.create("mine", {"train": [], "eval": []})
    errors = []

    def add(number):
        try:
            row = dataclasses.replace(rows[number % 3], id=f"row-{number}", instruction=f"request {number}")
            dataset_store.save_row("mine", row, "train")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(dataset_store.load("mine").ids()) == sorted(f"row-{n}" for n in range(8))
    assert len(dataset_store.versions("mine")) == 9


def test_search_filters(home):
    snapshot = dataset_store.load("seed")
    assert len(snapshot.search()) == 740
    assert {split for _, split in snapshot.search(split="eval")} == {"eval"}
    assert len(snapshot.search(kind="kubernetes")) == 292
    found = snapshot.search("versioning S3", kind="terraform")
    assert found and all("versioning" in (r.instruction + r.input + r.output).lower() for r, _ in found)
    assert all("s3" in row.tags for row, _ in snapshot.search(tag="s3"))
    assert snapshot.tags()[0] == "alb", "topics come first, sorted"


def test_verdict_filter_runs_the_validators_once_per_row(home, monkeypatch, seed_splits):
    import studio.iac

    calls = []
    real = studio.iac.validate

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(studio.iac, "validate", counting)
    monkeypatch.setattr(dataset, "_VERDICTS", {})
    dataset_store.create("mine", {"train": seed_splits["train"][:20], "eval": seed_splits["eval"][:10]})
    row, split = dataset_store.load("mine").find(seed_splits["eval"][3].id)
    broken = dataclasses.replace(row, output=row.output.replace("resource", "resorce", 1) if row.kind == "terraform"
                                 else row.output.replace("kind:", "knd:", 1))
    dataset_store.save_row("mine", broken, split, replacing=row.id)
    snapshot = dataset_store.load("mine")
    failing = snapshot.search(verdict="fail")
    assert [r.id for r, _ in failing] == [row.id]
    assert not dataset.check_row(failing[0][0]).ok
    assert len(calls) == 30
    assert len(snapshot.search(verdict="pass")) == 29
    assert len(calls) == 30, "verdicts are cached by content"


def test_version_json_records_counts_and_note(home):
    version = dataset_store.current_version("seed")
    meta = json.loads((dataset_store.folder("seed") / "versions" / version.id / "version.json").read_text())
    assert meta["counts"] == {"train": 619, "eval": 121}
    assert meta["note"].startswith("seeded from data/")


def test_rows_are_checked_for_unique_ids_before_anything_is_written(home, rows):
    with pytest.raises(DatasetError, match="id 't-1' is used twice"):
        dataset_store.create("mine", {"train": rows, "eval": [rows[0]]})
    assert not dataset_store.exists("mine")
    with pytest.raises(DatasetError, match="has no id"):
        dataset_store.create("mine", {"train": [Row("x", "y", "terraform")], "eval": []})
