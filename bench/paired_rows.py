"""Two evaluations of the same rows, row by row: which requests one model meets whole and the other does not, an exact
sign test over those, and in how many rows the intent score is higher or lower. One run against another of the same
seed says how the rows moved, not how seeds vary: that takes more seeds.

    python bench/paired_rows.py workspace/runs/vv600-s1-sft/eval-guided workspace/runs/vv600-s1-sft-rag/eval-guided
    python bench/paired_rows.py runs/gpu-grpo/eval-guided runs/gpu-grpo/eval-guided --label SFT --after-label SFT+GRPO

On 2026-12-07 (one H100, twenty-ninth session; bench/sweeps/results/retrieved-examples-cpu.md), the gpu recipe's SFT
of seed 1 on rows with a worked example against the same seed on the recipe's rows: 8 requests met whole only with the
example, 1 only without (p = 0.04), the intent score higher in 37 rows and lower in 25.
"""

from __future__ import annotations

import argparse
import json
import sys
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import evaluation  # noqa: E402


def verdicts(folder: Path, label: str) -> dict[str, tuple[bool, float | None]]:
    """Per row id: whether `label`'s first answer met its intent whole, and its intent score."""
    results = evaluation.read(folder)
    if results is None:
        sys.exit(f"{folder}: no evaluation there (summary.json and rows.jsonl, as `python -m jobs eval` writes them)")
    found = {}
    for record in results.rows:
        answers = record["answers"].get(label)
        if answers:
            intent = answers[0].get("intent") or {}
            found[record["id"]] = (intent.get("status") == "passed", intent.get("score"))
    return found


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided sign test's p over the rows that differ.

    >>> sign_test(8, 1), sign_test(0, 0), sign_test(3, 3)
    (0.039062, 1.0, 1.0)
    """
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return round(min(1.0, 2 * tail), 6)


def paired(before: dict, after: dict) -> dict:
    """The rows both evaluations answered: met whole only after, only before, the sign test's p, scores up and down."""
    ids = sorted(set(before) & set(after))
    gained = [i for i in ids if after[i][0] and not before[i][0]]
    lost = [i for i in ids if before[i][0] and not after[i][0]]
    scored = [i for i in ids if before[i][1] is not None and after[i][1] is not None]
    return {"rows": len(ids), "met only after": len(gained), "met only before": len(lost),
            "p": sign_test(len(gained), len(lost)),
            "score higher": sum(after[i][1] > before[i][1] for i in scored),
            "score lower": sum(after[i][1] < before[i][1] for i in scored), "gained": gained, "lost": lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="an evaluation folder (rows.jsonl)")
    parser.add_argument("after", help="another evaluation of the same rows")
    parser.add_argument("--label", default="fine-tuned", help="the model's label in both (default fine-tuned)")
    parser.add_argument("--after-label", default="", help="the model's label in `after`, where it differs (a "
                        "recipe's evaluation labels its models SFT and SFT+GRPO)")
    args = parser.parse_args()
    after_label = args.after_label or args.label
    found = paired(verdicts(Path(args.before), args.label), verdicts(Path(args.after), after_label))
    if not found["rows"]:
        sys.exit(f"no row is in both {args.before} (answers of {args.label!r}) and {args.after} (answers of "
                 f"{after_label!r})")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
