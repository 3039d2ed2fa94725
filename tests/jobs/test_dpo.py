"""DPO jobs through the CLI on a tiny random model: pairs from the Compare tab's votes and mined from the starting
adapter together, the implicit rewards in metrics.jsonl, resume from a checkpoint, and bad pair files refused with
their line numbers before a model loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import runner, specs
from jobs.run_folder import RunFolder
from jobs.store import JobStore
from studio import chat
from tests.jobs.conftest import tiny_job, write_rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 240
GOOD = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```'
BAD = '```hcl\nresource "aws_s3_bucket" "logs" {\n  name = "logs"\n}\n```'
DPO_FIELDS = ("rewards_chosen", "rewards_rejected", "rewards_margin", "rewards_accuracy")


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "INFRAMIND_HOME": str(home), "OMP_NUM_THREADS": "1", "INFRAMIND_GPUS": "none"}
    env.pop(runner.SUPERVISED_ENV, None)
    return subprocess.run([sys.executable, "-m", "jobs", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


def _vote(home: Path, count: int) -> None:
    previous = os.environ.get("INFRAMIND_HOME")
    os.environ["INFRAMIND_HOME"] = str(home)
    try:
        from studio import preferences

        for index in range(count):
            messages = chat.messages_for(f"An S3 bucket for logs, number {index}", "terraform")
            preferences.record(messages, left=BAD, right=GOOD, vote="right")
        preferences.record(messages, left=BAD, right=GOOD, vote="tie")  # says nothing: not a pair
    finally:
        if previous is None:
            os.environ.pop("INFRAMIND_HOME")
        else:
            os.environ["INFRAMIND_HOME"] = previous


def _weights(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def dpo_by_cli(tiny_llama, tiny_adapter, tmp_path_factory):
    """A DPO job of 4 steps from an SFT-like adapter, on 3 votes and pairs mined from 4 training requests,
    run with `python -m jobs run job.yaml`."""
    root = tmp_path_factory.mktemp("dpo")
    home = root / "workspace"
    _vote(home, 3)
    rows = write_rows(root / "train.jsonl", 12), root / "unused.jsonl"
    # A random model writes no code, so mining counts each row's own answer among the candidates: every request
    # then gives a pair (the reference over the worst sample), through the same sampling and ranking.
    spec = tiny_job("dpo", tiny_llama, rows, eval_dataset="", output="dpo-cli", max_steps=4, save_steps=2,
                    votes=True, adapter=str(tiny_adapter), mine_samples=2, mine_limit=4, mine_max_new_tokens=12,
                    mine_reference=True)
    specs.save(spec, root / "job.yaml")
    result = _cli(["run", str(root / "job.yaml")], home)
    return home, root / "job.yaml", RunFolder(home / "runs" / "dpo-cli"), result


def test_a_dpo_job_trains_on_votes_and_mined_pairs_through_the_cli(dpo_by_cli, tiny_adapter):
    home, _, run, result = dpo_by_cli
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    pairs = [json.loads(line) for line in (run.path / "pairs.jsonl").read_text().splitlines()]
    assert [pair["source"] for pair in pairs] == ["votes"] * 3 + ["mined"] * 4
    assert all(pair["chosen_score"]["stages"] > pair["rejected_score"]["stages"] for pair in pairs[3:])
    summary = run.summary()
    assert summary["kind"] == "dpo" and summary["steps"] == 4 and summary["pairs_by_source"] == {"votes": 3,
                                                                                               "mined": 4}
    assert summary["mining"]["requests"] == 4 and summary["mining"]["answers"] == 8
    assert summary["started_from"] == str(tiny_adapter)
    log = run.log_file.read_text()
    assert "[job] DPO on 7 pairs (3 votes, 4 mined)" in log and "[mine] 4/4 requests, 4 pairs kept" in log

    lines = [row for row in run.metrics() if row.get("loss") is not None]
    assert [row["step"] for row in lines] == [1, 2, 3, 4]
    for row in lines:
        assert all(isinstance(row[name], float) for name in DPO_FIELDS), row
        assert row["rewards_margin"] == pytest.approx(row["rewards_chosen"] - row["rewards_rejected"], abs=1e-6)
        assert 0.0 <= row["rewards_accuracy"] <= 1.0 and row["tokens_per_s"] > 0
    # The first step measures against a reference equal to the policy: no margin, the loss is log 2. After it the
    # policy has moved away from the reference (a few steps on a random model: the sign is noise).
    assert lines[0]["rewards_margin"] == pytest.approx(0.0, abs=1e-6)
    assert lines[0]["loss"] == pytest.approx(0.6931, rel=1e-3)
    assert all(abs(row["rewards_chosen"]) > 1e-6 for row in lines[1:])

    # The SFT adapter was trained further; the frozen reference copy TRL adds is not part of the result.
    start, trained = _weights(tiny_adapter), _weights(run.adapter)
    assert set(trained) == set(start) and not (run.adapter / "ref").exists()
    assert any(not trained[name].equal(start[name]) for name in start)
    job = JobStore(home / "jobs.sqlite").get("dpo-cli")
    assert (job.kind, job.state) == ("dpo", "succeeded")


def test_a_resumed_dpo_job_trains_on_the_same_pairs_from_its_checkpoint(dpo_by_cli):
    home, job_yaml, run, first = dpo_by_cli
    assert first.returncode == 0
    before = {row["step"]: row for row in run.metrics() if row.get("loss") is not None}
    # As if the job had died after its step-2 checkpoint.
    shutil.rmtree(run.checkpoints / "checkpoint-4")
    shutil.rmtree(run.adapter)
    run.summary_file.unlink()

    result = _cli(["run", str(job_yaml), "--resume"], home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = run.log_file.read_text()
    assert "resume: training on the pairs.jsonl the run started with" in log and "resuming from checkpoint-2" in log
    after = {row["step"]: row for row in run.metrics() if row.get("loss") is not None}
    assert sorted(after) == [1, 2, 3, 4]
    for step in (3, 4):  # the same pairs, weights, optimizer and data order: the same steps again
        assert after[step]["loss"] == pytest.approx(before[step]["loss"], rel=1e-4)
        assert after[step]["rewards_margin"] == pytest.approx(before[step]["rewards_margin"], rel=1e-3, abs=1e-6)
    assert run.summary()["steps"] == 4


def test_bad_pair_files_are_refused_with_their_line_numbers(tiny_llama, job_home, tmp_path):
    good = {"prompt": chat.messages_for("An S3 bucket", "terraform"), "chosen": GOOD, "rejected": BAD}
    bad = tmp_path / "pairs.jsonl"
    bad.write_text("\n".join([json.dumps(good), json.dumps({"prompt": good["prompt"], "chosen": GOOD}),
                              '{"prompt": "x", "chosen": ', json.dumps({**good, "rejected": GOOD + "\n"})]) + "\n")
    spec = tiny_job("dpo", tiny_llama, (tmp_path / "none.jsonl", tmp_path / "none.jsonl"), eval_dataset="",
                    output="dpo-bad", pairs=[str(bad)], mine_samples=0)
    specs.save(spec, tmp_path / "job.yaml")

    result = _cli(["run", str(tmp_path / "job.yaml")], job_home)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{bad}:2: missing 'rejected'" in result.stderr
    assert f"{bad}:3: not valid JSON" in result.stderr
    assert f"{bad}:4: chosen and rejected are the same answer" in result.stderr
    assert ":1:" not in result.stderr and "loading" not in result.stdout, "refused before a model loads"
    assert not (job_home / "runs" / "dpo-bad" / "metrics.jsonl").exists()
    # The queue refuses it the same way, and nothing is queued.
    with pytest.raises(specs.SpecError, match=r"pairs.jsonl:2: missing 'rejected'"):
        runner.submit(spec)
    assert JobStore().list() == []


def test_mining_that_keeps_no_pair_fails_with_what_to_change(tiny_llama, job_home, tmp_path):
    """A random model writes no code: all its answers fail alike, so the validators rank none above another."""
    rows = write_rows(tmp_path / "train.jsonl", 4), tmp_path / "unused.jsonl"
    spec = tiny_job("dpo", tiny_llama, rows, eval_dataset="", output="dpo-none", mine_samples=2, mine_limit=2,
                    mine_max_new_tokens=8)
    specs.save(spec, tmp_path / "job.yaml")
    result = _cli(["run", str(tmp_path / "job.yaml")], job_home)
    assert result.returncode != 0
    assert "no preference pairs to train on: mining kept none" in result.stdout + result.stderr
    assert "Raise mine_samples or mine_temperature" in result.stdout + result.stderr
    assert JobStore().get("dpo-none").state == "failed"
