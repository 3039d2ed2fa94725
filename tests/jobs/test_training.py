"""Real jobs on a tiny random model on the CPU, in real processes: the CLI, the runner's queue, stop and resume,
kill -9, and GRPO with the IaC rewards. Each job is a few steps of short sequences."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import runner, specs
from jobs.run_folder import RunFolder
from jobs.store import JobStore
from tests.jobs.conftest import tiny_job, wait_for, write_rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 240


def lora_b_norms(adapter: Path) -> list[float]:
    """The norms of the adapter's B matrices, which PEFT initializes to zero: any non-zero one was trained."""
    from safetensors.torch import load_file

    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    norms = [float(t.float().norm()) for name, t in tensors.items() if "lora_B" in name]
    assert norms, f"no LoRA B weights in {adapter}"
    return norms


def training_lines(run: RunFolder) -> list[dict]:
    return [row for row in run.metrics() if row.get("loss") is not None]


def _cli(job_yaml: Path, home: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INFRAMIND_HOME": str(home), "OMP_NUM_THREADS": "1", "INFRAMIND_GPUS": "none", **extra_env}
    env.pop(runner.SUPERVISED_ENV, None)
    return subprocess.run([sys.executable, "-m", "jobs", "run", str(job_yaml)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def sft_by_cli(tiny_llama, tmp_path_factory):
    """An SFT job of 4 steps run with `python -m jobs run job.yaml`, as a person would from a shell."""
    root = tmp_path_factory.mktemp("cli")
    rows = write_rows(root / "train.jsonl", 12), write_rows(root / "eval.jsonl", 4)
    spec = tiny_job("sft", tiny_llama, rows, max_steps=4, eval_steps=2, output="sft-cli")
    specs.save(spec, root / "job.yaml")
    result = _cli(root / "job.yaml", root / "workspace")
    return root / "workspace", RunFolder(root / "workspace" / "runs" / "sft-cli"), result


def test_an_sft_job_trains_through_the_cli(sft_by_cli, monkeypatch):
    home, run, result = sft_by_cli
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    from jobs.metrics import TRAINING_FIELDS

    lines = training_lines(run)
    assert [row["step"] for row in lines] == [1, 2, 3, 4]
    for row in lines:
        assert set(TRAINING_FIELDS) <= set(row), set(TRAINING_FIELDS) - set(row)
        assert row["total_steps"] == 4 and row["epoch"] > 0 and row["loss"] > 0 and row["grad_norm"] is not None
        assert row["learning_rate"] is not None and row["tokens_per_s"] > 0 and row["eta_s"] is not None
        assert row["peak_memory_bytes"] > 0 and row["peak_memory_of"] == "rss" and row["mfu"] is None
    assert lines[-1]["elapsed_s"] > lines[0]["elapsed_s"]
    assert [row["step"] for row in run.metrics() if row.get("eval_loss") is not None] == [2, 4]

    assert max(lora_b_norms(run.adapter)) > 0, "the adapter's weights never moved from their initial zeros"
    assert (run.adapter / "adapter_config.json").is_file() and (run.adapter / "tokenizer_config.json").is_file()
    assert specs.load(run.spec_file).output == "sft-cli"
    summary = run.summary()
    assert summary["steps"] == 4 and summary["eval_loss"] > 0 and summary["tokens_per_s"] > 0
    log = run.log_file.read_text()
    assert "[metrics] step 4/4" in log, "a job started by hand keeps its train.log too"
    assert "kernels-community" not in log, "bitsandbytes' hub-kernel notice, nothing a user can act on"

    # Started by hand, it is in the store like a queued job, and the other tabs find its adapter.
    job = JobStore(home / "jobs.sqlite").get("sft-cli")
    assert (job.state, job.exit_code) == ("succeeded", 0)
    monkeypatch.setenv("INFRAMIND_HOME", str(home))
    from studio import adapters

    assert [adapter.run for adapter in adapters.find()] == ["sft-cli"]


@pytest.mark.parametrize("autocast", ["1", "0"])
def test_the_cpus_auto_plan_trains_under_bf16_autocast_or_in_fp32(tiny_llama, tmp_path, autocast):
    """`speed: auto` on the CPU: under bf16 autocast (where the CPU multiplies bf16 faster; forced here either way)
    the job trains as in fp32, rows batched by length, and train.log says which it ran."""
    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("sft", tiny_llama, rows, max_steps=3, eval_steps=3, output="sft-cpu-auto")
    specs.save(spec, tmp_path / "job.yaml")
    from jobs import estimate

    result = _cli(tmp_path / "job.yaml", tmp_path / "workspace", **{estimate.CPU_BF16_ENV: autocast})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = RunFolder(tmp_path / "workspace" / "runs" / "sft-cpu-auto")
    log = run.log_file.read_text()
    assert "rows of like length" in log
    assert ("bf16 autocast" in log) == (autocast == "1") and ("fp32 (speed auto" in log) == (autocast == "0")
    losses = [row["loss"] for row in training_lines(run)]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert max(lora_b_norms(run.adapter)) > 0


def test_queued_grpo_and_sft_jobs_run_one_after_the_other(sft_by_cli, job_home, tiny_llama, rows):
    """Through the runner: a GRPO job of two steps, rewarded by the IaC validators and starting from the SFT run's
    adapter, then an SFT job queued behind it on the one CPU slot."""
    from studio.iac.rewards import COMPONENTS

    _, sft_run, _ = sft_by_cli
    # rollout: studio samples with the studio's engine (a GPU's default) here on the CPU, through GRPO's own loop
    grpo = runner.submit(tiny_job("grpo", tiny_llama, rows, max_steps=2, output="grpo",
                                  adapter=str(sft_run.adapter), rollout="studio"))
    second = runner.submit(tiny_job("sft", tiny_llama, rows, output="second", eval_dataset=""))
    assert (grpo.state, grpo.devices) == ("running", "cpu")
    assert second.state == "queued", "one job at a time on the CPU"

    store = JobStore()
    wait_for(lambda: store.get("second").state not in ("queued", "running"), RUN_TIMEOUT_S,
             what="both jobs to finish")
    grpo, second = store.get("grpo"), store.get("second")
    assert (grpo.state, second.state) == ("succeeded", "succeeded"), (grpo.message, second.message)
    assert grpo.ended_at <= second.started_at
    grpo_lines, second_lines = training_lines(RunFolder.named("grpo")), training_lines(RunFolder.named("second"))
    assert grpo_lines[-1]["time"] < second_lines[0]["time"], "the second job trained while the first did"

    assert [row["step"] for row in grpo_lines] == [1, 2]
    for row in grpo_lines:
        for component in COMPONENTS:
            assert isinstance(row[f"reward_{component}_mean"], float), f"{component} missing at step {row['step']}"
            assert isinstance(row[f"reward_{component}_std"], float)
        assert 0.0 <= row["frac_zero_std"] <= 1.0 and row["reward"] is not None and row["tokens_per_s"] > 0
        assert 0.0 <= row["iac_ok"] <= 1.0
        # the step's time split: generating, scoring and training add up to the step
        assert row["generate_s"] > 0 and row["reward_s"] > 0 and row["train_s"] > 0
        assert abs(row["generate_s"] + row["reward_s"] + row["train_s"] - row["step_s"]) < 0.01
    grpo_run = RunFolder.named("grpo")
    assert "[job] rollout: the studio's engine" in grpo_run.log_file.read_text()
    from studio.ui.jobs import job_details  # the Jobs tab shows the last step's split

    assert "Step " in job_details(store, "grpo") and "generate" in job_details(store, "grpo")
    summary = grpo_run.summary()
    assert summary["started_from"] == str(sft_run.adapter)
    assert set(summary["rewards"]) == {f"reward_{c}" for c in COMPONENTS}
    assert "[job] starting from the adapter in" in grpo_run.log_file.read_text()
    assert (grpo_run.adapter / "adapter_model.safetensors").is_file()
    assert max(lora_b_norms(RunFolder.named("second").adapter)) > 0


def test_stop_then_resume_from_the_checkpoint_then_kill_9(job_home, tiny_llama, rows):
    """Stop checkpoints the step it ends on; resume continues there with the optimizer and the schedule; kill -9
    leaves a failed job with its last log lines that can be resumed."""
    base_lr, total = 1e-3, 2000
    runner.submit(tiny_job("sft", tiny_llama, rows, output="long", eval_dataset="", max_steps=total,
                           learning_rate=base_lr))
    store = JobStore()
    run = RunFolder.named("long")
    wait_for(lambda: any(row["step"] >= 3 for row in training_lines(run)), RUN_TIMEOUT_S, what="step 3")

    assert runner.stop("long").state == "running"
    job = wait_for(lambda: (j := store.get("long")).state != "running" and j, 120, what="the stop")
    assert job.state == "stopped", job.message
    stopped_at = run.stopped()["step"]
    checkpoint = run.last_checkpoint()
    assert checkpoint.name == f"checkpoint-{stopped_at}" and job.message.startswith(f"stopped at step {stopped_at}")
    assert (checkpoint / "optimizer.pt").is_file() and (checkpoint / "scheduler.pt").is_file()
    assert training_lines(run)[-1]["step"] == stopped_at

    runner.resume("long")
    wait_for(lambda: any(row["step"] >= stopped_at + 2 for row in training_lines(run)), RUN_TIMEOUT_S,
             what="steps after the resume")
    trainer = store.get("long")
    os.kill(trainer.trainer_pid, signal.SIGKILL)

    steps = [row["step"] for row in training_lines(run)]
    assert steps[: stopped_at + 1] == list(range(1, stopped_at + 2)), "the resumed run continues at the next step"
    resumed = next(row for row in training_lines(run) if row["step"] == stopped_at + 1)
    # Linear decay without warm-up: the step after the checkpoint has the rate the restored scheduler gives it.
    assert resumed["learning_rate"] == pytest.approx(base_lr * (1 - stopped_at / total), rel=1e-6)
    assert "[job] resuming from checkpoint-" in run.log_file.read_text()

    job = wait_for(lambda: (j := store.get("long")).state != "running" and j, 60, what="the kill to be noticed")
    assert job.state == "failed" and job.exit_code == -signal.SIGKILL
    assert "killed by SIGKILL" in job.message and f"resume continues from checkpoint-{stopped_at}" in job.message
    assert "[metrics] step" in job.message, "the last log lines come with the failure"
    assert store.requeue("long", resume=True).state == "queued"


def test_grpo_validates_on_a_pool_only_beside_a_gpu(monkeypatch):
    from jobs.grpo import reward_workers
    from jobs.training import Setup

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    setup = Setup(device="cuda", dtype="bf16", four_bit=False, world_size=1, rank=0, local_rank=0, note="", plan=None)
    assert reward_workers(setup) == 16
    assert reward_workers(dataclasses.replace(setup, world_size=4)) == 4, "the cores shared among the processes"
    assert reward_workers(dataclasses.replace(setup, device="cpu")) == 0, "on the CPU the model holds every core"


def test_a_step_with_a_nan_gradient_is_skipped_and_the_weights_stay_finite(tmp_path):
    """A real Trainer run of three steps whose second gradient is NaN (as an H200 GRPO run's step 26 was): the
    guard drops that update, the other two happen, and no weight becomes NaN."""
    import torch
    from transformers import Trainer, TrainingArguments

    from jobs import training

    class Line(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(4))

        def forward(self, x, y):
            return {"loss": ((x * self.weight).sum(-1) - y).pow(2).mean()}

    model, calls = Line(), []

    def poison_the_second(grad):
        calls.append(len(calls) + 1)
        return torch.full_like(grad, float("nan")) if len(calls) == 2 else grad

    model.weight.register_hook(poison_the_second)
    rows = [{"x": torch.randn(4), "y": torch.tensor(3.0)} for _ in range(6)]
    guard = training.finite_gradients()
    weights = []

    from transformers import TrainerCallback

    class Record(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            weights.append(model.weight.detach().clone())

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=2,
                             learning_rate=0.1, report_to=[], save_strategy="no", use_cpu=True,
                             logging_steps=1, disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=rows, callbacks=[guard, Record()]).train()

    assert guard.skipped == [2]
    assert all(bool(w.isfinite().all()) for w in weights)
    assert not torch.equal(weights[0], torch.ones(4))  # step 1 updated
    assert torch.equal(weights[1], weights[0])  # step 2 skipped
    assert not torch.equal(weights[2], weights[1])  # step 3 updated


@pytest.mark.parametrize("mixed_precision", ["bf16", "no"])
def test_adapters_read_bf16_inputs_only_under_bf16_autocast(tiny_llama, mixed_precision):
    """`speed: auto`'s LoRA plan turns PEFT's cast of each adapter's input to fp32 off where the Trainer runs
    under bf16 autocast: the loss and the adapters' gradients are those of the cast (autocast multiplies in bf16
    either way). Without autocast the cast stays (an fp32 adapter cannot take a bf16 input)."""
    from types import SimpleNamespace

    import torch
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer
    from transformers import AutoModelForCausalLM

    from jobs import training

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.bfloat16)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                                             target_modules=["q_proj", "v_proj", "gate_proj", "down_proj"]))
    adapters = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    assert adapters and all(m.lora_A["default"].weight.dtype == torch.float32 for m in adapters)
    ids = torch.randint(0, model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0))

    def loss_and_grads():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return float(loss), [m.lora_A["default"].weight.grad.clone() for m in adapters]

    cast_loss, cast_grads = loss_and_grads()
    plan = SimpleNamespace(adapter_input_cast=False)
    training.adapter_inputs(SimpleNamespace(accelerator=SimpleNamespace(mixed_precision=mixed_precision),
                                            model=model), plan)
    assert all(m.cast_input_dtype_enabled == (mixed_precision != "bf16") for m in adapters)
    loss, grads = loss_and_grads()
    assert loss == pytest.approx(cast_loss, rel=1e-3)
    for grad, reference in zip(grads, cast_grads):
        assert torch.allclose(grad, reference, rtol=2e-2, atol=1e-4)


def test_kept_layers_skip_their_recomputation_and_train_the_same(tiny_llama, tmp_path):
    """A checkpointed plan that keeps the last layer (`TrainingPlan.kept_layers`): a real Trainer step runs the kept
    layer's MLP once and the recomputed layer's twice (forward and recomputation), with the loss and the adapters'
    updates of full checkpointing."""
    from types import SimpleNamespace

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from jobs import training

    ids = torch.randint(0, 200, (4, 16), generator=torch.Generator().manual_seed(0))
    rows = [{"input_ids": row, "labels": row} for row in ids]

    def one_step(kept: int) -> tuple[list[int], float, list]:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                                                 target_modules=["q_proj", "v_proj", "down_proj"]))
        layers = list(model.base_model.model.model.layers)
        calls = [0] * len(layers)
        for index, layer in enumerate(layers):
            # a pre-hook: the recomputation stops once it has the tensors the backward needs, inside the MLP
            layer.mlp.register_forward_pre_hook(lambda *_, i=index: calls.__setitem__(i, calls[i] + 1))
        args = TrainingArguments(output_dir=str(tmp_path / str(kept)), max_steps=1, per_device_train_batch_size=4,
                                 learning_rate=0.1, report_to=[], save_strategy="no", use_cpu=True, logging_steps=1,
                                 disable_tqdm=True, gradient_checkpointing=True,
                                 gradient_checkpointing_kwargs={"use_reentrant": False})
        trainer = Trainer(model=model, args=args, train_dataset=rows)
        training.keep_layers(trainer, SimpleNamespace(gradient_checkpointing=True, kept_layers=kept))
        loss = trainer.train().training_loss
        flags = [layer.gradient_checkpointing for layer in layers]
        assert flags == [True] * (len(layers) - kept) + [False] * kept
        return calls, loss, [p.detach().clone() for n, p in model.named_parameters() if "lora_" in n]

    assert len(AutoModelForCausalLM.from_pretrained(tiny_llama).model.layers) == 2
    all_calls, all_loss, all_weights = one_step(0)
    kept_calls, kept_loss, kept_weights = one_step(1)
    assert all_calls == [2, 2] and kept_calls == [2, 1]
    assert kept_loss == pytest.approx(all_loss, rel=1e-5)
    for weight, reference in zip(kept_weights, all_weights):
        assert torch.allclose(weight, reference, atol=1e-6)
