"""De-duplication, the split, the validators' verdicts, and the examples at the top of each module."""

from __future__ import annotations

import dataclasses
import doctest
import importlib

import pytest

from studio import dataset
from studio.dataset import Row
from studio.ui.widgets import verdict_html, verdict_reasons
from tests.dataset.conftest import BUCKET, REPO


def test_draw_split_reproduces_the_seed_split(seed_splits):
    """data/README.md says how eval.jsonl was drawn; drawing it again gives the same rows."""
    drawn = dataset.draw_split(seed_splits["train"] + seed_splits["eval"])
    assert {row.id for row in drawn["eval"]} == {row.id for row in seed_splits["eval"]}
    assert len(drawn["train"]) == 619


def test_draw_split_keeps_a_lonely_row_for_training():
    lonely = [Row("one", BUCKET, "terraform", tags=["kms"], id="a")]
    assert dataset.draw_split(lonely) == {"train": lonely, "eval": []}
    with pytest.raises(ValueError, match="eval_share"):
        dataset.draw_split(lonely, 1.0)


def test_duplicates_ignore_whitespace_ids_and_labels_but_not_content(rows):
    same = dataclasses.replace(rows[0], id="x", tags=["other"], instruction=rows[0].instruction.replace(" ", "  \n"))
    other_kind = dataclasses.replace(rows[0], id="y", kind="kubernetes")
    other_output = dataclasses.replace(rows[0], id="z", output=rows[0].output.replace("app-logs", "app-log"))
    result = dataset.deduplicate([*rows, same, other_kind, other_output])
    assert [(row.id, first) for row, first in result.dropped] == [("x", "t-1")]
    assert dataset.deduplicate([other_output], existing=rows).dropped == []


def test_the_seed_has_no_exact_duplicates(seed_splits):
    assert dataset.deduplicate(seed_splits["train"] + seed_splits["eval"]).dropped == []


def test_a_verdict_names_what_is_wrong_and_keeps_advice_apart(rows):
    good = dataset.check_row(rows[0]).to_dict()
    assert good["ok"] and not verdict_reasons(good)
    advice = verdict_reasons(good, advice=True)
    assert any("s3-public-access-block" in line for line in advice), advice  # advice, not a failure
    wrong = dataclasses.replace(rows[0], output=rows[0].output.replace("bucket =", "name ="))
    verdict = dataset.check_row(wrong)
    assert not verdict.ok and verdict.schema.status == "failed"
    reasons = verdict_reasons(verdict.to_dict())
    assert any('unknown argument "name"' in reason for reason in reasons), reasons
    assert "✗ fail" in verdict_html(verdict.to_dict(), labels=("pass", "fail"))


def test_a_malformed_intent_fails_the_row_with_a_reason(rows):
    verdict = dataset.check_row(dataclasses.replace(rows[0], intent={"require": [{"resource": "x", "wher": {}}]}))
    assert not verdict.ok
    reasons = verdict_reasons(verdict.to_dict())
    assert reasons and "wher" in " ".join(reasons)


def test_verdicts_are_cached_by_what_the_validators_read(rows, monkeypatch):
    monkeypatch.setattr(dataset, "_VERDICTS", {})
    assert dataset.known_verdict(rows[2]) is None
    verdict = dataset.check_row(rows[2])
    relabelled = dataclasses.replace(rows[2], id="other", tags=["x"], instruction="other words")
    assert dataset.known_verdict(relabelled) is verdict
    assert dataset.known_verdict(dataclasses.replace(rows[2], intent={})) is None


@pytest.mark.parametrize("name", ["studio.dataset", "studio.dataset_store"])
def test_examples_in_docstrings(name, home, monkeypatch):
    """The pasteable examples at the top of the modules run as written, from the repository's root."""
    monkeypatch.chdir(REPO)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
