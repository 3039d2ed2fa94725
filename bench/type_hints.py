"""An experiment: guided Terraform answers whose resource types are narrowed to those of the nearest training rows.

    python bench/type_hints.py --adapter workspace/runs/gpu13-grpo/adapter --nearest 5   # 0: guided as the studio is

The models seldom declare the resource types a request asks for (`bench/intent_types.py`: the cpu recipe's model 20
of the 116 Terraform clauses that name one), though the training answers hold 104 of them. Here each request's
`resource "..."` labels may only be types that the `--nearest` training rows nearest to it (TF-IDF over
instruction and input, `bench/one_shot.NearestRows`) declare: the 5 nearest hold 78% of the types the eval split's
clauses name, about 6 types a request. Nothing of the eval rows but their request is read to choose them. The rest
is the studio's guided evaluation (`evaluation.evaluate`, llama.cpp on a CPU), with the ban added to the guided
decoding's own (`studio.guided.repeats`) through a patch in this process: an experiment, not a feature.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intent_types import declared  # noqa: E402
from one_shot import NearestRows, evaluate_and_print  # noqa: E402

from studio import chat, dataset, evaluation, generation  # noqa: E402
from studio.guided import decoding, repeats  # noqa: E402

_TYPE_LABEL = re.compile(r'\s*resource\s+"([A-Za-z0-9_]*)')


def narrowed(allowed: dict[str, frozenset[str]]) -> None:
    """Patch the guided decoding: a Terraform row whose prompt holds one of `allowed`'s user texts may only begin and
    end a resource's type label on one of that text's types."""
    start, banned_parts = decoding.GuidedLogitsProcessor._start, repeats.Repeats.banned_parts

    def _start(self, input_ids, vocab_size):
        start(self, input_ids, vocab_size)
        for row, text in enumerate(self.tokenizer.batch_decode(input_ids, skip_special_tokens=False)):
            if self._repeats[row] is not None and self._row_kinds[row] == "terraform":
                self._repeats[row].types = next((types for user, types in allowed.items() if user in text), None)

    def patched(self, text=None):
        parts = banned_parts(self, text)
        types = getattr(self, "types", None)
        written = self.text if text is None else text
        place = _TYPE_LABEL.fullmatch(written[written.rfind("\n") + 1:]) if types else None
        if place:
            parts.append(type_ban(self, types, place[1]))
        return parts

    decoding.GuidedLogitsProcessor._start = _start
    repeats.Repeats.banned_parts = patched


def type_ban(self: repeats.Repeats, types: frozenset[str], partial: str):
    """Every token but those that go on toward one of `types` after `partial`, or close the label on one."""
    key = ("types", tuple(sorted(types)), partial)
    if key not in self._tables.starts_of:
        words = {name[len(partial):end] for name in types if name.startswith(partial)
                 for end in range(len(partial) + 1, len(name) + 1)}
        allowed = {token for word in words for token, lead, ended in self._tables.hcl_words.get(word, ())
                   if not lead and not ended}
        allowed.update(token for label, tokens in self._labels.items() if partial + label in types for token in tokens)
        self._tables.starts_of[key] = self._tables.other_than(allowed)
    return self._tables.starts_of[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default="", help="a LoRA adapter on the embedded model (else the base)")
    parser.add_argument("--nearest", type=int, default=5, help="training rows whose types a request may use (0: all)")
    parser.add_argument("--rows-file", default="", help="rows to answer instead of the eval split (JSONL)")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--keep", default="", metavar="FOLDER", help="also keep the answers (summary.json, rows.jsonl)")
    args = parser.parse_args()

    rows = evaluation.load_rows(args.rows_file or evaluation.EVAL_SPLIT)
    if args.nearest:
        nearest = NearestRows(dataset.read_jsonl(ROOT / "data" / "train.jsonl"))
        narrowed({chat.user_text(row.instruction, row.input): frozenset(
            name for near in nearest.nearest(row.instruction, row.input, row.kind, args.nearest)
            for name in declared(near.kind, near.output)) for row in rows if row.kind == "terraform"})
    evaluate_and_print(rows, args.adapter, generation.Settings(max_new_tokens=args.tokens, guided=True), args.keep,
                       "nearest", args.nearest)

if __name__ == "__main__":
    main()
