"""Worked examples (studio.examples): each training row with the nearest other row of its kind as an example, never
itself nor a twin; an SFT with `worked_examples` keeps that pool with its adapter, and the evaluation, the Compare
tab's requests and a GRPO from the adapter ask it with its examples too. Real rows, a tiny model, real jobs."""

from __future__ import annotations

import dataclasses
import doctest
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import runner, specs
from jobs.run_folder import RunFolder
from studio import dataset, evaluation, examples, generation
from tests.jobs.conftest import tiny_job

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_job(spec: specs.JobSpec, home: Path, folder: Path) -> RunFolder:
    specs.save(spec, folder / "job.yaml")
    env = {**os.environ, "INFRAMIND_HOME": str(home), "OMP_NUM_THREADS": "1", "INFRAMIND_GPUS": "none"}
    env.pop(runner.SUPERVISED_ENV, None)
    result = subprocess.run([sys.executable, "-m", "jobs", "run", str(folder / "job.yaml")], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return RunFolder(home / "runs" / spec.output)


def test_each_row_gets_the_nearest_row_of_its_kind_never_itself_nor_its_twin(tmp_path):
    train = dataset.read_jsonl(PROJECT_ROOT / "data" / "train.jsonl")
    twins = [dataclasses.replace(row, id=f"twin-{row.id}") for row in train[:40]]
    shown = examples.training_rows(train, train + twins)
    by_answer = {row.output: row for row in train + twins}
    assert [(row.id, row.instruction, row.output) for row in shown] == [(r.id, r.instruction, r.output) for r in train]
    for original, row in zip(train, shown):
        assert row.input.startswith(original.input.strip()) and examples.has_example(row)
        example = by_answer[examples.shown(row.input)[1]]
        assert example.kind == row.kind and example.output != row.output, "never the row itself, nor its twin"
        assert dataset.jaccard(examples.shingles(original), examples.shingles(example)) <= examples.NEAREST_EVAL
    assert examples.training_rows(shown, train) == shown, "a row that carries an example keeps it"
    assert examples.attach(train[:3], None) == train[:3], "no pool: the rows as they are"
    examples.save_pool(tmp_path, train + twins)  # a model folder keeping that pool: GRPO's prompts get the same
    assert examples.attach(train, tmp_path, exclude_near=True) == shown
    assert examples.shown(examples.attach(twins[:1], tmp_path)[0].input)[1] == train[0].output, "a later request may take it"
    result = doctest.testmod(examples)
    assert result.attempted > 0 and result.failed == 0


def test_an_sft_with_worked_examples_is_asked_with_them_wherever_it_answers(job_home, tiny_llama, rows, tmp_path,
                                                                             monkeypatch):
    sft = run_job(tiny_job("sft", tiny_llama, rows, max_steps=1, output="sft-examples", max_length=640,
                           worked_examples=True, example_rerank=3), job_home, tmp_path)  # eval rows get examples too
    pool = dataset.read_jsonl(sft.adapter / examples.POOL_FILE)
    assert pool == dataset.read_jsonl(rows[0]), "the pool is the training rows, kept with the adapter"
    assert examples.rerank_of(sft.adapter) == 3, "and how the examples were chosen"
    assert ("[job] worked examples: each row with an example after its request, of the 3 nearest, the one whose "
            "answer names the most of the request of 12 rows (12 of 12 found one)") in sft.log_file.read_text()
    assert json.loads((sft.path / "summary.json").read_text())["eval_loss"] is not None

    # The evaluation asks the base and the fine-tuned model the same requests, each with its example.
    monkeypatch.setenv("INFRAMIND_EVAL_ENGINE", "transformers")
    held_out = dataset.read_jsonl(rows[1])[:2]
    results = evaluation.evaluate(held_out, evaluation.candidates(str(tiny_llama), adapter=str(sft.adapter)),
                                  generation.Settings(max_new_tokens=4), batch_size=2)
    for row, record in zip(held_out, results.rows):
        assert record["input"].startswith(examples.LEAD), "the held-out rows have no input of their own"
        assert examples.shown(record["input"])[1].startswith(
            "```hcl" if row.kind == "terraform" else "```yaml"), "an example of the request's kind"
        assert set(record["answers"]) == {"base", "fine-tuned"}
    # A request typed into the Generate or Compare tab: its example after it; a model without a pool: as typed.
    asked = examples.request_input(sft.adapter, "An S3 bucket named audit-logs.", "terraform")
    assert asked.startswith(examples.LEAD) and 'resource "aws_s3_bucket"' in asked
    assert examples.request_input(tiny_llama, "An S3 bucket named audit-logs.", "terraform", "ctx") == "ctx"
    monkeypatch.setenv("INFRAMIND_COMPARE_ENGINE", "transformers")
    from studio.ui import compare as compare_tab
    from studio.ui.widgets import GREEDY

    *_, last = compare_tab._compare(str(tiny_llama), str(sft.adapter), "terraform", "An S3 bucket named audit-logs.",
                                    "", GREEDY, 0.0, 4, 0, None, progress=lambda *args, **kwargs: None)
    right_status, pair = last[4], last[6]
    assert "both asked with a worked example: “" in right_status
    assert examples.shown(pair["messages"][1]["content"])[0][:100] in right_status, "the vote keeps what was asked"
    # A merged model keeping the pool (as an export's merged/ folder does): the Generate endpoint asks it so too.
    merged = tmp_path / "merged"
    shutil.copytree(tiny_llama, merged)
    examples.copy_pool(sft.adapter, merged)
    *_, (answer, status) = compare_tab.generate(str(merged), "terraform", "An S3 bucket named audit-logs.", 4, 0.0)
    assert " · asked with a worked example: “" in status
    assert "worked example" not in list(compare_tab.generate(str(tiny_llama), "terraform", "A bucket.", 4, 0.0))[-1][1]

    # GRPO from that adapter: its prompts carry examples, and its adapter keeps the same pool.
    grpo = run_job(tiny_job("grpo", tiny_llama, rows, max_steps=1, output="grpo-examples", adapter=str(sft.adapter),
                            max_length=640), job_home, tmp_path)
    assert ("[job] worked examples: each prompt with an example after its request, of the 3 nearest, the one whose "
            "answer names the most of the request of the adapter's pool") in grpo.log_file.read_text()
    assert dataset.read_jsonl(grpo.adapter / examples.POOL_FILE) == pool
    assert examples.rerank_of(grpo.adapter) == 3

    # DPO from it: the requests it mines answers to carry their examples, and its adapter keeps the pool too.
    dpo = run_job(tiny_job("dpo", tiny_llama, rows, max_steps=1, output="dpo-examples", adapter=str(sft.adapter),
                           eval_dataset="", votes=False, mine_samples=2, mine_limit=2, mine_max_new_tokens=8,
                           mine_reference=True, max_length=640), job_home, tmp_path)
    mined = [json.loads(line) for line in (dpo.path / "pairs.jsonl").read_text().splitlines()]
    assert len(mined) == 2 and all(examples.LEAD in json.dumps(pair["prompt"]) for pair in mined)
    assert dataset.read_jsonl(dpo.adapter / examples.POOL_FILE) == pool and examples.rerank_of(dpo.adapter) == 3


def test_the_train_tab_warns_of_rows_cut_as_they_are_with_their_examples(job_home, tiny_llama, rows):
    from studio import dataset_tokens
    from studio.ui import train

    longest = max(dataset_tokens.token_lengths(dataset.read_jsonl(rows[0]),
                                               dataset_tokens.tokenizer_for(str(tiny_llama))))
    plain = tiny_job("sft", tiny_llama, rows, max_length=longest)
    assert train._cut_rows(plain) is None, "every row fits as it stands"
    warning = train._cut_rows(dataclasses.replace(plain, worked_examples=True))
    assert warning.startswith("12 of 12 rows are longer than max_length") and "Raise max_length to" in warning


def test_rerank_takes_of_the_nearest_rows_the_one_whose_answer_names_what_was_asked():
    def row(instruction, output, kind="terraform", id=""):
        return dataset.Row(instruction, output, kind, id=id)

    asked = row("A queue for orders with a dead-letter queue.", "", id="asked")
    worded_alike = row("A queue for orders with a dead-letter queue, please.", 'resource "aws_sns_topic" "x" {}')
    naming_it = row("A queue for orders.", 'resource "aws_sqs_queue" "orders" {}\n# dead letter queue for orders')
    other_kind = row("A queue for orders with a dead-letter queue.", "kind: Queue orders dead letter", "kubernetes")
    index = examples.Index([worded_alike, naming_it, other_kind])
    assert index.examples([asked], exclude_near=False) == [worded_alike], "the nearest request"
    assert index.examples([asked], exclude_near=False, rerank=2) == [naming_it], "the answer that names it"
    assert index.examples([asked], exclude_near=False, rerank=1) == [worded_alike]
    assert examples.Index([worded_alike, naming_it], rerank=2).examples([asked], exclude_near=False) == [naming_it]


def test_a_pool_keeps_how_its_examples_are_chosen_and_a_copy_keeps_it_too(tmp_path):
    train = dataset.read_jsonl(PROJECT_ROOT / "data" / "train.jsonl")
    asked = dataset.read_jsonl(PROJECT_ROOT / "data" / "eval.jsonl")[:30]
    nearest, by_answer = examples.Index(train).examples(asked, False), examples.Index(train).examples(asked, False, 40)
    assert nearest != by_answer, "the two ways choose differently on real rows"
    examples.save_pool(tmp_path / "adapter", train, rerank=40)
    examples.save_pool(tmp_path / "plain", train)
    for folder, chosen in (("adapter", by_answer), ("plain", nearest)):
        attached = examples.attach(asked, tmp_path / folder)
        assert [examples.shown(row.input)[1] for row in attached] == [row.output for row in chosen]
    assert examples.copy_pool(tmp_path / "adapter", tmp_path / "merged")
    assert examples.rerank_of(tmp_path / "merged") == 40
    (tmp_path / "plain" / examples.SETTINGS_FILE).unlink()  # a pool saved before the settings were: the nearest
    assert examples.rerank_of(tmp_path / "plain") == 0 and examples.attach(asked[:3], tmp_path / "plain")[0].input
    (tmp_path / "merged" / examples.SETTINGS_FILE).write_text("[40]")
    with pytest.raises(ValueError, match="examples.json is not a JSON object with a whole number `rerank`"):
        examples.index_of(tmp_path / "merged")
    with pytest.raises(specs.SpecError, match=r"example_rerank must be a whole number from 0 \(the nearest row\)"):
        specs.SFTJob(dataset="d.jsonl", worked_examples=True, example_rerank=-1)


def test_the_sparse_index_scores_as_the_dense_tf_idf_cosine_rows_without_words_too():
    import numpy as np

    seed = dataset.read_jsonl(PROJECT_ROOT / "data" / "train.jsonl")[:30]
    wordless = [dataset.Row("!!!", "```hcl\n```", "terraform"), dataset.Row("???", "```yaml\n```", "kubernetes")]
    pool = wordless[:1] + seed[:15] + wordless[1:] + seed[15:] + wordless
    index = examples.Index(pool)
    asked = dataset.read_jsonl(PROJECT_ROOT / "data" / "eval.jsonl")[:40] + wordless[:1]
    dense = index.vectors(pool)
    assert np.allclose(index.similarity(asked), index.vectors(asked) @ dense.T, atol=1e-6)
    assert (index.similarity(wordless) == 0).all()


def test_examples_may_come_from_rows_the_sft_does_not_train_on(tmp_path):
    from jobs import training

    spec = specs.SFTJob(dataset="data/train.jsonl", worked_examples=True, examples_dataset="data/eval.jsonl")
    pool = training.example_pool(spec)
    assert pool == dataset.read_jsonl(PROJECT_ROOT / "data/train.jsonl") + dataset.read_jsonl(
        PROJECT_ROOT / "data/eval.jsonl"), "the dataset, then the extra rows"
    assert training.example_pool(dataclasses.replace(spec, examples_dataset="")) == pool[:619]
    assert spec.with_paths_resolved(PROJECT_ROOT).examples_dataset == str(PROJECT_ROOT / "data" / "eval.jsonl")
    missing = dataclasses.replace(spec, examples_dataset=str(tmp_path / "generated.jsonl")).missing_files()
    assert missing == [f"examples_dataset {str(tmp_path / 'generated.jsonl')!r} does not exist (build it: python -m "
                       "studio.synth --out data/generated.jsonl)"]
    with pytest.raises(specs.SpecError, match="examples_dataset must be a .jsonl file, not 'rows.csv'"):
        dataclasses.replace(spec, examples_dataset="rows.csv")
