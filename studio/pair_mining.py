"""Preference pairs mined from a model: sample k answers per training request, rank them with the IaC validators,
keep pairs whose answers differ clearly.

    python -m studio.preferences mine --adapter sft-1 --dataset data/train.jsonl --samples 4 --limit 40 \
        --out workspace/preferences/mined-sft-1.jsonl

    >>> from studio import pair_mining
    >>> settings = pair_mining.MiningSettings(samples=4, temperature=0.9, max_new_tokens=256)
    >>> result = pair_mining.mine(model, tokenizer, rows, settings)      # a loaded model (and adapter)
    >>> result.pairs[0]["chosen_score"], result.pairs[0]["rejected_score"]
    ({'stages': 3, 'passed': ['extracted', 'parses', 'schema'], 'reward': 3.2, 'verdict': 'intent: ...'}, {...})

How answers are ranked: first by the correctness stages they pass (extracted, parses, schema, intent: the
`Report` of `studio.iac`), then by the reward total of `studio.iac.rewards.IaCReward`, the GRPO job's own
reward. A pair is kept when the chosen answer passes at least `min_stage_gap` more stages than the rejected one
and its reward is at least `margin` higher: a near tie teaches DPO noise. Per request the best answer is paired
with the worst, the second best with the second worst, up to `pairs_per_request`. Identical answers count once.
With `reference`, the row's own answer (the dataset's output) is one more candidate: every request whose sampled
answers fail then gives a pair (reference over the worst sample), as in SFT-then-DPO on gold answers.

The DPO job calls `mine` on its starting model before training (`jobs.dpo`); `pick_pairs` needs no model.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from studio import chat, dataset

CORRECTNESS_STAGES = ("extracted", "parses", "schema", "intent")


@dataclass(frozen=True)
class MiningSettings:
    """How pairs are mined; the DPO job's `mine_*` keys."""

    samples: int = 4
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 768  # the seed's longest answer is 656 tokens: a cut correct answer would lose
    margin: float = 0.25  # a schema error alone costs 0.25 of studio.iac.rewards' total (weight 0.5)
    min_stage_gap: int = 1
    pairs_per_request: int = 1
    limit: int = 0
    batch_size: int = 16
    seed: int = 0
    # Count the row's own answer (the dataset's output, which passes the checks) among the candidates.
    reference: bool = False

    def problems(self) -> list[str]:
        found = []
        if self.samples < 2:
            found.append(f"samples must be at least 2 (a pair needs two answers to one request), not {self.samples}")
        if not 0 < self.temperature <= 5:
            found.append(f"temperature must be in (0, 5], not {self.temperature}: greedy decoding gives k copies of "
                         "one answer (0.7-1.0 is usual)")
        if not 0 < self.top_p <= 1:
            found.append(f"top_p must be in (0, 1], not {self.top_p}")
        if not 8 <= self.max_new_tokens <= 8192:
            found.append(f"max_new_tokens must be from 8 to 8192, not {self.max_new_tokens}")
        if self.margin < 0:
            found.append(f"margin must be 0 or more, not {self.margin}")
        if self.min_stage_gap < 0 or self.min_stage_gap > len(CORRECTNESS_STAGES):
            found.append(f"min_stage_gap must be from 0 to {len(CORRECTNESS_STAGES)}, not {self.min_stage_gap}")
        if self.min_stage_gap == 0 and self.margin == 0:
            found.append("min_stage_gap and margin are both 0: any two different answers would make a pair; "
                         "raise one of them")
        if self.pairs_per_request < 1:
            found.append(f"pairs_per_request must be at least 1, not {self.pairs_per_request}")
        elif self.samples >= 2 and self.pairs_per_request > self.samples // 2:
            found.append(f"pairs_per_request {self.pairs_per_request} needs {2 * self.pairs_per_request} answers per "
                         f"request; samples is {self.samples}")
        for name in ("limit", "seed"):
            if getattr(self, name) < 0:
                found.append(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.batch_size < 1:
            found.append(f"batch_size must be at least 1, not {self.batch_size}")
        return found


@dataclass(frozen=True)
class Scored:
    """One sampled answer and how the validators rank it."""

    text: str
    stages: int
    passed: tuple[str, ...]
    reward: float
    verdict: str
    origin: str = "sample"  # or "reference": the dataset's own answer

    @property
    def rank(self) -> tuple[int, float]:
        return (self.stages, self.reward)

    def to_dict(self) -> dict:
        return {"stages": self.stages, "passed": list(self.passed), "reward": round(self.reward, 4),
                "verdict": self.verdict, "origin": self.origin}


def score_answers(answers: list[str], kind: str, intent: dict | None, reward=None,
                  origin: str = "sample") -> list[Scored]:
    """Each answer's correctness stages and reward total (studio.iac.rewards' public IaCReward).

    >>> [a.passed for a in score_answers(['```hcl\\nresource "aws_s3_bucket" "b" {\\n  bucket = "b"\\n}\\n```',
    ...                                   "print('no')"], "terraform", None)]
    [('extracted', 'parses', 'schema', 'intent'), ()]
    """
    from studio.iac.rewards import IaCReward, verdict_line

    reward = reward or IaCReward()
    scored = []
    for text in answers:
        report = reward.report(text, kind, intent)
        passed = tuple(stage for stage in CORRECTNESS_STAGES if report.verdicts[stage].passed)
        scored.append(Scored(text, len(passed), passed, float(reward.score(text, kind, intent)["total"]),
                             verdict_line(report), origin))
    return scored


def pick_pairs(scored: list[Scored], margin: float = 0.25, min_stage_gap: int = 1,
               pairs_per_request: int = 1) -> list[tuple[Scored, Scored]]:
    """(chosen, rejected) pairs from the answers to one request: best with worst, then inwards.

    >>> good = Scored("a", 3, ("extracted", "parses", "schema"), 3.1, "intent: ...")
    >>> bad = Scored("b", 1, ("extracted",), 0.6, "parses: ...")
    >>> [(c.text, r.text) for c, r in pick_pairs([bad, good, bad])]
    [('a', 'b')]
    >>> pick_pairs([good, Scored("c", 3, good.passed, 2.9, "")])      # the same stages: no pair
    []
    """
    distinct: dict[str, Scored] = {}
    for answer in scored:
        distinct.setdefault(answer.text.strip(), answer)
    ranked = sorted(distinct.values(), key=lambda answer: answer.rank, reverse=True)
    pairs = []
    for index in range(pairs_per_request):
        if index >= len(ranked) - 1 - index:
            break
        chosen, rejected = ranked[index], ranked[-1 - index]
        if chosen.stages - rejected.stages >= min_stage_gap and chosen.reward - rejected.reward >= margin:
            pairs.append((chosen, rejected))
    return pairs


@dataclass
class MiningResult:
    pairs: list[dict]
    requests: int
    answers: int
    seconds: float
    # Requests whose answers made no pair, by why: all alike (the same stages), or too close in reward.
    without_pair: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    tokens_per_s: float = 0.0

    def summary(self) -> dict:
        return {"pairs": len(self.pairs), "requests": self.requests, "answers": self.answers,
                "requests_without_pair": self.without_pair, "pairs_by_kind": self.by_kind,
                "seconds": round(self.seconds, 1), "tokens_per_s": round(self.tokens_per_s, 1)}


def mine(model, tokenizer, rows: list[dataset.Row], settings: MiningSettings = MiningSettings(),
         on_progress: Callable[[int, int, int], None] | None = None,
         should_stop: Callable[[], bool] | None = None) -> MiningResult:
    """Sample `settings.samples` answers to each row's request, score them, keep the pairs `pick_pairs` picks.

    Rows are answered `settings.batch_size` answers at a time; `on_progress(requests done, total, pairs)` after
    each batch; `should_stop()` True ends early with the pairs so far.
    """
    from studio import generation
    from studio.iac.rewards import IaCReward

    problems = settings.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if settings.limit and settings.limit < len(rows):
        # A seeded draw, not the first N: a dataset file is often grouped by topic or kind.
        rows = random.Random(settings.seed).sample(rows, settings.limit)
    reward = IaCReward()
    was_training = getattr(model, "training", False)
    model.eval()
    per_batch = max(1, settings.batch_size // settings.samples)
    pairs: list[dict] = []
    result = MiningResult([], 0, 0, 0.0)
    started, new_tokens = time.perf_counter(), 0
    try:
        for start in range(0, len(rows), per_batch):
            if should_stop and should_stop():
                break
            chunk = rows[start : start + per_batch]
            chats = [chat.messages_for(row.instruction, row.kind, row.input) for row in chunk]
            repeated = [messages for messages in chats for _ in range(settings.samples)]
            decode = generation.Settings(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                         top_p=settings.top_p, seed=settings.seed + start)
            batch = generation.generate(model, tokenizer, repeated, decode, batch_size=settings.batch_size)
            new_tokens += batch.new_tokens
            for offset, (row, messages) in enumerate(zip(chunk, chats)):
                answers = batch.answers[offset * settings.samples : (offset + 1) * settings.samples]
                scored = score_answers(answers, row.kind, row.intent, reward)
                if settings.reference:
                    scored += score_answers([row.output], row.kind, row.intent, reward, origin="reference")
                found = pick_pairs(scored, settings.margin, settings.min_stage_gap, settings.pairs_per_request)
                if not found:
                    result.without_pair += 1
                for chosen, rejected in found:
                    pairs.append({
                        "prompt": messages,
                        "chosen": [{"role": "assistant", "content": chosen.text}],
                        "rejected": [{"role": "assistant", "content": rejected.text}],
                        "source": "mined",
                        "id": row.id,
                        "kind": row.kind,
                        "chosen_score": chosen.to_dict(),
                        "rejected_score": rejected.to_dict(),
                    })
                    result.by_kind[row.kind] = result.by_kind.get(row.kind, 0) + 1
            result.requests += len(chunk)
            result.answers += len(repeated)
            if on_progress:
                on_progress(result.requests, len(rows), len(pairs))
    finally:
        if was_training:
            model.train()
        reward.close()
    result.pairs = pairs
    result.seconds = time.perf_counter() - started
    result.tokens_per_s = new_tokens / result.seconds if result.seconds else 0.0
    return result


def mine_from(model_name: str, adapter: str | None, rows: list[dataset.Row], settings: MiningSettings,
              on_progress=None) -> MiningResult:
    """`mine` with the model loaded here: `model_name`, with a run's adapter on top when given."""
    from studio import models

    if adapter:
        model, tokenizer = models.load_with_adapter(model_name, adapter)
    else:
        model, tokenizer = models.load(model_name)
    return mine(model, tokenizer, rows, settings, on_progress=on_progress)


# -- command line (`python -m studio.preferences mine`) ----------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from studio import models

    defaults = MiningSettings()
    parser.add_argument("--model", default=models.EMBEDDED, help="base model: the embedded default, a hub id or "
                        "a local folder")
    parser.add_argument("--adapter", default="", help="a run's name or an adapter folder on the model (an SFT run)")
    parser.add_argument("--dataset", type=Path, default=Path("data/train.jsonl"),
                        help="training requests: Alpaca rows with kind and intent")
    parser.add_argument("--out", type=Path, default=None,
                        help="the pairs file (default: the workspace's preferences/mined-<adapter or model>.jsonl)")
    for name in ("samples", "temperature", "top_p", "max_new_tokens", "margin", "min_stage_gap",
                 "pairs_per_request", "limit", "batch_size", "seed"):
        value = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                            help=f"default {value}")
    parser.add_argument("--reference", action="store_true", help="count each row's own answer among the "
                        "candidates (it passes the checks: a pair wherever the sampled answers fail)")
    return parser


def main_from(args) -> int:
    import sys

    from studio import adapters, preferences

    names = ("samples", "temperature", "top_p", "max_new_tokens", "margin", "min_stage_gap", "pairs_per_request",
             "limit", "batch_size", "seed", "reference")
    settings = MiningSettings(**{name: getattr(args, name) for name in names})
    problems = settings.problems()
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    try:
        rows = dataset.read_jsonl(args.dataset)
    except (OSError, dataset.DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    adapter = adapters.folder(args.adapter)
    # mined-<run>.jsonl for a run's adapter, mined-<folder>.jsonl for another folder, mined-model.jsonl without one
    label = "model" if adapter is None else adapter.parent.name if adapter.name == "adapter" else adapter.name
    out = args.out or preferences.folder() / f"mined-{label}.jsonl"

    def report(done: int, total: int, pairs: int) -> None:
        print(f"[mine] {done}/{total} requests, {pairs} pairs kept", flush=True)

    result = mine_from(args.model, str(adapter) if adapter else None, rows, settings, on_progress=report)
    preferences.write_pairs(result.pairs, out)
    print(json.dumps({**result.summary(), "settings": asdict(settings), "file": str(out)}, indent=1))
    return 0
