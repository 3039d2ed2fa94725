"""Intent specs (studio/iac/INTENT.md) checked on real parses of Terraform and Kubernetes."""

import json

import pytest

from studio.iac import IntentError, load_intent, validate
from studio.iac.intent import check_intent, parse_path, resolve
from studio.iac.kubernetes import parse_kubernetes
from studio.iac.terraform import parse_terraform

VERSIONING = {"require": [
    {"resource": "aws_s3_bucket"},
    {"resource": "aws_s3_bucket_versioning", "where": {"versioning_configuration.status": "Enabled"},
     "refers_to": "aws_s3_bucket"},
]}
REPLICAS_AND_PORT = {"require": [{"kind": "Deployment", "where": {
    "spec.replicas": {"gte": 3}, "spec.template.spec.containers.ports.containerPort": 8080}}]}
LOAD_BALANCER = {"require": [{"kind": "Service", "where": {"spec.type": "LoadBalancer", "spec.selector.app": "web"}}]}


def terraform_intent(code: str, intent) -> list[str]:
    verdict = check_intent(intent, parse_terraform(code))
    return [r.message for r in verdict.reasons if r.severity == "error"]


def kubernetes_intent(code: str, intent) -> list[str]:
    verdict = check_intent(intent, parse_kubernetes(code))
    return [r.message for r in verdict.reasons if r.severity == "error"]


# -- the three examples of the issue -----------------------------------------------------------------------


def test_versioning_enabled_referring_to_the_bucket(provider5_s3):
    assert terraform_intent(provider5_s3, VERSIONING) == []
    suspended = provider5_s3.replace('"Enabled"', '"Suspended"')
    assert terraform_intent(suspended, VERSIONING) == [
        'intent: needs resource aws_s3_bucket_versioning with versioning_configuration.status = "Enabled" '
        'referring to aws_s3_bucket; aws_s3_bucket_versioning.logs has versioning_configuration.status = '
        '"Suspended"']


def test_refers_to_needs_a_block_declared_in_the_same_code(provider5_s3):
    literal = provider5_s3.replace("bucket = aws_s3_bucket.logs.id", 'bucket = "acme-logs"')
    assert terraform_intent(literal, VERSIONING) == [
        'intent: needs resource aws_s3_bucket_versioning with versioning_configuration.status = "Enabled" '
        'referring to aws_s3_bucket; aws_s3_bucket_versioning.logs refers to no aws_s3_bucket declared in the '
        'same code']
    undeclared = provider5_s3.replace("aws_s3_bucket.logs.id", "aws_s3_bucket.other.id")
    assert len(terraform_intent(undeclared, VERSIONING)) == 1


def test_deployment_with_three_replicas_and_port_8080(deployment):
    assert kubernetes_intent(deployment, REPLICAS_AND_PORT) == []
    one = deployment.replace("replicas: 3", "replicas: 1")
    assert kubernetes_intent(one, REPLICAS_AND_PORT) == [
        "intent: needs a Deployment with spec.replicas >= 3 and spec.template.spec.containers.ports.containerPort "
        "= 8080; Deployment web has spec.replicas = 1"]
    port = deployment.replace("containerPort: 8080", "containerPort: 80")
    assert "has spec.template.spec.containers.ports.containerPort = 80" in kubernetes_intent(port, REPLICAS_AND_PORT)[0]


def test_service_of_type_load_balancer_selecting_app_web(deployment):
    assert kubernetes_intent(deployment, LOAD_BALANCER) == []
    cluster_ip = deployment.replace("type: LoadBalancer", "type: ClusterIP")
    assert kubernetes_intent(cluster_ip, LOAD_BALANCER) == [
        'intent: needs a Service with spec.type = "LoadBalancer" and spec.selector.app = "web"; '
        'Service web has spec.type = "ClusterIP"']


def test_security_group_example_of_the_format(provider6_ingress):
    intent = {"require": [{"resource": "aws_vpc_security_group_ingress_rule",
                           "where": {"from_port": 443, "cidr_ipv4": "0.0.0.0/0"}, "refers_to": "aws_security_group"}],
              "forbid": [{"resource": "aws_vpc_security_group_ingress_rule",
                          "where": {"from_port": 22, "cidr_ipv4": "0.0.0.0/0"}}]}
    assert terraform_intent(provider6_ingress, intent) == []
    ssh = provider6_ingress.replace("from_port         = 443", "from_port         = 22")
    reasons = terraform_intent(ssh, intent)
    assert reasons[-1] == ('intent: forbids resource aws_vpc_security_group_ingress_rule with from_port = 22 and '
                           'cidr_ipv4 = "0.0.0.0/0"; aws_vpc_security_group_ingress_rule.https has it')


# -- clauses ----------------------------------------------------------------------------------------------


def test_missing_block_lists_what_is_there(provider5_s3):
    assert terraform_intent(provider5_s3, {"require": [{"resource": "aws_kms_key"}]}) == [
        "intent: needs resource aws_kms_key; there is none (found aws_s3_bucket.logs, aws_s3_bucket_versioning.logs)"]


def test_forbid_without_where(provider5_s3):
    assert terraform_intent(provider5_s3, {"forbid": [{"resource": "aws_s3_bucket", "where": {"acl": {"exists": True}}}]}) == []
    assert terraform_intent(provider5_s3, {"forbid": [{"resource": "aws_s3_bucket_versioning"}]}) == [
        "intent: forbids resource aws_s3_bucket_versioning; aws_s3_bucket_versioning.logs is declared"]


def test_count_exact_and_matcher():
    code = "".join(f'resource "aws_subnet" "s{i}" {{\n  vpc_id = "v"\n  cidr_block = "10.0.{i}.0/24"\n}}\n'
                   for i in range(2))
    assert terraform_intent(code, {"require": [{"resource": "aws_subnet", "count": 2}]}) == []
    assert terraform_intent(code, {"require": [{"resource": "aws_subnet", "count": {"gte": 3}}]}) == [
        "intent: needs at least 3 of resource aws_subnet; found 2: aws_subnet.s0, aws_subnet.s1"]
    assert terraform_intent(code, {"forbid": [{"resource": "aws_subnet", "count": {"gte": 3}}]}) == []


def test_name_data_module_variable_output_local_provider():
    code = '''provider "aws" {
  region = "eu-west-1"
}
variable "environment" {
  type = string
}
locals {
  common_tags = { Environment = var.environment, Team = "data" }
  replicas    = 3
}
data "aws_iam_policy_document" "read" {
  statement {
    actions = ["s3:GetObject"]
  }
}
module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
}
resource "aws_iam_policy" "read" {
  name   = "read"
  policy = data.aws_iam_policy_document.read.json
  tags   = local.common_tags
}
output "policy_arn" {
  value = aws_iam_policy.read.arn
}
'''
    intent = {"require": [
        {"provider": "aws", "where": {"region": "eu-west-1"}},
        {"variable": "environment", "where": {"type": {"exists": True}}},
        {"local": "common_tags", "where": {"Team": "data", "Environment": {"refers_to": "var"}}},
        {"local": "replicas", "where": {"value": {"gte": 3}}},
        {"data": "aws_iam_policy_document", "name": "read", "where": {"statement.actions": "s3:GetObject"}},
        {"module": "*", "where": {"source": {"contains": "vpc"}}},
        {"output": "*", "where": {"value": {"refers_to": "aws_iam_policy"}}},
        {"resource": "aws_iam_policy", "refers_to": ["data.aws_iam_policy_document", "local"]},
    ]}
    assert terraform_intent(code, intent) == []
    wrong = {"require": [{"data": "aws_iam_policy_document", "name": "write"},
                         {"resource": "aws_iam_policy", "refers_to": "module"}]}
    assert terraform_intent(code, wrong) == [
        'intent: needs data aws_iam_policy_document named "write"; data.aws_iam_policy_document.read is named "read"',
        "intent: needs resource aws_iam_policy referring to module; aws_iam_policy.read refers to no module declared "
        "in the same code"]


def test_meta_arguments_are_plain_paths():
    code = 'resource "aws_iam_user" "u" {\n  for_each = toset(["a", "b"])\n  name = each.key\n}\n'
    assert terraform_intent(code, {"require": [{"resource": "aws_iam_user", "where": {"for_each": {"exists": True}}}]}) == []


def test_kubernetes_selects_and_targets(deployment):
    hpa = ("---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n"
           "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 5\n")
    intent = {"require": [{"kind": "Service", "selects": "Deployment"},
                          {"kind": "HorizontalPodAutoscaler", "targets": "Deployment"}]}
    assert kubernetes_intent(deployment + hpa, intent) == []
    mismatched = (deployment + hpa).replace("  selector:\n    app: web", "  selector:\n    app: api")
    mismatched = mismatched.replace("name: web}", "name: api}")
    assert kubernetes_intent(mismatched, intent) == [
        'intent: needs a Service selecting a Deployment; Service web selects no Deployment in the manifest '
        '(selector {"app": "api"})',
        "intent: needs a HorizontalPodAutoscaler targeting a Deployment; HorizontalPodAutoscaler web targets no "
        "Deployment declared in the manifest"]


def test_rbac_and_ingress_targets():
    code = '''apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: read-pods
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
subjects:
  - kind: ServiceAccount
    name: reader
roleRef:
  kind: Role
  name: read-pods
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  defaultBackend:
    service:
      name: missing
      port: {number: 80}
'''
    intent = {"require": [{"kind": "RoleBinding", "targets": "Role"},
                          {"kind": "RoleBinding", "targets": "ServiceAccount"},
                          {"kind": "Ingress", "targets": "Service"}]}
    assert kubernetes_intent(code, intent) == [
        "intent: needs an Ingress targeting a Service; Ingress web targets no Service declared in the manifest"]


def test_kubernetes_name_api_version_and_bracketed_label_keys(deployment):
    labelled = deployment.replace("metadata:\n  name: web\nspec:\n  type", "metadata:\n  name: web\n  labels:\n"
                                  "    app.kubernetes.io/name: web\nspec:\n  type")
    intent = {"require": [{"kind": "Deployment", "apiVersion": "apps/v1", "name": "web"},
                          {"kind": "Service", "where": {"metadata.labels[app.kubernetes.io/name]": "web"}}]}
    assert kubernetes_intent(labelled, intent) == []
    assert kubernetes_intent(deployment, {"require": [{"kind": "Deployment", "apiVersion": "apps/v1beta1"}]}) == [
        'intent: needs a Deployment (apps/v1beta1); Deployment web has apiVersion "apps/v1"']


def test_a_clause_of_the_other_language_fails(deployment):
    assert kubernetes_intent(deployment, {"require": [{"resource": "aws_s3_bucket"}]})[0].startswith(
        "intent: needs resource aws_s3_bucket; there is none")


# -- matchers and paths -----------------------------------------------------------------------------------


SG = '''resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8", "192.168.0.0/16"]
  }
  tags = {
    Name = "web"
    Tier = "front"
  }
}
'''


@pytest.mark.parametrize("path, matcher, holds", [
    ("ingress.from_port", 80, True),
    ("ingress.from_port", "443", True),              # 443 == "443"
    ("ingress.from_port", 22, False),
    ("ingress.from_port", {"ne": 443}, True),        # some value differs
    ("ingress.from_port", {"gte": 443}, True),
    ("ingress.from_port", {"gt": 443}, False),
    ("ingress.from_port", {"lt": 81, "gte": 80}, True),
    ("ingress.from_port", {"lte": 79}, False),
    ("ingress.protocol", {"in": ["tcp", "udp"]}, True),
    ("ingress.protocol", {"in": ["udp"]}, False),
    ("ingress.cidr_blocks", {"contains": "0.0.0.0/0"}, True),
    ("ingress.cidr_blocks", "0.0.0.0/0", True),      # a scalar matcher tries each element of a list
    ("ingress.cidr_blocks", {"len_gte": 2}, True),
    ("ingress.cidr_blocks", {"len_gte": 3}, False),
    ("name", {"contains": "we"}, True),
    ("name", {"regex": "^w.b$"}, True),
    ("name", {"regex": "^api"}, False),
    ("tags.*", "front", True),
    ("tags", {"len_gte": 2}, True),
    ("description", {"exists": False}, True),
    ("description", {"exists": True}, False),
    ("ingress", {"exists": True, "len_gte": 2}, True),
])
def test_matchers(path, matcher, holds):
    intent = {"require": [{"resource": "aws_security_group", "where": {path: matcher}}]}
    assert (terraform_intent(SG, intent) == []) is holds


def test_equality_forgives_interpolation_and_booleans():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  force_destroy = "true"\n}\n' \
           'resource "aws_s3_bucket_versioning" "v" {\n  bucket = aws_s3_bucket.b.id\n' \
           '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n'
    intent = {"require": [{"resource": "aws_s3_bucket", "where": {"force_destroy": True}},
                          {"resource": "aws_s3_bucket_versioning", "where": {"bucket": "aws_s3_bucket.b.id"}},
                          {"resource": "aws_s3_bucket_versioning", "where": {"bucket": "${aws_s3_bucket.b.id}"}}]}
    assert terraform_intent(code, intent) == []
    assert terraform_intent(code, {"require": [{"resource": "aws_s3_bucket_versioning",
                                                "where": {"versioning_configuration.status": "enabled"}}]})


def test_paths():
    assert parse_path("metadata.labels[app.kubernetes.io/name]") == ["metadata", "labels", "app.kubernetes.io/name"]
    assert parse_path("tags.*") == ["tags", "*"]
    value = {"a": [{"b": 1}, {"b": 2}, {"c": 3}], "m": {"x": 1, "y": None}}
    assert resolve(value, ["a", "b"]) == [1, 2]
    assert resolve(value, ["m", "*"]) == [1, None]  # null is a value
    assert resolve(value, ["a", "*"]) == [{"b": 1}, {"b": 2}, {"c": 3}]  # * on a list: its elements
    assert resolve(value, ["a", "*", "b"]) == [1, 2]


def test_star_over_a_list_of_strings_and_null_defaults():
    code = ('resource "aws_cloudwatch_metric_alarm" "recover" {\n  alarm_name = "recover"\n'
            '  comparison_operator = "GreaterThanOrEqualToThreshold"\n  evaluation_periods = 2\n'
            '  alarm_actions = ["arn:aws:automate:${var.region}:ec2:recover"]\n}\n'
            'variable "region" {\n  type = string\n}\nvariable "kms_key_arn" {\n  type = string\n  default = null\n}\n')
    intent = {"require": [{"resource": "aws_cloudwatch_metric_alarm", "where": {"alarm_actions.*": {"regex": "ec2:recover"}}},
                          {"variable": "kms_key_arn", "where": {"default": {"exists": True}}},
                          {"variable": "region", "where": {"default": {"exists": False}}}]}
    assert terraform_intent(code, intent) == []
    assert terraform_intent(code, {"require": [{"variable": "kms_key_arn", "where": {"default": {"exists": False}}}]})


# -- the spec itself --------------------------------------------------------------------------------------


@pytest.mark.parametrize("intent, message", [
    ({"requires": []}, "unknown intent key"),
    ({"require": {"resource": "x"}}, "must be a list"),
    ({"require": [{"resource": "a", "data": "b"}]}, "exactly one of"),
    ({"require": [{"kind": "Pod", "resource": "a"}]}, "not both"),
    ({"require": [{"resource": "a", "wher": {}}]}, "unknown key"),
    ({"require": [{"kind": "Pod", "refers_to": "x"}]}, "unknown key"),
    ({"require": [{"resource": "a", "where": {"x": {"greater": 1}}}]}, "unknown matcher"),
    ({"require": [{"resource": "a", "where": {"x": {"gte": "many"}}}]}, "needs a number"),
    ({"require": [{"resource": "a", "where": {"x": [1, 2]}}]}, "for lists use"),
    ({"require": [{"resource": "a", "where": {"x": {"regex": "("}}}]}, "bad regex"),
    ({"require": [{"resource": "a", "count": "two"}]}, "count is a number"),
    ("{not json", "not valid JSON"),
    ([1], "JSON object"),
])
def test_malformed_specs_are_refused_with_the_clause_named(intent, message):
    with pytest.raises(IntentError, match=message):
        load_intent(intent)


def test_invalid_intent_skips_the_stage_and_the_report_is_not_ok(provider5_s3):
    report = validate(provider5_s3, "terraform", {"require": [{"resourse": "aws_s3_bucket"}]})
    assert report.intent.status == "skipped"
    assert "intent spec is invalid" in report.intent.reasons[0].message
    assert not report.ok


def test_json_string_and_empty_intents(provider5_s3):
    assert validate(provider5_s3, "terraform", json.dumps(VERSIONING)).intent.passed
    for empty in (None, "", {}, {"require": []}, "null"):
        verdict = validate(provider5_s3, "terraform", empty).intent
        assert verdict.passed and verdict.score == 1.0


def test_intent_score_is_the_share_of_clauses_met(provider5_s3):
    intent = {"require": [{"resource": "aws_s3_bucket"}, {"resource": "aws_kms_key"},
                          {"resource": "aws_s3_bucket_versioning"}, {"resource": "aws_sns_topic"}]}
    assert check_intent(intent, parse_terraform(provider5_s3)).score == pytest.approx(0.5)


def test_intent_is_skipped_when_the_code_does_not_parse():
    verdict = check_intent(VERSIONING, parse_terraform('resource "aws_s3_bucket" "b" {\n'))
    assert verdict.status == "skipped" and verdict.score == 0.0


def test_unparseable_code_earns_no_intent_credit_even_without_an_intent():
    report = validate('```hcl\nresource "aws_s3_bucket" "b" {\n```', "terraform")
    assert report.intent.status == "skipped" and report.intent.score == 0.0
