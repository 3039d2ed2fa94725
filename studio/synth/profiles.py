"""Hand-tuned bodies for the resource types people write most (and every type of the eval split): the arguments
they set in practice, with values drawn per row. The schema alone says only what is required.

    >>> import random
    >>> from studio.synth.values import Draw
    >>> body = PROFILES["aws_db_instance"](Draw(random.Random(0)))
    >>> sorted(body)[:3]
    ['allocated_storage', 'backup_retention_period', 'engine']

A profile returns {argument: Arg | Block | [Block]}; `__blocks__` may list extra top-level blocks (a variable the
resource reads). Patterns (studio.synth.patterns) call the same profiles and replace arguments with references.
"""

from __future__ import annotations

from typing import Callable

from studio.synth import words
from studio.synth.hcl import Block, Json, Ref, Variable
from studio.synth.terraform import Arg, argument
from studio.synth.values import Draw

PROFILES: dict[str, Callable[[Draw], dict]] = {}


def profile(tf_type: str):
    def register(fn):
        PROFILES[tf_type] = fn
        return fn
    return register


def S(value, say: str, **more) -> Arg:  # noqa: N802 - stated in the request
    return Arg(value, say, **more)


def C(value, label: str, **more) -> Arg:  # noqa: N802 - given as context in the input
    return Arg(value, label=label, **more)


def Q(value) -> Arg:  # noqa: N802 - written, not stated nor checked
    return Arg(value, state=False)


def named(d: Draw, value: str) -> str:
    return d.choice((f"named {value}", f"called {value}", f"named `{value}`", f"with the name {value}"))


def maybe_tags(d: Draw, body: dict, p: float = 0.4) -> dict:
    if d.coin(p):
        body["tags"] = argument(d, "", "tags")
    return body


def db_password() -> dict:
    return Variable("db_password", {"type": Ref("string"), "sensitive": True})


# -- storage -----------------------------------------------------------------------------------------------


@profile("aws_s3_bucket")
def s3_bucket(d: Draw) -> dict:
    name = d.bucket()
    body = {"bucket": S(name, named(d, name))}
    if d.coin(0.3):
        body["force_destroy"] = S(True, d.choice(("force_destroy on", "deletable even when not empty")))
    return maybe_tags(d, body, 0.5)


@profile("aws_s3_bucket_versioning")
def s3_versioning(d: Draw) -> dict:
    status = d.choice(("Enabled", "Enabled", "Suspended"))
    return {"bucket": C(d.bucket(), "Bucket"),
            "versioning_configuration": Block({"status": S(status, f"versioning {status.lower()}")})}


@profile("aws_s3_bucket_server_side_encryption_configuration")
def s3_encryption(d: Draw) -> dict:
    if d.coin():
        rule = {"apply_server_side_encryption_by_default": Block({
            "sse_algorithm": S("aws:kms", "SSE-KMS encryption"),
            "kms_master_key_id": C(d.kms_arn(), "KMS key ARN")})}
        if d.coin():
            rule["bucket_key_enabled"] = S(True, "S3 Bucket Keys on")
    else:
        rule = {"apply_server_side_encryption_by_default": Block({
            "sse_algorithm": S("AES256", d.choice(("SSE-S3 (AES256) encryption", "AES-256 default encryption")))})}
    return {"bucket": C(d.bucket(), "Bucket"), "rule": Block(rule)}


@profile("aws_s3_bucket_public_access_block")
def s3_public_access_block(d: Draw) -> dict:
    say = d.choice(("all public access blocked", "every public access setting on", "public access fully blocked"))
    body = {"bucket": C(d.bucket(), "Bucket")}
    for i, name in enumerate(("block_public_acls", "block_public_policy", "ignore_public_acls",
                              "restrict_public_buckets")):
        body[name] = S(True, say if i == 0 else "")
    return body


@profile("aws_s3_bucket_lifecycle_configuration")
def s3_lifecycle(d: Draw) -> dict:
    prefix = d.choice(("logs/", "tmp/", "exports/", "raw/", "archive/"))
    days_ia, days_exp = d.choice(((30, 365), (30, 90), (60, 180), (90, 730), (30, 180)))
    storage = d.choice(("STANDARD_IA", "GLACIER", "GLACIER_IR", "INTELLIGENT_TIERING"))
    rule = {"id": Q(f"{prefix.strip('/')}-tiering"), "status": Q("Enabled"),
            "filter": Block({"prefix": S(prefix, f"objects under {prefix}")}),
            "transition": Block({"days": S(days_ia, f"moved to {storage} after {words.days(d, days_ia)}"),
                                 "storage_class": S(storage, "")}),
            "expiration": Block({"days": S(days_exp, f"deleted after {words.days(d, days_exp)}")})}
    return {"bucket": C(d.bucket(), "Bucket"), "rule": Block(rule)}


@profile("aws_s3_bucket_logging")
def s3_logging(d: Draw) -> dict:
    target = d.bucket("logs")
    prefix = d.choice(("s3-access/", "access-logs/", f"{d.project}/"))
    return {"bucket": C(d.bucket(), "Bucket"),
            "target_bucket": S(target, f"access logs going to {target}"),
            "target_prefix": S(prefix, f"under the prefix {prefix}")}


@profile("aws_s3_bucket_policy")
def s3_policy(d: Draw) -> dict:
    bucket = d.bucket()
    if d.coin():
        doc = Json({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
        say = d.choice(("a policy denying non-TLS requests", "a policy that enforces HTTPS"))
    else:
        role = d.role_arn("reader")
        doc = Json({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": role}, "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
        say = f"a policy letting {role} read it"
    return {"bucket": C(bucket, "Bucket"), "policy": S(doc, say)}


@profile("aws_ebs_volume")
def ebs_volume(d: Draw) -> dict:
    size = d.choice((20, 50, 100, 200, 500))
    body = {"availability_zone": S(d.az(), ""), "size": S(size, words.gigabytes(d, size)),
            "type": S(d.choice(("gp3", "io2", "gp3", "st1")), ""), "encrypted": S(True, "encrypted")}
    body["availability_zone"].say = f"in {body['availability_zone'].value}"
    body["type"].say = f"type {body['type'].value}"
    return maybe_tags(d, body)


@profile("aws_volume_attachment")
def volume_attachment(d: Draw) -> dict:
    device = d.choice(("/dev/sdf", "/dev/sdh", "/dev/xvdf"))
    return {"device_name": S(device, f"as {device}"), "volume_id": C(d.aws_id("vol"), "Volume"),
            "instance_id": C(d.aws_id("i"), "Instance")}


# -- compute -----------------------------------------------------------------------------------------------


@profile("aws_instance")
def instance(d: Draw) -> dict:
    itype = argument(d, "aws_instance", "instance_type")
    body = {"ami": C(d.ami(), "AMI"), "instance_type": itype, "subnet_id": C(d.aws_id("subnet"), "Subnet")}
    if d.coin():
        size = d.choice((20, 30, 50, 100))
        body["root_block_device"] = Block({"volume_size": S(size, f"a {words.gigabytes(d, size)} root volume"),
                                           "volume_type": Q("gp3"), "encrypted": S(True, "encrypted")})
    if d.coin(0.4):
        body["metadata_options"] = Block({"http_tokens": S("required", "IMDSv2 required")})
    body["tags"] = S({"Name": d.name("app")}, "")
    body["tags"].say = f"Name tag {body['tags'].value['Name']}"
    body["tags"].matcher = {"tags.Name": body["tags"].value["Name"]}
    return body


@profile("aws_placement_group")
def placement_group(d: Draw) -> dict:
    strategy = d.choice(("cluster", "spread", "partition"))
    body = {"name": S(d.name("pg"), ""), "strategy": S(strategy, f"{strategy} strategy")}
    body["name"].say = named(d, body["name"].value)
    if strategy == "partition":
        body["partition_count"] = S(d.between(2, 5), "")
        body["partition_count"].say = f"{body['partition_count'].value} partitions"
    return body


@profile("aws_autoscaling_group")
def autoscaling_group(d: Draw) -> dict:
    low, high = d.between(1, 3), d.between(4, 10)
    name, check = d.name("asg"), d.choice(("ELB", "EC2"))
    return {"name": S(name, named(d, name)), "min_size": S(low, f"min {low}"), "max_size": S(high, f"max {high}"),
            "desired_capacity": S(low, f"desired {low}"),
            "vpc_zone_identifier": C([d.aws_id("subnet"), d.aws_id("subnet")], "Subnets", matcher=None),
            "launch_template": Block({"id": C(d.aws_id("lt"), "Launch template"), "version": Q("$Latest")}),
            "health_check_type": S(check, f"{check} health checks")}


@profile("aws_lambda_function")
def lambda_function(d: Draw) -> dict:
    runtime, handler = d.choice((("python3.12", "app.handler"), ("python3.13", "main.lambda_handler"),
                                 ("nodejs20.x", "index.handler"), ("nodejs22.x", "index.handler"),
                                 ("java21", "com.example.Handler::handleRequest")))
    memory = d.choice((128, 256, 512, 1024))
    timeout = d.choice((10, 30, 60, 300))
    name = d.name("handler")
    return {"function_name": S(name, named(d, name)), "role": C(d.role_arn("lambda"), "Execution role ARN"),
            "runtime": S(runtime, f"on {runtime}"), "handler": S(handler, f"handler {handler}"),
            "filename": S(f"{d.project}.zip", f"code from {d.project}.zip"),
            "memory_size": S(memory, f"{memory} MB of memory"),
            "timeout": S(timeout, f"a {timeout}-second timeout")}


@profile("aws_lambda_permission")
def lambda_permission(d: Draw) -> dict:
    principal, source, what = d.choice((
        ("events.amazonaws.com", d.arn("events", f"rule/{d.name('schedule')}"), "EventBridge"),
        ("s3.amazonaws.com", f"arn:aws:s3:::{d.bucket()}", "S3"),
        ("apigateway.amazonaws.com", d.arn("execute-api", f"{d.alnum(10)}/*/*"), "API Gateway"),
        ("sns.amazonaws.com", d.arn("sns", d.name("alerts")), "SNS")))
    return {"statement_id": Q(f"Allow{what.replace(' ', '')}Invoke"), "action": Q("lambda:InvokeFunction"),
            "function_name": C(d.name("handler"), "Function"), "principal": S(principal, f"letting {what} invoke it"),
            "source_arn": C(source, "Source ARN")}


# -- databases ---------------------------------------------------------------------------------------------


@profile("aws_db_instance")
def db_instance(d: Draw) -> dict:
    engine, version = d.choice((("postgres", "16"), ("postgres", "15"), ("mysql", "8.0"), ("mariadb", "10.11"),
                                ("postgres", "17")))
    shown = {"postgres": "Postgres", "mysql": "MySQL", "mariadb": "MariaDB"}[engine]
    storage = d.choice((20, 50, 100, 200))
    backups = d.choice((7, 14, 30))
    cls = argument(d, "aws_db_instance", "instance_class")
    body = {"identifier": S(d.name("db"), ""), "engine": S(engine, f"{shown} {version}"),
            "engine_version": S(version, ""), "instance_class": cls,
            "allocated_storage": S(storage, words.gigabytes(d, storage)),
            "storage_encrypted": S(True, "encrypted"),
            "backup_retention_period": S(backups, f"{words.days(d, backups)} of backups"),
            "username": Q(f"{d.project}_admin"), "manage_master_user_password": Q(True),
            "skip_final_snapshot": Q(True)}
    body["identifier"].say = f"identifier {body['identifier'].value}"
    if d.coin(0.4):
        body["multi_az"] = S(True, "Multi-AZ")
    return body


@profile("aws_rds_cluster")
def rds_cluster(d: Draw) -> dict:
    engine, version = d.choice((("aurora-postgresql", "16.4"), ("aurora-mysql", "8.0.mysql_aurora.3.05.2")))
    backups = d.choice((7, 14, 35))
    name = d.name("aurora")
    return {"cluster_identifier": S(name, named(d, name)), "engine": S(engine, f"engine {engine}"),
            "engine_version": Q(version), "master_username": Q(f"{d.project}_admin"),
            "manage_master_user_password": Q(True), "storage_encrypted": S(True, "encrypted"),
            "backup_retention_period": S(backups, f"{words.days(d, backups)} backups"),
            "skip_final_snapshot": Q(True)}


@profile("aws_rds_cluster_instance")
def rds_cluster_instance(d: Draw) -> dict:
    name = d.name("aurora-1")
    cls = d.choice(("db.r6g.large", "db.r7g.large", "db.serverless"))
    engine = d.choice(("aurora-postgresql", "aurora-mysql"))
    return {"identifier": S(name, named(d, name)), "cluster_identifier": C(d.name("aurora"), "Cluster"),
            "instance_class": S(cls, f"class {cls}"), "engine": S(engine, f"engine {engine}")}


@profile("aws_dynamodb_table")
def dynamodb_table(d: Draw) -> dict:
    name = d.name("table")
    key = d.choice(("pk", "id", "order_id", "user_id", "tenant_id"))
    body = {"name": S(name, named(d, name)), "billing_mode": S("PAY_PER_REQUEST", "on-demand billing"),
            "hash_key": S(key, f"partition key {key}"),
            "attribute": [Block({"name": Q(key), "type": Q("S")})]}
    if d.coin():
        sort = d.choice(("sk", "created_at", "version"))
        body["range_key"] = S(sort, f"sort key {sort}")
        body["attribute"].append(Block({"name": Q(sort), "type": Q("S")}))
    if d.coin():
        body["point_in_time_recovery"] = Block({"enabled": S(True, "point-in-time recovery")})
    if d.coin(0.3):
        body["ttl"] = Block({"attribute_name": S("expires_at", "TTL on expires_at"), "enabled": Q(True)})
    return body


# -- networking --------------------------------------------------------------------------------------------


@profile("aws_vpc")
def vpc(d: Draw) -> dict:
    cidr = d.vpc_cidr()
    body = {"cidr_block": S(cidr, f"CIDR {cidr}")}
    if d.coin(0.7):
        body["enable_dns_hostnames"] = S(True, "DNS hostnames on")
        body["enable_dns_support"] = Q(True)
    body["tags"] = S({"Name": d.name("vpc")}, "")
    body["tags"].say = f"Name {body['tags'].value['Name']}"
    body["tags"].matcher = {"tags.Name": body["tags"].value["Name"]}
    return body


@profile("aws_subnet")
def subnet(d: Draw) -> dict:
    cidr = d.subnet_cidr()
    body = {"vpc_id": C(d.aws_id("vpc"), "VPC"), "cidr_block": S(cidr, f"CIDR {cidr}"),
            "availability_zone": S(d.az(), "")}
    body["availability_zone"].say = f"in {body['availability_zone'].value}"
    if d.coin(0.4):
        body["map_public_ip_on_launch"] = S(True, "public IPs on launch")
    return body


@profile("aws_internet_gateway")
def internet_gateway(d: Draw) -> dict:
    body = {"vpc_id": C(d.aws_id("vpc"), "VPC")}
    return maybe_tags(d, body, 0.6)


@profile("aws_egress_only_internet_gateway")
def egress_only_gateway(d: Draw) -> dict:
    return maybe_tags(d, {"vpc_id": C(d.aws_id("vpc"), "VPC")}, 0.6)


@profile("aws_route_table")
def route_table(d: Draw) -> dict:
    if d.coin():
        route = {"cidr_block": S("0.0.0.0/0", "a default route"), "gateway_id": C(d.aws_id("igw"),
                                                                                  "Internet gateway")}
    else:
        route = {"cidr_block": S("0.0.0.0/0", "a default route"), "nat_gateway_id": C(d.aws_id("nat"),
                                                                                      "NAT gateway")}
    return {"vpc_id": C(d.aws_id("vpc"), "VPC"), "route": Block(route)}


@profile("aws_route_table_association")
def route_table_association(d: Draw) -> dict:
    return {"subnet_id": C(d.aws_id("subnet"), "Subnet"), "route_table_id": C(d.aws_id("rtb"), "Route table")}


@profile("aws_network_interface")
def network_interface(d: Draw) -> dict:
    ip = d.ip()
    return {"subnet_id": C(d.aws_id("subnet"), "Subnet"), "private_ips": S([ip], f"private IP {ip}",
                                                                          matcher={"contains": ip}),
            "security_groups": C([d.aws_id("sg")], "Security group", matcher=None)}


@profile("aws_network_interface_attachment")
def network_interface_attachment(d: Draw) -> dict:
    index = d.between(1, 2)
    return {"instance_id": C(d.aws_id("i"), "Instance"), "network_interface_id": C(d.aws_id("eni"),
                                                                                  "Network interface"),
            "device_index": S(index, f"device index {index}")}


@profile("aws_security_group")
def security_group(d: Draw) -> dict:
    name = d.name("sg")
    return maybe_tags(d, {"name": S(name, named(d, name)), "description": Q(f"{d.project} {d.env}"),
                          "vpc_id": C(d.aws_id("vpc"), "VPC")})


@profile("aws_vpc_security_group_ingress_rule")
def sg_ingress(d: Draw) -> dict:
    port = d.choice((443, 80, 22, 5432, 3306, 8080))
    source = d.choice(("0.0.0.0/0", d.office_cidr(), "10.0.0.0/8")) if port != 22 else d.office_cidr()
    return {"security_group_id": C(d.aws_id("sg"), "Security group"), "ip_protocol": Q("tcp"),
            "from_port": S(port, f"allowing TCP {port}"), "to_port": S(port, ""),
            "cidr_ipv4": S(source, f"from {source}")}


@profile("aws_vpc_security_group_egress_rule")
def sg_egress(d: Draw) -> dict:
    if d.coin():
        return {"security_group_id": C(d.aws_id("sg"), "Security group"),
                "ip_protocol": S("-1", "all outbound traffic"), "cidr_ipv4": S("0.0.0.0/0", "to anywhere")}
    port = d.choice((443, 5432, 6379))
    cidr = d.choice(("10.0.0.0/8", "0.0.0.0/0"))
    return {"security_group_id": C(d.aws_id("sg"), "Security group"), "ip_protocol": Q("tcp"),
            "from_port": S(port, f"outbound TCP {port}"), "to_port": S(port, ""), "cidr_ipv4": S(cidr, f"to {cidr}")}


@profile("aws_lb")
def lb(d: Draw) -> dict:
    kind = d.choice(("application", "network"))
    internal = d.coin(0.3)
    name = d.name("alb" if kind == "application" else "nlb")[:32]
    return {"name": S(name, named(d, name)), "load_balancer_type": S(kind, f"{kind} type"),
            "internal": S(internal, "internal" if internal else "internet-facing"),
            "subnets": C([d.aws_id("subnet"), d.aws_id("subnet")], "Subnets", matcher=None)}


@profile("aws_lb_target_group")
def lb_target_group(d: Draw) -> dict:
    port = d.choice((80, 8080, 3000, 8000))
    target = d.choice(("ip", "instance"))
    path = d.choice(("/health", "/healthz", "/ready", "/status"))
    name = d.name("tg")[:32]
    return {"name": S(name, named(d, name)), "port": S(port, f"port {port}"), "protocol": S("HTTP", "HTTP"),
            "vpc_id": C(d.aws_id("vpc"), "VPC"), "target_type": S(target, f"{target} targets"),
            "health_check": Block({"path": S(path, f"health checks on {path}"), "matcher": Q("200")})}


@profile("aws_lb_listener")
def lb_listener(d: Draw) -> dict:
    if d.coin():
        return {"load_balancer_arn": C(_arn(d, "load_balancer_arn"), "Load balancer ARN"),
                "port": S(443, "HTTPS on 443"), "protocol": S("HTTPS", ""),
                "ssl_policy": Q("ELBSecurityPolicy-TLS13-1-2-2021-06"),
                "certificate_arn": C(d.cert_arn(), "Certificate ARN"),
                "default_action": Block({"type": Q("forward"),
                                         "target_group_arn": C(_arn(d, "target_group_arn"), "Target group ARN")})}
    return {"load_balancer_arn": C(_arn(d, "load_balancer_arn"), "Load balancer ARN"),
            "port": S(80, "port 80"), "protocol": S("HTTP", ""),
            "default_action": Block({"type": S("redirect", "redirecting to HTTPS"),
                                     "redirect": Block({"port": Q("443"), "protocol": S("HTTPS", ""),
                                                        "status_code": Q("HTTP_301")})})}


def _arn(d: Draw, name: str) -> str:
    from studio.synth.terraform import _arn as arn_of

    return arn_of(d, name).value


@profile("aws_lb_listener_rule")
def lb_listener_rule(d: Draw) -> dict:
    priority = d.choice((10, 20, 100))
    path = d.choice(("/api/*", "/admin/*", "/static/*"))
    return {"listener_arn": C(_arn(d, "listener_arn"), "Listener ARN"), "priority": S(priority, f"priority {priority}"),
            "action": Block({"type": Q("forward"), "target_group_arn": C(_arn(d, "target_group_arn"),
                                                                         "Target group ARN")}),
            "condition": Block({"path_pattern": Block({"values": S([path], f"for paths {path}",
                                                                   matcher={"contains": path})})})}


@profile("aws_route53_record")
def route53_record(d: Draw) -> dict:
    host = d.hostname()
    if d.coin():
        ip = d.ip(private=False)
        return {"zone_id": C(d.zone_id(), "Hosted zone ID"), "name": S(host, f"{host}"), "type": S("A", "an A record"),
                "ttl": S(300, f"TTL {words.seconds(d, 300)}"), "records": S([ip], f"pointing at {ip}",
                                                                           matcher={"contains": ip})}
    target = f"{d.name('alb')}.{d.region}.elb.amazonaws.com"
    return {"zone_id": C(d.zone_id(), "Hosted zone ID"), "name": S(host, host),
            "type": S("CNAME", "a CNAME"), "ttl": S(60, ""), "records": S([target], f"to {target}",
                                                                         matcher={"contains": target})}


# -- messaging and events ----------------------------------------------------------------------------------


@profile("aws_sqs_queue")
def sqs_queue(d: Draw) -> dict:
    fifo = d.coin(0.25)
    name = d.name("jobs") + (".fifo" if fifo else "")
    retention = d.choice((345600, 1209600, 86400, 604800))
    visibility = d.choice((30, 60, 120, 300))
    body = {"name": S(name, named(d, name)),
            "message_retention_seconds": S(retention, f"messages kept {words.seconds(d, retention)}"),
            "visibility_timeout_seconds": S(visibility, f"a visibility timeout of {words.seconds(d, visibility)}")}
    if fifo:
        body["fifo_queue"] = S(True, "FIFO")
    if d.coin(0.5):
        body["sqs_managed_sse_enabled"] = S(True, "SSE on")
    return body


@profile("aws_sqs_queue_policy")
def sqs_queue_policy(d: Draw) -> dict:
    queue = d.arn("sqs", d.name("jobs"))
    topic = d.arn("sns", d.name("events"))
    doc = Json({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})
    return {"queue_url": argument(d, "", "queue_url"),
            "policy": S(doc, f"letting the topic {topic} send messages")}


@profile("aws_sns_topic")
def sns_topic(d: Draw) -> dict:
    name = d.name(d.choice(("alerts", "events", "notifications")))
    body = {"name": S(name, named(d, name))}
    if d.coin(0.5):
        body["kms_master_key_id"] = S("alias/aws/sns", "encrypted with the AWS managed key")
    return maybe_tags(d, body)


@profile("aws_sns_topic_subscription")
def sns_subscription(d: Draw) -> dict:
    topic = C(d.arn("sns", d.name("alerts")), "Topic ARN")
    kind = d.choice(("email", "sqs", "lambda", "https"))
    endpoint = {"email": d.email(), "sqs": d.arn("sqs", d.name("jobs")),
                "lambda": d.arn("lambda", f"function:{d.name('handler')}"),
                "https": f"https://{d.hostname('hooks')}/sns"}[kind]
    return {"topic_arn": topic, "protocol": S(kind, f"{kind} subscription"),
            "endpoint": S(endpoint, f"to {endpoint}")}


@profile("aws_sns_topic_policy")
def sns_topic_policy(d: Draw) -> dict:
    topic = d.arn("sns", d.name("alerts"))
    doc = Json({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
        "Resource": topic}]})
    return {"arn": C(topic, "Topic ARN"), "policy": S(doc, "letting CloudWatch publish to it")}


@profile("aws_cloudwatch_event_rule")
def event_rule(d: Draw) -> dict:
    name = d.name("schedule")
    expr = argument(d, "", "schedule_expression")
    return {"name": S(name, named(d, name)), "schedule_expression": expr}


@profile("aws_cloudwatch_event_target")
def event_target(d: Draw) -> dict:
    return {"rule": C(d.name("schedule"), "Rule"),
            "arn": C(d.arn("lambda", f"function:{d.name('handler')}"), "Target ARN")}


# -- observability -----------------------------------------------------------------------------------------


@profile("aws_cloudwatch_log_group")
def log_group(d: Draw) -> dict:
    name = f"/aws/{d.choice(('lambda', 'ecs', 'apigateway', 'app'))}/{d.name()}"
    days = d.choice((7, 14, 30, 90, 365))
    return maybe_tags(d, {"name": S(name, named(d, name)),
                          "retention_in_days": S(days, f"{words.days(d, days)} of retention")})


@profile("aws_cloudwatch_metric_alarm")
def metric_alarm(d: Draw) -> dict:
    metric, namespace, threshold, said = d.choice((
        ("CPUUtilization", "AWS/EC2", 80, "CPU above 80%"), ("Errors", "AWS/Lambda", 5, "more than 5 Lambda errors"),
        ("ApproximateAgeOfOldestMessage", "AWS/SQS", 600, "oldest SQS message older than 600 seconds"),
        ("FreeStorageSpace", "AWS/RDS", 5000000000, "free storage under 5 GB")))
    operator = "LessThanThreshold" if metric == "FreeStorageSpace" else "GreaterThanThreshold"
    periods = d.choice((1, 2, 3))
    name = d.name("alarm")
    return {"alarm_name": S(name, named(d, name)), "namespace": S(namespace, ""), "metric_name": S(metric, said),
            "comparison_operator": Q(operator), "threshold": S(threshold, ""), "statistic": Q("Sum" if metric ==
                                                                                              "Errors" else "Average"),
            "period": S(300, f"over {words.seconds(d, 300)}"), "evaluation_periods": S(periods,
                                                                                        f"{periods} periods"),
            "alarm_actions": C([d.arn("sns", d.name("alerts"))], "Alarm topic ARN", matcher=None)}


@profile("aws_cloudwatch_composite_alarm")
def composite_alarm(d: Draw) -> dict:
    a, b = d.name("cpu-high"), d.name("errors-high")
    rule = f'ALARM("{a}") AND ALARM("{b}")'
    name = d.name("degraded")
    return {"alarm_name": S(name, named(d, name)), "alarm_rule": S(rule, f"firing when both {a} and {b} are in "
                                                                            "alarm",
                                                                    matcher={"contains": a}),
            "alarm_actions": C([d.arn("sns", d.name("alerts"))], "Alarm topic ARN", matcher=None)}


@profile("aws_budgets_budget")
def budget(d: Draw) -> dict:
    amount = d.choice((100, 500, 1000, 5000))
    name, email = d.name("monthly"), d.email()
    return {"name": S(name, named(d, name)), "budget_type": S("COST", "a cost budget"),
            "limit_amount": S(str(amount), f"of {amount} USD"), "limit_unit": S("USD", ""),
            "time_unit": S("MONTHLY", "monthly"),
            "notification": Block({"comparison_operator": Q("GREATER_THAN"), "threshold": S(80, "alerting at 80%"),
                                   "threshold_type": Q("PERCENTAGE"), "notification_type": Q("ACTUAL"),
                                   "subscriber_email_addresses": S([email], f"emailing {email}", matcher=None)})}


# -- IAM, KMS, secrets -------------------------------------------------------------------------------------


SERVICE_PRINCIPALS = ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com",
                      "states.amazonaws.com", "events.amazonaws.com", "codebuild.amazonaws.com")


@profile("aws_iam_role")
def iam_role(d: Draw) -> dict:
    service = d.choice(SERVICE_PRINCIPALS)
    name = d.name(service.split(".")[0].replace("-tasks", "-task"))
    doc = Json({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                        "Action": "sts:AssumeRole"}]})
    return {"name": S(name, named(d, name)),
            "assume_role_policy": S(doc, f"assumable by {service}", matcher={"contains": service})}


IDENTITY_ACTIONS = (("s3:GetObject", "read objects from"), ("s3:PutObject", "write objects to"),
                    ("sqs:SendMessage", "send messages to"), ("dynamodb:GetItem", "read items from"),
                    ("kms:Decrypt", "decrypt with"), ("secretsmanager:GetSecretValue", "read the secret"),
                    ("logs:PutLogEvents", "write logs to"), ("sns:Publish", "publish to"))


def _identity_doc(d: Draw) -> tuple[Json, str]:
    action, verb = d.choice(IDENTITY_ACTIONS)
    service = action.split(":")[0]
    resource = {"s3": f"arn:aws:s3:::{d.bucket()}/*", "sqs": d.arn("sqs", d.name("jobs")),
                "dynamodb": d.arn("dynamodb", f"table/{d.name('table')}"), "kms": d.kms_arn(),
                "secretsmanager": d.arn("secretsmanager", f"secret:{d.name('db')}-{d.alnum(6)}"),
                "logs": d.arn("logs", f"log-group:/aws/lambda/{d.name()}:*"),
                "sns": d.arn("sns", d.name("alerts"))}[service]
    doc = Json({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [action],
                                                        "Resource": resource}]})
    return doc, f"allowing {action} on {resource}"


@profile("aws_iam_policy")
def iam_policy(d: Draw) -> dict:
    doc, said = _identity_doc(d)
    name = d.name("policy")
    return {"name": S(name, named(d, name)), "policy": S(doc, said, matcher={"contains": said.split()[1]})}


@profile("aws_iam_role_policy")
def iam_role_policy(d: Draw) -> dict:
    doc, said = _identity_doc(d)
    name = d.name("inline")
    return {"name": S(name, named(d, name)), "role": C(d.name("role"), "Role"),
            "policy": S(doc, said, matcher={"contains": said.split()[1]})}


@profile("aws_iam_role_policy_attachment")
def iam_attachment(d: Draw) -> dict:
    arn = d.choice(("arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
                    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"))
    return {"role": C(d.name("role"), "Role"), "policy_arn": S(arn, f"attach {arn.rsplit('/', 1)[1]}")}


@profile("aws_iam_openid_connect_provider")
def oidc_provider(d: Draw) -> dict:
    url, client = d.choice((("https://token.actions.githubusercontent.com", "sts.amazonaws.com"),
                            (f"https://oidc.eks.{d.region}.amazonaws.com/id/{d.hex(32).upper()}",
                             "sts.amazonaws.com")))
    return {"url": S(url, f"for {url}"), "client_id_list": S([client], f"audience {client}",
                                                            matcher={"contains": client})}


@profile("aws_kms_key")
def kms_key(d: Draw) -> dict:
    window = d.choice((7, 10, 30))
    text = f"{d.project} {d.env} data key"
    return maybe_tags(d, {"description": S(text, f'described as "{text}"'),
                          "enable_key_rotation": S(True, "yearly rotation"),
                          "deletion_window_in_days": S(window, f"a deletion window of {words.days(d, window)}")})


@profile("aws_secretsmanager_secret")
def secret(d: Draw) -> dict:
    name = f"{d.project}/{d.env}/{d.choice(('db', 'api-key', 'stripe', 'smtp'))}"
    window = d.choice((7, 14, 30))
    return {"name": S(name, named(d, name)),
            "recovery_window_in_days": S(window, f"a recovery window of {words.days(d, window)}")}


@profile("aws_secretsmanager_secret_version")
def secret_version(d: Draw) -> dict:
    return {"secret_id": C(d.arn("secretsmanager", f"secret:{d.project}-{d.alnum(6)}"), "Secret ARN"),
            "secret_string": S(Ref("jsonencode({ username = \"app\", password = var.db_password })"),
                               "the value from var.db_password", matcher={"refers_to": "var"}),
            "__blocks__": [db_password()]}


# -- containers --------------------------------------------------------------------------------------------


@profile("aws_ecr_repository")
def ecr_repository(d: Draw) -> dict:
    name = f"{d.project}/{d.choice(('api', 'worker', 'web', 'cron'))}"
    mutability = d.choice(("IMMUTABLE", "MUTABLE"))
    return {"name": S(name, named(d, name)), "image_tag_mutability": S(mutability, f"{mutability.lower()} tags"),
            "image_scanning_configuration": Block({"scan_on_push": S(True, "scan on push")})}


@profile("aws_ecr_lifecycle_policy")
def ecr_lifecycle(d: Draw) -> dict:
    keep = d.choice((10, 20, 30, 50))
    doc = Json({"rules": [{"rulePriority": 1, "description": f"keep the last {keep} images",
                           "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                           "action": {"type": "expire"}}]})
    return {"repository": C(f"{d.project}/api", "Repository"), "policy": S(doc, f"keeping the last {keep} images")}


@profile("aws_ecr_repository_policy")
def ecr_repo_policy(d: Draw) -> dict:
    account = str(d.between(10**11, 10**12 - 1))
    doc = Json({"Version": "2012-10-17", "Statement": [{
        "Sid": "CrossAccountPull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
    return {"repository": C(f"{d.project}/api", "Repository"),
            "policy": S(doc, f"letting account {account} pull", matcher={"contains": account})}


@profile("aws_ecr_replication_configuration")
def ecr_replication(d: Draw) -> dict:
    region = d.choice(("us-west-2", "eu-central-1", "ap-southeast-2"))
    return {"replication_configuration": Block({"rule": Block({"destination": Block({
        "region": S(region, f"replicating images to {region}"), "registry_id": Q(d.account)})})})}


@profile("aws_ecs_task_definition")
def ecs_task(d: Draw) -> dict:
    cpu, memory = d.choice(((256, 512), (512, 1024), (1024, 2048)))
    port = d.choice((80, 8080, 3000))
    family = d.name("api")
    containers = Json([{"name": "app", "image": d.image(), "essential": True,
                        "portMappings": [{"containerPort": port, "protocol": "tcp"}]}])
    return {"family": S(family, f"family {family}"), "requires_compatibilities": S(["FARGATE"], "for Fargate",
                                                                                   matcher={"contains": "FARGATE"}),
            "network_mode": S("awsvpc", ""), "cpu": S(str(cpu), f"{cpu} CPU units"),
            "memory": S(str(memory), f"{memory} MiB"), "execution_role_arn": C(d.role_arn("execution"),
                                                                                "Execution role ARN"),
            "container_definitions": S(containers, f"one container on port {port}", matcher={"contains": str(port)})}


@profile("aws_eks_cluster")
def eks_cluster(d: Draw) -> dict:
    version = d.choice(("1.31", "1.32", "1.33"))
    name = d.name("eks")
    return {"name": S(name, named(d, name)), "version": S(version, f"Kubernetes {version}"),
            "role_arn": C(d.role_arn("eks-cluster"), "Cluster role ARN"),
            "vpc_config": Block({"subnet_ids": C([d.aws_id("subnet"), d.aws_id("subnet")], "Subnets",
                                                 matcher=None),
                                 "endpoint_private_access": S(True, "private endpoint access")})}


# -- API Gateway -------------------------------------------------------------------------------------------


@profile("aws_api_gateway_rest_api")
def rest_api(d: Draw) -> dict:
    name = d.name("api")
    kind = d.choice(("REGIONAL", "EDGE", "PRIVATE"))
    return {"name": S(name, named(d, name)),
            "endpoint_configuration": Block({"types": S([kind], f"a {kind.lower()} endpoint",
                                                        matcher={"contains": kind})})}


@profile("aws_api_gateway_deployment")
def api_deployment(d: Draw) -> dict:
    return {"rest_api_id": C(d.alnum(10), "REST API ID"), "description": S(f"{d.project} release",
                                                                           f"described as {d.project} release"),
            "lifecycle": Block({"create_before_destroy": Q(True)})}


@profile("aws_api_gateway_stage")
def api_stage(d: Draw) -> dict:
    stage = d.choice(("prod", "v1", "staging", "live"))
    body = {"rest_api_id": C(d.alnum(10), "REST API ID"), "deployment_id": C(d.alnum(6), "Deployment ID"),
            "stage_name": S(stage, f"stage {stage}")}
    if d.coin():
        body["xray_tracing_enabled"] = S(True, "X-Ray tracing on")
    return body


@profile("aws_api_gateway_method_settings")
def api_method_settings(d: Draw) -> dict:
    rate, burst = d.choice(((100, 50), (500, 200), (1000, 500)))
    return {"rest_api_id": C(d.alnum(10), "REST API ID"), "stage_name": C("prod", "Stage"),
            "method_path": S("*/*", "for every method"),
            "settings": Block({"throttling_rate_limit": S(rate, f"throttled at {rate} requests per second"),
                               "throttling_burst_limit": S(burst, f"burst {burst}"),
                               "metrics_enabled": S(True, "metrics on")})}


@profile("aws_api_gateway_account")
def api_account(d: Draw) -> dict:
    return {"cloudwatch_role_arn": C(d.role_arn("apigw-logs"), "CloudWatch role ARN")}


# -- CloudFront --------------------------------------------------------------------------------------------


@profile("aws_cloudfront_origin_access_control")
def cloudfront_oac(d: Draw) -> dict:
    name = d.name("oac")
    return {"name": S(name, named(d, name)), "origin_access_control_origin_type": S("s3", "for an S3 origin"),
            "signing_behavior": S("always", "always signing"), "signing_protocol": Q("sigv4")}


@profile("aws_cloudfront_response_headers_policy")
def cloudfront_headers(d: Draw) -> dict:
    age = d.choice((31536000, 63072000))
    name = d.name("security-headers")
    return {"name": S(name, named(d, name)),
            "security_headers_config": Block({
                "strict_transport_security": Block({"access_control_max_age_sec": S(age, f"HSTS for {age} seconds"),
                                                    "include_subdomains": S(True, "including subdomains"),
                                                    "override": Q(True)}),
                "content_type_options": Block({"override": Q(True)}),
                "frame_options": Block({"frame_option": S("DENY", "frames denied"), "override": Q(True)})})}


@profile("aws_cloudfront_distribution")
def cloudfront_distribution(d: Draw) -> dict:
    bucket = d.bucket("site")
    origin = f"{bucket}.s3.{d.region}.amazonaws.com"
    price = d.choice(("PriceClass_100", "PriceClass_200", "PriceClass_All"))
    return {"enabled": Q(True), "default_root_object": S("index.html", "serving index.html at the root"),
            "price_class": S(price, f"{price}"),
            "origin": Block({"domain_name": C(origin, "Origin"), "origin_id": Q("s3-site")}),
            "default_cache_behavior": Block({
                "target_origin_id": Q("s3-site"), "allowed_methods": Q(["GET", "HEAD"]),
                "cached_methods": Q(["GET", "HEAD"]),
                "viewer_protocol_policy": S("redirect-to-https", "redirecting HTTP to HTTPS"),
                "cache_policy_id": Q("658327ea-f89d-4fab-a63d-7e88639e58f6")}),
            "restrictions": Block({"geo_restriction": Block({"restriction_type": Q("none")})}),
            "viewer_certificate": Block({"cloudfront_default_certificate": Q(True)})}


# -- more of the types people write ------------------------------------------------------------------------


@profile("aws_security_group_rule")
def sg_rule(d: Draw) -> dict:
    port = d.choice((443, 80, 5432, 8080))
    cidr = d.choice((d.office_cidr(), "10.0.0.0/8"))
    kind = d.choice(("ingress", "egress"))
    return {"type": S(kind, f"an {kind} rule"), "security_group_id": C(d.aws_id("sg"), "Security group"),
            "protocol": S("tcp", "TCP"), "from_port": S(port, f"port {port}"), "to_port": S(port, ""),
            "cidr_blocks": S([cidr], f"{'from' if kind == 'ingress' else 'to'} {cidr}", matcher={"contains": cidr})}


@profile("aws_network_acl_rule")
def nacl_rule(d: Draw) -> dict:
    number, port = d.choice((100, 110, 200)), d.choice((443, 80, 22))
    action = d.choice(("allow", "deny"))
    cidr = d.choice(("0.0.0.0/0", d.office_cidr()))
    return {"network_acl_id": C(d.aws_id("acl"), "Network ACL"), "rule_number": S(number, f"rule {number}"),
            "egress": S(False, "inbound"), "protocol": S("tcp", ""), "rule_action": S(action, f"{action}ing"),
            "cidr_block": S(cidr, f"from {cidr}"), "from_port": S(port, f"TCP {port}"), "to_port": S(port, "")}


@profile("aws_s3_object")
def s3_object(d: Draw) -> dict:
    key = d.choice(("config/app.json", "index.html", "scripts/bootstrap.sh", "robots.txt"))
    kind = {"json": "application/json", "html": "text/html", "sh": "text/x-shellscript", "txt": "text/plain"}[
        key.rsplit(".", 1)[1]]
    return {"bucket": C(d.bucket(), "Bucket"), "key": S(key, f"at {key}"),
            "source": S(f"files/{key.rsplit('/', 1)[-1]}", f"uploaded from files/{key.rsplit('/', 1)[-1]}"),
            "content_type": S(kind, f"served as {kind}")}


@profile("aws_ssm_parameter")
def ssm_parameter(d: Draw) -> dict:
    name = f"/{d.project}/{d.env}/{d.choice(('db_host', 'api_url', 'feature_flags', 'queue_url'))}"
    kind = d.choice(("String", "SecureString"))
    body = {"name": S(name, named(d, name)), "type": S(kind, f"a {kind}")}
    if kind == "String":
        value = d.choice((f"https://{d.hostname('api')}", f"{d.project}-db.internal", "beta,search"))
        body["value"] = S(value, f"holding {value}")
    else:
        body["value"] = S(Ref("var.parameter_value"), "its value from a sensitive variable",
                          matcher={"refers_to": "var"})
        body["__blocks__"] = [Variable("parameter_value", {"type": Ref("string"), "sensitive": True})]
    return body


@profile("aws_sfn_state_machine")
def state_machine(d: Draw) -> dict:
    name = d.name("workflow")
    fn = d.arn("lambda", f"function:{d.name('step')}")
    doc = Json({"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": fn, "End": True}}})
    return {"name": S(name, named(d, name)), "role_arn": C(d.role_arn("sfn"), "Role ARN"),
            "definition": S(doc, f"one Task state calling {fn}", matcher={"contains": fn})}


@profile("aws_appautoscaling_target")
def appautoscaling_target(d: Draw) -> dict:
    cluster, service = d.name("cluster"), d.name("api")
    high = d.choice((6, 10, 20))
    return {"service_namespace": S("ecs", ""), "scalable_dimension": S("ecs:service:DesiredCount",
                                                                      "scaling the ECS service's desired count"),
            "resource_id": S(f"service/{cluster}/{service}", f"of service {service} in cluster {cluster}",
                             matcher=f"service/{cluster}/{service}"),
            "min_capacity": S(2, "from 2"), "max_capacity": S(high, f"to {high} tasks")}


@profile("aws_iam_user")
def iam_user(d: Draw) -> dict:
    name = f"{d.choice(('ci', 'deploy', 'backup', 'reporting'))}-{d.project}"
    return maybe_tags(d, {"name": S(name, named(d, name)), "path": S("/service/", "under the path /service/")})


@profile("aws_cloudwatch_dashboard")
def dashboard(d: Draw) -> dict:
    name = d.name("overview")
    fn = d.name("handler")
    body = Json({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
        "metrics": [["AWS/Lambda", "Errors", "FunctionName", fn]], "period": 300, "stat": "Sum",
        "region": d.region, "title": "Errors"}}]})
    return {"dashboard_name": S(name, named(d, name)),
            "dashboard_body": S(body, f"one widget with the Lambda errors of {fn}", matcher={"contains": fn})}


for _alias, _of in (("aws_alb", "aws_lb"), ("aws_alb_listener", "aws_lb_listener"),
                    ("aws_alb_target_group", "aws_lb_target_group"), ("aws_alb_listener_rule", "aws_lb_listener_rule")):
    PROFILES[_alias] = PROFILES[_of]
