"""The ETA of a job's metrics: on a GPU the process's first step, which carries one-time costs, is left out of the
mean step once another is timed; on a CPU, under a time budget, the deadline weighs in while few steps are timed. A
real Trainer whose steps take the times given, logging every step."""

from __future__ import annotations

import json
import time
from collections import deque

from jobs.metrics import MetricsCallback, steps_begun
from tests.jobs.test_time_budget import _slow_line_model


def _train(tmp_path, other_s: float, rest_s: float, max_steps: int, first_step_apart: bool,
           seconds_left: float | None = None, prior: int = 0,
           other_steps: tuple[int, ...] = (1,)) -> tuple[MetricsCallback, list[dict]]:
    """Steps of `rest_s` but those numbered in `other_steps` (the first, unless told), of `other_s`; every step logged,
    under a budget whose deadline is `seconds_left` away where given, the deadline weighing in as `prior` steps; the
    metrics callback and its lines that carry an ETA."""
    import torch
    from transformers import Trainer, TrainingArguments

    from jobs import training

    model, calls = _slow_line_model(0.0), []
    original = model.forward

    def timed_forward(x, y):
        calls.append(1)
        time.sleep(other_s if len(calls) in other_steps else rest_s)
        return original(x, y)

    model.forward = timed_forward
    rows = [{"x": torch.randn(4), "y": torch.tensor(3.0)} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=max_steps, per_device_train_batch_size=2,
                             learning_rate=0.1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
                             logging_steps=1)
    metrics = MetricsCallback(tmp_path / "metrics.jsonl", first_step_apart=first_step_apart,
                              deadline_prior_steps=prior)
    trainer = Trainer(model=model, args=args, train_dataset=rows, callbacks=[metrics])
    if seconds_left is not None:  # counted from here, so that building the Trainer (slow under load) takes none of it
        metrics.budget = training.time_budget(1.0, time.monotonic() - 60.0 + seconds_left)
        trainer.add_callback(metrics.budget)
    trainer.train()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return metrics, [row for row in lines if row.get("eta_s") is not None]


def test_the_first_step_is_left_out_of_the_eta_where_asked(tmp_path):
    # a warm-up of 1 s, then steps of 0.03 s
    apart = {row["step"]: row["eta_s"] for row in _train(tmp_path / "apart", 1.0, 0.03, 20, True)[1]}
    whole = {row["step"]: row["eta_s"] for row in _train(tmp_path / "whole", 1.0, 0.03, 20, False)[1]}
    # after 3 of 20 steps, 17 are left, each about 0.03 s: about 0.5 s, where the first step's second weighs a third
    assert apart[3] < 1.5 < 4.0 < whole[3]
    assert apart[1] > 10, "with one step timed, it is the ETA's only measure"
    assert apart[19] < 0.3


def test_under_a_budget_the_eta_counts_the_planned_steps_to_the_deadline(tmp_path, monkeypatch):
    """A budget that ends the run long before its planned steps, a slow first step: the ETA is the time left to the
    deadline from the first lines on, where the pace's guess of the steps (which counts the first step's time) ended
    it early."""
    from jobs import training

    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    metrics, lines = _train(tmp_path, 0.8, 0.05, 1000, True, seconds_left=3.0)
    end = lines[-1]["elapsed_s"] + lines[-1]["eta_s"]
    errors = [abs(row["eta_s"] - (end - row["elapsed_s"])) for row in lines[1:-1]]
    assert len(lines) > 10 and max(errors) < 0.3, "the ETA is the time left to the deadline, within a step or two"
    assert metrics.budget.ended_early == lines[-1]["step"] and lines[-1]["eta_s"] == 0, "the last line: nothing left"


def test_on_a_cpu_the_deadline_weighs_in_while_few_steps_are_timed(tmp_path, monkeypatch):
    """The cpu recipe's GRPO at seed 2: its first steps were short, the rest twice as long, and the budget ended it.
    At most 10 steps, two of 0.2 s, then steps of 0.6 s until a deadline 4.8 s away ends the run near step 9: at the
    second line the pace alone says 8 x 0.2 s, where about 4.2 s were left; with the deadline weighing in as two steps
    (what a CPU job does) the ETA is nearer the time that was in fact left, and still 0 at the end. (At half these
    times a CI run under load read errors of 0.41 and 0.32 s, each step's overhead a larger share of it.)"""
    from jobs import metrics as metrics_module
    from jobs import training

    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    runs = {prior: _train(tmp_path / str(prior), 0.2, 0.6, 10, False, seconds_left=4.8, prior=prior,
                          other_steps=(1, 2))
            for prior in (0, metrics_module.CPU_DEADLINE_PRIOR_STEPS)}
    second = {}
    for prior, (metrics, lines) in runs.items():
        end = lines[-1]["elapsed_s"] + lines[-1]["eta_s"]
        row = next(row for row in lines if row["step"] == 2)
        second[prior] = abs(row["eta_s"] - (end - row["elapsed_s"]))
        assert metrics.budget.ended_early == lines[-1]["step"] and lines[-1]["eta_s"] == 0
    assert second[2] < 0.7 * second[0], f"the ETA's error at the second step: {second}"
    assert MetricsCallback.for_device(tmp_path / "m.jsonl", "fp32", "cpu").deadline_prior_steps == 2
    gpu = MetricsCallback.for_device(tmp_path / "m.jsonl", "bf16", "cuda")
    assert gpu.deadline_prior_steps == 0 and gpu.first_step_apart


def test_under_a_budget_the_eta_ends_where_the_step_rule_will_end_the_run(tmp_path, monkeypatch):
    """A budget begins a step only while the longest recent one would end by the deadline, so after a long step the
    run ends up to that long before the deadline. Steps of 0.3 s but the second of 1 s, a deadline 3.5 s away: after the
    second 1-2 s are left (less what building the Trainer took), and the run stops once less than 1 s is left, the long
    step still in the budget's window of five. From the long step on, the ETA counts the steps the rule will still begin
    at the pace, where the time left to the deadline was about 1 s too long at every line."""
    from jobs import training

    monkeypatch.setattr(training, "BUDGET_RESERVE_S", 0.0)
    original = MetricsCallback.eta
    errors = {}
    for rule in (True, False):
        monkeypatch.setattr(MetricsCallback, "eta", original if rule else
                            lambda self, step, total, left=None, recent=None: original(self, step, total, left))
        metrics, lines = _train(tmp_path / str(rule), 1.0, 0.3, 30, False, seconds_left=3.5, other_steps=(2,))
        end = lines[-1]["elapsed_s"] + lines[-1]["eta_s"]
        assert metrics.budget.ended_early == lines[-1]["step"] < 30 and lines[-1]["eta_s"] == 0
        after = [row for row in lines[:-1] if row["step"] >= 2]
        assert after, "the run went on after its long step"
        errors[rule] = sum(abs(row["eta_s"] - (end - row["elapsed_s"])) for row in after) / len(after)
    assert errors[True] < 0.6 * errors[False], f"the ETA's mean error from the long step on, with the rule, without: " \
        f"{errors}"
    # the count itself: a 2 s step in a window of five keeps the rule from beginning steps of 0.5 s once less than 2 s
    # are left, until it leaves the window; then steps go on while the window's longest fits
    assert steps_begun(3.5, 0.5, deque([2.0, 0.5], maxlen=5)) == 7
    assert steps_begun(1.9, 0.5, deque([2.0, 0.5], maxlen=5)) == 0
    assert steps_begun(0.8, 1.0, deque([0.5, 0.5], maxlen=5)) == 1 and steps_begun(0.4, 1.0, deque([0.5])) == 0
