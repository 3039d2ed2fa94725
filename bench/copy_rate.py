"""How often a model's answers copy what the request states: the names, IDs and numbers the reference answer takes
from the request, counted in the model's answer.

    python bench/copy_rate.py workspace/runs/vv600-s1-sft/eval-guided workspace/runs/vv600-s1-sft-var/eval-guided

Each RESULTS_FOLDER is what `studio.evaluation.write` wrote (rows.jsonl; its last model is counted). The literals are
those `studio.synth.variants` would change in the row: words of the request the reference uses as names of the
row's own, IDs (`vpc-0aa1`), numbers the reference sets as the whole value of a key. A literal counts as copied when
the answer holds it (a name as a word or a word of an identifier, a number as a number). Where seed-row variants
teach the model to take values from the request, its copy rate should rise.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import dataset  # noqa: E402
from studio.dataset import Row  # noqa: E402
from studio.synth.variants import Variants, word_pattern  # noqa: E402


def literals(maker: Variants, record: dict) -> list[tuple[str, str]]:
    """(kind, literal) of one evaluated row: what its request states and its reference copies."""
    row = Row(instruction=record["instruction"], input=record.get("input", ""), output=record["reference"],
              kind=record["kind"], id=record["id"])
    return ([("name", word) for word in maker.name_words(row)] + [("id", old) for old in maker.ids(row)]
            + [("number", number) for number, _ in maker.numbers(row)])


def copied(answer: str, kind: str, literal: str) -> bool:
    if kind == "name":
        return bool(word_pattern(literal).search(answer))
    if kind == "id":
        return literal in answer
    return bool(re.search(rf"(?<![\w.\-/:$]){literal}(?![\w/]|[.:\-]\d)", answer))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="evaluation folders (rows.jsonl)")
    args = parser.parse_args(argv)
    maker = Variants(dataset.read_jsonl(ROOT / "data" / "train.jsonl"), eval_rows=[])
    print("| results | names copied | IDs copied | numbers copied | all |")
    print("| --- | --- | --- | --- | --- |")
    for folder in args.folders:
        counts = collections.Counter()
        for line in (folder / "rows.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            answers = list(record["answers"].values())[-1]
            answer = (answers[0] if isinstance(answers, list) else answers).get("text") or ""
            for kind, literal in literals(maker, record):
                counts[kind] += 1
                counts[kind + " copied"] += copied(answer, kind, literal)
        cells = [f"{counts[k + ' copied']} of {counts[k]}" for k in ("name", "id", "number")]
        total = sum(counts[k] for k in ("name", "id", "number"))
        hits = sum(counts[k + " copied"] for k in ("name", "id", "number"))
        print(f"| {folder} | " + " | ".join(cells) + f" | {100 * hits / max(total, 1):.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
