"""Would more rows written like the seed ones lift intent on held-out requests? The `gpu` recipe's SFT on nested
subsets of the seed rows, the same steps for each, evaluated on the eval split.

    python bench/data_curve.py                                # 1/8, 1/4, 1/2 and all 619 seed rows, 300 steps each
    python bench/data_curve.py --fractions 0.125 0.25         # a machine whose calls are short: some now,
    python bench/data_curve.py --fractions 0.5 1              # the rest later; each call prints the table of
                                                              # every point trained so far
    python bench/data_curve.py --mix --name curve-mix         # each subset with the recipe's share of generated rows
    python bench/data_curve.py --fractions 0.5 1 --steps 2 --limit 3 --model TINY_MODEL --guided off   # a smoke run

The seed rows (data/train.jsonl, 619) are the only human-written ones; the eval split's 121 requests are written
the same way and never trained on. Each subset holds the smaller ones (one seeded order, cut at each size), so a
point differs from the one before only by the rows it adds, and every point trains the same `--steps` (the same
compute: fewer rows, more passes over them). The SFT is recipes/gpu-sft.yaml's otherwise: every layer, lr 1e-3,
`speed: auto`; its generated rows are left out unless `--mix` keeps them at the recipe's share. Each run trains
through `python -m jobs run` (bench/recipe.py's `run_phase`) into runs/<name>-<rows>-sft and is evaluated there
(bench/recipe_sweep.py's `evaluate`: greedy, guided by the schemas unless `--guided off`, `eval-guided/` or
`eval/`); a point already trained and evaluated is read back, not run again.

The table: per point the rows, the training wall time, and per kind schema-valid, intent (every clause met) and the
intent score (the mean share of a request's clauses met, `evaluation.intent_scores`); under it, the intent score's
gain per doubling of the rows (least squares on log2 of the rows). A gain that holds up to all the rows says more
such rows would still help; a flat end says the model has stopped learning from more of them.

On 2026-12-06, one H100, 300 steps a point, guided (bench/sweeps/results/data-curve-h100.md):

| seed rows | all intent | all intent score | terraform intent score | kubernetes intent score |
| --- | --- | --- | --- | --- |
| 77 | 2.5 | 10.9 | 13.7 | 6.8 |
| 155 | 2.5 | 13.0 | 15.1 | 9.8 |
| 310 (another draw: 14.8) | 2.5 | 16.1 | 16.4 | 15.6 |
| 619 | 2.5 | 18.5 | 19.5 | 17.1 |
| 619 and 619 generated (`--mix`) | 5.0 | 23.2 | 24.1 | 21.7 |

+2.6 points of intent score per doubling, not flattening at 619 rows; whole requests met stay at 2.5%. One point
carries about ±2-3 points (the `--mix` point run again with the rows in another order: 20.0).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipe as recipe_bench  # noqa: E402  (bench/recipe.py)
import recipe_sweep  # noqa: E402

from jobs import recipe  # noqa: E402
from studio import dataset, evaluation, workspace  # noqa: E402

SEED_ROWS = workspace.SEED_DATA / "train.jsonl"
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def subsets(rows: list[dataset.Row], fractions: list[float], seed: int = 0) -> dict[int, list[dataset.Row]]:
    """Nested subsets of `rows`, by size: one seeded order of the rows, cut at each fraction (at least one row).

    >>> rows = [dataset.Row(instruction=f"request {i}", output="x", kind="terraform") for i in range(8)]
    >>> cuts = subsets(rows, [0.25, 0.5, 1.0])
    >>> sorted(cuts), cuts[2] == cuts[4][:2], len({row.instruction for row in cuts[8]})
    ([2, 4, 8], True, 8)
    """
    order = random.Random(seed).sample(rows, len(rows))
    return {max(1, round(fraction * len(rows))): order[: max(1, round(fraction * len(rows)))] for fraction in fractions}


def gain_per_doubling(points: list[tuple[int, float]]) -> float | None:
    """The least-squares slope of `score` against log2(`rows`) over (rows, score) points; None under two sizes.

    >>> gain_per_doubling([(100, 0.10), (200, 0.15), (400, 0.20)])
    0.05
    """
    xs = [math.log2(rows) for rows, _ in points]
    if len(set(xs)) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(score for _, score in points) / len(points)
    slope = (sum((x - mean_x) * (score - mean_y) for x, (_, score) in zip(xs, points))
             / sum((x - mean_x) ** 2 for x in xs))
    return round(slope, 6)


def run_point(name: str, rows: list[dataset.Row], args: argparse.Namespace) -> dict:
    """Train (unless trained before) and evaluate (unless evaluated before) one subset; its figures."""
    rows_file = workspace.home() / "curves" / args.name / f"seed-{len(rows)}.jsonl"
    changes = {"dataset": str(rows_file), "max_steps": args.steps, "max_minutes": 0.0}
    if args.model:
        changes["model"] = args.model
    if not args.mix:
        changes["mix_dataset"] = ""
    spec, _ = recipe.phases(name, "gpu", **changes)
    run = spec.run_folder()
    trained = json.loads((run / "curve.json").read_text()) if (run / "curve.json").exists() else {}
    if trained and [trained.get(key) for key in ("steps", "mix", "seed")] != [args.steps, args.mix, args.seed]:
        sys.exit(f"{run} was trained with {trained.get('steps')} steps, "
                 f"{'with' if trained.get('mix') else 'without'} generated rows, subsets of seed "
                 f"{trained.get('seed')}: give another --name, or the same --steps, --mix and --seed")
    if not (run / "adapter").is_dir():
        workspace.atomic_write_text(rows_file, dataset.jsonl_text(rows))
        recipe.ensure_generated(spec)
        print(f"[curve] {len(rows)} rows: SFT {spec.output}, {args.steps} steps", flush=True)
        seconds = recipe_bench.run_phase(spec)
        trained = {"seconds": round(seconds, 1), "rows": len(rows), "steps": args.steps, "mix": args.mix,
                   "seed": args.seed}
        workspace.atomic_write_text(run / "curve.json", json.dumps(trained))
    results_folder = run / ("eval-guided" if args.guided == "on" else "eval")
    entry = recipe_sweep.evaluate_once(run / "adapter", spec.model, results_folder, args.limit, args.eval_batch,
                                       args.max_new_tokens, args.guided == "on",
                                       f"[curve] {len(rows)} rows: evaluating")
    return {"rows": len(rows), "train_s": trained.get("seconds"), "by_kind": entry["by_kind"],
            "rates": entry["rates"], "intent_score": entry.get("intent_score") or {}, "results": str(results_folder)}


def print_table(points: list[dict]) -> None:
    scopes = ("all", *evaluation.KINDS)
    header = ["rows", "train s"] + [f"{scope} {figure}" for scope in scopes
                                    for figure in ("schema", "intent", "intent score")]
    print("| " + " | ".join(header) + " |")
    print("| --- " * len(header) + "|")
    for point in points:
        cells = [str(point["rows"]), f"{point['train_s']:.0f}" if point["train_s"] else "-"]
        for scope in scopes:
            rates = point["rates"] if scope == "all" else point["by_kind"].get(scope)
            score = point["intent_score"].get(scope)
            cells += ([f"{100 * rates['schema']:.1f}", f"{100 * rates['intent']:.1f}"] if rates else ["-", "-"])
            cells.append(f"{100 * score:.1f}" if score is not None else "-")
        print("| " + " | ".join(cells) + " |")
    for scope in scopes:
        gain = gain_per_doubling([(p["rows"], p["intent_score"][scope]) for p in points if scope in p["intent_score"]])
        if gain is not None:
            print(f"{scope}: intent score {100 * gain:+.1f} points per doubling of the rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS),
                        help="shares of the seed rows, each above 0 and at most 1")
    parser.add_argument("--steps", type=int, default=300, help="SFT steps at every point (the same compute)")
    parser.add_argument("--name", default="curve", help="runs are <name>-<rows>-sft")
    parser.add_argument("--mix", action="store_true", help="keep the recipe's share of generated rows")
    recipe_sweep.add_evaluation_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="the order the subsets are cut from")
    args = parser.parse_args()
    if not all(0 < fraction <= 1 for fraction in args.fractions):
        parser.error("--fractions are shares of the seed rows: each above 0 and at most 1")
    seed_rows = evaluation.load_rows(SEED_ROWS)
    # This call's points, and those an earlier call of the same name trained (read back, not run again).
    trained = [(json.loads(path.read_text())["rows"], path) for path in workspace.home().glob("runs/*-sft/curve.json")]
    earlier = [size / len(seed_rows) for size, path in trained if path.parent.name == f"{args.name}-{size}-sft"]
    cuts = subsets(seed_rows, sorted({*args.fractions, *earlier}), args.seed)
    points = [run_point(f"{args.name}-{size}", rows, args) for size, rows in sorted(cuts.items())]
    print(f"\n[curve] {args.steps} SFT steps a point, {'guided' if args.guided == 'on' else 'unguided'}, "
          f"{'with' if args.mix else 'without'} generated rows:")
    print_table(points)


if __name__ == "__main__":
    main()
