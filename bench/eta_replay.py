"""How far off a job's ETA is, replayed from recorded runs under five rules: the mean step of the window as it was or
with the process's first step left out (`MetricsCallback(first_step_apart=True)`), under a time budget the steps
left counted from the pace's guess (`state.max_steps`, as it was) or from the steps planned (the budget's `upper`),
and the planned steps with the deadline weighing in as two steps of pace (`deadline_prior_steps=2`). Since the
twenty-sixth session a job on a GPU leaves its first step out and both count the planned steps under a budget; since
the thirty-fourth a job on a CPU weighs the deadline in (`MetricsCallback.for_device`), and a budget's end is where its
step rule will stop the run, shown for the runs recorded under that rule (after the device's rules: on a GPU the
first step out, no deadline weighed in): the "now" column.

    python bench/eta_replay.py                                   # the kept runs: GRPO on H100s, GRPO and SFT on CPUs
    python bench/eta_replay.py workspace/runs/*/metrics.jsonl    # any run logged at every step (no budget assumed)

Each kept file's first line names the run, its device, `max_minutes` and `max_steps`; then its step lines. At each
logged step the ETA is `MetricsCallback.eta`, the code the jobs run, with the time left to the budget's deadline (read
back from the recorded ETAs: none passed it, the clipped ones met it). The error is `bench/recipe.py`'s: the largest,
after a tenth of the steps, of |ETA - the time that was in fact left|, as a share of the phase.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from recipe import largest_eta_error  # noqa: E402  (bench/recipe.py: the measure of its table)

from jobs.metrics import MetricsCallback  # noqa: E402
from jobs.training import BUDGET_RECENT_STEPS  # noqa: E402

KEPT = sorted((ROOT / "bench" / "sweeps" / "results").glob("kept-*/eta-replay/*.jsonl"))


def read(path: Path) -> tuple[dict, list[dict]]:
    """The run's name, device, budget and planned steps, and its step lines."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta = rows.pop(0) if rows and "run" in rows[0] else {"run": path.parent.name, "device": "", "max_minutes": None}
    return meta, [row for row in rows if row.get("step_s") is not None and row.get("elapsed_s") is not None]


def eta_error(meta: dict, rows: list[dict], first_step_apart: bool, planned: bool, prior: int = 0,
              step_rule: bool = False) -> float | None:
    """The largest ETA error after a tenth of the steps, replayed with one rule, as a share of the phase."""
    if len(rows) < 3:
        return None
    budgeted = bool(meta.get("max_minutes"))
    # The deadline, where a budget clipped the ETA: no recorded ETA passed it, the clipped ones met it (the last line's
    # is 0 wherever the run ended, past the deadline where a last step overran it).
    deadline = max(row["eta_s"] + row["elapsed_s"] for row in rows[:-1] if row.get("eta_s") is not None)
    replay = MetricsCallback(Path("unused"), first_step_apart=first_step_apart, deadline_prior_steps=prior)
    replayed, recent = [], deque(maxlen=BUDGET_RECENT_STEPS)
    for row in rows:  # a line a step: its step_s is that step's time
        replay.step_times.append(row["step_s"])
        replay.steps_timed += 1
        # the planned steps until the budget ends the run: its last line counts the steps run (as the jobs do)
        total = meta["max_steps"] if planned and budgeted and row["step"] < row["total_steps"] else row["total_steps"]
        recent.append(row["step_s"])  # the budget's window of step times
        eta = replay.eta(row["step"], total, max(0.0, deadline - row["elapsed_s"]) if budgeted else None,
                         recent if step_rule else None)
        replayed.append({**row, "eta_s": eta})
    return largest_eta_error(replayed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="metrics.jsonl files (default: the kept runs)")
    args = parser.parse_args(argv)
    print("| run | device | budget | steps | first step s | the rest, s | as it was | first step out | planned steps "
          "| both | planned, deadline as 2 steps | and the step rule's end | now |")
    print("| --- " * 13 + "|")
    for path in args.files or KEPT:
        meta, rows = read(path)
        if len(rows) < 3:
            continue
        # the step rule's end only for runs recorded under that rule: the others' ends did not follow it
        under_rule = bool(meta.get("step_rule"))
        rules = [eta_error(meta, rows, apart, planned, prior) for apart, planned, prior in
                 ((False, False, 0), (True, False, 0), (False, True, 0), (True, True, 0), (False, True, 2))]
        cuda = meta.get("device") == "cuda"  # the device's own rules (`MetricsCallback.for_device`), as the jobs run
        now = eta_error(meta, rows, cuda, True, 0 if cuda else 2, step_rule=under_rule)
        rules.append(now if under_rule else None)  # the step rule's end, after the device's rules
        rest = [row["step_s"] for row in rows[1:]]
        budget = f"{meta['max_minutes']:g} min" if meta.get("max_minutes") else "none"
        print(f"| {meta['run']} | {meta.get('device') or '?'} | {budget} | {len(rows)} | {rows[0]['step_s']:.1f} | "
              f"{min(rest):.1f}-{max(rest):.1f} | " + " | ".join("-" if e is None else f"{100 * e:.0f}%"
                                                          for e in (*rules, now)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
