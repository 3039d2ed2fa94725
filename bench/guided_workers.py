"""What the guided-decoding workers add to a step beyond the masks themselves: no model, seed answers fed token by
token.

    python bench/guided_workers.py                          # Kubernetes and Terraform, 2 workers, 4 rows
    python bench/guided_workers.py --workers 14 --rows 32   # as a batch of 32 on a 16-core GPU host
    python bench/guided_workers.py --answers kept/kubernetes-llguidance-x14.json  # as `bench/guided.py --keep kept`

Each kind's `--rows` training answers (Qwen2.5's tokenizer, as `bench/guided.py --tokenizer qwen2.5`) are fed to
the masks one token a step, as a decoder would after choosing them, through two guides of the studio: first
`decoding.GuidedLogitsProcessor` in this process (the baseline), then `shards.ShardedGuide` with `--workers`
processes (prepared and warmed first, as the studio does before a batch). Printed per step: the baseline's time;
the sharded guide's wall time without applying the masks to the logits (on a GPU that is the card's work, a few
kernels) and the slowest worker's grammar, bans and budget parts; what is left of the wall time after the slowest
worker's parts is the messaging and waking. On a machine with fewer cores than workers plus one, that is mostly the
processes waiting for a core. Two rounds: the first meets the answers' states for the first time.

`--answers` feeds the answers a run of `bench/guided.py --keep` wrote instead (token ids; the kind is the file
name's first word): the random model's answers of the GPU benchmark, which cost the masks more than seed answers
do, so that the machine that measured them and this one can be told apart. A row that ended is fed padding after
its end, as the decoder does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from studio.guided import decoding, shards  # noqa: E402

TRAIN = Path(__file__).resolve().parents[1] / "data" / "train.jsonl"
VOCAB = 151936  # Qwen2.5-0.5B's logits


def answers(tokenizer, kind: str, rows: int) -> tuple[list[list[int]], int]:
    """`rows` training answers of `kind` as token ids, and the steps all of them last."""
    texts = [r["output"] for r in map(json.loads, TRAIN.read_text(encoding="utf-8").splitlines())
             if r["kind"] == kind][:rows]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    return ids, min(len(i) for i in ids)


def kept(path: Path, pad: int) -> tuple[list[list[int]], int]:
    """The answers of a `bench/guided.py --keep` file, padded to the longest, and its length."""
    ids = json.loads(path.read_text(encoding="utf-8"))
    steps = max(len(i) for i in ids)
    return [i + [pad] * (steps - len(i)) for i in ids], steps


def feed(step, ids: list[list[int]], steps: int, prompt: int, started_with=None) -> float:
    """Feed the answers through `step(history)`, one token a step; returns the seconds a step took on average.
    `started_with`: called once the guide has started (the prompt's step, not timed)."""
    history = torch.full((len(ids), 1), prompt, dtype=torch.long)
    step(history)
    if started_with:
        started_with()
    started = time.perf_counter()
    for index in range(steps):
        history = torch.cat([history, torch.tensor([[i[index]] for i in ids])], dim=1)
        step(history)
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["kubernetes", "terraform"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--answers", nargs="+", type=Path, default=[], help="files of `bench/guided.py --keep` "
                        "(<kind>-<run>.json) to feed instead of seed answers")
    args = parser.parse_args()

    from guided import qwen25_tokenizer  # bench/guided.py: Qwen2.5's tokenizer, offline

    tokenizer = qwen25_tokenizer(Path(tempfile.mkdtemp()) / "qwen2.5-tokenizer")
    decoding.apply_bitmask = decoding.end_only = lambda *args: None  # the card's work, left out (see above)
    sources = [(path.name.split("-")[0], path) for path in args.answers] or [(kind, None) for kind in args.kinds]
    for worker in shards.prepare(tokenizer, VOCAB, args.workers, {kind for kind, _ in sources}):
        worker.settle()
    print(f"{args.workers} workers, {args.rows if not args.answers else 'the kept'} rows, Qwen's tokenizer; "
          f"ms a step", flush=True)
    for kind, path in sources:
        decoding.warm(tokenizer, kind, VOCAB, decoding.WARM_ANSWERS)
        ids, steps = kept(path, tokenizer.pad_token_id) if path else answers(tokenizer, kind, args.rows)
        budget = None if path else 1024  # `bench/guided.py` sets none: its answers run to --tokens
        for round_ in range(args.rounds):
            alone = decoding.GuidedLogitsProcessor(tokenizer, [kind] * len(ids), vocab_size=VOCAB, budget=budget)
            baseline = feed(alone.fill, ids, steps, tokenizer.eos_token_id)  # a worker's work, all rows
            guide = shards.ShardedGuide(tokenizer, [kind] * len(ids), budget=budget, vocab_size=VOCAB,
                                        workers=args.workers)
            scores = torch.zeros((len(ids), VOCAB))
            wall = feed(lambda history: guide(history, scores), ids, steps, tokenizer.eos_token_id,
                        lambda: guide.part_seconds.update(dict.fromkeys(guide.part_seconds, 0.0)))
            parts = {part: 1000 * seconds / steps for part, seconds in guide.part_seconds.items()}
            guide.close()
            print(f"{path.stem if path else kind:10s} round {round_ + 1}: in this process {1000 * baseline:6.2f}; "
                  f"with workers {1000 * wall:6.2f}, slowest worker's "
                  + ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
                  + f"; left for messaging {1000 * wall - sum(parts.values()):6.2f}  ({steps} steps)", flush=True)
    shards.stop()


if __name__ == "__main__":
    main()
