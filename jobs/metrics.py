"""metrics.jsonl: what a job writes at every logged step, and the figures a person tunes for.

    >>> from jobs.metrics import MetricsCallback
    >>> trainer.add_callback(MetricsCallback(run.metrics_file, compute_dtype="bf16"))
    >>> RunFolder.named("sft-iac-1").metrics()[-1]
    {'step': 40, 'total_steps': 200, 'epoch': 0.43, 'loss': 0.82, 'eval_loss': None, 'learning_rate': 0.00019,
     'grad_norm': 0.31, 'tokens_per_s': 20514.0, 'peak_memory_bytes': 6123456512, 'peak_memory_of': 'cuda',
     'mfu': 0.071, 'mfu_peak': 'H100 SXM bf16 dense 989 TFLOP/s', 'elapsed_s': 61.2, 'eta_s': 244.8, ...}

One line per logged training step; an evaluation writes a line of its own at its step (with `eval_loss` and the
training fields null), so a reader groups by step. GRPO lines add the total reward (`reward`, `reward_std`), each
reward component's `reward_<component>_mean` and `_std`, `frac_zero_std`: the fraction of prompt groups whose
answers all scored the same, which teach nothing, and `iac_ok`: the share of answers passing every correctness
check (extracted, parsed, schema, intent). DPO lines add its implicit rewards (beta x log(policy / reference) of
an answer): `rewards_chosen`, `rewards_rejected`, their difference `rewards_margin`, `rewards_accuracy` (the share
of pairs whose chosen answer has the higher reward), and `logps_chosen` / `logps_rejected`.

- tokens/s counts the tokens of the training steps since the last line (prompt and answer, padding excluded),
  over the time spent in those steps: evaluations and checkpoint saves are left out.
- peak memory is CUDA's max allocated on the GPU, or the process's peak resident set on the CPU.
- MFU is the model FLOPs those tokens needed (4 per frozen and 6 per trained parameter, plus attention) over the
  named peak of the GPU at the compute dtype; none on the CPU or an unknown card.
- ETA is the remaining steps times the mean of the last steps' durations; `step_s` is the mean step since the
  last line. GRPO lines split it into `generate_s` (sampling the answers), `reward_s` (the validators) and
  `train_s` (the rest: log-probabilities, backward, optimizer).

Only the main process (rank 0) writes. This module imports no torch at import time except through transformers'
callback base class, which the job has loaded anyway.
"""

from __future__ import annotations

import json
import math
import re
import resource
import sys
import time
from collections import deque
from pathlib import Path

from transformers import TrainerCallback

from studio.durations import format_duration

# Dense (no sparsity) tensor-core peaks from NVIDIA's datasheets, FLOP/s, by the compute dtype. Matched against
# torch.cuda.get_device_name(); the first matching row wins, so the specific names come first.
PEAKS = (
    ("H100 PCIe", "H100 PCIe", {"bf16": 756e12, "fp16": 756e12}),
    ("H100 NVL", "H100 NVL", {"bf16": 835e12, "fp16": 835e12}),
    ("H100", "H100 SXM", {"bf16": 989e12, "fp16": 989e12}),
    ("H200", "H200", {"bf16": 989e12, "fp16": 989e12}),
    ("A100", "A100", {"bf16": 312e12, "fp16": 312e12}),
    ("L40S", "L40S", {"bf16": 362e12, "fp16": 362e12}),
    ("L4", "L4", {"bf16": 121e12, "fp16": 121e12}),
    ("T4", "T4", {"fp16": 65e12}),
)

# At most one evaluation-progress line this often (and one at the evaluation's end).
EVAL_LINE_S = 2.0
CPU_DEADLINE_PRIOR_STEPS = 2  # MetricsCallback.deadline_prior_steps on a CPU
_REWARD_KEY = re.compile(r"^(eval_)?rewards/(.+)/(mean|std)$")
_RENAMES = {
    "frac_reward_zero_std": "frac_zero_std",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_ratio",
    "iac/ok": "iac_ok",  # studio.iac.rewards: share of the answers passing every correctness check
    # DPO's implicit rewards: beta x the log-ratio of policy to reference, chosen and rejected answers
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
    "rewards/margins": "rewards_margin",
    "rewards/accuracies": "rewards_accuracy",
    "logps/chosen": "logps_chosen",
    "logps/rejected": "logps_rejected",
}
_KEPT = ("loss", "learning_rate", "grad_norm", "reward", "reward_std", "kl", "entropy", "mean_token_accuracy")
# Every training line has these keys (null where not measured: MFU on the CPU, eval_loss between evaluations).
TRAINING_FIELDS = ("step", "total_steps", "epoch", "loss", "eval_loss", "learning_rate", "grad_norm",
                   "tokens_per_s", "step_s", "peak_memory_bytes", "peak_memory_of", "mfu", "mfu_peak", "elapsed_s",
                   "eta_s")


def named_peak(device_name: str, dtype: str) -> tuple[str, float] | None:
    """('H100 SXM bf16 dense 989 TFLOP/s', 9.89e14) for a card and compute dtype, or None when unknown."""
    for needle, label, by_dtype in PEAKS:
        if needle in device_name and dtype in by_dtype:
            flops = by_dtype[dtype]
            return f"{label} {dtype} dense {flops / 1e12:.0f} TFLOP/s", flops
    return None


def flops_per_token(frozen: int, trained: int, layers: int, hidden: int, seq_len: float) -> float:
    """Model FLOPs to train on one token with LoRA: the frozen weights take a forward and the input-gradient pass
    (2 + 2 per parameter), the trained ones also their weight gradient (6), and attention 12 x layers x hidden x
    the sequence length (nanoGPT's estimate_mfu, PaLM appendix B)."""
    return 4.0 * frozen + 6.0 * trained + 12.0 * layers * hidden * seq_len


def peak_memory() -> tuple[int, str]:
    """(bytes, where): CUDA's max allocated on this process's GPU, else the process's peak resident set."""
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return int(torch.cuda.max_memory_allocated()), "cuda"
    except ImportError:
        pass
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale, "rss"


def line_from_logs(logs: dict) -> dict:
    """The metrics.jsonl fields found in one of Trainer's log dicts (TRL's names mapped to the studio's)."""
    out = {}
    for key, value in logs.items():
        match = _REWARD_KEY.match(key)
        if match:
            out[f"{match.group(1) or ''}{match.group(2)}_{match.group(3)}"] = value
        elif key in _RENAMES:
            out[_RENAMES[key]] = value
        elif key.startswith("eval_") and key[len("eval_"):] in _RENAMES:
            out["eval_" + _RENAMES[key[len("eval_"):]]] = value
        elif key in _KEPT or key == "eval_loss" or key == "eval_reward":
            out[key] = value
    return out


def steps_begun(seconds_left: float, mean: float, recent: deque[float]) -> int:
    """How many more steps of `mean` seconds a time budget begins before its deadline: it begins one only while the
    longest of its window of recent steps (`recent`, a deque as long as the budget keeps) would end by the deadline, so
    after a long step the run ends up to that long before it, and once the long step has left the window the steps go
    on."""
    window = deque(recent, maxlen=recent.maxlen or len(recent))
    begun = 0
    while window and max(window) > mean:  # a longer step is still in the window
        if seconds_left < max(window):
            return begun
        seconds_left -= mean
        window.append(mean)
        begun += 1
    tail = max(0, math.floor(seconds_left / mean))  # then steps of `mean` until the deadline,
    if not tail and window and seconds_left >= max(window):  # or one more that the window's short steps let begin
        tail = 1
    return begun + tail


class MetricsCallback(TrainerCallback):
    """Appends a line to metrics.jsonl at every log, prints a one-line summary to train.log, keeps the totals."""

    def __init__(self, path: Path, compute_dtype: str = "fp32", window: int = 20, first_step_apart: bool = False,
                 deadline_prior_steps: int = 0):
        self.path = Path(path)
        self.compute_dtype = compute_dtype
        self.step_times: deque[float] = deque(maxlen=window)
        # On a GPU a process's first step carries one-time costs (kernels compiled and tuned, memory pools grown):
        # the ETA leaves it out of its mean once another step is timed. The gpu recipe's GRPO took 6.9 s for its
        # first step and 1.5-3 s for the rest; its largest ETA error after a tenth of its steps was 51% of the phase
        # (bench/eta_replay.py replays recorded runs both ways).
        self.first_step_apart = first_step_apart
        self.steps_timed = 0
        # On a CPU a phase under a time budget runs few long steps, and its budget ends it: the cpu recipe's GRPO ran
        # 3-9 of its 10 planned steps of 34-241 s (a step lasts as long as its longest answer), and every such run kept
        # ended by its budget. There the pace of the first steps says little (seed 2's first two took 34 and 35 s, the
        # rest 39-108), so under a budget the ETA weighs the pace of the n steps timed n / (n + deadline_prior_steps)
        # against the budget's end (`eta`): 2 took that run's largest ETA error from 33% of the phase to 13%
        # (bench/eta_replay.py). On a GPU (0) the pace of many short steps stands alone.
        self.deadline_prior_steps = deadline_prior_steps
        # The job's time budget (`training.time_budget`), where it has one: the ETA never runs past its deadline.
        self.budget = None
        self.step_began: float | None = None
        self.seconds_since_log = 0.0
        self.tokens_at_log: float | None = None
        self.tokens_base = 0.0
        self.elapsed_offset = 0.0
        self.began = time.monotonic()
        self.shape: dict | None = None
        self.peak: tuple[str, float] | None = None
        self.world_size = 1
        self.sequences_per_step = 1
        self.step_at_log = 0
        # Totals for summary.json
        self.total_tokens = 0.0
        self.total_step_seconds = 0.0
        self.last: dict = {}
        self.last_eval: dict = {}
        self.last_eval_step: int | None = None
        self.eval_batches = 0
        self.eval_line_at = 0.0
        # GRPO's trainer adds up seconds spent generating and scoring here; each line reports and resets them.
        self.timings: dict[str, float] | None = None

    @classmethod
    def for_device(cls, path: Path, compute_dtype: str, device: str) -> "MetricsCallback":
        """A job's metrics on `device`: on a GPU the first step left out of the pace, elsewhere the deadline weighing
        in as CPU_DEADLINE_PRIOR_STEPS steps."""
        cuda = device == "cuda"
        return cls(path, compute_dtype=compute_dtype, first_step_apart=cuda,
                   deadline_prior_steps=0 if cuda else CPU_DEADLINE_PRIOR_STEPS)

    # -- set-up ----------------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.world_size = max(1, args.world_size)
        self.sequences_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * \
            self.world_size
        self.tokens_base = float(state.num_input_tokens_seen or 0)
        self.step_at_log = state.global_step
        self.began = time.monotonic()
        if model is not None:
            self.shape = _model_shape(model)
        self.peak = _device_peak(self.compute_dtype)
        if state.is_world_process_zero:
            self.elapsed_offset = self._keep_lines_up_to(state.global_step)

    def _keep_lines_up_to(self, step: int) -> float:
        """On resume, drop the lines logged after the checkpoint (those steps run again); returns the elapsed
        time the kept lines reached, which this attempt continues from."""
        if not self.path.exists():
            return 0.0
        from studio import workspace

        kept, elapsed = [], 0.0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and step > 0 and row.get("step", 0) <= step:
                kept.append(line)
                elapsed = max(elapsed, float(row.get("elapsed_s") or 0.0))
        workspace.atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))
        return elapsed

    # -- timing ----------------------------------------------------------------------------------------

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_began = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.step_began is not None:
            seconds = time.monotonic() - self.step_began
            self.step_times.append(seconds)
            self.steps_timed += 1
            self.seconds_since_log += seconds
            self.total_step_seconds += seconds
            self.step_began = None

    def eta(self, step: int, total: int, seconds_left: float | None = None,
            recent: deque[float] | None = None) -> float | None:
        """Seconds until `total` steps at the mean step, and with a time budget never past its end. Under a budget
        `total` is the steps planned (the budget's `upper`), not the pace's guess that the progress bar shows: that
        guess counts the time gone, first step included, so where the budget binds it ended the ETA early (a GPU GRPO
        run's 19% off, 0% from the planned steps: `bench/eta_replay.py`). The budget's end is its deadline, or with
        `recent` (the budget's window of step times) the end of the last step its rule would begin at this pace
        (`steps_begun`). With `deadline_prior_steps`, that end weighs in as that many steps of pace."""
        times = self.paced_steps()
        if not times:
            return None
        mean = sum(times) / len(times)
        eta = max(0, total - step) * mean
        if seconds_left is None:
            return eta
        end = seconds_left
        if recent and step < total and mean > 0:
            end = min(end, steps_begun(seconds_left, mean, recent) * mean)
        eta = min(eta, end)
        prior = self.deadline_prior_steps
        if eta > 0 and prior:  # a few long steps: the budget's end weighs as that many steps
            eta = (len(times) * eta + prior * end) / (len(times) + prior)
        return eta

    def paced_steps(self) -> list[float]:
        """The seconds of the steps in the window, the process's first step left out on a GPU."""
        times = list(self.step_times)
        if self.first_step_apart and len(times) >= 2 and self.steps_timed == len(times):  # the first still in it
            times = times[1:]
        return times

    # -- evaluations -----------------------------------------------------------------------------------

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        """Rows of an evaluation done so far, as a line of its own (`phase: evaluation`, `rows_done` of
        `rows_total`) at most every EVAL_LINE_S seconds and at its end, and in train.log: a final evaluation can
        take minutes after the last step."""
        self.eval_batches += 1
        try:
            total = len(eval_dataloader.dataset) if eval_dataloader is not None else None
        except (TypeError, AttributeError):
            total = None
        done = self.eval_batches * args.per_device_eval_batch_size * max(1, args.world_size)
        done = min(done, total) if total else done
        now = time.monotonic()
        if done != total and now - self.eval_line_at < EVAL_LINE_S:
            return
        self.eval_line_at = now
        row = {"step": state.global_step, "total_steps": state.max_steps, "phase": "evaluation",
               "rows_done": done, "rows_total": total, "elapsed_s": round(self.elapsed_offset + now - self.began, 2),
               "time": round(time.time(), 3)}
        if state.is_world_process_zero:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"[job] evaluation at step {state.global_step}: {done}/{total or '?'} rows", flush=True)

    def on_evaluate(self, args, state, control, **kwargs):
        self.eval_batches, self.eval_line_at = 0, 0.0

    # -- lines -----------------------------------------------------------------------------------------

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        # Trainer's end-of-training summary, not a step (`train_runtime` alone would not tell: where tokens are
        # counted, `include_num_input_tokens_seen`, every step's log carries it too)
        if "train_loss" in logs:
            return
        fields = line_from_logs(logs)
        now = time.monotonic()
        row = {
            "step": state.global_step,
            "total_steps": state.max_steps,
            "epoch": round(float(state.epoch or 0.0), 4),
            "loss": None,
            "eval_loss": None,
            "learning_rate": None,
            "grad_norm": None,
        }
        if "eval_loss" in fields or any(key.startswith("eval_") for key in fields):
            row.update(fields)
            self.last_eval, self.last_eval_step = fields, state.global_step
        else:
            row.update(fields)
            step_seconds = self.seconds_since_log
            steps = max(1, state.global_step - self.step_at_log)
            self.step_at_log = state.global_step
            row.update(self._throughput(logs.get("num_tokens")))
            row["step_s"] = round(step_seconds / steps, 4)  # mean seconds of one optimizer step since the last line
            if self.timings is not None:
                row.update(self._split(step_seconds, steps))
            bytes_, where = peak_memory()
            row["peak_memory_bytes"], row["peak_memory_of"] = bytes_, where
            budget = self.budget  # under one, the steps planned until it ends the run (then the steps run)
            total = budget.upper if budget is not None and budget.upper and budget.ended_early is None \
                else state.max_steps
            recent = budget.recent if budget is not None else None
            eta = self.eta(state.global_step, total, budget.seconds_left() if budget is not None else None, recent)
            row["eta_s"] = round(eta, 1) if eta is not None else None
            self.last = row
        row["elapsed_s"] = round(self.elapsed_offset + now - self.began, 2)
        row["time"] = round(time.time(), 3)
        if state.is_world_process_zero:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            print(self._one_line(row), flush=True)

    def _throughput(self, num_tokens) -> dict:
        out = {"tokens_per_s": None, "mfu": None, "mfu_peak": self.peak[0] if self.peak else None}
        if num_tokens is None:
            return out
        num_tokens = float(num_tokens)
        previous = self.tokens_at_log if self.tokens_at_log is not None else self.tokens_base
        # SFT's counter restarts at 0 in a resumed process while GRPO's is restored with the state: a count
        # below the previous one is a restart.
        delta = num_tokens - previous if num_tokens >= previous else num_tokens
        self.tokens_at_log = num_tokens
        seconds, self.seconds_since_log = self.seconds_since_log, 0.0
        self.total_tokens += delta
        if seconds <= 0 or delta <= 0:
            return out
        rate = delta / seconds
        out["tokens_per_s"] = round(rate, 1)
        if self.peak and self.shape:
            steps = max(1, len(self.step_times))
            seq_len = delta / max(1, self.sequences_per_step * steps)
            flops = flops_per_token(self.shape["frozen"], self.shape["trained"], self.shape["layers"],
                                    self.shape["hidden"], seq_len)
            out["mfu"] = round(rate * flops / (self.peak[1] * self.world_size), 4)
        return out

    def _split(self, step_seconds: float, steps: int) -> dict:
        """Of a step's seconds (the mean since the last line): generating, scoring, and the rest (training)."""
        generate, reward = self.timings.get("generate_s", 0.0), self.timings.get("reward_s", 0.0)
        self.timings["generate_s"] = self.timings["reward_s"] = 0.0
        return {"generate_s": round(generate / steps, 4), "reward_s": round(reward / steps, 4),
                "train_s": round(max(0.0, step_seconds - generate - reward) / steps, 4)}

    @staticmethod
    def _one_line(row: dict) -> str:
        parts = [f"step {row['step']}/{row['total_steps']}"]
        for key, label, fmt in (("loss", "loss", "{:.4f}"), ("eval_loss", "eval_loss", "{:.4f}"),
                                ("reward", "reward", "{:.3f}"), ("frac_zero_std", "zero-variance groups", "{:.0%}"),
                                ("rewards_margin", "margin", "{:.3f}"), ("rewards_accuracy", "pair accuracy", "{:.0%}"),
                                ("learning_rate", "lr", "{:.2e}"), ("tokens_per_s", "tokens/s", "{:,.0f}"),
                                ("mfu", "MFU", "{:.1%}")):
            if row.get(key) is not None:
                parts.append(f"{label} {fmt.format(row[key])}")
        if row.get("generate_s") is not None:
            parts.append(f"step {row['step_s']:.2f} s (generate {row['generate_s']:.2f}, reward "
                         f"{row['reward_s']:.2f}, train {row['train_s']:.2f})")
        if row.get("peak_memory_bytes"):
            parts.append(f"peak {row['peak_memory_bytes'] / 2**30:.2f} GiB ({row['peak_memory_of']})")
        if row.get("eta_s") is not None:
            parts.append(f"ETA {format_duration(row['eta_s'])}")
        return "[metrics] " + ", ".join(parts)

    # -- totals ----------------------------------------------------------------------------------------

    def totals(self) -> dict:
        """Figures over the whole attempt, for summary.json."""
        rate = self.total_tokens / self.total_step_seconds if self.total_step_seconds > 0 else None
        bytes_, where = peak_memory()
        return {
            "tokens": int(self.total_tokens),
            "tokens_per_s": round(rate, 1) if rate else None,
            "peak_memory_bytes": bytes_,
            "peak_memory_of": where,
            "elapsed_s": round(self.elapsed_offset + time.monotonic() - self.began, 2),
        }


def _model_shape(model) -> dict | None:
    """Parameter counts (4-bit weights counted as PEFT counts them, unpacked) and the size that attention costs."""
    try:
        if hasattr(model, "get_nb_trainable_parameters"):
            trained, total = model.get_nb_trainable_parameters()
        else:
            total = sum(p.numel() for p in model.parameters())
            trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        return {"frozen": total - trained, "trained": trained, "layers": int(config.num_hidden_layers),
                "hidden": int(config.hidden_size)}
    except (AttributeError, TypeError, ValueError):
        return None


def _device_peak(compute_dtype: str) -> tuple[str, float] | None:
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return named_peak(torch.cuda.get_device_name(), compute_dtype)
    except (ImportError, RuntimeError):
        return None
