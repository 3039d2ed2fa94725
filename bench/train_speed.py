"""Training speed of the default SFT recipe on a GPU, with a Qwen2.5-0.5B-shaped model. Baseline: bf16 without
quantization on one GPU, in the same run.

    python bench/train_speed.py                          # 1 GPU: NF4 (the default recipe) and the bf16 baseline
    python bench/train_speed.py --gpus 1 2 --steps 30    # and the same recipe on two GPUs (accelerate launch)

No weights are needed: the model is Qwen2.5-0.5B-Instruct's configuration with random weights, which runs at the
speed of the real one. Its tokenizer is the embedded model's (SmolLM2's, so rows tokenize to somewhat different
lengths than with Qwen's own; tokens/s counts the tokens trained on either way). Every setting is a real job
(`python -m jobs run`) over data/train.jsonl with the SFT defaults of `jobs.specs.SFTJob` (batch 4, gradient
accumulation 4, max_length 1024, gradient checkpointing, LoRA r=32 on all projections); tokens/s is the median of
the logged steps after the first (warm-up) one, per job (all GPUs together).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/train_speed.py` from anywhere

from jobs import runner, specs  # noqa: E402
from studio import models  # noqa: E402

# Qwen/Qwen2.5-0.5B-Instruct's config.json, the parts that set the shape and the speed.
QWEN25_05B = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=True, hidden_act="silu", use_sliding_window=False,
)


def build_model(folder: Path, tokenizer_from: str) -> Path:
    """A random model with Qwen2.5-0.5B's shape, saved in bf16 with the given model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(models.resolve(tokenizer_from))
    config = Qwen2Config(**QWEN25_05B, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, torch_dtype="bfloat16")
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_job(spec: specs.SFTJob, home: Path) -> dict:
    job_yaml = home / f"{spec.output}.yaml"
    specs.save(spec, job_yaml)
    started = time.monotonic()
    # The runner's own command: `accelerate launch --num_processes N -m jobs run` for several GPUs.
    result = subprocess.run(runner.training_command(job_yaml, spec.processes), cwd=ROOT,
                            env={**os.environ, "INFRAMIND_HOME": str(home)}, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{spec.output} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    run = home / "runs" / spec.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rates = [row["tokens_per_s"] for row in rows[1:] if row.get("tokens_per_s")]
    summary = json.loads((run / "summary.json").read_text())
    return {"tokens_per_s": statistics.median(rates) if rates else summary.get("tokens_per_s"),
            "peak": summary.get("peak_memory_bytes"), "seconds": time.monotonic() - started,
            "mfu": statistics.median([row["mfu"] for row in rows[1:] if row.get("mfu")] or [0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per job")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1], help="GPU counts to run the recipe on")
    parser.add_argument("--tokenizer", default=models.EMBEDDED, help="model whose tokenizer the random model takes")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU here: this bench measures GPU training speed.")
    card = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="inframind-speed-") as tmp:
        home = Path(tmp)
        cache = Path(os.environ.get("INFRAMIND_HOME") or ROOT / "workspace") / "models"
        if cache.is_dir():  # the embedded model converted once already
            (home / "models").symlink_to(cache.resolve())
        os.environ["INFRAMIND_HOME"] = str(home)
        model = build_model(home / "qwen2.5-0.5b-random", args.tokenizer)
        print(f"{card}; Qwen2.5-0.5B-shaped random model; default SFT recipe (batch 4 x accumulation 4, max_length "
              f"1024, gradient checkpointing, LoRA r=32), {args.steps} steps, data/train.jsonl", flush=True)
        print(f"{'setting':<40} {'tokens/s':>9} {'MFU':>6} {'peak GiB':>9} {'job s':>6}", flush=True)
        settings = [("bf16, 1 GPU (baseline)", 1, "none")] + [(f"NF4 QLoRA (default), {n} GPU{'s' * (n > 1)}", n,
                                                                 "nf4") for n in args.gpus]
        baseline = None
        for label, gpus, quantization in settings:
            spec = specs.SFTJob(model=str(model), dataset=str(ROOT / "data/train.jsonl"), eval_dataset="",
                                output=f"speed-{quantization}-{gpus}", max_steps=args.steps, save_steps=10_000,
                                quantization=quantization, gpus=gpus)
            result = run_job(spec, home)
            baseline = baseline or result["tokens_per_s"]
            print(f"{label:<40} {result['tokens_per_s']:>9,.0f} {result['mfu']:>6.1%} "
                  f"{(result['peak'] or 0) / 2**30:>9.2f} {result['seconds']:>6.0f}  "
                  f"({result['tokens_per_s'] / baseline:.2f}x baseline)", flush=True)


if __name__ == "__main__":
    main()
