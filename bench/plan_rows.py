"""Rows whose answers begin with a plan: one comment line per clause of the row's intent, then the code. Would a model
that first restates what was asked, in a line per resource, meet more of an unseen request than one that writes the
code straight away? And when it misses, is it the plan (reading the request) or the code after it (writing what the
plan says)?

    python bench/plan_rows.py --out data/plan                # train.jsonl and eval.jsonl there, a second
    python bench/plan_rows.py --plans workspace/runs/cpu29-plan/eval-guided     # the answers' plans against the rows'

A row's plan is its `intent` (studio/iac/INTENT.md) in short words, after the code fence's first line:

    # aws_rds_cluster: engine = "aurora-postgresql", storage_encrypted = true, backup_retention_period = 14
    # aws_rds_cluster_instance: count >= 2, refers to aws_rds_cluster

Kubernetes paths keep their last two parts (`grpc.port`, not `spec.template.spec.containers.livenessProbe.grpc.port`).
Only the answers change; the eval rows are written as they are, with their plans kept for the comparison. Guided
Terraform answers may write no comment line (`decoding.COMMENT_BANS`), so evaluate with `bench/eval_engine.py
--no-comment-bans`.

On 2026-12-07, this 2-core CPU, the cpu recipe's SFT (r=128, its 124 steps) on these rows against the recipe's, both
guided without the comment bans, the 121 eval rows (bench/sweeps/results/plan-rows-cpu.md): every answer writes a plan,
but the plans name the right type or kind in 18.5% (Terraform) and 28.9% (Kubernetes) of the lines asked and invent
types (77 of the 113 provider types they name do not exist); the code declares 51 of the 171 types and kinds asked,
against 54 with no plan. The intent score 9.9 → 8.6, none of the requests met whole (0.8% before), and 31 of the 72
Terraform plans loop. Not a setting of the studio.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import intent_types  # noqa: E402
from studio import dataset, evaluation, workspace  # noqa: E402
from studio.iac.aws_schema import aws_schema  # noqa: E402
from studio.iac.intent import load_intent  # noqa: E402

HEADS = ("resource", "data", "module", "variable", "output", "local", "provider", "kind")
OPERATORS = {"eq": "=", "ne": "!=", "gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
FENCE = re.compile(r"^```[a-z]*\n")


def value(matcher) -> str:
    """A `where` entry's matcher as an operator and a value: `= 14`, `>= 2`, `refers to aws_s3_bucket`."""
    if not isinstance(matcher, dict):
        return "= " + json.dumps(matcher)
    parts = []
    for key, wanted in matcher.items():
        if key in OPERATORS:
            parts.append(f"{OPERATORS[key]} {json.dumps(wanted)}")
        elif key == "refers_to":
            parts.append("refers to " + (", ".join(wanted) if isinstance(wanted, list) else wanted))
        elif key == "exists":
            parts.append("set" if wanted else "unset")
        elif key == "in":
            parts.append("one of " + ", ".join(json.dumps(each) for each in wanted))
        elif key == "contains":
            parts.append("contains " + json.dumps(wanted))
        elif key == "regex":
            parts.append(f"matches /{wanted}/")
        elif key == "len_gte":
            parts.append(f"at least {wanted} items")
    return " and ".join(parts)


def short(path: str, kind: str) -> str:
    return ".".join(path.split(".")[-2:]) if kind == "kubernetes" else path


def clause_line(clause: dict, kind: str, forbid: bool) -> str:
    """One clause as a comment line: `# <type>[ "<name>"]: <path> <op> <value>, ...` (`# no ...` for a forbid)."""
    head_key = next(key for key in HEADS if key in clause)
    head = clause[head_key]
    head = head if head_key in ("resource", "kind") else f"{head_key} {head}" if head != "*" else head_key
    if clause.get("name") not in (None, "*"):
        head += f' "{clause["name"]}"'
    terms = [f"{short(path, kind)} {value(matcher)}" for path, matcher in (clause.get("where") or {}).items()]
    if clause.get("any_of"):
        terms.append(" or ".join("(" + ", ".join(f"{short(p, kind)} {value(m)}" for p, m in where.items()) + ")"
                                 for where in clause["any_of"]))
    for key in ("refers_to", "selects", "targets"):
        if clause.get(key):
            wanted = clause[key]
            terms.append(key.replace("_", " ") + " " + (", ".join(wanted) if isinstance(wanted, list) else wanted))
    if "count" in clause:
        count = clause["count"]
        terms.append("count " + (value(count) if isinstance(count, dict) else f"= {count}"))
    return "# " + ("no " if forbid else "") + head + (": " + ", ".join(terms) if terms else "")


def plan_of(row: dict) -> list[str]:
    intent = load_intent(row.get("intent"))
    return ([clause_line(c, row["kind"], False) for c in intent.get("require", [])]
            + [clause_line(c, row["kind"], True) for c in intent.get("forbid", [])])


def with_plan(row: dict) -> dict:
    """The row with its plan after the answer's opening fence (the row as it was where it has no fence or intent)."""
    plan, fence = plan_of(row), FENCE.match(row["output"])
    if not plan or not fence:
        return row
    return {**row, "output": fence.group(0) + "\n".join(plan) + "\n" + row["output"][fence.end():]}


def answer_plan(text: str) -> list[str]:
    """The comment lines an answer begins with, after its fence."""
    lines = FENCE.sub("", text.lstrip()).splitlines()
    plan = []
    for line in lines:
        if not line.startswith("#"):
            break
        plan.append(line.strip())
    return plan


def head_of(line: str) -> str:
    return line.split(":", 1)[0]


# The heads of clauses that name no resource type or kind (`# variable: ...`, `# data aws_x: ...` have a space).
NOT_TYPES = {"variable", "output", "module", "local", "provider", "data"}


def planned(plan: list[str], kind: str) -> set[str]:
    """The resource types or kinds a plan's lines ask to be declared, named as `intent_types.declared` names them."""
    heads = {head_of(line)[2:].split(' "')[0] for line in plan if not line.startswith("# no ")}
    types = {head for head in heads if head and " " not in head and head not in NOT_TYPES}
    return types if kind == "terraform" else {"k8s:" + head for head in types}


def compare(records: list[dict], label: str = "fine-tuned") -> dict[str, Counter]:
    """Per kind, over an evaluation's rows (`evaluation.read(folder).rows`), the counts `--plans` prints: rows; answers
    with a plan; plan lines asked and written as asked; their heads (type and name) written as asked; plans written
    whole, and of those how many met the intent; intents met. Then the resource types and kinds the rows' intents ask
    for ("types asked", as `intent_types.wanted` names them), how many of them the answer's plan names and its code
    declares (`intent_types.declared`); and the provider types the answers' plans name, how many of those the AWS schema
    does not know, and how many of the known ones the code declares. Last, the plans that repeat a line, the answers
    that loop (`evaluation.loop_of`) and those whose looping line is a comment."""
    known = set(aws_schema().resource_types)
    counts: dict[str, Counter] = {}
    for row in records:
        wanted_lines = plan_of(row)
        answer = (row["answers"].get(label) or [{}])[0]
        text = answer.get("text", "")
        written = answer_plan(text)
        c = counts.setdefault(row["kind"], Counter())
        c["rows"] += 1
        c["with a plan"] += bool(written)
        c["lines asked"] += len(wanted_lines)
        c["lines as asked"] += len(set(wanted_lines) & set(written))
        c["heads as asked"] += sum(min(n, Counter(map(head_of, written))[h])
                                   for h, n in Counter(map(head_of, wanted_lines)).items())
        whole = bool(wanted_lines) and set(wanted_lines) <= set(written)
        met = (answer.get("intent") or {}).get("status") == "passed"
        c["plan whole"] += whole
        c["plan whole, intent met"] += whole and met
        c["intent met"] += met
        asked = {intent_types.wanted(clause) for clause in load_intent(row.get("intent")).get("require", [])} - {None}
        named, code = planned(written, row["kind"]), set(intent_types.declared(row["kind"], text))
        c["types asked"] += len(asked)
        c["in the plan"] += len(asked & named)
        c["in the code"] += len(asked & code)
        provider = {name for name in named if name.startswith("aws_")}
        c["provider types planned"] += len(provider)
        c["unknown to the schema"] += len(provider - known)
        c["known, declared"] += len((provider & known) & code)
        c["plans repeating a line"] += len(written) != len(set(written))
        loop = answer.get("loop") or {}
        c["loops"] += bool(loop)
        c["loops on a comment"] += loop.get("line", "").strip().startswith("#")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", default="data/train.jsonl")
    parser.add_argument("--eval", default="data/eval.jsonl")
    parser.add_argument("--out", default="data/plan")
    parser.add_argument("--plans", nargs="*", default=[], metavar="EVAL_FOLDER",
                        help="instead of writing rows: how each evaluation folder's answers' plans match the rows'")
    args = parser.parse_args()
    if args.plans:
        for folder in args.plans:
            results = evaluation.read(folder)
            if results is None:
                sys.exit(f"{folder}: no evaluation there (summary.json and rows.jsonl, as bench/eval_engine.py --keep "
                         "writes them)")
            for kind, c in compare(results.rows).items():
                print(f"{folder} {kind}: " + ", ".join(f"{key} {n}" for key, n in c.items())
                      + f"; lines {c['lines as asked'] / max(1, c['lines asked']):.1%} as asked,"
                      f" heads {c['heads as asked'] / max(1, c['lines asked']):.1%}")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = [row.to_dict() for row in dataset.read_jsonl(Path(args.train))]
    planned = [with_plan(row) for row in train]
    workspace.atomic_write_text(out / "train.jsonl", "".join(json.dumps(row) + "\n" for row in planned))
    workspace.atomic_write_text(out / "eval.jsonl", Path(args.eval).read_text())
    lengths = [len(plan_of(row)) for row in train]
    print(f"{out}/train.jsonl: {sum(p is not r for p, r in zip(planned, train))} of {len(train)} rows with a plan, "
          f"{sum(lengths) / len(lengths):.1f} lines a row")


if __name__ == "__main__":
    main()
