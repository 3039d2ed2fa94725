"""Shared answers for the IaC tests: idiomatic code of both AWS provider generations and Kubernetes."""

import pytest

PROVIDER5_S3 = '''terraform {
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
  bucket = "acme-logs"

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
'''

PROVIDER6_INGRESS = '''provider "aws" {
  region = "us-east-1"
}

resource "aws_security_group" "web" {
  name   = "web"
  vpc_id = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  region            = "eu-central-1"
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

variable "vpc_id" {
  type = string
}
'''

DEPLOYMENT = '''apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
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
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
'''


@pytest.fixture
def provider5_s3() -> str:
    """aws_s3_bucket + aws_s3_bucket_versioning, the provider 5 way."""
    return PROVIDER5_S3


@pytest.fixture
def provider6_ingress() -> str:
    """`region` on a resource and aws_vpc_security_group_ingress_rule, provider 6 idioms."""
    return PROVIDER6_INGRESS


@pytest.fixture
def deployment() -> str:
    """A Deployment with 3 replicas and port 8080, and a LoadBalancer Service selecting it."""
    return DEPLOYMENT


@pytest.fixture
def fence():
    """Wrap code the way a model answers: a sentence, a fenced block, a sentence."""

    def wrap(code: str, tag: str = "hcl") -> str:
        return f"Here is the code you asked for.\n\n```{tag}\n{code.rstrip()}\n```\n\nApply it and check the plan."

    return wrap
