"""Which dtype decodes one answer faster on this CPU: fp32 or bf16? One input to `studio.models.pick_dtype`
(batched work, measured there with F.linear, is the other).

    python bench/cpu_dtype.py                 # embedded model, 3 rounds of 64 new tokens, greedy
    python bench/cpu_dtype.py --tokens 128 --rounds 5

Prints tokens/s per dtype (after a warm-up) and the ratio against fp32, the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/cpu_dtype.py` from anywhere
from studio import chat, generation, models


def measure(dtype, tokens: int, rounds: int) -> list[float]:
    model, tokenizer = models.load(models.EMBEDDED, dtype=dtype)
    messages = chat.messages_for("An S3 bucket for logs with versioning enabled.", "terraform")
    settings = generation.Settings(max_new_tokens=tokens)
    inputs = tokenizer(generation.prompt_text(tokenizer, messages), return_tensors="pt", add_special_tokens=False)
    rates = []
    for round_ in range(rounds + 1):
        started = time.perf_counter()
        with torch.inference_mode():
            # min_new_tokens: every round generates exactly `tokens`, whatever the model says.
            out = model.generate(**inputs, min_new_tokens=tokens, **settings.generate_kwargs(tokenizer))
        produced = out.shape[1] - inputs["input_ids"].shape[1]
        if round_:  # round 0 warms up the kernels and caches
            rates.append(produced / (time.perf_counter() - started))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, embedded SmolLM2-135M-Instruct")
    baseline = None
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        rates = measure(dtype, args.tokens, args.rounds)
        median = statistics.median(rates)
        baseline = baseline or median
        print(
            f"{name}: {median:6.1f} tokens/s (median of {len(rates)}: "
            f"{', '.join(f'{r:.1f}' for r in rates)}), {median / baseline:.2f}x fp32"
        )


if __name__ == "__main__":
    main()
