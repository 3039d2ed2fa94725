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

import copy
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from studio.iac.kubernetes import Manifest, ParsedKubernetes
from studio.iac.report import Reason, Verdict
from studio.iac.terraform import ParsedTerraform, references_in

TERRAFORM_KEYS = ("resource", "data", "module", "variable", "output", "local", "provider")
TERRAFORM_OPTIONAL = {"name", "where", "any_of", "refers_to", "count"}
KUBERNETES_OPTIONAL = {"apiVersion", "name", "where", "any_of", "selects", "targets", "count"}
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
    copies: int = 1  # how many objects the block stands for: its `count`, or the size of its `for_each`
    meaning: Any = None  # a Kubernetes object as the API reads it (_kubernetes_meaning), made on first use


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
    if "any_of" in clause:
        options = clause["any_of"]
        if not isinstance(options, list) or not options or not all(isinstance(o, dict) and o for o in options):
            raise IntentError(f"{where}: any_of is a list of where objects (path: matcher), one of which must hold")
        for number, option in enumerate(options, 1):
            for path, matcher in option.items():
                _check_matcher(matcher, f"{where}.any_of[{number}][{path}]")
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


def resolve(value: Any, parts: list[str], follow: "Follow | None" = None) -> list[Any]:
    """Every value a path reaches; lists met on the way are walked through (nested blocks are lists).

    `null` is a value (`default = null` makes a variable optional), so it is reached like any other. With
    `follow`, a reference met on the way (`variables = local.env`) is walked into what it stands for.
    """
    current = [value]
    for part in parts:
        if follow is not None:
            current = current + [found for item in current for found in follow(item) if not isinstance(found, str)]
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


def _terraform_candidates(parsed: ParsedTerraform, key: str, follow: "Follow") -> list[Candidate]:
    out = []
    for block in parsed.blocks:
        if key in ("resource", "data") and block.keyword == key and len(block.labels) == 2:
            out.append(Candidate(block.address, block.labels[0], block.labels[1], block.body, block.line,
                                 _copies(block.body, follow)))
        elif key in ("module", "variable", "output", "provider") and block.keyword == key and block.labels:
            name = block.labels[0]
            out.append(Candidate(block.address, name, name, block.body, block.line, _copies(block.body, follow)))
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
# Equivalent forms: what the code means, not only how it is spelled
# ---------------------------------------------------------------------------------------------------------

Follow = Callable[[Any], list[Any]]
REFERENCE_TEXT = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+|\[[^\]]+\])*$")
JSONENCODE = re.compile(r"^jsonencode\((.*)\)$", re.S)
TOSET = re.compile(r"^(?:toset\()?\[(.*)\]\)?$", re.S)
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _no_follow(value: Any) -> list[Any]:
    return []


def _terraform_follow(parsed: ParsedTerraform) -> Follow:
    """What a reference stands for, where the code says it: `data.aws_iam_policy_document.x.json` is the policy
    document (as JSON text), `var.x` its default, `local.x` its value, `jsonencode(local.x)` that value as JSON.

    >>> from studio.iac.terraform import parse_terraform
    >>> parsed = parse_terraform('locals {\\n  env = { LOG_LEVEL = "info" }\\n}\\n')
    >>> _terraform_follow(parsed)("${local.env}")
    [{'LOG_LEVEL': 'info'}]
    """
    targets: dict[str, Any] = {}
    for block in parsed.blocks:
        if block.keyword == "data" and len(block.labels) == 2:
            targets[f"data.{block.labels[0]}.{block.labels[1]}"] = {**block.body, "json": json.dumps(block.body)}
        elif block.keyword == "variable" and block.labels and "default" in block.body:
            targets[f"var.{block.labels[0]}"] = block.body["default"]
        elif block.keyword == "locals":
            for name, value in block.body.items():
                targets[f"local.{name}"] = value

    def follow(value: Any, depth: int = 0) -> list[Any]:
        if depth > 4 or not isinstance(value, str) or not targets:
            return []
        expression = _unwrap(value)
        if not isinstance(expression, str) or expression == value and not value.startswith(("var.", "local.",
                                                                                           "data.")):
            return []
        encode = JSONENCODE.match(expression)
        if encode:
            inner = encode.group(1).strip()
            return [json.dumps(found) for found in follow("${" + inner + "}", depth + 1)]
        if not REFERENCE_TEXT.match(expression):
            return []
        parts = parse_path(expression)
        for cut in range(len(parts), 0, -1):
            key = ".".join(parts[:cut])
            if key in targets:
                found = resolve(targets[key], parts[cut:]) if cut < len(parts) else [targets[key]]
                return found + [more for item in found for more in follow(item, depth + 1)]
        return []

    return follow


def _copies(body: Any, follow: Follow) -> int:
    """How many objects a block declares: its `count`, the size of its `for_each`, else 1 (also when the
    number is only known at apply time)."""
    if not isinstance(body, dict):
        return 1
    if "count" in body:
        for value in (body["count"], *follow(body["count"])):
            number = _number(value)
            if number is not None:
                return max(0, int(number))
    if "for_each" in body:
        for value in (body["for_each"], *follow(body["for_each"])):
            if isinstance(value, (list, dict)):
                return len(value)
            literal = TOSET.match(str(_unwrap(value)).strip()) if isinstance(value, str) else None
            if literal:
                return len(QUOTED.findall(literal.group(1)))
    return 1


# Container securityContext fields the pod-level securityContext sets for every container (PodSecurityContext).
SHARED_SECURITY_CONTEXT = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile", "seLinuxOptions",
                           "appArmorProfile", "windowsOptions")
POD_SPEC = {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}
# Values the API server fills in when a manifest leaves them out (Kubernetes API reference, v1.31).
KUBERNETES_DEFAULTS: dict[str, dict[str, Any]] = {
    "*": {"metadata.namespace": "default"},
    "Deployment": {"spec.replicas": 1, "spec.strategy.type": "RollingUpdate", "spec.revisionHistoryLimit": 10,
                   "spec.progressDeadlineSeconds": 600},
    "StatefulSet": {"spec.replicas": 1, "spec.updateStrategy.type": "RollingUpdate",
                    "spec.podManagementPolicy": "OrderedReady"},
    "ReplicaSet": {"spec.replicas": 1},
    "DaemonSet": {"spec.updateStrategy.type": "RollingUpdate"},
    "Service": {"spec.type": "ClusterIP", "spec.sessionAffinity": "None"},
    "Job": {"spec.backoffLimit": 6, "spec.completions": 1, "spec.parallelism": 1},
    "CronJob": {"spec.concurrencyPolicy": "Allow", "spec.suspend": False, "spec.successfulJobsHistoryLimit": 3,
                "spec.failedJobsHistoryLimit": 1},
    "HorizontalPodAutoscaler": {"spec.minReplicas": 1},
    "PersistentVolumeClaim": {"spec.volumeMode": "Filesystem"},
    "StorageClass": {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
    "Secret": {"type": "Opaque"},
    "ConfigMap": {"immutable": False},
}
# Arguments the AWS provider defaults when left out (its documentation, provider 5 and 6 alike).
TERRAFORM_DEFAULTS: dict[str, dict[str, Any]] = {
    "aws_lb": {"load_balancer_type": "application", "internal": False, "ip_address_type": "ipv4",
               "enable_deletion_protection": False},
    "aws_lb_target_group": {"target_type": "instance", "deregistration_delay": 300},
    "aws_lambda_function": {"package_type": "Zip", "architectures": ["x86_64"], "memory_size": 128, "timeout": 3},
    "aws_ecr_repository": {"image_tag_mutability": "MUTABLE"},
    "aws_dynamodb_table": {"billing_mode": "PROVISIONED"},
    "aws_sqs_queue": {"fifo_queue": False, "visibility_timeout_seconds": 30, "delay_seconds": 0,
                      "message_retention_seconds": 345600},
    "aws_sns_topic": {"fifo_topic": False},
    "aws_kms_key": {"enable_key_rotation": False, "key_usage": "ENCRYPT_DECRYPT",
                    "customer_master_key_spec": "SYMMETRIC_DEFAULT", "is_enabled": True},
    "aws_db_instance": {"storage_encrypted": False, "publicly_accessible": False, "multi_az": False},
    "aws_rds_cluster": {"storage_encrypted": False},
    "aws_ecs_task_definition": {"network_mode": "bridge"},
    "aws_cloudwatch_metric_alarm": {"treat_missing_data": "missing"},
    "aws_vpc": {"enable_dns_support": True, "enable_dns_hostnames": False, "instance_tenancy": "default"},
    "aws_s3_bucket": {"force_destroy": False},
    "aws_autoscaling_group": {"health_check_type": "EC2"},
}


def _pod_spec(obj: dict) -> dict | None:
    spec = _get(obj, POD_SPEC.get(obj.get("kind"), ("spec", "template", "spec")))
    return spec if isinstance(spec, dict) else None


def _kubernetes_meaning(obj: Any) -> Any:
    """The object with the forms the API treats alike filled in both ways (a copy; the answer is not changed):

    - `securityContext` fields that the pod level sets for every container appear on each container, and a field
      every container sets alike appears on the pod;
    - a configMap or secret volume's `defaultMode` appears as each projected item's `mode`, and the `mode` every
      item shares as the volume's `defaultMode`;
    - each Service port's `targetPort` defaults to its `port`, and every `protocol` to TCP;
    - a NetworkPolicy's `policyTypes` defaults to Ingress, plus Egress when it has egress rules.
    """
    if not isinstance(obj, dict):
        return obj
    obj = copy.deepcopy(obj)
    pod = _pod_spec(obj)
    if pod is not None:
        containers = [c for c in (pod.get("containers") or []) + (pod.get("initContainers") or [])
                      if isinstance(c, dict)]
        pod_context = pod.get("securityContext") if isinstance(pod.get("securityContext"), dict) else {}
        for key in SHARED_SECURITY_CONTEXT:
            if key in pod_context:
                for container in containers:
                    if container.get("securityContext") is None:
                        container["securityContext"] = {}
                    context = container["securityContext"]
                    if isinstance(context, dict):
                        context.setdefault(key, pod_context[key])
            else:
                values = [c.get("securityContext", {}).get(key) if isinstance(c.get("securityContext"), dict)
                          else None for c in containers]
                if values and all(v is not None and v == values[0] for v in values):
                    pod.setdefault("securityContext", {})[key] = values[0]
        for container in containers:
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
        for volume in pod.get("volumes") or []:
            for source in ("configMap", "secret"):
                found = volume.get(source) if isinstance(volume, dict) else None
                if not isinstance(found, dict):
                    continue
                items = [item for item in found.get("items") or [] if isinstance(item, dict)]
                modes = [item.get("mode") for item in items]
                if "defaultMode" not in found and modes and all(m is not None and m == modes[0] for m in modes):
                    found["defaultMode"] = modes[0]
                for item in items:
                    item.setdefault("mode", found.get("defaultMode", 420))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if obj.get("kind") == "Service" and spec is not None:
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and "port" in port:
                port.setdefault("targetPort", port["port"])
                port.setdefault("protocol", "TCP")
    if obj.get("kind") == "NetworkPolicy" and spec is not None and "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
    return obj


def _default_values(language_key: str, type_: str, path: str) -> list[Any]:
    """The API default of `path` on a `type_` object, as a one-value list, or [] when it has none."""
    table = KUBERNETES_DEFAULTS if language_key == "kind" else TERRAFORM_DEFAULTS
    for scope in (type_, "*"):
        if path in table.get(scope, {}):
            return [table[scope][path]]
    return []


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
    if clause.get("any_of"):
        conditions.append("either " + " or ".join(
            "(" + " and ".join(describe_matcher(p, m) for p, m in option.items()) + ")" for option in clause["any_of"]))
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


def _conditions(clause: dict) -> int:
    """How many things a clause asks of one block beyond its type (for partial credit)."""
    refers = clause.get("refers_to")
    return (("name" in clause and clause["name"] != "*") + ("apiVersion" in clause)
            + len([p for p in clause.get("where", {}) if not _is_copies(p, clause["where"][p])])
            + len([refers] if isinstance(refers, str) else refers or []) + ("selects" in clause) + ("targets" in clause)
            + ("any_of" in clause))


def _is_copies(path: str, matcher: Any) -> bool:
    """`"count": 2` or `"count": {"gte": 2}` in a where asks how many objects there are, however declared:
    `count = 2`, a `for_each` of two, or two blocks."""
    if path != "count":
        return False
    if isinstance(matcher, dict):
        return bool(matcher) and set(matcher) <= NUMERIC_MATCHERS
    return _number(matcher) is not None


def _path_values(candidate: Candidate, path: str, matcher: Any, language_key: str, follow: Follow) -> list[Any]:
    """The values `path` reaches on a candidate as the API reads it: references followed, equivalent placements
    filled in, and the API default where the code leaves the value out (not for `exists`, which asks about the
    code itself)."""
    body = candidate.body
    if language_key == "kind":
        if candidate.meaning is None:
            candidate.meaning = _kubernetes_meaning(candidate.body)
        body = candidate.meaning
    parts = parse_path(path)
    values = resolve(body, parts, follow)
    values = values + [found for value in values for found in follow(value)]
    only_exists = isinstance(matcher, dict) and set(matcher) == {"exists"}
    if not values and not only_exists:
        values = _default_values(language_key, candidate.type, path)
    return values


def _failures(clause: dict, candidate: Candidate, refers: Refers, objects: list[Manifest] | None,
              follow: Follow = _no_follow) -> list[str]:
    """Why a candidate of the right type misses the clause, nearest first; [] when it meets it."""
    why = []
    if "name" in clause and clause["name"] != "*" and candidate.name != clause["name"]:
        why.append(f'{candidate.address} is named "{candidate.name}"')
    if "apiVersion" in clause and isinstance(candidate.body, dict) \
            and candidate.body.get("apiVersion") != clause["apiVersion"]:
        why.append(f'{candidate.address} has apiVersion {json.dumps(candidate.body.get("apiVersion"))}')
    language_key = "kind" if "kind" in clause else "resource"
    for path, matcher in clause.get("where", {}).items():
        if _is_copies(path, matcher):
            continue  # counted over all the blocks that meet the rest (check_intent)
        values = _path_values(candidate, path, matcher, language_key, follow)
        if matches(values, matcher, refers):
            continue
        if isinstance(matcher, dict) and matcher.get("exists") is False:
            why.append(f"{candidate.address} has {path}")
        elif not values:
            why.append(f"{candidate.address} has no {path}")
        else:
            why.append(f"{candidate.address} has {path} = {_show(values)}")
    options = clause.get("any_of") or []
    if options and not any(all(matches(_path_values(candidate, path, matcher, language_key, follow), matcher, refers)
                               for path, matcher in option.items()) for option in options):
        why.append(f"{candidate.address} has none of the {len(options)} accepted forms")
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
    """Every clause of the intent against the parsed code; one reason per failing clause.

    The score is the share of `require` clauses met, with partial credit: a clause not met counts half the share
    of its conditions (its type among them) that the nearest block meets, so a block of the right type with one
    value wrong earns something and an unrelated block nothing. Each `forbid` clause broken takes off up to half
    of it (all of them broken: half).
    """
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
        follow: Follow = _no_follow
        everything = _kubernetes_candidates(parsed)
    else:
        objects = None
        refers = _terraform_refers(parsed)
        follow = _terraform_follow(parsed)
        everything = []
    reasons, credit, broken = [], 0.0, 0
    for section in ("require", "forbid"):
        for clause in spec.get(section, []):
            if "kind" in clause:
                pool = everything if objects is not None else []
                kind = clause["kind"]
                candidates = [c for c in pool if kind in ("*", c.type)]
            else:
                key = next(k for k in TERRAFORM_KEYS if k in clause)
                pool = _terraform_candidates(parsed, key, follow) if objects is None else []
                wanted = clause[key]
                candidates = [c for c in pool if wanted in ("*", c.type)]
            misses = [(c, _failures(clause, c, refers, objects, follow)) for c in candidates]
            meeting = [c for c, why in misses if not why]
            copies = sum(c.copies for c in meeting)
            count = clause.get("count")
            holds = _count_ok(copies, count)
            per_block = next((m for p, m in clause.get("where", {}).items() if _is_copies(p, m)), None)
            if per_block is not None:
                holds = holds and matches([copies], per_block, refers)
            description = describe_clause(clause)
            if section == "require":
                if holds:
                    credit += 1
                    continue
                credit += _partial_credit(clause, misses, meeting)
                reasons.append(Reason(_require_reason(description, count, candidates, misses, meeting, parsed),
                                      _nearest_line(misses), "intent"))
            else:
                if not holds:
                    continue
                broken += 1
                has = "has it" if clause.get("where") or clause.get("refers_to") else "is declared"
                addresses = ", ".join(c.address for c in meeting[:3])
                reasons.append(Reason(f"intent: forbids {description}; {addresses} {has}",
                                      meeting[0].line if meeting else None, "intent"))
    required = len(spec.get("require", []))
    share = credit / required if required else 1.0
    # Keeping clear of what is forbidden earns nothing by itself (an empty answer does that); breaking every
    # forbid clause halves the credit.
    forbidden = len(spec.get("forbid", []))
    return Verdict.from_reasons(reasons, share * (1 - 0.5 * broken / forbidden) if forbidden else share)


def _partial_credit(clause: dict, misses: list, meeting: list) -> float:
    """Half the share of the clause's conditions, its type included, that the nearest block meets."""
    if meeting:  # the right blocks, in the wrong number
        return 0.5
    if not misses:
        return 0.0
    asked = 1 + _conditions(clause)
    fewest = min(len(why) for _, why in misses)
    return 0.5 * max(0, asked - fewest) / asked


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


# ---------------------------------------------------------------------------------------------------------
# Linting a dataset's specs: no literal the request does not state
# ---------------------------------------------------------------------------------------------------------

# Arguments whose value is a name a person picks (a bucket's, a function's): a spec may pin one only when the
# request gives it. For Kubernetes: metadata.name and metadata.namespace.
NAME_KEYS = {"name", "bucket", "function_name", "cluster_identifier", "identifier", "cluster_name",
             "table_name", "queue_name", "repository_name", "secretName", "serviceAccountName", "claimName",
             "alarm_name", "topic_name", "role_name", "policy_name", "db_name", "database_name",
             "log_group_name", "stage_name", "domain_name", "service_name"}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "single": 1, "pair": 2, "twice": 2, "hundred": 100,
                "writer and a reader": 2, "both": 2, "second": 1, "daily": 1, "weekly": 7, "noon": 12, "doubling": 100,
                "half": 50}
# "an hour" is 1 (hours), 60 (minutes) or 3600 (seconds); "a year" 365 (days) or 31,536,000 (seconds).
UNIT_WORDS = {"minute": (1, 60), "hour": (1, 60, 3600), "day": (1, 24, 1440, 86400), "week": (1, 7, 168, 604800),
              "year": (1, 365, 31536000), "month": (1, 30)}
STATED_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*(k)\b)?")


def _stated_numbers(text: str) -> set[float]:
    """Every number the text states, and what it means in the units an API takes: 2 GB is 2048 (MB), 5% is
    0.05, 3 minutes 180 (s), two weeks 14 (days), 0755 is 493 (octal file modes)."""
    found: set[float] = set()
    for digits, thousand in STATED_NUMBER.findall(text):
        number = float(digits) * (1000 if thousand else 1)
        found.update({number, number * 1024, number * 1024 ** 2, number * 1024 ** 3, number * 1000, number * 60,
                      number * 3600, number * 86400, number / 100, number * 7, number * 24, number * 30})
        if len(digits) in (3, 4) and digits.startswith("0") and set(digits) <= set("01234567"):
            found.add(float(int(digits, 8)))
    lowered = text.lower()
    for word, number in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", lowered):
            found.update({float(number), number * 7.0, number * 60.0, number * 3600.0, number * 86400.0})
    for unit, values in UNIT_WORDS.items():
        for count in re.findall(rf"(\d+|an?|one|two|three|every|per|each)\s+{unit}s?\b", lowered):
            times = float(count) if count.isdigit() else NUMBER_WORDS.get(count, 1)
            found.update(times * value for value in values)
    return found


# Values an API spells one way for what a request says in words: the word(s), any of which implies the value.
IMPLIED: dict[str, tuple[str, ...]] = {
    "0.0.0.0/0": ("internet", "anywhere", "public", "world", "outbound", "all ", "any ", "everything", "nat"),
    "::/0": ("ipv6",),
    "-1": ("all", "any", "every"),
    "22": ("ssh", "bastion"), "80": ("http",), "443": ("https", "tls", "ssl", "aws api"), "53": ("dns",),
    "5432": ("postgres",), "3306": ("mysql", "mariadb"), "1024": ("ephemeral",), "65535": ("ephemeral",),
    "30000": ("nodeport",), "32767": ("nodeport",),
    "AWS/EC2": ("ec2", "instance"), "AWS/RDS": ("rds", "database"), "AWS/SQS": ("sqs", "queue"),
    "AWS/Lambda": ("lambda", "function"),
    "099720109477": ("canonical", "ubuntu"), "Z2FDTNDATAQYW2": ("cloudfront",),
    "s3:PutObject": ("upload", "write", "put"), "s3:GetObject": ("read", "serve", "download", "get"),
    "s3:ObjectCreated:*": ("upload", "created", "new object", "lands", "arriv"),
    "HTTP_301": ("redirect",), "TLSv1.2": ("tls", "https"), "http2and3": ("http/3", "http3"),
    "PriceClass_100": ("cheapest", "north america"), "cloudfront-js-2.0": ("cloudfront function",),
    "sigv4": ("origin access control", "oac", "sign"), "IPv4": ("ipv4", "prefix list"),
    "registry-1.docker.io": ("docker hub",), "coordination.k8s.io": ("lease", "leader"),
    "snapshot.storage.k8s.io": ("snapshot",), "kubernetes.io/h2c": ("h2c", "http/2 cleartext", "without tls"),
    "autoscaling:EC2_INSTANCE_TERMINATING": ("terminat",), "autoscaling:EC2_INSTANCE_LAUNCHING": ("launch",),
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR": ("launch",), "EC2 Instance State-change Notification": ("state",),
    "us-east-1": ("cloudfront", "acm certificate", "us-east-1"), "LockID": ("lock",),
    "Managed-CachingDisabled": ("cachingdisabled", "no caching"),
    "Managed-AllViewerExceptHostHeader": ("all viewer headers", "all viewer"),
}
NEGATIONS = re.compile(r"\b(no|not|never|none|zero|without|don't|immediately|disable\w*|off|instantly|right away)\b")
SERVICE_PRINCIPAL = re.compile(r"^([a-z0-9-]+)\.amazonaws\.com$")


def _implied(value: Any, lowered: str) -> bool:
    """Whether the request's words imply a value the API spells its own way (`443` for HTTPS, `0` for never)."""
    text = str(value).lower() if not isinstance(value, str) else value
    number = _number(value)
    if number == 0 and NEGATIONS.search(lowered):
        return True
    if number is not None and number.is_integer():
        text = str(int(number))
    words = IMPLIED.get(text) or IMPLIED.get(str(value))
    if words and any(word in lowered for word in words):
        return True
    principal = SERVICE_PRINCIPAL.match(text)
    if principal:  # lambda.amazonaws.com for a Lambda, apigateway.amazonaws.com for API Gateway
        service = principal.group(1)
        synonyms = {"ec2": ("ec2", "instance", "server"), "logs": ("log",), "events": ("eventbridge", "event"),
                    "apigateway": ("api gateway", "apigateway", "rest api"), "ecs-tasks": ("ecs", "fargate", "task"),
                    "s3": ("s3", "bucket")}
        return any(word in lowered for word in synonyms.get(service, (service,)))
    return False


def _squeezed(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def unstated_literals(intent: dict | str | None, instruction: str, input: str = "") -> list[str]:
    """The literals of a row's `require` clauses that its request neither states nor implies, one message each;
    [] when the spec asks only for what the request says.

    Checked: names (a clause's `name`, a variable, output, local or module named instead of `"*"`, a value at
    a naming path such as `metadata.name` or `bucket`), numbers, and strings holding a digit (ports, sizes,
    CIDRs, versions, images). A value is stated when the request's words hold it (ignoring case and
    punctuation: "Aurora PostgreSQL" states `aurora-postgresql`), when it is a unit conversion of a number the
    request gives (2 GB -> 2048), or when it is the API's default. Words of the API's own vocabulary
    (`Enabled`, `ClusterIP`, `INFO`) are the meaning of the request, not a pinned literal, and are not checked;
    nor are regexes and `in` lists holding a stated choice, which are how a spec allows several spellings.

    >>> unstated_literals({"require": [{"kind": "Namespace", "name": "team-orion"}]}, "Onboard team orion")
    []
    >>> unstated_literals({"require": [{"variable": "tenants"}]}, "One table per tenant, from a map variable")
    ['require[1]: the variable name "tenants" is not in the request (use "*")']
    """
    spec = load_intent(intent)
    text = f"{instruction}\n{input}"
    squeezed, lowered = _squeezed(text), text.lower()
    numbers = _stated_numbers(text)
    problems = []

    def stated(value: Any) -> bool:
        if isinstance(value, bool) or value is None:
            return True
        number = _number(value)
        if number is not None and any(math.isclose(number, n, rel_tol=1e-9) for n in numbers):
            return True
        if _implied(value, lowered):
            return True
        if not isinstance(value, str) or not _squeezed(value):
            return False
        if _squeezed(value) in squeezed:
            return True
        # A schedule or an expression built from the request's numbers: "rate(15 minutes)", "30 3 1 * *".
        digits = re.findall(r"\d+", value)
        return bool(digits) and re.fullmatch(r"[\w\s*?/,()\-:.]+", value) is not None and " " in value.strip() \
            and all(float(d) in numbers or d in ("0", "1") for d in digits)

    spaced = re.sub(r"[-_\s]+", " ", lowered)

    def named(value: Any) -> bool:
        # A name must appear as written, separators aside: "team: orion" does not name a namespace team-orion,
        # "a name prefix" does name a local name_prefix.
        return isinstance(value, str) and (re.sub(r"[-_\s]+", " ", value.lower()) in spaced
                                           or _implied(value, lowered))

    for index, clause in enumerate(spec.get("require", []), 1):
        where = f"require[{index}]"
        language_key = "kind" if "kind" in clause else next(k for k in TERRAFORM_KEYS if k in clause)
        head = clause[language_key]
        if language_key in ("variable", "output", "local", "module") and head != "*" and not named(head):
            problems.append(f'{where}: the {language_key} name "{head}" is not in the request (use "*")')
        name = clause.get("name")
        if name not in (None, "*") and not named(name):
            problems.append(f'{where}: the name "{name}" is not in the request (leave name out or use "*")')
        type_ = head if language_key in ("kind", "resource", "data") else ""
        for path, matcher in clause.get("where", {}).items():
            if _is_copies(path, matcher):
                expected = [matcher] if not isinstance(matcher, dict) else list(matcher.values())
            elif not isinstance(matcher, dict):
                expected = [matcher]
            else:
                expected = [matcher[k] for k in ("eq", "gte", "gt", "lte", "lt", "contains") if k in matcher]
                if "in" in matcher:
                    options = matcher["in"]
                    expected += [] if any(stated(o) for o in options) else [options[0]] if options else []
            parts = parse_path(path)
            naming = not isinstance(matcher, dict) and (
                parts[:1] == ["metadata"] and parts[-1] in ("name", "namespace") if language_key == "kind"
                else len(parts) == 1 and parts[0] in NAME_KEYS)
            defaults = _default_values("kind" if language_key == "kind" else "resource", type_, path)
            for value in expected:
                checked = naming or (isinstance(value, (int, float)) and not isinstance(value, bool)) \
                    or (isinstance(value, str) and any(ch.isdigit() for ch in value))
                if not checked or (named(value) if naming else stated(value)) or any(_same(value, d) for d in defaults):
                    continue
                problems.append(f"{where}: {path} = {json.dumps(value)} is not in the request")
    return problems
