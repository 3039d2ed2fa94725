"""The rewards order answers as a reviewer would, on the seed rows (issue 12):

    reference  >  the reference with one required clause broken  >  a trivial one-block answer  >  prose

The broken answer is made from the reference by changing one value a `require` clause checks (to one it does not
accept) or, for a clause that checks no value, by deleting the block that meets it; it must then fail the intent.
The test prints the share of rows in order and wants 95% or more:

    python -m pytest tests/iac/test_reward_order.py -q -s -n 0
"""

from __future__ import annotations

import re
from pathlib import Path

from studio import dataset
from studio.iac import validate
from studio.iac.intent import _is_copies, parse_path
from studio.iac.kubernetes import parse_kubernetes
from studio.iac.rewards import IaCReward
from studio.iac.terraform import parse_terraform

DATA = Path(__file__).resolve().parents[2] / "data"
TRIVIAL = {"terraform": '```hcl\nvariable "x" {\n  type = string\n}\n```',
           "kubernetes": "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  MODE: prod\n```"}
PROSE = ("To do this, create the resources in your cloud console, wire them together and check the settings "
         "match what you need. Let me know if you want more detail.")


def _wrong_value(matcher) -> str | None:
    """A literal the matcher does not accept, as it would be written in code (HCL and YAML alike)."""
    if not isinstance(matcher, dict):
        matcher = {"eq": matcher}
    if "exists" in matcher and len(matcher) == 1:
        return None
    for key in ("gte", "gt"):
        if key in matcher:
            return "-5"
    for key in ("lte", "lt"):
        if key in matcher:
            return "99999"
    expected = matcher.get("eq", matcher.get("in", [None])[0] if "in" in matcher else None)
    if isinstance(expected, bool):
        return "false" if expected else "true"
    if isinstance(expected, (int, float)):
        return str(expected + 7)
    return '"wrong-value"'


def _candidate_lines(code: str, kind: str, clause: dict) -> list[tuple[int, int]]:
    """(first, last) line of each block or document the clause is about."""
    if kind == "terraform":
        key = next(k for k in ("resource", "data", "module", "variable", "output", "provider", "local") if k in clause)
        spans = []
        for block in parse_terraform(code).blocks:
            if key == "local" and block.keyword == "locals":
                spans += [(block.outline.line_of(name),) * 2 for name in block.body if clause[key] in ("*", name)]
            kinds = {"resource": block.labels[:1], "data": block.labels[:1]}.get(key, block.labels[:1])
            if block.keyword == key and (clause[key] == "*" or tuple(kinds) == (clause[key],)):
                spans.append((block.outline.line, block.outline.end_line))
        return spans
    lines = code.count("\n") + 1
    objects = parse_kubernetes(code).objects
    starts = sorted(doc.line for doc in objects)
    spans = []
    for doc in objects:
        if clause.get("kind") in ("*", doc.kind):
            later = [s for s in starts if s > doc.line]
            spans.append((doc.line, (later[0] - 2) if later else lines))
    return spans


def break_one_clause(code: str, kind: str, intent: dict) -> str | None:
    """The reference with one require clause broken (and the intent failing), or None when none could be."""
    lines = code.split("\n")
    for clause in intent.get("require", []):
        spans = _candidate_lines(code, kind, clause)
        attempts = []
        for path, matcher in clause.get("where", {}).items():
            wrong = _wrong_value(matcher)
            if wrong is None or _is_copies(path, matcher):
                continue
            last = parse_path(path)[-1]
            pattern = re.compile(rf'^(\s*(?:- )?"?{re.escape(last)}"?\s*[:=]\s*)(\S.*)$')
            for first, end in spans:
                for number in range(first - 1, min(end, len(lines))):
                    if pattern.match(lines[number]):
                        changed = list(lines)
                        changed[number] = pattern.sub(lambda m: m.group(1) + wrong, lines[number])
                        attempts.append("\n".join(changed))
        for first, end in spans:  # no value to change: the block goes
            attempts.append("\n".join(lines[: first - 1] + lines[end:]))
        for attempt in attempts:
            report = validate(attempt, kind, intent, best_practice=False)
            if report.parses.passed and not report.intent.passed and attempt.strip():
                return attempt
    return None


def test_rewards_order_reference_broken_trivial_prose():
    reward = IaCReward()
    rows = dataset.read_jsonl(DATA / "train.jsonl") + dataset.read_jsonl(DATA / "eval.jsonl")
    ordered, unbreakable, out_of_order = 0, [], []
    for row in rows:
        code = validate(row.output, row.kind).code
        broken = break_one_clause(code, row.kind, row.intent)
        if broken is None:
            unbreakable.append(row.id)
            continue
        fence = "hcl" if row.kind == "terraform" else "yaml"
        answers = [row.output, f"```{fence}\n{broken}\n```", TRIVIAL[row.kind], PROSE]
        totals = [reward.score(answer, row.kind, row.intent)["total"] for answer in answers]
        if totals[0] > totals[1] > totals[2] > totals[3]:
            ordered += 1
        else:
            out_of_order.append(f"{row.id}: " + " / ".join(f"{t:.2f}" for t in totals))
    rate = ordered / len(rows)
    print(f"\nreward order reference > one clause broken > trivial > prose: {ordered}/{len(rows)} rows ({rate:.1%}); "
          f"{len(unbreakable)} rows where no clause could be broken, {len(out_of_order)} out of order")
    for line in out_of_order[:20]:
        print("  " + line)
    assert rate >= 0.95, f"unbreakable: {unbreakable[:10]}; out of order: {out_of_order[:10]}"
