"""Pairs mined from a model: answers ranked by the real validators (no model needed for the ranking), and the
sampling loop on a tiny random model."""

from __future__ import annotations

import doctest

import pytest

from studio import dataset, pair_mining
from studio.pair_mining import MiningSettings, Scored, pick_pairs, score_answers

INTENT = {"require": [{"resource": "aws_s3_bucket"}]}
PASSES = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```'              # all four stages
SCHEMA_ERROR = '```hcl\nresource "aws_s3_bucket" "logs" {\n  name = "logs"\n}\n```'      # all but schema
BROKEN = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = \n```'                   # extracted only
PYTHON = "```python\nimport boto3\nboto3.client('s3').create_bucket(Bucket='logs')\n```"  # nothing


def test_answers_are_ranked_by_the_stages_they_pass_then_by_reward():
    scored = score_answers([SCHEMA_ERROR, PASSES, PYTHON, BROKEN], "terraform", INTENT)
    assert [answer.stages for answer in scored] == [3, 4, 0, 1]
    assert scored[0].passed == ("extracted", "parses", "intent")
    assert scored[1].passed == ("extracted", "parses", "schema", "intent") and scored[1].verdict == "ok"
    assert scored[0].verdict.startswith("schema:") and scored[2].reward < 0  # wrong language costs reward
    pairs = pick_pairs(scored, pairs_per_request=2)
    assert [(chosen.text, rejected.text) for chosen, rejected in pairs] == [(PASSES, PYTHON), (SCHEMA_ERROR, BROKEN)]


def test_a_pair_needs_more_stages_and_enough_reward_between_its_answers():
    scored = score_answers([PASSES, SCHEMA_ERROR], "terraform", INTENT)
    assert len(pick_pairs(scored)) == 1
    assert pick_pairs(scored, min_stage_gap=2) == [], "1 stage apart is not 2"
    assert pick_pairs(scored, margin=100.0) == [], "too close in reward"
    # The same stages: only a reward gap can make a pair, and only when min_stage_gap allows it.
    twins = [Scored("a", 2, ("extracted", "parses"), 1.0, ""), Scored("b", 2, ("extracted", "parses"), 2.0, "")]
    assert pick_pairs(twins) == []
    assert [(c.text, r.text) for c, r in pick_pairs(twins, min_stage_gap=0, margin=0.5)] == [("b", "a")]
    # Identical answers count once: two copies of one answer are no pair.
    assert pick_pairs(score_answers([PASSES, PASSES + "\n"], "terraform", INTENT), min_stage_gap=0) == []


def test_the_ranking_examples_run():
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for function in (pick_pairs, score_answers):
        for test in doctest.DocTestFinder().find(function, globs={"Scored": Scored, function.__name__: function}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize("changes, expected", [
    ({"samples": 1}, "samples must be at least 2"),
    ({"temperature": 0.0}, "greedy decoding gives k copies of one answer"),
    ({"pairs_per_request": 3}, "pairs_per_request 3 needs 6 answers per request; samples is 4"),
    ({"margin": 0.0, "min_stage_gap": 0}, "min_stage_gap and margin are both 0"),
])
def test_bad_mining_settings_are_named(changes, expected):
    assert any(expected in problem for problem in MiningSettings(**changes).problems())


def rows(count: int) -> list[dataset.Row]:
    return [dataset.Row(instruction=f"An S3 bucket named logs-{i}.", output=PASSES, kind="terraform",
                        intent=INTENT, id=f"r-{i}") for i in range(count)]


def test_mining_samples_a_tiny_model_and_keeps_what_the_validators_rank_apart(tiny_llama):
    from studio import models

    model, tokenizer = models.load(str(tiny_llama), device_map=None)
    settings = MiningSettings(samples=2, max_new_tokens=12, limit=3, batch_size=4, seed=7)
    progress = []
    result = pair_mining.mine(model, tokenizer, rows(5), settings, on_progress=lambda *a: progress.append(a))
    # A random model writes no code: every answer fails extraction, so no request gives a pair.
    assert (result.requests, result.answers, len(result.pairs), result.without_pair) == (3, 6, 0, 3)
    assert progress[-1] == (3, 3, 0) and result.tokens_per_s > 0

    # With each row's own answer among the candidates, every request gives one: the reference over a sample.
    result = pair_mining.mine(model, tokenizer, rows(5), MiningSettings(**{**settings.__dict__, "reference": True}))
    assert len(result.pairs) == 3 and result.by_kind == {"terraform": 3}
    pair = result.pairs[0]
    assert pair["source"] == "mined" and pair["chosen"] == [{"role": "assistant", "content": PASSES}]
    assert pair["chosen_score"]["origin"] == "reference" and pair["chosen_score"]["stages"] == 4
    assert pair["rejected_score"]["origin"] == "sample" and pair["rejected_score"]["stages"] == 0
    assert pair["prompt"][-1] == {"role": "user", "content": pair["prompt"][-1]["content"]}
    # `limit` draws the requests at random (seeded), not the first ones of the file.
    assert {p["id"] for p in result.pairs} != {"r-0", "r-1", "r-2"}
    assert model.training is False


def test_the_mine_command_writes_a_pair_file_the_dpo_job_reads(home, tiny_llama, tiny_adapter, tmp_path, capsys):
    import json

    from studio import preferences

    requests = tmp_path / "train.jsonl"
    requests.write_text("".join(json.dumps(row.to_dict()) + "\n" for row in rows(3)))
    code = preferences.main(["mine", "--model", str(tiny_llama), "--adapter", str(tiny_adapter), "--dataset",
                             str(requests), "--samples", "2", "--max-new-tokens", "8", "--reference"])
    assert code == 0
    out = capsys.readouterr().out
    written = home / "preferences" / f"mined-{tiny_adapter.parent.name}.jsonl"  # named after the adapter's run
    assert f'"file": "{written}"' in out and '"pairs": 3' in out
    assert [pair["source"] for pair in preferences.read_pairs(written)] == ["mined"] * 3
    assert preferences.main(["mine", "--dataset", str(requests), "--samples", "1"]) == 2
    assert "samples must be at least 2" in capsys.readouterr().err
