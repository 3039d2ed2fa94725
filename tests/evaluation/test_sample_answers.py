"""bench/sample_answers.py: answers drawn from an evaluation, shown with their real verdicts."""

import dataclasses

from studio import evaluation
from tests.factories import load_script


def _sampler():
    return load_script("bench/sample_answers.py")


def test_sampled_answers_show_the_code_and_why_it_fails():
    rows = [row for row in evaluation.load_rows(evaluation.EVAL_SPLIT) if row.kind == "terraform"][:3]
    records = [evaluation.row_record(row) for row in rows]
    answers = [rows[0].output,                                            # the reference: passes
               '```hcl\nresource "aws_s3_bucket_versioning_policy" "x" {\n  bucket = "logs"\n}\n```',
               "```hcl\n" + 'resource "aws_s3_bucket" "a" {\n' + '  bucket = "x"\n' * 12]   # loops, cut off
    for record, row, text in zip(records, rows, answers):
        record["answers"]["fine-tuned"] = [evaluation.answer_record(text, row.kind, row.intent)]
    text = _sampler().render(records, "fine-tuned", per_kind=3, seed=0, lines=5)
    assert text.count("### ") == 3
    assert f"{rows[0].id} (terraform): passes" in text
    assert 'schema: aws_s3_bucket_versioning_policy.x: unknown resource type' in text
    assert 'loops on `bucket = "x"`' in text
    assert "# ... " in text  # long code is cut, and says so


def test_a_request_asked_with_a_worked_example_shows_it_apart():
    from studio import examples

    train = [row for row in evaluation.load_rows("data/train.jsonl") if row.kind == "kubernetes"]
    row = examples.with_example(dataclasses.replace(train[0], input="Namespace: shop"), train[1])
    record = evaluation.row_record(row)
    record["answers"]["fine-tuned"] = [evaluation.answer_record(train[0].output, row.kind, row.intent)]
    text = _sampler().render([record], "fine-tuned", per_kind=1, seed=0, lines=40)
    assert f"> {train[0].instruction} (Namespace: shop)\n" in text, "the request's own input, not the example"
    assert f"Asked with the worked example “{examples.shown(row.input)[0]}”:" in text
    assert examples.LEAD not in text and text.index(train[1].output.strip()) < text.index("</details>")
    assert f"{row.id} (kubernetes): passes" in text
