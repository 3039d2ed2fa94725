"""bench/grpo_seeds.py: per seed the gpu recipe's SFT and GRPO from its adapter, each trained through `python -m
jobs run` and evaluated, read back rather than trained again, and GRPO's paired differences from its own SFT."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from jobs import specs
from studio import evaluation
from tests.factories import load_script

ROOT = Path(__file__).resolve().parents[2]


def run_seeds(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["grpo_seeds.py", *args])
    load_script("bench/grpo_seeds.py").main()


def test_the_paired_summary_counts_the_seeds_grpo_raised():
    seeds = load_script("bench/grpo_seeds.py")
    figures = lambda rate, score: {"rates": {"intent": rate}, "intent_score": {"all": score}}
    summary = seeds.paired([(figures(0.0, 0.20), figures(0.02, 0.23)), (figures(0.01, 0.22), figures(0.01, 0.21)),
                            (figures(0.03, 0.25), figures(0.05, 0.27))])
    assert summary["seeds"] == 3 and summary["raised"] == 2
    assert summary["intent"] == pytest.approx(0.04 / 3, abs=1e-6), "+2, 0 and +2 points"
    assert summary["score"] == pytest.approx(0.04 / 3, abs=1e-6), "+3, -1 and +2 points"
    assert summary["score_sd"] == pytest.approx(statistics.stdev([0.03, -0.01, 0.02]), abs=1e-6)


def test_each_seed_trains_sft_then_grpo_and_is_read_back(job_home, tiny_llama, monkeypatch, capsys):
    smoke = ["--sft-steps", "1", "--grpo-steps", "1", "--limit", "2", "--model", str(tiny_llama), "--guided", "off",
             "--max-new-tokens", "8", "--smoke"]
    run_seeds(monkeypatch, "--seeds", "7", *smoke)
    sft_run, grpo_run = job_home / "runs" / "seeds1-s7-sft", job_home / "runs" / "seeds1-s7-grpo1"
    sft, grpo = specs.load(sft_run / "job.yaml"), specs.load(grpo_run / "job.yaml")
    assert (sft.max_steps, sft.seed, sft.max_minutes, sft.learning_rate) == (1, 7, 0.0, 0.001), "the gpu recipe's SFT"
    assert (grpo.max_steps, grpo.seed, grpo.adapter) == (1, 7, "seeds1-s7-sft"), "GRPO from this seed's SFT"
    assert json.loads((grpo_run / "seeds.json").read_text())["steps"] == 1
    assert len(evaluation.read(sft_run / "eval").rows) == 2 and len(evaluation.read(grpo_run / "eval").rows) == 2
    out = capsys.readouterr().out
    assert "| 7 | SFT | " in out and "| 7 | +GRPO 1 | " in out
    assert "GRPO 1 steps against its SFT over 1 seeds" in out and "the score raised in" in out

    adapter = (grpo_run / "adapter" / "adapter_config.json").stat().st_mtime_ns
    run_seeds(monkeypatch, "--seeds", "7", *smoke)
    out = capsys.readouterr().out
    assert "[seeds] seed 7" not in out and "evaluating" not in out, "read back, not run again"
    assert (grpo_run / "adapter" / "adapter_config.json").stat().st_mtime_ns == adapter and "| 7 | +GRPO 1 | " in out

    with pytest.raises(SystemExit, match="trained with 1 steps, seed 7"):
        run_seeds(monkeypatch, "--seeds", "7", *smoke[:1], "2", *smoke[2:], "--name", "seeds1")

    # Another GRPO from the same SFT, under its own names; the SFT is not trained again.
    sft_adapter = (sft_run / "adapter" / "adapter_config.json").stat().st_mtime_ns
    run_seeds(monkeypatch, "--seeds", "7", *smoke, "--grpo-set", "temperature=0.7", "learning_rate=5e-5",
              "--tag", "cool")
    changed = specs.load(job_home / "runs" / "seeds1-s7-grpo1-cool" / "job.yaml")
    assert (changed.temperature, changed.learning_rate, changed.adapter) == (0.7, 5e-5, "seeds1-s7-sft")
    assert (sft_run / "adapter" / "adapter_config.json").stat().st_mtime_ns == sft_adapter
    out = capsys.readouterr().out
    assert "| 7 | +GRPO 1 cool | " in out and "GRPO 1 steps cool against its SFT over 1 seeds" in out
    with pytest.raises(SystemExit, match="changes {'temperature': 0.7, 'learning_rate': 5e-05}"):
        run_seeds(monkeypatch, "--seeds", "7", *smoke, "--grpo-set", "temperature=0.5", "--tag", "cool")


def test_grpo_changes_are_spec_keys_the_bench_does_not_set_itself(job_home, monkeypatch, capsys):
    seeds = load_script("bench/grpo_seeds.py")
    assert seeds.grpo_changes(["num_generations=8", "learning_rate=1"]) == {"num_generations": 8, "learning_rate": 1.0}
    for wrong in ("lerning_rate=1e-4", "max_steps=5", "seed=3", "temperature", "learning_rate=fast"):
        with pytest.raises(ValueError, match="--grpo-set"):
            seeds.grpo_changes([wrong])
    with pytest.raises(SystemExit):  # the recipe's 16 answers a step do not split into groups of 3
        run_seeds(monkeypatch, "--grpo-set", "num_generations=3", "--tag", "three")
    assert "num_generations must divide the generation batch" in capsys.readouterr().err
    runs = job_home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "refused before anything trained"


def test_sft_set_changes_the_sft_and_eval_rows_is_what_every_adapter_answers(job_home, tiny_llama, monkeypatch,
                                                                              capsys, tmp_path):
    rows = [json.loads(line) for line in (ROOT / "data" / "eval.jsonl").read_text().splitlines()[:3]]
    marked = tmp_path / "marked.jsonl"
    marked.write_text("".join(json.dumps({**row, "input": f"{row['input']}\nmarked row {i}"}) + "\n"
                              for i, row in enumerate(rows)))
    run_seeds(monkeypatch, "--seeds", "5", "--sft-steps", "1", "--grpo-steps", "1", "--limit", "2", "--model",
              str(tiny_llama), "--guided", "off", "--max-new-tokens", "8", "--smoke", "--name", "marked",
              "--sft-set", "learning_rate=0.002", "warmup_ratio=0", "--eval-rows", str(marked))
    sft_run, grpo_run = job_home / "runs" / "marked-s5-sft", job_home / "runs" / "marked-s5-grpo1"
    assert (specs.load(sft_run / "job.yaml").learning_rate, specs.load(sft_run / "job.yaml").warmup_ratio) == (0.002,
                                                                                                              0.0)
    assert json.loads((sft_run / "seeds.json").read_text())["changes"] == {"learning_rate": 0.002, "warmup_ratio": 0.0}
    for run in (sft_run, grpo_run):
        answered = [row["input"] for row in evaluation.read(run / "eval").rows]
        assert [text.splitlines()[-1] for text in answered] == ["marked row 0", "marked row 1"], run.name
    assert "| 5 | SFT | " in capsys.readouterr().out

    with pytest.raises(SystemExit, match="changes {'learning_rate': 0.002, 'warmup_ratio': 0.0}"):
        run_seeds(monkeypatch, "--seeds", "5", "--sft-steps", "1", "--grpo-steps", "1", "--limit", "2", "--model",
                  str(tiny_llama), "--guided", "off", "--max-new-tokens", "8", "--smoke", "--name", "marked")
    for wrong in (["--sft-set", "lora=4"], ["--sft-set", "seed=3"], ["--eval-rows", str(tmp_path / "none.jsonl")]):
        with pytest.raises(SystemExit):
            run_seeds(monkeypatch, "--seeds", "5", *wrong)
