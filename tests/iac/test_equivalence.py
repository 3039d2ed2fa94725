"""The equivalence set (tests/iac/equivalence.py): hand-written faithful answers are accepted and unfaithful ones
rejected, each at 95% or more. Prints both rates:

    python -m pytest tests/iac/test_equivalence.py -q -s -n 0
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.iac import validate
from tests.iac.equivalence import VARIANTS, Variant

EVAL = Path(__file__).resolve().parents[2] / "data" / "eval.jsonl"


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, EVAL.read_text(encoding="utf-8").splitlines())}


def answer(variant: Variant, reference: str) -> str:
    text = reference
    for old, new in variant.edits:
        assert text.count(old) == 1, f"{variant.row} ({variant.form}): {old[:60]!r} is not once in the answer"
        text = text.replace(old, new)
    assert text != reference, f"{variant.row} ({variant.form}) changes nothing"
    return text


def test_the_set_is_big_enough():
    faithful = [v for v in VARIANTS if v.faithful]
    assert len(VARIANTS) >= 80 and len(faithful) >= 50 and len(VARIANTS) - len(faithful) >= 30
    assert len({v.row for v in VARIANTS}) >= 40


def test_faithful_answers_are_accepted_and_unfaithful_ones_rejected(rows):
    wrong = []
    accepted = rejected = 0
    for variant in VARIANTS:
        row = rows[variant.row]
        report = validate(answer(variant, row["output"]), row["kind"], row["intent"])
        if variant.faithful:
            accepted += report.ok
            if not report.ok:
                wrong.append(f"{variant.row} faithful ({variant.form}) rejected: {report.reasons()[:2]}")
        else:
            rejected += not report.ok
            if report.ok:
                wrong.append(f"{variant.row} unfaithful ({variant.form}) accepted")
    faithful = sum(v.faithful for v in VARIANTS)
    unfaithful = len(VARIANTS) - faithful
    print(f"\nequivalence set: {len(VARIANTS)} answers over {len({v.row for v in VARIANTS})} eval rows; "
          f"faithful accepted {accepted}/{faithful} ({accepted / faithful:.1%}), "
          f"unfaithful rejected {rejected}/{unfaithful} ({rejected / unfaithful:.1%})")
    for line in wrong:
        print("  " + line)
    assert accepted / faithful >= 0.95 and rejected / unfaithful >= 0.95, "\n".join(wrong)
