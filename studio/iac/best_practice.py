"""Best-practice rules, kept apart from correctness: advice a reviewer would give, not errors.

    >>> from studio.iac import validate
    >>> report = validate('resource "aws_s3_bucket" "logs" {\\n  bucket = "logs"\\n}\\n', "terraform")
    >>> report.ok, report.best_practice.status
    (True, 'failed')
    >>> print(report.best_practice.reasons[0].message)
    [s3-public-access-block] aws_s3_bucket.logs has no aws_s3_bucket_public_access_block referring to it

Terraform: S3 public access block, S3 encryption, no SSH/RDP from anywhere, encrypted RDS storage, no
static credentials in the provider. Kubernetes (every container of a pod-bearing object): resource
limits, liveness and readiness probes (not for Jobs), runAsNonRoot, an image tag other than `latest`.
The score is the share of applicable checks that pass; code where no rule applies passes with score 1.
"""

from __future__ import annotations

from typing import Any

from studio.iac.kubernetes import ParsedKubernetes
from studio.iac.report import Reason, Verdict
from studio.iac.terraform import ParsedTerraform, TerraformBlock, references_in

PUBLIC_ACCESS_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
ANYWHERE = {"0.0.0.0/0", "::/0"}
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
RUN_TO_COMPLETION = {"Job", "CronJob"}


class _Tally:
    """Counts applicable checks and collects the failures as warnings."""

    def __init__(self) -> None:
        self.checks = 0
        self.reasons: list[Reason] = []

    def check(self, rule: str, passed: bool, message: str, line: int | None = None, path: str | None = None):
        self.checks += 1
        if not passed:
            self.reasons.append(Reason(f"[{rule}] {message}", line, path, "warning"))

    def verdict(self) -> Verdict:
        if not self.checks:
            return Verdict("passed", [Reason("no best-practice rule applies", severity="note")], 1.0)
        score = 1.0 - len(self.reasons) / self.checks
        return Verdict("failed" if self.reasons else "passed", self.reasons, score)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _refers_to(block: TerraformBlock, tf_type: str, name: str) -> bool:
    return (tf_type, name) in references_in(block.body)


def _port_covers(rule: dict, port: int, protocol_key: str) -> bool:
    protocol = str(rule.get(protocol_key, "")).strip().lower()
    if protocol in ("-1", "all"):
        return True
    try:
        low, high = int(rule.get("from_port")), int(rule.get("to_port", rule.get("from_port")))
    except (TypeError, ValueError):
        return False  # ports from variables: cannot tell, do not accuse
    return low <= port <= high


def _open_to_world(values: list) -> bool:
    return any(isinstance(v, str) and v.strip() in ANYWHERE for v in values)


def check_terraform_practices(parsed: ParsedTerraform) -> Verdict:
    tally = _Tally()
    resources = parsed.of("resource")
    by_type: dict[str, list[TerraformBlock]] = {}
    for block in resources:
        by_type.setdefault(block.labels[0], []).append(block)
    account_block = any(
        all(_true(b.body.get(flag)) for flag in PUBLIC_ACCESS_FLAGS)
        for b in by_type.get("aws_s3_account_public_access_block", []))

    for bucket in by_type.get("aws_s3_bucket", []):
        name = bucket.labels[1]
        blocks = [b for b in by_type.get("aws_s3_bucket_public_access_block", []) if _refers_to(b, "aws_s3_bucket", name)]
        if account_block:
            tally.check("s3-public-access-block", True, "")
        elif not blocks:
            tally.check("s3-public-access-block", False,
                        f"{bucket.address} has no aws_s3_bucket_public_access_block referring to it", bucket.line)
        else:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if not _true(blocks[0].body.get(flag))]
            tally.check("s3-public-access-block", not off,
                        f"{blocks[0].address} leaves {', '.join(off)} off", blocks[0].line)
        inline = "server_side_encryption_configuration" in bucket.body
        separate = any(_refers_to(b, "aws_s3_bucket", name)
                       for b in by_type.get("aws_s3_bucket_server_side_encryption_configuration", []))
        tally.check("s3-encryption", inline or separate,
                    f"{bucket.address} has no server-side encryption configuration", bucket.line)

    for group in by_type.get("aws_security_group", []):
        for rule in _as_list(group.body.get("ingress", [])):
            if isinstance(rule, dict):
                cidrs = _as_list(rule.get("cidr_blocks", [])) + _as_list(rule.get("ipv6_cidr_blocks", []))
                _check_admin_ports(tally, group, rule, cidrs, "protocol")
    for rule_block in by_type.get("aws_security_group_rule", []):
        if str(rule_block.body.get("type", "")) == "ingress":
            cidrs = _as_list(rule_block.body.get("cidr_blocks", [])) + _as_list(rule_block.body.get("ipv6_cidr_blocks", []))
            _check_admin_ports(tally, rule_block, rule_block.body, cidrs, "protocol")
    for rule_block in by_type.get("aws_vpc_security_group_ingress_rule", []):
        cidrs = [rule_block.body.get("cidr_ipv4"), rule_block.body.get("cidr_ipv6")]
        _check_admin_ports(tally, rule_block, rule_block.body, cidrs, "ip_protocol")

    for db_type in ("aws_db_instance", "aws_rds_cluster"):
        for db in by_type.get(db_type, []):
            tally.check("rds-storage-encrypted", _true(db.body.get("storage_encrypted")),
                        f"{db.address} does not set storage_encrypted = true", db.line)

    for provider in parsed.of("provider"):
        if provider.labels[:1] == ("aws",):
            static = [key for key in ("access_key", "secret_key") if isinstance(provider.body.get(key), str)
                      and "${" not in provider.body[key]]
            tally.check("no-static-credentials", not static,
                        f"{provider.address} has {' and '.join(static)} written in the code; use the environment,"
                        " a profile or a role", provider.outline.line_of(static[0]) if static else provider.line)
    return tally.verdict()


def _check_admin_ports(tally: _Tally, block: TerraformBlock, rule: dict, cidrs: list, protocol_key: str) -> None:
    world = _open_to_world(_as_list(cidrs))
    exposed = [f"{label} ({port})" for port, label in ADMIN_PORTS.items() if world and _port_covers(rule, port, protocol_key)]
    tally.check("no-open-admin-ports", not exposed,
                f"{block.address} opens {' and '.join(exposed)} to the whole internet", block.line)


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _image_tag_ok(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def check_kubernetes_practices(parsed: ParsedKubernetes) -> Verdict:
    tally = _Tally()
    for doc in parsed.objects:
        path = POD_SPEC_PATHS.get(doc.kind)
        pod = _get(doc.value, path) if path else None
        if not isinstance(pod, dict):
            continue
        containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
        pod_non_root = _true(_get(pod, ("securityContext", "runAsNonRoot")))
        all_non_root = pod_non_root or (containers and all(
            _true(_get(c, ("securityContext", "runAsNonRoot"))) for c in containers))
        tally.check("run-as-non-root", bool(all_non_root),
                    f"{doc.label} does not set securityContext.runAsNonRoot: true", doc.line)
        for container in containers:
            who = f"{doc.label}, container {container.get('name', '?')}"
            limits = _get(container, ("resources", "limits"))
            missing = [r for r in ("cpu", "memory") if not (isinstance(limits, dict) and limits.get(r))]
            tally.check("resource-limits", not missing, f"{who} has no {' and '.join(missing)} limit", doc.line)
            if doc.kind not in RUN_TO_COMPLETION:
                probes = [p for p in ("livenessProbe", "readinessProbe") if p not in container]
                tally.check("probes", not probes, f"{who} has no {' or '.join(probes)}", doc.line)
            image = container.get("image")
            if isinstance(image, str):
                tally.check("image-tag", _image_tag_ok(image),
                            f'{who} uses image "{image}" without a pinned tag (that means latest)', doc.line)
    return tally.verdict()
