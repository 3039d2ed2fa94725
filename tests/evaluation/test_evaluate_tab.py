"""The Evaluate tab's views of results files: the headline, the percentage table, the chart and the drill-down."""

from __future__ import annotations

import pytest

from studio import evaluation
from studio.evaluation import Candidate
from studio.iac import validate
from studio.ui import compare as compare_tab
from studio.ui import evaluate as evaluate_tab


@pytest.fixture
def results_folder(home):
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[:3]
    records = []
    for number, row in enumerate(rows):
        record = evaluation.row_record(row)
        # The fine-tuned model answers the first two rows right, the base only the second.
        record["answers"]["base"] = [evaluation.answer_record(row.output if number == 1 else "no idea", row.kind,
                                                              row.intent)]
        # ... and loops on the third.
        looped = "```yaml\n" + "- name: web\n" * 30
        record["answers"]["fine-tuned"] = [evaluation.answer_record(row.output if number < 2 else looped, row.kind,
                                                                    row.intent)]
        records.append(record)
    contenders = [Candidate("base", "m"), Candidate("fine-tuned", "m", "/ws/runs/sft-1/adapter")]
    summary = evaluation.summarize(records, contenders) | {"seconds": 42.0, "settings": {"max_new_tokens": 64,
                                                                                          "temperature": 0.0}}
    return evaluation.write(evaluation.Results(summary, records), evaluation.results_folder(run="sft-1"))


def test_results_are_listed_and_shown(results_folder):
    assert evaluate_tab.results_choices() == [("sft-1", str(results_folder))]
    headline, table, chart, rows_update, records = evaluate_tab.show_results(str(results_folder))
    assert "**3 rows**" in headline and "greedy" in headline and "pass **33.3%**" in headline
    assert "pass **66.7%**" in headline
    line = table[(table.kind == "all") & (table.stage == "pass")].iloc[0]
    assert (line["base"], line["fine-tuned"], line["change"]) == ("33.3%", "66.7%", "+33.3%")
    assert len(records) == 3 and len(rows_update["choices"]) == 3
    assert "base ✗ fine-tuned ✓" in rows_update["choices"][0][0]
    # a loop is a failure reason of its own, in the headline and the table
    assert "fails: loop 33.3%" in headline and "fails: no code 66.7%" in headline
    loops = table[(table.kind == "all") & (table.stage == "loop")].iloc[0]
    assert (loops["base"], loops["fine-tuned"]) == ("0.0%", "33.3%")
    *_, right = evaluate_tab.show_row(records[2]["id"], records, str(results_folder))
    assert "loop: the line `- name: web` repeats 30 times" in right


def test_drill_down_by_outcome(results_folder):
    *_, records = evaluate_tab.show_results(str(results_folder))
    gained = evaluate_tab._filter("gained", records, str(results_folder))["choices"]
    assert [value for _, value in gained] == [records[0]["id"]]
    assert [value for _, value in evaluate_tab._filter("both_pass", records, str(results_folder))["choices"]] == [
        records[1]["id"]]
    assert evaluate_tab._filter("lost", records, str(results_folder))["choices"] == []

    request, left, right = evaluate_tab.show_row(records[0]["id"], records, str(results_folder))
    assert records[0]["instruction"][:30] in request
    assert "✗ not valid" in left and "✓ valid" in right
    assert 'class="im-code"' in right, "the fine-tuned answer's code is shown highlighted"


def test_no_results_yet(home):
    headline, table, chart, _, records = evaluate_tab.show_results(None)
    assert headline == evaluate_tab.NO_RESULTS and table is None and records == []


def test_verdict_badges_say_when_intent_was_not_checked():
    answer = '```hcl\nresource "aws_s3_bucket" "logs" {\n  name = "logs"\n}\n```'
    report = validate(answer, "terraform").to_dict()
    typed = compare_tab.verdict_html(report, intent_checked=False)
    assert "n/a intent" in typed and "✗ schema" in typed and "✓ parses" in typed
    assert 'unknown argument &quot;name&quot; (did you mean &quot;bucket&quot;?)' in typed
    checked = compare_tab.verdict_html(report, intent_checked=True)
    assert "n/a" not in checked
    assert "<script>" not in compare_tab.verdict_html(
        validate("```hcl\nresource \"<script>\" \"x\" {}\n```", "terraform").to_dict())
