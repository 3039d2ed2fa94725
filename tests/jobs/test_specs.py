"""Job specs: the defaults the issue asks for, bad specs refused with what to change, job.yaml round trips."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs import specs
from jobs.specs import GRPOJob, SFTJob, SpecError
from studio import models


def test_defaults_are_the_qlora_recipe():
    spec = SFTJob()
    assert (spec.lora.r, spec.lora.alpha, spec.lora.dropout) == (32, 64, 0.05)
    assert spec.lora.targets == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert spec.quantization == "auto" and spec.double_quantization is True
    assert spec.model == models.EMBEDDED and spec.dataset == "data/train.jsonl"
    assert spec.eval_dataset == "data/eval.jsonl"
    assert spec.completion_only_loss is True and spec.packing is False
    assert spec.output.startswith("sft-")


def test_grpo_defaults_take_the_validators_reward_weights():
    from studio.iac.rewards import DEFAULT_WEIGHTS

    spec = GRPOJob()
    assert spec.reward_weights == DEFAULT_WEIGHTS
    assert spec.learning_rate < SFTJob().learning_rate
    assert spec.num_generations >= 2 and spec.adapter == ""


def test_unknown_keys_are_named_with_a_suggestion():
    with pytest.raises(SpecError) as caught:
        specs.from_dict({"kind": "sft", "lerning_rate": 1e-4, "colour": "red"})
    message = str(caught.value)
    assert "unknown key 'lerning_rate' (did you mean 'learning_rate'?)" in message
    assert "unknown key 'colour'" in message


def test_unknown_lora_keys_are_named():
    with pytest.raises(SpecError, match=r"unknown key 'lora.alpah' \(did you mean 'lora.alpha'\?\)"):
        specs.from_dict({"kind": "sft", "lora": {"alpah": 16}})
    with pytest.raises(SpecError, match=r"unknown key 'lora.rank'; lora takes: r, alpha, dropout, targets"):
        specs.from_dict({"kind": "sft", "lora": {"rank": 16}})


def test_an_sft_key_in_a_grpo_spec_is_refused():
    with pytest.raises(SpecError, match="unknown key 'packing'"):
        specs.from_dict({"kind": "grpo", "packing": True})


@pytest.mark.parametrize("changes, expected", [
    ({"batch_size": 0}, "batch_size must be at least 1, not 0"),
    ({"learning_rate": 3.0}, "learning_rate must be in (0, 1), not 3.0"),
    ({"lr_schedule": "cosine-ish"}, "lr_schedule must be one of cosine, linear"),
    ({"quantization": "int8"}, "quantization must be one of auto, nf4, none, not 'int8'"),
    ({"max_length": 8}, "max_length 8 leaves no room for an answer"),
    ({"max_steps": 0, "epochs": 0}, "epochs must be positive when max_steps is 0"),
    ({"output": "../escape"}, "output: '../escape' is not a valid name"),
    ({"lora": {"r": 0}}, "lora.r must be a whole number from 1 to 1024, not 0"),
    ({"lora": {"targets": []}}, "lora.targets must be a non-empty list of module names"),
    ({"lora": {"top_layers": -2}}, "lora.top_layers must be 0 (all layers) or a positive number, not -2"),
    ({"dataset": "rows.csv"}, "dataset must be a .jsonl file, not 'rows.csv'"),
])
def test_bad_values_are_refused_with_what_to_change(changes, expected):
    with pytest.raises(SpecError) as caught:
        specs.from_dict({"kind": "sft", **changes})
    assert expected in str(caught.value)


@pytest.mark.parametrize("changes, expected", [
    ({"batch_size": "four"}, "batch_size must be an integer, not 'four'"),
    ({"max_steps": True}, "max_steps must be an integer, not True"),
    ({"packing": "yes"}, "packing must be true or false, not 'yes'"),
    ({"learning_rate": "fast"}, "learning_rate must be a number, not 'fast'"),
])
def test_values_of_the_wrong_type_are_refused(changes, expected):
    with pytest.raises(SpecError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        specs.from_dict({"kind": "sft", **changes})


def test_num_generations_must_divide_the_generation_batch_and_the_message_offers_choices():
    with pytest.raises(SpecError) as caught:
        GRPOJob(batch_size=3, gradient_accumulation=4, num_generations=5, eval_dataset="")
    assert "12 % 5 != 0, pick 2, 3, 4, 6, 12" in str(caught.value)


def test_grpo_reward_weights_are_checked():
    with pytest.raises(SpecError, match="unknown component\\(s\\) style"):
        GRPOJob(reward_weights={"style": 1.0})
    with pytest.raises(SpecError, match="reward_weights are all 0"):
        GRPOJob(reward_weights={"parse": 0.0})


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as caught:
        specs.from_dict({"kind": "sft", "batch_size": 0, "learning_rate": 2.0, "seed": -1})
    assert len(caught.value.problems) == 3


def test_a_missing_or_unknown_kind_is_refused():
    with pytest.raises(SpecError, match="kind must be one of sft, grpo"):
        specs.from_dict({"model": "x"})


@pytest.mark.parametrize("spec", [
    SFTJob(output="run-a", max_steps=7, packing=True, lora=specs.LoraSettings(r=8, alpha=16, targets=("q_proj",))),
    GRPOJob(output="run-b", adapter="sft-run", reward_weights={"parse": 1.0, "intent": 2.0}, beta=0.04),
])
def test_job_yaml_round_trips(spec, tmp_path):
    path = tmp_path / "job.yaml"
    specs.save(spec, path)
    text = path.read_text()
    assert text.startswith("# InfraMind Studio") and f"kind: {spec.kind}\n" in text
    assert specs.load(path) == spec


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 64), steps=st.integers(0, 10_000), lr=st.floats(1e-7, 0.5), r=st.integers(1, 256),
    dropout=st.floats(0, 0.9), packing=st.booleans(), schedule=st.sampled_from(specs.SCHEDULES),
    targets=st.lists(st.sampled_from(models.LORA_TARGETS), min_size=1, unique=True),
)
def test_any_valid_sft_spec_survives_yaml(batch, steps, lr, r, dropout, packing, schedule, targets):
    spec = SFTJob(output="run", batch_size=batch, max_steps=steps, learning_rate=lr, packing=packing,
                  lr_schedule=schedule, lora=specs.LoraSettings(r=r, alpha=2 * r, dropout=dropout,
                                                                targets=tuple(targets)))
    assert specs.loads(specs.dump(spec)) == spec


def test_an_exponent_in_yaml_is_a_number():
    """PyYAML reads `1e-4` as text; the spec takes it as the number a person wrote."""
    assert specs.loads("kind: sft\nlearning_rate: 1e-4\n").learning_rate == 1e-4


def test_a_broken_job_yaml_names_its_file(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("kind: sft\nbatch_size: [1, 2\n")
    with pytest.raises(SpecError, match="job.yaml: not valid YAML"):
        specs.load(path)
    path.write_text("kind: sft\nbatch_sise: 2\n")
    with pytest.raises(SpecError, match=r"job.yaml: unknown key 'batch_sise'"):
        specs.load(path)


def test_relative_paths_are_made_absolute(tmp_path):
    spec = SFTJob(dataset="data/train.jsonl", eval_dataset="").with_paths_resolved(tmp_path)
    assert spec.dataset == str(tmp_path / "data" / "train.jsonl") and spec.eval_dataset == ""
    (tmp_path / "my-model").mkdir()
    assert SFTJob(model="my-model").with_paths_resolved(tmp_path).model == str(tmp_path / "my-model")
    # A hub id stays a hub id, and the embedded model its name
    assert SFTJob(model="Qwen/Qwen2.5-0.5B-Instruct").with_paths_resolved(tmp_path).model == \
        "Qwen/Qwen2.5-0.5B-Instruct"
    assert SFTJob().with_paths_resolved(tmp_path).model == models.EMBEDDED


def test_missing_files_are_reported_at_launch_not_on_load(tmp_path):
    spec = GRPOJob(dataset=str(tmp_path / "nope.jsonl"), eval_dataset="", adapter=str(tmp_path / "nothing"))
    problems = spec.missing_files()
    assert any("nope.jsonl" in p for p in problems)
    assert any("holds no adapter_config.json" in p for p in problems)
    generated = GRPOJob(dataset=str(tmp_path / "generated.jsonl"), eval_dataset="").missing_files()
    assert any("build it: python -m studio.synth" in p for p in generated), "the gpu recipe's GRPO prompts"


def test_the_starting_adapter_may_be_a_run_name(home):
    spec = GRPOJob(adapter="sft-iac-1", eval_dataset="")
    assert spec.adapter_folder() == home.resolve() / "runs" / "sft-iac-1" / "adapter"


def test_a_run_is_kept_in_the_workspace_unless_output_is_absolute(home, tmp_path):
    assert SFTJob(output="r1").run_folder() == home.resolve() / "runs" / "r1"
    assert SFTJob(output=str(tmp_path / "elsewhere")).run_folder() == tmp_path / "elsewhere"


def test_a_new_kind_is_a_dataclass_and_an_entry_point(monkeypatch):
    """What the Evaluate tab will do for its `eval` kind: nothing else in jobs/ needs to change."""
    monkeypatch.setattr(specs, "KINDS", dict(specs.KINDS))

    @specs.register
    @dataclass(frozen=True)
    class EvalJob(specs.JobSpec):
        kind: ClassVar[str] = "eval-test"
        entry_point: ClassVar[str] = "tests.jobs.test_specs:_never_called"
        samples: int = 50

    spec = specs.loads("kind: eval-test\nsamples: 10\noutput: eval-1\n")
    assert isinstance(spec, EvalJob) and spec.samples == 10
    assert specs.loads(specs.dump(spec)) == spec
    with pytest.raises(SpecError, match="unknown key 'sample'"):
        specs.loads("kind: eval-test\nsample: 10\n")
    assert dataclasses.is_dataclass(spec)


# -- DPO -------------------------------------------------------------------------------------------------


def test_dpo_defaults_mine_from_the_training_requests_and_check_pairs_on_held_out_pairs():
    spec = specs.DPOJob()
    assert spec.kind == "dpo" and spec.entry_point == "jobs.dpo:train"
    assert spec.dataset == "data/train.jsonl" and spec.eval_dataset == "" and spec.mine_samples == 4
    assert (spec.votes, spec.pairs, spec.adapter, spec.beta, spec.loss_type) == (False, (), "", 0.1, "sigmoid")
    mining = spec.mining()
    assert (mining.samples, mining.margin, mining.min_stage_gap, mining.seed) == (4, 0.25, 1, spec.seed)
    assert specs.from_dict({"kind": "dpo", "mine_top_p": 1.0}).mining().top_p == 1.0


@pytest.mark.parametrize("changes, expected", [
    ({"mine_samples": 0}, "nothing to train on: turn on votes, give pair files in pairs, or mine pairs"),
    ({"mine_samples": 1}, "mine_samples must be 0 (no mining) or at least 2 answers per request, not 1"),
    ({"mine_temperature": 0.0}, "mine_temperature must be in (0, 5], not 0.0"),
    ({"mine_top_p": 0.0}, "mine_top_p must be in (0, 1], not 0.0"),
    ({"mine_pairs_per_request": 3}, "mine_pairs_per_request 3 needs 6 answers per request; mine_samples is 4"),
    ({"mine_margin": 0, "mine_min_stage_gap": 0}, "mine_min_stage_gap and mine_margin are both 0"),
    ({"mine_min_stage_gap": 5}, "mine_min_stage_gap must be from 0 to 4, not 5"),
    ({"beta": 0.0}, "beta must be positive, not 0.0"),
    ({"loss_type": "kto"}, "loss_type must be one of sigmoid, ipo, hinge, not 'kto'"),
    ({"sft_weight": -1.0}, "sft_weight must be 0 or more, not -1.0"),
    ({"pairs": ["votes.csv"]}, "pairs must be a list of .jsonl files, not ['votes.csv']"),
    ({"pairs": "a.jsonl"}, "pairs must be a list, not 'a.jsonl'"),
])
def test_bad_dpo_values_are_refused_with_what_to_change(changes, expected):
    with pytest.raises(SpecError) as caught:
        specs.from_dict({"kind": "dpo", **changes})
    assert expected in str(caught.value)


def test_a_grpo_key_in_a_dpo_spec_is_refused_with_a_suggestion():
    with pytest.raises(SpecError, match=r"unknown key 'num_generations'"):
        specs.from_dict({"kind": "dpo", "num_generations": 4})
    with pytest.raises(SpecError, match=r"unknown key 'mine_sample' \(did you mean 'mine_samples'\?\)"):
        specs.from_dict({"kind": "dpo", "mine_sample": 4})


def test_a_dpo_job_on_votes_alone_needs_no_training_requests(home, tmp_path):
    spec = specs.DPOJob(votes=True, mine_samples=0, dataset=str(tmp_path / "nope.jsonl"))
    problems = spec.missing_files()
    assert not any("nope.jsonl" in p for p in problems), "the requests are not read without mining"
    assert any("holds no vote that prefers one answer" in p for p in problems)


def test_dpo_job_yaml_round_trips_with_its_pair_files(tmp_path):
    spec = specs.DPOJob(output="dpo-a", pairs=("a.jsonl", "b.jsonl"), votes=True, mine_samples=0, sft_weight=0.5)
    specs.save(spec, tmp_path / "job.yaml")
    assert "pairs:\n- a.jsonl\n- b.jsonl\n" in (tmp_path / "job.yaml").read_text()
    assert specs.load(tmp_path / "job.yaml") == spec
    resolved = spec.with_paths_resolved(tmp_path)
    assert resolved.pairs == (str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"))


def test_bad_pair_files_are_named_by_line_at_launch(tmp_path):
    good = {"prompt": [{"role": "user", "content": "A bucket"}], "chosen": "bucket = 1", "rejected": "name = 1"}
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps({**good, "chosen": "name = 1"}),
                               json.dumps({"prompt": "x", "chosen": "y"})]) + "\n")
    spec = specs.DPOJob(pairs=(str(path),), mine_samples=0, eval_dataset=str(tmp_path / "gone.jsonl"))
    problems = spec.missing_files()
    assert f"{path}:2: chosen and rejected are the same answer: the pair teaches nothing, drop it" in problems
    assert f"{path}:3: missing 'rejected'" in problems
    assert any("gone.jsonl" in p and "does not exist" in p for p in problems)


def test_mix_dataset_mixes_the_generated_rows_in_at_the_ratio(tmp_path):
    from jobs import training
    from studio import dataset

    def write(name, count):
        rows = [dataset.Row(f"{name} {i}", "```hcl\n```", "terraform", id=f"{name}-{i}") for i in range(count)]
        path = tmp_path / f"{name}.jsonl"
        path.write_text(dataset.jsonl_text(rows))
        return str(path)

    seed, generated = write("seed", 10), write("gen", 200)
    assert len(training.training_rows(SFTJob(dataset=seed))) == 10
    mixed = training.training_rows(SFTJob(dataset=seed, mix_dataset=generated, mix_ratio=0.75))
    assert len(mixed) == 40 and sum(r.id.startswith("gen-") for r in mixed) == 30
    alone = training.training_rows(SFTJob(dataset=seed, mix_dataset=generated, mix_ratio=1.0))
    assert len(alone) == 200 and all(r.id.startswith("gen-") for r in alone)
    again = training.training_rows(SFTJob(dataset=seed, mix_dataset=generated, mix_ratio=0.75))
    assert [r.id for r in again] == [r.id for r in mixed]  # the job's seed fixes the draw
    with pytest.raises(SpecError, match="mix_ratio must be above 0"):
        SFTJob(dataset=seed, mix_dataset=generated, mix_ratio=0)
    with pytest.raises(SpecError, match="mix_dataset must be a .jsonl"):
        SFTJob(mix_dataset="generated.csv")
    missing = SFTJob(mix_dataset=str(tmp_path / "nope.jsonl")).missing_files()
    assert any("python -m studio.synth" in m for m in missing)
    assert specs.loads(specs.dump(SFTJob(dataset=seed, mix_dataset=generated))).mix_dataset == generated
