"""The seed dataset: every output passes the validators and its own intent, no near-duplicates, a fixed split."""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import pytest

from studio import dataset
from studio.iac import validate

DATA = Path(__file__).resolve().parents[1] / "data"
# Word 3-shingles of instruction + input + output; two rows at or above this Jaccard are near-duplicates.
NEAR_DUPLICATE = 0.6


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dataset.Row]]:
    return {name: dataset.read_jsonl(DATA / f"{name}.jsonl") for name in ("train", "eval")}


def test_size_mix_and_split(splits):
    rows = splits["train"] + splits["eval"]
    assert len(rows) >= 600
    assert len(splits["eval"]) >= 100
    kinds = collections.Counter(row.kind for row in rows)
    assert 0.55 <= kinds["terraform"] / len(rows) <= 0.65, kinds
    ids = [row.id for row in rows]
    assert len(set(ids)) == len(ids), "ids are unique"
    assert not {row.id for row in splits["train"]} & {row.id for row in splits["eval"]}
    # The held-out split covers every topic that has enough rows to spare one.
    topics = collections.Counter(row.topic for row in rows)
    held_out = {row.topic for row in splits["eval"]}
    assert {topic for topic, count in topics.items() if count >= 10} <= held_out


def test_every_output_passes_the_validators_and_its_intent(splits):
    failures = []
    for row in splits["train"] + splits["eval"]:
        assert row.intent.get("require"), f"{row.id}: an intent states at least one requirement"
        report = validate(row.output, row.kind, row.intent)
        if not report.ok:
            failures.append(f"{row.id}: {report.summary()}")
    assert not failures, "\n".join(failures)


def test_no_near_duplicates(splits):
    rows = splits["train"] + splits["eval"]
    shingles = [dataset.shingles(row) for row in rows]
    close = []
    for i, j in itertools.combinations(range(len(rows)), 2):
        shared = len(shingles[i] & shingles[j])
        if shared and shared / len(shingles[i] | shingles[j]) >= NEAR_DUPLICATE:
            close.append((rows[i].id, rows[j].id))
    assert not close


def test_outputs_are_one_fenced_block_of_their_language(splits):
    fence = {"terraform": "```hcl\n", "kubernetes": "```yaml\n"}
    for row in splits["train"] + splits["eval"]:
        assert row.output.startswith(fence[row.kind]) and row.output.rstrip().endswith("```"), row.id
        assert row.output.count("```") == 2, row.id
