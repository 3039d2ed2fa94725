"""Imports from other datasets: Parquet, CSV and JSONL with a column mapping, the Hugging Face hub offline; every
row validated, the invalid ones listed and kept out unless asked for."""

from __future__ import annotations

import csv
import json
import time

import pytest

from studio import dataset_import
from studio.dataset import DatasetError
from studio.dataset_import import ColumnMap

GOOD_HCL = 'resource "aws_s3_bucket" "logs" {\n  bucket = "acme-logs"\n}'
BAD_HCL = 'resource "aws_s3_bucket" "logs" {\n  name = "acme-logs"\n}'
GOOD_YAML = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  LOG_LEVEL: info\n")
RECORDS = [
    {"prompt": "S3 bucket acme-logs", "completion": GOOD_HCL, "ctx": ""},
    {"prompt": "A bucket named acme-logs", "completion": BAD_HCL, "ctx": ""},
    {"prompt": "ConfigMap app with LOG_LEVEL=info", "completion": f"```yaml\n{GOOD_YAML}```", "ctx": "ns: default"},
    {"prompt": "Upload a file with boto3", "completion": "import boto3\nboto3.client('s3')", "ctx": ""},
    {"prompt": "", "completion": GOOD_HCL, "ctx": ""},
]
MAPPING = ColumnMap(instruction="prompt", output="completion", input="ctx", kind="", intent="", tags="")


def _check(result: dataset_import.ImportResult) -> None:
    assert [row.kind for row in result.rows] == ["terraform", "kubernetes"]
    assert result.rows[0].output.startswith("```hcl\n") and result.rows[0].output.endswith("\n```")
    assert result.rows[1].input == "ns: default"
    assert [row.instruction for row, _ in result.invalid] == ["A bucket named acme-logs"]
    assert 'unknown argument "name"' in result.invalid[0][1] and "bucket" in result.invalid[0][1]
    assert [why for _, why in result.unreadable] == ["neither Terraform nor Kubernetes code in the output",
                                                     "empty instruction"]
    assert len({row.id for row in result.rows}) == 2


def test_parquet_with_a_column_mapping(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "IaC Set.parquet"
    pq.write_table(pa.Table.from_pylist(RECORDS), path)
    result = dataset_import.to_rows(dataset_import.read_records(path), MAPPING, source=path.name)
    _check(result)
    assert result.rows[0].id.startswith("iac-set-")
    kept = dataset_import.to_rows(dataset_import.read_records(path), MAPPING, source=path.name, keep_invalid=True)
    assert len(kept.rows) == 3 and "1 fail the validators (kept)" in kept.summary()
    assert "(left out)" in result.summary()


def test_csv_and_jsonl_read_the_same(tmp_path):
    csv_path, jsonl_path = tmp_path / "rows.csv", tmp_path / "rows.jsonl"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RECORDS[0]))
        writer.writeheader()
        writer.writerows(RECORDS)
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    for path in (csv_path, jsonl_path):
        _check(dataset_import.to_rows(dataset_import.read_records(path), MAPPING, source=path.name))


def test_a_mapping_to_a_missing_column_names_the_columns(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no column for instruction -> 'instruction', output -> 'output'; "
                                           "the columns are prompt, completion, ctx"):
        dataset_import.to_rows(dataset_import.read_records(path), ColumnMap())
    with pytest.raises(DatasetError, match="import reads .jsonl, .csv or .parquet"):
        dataset_import.read_records(tmp_path / "rows.xlsx")


def test_a_hub_id_offline_fails_fast_with_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(dataset_import.HubUnavailable, match="import its Parquet, CSV or JSONL file instead"):
        dataset_import.hub_records("someone/terraform-sft", split="train")
    assert time.monotonic() - started < 5
    with pytest.raises(DatasetError, match="owner/name"):
        dataset_import.hub_records("not a dataset id")
