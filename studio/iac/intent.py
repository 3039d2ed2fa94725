"""Intent specs: what an answer must contain, checked on the parsed code (format in INTENT.md).

    >>> from studio.iac import validate
    >>> intent = {"require": [{"kind": "Deployment", "where": {"spec.replicas": {"gte": 3}}}]}
    >>> code = ("apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web}\\nspec:\\n  replicas: 1\\n"
    ...         "  selector: {matchLabels: {app: web}}\\n  template:\\n    metadata: {labels: {app: web}}\\n"
    ...         "    spec:\\n      containers: [{name: web, image: nginx:1.27}]\\n")
    >>> print(validate(code, "kubernetes", intent).intent.reasons[0].message)
    intent: needs a Deployment with spec.replicas >= 3; Deployment web has spec.replicas = 1

`load_intent` checks a spec and raises `IntentError` naming the clause and key at fault, so that a dataset
row with a typo fails loudly instead of passing every answer. The score of the intent stage is the share
of clauses met, which gives GRPO partial credit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from studio.iac.kubernetes import Manifest, ParsedKubernetes
from studio.iac.report import Reason, Verdict
from studio.iac.terraform import ParsedTerraform, references_in

TERRAFORM_KEYS = ("resource", "data", "module", "variable", "output", "local", "provider")
TERRAFORM_OPTIONAL = {"name", "where", "refers_to", "count"}
KUBERNETES_OPTIONAL = {"apiVersion", "name", "where", "selects", "targets", "count"}
MATCHERS = {"eq", "ne", "gte", "gt", "lte", "lt", "in", "contains", "regex", "exists", "refers_to", "len_gte"}
NUMERIC_MATCHERS = {"eq", "ne", "gte", "gt", "lte", "lt"}
PATH_PART = re.compile(r"\[([^\]]+)\]|([^.\[\]]+)")
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")

# Where a workload keeps the labels its pods get, and where an object keeps the selector it selects with.
POD_LABELS = {
    "Pod": ("metadata", "labels"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "metadata", "labels"),
}
WORKLOAD_POD_LABELS = ("spec", "template", "metadata", "labels")


class IntentError(ValueError):
    """The intent spec itself is malformed (a dataset problem, not a model problem)."""


@dataclass
class Candidate:
    """One block or object an intent clause can match: how to name it, its body, how to reach the rest."""

    address: str
    type: str
    name: str
    body: Any
    line: int | None


# ---------------------------------------------------------------------------------------------------------
# Loading and checking the spec
# ---------------------------------------------------------------------------------------------------------


def load_intent(intent: dict | str | None) -> dict:
    """The intent as a dict ({} when empty), after checking it against the format; raises IntentError."""
    if intent is None or intent == "" or intent == {}:
        return {}
    if isinstance(intent, str):
        try:
            intent = json.loads(intent)
        except ValueError as error:
            raise IntentError(f"the intent is not valid JSON: {error}") from None
        if intent is None:
            return {}
    if not isinstance(intent, dict):
        raise IntentError(f"an intent is a JSON object with require/forbid lists, not {type(intent).__name__}")
    unknown = set(intent) - {"require", "forbid"}
    if unknown:
        raise IntentError(f"unknown intent key(s) {sorted(unknown)}: use require and forbid")
    for section in ("require", "forbid"):
        clauses = intent.get(section, [])
        if not isinstance(clauses, list):
            raise IntentError(f"{section} must be a list of clauses")
        for number, clause in enumerate(clauses, 1):
            _check_clause(clause, f"{section}[{number}]")
    return intent


def _check_clause(clause: Any, where: str) -> None:
    if not isinstance(clause, dict):
        raise IntentError(f"{where}: a clause is an object, not {type(clause).__name__}")
    block_keys = [key for key in TERRAFORM_KEYS if key in clause]
    if "kind" in clause:
        if block_keys:
            raise IntentError(f"{where}: a clause is Kubernetes (kind) or Terraform ({block_keys[0]}), not both")
        allowed = KUBERNETES_OPTIONAL | {"kind"}
    elif len(block_keys) == 1:
        allowed = TERRAFORM_OPTIONAL | {block_keys[0]}
    else:
        raise IntentError(f"{where}: a clause names exactly one of kind, {', '.join(TERRAFORM_KEYS)}; "
                          f"found {block_keys or 'none'}")
    unknown = set(clause) - allowed
    if unknown:
        raise IntentError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    head = clause.get("kind", clause.get(block_keys[0]) if block_keys else None)
    if not isinstance(head, str) or not head:
        raise IntentError(f"{where}: the block type or kind must be a non-empty string (or \"*\")")
    for key in ("name", "apiVersion", "selects", "targets"):
        if key in clause and not isinstance(clause[key], str):
            raise IntentError(f"{where}: {key} must be a string")
    refers = clause.get("refers_to")
    if refers is not None and not (isinstance(refers, str) or
                                   (isinstance(refers, list) and all(isinstance(r, str) for r in refers))):
        raise IntentError(f"{where}: refers_to is a type or a list of types")
    if "where" in clause:
        if not isinstance(clause["where"], dict):
            raise IntentError(f"{where}: where is an object of path: matcher")
        for path, matcher in clause["where"].items():
            _check_matcher(matcher, f"{where}.where[{path}]")
            if not parse_path(path):
                raise IntentError(f"{where}: empty path in where")
    if "count" in clause:
        count = clause["count"]
        if isinstance(count, bool) or not isinstance(count, (int, dict)):
            raise IntentError(f"{where}: count is a number or a matcher like {{\"gte\": 2}}")
        if isinstance(count, dict):
            _check_matcher(count, f"{where}.count")


def _check_matcher(matcher: Any, where: str) -> None:
    if isinstance(matcher, (str, int, float, bool)):
        return
    if isinstance(matcher, list) or matcher is None:
        raise IntentError(f"{where}: a bare matcher is a string, number or boolean; for lists use "
                          '{"in": [...]} or {"contains": ...}')
    if not isinstance(matcher, dict) or not matcher:
        raise IntentError(f"{where}: a matcher is a value or a non-empty object")
    unknown = set(matcher) - MATCHERS
    if unknown:
        raise IntentError(f"{where}: unknown matcher(s) {sorted(unknown)}; known: {sorted(MATCHERS)}")
    for key in ("gte", "gt", "lte", "lt", "len_gte"):
        if key in matcher and _number(matcher[key]) is None:
            raise IntentError(f"{where}: {key} needs a number")
    if "in" in matcher and not isinstance(matcher["in"], list):
        raise IntentError(f"{where}: in needs a list")
    if "exists" in matcher and not isinstance(matcher["exists"], bool):
        raise IntentError(f"{where}: exists is true or false")
    if "regex" in matcher:
        try:
            re.compile(matcher["regex"])
        except (re.error, TypeError) as error:
            raise IntentError(f"{where}: bad regex: {error}") from None


# ---------------------------------------------------------------------------------------------------------
# Paths and matchers
# ---------------------------------------------------------------------------------------------------------


def parse_path(path: str) -> list[str]:
    """`metadata.labels[app.kubernetes.io/name]` -> ["metadata", "labels", "app.kubernetes.io/name"]."""
    return [bracketed or plain for bracketed, plain in PATH_PART.findall(path)]


def resolve(value: Any, parts: list[str]) -> list[Any]:
    """Every value a path reaches; lists met on the way are walked through (nested blocks are lists).

    `null` is a value (`default = null` makes a variable optional), so it is reached like any other.
    """
    current = [value]
    for part in parts:
        reached = []
        if part == "*":
            for item in current:
                if isinstance(item, dict):
                    reached.extend(item.values())
                elif isinstance(item, list):
                    reached.extend(item)
        else:
            for item in _spread(current):
                if isinstance(item, dict) and part in item:
                    reached.append(item[part])
        current = reached
    return current


def _spread(values: list[Any]) -> list[Any]:
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(_spread(value))
        else:
            out.append(value)
    return out


def _unwrap(value: Any) -> Any:
    """`"${aws_s3_bucket.logs.id}"` -> `"aws_s3_bucket.logs.id"`; a single interpolation only."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and "${" not in value[2:]:
        return value[2:-1].strip()
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    value = _unwrap(value)
    if isinstance(value, str) and NUMBER.match(value.strip()):
        return float(value)
    return None


def _same(value: Any, expected: Any) -> bool:
    """Equality that forgives what does not change meaning: 8080 == "8080", true == "true", ${...}."""
    if isinstance(expected, (dict, list)) or isinstance(value, (dict, list)):
        return value == expected
    return _canonical(value) == _canonical(expected)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _number(value)
    if number is not None:
        return str(int(number)) if number.is_integer() else repr(number)
    return _unwrap(value)


Refers = Callable[[Any, str], bool]


def _holds_one(value: Any, key: str, expected: Any, refers: Refers) -> bool:
    """One matcher key against one value (a list value counts when any element does, except for
    contains and len_gte, which look at the list itself)."""
    if key == "contains":
        if isinstance(value, list):
            return any(_same(item, expected) for item in value)
        return isinstance(value, str) and isinstance(expected, str) and expected in value
    if key == "len_gte":
        return isinstance(value, (list, dict)) and len(value) >= expected
    if key == "refers_to":
        return refers(value, expected)
    if isinstance(value, list):
        return any(_holds_one(item, key, expected, refers) for item in value)
    if key == "eq":
        return _same(value, expected)
    if key == "ne":
        return not _same(value, expected)
    if key == "in":
        return any(_same(value, option) for option in expected)
    if key == "regex":
        return isinstance(value, str) and (re.search(expected, value) is not None
                                           or re.search(expected, str(_unwrap(value))) is not None)
    number, bound = _number(value), _number(expected)
    if number is None or bound is None:
        return False
    return {"gte": number >= bound, "gt": number > bound, "lte": number <= bound, "lt": number < bound}[key]


def matches(values: list[Any], matcher: Any, refers: Refers) -> bool:
    """A path's values against a matcher: `exists` looks at all of them, the rest hold for any value."""
    if not isinstance(matcher, dict):
        matcher = {"eq": matcher}
    if "exists" in matcher and bool(values) != matcher["exists"]:
        return False
    rest = {k: v for k, v in matcher.items() if k != "exists"}
    if not rest:
        return True
    return any(all(_holds_one(value, key, expected, refers) for key, expected in rest.items()) for value in values)


def describe_matcher(path: str, matcher: Any) -> str:
    """`spec.replicas >= 3`, `versioning_configuration.status = "Enabled"`, `acl present`."""
    if not isinstance(matcher, dict):
        matcher = {"eq": matcher}
    words = {"eq": "=", "ne": "!=", "gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
    parts = []
    for key, expected in matcher.items():
        if key in words:
            parts.append(f"{path} {words[key]} {json.dumps(expected)}")
        elif key == "exists":
            parts.append(f"{path} {'present' if expected else 'absent'}")
        elif key == "in":
            parts.append(f"{path} in {json.dumps(expected)}")
        elif key == "contains":
            parts.append(f"{path} containing {json.dumps(expected)}")
        elif key == "regex":
            parts.append(f"{path} matching /{expected}/")
        elif key == "refers_to":
            parts.append(f"{path} referring to {expected}")
        elif key == "len_gte":
            parts.append(f"{path} with at least {expected} entries")
    return " and ".join(parts)


def _show(values: list[Any]) -> str:
    shown = [json.dumps(v) if not isinstance(v, (dict, list)) else json.dumps(v)[:60] for v in values[:3]]
    return ", ".join(shown) + (", ..." if len(values) > 3 else "")


# ---------------------------------------------------------------------------------------------------------
# Candidates of each language
# ---------------------------------------------------------------------------------------------------------


def _terraform_candidates(parsed: ParsedTerraform, key: str) -> list[Candidate]:
    out = []
    for block in parsed.blocks:
        if key in ("resource", "data") and block.keyword == key and len(block.labels) == 2:
            out.append(Candidate(block.address, block.labels[0], block.labels[1], block.body, block.line))
        elif key in ("module", "variable", "output", "provider") and block.keyword == key and block.labels:
            name = block.labels[0]
            out.append(Candidate(block.address, name, name, block.body, block.line))
        elif key == "local" and block.keyword == "locals":
            for name, value in block.body.items():
                # A map local is walked from its keys; any local is also reachable as `value`.
                body = dict(value) if isinstance(value, dict) else {}
                body.setdefault("value", value)
                out.append(Candidate(f"local.{name}", name, name, body, block.outline.line_of(name)))
    return out


def _kubernetes_candidates(parsed: ParsedKubernetes) -> list[Candidate]:
    return [Candidate(doc.label, doc.kind, doc.name, doc.value, doc.line) for doc in parsed.objects]


def _terraform_refers(parsed: ParsedTerraform) -> Refers:
    declared = parsed.declared()

    def refers(value: Any, target: str) -> bool:
        return any(kind == target and (kind, name) in declared for kind, name in references_in(value))

    return refers


def _kubernetes_refers(value: Any, target: str) -> bool:
    return False  # Kubernetes objects refer by name; use selects / targets


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _selector(obj: dict) -> dict | None:
    if obj.get("kind") == "NetworkPolicy":
        selector = _get(obj, ("spec", "podSelector", "matchLabels"))
    else:
        selector = _get(obj, ("spec", "selector"))
        if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
            selector = selector.get("matchLabels")
    return selector if isinstance(selector, dict) and selector else None


def _pod_labels(obj: dict) -> dict:
    labels = _get(obj, POD_LABELS.get(obj.get("kind"), WORKLOAD_POD_LABELS))
    return labels if isinstance(labels, dict) else {}


def _selects(obj: dict, kind: str, objects: list[Manifest]) -> bool:
    selector = _selector(obj)
    if not selector:
        return False
    for other in objects:
        if kind in ("*", other.kind):
            labels = _pod_labels(other.value)
            if all(key in labels and _same(labels[key], value) for key, value in selector.items()):
                return True
    return False


def _named_targets(obj: dict) -> list[tuple[str, str]]:
    """(kind, name) pairs an object points at: HPA scale target, RBAC role and subjects, Ingress backends."""
    found = []
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    for ref in (spec.get("scaleTargetRef"), obj.get("roleRef")):
        if isinstance(ref, dict):
            found.append((str(ref.get("kind")), str(ref.get("name"))))
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict):
            found.append((str(subject.get("kind")), str(subject.get("name"))))
    if obj.get("kind") == "Ingress":
        for service in resolve(spec, ["rules", "http", "paths", "backend", "service", "name"]) + \
                resolve(spec, ["defaultBackend", "service", "name"]):
            found.append(("Service", str(service)))
    return found


def _targets(obj: dict, kind: str, objects: list[Manifest]) -> bool:
    present = {(doc.kind, doc.name) for doc in objects}
    return any(target_kind == kind and (kind, name) in present for target_kind, name in _named_targets(obj))


# ---------------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe_clause(clause: dict) -> str:
    """`resource aws_s3_bucket_versioning with versioning_configuration.status = "Enabled" referring to
    aws_s3_bucket`, `a Deployment with spec.replicas >= 3`."""
    if "kind" in clause:
        kind = clause["kind"]
        head = "an object" if kind == "*" else f"{_article(kind)} {kind}"
        if "apiVersion" in clause:
            head += f" ({clause['apiVersion']})"
    else:
        key = next(k for k in TERRAFORM_KEYS if k in clause)
        head = f"{_article(key)} {key}" if clause[key] == "*" else f"{key} {clause[key]}"
    if "name" in clause:
        head += f' named "{clause["name"]}"'
    conditions = [describe_matcher(path, matcher) for path, matcher in clause.get("where", {}).items()]
    text = head + (" with " + " and ".join(conditions) if conditions else "")
    refers = clause.get("refers_to")
    if refers:
        text += " referring to " + (" and ".join(refers) if isinstance(refers, list) else refers)
    if "selects" in clause:
        text += f" selecting {_article(clause['selects'])} {clause['selects']}"
    if "targets" in clause:
        text += f" targeting {_article(clause['targets'])} {clause['targets']}"
    return text


def _count_text(count: Any) -> str:
    if count is None:
        return ""
    if isinstance(count, int):
        return f"exactly {count} of "
    words = {"gte": "at least", "gt": "more than", "lte": "at most", "lt": "fewer than", "eq": "exactly"}
    return " and ".join(f"{words.get(k, k)} {v}" for k, v in count.items() if k in words) + " of "


def _failures(clause: dict, candidate: Candidate, refers: Refers, objects: list[Manifest] | None) -> list[str]:
    """Why a candidate of the right type misses the clause, nearest first; [] when it meets it."""
    why = []
    if "name" in clause and candidate.name != clause["name"]:
        why.append(f'{candidate.address} is named "{candidate.name}"')
    if "apiVersion" in clause and isinstance(candidate.body, dict) \
            and candidate.body.get("apiVersion") != clause["apiVersion"]:
        why.append(f'{candidate.address} has apiVersion {json.dumps(candidate.body.get("apiVersion"))}')
    for path, matcher in clause.get("where", {}).items():
        values = resolve(candidate.body, parse_path(path))
        if matches(values, matcher, refers):
            continue
        if isinstance(matcher, dict) and matcher.get("exists") is False:
            why.append(f"{candidate.address} has {path}")
        elif not values:
            why.append(f"{candidate.address} has no {path}")
        else:
            why.append(f"{candidate.address} has {path} = {_show(values)}")
    refers_to = clause.get("refers_to")
    for target in ([refers_to] if isinstance(refers_to, str) else refers_to or []):
        if not refers(candidate.body, target):
            why.append(f"{candidate.address} refers to no {target} declared in the same code")
    if "selects" in clause and objects is not None and not _selects(candidate.body, clause["selects"], objects):
        selector = _selector(candidate.body)
        shown = f"selector {json.dumps(selector)}" if selector else "no selector"
        why.append(f"{candidate.address} selects no {clause['selects']} in the manifest ({shown})")
    if "targets" in clause and objects is not None and not _targets(candidate.body, clause["targets"], objects):
        why.append(f"{candidate.address} targets no {clause['targets']} declared in the manifest")
    return why


def _count_ok(number: int, count: Any) -> bool:
    if count is None:
        return number >= 1
    if isinstance(count, int):
        return number == count
    return matches([number], count, lambda *_: False)


def check_intent(intent: dict | str | None, parsed: ParsedTerraform | ParsedKubernetes | None) -> Verdict:
    """Every clause of the intent against the parsed code; one reason per failing clause."""
    try:
        spec = load_intent(intent)
    except IntentError as error:
        return Verdict("skipped", [Reason(f"the intent spec is invalid: {error}", path="intent")], 0.0)
    # Code that does not parse meets no intent, not even an empty one: junk must not earn intent credit.
    if parsed is None or not parsed.verdict.passed:
        return Verdict.skipped("the code does not parse")
    if not spec.get("require") and not spec.get("forbid"):
        return Verdict("passed", [Reason("no intent given", severity="note")], 1.0)
    if isinstance(parsed, ParsedKubernetes):
        objects = parsed.objects
        refers: Refers = _kubernetes_refers
        everything = _kubernetes_candidates(parsed)
    else:
        objects = None
        refers = _terraform_refers(parsed)
        everything = []
    reasons, met, total = [], 0, 0
    for section in ("require", "forbid"):
        for clause in spec.get(section, []):
            total += 1
            if "kind" in clause:
                pool = everything if objects is not None else []
                kind = clause["kind"]
                candidates = [c for c in pool if kind in ("*", c.type)]
            else:
                key = next(k for k in TERRAFORM_KEYS if k in clause)
                pool = _terraform_candidates(parsed, key) if objects is None else []
                wanted = clause[key]
                candidates = [c for c in pool if wanted in ("*", c.type)]
            misses = [(c, _failures(clause, c, refers, objects)) for c in candidates]
            meeting = [c for c, why in misses if not why]
            count = clause.get("count")
            holds = _count_ok(len(meeting), count)
            description = describe_clause(clause)
            if section == "require":
                if holds:
                    met += 1
                    continue
                reasons.append(Reason(_require_reason(description, count, candidates, misses, meeting, parsed),
                                      _nearest_line(misses), "intent"))
            else:
                if not holds:
                    met += 1
                    continue
                has = "has it" if clause.get("where") or clause.get("refers_to") else "is declared"
                addresses = ", ".join(c.address for c in meeting[:3])
                reasons.append(Reason(f"intent: forbids {description}; {addresses} {has}",
                                      meeting[0].line if meeting else None, "intent"))
    return Verdict.from_reasons(reasons, met / total if total else 1.0)


def _require_reason(description: str, count: Any, candidates: list[Candidate], misses: list, meeting: list,
                    parsed: ParsedTerraform | ParsedKubernetes) -> str:
    needs = f"intent: needs {_count_text(count)}{description}"
    if meeting:
        found = ", ".join(c.address for c in meeting[:5])
        return f"{needs}; found {len(meeting)}: {found}"
    if not candidates:
        present = _present(parsed)
        return f"{needs}; there is none" + (f" (found {present})" if present else "")
    nearest = min(misses, key=lambda item: len(item[1]))
    return f"{needs}; {nearest[1][0]}"


def _nearest_line(misses: list) -> int | None:
    if not misses:
        return None
    return min(misses, key=lambda item: len(item[1]))[0].line


def _present(parsed: ParsedTerraform | ParsedKubernetes) -> str:
    if isinstance(parsed, ParsedKubernetes):
        names = [doc.label for doc in parsed.objects]
    else:
        names = [b.address for b in parsed.blocks if b.keyword in ("resource", "data", "module")]
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
