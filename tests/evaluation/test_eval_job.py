"""The eval job through the job system: `python -m jobs eval` in a terminal and queued in the background."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobs import specs
from jobs.run_folder import RunFolder
from jobs.store import JobStore
from studio import evaluation

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs", *args], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)


def test_eval_through_the_cli_keeps_the_results_with_the_run(eval_home, tiny_llama):
    done = cli("eval", "--model", str(tiny_llama), "--adapter", "sft-tiny", "--limit", "3", "--max-new-tokens", "4",
               "--batch-size", "2", "--output", "eval-tiny")
    assert done.returncode == 0, done.stdout + done.stderr

    # The results live with the run whose adapter was evaluated, where the Export tab's model card reads them.
    results = evaluation.read(eval_home / "runs" / "sft-tiny" / "eval")
    assert results is not None and results.summary["rows"] == 3
    assert [m["label"] for m in results.summary["models"]] == ["base", "fine-tuned"]
    assert results.summary["models"][1]["adapter"].endswith("runs/sft-tiny/adapter")
    assert len(results.rows) == 3 and set(results.rows[0]["answers"]) == {"base", "fine-tuned"}

    # The job itself: its spec, a progress line per batch, its summary pointing at the results, its state.
    run = RunFolder(eval_home / "runs" / "eval-tiny")
    spec = specs.load(run.spec_file)
    assert isinstance(spec, specs.EvalJob) and spec.limit == 3 and spec.adapter == "sft-tiny"
    steps = [(line["step"], line["total_steps"]) for line in run.metrics()]
    # A line before the model loads (0 of 6), then one after each answer: on this machine (no GPU) llama.cpp
    # answers, up to --batch-size 2 decoding together (transformers would write a line per batch).
    assert results.summary["models"][0]["decoder"] == "llama.cpp"
    assert steps == [(step, 6) for step in range(7)]
    assert run.summary()["results"] == str(eval_home / "runs" / "sft-tiny" / "eval")
    job = JobStore().get("eval-tiny")
    assert (job.kind, job.state) == ("eval", "succeeded")
    assert "fine-tuned: 3/3 answers" in run.log_file.read_text()


def test_eval_queued_in_the_background(eval_home, tiny_llama, tmp_path):
    from tests.jobs.conftest import wait_for

    own = tmp_path / "mine.jsonl"  # an uploaded set: requests without reference answers
    own.write_text('{"instruction": "An S3 bucket named logs.", "kind": "terraform"}\n'
                   '{"instruction": "A Namespace called shop.", "kind": "kubernetes"}\n')
    done = cli("eval", "--model", str(tiny_llama), "--dataset", str(own), "--max-new-tokens", "4",
               "--output", "eval-base", "--submit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "eval-base:" in done.stdout and "python -m jobs logs eval-base -f" in done.stdout

    store = JobStore()
    wait_for(lambda: store.get("eval-base").state not in ("queued", "running"), 120, what="the queued eval to end")
    job = store.get("eval-base")
    assert job.state == "succeeded", job.message
    # No run behind the model: the results go under evaluations/<the job's name>.
    results = evaluation.read(eval_home / "evaluations" / "eval-base")
    assert results.summary["rows"] == 2 and [m["label"] for m in results.summary["models"]] == ["base"]
    assert results.summary["split"] == "mine"


def test_bad_eval_options_are_refused_by_name(eval_home, tiny_llama):
    done = cli("eval", "--model", str(tiny_llama), "--samples", "4", "--adapter", "no-such-run")
    assert done.returncode == 2
    assert "samples is 4 but temperature is 0" in done.stderr
    done = cli("eval", "--model", str(tiny_llama), "--adapter", "no-such-run")
    assert done.returncode == 2 and "holds no adapter_config.json" in done.stderr
    assert json.loads(json.dumps(specs.EvalJob(output="x").to_dict()))["kind"] == "eval"


def test_a_stopped_eval_ends_between_batches(eval_home, tiny_llama):
    from jobs import runner
    from tests.jobs.conftest import wait_for

    job = runner.submit(specs.EvalJob(model=str(tiny_llama), adapter="sft-tiny", max_new_tokens=32, batch_size=1,
                                      output="eval-stop"))
    run = RunFolder.named(job.name)
    # The first line (0 answers) is written before the model loads; wait for an answer.
    wait_for(lambda: any(line["step"] > 0 for line in run.metrics()), 120, what="the first answer")
    runner.stop(job.name)
    store = JobStore()
    wait_for(lambda: store.get(job.name).state not in ("queued", "running"), 60, what="the eval to stop")
    assert store.get(job.name).state == "stopped"
    assert 0 < run.stopped()["step"] < 242 and run.summary() is None
    assert evaluation.read(eval_home / "runs" / "sft-tiny" / "eval") is None, "a stopped eval writes no results"
