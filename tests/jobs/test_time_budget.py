"""`max_minutes`: a job runs the steps that fit in its time budget, its learning-rate schedule following the
time. A real Trainer whose steps take a known time, and real SFT and GRPO jobs through the CLI on a tiny model."""

from __future__ import annotations

import time

import psutil
import pytest

from jobs import runner, specs, training
from jobs.run_folder import RunFolder
from tests.jobs.conftest import tiny_job, write_rows
from tests.jobs.test_training import _cli, training_lines


def _slow_line_model(step_s: float):
    import torch

    class SlowLine(torch.nn.Module):
        """One weight; each forward sleeps `step_s`, so a step takes about that long."""

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(4))

        def forward(self, x, y):
            time.sleep(step_s)
            return {"loss": ((x * self.weight).sum(-1) - y).pow(2).mean()}

    return SlowLine()


def _train(tmp_path, make_budget, max_steps: int, step_s: float, schedule: str = "cosine", warmup: float = 0.0):
    """Train with the budget `make_budget()` gives just before training begins; the state, the learning rate of
    each step and the time each ended."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    rates, ends = [], []

    class Record(TrainerCallback):
        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            rates.append(optimizer.param_groups[0]["lr"])

        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.monotonic())

    rows = [{"x": torch.randn(4), "y": torch.tensor(3.0)} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=max_steps, per_device_train_batch_size=2,
                             learning_rate=0.1, lr_scheduler_type=schedule, warmup_steps=warmup, report_to=[],
                             save_strategy="no", use_cpu=True, logging_steps=1, disable_tqdm=True)
    trainer = Trainer(model=_slow_line_model(step_s), args=args, train_dataset=rows, callbacks=[Record()])
    trainer.add_callback(make_budget())
    trainer.train()
    return trainer.state, rates, ends


def test_a_budget_ends_training_and_its_schedule_at_the_deadline(tmp_path, monkeypatch):
    """Far more steps than fit: the run stops at the deadline, and its cosine schedule decays with the time, from
    the peak to about 0 at the last step, never up again."""
    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    # 5 s from the budget's making, the Trainer's set-up out of them: with 2 s one CI run on a loaded machine got only
    # 5 steps in, where more than 10 are asserted
    step_s, seconds_left, minutes, made = 0.05, 5.0, 1.0, {}

    def budget_ending_soon():  # the deadline `seconds_left` from when training begins
        made["started"] = time.monotonic() - 60.0 * minutes + seconds_left
        made["budget"] = training.time_budget(minutes, made["started"])
        return made["budget"]

    state, rates, ends = _train(tmp_path, budget_ending_soon, max_steps=1000, step_s=step_s)
    budget, started = made["budget"], made["started"]
    deadline = started + 60.0 * minutes
    assert budget.ended_early == state.global_step == state.max_steps and 10 < state.global_step < 1000
    slowest = max([step_s] + [later - earlier for earlier, later in zip(ends, ends[1:])])
    assert deadline - 3 * slowest <= ends[-1] <= deadline, "the run ended far before or past its deadline"
    assert rates[0] == pytest.approx(0.1, rel=0.01)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(rates, rates[1:]))
    assert rates[-1] < 0.1 * 0.05
    # halfway from training's start to the deadline, cosine is at half its peak
    middle = min(range(len(ends)), key=lambda i: abs(ends[i] - (budget.began + deadline) / 2))
    assert rates[middle + 1] == pytest.approx(0.05, abs=0.012)


def test_a_budget_that_holds_every_step_keeps_the_steps_schedule(tmp_path):
    made = []
    state, rates, _ = _train(tmp_path, lambda: made.append(training.time_budget(1.0, time.monotonic())) or made[0],
                             max_steps=12, step_s=0.0, schedule="linear", warmup=0.25)
    assert made[0].ended_early is None and state.global_step == state.max_steps == 12
    # the warmup over 3 of the 12 steps, then the linear decay, as without a budget
    expected = [0.0, 0.1 / 3, 0.2 / 3, 0.1] + [0.1 * (12 - step) / 9 for step in range(4, 12)]
    assert rates == pytest.approx(expected, abs=2e-3)


def test_a_slower_stretch_ends_training_before_the_deadline(tmp_path, monkeypatch):
    """Steps that slow down partway: the step that would end past the deadline is not begun, and the progress
    bar's total (`state.max_steps`) follows the pace."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    # 3 s left: on a loaded 2-core machine a fast step can take 0.2 s, and with 1.5 s the first estimate was
    # already as few steps as the slowed pace gave (8 and 8, a CI run beside an evaluation)
    minutes, seconds_left = 1.0, 3.0
    model = _slow_line_model(0.02)
    original, totals = model.forward, []

    def slower_after_a_while(x, y):
        if len(totals) > 10:
            time.sleep(0.1)
        return original(x, y)

    class Totals(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            totals.append(state.max_steps)

    model.forward = slower_after_a_while
    rows = [{"x": torch.randn(4), "y": torch.tensor(3.0)} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1000, per_device_train_batch_size=2,
                             learning_rate=0.1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    started = time.monotonic() - 60.0 * minutes + seconds_left
    budget = training.time_budget(minutes, started)
    trainer.add_callback(budget)
    trainer.add_callback(Totals())
    trainer.train()
    assert budget.ended_early == trainer.state.global_step == trainer.state.max_steps
    assert time.monotonic() <= started + 60.0 * minutes + 0.15
    assert totals[5] > totals[-2] >= trainer.state.global_step  # fewer steps expected once they slowed


def test_a_step_as_long_as_a_recent_one_is_not_begun_past_the_deadline(monkeypatch):
    """Steps whose times vary, as GRPO's follow its answers' lengths (42-112 s in one cpu run, where a step of 96 s
    after one of 55 s ended 20 s past the budget). Replayed on a clock of its own through the budget's callback: at
    50 s of 60 the last step took 5 s, but one of the five before took 15, as the next does: it is not begun."""
    from transformers import TrainerControl, TrainerState

    class Clock:
        now = 0.0

        def monotonic(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr(training, "time", clock)
    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    budget = training.time_budget(1.0, 0.0)  # its deadline 60 s after the clock's 0
    state, control = TrainerState(max_steps=1000), TrainerControl()
    budget.on_train_begin(None, state, control)
    ends = []
    for step, seconds in enumerate([5, 5, 5, 5, 5, 5, 15, 5, 15], start=1):
        clock.now += seconds
        ends.append(clock.now)
        state.global_step = step
        budget.on_step_end(None, state, control)
        if control.should_training_stop:
            break
    # judged by the last step's 5 s, the next 15 s would have been begun, to end at 65 s
    assert budget.ended_early == state.global_step == 8 and ends[-1] == 50.0


def test_max_minutes_is_checked():
    with pytest.raises(specs.SpecError, match="max_minutes"):
        specs.SFTJob(max_minutes=-1)
    with pytest.raises(specs.SpecError, match="max_minutes"):
        specs.SFTJob(max_minutes=float("nan"))
    assert specs.from_dict({"kind": "grpo", "max_minutes": 9}).max_minutes == 9


def test_an_sft_job_with_a_budget_ends_within_it(tiny_llama, tmp_path):
    """Through the CLI: far more steps asked for than fit in 24 seconds; the job says so, ends within the budget
    counted from its process's start (the libraries' import, several seconds, and the loading included), and its
    learning rate has decayed by the end."""
    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("sft", tiny_llama, rows, max_steps=100_000, eval_dataset="", output="sft-budget",
                    max_minutes=0.4)
    specs.save(spec, tmp_path / "job.yaml")
    launched = time.monotonic()
    result = _cli(tmp_path / "job.yaml", tmp_path / "workspace")
    process_s = time.monotonic() - launched
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = RunFolder(tmp_path / "workspace" / "runs" / "sft-budget")
    summary = run.summary()
    assert summary["max_minutes"] == 0.4
    assert 5 < summary["steps"] == summary["total_steps"] < 100_000
    assert summary["wall_s"] <= 0.4 * 60 + 2.0
    # Its wall time is the process's but for the exit after the summary (a second or two): not the seconds of
    # importing torch, transformers and TRL before the job began, which a budget from then would leave out.
    assert process_s - 4.0 <= summary["wall_s"] <= process_s
    assert "time budget 0.4 min" in run.log_file.read_text()
    lines = training_lines(run)
    assert all(row["eta_s"] <= 0.4 * 60 for row in lines)
    assert lines[-1]["total_steps"] == summary["steps"]
    assert lines[-1]["learning_rate"] < 0.05 * max(row["learning_rate"] for row in lines)


def test_a_job_counts_from_its_process_start_where_that_clock_is_sane(monkeypatch):
    """The CLI's jobs count from their process's start, a few seconds before; a start more than a minute back (a
    clock not to be trusted, asked first thing in a process) would end the budget at once, so it counts from now."""
    def age(created_ago: float) -> float:
        monkeypatch.setattr(psutil.Process, "create_time", lambda self: time.time() - created_ago)
        start = runner.process_start()
        return time.monotonic() - start

    assert 4.0 < age(5.0) < 6.0
    assert 0.0 <= age(3600.0) < 1.0
    assert 0.0 <= age(-30.0) < 1.0


def test_a_grpo_job_with_a_budget_ends_within_it(tiny_llama, tmp_path):
    """GRPO's steps follow its answers' lengths; its budget holds as SFT's does, and its ETA never runs past it."""
    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("grpo", tiny_llama, rows, max_steps=10_000, output="grpo-budget", max_minutes=0.35)
    specs.save(spec, tmp_path / "job.yaml")
    result = _cli(tmp_path / "job.yaml", tmp_path / "workspace")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = RunFolder(tmp_path / "workspace" / "runs" / "grpo-budget")
    summary = run.summary()
    assert 2 < summary["steps"] == summary["total_steps"] < 10_000
    assert summary["wall_s"] <= 0.35 * 60 + 2.0
    lines = training_lines(run)
    assert all(row["eta_s"] <= 0.35 * 60 for row in lines)
    assert lines[-1]["total_steps"] == summary["steps"] and lines[-1]["reward"] is not None


@pytest.mark.parametrize("rollout", ["trl", "studio"])
def test_a_grpo_step_whose_rollouts_would_overrun_the_budget_is_cut_at_it(tiny_llama, tmp_path, home, monkeypatch,
                                                                         capsys, rollout):
    """A GRPO step follows its answers' lengths: here each token takes 50 ms and the model never ends an answer, so
    one step's 2 answers of 400 tokens would take 20 s where the budget holds 15 s with the set-up. The rollouts
    stop where the step would end past the deadline (their answers truncated), and the job ends within its budget:
    on TRL's `generate` (the CPU's default) and on the studio's engine (the GPU's)."""
    from transformers import LlamaForCausalLM

    from jobs import grpo
    from studio.decoder import Rollout

    forward, decode, generate = LlamaForCausalLM.forward, Rollout._decode, Rollout.generate

    def slow_endless_forward(self, *args, **kwargs):
        time.sleep(0.05)
        out = forward(self, *args, **kwargs)
        out.logits[..., self.config.eos_token_id] = -1e4  # no answer ends before its length
        return out

    def slow_decode(self, state):
        time.sleep(0.05)
        return decode(self, state)

    def endless_generate(self, prompts, max_new_tokens, temperature, eos_ids, *args, **kwargs):
        return generate(self, prompts, max_new_tokens, temperature, [], *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", slow_endless_forward)
    monkeypatch.setattr(Rollout, "_decode", slow_decode)
    monkeypatch.setattr(Rollout, "generate", endless_generate)
    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("grpo", tiny_llama, rows, max_steps=100, output="grpo-cut", max_minutes=0.25,
                    max_completion_length=400, rollout=rollout)
    run = RunFolder(spec.run_folder())
    run.path.mkdir(parents=True)
    started = time.monotonic()
    assert grpo.train(spec, run, started=started) == "succeeded"
    assert time.monotonic() - started <= 0.25 * 60 + 2.0
    lines = training_lines(run)
    assert 1 <= run.summary()["steps"] == len(lines)
    assert lines[-1]["completion_length"] < 400, "the last step's answers ran to their full length"
    out = capsys.readouterr().out
    assert "rollouts cut at" in out and run.summary()["rollouts_cut"] >= 1
    assert ("the studio's engine" in out) == (rollout == "studio")


def test_grpo_rollouts_that_fit_the_budget_are_not_cut(tiny_llama, tmp_path, home, capsys):
    """Steps well within the budget run their rollouts whole: the share of the time rollouts take is counted over
    the whole run (the metrics callback reads and resets the step's own timings; counted from those, every step
    after the first was cut at once on an H100, thirty-fifth session)."""
    from jobs import grpo

    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("grpo", tiny_llama, rows, max_steps=4, output="grpo-whole", max_minutes=1.0,
                    max_completion_length=16, rollout="trl")
    run = RunFolder(spec.run_folder())
    run.path.mkdir(parents=True)
    assert grpo.train(spec, run) == "succeeded"
    assert run.summary()["steps"] == 4 and run.summary()["rollouts_cut"] == 0
    assert "rollouts cut" not in capsys.readouterr().out
