"""Answers of an evaluation drawn at random, with their verdicts, as Markdown: a reader judges the answers, not
only the rates.

    python bench/sample_answers.py RESULTS_FOLDER                      # 10 per kind, seed 0
    python bench/sample_answers.py runs/gpu-grpo/eval --per-kind 5 --label fine-tuned --lines 40

RESULTS_FOLDER is what `studio.evaluation.write` wrote (rows.jsonl, summary.json): an Evaluate-tab result, a run's
eval/ folder, or one variant's folder of `bench/recipe_sweep.py`. Each answer shows its request, the code (cut
after `--lines` lines, and said so), every stage's verdict and the first reason of the first failing stage.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/sample_answers.py` from anywhere

from studio import evaluation, examples  # noqa: E402


def verdicts(answer: dict) -> str:
    stages = [f"{stage} {answer[stage]['status']}" for stage in evaluation.STAGES if isinstance(answer.get(stage), dict)]
    if answer.get("loop"):
        stages.append(f"loop (a line {answer['loop']['repeats']} times)")
    return ", ".join(stages)


def first_reason(answer: dict) -> str:
    failure = answer.get("failure")
    if failure == "loop":
        return f"loops on `{answer['loop']['line'][:80]}`"
    stage = answer.get(failure) if failure else None
    reasons = stage.get("reasons") if isinstance(stage, dict) else None
    return f"{failure}: {reasons[0]['message'][:300]}" if reasons else ""


def render(rows: list[dict], label: str, per_kind: int, seed: int, lines: int) -> str:
    picked = []
    for kind in evaluation.KINDS:
        of_kind = [row for row in rows if row["kind"] == kind and row["answers"].get(label)]
        picked += random.Random(seed).sample(of_kind, min(per_kind, len(of_kind)))
    out = []
    for number, row in enumerate(picked, 1):
        answer = row["answers"][label][0]
        code = (answer.get("code") or answer["text"]).splitlines()
        shown = "\n".join(code[:lines]) + (f"\n# ... {len(code) - lines} more lines" if len(code) > lines else "")
        fence = "hcl" if row["kind"] == "terraform" else "yaml"
        # A request asked with a worked example (studio.examples): its own input, then the example apart.
        example_request, example_answer = examples.shown(row.get("input") or "")
        own_input = examples.own_input(row.get("input") or "")
        request = row["instruction"] + (f" ({own_input})" if own_input else "")
        out += [f"### {number}. {row['id']} ({row['kind']}): {'passes' if answer.get('ok') else 'fails'}", "",
                f"> {request}", ""]
        if example_request:
            out += [f"Asked with the worked example “{example_request}”:", "", "<details><summary>its answer"
                    "</summary>", "", example_answer.strip(), "", "</details>", ""]
        out += [f"```{fence}", shown, "```", "", f"Verdicts: {verdicts(answer)}."]
        reason = first_reason(answer)
        if reason:
            out += ["", f"First failure: {reason}"]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--label", default="", help="the model's label (default: the last model evaluated)")
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lines", type=int, default=30, help="cut each answer's code after this many lines")
    args = parser.parse_args()
    results = evaluation.read(args.results)
    if results is None:
        sys.exit(f"{args.results}: no evaluation results there (rows.jsonl and summary.json)")
    label = args.label or results.summary["models"][-1]["label"]
    print(render(results.rows, label, args.per_kind, args.seed, args.lines))


if __name__ == "__main__":
    main()
