"""The entry point: one Report per answer, whatever the answer is."""

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.iac import Report, validate
from studio.iac.report import STAGES


def test_a_good_answer_passes_every_correctness_stage(fence, provider5_s3):
    report = validate(fence(provider5_s3), "terraform",
                      {"require": [{"resource": "aws_s3_bucket_versioning", "refers_to": "aws_s3_bucket"}]})
    assert isinstance(report, Report)
    assert report.ok
    assert report.language == "terraform" and report.asked == "terraform"
    assert report.code == provider5_s3.rstrip()
    assert [report.verdicts[s].status for s in STAGES[:4]] == ["passed"] * 4


def test_the_kind_is_detected_when_not_given(fence, deployment, provider6_ingress):
    assert validate(fence(deployment, "yaml")).language == "kubernetes"
    assert validate(fence(provider6_ingress)).language == "terraform"


def test_stages_after_a_failure_are_skipped_not_passed(fence):
    report = validate(fence('resource "aws_s3_bucket" "b" {\n  bucket = "b"\n'), "terraform",
                      {"require": [{"resource": "aws_s3_bucket"}]})
    assert report.parses.status == "failed"
    assert [report.schema.status, report.intent.status, report.best_practice.status] == ["skipped"] * 3
    assert report.schema.score == 0.0
    assert not report.ok


def test_boto3_when_terraform_was_asked():
    answer = "Use boto3:\n```python\nimport boto3\n\ns3 = boto3.client('s3')\ns3.create_bucket(Bucket='logs')\n```"
    report = validate(answer, "terraform")
    assert not report.ok
    assert report.wrong_language == "python"
    assert report.extracted.reasons[0].message == "asked for Terraform but the answer is Python (boto3)"
    assert all(report.verdicts[s].status == "skipped" for s in STAGES[1:])


def test_empty_answer():
    report = validate("", "terraform")
    assert report.extracted.status == "failed" and report.extracted.reasons[0].message == "the answer is empty"
    assert report.language is None and report.code == ""


def test_binary_junk():
    report = validate(bytes(range(256)).decode("latin-1") * 20, "kubernetes")
    assert report.extracted.status == "failed"
    assert "not text" in report.extracted.reasons[0].message


def test_ten_thousand_line_answer_is_refused_quickly(fence):
    block = 'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b{i}"\n}}\n'
    code = "".join(block.format(i=i) for i in range(3334))
    start = time.perf_counter()
    report = validate(fence(code), "terraform")
    elapsed = time.perf_counter() - start
    assert code.count("\n") >= 10_000
    assert report.extracted.status == "failed"
    assert "answers over 2,000 lines (200,000 characters) are not checked" in report.extracted.reasons[0].message
    assert elapsed < 1.0


def test_a_long_answer_within_the_limit_is_checked(fence):
    block = 'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b{i}"\n}}\n'
    code = "".join(block.format(i=i) for i in range(600))
    report = validate(fence(code), "terraform", max_lines=5000)
    assert report.schema.passed


def test_report_to_dict_is_json_with_every_stage(fence, provider5_s3):
    report = validate(fence(provider5_s3.replace("bucket = \"acme-logs\"", "name = \"acme-logs\"")), "terraform")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert set(STAGES) <= set(data)
    (reason,) = data["schema"]["reasons"]
    assert reason == {"message": 'aws_s3_bucket.logs: unknown argument "name" (did you mean "bucket"?)',
                      "line": 15, "path": "aws_s3_bucket.logs.name", "severity": "error"}


def test_summary_and_reason_lines(fence):
    report = validate(fence('resource "aws_s3_bucket" "logs" {\n  name = "x"\n}\n'), "terraform")
    assert report.summary().startswith("extracted: passed; parses: passed; schema: failed (1 error)")
    assert 'schema: line 2: aws_s3_bucket.logs: unknown argument "name" (did you mean "bucket"?)' in report.reasons()


def test_notes_on_format(provider5_s3):
    bare = validate(provider5_s3, "terraform")
    assert bare.ok and bare.extracted.score == 0.5
    assert "not in a fenced block" in bare.extracted.reasons[0].message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400), st.sampled_from(["terraform", "kubernetes", None]))
def test_any_text_gives_a_report_and_never_raises(text, kind):
    report = validate(text, kind)
    assert isinstance(report.ok, bool)
    json.dumps(report.to_dict())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(['resource "aws_s3_bucket" "b" {', "}", "  bucket = \"b\"", "{", "  tags = {",
                                 "apiVersion: v1", "kind: Pod", "metadata:", "  name: x", "```hcl", "```", "---",
                                 'data "aws_caller_identity" "me" {}', "  x = [", "]"]), max_size=30),
       st.sampled_from(["terraform", "kubernetes", None]))
def test_shuffled_fragments_never_raise(lines, kind):
    report = validate("\n".join(lines), kind)
    for verdict in report.verdicts.values():
        assert 0.0 <= verdict.score <= 1.0


def test_one_enormous_line_is_refused_quickly():
    answer = 'resource "aws_s3_bucket" "b" { tags = { ' + " ".join(f"k{i} = {i}," for i in range(60_000)) + " } }"
    start = time.perf_counter()
    report = validate(answer, "terraform")
    assert time.perf_counter() - start < 1.0
    assert report.extracted.status == "failed" and "characters" in report.extracted.reasons[0].message
