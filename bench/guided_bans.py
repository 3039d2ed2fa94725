"""What the guided processor's masks cost a step with and without the packed-array cache of the bans.

    python bench/guided_bans.py                  # Qwen2.5's tokenizer (151,665 tokens), 8 seed answers per kind
    python bench/guided_bans.py --rows 16 --tokens 300

Baseline: `decoding.PACK_ONCE` off (every banned array packed into a bit mask for each row at each step, as before
the twelfth session), then on, twice each in turn, in one process. No model: 8 seed answers of each kind are fed
token by token to one `GuidedLogitsProcessor` (grammar and bans, as an evaluation or a GRPO rollout runs them), and
each step's time is split into the grammar's masks and the bans (`part_seconds`). On the H200 the Kubernetes bans
took 3-9 ms a step of 32 rows (`bench/sweeps/results/guided-h200.md`); this measures the change on any machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from guided import qwen25_tokenizer  # noqa: E402

from studio import chat, generation  # noqa: E402
from studio.guided import decoding  # noqa: E402


def step_times(tokenizer, kind: str, answers: list[list[int]], pack_once: int) -> tuple[float, dict]:
    """Milliseconds a step, and per part, of one processor fed `answers` side by side."""
    decoding.PACK_ONCE = pack_once
    decoding._PACKED.clear()
    rows, vocab = len(answers), len(tokenizer)
    guide = decoding.GuidedLogitsProcessor(tokenizer, [kind] * rows)
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("x", kind)), return_tensors="pt",
                       add_special_tokens=False)["input_ids"]
    sequence = prompt.repeat(rows, 1)
    guide(sequence, torch.zeros(rows, vocab))  # compiles the grammar, builds the tables
    steps = min(len(answer) for answer in answers)
    sequence = torch.cat([sequence, torch.tensor([[answer[0]] for answer in answers])], 1)
    guide.part_seconds = {part: 0.0 for part in guide.part_seconds}
    started = time.perf_counter()
    for i in range(1, steps):
        guide(sequence, torch.zeros(rows, vocab))
        sequence = torch.cat([sequence, torch.tensor([[answer[i]] for answer in answers])], 1)
    per_step = 1000 * (time.perf_counter() - started) / (steps - 1)
    return per_step, {part: 1000 * seconds / (steps - 1) for part, seconds in guide.part_seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8, help="seed answers of each kind decoded side by side")
    parser.add_argument("--tokens", type=int, default=200, help="steps at most (the shortest answer's tokens)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokenizer = qwen25_tokenizer(Path(tempfile.mkdtemp()))
    rows = [json.loads(line) for line in (ROOT / "data" / "train.jsonl").read_text().splitlines() if line.strip()]
    cached = decoding.PACK_ONCE
    for kind in ("kubernetes", "terraform"):
        picked = [row for row in rows if row["kind"] == kind][: args.rows]
        answers = [tokenizer.encode(row["output"], add_special_tokens=False)[: args.tokens] for row in picked]
        for label, pack_once in (("baseline (no cache)", 10 ** 12), ("packed once", cached)) * 2:
            total, parts = step_times(tokenizer, kind, answers, pack_once)
            print(f"{kind:10} {label:20} {total:6.2f} ms/step  grammar {parts['grammar']:.2f} ms, "
                  f"bans {parts['bans']:.2f} ms ({len(answers)} rows)", flush=True)
    decoding.PACK_ONCE = cached


if __name__ == "__main__":
    main()
