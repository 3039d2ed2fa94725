"""Fixtures for the job tests: a dozen rows of our own, a workspace whose jobs are cleaned up, a waiting helper.

    def test_x(job_home, rows):          # job_home: INFRAMIND_HOME set, one CPU thread per job, no GPU
        spec = tiny_sft(tiny_llama, rows, max_steps=3)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.factories import kill_jobs

# Short original rows (not from any benchmark): the tiny tokenizer makes about 140 tokens of the system prompt
# and request, and a few dozen of each answer.
TERRAFORM = [
    ("An S3 bucket named app-logs.", 'resource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}',
     {"require": [{"resource": "aws_s3_bucket"}]}),
    ("Turn on versioning for the bucket app-logs.",
     'resource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}\n\nresource "aws_s3_bucket_versioning" "logs" {\n'
     '  bucket = aws_s3_bucket.logs.id\n  versioning_configuration {\n    status = "Enabled"\n  }\n}',
     {"require": [{"resource": "aws_s3_bucket_versioning", "refers_to": "aws_s3_bucket"}]}),
    ("An SQS queue called orders.", 'resource "aws_sqs_queue" "orders" {\n  name = "orders"\n}',
     {"require": [{"resource": "aws_sqs_queue"}]}),
    ("An SNS topic called alerts.", 'resource "aws_sns_topic" "alerts" {\n  name = "alerts"\n}',
     {"require": [{"resource": "aws_sns_topic"}]}),
    ("A CloudWatch log group kept 14 days.",
     'resource "aws_cloudwatch_log_group" "app" {\n  name              = "/app"\n  retention_in_days = 14\n}',
     {"require": [{"resource": "aws_cloudwatch_log_group", "where": {"retention_in_days": 14}}]}),
    ("An ECR repository named web.", 'resource "aws_ecr_repository" "web" {\n  name = "web"\n}',
     {"require": [{"resource": "aws_ecr_repository"}]}),
]
KUBERNETES = [
    ("A Namespace called shop.", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop",
     {"require": [{"kind": "Namespace"}]}),
    ("A ConfigMap web-config with LOG_LEVEL=info.",
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  LOG_LEVEL: info",
     {"require": [{"kind": "ConfigMap"}]}),
    ("A ClusterIP Service web on port 80.",
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n"
     "    - port: 80", {"require": [{"kind": "Service"}]}),
    ("A ServiceAccount named builder.", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder",
     {"require": [{"kind": "ServiceAccount"}]}),
    ("A Secret db with key password.",
     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: change-me",
     {"require": [{"kind": "Secret"}]}),
    ("A PersistentVolumeClaim data of 1Gi.",
     "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n"
     "  resources:\n    requests:\n      storage: 1Gi", {"require": [{"kind": "PersistentVolumeClaim"}]}),
]


def write_rows(path: Path, count: int = 12) -> Path:
    rows = []
    for index in range(count):
        pool, kind, fence = (TERRAFORM, "terraform", "hcl") if index % 2 == 0 else (KUBERNETES, "kubernetes",
                                                                                      "yaml")
        instruction, code, intent = pool[(index // 2) % len(pool)]
        rows.append({"id": f"t-{index:03d}", "instruction": instruction, "input": "",
                     "output": f"```{fence}\n{code}\n```", "kind": kind, "intent": intent, "tags": ["test"]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def rows(tmp_path) -> tuple[Path, Path]:
    """(training rows, held-out rows): a dozen and four, written by the test."""
    return write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)


@pytest.fixture
def job_home(home, monkeypatch):
    """A workspace of the test's own; its jobs' processes are killed at the end if still alive."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a tiny model on 2 busy cores: one thread is many times faster
    monkeypatch.setenv("INFRAMIND_GPUS", "none")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    yield home
    kill_jobs(home)


def wait_for(condition, timeout: float, interval: float = 0.2, what: str = "the condition"):
    """Poll `condition()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def tiny_job(kind: str, model: Path, rows: tuple[Path, Path], **changes):
    """A spec small enough for the CPU: a few steps of short sequences, no checkpointing of activations."""
    from jobs import specs

    values = dict(model=str(model), dataset=str(rows[0]), eval_dataset=str(rows[1]), batch_size=2,
                  gradient_accumulation=1, max_length=320, max_steps=3, logging_steps=1, save_steps=1000,
                  eval_steps=1000, learning_rate=1e-3, warmup_ratio=0.0, lr_schedule="linear",
                  gradient_checkpointing=False, lora={"r": 8, "alpha": 16})
    if kind == "grpo":
        values.update(num_generations=2, max_completion_length=8, eval_dataset="")
    values.update(changes)
    return specs.from_dict({"kind": kind, **values})
