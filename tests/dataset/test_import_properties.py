"""Properties of the importer, over rows and files hypothesis makes up.

Whatever a file holds, reading it gives checked rows with unique ids or a DatasetError, never another
exception; whatever rows are written, they read back the same in every format.
"""

from __future__ import annotations

import collections
import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import dataset
from studio.dataset import DatasetError, Row

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text, surrogates aside (they cannot be written as UTF-8): newlines, CR, U+2028, quotes, commas, NUL...
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
nonempty = text.filter(bool)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def rows(draw, full: bool = True) -> list[Row]:
    """Up to 6 rows with unique ids; `full=False` leaves out input, intent and tags (quicker to draw)."""
    count = draw(st.integers(0, 6))
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), min_size=count, max_size=count,
                        unique=True))
    return [
        Row(
            instruction=draw(nonempty),
            output=draw(nonempty),
            kind=draw(st.sampled_from(["terraform", "kubernetes"])),
            input=draw(text) if full else "",
            intent=draw(st.dictionaries(text, json_values, max_size=3)) if full else {},
            tags=draw(st.lists(text, max_size=3)) if full else [],
            id=row_id,
        )
        for row_id in ids
    ]


@st.composite
def splits(draw) -> dict[str, list[Row]]:
    made = draw(rows())
    cut = draw(st.integers(0, len(made)))
    return {"train": made[:cut], "eval": made[cut:]}


def roundtrip(value: dict, suffix: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return dataset.read_file(dataset.write_file(value, Path(tmp) / f"rows{suffix}"))


@settings(max_examples=40, **SETTINGS)
@given(splits(), st.sampled_from([".jsonl", ".json", ".csv"]))
def test_any_rows_round_trip_through_the_text_formats(value, suffix):
    assert roundtrip(value, suffix) == value


@settings(max_examples=8, **SETTINGS)
@given(splits())
def test_any_rows_round_trip_through_a_zipped_datasets_folder(value):
    assert roundtrip(value, ".zip") == value


def read_text(content: str | bytes, suffix: str) -> dict | None:
    """What `read_file` makes of `content`; None for a DatasetError. Any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        try:
            return dataset.read_file(path)
        except DatasetError:
            return None


def assert_checked(result: dict | None) -> None:
    if result is None:
        return
    assert set(result) == {"train", "eval"}
    ids = [row.id for part in result.values() for row in part]
    assert all(ids) and len(set(ids)) == len(ids)
    for part in result.values():
        for row in part:
            assert Row.from_dict(json.loads(json.dumps(row.to_dict()))) == row


@settings(max_examples=150, **SETTINGS)
@given(st.text(max_size=300), st.sampled_from([".jsonl", ".json", ".csv"]))
def test_any_text_gives_rows_or_a_dataset_error(content, suffix):
    assert_checked(read_text(content, suffix))


@settings(max_examples=100, **SETTINGS)
@given(st.binary(max_size=200), st.sampled_from([".jsonl", ".json", ".csv", ".zip"]))
def test_any_bytes_give_rows_or_a_dataset_error(content, suffix):
    assert_checked(read_text(content, suffix))


fields = st.sampled_from(["id", "instruction", "input", "output", "kind", "intent", "tags", "split", "other"])


@settings(max_examples=100, **SETTINGS)
@given(st.lists(st.dictionaries(fields, json_values | st.sampled_from(["terraform", "kubernetes", "eval"])),
                max_size=5))
def test_any_json_objects_give_rows_or_an_error_naming_a_line(objects):
    content = "".join(json.dumps(item) + "\n" for item in objects)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.jsonl"
        path.write_text(content, encoding="utf-8")
        try:
            result = dataset.read_file(path)
        except DatasetError as error:
            # The line is named; with several bad lines, each of them, one a line under a count.
            first, *others = str(error).split("\n")
            assert first.startswith("upload.jsonl:") or re.fullmatch(r"\d+ bad lines:", first), error
            assert all(line.startswith(("- upload.jsonl:", "- ... and ")) for line in others), error
            return
    assert_checked(result)
    assert sum(len(part) for part in result.values()) == len(objects)


def key_counts(items: list[Row]) -> collections.Counter:
    return collections.Counter(dataset.content_key(row) for row in items)


@settings(max_examples=60, **SETTINGS)
@given(rows(full=False), st.lists(st.integers(0, 5), max_size=4))
def test_deduplicate_keeps_the_first_of_each_example(made, repeats):
    # repeat some rows under new ids, with extra spaces that do not change the example
    for number, index in enumerate(repeats):
        if made:
            original = made[index % len(made)]
            made.append(Row(original.instruction + "  ", original.output, original.kind, id=f"copy-{number}"))
    result = dataset.deduplicate(made)
    assert len(result.kept) + len(result.dropped) == len(made)
    assert all(count == 1 for count in key_counts(result.kept).values())
    assert set(key_counts(result.kept)) == set(key_counts(made))
    kept_ids = {row.id for row in result.kept}
    assert all(same in kept_ids for _, same in result.dropped)
    assert dataset.deduplicate(result.kept).dropped == []


@settings(max_examples=60, **SETTINGS)
@given(rows(full=False), st.floats(0.0, 0.9))
def test_draw_split_is_a_stable_partition_that_keeps_training_rows_in_every_group(made, share):
    for number, row in enumerate(made):
        row.tags = [["s3", "vpc"][number % 2]]
    first = dataset.draw_split(made, share)
    again = dataset.draw_split(list(reversed(made)), share)
    assert sorted(r.id for r in first["train"] + first["eval"]) == sorted(r.id for r in made)
    assert {r.id for r in first["eval"]} == {r.id for r in again["eval"]}  # order does not matter
    groups = collections.Counter((r.kind, r.topic) for r in made)
    trained = collections.Counter((r.kind, r.topic) for r in first["train"])
    assert all(trained[group] >= 1 for group in groups)
