"""Terraform: real python-hcl2 parsing and the real AWS provider schema, nothing mocked."""

import pytest

from studio.iac import validate
from studio.iac.terraform import check_terraform_schema, parse_terraform, references_in


def schema_reasons(code: str) -> list[str]:
    parsed = parse_terraform(code)
    assert parsed.verdict.passed, parsed.verdict.reasons
    return [str(r) for r in check_terraform_schema(parsed).reasons]


# -- the seed's failure modes ----------------------------------------------------------------------------


def test_name_instead_of_bucket_names_the_resource_the_argument_and_the_fix():
    code = 'resource "aws_s3_bucket" "logs" {\n  name = "my-logs"\n}\n'
    assert schema_reasons(code) == ['line 2: aws_s3_bucket.logs: unknown argument "name" (did you mean "bucket"?)']


def test_invented_double_colon_syntax_does_not_parse_and_says_where():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket     = "b"\n  versioning = aws_versioning::versioning()\n}\n'
    verdict = parse_terraform(code).verdict
    assert verdict.status == "failed"
    assert verdict.reasons[0].line == 3
    assert "::" in verdict.reasons[0].message and "aws_versioning::versioning()" in verdict.reasons[0].message


def test_invented_resource_type_is_unknown_with_the_real_one_suggested():
    code = 'resource "aws_s3_bucket_versioning_policy" "v" {\n  bucket = "b"\n}\n'
    reasons = schema_reasons(code)
    assert reasons == ['line 1: aws_s3_bucket_versioning_policy.v: unknown resource type '
                       '(did you mean "aws_s3_bucket_versioning"?)']


def test_unclosed_brace_points_at_the_block_that_never_closes():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  tags = {\n    a = "1"\n  }\n'
    verdict = parse_terraform(code).verdict
    assert verdict.status == "failed"
    assert verdict.reasons[0].line == 1
    assert "never closed" in verdict.reasons[0].message


def test_stray_closing_brace_is_located():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n}\n'
    verdict = parse_terraform(code).verdict
    assert verdict.reasons[0].line == 4
    assert "closes nothing" in verdict.reasons[0].message


def test_python_is_not_terraform():
    verdict = parse_terraform("import boto3\ns3 = boto3.client('s3')\n").verdict
    assert verdict.status == "failed"
    assert "Python" in verdict.reasons[0].message


def test_yaml_colons_get_a_hint():
    verdict = parse_terraform('resource "aws_s3_bucket" "b" {\n  bucket: "b"\n}\n').verdict
    assert verdict.status == "failed" and verdict.reasons[0].line == 2
    assert '"="' in verdict.reasons[0].message


# -- schema ---------------------------------------------------------------------------------------------


def test_provider5_idioms_pass(provider5_s3):
    report = validate(provider5_s3, "terraform")
    assert report.parses.passed and report.schema.passed, report.reasons()
    assert report.schema.score == 1.0


def test_provider6_idioms_pass(provider6_ingress):
    report = validate(provider6_ingress, "terraform")
    assert report.schema.passed, report.reasons()


@pytest.mark.parametrize("code", [
    # provider 5 only: EIP in a VPC, instance CPU arguments (both removed in 6.0)
    'resource "aws_eip" "ip" {\n  vpc = true\n}\n',
    'resource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n  cpu_core_count = 2\n}\n',
    # provider 6 only: a regional NAT gateway without subnet_id (required in 5.x, optional in 6.x)
    'resource "aws_nat_gateway" "n" {\n  allocation_id = "eipalloc-1"\n  region = "eu-west-1"\n}\n',
    # an inline versioning block on the bucket, the old idiom both releases still accept
    'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  versioning {\n    enabled = true\n  }\n}\n',
])
def test_union_of_both_generations_accepts_either(code):
    assert schema_reasons(code) == []


def test_missing_required_argument_and_block():
    reasons = schema_reasons('resource "aws_s3_bucket_versioning" "v" {\n}\n')
    assert 'line 1: aws_s3_bucket_versioning.v: missing required argument "bucket"' in reasons
    assert 'line 1: aws_s3_bucket_versioning.v: missing required block "versioning_configuration"' in reasons


def test_a_block_of_at_most_one_written_twice_is_refused():
    """Terraform: "Too many spot_options blocks" (the provider's MaxItems 1); blocks that may repeat may."""
    spot = '    spot_options {\n      max_price = "0.1"\n    }\n'
    code = ('resource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
            '  instance_market_options {\n' + spot + spot + '  }\n}\n')
    assert schema_reasons(code) == ['line 5: aws_instance.a: instance_market_options: too many "spot_options" '
                                    'blocks: at most one is allowed, 2 are written (Terraform: "Too many ... blocks")']
    rule = ('  condition {\n    path_pattern {\n      values = ["/a"]\n    }\n  }\n')
    rules = ('resource "aws_lb_listener_rule" "r" {\n  listener_arn = "arn"\n  action {\n    type = "forward"\n'
             '  }\n' + rule + rule + '}\n')
    assert schema_reasons(rules) == []


def test_a_resource_has_one_lifecycle_and_one_connection_block():
    """Terraform: "Duplicate connection block", "Duplicate lifecycle block"; provisioners may repeat."""
    connection = '  connection {\n    host = "10.0.0.1"\n  }\n'
    head = 'resource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
    assert schema_reasons(head + connection + connection + "}\n") == [
        'line 4: aws_instance.a: duplicate connection block: a resource has at most one (Terraform: "Duplicate '
        'connection block")']
    lifecycle = "  lifecycle {\n    prevent_destroy = true\n  }\n"
    assert len(schema_reasons(head + lifecycle + lifecycle + "}\n")) == 1
    provisioner = '  provisioner "local-exec" {\n    command = "echo hi"\n  }\n'
    assert schema_reasons(head + connection + lifecycle + provisioner + provisioner + "}\n") == []


def test_a_dynamic_block_has_one_content_block():
    """Terraform: "Extraneous dynamic content block"."""
    content = '    content {\n      from_port = 443\n      to_port = 443\n      protocol = "tcp"\n    }\n'
    dynamic = '  dynamic "ingress" {\n    for_each = [1]\n' + content
    code = 'resource "aws_security_group" "web" {\n  name = "web"\n' + dynamic + "MORE  }\n}\n"
    assert schema_reasons(code.replace("MORE", "")) == []
    assert schema_reasons(code.replace("MORE", content)) == [
        'line 3: aws_security_group.web: dynamic "ingress" has 2 content blocks; only one is allowed (it is the body '
        "of every block it writes)"]


def test_provisioners_and_connection_follow_terraforms_own_schemas():
    """Terraform has three provisioners (`local-exec`, `remote-exec`, `file`); `connection` needs its `host`."""
    head = 'resource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
    assert schema_reasons(head + '  provisioner "AWS" {\n    enable = true\n  }\n}\n') == [
        'line 4: aws_instance.a: unknown provisioner "AWS" (Terraform has "local-exec", "remote-exec", "file")']
    assert schema_reasons(head + '  provisioner "local-exec" {\n    cmd = "echo hi"\n  }\n}\n') == [
        'line 5: aws_instance.a: provisioner "local-exec": unknown argument "cmd"',
        'line 4: aws_instance.a: provisioner "local-exec": missing required argument "command"']
    assert schema_reasons(head + '  connection {\n    domain = "x"\n  }\n}\n') == [
        'line 5: aws_instance.a: connection: unknown argument "domain"',
        'line 4: aws_instance.a: connection: missing required argument "host"']
    good = ('  connection {\n    host = self.public_ip\n  }\n  provisioner "file" {\n    source = "a"\n'
            '    destination = "/b"\n    connection {\n      host = "h"\n    }\n  }\n'
            '  provisioner "local-exec" {\n    command = "echo hi"\n    when = destroy\n  }\n')
    assert schema_reasons(head + good + "}\n") == []


def test_nested_block_argument_is_checked_with_a_suggestion():
    code = ('resource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n  versioning_configuration {\n'
            '    state = "Enabled"\n  }\n}\n')
    reasons = schema_reasons(code)
    assert 'line 4: aws_s3_bucket_versioning.v: versioning_configuration: unknown argument "state" ' \
           '(did you mean "status"?)' in reasons
    assert 'line 3: aws_s3_bucket_versioning.v: versioning_configuration: missing required argument "status"' \
           in reasons


def test_block_written_as_an_argument():
    code = ('resource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n  versioning_configuration = {\n'
            '    status = "Enabled"\n  }\n}\n')
    (reason,) = schema_reasons(code)
    assert "is a block, not an argument" in reason and reason.startswith("line 3:")


def test_argument_written_as_a_block():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  tags {\n    Name = "b"\n  }\n}\n'
    (reason,) = schema_reasons(code)
    assert '"tags" is an argument, not a block' in reason


def test_security_group_ingress_accepts_block_and_attribute_syntax():
    block = 'resource "aws_security_group" "s" {\n  ingress {\n    from_port = 443\n    to_port = 443\n' \
            '    protocol = "tcp"\n  }\n}\n'
    attribute = 'resource "aws_security_group" "s" {\n  ingress = [{\n    from_port = 443\n    to_port = 443\n' \
                '    protocol = "tcp"\n    cidr_blocks = []\n    description = ""\n    ipv6_cidr_blocks = []\n' \
                '    prefix_list_ids = []\n    security_groups = []\n    self = false\n  }]\n}\n'
    assert schema_reasons(block) == []
    assert schema_reasons(attribute) == []


def test_meta_arguments_are_valid_on_any_resource():
    code = ('resource "aws_s3_bucket" "b" {\n  for_each = toset(["a", "b"])\n  bucket = each.key\n'
            '  depends_on = [aws_iam_role.r]\n  provider = aws.west\n  lifecycle {\n    prevent_destroy = true\n'
            '  }\n  provisioner "local-exec" {\n    command = "echo hi"\n  }\n}\n'
            'resource "aws_instance" "i" {\n  count = 2\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
            '  connection {\n    host = self.public_ip\n  }\n}\n')
    assert schema_reasons(code) == []


def test_dynamic_block_content_is_checked_against_the_named_block():
    good = ('resource "aws_security_group" "s" {\n  dynamic "ingress" {\n    for_each = var.ports\n    content {\n'
            '      from_port = ingress.value\n      to_port = ingress.value\n      protocol = "tcp"\n    }\n  }\n}\n')
    assert schema_reasons(good) == []
    bad_content = good.replace("protocol", "protcol")
    assert schema_reasons(bad_content) == [
        'line 7: aws_security_group.s: ingress: unknown argument "protcol" (did you mean "protocol"?)']
    bad_name = good.replace('dynamic "ingress"', 'dynamic "ingres"')
    (reason,) = schema_reasons(bad_name)
    assert 'dynamic "ingres": no nested block "ingres" here (did you mean "ingress"?)' in reason


def test_dynamic_block_supplies_a_required_block():
    code = ('resource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n  dynamic "versioning_configuration" {\n'
            '    for_each = [1]\n    content {\n      status = "Enabled"\n    }\n  }\n}\n')
    assert schema_reasons(code) == []


def test_other_providers_are_not_checked_and_do_not_fail():
    code = ('resource "random_id" "suffix" {\n  byte_length = 4\n}\nresource "tls_private_key" "k" {\n'
            '  algorithm = "RSA"\n}\nresource "null_resource" "n" {}\nprovider "kubernetes" {}\n')
    parsed = parse_terraform(code)
    verdict = check_terraform_schema(parsed)
    assert verdict.passed
    assert all(r.severity == "note" and "not checked" in r.message for r in verdict.reasons)
    assert len(verdict.reasons) == 4


def test_every_core_top_level_block_is_valid():
    code = '''terraform {
  required_version = ">= 1.6"
}
provider "aws" {
  region = "eu-west-1"
  default_tags {
    tags = { Team = "platform" }
  }
}
variable "env" {
  type    = string
  default = "dev"
}
locals {
  name = "app-${var.env}"
}
module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
  cidr   = "10.0.0.0/16"
}
output "vpc_id" {
  value = module.vpc.vpc_id
}
moved {
  from = aws_s3_bucket.old
  to   = aws_s3_bucket.new
}
import {
  to = aws_s3_bucket.new
  id = "existing-bucket"
}
removed {
  from = aws_s3_bucket.gone
  lifecycle {
    destroy = false
  }
}
check "health" {
  assert {
    condition     = true
    error_message = "unreachable"
  }
}
resource "aws_s3_bucket" "new" {
  bucket = local.name
}
data "aws_caller_identity" "me" {}
'''
    assert schema_reasons(code) == []


def test_unknown_provider_argument_is_caught():
    (reason,) = schema_reasons('provider "aws" {\n  regoin = "eu-west-1"\n}\n')
    assert reason == 'line 2: provider.aws: unknown argument "regoin" (did you mean "region"?)'


def test_core_blocks_are_checked_too():
    reasons = schema_reasons('output "x" {\n  description = "no value"\n}\nvariable "v" {\n  typ = string\n}\n')
    assert 'line 1: output.x: missing required argument "value"' in reasons
    assert 'line 5: variable.v: unknown argument "typ" in a variable block' in reasons


def test_resource_without_keyword_or_without_name():
    assert schema_reasons('aws_s3_bucket "b" {\n  bucket = "b"\n}\n') == [
        'line 1: unknown top-level block "aws_s3_bucket" (did you mean resource "aws_s3_bucket" "b"?)']
    verdict = parse_terraform('resource "aws_s3_bucket" {\n  bucket = "b"\n}\n').verdict
    assert verdict.status == "failed" and "takes a type and a name" in verdict.reasons[0].message


def test_data_source_written_as_resource_and_back():
    assert "is a data source, not a resource" in schema_reasons('resource "aws_iam_policy_document" "p" {}\n')[0]
    assert "is a resource, not a data source" in schema_reasons('data "aws_s3_bucket_versioning" "v" {}\n')[0]


def test_duplicate_resource_address():
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\nresource "aws_s3_bucket" "b" {\n  bucket = "y"\n}\n'
    assert schema_reasons(code) == ["line 4: aws_s3_bucket.b is declared twice (first on line 1)"]


def test_schema_score_is_graded_by_errors_per_block():
    one_error = 'resource "aws_s3_bucket" "a" {\n  name = "a"\n}\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n'
    two_errors = 'resource "aws_s3_bucket" "a" {\n  name = "a"\n  colour = "red"\n}\n' \
                 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n'
    unknown = 'resource "aws_s3_magic" "a" {\n}\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n'
    scores = [check_terraform_schema(parse_terraform(c)).score for c in (one_error, two_errors, unknown)]
    assert scores == [pytest.approx(0.75), pytest.approx(2 / 3), pytest.approx(0.5)]


def test_parse_failure_gives_partial_credit_for_the_blocks_that_parse():
    good = 'resource "aws_s3_bucket" "a" {\n  bucket = "a"\n}\n'
    broken = 'resource "aws_s3_bucket" "b" {\n  bucket = aws::b()\n}\n'
    half = parse_terraform(good + broken).verdict
    half_again = parse_terraform(broken + good).verdict  # blocks after the error are parsed one by one
    none = parse_terraform(broken).verdict
    assert half.status == half_again.status == none.status == "failed"
    assert half.score == half_again.score == pytest.approx(0.25)
    assert parse_terraform(good + broken + good + good).verdict.score == pytest.approx(0.5 * 3 / 4)
    assert none.score == 0.0


def test_plain_values_without_quotes_or_block_markers():
    (block,) = parse_terraform('resource "aws_s3_bucket_versioning" "v" {\n  bucket = aws_s3_bucket.b.id\n'
                               '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n').blocks
    assert block.body == {"bucket": "${aws_s3_bucket.b.id}", "versioning_configuration": [{"status": "Enabled"}]}
    assert block.address == "aws_s3_bucket_versioning.v"


def test_references_in_expressions():
    refs = references_in({"a": "${aws_s3_bucket.logs.arn}/*", "b": ["${data.aws_iam_policy_document.p.json}"],
                          "c": "${module.vpc.id}-${local.name}", "d": "plain.text.value"})
    assert refs == {("aws_s3_bucket", "logs"), ("data.aws_iam_policy_document", "p"), ("module", "vpc"),
                    ("local", "name")}


def test_comments_and_heredocs_parse():
    code = ('# a comment\n// another\n/* block\ncomment */\nresource "aws_iam_policy" "p" {\n  name = "p"\n'
            '  policy = <<-EOT\n    {"Version": "2012-10-17", "Statement": []}\n  EOT\n}\n')
    assert schema_reasons(code) == []


def test_name_on_a_resource_without_one_suggests_the_name_tag():
    code = 'resource "aws_instance" "web" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n  name = "web"\n}\n'
    assert schema_reasons(code) == [
        'line 4: aws_instance.web: unknown argument "name" (did you mean tags = { Name = ... }?)']


def test_parsing_in_several_threads_keeps_plain_strings():
    """python-hcl2 shares one serialization context between calls: threads must not see each other's flags."""
    import sys
    import threading

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, as a busy server does (without the lock: '"HTTP"')
    code = "".join(f'resource "aws_apigatewayv2_api" "a{i}" {{\n  protocol_type = "HTTP"\n'
                   f'  description   = "${{var.x}}-{i}"\n}}\n' for i in range(30))
    seen = []

    def parse_many():
        for _ in range(10):
            seen.extend(block.body["protocol_type"] for block in parse_terraform(code).blocks)

    threads = [threading.Thread(target=parse_many) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert set(seen) == {"HTTP"}


def test_an_argument_named_dynamic_is_an_unknown_argument_not_a_crash():
    """A guided answer of the cpu recipe's model (eighth session) wrote `dynamic = ...` inside a dynamic block's
    content: the checker took the argument for the list of dynamic blocks and failed on it."""
    code = ('resource "aws_security_group" "web" {\n  name = "web"\n  dynamic "ingress" {\n'
            '    for_each = [80]\n    content {\n      from_port = 80\n      to_port = 80\n      protocol = "tcp"\n'
            '      dynamic = true\n    }\n  }\n}\n')
    reasons = schema_reasons(code)
    assert any('unknown argument "dynamic"' in reason for reason in reasons), reasons
