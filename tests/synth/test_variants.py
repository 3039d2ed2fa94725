"""Variants of the seed rows: names, IDs, addresses and numbers changed alike in request, answer and intent, every
variant passing the validators and its own intent, the platform's words and domains left alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from studio import dataset
from studio.iac import validate
from studio.synth import build, variants

DATA = Path(__file__).resolve().parents[2] / "data"
# A peering with VPC and route-table IDs, an alarm with an instance ID, an e-mail and a threshold, a bucket name,
# a StatefulSet's replica count, a PodDisruptionBudget's name and maxUnavailable, a rewrite with nothing to change.
IDS = ("tfb-0013", "tfc-0077", "tfa-0009", "k8b-0001", "k8a-0135")


@pytest.fixture(scope="module")
def seed_rows() -> list[dataset.Row]:
    return dataset.read_jsonl(DATA / "train.jsonl")


@pytest.fixture(scope="module")
def maker(seed_rows) -> variants.Variants:
    return variants.Variants(seed_rows, eval_rows=dataset.read_jsonl(DATA / "eval.jsonl"))


@pytest.fixture(scope="module")
def built(maker, seed_rows) -> variants.VariantsResult:
    chosen = [row for row in seed_rows if row.id in IDS]
    return maker.build(per_row=4, seed=0, rows=chosen)


def _of(built, original_id: str) -> list[dataset.Row]:
    return [row for row in built.rows if row.id.startswith(original_id + "-v")]


def test_every_variant_passes_the_validators_and_its_own_changed_intent(built):
    made = [row for row in built.rows if "variant" in row.tags]
    assert len(made) == built.stats["variants"] >= 12
    assert [row.id for row in built.rows[:len(IDS)]] == [row.id for row in built.rows if "variant" not in row.tags]
    for row in made:
        report = validate(row.output, row.kind, row.intent, best_practice=False)
        assert report.ok, f"{row.id}: {report.summary()}"
    keys = [(row.instruction, row.input) for row in built.rows]
    assert len(set(keys)) == len(keys), "every variant is a new request"


def test_ids_and_addresses_change_alike_in_request_answer_and_intent(built, seed_rows):
    peering = _of(built, "tfb-0013")
    assert peering
    for row in peering:
        vpcs = re.findall(r"vpc-[0-9a-f]+", row.input)
        assert len(vpcs) == 2 and "vpc-0aa1" not in row.input and "vpc-0bb2" not in row.input
        assert all(vpc in row.output for vpc in vpcs)
        assert row.intent["require"][0]["where"]["vpc_id"] == vpcs[0]
        assert row.intent["require"][0]["where"]["peer_vpc_id"] == vpcs[1]
        assert "10.1.0.0/16" in row.input and "10.1.0.0/16" in row.output, "CIDRs are not numbers to change"
    alarms = _of(built, "tfc-0077")
    assert alarms
    for row in alarms:
        email = re.search(r"[\w.+-]+@[\w.-]+\.\w+", row.instruction).group(0)
        assert email != "oncall@acme-corp.net" and f'endpoint  = "{email}"' in row.output
        assert row.intent["require"][0]["where"]["endpoint"] == email


def test_a_number_takes_a_value_its_key_takes_in_another_answer(built, maker):
    for row in _of(built, "k8b-0001"):
        replicas = int(re.search(r"(\d+)-replica", row.instruction).group(1))
        assert replicas != 3 and replicas in maker.values["replicas"] and 1 <= replicas <= 6
        assert re.search(rf"^\s*replicas: {replicas}$", row.output, re.M)
        assert "PostgreSQL 16" in row.instruction, "a number the answer does not set as a key's value stays"
    thresholds = {re.search(r"over (\d+)% CPU", row.instruction).group(1) for row in _of(built, "tfc-0077")}
    assert thresholds and "80" not in thresholds
    assert all(int(value) in maker.values["threshold"] for value in thresholds)
    # `threshold` is bytes in other answers (5368709120): a CPU percentage stays a percentage near the original
    assert max(int(value) for value in maker.values["threshold"]) > 100
    assert all(40 <= int(value) <= 100 for value in thresholds)


def test_names_change_everywhere_but_the_platforms_words_stay(built):
    buckets = _of(built, "tfa-0009")
    assert buckets
    for row in buckets:
        assert "pinecrest" not in (row.instruction + row.output).lower()
        name = re.search(r"on bucket (\S+) ", row.instruction).group(1)
        assert f'bucket = "{name}"' in row.output and name.endswith("-media")
        assert "BucketOwnerEnforced" in row.instruction and "BucketOwnerEnforced" in row.output
    for row in _of(built, "k8a-0135"):
        assert "policy/v1beta1" in row.input and "apiVersion: policy/v1" in row.output
        assert "PodDisruptionBudget" in row.output and "maxUnavailable" in row.output


def test_the_platforms_domains_and_common_words_are_never_names(maker, seed_rows):
    restore = next(row for row in seed_rows if row.id == "k8b-0133")  # apiGroup snapshot.storage.k8s.io
    for attempt in range(5):
        changes = maker.changes(restore, __import__("random").Random(attempt))
        assert all("k8s.io" not in change.old for change in changes)
    alarm = next(row for row in seed_rows if row.id == "tfc-0077")
    assert "cpu" not in maker.name_words(alarm), "a word many answers use is not the row's own name"


def test_the_command_writes_the_seed_rows_then_their_variants(tmp_path, seed_rows):
    rows_file = tmp_path / "seed.jsonl"
    chosen = [row for row in seed_rows if row.id in IDS[:2]]
    rows_file.write_text(dataset.jsonl_text(chosen), encoding="utf-8")
    out = tmp_path / "variants.jsonl"
    assert variants.main(["--rows", str(rows_file), "--values-from", "", "--per-row", "2", "--out", str(out)]) == 0
    written = dataset.read_jsonl(out)
    assert [row.id for row in written[:2]] == [row.id for row in chosen]
    assert sorted(row.id for row in written[2:]) == ["tfb-0013-v1", "tfb-0013-v2", "tfc-0077-v1", "tfc-0077-v2"]
    for row in written[2:]:
        assert build.EvalGuard(dataset.read_jsonl(DATA / "eval.jsonl")).closest(row)[0] < build.EVAL_DISTANCE
        assert json.dumps(row.intent) != json.dumps(next(r for r in written[:2] if row.id.startswith(r.id)).intent)
