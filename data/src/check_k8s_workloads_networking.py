"""Check the Kubernetes workloads and networking seed rows before they are committed.

    python data/src/check_k8s_workloads_networking.py data/src/k8s_workloads_networking.jsonl

Prints one line per problem and a summary (rows by primary topic, share with `input`, median output
length, the most similar pair of rows); exits 1 if any row has a problem. Each output is parsed,
checked with `kubernetes-validate --strict` against Kubernetes 1.32, and checked against its own
intent with a small reading of `studio/iac/INTENT.md` (Kubernetes clauses only). When the studio's
own validator is importable (`PYTHONPATH=/work/wt/iac`), every row also goes through it.
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

import kubernetes_validate
import yaml

K8S_VERSION = "1.32.0"
TOPICS = ["deployment", "service", "ingress", "configmap", "secret", "hpa", "pdb"]
ROW_KEYS = {"id", "instruction", "input", "output", "kind", "intent", "tags"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
MAX_OUTPUT_LINES = 60
# The dataset test flags pairs at 0.6; stay well clear of it.
MAX_SIMILARITY = 0.45
FENCE = re.compile(r"\A```yaml\n(.*)\n```\Z", re.S)


# ---------------------------------------------------------------- intent (Kubernetes clauses)

def values_at(node, path: str) -> list:
    """Every value a dotted path reaches, walking through lists.

    >>> values_at({"a": [{"b": 1}, {"b": 2}]}, "a.b")
    [1, 2]
    """
    keys = re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", path)
    found = [node]
    for bracketed, plain in keys:
        key = bracketed or plain
        step = []
        for value in found:
            step.extend(_children(value, key))
        found = step
    return found


def _children(value, key: str) -> list:
    # A list in the middle of a path is walked through: every element is tried.
    if isinstance(value, list):
        return [c for item in value for c in _children(item, key)]
    if isinstance(value, dict):
        if key == "*":
            return list(value.values())
        return [value[key]] if key in value else []
    return []


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    return str(a) == str(b)


def matches(values: list, matcher) -> bool:
    """Whether any reached value satisfies the matcher (absence is judged by `exists`).

    >>> matches([3], {"gte": 2}), matches([], {"exists": False})
    (True, True)
    """
    if not isinstance(matcher, dict):
        return any(_same(v, matcher) for v in values)
    for op, want in matcher.items():
        if op == "exists":
            if bool(values) != want:
                return False
            continue
        if not any(_holds(v, op, want) for v in values):
            return False
    return True


def _holds(value, op: str, want) -> bool:
    number_ops = {"gte": float.__ge__, "gt": float.__gt__, "lte": float.__le__, "lt": float.__lt__}
    if op in number_ops:
        try:
            return number_ops[op](float(value), float(want))
        except (TypeError, ValueError):
            return False
    if op == "eq":
        return _same(value, want)
    if op == "ne":
        return not _same(value, want)
    if op == "in":
        return any(_same(value, w) for w in want)
    if op == "contains":
        if isinstance(value, list):
            return any(_same(v, want) for v in value)
        return isinstance(value, str) and want in value
    if op == "regex":
        return isinstance(value, str) and re.search(want, value) is not None
    if op == "len_gte":
        return isinstance(value, (list, dict)) and len(value) >= want
    raise ValueError(f"unknown matcher {op!r}")


def _selector(doc: dict) -> dict | None:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Service":
        return spec.get("selector")
    if doc.get("kind") == "NetworkPolicy":
        return (spec.get("podSelector") or {}).get("matchLabels")
    return (spec.get("selector") or {}).get("matchLabels")


def _template_labels(doc: dict) -> dict:
    return (((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def _selects(doc: dict, kind: str, docs: list) -> bool:
    selector = _selector(doc)
    if not selector:
        return False
    return any(
        d.get("kind") == kind and selector.items() <= _template_labels(d).items() for d in docs
    )


def _targets(doc: dict, kind: str, docs: list) -> bool:
    ref = (doc.get("spec") or {}).get("scaleTargetRef") or {}
    refs = [ref] + [doc.get("roleRef") or {}] + list(doc.get("subjects") or [])
    names = {d["metadata"]["name"] for d in docs if d.get("kind") == kind}
    return any(r.get("kind") == kind and r.get("name") in names for r in refs)


def clause_met_by(clause: dict, doc: dict, docs: list) -> bool:
    if clause["kind"] not in ("*", doc.get("kind")):
        return False
    if "apiVersion" in clause and clause["apiVersion"] != doc.get("apiVersion"):
        return False
    if "name" in clause and clause["name"] != (doc.get("metadata") or {}).get("name"):
        return False
    for path, matcher in (clause.get("where") or {}).items():
        if not matches(values_at(doc, path), matcher):
            return False
    if "selects" in clause and not _selects(doc, clause["selects"], docs):
        return False
    if "targets" in clause and not _targets(doc, clause["targets"], docs):
        return False
    return True


def intent_problems(intent: dict, docs: list) -> list[str]:
    """Reasons the manifest misses its intent; an empty list means it meets it.

    >>> intent_problems({"require": [{"kind": "Service"}]}, [{"kind": "Deployment"}])
    ['intent: needs {"kind": "Service"}']
    """
    allowed = {"kind", "apiVersion", "name", "where", "selects", "targets", "count"}
    problems = []
    for clause in intent.get("require", []) + intent.get("forbid", []):
        if set(clause) - allowed or "kind" not in clause:
            problems.append(f"intent: malformed clause {json.dumps(clause)}")
    if problems:
        return problems
    for clause in intent.get("require", []):
        hits = sum(clause_met_by(clause, d, docs) for d in docs)
        count = clause.get("count", {"gte": 1})
        if not matches([hits], count):
            problems.append(f"intent: needs {json.dumps(clause)}")
    for clause in intent.get("forbid", []):
        if any(clause_met_by(clause, d, docs) for d in docs):
            problems.append(f"intent: forbids {json.dumps(clause)}")
    return problems


# ---------------------------------------------------------------- manifest sanity beyond the schema

def manifest_problems(docs: list) -> list[str]:
    """What the schema accepts but a reviewer would not: bad selectors, floating tags, dangling refs."""
    problems = []
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    # Selectors are only checked against workloads declared alongside them: a lone Service or PDB
    # may select pods declared elsewhere.
    workload_kinds = {d.get("kind") for d in docs} & WORKLOAD_KINDS
    for doc in docs:
        kind, name = doc.get("kind"), doc["metadata"].get("name")
        where = f"{kind} {name}"
        if kind in WORKLOAD_KINDS - {"Job"}:
            selector, labels = _selector(doc) or {}, _template_labels(doc)
            if not selector or not selector.items() <= labels.items():
                problems.append(f"{where}: selector.matchLabels is not a subset of the template labels")
        pod = (doc.get("spec") or {}).get("template", {}).get("spec") or {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1]
            if ":" not in tag and "@sha256:" not in image or tag.endswith(":latest"):
                problems.append(f"{where}: image {image!r} has no pinned tag")
        if kind in ("Service", "PodDisruptionBudget") and _selector(doc) and workload_kinds:
            if not any(_selects(doc, k, docs) for k in workload_kinds):
                problems.append(f"{where}: selector matches no workload in the manifest")
        if kind == "HorizontalPodAutoscaler" and len(docs) > 1:
            ref = doc["spec"]["scaleTargetRef"]
            if not any(d.get("kind") == ref["kind"] and d["metadata"]["name"] == ref["name"] for d in docs):
                problems.append(f"{where}: scaleTargetRef {ref['kind']}/{ref['name']} not in manifest")
        if kind == "Ingress" and services:
            for backend in values_at(doc, "spec.rules.http.paths.backend.service"):
                svc = services.get(backend["name"])
                if svc is None:
                    continue  # a Service declared elsewhere is a fair assumption
                port = backend["port"]
                known = {p.get("name") for p in svc["spec"]["ports"]} | {p["port"] for p in svc["spec"]["ports"]}
                if port.get("name", port.get("number")) not in known:
                    problems.append(f"{where}: backend port {port} not on Service {svc['metadata']['name']}")
    return problems


def _indent_problems(code: str) -> list[str]:
    for line in code.splitlines():
        if "\t" in line:
            return ["output: tab character"]
        stripped = line.lstrip(" ")
        # Block scalars (certificates, files) may be indented freely; flag only odd structural indents.
        if (len(line) - len(stripped)) % 2 and not stripped.startswith(("-", "#")):
            return [f"output: odd indentation: {line!r}"]
    return []


# ---------------------------------------------------------------- rows

def row_problems(row: dict) -> tuple[list[str], list]:
    problems = []
    if set(row) != ROW_KEYS:
        problems.append(f"keys {sorted(row)}")
        return problems, []
    if not re.fullmatch(r"k8a-\d{4}", row["id"]):
        problems.append("id is not k8a-NNNN")
    if row["kind"] != "kubernetes":
        problems.append("kind is not kubernetes")
    tags = row["tags"]
    if not tags or tags[0] not in TOPICS or any(t != t.lower() for t in tags):
        problems.append(f"tags {tags}")
    if not row["instruction"].strip():
        problems.append("empty instruction")
    fenced = FENCE.match(row["output"])
    if not fenced:
        problems.append("output is not one ```yaml block")
        return problems, []
    code = fenced.group(1)
    if code.count("\n") + 1 > MAX_OUTPUT_LINES:
        problems.append(f"output has {code.count(chr(10)) + 1} lines")
    problems += _indent_problems(code)
    try:
        docs = [d for d in yaml.safe_load_all(code) if d is not None]
    except yaml.YAMLError as exc:
        problems.append(f"yaml: {exc}")
        return problems, []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"schema {doc.get('kind')}: {exc.message}")
        except Exception as exc:  # unknown kind/apiVersion surfaces as a different error type
            problems.append(f"schema {doc.get('kind')}: {exc}")
    problems += manifest_problems(docs)
    problems += intent_problems(row["intent"], docs)
    if not row["intent"].get("require"):
        problems.append("intent has no require clause")
    return problems, docs


def shingles(row: dict) -> set:
    words = re.findall(r"\S+", " ".join([row["instruction"], row["input"], row["output"]]).lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def studio_verdicts(rows: list) -> dict | None:
    """The studio validator's verdict per row id, or None while it is not importable yet."""
    try:
        from studio.iac import validate
    except ImportError:
        return None
    return {row["id"]: validate(row["output"], row["kind"], row["intent"]) for row in rows}


def main(path: str) -> int:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows, failed = [], 0
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            print(f"line {number}: not JSON: {exc}")
            failed += 1
            continue
        problems, _ = row_problems(row)
        for problem in problems:
            print(f"{row.get('id', number)}: {problem}")
        failed += bool(problems)
        rows.append(row)

    ids = Counter(r["id"] for r in rows)
    for dup in [i for i, n in ids.items() if n > 1]:
        print(f"{dup}: id used {ids[dup]} times")
        failed += 1

    sets = {r["id"]: shingles(r) for r in rows}
    worst = (0.0, "", "")
    for a, b in itertools.combinations(sets, 2):
        sim = len(sets[a] & sets[b]) / (len(sets[a] | sets[b]) or 1)
        if sim > MAX_SIMILARITY:
            print(f"{a} ~ {b}: similarity {sim:.2f}")
            failed += 1
        worst = max(worst, (sim, a, b))

    verdicts = studio_verdicts(rows)
    if verdicts is not None:
        bad = {i: v for i, v in verdicts.items() if not v.ok}
        for i, v in bad.items():
            print(f"{i}: studio.iac: {json.dumps(v.to_dict())[:600]}")
        print(f"studio.iac.validate: {len(verdicts) - len(bad)}/{len(verdicts)} ok")

    topics = Counter(r["tags"][0] for r in rows)
    out_lines = [r["output"].count("\n") - 1 for r in rows]
    with_input = sum(bool(r["input"]) for r in rows)
    fixes = sum("fix" in r["tags"] or "modernize" in r["tags"] for r in rows)
    print(f"rows {len(rows)}, with problems {failed}")
    print("by topic: " + ", ".join(f"{t} {topics[t]}" for t in TOPICS))
    if rows:
        print(f"with input {with_input} ({with_input / len(rows):.0%}), fix/modernize {fixes}")
        print(f"output lines: median {statistics.median(out_lines)}, max {max(out_lines)}")
        print(f"most similar pair: {worst[1]} ~ {worst[2]} at {worst[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "data/src/k8s_workloads_networking.jsonl"))
