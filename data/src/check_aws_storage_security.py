"""Check the rows of data/src/aws_storage_security.jsonl before they are committed.

    python data/src/check_aws_storage_security.py data/src/aws_storage_security.jsonl
    python data/src/check_aws_storage_security.py data/src/aws_storage_security.jsonl --schema /tmp/aws_schema.json

Checks each row's shape (7 keys, id, tags, one fenced block), parses the code (python-hcl2, or PyYAML
plus kubernetes-validate for manifests), checks that every reference points at a block declared in the
same code, evaluates the row's intent as studio/iac/INTENT.md describes it, and reports near-duplicate
pairs (Jaccard similarity of word 3-shingles). With --schema (a JSON of AWS provider 5 and 6 resource
arguments, generated from the cdktf provider wheels) it also checks resource types, argument and block
names, required arguments and referenced attributes; its shape is
{"5": {"resource": {type: {"args": {name: required}, "blocks": {name: {...}}, "attrs": [...]}}, "data": ...}, "6": ...}.
This is a stop-gap for the author of the rows: the project's validator lives in studio.iac, and every
row must pass it as well. Exits 1 when any row has a problem.
"""
import argparse
import json
import re
import statistics
import sys
from collections import Counter
from itertools import combinations

import hcl2
import yaml

KEYS = {"id", "instruction", "input", "output", "kind", "intent", "tags"}
TOPICS = {"s3", "iam", "kms", "secretsmanager", "ecr", "sqs", "sns"}
FENCE = re.compile(r"\A```(hcl|yaml)\n(.*)\n```\Z", re.S)
# a reference such as aws_s3_bucket.logs.arn, data.aws_region.current.name or var.env
REFERENCE = re.compile(
    r"(?<![\w.\-])(data\.)?((?:aws|random)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?(?:\.[a-z_][a-z0-9_]*)?)"
)
VARIABLE_REF = re.compile(r"(?<![\w.])(var|local|module)\.([A-Za-z_][\w-]*)")


def unquote(value):
    """'"\\"logs\\""' -> 'logs'; '${aws_s3_bucket.logs.id}' -> 'aws_s3_bucket.logs.id'."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
    return value


def expressions(value):
    """Yield the expression text inside a parsed HCL value, leaving plain string literals out."""
    if isinstance(value, dict):
        for key, item in value.items():
            # python-hcl2 8.x adds __is_block__ and __comments__ keys; comments are not code
            if not key.startswith("__"):
                yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)
    elif isinstance(value, str):
        if value.startswith("${"):
            # drop literals like "a" inside the expression so a name in a string is not a reference
            yield re.sub(r'"[^"$]*"', '""', value)
        elif "${" in value:
            yield value
        elif value.startswith('"<<'):
            # heredocs keep their text; interpolations in them are still references
            yield " ".join(re.findall(r"\$\{[^}]*\}", value))


def terraform_blocks(tree):
    """Flatten python-hcl2 output into (kind, type, name, body) tuples; kind is resource/data/..."""
    blocks = []
    for kind in ("resource", "data"):
        for entry in tree.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    blocks.append((kind, unquote(rtype), unquote(name), body))
    for kind in ("variable", "output", "module", "provider"):
        for entry in tree.get(kind, []):
            for name, body in entry.items():
                blocks.append((kind, unquote(name), unquote(name), body))
    for entry in tree.get("locals", []):
        for name, value in entry.items():
            if not name.startswith("__"):
                blocks.append(("local", name, name, value))
    return blocks


def references(body):
    """Return {(prefix, type, name)} for every reference in a block body."""
    found = set()
    for text in expressions(body):
        for data, rtype, name, _ in REFERENCE.findall(text):
            found.add(("data." if data else "", rtype, name))
        for kind, name in VARIABLE_REF.findall(text):
            found.add((kind, kind, name))
    return found


def split_path(path):
    """'metadata.labels[app.kubernetes.io/name].x' -> ['metadata', 'labels', 'app.kubernetes.io/name', 'x']."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", path)]


def walk(value, keys):
    """Yield every value a path reaches, walking through lists on the way (a list at the end stays whole)."""
    if not keys:
        yield value
        return
    if isinstance(value, list):
        for item in value:
            yield from walk(item, keys)
        return
    head, rest = keys[0], keys[1:]
    if isinstance(value, dict):
        if head == "*":
            for key, item in value.items():
                if key != "__is_block__":
                    yield from walk(item, rest)
        elif head in value:
            yield from walk(value[head], rest)
        elif ('"%s"' % head) in value:
            yield from walk(value['"%s"' % head], rest)


def same(a, b):
    a, b = unquote(a), unquote(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    return str(a) == str(b)


def number(value):
    try:
        return float(unquote(value))
    except (TypeError, ValueError):
        return None


def matches(values, matcher, declared):
    """Does any value reached by a path satisfy the matcher? `declared` serves refers_to.

    As INTENT.md says, `contains` on a list means "holds an element equal to"; every other matcher
    holds for a list when it holds for one of its elements.
    """
    if not isinstance(matcher, dict):
        matcher = {"eq": matcher}
    if "exists" in matcher and bool(values) != matcher["exists"]:
        return False
    checks = {k: m for k, m in matcher.items() if k != "exists"}
    if not checks:
        return True
    return any(all(holds(value, op, want, declared) for op, want in checks.items()) for value in values)


def holds(value, op, want, declared):
    if op == "contains" and isinstance(value, list):
        return any(same(item, want) for item in value)
    if op == "len_gte":
        return isinstance(value, (list, dict)) and len(value) >= want
    if op == "refers_to":
        return refers(references(value), want, declared)
    if isinstance(value, list):
        return any(holds(item, op, want, declared) for item in value)
    return holds_one(value, op, want)


def holds_one(value, op, want):
    """One matcher against one scalar (or dict) value."""
    plain = unquote(value)
    if op == "eq":
        return same(value, want)
    if op == "ne":
        return not same(value, want)
    if op in ("gte", "gt", "lte", "lt"):
        n = number(value)
        return n is not None and {"gte": n >= want, "gt": n > want, "lte": n <= want, "lt": n < want}[op]
    if op == "in":
        return any(same(value, w) for w in want)
    if op == "contains":
        return isinstance(plain, str) and want in plain
    if op == "regex":
        return isinstance(plain, str) and re.search(want, plain) is not None
    raise ValueError(f"unknown matcher {op}")


def refers(refs, target, declared):
    targets = target if isinstance(target, list) else [target]
    for t in targets:
        if t in ("var", "local", "module"):
            hit = any(p == t and ("variable" if t == "var" else t, n) in declared for p, _, n in refs)
        elif t.startswith("data."):
            hit = any(p == "data." and ("data", r, n) in declared for p, r, n in refs if r == t[5:])
        else:
            hit = any(p == "" and ("resource", r, n) in declared for p, r, n in refs if r == t)
        if not hit:
            return False
    return True


def clause_hits(clause, blocks, declared):
    kinds = [k for k in ("resource", "data", "variable", "output", "local", "module", "provider") if k in clause]
    if len(kinds) != 1:
        raise ValueError(f"clause needs exactly one block kind: {clause}")
    kind = kinds[0]
    want = clause[kind]
    hits = 0
    for bkind, btype, bname, body in blocks:
        if bkind != kind or (want != "*" and btype != want):
            continue
        if "name" in clause and bname != clause["name"]:
            continue
        if "refers_to" in clause and not refers(references(body), clause["refers_to"], declared):
            continue
        where = clause.get("where", {})
        if all(matches(list(walk(body, split_path(p))), m, declared) for p, m in where.items()):
            hits += 1
    return hits


def kubernetes_hits(clause, docs):
    hits = 0
    for doc in docs:
        if clause["kind"] not in ("*", doc.get("kind")):
            continue
        if "apiVersion" in clause and doc.get("apiVersion") != clause["apiVersion"]:
            continue
        if "name" in clause and doc.get("metadata", {}).get("name") != clause["name"]:
            continue
        where = clause.get("where", {})
        if all(matches(list(walk(doc, split_path(p))), m, None) for p, m in where.items()):
            hits += 1
    return hits


def count_ok(hits, count):
    if count is None:
        return hits >= 1
    if isinstance(count, dict):
        return matches([hits], count, None)
    return hits == count


def check_intent(intent, hits_of):
    problems = []
    for clause in intent.get("require", []):
        if not count_ok(hits_of(clause), clause.get("count")):
            problems.append(f"intent: require not met: {json.dumps(clause)}")
    for clause in intent.get("forbid", []):
        if hits_of(clause):
            problems.append(f"intent: forbid matched: {json.dumps(clause)}")
    return problems


def schema_problems(blocks, schema):
    """Check types, argument names, block names and required arguments against provider 5 and 6."""
    problems = []
    for kind, btype, bname, body in blocks:
        if kind not in ("resource", "data") or not btype.startswith("aws_"):
            continue
        for release, tables in schema.items():
            spec = tables[kind].get(btype)
            if spec is None:
                problems.append(f"schema {release}: no {kind} {btype}")
                continue
            problems += [f"schema {release}: {btype}.{bname}: {p}" for p in body_problems(body, spec, btype)]
    return problems


META = {"count", "for_each", "depends_on", "lifecycle", "provider", "__is_block__"}


def body_problems(body, spec, where):
    problems = []
    for key, value in body.items():
        if key in META or key == "dynamic" or key.startswith("__"):
            continue
        if key in spec["args"]:
            continue
        if key in spec["blocks"]:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    problems += body_problems(item, spec["blocks"][key], f"{where}.{key}")
            continue
        problems.append(f"unknown argument or block {where}.{key}")
    for name, required in spec["args"].items():
        if required and name not in body and "dynamic" not in body:
            problems.append(f"missing required argument {where}.{name}")
    return problems


def reference_problems(blocks, declared, schema, context=""):
    """Undeclared references and unknown attributes; a block the row's input names may stay undeclared."""
    problems = []
    for kind, btype, bname, body in blocks:
        for text in expressions(body):
            for data, rtype, name, tail in REFERENCE.findall(text):
                key = ("data" if data else "resource", rtype, name)
                if key not in declared and f"{data}{rtype}.{name}" not in context:
                    problems.append(f"{btype}.{bname}: reference to undeclared {data}{rtype}.{name}")
                    continue
                attr = tail.split(".")[-1] if "." in tail else None
                if schema and attr:
                    for release, tables in schema.items():
                        spec = tables[key[0]].get(rtype)
                        if spec and attr not in spec["attrs"] and attr not in spec["args"]:
                            problems.append(f"schema {release}: {rtype} has no attribute {attr}")
            for kind2, name in VARIABLE_REF.findall(text):
                decl = {"var": "variable", "local": "local", "module": "module"}[kind2]
                if (decl, name) not in declared and f"{kind2}.{name}" not in context:
                    problems.append(f"{btype}.{bname}: reference to undeclared {kind2}.{name}")
    return problems


def check_row(row, schema):
    problems = []
    if set(row) != KEYS:
        return [f"keys {sorted(row)}"]
    if not re.fullmatch(r"tfa-\d{4}", row["id"]):
        problems.append("bad id")
    if not row["tags"] or row["tags"][0] not in TOPICS or any(t != t.lower() for t in row["tags"]):
        problems.append(f"bad tags {row['tags']}")
    fence = FENCE.match(row["output"])
    if not fence:
        return problems + ["output is not exactly one fenced block"]
    lang, code = fence.groups()
    if {"terraform": "hcl", "kubernetes": "yaml"}.get(row["kind"]) != lang:
        problems.append(f"kind {row['kind']} with a {lang} block")
    if len(code.splitlines()) > 60:
        problems.append("output over 60 lines")
    if "\t" in code or "<YOUR" in code.upper():
        problems.append("tab or placeholder in code")
    if lang == "hcl":
        try:
            tree = hcl2.loads(code + "\n")
        except Exception as error:  # python-hcl2 raises several lark error types
            return problems + [f"hcl2: {str(error).splitlines()[0]}"]
        blocks = terraform_blocks(tree)
        declared = {(k, t, n) for k, t, n, _ in blocks if k in ("resource", "data")}
        declared |= {(k, n) for k, t, n, _ in blocks if k in ("variable", "local", "module")}
        problems += reference_problems(blocks, declared, schema, row["input"])
        if schema:
            problems += schema_problems(blocks, schema)
        problems += check_intent(row["intent"], lambda c: clause_hits(c, blocks, declared))
    else:
        try:
            docs = [d for d in yaml.safe_load_all(code) if d is not None]
        except yaml.YAMLError as error:
            return problems + [f"yaml: {error}"]
        import kubernetes_validate

        for doc in docs:
            try:
                kubernetes_validate.validate(doc, "1.32.0", strict=True)
            except Exception as error:  # ValidationError and friends
                problems.append(f"kubernetes-validate: {str(error).splitlines()[0]}")
        problems += check_intent(row["intent"], lambda c: kubernetes_hits(c, docs))
    return problems


def shingles(row):
    words = (row["instruction"] + " " + row["input"] + " " + row["output"]).lower().split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--schema", help="JSON {release: {resource: {...}, data: {...}}}")
    parser.add_argument("--max-similarity", type=float, default=0.5)
    args = parser.parse_args()
    schema = json.load(open(args.schema)) if args.schema else None
    rows, bad = [], 0
    with open(args.path, encoding="utf-8") as handle:
        for number_, line in enumerate(handle, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                print(f"line {number_}: not JSON: {error}")
                bad += 1
    ids = Counter(r.get("id") for r in rows)
    for row in rows:
        problems = check_row(row, schema)
        if ids[row.get("id")] > 1:
            problems.append("duplicate id")
        for problem in problems:
            print(f"{row.get('id')}: {problem}")
        bad += bool(problems)
    sets = [(r["id"], shingles(r)) for r in rows]
    worst = 0.0
    for (a, sa), (b, sb) in combinations(sets, 2):
        similarity = len(sa & sb) / max(1, len(sa | sb))
        worst = max(worst, similarity)
        if similarity >= args.max_similarity:
            print(f"{a} ~ {b}: Jaccard {similarity:.2f}")
            bad += 1
    lines = [len(FENCE.match(r["output"]).group(2).splitlines()) for r in rows if FENCE.match(r["output"])]
    print(f"{len(rows)} rows, {bad} problems; topics {dict(Counter(r['tags'][0] for r in rows))}")
    if lines:
        print(f"code lines: median {statistics.median(lines)}, max {max(lines)}; "
              f"with input {sum(bool(r['input']) for r in rows)}; fix rows {sum('fix' in r['tags'] for r in rows)}; "
              f"max Jaccard {worst:.2f}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
