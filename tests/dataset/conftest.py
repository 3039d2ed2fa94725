"""Rows to test with: a few hand-made ones with the characters that break naive readers, and the seed's."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import dataset

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"

BUCKET = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}\n```'
DEPLOYMENT = (
    "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
    "  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n"
    "    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n```"
)


def awkward_rows() -> list[dataset.Row]:
    """Rows holding commas, quotes, newlines, CRLF, tabs, non-ASCII and U+2028 inside their text."""
    return [
        dataset.Row("An S3 bucket for logs, \"versioned\"", BUCKET, "terraform", id="t-1",
                    intent={"require": [{"resource": "aws_s3_bucket", "where": {"bucket": "app-logs"}}]},
                    tags=["s3", "logs"]),
        dataset.Row("Bücket für Logs\r\nmit Versionierung\u2028und ☃", BUCKET, "terraform", id="t-2",
                    input="name:\tapp-logs, region: eu-west-1", tags=["s3"]),
        dataset.Row("A web Deployment, 2 replicas", DEPLOYMENT, "kubernetes", id="k-1",
                    intent={"require": [{"kind": "Deployment", "where": {"spec.replicas": 2}}]},
                    tags=["deployment", "nginx"]),
    ]


@pytest.fixture
def rows() -> list[dataset.Row]:
    return awkward_rows()


@pytest.fixture(scope="session")
def seed_splits() -> dict[str, list[dataset.Row]]:
    return {"train": dataset.read_jsonl(DATA / "train.jsonl"), "eval": dataset.read_jsonl(DATA / "eval.jsonl")}
