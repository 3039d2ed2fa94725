"""Check the rows of aws_network_compute.jsonl before they join the seed dataset.

    python data/src/check_aws_network_compute.py
    PYTHONPATH=/path/to/repo python data/src/check_aws_network_compute.py   # also runs studio.iac.validate

Checks every row for: the 7 keys in order, a unique `tfb-NNNN` id, a known primary topic, an output that is
exactly one ```hcl fence of at most 60 lines that python-hcl2 parses, and no near-duplicate pair (Jaccard
similarity of word 3-shingles of instruction + input + output at or above 0.6). When `studio.iac` can be
imported, every output must also pass `validate(output, kind, intent)` (schema and intent included).
Prints one line per problem and exits 1 if there is any.
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

ROWS = Path(__file__).with_name("aws_network_compute.jsonl")
KEYS = ["id", "instruction", "input", "output", "kind", "intent", "tags"]
TOPICS = ["vpc", "security-group", "ec2", "autoscaling", "alb", "route53", "cloudfront"]
FENCE = re.compile(r"```hcl\n(.*)\n```", re.S)
MAX_LINES = 60
# The threshold the dataset test applies to any two rows.
NEAR_DUPLICATE = 0.6


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def row_problems(row: dict, seen_ids: Counter) -> list[str]:
    problems = []
    if list(row) != KEYS:
        problems.append(f"keys are {list(row)}, expected {KEYS}")
        return problems
    if not re.fullmatch(r"tfb-\d{4}", row["id"]) or seen_ids[row["id"]] > 1:
        problems.append("id is not a unique tfb-NNNN")
    if row["kind"] != "terraform":
        problems.append(f"kind {row['kind']!r}: this file holds Terraform only")
    if not row["tags"] or row["tags"][0] not in TOPICS or any(t != t.lower() for t in row["tags"]):
        problems.append(f"tags {row['tags']}: the first must be one of {TOPICS}, all lowercase")
    fence = FENCE.fullmatch(row["output"])
    if not fence or "```" in fence.group(1):
        problems.append("output is not exactly one ```hcl fence")
        return problems
    code = fence.group(1)
    if code.count("\n") + 1 > MAX_LINES:
        problems.append(f"output is {code.count(chr(10)) + 1} lines, over {MAX_LINES}")
    try:
        hcl2.loads(code + "\n")
    except Exception as error:  # python-hcl2 raises several lark exception types
        problems.append(f"python-hcl2 cannot parse the output: {str(error)[:200]}")
    return problems


def load_validator():
    try:
        from studio.iac import validate
    except ImportError:
        return None
    return validate


def main() -> int:
    rows = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]
    seen_ids = Counter(row.get("id") for row in rows)
    failures = 0
    for row in rows:
        for problem in row_problems(row, seen_ids):
            failures += 1
            print(f"{row.get('id')}: {problem}")

    validate = load_validator()
    if validate is not None:
        passed = 0
        for row in rows:
            report = validate(row["output"], row["kind"], row["intent"])
            if report.ok:
                passed += 1
            else:
                failures += 1
                print(f"{row['id']}: validator: {report.summary()}")
        print(f"studio.iac.validate: {passed}/{len(rows)} ok")
    else:
        print("studio.iac not importable: validator skipped (set PYTHONPATH to the repository root)")

    texts = [(row["id"], shingles(" ".join([row["instruction"], row["input"], row["output"]]))) for row in rows]
    worst = (0.0, "", "")
    for (a, sa), (b, sb) in itertools.combinations(texts, 2):
        similarity = len(sa & sb) / max(1, len(sa | sb))
        worst = max(worst, (similarity, a, b))
        if similarity >= NEAR_DUPLICATE:
            failures += 1
            print(f"{a} and {b}: near-duplicates (Jaccard {similarity:.2f})")

    lines = [FENCE.fullmatch(row["output"]).group(1).count("\n") + 1 for row in rows if FENCE.fullmatch(row["output"])]
    print(f"{len(rows)} rows; by topic {dict(Counter(row['tags'][0] for row in rows))}; "
          f"with input {sum(bool(row['input']) for row in rows)}; output lines median {statistics.median(lines)}, "
          f"max {max(lines)}; most similar pair {worst[1]}/{worst[2]} at {worst[0]:.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
