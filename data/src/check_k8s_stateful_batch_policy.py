"""Check the Kubernetes stateful/batch/policy seed rows before they are committed.

    python data/src/check_k8s_stateful_batch_policy.py                 # checks the default file
    python data/src/check_k8s_stateful_batch_policy.py other.jsonl -v  # -v lists every failure
    python data/src/check_k8s_stateful_batch_policy.py --studio        # and through studio.iac.validate

Each row must: hold exactly the seven Alpaca+intent keys, carry one fenced ```yaml block as its output,
parse as YAML, pass `kubernetes-validate --strict` for Kubernetes 1.32.0, pin every image, keep workload
selectors inside their pod template labels, and satisfy its own intent (checked with a small reading of
studio/iac/INTENT.md, Kubernetes clauses only). Across rows it reports topic counts, the share of rows
that use `input`, output length, and the most similar pair by word 3-shingles (must stay under 0.6).

`--studio` also runs every row through `studio.iac.validate` (the project's own validator) and requires
`ok`; put the package on the path first, e.g. `PYTHONPATH=/work/wt/iac` before it is merged. The local
intent reading above stays so that this script also works without it.
"""

import argparse
import json
import re
import statistics
import sys
from itertools import combinations
from pathlib import Path

import kubernetes_validate
import yaml

ROW_KEYS = {"id", "instruction", "input", "output", "kind", "intent", "tags"}
TOPICS = ["statefulset", "daemonset", "job", "cronjob", "networkpolicy", "rbac", "namespace", "storage"]
K8S_VERSION = "1.32.0"
FENCE = re.compile(r"\A```yaml\n(.*\n)```\Z", re.S)
MAX_LINES = 60
MAX_SIMILARITY = 0.6


def split_path(path):
    """`metadata.labels[app.kubernetes.io/name]` -> ['metadata', 'labels', 'app.kubernetes.io/name']."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", path)]


def values_at(node, keys):
    """Every value a path reaches; lists are walked through, `*` takes every map value or list element."""
    if not keys:
        if isinstance(node, list):
            # A path ending on a list reaches the list itself and each element (so `contains` and `eq` both work).
            return [node] + [v for item in node for v in values_at(item, keys)]
        return [node]
    if isinstance(node, list):
        return [v for item in node for v in values_at(item, keys)]
    if not isinstance(node, dict):
        return []
    head, rest = keys[0], keys[1:]
    if head == "*":
        return [v for item in node.values() for v in values_at(item, rest)]
    if head not in node:
        return []
    return values_at(node[head], rest)


def loosely_equal(value, wanted):
    """8080 equals "8080" and true equals "true": the spec forgives type, not spelling."""
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return str(value) == str(wanted)


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(values, matcher):
    """Whether any reached value satisfies the matcher (`exists` looks at whether anything was reached)."""
    if not isinstance(matcher, dict):
        return any(loosely_equal(v, matcher) for v in values if not isinstance(v, (list, dict)))
    for op, arg in matcher.items():
        if op == "exists":
            if bool(values) != bool(arg):
                return False
            continue
        if op == "eq":
            ok = any(loosely_equal(v, arg) for v in values if not isinstance(v, (list, dict)))
        elif op == "ne":
            ok = any(not loosely_equal(v, arg) for v in values if not isinstance(v, (list, dict)))
        elif op in ("gte", "gt", "lte", "lt"):
            compare = {"gte": float.__ge__, "gt": float.__gt__, "lte": float.__le__, "lt": float.__lt__}[op]
            ok = any(number(v) is not None and compare(number(v), float(arg)) for v in values)
        elif op == "in":
            ok = any(loosely_equal(v, a) for v in values for a in arg if not isinstance(v, (list, dict)))
        elif op == "contains":
            ok = any((isinstance(v, str) and arg in v) or (isinstance(v, list) and arg in v) for v in values)
        elif op == "regex":
            ok = any(isinstance(v, str) and re.search(arg, v) for v in values)
        elif op == "len_gte":
            ok = any(isinstance(v, (list, dict)) and len(v) >= arg for v in values)
        else:
            raise ValueError(f"unknown matcher {op!r}")
        if not ok:
            return False
    return True


def pod_template_labels(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return (doc.get("metadata") or {}).get("labels") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def selector_of(doc):
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Service":
        return spec.get("selector")
    if kind == "NetworkPolicy":
        return (spec.get("podSelector") or {}).get("matchLabels")
    return (spec.get("selector") or {}).get("matchLabels")


def selects(doc, kind, docs):
    selector = selector_of(doc)
    if not selector:
        return False
    for other in docs:
        if other.get("kind") == kind:
            labels = pod_template_labels(other)
            if all(labels.get(k) == v for k, v in selector.items()):
                return True
    return False


def targets(doc, kind, docs):
    spec = doc.get("spec") or {}
    refs = [spec.get("scaleTargetRef")] if "scaleTargetRef" in spec else []
    refs += [doc.get("roleRef")] + list(doc.get("subjects") or [])
    names = {(d.get("metadata") or {}).get("name") for d in docs if d.get("kind") == kind}
    return any(r and r.get("kind") == kind and r.get("name") in names for r in refs)


def clause_holds(doc, clause, docs):
    if clause.get("kind", "*") not in ("*", doc.get("kind")):
        return False
    if "apiVersion" in clause and doc.get("apiVersion") != clause["apiVersion"]:
        return False
    if "name" in clause and (doc.get("metadata") or {}).get("name") != clause["name"]:
        return False
    for path, matcher in (clause.get("where") or {}).items():
        if not matches(values_at(doc, split_path(path)), matcher):
            return False
    if "selects" in clause and not selects(doc, clause["selects"], docs):
        return False
    if "targets" in clause and not targets(doc, clause["targets"], docs):
        return False
    return True


def intent_failures(intent, docs):
    """Reasons the manifest misses its intent; empty when it holds."""
    known = {"kind", "apiVersion", "name", "where", "selects", "targets", "count"}
    reasons = []
    for key in intent:
        if key not in ("require", "forbid"):
            reasons.append(f"intent: unknown key {key!r}")
    for clause in intent.get("require", []):
        if set(clause) - known or "kind" not in clause:
            reasons.append(f"intent: malformed clause {clause}")
            continue
        hits = sum(clause_holds(d, clause, docs) for d in docs)
        wanted = clause.get("count", {"gte": 1})
        if not matches([hits], wanted):
            reasons.append(f"intent: needs {json.dumps(clause)}; {hits} match")
    for clause in intent.get("forbid", []):
        if any(clause_holds(d, clause, docs) for d in docs):
            reasons.append(f"intent: forbids {json.dumps(clause)}")
    return reasons


def containers_of(doc):
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    pod = spec if doc.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}
    return list(pod.get("containers") or []) + list(pod.get("initContainers") or [])


def row_failures(row):
    """Every reason one row is unfit for the seed set."""
    problems = []
    if set(row) != ROW_KEYS:
        return [f"keys {sorted(row)}"]
    if not re.fullmatch(r"k8b-\d{4}", row["id"]):
        problems.append("id must be k8b-NNNN")
    if row["kind"] != "kubernetes":
        problems.append("kind must be kubernetes")
    tags = row["tags"]
    if not tags or tags[0] not in TOPICS or any(t != t.lower() or " " in t for t in tags):
        problems.append(f"tags {tags}")
    if not isinstance(row["input"], str) or not row["instruction"].strip():
        problems.append("instruction/input")
    fenced = FENCE.match(row["output"])
    if not fenced:
        return problems + ["output is not exactly one ```yaml block"]
    code = fenced.group(1)
    if len(code.splitlines()) > MAX_LINES:
        problems.append(f"{len(code.splitlines())} lines > {MAX_LINES}")
    if "\t" in code:
        problems.append("tab in output")
    try:
        docs = [d for d in yaml.safe_load_all(code) if d is not None]
    except yaml.YAMLError as err:
        return problems + [f"yaml: {err}"]
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except Exception as err:  # the library raises several unrelated types
            problems.append(f"k8s {doc.get('kind')}: {str(err).splitlines()[0]}")
        for c in containers_of(doc):
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1]
            if ":" not in tag and "@" not in tag or tag.endswith(":latest"):
                problems.append(f"unpinned image {image!r}")
        selector = (doc.get("spec") or {}).get("selector")
        if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            labels = pod_template_labels(doc)
            wanted = (selector or {}).get("matchLabels") or {}
            if not wanted or any(labels.get(k) != v for k, v in wanted.items()):
                problems.append(f"{doc['kind']} selector does not match template labels")
    problems += intent_failures(row["intent"], docs)
    return problems


def shingles(row):
    words = " ".join([row["instruction"], row["input"], row["output"]]).lower().split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def studio_failures(row):
    from studio.iac import validate  # only when the real validator exists

    result = validate(row["output"], row["kind"], row["intent"])
    return [] if result.ok else [f"studio.iac: {result.to_dict()}"]


def main():
    default = Path(__file__).with_name("k8s_stateful_batch_policy.jsonl")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=default, type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--studio", action="store_true", help="also run studio.iac.validate on every row")
    args = parser.parse_args()

    rows, bad = [], 0
    for number_, line in enumerate(args.path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            print(f"line {number_}: not JSON: {err}")
            bad += 1
            continue
        rows.append(row)
        problems = row_failures(row)
        if args.studio and not problems:
            problems = studio_failures(row)
        if problems:
            bad += 1
            print(f"{row.get('id', f'line {number_}')}: " + ("\n    ".join(problems) if args.verbose else problems[0]))

    ids = [r.get("id") for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        print(f"duplicate ids: {duplicates}")
        bad += 1

    topics = {t: sum(1 for r in rows if r.get("tags", [None])[0] == t) for t in TOPICS}
    lines = [len(r["output"].splitlines()) - 2 for r in rows]
    with_input = sum(1 for r in rows if r.get("input"))
    fixes = sum(1 for r in rows if "fix" in r.get("tags", []))
    sets = {r["id"]: shingles(r) for r in rows}
    closest = max(
        ((len(sets[a] & sets[b]) / len(sets[a] | sets[b]), a, b) for a, b in combinations(sets, 2)),
        default=(0.0, "-", "-"),
    )
    print(f"rows {len(rows)}, failing {bad}")
    print("topics " + ", ".join(f"{t} {n}" for t, n in topics.items()))
    print(f"with input {with_input} ({with_input / max(len(rows), 1):.0%}), fix rows {fixes}")
    if lines:
        print(f"output lines median {statistics.median(lines)}, max {max(lines)}")
    print(f"closest pair {closest[1]} {closest[2]} jaccard {closest[0]:.2f}")
    if closest[0] >= MAX_SIMILARITY:
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
