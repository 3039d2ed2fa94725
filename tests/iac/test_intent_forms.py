"""Equivalent forms the intent check reads as the same request (issue 12): references followed, count against
repeated blocks, API defaults, pod- or container-level settings, `*` names, alternatives, partial credit."""

import pytest

from studio.iac.intent import check_intent, unstated_literals
from studio.iac.kubernetes import parse_kubernetes
from studio.iac.terraform import parse_terraform

TRUST_LAMBDA = {"require": [{"resource": "aws_iam_role",
                             "where": {"assume_role_policy": {"contains": "lambda.amazonaws.com"}}}]}


def passes(code: str, intent: dict, kubernetes: bool = False) -> bool:
    parsed = parse_kubernetes(code) if kubernetes else parse_terraform(code)
    return check_intent(intent, parsed).passed


def test_a_policy_document_data_source_is_read_as_the_policy_it_renders():
    code = '''data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fn" {
  name               = "fn"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}
'''
    assert passes(code, TRUST_LAMBDA)
    assert not passes(code.replace("lambda.amazonaws.com", "ec2.amazonaws.com"), TRUST_LAMBDA)
    through_local = code.replace("data.aws_iam_policy_document.trust.json", "local.trust") + \
        'locals {\n  trust = data.aws_iam_policy_document.trust.json\n}\n'
    assert passes(through_local, TRUST_LAMBDA)


def test_jsonencode_of_a_local_is_followed():
    code = '''locals {
  trust = {
    Version   = "2012-10-17"
    Statement = [{ Action = "sts:AssumeRole", Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" } }]
  }
}

resource "aws_iam_role" "fn" {
  name               = "fn"
  assume_role_policy = jsonencode(local.trust)
}
'''
    assert passes(code, TRUST_LAMBDA)


def test_count_is_met_by_repeated_blocks_and_by_for_each():
    intent = {"require": [{"resource": "aws_rds_cluster_instance", "where": {"count": {"gte": 2}}}]}
    block = 'resource "aws_rds_cluster_instance" "{name}" {{\n  cluster_identifier = "c"\n  instance_class = "db.r6g.large"\n  engine = "aurora-postgresql"\n}}\n'
    assert not passes(block.format(name="writer"), intent)
    assert passes(block.format(name="writer") + block.format(name="reader"), intent)
    counted = block.format(name="db").replace('cluster_identifier = "c"', 'count = 2\n  cluster_identifier = "c"')
    assert passes(counted, intent)
    from_var = counted.replace("count = 2", "count = var.instances") + \
        'variable "instances" {\n  type    = number\n  default = 2\n}\n'
    assert passes(from_var, intent)
    each = block.format(name="db").replace('cluster_identifier = "c"',
                                           'for_each = toset(["writer", "reader"])\n  cluster_identifier = "c"')
    assert passes(each, intent)
    exactly_two_outputs = {"require": [{"output": "*", "count": 2}]}
    assert not passes('output "a" {\n  value = 1\n}\n', exactly_two_outputs)


def test_arguments_left_at_their_default():
    alb = {"require": [{"resource": "aws_lb", "where": {"load_balancer_type": "application", "internal": False}}]}
    code = 'resource "aws_lb" "web" {\n  name = "web"\n  subnets = ["subnet-1", "subnet-2"]\n}\n'
    assert passes(code, alb)
    assert not passes(code.replace('name = "web"', 'name = "web"\n  load_balancer_type = "network"'), alb)
    # `exists` asks about the code itself: a default does not make an argument present
    assert not passes(code, {"require": [{"resource": "aws_lb", "where": {"load_balancer_type": {"exists": True}}}]})


DEPLOYMENT = '''apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: web
          image: nginx:1.27
          volumeMounts: [{name: conf, mountPath: /etc/web}]
      volumes:
        - name: conf
          configMap:
            name: web
            items: [{key: run, path: run.sh, mode: 493}]
'''


def test_kubernetes_defaults_and_equivalent_placements():
    strategy = {"require": [{"kind": "Deployment", "where": {"spec.strategy.type": "RollingUpdate",
                                                             "spec.replicas": 1}}]}
    assert passes(DEPLOYMENT, strategy, kubernetes=True)
    container_level = {"require": [{"kind": "Deployment", "where": {
        "spec.template.spec.containers.securityContext.runAsNonRoot": True}}]}
    assert passes(DEPLOYMENT, container_level, kubernetes=True)
    assert not passes(DEPLOYMENT.replace("runAsNonRoot: true", "runAsUser: 0"), container_level, kubernetes=True)
    default_mode = {"require": [{"kind": "Deployment", "where": {
        "spec.template.spec.volumes.configMap.defaultMode": 493}}]}
    assert passes(DEPLOYMENT, default_mode, kubernetes=True)
    assert not passes(DEPLOYMENT.replace("mode: 493", "mode: 420"), default_mode, kubernetes=True)


def test_any_of_and_star_names():
    pdb = '''apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: license}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: license}}
'''
    either = {"require": [{"kind": "PodDisruptionBudget", "name": "*",
                           "any_of": [{"spec.minAvailable": 1}, {"spec.maxUnavailable": 1}]}]}
    assert passes(pdb, either, kubernetes=True)
    assert not passes(pdb.replace("maxUnavailable: 1", "maxUnavailable: 2"), either, kubernetes=True)


def test_partial_credit_orders_near_misses_above_unrelated_code():
    intent = {"require": [{"kind": "Deployment", "where": {"spec.replicas": {"gte": 3}}}]}
    near = check_intent(intent, parse_kubernetes(DEPLOYMENT)).score
    unrelated = check_intent(intent, parse_kubernetes("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")).score
    assert near == pytest.approx(0.25) and unrelated == 0.0


def test_lint_names_literals_the_request_does_not_state():
    spec = {"require": [{"kind": "PersistentVolumeClaim", "name": "crm-dumps",
                         "where": {"spec.resources.requests.storage": "25Gi"}},
                        {"kind": "Deployment", "where": {"spec.replicas": 4}}]}
    assert unstated_literals(spec, "PVC of 25Gi plus a Job that pg_dumps the crm database, 4 replicas") == [
        'require[1]: the name "crm-dumps" is not in the request (leave name out or use "*")']
    assert unstated_literals(spec, "PVC crm-dumps of 30Gi, four replicas") == [
        'require[1]: spec.resources.requests.storage = "25Gi" is not in the request']
    assert unstated_literals({"require": [{"resource": "aws_lambda_function", "where": {"memory_size": 2048,
                                                                                         "timeout": 120}}]},
                             "2 GB of memory and a 2 minute timeout") == []
