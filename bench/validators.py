"""How many completions per second go through the whole IaC reward, in one process and in a pool.

    python bench/validators.py                  # 512 answers, batches of 64, pool of 2 workers
    python bench/validators.py --answers 1024 --batch 128 --workers 2 --repeat 5 --stages

The answers are realistic 20-60 line replies (prose, one fenced block), half valid and half broken in the
ways small models break them, half Terraform and half Kubernetes, each one distinct so the cache never
helps. A batch goes through all the TRL reward functions the way GRPOTrainer calls them (one call per
component, same batch), so the figure includes the per-batch cache. `--stages` also prints where the time
goes, per stage and language, in one process.

Each run also says how much CPU other processes took meanwhile (from /proc/stat): on a shared machine a
slow run is usually someone else's test suite, and the best run with the machine quiet is the figure.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.iac.extract import extract_code  # noqa: E402
from studio.iac.intent import check_intent  # noqa: E402
from studio.iac.best_practice import check_kubernetes_practices, check_terraform_practices  # noqa: E402
from studio.iac.kubernetes import check_kubernetes_schema, parse_kubernetes  # noqa: E402
from studio.iac.rewards import IaCReward  # noqa: E402
from studio.iac.terraform import check_terraform_schema, parse_terraform  # noqa: E402

TERRAFORM_ANSWERS = [
    # (code, intent)
    ('''terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs-{n}"

  tags = {
    Environment = "prod"
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
''', {"require": [{"resource": "aws_s3_bucket_versioning", "where": {"versioning_configuration.status": "Enabled"},
                   "refers_to": "aws_s3_bucket"}]}),
    ('''resource "aws_vpc" "main" {
  cidr_block           = "10.{n}.0.0/16"
  enable_dns_hostnames = true

  tags = {
    Name = "main-{n}"
  }
}

resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(aws_vpc.main.cidr_block, 8, count.index)
  map_public_ip_on_launch = true
}

resource "aws_security_group" "web" {
  name   = "web-{n}"
  vpc_id = aws_vpc.main.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
''', {"require": [{"resource": "aws_subnet", "where": {"count": 2}, "refers_to": "aws_vpc"}]}),
    ('''data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fn" {
  name               = "fn-{n}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_lambda_function" "fn" {
  function_name = "handler-{n}"
  role          = aws_iam_role.fn.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/app.zip"
  timeout       = 30

  environment {
    variables = {
      STAGE = "prod"
    }
  }
}
''', {"require": [{"resource": "aws_lambda_function", "refers_to": "aws_iam_role"}]}),
    ('''resource "aws_security_group" "app" {
  name   = "app-{n}"
  vpc_id = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  region            = "us-east-1"
  security_group_id = aws_security_group.app.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.app.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

variable "vpc_id" {
  type        = string
  description = "VPC for the app"
}

output "security_group_id" {
  value = aws_security_group.app.id
}
''', {"require": [{"resource": "aws_vpc_security_group_ingress_rule", "where": {"from_port": 443},
                   "refers_to": "aws_security_group"}]}),
    ('''variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "db_password" {
  type      = string
  sensitive = true
}

resource "aws_db_subnet_group" "main" {
  name       = "main-{n}"
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "db" {
  name   = "db-{n}"
  vpc_id = var.vpc_id

  ingress {
    description = "Postgres inside the VPC"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

resource "aws_db_instance" "main" {
  identifier                = "main-{n}"
  engine                    = "postgres"
  engine_version            = "16.3"
  instance_class            = "db.t4g.micro"
  allocated_storage         = 20
  max_allocated_storage     = 100
  db_name                   = "app"
  username                  = "app"
  password                  = var.db_password
  db_subnet_group_name      = aws_db_subnet_group.main.name
  vpc_security_group_ids    = [aws_security_group.db.id]
  storage_encrypted         = true
  backup_retention_period   = 7
  final_snapshot_identifier = "main-{n}-final"
  deletion_protection       = true

  tags = {
    Name = "main-{n}"
  }
}

output "endpoint" {
  value = aws_db_instance.main.endpoint
}
''', {"require": [{"resource": "aws_db_instance", "where": {"storage_encrypted": True},
                   "refers_to": ["aws_db_subnet_group", "aws_security_group"]}]}),
]

KUBERNETES_ANSWERS = [
    ('''apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 8080
          resources:
            limits:
              cpu: 500m
              memory: 256Mi
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
''', {"require": [{"kind": "Deployment", "where": {"spec.replicas": {"gte": 3},
                                                  "spec.template.spec.containers.ports.containerPort": 8080}}]}),
    ('''apiVersion: v1
kind: Service
metadata:
  name: web-{n}
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:2.4.{n}
          ports:
            - containerPort: 8080
''', {"require": [{"kind": "Service", "where": {"spec.type": "LoadBalancer", "spec.selector.app": "web"},
                   "selects": "Deployment"}]}),
    ('''apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config-{n}
data:
  LOG_LEVEL: info
  FEATURE_X: "true"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report-{n}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: busybox:1.36
              command: ["sh", "-c", "echo report"]
              envFrom:
                - configMapRef:
                    name: app-config-{n}
''', {"require": [{"kind": "CronJob", "where": {"spec.schedule": {"exists": True}}}]}),
    ('''apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: api-{n}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: api-{n}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api-{n}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: api
''', {"require": [{"kind": "HorizontalPodAutoscaler", "where": {"spec.maxReplicas": {"gte": 5}}}]}),
    ('''apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-{n}
  labels:
    app: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: shop
          image: ghcr.io/acme/shop:1.{n}.0
          ports:
            - containerPort: 3000
          env:
            - name: NODE_ENV
              value: production
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 512Mi
---
apiVersion: v1
kind: Service
metadata:
  name: shop-{n}
spec:
  selector:
    app: shop
  ports:
    - port: 80
      targetPort: 3000
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop-{n}
spec:
  ingressClassName: nginx
  rules:
    - host: shop{n}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: shop-{n}
                port:
                  number: 80
''', {"require": [{"kind": "Ingress", "targets": "Service"}, {"kind": "Service", "selects": "Deployment"}]}),
]

BOTO3_ANSWER = """import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", region_name="eu-west-1")


def create_bucket(name):
    try:
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
    except ClientError as error:
        print(f"could not create {name}: {error}")
        raise
    s3.put_bucket_versioning(
        Bucket=name,
        VersioningConfiguration={"Status": "Enabled"},
    )
    return name


if __name__ == "__main__":
    create_bucket("acme-logs-{n}")
"""

# Ways small models break answers, applied to the valid code.
TERRAFORM_BREAKS = [
    lambda code: code.replace("bucket = ", "name = ", 1).replace("function_name", "name", 1),
    lambda code: code.replace('resource "aws_', 'resource "aws_invented_', 1),
    lambda code: code.rsplit("}", 1)[0],  # the last brace never comes
    lambda code: code.replace("= aws_", "= aws_versioning::", 1),
    lambda code: BOTO3_ANSWER,
    lambda code: code.replace("  ", "  colour = \"blue\"\n  ", 1),
]
KUBERNETES_BREAKS = [
    lambda code: code.replace("  selector:\n", "  selectr:\n", 1),
    lambda code: re.sub(r"^apiVersion: (\w+)/v\w+$", r"apiVersion: \1/v1beta1", code, count=1, flags=re.M),
    lambda code: code.replace("    spec:\n", "    spec:\n      hostnetwork: true\n", 1),
    lambda code: code.replace("\nspec:\n", "\n spec:\n", 1),  # broken indentation
    lambda code: code.replace("replicas: 3", "replicas: three").replace("minReplicas: 2", "minReplicas: two"),
    lambda code: code.replace("kind: ", "kind: Deploymnt #", 1),
]

PROSE_BEFORE = ["Here is the configuration:", "Sure! This does what you asked.", "Below is a minimal setup."]
PROSE_AFTER = ["Apply it with the usual workflow.", "Adjust the names to your environment.", ""]


def make_answers(count: int, seed: int = 0) -> tuple[list[str], list[str], list[dict]]:
    """`count` distinct answers: alternating languages, every other one broken."""
    rng = random.Random(seed)
    texts, kinds, intents = [], [], []
    for n in range(count):
        terraform = n % 2 == 0
        code, intent = rng.choice(TERRAFORM_ANSWERS if terraform else KUBERNETES_ANSWERS)
        code = code.replace("{n}", str(n))
        if (n // 2) % 2 == 1:
            breaks = list(TERRAFORM_BREAKS if terraform else KUBERNETES_BREAKS)
            rng.shuffle(breaks)
            # Take the first way of breaking that changes this answer (not every template has a selector).
            code = next(broken for broken in (b(code) for b in breaks) if broken != code).replace("{n}", str(n))
        tag = "python" if code.startswith("import boto3") else "hcl" if terraform else "yaml"
        texts.append(f"{rng.choice(PROSE_BEFORE)}\n\n```{tag}\n{code.rstrip()}\n```\n{rng.choice(PROSE_AFTER)}")
        kinds.append("terraform" if terraform else "kubernetes")
        intents.append(intent)
    return texts, kinds, intents


def run_like_trl(reward: IaCReward, texts: list[str], kinds: list[str], intents: list[dict], batch: int) -> float:
    """Seconds to score every answer, calling each component function per batch as GRPOTrainer does."""
    functions = reward.reward_functions()
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        chunk = slice(i, i + batch)
        for function in functions:
            function(prompts=[""] * len(texts[chunk]), completions=texts[chunk], kind=kinds[chunk],
                     intent=intents[chunk])
    return time.perf_counter() - start


def machine_busy() -> float:
    """CPU-seconds all processes on this machine have used since boot (from /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def our_cpu(reward: IaCReward, workers: int) -> float:
    """CPU-seconds of this process and of the reward's pool workers."""
    total = time.process_time()
    if workers:
        total += sum(reward._get_pool().submit(time.process_time).result() for _ in range(workers))
    return total


def stage_times(texts: list[str], kinds: list[str], intents: list[dict]) -> None:
    """Mean milliseconds per answer spent in each stage, per language."""
    table: dict[str, dict[str, list[float]]] = {}
    for text, kind, intent in zip(texts, kinds, intents):
        row = table.setdefault(kind, {})
        t0 = time.perf_counter()
        found = extract_code(text, kind)
        t1 = time.perf_counter()
        if not found.code:
            row.setdefault("extract", []).append(t1 - t0)
            continue
        parsed = parse_terraform(found.code) if kind == "terraform" else parse_kubernetes(found.code)
        t2 = time.perf_counter()
        if kind == "terraform":
            check_terraform_schema(parsed)
        else:
            check_kubernetes_schema(parsed)
        t3 = time.perf_counter()
        check_intent(intent, parsed)
        t4 = time.perf_counter()
        if parsed.verdict.passed:
            check_terraform_practices(parsed) if kind == "terraform" else check_kubernetes_practices(parsed)
        t5 = time.perf_counter()
        for stage, seconds in zip(("extract", "parse", "schema", "intent", "best_practice"),
                                  (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            row.setdefault(stage, []).append(seconds)
    for kind, row in table.items():
        cells = ", ".join(f"{stage} {statistics.mean(values) * 1e3:.2f}" for stage, values in row.items())
        total = sum(statistics.mean(values) for values in row.values()) * 1e3
        print(f"  {kind:10s} ms per answer: {cells}; total {total:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64, help="answers per reward call (GRPO batch)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each setup")
    parser.add_argument("--stages", action="store_true", help="also time each stage in one process")
    args = parser.parse_args()

    texts, kinds, intents = make_answers(args.answers)
    lines = [len(t.split("```")[1].splitlines()) - 1 for t in texts]
    print(f"{len(texts)} answers, {min(lines)}-{max(lines)} code lines (median {statistics.median(lines):.0f}), "
          f"half Terraform / half Kubernetes, half broken; batches of {args.batch}; {os.cpu_count()} CPUs")

    # Warm-up outside the timing: the AWS schema and the Kubernetes validators load once per process.
    warm_texts, warm_kinds, warm_intents = make_answers(16, seed=1)
    single = IaCReward(workers=0)
    single.components_batch(warm_texts, warm_kinds, warm_intents)
    pooled = None
    if args.workers > 1:
        pooled = IaCReward(workers=args.workers)
        start = time.perf_counter()
        pooled.components_batch(warm_texts, warm_kinds, warm_intents)
        print(f"pool start ({args.workers - 1} spawned worker(s) + this process, warmed): "
              f"{time.perf_counter() - start:.2f} s")

    # Runs alternate so that other load on the machine hits both setups alike; best and median are shown.
    pooled_name = f"{args.workers} processes"
    setups = [("single process", single)] + ([(pooled_name, pooled)] if pooled is not None else [])
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in setups}
    for _ in range(args.repeat):
        for name, reward in setups:
            reward._cache.clear()
            workers = args.workers - 1 if reward is pooled else 0
            cpu, busy = our_cpu(reward, workers), machine_busy()
            seconds = run_like_trl(reward, texts, kinds, intents, args.batch)
            ours, everyone = our_cpu(reward, workers) - cpu, machine_busy() - busy
            # What other processes on this shared machine took meanwhile, in CPUs: it explains slow runs.
            others = max(0.0, everyone - ours) / seconds
            runs[name].append((len(texts) / seconds, ours / len(texts) * 1e3, others))
    for name, values in runs.items():
        rates = [rate for rate, _, _ in values]
        detail = ", ".join(f"{rate:.0f} (others {others:.1f} CPU)" for rate, _, others in values)
        quiet = [rate for rate, _, others in values if others < 0.1]
        quiet_text = f", best with the machine quiet {max(quiet):.1f}" if quiet else ""
        print(f"{name:>16}: best {max(rates):6.1f}, median {statistics.median(rates):6.1f} completions/s"
              f"{quiet_text}; CPU {min(c for _, c, _ in values):.2f} ms per completion")
        print(f"{'':>16}  runs: {detail}")
    if pooled is not None:
        pooled.close()

    valid = sum(1 for c in single.components_batch(texts, kinds, intents) if c["schema"] == 1.0 and c["parse"] == 1.0)
    print(f"answers passing parse and schema: {valid} of {len(texts)}")
    if args.stages:
        stage_times(texts, kinds, intents)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
