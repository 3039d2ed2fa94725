"""The recipes: their files are valid jobs that chain, a scaled-down run goes through bench/recipe.py's code path
(SFT, GRPO from its adapter, base / SFT / SFT+GRPO evaluated), the Train tab queues both phases in order, and the
qwen2.5-0.5b recipe trains on a model of Qwen2.5-0.5B's shape."""

from __future__ import annotations

import json

import pytest

from jobs import recipe, runner, specs
from jobs.store import JobStore
from studio import evaluation
from studio.ui import train as train_tab
from tests.factories import load_script
from tests.jobs.conftest import wait_for


def load_bench():
    return load_script("bench/recipe.py")


def test_the_recipe_files_are_the_two_phases():
    sft, grpo = (specs.load(path) for path in recipe.FILES)
    assert (sft.kind, grpo.kind) == ("sft", "grpo") and grpo.adapter == sft.output
    assert sft.dataset == grpo.dataset == "data/train.jsonl" and sft.gpus == grpo.gpus == 1, "a GPU where there is one"
    named_sft, named_grpo = recipe.phases("r1")
    assert (named_sft.output, named_grpo.output, named_grpo.adapter) == ("r1-sft", "r1-grpo", "r1-sft")
    assert named_sft.dataset == str(runner.PROJECT_ROOT / "data" / "train.jsonl"), "the project's data, from anywhere"


def test_every_recipe_is_sft_then_grpo_from_its_adapter(monkeypatch):
    for name in recipe.RECIPES:
        sft, grpo = recipe.phases("r", name)
        assert (sft.kind, grpo.kind, grpo.adapter) == ("sft", "grpo", "r-sft"), name
        assert not sft.problems() and not grpo.problems(), name
        assert sft.model == grpo.model and grpo.max_completion_length >= 656, "covers the longest training answer"
    gpu_sft, gpu_grpo = recipe.phases("r", "gpu")
    cpu_sft, cpu_grpo = recipe.phases("r", "cpu")
    assert gpu_sft.mix_dataset == str(recipe.GENERATED) and gpu_sft.lora.top_layers == 0 < cpu_sft.lora.top_layers
    prompts = lambda spec: spec.max_steps * spec.batch_size * spec.gradient_accumulation // spec.num_generations
    assert prompts(gpu_grpo) >= 4 * prompts(cpu_grpo), "the GPU buys more GRPO prompts"
    assert recipe.phases("r", "qwen2.5-0.5b")[0].model == "Qwen/Qwen2.5-0.5B-Instruct"
    monkeypatch.setenv(runner.GPUS_ENV, "none")
    assert recipe.default() == "cpu"
    monkeypatch.setenv(runner.GPUS_ENV, "0")
    assert recipe.default() == "gpu", "where jobs have a GPU"



def test_the_qwen_recipe_trains_on_a_model_of_qwen25_05b_shape(job_home, rows, tmp_path):
    """Shape, not quality: one SFT step and one GRPO step of recipes/qwen2.5-0.5b-*.yaml on a random model with
    Qwen2.5-0.5B's configuration (24 layers, hidden 896, 14 heads over 2 KV heads, 151,936-token vocabulary)."""
    from tests.factories import build_qwen25_shape

    model = build_qwen25_shape(tmp_path / "qwen2.5-0.5b-random")
    bench = load_bench()
    for spec in recipe.phases("qwen", "qwen2.5-0.5b", model=str(model), dataset=str(rows[0]), mix_dataset="",
                              max_steps=1, batch_size=2, gradient_accumulation=1, max_length=288,
                              num_generations=2, max_completion_length=8):
        bench.run_phase(spec)
        assert (spec.run_folder() / "adapter" / "adapter_config.json").is_file(), spec.output
    config = json.loads((job_home / "runs" / "qwen-grpo" / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(model) and config["r"] == 32


def test_a_scaled_down_recipe_runs_end_to_end(job_home, tiny_llama, rows):
    bench = load_bench()
    # The cpu recipe trains with worked examples: here from the tiny rows alone (not the generated ones).
    summary, seconds, folder = bench.run_recipe("tiny", limit=3, max_new_tokens=8, model=str(tiny_llama),
                                                dataset=str(rows[0]), max_steps=2, batch_size=2, max_length=640,
                                                examples_dataset="")
    assert [entry["label"] for entry in summary["models"]] == ["base", "SFT", "SFT+GRPO"]
    assert len(evaluation.read(folder).rows) == 3
    assert set(seconds) == {"SFT", "GRPO", "evaluation"} and all(value > 0 for value in seconds.values())
    grpo_run = job_home / "runs" / "tiny-grpo"
    assert folder == grpo_run / "eval" and (grpo_run / "adapter" / "adapter_config.json").is_file()
    assert specs.load(grpo_run / "job.yaml").adapter == "tiny-sft", "GRPO trained the SFT run's adapter further"
    assert (job_home / "runs" / "tiny-sft" / "adapter" / "examples.jsonl").is_file(), "trained with worked examples"
    recipe = json.loads((folder / "recipe.json").read_text())
    assert set(recipe["eta_error"]) == {"SFT", "GRPO"}
    # The Evaluate tab and the export's model card read these results like any other.
    assert evaluation.results_of_run(grpo_run) == folder


def test_the_train_tab_queues_grpo_after_sft(job_home, tiny_llama, rows):
    status = train_tab.launch_recipe("mine", str(tiny_llama), str(rows[0]))
    assert "**mine-sft** (cpu recipe) is" in status and "**mine-grpo** is queued" in status, status
    store = JobStore()
    grpo = store.get("mine-grpo")
    assert grpo.after == "mine-sft" and grpo.state == "queued"
    assert specs.load(job_home / "runs" / "mine-grpo" / "job.yaml").adapter == "mine-sft"
    assert specs.load(job_home / "runs" / "mine-sft" / "job.yaml").dataset == str(rows[0])
    runner.stop("mine-grpo")
    runner.stop("mine-sft", force=True)
    wait_for(lambda: store.get("mine-sft").state not in ("queued", "running"), 60, what="the SFT job to stop")
    again = train_tab.launch_recipe("mine", str(tiny_llama), str(rows[0]))
    assert again.startswith("**Cannot launch:**") and "exists already" in again


def test_the_jobs_table_says_when_both_phases_will_have_ended(job_home):
    """The recipe's GRPO, queued after its SFT, shows the time within which both end: the SFT's ETA plus GRPO's
    budget, which counts from its process's start."""
    from jobs.run_folder import RunFolder
    from studio.ui.jobs import jobs_table

    sft, grpo = recipe.phases("chain")
    store = JobStore()
    store.add("chain-sft", "sft", state="running")
    store.add("chain-grpo", "grpo", after="chain-sft")
    grpo_folder = RunFolder.named("chain-grpo")
    grpo_folder.path.mkdir(parents=True)
    specs.save(grpo, grpo_folder.spec_file)
    assert "after chain-sft</td>" in jobs_table(store), "no ETA of the SFT yet: only the order"
    sft_folder = RunFolder.named("chain-sft")
    sft_folder.path.mkdir(parents=True)
    line = {"step": 12, "total_steps": 40, "step_s": 25.0, "elapsed_s": 300.0, "eta_s": 700.0}
    sft_folder.metrics_file.write_text(json.dumps(line) + "\n")
    assert grpo.max_minutes == 10
    assert "after chain-sft · both within 21m40s" in jobs_table(store)  # 700 s + 10 minutes
    store.update("chain-sft", state="failed")
    assert "after chain-sft</td>" in jobs_table(store), "no estimate once the SFT is not running"


def test_one_phase_at_a_time_needs_the_sft_before_grpo(job_home, tiny_llama, rows):
    """`bench/recipe.py --phase grpo` before `--phase sft`: a clear error, nothing trained."""
    bench = load_bench()
    with pytest.raises(SystemExit, match=r"train it first \(--phase sft\)"):
        bench.train_phase("alone", "cpu", "grpo", model=str(tiny_llama), dataset=str(rows[0]))
    assert not (job_home / "runs" / "alone-grpo").exists()
