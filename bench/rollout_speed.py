"""GRPO's sampling on a GPU: the studio's rollout engine against TRL's default `generate` path, in the same run,
inside the GRPO trainer the job uses (64 answers of 512 new tokens: 8 prompts x 8 generations).

    python bench/rollout_speed.py                 # TRL's generate (dynamic cache) vs the studio's engine
    python bench/rollout_speed.py --static        # and TRL with cache_implementation="static", compiled

The model is Qwen2.5-0.5B's shape with random weights (bench/train_speed.py builds it) with GRPO's LoRA adapter
(r=32 on all seven projections), bf16; prompts are the seed's first requests through the chat template. Every
path is the trainer's own `_generate_single_turn`, the call GRPO makes once per generation batch: TRL's with
`rollout` unset (what `GRPOTrainer` does with `use_vllm=False`), the studio's with the engine set (jobs.grpo).
Random weights rarely sample the end token, so every answer runs the full 512 tokens on every path; new tokens
per second counts the tokens returned. The model is in training mode, as GRPO leaves it while it samples.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import train_speed  # noqa: E402

from studio import models  # noqa: E402


def timed(function, synchronize) -> tuple[float, object]:
    synchronize()
    began = time.perf_counter()
    result = function()
    synchronize()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the fast paths (median)")
    parser.add_argument("--static", action="store_true", help="also TRL with a static cache, compiled")
    parser.add_argument("--tokenizer", default=models.EMBEDDED)
    parser.add_argument("--dry-run", action="store_true", help="check the script on the CPU with a tiny model")
    args = parser.parse_args()

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from jobs import grpo
    from studio.decoder import Rollout
    from studio import dataset

    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        sys.exit("No CUDA GPU here: this bench measures GPU sampling speed.")
    synchronize = torch.cuda.synchronize if cuda else (lambda: None)
    card = torch.cuda.get_device_name(0) if cuda else "CPU (dry run)"
    with tempfile.TemporaryDirectory(prefix="inframind-rollout-") as tmp:
        folder = train_speed.build_model(Path(tmp) / "model", args.tokenizer,
                                         train_speed.TINY if args.dry_run else train_speed.QWEN25_05B)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        tokenizer.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16 if cuda else torch.float32,
                                                     device_map={"": 0 if cuda else "cpu"})
        rows = grpo.prompt_rows(dataset.read_jsonl(ROOT / "data/train.jsonl")[: args.prompts])
        batch = args.prompts * args.generations
        config = GRPOConfig(output_dir=str(Path(tmp) / "out"), per_device_train_batch_size=batch,
                            num_generations=args.generations, max_completion_length=args.new_tokens,
                            temperature=0.9, bf16=cuda, report_to=[], disable_tqdm=True, max_steps=1)
        trainer = grpo.trainer_class()(
            model=model, reward_funcs=[lambda prompts, completions, **kwargs: [0.0] * len(completions)],
            args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
            peft_config=LoraConfig(r=32, lora_alpha=64, lora_dropout=0.05, task_type="CAUSAL_LM",
                                   target_modules=train_speed.LORA["target_modules"]))
        trainer.model.train()
        prompts = [row["prompt"] for row in rows for _ in range(args.generations)]
        prompt_ids, _, _ = trainer._tokenize_prompts(prompts)
        print(f"{card}; Qwen2.5-0.5B-shaped random model + LoRA r=32 (bf16); {batch} answers of {args.new_tokens} "
              f"new tokens, prompts of {min(map(len, prompt_ids))}-{max(map(len, prompt_ids))} tokens; "
              f"temperature 0.9", flush=True)

        def sample():
            completions, _ = trainer._generate_single_turn(prompt_ids, None, {}, args.generations)
            return completions

        results = []

        def report(label, seconds_list, completions):
            tokens = sum(len(c) for c in completions)
            seconds = statistics.median(seconds_list)
            rate = tokens / seconds
            base = results[0][1] if results else rate
            results.append((label, rate))
            print(f"{label:<52} {tokens:>7,} {seconds:>8.2f} {rate:>10,.0f} {rate / base:>7.1f}x", flush=True)

        print(f"{'path':<52} {'tokens':>7} {'seconds':>8} {'tokens/s':>10} {'vs TRL':>8}", flush=True)
        # TRL's default path: one short warm-up, then one timed run (the slow one: tens of seconds)
        trainer.rollout = None
        saved = trainer.generation_config.max_new_tokens
        trainer.generation_config.max_new_tokens = 8
        sample()
        trainer.generation_config.max_new_tokens = saved
        seconds, completions = timed(sample, synchronize)
        report("TRL generate (dynamic cache), GRPOTrainer default", [seconds], completions)

        if args.static:
            trainer.generation_config.cache_implementation = "static"
            trainer.generation_config.disable_compile = False  # TRL turns compilation off; the static cache wants it
            first, _ = timed(sample, synchronize)
            seconds, completions = timed(sample, synchronize)
            report(f"TRL generate, static cache + compile (first {first:.0f} s)", [seconds], completions)
            trainer.generation_config.cache_implementation = None
            trainer.generation_config.disable_compile = True

        trainer.rollout = Rollout.for_model(trainer.accelerator.unwrap_model(trainer.model))
        first, _ = timed(sample, synchronize)
        runs = [timed(sample, synchronize) for _ in range(args.repeats)]
        report(f"studio engine: merged LoRA, CUDA graph (first {first:.1f} s)", [s for s, _ in runs], runs[-1][1])

        # Same answers? Greedy, 24 tokens, the engine against generate on the same PEFT model (eval mode).
        trainer.model.eval()
        few = prompt_ids[:: args.generations][:4]
        engine = trainer.rollout
        engine.sync(trainer.accelerator.unwrap_model(trainer.model))
        ours = engine.generate(few, 24, 0.0, [tokenizer.eos_token_id], tokenizer.pad_token_id)
        same = 0
        for ids, answer in zip(few, ours):
            tensor = torch.tensor([ids], device=engine.device)
            out = trainer.model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor), do_sample=False,
                                         max_new_tokens=24, pad_token_id=tokenizer.pad_token_id)
            theirs = out[0, len(ids):].tolist()
            same += next((i for i, (a, b) in enumerate(zip(answer, theirs)) if a != b), min(len(answer), len(theirs)))
        print(f"greedy check: {same} of {24 * len(few)} tokens agree with generate before the first difference "
              f"(bf16 rounding differs between the two paths)", flush=True)


if __name__ == "__main__":
    main()
