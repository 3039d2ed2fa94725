"""bench/retrieved_rows.py: each row again with the nearest training row of its kind as a worked example, never the
row itself nor a twin of it; what the eval rows' examples score as they stand; how near answers are to them."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from studio import dataset, evaluation, examples
from tests.factories import load_script

bench = load_script("bench/retrieved_rows.py")


def test_every_row_gets_the_nearest_row_of_its_kind_but_never_its_twin(tmp_path, monkeypatch, capsys):
    train = dataset.read_jsonl("data/train.jsonl")
    # The "generated" rows: seed rows again under other ids, each the twin of a seed row.
    twins = [dataclasses.replace(row, id=f"twin-{row.id}") for row in train[:40]]
    generated = tmp_path / "generated.jsonl"
    generated.write_text("".join(json.dumps(row.to_dict()) + "\n" for row in twins))
    eval_rows = dataset.read_jsonl("data/eval.jsonl")
    monkeypatch.setattr(sys, "argv", ["retrieved_rows.py", "--generated", str(generated), "--out", str(tmp_path)])
    bench.main()
    out = capsys.readouterr().out
    assert "train: 619 rows, 0 without an example" in out and "eval: 121 rows, 0 without an example" in out
    assert "the eval rows' examples as they stand" in out

    by_answer = {row.output.strip(): row for row in train + twins}
    for name, originals in (("train", train), ("eval", eval_rows)):
        written = dataset.read_jsonl(tmp_path / f"{name}.jsonl")
        assert [(row.id, row.instruction, row.output, row.intent) for row in written] == \
            [(row.id, row.instruction, row.output, row.intent) for row in originals], "only the input changes"
        for original, row in zip(originals, written):
            assert row.input.startswith(original.input.strip()) and examples.LEAD in row.input
            example = by_answer[bench.example_of(row.to_dict())]
            assert example.kind == row.kind
            if name == "train":
                assert example.output != row.output, "never the row itself, nor its twin"
                assert dataset.jaccard(examples.shingles(original), examples.shingles(example)) <= examples.NEAREST_EVAL


def test_the_examples_as_they_stand_are_judged_by_the_validators_against_the_rows_intents():
    rows = dataset.read_jsonl("data/eval.jsonl")[:4]
    # Each row's own reference as its "example" meets its intent whole; no example meets nothing.
    figures = bench.copied(rows, [rows[0], rows[1], None, None])
    kinds = {row.kind for row in rows[:2]}
    assert figures["all intent"] == 50.0 and figures["all score"] == 50.0
    assert all(f"{kind} intent" in figures for kind in kinds)


def test_likeness_counts_the_answers_that_copy_their_example(tmp_path):
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[:3]
    index = bench.Index(dataset.read_jsonl("data/train.jsonl"))
    shown = [bench.with_example(row, example).to_dict() for row, example in zip(rows, index.examples(rows, False))]
    shown_examples = {record["id"]: bench.example_of(record) for record in shown}
    records = []
    answers = [shown_examples[rows[0].id], shown_examples[rows[1].id] + "\n# changed", rows[2].output]
    for row, answer in zip(rows, answers):
        record = evaluation.row_record(row)
        record["answers"]["fine-tuned"] = [{"text": answer}]
        records.append(record)
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "rows.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (folder / "summary.json").write_text(json.dumps({"models": [{"label": "fine-tuned"}]}))
    found = bench.likeness(folder, shown_examples)
    assert (found["answers"], found["verbatim"], found["over 0.9"]) == (3, 1, 2)


def test_a_missing_file_is_named_with_how_to_build_it(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "generated.jsonl"
    monkeypatch.setattr(sys, "argv", ["retrieved_rows.py", "--generated", str(missing), "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.main()
    assert f"{missing} is not there (python -m studio.synth --rows 10000" in capsys.readouterr().err
    assert not (tmp_path / "train.jsonl").exists(), "nothing written"
    monkeypatch.setattr(sys, "argv", ["retrieved_rows.py", "--out", str(tmp_path), "--likeness", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.main()
    assert f"{tmp_path / 'eval.jsonl'} is not there" in capsys.readouterr().err
