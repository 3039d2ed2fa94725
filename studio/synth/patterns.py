"""Multi-resource Terraform patterns wired by reference: the intent checks every stated value and that each
resource refers to the one it belongs to (`refers_to`), so an answer with the right types but no wiring fails.

    >>> import random
    >>> spec = PATTERNS["s3-secure-bucket"](random.Random(0))
    >>> [b.labels[0] for b in spec.blocks][:2]
    ['aws_s3_bucket', 'aws_s3_bucket_versioning']

Each pattern draws its names and sizes per row; the request names what to build and states every value the
intent checks.
"""

from __future__ import annotations

import random
import re
from typing import Callable

from studio.synth import words
from studio.synth.hcl import Block, Json, Ref, TopBlock, Variable
from studio.synth.profiles import C, Q, S, named
from studio.synth.terraform import Arg, Fact, Spec, lower
from studio.synth.values import Draw

PATTERNS: dict[str, Callable[[random.Random], Spec]] = {}


def pattern(name: str):
    def register(fn):
        PATTERNS[name] = lambda rng: fn(Builder(Draw(rng), name))
        PATTERNS[name].__doc__ = fn.__doc__
        return fn
    return register


def R(expr: str) -> Arg:  # noqa: N802 - a reference, checked with refers_to
    return Arg(Ref(expr))


class Builder:
    """Collects the blocks and facts of one pattern row."""

    def __init__(self, draw: Draw, name: str):
        self.d = draw
        self.name = name
        self.blocks: list[TopBlock] = []
        self.facts: list[Fact] = []
        self.extra: list[dict] = []

    def add(self, tf_type: str, label: str, body: dict, keyword: str = "resource") -> str:
        block, facts = lower(tf_type, label, body, keyword)
        self.blocks.append(block)
        self.facts.extend(facts)
        return f"{tf_type}.{label}" if keyword == "resource" else f"data.{tf_type}.{label}"

    def state(self, path: str, say: str) -> None:
        """State the latest fact at `path` with `say` (`{v}` is its value)."""
        fact = next(f for f in reversed(self.facts) if f.path == path)
        fact.say = say.format(v=fact.matcher)

    def block(self, block: TopBlock) -> None:
        self.blocks.append(block)

    def spec(self, title: str, topic: str) -> Spec:
        said = [f.say for f in self.facts if f.say and not f.label]
        what = title + (": " + words.join(said) if said else "")
        return Spec(self.blocks, self.facts, what, [topic, "pattern", self.name, "generated"], self.extra)


def policy_doc(statements: list[dict]) -> Json:
    return Json({"Version": "2012-10-17", "Statement": statements})


def assume(service: str) -> Json:
    return policy_doc([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


# -- S3 ----------------------------------------------------------------------------------------------------


@pattern("s3-secure-bucket")
def s3_secure_bucket(b: Builder) -> Spec:
    d = b.d
    name = d.bucket()
    b.add("aws_s3_bucket", "this", {"bucket": S(name, named(d, name))})
    b.add("aws_s3_bucket_versioning", "this", {"bucket": R("aws_s3_bucket.this.id"),
                                               "versioning_configuration": Block({"status": S("Enabled",
                                                                                              "versioning on")})})
    algo = d.choice(("aws:kms", "AES256"))
    b.add("aws_s3_bucket_server_side_encryption_configuration", "this", {
        "bucket": R("aws_s3_bucket.this.id"),
        "rule": Block({"apply_server_side_encryption_by_default": Block({
            "sse_algorithm": S(algo, "KMS encryption" if algo == "aws:kms" else "SSE-S3 encryption")})})})
    b.add("aws_s3_bucket_public_access_block", "this", {
        "bucket": R("aws_s3_bucket.this.id"), "block_public_acls": S(True, "public access blocked"),
        "block_public_policy": S(True, ""), "ignore_public_acls": S(True, ""), "restrict_public_buckets": S(True, "")})
    b.add("aws_s3_bucket_policy", "this", {
        "bucket": R("aws_s3_bucket.this.id"),
        "policy": S(policy_doc([{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                                 "Action": "s3:*",
                                 "Resource": [Ref("aws_s3_bucket.this.arn"), Ref('"${aws_s3_bucket.this.arn}/*"')],
                                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
                    "a policy that denies requests without TLS", matcher={"contains": "aws:SecureTransport"})})
    return b.spec(d.choice(("A locked-down S3 bucket", "A private S3 bucket wired with its settings",
                            "An S3 bucket with versioning, encryption, a public access block and a bucket policy")),
                  "s3")


@pattern("s3-logging-lifecycle")
def s3_logging_lifecycle(b: Builder) -> Spec:
    d = b.d
    data, logs = d.bucket("data"), d.bucket("logs")
    days = d.choice((30, 90, 180))
    b.add("aws_s3_bucket", "data", {"bucket": S(data, f"a data bucket {data}")})
    b.add("aws_s3_bucket", "logs", {"bucket": S(logs, f"a log bucket {logs}")})
    b.add("aws_s3_bucket_logging", "data", {"bucket": R("aws_s3_bucket.data.id"),
                                            "target_bucket": R("aws_s3_bucket.logs.id"),
                                            "target_prefix": S("access/", "access logs under access/")})
    b.add("aws_s3_bucket_lifecycle_configuration", "logs", {
        "bucket": R("aws_s3_bucket.logs.id"),
        "rule": Block({"id": Q("expire-logs"), "status": Q("Enabled"), "filter": Block({}),
                       "expiration": Block({"days": S(days, f"logs expiring after {words.days(d, days)}")})})})
    return b.spec("S3 access logging with a log bucket that cleans itself up", "s3")


@pattern("s3-to-sqs-notification")
def s3_sqs(b: Builder) -> Spec:
    d = b.d
    bucket, queue = d.bucket("uploads"), d.name("uploads")
    suffix = d.choice((".csv", ".json", ".parquet", ".jpg"))
    b.add("aws_s3_bucket", "uploads", {"bucket": S(bucket, f"bucket {bucket}")})
    b.add("aws_sqs_queue", "uploads", {"name": S(queue, f"queue {queue}")})
    b.add("aws_sqs_queue_policy", "uploads", {
        "queue_url": R("aws_sqs_queue.uploads.id"),
        "policy": Arg(policy_doc([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                   "Action": "sqs:SendMessage", "Resource": Ref("aws_sqs_queue.uploads.arn"),
                                   "Condition": {"ArnEquals": {"aws:SourceArn": Ref("aws_s3_bucket.uploads.arn")}}}]),
                      state=False)})
    b.add("aws_s3_bucket_notification", "uploads", {
        "bucket": R("aws_s3_bucket.uploads.id"),
        "queue": Block({"queue_arn": R("aws_sqs_queue.uploads.arn"), "events": Q(["s3:ObjectCreated:*"]),
                        "filter_suffix": S(suffix, f"only for {suffix} files")}),
        "depends_on": Q([Ref("aws_sqs_queue_policy.uploads")])})
    return b.spec("S3 upload events sent to an SQS queue, with the queue policy that allows it", "s3")


@pattern("s3-to-lambda-notification")
def s3_lambda(b: Builder) -> Spec:
    d = b.d
    bucket = d.bucket("incoming")
    prefix = d.choice(("incoming/", "uploads/", "raw/"))
    b.add("aws_s3_bucket", "incoming", {"bucket": S(bucket, f"bucket {bucket}")})
    b.add("aws_lambda_permission", "s3", {"statement_id": Q("AllowS3Invoke"), "action": Q("lambda:InvokeFunction"),
                                          "function_name": C(d.name("processor"), "Function"),
                                          "principal": S("s3.amazonaws.com", ""),
                                          "source_arn": R("aws_s3_bucket.incoming.arn")})
    b.add("aws_s3_bucket_notification", "incoming", {
        "bucket": R("aws_s3_bucket.incoming.id"),
        "lambda_function": Block({"lambda_function_arn": C(d.arn("lambda", f"function:{d.name('processor')}"),
                                                           "Function ARN"),
                                  "events": Q(["s3:ObjectCreated:*"]),
                                  "filter_prefix": S(prefix, f"for objects under {prefix}")}),
        "depends_on": Q([Ref("aws_lambda_permission.s3")])})
    return b.spec("an S3 upload trigger for an existing Lambda, with the permission S3 needs", "s3")


@pattern("cloudfront-s3-site")
def cloudfront_site(b: Builder) -> Spec:
    d = b.d
    bucket = d.bucket("site")
    b.add("aws_s3_bucket", "site", {"bucket": S(bucket, f"bucket {bucket}")})
    b.add("aws_cloudfront_origin_access_control", "site", {
        "name": Q(f"{bucket}-oac"), "origin_access_control_origin_type": S("s3", "origin access control"),
        "signing_behavior": Q("always"), "signing_protocol": Q("sigv4")})
    price = d.choice(("PriceClass_100", "PriceClass_All"))
    b.add("aws_cloudfront_distribution", "site", {
        "enabled": Q(True), "default_root_object": S("index.html", "index.html as root object"),
        "price_class": S(price, price),
        "origin": Block({"domain_name": R("aws_s3_bucket.site.bucket_regional_domain_name"),
                         "origin_id": Q("site"),
                         "origin_access_control_id": R("aws_cloudfront_origin_access_control.site.id")}),
        "default_cache_behavior": Block({"target_origin_id": Q("site"), "allowed_methods": Q(["GET", "HEAD"]),
                                         "cached_methods": Q(["GET", "HEAD"]),
                                         "viewer_protocol_policy": S("redirect-to-https", "HTTPS only"),
                                         "cache_policy_id": Q("658327ea-f89d-4fab-a63d-7e88639e58f6")}),
        "restrictions": Block({"geo_restriction": Block({"restriction_type": Q("none")})}),
        "viewer_certificate": Block({"cloudfront_default_certificate": Q(True)})})
    b.add("aws_s3_bucket_policy", "site", {
        "bucket": R("aws_s3_bucket.site.id"),
        "policy": Arg(policy_doc([{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                                   "Action": "s3:GetObject", "Resource": Ref('"${aws_s3_bucket.site.arn}/*"'),
                                   "Condition": {"StringEquals": {"AWS:SourceArn":
                                                                  Ref("aws_cloudfront_distribution.site.arn")}}}]),
                      matcher={"contains": "cloudfront.amazonaws.com"})})
    return b.spec("A static site: private S3 bucket behind CloudFront with origin access control", "cloudfront")


# -- networking --------------------------------------------------------------------------------------------


def _vpc(b: Builder, cidr: str, name: str) -> None:
    b.add("aws_vpc", "main", {"cidr_block": S(cidr, f"a VPC {cidr}"), "enable_dns_hostnames": Q(True),
                              "tags": Arg({"Name": name}, f"named {name}", matcher={"tags.Name": name})})


@pattern("vpc-public-private-nat")
def vpc_nat(b: Builder) -> Spec:
    d = b.d
    cidr = f"10.{d.between(0, 200)}.0.0/16"
    base = cidr.rsplit(".", 2)[0]
    _vpc(b, cidr, d.name("vpc"))
    b.add("aws_internet_gateway", "main", {"vpc_id": R("aws_vpc.main.id")})
    pub, priv = f"{base}.0.0/24", f"{base}.10.0/24"
    b.add("aws_subnet", "public", {"vpc_id": R("aws_vpc.main.id"), "cidr_block": S(pub, f"public subnet {pub}"),
                                   "availability_zone": S(d.az(0), f"in {d.az(0)}"),
                                   "map_public_ip_on_launch": Q(True)})
    b.add("aws_subnet", "private", {"vpc_id": R("aws_vpc.main.id"), "cidr_block": S(priv, f"private subnet {priv}"),
                                    "availability_zone": Q(d.az(0))})
    b.add("aws_eip", "nat", {"domain": Q("vpc")})
    b.add("aws_nat_gateway", "main", {"allocation_id": R("aws_eip.nat.id"), "subnet_id": R("aws_subnet.public.id")})
    b.add("aws_route_table", "public", {"vpc_id": R("aws_vpc.main.id"), "route": Block({
        "cidr_block": Q("0.0.0.0/0"), "gateway_id": R("aws_internet_gateway.main.id")})})
    b.add("aws_route_table", "private", {"vpc_id": R("aws_vpc.main.id"), "route": Block({
        "cidr_block": Q("0.0.0.0/0"), "nat_gateway_id": R("aws_nat_gateway.main.id")})})
    b.add("aws_route_table_association", "public", {"subnet_id": R("aws_subnet.public.id"),
                                                    "route_table_id": R("aws_route_table.public.id")})
    b.add("aws_route_table_association", "private", {"subnet_id": R("aws_subnet.private.id"),
                                                     "route_table_id": R("aws_route_table.private.id")})
    return b.spec(d.choice(("A VPC with a public and a private subnet, an internet gateway and a NAT gateway",
                            "VPC networking: public subnet through an IGW, private subnet out through NAT")), "vpc")


@pattern("vpc-public-subnets")
def vpc_public(b: Builder) -> Spec:
    d = b.d
    cidr = f"10.{d.between(0, 200)}.0.0/16"
    count = d.between(2, 3)
    _vpc(b, cidr, d.name("vpc"))
    b.add("aws_internet_gateway", "main", {"vpc_id": R("aws_vpc.main.id")})
    b.add("aws_subnet", "public", {"count": S(count, f"{count} public subnets"), "vpc_id": R("aws_vpc.main.id"),
                                   "cidr_block": Q(Ref(f'cidrsubnet(aws_vpc.main.cidr_block, 8, count.index)')),
                                   "availability_zone": Q(Ref(
                                       f'"{d.region}${{element(["a", "b", "c"], count.index)}}"')),
                                   "map_public_ip_on_launch": S(True, "public IPs on launch")})
    b.add("aws_route_table", "public", {"vpc_id": R("aws_vpc.main.id"), "route": Block({
        "cidr_block": Q("0.0.0.0/0"), "gateway_id": R("aws_internet_gateway.main.id")})})
    b.add("aws_route_table_association", "public", {"count": Q(count),
                                                    "subnet_id": R("aws_subnet.public[count.index].id"),
                                                    "route_table_id": R("aws_route_table.public.id")})
    return b.spec("A VPC with public subnets routed through an internet gateway", "vpc")


@pattern("vpc-s3-endpoint")
def vpc_endpoint(b: Builder) -> Spec:
    d = b.d
    b.add("aws_route_table", "private", {"vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_vpc_endpoint", "s3", {"vpc_id": C(d.aws_id("vpc"), "VPC"),
                                     "service_name": S(f"com.amazonaws.{d.region}.s3",
                                                       f"for com.amazonaws.{d.region}.s3"),
                                     "vpc_endpoint_type": S("Gateway", "gateway endpoint"),
                                     "route_table_ids": Arg([Ref("aws_route_table.private.id")])})
    return b.spec("A private route table and an S3 gateway endpoint attached to it", "vpc")


@pattern("vpc-flow-logs")
def vpc_flow_logs(b: Builder) -> Spec:
    d = b.d
    days = d.choice((14, 30, 90))
    b.add("aws_cloudwatch_log_group", "flow", {"name": S(f"/vpc/{d.name('flow')}", ""),
                                               "retention_in_days": S(days, f"kept {words.days(d, days)}")})
    b.state("name", "log group {v}")
    b.add("aws_iam_role", "flow", {"name": Q(d.name("flow-logs")), "assume_role_policy": Arg(
        assume("vpc-flow-logs.amazonaws.com"), matcher={"contains": "vpc-flow-logs.amazonaws.com"})})
    b.add("aws_iam_role_policy", "flow", {"role": R("aws_iam_role.flow.id"), "policy": Arg(policy_doc([{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": Ref('"${aws_cloudwatch_log_group.flow.arn}:*"')}]), state=False)})
    traffic = d.choice(("ALL", "REJECT"))
    b.add("aws_flow_log", "vpc", {"vpc_id": C(d.aws_id("vpc"), "VPC"), "traffic_type": S(traffic, f"{traffic} traffic"),
                                  "log_destination": R("aws_cloudwatch_log_group.flow.arn"),
                                  "iam_role_arn": R("aws_iam_role.flow.arn")})
    return b.spec("VPC flow logs into CloudWatch Logs with the role they need", "vpc")


@pattern("security-group-rules")
def sg_rules(b: Builder) -> Spec:
    d = b.d
    name = d.name("web")
    office = d.office_cidr()
    b.add("aws_security_group", "web", {"name": S(name, f"security group {name}"), "description": Q("web tier"),
                                        "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_vpc_security_group_ingress_rule", "https", {
        "security_group_id": R("aws_security_group.web.id"), "ip_protocol": Q("tcp"),
        "from_port": S(443, "HTTPS from anywhere"), "to_port": Q(443), "cidr_ipv4": S("0.0.0.0/0", "")})
    b.add("aws_vpc_security_group_ingress_rule", "ssh", {
        "security_group_id": R("aws_security_group.web.id"), "ip_protocol": Q("tcp"),
        "from_port": S(22, f"SSH only from {office}"), "to_port": Q(22), "cidr_ipv4": S(office, "")})
    b.add("aws_vpc_security_group_egress_rule", "all", {
        "security_group_id": R("aws_security_group.web.id"), "ip_protocol": S("-1", "all egress"),
        "cidr_ipv4": Q("0.0.0.0/0")})
    b.extra.append({"resource": "aws_vpc_security_group_ingress_rule",
                    "where": {"from_port": 22, "cidr_ipv4": "0.0.0.0/0"}, "count": 0})
    return b.spec("A security group with separate rule resources", "security-group")


@pattern("sg-db-from-app")
def sg_db(b: Builder) -> Spec:
    d = b.d
    port = d.choice((5432, 3306, 6379))
    b.add("aws_security_group", "app", {"name": S(d.name("app"), ""), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.state("name", "an app group {v}")
    b.add("aws_security_group", "db", {"name": S(d.name("db"), ""), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.state("name", "a database group {v}")
    b.add("aws_vpc_security_group_ingress_rule", "db_from_app", {
        "security_group_id": R("aws_security_group.db.id"),
        "referenced_security_group_id": R("aws_security_group.app.id"),
        "ip_protocol": Q("tcp"), "from_port": S(port, f"the database group admitting port {port} from the app group"),
        "to_port": Q(port)})
    return b.spec("Two security groups where the database only accepts the app tier", "security-group")


@pattern("alb-target-group-listener")
def alb_basic(b: Builder) -> Spec:
    d = b.d
    port = d.choice((80, 8080, 3000))
    path = d.choice(("/health", "/healthz"))
    b.add("aws_lb", "web", {"name": S(d.name("alb")[:32], ""), "load_balancer_type": Q("application"),
                            "subnets": C([d.aws_id("subnet"), d.aws_id("subnet")], "Public subnets", matcher=None),
                            "security_groups": C([d.aws_id("sg")], "Security group", matcher=None)})
    b.state("name", "an ALB {v}")
    b.add("aws_lb_target_group", "web", {"name": Q(d.name("tg")[:32]), "port": S(port, f"targets on port {port}"),
                                         "protocol": Q("HTTP"), "vpc_id": C(d.aws_id("vpc"), "VPC"),
                                         "target_type": Q("ip"),
                                         "health_check": Block({"path": S(path, f"health check {path}")})})
    b.add("aws_lb_listener", "http", {"load_balancer_arn": R("aws_lb.web.arn"), "port": S(80, "listening on 80"),
                                      "protocol": Q("HTTP"),
                                      "default_action": Block({"type": S("forward", "forwarding to the group"),
                                                               "target_group_arn": R("aws_lb_target_group.web.arn")})})
    return b.spec("An application load balancer with a target group and a listener", "alb")


@pattern("alb-https")
def alb_https(b: Builder) -> Spec:
    d = b.d
    b.add("aws_lb", "app", {"name": Q(d.name("alb")[:32]), "load_balancer_type": Q("application"),
                            "subnets": C([d.aws_id("subnet"), d.aws_id("subnet")], "Subnets", matcher=None)})
    b.add("aws_lb_target_group", "app", {"name": Q(d.name("app")[:32]), "port": Q(8080), "protocol": Q("HTTP"),
                                         "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_lb_listener", "https", {"load_balancer_arn": R("aws_lb.app.arn"), "port": S(443, "HTTPS on 443"),
                                       "protocol": S("HTTPS", ""),
                                       "ssl_policy": Q("ELBSecurityPolicy-TLS13-1-2-2021-06"),
                                       "certificate_arn": C(d.cert_arn(), "Certificate ARN"),
                                       "default_action": Block({"type": Q("forward"),
                                                                "target_group_arn": R("aws_lb_target_group.app.arn")})})
    b.add("aws_lb_listener", "http", {"load_balancer_arn": R("aws_lb.app.arn"), "port": S(80, "port 80"),
                                      "protocol": Q("HTTP"),
                                      "default_action": Block({"type": S("redirect", "redirecting to HTTPS"),
                                                               "redirect": Block({"port": Q("443"),
                                                                                  "protocol": Q("HTTPS"),
                                                                                  "status_code": Q("HTTP_301")})})})
    return b.spec("An ALB that serves HTTPS with an ACM certificate and redirects HTTP", "alb")


@pattern("alb-path-rule")
def alb_rule(b: Builder) -> Spec:
    d = b.d
    path = d.choice(("/api/*", "/admin/*", "/v2/*"))
    b.add("aws_lb_target_group", "api", {"name": Q(d.name("api")[:32]), "port": S(8080, "API targets on 8080"),
                                         "protocol": Q("HTTP"), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    listener = d.arn("elasticloadbalancing", f"listener/app/{d.name('alb')}/{d.hex(16)}/{d.hex(16)}")
    b.add("aws_lb_listener_rule", "api", {"listener_arn": C(listener, "Listener ARN"),
                                          "priority": S(10, "rule priority 10"),
                                          "action": Block({"type": Q("forward"),
                                                           "target_group_arn": R("aws_lb_target_group.api.arn")}),
                                          "condition": Block({"path_pattern": Block({"values": S(
                                              [path], f"for {path}", matcher={"contains": path})})})})
    return b.spec("A path-based listener rule forwarding to a new target group", "alb")


@pattern("nlb-tcp")
def nlb(b: Builder) -> Spec:
    d = b.d
    port = d.choice((5432, 6379, 1883, 9092))
    b.add("aws_lb", "nlb", {"name": Q(d.name("nlb")[:32]),
                            "load_balancer_type": S("network", "a network load balancer"),
                            "internal": S(True, "internal"),
                            "subnets": C([d.aws_id("subnet"), d.aws_id("subnet")], "Subnets", matcher=None)})
    b.add("aws_lb_target_group", "tcp", {"name": Q(d.name("tcp")[:32]), "port": S(port, f"TCP {port}"),
                                         "protocol": S("TCP", ""), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_lb_listener", "tcp", {"load_balancer_arn": R("aws_lb.nlb.arn"), "port": S(port, ""),
                                     "protocol": S("TCP", ""),
                                     "default_action": Block({"type": Q("forward"),
                                                              "target_group_arn": R("aws_lb_target_group.tcp.arn")})})
    return b.spec("A TCP network load balancer with its target group and listener", "alb")


# -- serverless --------------------------------------------------------------------------------------------


def _lambda_role(b: Builder) -> None:
    b.add("aws_iam_role", "lambda", {"name": Q(b.d.name("lambda")), "assume_role_policy": Arg(
        assume("lambda.amazonaws.com"), matcher={"contains": "lambda.amazonaws.com"})})
    b.add("aws_iam_role_policy_attachment", "logs", {
        "role": R("aws_iam_role.lambda.name"),
        "policy_arn": Q("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")})


def _lambda(b: Builder, extra: dict | None = None) -> str:
    d = b.d
    runtime, handler = d.choice((("python3.12", "app.handler"), ("nodejs20.x", "index.handler"),
                                 ("python3.13", "main.handler")))
    name = d.name("handler")
    b.add("aws_lambda_function", "this", {"function_name": S(name, f"a function {name}"),
                                          "role": R("aws_iam_role.lambda.arn"), "runtime": S(runtime, f"on {runtime}"),
                                          "handler": Q(handler), "filename": Q("build/lambda.zip"), **(extra or {})})
    return name


@pattern("lambda-basic-role-logs")
def lambda_basic(b: Builder) -> Spec:
    d = b.d
    _lambda_role(b)
    _lambda(b, extra={"timeout": S(30, "a 30-second timeout")})
    days = d.choice((7, 14, 30))
    log_name = Ref('"/aws/lambda/${aws_lambda_function.this.function_name}"')
    b.add("aws_cloudwatch_log_group", "lambda", {"name": Arg(log_name),
                                                 "retention_in_days": S(days, f"its logs kept {words.days(d, days)}")})
    return b.spec("A Lambda with its execution role, basic logging policy and log group", "lambda")


@pattern("lambda-schedule")
def lambda_schedule(b: Builder) -> Spec:
    d = b.d
    _lambda_role(b)
    _lambda(b)
    expr = d.choice(("rate(5 minutes)", "rate(1 hour)", "cron(0 3 * * ? *)"))
    b.add("aws_cloudwatch_event_rule", "schedule", {"name": Q(d.name("schedule")),
                                                    "schedule_expression": S(expr, f"run {expr}")})
    b.add("aws_cloudwatch_event_target", "lambda", {"rule": R("aws_cloudwatch_event_rule.schedule.name"),
                                                    "arn": R("aws_lambda_function.this.arn")})
    b.add("aws_lambda_permission", "events", {"statement_id": Q("AllowEventBridge"),
                                              "action": Q("lambda:InvokeFunction"),
                                              "function_name": R("aws_lambda_function.this.function_name"),
                                              "principal": S("events.amazonaws.com", ""),
                                              "source_arn": R("aws_cloudwatch_event_rule.schedule.arn")})
    return b.spec("A scheduled Lambda: role, function, EventBridge rule, target and invoke permission", "lambda")


@pattern("lambda-sqs-trigger")
def lambda_sqs(b: Builder) -> Spec:
    d = b.d
    _lambda_role(b)
    b.add("aws_iam_role_policy_attachment", "sqs", {
        "role": R("aws_iam_role.lambda.name"),
        "policy_arn": Q("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")})
    b.add("aws_sqs_queue", "jobs", {"name": S(d.name("jobs"), ""), "visibility_timeout_seconds": Q(180)})
    b.state("name", "a queue {v}")
    _lambda(b, extra={"timeout": Q(30)})
    size = d.choice((5, 10, 25))
    b.add("aws_lambda_event_source_mapping", "jobs", {"event_source_arn": R("aws_sqs_queue.jobs.arn"),
                                                      "function_name": R("aws_lambda_function.this.arn"),
                                                      "batch_size": S(size, f"batches of {size}")})
    return b.spec("A Lambda consuming an SQS queue", "lambda")


@pattern("lambda-http-api")
def lambda_http_api(b: Builder) -> Spec:
    d = b.d
    _lambda_role(b)
    _lambda(b)
    route = d.choice(("GET /items", "POST /orders", "ANY /{proxy+}", "GET /health"))
    b.add("aws_apigatewayv2_api", "http", {"name": S(d.name("api"), ""), "protocol_type": S("HTTP", "an HTTP API")})
    b.state("name", "API {v}")
    b.add("aws_apigatewayv2_integration", "lambda", {"api_id": R("aws_apigatewayv2_api.http.id"),
                                                     "integration_type": Q("AWS_PROXY"),
                                                     "integration_uri": R("aws_lambda_function.this.invoke_arn"),
                                                     "payload_format_version": Q("2.0")})
    b.add("aws_apigatewayv2_route", "this", {"api_id": R("aws_apigatewayv2_api.http.id"),
                                             "route_key": S(route, f"route {route}"),
                                             "target": Arg(Ref(
                                                 '"integrations/${aws_apigatewayv2_integration.lambda.id}"'))})
    b.add("aws_apigatewayv2_stage", "default", {"api_id": R("aws_apigatewayv2_api.http.id"),
                                                "name": Q("$default"), "auto_deploy": S(True, "auto-deployed")})
    b.add("aws_lambda_permission", "api", {"statement_id": Q("AllowApiGateway"), "action": Q("lambda:InvokeFunction"),
                                           "function_name": R("aws_lambda_function.this.function_name"),
                                           "principal": S("apigateway.amazonaws.com", ""),
                                           "source_arn": Arg(Ref('"${aws_apigatewayv2_api.http.execution_arn}/*/*"'))})
    return b.spec("An HTTP API in front of a Lambda", "apigateway")


@pattern("lambda-function-url")
def lambda_url(b: Builder) -> Spec:
    d = b.d
    _lambda_role(b)
    _lambda(b)
    auth = d.choice(("NONE", "AWS_IAM"))
    b.add("aws_lambda_function_url", "this", {"function_name": R("aws_lambda_function.this.function_name"),
                                              "authorization_type": S(auth, f"a function URL with {auth} auth")})
    b.block(TopBlock("output", ("url",), {"value": Ref("aws_lambda_function_url.this.function_url")}))
    b.extra.append({"output": "*", "where": {"value": {"refers_to": "aws_lambda_function_url"}}})
    return b.spec("A Lambda with a function URL, and the URL as an output", "lambda")


@pattern("rest-api-lambda")
def rest_api(b: Builder) -> Spec:
    d = b.d
    part = d.choice(("orders", "items", "users", "reports"))
    stage = d.choice(("prod", "v1", "live"))
    b.add("aws_api_gateway_rest_api", "api", {"name": S(d.name("api"), "")})
    b.state("name", "a REST API {v}")
    b.add("aws_api_gateway_resource", "part", {"rest_api_id": R("aws_api_gateway_rest_api.api.id"),
                                               "parent_id": R("aws_api_gateway_rest_api.api.root_resource_id"),
                                               "path_part": S(part, f"a /{part} resource")})
    b.add("aws_api_gateway_method", "get", {"rest_api_id": R("aws_api_gateway_rest_api.api.id"),
                                            "resource_id": R("aws_api_gateway_resource.part.id"),
                                            "http_method": S("GET", "GET on it"), "authorization": Q("NONE")})
    b.add("aws_api_gateway_integration", "get", {"rest_api_id": R("aws_api_gateway_rest_api.api.id"),
                                                 "resource_id": R("aws_api_gateway_resource.part.id"),
                                                 "http_method": R("aws_api_gateway_method.get.http_method"),
                                                 "integration_http_method": Q("POST"), "type": Q("AWS_PROXY"),
                                                 "uri": C(d.arn("apigateway", f"path/2015-03-31/functions/"
                                                                f"arn:aws:lambda:{d.region}:{d.account}:function:"
                                                                f"{d.name('handler')}/invocations"),
                                                          "Lambda invoke ARN")})
    b.add("aws_api_gateway_deployment", "api", {"rest_api_id": R("aws_api_gateway_rest_api.api.id"),
                                                "depends_on": Q([Ref("aws_api_gateway_integration.get")])})
    b.add("aws_api_gateway_stage", "api", {"rest_api_id": R("aws_api_gateway_rest_api.api.id"),
                                           "deployment_id": R("aws_api_gateway_deployment.api.id"),
                                           "stage_name": S(stage, f"stage {stage}")})
    return b.spec("A REST API with one resource proxied to a Lambda, deployed to a stage", "apigateway")


@pattern("step-functions")
def step_functions(b: Builder) -> Spec:
    d = b.d
    b.add("aws_iam_role", "sfn", {"name": Q(d.name("sfn")), "assume_role_policy": Arg(
        assume("states.amazonaws.com"), matcher={"contains": "states.amazonaws.com"})})
    wait = d.choice((30, 60, 300))
    name = d.name("workflow")
    b.add("aws_sfn_state_machine", "this", {"name": S(name, f"a state machine {name}"),
                                            "role_arn": R("aws_iam_role.sfn.arn"),
                                            "definition": S(Json({"StartAt": "Wait", "States": {
                                                "Wait": {"Type": "Wait", "Seconds": wait, "Next": "Done"},
                                                "Done": {"Type": "Succeed"}}}),
                                                f"that waits {wait} seconds then succeeds",
                                                matcher={"contains": "Wait"})})
    return b.spec("A Step Functions state machine with its role", "sfn")


# -- containers --------------------------------------------------------------------------------------------


@pattern("ecs-fargate-service")
def ecs_service(b: Builder) -> Spec:
    d = b.d
    port = d.choice((80, 8080, 3000))
    count = d.between(2, 4)
    cpu, mem = d.choice(((256, 512), (512, 1024)))
    b.add("aws_ecs_cluster", "main", {"name": S(d.name("cluster"), "")})
    b.state("name", "cluster {v}")
    b.add("aws_cloudwatch_log_group", "app", {"name": Q(f"/ecs/{d.name('app')}"), "retention_in_days": Q(14)})
    b.add("aws_iam_role", "execution", {"name": Q(d.name("ecs-exec")), "assume_role_policy": Arg(
        assume("ecs-tasks.amazonaws.com"), matcher={"contains": "ecs-tasks.amazonaws.com"})})
    b.add("aws_iam_role_policy_attachment", "execution", {
        "role": R("aws_iam_role.execution.name"),
        "policy_arn": Q("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")})
    image = d.image()
    b.add("aws_ecs_task_definition", "app", {
        "family": Q(d.name("app")), "requires_compatibilities": Q(["FARGATE"]), "network_mode": Q("awsvpc"),
        "cpu": S(str(cpu), f"{cpu} CPU"), "memory": S(str(mem), f"{mem} MiB"),
        "execution_role_arn": R("aws_iam_role.execution.arn"),
        "container_definitions": Arg(Json([{"name": "app", "image": image, "essential": True,
                                            "portMappings": [{"containerPort": port}],
                                            "logConfiguration": {"logDriver": "awslogs", "options": {
                                                "awslogs-group": Ref("aws_cloudwatch_log_group.app.name"),
                                                "awslogs-region": d.region, "awslogs-stream-prefix": "app"}}}]),
                                     f"image {image} on port {port}", matcher={"contains": image})})
    b.add("aws_ecs_service", "app", {"name": Q(d.name("app")), "cluster": R("aws_ecs_cluster.main.id"),
                                     "task_definition": R("aws_ecs_task_definition.app.arn"),
                                     "desired_count": S(count, f"{count} tasks"), "launch_type": S("FARGATE", ""),
                                     "network_configuration": Block({"subnets": C([d.aws_id("subnet"),
                                                                                   d.aws_id("subnet")],
                                                                                  "Private subnets", matcher=None),
                                                                     "security_groups": C([d.aws_id("sg")],
                                                                                          "Security group",
                                                                                          matcher=None)})})
    return b.spec("A Fargate service: cluster, log group, execution role, task definition and service", "ecs")


@pattern("ecr-with-lifecycle")
def ecr_lifecycle(b: Builder) -> Spec:
    d = b.d
    name = f"{d.project}/{d.choice(('api', 'worker', 'web'))}"
    keep = d.choice((10, 20, 30))
    b.add("aws_ecr_repository", "this", {"name": S(name, f"repository {name}"),
                                         "image_tag_mutability": S("IMMUTABLE", "immutable tags"),
                                         "image_scanning_configuration": Block({"scan_on_push": S(True, "scanning")})})
    b.add("aws_ecr_lifecycle_policy", "this", {"repository": R("aws_ecr_repository.this.name"), "policy": Arg(Json({
        "rules": [{"rulePriority": 1, "description": "keep recent images",
                   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                   "action": {"type": "expire"}}]}), f"only the last {keep} images kept",
        matcher={"contains": "imageCountMoreThan"})})
    return b.spec("An ECR repository and its lifecycle policy", "ecr")


@pattern("eks-cluster-nodegroup")
def eks(b: Builder) -> Spec:
    d = b.d
    version = d.choice(("1.31", "1.32", "1.33"))
    itype = d.choice(("t3.large", "m6i.large", "m7g.large"))
    low, high = d.between(1, 3), d.between(4, 10)
    b.add("aws_iam_role", "cluster", {"name": Q(d.name("eks-cluster")), "assume_role_policy": Arg(
        assume("eks.amazonaws.com"), matcher={"contains": "eks.amazonaws.com"})})
    b.add("aws_iam_role_policy_attachment", "cluster", {
        "role": R("aws_iam_role.cluster.name"), "policy_arn": Q("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")})
    subnets = [d.aws_id("subnet"), d.aws_id("subnet")]
    b.add("aws_eks_cluster", "main", {"name": S(d.name("eks"), ""), "version": S(version, f"Kubernetes {version}"),
                                      "role_arn": R("aws_iam_role.cluster.arn"),
                                      "vpc_config": Block({"subnet_ids": C(subnets, "Subnets", matcher=None)})})
    b.state("name", "cluster {v}")
    b.add("aws_iam_role", "node", {"name": Q(d.name("eks-node")), "assume_role_policy": Arg(
        assume("ec2.amazonaws.com"), matcher={"contains": "ec2.amazonaws.com"})})
    for label, arn in (("worker", "AmazonEKSWorkerNodePolicy"), ("cni", "AmazonEKS_CNI_Policy"),
                       ("ecr", "AmazonEC2ContainerRegistryReadOnly")):
        b.add("aws_iam_role_policy_attachment", f"node_{label}", {"role": R("aws_iam_role.node.name"),
                                                                  "policy_arn": Q(f"arn:aws:iam::aws:policy/{arn}")})
    b.add("aws_eks_node_group", "default", {"cluster_name": R("aws_eks_cluster.main.name"),
                                            "node_group_name": Q("default"),
                                            "node_role_arn": R("aws_iam_role.node.arn"),
                                            "subnet_ids": C(subnets, "Subnets", matcher=None),
                                            "instance_types": S([itype], f"{itype} nodes", matcher={"contains": itype}),
                                            "scaling_config": Block({"desired_size": Q(low),
                                                                     "min_size": S(low, f"min {low}"),
                                                                     "max_size": S(high, f"max {high}")})})
    return b.spec("An EKS cluster and a managed node group with their roles", "eks")


# -- databases ---------------------------------------------------------------------------------------------


@pattern("rds-subnet-sg")
def rds(b: Builder) -> Spec:
    d = b.d
    engine, version, port = d.choice((("postgres", "16", 5432), ("mysql", "8.0", 3306)))
    storage = d.choice((20, 50, 100))
    b.add("aws_db_subnet_group", "db", {"name": Q(d.name("db")), "subnet_ids": C([d.aws_id("subnet"),
                                                                                  d.aws_id("subnet")],
                                                                                 "Private subnets", matcher=None)})
    b.add("aws_security_group", "db", {"name": Q(d.name("db")), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    app = d.aws_id("sg")
    b.add("aws_vpc_security_group_ingress_rule", "db", {"security_group_id": R("aws_security_group.db.id"),
                                                        "referenced_security_group_id": C(app, "App security group"),
                                                        "ip_protocol": Q("tcp"),
                                                        "from_port": S(port, f"port {port} open to the app group"),
                                                        "to_port": Q(port)})
    b.block(Variable("db_password", {"type": Ref("string"), "sensitive": True}))
    b.add("aws_db_instance", "db", {"identifier": Q(d.name("db")), "engine": S(engine, f"{engine} {version}"),
                                    "engine_version": Q(version), "instance_class": Q("db.t4g.small"),
                                    "allocated_storage": S(storage, words.gigabytes(d, storage)),
                                    "username": Q("app_admin"),
                                    "password": S(Ref("var.db_password"), "password from a variable"),
                                    "db_subnet_group_name": R("aws_db_subnet_group.db.name"),
                                    "vpc_security_group_ids": Arg([Ref("aws_security_group.db.id")]),
                                    "storage_encrypted": S(True, "encrypted"), "skip_final_snapshot": Q(True)})
    return b.spec("An RDS instance in its own subnet group and security group", "rds")


@pattern("aurora-cluster")
def aurora(b: Builder) -> Spec:
    d = b.d
    count = d.between(2, 3)
    name = d.name("aurora")
    b.add("aws_db_subnet_group", "aurora", {"name": Q(name), "subnet_ids": C([d.aws_id("subnet"),
                                                                              d.aws_id("subnet")], "Subnets",
                                                                             matcher=None)})
    b.add("aws_rds_cluster", "main", {"cluster_identifier": S(name, f"cluster {name}"),
                                      "engine": S("aurora-postgresql", "Aurora PostgreSQL"),
                                      "master_username": Q("app_admin"), "manage_master_user_password": Q(True),
                                      "db_subnet_group_name": R("aws_db_subnet_group.aurora.name"),
                                      "storage_encrypted": S(True, "encrypted"), "skip_final_snapshot": Q(True)})
    b.add("aws_rds_cluster_instance", "main", {"count": S(count, f"{count} instances"),
                                               "identifier": Q(Ref(f'"{name}-${{count.index}}"')),
                                               "cluster_identifier": R("aws_rds_cluster.main.id"),
                                               "instance_class": S("db.r6g.large", "db.r6g.large"),
                                               "engine": Q(Ref("aws_rds_cluster.main.engine"))})
    return b.spec("An Aurora cluster with instances and a subnet group", "rds")


@pattern("rds-random-password-secret")
def rds_secret(b: Builder) -> Spec:
    d = b.d
    length = d.choice((24, 32, 40))
    b.add("random_password", "db", {"length": S(length, f"a random {length}-character password"),
                                    "special": Q(False)})
    b.add("aws_secretsmanager_secret", "db", {"name": S(f"{d.project}/{d.env}/db", "")})
    b.state("name", "stored in the secret {v}")
    b.add("aws_secretsmanager_secret_version", "db", {"secret_id": R("aws_secretsmanager_secret.db.id"),
                                                      "secret_string": R("random_password.db.result")})
    b.add("aws_db_instance", "db", {"identifier": Q(d.name("db")), "engine": Q("postgres"),
                                    "instance_class": Q("db.t4g.micro"), "allocated_storage": Q(20),
                                    "username": Q("app_admin"), "password": R("random_password.db.result"),
                                    "skip_final_snapshot": Q(True)})
    return b.spec("A Postgres RDS instance whose password is generated and kept in Secrets Manager", "rds")


@pattern("elasticache-redis")
def redis(b: Builder) -> Spec:
    d = b.d
    nodes = d.between(2, 3)
    b.add("aws_elasticache_subnet_group", "redis", {"name": Q(d.name("redis")),
                                                    "subnet_ids": C([d.aws_id("subnet"), d.aws_id("subnet")],
                                                                    "Subnets", matcher=None)})
    b.add("aws_security_group", "redis", {"name": Q(d.name("redis")), "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_elasticache_replication_group", "redis", {
        "replication_group_id": S(d.name("redis"), ""), "description": Q("cache"),
        "engine": Q("redis"), "node_type": S("cache.t4g.small", "cache.t4g.small nodes"),
        "num_cache_clusters": S(nodes, f"{nodes} nodes"), "automatic_failover_enabled": S(True, "automatic failover"),
        "transit_encryption_enabled": S(True, "TLS"), "at_rest_encryption_enabled": Q(True),
        "subnet_group_name": R("aws_elasticache_subnet_group.redis.name"),
        "security_group_ids": Arg([Ref("aws_security_group.redis.id")])})
    b.state("replication_group_id", "group {v}")
    return b.spec("A Redis replication group with its subnet group and security group", "elasticache")


@pattern("dynamodb-autoscaling")
def dynamodb_scaling(b: Builder) -> Spec:
    d = b.d
    high = d.choice((50, 100, 200))
    target = d.choice((50, 70))
    b.add("aws_dynamodb_table", "this", {"name": S(d.name("table"), ""),
                                         "billing_mode": S("PROVISIONED", "provisioned"),
                                         "read_capacity": Q(5), "write_capacity": Q(5), "hash_key": Q("id"),
                                         "attribute": Block({"name": Q("id"), "type": Q("S")})})
    b.state("name", "table {v}")
    b.add("aws_appautoscaling_target", "read", {"max_capacity": S(high, f"reads scaling up to {high}"),
                                                "min_capacity": Q(5),
                                                "resource_id": Arg(Ref('"table/${aws_dynamodb_table.this.name}"')),
                                                "scalable_dimension": Q("dynamodb:table:ReadCapacityUnits"),
                                                "service_namespace": Q("dynamodb")})
    b.add("aws_appautoscaling_policy", "read", {
        "name": Q("read-target"), "policy_type": Q("TargetTrackingScaling"),
        "resource_id": R("aws_appautoscaling_target.read.resource_id"),
        "scalable_dimension": R("aws_appautoscaling_target.read.scalable_dimension"),
        "service_namespace": R("aws_appautoscaling_target.read.service_namespace"),
        "target_tracking_scaling_policy_configuration": Block({
            "target_value": S(target, f"targeting {target}% utilization"),
            "predefined_metric_specification": Block({"predefined_metric_type":
                                                      Q("DynamoDBReadCapacityUtilization")})})})
    return b.spec("A provisioned DynamoDB table with read autoscaling", "dynamodb")


# -- messaging ---------------------------------------------------------------------------------------------


@pattern("sns-to-sqs")
def sns_sqs(b: Builder) -> Spec:
    d = b.d
    b.add("aws_sns_topic", "events", {"name": S(d.name("events"), "")})
    b.state("name", "topic {v}")
    b.add("aws_sqs_queue", "events", {"name": S(d.name("consumer"), "")})
    b.state("name", "queue {v}")
    b.add("aws_sqs_queue_policy", "events", {"queue_url": R("aws_sqs_queue.events.id"), "policy": Arg(policy_doc([{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": Ref("aws_sqs_queue.events.arn"),
        "Condition": {"ArnEquals": {"aws:SourceArn": Ref("aws_sns_topic.events.arn")}}}]),
        matcher={"contains": "sqs:SendMessage"})})
    raw = d.coin()
    body = {"topic_arn": R("aws_sns_topic.events.arn"), "protocol": S("sqs", "an SQS subscription"),
            "endpoint": R("aws_sqs_queue.events.arn")}
    if raw:
        body["raw_message_delivery"] = S(True, "raw delivery")
    b.add("aws_sns_topic_subscription", "events", body)
    return b.spec("an SNS topic fanned out to an SQS queue", "sns")


@pattern("sqs-with-dlq")
def sqs_dlq(b: Builder) -> Spec:
    d = b.d
    receives = d.choice((3, 5, 10))
    b.add("aws_sqs_queue", "dlq", {"name": S(d.name("jobs-dlq"), ""),
                                   "message_retention_seconds": S(1209600, "the DLQ keeping messages 14 days")})
    b.state("name", "a dead-letter queue {v}")
    b.add("aws_sqs_queue", "jobs", {"name": S(d.name("jobs"), ""), "redrive_policy": Arg(Json({
        "deadLetterTargetArn": Ref("aws_sqs_queue.dlq.arn"), "maxReceiveCount": receives}),
        f"moving messages after {receives} receives", matcher={"contains": "maxReceiveCount"})})
    b.state("name", "a queue {v}")
    return b.spec("An SQS queue with a dead-letter queue", "sqs")


@pattern("alarm-to-sns-email")
def alarm_email(b: Builder) -> Spec:
    d = b.d
    email = d.email()
    threshold = d.choice((70, 80, 90))
    b.add("aws_sns_topic", "alerts", {"name": Q(d.name("alerts"))})
    b.add("aws_sns_topic_subscription", "email", {"topic_arn": R("aws_sns_topic.alerts.arn"),
                                                  "protocol": S("email", ""),
                                                  "endpoint": S(email, f"emailing {email}")})
    b.add("aws_cloudwatch_metric_alarm", "cpu", {
        "alarm_name": Q(d.name("cpu-high")), "namespace": Q("AWS/EC2"), "metric_name": S("CPUUtilization", ""),
        "statistic": Q("Average"), "period": Q(300), "evaluation_periods": Q(2),
        "comparison_operator": Q("GreaterThanThreshold"), "threshold": S(threshold, f"when CPU goes over {threshold}%"),
        "dimensions": Q({"InstanceId": d.aws_id("i")}),
        "alarm_actions": Arg([Ref("aws_sns_topic.alerts.arn")])})
    return b.spec("A CPU alarm that emails through an SNS topic", "cloudwatch")


@pattern("log-metric-filter-alarm")
def metric_filter(b: Builder) -> Spec:
    d = b.d
    word = d.choice(("ERROR", "Exception", "timeout"))
    group = f"/app/{d.name()}"
    b.add("aws_cloudwatch_log_group", "app", {"name": S(group, f"log group {group}"), "retention_in_days": Q(30)})
    b.add("aws_cloudwatch_log_metric_filter", "errors", {
        "name": Q("errors"), "log_group_name": R("aws_cloudwatch_log_group.app.name"),
        "pattern": S(word, f"counting lines with {word}"),
        "metric_transformation": Block({"name": Q("ErrorCount"), "namespace": Q(d.camel()), "value": Q("1")})})
    b.add("aws_cloudwatch_metric_alarm", "errors", {
        "alarm_name": Q(d.name("errors")), "namespace": Q(d.camel()), "metric_name": Q("ErrorCount"),
        "statistic": Q("Sum"), "period": Q(60), "evaluation_periods": Q(1),
        "threshold": S(5, "alarming above 5 a minute"),
        "comparison_operator": Q("GreaterThanThreshold")})
    return b.spec("A log metric filter and an alarm on it", "cloudwatch")


@pattern("kinesis-firehose-s3")
def firehose(b: Builder) -> Spec:
    d = b.d
    shards = d.between(1, 4)
    bucket = d.bucket("archive")
    b.add("aws_kinesis_stream", "events", {"name": Q(d.name("events")), "shard_count": S(shards, f"{shards} shards")})
    b.add("aws_s3_bucket", "archive", {"bucket": S(bucket, f"archived to {bucket}")})
    b.add("aws_iam_role", "firehose", {"name": Q(d.name("firehose")), "assume_role_policy": Arg(
        assume("firehose.amazonaws.com"), matcher={"contains": "firehose.amazonaws.com"})})
    b.add("aws_kinesis_firehose_delivery_stream", "archive", {
        "name": Q(d.name("archive")), "destination": S("extended_s3", ""),
        "kinesis_source_configuration": Block({"kinesis_stream_arn": R("aws_kinesis_stream.events.arn"),
                                               "role_arn": R("aws_iam_role.firehose.arn")}),
        "extended_s3_configuration": Block({"role_arn": R("aws_iam_role.firehose.arn"),
                                            "bucket_arn": R("aws_s3_bucket.archive.arn")})})
    return b.spec("A Kinesis stream archived to S3 through Firehose", "kinesis")


# -- IAM, KMS, security ------------------------------------------------------------------------------------


@pattern("kms-key-alias")
def kms_alias(b: Builder) -> Spec:
    d = b.d
    alias = f"alias/{d.name()}"
    b.add("aws_kms_key", "this", {"description": Q(f"{d.project} data"), "enable_key_rotation": S(True, "rotation on"),
                                  "deletion_window_in_days": Q(30)})
    b.add("aws_kms_alias", "this", {"name": S(alias, f"alias {alias}"), "target_key_id": R("aws_kms_key.this.key_id")})
    return b.spec("A KMS key with an alias", "kms")


@pattern("s3-kms-encrypted")
def s3_kms(b: Builder) -> Spec:
    d = b.d
    bucket = d.bucket()
    b.add("aws_kms_key", "s3", {"description": Q("S3 encryption"),
                                "enable_key_rotation": S(True, "a rotating KMS key")})
    b.add("aws_s3_bucket", "this", {"bucket": S(bucket, f"bucket {bucket}")})
    b.add("aws_s3_bucket_server_side_encryption_configuration", "this", {
        "bucket": R("aws_s3_bucket.this.id"),
        "rule": Block({"apply_server_side_encryption_by_default": Block({
            "sse_algorithm": S("aws:kms", "encrypted with it"), "kms_master_key_id": R("aws_kms_key.s3.arn")}),
            "bucket_key_enabled": S(True, "bucket keys on")})})
    return b.spec("An S3 bucket encrypted with its own KMS key", "s3")


@pattern("ec2-instance-profile")
def instance_profile(b: Builder) -> Spec:
    d = b.d
    itype = d.choice(("t3.micro", "t3.small", "t4g.small"))
    b.add("aws_iam_role", "ec2", {"name": Q(d.name("ec2")), "assume_role_policy": Arg(
        assume("ec2.amazonaws.com"), matcher={"contains": "ec2.amazonaws.com"})})
    b.add("aws_iam_role_policy_attachment", "ssm", {
        "role": R("aws_iam_role.ec2.name"),
        "policy_arn": S("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "SSM access")})
    b.add("aws_iam_instance_profile", "ec2", {"name": Q(d.name("ec2")), "role": R("aws_iam_role.ec2.name")})
    b.add("aws_instance", "app", {"ami": C(d.ami(), "AMI"), "instance_type": S(itype, itype),
                                  "iam_instance_profile": R("aws_iam_instance_profile.ec2.name"),
                                  "metadata_options": Block({"http_tokens": S("required", "IMDSv2")})})
    return b.spec("An EC2 instance with an instance profile for Session Manager", "ec2")


@pattern("iam-group-users")
def iam_group(b: Builder) -> Spec:
    d = b.d
    group = d.name("developers")
    users = [f"{n}.{d.choice(('ng', 'diaz', 'khan', 'meyer', 'rossi'))}" for n in d.rng.sample(
        ["ana", "ben", "chen", "dara", "eli", "fatima", "gus"], 2)]
    b.add("aws_iam_group", "devs", {"name": S(group, f"group {group}")})
    b.add("aws_iam_group_policy_attachment", "read", {"group": R("aws_iam_group.devs.name"),
                                                      "policy_arn": S("arn:aws:iam::aws:policy/ReadOnlyAccess",
                                                                      "read-only access")})
    b.add("aws_iam_user", "devs", {"for_each": Q(Ref("toset([" + ", ".join(f'"{u}"' for u in users) + "])")),
                                   "name": Q(Ref("each.key"))})
    b.add("aws_iam_user_group_membership", "devs", {"for_each": Q(Ref("aws_iam_user.devs")),
                                                    "user": Q(Ref("each.value.name")),
                                                    "groups": Arg([Ref("aws_iam_group.devs.name")])})
    b.extra.append({"resource": "aws_iam_user", "where": {"for_each": {"contains": users[0]}}})
    return b.spec(f"IAM users {words.join(users)} in a group", "iam")


@pattern("github-oidc-role")
def github_oidc(b: Builder) -> Spec:
    d = b.d
    repo = f"{d.team}/{d.project}"
    b.add("aws_iam_openid_connect_provider", "github", {"url": S("https://token.actions.githubusercontent.com", ""),
                                                         "client_id_list": Q(["sts.amazonaws.com"])})
    b.add("aws_iam_role", "deploy", {"name": Q(d.name("deploy")), "assume_role_policy": Arg(policy_doc([{
        "Effect": "Allow", "Principal": {"Federated": Ref("aws_iam_openid_connect_provider.github.arn")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": f"repo:{repo}:*"}}}]),
        f"a role that GitHub Actions in {repo} can assume", matcher={"contains": f"repo:{repo}"})})
    return b.spec("GitHub Actions OIDC: the provider and a deploy role that trusts it", "iam")


@pattern("cloudtrail-bucket")
def cloudtrail(b: Builder) -> Spec:
    d = b.d
    bucket = d.bucket("trail")
    b.add("aws_s3_bucket", "trail", {"bucket": S(bucket, f"logs in {bucket}")})
    b.add("aws_s3_bucket_policy", "trail", {"bucket": R("aws_s3_bucket.trail.id"), "policy": Arg(policy_doc([
        {"Sid": "AclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": Ref("aws_s3_bucket.trail.arn")},
        {"Sid": "Write", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": Ref('"${aws_s3_bucket.trail.arn}/AWSLogs/*"')}]),
        matcher={"contains": "cloudtrail.amazonaws.com"})})
    multi = d.coin(0.7)
    b.add("aws_cloudtrail", "main", {"name": Q(d.name("trail")), "s3_bucket_name": R("aws_s3_bucket.trail.id"),
                                     "is_multi_region_trail": S(multi, "multi-region" if multi else "single-region"),
                                     "enable_log_file_validation": S(True, "log file validation"),
                                     "depends_on": Q([Ref("aws_s3_bucket_policy.trail")])})
    return b.spec("A CloudTrail trail writing to its own bucket", "cloudtrail")


@pattern("wafv2-alb")
def waf(b: Builder) -> Spec:
    d = b.d
    name = d.name("waf")
    default = d.choice(("allow", "block"))
    b.add("aws_wafv2_web_acl", "main", {
        "name": S(name, f"a web ACL {name}"), "scope": S("REGIONAL", "regional"),
        "default_action": Block({default: Arg(Block({}), f"{default}ing by default", matcher=None)}),
        "visibility_config": Block({"cloudwatch_metrics_enabled": S(True, "metrics on"), "metric_name": Q("waf"),
                                    "sampled_requests_enabled": Q(True)})})
    b.add("aws_wafv2_web_acl_association", "alb", {"resource_arn": C(d.arn(
        "elasticloadbalancing", f"loadbalancer/app/{d.name('alb')}/{d.hex(16)}"), "ALB ARN"),
        "web_acl_arn": R("aws_wafv2_web_acl.main.arn")})
    return b.spec("A regional WAF web ACL attached to an ALB", "security")


@pattern("backup-plan")
def backup(b: Builder) -> Spec:
    d = b.d
    days = d.choice((7, 14, 35))
    schedule = d.choice(("cron(0 5 * * ? *)", "cron(0 1 * * ? *)"))
    b.add("aws_backup_vault", "main", {"name": S(d.name("vault"), "")})
    b.state("name", "vault {v}")
    b.add("aws_backup_plan", "daily", {"name": Q(d.name("daily")), "rule": Block({
        "rule_name": Q("daily"), "target_vault_name": R("aws_backup_vault.main.name"),
        "schedule": S(schedule, f"backups on {schedule}"),
        "lifecycle": Block({"delete_after": S(days, f"kept {words.days(d, days)}")})})})
    b.add("aws_iam_role", "backup", {"name": Q(d.name("backup")), "assume_role_policy": Arg(
        assume("backup.amazonaws.com"), matcher={"contains": "backup.amazonaws.com"})})
    tag = d.choice(("daily", "true"))
    b.add("aws_backup_selection", "tagged", {"name": Q("tagged"), "plan_id": R("aws_backup_plan.daily.id"),
                                             "iam_role_arn": R("aws_iam_role.backup.arn"),
                                             "selection_tag": Block({"type": Q("STRINGEQUALS"), "key": S("Backup", ""),
                                                                     "value": S(tag, "for resources tagged "
                                                                                     f"Backup={tag}")})})
    return b.spec("AWS Backup: vault, daily plan and a tag-based selection", "backup")


@pattern("budget-alert")
def budget_alert(b: Builder) -> Spec:
    d = b.d
    amount = d.choice((200, 1000, 2500))
    b.add("aws_sns_topic", "budget", {"name": Q(d.name("budget"))})
    b.add("aws_budgets_budget", "monthly", {"name": Q(d.name("monthly")), "budget_type": Q("COST"),
                                            "limit_amount": S(str(amount), f"a {amount} USD monthly budget"),
                                            "limit_unit": Q("USD"), "time_unit": S("MONTHLY", ""),
                                            "notification": Block({"comparison_operator": Q("GREATER_THAN"),
                                                                   "threshold": S(90, "notifying at 90%"),
                                                                   "threshold_type": Q("PERCENTAGE"),
                                                                   "notification_type": Q("FORECASTED"),
                                                                   "subscriber_sns_topic_arns": Arg(
                                                                       [Ref("aws_sns_topic.budget.arn")])})})
    return b.spec("A cost budget that notifies an SNS topic", "budgets")


# -- compute and DNS ---------------------------------------------------------------------------------------


@pattern("asg-launch-template")
def asg(b: Builder) -> Spec:
    d = b.d
    itype = d.choice(("t3.small", "m6i.large", "c6i.large"))
    low, high = d.between(1, 2), d.between(3, 8)
    b.add("aws_launch_template", "app", {"name_prefix": Q(f"{d.name('app')}-"), "image_id": C(d.ami(), "AMI"),
                                         "instance_type": S(itype, itype)})
    b.add("aws_lb_target_group", "app", {"name": Q(d.name("app")[:32]), "port": Q(80), "protocol": Q("HTTP"),
                                         "vpc_id": C(d.aws_id("vpc"), "VPC")})
    b.add("aws_autoscaling_group", "app", {"min_size": S(low, f"between {low}"),
                                           "max_size": S(high, f"and {high} instances"),
                                           "vpc_zone_identifier": C([d.aws_id("subnet"), d.aws_id("subnet")],
                                                                    "Subnets", matcher=None),
                                           "target_group_arns": Arg([Ref("aws_lb_target_group.app.arn")]),
                                           "launch_template": Block({"id": R("aws_launch_template.app.id"),
                                                                     "version": Q("$Latest")})})
    return b.spec("An Auto Scaling group from a launch template, registered in a target group", "autoscaling")


@pattern("ec2-ebs-attach")
def ec2_ebs(b: Builder) -> Spec:
    d = b.d
    size = d.choice((50, 100, 200))
    az = d.az()
    b.add("aws_instance", "db", {"ami": C(d.ami(), "AMI"), "instance_type": S("m6i.large", "an m6i.large"),
                                 "availability_zone": S(az, f"in {az}")})
    b.add("aws_ebs_volume", "data", {"availability_zone": R("aws_instance.db.availability_zone"),
                                     "size": S(size, f"a {words.gigabytes(d, size)} data volume"),
                                     "type": S("gp3", "gp3"), "encrypted": S(True, "encrypted")})
    b.add("aws_volume_attachment", "data", {"device_name": S("/dev/sdf", "attached as /dev/sdf"),
                                            "volume_id": R("aws_ebs_volume.data.id"),
                                            "instance_id": R("aws_instance.db.id")})
    return b.spec("An EC2 instance with an extra EBS volume attached", "ec2")


@pattern("ec2-eip")
def ec2_eip(b: Builder) -> Spec:
    d = b.d
    b.add("aws_instance", "bastion", {"ami": C(d.ami(), "AMI"), "instance_type": S("t3.micro", "a t3.micro bastion"),
                                      "subnet_id": C(d.aws_id("subnet"), "Public subnet")})
    b.add("aws_eip", "bastion", {"domain": Q("vpc"), "instance": R("aws_instance.bastion.id")})
    b.block(TopBlock("output", ("bastion_ip",), {"value": Ref("aws_eip.bastion.public_ip")}))
    b.extra.append({"output": "*", "where": {"value": {"refers_to": "aws_eip"}}})
    return b.spec("A bastion host with an Elastic IP, and its IP as an output", "ec2")


@pattern("route53-alias-alb")
def route53_alias(b: Builder) -> Spec:
    d = b.d
    host = d.hostname()
    b.add("aws_route53_zone", "main", {"name": S(d.domain, f"a hosted zone for {d.domain}")})
    b.add("aws_route53_record", "app", {"zone_id": R("aws_route53_zone.main.zone_id"), "name": S(host, f"{host}"),
                                        "type": S("A", "an alias A record"),
                                        "alias": Block({"name": C(f"{d.name('alb')}-{d.between(100000, 999999)}."
                                                                  f"{d.region}.elb.amazonaws.com", "ALB DNS name"),
                                                        "zone_id": C(d.zone_id(), "ALB zone ID"),
                                                        "evaluate_target_health": Q(True)})})
    return b.spec("A hosted zone and an alias record pointing at a load balancer", "route53")


@pattern("acm-dns-validation")
def acm(b: Builder) -> Spec:
    d = b.d
    host = d.hostname()
    b.add("aws_acm_certificate", "site", {"domain_name": S(host, f"a certificate for {host}"),
                                          "validation_method": S("DNS", "validated through DNS")})
    b.add("aws_route53_record", "validation", {
        "for_each": Q(Ref("{ for o in aws_acm_certificate.site.domain_validation_options : o.domain_name => o }")),
        "zone_id": C(d.zone_id(), "Hosted zone ID"), "name": Q(Ref("each.value.resource_record_name")),
        "type": Q(Ref("each.value.resource_record_type")), "records": Q([Ref("each.value.resource_record_value")]),
        "ttl": Q(60)})
    b.add("aws_acm_certificate_validation", "site", {"certificate_arn": R("aws_acm_certificate.site.arn")})
    b.blocks[-1].body["validation_record_fqdns"] = Ref("[for r in aws_route53_record.validation : r.fqdn]")
    b.extra.append({"resource": "aws_route53_record", "where": {"for_each": {"refers_to": "aws_acm_certificate"}}})
    return b.spec("An ACM certificate validated through Route 53", "acm")


@pattern("secret-with-kms")
def secret_kms(b: Builder) -> Spec:
    d = b.d
    name = f"{d.project}/{d.env}/api-key"
    b.add("aws_kms_key", "secrets", {"description": Q("secrets"), "enable_key_rotation": Q(True)})
    b.add("aws_secretsmanager_secret", "api", {"name": S(name, f"a secret {name}"),
                                               "kms_key_id": R("aws_kms_key.secrets.arn")})
    b.block(Variable("api_key", {"type": Ref("string"), "sensitive": True}))
    b.add("aws_secretsmanager_secret_version", "api", {"secret_id": R("aws_secretsmanager_secret.api.id"),
                                                       "secret_string": S(Ref("var.api_key"),
                                                                          "its value from a sensitive variable")})
    return b.spec("A secret encrypted with its own KMS key", "secretsmanager")


@pattern("random-suffix-bucket")
def random_bucket(b: Builder) -> Spec:
    d = b.d
    prefix = f"{d.project}-{d.choice(('assets', 'exports', 'tmp'))}"
    b.add("random_id", "suffix", {"byte_length": S(4, "a random 4-byte suffix")})
    b.add("aws_s3_bucket", "this", {"bucket": S(Ref(f'"{prefix}-${{random_id.suffix.hex}}"'),
                                                f"a bucket named {prefix}-<random hex>",
                                                matcher={"refers_to": "random_id"})})
    return b.spec("A globally unique S3 bucket name", "s3")


@pattern("guardduty-alerts")
def guardduty(b: Builder) -> Spec:
    d = b.d
    b.add("aws_guardduty_detector", "main", {"enable": S(True, "GuardDuty on")})
    b.add("aws_sns_topic", "findings", {"name": Q(d.name("findings"))})
    b.add("aws_cloudwatch_event_rule", "findings", {"name": Q(d.name("guardduty")), "event_pattern": Arg(Json({
        "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}), "findings",
        matcher={"contains": "aws.guardduty"})})
    b.state("event_pattern", "findings sent to a topic")
    b.add("aws_cloudwatch_event_target", "sns", {"rule": R("aws_cloudwatch_event_rule.findings.name"),
                                                 "arn": R("aws_sns_topic.findings.arn")})
    return b.spec("GuardDuty with its findings routed to SNS", "security")


@pattern("efs-mount-targets")
def efs(b: Builder) -> Spec:
    d = b.d
    mode = d.choice(("generalPurpose", "maxIO"))
    b.add("aws_efs_file_system", "shared", {"creation_token": Q(d.name("shared")), "encrypted": S(True, "encrypted"),
                                            "performance_mode": S(mode, f"{mode} mode")})
    subnets = [d.aws_id("subnet"), d.aws_id("subnet")]
    b.add("aws_efs_mount_target", "shared", {"for_each": Q(Ref("toset(var.subnet_ids)")),
                                             "file_system_id": R("aws_efs_file_system.shared.id"),
                                             "subnet_id": Q(Ref("each.value"))})
    b.block(Variable("subnet_ids", {"type": Ref("list(string)"), "default": subnets}))
    b.facts.append(Fact("var.subnet_ids", "subnet_ids", "variable", "default", {"contains": subnets[0]}, "",
                        "Subnets", ", ".join(subnets)))
    return b.spec("An encrypted EFS file system with a mount target in each subnet", "efs")


@pattern("ssm-parameters")
def ssm(b: Builder) -> Spec:
    d = b.d
    path = f"/{d.project}/{d.env}"
    b.add("aws_kms_key", "params", {"description": Q("parameters"), "enable_key_rotation": Q(True)})
    b.add("aws_ssm_parameter", "db_url", {"name": S(f"{path}/db_url", f"a SecureString {path}/db_url"),
                                          "type": S("SecureString", ""),
                                          "value": Q(Ref("var.db_url")), "key_id": R("aws_kms_key.params.key_id")})
    b.block(Variable("db_url", {"type": Ref("string"), "sensitive": True}))
    return b.spec("An SSM parameter encrypted with a customer key", "ssm")


@pattern("cognito-pool-client")
def cognito(b: Builder) -> Spec:
    d = b.d
    length = d.choice((10, 12, 14))
    b.add("aws_cognito_user_pool", "users", {"name": S(d.name("users"), ""),
                                             "password_policy": Block({"minimum_length": S(
                                                 length, f"passwords of {length}+ characters")})})
    b.state("name", "user pool {v}")
    b.add("aws_cognito_user_pool_client", "web", {"name": Q("web"), "user_pool_id": R("aws_cognito_user_pool.users.id"),
                                                  "generate_secret": S(False, "a public web client")})
    return b.spec("A Cognito user pool with a web client", "cognito")


# -- data sources ------------------------------------------------------------------------------------------


@pattern("data-secret-lookup")
def data_secret(b: Builder) -> Spec:
    d = b.d
    name = f"{d.env}/{d.project}/{d.choice(('api-token', 'db', 'smtp', 'signing-key'))}"
    b.add("aws_secretsmanager_secret", "existing", {"name": S(name, f"the existing secret {name}")}, keyword="data")
    b.add("aws_secretsmanager_secret_version", "existing",
          {"secret_id": R("data.aws_secretsmanager_secret.existing.id")}, keyword="data")
    b.block(TopBlock("output", ("secret_value",), {"value": Ref(
        "data.aws_secretsmanager_secret_version.existing.secret_string"), "sensitive": True}))
    b.extra.append({"output": "*", "where": {"sensitive": True,
                                             "value": {"refers_to": "data.aws_secretsmanager_secret_version"}}})
    return b.spec("Read a secret's current value and expose it as a sensitive output", "secretsmanager")


@pattern("data-ecr-lambda-image")
def data_ecr(b: Builder) -> Spec:
    d = b.d
    repo = f"{d.project}/{d.choice(('worker', 'api', 'jobs'))}"
    tag = d.choice(("latest", d.version(), "stable"))
    b.add("aws_ecr_repository", "app", {"name": S(repo, f"the existing repository {repo}")}, keyword="data")
    _lambda_role(b)
    name = d.name("container")
    b.add("aws_lambda_function", "this", {"function_name": S(name, f"a container Lambda {name}"),
                                          "role": R("aws_iam_role.lambda.arn"),
                                          "package_type": S("Image", ""),
                                          "image_uri": Arg(Ref('"${data.aws_ecr_repository.app.repository_url}'
                                                               f':{tag}"'),
                                                           f"running its {tag} tag", matcher={"contains": f":{tag}"}),
                                          "memory_size": S(1024, "1024 MB")})
    b.extra.append({"resource": "aws_lambda_function", "refers_to": "data.aws_ecr_repository"})
    return b.spec("A Lambda from an image in an existing ECR repository", "lambda")


@pattern("data-ami-instance")
def data_ami(b: Builder) -> Spec:
    d = b.d
    arch = d.choice(("x86_64", "arm64"))
    itype = "t4g.small" if arch == "arm64" else d.choice(("t3.small", "m6i.large"))
    b.add("aws_ami", "al2023", {"most_recent": Q(True), "owners": S(["amazon"], "the latest Amazon Linux 2023 AMI",
                                                                   matcher={"contains": "amazon"}),
                                "filter": [Block({"name": Q("name"), "values": Q(["al2023-ami-*"])}),
                                           Block({"name": Q("architecture"),
                                                  "values": S([arch], f"for {arch}", matcher={"contains": arch})})]},
          keyword="data")
    b.add("aws_instance", "app", {"ami": R("data.aws_ami.al2023.id"), "instance_type": S(itype, f"on {itype}"),
                                  "subnet_id": C(d.aws_id("subnet"), "Subnet")})
    return b.spec("An EC2 instance from the newest Amazon Linux AMI", "ec2")


@pattern("data-account-policy")
def data_account(b: Builder) -> Spec:
    d = b.d
    prefix = f"/{d.project}/"
    b.add("aws_caller_identity", "current", {}, keyword="data")
    b.add("aws_region", "current", {}, keyword="data")
    b.add("aws_iam_policy_document", "read_params", {"statement": Block({
        "actions": S(["ssm:GetParameter", "ssm:GetParametersByPath"], "reading SSM parameters",
                     matcher={"contains": "ssm:GetParameter"}),
        "resources": Arg([Ref(f'"arn:aws:ssm:${{data.aws_region.current.name}}:${{data.aws_caller_identity.current.'
                              f'account_id}}:parameter{prefix}*"')], f"under {prefix}",
                         matcher={"regex": f"parameter{re.escape(prefix)}"})})}, keyword="data")
    b.add("aws_iam_policy", "read_params", {"name": S(d.name("read-params"), ""),
                                            "policy": R("data.aws_iam_policy_document.read_params.json")})
    b.state("name", "a policy {v}")
    b.extra.append({"data": "aws_iam_policy_document", "refers_to": ["data.aws_region", "data.aws_caller_identity"]})
    return b.spec("An IAM policy built from the current account and region", "iam")


@pattern("data-eks-kubeconfig")
def data_eks(b: Builder) -> Spec:
    d = b.d
    cluster = d.name("eks")
    b.add("aws_eks_cluster", "this", {"name": S(cluster, f"the existing cluster {cluster}")}, keyword="data")
    b.add("aws_eks_cluster_auth", "this", {"name": R("data.aws_eks_cluster.this.name")}, keyword="data")
    b.block(TopBlock("output", ("endpoint",), {"value": Ref("data.aws_eks_cluster.this.endpoint")}))
    b.block(TopBlock("output", ("ca_data",), {"value": Ref("data.aws_eks_cluster.this.certificate_authority[0].data")}))
    b.extra.append({"output": "*", "where": {"value": {"refers_to": "data.aws_eks_cluster"}}, "count": {"gte": 2}})
    return b.spec("Look up an EKS cluster and output its endpoint and CA data", "eks")


@pattern("data-policy-document-role")
def data_assume(b: Builder) -> Spec:
    d = b.d
    service = d.choice(("ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "states.amazonaws.com",
                        "glue.amazonaws.com"))
    name = d.name(service.split(".")[0])
    b.add("aws_iam_policy_document", "assume", {"statement": Block({
        "actions": Q(["sts:AssumeRole"]),
        "principals": Block({"type": Q("Service"), "identifiers": S([service], f"trusting {service}",
                                                                   matcher={"contains": service})})})},
          keyword="data")
    b.add("aws_iam_role", "this", {"name": S(name, f"a role {name}"),
                                   "assume_role_policy": R("data.aws_iam_policy_document.assume.json")})
    return b.spec("An IAM role whose trust policy comes from a policy document data source", "iam")
