"""Does a worked example in the prompt lift intent? One training row, the nearest to the request, as a turn before it.

    python bench/one_shot.py --adapter workspace/runs/gpu13-grpo/adapter --guided --keep /tmp/one-shot
    python bench/one_shot.py --adapter workspace/runs/gpu13-grpo/adapter --guided --shots 0   # the baseline

For each eval request, the `--shots` training rows of the same kind whose instruction and input are nearest to it
(TF-IDF cosine over words) go before it as user and assistant turns, the nearest last; then the evaluation runs as
`python -m jobs eval` does (`studio.evaluation.evaluate`, greedy, llama.cpp on a CPU). No training row is a
near-duplicate of an eval row (word 3-shingle Jaccard at most 0.31, data/README.md), so the example shows the
format and some of the resource types, never the answer.

On 2026-12-05, this 2-core CPU, guided, 512 new tokens, the 121 eval rows (rates and mean intent scores in %):

| model | shots | te schema | te intent | te intent score | ku schema | ku intent | ku intent score |
| --- | --- | --- | --- | --- | --- | --- | --- |
| gpu recipe (gpu13-grpo) | 0 | 97.2 | 4.2 | 23.9 | 100.0 | 4.1 | 21.7 |
| gpu recipe (gpu13-grpo) | 1 | 98.6 | 1.4 | 19.1 | 98.0 | 2.0 | 13.0 |
| cpu recipe (cpu11-grpo) | 0 | 98.6 | 0.0 | 5.1 | 98.0 | 0.0 | 7.2 |
| cpu recipe (cpu11-grpo) | 1 | 95.8 | 0.0 | 7.6 | 98.0 | 0.0 | 10.2 |

The example does not lift the intent rate: the gpu recipe's model loses a fifth of its intent score with it (it
copies the example's resources and names rather than the request's), the cpu recipe's gains a little score and
no answer that meets its request. Not a setting of the studio.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import chat, dataset, evaluation, generation, models  # noqa: E402


class NearestRows:
    """The training rows nearest to a request, by TF-IDF cosine over the words of instruction and input."""

    def __init__(self, rows: list[dataset.Row]):
        self.rows = rows
        documents = [self._words(row.instruction, row.input) for row in rows]
        counts = Counter(word for words in documents for word in set(words))
        self.idf = {word: math.log((len(rows) + 1) / (count + 1)) for word, count in counts.items()}
        self.vectors = [self._vector(words) for words in documents]

    @staticmethod
    def _words(instruction: str, input_text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", f"{instruction} {input_text}".lower())

    def _vector(self, words: list[str]) -> dict[str, float]:
        weights = {word: n * self.idf.get(word, 0.0) for word, n in Counter(words).items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {word: w / norm for word, w in weights.items()}

    def nearest(self, instruction: str, input_text: str, kind: str, k: int) -> list[dataset.Row]:
        query = self._vector(self._words(instruction, input_text))
        scored = [(sum(query.get(word, 0.0) * w for word, w in vector.items()), i)
                  for i, vector in enumerate(self.vectors) if self.rows[i].kind == kind]
        return [self.rows[i] for _, i in sorted(scored, reverse=True)[:k]]


def with_examples(nearest: NearestRows, shots: int):
    """`chat.messages_for` with the `shots` nearest training rows as turns between the system prompt and the request."""
    plain = chat.messages_for

    def messages_for(instruction: str, kind: str = "terraform", input_text: str = "") -> list[dict]:
        system, request = plain(instruction, kind, input_text)
        turns = []
        for row in reversed(nearest.nearest(instruction, input_text, kind, shots)):  # the nearest right before
            turns += [{"role": "user", "content": chat.user_text(row.instruction, row.input)},
                      {"role": "assistant", "content": row.output}]
        return [system, *turns, request]

    return messages_for


def experiment_parser(description: str) -> argparse.ArgumentParser:
    """The arguments an experiment on the eval split takes besides its own knob: the adapter, the rows, the answers'
    length, where to keep them (`eval_rows` reads the rows)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default="", help="a LoRA adapter on the embedded model (else the base)")
    parser.add_argument("--rows", type=int, default=0, help="first N eval rows (0: all)")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--keep", default="", metavar="FOLDER", help="also keep the answers (summary.json, rows.jsonl)")
    return parser


def eval_rows(args) -> list[dataset.Row]:
    return evaluation.load_rows(evaluation.EVAL_SPLIT)[: args.rows or None]


def main() -> None:
    parser = experiment_parser(__doc__)
    parser.add_argument("--shots", type=int, default=1, help="training rows before each request (0: none)")
    parser.add_argument("--guided", action="store_true", help="schema-guided answers")
    args = parser.parse_args()

    rows = eval_rows(args)
    if args.shots:
        # evaluate() builds its chats through chat.messages_for: the examples go in there
        chat.messages_for = with_examples(NearestRows(dataset.read_jsonl(ROOT / "data" / "train.jsonl")), args.shots)
    evaluate_and_print(rows, args.adapter, generation.Settings(max_new_tokens=args.tokens, guided=args.guided),
                       args.keep, "shots", args.shots)


def evaluate_and_print(rows, adapter: str, settings, keep: str, setting: str, value) -> None:
    """Evaluate the embedded model (with `adapter`, if any) on `rows`; keep the answers in `keep` where given; print
    each kind's rates and intent score, then one JSON line with `setting` (the experiment's knob) and its `value`."""
    contenders = [evaluation.Candidate("fine-tuned" if adapter else "base", models.EMBEDDED, adapter or None)]
    started = time.perf_counter()
    outcome = evaluation.evaluate(rows, contenders, settings)
    if keep:
        evaluation.write(outcome, keep)
    entry = outcome.summary["models"][0]
    print(f"{setting} {value}, {len(rows)} rows, {(time.perf_counter() - started) / 60:.1f} min")
    for scope in evaluation.KINDS:
        rates, score = entry["by_kind"].get(scope), entry.get("intent_score", {}).get(scope)
        if rates:
            print(f"{scope:<11} " + ", ".join(f"{stage} {100 * rates[stage]:.1f}%" for stage in evaluation.STAGES)
                  + (f", intent score {100 * score:.1f}%" if score is not None else ""))
    print(json.dumps({setting: value, "rates": entry["rates"], "intent_score": entry.get("intent_score")}))


if __name__ == "__main__":
    main()
