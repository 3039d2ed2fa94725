"""A recipe end to end: SFT, then GRPO from its adapter, then base / SFT / SFT+GRPO evaluated on the held-out
split (greedy, and sampled for pass@k), with each phase's wall time and how right its ETA was. Baseline: the base
model.

    python bench/recipe.py                              # recipes/cpu-*.yaml, the 121 eval rows
    python bench/recipe.py --recipe gpu --guided both   # recipes/gpu-*.yaml (builds data/generated.jsonl if missing)
    python bench/recipe.py --name try2 --limit 30       # other run names; evaluate on the first 30 rows only
    python bench/recipe.py --threads 2                  # torch threads (default: all cores)
    python bench/recipe.py --skip-training --guided both   # the three models unguided, then guided by the schemas
    python bench/recipe.py --skip-training --pass-at-k 0   # evaluate the trained runs again, greedy only
    python bench/recipe.py --recipe gpu --phase sft     # one phase only (calls shorter than the recipe), then
    python bench/recipe.py --recipe gpu --phase grpo    # --skip-training to evaluate

The table has the rate of each stage (greedy), the share of answers that loop (a line repeated more than 8 times),
and pass@1..4 from 4 answers per row sampled at temperature 0.7.

Each phase is a real job (`python -m jobs run`, what the runner starts), in the workspace ($INFRAMIND_HOME or
./workspace) under runs/<name>-sft and runs/<name>-grpo. The evaluation lands in runs/<name>-grpo/eval, where the
Evaluate tab lists it and the Export tab's model card quotes it. ETA error: for every logged step after the first
10% of a phase, |ETA - the time that was really left| / the phase's duration; the largest is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/recipe.py` from anywhere

from jobs import recipe, specs  # noqa: E402
from jobs.run_folder import RunFolder  # noqa: E402
from studio import evaluation, generation, workspace  # noqa: E402


def run_phase(spec: specs.JobSpec) -> float:
    """Train one phase as the runner would; its wall time in seconds."""
    folder = spec.run_folder()
    folder.mkdir(parents=True, exist_ok=True)
    job_yaml = folder / "job.yaml"
    specs.save(spec, job_yaml)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "jobs", "run", str(job_yaml)], cwd=ROOT)
    if result.returncode:
        sys.exit(f"{spec.output} failed: see {folder / 'train.log'}")
    return time.monotonic() - started


def eta_error(run: RunFolder) -> float | None:
    """The largest ETA error of a phase after its first 10% of steps, as a share of the phase's duration."""
    return largest_eta_error([row for row in run.metrics()
                              if row.get("eta_s") is not None and row.get("elapsed_s") is not None])


def largest_eta_error(rows: list[dict]) -> float | None:
    """`eta_error` over metrics lines (step, total_steps, elapsed_s, eta_s), recorded or replayed."""
    if len(rows) < 2:
        return None
    end = rows[-1]["elapsed_s"] + rows[-1]["eta_s"]  # the last line's ETA is one step or less
    errors = [abs(row["eta_s"] - (end - row["elapsed_s"])) / end for row in rows
              if row["step"] >= 0.1 * row["total_steps"] and row is not rows[-1]]
    return max(errors) if errors else None


def print_table(summary: dict, seconds: dict[str, float]) -> None:
    """One line per model and kind: the rate of each stage (greedy), the loop rate, the mean intent score
    (`evaluation.intent_scores`) and pass@k of the samples."""
    stages = (*evaluation.STAGES, "loop")
    ks = [f"pass@{k}" for k in (summary["models"][0].get("sampled", {}).get("pass_at_k") or {})]
    print(f"\n{'model':<10} {'kind':<11} " + " ".join(f"{s:>13}" for s in (*stages, "intent score", *ks)))
    for entry in summary["models"]:
        for scope in ("all", *evaluation.KINDS):
            figures = entry["rates"] if scope == "all" else entry["by_kind"].get(scope)
            if figures:
                sampled = [entry["sampled"]["pass_at_k"][k.removeprefix("pass@")] for k in ks] if scope == "all" else []
                score = (entry.get("intent_score") or {}).get(scope)
                print(f"{entry['label']:<10} {scope:<11} " + " ".join(f"{figures.get(s, 0.0):>12.1%} " for s in stages)
                      + (f"{score:>12.1%} " if score is not None else f"{'-':>12} ")
                      + "".join(f"{value:>13.1%} " for value in sampled))
    if ks:
        sampled = summary.get("sampled", {})
        print(f"\npass@k: {sampled.get('k')} answers per row sampled at temperature {sampled.get('temperature')}, "
              "beside greedy")
    speeds = [f"{e['label']} {e['new_tokens'] / e['seconds']:.1f}" for e in summary["models"] if e.get("seconds")]
    if speeds:
        print("new tokens/s: " + ", ".join(speeds))
    print("\n" + ", ".join(f"{phase} {value / 60:.1f} min" for phase, value in seconds.items()))


def train_phase(name: str, which: str, phase: str, **changes) -> float:
    """Train one phase of recipe `which` (the SFT, or GRPO from an SFT run trained before); its wall time."""
    sft, grpo = recipe.phases(name, which, **changes)
    spec = sft if phase == "sft" else grpo
    if phase == "sft":
        recipe.ensure_generated(sft)
    elif not (sft.run_folder() / "adapter").is_dir():
        sys.exit(f"GRPO starts from {sft.output}'s adapter: train it first (--phase sft)")
    print(f"[recipe] {phase.upper()}: {spec.output}", flush=True)
    seconds = run_phase(spec)
    error = eta_error(RunFolder(spec.run_folder()))
    eta = f"; largest ETA error after 10% of the steps: {error:.0%}" if error is not None else ""
    print(f"[recipe] {phase.upper()} took {seconds / 60:.1f} min{eta}", flush=True)
    return seconds


def run_recipe(name: str, limit: int = 0, skip_training: bool = False, max_new_tokens: int = 512,
               pass_at_k: int = 4, guided: bool = False, which: str = "cpu", batch_size: int = 0,
               with_base: bool = True, **changes) -> tuple[dict, dict[str, float], Path]:
    """Train both phases of recipe `which` (unless `skip_training`) and evaluate; the summary, the wall times and
    the results. `guided` evaluates with schema-guided decoding (studio.guided), into runs/<name>-grpo/eval-guided."""
    sft, grpo = recipe.phases(name, which, **changes)
    seconds: dict[str, float] = {}
    if not skip_training:
        for phase in ("sft", "grpo"):
            seconds[phase.upper()] = train_phase(name, which, phase, **changes)
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[: limit or None]
    contenders = [evaluation.Candidate("base", sft.model)] if with_base else []
    contenders += [evaluation.Candidate("SFT", sft.model, str(sft.run_folder() / "adapter")),
                  evaluation.Candidate("SFT+GRPO", grpo.model, str(grpo.run_folder() / "adapter"))]
    sampled = f", and pass@{pass_at_k} from {pass_at_k} samples at 0.7" if pass_at_k else ""
    guided_note = ", guided by the schemas" if guided else ""
    print(f"[recipe] evaluating {', '.join(c.label for c in contenders)} on {len(rows)} eval rows "
          f"(greedy{sampled}{guided_note})", flush=True)
    started = time.monotonic()

    def report(progress: evaluation.Progress) -> None:
        print(f"[eval] {progress}", flush=True)

    results = evaluation.evaluate(rows, contenders, generation.Settings(max_new_tokens=max_new_tokens, guided=guided),
                                  on_progress=report, pass_at=pass_at_k, pass_at_temperature=0.7,
                                  batch_size=batch_size or evaluation.DEFAULT_BATCH_SIZE)
    seconds["evaluation (guided)" if guided else "evaluation"] = time.monotonic() - started
    folder = evaluation.write(results, grpo.run_folder() / ("eval-guided" if guided else "eval"))
    eta = {label: eta_error(RunFolder(spec.run_folder())) for label, spec in (("SFT", sft), ("GRPO", grpo))}
    (folder / "recipe.json").write_text(json.dumps({"seconds": seconds, "eta_error": eta}, indent=1))
    return results.summary, seconds, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=tuple(recipe.RECIPES), default="cpu",
                        help="recipes/<recipe>-sft.yaml and -grpo.yaml (default: cpu)")
    parser.add_argument("--name", default="", help="runs are <name>-sft and <name>-grpo (default: the recipe's name)")
    parser.add_argument("--skip-base", action="store_true", help="evaluate SFT and SFT+GRPO only")
    parser.add_argument("--eval-batch", type=int, default=0, help="answers generated at once (default: the "
                        "studio's; 128 on a large GPU)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate on the first N eval rows only")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--skip-training", action="store_true", help="evaluate the runs already trained")
    parser.add_argument("--phase", choices=("sft", "grpo"), default="",
                        help="train this phase only, evaluate nothing (a machine whose calls are shorter than the "
                        "recipe: --phase sft, then --phase grpo, then --skip-training)")
    parser.add_argument("--guided", choices=("off", "on", "both"), default="off",
                        help="schema-guided decoding in the evaluation: off, on, or both (one table each)")
    parser.add_argument("--pass-at-k", type=int, default=4, help="also sample k answers per row at temperature 0.7 "
                        "for pass@k beside greedy (0: greedy only)")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    print(f"[recipe] workspace {workspace.home()}", flush=True)
    if args.phase:
        if args.skip_training:
            parser.error("--phase trains one phase; --skip-training trains none: give one of them")
        train_phase(args.name or args.recipe, args.recipe, args.phase)
        return
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.guided]
    for index, guided in enumerate(modes):
        skip = args.skip_training or index > 0  # train once, evaluate each way
        summary, seconds, folder = run_recipe(args.name or args.recipe, args.limit, skip, pass_at_k=args.pass_at_k,
                                              guided=guided, which=args.recipe, batch_size=args.eval_batch,
                                              with_base=not args.skip_base)
        print(f"\n[recipe] {'guided by the schemas' if guided else 'unguided'}:")
        print_table(summary, seconds)
        print(f"results: {folder}")


if __name__ == "__main__":
    main()
