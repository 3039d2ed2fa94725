"""Best-practice rules: each one fires on the bad pattern, stays quiet on the good one, and never touches ok."""

import pytest

from studio.iac import validate

SAFE_BUCKET = '''resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}
'''

SAFE_POD = '''apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: ghcr.io/acme/web:1.4.2
          resources:
            limits: {cpu: 500m, memory: 256Mi}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
'''


def rules_failed(code: str, kind: str) -> list[str]:
    report = validate(code, kind)
    assert report.ok, report.reasons()
    return sorted({r.message.split("]")[0].lstrip("[") for r in report.best_practice.reasons if r.severity == "warning"})


def test_safe_code_passes_every_rule():
    assert rules_failed(SAFE_BUCKET, "terraform") == []
    assert rules_failed(SAFE_POD, "kubernetes") == []
    assert validate(SAFE_POD, "kubernetes").best_practice.score == 1.0


def test_s3_rules():
    bare = 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n'
    assert rules_failed(bare, "terraform") == ["s3-encryption", "s3-public-access-block"]
    half_open = SAFE_BUCKET.replace("restrict_public_buckets = true", "restrict_public_buckets = false")
    report = validate(half_open, "terraform")
    (reason,) = report.best_practice.reasons
    assert "leaves restrict_public_buckets off" in reason.message and reason.line == 5
    inline = 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n  server_side_encryption_configuration {\n' \
             '    rule {\n      apply_server_side_encryption_by_default {\n        sse_algorithm = "AES256"\n' \
             '      }\n    }\n  }\n}\nresource "aws_s3_account_public_access_block" "all" {\n' \
             '  block_public_acls = true\n  block_public_policy = true\n  ignore_public_acls = true\n' \
             '  restrict_public_buckets = true\n}\n'
    assert rules_failed(inline, "terraform") == []


@pytest.mark.parametrize("code, opens", [
    ('resource "aws_security_group" "s" {\n  ingress {\n    from_port = 22\n    to_port = 22\n    protocol = "tcp"\n'
     '    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n', True),
    ('resource "aws_security_group" "s" {\n  ingress {\n    from_port = 0\n    to_port = 0\n    protocol = "-1"\n'
     '    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n', True),
    ('resource "aws_security_group" "s" {\n  ingress {\n    from_port = 22\n    to_port = 22\n    protocol = "tcp"\n'
     '    cidr_blocks = ["10.0.0.0/8"]\n  }\n}\n', False),
    ('resource "aws_security_group" "s" {\n  ingress {\n    from_port = 443\n    to_port = 443\n    protocol = "tcp"\n'
     '    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n', False),
    ('resource "aws_vpc_security_group_ingress_rule" "r" {\n  security_group_id = "sg-1"\n  cidr_ipv4 = "0.0.0.0/0"\n'
     '  from_port = 3389\n  to_port = 3389\n  ip_protocol = "tcp"\n}\n', True),
    ('resource "aws_security_group_rule" "r" {\n  type = "ingress"\n  security_group_id = "sg-1"\n'
     '  ipv6_cidr_blocks = ["::/0"]\n  from_port = 0\n  to_port = 65535\n  protocol = "tcp"\n}\n', True),
])
def test_no_ssh_or_rdp_from_anywhere(code, opens):
    assert ("no-open-admin-ports" in rules_failed(code, "terraform")) is opens


def test_rds_encryption_and_static_credentials():
    db = 'resource "aws_db_instance" "d" {\n  instance_class = "db.t4g.micro"\n  engine = "postgres"\n}\n'
    assert rules_failed(db, "terraform") == ["rds-storage-encrypted"]
    keys = 'provider "aws" {\n  region = "eu-west-1"\n  access_key = "AKIAEXAMPLE"\n  secret_key = "secret"\n}\n'
    report = validate(keys, "terraform")
    (reason,) = report.best_practice.reasons
    assert "access_key and secret_key written in the code" in reason.message and reason.line == 3
    from_vars = keys.replace('"AKIAEXAMPLE"', "var.key").replace('"secret"', "var.secret")
    assert rules_failed(from_vars, "terraform") == []


@pytest.mark.parametrize("change, rule", [
    (("runAsNonRoot: true", "runAsNonRoot: false"), "run-as-non-root"),
    (("limits: {cpu: 500m, memory: 256Mi}", "limits: {cpu: 500m}"), "resource-limits"),
    (("          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n", ""), "probes"),
    (("web:1.4.2", "web:latest"), "image-tag"),
    (("ghcr.io/acme/web:1.4.2", "nginx"), "image-tag"),
    (("ghcr.io/acme/web:1.4.2", "localhost:5000/web"), "image-tag"),
])
def test_kubernetes_rules(change, rule):
    assert rules_failed(SAFE_POD.replace(*change), "kubernetes") == [rule]


def test_digest_pinned_image_and_jobs_without_probes_pass():
    pinned = SAFE_POD.replace("ghcr.io/acme/web:1.4.2", "ghcr.io/acme/web@sha256:" + "a" * 64)
    assert rules_failed(pinned, "kubernetes") == []
    job = ('apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n'
           '      restartPolicy: Never\n      securityContext: {runAsNonRoot: true}\n      containers:\n'
           '        - name: j\n          image: busybox:1.36\n          resources:\n'
           '            limits: {cpu: 100m, memory: 64Mi}\n')
    assert rules_failed(job, "kubernetes") == []


def test_best_practice_is_kept_apart_from_ok_and_scored_by_share():
    report = validate('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n', "terraform")
    assert report.ok
    assert report.best_practice.status == "failed"
    assert report.best_practice.score == 0.0
    nothing_applies = validate('resource "aws_sns_topic" "t" {\n  name = "t"\n}\n', "terraform")
    assert nothing_applies.best_practice.passed and nothing_applies.best_practice.score == 1.0


def test_best_practice_can_be_turned_off():
    report = validate(SAFE_BUCKET, "terraform", best_practice=False)
    assert report.best_practice.status == "skipped"
