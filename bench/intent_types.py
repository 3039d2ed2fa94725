"""Whether a model writes the resource types and kinds its requests ask for, and whether training showed them.

    python bench/intent_types.py RESULTS_FOLDER                  # the first model of an evaluation
    python bench/intent_types.py runs/cpu-grpo/eval --label fine-tuned

RESULTS_FOLDER is what `studio.evaluation.write` wrote (rows.jsonl): an Evaluate-tab result, a run's eval/ folder,
`bench/eval_engine.py --keep`'s folders. For each intent clause that names a Terraform resource type or a Kubernetes
kind, it counts whether the type appears in the training answers (`data/train.jsonl`) and whether the model's answer
declares it; then the types the answers declare first, most common first. Where the types are in the training data
and the answers still declare others (or the same one for every request), what limits intent is the model, not the
data's coverage.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "data" / "train.jsonl"
_RESOURCE = re.compile(r'^\s*resource\s+"([A-Za-z0-9_]+)"', re.M)
_KIND = re.compile(r"^kind:\s*([A-Za-z0-9]+)\s*$", re.M)


def declared(kind: str, code: str) -> list[str]:
    """The resource types (Terraform) or kinds (Kubernetes, `k8s:<Kind>`) `code` declares, in order."""
    if kind == "terraform":
        return _RESOURCE.findall(code)
    return ["k8s:" + name for name in _KIND.findall(code)]


def wanted(clause: dict) -> str | None:
    """The type or kind an intent clause asks for, named as `declared` names them."""
    if clause.get("resource"):
        return clause["resource"]
    return "k8s:" + clause["kind"] if clause.get("kind") else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--label", default="", help="the model's label in rows.jsonl (default: the first)")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    seen = collections.Counter()
    for row in map(json.loads, TRAIN.read_text(encoding="utf-8").splitlines()):
        seen.update(set(declared(row["kind"], row["output"])))
    rows = [json.loads(line) for line in (args.results / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
    if not rows:
        sys.exit(f"{args.results / 'rows.jsonl'} holds no rows")
    label = args.label or next(iter(rows[0]["answers"]))
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    first: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in rows:
        code = row["answers"][label][0]["text"]
        types = declared(row["kind"], code)
        first[row["kind"]][types[0] if types else "(none)"] += 1
        for clause in row.get("intent", {}).get("require", []):
            name = wanted(clause)
            if name:
                counts = by_kind[row["kind"]]
                counts["clauses"] += 1
                counts["in training"] += seen[name] > 0
                counts["written"] += name in types
    print(f"{args.results} ({label}): intent clauses that name a type or kind")
    for kind, counts in sorted(by_kind.items()):
        print(f"  {kind:10s} {counts['clauses']:4d} clauses; the type in the training answers "
              f"{counts['in training']:4d}; declared by the answer {counts['written']:4d}")
    for kind, counts in sorted(first.items()):
        answers = sum(counts.values())
        print(f"  {kind:10s} first type of the {answers} answers: "
              + ", ".join(f"{name} {n}" for name, n in counts.most_common(args.top)))


if __name__ == "__main__":
    main()
