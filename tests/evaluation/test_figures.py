"""Report figures computed from fixed answers: every rate is counted by hand here."""

from __future__ import annotations

import json

import pytest

from studio import evaluation
from studio.evaluation import Candidate

BOTO3 = "```python\nimport boto3\nboto3.client('rds').create_db_cluster(DBClusterIdentifier='catalog')\n```"
UNBALANCED = '```hcl\nresource "aws_rds_cluster" "x" {\n  engine = "aurora-mysql"\n```'


@pytest.fixture(scope="module")
def rows():
    split = evaluation.load_rows(evaluation.EVAL_SPLIT)
    terraform = [row for row in split if row.kind == "terraform"][:2]
    kubernetes = [row for row in split if row.kind == "kubernetes"][:2]
    return terraform + kubernetes


@pytest.fixture(scope="module")
def records(rows):
    """Two models' fixed answers to two Terraform and two Kubernetes rows."""
    tf1, tf2, k1, k2 = rows
    fixed = {
        # A: right, wrong language, right, valid YAML for another request (intent fails).
        "a": [tf1.output, BOTO3, k1.output, k2.output],
        # B: an unknown argument (schema fails, intent still met), unbalanced braces, two empty answers.
        "b": [tf1.output.replace("{\n", "{\n  bogus_argument = 1\n", 1), UNBALANCED, "", ""],
    }
    # k2's answer is graded against k1's intent: valid, but not what k1 asked for.
    intents = [tf1.intent, tf2.intent, k1.intent, k1.intent]
    built = []
    for i, row in enumerate(rows):
        record = evaluation.row_record(row)
        for label, texts in fixed.items():
            record["answers"][label] = [evaluation.answer_record(texts[i], row.kind, intents[i])]
        built.append(record)
    return built


def test_rates_per_stage_overall_and_per_kind(records):
    summary = evaluation.summarize(records, [Candidate("a", "model-a"), Candidate("b", "model-a", "adapter-b")])
    a, b = summary["models"]
    assert summary["rows"] == 4 and summary["kinds"] == {"terraform": 2, "kubernetes": 2}
    assert a["rates"] == {"extracted": 0.75, "parses": 0.75, "schema": 0.75, "intent": 0.5,
                          "best_practice": 0.25, "pass": 0.5, "loop": 0.0}
    assert a["by_kind"]["terraform"] == {"extracted": 0.5, "parses": 0.5, "schema": 0.5, "intent": 0.5,
                                         "best_practice": 0.5, "pass": 0.5, "loop": 0.0}
    assert a["by_kind"]["kubernetes"] == {"extracted": 1.0, "parses": 1.0, "schema": 1.0, "intent": 0.5,
                                          "best_practice": 0.0, "pass": 0.5, "loop": 0.0}
    assert b["rates"] == {"extracted": 0.5, "parses": 0.25, "schema": 0.0, "intent": 0.25,
                          "best_practice": 0.25, "pass": 0.0, "loop": 0.0}
    assert b["by_kind"]["kubernetes"]["extracted"] == 0.0
    assert (b["label"], b["model"], b["adapter"]) == ("b", "model-a", "adapter-b")
    assert "pass_at_k" not in a, "one answer per row: no pass@k"
    # every clause met or none here (the boto3 answer and the unparsed ones meet none): the score is the rate
    assert a["intent_score"] == {"all": 0.5, "terraform": 0.5, "kubernetes": 0.5}
    assert b["intent_score"] == {"all": 0.25, "terraform": 0.5, "kubernetes": 0.0}


def test_the_intent_score_moves_where_the_intent_rate_does_not(rows):
    """Three replicas where the request asks for one: the ServiceAccount clause is met, the Deployment's nearly (its
    kind, name and service account), so the answer fails intent yet scores more than the half of the clause met."""
    k1 = rows[2]
    near = k1.output.replace("replicas: 1", "replicas: 3")
    record = evaluation.row_record(k1)
    record["answers"]["m"] = [evaluation.answer_record(near, k1.kind, k1.intent)]
    entry = evaluation.summarize([record], [Candidate("m", "x")])["models"][0]
    assert entry["rates"]["intent"] == 0.0 and entry["rates"]["schema"] == 1.0
    assert 0.5 < entry["intent_score"]["kubernetes"] < 1.0
    assert entry["intent_score"]["all"] == entry["intent_score"]["kubernetes"] and "terraform" not in entry["intent_score"]
    frame = evaluation.table(evaluation.summarize([record], [Candidate("m", "x")]))
    line = frame[(frame.kind == "kubernetes") & (frame.stage == "intent score")].iloc[0]
    assert line["m"] == round(entry["intent_score"]["kubernetes"], 4)
    near_score = entry["intent_score"]["kubernetes"]
    record["answers"]["m"].append(evaluation.answer_record(k1.output, k1.kind, k1.intent))  # two samples: both count
    two = evaluation.summarize([record], [Candidate("m", "x")], samples=2)["models"][0]
    assert two["intent_score"]["kubernetes"] == pytest.approx((near_score + 1.0) / 2)
    record["intent"] = {}  # a row without an intent has no score to count
    assert "intent_score" not in evaluation.summarize([record], [Candidate("m", "x")])["models"][0]


def test_pass_is_ok_and_best_practice_stays_apart(records):
    # tf1's answer from b breaks the schema but meets the intent and the best-practice rules: not a pass.
    answer = records[0]["answers"]["b"][0]
    assert answer["schema"]["status"] == "failed" and answer["intent"]["status"] == "passed"
    assert answer["best_practice"]["status"] == "passed" and not answer["ok"]
    assert any("bogus_argument" in reason["message"] for reason in answer["schema"]["reasons"])
    # k1's reference fails a best-practice rule and still passes.
    k1 = records[2]["answers"]["a"][0]
    assert k1["ok"] and k1["best_practice"]["status"] == "failed"
    assert records[1]["answers"]["a"][0]["wrong_language"] == "python"


def test_pass_at_k_from_several_samples(rows):
    tf1 = rows[0]
    record = evaluation.row_record(tf1)
    # Row 1: one passing answer of four; row 2: none of four.
    record["answers"]["m"] = [evaluation.answer_record(text, tf1.kind, tf1.intent)
                              for text in (tf1.output, BOTO3, BOTO3, "")]
    other = evaluation.row_record(rows[1])
    other["answers"]["m"] = [evaluation.answer_record("", "terraform", None)] * 4
    entry = evaluation.summarize([record, other], [Candidate("m", "x")], samples=4)["models"][0]
    assert entry["answers"] == 8
    assert entry["rates"]["pass"] == 1 / 8
    # pass@1 = mean over rows of c/n = (1/4 + 0) / 2; pass@2 = (1 - C(3,2)/C(4,2)) / 2 = 0.25; pass@4 = 0.5.
    assert entry["pass_at_k"] == {"1": 0.125, "2": 0.25, "4": 0.5}


def test_pass_at_k_estimator():
    assert evaluation.pass_at_k(10, 0, 5) == 0.0
    assert evaluation.pass_at_k(10, 10, 1) == 1.0
    assert evaluation.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert evaluation.pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)
    with pytest.raises(ValueError):
        evaluation.pass_at_k(4, 1, 5)


def test_results_files_keep_the_export_format(records, home):
    contenders = [Candidate("base", "SmolLM2-135M-Instruct (embedded)"),
                  Candidate("fine-tuned", "SmolLM2-135M-Instruct (embedded)", "/ws/runs/sft-1/adapter")]
    records = [{**record, "answers": {"base": record["answers"]["a"], "fine-tuned": record["answers"]["b"]}}
               for record in records]
    results = evaluation.Results(evaluation.summarize(records, contenders), records)
    folder = evaluation.write(results, evaluation.results_folder(run="sft-1"))
    assert folder == home / "runs" / "sft-1" / "eval"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["split"] == "eval" and summary["rows"] == 4
    assert [m["label"] for m in summary["models"]] == ["base", "fine-tuned"]
    assert summary["models"][0]["adapter"] is None
    for entry in summary["models"]:
        assert set(entry["rates"]) == {"extracted", "parses", "schema", "intent", "best_practice", "pass", "loop"}
        assert set(entry["by_kind"]) == {"terraform", "kubernetes"}
    lines = (folder / "rows.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["answers"]["base"][0]["ok"]
    assert evaluation.read(folder).summary == summary
    assert evaluation.find_results() == [folder]
    assert evaluation.results_folder(name="smollm-base") == home / "evaluations" / "smollm-base"


def test_results_written_before_the_one_verdict_shape_still_read(home, rows):
    """rows.jsonl of an older studio kept `stages` and `reasons` strings: read, they count and draw as today's."""
    old = {**evaluation.row_record(rows[0]), "answers": {"base": [{
        "text": "no code", "ok": False, "language": None, "wrong_language": None,
        "stages": {"extracted": "failed", "parses": "skipped", "schema": "skipped", "intent": "skipped",
                   "best_practice": "skipped"},
        "reasons": ["extracted: no code block found"]}]}}
    folder = home / "evaluations" / "old"
    folder.mkdir(parents=True)
    (folder / "rows.jsonl").write_text(json.dumps(old) + "\n")
    (folder / "summary.json").write_text(json.dumps({"rows": 1, "models": []}))
    (answer,) = evaluation.read(folder).rows[0]["answers"]["base"]
    assert answer["extracted"] == {"status": "failed", "score": None, "reasons": [  # that format kept no scores
        {"message": "no code block found", "line": None, "path": None, "severity": "error"}]}
    assert answer["parses"]["status"] == "skipped" and "stages" not in answer and answer["text"] == "no code"
    entry = evaluation.summarize([evaluation.read(folder).rows[0]], [Candidate("base", "m")])["models"][0]
    assert entry["rates"]["extracted"] == 0.0 and entry["answers"] == 1


def test_table_and_chart(records):
    contenders = [Candidate("a", "m"), Candidate("b", "m", "ad")]
    summary = evaluation.summarize(records, contenders)
    frame = evaluation.table(summary)
    overall = frame[(frame.kind == "all") & (frame.stage == "pass")].iloc[0]
    assert (overall["a"], overall["b"], overall["change"]) == (0.5, 0.0, -0.5)
    assert len(frame) == 3 * 8  # the six stages, the intent score and the loop rate, overall and per kind
    score = frame[(frame.kind == "terraform") & (frame.stage == "intent score")].iloc[0]
    assert (score["a"], score["b"], score["change"]) == (0.5, 0.5, 0.0)
    chart = evaluation.figure(summary)
    bars = [trace for trace in chart.data if trace.name == "a"]
    assert len(bars) == 3 and list(bars[0].y) == [0.75, 0.75, 0.75, 0.5, 0.25, 0.5]


def test_uploaded_rows_need_no_reference_answer(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"instruction": "A bucket", "kind": "terraform"}) + "\n")
    (row,) = evaluation.load_rows(path)
    assert row.instruction == "A bucket" and row.intent == {}
    path.write_text('{"instruction": "A bucket"}\n')
    with pytest.raises(evaluation.dataset.DatasetError, match="kind"):
        evaluation.load_rows(path)


LOOP = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n" + "  KEY: value\n" * 40


def test_a_loop_is_its_own_failure_reason(rows, records):
    k1 = rows[2]
    looped = evaluation.answer_record(LOOP, k1.kind, k1.intent)
    assert looped["loop"] == {"line": "KEY: value", "repeats": 40} and looped["failure"] == "loop"
    assert looped["extracted"]["status"] == "passed", "a loop is named apart from the stages' verdicts"
    # no seed reference loops, and the others fail at their first failing stage
    assert all(evaluation.loop_of(row.output) is None for row in evaluation.load_rows(evaluation.EVAL_SPLIT))
    assert [records[i]["answers"]["b"][0]["failure"] for i in range(4)] == ["schema", "parses", "extracted", "extracted"]
    record = evaluation.row_record(k1)
    record["answers"]["m"] = [looped, evaluation.answer_record(k1.output, k1.kind, k1.intent)]
    entry = evaluation.summarize([record], [Candidate("m", "x")], samples=2)["models"][0]
    assert entry["rates"]["loop"] == 0.5 and entry["failures"] == {"loop": 0.5}
    frame = evaluation.table(evaluation.summarize([record], [Candidate("m", "x")], samples=2))
    assert frame[(frame.kind == "all") & (frame.stage == "loop")].iloc[0]["m"] == 0.5


def test_pass_at_k_beside_greedy(rows):
    tf1 = rows[0]
    record = evaluation.row_record(tf1)
    record["answers"]["m"] = [evaluation.answer_record(BOTO3, tf1.kind, tf1.intent)]          # greedy fails
    record["sampled"] = {"m": [evaluation.answer_record(text, tf1.kind, tf1.intent)
                               for text in (BOTO3, tf1.output, "", BOTO3)]}                  # 1 of 4 samples passes
    entry = evaluation.summarize([record], [Candidate("m", "x")])["models"][0]
    assert entry["rates"]["pass"] == 0.0 and entry["answers"] == 1
    assert entry["sampled"]["k"] == 4 and entry["sampled"]["rates"]["pass"] == 0.25
    assert entry["sampled"]["pass_at_k"] == {"1": 0.25, "2": 0.5, "4": 1.0} == entry["pass_at_k"]
    frame = evaluation.table(evaluation.summarize([record], [Candidate("m", "x")]))
    assert list(frame[frame.stage.str.startswith("pass@")]["m"]) == [0.25, 0.5, 1.0]
