"""Hand-written answers to eval rows, each one a reviewer would accept (faithful) or reject (unfaithful).

Each answer is the row's reference answer with edits applied: `(old, new)` pairs, where `old` must occur in the
reference exactly once, so an answer stays the one it was written as when the reference changes. The faithful
ones say the same thing another way (a policy document data source for an inline policy, two blocks for
`count = 2`, an argument left at its default, a pod-level securityContext, a renamed label or variable, blocks
in another order, `-js` for `--jetstream`); the unfaithful ones change what is asked (a wrong value, a missing
resource, a wrong kind, the request half done). Written for this project; none comes from a public benchmark.

Checked by tests/iac/test_equivalence.py, which prints the accept and reject rates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    row: str
    faithful: bool
    form: str
    edits: tuple[tuple[str, str], ...]


def F(row: str, form: str, *edits: tuple[str, str]) -> Variant:
    return Variant(row, True, form, edits)


def U(row: str, form: str, *edits: tuple[str, str]) -> Variant:
    return Variant(row, False, form, edits)


TRUST_DOCUMENT = '''data "aws_iam_policy_document" "{name}" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "Service"
      identifiers = ["{service}"]
    }}
  }}
}}

'''

VARIANTS = [
    # -- Terraform ---------------------------------------------------------------------------------------------
    F("tfc-0006", "two instance blocks instead of count = 2",
      ('''resource "aws_rds_cluster_instance" "catalog" {
  count              = 2
  identifier         = "catalog-${count.index}"''', '''resource "aws_rds_cluster_instance" "writer" {
  identifier         = "catalog-writer"
  cluster_identifier = aws_rds_cluster.catalog.id
  instance_class     = "db.r6g.large"
  engine             = aws_rds_cluster.catalog.engine
  engine_version     = aws_rds_cluster.catalog.engine_version
}

resource "aws_rds_cluster_instance" "reader" {
  identifier         = "catalog-reader"''')),
    F("tfc-0006", "for_each over a set of two",
      ('count              = 2\n  identifier         = "catalog-${count.index}"',
       'for_each           = toset(["writer", "reader"])\n  identifier         = "catalog-${each.key}"')),
    U("tfc-0006", "half done: one instance only",
      ('count              = 2\n  identifier         = "catalog-${count.index}"', 'identifier         = "catalog-1"')),
    U("tfc-0006", "not encrypted", ("storage_encrypted           = true", "storage_encrypted           = false")),
    U("tfc-0006", "7-day backups", ("backup_retention_period     = 14", "backup_retention_period     = 7")),

    F("tfc-0075", "trust policy as an aws_iam_policy_document",
      ('resource "aws_iam_role" "apigateway_cloudwatch" {',
       TRUST_DOCUMENT.format(name="apigw_trust", service="apigateway.amazonaws.com")
       + 'resource "aws_iam_role" "apigateway_cloudwatch" {'),
      ('''  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })''', "  assume_role_policy = data.aws_iam_policy_document.apigw_trust.json")),
    U("tfc-0075", "the role trusts Lambda, not API Gateway",
      ('Principal = { Service = "apigateway.amazonaws.com" }', 'Principal = { Service = "lambda.amazonaws.com" }')),
    U("tfc-0075", "half done: no aws_api_gateway_account",
      ('''resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch.arn
}''', "")),

    F("tfc-0081", "the same 5% as a ratio: errors / invocations > 0.05",
      ("threshold           = 5", "threshold           = 0.05"),
      ('expression  = "100 * errors / MAX([errors, invocations])"', 'expression  = "errors / invocations"'),
      ('label       = "Error rate (%)"', 'label       = "Error ratio"')),
    U("tfc-0081", "a 50% threshold", ("threshold           = 5", "threshold           = 50")),
    U("tfc-0081", "one period instead of three", ("evaluation_periods  = 3", "evaluation_periods  = 1")),

    F("tfc-0115", "trust policy as an aws_iam_policy_document",
      ('resource "aws_iam_role" "eks_cluster" {',
       TRUST_DOCUMENT.format(name="eks_trust", service="eks.amazonaws.com") + 'resource "aws_iam_role" "eks_cluster" {'),
      ('''  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })''', "  assume_role_policy = data.aws_iam_policy_document.eks_trust.json")),
    F("tfc-0115", "labels and the role's name renamed",
      ('resource "aws_iam_role" "eks_cluster" {\n  name = "platform-eks-cluster"',
       'resource "aws_iam_role" "cluster" {\n  name = "eks-platform-control-plane"'),
      ('resource "aws_iam_role_policy_attachment" "eks_cluster" {\n  role       = aws_iam_role.eks_cluster.name',
       'resource "aws_iam_role_policy_attachment" "cluster_policy" {\n  role       = aws_iam_role.cluster.name'),
      ("role_arn = aws_iam_role.eks_cluster.arn", "role_arn = aws_iam_role.cluster.arn"),
      ("depends_on = [aws_iam_role_policy_attachment.eks_cluster]",
       "depends_on = [aws_iam_role_policy_attachment.cluster_policy]")),
    U("tfc-0115", "Kubernetes 1.30", ('version  = "1.31"', 'version  = "1.30"')),
    U("tfc-0115", "no policy attached",
      ('''resource "aws_iam_role_policy_attachment" "eks_cluster" {
  role       = aws_iam_role.eks_cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}''', ""), ("\n\n  # The policy must be attached before EKS uses the role, and detached after the cluster is gone.\n"
              "  depends_on = [aws_iam_role_policy_attachment.eks_cluster]", "")),

    F("tfb-0096", "load_balancer_type left at its default (application)",
      ('  load_balancer_type = "application"\n', "")),
    U("tfb-0096", "a network load balancer", ('load_balancer_type = "application"', 'load_balancer_type = "network"')),
    U("tfb-0096", "instance targets (the default) for Fargate", ('  target_type = "ip"\n', "")),

    F("tfc-0024", "output and table renamed",
      ('resource "aws_dynamodb_table" "inventory" {', 'resource "aws_dynamodb_table" "stock" {'),
      ('output "inventory_stream_arn" {\n  value = aws_dynamodb_table.inventory.stream_arn',
       'output "stream_arn" {\n  value = aws_dynamodb_table.stock.stream_arn')),
    U("tfc-0024", "keys only in the stream", ('stream_view_type = "NEW_AND_OLD_IMAGES"', 'stream_view_type = "KEYS_ONLY"')),
    U("tfc-0024", "half done: no output", ('output "inventory_stream_arn" {\n  value = aws_dynamodb_table.inventory.stream_arn\n}',
                                          "")),

    F("tfc-0034", "the map variable named otherwise",
      ('variable "tenants" {', 'variable "tenant_settings" {'), ("for_each     = var.tenants", "for_each     = var.tenant_settings")),
    U("tfc-0034", "one table, not one per tenant",
      ("  for_each     = var.tenants\n", ""), ('name         = "tenant-${each.key}-data"', 'name         = "tenant-data"'),
      ("enabled = each.value.pitr", "enabled = true")),

    F("tfc-0041", "environment variables from a local",
      ('resource "aws_lambda_function" "invoice_mailer" {', '''locals {
  mailer_env = {
    SMTP_HOST    = "smtp.internal.acme-corp.net"
    FROM_ADDRESS = "billing@acme-corp.net"
    LOG_LEVEL    = "info"
  }
}

resource "aws_lambda_function" "invoice_mailer" {'''),
      ('''    variables = {
      SMTP_HOST    = "smtp.internal.acme-corp.net"
      FROM_ADDRESS = "billing@acme-corp.net"
      LOG_LEVEL    = "info"
    }''', "    variables = local.mailer_env")),
    U("tfc-0041", "50 concurrent executions",
      ("reserved_concurrent_executions = 5", "reserved_concurrent_executions = 50")),
    U("tfc-0041", "debug logging", ('LOG_LEVEL    = "info"', 'LOG_LEVEL    = "debug"')),

    F("tfc-0045", "statement id and label renamed",
      ('resource "aws_lambda_permission" "quotes_api_get" {\n  statement_id  = "AllowGetQuotes"',
       'resource "aws_lambda_permission" "apigw" {\n  statement_id  = "AllowAPIGatewayGetQuotes"')),
    U("tfc-0045", "any method instead of GET", ("a1b2c3d4e5/*/GET/quotes", "a1b2c3d4e5/*/*/quotes")),

    F("tfc-0082", "key policy as an aws_iam_policy_document",
      ('resource "aws_kms_key" "logs" {', '''data "aws_iam_policy_document" "logs_key" {
  statement {
    sid       = "AccountAdmin"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "logs" {'''),
      ('''  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdmin"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      }
    ]
  })''', "  policy              = data.aws_iam_policy_document.logs_key.json")),
    U("tfc-0082", "14-day retention", ("retention_in_days = 30", "retention_in_days = 14")),
    U("tfc-0082", "the log group is not encrypted", ("  kms_key_id        = aws_kms_key.logs.arn\n", "")),

    F("tfc-0107", "lifecycle policy as a heredoc",
      ('''  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 20 newest images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 20
      }
      action = { type = "expire" }
    }]
  })''', '''  policy = <<-EOT
    {
      "rules": [{
        "rulePriority": 1,
        "description": "Keep the 20 newest images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
        "action": {"type": "expire"}
      }]
    }
  EOT''')),
    U("tfc-0107", "mutable tags", ('image_tag_mutability = "IMMUTABLE"', 'image_tag_mutability = "MUTABLE"')),
    U("tfc-0107", "no scan on push", ("scan_on_push = true", "scan_on_push = false")),

    F("tfc-0136", "the map variable named otherwise",
      ('variable "queues" {', 'variable "queue_config" {'), ("for_each                   = var.queues",
                                                               "for_each                   = var.queue_config")),
    F("tfc-0148", "moved block first", ('''resource "aws_sqs_queue" "order_events" {
  name = "order-events"

  lifecycle {
    prevent_destroy = true
  }
}

moved {
  from = aws_sqs_queue.q
  to   = aws_sqs_queue.order_events
}''', '''moved {
  from = aws_sqs_queue.q
  to   = aws_sqs_queue.order_events
}

resource "aws_sqs_queue" "order_events" {
  name = "order-events"

  lifecycle {
    prevent_destroy = true
  }
}''')),
    U("tfc-0148", "destroys allowed", ("prevent_destroy = true", "prevent_destroy = false")),

    F("tfb-0022", "labels renamed and the subnet declared first",
      ('''resource "aws_vpc" "main" {
  cidr_block = "10.90.0.0/20"
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id''', '''resource "aws_subnet" "public_a" {
  vpc_id            = aws_vpc.this.id'''),
      ('availability_zone = "ca-central-1a"\n}', '''availability_zone = "ca-central-1a"
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_vpc" "this" {
  cidr_block = "10.90.0.0/20"
}''')),
    U("tfb-0022", "the subnet in zone b", ('availability_zone = "ca-central-1a"', 'availability_zone = "ca-central-1b"')),
    U("tfb-0022", "half done: no internet gateway",
      ('resource "aws_internet_gateway" "main" {\n  vpc_id = aws_vpc.main.id\n}', "")),

    F("tfb-0025", "egress written before ingress, no descriptions",
      ('''  ingress {
    description = "SSH from office"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["203.0.113.0/24"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }''', '''  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["203.0.113.0/24"]
  }''')),
    U("tfb-0025", "ssh from anywhere", ('cidr_blocks = ["203.0.113.0/24"]', 'cidr_blocks = ["0.0.0.0/0"]')),

    F("tfc-0007", "labels and identifiers renamed",
      ('resource "aws_rds_cluster" "events" {\n  cluster_identifier          = "events-serverless"',
       'resource "aws_rds_cluster" "this" {\n  cluster_identifier          = "events-aurora"'),
      ('resource "aws_rds_cluster_instance" "events" {\n  identifier         = "events-serverless-1"\n'
       '  cluster_identifier = aws_rds_cluster.events.id',
       'resource "aws_rds_cluster_instance" "this" {\n  identifier         = "events-aurora-1"\n'
       '  cluster_identifier = aws_rds_cluster.this.id'),
      ("engine             = aws_rds_cluster.events.engine\n  engine_version     = aws_rds_cluster.events.engine_version",
       "engine             = aws_rds_cluster.this.engine\n  engine_version     = aws_rds_cluster.this.engine_version")),
    U("tfc-0007", "PostgreSQL instead of MySQL", ('engine                      = "aurora-mysql"',
                                                  'engine                      = "aurora-postgresql"'),
      ('engine_version              = "8.0.mysql_aurora.3.05.2"', 'engine_version              = "16.4"')),
    U("tfc-0007", "scaling up to 16 ACUs", ("max_capacity = 8", "max_capacity = 16")),

    F("tfc-0009", "key rotation from a variable whose default is on",
      ("enable_key_rotation     = true", "enable_key_rotation     = var.rotate_key"),
      ('resource "aws_kms_key" "claims_db" {', 'variable "rotate_key" {\n  type    = bool\n  default = true\n}\n\n'
                                               'resource "aws_kms_key" "claims_db" {')),
    U("tfc-0009", "no Performance Insights",
      ("performance_insights_enabled    = true", "performance_insights_enabled    = false"),
      ("  performance_insights_kms_key_id = aws_kms_key.claims_db.arn\n", "")),
    U("tfc-0009", "the AWS-managed key instead of our own", ("  kms_key_id                      = aws_kms_key.claims_db.arn\n", "")),

    F("tfc-0052", "memory and timeout from locals",
      ("memory_size   = 2048\n  timeout       = 120", "memory_size   = local.memory_mb\n  timeout       = local.timeout_s"),
      ('resource "aws_ecr_repository" "ocr" {', 'locals {\n  memory_mb = 2048\n  timeout_s = 120\n}\n\n'
                                                'resource "aws_ecr_repository" "ocr" {')),
    U("tfc-0052", "a one-minute timeout", ("timeout       = 120", "timeout       = 60")),
    U("tfc-0052", "512 MB of /tmp", ("  ephemeral_storage {\n    size = 2048", "  ephemeral_storage {\n    size = 512")),

    F("tfc-0061", "labels renamed",
      ('resource "aws_api_gateway_method_settings" "shop_prod_all" {', 'resource "aws_api_gateway_method_settings" "all" {'),
      ('resource "aws_cloudwatch_log_group" "shop_api_access" {', 'resource "aws_cloudwatch_log_group" "access" {'),
      ("destination_arn = aws_cloudwatch_log_group.shop_api_access.arn", "destination_arn = aws_cloudwatch_log_group.access.arn")),
    U("tfc-0061", "error-level logging", ('logging_level          = "INFO"', 'logging_level          = "ERROR"')),
    U("tfc-0061", "no X-Ray", ("xray_tracing_enabled = true", "xray_tracing_enabled = false")),

    F("tfb-0009", "outputs named otherwise",
      ('output "vpc_id" {', 'output "analytics_vpc_id" {'), ('output "private_subnet_ids" {', 'output "private_subnets" {')),
    U("tfb-0009", "a NAT gateway per AZ", ("single_nat_gateway   = true", "single_nat_gateway   = false")),

    F("tfb-0021", "the variable named cidr, validated with cidrnetmask",
      ('variable "vpc_cidr" {', 'variable "cidr" {'), ("condition     = can(cidrhost(var.vpc_cidr, 0))",
                                                      'condition     = can(cidrnetmask(var.cidr))'),
      ('error_message = "vpc_cidr must be a valid IPv4 CIDR block."', 'error_message = "cidr must be an IPv4 CIDR."'),
      ("cidr_block           = var.vpc_cidr", "cidr_block           = var.cidr")),
    U("tfb-0021", "half done: only the VPC id is output", ('output "vpc_arn" {\n  value = aws_vpc.this.arn\n}', "")),

    U("tfb-0035", "the app open to the internet on 8080",
      ('''  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.alb.id''', '''  security_group_id            = aws_security_group.app.id
  cidr_ipv4                    = "0.0.0.0/0"''')),
    U("tfb-0048", "a gp2 volume", ('type              = "gp3"', 'type              = "gp2"')),
    F("tfb-0048", "size from a variable with that default",
      ("size              = 100", "size              = var.data_volume_gib"),
      ('resource "aws_volume_attachment" "db_data" {', 'variable "data_volume_gib" {\n  type    = number\n  default = 100\n}\n\n'
                                                      'resource "aws_volume_attachment" "db_data" {')),
    U("tfb-0051", "a t3.small", ('instance_type = "t4g.small"', 'instance_type = "t3.small"')),
    F("tfb-0051", "labels renamed", ('data "aws_ami" "ubuntu_arm" {', 'data "aws_ami" "jammy" {'),
      ("ami           = data.aws_ami.ubuntu_arm.id", "ami           = data.aws_ami.jammy.id")),

    F("tfb-0061", "two instance blocks instead of count = 2",
      ('''resource "aws_instance" "node" {
  count           = 2
  ami             = var.ami_id
  instance_type   = "c6in.4xlarge"
  placement_group = aws_placement_group.hpc.id

  tags = {
    Name = "hpc-node-${count.index}"
  }
}''', '''resource "aws_instance" "node_a" {
  ami             = var.ami_id
  instance_type   = "c6in.4xlarge"
  placement_group = aws_placement_group.hpc.id
}

resource "aws_instance" "node_b" {
  ami             = var.ami_id
  instance_type   = "c6in.4xlarge"
  placement_group = aws_placement_group.hpc.id
}''')),
    U("tfb-0061", "half done: one node", ("  count           = 2\n", ""), ('Name = "hpc-node-${count.index}"', 'Name = "hpc-node"')),
    U("tfb-0061", "a spread placement group", ('strategy = "cluster"', 'strategy = "spread"')),

    F("tfb-0077", "arguments reordered, label renamed",
      ('''  warm_pool {
    pool_state = "Stopped"
    min_size   = 2
''', '''  warm_pool {
    min_size   = 2
    pool_state = "Stopped"
''')),
    U("tfb-0077", "a running warm pool", ('pool_state = "Stopped"', 'pool_state = "Running"')),

    F("tfb-0078", "target groups from a list variable",
      ('''  target_group_arns = [
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-http/6d0ecf831eec9f09",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-grpc/8a1f2b3c4d5e6f70",
  ]''', "  target_group_arns         = var.target_group_arns"),
      ('variable "subnet_ids" {', '''variable "target_group_arns" {
  type = list(string)
  default = [
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-http/6d0ecf831eec9f09",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-grpc/8a1f2b3c4d5e6f70",
  ]
}

variable "subnet_ids" {''')),
    U("tfb-0078", "EC2 health checks", ('health_check_type         = "ELB"', 'health_check_type         = "EC2"')),
    U("tfb-0078", "half done: one target group",
      ('    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-grpc/8a1f2b3c4d5e6f70",\n', "")),

    F("tfb-0085", "only the oldest-launch-template policy",
      ('termination_policies  = ["OldestLaunchTemplate", "OldestInstance"]',
       'termination_policies  = ["OldestLaunchTemplate"]')),
    U("tfb-0085", "no capacity rebalancing", ("capacity_rebalance    = true", "capacity_rebalance    = false")),

    F("tfb-0092", "conditions in the other order", ('''  condition {
    host_header {
      values = ["admin.example.org"]
    }
  }

  condition {
    source_ip {
      values = ["10.200.0.0/16"]
    }
  }''', '''  condition {
    source_ip {
      values = ["10.200.0.0/16"]
    }
  }

  condition {
    host_header {
      values = ["admin.example.org"]
    }
  }''')),
    U("tfb-0092", "priority 10", ("priority     = 5", "priority     = 10")),
    U("tfb-0092", "half done: no VPN condition", ('''

  condition {
    source_ip {
      values = ["10.200.0.0/16"]
    }
  }''', "")),

    U("tfb-0093", "an even split", ("weight = 90", "weight = 50"), ("weight = 10", "weight = 50")),
    U("tfb-0100", "plain HTTP", ('protocol          = "HTTPS"', 'protocol          = "HTTP"')),

    F("tfc-0089", "the alarm rule without inner quotes",
      ('alarm_rule        = "ALARM(\\"api-cpu-high\\") AND ALARM(\\"api-p99-latency-high\\")"',
       'alarm_rule        = "ALARM(api-cpu-high) AND ALARM(api-p99-latency-high)"')),
    U("tfc-0089", "either alarm pages (OR)", (") AND ALARM(", ") OR ALARM(")),
    F("tfc-0106", "container definitions from a local",
      ('''  container_definitions = jsonencode([{
    name         = "wordpress"
    image        = "wordpress:6.6-apache"
    essential    = true
    portMappings = [{ containerPort = 80 }]
    mountPoints  = [{ sourceVolume = "uploads", containerPath = "/var/www/html/wp-content/uploads" }]
  }])''', "  container_definitions = jsonencode(local.containers)"),
      ('resource "aws_ecs_task_definition" "cms" {', '''locals {
  containers = [{
    name         = "wordpress"
    image        = "wordpress:6.6-apache"
    essential    = true
    portMappings = [{ containerPort = 80 }]
    mountPoints  = [{ sourceVolume = "uploads", containerPath = "/var/www/html/wp-content/uploads" }]
  }]
}

resource "aws_ecs_task_definition" "cms" {''')),
    U("tfc-0106", "no encryption in transit", ('transit_encryption = "ENABLED"', 'transit_encryption = "DISABLED"')),
    F("tfc-0121", "output named otherwise", ('output "oidc_provider_arn" {', 'output "irsa_provider" {')),
    F("tfb-0016", "labels renamed", ('resource "aws_egress_only_internet_gateway" "dual" {',
                                     'resource "aws_egress_only_internet_gateway" "v6_out" {'),
      ("egress_only_gateway_id = aws_egress_only_internet_gateway.dual.id",
       "egress_only_gateway_id = aws_egress_only_internet_gateway.v6_out.id")),
    U("tfb-0016", "no automatic IPv6 addresses",
      ("assign_ipv6_address_on_creation = true", "assign_ipv6_address_on_creation = false")),

    # -- Kubernetes --------------------------------------------------------------------------------------------
    F("k8b-0013", "-js for --jetstream", ("            - --jetstream\n", "            - -js\n")),
    F("k8b-0013", "runAsNonRoot at pod level",
      ("      securityContext:\n        fsGroup: 1000",
       "      securityContext:\n        fsGroup: 1000\n        runAsNonRoot: true\n        runAsUser: 1000"),
      ("            runAsNonRoot: true\n            runAsUser: 1000\n", "")),
    U("k8b-0013", "one replica", ("replicas: 3", "replicas: 1")),
    U("k8b-0013", "a writable root filesystem", ("            readOnlyRootFilesystem: true\n", "")),
    U("k8b-0013", "JetStream not enabled", ("            - --jetstream\n", "")),

    F("k8b-0005", "probes wrapped in sh -c",
      ('command: ["rabbitmq-diagnostics", "-q", "check_port_connectivity"]',
       'command: ["sh", "-c", "rabbitmq-diagnostics -q check_port_connectivity"]'),
      ('command: ["rabbitmq-diagnostics", "-q", "ping"]', 'command: ["/bin/sh", "-c", "rabbitmq-diagnostics -q ping"]')),
    U("k8b-0005", "an 80Gi disk", ("storage: 8Gi", "storage: 80Gi")),
    U("k8b-0005", "half done: no liveness probe", ('''          livenessProbe:
            exec:
              command: ["rabbitmq-diagnostics", "-q", "ping"]
            initialDelaySeconds: 60
            periodSeconds: 30
            timeoutSeconds: 10
''', "")),

    F("k8b-0015", "WAL claim template listed first", ('''    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        storageClassName: standard
        resources:
          requests:
            storage: 50Gi
    - metadata:
        name: wal
      spec:
        accessModes: ["ReadWriteOnce"]
        storageClassName: io2
        resources:
          requests:
            storage: 10Gi''', '''    - metadata:
        name: wal
      spec:
        accessModes: ["ReadWriteOnce"]
        storageClassName: io2
        resources:
          requests:
            storage: 10Gi
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        storageClassName: standard
        resources:
          requests:
            storage: 50Gi''')),
    U("k8b-0015", "WAL on the standard class",
      ("        storageClassName: io2\n", "        storageClassName: standard\n")),

    F("k8a-0073", "the mode on each item instead of defaultMode",
      ("            defaultMode: 0755\n", ""), ("path: hooks/pre-build.sh", "path: hooks/pre-build.sh\n                mode: 0755"),
      ("path: hooks/post-build.sh", "path: hooks/post-build.sh\n                mode: 0755")),
    F("k8a-0073", "defaultMode in decimal", ("defaultMode: 0755", "defaultMode: 493")),
    U("k8a-0073", "not executable (0644)", ("defaultMode: 0755", "defaultMode: 0644")),

    F("k8a-0002", "strategy type left at its default (RollingUpdate)", ("    type: RollingUpdate\n", "")),
    U("k8a-0002", "a rollout that may drop a pod", ("maxUnavailable: 0", "maxUnavailable: 1")),
    U("k8a-0002", "three replicas", ("replicas: 4", "replicas: 3")),

    F("tfa-0054", "replicas left at the default of 1", ("  replicas: 1\n", "")),
    U("tfa-0054", "runs as the default service account", ("      serviceAccountName: s3-sync\n", "")),

    F("k8b-0026", "the image from Docker Hub", ("docker.elastic.co/beats/filebeat:8.15.3", "elastic/filebeat:8.15.3")),
    U("k8b-0026", "rolling updates", ("type: OnDelete", "type: RollingUpdate")),

    F("k8b-0038", "named otherwise, restartPolicy Never",
      ("name: process-batch", "name: process"), ("restartPolicy: OnFailure", "restartPolicy: Never")),
    U("k8b-0038", "10 pods at a time", ("parallelism: 3", "parallelism: 10")),

    F("k8b-0049", "the claim named otherwise", ("  name: crm-dumps\n", "  name: crm-backups\n"),
      ("claimName: crm-dumps", "claimName: crm-backups")),
    U("k8b-0049", "a 5Gi claim", ("storage: 25Gi", "storage: 5Gi")),

    U("k8b-0053", "a plain init container (the Job never completes)", ("          restartPolicy: Always\n", "")),

    F("k8b-0064", "the ServiceAccount named otherwise",
      ("metadata:\n  name: frontend-restarter\n", "metadata:\n  name: restarter\n"),
      ("    name: frontend-restarter\n", "    name: restarter\n"), ("serviceAccountName: frontend-restarter",
                                                                     "serviceAccountName: restarter")),
    U("k8b-0064", "a Role that can do anything", ('verbs: ["get", "patch"]', 'verbs: ["*"]')),

    U("k8b-0066", "no time zone", ("  timeZone: America/New_York\n", "")),
    F("k8b-0069", "MON-FRI for 1-5", ('schedule: "0 9 * * 1-5"', 'schedule: "0 9 * * MON-FRI"')),

    F("k8b-0076", "policyTypes left at its default", ("  policyTypes:\n    - Ingress\n", "")),
    U("k8b-0076", "port 9100", ("port: 9090", "port: 9100")),
    U("k8b-0084", "TCP instead of UDP", ("protocol: UDP", "protocol: TCP")),

    F("k8b-0096", "the subject's apiGroup left out", ("    apiGroup: rbac.authorization.k8s.io\nroleRef:", "roleRef:")),
    U("k8b-0096", "cluster-wide instead of in staging",
      ("kind: RoleBinding\nmetadata:\n  name: qa-team-view\n  namespace: staging",
       "kind: ClusterRoleBinding\nmetadata:\n  name: qa-team-view")),

    F("k8b-0108", "the namespace named orion", ("name: team-orion", "name: orion"),
      ("  name: compute\n  namespace: team-orion", "  name: compute\n  namespace: orion"),
      ("  name: container-defaults\n  namespace: team-orion", "  name: container-defaults\n  namespace: orion")),
    F("k8b-0108", "CPU quantities unquoted", ('requests.cpu: "20"', "requests.cpu: 20"), ('limits.cpu: "40"', "limits.cpu: 40")),
    U("k8b-0108", "half done: no LimitRange", ('''---
apiVersion: v1
kind: LimitRange
metadata:
  name: container-defaults
  namespace: team-orion
spec:
  limits:
    - type: Container
      defaultRequest:
        cpu: 100m
        memory: 128Mi
      default:
        cpu: 500m
        memory: 512Mi''', "")),

    F("k8b-0120", "Egress listed before Ingress", ("    - Ingress\n    - Egress", "    - Egress\n    - Ingress")),
    U("k8b-0120", "ingress only", ("    - Ingress\n    - Egress", "    - Ingress")),

    U("k8b-0124", "no resizing", ("allowVolumeExpansion: true", "allowVolumeExpansion: false")),
    F("k8b-0125", "named otherwise, access modes as a block list",
      ("name: wiki-data", "name: wiki"), ('accessModes: ["ReadWriteOnce"]', "accessModes:\n    - ReadWriteOnce")),
    U("k8b-0125", "in the default namespace", ("  namespace: wiki\n", "")),
    U("k8b-0127", "the wrong disk", ("path: /mnt/nvme0", "path: /mnt/nvme1")),

    F("k8a-0011", "a second spread constraint over hosts", ('''          whenUnsatisfiable: DoNotSchedule
          labelSelector:
            matchLabels:
              app: storefront''', '''          whenUnsatisfiable: DoNotSchedule
          labelSelector:
            matchLabels:
              app: storefront
        - maxSkew: 2
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app: storefront''')),
    U("k8a-0011", "skew allowed", ("whenUnsatisfiable: DoNotSchedule", "whenUnsatisfiable: ScheduleAnyway")),

    U("k8a-0021", "the Service points at 8080", ("targetPort: 5000", "targetPort: 8080")),
    F("k8a-0021", "the Service's type written out", ("spec:\n  selector:\n    app: notes",
                                                      "spec:\n  type: ClusterIP\n  selector:\n    app: notes")),
    F("k8b-0095", "subjects before roleRef", ('''roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: argocd-application-controller
subjects:
  - kind: ServiceAccount
    name: argocd-application-controller
    namespace: argocd''', '''subjects:
  - kind: ServiceAccount
    name: argocd-application-controller
    namespace: argocd
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: argocd-application-controller''')),
    U("k8b-0095", "the subject still has no namespace", ("    namespace: argocd\n", "")),
    F("k8b-0115", "quantities quoted", ("requests.storage: 2Ti", 'requests.storage: "2Ti"'),
      ("gp3.storageclass.storage.k8s.io/requests.storage: 500Gi",
       'gp3.storageclass.storage.k8s.io/requests.storage: "500Gi"')),
    U("k8b-0115", "io2 allowed 100Gi", ('io2.storageclass.storage.k8s.io/requests.storage: "0"',
                                        "io2.storageclass.storage.k8s.io/requests.storage: 100Gi")),

    F("k8a-0147", "maxUnavailable: 1 instead of minAvailable: 1", ("  minAvailable: 1\n", "  maxUnavailable: 1\n")),
    U("k8a-0147", "a budget that lets a drain take both", ("  minAvailable: 1\n", "  maxUnavailable: 2\n")),
    U("k8a-0147", "a StatefulSet instead of a Deployment (wrong kind)", ("kind: Deployment", "kind: StatefulSet")),
]
