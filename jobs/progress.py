"""Reading a job's progress from its metrics.jsonl: the bar, the ETA, and whether GRPO is learning anything.

    >>> from jobs import progress
    >>> rows = RunFolder.named("grpo-iac-1").metrics()
    >>> progress.fraction(rows)
    0.42
    >>> progress.learning_signal_warning(rows)
    'GRPO is learning nothing: in the last 3 logged steps every group of answers scored the same ...'

Light (no torch), for the Jobs tab's timer and the CLI.
"""

from __future__ import annotations

# How many of the last logged steps must all have zero-variance groups before the Jobs tab warns.
ZERO_VARIANCE_STEPS = 3
# Above this share of zero-variance groups (averaged over the same steps) the signal is called weak.
WEAK_SIGNAL_SHARE = 0.75


def training_rows(rows: list[dict]) -> list[dict]:
    """The lines of training steps (evaluation lines left out)."""
    return [row for row in rows if row.get("loss") is not None or row.get("reward") is not None]


def fraction(rows: list[dict]) -> float:
    """Share of the steps done, from the last line's step and total steps (0 before the first line)."""
    for row in reversed(rows):
        if row.get("total_steps"):
            return max(0.0, min(1.0, row["step"] / row["total_steps"]))
    return 0.0


def evaluation_in_progress(rows: list[dict]) -> tuple[int, int | None] | None:
    """(rows done, rows in all) when the last line is an evaluation's progress (`phase: evaluation`) that has
    not finished yet; None otherwise."""
    if not rows or rows[-1].get("phase") != "evaluation":
        return None
    done, total = rows[-1].get("rows_done") or 0, rows[-1].get("rows_total")
    return None if total and done >= total else (done, total)


def reward_components(rows: list[dict]) -> list[str]:
    """The reward components a GRPO run logged (`reward_format`, ...), in the order first seen."""
    names: list[str] = []
    for row in rows:
        for key in row:
            if key.startswith("reward_") and key.endswith("_mean") and key[: -len("_mean")] not in names:
                names.append(key[: -len("_mean")])
    return names


def learning_signal_warning(rows: list[dict]) -> str | None:
    """A warning when GRPO's groups have no reward variance, so its advantages are zero and nothing is learned.

    GRPO compares the answers to one prompt with each other; when all of them score the same (all fail to parse,
    say), every advantage is zero and the step changes nothing.
    """
    recent = [row for row in training_rows(rows) if row.get("frac_zero_std") is not None][-ZERO_VARIANCE_STEPS:]
    if not recent:
        return None
    steps = "step" if len(recent) == 1 else f"{len(recent)} logged steps"
    shares = [float(row["frac_zero_std"]) for row in recent]
    advice = ("Raise the temperature or num_generations, start from an SFT adapter so that some answers "
              "succeed, or give weight to graded components (format, schema) that separate near misses.")
    if all(share >= 0.999 for share in shares):
        return (f"GRPO is learning nothing: in the last {steps} every group of answers scored "
                f"the same (zero reward variance), so every advantage is zero. {advice}")
    mean = sum(shares) / len(shares)
    if mean >= WEAK_SIGNAL_SHARE:
        return (f"Weak learning signal: {mean:.0%} of the answer groups in the last {steps} "
                f"had zero reward variance and taught nothing. {advice}")
    return None
