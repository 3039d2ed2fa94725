"""SFT speed on this CPU: the cpu recipe's SFT phase as written in fp32 (the baseline) against `speed: auto`, in the
same run, through the job runner (`python -m jobs run`), a few steps each.

    python bench/cpu_train_speed.py                 # recipes/cpu-sft.yaml, 8 steps per variant
    python bench/cpu_train_speed.py --steps 12 --spec recipes/cpu-sft.yaml

Variants: `as_written` (fp32, rows in the sampler's order: what the studio ran on every CPU before), `auto` (bf16
autocast where this CPU multiplies bf16 at least `CPU_BF16_MIN_SPEEDUP` times faster, rows batched with rows of like
length), and each with LoRA dropout 0.05 and 0 (dropout draws a mask over every adapted projection's input: on a
CPU that is a large share of the step). Prints real (non-padding) tokens per second, the median step, the phase's
wall time and each variant's ratio to the baseline, and the first and last losses (the settings should not change
what is learned per step). Each variant trains in its own temporary workspace.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/cpu_train_speed.py` from anywhere

from jobs import specs  # noqa: E402
from studio import models  # noqa: E402


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU"


def run_variant(spec: specs.SFTJob, home: Path) -> dict:
    folder = home / "runs" / spec.output
    folder.mkdir(parents=True, exist_ok=True)
    job_yaml = folder / "job.yaml"
    specs.save(spec, job_yaml)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "jobs", "run", str(job_yaml)], cwd=ROOT,
                            env=dict(os.environ, INFRAMIND_HOME=str(home)), capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode:
        sys.exit(f"{spec.output} failed:\n{result.stderr[-2000:]}")
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get("tokens_per_s")]
    steady = rows[2:] or rows  # the first steps pay for warming up
    plan = next((line for line in (folder / "train.log").read_text().splitlines() if "[job] speed:" in line), "")
    return {"tokens_per_s": statistics.median(row["tokens_per_s"] for row in steady),
            "step_s": statistics.median(row["step_s"] for row in steady),
            "train_s": rows[-1]["elapsed_s"], "wall_s": seconds,
            "losses": [round(rows[0]["loss"], 3), round(rows[-1]["loss"], 3)], "plan": plan.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=str(ROOT / "recipes" / "cpu-sft.yaml"))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--dropouts", type=float, nargs="+", default=[0.05, 0.0])
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()

    base = specs.load(args.spec).with_paths_resolved(ROOT)
    print(f"{cpu_name()}, {os.cpu_count()} cores; bf16 matrices {models.cpu_bf16_speedup():.1f}x fp32's; "
          f"{Path(args.spec).name}, {args.steps} steps of {base.batch_size} rows each", flush=True)
    figures = []
    for speed in ("as_written", "auto"):
        for dropout in args.dropouts:
            spec = dataclasses.replace(base, speed=speed, max_steps=args.steps, save_steps=10 ** 6,
                                       output=f"speed-{speed}-d{dropout:g}",
                                       lora=dataclasses.replace(base.lora, dropout=dropout))
            with tempfile.TemporaryDirectory(prefix="inframind-cpu-speed-") as home:
                result = run_variant(spec, Path(home))
            result |= {"speed": speed, "dropout": dropout}
            baseline = figures[0]["tokens_per_s"] if figures else result["tokens_per_s"]
            result["vs_baseline"] = result["tokens_per_s"] / baseline
            figures.append(result)
            print(f"{speed:>10} dropout {dropout:<4g} {result['tokens_per_s']:7.1f} real tokens/s  "
                  f"{result['step_s']:5.2f} s/step  train {result['train_s']:6.1f} s  {result['vs_baseline']:5.2f}x  "
                  f"loss {result['losses'][0]} -> {result['losses'][1]}"
                  + ("  (baseline)" if len(figures) == 1 else ""), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "bf16_speedup": models.cpu_bf16_speedup(),
                                               "spec": args.spec, "steps": args.steps, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
