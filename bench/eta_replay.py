"""How far off a job's ETA is, replayed from recorded runs: the mean step of the window as it was, and with the
process's first step left out (`MetricsCallback(first_step_apart=True)`, what jobs do on a GPU since the
twenty-sixth session).

    python bench/eta_replay.py                                   # the kept runs: GRPO on H100s and on this CPU
    python bench/eta_replay.py workspace/runs/*/metrics.jsonl    # any run logged at every step

Each file is a run's metrics.jsonl (every step logged, as GRPO logs), or a kept one whose first line names the run,
its device and `max_minutes`. At each logged step the ETA is the steps left times the mean of the window's step
times, clipped to the time budget where the run had one (its deadline read back from the recorded ETAs); the error
is `bench/recipe.py`'s: the largest, after a tenth of the steps, of |ETA - the time that was in fact left|, as a
share of the phase. Both rules run through `jobs.metrics.MetricsCallback.mean_step`, the code the jobs run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.metrics import MetricsCallback  # noqa: E402

KEPT = sorted((ROOT / "bench" / "sweeps" / "results").glob("kept-*/eta-replay/*.jsonl"))


def read(path: Path) -> tuple[dict, list[dict]]:
    """The run's name, device and budget, and its step lines."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta = rows.pop(0) if rows and "run" in rows[0] else {"run": path.parent.name, "device": "", "max_minutes": None}
    return meta, [row for row in rows if row.get("step_s") is not None and row.get("elapsed_s") is not None]


def eta_error(rows: list[dict], first_step_apart: bool, budgeted: bool) -> float | None:
    """The largest ETA error after a tenth of the steps, replayed with one rule, as a share of the phase."""
    if len(rows) < 3:
        return None
    # The deadline, where a budget clipped the ETA: no recorded ETA passed it, the clipped ones met it.
    deadline = max(row["eta_s"] + row["elapsed_s"] for row in rows if row.get("eta_s") is not None)
    replay = MetricsCallback(Path("unused"), first_step_apart=first_step_apart)
    etas = []
    for row in rows:  # a line a step: its step_s is that step's time
        replay.step_times.append(row["step_s"])
        replay.steps_timed += 1
        eta = max(0, row["total_steps"] - row["step"]) * replay.mean_step()
        etas.append(min(eta, max(0.0, deadline - row["elapsed_s"])) if budgeted else eta)
    end = rows[-1]["elapsed_s"] + etas[-1]
    errors = [abs(eta - (end - row["elapsed_s"])) / end for row, eta in zip(rows[:-1], etas[:-1])
              if row["step"] >= 0.1 * row["total_steps"]]
    return max(errors) if errors else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="metrics.jsonl files (default: the kept runs)")
    args = parser.parse_args(argv)
    print("| run | device | steps | first step s | the rest, s | ETA error, the window's mean | first step left out |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for path in args.files or KEPT:
        meta, rows = read(path)
        if len(rows) < 3:
            continue
        budgeted = bool(meta.get("max_minutes"))
        before, after = eta_error(rows, False, budgeted), eta_error(rows, True, budgeted)
        rest = [row["step_s"] for row in rows[1:]]
        print(f"| {meta['run']} | {meta.get('device') or '?'} | {len(rows)} | {rows[0]['step_s']:.1f} | "
              f"{min(rest):.1f}-{max(rest):.1f} | {100 * before:.0f}% | {100 * after:.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
