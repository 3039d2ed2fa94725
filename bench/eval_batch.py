"""Which batch size evaluates fastest? Decides `studio.evaluation.DEFAULT_BATCH_SIZE`.

    python bench/eval_batch.py                        # embedded model, 16 eval rows, 128 new tokens, greedy
    python bench/eval_batch.py --rows 24 --tokens 256 --sizes 1 4 8 16
    python bench/eval_batch.py --threads 1      # one torch thread (a machine shared with other work)

Generates greedy answers to the same eval rows (longest prompts first, as `evaluation.evaluate` orders them)
at each batch size and prints answers per minute and new tokens per second, against the first size given (batch
1 by default), the baseline.
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
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model, tokenizer = models.load(models.EMBEDDED)
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)
    # Every fifth row: both kinds and a spread of prompt lengths.
    rows = rows[:: max(1, len(rows) // args.rows)][: args.rows]
    chats = sorted((chat.messages_for(r.instruction, r.kind, r.input) for r in rows),
                   key=lambda c: -sum(len(m["content"]) for m in c))
    settings = generation.Settings(max_new_tokens=args.tokens)
    generation.generate(model, tokenizer, chats[:2], generation.Settings(max_new_tokens=8))  # warm-up
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, embedded SmolLM2-135M-Instruct, "
          f"{len(chats)} rows, at most {args.tokens} new tokens, greedy")
    baseline = None
    for size in args.sizes:
        busy, cpu, started = machine_busy(), time.process_time(), time.perf_counter()
        batch = generation.generate(model, tokenizer, chats, settings, batch_size=size)
        seconds = time.perf_counter() - started
        others = max(0.0, (machine_busy() - busy) - (time.process_time() - cpu)) / seconds
        per_minute = len(chats) / seconds * 60
        baseline = baseline or per_minute
        print(f"batch {size:3d}: {per_minute:6.1f} answers/min, {batch.new_tokens / seconds:6.1f} new tokens/s, "
              f"{seconds:6.1f} s, {per_minute / baseline:.2f}x batch {args.sizes[0]} (others {others:.1f} CPU)")


if __name__ == "__main__":
    main()
