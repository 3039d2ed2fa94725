"""The row generator: every row passes the validators and its own intent, stays away from the eval split, states
what its intent checks, and covers the eval split's types and the seed's kinds."""

from __future__ import annotations

import collections
import json
import random
import re
from pathlib import Path

import pytest

from studio import dataset
from studio.iac import validate
from studio.synth import build, kubernetes, patterns, rows, terraform

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def eval_rows() -> list[dataset.Row]:
    return dataset.read_jsonl(DATA / "eval.jsonl")


@pytest.fixture(scope="module")
def generated(eval_rows) -> build.BuildResult:
    return build.generate(150, seed=11, eval_rows=eval_rows)


def test_every_row_is_valid_unique_and_far_from_eval(generated, eval_rows):
    assert len(generated.rows) == 150
    assert generated.stats["invalid"] == 0
    keys = [dataset.content_key(row) for row in generated.rows]
    assert len(set(keys)) == len(keys)
    assert len({row.id for row in generated.rows}) == len(generated.rows)
    eval_sets = [dataset.shingles(row) for row in eval_rows]
    for row in generated.rows:
        report = validate(row.output, row.kind, row.intent)
        assert report.ok, f"{row.id}: {report.summary()}"
        assert row.intent["require"], row.id
        mine = dataset.shingles(row)
        assert max(dataset.jaccard(mine, other) for other in eval_sets) < build.EVAL_DISTANCE, row.id
    kinds = collections.Counter(row.kind for row in generated.rows)
    assert kinds["terraform"] == 90 and kinds["kubernetes"] == 60


def test_the_eval_guard_catches_an_eval_row(eval_rows):
    guard = build.EvalGuard(eval_rows)
    score, closest = guard.closest(eval_rows[3])
    assert score == 1.0 and closest == eval_rows[3].id
    altered = dataset.Row(eval_rows[3].instruction + " Thanks!", eval_rows[3].output, eval_rows[3].kind)
    assert guard.closest(altered)[0] >= build.EVAL_DISTANCE


def test_same_seed_same_rows_other_seed_other_rows(eval_rows):
    first = build.generate(12, seed=4, eval_rows=eval_rows).rows
    again = build.generate(12, seed=4, eval_rows=eval_rows).rows
    other = build.generate(12, seed=5, eval_rows=eval_rows).rows
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]
    assert [r.output for r in first] != [r.output for r in other]


NAMED_PATH = re.compile(r"(^|\.)(name|bucket|identifier|function_name|cluster_identifier|family|image)$")


def test_names_the_intent_checks_are_written_in_the_request(generated):
    """Names, images and ids cannot be paraphrased: each one the intent checks appears in the request."""
    for row in generated.rows:
        text = f"{row.instruction}\n{row.input}"
        for clause in row.intent["require"]:
            if "name" in clause:
                assert clause["name"] in text, (row.id, clause["name"])
            for path, matcher in clause.get("where", {}).items():
                if NAMED_PATH.search(path) and isinstance(matcher, str):
                    assert matcher in text, (row.id, path, matcher)


def test_the_eval_split_types_and_400_others_are_covered(eval_rows):
    _, _, wanted = build.unseen_share(eval_rows, [])
    covered = set(terraform.supported_types())
    for make in patterns.PATTERNS.values():
        spec = make(random.Random(0))
        covered |= {b.labels[0] if b.keyword == "resource" else f"data.{b.labels[0]}" for b in spec.blocks
                    if b.keyword in ("resource", "data")}
    assert wanted <= covered, sorted(wanted - covered)
    assert len(set(terraform.supported_types()) - wanted) >= 400
    assert len(patterns.PATTERNS) >= 40


def test_every_seed_kind_and_the_other_stable_kinds(eval_rows):
    assert set(kubernetes.SEED_KINDS) <= set(kubernetes.KINDS)
    assert {"PriorityClass", "RuntimeClass", "CustomResourceDefinition", "ReplicaSet", "Lease"} <= set(kubernetes.KINDS)
    for kind in kubernetes.KINDS:
        row = kubernetes.manifest_row(kind, random.Random(1), "k")
        report = validate(row.output, "kubernetes", row.intent)
        assert report.ok, f"{kind}: {report.summary()}"


def test_every_pattern_refers_across_its_resources():
    for name, make in patterns.PATTERNS.items():
        row = rows.terraform_row(make(random.Random(2)), random.Random(2), name)
        report = validate(row.output, "terraform", row.intent)
        assert report.ok, f"{name}: {report.summary()}"
        if not name.startswith("data-") and len([c for c in row.intent["require"] if "resource" in c]) > 1:
            assert any("refers_to" in c for c in row.intent["require"]), name


def test_services_and_kinds_narrow_the_rows(eval_rows):
    result = build.generate(10, seed=1, services=["s3"], kinds=["Deployment"], eval_rows=eval_rows)
    assert all("aws_s3" in r.output or "random_id" in r.output for r in result.rows if r.kind == "terraform")
    assert all("kind: Deployment" in r.output for r in result.rows if r.kind == "kubernetes")
    with pytest.raises(ValueError, match="unknown Kubernetes kind"):
        build.generate(2, kinds=["Deploymnet"], eval_rows=eval_rows)


def test_generated_rows_shrink_the_unseen_share(eval_rows):
    seed_rows = dataset.read_jsonl(DATA / "train.jsonl")
    before, missing, _ = build.unseen_share(eval_rows, seed_rows)
    assert before > 0.15 and "aws_budgets_budget" in missing
    extra = [rows.terraform_row(terraform.resource_row(t, random.Random(0)), random.Random(0), t)
             for t in missing if not t.startswith("data.") and t in terraform.supported_types()]
    after, _, _ = build.unseen_share(eval_rows, seed_rows + extra)
    assert after < before


@pytest.mark.parametrize("name", ["hcl", "values", "words", "terraform", "rows", "profiles", "patterns",
                                  "kubernetes", "build"])
def test_examples_in_docstrings(name):
    import doctest
    import importlib

    module = importlib.import_module(f"studio.synth.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_command_writes_a_file_and_a_dataset_and_measures_coverage(home, tmp_path, capsys):
    from studio import dataset_store
    from studio.synth.__main__ import main

    out = tmp_path / "generated.jsonl"
    assert main(["--rows", "8", "--seed", "2", "--out", str(out), "--dataset", "generated"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["rows"] == 8 and stats["invalid"] == 0 and stats["validity"] == 1.0
    assert [r.id for r in dataset.read_jsonl(out)] == [r.id for r in dataset_store.load("generated").splits["train"]]
    assert main(["coverage", str(DATA / "train.jsonl")]) == 0
    assert "15 of 76 eval resource types (19.7%) never appear" in capsys.readouterr().out
