"""Reading progress from metrics.jsonl, the zero-variance warning, the log-name mapping and the MFU arithmetic."""

from __future__ import annotations

import json

import pytest

from jobs import progress
from jobs.run_folder import RunFolder
from studio.durations import format_duration


def _grpo_rows(shares):
    return [{"step": i + 1, "total_steps": 10, "loss": 0.0, "reward": 0.5, "frac_zero_std": share,
             "reward_parse_mean": 0.5, "reward_schema_mean": 0.25} for i, share in enumerate(shares)]


def test_the_warning_fires_when_every_group_had_zero_variance():
    warning = progress.learning_signal_warning(_grpo_rows([0.5, 1.0, 1.0, 1.0]))
    assert warning.startswith("GRPO is learning nothing: in the last 3 logged steps every group")


def test_the_warning_names_a_weak_signal():
    assert progress.learning_signal_warning(_grpo_rows([0.75, 1.0, 0.75])).startswith("Weak learning signal: 83%")


def test_no_warning_while_groups_disagree_or_for_sft():
    assert progress.learning_signal_warning(_grpo_rows([1.0, 1.0, 0.0])) is None
    assert progress.learning_signal_warning([{"step": 1, "loss": 2.0}]) is None
    assert progress.learning_signal_warning([]) is None


def test_progress_is_step_over_total_from_the_last_line():
    assert progress.fraction([]) == 0.0
    assert progress.fraction([{"step": 5, "total_steps": 20}, {"step": 5, "total_steps": 20, "eval_loss": 1}]) \
        == 0.25


def test_reward_components_in_the_order_logged():
    assert progress.reward_components(_grpo_rows([0.0])) == ["reward_parse", "reward_schema"]


@pytest.mark.parametrize("seconds, text", [(None, "?"), (42.4, "42s"), (185, "3m05s"), (3725, "1h02m")])
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_a_half_written_line_is_skipped(home):
    run = RunFolder.named("r")
    run.path.mkdir(parents=True)
    run.metrics_file.write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n" + '{"step": 2, "lo')
    assert run.metrics() == [{"step": 1, "loss": 2.0}]
    assert run.last_metrics() == {"step": 1, "loss": 2.0}


def test_trl_log_names_map_to_the_studio_names():
    from jobs.metrics import line_from_logs

    logs = {"loss": 0.1, "grad_norm": 0.3, "learning_rate": 1e-5, "rewards/reward_parse/mean": 0.4,
            "rewards/reward_parse/std": 0.2, "frac_reward_zero_std": 0.5, "completions/mean_length": 12.0,
            "eval_rewards/reward_intent/mean": 0.9, "step_time": 1.2, "num_tokens": 900, "iac/ok": 0.25}
    assert line_from_logs(logs) == {"loss": 0.1, "grad_norm": 0.3, "learning_rate": 1e-5, "reward_parse_mean": 0.4,
                                    "reward_parse_std": 0.2, "frac_zero_std": 0.5, "completion_length": 12.0,
                                    "eval_reward_intent_mean": 0.9, "iac_ok": 0.25}


def test_dpo_log_names_map_to_the_studio_names():
    from jobs.metrics import line_from_logs

    logs = {"loss": 0.69, "rewards/chosen": 0.02, "rewards/rejected": -0.01, "rewards/margins": 0.03,
            "rewards/accuracies": 0.75, "logps/chosen": -80.0, "eval_rewards/accuracies": 0.5, "logits/chosen": 1.0}
    assert line_from_logs(logs) == {"loss": 0.69, "rewards_chosen": 0.02, "rewards_rejected": -0.01,
                                    "rewards_margin": 0.03, "rewards_accuracy": 0.75, "logps_chosen": -80.0,
                                    "eval_rewards_accuracy": 0.5}


def test_mfu_peaks_are_named_and_specific_cards_win():
    from jobs.metrics import flops_per_token, named_peak

    assert named_peak("NVIDIA H100 80GB HBM3", "bf16") == ("H100 SXM bf16 dense 989 TFLOP/s", 989e12)
    assert named_peak("NVIDIA H100 PCIe", "bf16")[0] == "H100 PCIe bf16 dense 756 TFLOP/s"
    assert named_peak("NVIDIA A100-SXM4-80GB", "bf16")[1] == 312e12
    assert named_peak("Tesla T4", "bf16") is None  # no bf16 tensor cores
    assert named_peak("Some New GPU", "bf16") is None
    # LoRA: 4 FLOPs per frozen parameter, 6 per trained one, plus attention
    assert flops_per_token(100, 10, layers=2, hidden=8, seq_len=4) == 400 + 60 + 12 * 2 * 8 * 4
