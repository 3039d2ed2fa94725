"""How much can GRPO learn from a set of prompts? The spread of the intent score within each group of sampled answers.

    python bench/grpo_signal.py --adapter workspace/runs/gpu18-grpo/adapter           # 40 rows of each set
    python bench/grpo_signal.py --adapter workspace/runs/gpu18-grpo/adapter --rows 20 --sets generated eval

GRPO learns from the differences between the answers of one group (the same prompt sampled `--k` times): a group
whose answers all score alike has an advantage of 0 for each and teaches nothing (TRL's `frac_reward_zero_std`). The
intent reward dominates the recipes' rewards (weight 3.0, `studio.iac.rewards`) and reads the intent stage's score,
so for each prompt set this samples k answers per row as GRPO's rollouts do (temperature 0.9, top_p 1, up to 768 new
tokens, unguided) through `studio.evaluation.evaluate` (llama.cpp on a CPU) and prints, per set: the mean intent
score of the answers, the mean standard deviation within a group, the share of groups whose answers all score the
same, and the share of groups with at least one answer above the group's mean by a quarter or more.

Sets: `generated` (data/generated.jsonl, the gpu recipe's GRPO prompts), `seed` (data/train.jsonl, the prompts the
SFT trained on), `eval` (data/eval.jsonl: measured only, to see what prompts like the held-out requests would give;
never trained on). Each set's rows are drawn at random (seed 0).

On 2026-12-06, this 2-core CPU, the gpu recipe's SFT+GRPO adapter of that day's H100 run (40 rows a set, 3-4 minutes
each; bench/sweeps/results/recipe-gpu-h100.md, eighteenth session):

| prompts | intent score | std within a group | groups all alike | groups with an answer 0.25 above their mean |
| --- | --- | --- | --- | --- |
| generated | 0.708 | 0.107 | 55.0% | 17.5% |
| seed | 0.993 | 0.009 | 92.5% | 0.0% |
| eval | 0.139 | 0.070 | 45.0% | 5.0% |

The cpu recipe's SFT adapter (`cpu11-sft`, where its GRPO starts; `--sets seed eval`, 4-5 minutes a set):

| prompts | intent score | std within a group | groups all alike | groups with an answer 0.25 above their mean |
| --- | --- | --- | --- | --- |
| seed (the cpu recipe's GRPO prompts) | 0.023 | 0.026 | 67.5% | 2.5% |
| eval | 0.022 | 0.022 | 75.0% | 2.5% |

The cpu recipe's SFT trained again (`cpu20-sft`, 2026-12-06, 117 steps in 18.7 min; `--sets generated seed`, 8.5
and 6.5 minutes):

| prompts | intent score | std within a group | groups all alike | groups with an answer 0.25 above their mean |
| --- | --- | --- | --- | --- |
| generated (the gpu recipe's GRPO prompts) | 0.031 | 0.031 | 57.5% | 0.0% |
| seed (the cpu recipe's GRPO prompts) | 0.021 | 0.025 | 65.0% | 2.5% |

Requests like the held-out ones would give GRPO less to learn from than the generated prompts: the model's answers
to them are nearly all poor alike. The cpu recipe's GRPO (8-10 steps of 2 prompts) meets about one group in 40 with
an answer worth reinforcing: nothing to learn within its budget. The generated prompts would not give it more: the
cpu recipe's SFT meets 3% of their clauses, with no group holding a standout answer in 40.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs import recipe  # noqa: E402
from studio import evaluation, generation, models, workspace  # noqa: E402

SETS = {"generated": recipe.GENERATED, "seed": workspace.SEED_DATA / "train.jsonl", "eval": evaluation.EVAL_SPLIT}


def group_figures(groups: list[list[float]]) -> dict[str, float]:
    """The learning signal of groups of intent scores (one group per prompt)."""
    spreads = [statistics.pstdev(scores) for scores in groups]
    return {
        "intent score": statistics.fmean(s for scores in groups for s in scores),
        "std within a group": statistics.fmean(spreads),
        "groups all alike": sum(spread == 0 for spread in spreads) / len(groups),
        "groups with an answer 0.25 above their mean": sum(
            max(scores) - statistics.fmean(scores) >= 0.25 for scores in groups) / len(groups),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default="", help="a LoRA adapter on the embedded model (else the base)")
    parser.add_argument("--sets", nargs="+", choices=tuple(SETS), default=list(SETS))
    parser.add_argument("--rows", type=int, default=40, help="rows drawn from each set")
    parser.add_argument("--k", type=int, default=4, help="answers per prompt (GRPO's num_generations)")
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--tokens", type=int, default=768)
    args = parser.parse_args()
    candidate = evaluation.Candidate("model", models.EMBEDDED, args.adapter or None)
    settings = generation.Settings(max_new_tokens=args.tokens, temperature=args.temperature, top_p=1.0)
    table = {}
    for name in args.sets:
        rows = evaluation.load_rows(SETS[name])
        rows = random.Random(0).sample(rows, min(args.rows, len(rows)))
        started = time.monotonic()
        results = evaluation.evaluate(rows, [candidate], settings, samples=args.k)
        # An answer that does not parse has no intent score: GRPO's intent reward is 0 there.
        groups = [[(answer.get("intent") or {}).get("score") or 0.0 for answer in record["answers"]["model"]]
                  for record in results.rows]
        table[name] = group_figures(groups)
        print(f"[signal] {name}: {len(rows)} rows x {args.k} answers in {time.monotonic() - started:.0f} s", flush=True)
    columns = list(next(iter(table.values())))
    print(f"\nadapter: {args.adapter or '(base model)'}; k = {args.k} at temperature {args.temperature}, top_p 1")
    print("| prompts | " + " | ".join(columns) + " |")
    print("| --- " * (len(columns) + 1) + "|")
    for name, figures in table.items():
        print(f"| {name} | " + " | ".join(f"{figures[c]:.1%}" if "groups" in c else f"{figures[c]:.3f}"
                                         for c in columns) + " |")


if __name__ == "__main__":
    main()
