"""The pieces several tabs draw the same way (studio/ui/widgets.py), from real validator verdicts."""

from __future__ import annotations

from types import SimpleNamespace

from jobs import specs
from studio.iac import validate
from studio.ui import widgets

UNKNOWN_ARGUMENT = '```hcl\nresource "aws_s3_bucket" "logs" {\n  name = "logs"\n}\n```'
GOOD_BUCKET = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```'


def test_a_verdict_shows_each_stage_its_reasons_and_advice_apart():
    shown = widgets.verdict_html(validate(UNKNOWN_ARGUMENT, "terraform").to_dict())
    assert shown.count('class="im-badge') == 6 and "✗ not valid" in shown and "✗ schema" in shown
    assert "schema: line 2: aws_s3_bucket.logs: unknown argument &quot;name&quot;" in shown
    assert "<details><summary>Best-practice advice" in shown, "advice is folded away, apart from the errors"
    good = widgets.verdict_html(validate(GOOD_BUCKET, "terraform").to_dict(), labels=("pass", "fail"),
                                note="(edited, not saved yet)")
    assert "✓ pass</span> <span class='im-muted'>(edited, not saved yet)</span>" in good
    assert 'class="im-reasons"' not in good and "im-verdict im-pass" in good


def test_a_failure_always_says_why():
    """A malformed intent skips the intent stage with a note only: that note becomes the reason."""
    report = validate(GOOD_BUCKET, "terraform", {"require": [{"resource": "x", "wher": {}}]}).to_dict()
    assert not report["ok"]
    (reason,) = widgets.verdict_reasons(report)
    assert reason.startswith("intent") and "wher" in reason
    assert widgets.verdict_reasons(validate(GOOD_BUCKET, "terraform").to_dict()) == []


def test_the_checked_code_is_highlighted():
    report = validate(GOOD_BUCKET, "terraform").to_dict()
    assert 'class="im-code"' in widgets.code_block_html(report, "terraform")
    assert widgets.code_block_html(validate("no code", "terraform").to_dict(), "terraform") == ""


def test_progress_problems_and_where_a_job_runs():
    bar = widgets.progress_bar(0.25, "#059669", min_width="120px")
    assert "data-fraction='0.250'" in bar and "width:25.0%" in bar and "min-width:120px" in bar
    try:
        specs.EvalJob(output="x", samples=0, max_new_tokens=0)
    except specs.SpecError as error:
        shown = widgets.problems_markdown(error)
    assert shown.startswith("**Cannot launch:**\n- ") and shown.count("\n- ") == 2
    assert widgets.problems_markdown(ValueError("no rows")) == "**Cannot launch:**\n- no rows"
    assert [widgets.device_label(d) for d in ("cpu", "0", "0,1", None)] == ["the CPU", "GPU 0", "GPU 0,1", ""]
    running = SimpleNamespace(name="sft-1", state="running", devices="0")
    assert widgets.launched_markdown(running, "Watch it.") == "**sft-1** is running on GPU 0. Watch it."
    queued = SimpleNamespace(name="sft-2", state="queued", devices=None)
    assert widgets.launched_markdown(queued, "Watch it.") == "**sft-2** is queued. Watch it."


def test_an_evaluation_headline():
    summary = {"rows": 3, "split": "eval", "kinds": {"terraform": 2, "kubernetes": 1}, "samples": 1,
               "settings": {"temperature": 0.0, "max_new_tokens": 64}, "seconds": 185.0,
               "models": [{"label": "base", "model": "m", "adapter": None, "rates": {"pass": 1 / 3}}]}
    headline = widgets.evaluation_headline(summary)
    assert headline.startswith("**3 rows** of `eval` (2 terraform, 1 kubernetes), 1 answer(s) per row, greedy")
    assert "3m05s in all." in headline and "- **base**: `m`: pass **33.3%**" in headline
    assert "intent score" not in headline.split("\n\n")[0]  # results without one
    summary["models"][0]["intent_score"] = {"all": 0.239, "terraform": 0.3}
    assert "- **base**: `m`: pass **33.3%**; intent score 23.9%" in widgets.evaluation_headline(summary)
