"""bench/sft_variants.py: per seed the gpu recipe's SFT and each variant of it, trained through `python -m jobs run`,
evaluated, read back rather than trained again, and each variant's paired differences from the recipe's run."""

from __future__ import annotations

import json
import sys

import pytest

from jobs import recipe, specs
from studio import evaluation
from tests.factories import load_script


def run_variants(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["sft_variants.py", *args])
    load_script("bench/sft_variants.py").main()


def test_each_variant_trains_beside_the_recipes_sft_and_is_read_back(job_home, tiny_llama, monkeypatch, capsys):
    smoke = ["--steps", "1", "--limit", "2", "--model", str(tiny_llama), "--guided", "off", "--max-new-tokens", "8",
             "--smoke"]
    run_variants(monkeypatch, "--seeds", "7", *smoke, "--variant", "r4", "lora.r=4", "lora.alpha=8",
                 "--variant", "prompt-loss", "completion_only_loss=false")
    runs = job_home / "runs"
    base = specs.load(runs / "variants1-s7-sft" / "job.yaml")
    r4 = specs.load(runs / "variants1-s7-sft-r4" / "job.yaml")
    prompts = specs.load(runs / "variants1-s7-sft-prompt-loss" / "job.yaml")
    as_written = specs.load(recipe.files("gpu")[0])
    assert (base.max_steps, base.seed, base.max_minutes) == (1, 7, 0.0) and base.lora == as_written.lora
    assert base.completion_only_loss
    assert (r4.lora.r, r4.lora.alpha, r4.lora.targets, r4.seed) == (4, 8, base.lora.targets, 7), "only r and alpha"
    assert (prompts.completion_only_loss, prompts.lora) == (False, base.lora)
    adapter_config = json.loads((runs / "variants1-s7-sft-r4" / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["r"] == 4, "the variant trained as changed"
    for run in ("variants1-s7-sft", "variants1-s7-sft-r4", "variants1-s7-sft-prompt-loss"):
        assert len(evaluation.read(runs / run / "eval").rows) == 2
    out = capsys.readouterr().out
    assert "| 7 | the recipe's SFT | " in out and "| 7 | r4 | " in out and "| 7 | prompt-loss | " in out
    assert "r4 against the recipe's SFT over 1 seeds" in out and "the score raised in" in out

    trained = (runs / "variants1-s7-sft-r4" / "adapter" / "adapter_config.json").stat().st_mtime_ns
    run_variants(monkeypatch, "--seeds", "7", *smoke, "--variant", "r4", "lora.r=4", "lora.alpha=8")
    out = capsys.readouterr().out
    assert "[seeds] seed 7" not in out and "evaluating" not in out, "read back, not run again"
    assert (runs / "variants1-s7-sft-r4" / "adapter" / "adapter_config.json").stat().st_mtime_ns == trained
    assert "| 7 | r4 | " in out and "prompt-loss" not in out, "the variants asked for"

    # --only: this process trains one run; the seed's others are read back as they stand (here: evaluated).
    run_variants(monkeypatch, "--seeds", "7", *smoke, "--variant", "r4", "lora.r=4", "lora.alpha=8",
                 "--variant", "r2", "lora.r=2", "lora.alpha=4", "--only", "r2")
    out = capsys.readouterr().out
    assert "SFT variants1-s7-sft-r2" in out and "SFT variants1-s7-sft," not in out and "-r4," not in out
    assert "| 7 | the recipe's SFT | " in out and "| 7 | r4 | " in out and "| 7 | r2 | " in out
    assert (runs / "variants1-s7-sft-r4" / "adapter" / "adapter_config.json").stat().st_mtime_ns == trained

    with pytest.raises(SystemExit, match="changes {'lora.r': 4, 'lora.alpha': 8}"):
        run_variants(monkeypatch, "--seeds", "7", *smoke, "--variant", "r4", "lora.r=8")


def test_variant_changes_are_spec_keys_the_bench_does_not_set_itself(job_home, monkeypatch, capsys):
    bench = load_script("bench/sft_variants.py")
    assert bench.variant_changes(["learning_rate=1", "lora.dropout=0"]) == {"learning_rate": 1.0, "lora.dropout": 0.0}
    for wrong in ("lerning_rate=1e-4", "max_steps=5", "seed=3", "lora.rank=4", "lora=4", "packing",
                  "learning_rate=fast"):
        with pytest.raises(ValueError):
            bench.variant_changes([wrong])
    with pytest.raises(SystemExit):  # refused by the spec: a rank out of range
        run_variants(monkeypatch, "--variant", "huge", "lora.r=4096")
    assert "lora.r must be a whole number from 1 to 1024" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_variants(monkeypatch, "--variant", "r4", "lora.r=4", "--only", "r8")
    assert "--only r8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_variants(monkeypatch, "--variant", "bare")
    assert "give its changes" in capsys.readouterr().err
    runs = job_home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "refused before anything trained"


def test_a_variant_is_evaluated_on_its_own_rows(job_home, tiny_llama, monkeypatch, capsys, tmp_path):
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[:2]
    with_example = [dict(row.to_dict(), input=f"{row.input}\n\nAn example: resource \"aws_s3_bucket\" \"x\" {{}}")
                    for row in rows]
    own = tmp_path / "eval-with-examples.jsonl"
    own.write_text("".join(json.dumps(row) + "\n" for row in with_example))
    run_variants(monkeypatch, "--seeds", "7", "--steps", "1", "--limit", "2", "--model", str(tiny_llama), "--guided",
                 "off", "--max-new-tokens", "8", "--smoke", "--variant", "ex", "lora.r=4", f"eval_rows={own}")
    runs = job_home / "runs"
    assert [row["input"] for row in evaluation.read(runs / "variants1-s7-sft-ex" / "eval").rows] == \
        [row["input"] for row in with_example]
    assert [row["input"] for row in evaluation.read(runs / "variants1-s7-sft" / "eval").rows] == \
        [row.input for row in rows], "the recipe's run on the eval split"
    assert json.loads((runs / "variants1-s7-sft-ex" / "seeds.json").read_text())["changes"]["eval_rows"] == str(own)
    assert "| 7 | ex | " in capsys.readouterr().out
