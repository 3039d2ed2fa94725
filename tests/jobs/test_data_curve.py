"""bench/data_curve.py: nested subsets of the seed rows, each trained through `python -m jobs run` and evaluated, a
point read back rather than trained again, and the gain per doubling of the rows."""

from __future__ import annotations

import json
import sys

import pytest

from studio import dataset, evaluation
from tests.factories import load_script


def run_curve(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["data_curve.py", *args])
    load_script("bench/data_curve.py").main()


def test_subsets_are_nested_cuts_of_one_order():
    curve = load_script("bench/data_curve.py")
    rows = [dataset.Row(instruction=f"request {i}", output="x", kind="terraform") for i in range(10)]
    cuts = curve.subsets(rows, [0.05, 0.3, 0.6, 1.0])
    assert sorted(cuts) == [1, 3, 6, 10], "at least one row; the sizes rounded"
    assert cuts[1] == cuts[3][:1] and cuts[3] == cuts[6][:3] and cuts[6] == cuts[10][:6]
    assert sorted(row.instruction for row in cuts[10]) == sorted(row.instruction for row in rows)
    assert curve.subsets(rows, [0.5], seed=1)[5] != cuts[6][:5], "another seed, another order"


def test_the_gain_per_doubling_is_the_slope_on_log2_rows():
    curve = load_script("bench/data_curve.py")
    assert curve.gain_per_doubling([(100, 0.1), (200, 0.15), (400, 0.2), (800, 0.25)]) == pytest.approx(0.05)
    assert curve.gain_per_doubling([(100, 0.2), (400, 0.2)]) == 0
    assert curve.gain_per_doubling([(100, 0.2)]) is None, "one size has no slope"


def test_a_point_trains_is_evaluated_and_is_read_back(job_home, tiny_llama, monkeypatch, capsys):
    smoke = ["--steps", "1", "--limit", "2", "--model", str(tiny_llama), "--guided", "off", "--max-new-tokens", "8"]
    run_curve(monkeypatch, "--fractions", "0.01", *smoke)
    seed_rows = len(evaluation.load_rows(load_script("bench/data_curve.py").SEED_ROWS))
    size = round(0.01 * seed_rows)
    run = job_home / "runs" / f"curve-{size}-sft"
    trained = json.loads((run / "curve.json").read_text())
    assert (trained["rows"], trained["steps"], trained["mix"], trained["seed"]) == (size, 1, False, 0)
    assert len(dataset.read_file(job_home / "curves" / "curve" / f"seed-{size}.jsonl")["train"]) == size
    job = (run / "job.yaml").read_text()
    assert "mix_dataset: ''" in job and "max_steps: 1" in job, "the gpu recipe's SFT, seed rows only"
    assert len(evaluation.read(run / "eval").rows) == 2
    out = capsys.readouterr().out
    assert f"[curve] {size} rows: SFT curve-{size}-sft" in out and f"| {size} | " in out
    assert "| - | - | - |" in out, "the first 2 eval rows are Terraform: no Kubernetes figures, not zeros"

    adapter = (run / "adapter" / "adapter_config.json").stat().st_mtime_ns
    run_curve(monkeypatch, "--fractions", "0.01", *smoke)
    out = capsys.readouterr().out
    assert "rows: SFT" not in out and "evaluating" not in out, "read back, not run again"
    assert (run / "adapter" / "adapter_config.json").stat().st_mtime_ns == adapter and f"| {size} | " in out

    with pytest.raises(SystemExit, match="trained with 1 steps"):
        run_curve(monkeypatch, "--fractions", "0.01", *smoke[2:], "--steps", "2")
    with pytest.raises(SystemExit, match="subsets of seed 0"):
        run_curve(monkeypatch, "--fractions", "0.01", *smoke, "--seed", "1")
