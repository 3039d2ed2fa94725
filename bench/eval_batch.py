"""Which batch size and which decoder evaluate fastest? Decides `studio.evaluation.DEFAULT_BATCH_SIZE` and
where `studio.generation.generate`'s decoder="auto" picks the studio's decoder.

    python bench/eval_batch.py                        # embedded model, 16 eval rows, 128 new tokens, greedy
    python bench/eval_batch.py --rows 24 --tokens 256 --sizes 1 4 8 16
    python bench/eval_batch.py --threads 1      # one torch thread (a machine shared with other work)
    python bench/eval_batch.py --decoders transformers studio --sizes 16 32 --adapter runs/sft-iac-1/adapter

Generates greedy answers to the same eval rows (longest prompts first, as `evaluation.evaluate` orders them)
at each batch size with each decoder (`transformers`: `model.generate`; `studio`: studio.decoder, the adapter
merged into a plain decoder) and prints answers per minute and new tokens per second, against the first size
with the first decoder given (batch 1 of `generate` by default), the baseline; whether each decoder's answers
are the same as the baseline decoder's at that size.
Answers stop at the end-of-turn token as in a real evaluation, so a batch waits for its longest answer: that
cost is part of what is measured. Each line also says how much CPU other processes took meanwhile (from
/proc/stat): on a shared machine that explains a slow run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/eval_batch.py` from anywhere
from studio import chat, evaluation, generation, models


def machine_busy() -> float:
    """CPU-seconds all processes on this machine have used since boot."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--decoders", nargs="+", default=["transformers"], choices=generation.DECODERS[1:])
    parser.add_argument("--adapter", default="", help="a LoRA adapter folder on top of the embedded model")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.adapter:
        model, tokenizer = models.load_with_adapter(models.EMBEDDED, args.adapter)
    else:
        model, tokenizer = models.load(models.EMBEDDED)
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)
    # Every fifth row: both kinds and a spread of prompt lengths.
    rows = rows[:: max(1, len(rows) // args.rows)][: args.rows]
    chats = sorted((chat.messages_for(r.instruction, r.kind, r.input) for r in rows),
                   key=lambda c: -sum(len(m["content"]) for m in c))
    settings = generation.Settings(max_new_tokens=args.tokens)
    generation.generate(model, tokenizer, chats[:2], generation.Settings(max_new_tokens=8))  # warm-up
    device = next(model.parameters()).device
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, embedded SmolLM2-135M-Instruct"
          f"{' + ' + args.adapter if args.adapter else ''}, {len(chats)} rows, at most {args.tokens} new tokens, greedy")
    baseline = None
    for size in args.sizes:
        first_answers = None
        for decoder in args.decoders:
            busy, cpu, started = machine_busy(), time.process_time(), time.perf_counter()
            with torch.inference_mode():
                batch = generation.generate(model, tokenizer, chats, settings, batch_size=size, decoder=decoder)
            seconds = time.perf_counter() - started
            others = max(0.0, (machine_busy() - busy) - (time.process_time() - cpu)) / seconds
            per_minute = len(chats) / seconds * 60
            baseline = baseline or per_minute
            first_answers = first_answers or batch.answers
            same = sum(a == b for a, b in zip(batch.answers, first_answers))
            print(f"batch {size:3d} {decoder:12s}: {per_minute:6.1f} answers/min, {batch.new_tokens / seconds:6.1f} "
                  f"new tokens/s, {seconds:6.1f} s, {per_minute / baseline:.2f}x the baseline, same answers "
                  f"{same}/{len(chats)} (others {others:.1f} CPU)", flush=True)


if __name__ == "__main__":
    main()
