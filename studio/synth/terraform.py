"""Terraform rows from the AWS provider schema: one resource with realistic values for its required and commonly
set arguments, every stated value checked by the row's intent.

    >>> import random
    >>> from studio.synth.terraform import resource_row, supported_types
    >>> "aws_sqs_queue" in supported_types()
    True
    >>> spec = resource_row("aws_sqs_queue", random.Random(3))
    >>> spec.blocks[0].labels[0], spec.facts[0].path
    ('aws_sqs_queue', 'name')

A type is supported when every required argument and block (recursively) gets a value from `argument` or from
its profile in `studio.synth.profiles`; a type with an argument no rule can fill with a realistic value is left
out rather than given a placeholder.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

from studio.iac.aws_schema import BlockSchema, aws_schema
from studio.synth import words
from studio.synth.hcl import Block, Json, Ref, TopBlock
from studio.synth.values import Draw

# The services people use most (the list: compute, storage, databases, networking, IAM, observability,
# messaging, containers, serverless, security, DNS and CDN), by the first word of the type after `aws_`.
POPULAR_SERVICES = {
    "compute": ("instance", "launch", "autoscaling", "placement", "ami", "ebs", "volume", "key", "eip", "spot",
                "ec2", "batch", "lightsail", "imagebuilder"),
    "storage": ("s3", "efs", "fsx", "backup", "glacier", "datasync", "transfer", "storagegateway"),
    "databases": ("db", "rds", "dynamodb", "elasticache", "docdb", "neptune", "memorydb", "redshift",
                  "redshiftserverless", "dax", "keyspaces", "opensearch", "elasticsearch", "dms"),
    "networking": ("vpc", "subnet", "route", "internet", "nat", "egress", "network", "default", "flow", "vpn",
                   "customer", "main", "dx", "globalaccelerator", "networkfirewall", "vpclattice", "ec2"),
    "iam": ("iam", "organizations", "ssoadmin", "ram", "accessanalyzer"),
    "observability": ("cloudwatch", "xray", "synthetics", "prometheus", "grafana", "cloudtrail", "oam",
                      "budgets"),
    "messaging": ("sns", "sqs", "kinesis", "mq", "msk", "ses", "sesv2", "pipes", "scheduler"),
    "containers": ("ecs", "ecr", "eks", "apprunner", "servicediscovery", "ecrpublic"),
    "serverless": ("lambda", "api", "apigatewayv2", "sfn", "appsync", "amplify", "glue", "athena",
                   "appautoscaling", "cognito", "codebuild", "codepipeline", "codecommit", "codedeploy",
                   "codeartifact", "appconfig", "kinesisanalyticsv2"),
    "security": ("kms", "secretsmanager", "acm", "acmpca", "wafv2", "guardduty", "securityhub", "config",
                 "inspector2", "macie2", "shield", "ssm", "security", "detective", "fms"),
    "dns and cdn": ("route53", "cloudfront", "route53resolver"),
    "load balancing": ("lb", "alb", "elb", "load", "app"),
}
SERVICE_OF = {word: service for service, firsts in POPULAR_SERVICES.items() for word in firsts}


@dataclass
class Arg:
    """A value for one argument, how the request states it, and how the intent checks it.

    `say` is the phrase in the instruction; `label` puts it in the input as `label: value` instead (IDs and
    ARNs the answer must reuse); `state=False` writes it without stating or checking it (a value the request
    leaves to the writer, like `skip_final_snapshot`). `matcher` overrides the intent matcher.
    """

    value: Any
    say: str = ""
    label: str = ""
    matcher: Any = None
    state: bool = True


@dataclass
class Fact:
    """One stated value: the block it belongs to, the intent path and matcher, and how it was stated."""

    address: str
    tf_type: str
    keyword: str
    path: str
    matcher: Any
    say: str = ""
    label: str = ""
    shown: str = ""


@dataclass
class Spec:
    """A generated Terraform answer before it becomes a row: blocks, stated facts, how to name it, tags."""

    blocks: list[TopBlock]
    facts: list[Fact]
    what: str
    tags: list[str]
    extra_clauses: list[dict] = field(default_factory=list)
    frames: tuple[str, ...] = words.TERRAFORM_FRAMES


class Unsupported(Exception):
    """No realistic value for an argument of this type."""


# ---------------------------------------------------------------------------------------------------------
# Values by argument name
# ---------------------------------------------------------------------------------------------------------

AWS_ID_PREFIX = {
    "vpc_id": "vpc", "subnet_id": "subnet", "security_group_id": "sg", "route_table_id": "rtb",
    "internet_gateway_id": "igw", "nat_gateway_id": "nat", "network_interface_id": "eni", "instance_id": "i",
    "allocation_id": "eipalloc", "transit_gateway_id": "tgw", "transit_gateway_attachment_id": "tgw-attach",
    "transit_gateway_route_table_id": "tgw-rtb", "vpc_endpoint_id": "vpce", "vpc_peering_connection_id": "pcx",
    "network_acl_id": "acl", "prefix_list_id": "pl", "egress_only_gateway_id": "eigw", "vpn_gateway_id": "vgw",
    "customer_gateway_id": "cgw", "volume_id": "vol", "snapshot_id": "snap", "image_id": "ami", "ami": "ami",
    "launch_template_id": "lt", "file_system_id": "fs", "access_point_id": "fsap", "dhcp_options_id": "dopt",
    "ipam_pool_id": "ipam-pool", "ipam_id": "ipam", "carrier_gateway_id": "cagw", "source_ami_id": "ami",
    "local_gateway_route_table_id": "lgw-rtb", "vpn_connection_id": "vpn", "traffic_mirror_filter_id": "tmf",
    "traffic_mirror_target_id": "tmt", "client_vpn_endpoint_id": "cvpn-endpoint", "capacity_reservation_id": "cr",
    "placement_group_id": "pg", "vpc_endpoint_service_id": "vpce-svc", "route_server_id": "rs",
    "source_instance_id": "i", "target_network_id": "subnet", "source_security_group_id": "sg",
    "referenced_security_group_id": "sg", "key_pair_id": "key", "verified_access_instance_id": "vai",
    "transit_gateway_multicast_domain_id": "tgw-mcast-domain", "coip_pool_id": "ipv4pool-coip",
    "gateway_id": "igw", "egress_only_internet_gateway_id": "eigw", "directory_id": "d",
}
AWS_ID_LABEL = {
    "vpc": "VPC", "subnet": "Subnet", "sg": "Security group", "rtb": "Route table", "igw": "Internet gateway",
    "nat": "NAT gateway", "eni": "Network interface", "i": "Instance", "eipalloc": "Elastic IP allocation",
    "tgw": "Transit gateway", "tgw-attach": "Transit gateway attachment", "tgw-rtb": "Transit gateway route table",
    "vpce": "VPC endpoint", "pcx": "Peering connection", "acl": "Network ACL", "pl": "Prefix list",
    "eigw": "Egress-only internet gateway", "vgw": "VPN gateway", "cgw": "Customer gateway", "vol": "EBS volume",
    "snap": "Snapshot", "ami": "AMI", "lt": "Launch template", "fs": "EFS file system", "fsap": "EFS access point",
    "dopt": "DHCP options set", "ipam-pool": "IPAM pool", "ipam": "IPAM", "cagw": "Carrier gateway",
    "lgw-rtb": "Local gateway route table", "vpn": "VPN connection", "tmf": "Traffic mirror filter",
    "tmt": "Traffic mirror target", "cvpn-endpoint": "Client VPN endpoint", "cr": "Capacity reservation",
    "pg": "Placement group", "vpce-svc": "Endpoint service", "rs": "Route server", "key": "Key pair",
    "vai": "Verified Access instance", "tgw-mcast-domain": "Multicast domain", "ipv4pool-coip": "CoIP pool",
    "d": "Directory",
}
ID_LENGTH = {"d": 10, "key": 17}

# ARNs by argument name: (service, resource path template, label). `{name}` is a drawn name.
ARNS = {
    "role_arn": ("iam", "role/{name}-role", "IAM role ARN"),
    "execution_role_arn": ("iam", "role/{name}-execution", "Execution role ARN"),
    "task_role_arn": ("iam", "role/{name}-task", "Task role ARN"),
    "service_role_arn": ("iam", "role/{name}-service", "Service role ARN"),
    "iam_role_arn": ("iam", "role/{name}-role", "IAM role ARN"),
    "principal_arn": ("iam", "role/{name}-admin", "Principal ARN"),
    "kms_key_arn": ("kms", "key/{uuid}", "KMS key ARN"),
    "kms_master_key_id": ("kms", "key/{uuid}", "KMS key ARN"),
    "kms_key_id": ("kms", "key/{uuid}", "KMS key ARN"),
    "topic_arn": ("sns", "{name}-alerts", "SNS topic ARN"),
    "sns_topic_arn": ("sns", "{name}-alerts", "SNS topic ARN"),
    "queue_arn": ("sqs", "{name}-jobs", "SQS queue ARN"),
    "function_arn": ("lambda", "function:{name}-handler", "Lambda function ARN"),
    "lambda_function_arn": ("lambda", "function:{name}-handler", "Lambda function ARN"),
    "certificate_arn": ("acm", "certificate/{uuid}", "ACM certificate ARN"),
    "target_group_arn": ("elasticloadbalancing", "targetgroup/{name}-tg/{hex16}", "Target group ARN"),
    "load_balancer_arn": ("elasticloadbalancing", "loadbalancer/app/{name}-alb/{hex16}", "Load balancer ARN"),
    "listener_arn": ("elasticloadbalancing", "listener/app/{name}-alb/{hex16}/{hex16b}", "Listener ARN"),
    "stream_arn": ("kinesis", "stream/{name}-events", "Kinesis stream ARN"),
    "log_group_arn": ("logs", "log-group:/aws/{name}", "Log group ARN"),
    "secret_arn": ("secretsmanager", "secret:{name}-credentials-{alnum6}", "Secret ARN"),
    "state_machine_arn": ("states", "stateMachine:{name}-workflow", "State machine ARN"),
    "web_acl_arn": ("wafv2", "regional/webacl/{name}-waf/{uuid}", "Web ACL ARN"),
    "user_pool_arn": ("cognito-idp", "userpool/{region}_{alnum9}", "User pool ARN"),
    "cluster_arn": ("ecs", "cluster/{name}-cluster", "Cluster ARN"),
    "firewall_arn": ("network-firewall", "firewall/{name}-firewall", "Firewall ARN"),
    "destination_arn": ("kinesis", "stream/{name}-logs", "Destination ARN"),
    "delivery_stream_arn": ("firehose", "deliverystream/{name}-delivery", "Firehose stream ARN"),
    "event_bus_arn": ("events", "event-bus/{name}-bus", "Event bus ARN"),
    "repository_arn": ("ecr", "repository/{name}", "Repository ARN"),
    "bucket_arn": ("s3", "{bucket}", "Bucket ARN"),
    "table_arn": ("dynamodb", "table/{name}-table", "Table ARN"),
    "alarm_arn": ("cloudwatch", "alarm:{name}-alarm", "Alarm ARN"),
    "backup_vault_arn": ("backup", "backup-vault:{name}-vault", "Backup vault ARN"),
    "certificate_authority_arn": ("acm-pca", "certificate-authority/{uuid}", "Private CA ARN"),
    "instance_profile_arn": ("iam", "instance-profile/{name}-profile", "Instance profile ARN"),
    "api_arn": ("apigateway", "/restapis/{alnum10}", "API ARN"),
    "db_instance_arn": ("rds", "db:{name}-db", "DB instance ARN"),
    "db_cluster_arn": ("rds", "cluster:{name}-cluster", "DB cluster ARN"),
    "accelerator_arn": ("globalaccelerator", "accelerator/{uuid}", "Accelerator ARN"),
    "source_arn": ("s3", "{bucket}", "Source ARN"),
    "domain_arn": ("es", "domain/{name}-search", "Domain ARN"),
    "registry_arn": ("servicediscovery", "service/srv-{alnum16}", "Cloud Map service ARN"),
    "key_arn": ("kms", "key/{uuid}", "KMS key ARN"),
    "signing_profile_version_arn": ("signer", "/signing-profiles/{camel}Profile/{alnum10}", "Signing profile ARN"),
}
# Regions-less, account-less ARN services.
GLOBAL_ARN_SERVICES = {"iam": (False, True), "s3": (False, False), "cloudfront": (False, True),
                       "route53": (False, False), "globalaccelerator": (False, True)}

# Argument names whose meaning depends on the resource: only a profile may fill them.
AMBIGUOUS = {"type", "value", "key", "family", "format", "state", "status", "action", "mode", "scope", "source",
             "target", "principal", "content", "data", "definition", "body", "properties", "category", "owner",
             "provider_name", "location", "field", "pattern", "identity", "permission", "capacity", "amount",
             "bandwidth", "role", "user", "group", "application", "version", "authentication", "identifier",
             "resource_arn", "arn", "resource_id", "destination", "certificate", "account", "engine", "vlan",
             "address_family", "actions", "data_source", "region", "content_type", "input", "payload", "path",
             "url", "expression", "statement", "rule", "filter", "query", "schema", "parameters", "settings",
             "config", "configuration", "options", "environment", "tier", "limit", "unit", "threshold",
             "comparison_operator", "operator", "protocol", "entry", "handler", "runtime", "language", "platform",
             "service", "trigger", "principals", "log_type", "metric_name", "namespace", "statistic", "period",
             "evaluation_periods", "dimensions", "name_prefix", "image", "command", "priority"}

NOUNS = {"topic": "events", "queue": "jobs", "table": "table", "function": "handler", "cluster": "cluster",
         "repository": "app", "role": "role", "policy": "policy", "user": "deployer", "group": "group",
         "bucket": "data", "key": "key", "secret": "credentials", "stream": "stream", "domain": "search",
         "alias": "alias", "alarm": "alarm", "dashboard": "dashboard", "rule": "rule", "vault": "vault",
         "plan": "plan", "workgroup": "workgroup", "database": "db", "crawler": "crawler", "job": "job",
         "project": "build", "pipeline": "pipeline", "application": "app", "environment": "env",
         "distribution": "cdn", "zone": "zone", "record": "record", "service": "service",
         "namespace": "namespace", "profile": "profile", "template": "template", "instance": "instance",
         "pool": "pool", "identity": "identity", "detector": "detector", "layer": "layer", "api": "api",
         "stage": "stage", "authorizer": "authorizer", "integration": "integration", "route": "route"}


def _arn(draw: Draw, name: str) -> Arg | None:
    spec = ARNS.get(name)
    if spec is None:
        return None
    service, template, label = spec
    filled = template.format(name=draw.name(), uuid=draw.uuid(), hex16=draw.hex(16), hex16b=draw.hex(16),
                             alnum6=draw.alnum(6), alnum9=draw.alnum(9, upper=True), alnum10=draw.alnum(10),
                             alnum16=draw.alnum(16), bucket=draw.bucket(), region=draw.region, camel=draw.camel())
    region, account = GLOBAL_ARN_SERVICES.get(service, (True, True))
    if service == "sns" or service == "sqs":
        value = draw.arn(service, filled)
    else:
        value = draw.arn(service, filled, region=region, account=account)
    return Arg(value, label=label)


def _id(draw: Draw, name: str, plural: bool) -> Arg | None:
    prefix = AWS_ID_PREFIX.get(name)
    if prefix is None:
        return None
    label = AWS_ID_LABEL[prefix]
    if plural:
        values = [draw.aws_id(prefix, ID_LENGTH.get(prefix, 17)) for _ in range(draw.between(2, 3))]
        return Arg(values, label=label + "s", matcher={"contains": values[0]})
    return Arg(draw.aws_id(prefix, ID_LENGTH.get(prefix, 17)), label=label)


def _noun_of(tf_type: str) -> str:
    last = tf_type.split("_")[-1]
    return NOUNS.get(last, last)


# Services' resource-policy actions, for `policy` arguments of `aws_<service>_..._policy` types.
POLICY_ACTIONS = {
    "backup": ("backup:CopyIntoBackupVault", "copy into the vault"),
    "cloudwatch": ("events:PutEvents", "put events"), "api": ("execute-api:Invoke", "invoke the API"),
    "ecr": ("ecr:BatchGetImage", "pull images"), "ecrpublic": ("ecr-public:BatchGetImage", "pull images"),
    "glacier": ("glacier:UploadArchive", "upload archives"), "secretsmanager": ("secretsmanager:GetSecretValue",
                                                                                 "read the secret"),
    "kms": ("kms:Decrypt", "decrypt"), "sns": ("sns:Publish", "publish"), "sqs": ("sqs:SendMessage",
                                                                               "send messages"),
    "s3control": ("s3:GetObject", "read objects"), "s3": ("s3:GetObject", "read objects"),
    "lambda": ("lambda:InvokeFunction", "invoke it"), "efs": ("elasticfilesystem:ClientMount", "mount it"),
    "elasticsearch": ("es:ESHttpGet", "query it"), "opensearch": ("es:ESHttpGet", "query it"),
    "acmpca": ("acm-pca:IssueCertificate", "issue certificates"), "codeartifact": ("codeartifact:ReadFromRepository",
                                                                                   "read packages"),
    "iam": ("s3:ListBucket", "list buckets"), "dynamodb": ("dynamodb:GetItem", "read items"),
    "kinesis": ("kinesis:GetRecords", "read records"), "ssm": ("ssm:GetParameter", "read parameters"),
    "apigatewayv2": ("execute-api:Invoke", "invoke the API"), "glue": ("glue:GetTable", "read the catalog"),
    "xray": ("xray:PutTraceSegments", "send traces"), "networkfirewall": ("network-firewall:ListFirewalls",
                                                                          "list firewalls"),
    "vpc": ("execute-api:Invoke", "invoke private APIs"), "ram": ("ram:GetResourceShares", "read shares"),
    "redshift": ("redshift:AuthorizeInboundIntegration", "create integrations"),
    "organizations": ("organizations:DescribeOrganization", "describe the organization"),
}
PARAMETER_FAMILIES = {
    "aws_db_parameter_group": ("postgres16", "mysql8.0", "postgres15"),
    "aws_rds_cluster_parameter_group": ("aurora-postgresql16", "aurora-mysql8.0"),
    "aws_docdb_cluster_parameter_group": ("docdb5.0",), "aws_elasticache_parameter_group": ("redis7", "valkey8"),
    "aws_memorydb_parameter_group": ("memorydb_redis7",), "aws_neptune_parameter_group": ("neptune1.3",),
    "aws_neptune_cluster_parameter_group": ("neptune1.3",), "aws_redshift_parameter_group": ("redshift-1.0",),
    "aws_dax_parameter_group": ("dax1.0",),
}
TYPED_VALUES = {
    ("aws_wafv2", "scope"): lambda d: Arg("REGIONAL", "regional scope"),
    ("aws_dx", "address_family"): lambda d: Arg("ipv4", "IPv4"),
    ("aws_dx", "vlan"): lambda d: (lambda v: Arg(v, f"VLAN {v}"))(d.between(100, 4000)),
    ("aws_dx", "bgp_asn"): lambda d: (lambda v: Arg(v, f"BGP ASN {v}"))(d.between(64512, 65534)),
    ("aws_dx", "bandwidth"): lambda d: (lambda v: Arg(v, f"{v} of bandwidth"))(d.choice(("1Gbps", "10Gbps"))),
    ("aws_dx", "location"): lambda d: Arg("EqDC2", label="Direct Connect location"),
    ("aws_dx", "connection_id"): lambda d: Arg(f"dxcon-{d.alnum(8)}", label="Connection"),
    ("aws_dx", "dx_gateway_id"): lambda d: Arg(d.uuid(), label="Direct Connect gateway"),
    ("aws_dx", "virtual_interface_id"): lambda d: Arg(f"dxvif-{d.alnum(8)}", label="Virtual interface"),
    ("aws_guardduty", "detector_id"): lambda d: Arg(d.hex(32), label="Detector ID"),
    ("aws_amplify", "app_id"): lambda d: Arg("d" + d.alnum(13), label="Amplify app ID"),
    ("aws_appconfig", "application_id"): lambda d: Arg(d.alnum(7), label="AppConfig application ID"),
    ("aws_cognito", "identity_pool_id"): lambda d: Arg(f"{d.region}:{d.uuid()}", label="Identity pool ID"),
    ("aws_ssoadmin", "instance_arn"): lambda d: Arg(f"arn:aws:sso:::instance/ssoins-{d.hex(16)}",
                                                    label="Identity Center instance ARN"),
    ("aws_storagegateway", "gateway_arn"): lambda d: Arg(d.arn("storagegateway", f"gateway/sgw-{d.alnum(8, True)}"),
                                                         label="Gateway ARN"),
    ("aws_apprunner", "service_arn"): lambda d: Arg(d.arn("apprunner", f"service/{d.name('svc')}/{d.hex(32)}"),
                                                    label="App Runner service ARN"),
    ("aws_datasync", "agent_arns"): lambda d: Arg([d.arn("datasync", f"agent/agent-{d.hex(17)}")], label="Agent",
                                                  matcher=None),
    ("aws_datasync", "fsx_filesystem_arn"): lambda d: Arg(d.arn("fsx", f"file-system/fs-{d.hex(17)}"),
                                                          label="FSx file system ARN"),
    ("aws_detective", "graph_arn"): lambda d: Arg(d.arn("detective", f"graph:{d.hex(32)}"), label="Graph ARN"),
    ("aws_api_gateway", "resource_id"): lambda d: Arg(d.alnum(6), label="Resource ID"),
    ("aws_api_gateway", "parent_id"): lambda d: Arg(d.alnum(10), label="Parent resource ID"),
    ("aws_api_gateway", "http_method"): lambda d: (lambda v: Arg(v, f"the {v} method"))(d.choice(("GET", "POST"))),
    ("aws_api_gateway", "status_code"): lambda d: Arg("200", "status 200"),
    ("aws_api_gateway", "content_type"): lambda d: Arg("application/json", "for application/json"),
    ("aws_apigatewayv2", "content_type"): lambda d: Arg("application/json", "for application/json"),
    ("aws_apigatewayv2", "endpoint_type"): lambda d: Arg("REGIONAL", "a regional endpoint"),
    ("aws_lb_target_group_attachment", "target_id"): lambda d: Arg(d.aws_id("i"), label="Instance"),
    ("aws_alb_target_group_attachment", "target_id"): lambda d: Arg(d.aws_id("i"), label="Instance"),
    ("aws_iam", "group"): lambda d: (lambda v: Arg(v, f"for the group {v}"))(d.name("developers")),
    ("aws_iam", "role"): lambda d: Arg(d.name("role"), label="Role"),
    ("aws_iam", "user"): lambda d: Arg(d.name("deployer"), label="User"),
    ("aws_iam", "policy_names"): lambda d: (lambda v: Arg([v], f"keeping only the inline policy {v}",
                                                          matcher={"contains": v}))(d.name("inline")),
    ("aws_iam", "policy_arn"): lambda d: Arg("arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnlyAccess attached"),
    ("aws_eks", "policy_arn"): lambda d: Arg("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                                             "the AmazonEKSViewPolicy access policy"),
    ("aws_load_balancer", "load_balancer_name"): lambda d: Arg(d.name("elb"), label="Load balancer"),
    ("aws_accessanalyzer", "analyzer_name"): lambda d: (lambda v: Arg(v, f"analyzer {v}"))(d.name("analyzer")),
    ("aws_dynamodb_global_table", "region_name"): lambda d: (lambda v: Arg(v, f"replicated to {v}"))(d.region),
    ("aws_vpc_ipam", "region_name"): lambda d: (lambda v: Arg(v, f"operating in {v}"))(d.region),
    ("aws_elasticache_serverless_cache", "engine"): lambda d: (lambda v: Arg(v, f"{v} engine"))(
        d.choice(("redis", "valkey"))),
    ("aws_elasticache_user_group", "engine"): lambda d: Arg("redis", "for Redis"),
    ("aws_cloudfront", "cookie_behavior"): lambda d: Arg("none", "no cookies"),
    ("aws_cloudfront", "header_behavior"): lambda d: Arg("none", "no headers"),
    ("aws_cloudfront", "query_string_behavior"): lambda d: Arg("all", "all query strings"),
    ("aws_batch_job_queue", "priority"): lambda d: (lambda v: Arg(v, f"priority {v}"))(d.choice((1, 10, 100))),
    ("aws_ebs_snapshot_block_public_access", "state"): lambda d: Arg("block-all-sharing", "all sharing blocked"),
    ("aws_ec2_image_block_public_access", "state"): lambda d: Arg("block-new-sharing", "new sharing blocked"),
    ("aws_ec2_instance_state", "state"): lambda d: (lambda v: Arg(v, f"kept {v}"))(d.choice(("running", "stopped"))),
    ("aws_ram", "principal"): lambda d: Arg(str(d.between(10**11, 10**12 - 1)), label="Account ID"),
    ("aws_cloudwatch_event_permission", "principal"): lambda d: Arg(str(d.between(10**11, 10**12 - 1)),
                                                                   label="Account ID"),
    ("aws_kms", "key_id"): lambda d: Arg(d.uuid(), label="KMS key ID"),
    ("aws_api_gateway_usage_plan_key", "key_id"): lambda d: Arg(d.alnum(10), label="API key ID"),
    ("aws_db_cluster_snapshot", "db_cluster_snapshot_identifier"): lambda d: (lambda v: Arg(v, f"snapshot {v}"))(
        d.name("snapshot")),
    ("aws_docdb_cluster_snapshot", "db_cluster_snapshot_identifier"): lambda d: (lambda v: Arg(v, f"snapshot {v}"))(
        d.name("snapshot")),
    ("aws_neptune_cluster_snapshot", "db_cluster_snapshot_identifier"): lambda d: (
        lambda v: Arg(v, f"snapshot {v}"))(d.name("snapshot")),
    ("aws_dms", "endpoint_id"): lambda d: (lambda v: Arg(v, f"endpoint {v}"))(d.name("endpoint")),
    ("aws_dx_gateway", "amazon_side_asn"): lambda d: (lambda v: Arg(v, f"Amazon-side ASN {v}"))(
        str(d.between(64512, 65534))),
    ("aws_securityhub", "identifier"): lambda d: (lambda v: Arg(v, f"identifier {v}"))(d.camel("Action")),
    ("aws_cognito_resource_server", "identifier"): lambda d: (lambda v: Arg(v, f"identifier {v}"))(
        f"https://{d.hostname('api')}"),
    ("aws_s3_bucket_accelerate_configuration", "status"): lambda d: Arg("Enabled", "transfer acceleration on"),
    ("aws_efs_backup_policy", "status"): lambda d: Arg("ENABLED", "automatic backups enabled"),
    ("aws_lambda_function_url", "authorization_type"): lambda d: (lambda v: Arg(v, f"{v} authorization"))(
        d.choice(("NONE", "AWS_IAM"))),
    ("aws_dynamodb_tag", "resource_arn"): lambda d: Arg(d.arn("dynamodb", f"table/{d.name('table')}"),
                                                        label="Table ARN"),
    ("aws_ecs_tag", "resource_arn"): lambda d: Arg(d.arn("ecs", f"cluster/{d.name('cluster')}"), label="Cluster ARN"),
    ("aws_ec2_tag", "resource_id"): lambda d: Arg(d.aws_id("i"), label="Instance"),
    ("aws_guardduty", "activate"): lambda d: Arg(True, "activated"),
    ("aws_guardduty", "format"): lambda d: Arg("TXT", "in TXT format"),
    ("aws_guardduty", "location"): lambda d: (lambda v: Arg(v, f"read from {v}"))(
        f"https://s3.amazonaws.com/{d.bucket('threat-intel')}/list.txt"),
    ("aws_ecs_account_setting_default", "name"): lambda d: Arg("containerInsights", "the containerInsights setting"),
    ("aws_ecs_account_setting_default", "value"): lambda d: Arg("enabled", "enabled by default"),
    ("aws_codeartifact", "repository"): lambda d: (lambda v: Arg(v, f"repository {v}"))(d.name("packages")),
    ("aws_codeartifact", "domain"): lambda d: Arg(d.project, label="CodeArtifact domain"),
    ("aws_dms", "endpoint_type"): lambda d: (lambda v: Arg(v, f"a {v} endpoint"))(d.choice(("source", "target"))),
    ("aws_elasticache_user", "access_string"): lambda d: Arg("on ~app:* +@read", "read-only access to app:* keys"),
    ("aws_elasticache_user", "engine"): lambda d: Arg("redis", "for Redis"),
    ("aws_elasticache_user_group", "user_group_id"): lambda d: (lambda v: Arg(v, f"group id {v}"))(
        d.name("users")),
    ("aws_batch_job_queue", "state"): lambda d: Arg("ENABLED", "enabled"),
    ("aws_cloudwatch_log_destination", "target_arn"): lambda d: Arg(d.arn("kinesis", f"stream/{d.name('logs')}"),
                                                                    label="Kinesis stream ARN"),
    ("aws_opensearch_domain_policy", "access_policies"): lambda d: (lambda a: Arg(Json({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": a}, "Action": "es:ESHttp*",
                                                "Resource": "*"}]}), f"letting {a} query it",
        matcher={"contains": a}))(d.role_arn("search")),
    ("aws_elasticsearch_domain_policy", "access_policies"): lambda d: (lambda a: Arg(Json({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": a}, "Action": "es:ESHttp*",
                                                "Resource": "*"}]}), f"letting {a} query it",
        matcher={"contains": a}))(d.role_arn("search")),
}


def _typed(draw: Draw, tf_type: str, name: str) -> Arg | None:
    for (prefix, arg), make in TYPED_VALUES.items():
        if arg == name and (tf_type == prefix or tf_type.startswith(prefix + "_")):
            return make(draw)
    if name == "family" and tf_type in PARAMETER_FAMILIES:
        value = draw.choice(PARAMETER_FAMILIES[tf_type])
        return Arg(value, f"family {value}")
    if tf_type.endswith("_tag") and name in ("key", "value"):
        return Arg("Environment" if name == "key" else draw.env,
                   f"the tag Environment={draw.env}" if name == "key" else "")
    if name in ("policy", "policy_document") and tf_type.split("_")[1] in POLICY_ACTIONS:
        action, verb = POLICY_ACTIONS[tf_type.split("_")[1]]
        account = str(draw.between(10**11, 10**12 - 1))
        doc = Json({"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowPartnerAccount", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": action, "Resource": "*"}]})
        return Arg(doc, f"a policy letting account {account} {verb} ({action})", matcher={"contains": action})
    if name == "auto_enable":
        return Arg(True, "auto-enabled for new accounts")
    return None


def argument(draw: Draw, tf_type: str, name: str, optional: bool = False) -> Arg | None:
    """A realistic value for argument `name` of `tf_type` by the argument's name, or None when unsure."""
    words_ = words.argument_words(name)
    typed = _typed(draw, tf_type, name)
    if typed is not None:
        return typed
    if name in AMBIGUOUS:
        return None
    if name == "name":
        noun = _noun_of(tf_type)
        sep = "_" if tf_type.startswith(("aws_glue_", "aws_athena_", "aws_lakeformation", "aws_redshift")) else "-"
        value = draw.name(noun, sep)
        return Arg(value, draw.choice((f"named {value}", f"called {value}", f"with the name {value}",
                                       f"named `{value}`")))
    if name in ("bucket", "s3_bucket_name", "bucket_name", "s3_bucket"):
        value = draw.bucket()
        if tf_type == "aws_s3_bucket":
            return Arg(value, draw.choice((f"named {value}", f"called {value}", f"`{value}`")))
        return Arg(value, label="Bucket")
    if name.endswith("_arn") or name in ("kms_key_id", "kms_master_key_id"):
        return _arn(draw, name)
    if name.endswith("_ids") and name[:-1] in AWS_ID_PREFIX:
        return _id(draw, name[:-1], plural=True)
    if name in ("vpc_security_group_ids", "security_groups"):
        return _id(draw, "security_group_id", plural=True)
    if name == "subnets":
        return _id(draw, "subnet_id", plural=True)
    if name in AWS_ID_PREFIX:
        return _id(draw, name, plural=False)
    if name in ("cidr_block", "cidr_ipv4", "destination_cidr_block", "cidr", "ipv4_cidr_block"):
        value = draw.vpc_cidr() if "vpc" in tf_type else draw.subnet_cidr()
        if name == "destination_cidr_block":
            value = draw.choice(("0.0.0.0/0", "10.100.0.0/16", "172.20.0.0/16", draw.office_cidr()))
        return Arg(value, draw.choice((f"CIDR {value}", f"{value}", f"the {value} range")))
    if name == "cidr_blocks":
        value = [draw.office_cidr()]
        return Arg(value, f"from {value[0]}", matcher={"contains": value[0]})
    if name in ("availability_zone",):
        value = draw.az()
        return Arg(value, draw.choice((f"in {value}", f"in availability zone {value}")))
    if name in ("account_id", "owner_account_id", "admin_account_id", "aws_account_id", "member_account_id",
                "target_account_id", "source_account"):
        value = draw.account if name == "account_id" else str(draw.between(10**11, 10**12 - 1))
        return Arg(value, label="Account ID")
    if name in ("domain_name", "domain"):
        value = draw.hostname() if "certificate" in tf_type or "api" in tf_type else draw.domain
        return Arg(value, draw.choice((f"for {value}", f"for the domain {value}")))
    if name in ("email", "email_address", "email_identity"):
        value = draw.email()
        return Arg(value, draw.choice((f"for {value}", f"with email {value}")))
    if name in ("zone_id", "hosted_zone_id"):
        return Arg(draw.zone_id(), label="Hosted zone ID")
    if name == "user_pool_id":
        return Arg(f"{draw.region}_{draw.alnum(9, upper=True)}", label="User pool ID")
    if name in ("rest_api_id", "api_id"):
        return Arg(draw.alnum(10), label="API ID")
    if name == "key_name":
        value = draw.name("deploy")
        return Arg(value, f"with the key pair {value}")
    if name in ("function_name", "cluster_name", "table_name", "role_name", "user_name", "group_name",
                "repository_name", "log_group_name", "alarm_name", "rule_name", "policy_name", "service_name",
                "db_name", "database_name", "stage_name", "cluster_identifier", "db_instance_identifier",
                "identifier", "workgroup_name", "namespace_name", "backup_vault_name", "queue_name",
                "topic_name", "layer_name", "job_name", "crawler_name", "domain_name_prefix", "project_name",
                "application_name", "environment_name", "autoscaling_group_name", "state_machine_name",
                "secret_name", "stream_name", "instance_name", "endpoint_name", "configuration_set_name",
                "rule_set_name", "bus_name", "event_bus_name", "replication_group_id", "cluster_id",
                "db_cluster_identifier", "global_cluster_identifier", "db_proxy_name", "lb_name",
                "branch_name", "integration_name", "snapshot_name", "cluster_endpoint_identifier",
                "node_group_name", "fargate_profile_name", "addon_name", "capacity_provider_name"):
        stem = name.replace("_name", "").replace("_identifier", "").replace("_id", "")
        noun = {"function": "handler", "log_group": "", "db": "app", "database": "app", "stage": "",
                "branch": ""}.get(stem, stem.split("_")[-1])
        sep = "_" if name in ("db_name", "database_name") else "-"
        if name == "log_group_name":
            value = f"/aws/{draw.choice(('lambda', 'ecs', 'apigateway', 'app'))}/{draw.name()}"
        elif name == "stage_name":
            value = draw.choice(("prod", "v1", "staging", "live", "dev"))
        elif name == "branch_name":
            value = draw.choice(("main", "release", "develop"))
        elif name == "addon_name":
            value = draw.choice(("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"))
        else:
            value = draw.name(noun, sep) if noun else draw.name("", sep)
        said = words_.replace(" identifier", "").replace(" id", "")
        return Arg(value, draw.choice((f"{said} {value}", f"{said} `{value}`", f"for {said} {value}")))
    if name == "description":
        value = draw.choice((f"Managed by Terraform for {draw.project}", f"{draw.project} ({draw.env})",
                             f"Owned by the {draw.team} team", f"{draw.project.capitalize()} {draw.env} resources"))
        return Arg(value, f'described as "{value}"')
    if name == "tags":
        value = draw.tags()
        shown = ", ".join(f"{k}={v}" for k, v in value.items())
        return Arg(value, draw.choice((f"tagged {shown}", f"tags {shown}", f"with tags {shown}")),
                   matcher={f"tags.{k}": v for k, v in value.items()})
    if name in ("retention_in_days", "log_retention_in_days"):
        value = draw.choice((7, 14, 30, 90, 365))
        return Arg(value, f"{words.days(draw, value)} of retention")
    if name in ("deletion_window_in_days", "recovery_window_in_days"):
        value = draw.choice((7, 14, 30))
        return Arg(value, f"a {words_.replace(' in days', '')} of {words.days(draw, value)}")
    if name in ("enabled", "enable") or name.startswith(("enable_", "is_")) or name.endswith("_enabled"):
        value = draw.coin(0.8)
        said = words_.replace("enabled", "").replace("enable ", "").replace("is ", "").strip() or "it"
        state = ("on" if value else "off") if optional else ("enabled" if value else "disabled")
        return Arg(value, f"{said} {state}")
    if name in ("port", "from_port", "to_port", "container_port", "host_port", "listener_port", "lb_port",
                "instance_port", "target_port", "health_check_port"):
        value = draw.choice((443, 80, 8080, 8443, 5432, 3306, 6379, 9000))
        return Arg(value, f"port {value}")
    if name in ("min_size", "minimum_count", "min_capacity"):
        value = draw.between(1, 3)
        return Arg(value, f"minimum {value}")
    if name in ("max_size", "maximum_count", "max_capacity"):
        value = draw.between(4, 12)
        return Arg(value, f"maximum {value}")
    if name == "desired_capacity":
        return Arg(2, "desired capacity 2")
    if name in ("schedule_expression",):
        value = draw.choice(("rate(5 minutes)", "rate(1 hour)", "cron(0 2 * * ? *)", "rate(15 minutes)",
                             "cron(30 6 ? * MON-FRI *)"))
        return Arg(value, f"on the schedule {value}")
    if name in ("instance_type",):
        value = draw.choice(("t3.micro", "t3.small", "t3.medium", "m6i.large", "c6i.xlarge", "t4g.small",
                             "m7g.large", "r6i.large"))
        return Arg(value, draw.choice((f"{value}", f"instance type {value}", f"on {value}")))
    if name in ("instance_class", "db_instance_class"):
        value = draw.choice(("db.t4g.micro", "db.t4g.small", "db.t3.medium", "db.m6g.large", "db.r6g.large"))
        return Arg(value, draw.choice((f"{value}", f"class {value}")))
    if name == "node_type":
        value = draw.choice(("cache.t4g.small", "cache.t4g.micro", "cache.r6g.large", "cache.m6g.large"))
        return Arg(value, f"node type {value}")
    if name in ("username", "master_username", "admin_username"):
        value = f"{draw.project}_admin"
        return Arg(value, f"admin user {value}")
    if name in ("password", "master_password", "admin_password"):
        return Arg(Ref("var.db_password"), "the password from the variable db_password",
                   matcher={"refers_to": "var"})
    if name in ("ttl",):
        value = draw.choice((60, 300, 3600))
        return Arg(value, f"a TTL of {words.seconds(draw, value)}")
    if name in ("statement_id",):
        value = draw.choice(("AllowExecutionFromEventBridge", "AllowS3Invoke", "AllowApiGatewayInvoke"))
        return Arg(value, f"statement id {value}", state=False)
    if name in ("public_key",):
        value = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + draw.alnum(32) + f" {draw.team}@{draw.domain}"
        return Arg(value, label="Public key")
    if name in ("availability_zones",):
        value = [draw.az(0), draw.az(1)]
        return Arg(value, f"across {words.join(value)}", matcher={"contains": value[0]})
    if name in ("server_hostname",):
        value = f"files.{draw.domain}"
        return Arg(value, f"host {value}")
    if name in ("queue_url",):
        value = f"https://sqs.{draw.region}.amazonaws.com/{draw.account}/{draw.name('jobs')}"
        return Arg(value, label="Queue URL")
    if name == "http_method":
        value = draw.choice(("GET", "POST", "PUT", "DELETE", "ANY"))
        return Arg(value, f"{value} method")
    if name == "policy_arns":
        value = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        return Arg(value, "ReadOnlyAccess attached", matcher={"contains": value[0]})
    return None


# ---------------------------------------------------------------------------------------------------------
# Building one resource from its schema
# ---------------------------------------------------------------------------------------------------------

SKIP_OPTIONAL = {"id", "region", "tags_all", "name_prefix"}
COMMON_OPTIONAL = ("description", "tags", "retention_in_days", "kms_key_id", "deletion_window_in_days")


def schema_body(draw: Draw, tf_type: str, block: BlockSchema, top: bool = True) -> dict:
    """Required arguments and blocks of `block` filled by `argument`, plus a few commonly set optional ones."""
    body: dict = {}
    for name, need in block.arguments.items():
        if need != "required":
            continue
        arg = argument(draw, tf_type, name)
        if arg is None:
            raise Unsupported(f"{tf_type}: no value for required argument {name}")
        body[name] = arg
    for name, child in block.blocks.items():
        if child.required:
            inner = schema_body(draw, tf_type, child, top=False)
            if not inner:  # a required block the schema lists no required argument for: its content is unknown
                raise Unsupported(f"{tf_type}: nothing known to write in the required block {name}")
            body[name] = Block(inner)
    if top:
        for name in COMMON_OPTIONAL:
            if name in block.arguments and name not in body and draw.coin(0.5 if name != "tags" else 0.6):
                arg = argument(draw, tf_type, name, optional=True)
                if arg is not None:
                    body[name] = arg
    return body


def lower(tf_type: str, label: str, body: dict, keyword: str = "resource") -> tuple[TopBlock, list[Fact]]:
    """The HCL block of a body of `Arg`s, and the facts it states."""
    address = f"{tf_type}.{label}" if keyword == "resource" else f"{keyword}.{tf_type}.{label}"
    facts: list[Fact] = []

    def walk(part: dict, prefix: str) -> dict:
        out = {}
        for name, item in part.items():
            path = f"{prefix}{name}"
            if isinstance(item, Block):
                out[name] = Block(walk(item.body, path + "."))
            elif isinstance(item, list) and item and isinstance(item[0], Block):
                out[name] = [Block(walk(b.body, path + ".")) for b in item]
            elif isinstance(item, Arg):
                out[name] = item.value
                if item.state:
                    facts.extend(_facts_of(address, tf_type, keyword, path, item))
            else:
                out[name] = item
        return out

    hcl_body = walk(body, "")
    return (TopBlock(keyword, (tf_type, label), hcl_body), facts)


def _facts_of(address: str, tf_type: str, keyword: str, path: str, arg: Arg) -> list[Fact]:
    matcher = arg.matcher
    if isinstance(matcher, dict) and matcher and all("." in k for k in matcher):
        # A map argument (tags): one path per key, stated by one phrase.
        items = list(matcher.items())
        return [Fact(address, tf_type, keyword, k, v, arg.say if i == 0 else "", arg.label if i == 0 else "",
                     shown=_shown(arg.value)) for i, (k, v) in enumerate(items)]
    if matcher is None:
        matcher = _matcher(arg.value)
    if matcher is None:
        return []
    facts = [Fact(address, tf_type, keyword, path, matcher, arg.say, arg.label, _shown(arg.value))]
    # References inside a policy or definition wire the block too: checked like any other reference.
    targets = dict.fromkeys(ref.target for ref in _refs_in(arg.value) if ref.target) if isinstance(arg.value, Json) \
        else {}
    facts += [Fact(address, tf_type, keyword, path, {"refers_to": target}) for target in targets]
    return facts


def _refs_in(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, Json):
        return _refs_in(value.value)
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs_in(v)]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs_in(v)]
    return []


def _matcher(value: Any) -> Any:
    if isinstance(value, Ref):
        target = value.target
        return {"refers_to": target} if target else None
    if isinstance(value, Json):
        return {"exists": True}
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list) and value and isinstance(value[0], Ref) and value[0].target:
        return {"refers_to": value[0].target}
    if isinstance(value, list) and value and isinstance(value[0], (str, int)):
        return {"contains": value[0]}
    return None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@functools.lru_cache(maxsize=1)
def popular_types() -> tuple[str, ...]:
    """Resource types of the popular services, in schema order."""
    schema = aws_schema()
    return tuple(t for t in schema.resource_types if t.split("_")[1] in SERVICE_OF)


def service_of(tf_type: str) -> str:
    parts = tf_type.split("_")
    return SERVICE_OF.get(parts[1] if len(parts) > 1 else "", "other")


@functools.lru_cache(maxsize=1)
def supported_types() -> tuple[str, ...]:
    """Every type with a profile, and every popular type whose required arguments all get a realistic value."""
    from studio.synth import profiles

    schema = aws_schema()
    found = [t for t in profiles.PROFILES if schema.resource(t) is not None]
    for tf_type in popular_types():
        if tf_type in profiles.PROFILES:
            continue
        ok = True
        for attempt in range(3):
            try:
                schema_body(Draw(random.Random(attempt)), tf_type, schema.resource(tf_type))
            except Unsupported:
                ok = False
                break
        if ok:
            found.append(tf_type)
    return tuple(found)


def resource_row(tf_type: str, rng: random.Random) -> Spec:
    """One resource of `tf_type` as a Spec: its profile's body if it has one, else the schema's."""
    from studio.synth import profiles

    draw = Draw(rng)
    label = draw.choice((draw.project, "this", "main", draw.project.replace("-", "_"), f"{draw.project}_{draw.env}"))
    profile = profiles.PROFILES.get(tf_type)
    if profile is not None:
        body = profile(draw)
    else:
        body = schema_body(draw, tf_type, aws_schema().resource(tf_type))
    extra_blocks = body.pop("__blocks__", [])
    block, facts = lower(tf_type, label, body)
    noun = words.noun(tf_type)
    if draw.coin(0.25):
        noun = f"{noun} (`{tf_type}`)"
    name_facts = [f for f in facts if f.path in ("name", "bucket", "function_name", "identifier",
                                                 "cluster_identifier", "table_name") and f.say and not f.label]
    said = name_facts[:1] + [f for f in facts if f.say and not f.label and f not in name_facts[:1]]
    what = words.a(noun)
    if said:
        first, rest = said[0], said[1:]
        draw.rng.shuffle(rest)
        joiner = " with " if draw.coin() else ", "
        what += " " + first.say + (joiner + words.join([f.say for f in rest]) if rest else "")
    topic = tf_type.split("_")[1]
    return Spec(extra_blocks + [block], facts, what, [topic, service_of(tf_type).replace(" ", "-"), "generated"])
