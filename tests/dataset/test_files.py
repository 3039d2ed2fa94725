"""Reading and writing dataset files: every format round-trips, and every bad input names its line or limit."""

from __future__ import annotations

import json
import zipfile

import pytest

from studio import dataset
from studio.dataset import DatasetError, Row

FORMATS = ["rows.jsonl", "rows.json", "rows.csv", "rows.zip", "rows_folder"]


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_round_trips_both_splits(tmp_path, rows, name):
    splits = {"train": rows[:2], "eval": rows[2:]}
    path = dataset.write_file(splits, tmp_path / name)
    assert dataset.read_file(path) == splits


@pytest.mark.parametrize("name", ["seed.jsonl", "seed.csv", "seed.zip"])
def test_the_seed_round_trips(tmp_path, seed_splits, name):
    path = dataset.write_file(seed_splits, tmp_path / name)
    assert dataset.read_file(path) == seed_splits


def test_a_store_file_is_what_the_jobs_read(tmp_path, rows):
    """`jsonl_text` without a split is plain rows, as `read_jsonl` (the training jobs' reader) wants them."""
    path = tmp_path / "train.jsonl"
    path.write_text(dataset.jsonl_text(rows), encoding="utf-8")
    assert dataset.read_jsonl(path) == rows


def test_rows_without_split_or_id_are_training_rows_named_after_the_file(tmp_path):
    path = tmp_path / "My Rows.jsonl"
    lines = [
        {"instruction": "A bucket", "output": "```hcl\n```", "kind": "terraform"},
        {"id": "my-rows-0003", "instruction": "Another", "output": "```hcl\n```", "kind": "terraform"},
        {"instruction": "Third", "output": "```yaml\n```", "kind": "kubernetes", "split": "validation"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    splits = dataset.read_file(path)
    assert [row.id for row in splits["train"]] == ["my-rows-0001", "my-rows-0003"]
    # line 3 wanted my-rows-0003, which line 2 holds: it gets the next free id; "validation" means eval
    assert [row.id for row in splits["eval"]] == ["my-rows-0003-2"]


def test_a_hand_made_csv_with_comma_separated_tags(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text(
        "\ufeffinstruction,output,kind,tags,intent\n"  # a spreadsheet's byte-order mark
        '"A bucket, versioned","```hcl\nresource ""aws_s3_bucket"" ""b"" {}\n```",terraform,"s3, versioning",\n',
        encoding="utf-8",
    )
    (row,) = dataset.read_file(path)["train"]
    assert row.tags == ["s3", "versioning"]
    assert row.output == '```hcl\nresource "aws_s3_bucket" "b" {}\n```'
    assert row.intent == {}


# -- bad input --------------------------------------------------------------------------------------------

GOOD = {"instruction": "A bucket", "output": "```hcl\n```", "kind": "terraform"}


def write_jsonl(path, *items):
    path.write_text("".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items))
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"instruction": "A bucket", "output": ', r"bad\.jsonl:3: not valid JSON"),
        ({"instruction": "A bucket", "kind": "terraform"}, r"bad\.jsonl:3: missing 'output'"),
        ({**GOOD, "output": 42}, r"bad\.jsonl:3: 'output' must be a string, not int"),
        ({**GOOD, "tags": "s3"}, r"bad\.jsonl:3: 'tags' must be a list of strings"),
        ({**GOOD, "kind": "ansible"}, r"bad\.jsonl:3: 'kind' must be one of terraform, kubernetes"),
        ({**GOOD, "intent": "{not json"}, r"bad\.jsonl:3: 'intent' is not valid JSON"),
        ({**GOOD, "split": "holdout"}, r"bad\.jsonl:3: 'split' must be train or eval"),
        ({**GOOD, "answer": "x"}, r"bad\.jsonl:3: unknown field\(s\) answer"),
        ([1, 2], r"bad\.jsonl:3: expected a JSON object, got list"),
        ("[" * 100_000, r"bad\.jsonl:3: not valid JSON \(nested too deeply\)"),
    ],
    ids=["malformed", "missing", "wrong-type", "tags-type", "kind", "intent-json", "split", "unknown", "array",
         "deep"],
)
def test_a_bad_jsonl_line_is_named(tmp_path, bad, message):
    path = write_jsonl(tmp_path / "bad.jsonl", GOOD, {**GOOD, "instruction": "Another"}, bad)
    with pytest.raises(DatasetError, match=message):
        dataset.read_file(path)


def test_a_bad_json_element_is_named_by_its_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(f'[\n {json.dumps(GOOD)},\n\n {json.dumps({**GOOD, "kind": 3})}\n]\n')
    with pytest.raises(DatasetError, match=r"bad\.json:4: 'kind' must be a string, not int"):
        dataset.read_file(path)
    path.write_text(f'[\n {json.dumps(GOOD)},\n {{"instruction": "x",,}}\n]')
    with pytest.raises(DatasetError, match=r"bad\.json:3: not valid JSON"):
        dataset.read_file(path)
    path.write_text(json.dumps({"train": [GOOD]}))
    with pytest.raises(DatasetError, match=r"bad\.json:1: expected a JSON array of rows"):
        dataset.read_file(path)


def test_a_bad_csv_row_is_named_by_the_line_it_starts_on(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('instruction,output,kind\n"A bucket","```hcl\nx\n```",terraform\nOnly two,cells\n')
    with pytest.raises(DatasetError, match=r"bad\.csv:5: 2 cells, but the header has 3 columns"):
        dataset.read_file(path)
    path.write_text("instruction,kind\nA bucket,terraform\n")
    with pytest.raises(DatasetError, match=r"bad\.csv:1: the header has no 'output' column"):
        dataset.read_file(path)
    path.write_text("instruction,output,kind,answer\n")
    with pytest.raises(DatasetError, match=r"bad\.csv:1: unknown column\(s\) answer"):
        dataset.read_file(path)


@pytest.mark.parametrize("name", ["latin1.jsonl", "latin1.csv", "latin1.json"])
def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path, name):
    path = tmp_path / name
    lines = {"jsonl": f"{json.dumps(GOOD)}\n{json.dumps({**GOOD, 'instruction': 'Bücket'}, ensure_ascii=False)}\n",
             "csv": "instruction,output,kind\nBücket,x,terraform\nA bucket,x,terraform\n",
             "json": f"[{json.dumps(GOOD)},\n{json.dumps({**GOOD, 'instruction': 'Bücket'}, ensure_ascii=False)}]"}
    path.write_bytes(lines[name.split(".")[1]].encode("latin-1"))
    with pytest.raises(DatasetError, match=rf"{name}:2: not UTF-8 text .*0xfc.*save the file as UTF-8"):
        dataset.read_file(path)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:  # sparse: the size is what counts, and nothing is read
        handle.truncate(dataset.MAX_UPLOAD_BYTES + 1)
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("an oversized file was read"))
    with pytest.raises(DatasetError, match=r"huge\.jsonl is 20\.0 MB, over the 20 MB upload limit"):
        dataset.read_file(path)


def test_duplicate_ids_in_a_file_name_both_lines(tmp_path):
    path = write_jsonl(tmp_path / "twice.jsonl", {**GOOD, "id": "a"}, {**GOOD, "id": "b"}, {**GOOD, "id": "a"})
    with pytest.raises(DatasetError, match=r"twice\.jsonl:3: id 'a' is already used at twice\.jsonl:1"):
        dataset.read_file(path)


def test_zips_that_hold_no_dataset_or_too_much(tmp_path, monkeypatch):
    empty = tmp_path / "notes.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(DatasetError, match=r"notes\.zip: no `datasets` folder inside"):
        dataset.read_file(empty)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/state.json", " " * 10_000)
    monkeypatch.setattr(dataset, "MAX_UNPACKED_BYTES", 5_000)
    with pytest.raises(DatasetError, match=r"big\.zip unpacks to 0 MB, over the 0 MB limit"):
        dataset.read_file(big)
    not_zip = tmp_path / "fake.zip"
    not_zip.write_text("PK? no")
    with pytest.raises(DatasetError, match=r"fake\.zip: not a zip file"):
        dataset.read_file(not_zip)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown format \.parquet"):
        dataset.read_file(tmp_path / "rows.parquet")
    with pytest.raises(DatasetError, match="no such file"):
        dataset.read_file(tmp_path / "absent.jsonl")


def test_read_jsonl_keeps_a_row_holding_a_line_separator(tmp_path):
    """U+2028 is written raw by json.dumps(ensure_ascii=False); splitting lines at it would cut the row."""
    row = Row("first\u2028second\x85third", "```hcl\n```", "terraform", id="a")
    path = tmp_path / "rows.jsonl"
    path.write_text(dataset.jsonl_text([row]), encoding="utf-8")
    assert dataset.read_jsonl(path) == [row]
