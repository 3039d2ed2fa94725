"""Check the serverless/containers seed rows: shape, parsing, near-duplicates and, when importable, `studio.iac`.

    $ PYTHONPATH=/work/wt/iac python data/src/check_aws_data_serverless_containers.py
    150 rows; primary topics: rds 19, dynamodb 19, lambda 19, apigateway 19, cloudwatch 19, ecs 19, eks 18, ...
    input used: 53 (35%); fix/modernize/convert rows: 19
    output lines: median 22.5, max 51
    closest pair: tfc-0034 / tfc-0037, Jaccard 0.21
    studio.iac.validate: 149/150 ok
    tfc-0145: validator: extracted: passed; parses: passed; schema: passed; intent: failed (1 error); ...

It prints one line per problem and exits 1 if there is any. Without `studio.iac` on the path the validator
stage says it was skipped instead of failing, so the shape checks still run on a bare checkout.
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

import hcl2

ROWS_FILE = Path(__file__).with_name("aws_data_serverless_containers.jsonl")
KEYS = ["id", "instruction", "input", "output", "kind", "intent", "tags"]
TOPICS = ["rds", "dynamodb", "lambda", "apigateway", "cloudwatch", "ecs", "eks", "terraform-language"]
FENCE = re.compile(r"```hcl\n(.*)\n```", re.S)
MAX_OUTPUT_LINES = 60
# The dataset test compares word 3-shingles; stay well under its 0.6 limit so small edits keep us safe.
MAX_JACCARD = 0.45


def shingles(row: dict) -> set[tuple[str, ...]]:
    """Word 3-shingles of instruction, input and output, as the near-duplicate test counts them.

    >>> sorted(shingles({"instruction": "a b c d", "input": "", "output": ""}))
    [('a', 'b', 'c'), ('b', 'c', 'd')]
    """
    words = " ".join([row["instruction"], row["input"], row["output"]]).split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def row_problems(row: dict) -> list[str]:
    """What is wrong with one row's shape and code, without the validator."""
    if list(row) != KEYS:
        return [f"keys are {list(row)}, want {KEYS}"]
    problems = []
    if not re.fullmatch(r"tfc-\d{4}", row["id"]):
        problems.append("id is not tfc-NNNN")
    if row["kind"] != "terraform":
        problems.append(f"kind {row['kind']!r}: every row in this file is Terraform")
    tags = row["tags"]
    if not tags or tags[0] not in TOPICS or any(t != t.lower() or " " in t for t in tags):
        problems.append(f"tags {tags}: the first must be one of {TOPICS}, all lowercase words")
    if not isinstance(row["intent"], dict) or not row["intent"].get("require"):
        problems.append("intent has no require clause")
    found = FENCE.fullmatch(row["output"])
    if not found or "```" in found.group(1):
        return problems + ["output is not exactly one ```hcl block"]
    code = found.group(1)
    lines = code.split("\n")
    if len(lines) > MAX_OUTPUT_LINES:
        problems.append(f"output is {len(lines)} lines (max {MAX_OUTPUT_LINES})")
    if any("\t" in line or (len(line) - len(line.lstrip(" "))) % 2 for line in lines):
        problems.append("indentation is not 2 spaces")
    try:
        hcl2.loads(code)
    except Exception as error:  # python-hcl2 raises several lark exception types
        problems.append(f"does not parse: {str(error).splitlines()[0][:120]}")
    return problems


def validator_problems(rows: list[dict]) -> tuple[list[str], str]:
    """Run `studio.iac.validate` on every row, or say why it was skipped."""
    try:
        from studio.iac import validate
    except ImportError:
        return [], "studio.iac.validate: skipped (not importable; set PYTHONPATH to the iac checkout)"
    problems, ok = [], 0
    for row in rows:
        report = validate(row["output"], row["kind"], row["intent"])
        if report.ok:
            ok += 1
        else:
            problems.append(f"{row['id']}: validator: {report.summary()}")
    return problems, f"studio.iac.validate: {ok}/{len(rows)} ok"


def main() -> int:
    rows = [json.loads(line) for line in ROWS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems = [f"{row.get('id')}: {p}" for row in rows for p in row_problems(row)]
    problems += [f"{rid}: duplicate id" for rid, n in Counter(r["id"] for r in rows).items() if n > 1]

    sets = {row["id"]: shingles(row) for row in rows}
    closest = max(((len(sets[a["id"]] & sets[b["id"]]) / len(sets[a["id"]] | sets[b["id"]]), a["id"], b["id"])
                   for a, b in itertools.combinations(rows, 2)), default=(0.0, "", ""))
    if closest[0] >= MAX_JACCARD:
        problems.append(f"{closest[1]} and {closest[2]}: shingle Jaccard {closest[0]:.2f} >= {MAX_JACCARD}")

    found_validator, validator_line = validator_problems(rows)
    problems += found_validator

    topics = Counter(row["tags"][0] for row in rows)
    lengths = [row["output"].count("\n") - 1 for row in rows]
    with_input = sum(1 for row in rows if row["input"])
    fixes = sum(1 for row in rows if {"fix", "modernize", "convert"} & set(row["tags"]))
    print(f"{len(rows)} rows; primary topics: " + ", ".join(f"{t} {topics[t]}" for t in TOPICS))
    print(f"input used: {with_input} ({with_input / len(rows):.0%}); fix/modernize/convert rows: {fixes}")
    print(f"output lines: median {statistics.median(lengths)}, max {max(lengths)}")
    print(f"closest pair: {closest[1]} / {closest[2]}, Jaccard {closest[0]:.2f}")
    print(validator_line)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
