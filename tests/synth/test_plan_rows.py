"""bench/plan_rows.py: each training answer begins with its intent as comment lines, one per clause, the code after
it unchanged and still meeting the row's intent; an evaluation's answers' plans are read back against the rows'."""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest

from studio import dataset, evaluation
from studio.iac import validate
from tests.factories import load_script

bench = load_script("bench/plan_rows.py")


def test_every_training_answer_begins_with_its_plan_and_still_meets_its_intent(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["plan_rows.py", "--out", str(tmp_path)])
    bench.main()
    assert "619 of 619 rows with a plan" in capsys.readouterr().out
    originals = dataset.read_jsonl("data/train.jsonl")
    written = dataset.read_jsonl(tmp_path / "train.jsonl")
    assert [(row.id, row.instruction, row.input, row.intent) for row in written] == \
        [(row.id, row.instruction, row.input, row.intent) for row in originals], "only the answers change"
    for original, row in zip(originals[::20], written[::20]):
        plan = bench.plan_of(row.to_dict())
        assert plan and bench.answer_plan(row.output) == plan
        fence = original.output.index("\n") + 1
        assert row.output == original.output[:fence] + "\n".join(plan) + "\n" + original.output[fence:]
        report = validate(row.output, row.kind, row.intent)
        assert report.ok, (row.id, [reason.message for reason in report.reasons])
    assert (tmp_path / "eval.jsonl").read_text() == open("data/eval.jsonl").read(), "the eval rows as they are"


def test_a_clause_reads_as_its_type_name_paths_and_matchers():
    row = {"kind": "terraform", "intent": {
        "require": [{"resource": "aws_rds_cluster", "where": {"engine": "aurora-postgresql", "storage_encrypted": True,
                                                             "backup_retention_period": {"gte": 7}}},
                    {"resource": "aws_rds_cluster_instance", "refers_to": "aws_rds_cluster", "count": {"gte": 2}},
                    {"variable": "*", "where": {"sensitive": True}}],
        "forbid": [{"resource": "aws_s3_bucket_acl"}]}}
    assert bench.plan_of(row) == [
        '# aws_rds_cluster: engine = "aurora-postgresql", storage_encrypted = true, backup_retention_period >= 7',
        "# aws_rds_cluster_instance: refers to aws_rds_cluster, count >= 2",
        "# variable: sensitive = true",
        "# no aws_s3_bucket_acl"]
    kube = {"kind": "kubernetes", "intent": {"require": [
        {"kind": "Deployment", "name": "web", "where": {"spec.template.spec.containers.livenessProbe.grpc.port": 50051,
                                                        "spec.replicas": {"in": [2, 3]}}}]}}
    assert bench.plan_of(kube) == ['# Deployment "web": grpc.port = 50051, spec.replicas one of 2, 3']


def test_the_answers_plans_are_counted_against_the_rows(tmp_path):
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[:3]
    planned = [bench.with_plan(row.to_dict())["output"] for row in rows]
    wrong_type = planned[1].replace(bench.plan_of(rows[1].to_dict())[0], "# aws_sqs_function: name = \"x\"", 1)
    records = []
    for row, answer in zip(rows, [planned[0], wrong_type, rows[2].output]):
        record = evaluation.row_record(row)
        record["answers"]["fine-tuned"] = [evaluation.answer_record(answer, row.kind, row.intent)]
        records.append(record)
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "rows.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (folder / "summary.json").write_text(json.dumps({"models": [{"label": "fine-tuned"}]}))
    counts = bench.compare(evaluation.read(folder).rows)
    total = sum(counts.values(), start=Counter())
    asked = sum(len(bench.plan_of(row.to_dict())) for row in rows)
    assert total["rows"] == 3 and total["with a plan"] == 2 and total["lines asked"] == asked
    assert total["lines as asked"] == len(bench.plan_of(rows[0].to_dict())) + len(bench.plan_of(rows[1].to_dict())) - 1
    assert total["plan whole"] == 1 and total["plan whole, intent met"] == 1, "the first answer: its reference, planned"
    assert total["unknown to the schema"] == 1, "aws_sqs_function is no provider type; the references' types all are"
    asked = bench.planned(bench.plan_of(rows[0].to_dict()), "terraform")
    declared = set(bench.intent_types.declared("terraform", planned[0]))
    assert asked == {"aws_rds_cluster", "aws_rds_cluster_instance"} <= declared


def test_a_folder_without_answers_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["plan_rows.py", "--plans", str(tmp_path)])
    with pytest.raises(SystemExit, match="no evaluation there"):
        bench.main()
