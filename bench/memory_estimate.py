"""How close is the Train tab's memory estimate to what a job really takes? Baseline: the measured peak.

    python bench/memory_estimate.py                      # embedded model on the CPU, 2 SFT steps per setting
    python bench/memory_estimate.py --steps 3 --threads 2

Runs real SFT jobs (`python -m jobs run`, as the runner does) on data/train.jsonl at batch 1, 4 and 8 with
gradient checkpointing, and batch 4 without, and prints for each the estimate (jobs.estimate), the peak the job
measured (summary.json: peak resident set on the CPU, CUDA max allocated on a GPU) and their ratio. max_length
is short enough that nearly every row is cut to it, so the estimate's "at full max_length" bound is what the
batches hold. One torch thread by default: memory does not depend on it, and on a shared 2-core machine one
thread is much faster than two fighting other processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/memory_estimate.py` from anywhere

from jobs import specs  # noqa: E402
from jobs.estimate import estimate_job  # noqa: E402
from studio import models  # noqa: E402


def run_job(spec: specs.JobSpec, home: Path) -> dict:
    job_yaml = home / f"{spec.output}.yaml"
    specs.save(spec, job_yaml)
    env = {**os.environ, "INFRAMIND_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "jobs", "run", str(job_yaml)], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{spec.output} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    summary = json.loads((home / "runs" / spec.output / "summary.json").read_text())
    summary["seconds"] = time.monotonic() - started
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=models.EMBEDDED)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="inframind-bench-") as tmp:
        home = Path(tmp)
        # The model cache of the usual workspace saves converting the embedded model again.
        cache = Path(os.environ.get("INFRAMIND_HOME") or ROOT / "workspace") / "models"
        if cache.is_dir():
            (home / "models").symlink_to(cache.resolve())
        os.environ["INFRAMIND_HOME"] = str(home)
        print(f"model {args.model}, sequences of {args.max_length} tokens, {args.steps} steps, {args.threads} "
              "thread(s), data/train.jsonl; peak = what the job measured (baseline), ratio = estimate / peak")
        print(f"{'setting':<34} {'estimate':>10} {'peak':>10} {'ratio':>6} {'tokens/s':>9}")
        for batch, checkpointing in ((1, True), (4, True), (8, True), (4, False)):
            spec = specs.SFTJob(model=args.model, dataset=str(ROOT / "data/train.jsonl"), eval_dataset="",
                                output=f"bench-{batch}-{int(checkpointing)}", max_steps=args.steps,
                                batch_size=batch, gradient_accumulation=1, max_length=args.max_length,
                                gradient_checkpointing=checkpointing, save_steps=10_000)
            report = estimate_job(spec)
            summary = run_job(spec, home)
            peak = summary["peak_memory_bytes"]
            label = f"{report.device}, batch {batch}, checkpointing {'on' if checkpointing else 'off'}"
            print(f"{label:<34} {report.total / 2**30:>8.2f} G {peak / 2**30:>8.2f} G {report.total / peak:>6.2f} "
                  f"{summary['tokens_per_s'] or 0:>9,.0f}", flush=True)
            parts = ", ".join(f"{name} {size / 2**30:.2f}" for name, size in report.parts.items())
            print(f"  estimate parts (GiB): {parts}", flush=True)


if __name__ == "__main__":
    main()
