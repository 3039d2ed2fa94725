"""bench/paired_rows.py: two evaluations of the same rows compared row by row, on real verdicts."""

import json
import sys

import pytest

from studio import evaluation
from tests.factories import load_script

bench = load_script("bench/paired_rows.py")


def _evaluation(folder, rows, texts):
    """An evaluation folder as `evaluation.write` leaves it, each row answered with its text, judged for real."""
    records = [evaluation.row_record(row) for row in rows]
    for record, row, text in zip(records, rows, texts):
        record["answers"]["fine-tuned"] = [evaluation.answer_record(text, row.kind, row.intent)]
    folder.mkdir()
    (folder / "rows.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (folder / "summary.json").write_text(json.dumps({"models": [{"label": "fine-tuned"}]}))
    return folder


def test_rows_met_whole_by_one_side_only_are_counted_and_tested(tmp_path, monkeypatch, capsys):
    rows = [row for row in evaluation.load_rows(evaluation.EVAL_SPLIT) if row.kind == "terraform"][:3]
    wrong = '```hcl\nresource "aws_sqs_queue" "x" {\n  name = "x"\n}\n```'
    before = _evaluation(tmp_path / "before", rows, [rows[0].output, wrong, wrong])
    after = _evaluation(tmp_path / "after", rows, [wrong, rows[1].output, rows[2].output])
    monkeypatch.setattr(sys, "argv", ["paired_rows.py", str(before), str(after)])
    bench.main()
    found = json.loads(capsys.readouterr().out)
    assert (found["rows"], found["met only after"], found["met only before"]) == (3, 2, 1)
    assert found["gained"] == sorted([rows[1].id, rows[2].id]) and found["lost"] == [rows[0].id]
    assert (found["score higher"], found["score lower"]) == (2, 1), "a reference scores 1, an SQS queue 0"
    assert found["p"] == 1.0 and bench.sign_test(8, 1) == 0.039062 and bench.sign_test(10, 0) == 0.001953


def test_a_folder_without_an_evaluation_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["paired_rows.py", str(tmp_path), str(tmp_path)])
    with pytest.raises(SystemExit, match="no evaluation there"):
        bench.main()
