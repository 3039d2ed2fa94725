"""bench/grpo_signal.py: the learning signal of groups of answers, read from real intent verdicts."""

import pytest

from studio import evaluation
from tests.factories import load_script


def test_groups_alike_give_no_signal_and_a_standout_answer_does():
    rows = [row for row in evaluation.load_rows(evaluation.EVAL_SPLIT) if row.kind == "terraform"][:2]
    wrong = '```hcl\nresource "aws_sns_topic" "x" {\n  name = "x"\n}\n```'   # parses, meets no clause
    score = lambda row, text: evaluation.answer_record(text, row.kind, row.intent)["intent"]["score"]
    first, second = rows
    groups = [[score(first, first.output)] * 4,                                  # every answer meets the request
              [score(second, wrong)] * 3 + [score(second, second.output)]]       # one of four does
    assert groups[0] == [1.0] * 4 and groups[1] == [0.0, 0.0, 0.0, 1.0]
    figures = load_script("bench/grpo_signal.py").group_figures(groups)
    assert figures["groups all alike"] == 0.5
    assert figures["groups with an answer 0.25 above their mean"] == 0.5
    assert figures["intent score"] == pytest.approx(5 / 8)
    assert figures["std within a group"] == pytest.approx((0 + 0.75 ** 0.5 * 0.5) / 2)
