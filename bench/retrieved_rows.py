"""Rows with a worked example in them: each request with the nearest training row's request and answer after it, for
an SFT that learns to adapt an example rather than to recall (bench/one_shot.py put one before an untrained model).

    python bench/retrieved_rows.py --out data/retrieved      # train.jsonl, generated.jsonl and eval.jsonl there, 15 s
    python bench/retrieved_rows.py --rerank 40 --out data/retrieved/r40     # of the 40 nearest, the answer that names
                                                                            # most of the request's words
    python bench/retrieved_rows.py --likeness workspace/runs/cpu27-rag/eval-guided     # answers near their examples
    python bench/sft_variants.py --seeds 1 2 --steps 600 --eval-batch 128 --name vv600 --variant rag \\
        dataset=data/retrieved/train.jsonl mix_dataset=data/retrieved/generated.jsonl max_length=2048 \\
        eval_rows=data/retrieved/eval.jsonl                 # the gpu recipe's SFT on them, evaluated on theirs

The example of a row is the training row of the same kind (seed or generated) whose instruction and input are
nearest to it (TF-IDF cosine over words, as bench/one_shot.py), the row itself left out and so are rows as near to
it as no eval row is to a training row: word 3-shingle Jaccard of the request above 0.31, the largest between an eval
row and any training row (data/README.md). Without that a generated row's example would be its own template's twin,
and the model would learn to copy. The eval rows' examples come from every training row. The example goes into the
row's `input`, after its own, so the rows stay Alpaca rows and every entry point reads them.

On 2026-12-07, this 2-core CPU, the cpu recipe's SFT (r=128, 19 minutes) on these rows against the recipe's, two
seeds, guided, the 121 eval rows (bench/sweeps/results/retrieved-examples-cpu.md): the intent score 10.1 → 13.6 and
10.9 → 13.7, the requests met whole 0.8 → 0.8 and 0.8 → 1.7%; 18 and 24 of the 121 answers are their example
verbatim, and the examples' answers as they stand score 16.7 (4.1% met whole), more than either model. Trained the
recipe's 124 steps (28 minutes, twenty-eighth session) it copies less (6 and 3 verbatim) and meets 3 requests whole in
each seed (2.5%), scoring 13.5 and 16.3, still under the examples as they stand. Asked without an example the adapter
loops in 41-42% of its answers. The gpu recipe's SFT (one H100, seed 1, 600 steps; twenty-ninth session) adapts its
example instead: 10.7% of the requests met whole and a score of 31.7, against 5.0% and 26.5 on the recipe's rows, and
26.6 asked without an example. The studio's SFT setting `worked_examples` (studio/examples.py, whose functions this
bench uses) builds the same rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import dataset, workspace  # noqa: E402
from studio.examples import Index, shown, with_example  # noqa: E402

def copied(rows: list[dataset.Row], examples: list[dataset.Row | None]) -> dict[str, float]:
    """What the examples' answers score as they stand, each judged by the studio's validators against the intent of
    the row it was found for: the share that meets it whole and the mean intent score, overall and per kind (what a
    model that only copied its example would reach)."""
    from studio.evaluation import answer_record

    scores: dict[str, list[float]] = {}
    met: dict[str, list[bool]] = {}
    for row, example in zip(rows, examples):
        intent = answer_record(example.output, row.kind, row.intent)["intent"] if example else {}
        for scope in ("all", row.kind):
            scores.setdefault(scope, []).append(float(intent.get("score") or 0.0))
            met.setdefault(scope, []).append(intent.get("status") == "passed")
    return {f"{scope} {figure}": round(100 * sum(values[scope]) / len(values[scope]), 1)
            for scope in scores for figure, values in (("intent", met), ("score", scores))}


def example_of(row: dict) -> str:
    """The example answer a row with an example carries ('' for a row without one)."""
    return shown(row.get("input", ""))[1].strip()


def likeness(folder: Path, examples: dict[str, str]) -> dict[str, float]:
    """How near an evaluation's answers (its last model's) are to the examples of their rows (`examples` by row id):
    how many are an example verbatim, how many over 0.9 alike (difflib's ratio), and the mean likeness."""
    from difflib import SequenceMatcher

    from studio import evaluation

    results = evaluation.read(folder)
    if results is None:
        raise SystemExit(f"{folder}: no evaluation there")
    label = results.summary["models"][-1]["label"]
    ratios, verbatim = [], 0
    for row in results.rows:
        example = examples.get(row["id"], "")
        for answer in row["answers"].get(label) or []:
            ratios.append(SequenceMatcher(None, answer["text"].strip(), example).ratio())
            verbatim += bool(example) and answer["text"].strip() == example
    return {"answers": len(ratios), "verbatim": verbatim, "over 0.9": sum(r > 0.9 for r in ratios),
            "mean": round(sum(ratios) / max(1, len(ratios)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default="data/train.jsonl")
    parser.add_argument("--generated", default="data/generated.jsonl")
    parser.add_argument("--eval", default="data/eval.jsonl")
    parser.add_argument("--out", default="data/retrieved")
    parser.add_argument("--rerank", type=int, default=0, metavar="K", help="of the K nearest rows, the one whose "
                        "answer holds the most of the request's words (studio.examples.Index.examples); 0: the nearest")
    parser.add_argument("--likeness", nargs="+", default=[], metavar="FOLDER", help="write nothing: how near each "
                        "evaluation's answers are to the examples of --out's eval.jsonl")
    args = parser.parse_args()
    needed = [Path(args.out) / "eval.jsonl"] if args.likeness else [Path(args.train), Path(args.generated),
                                                                    Path(args.eval)]
    for path in needed:
        if not path.is_file():
            hint = (" (python -m studio.synth --rows 10000 --seed 0 --out data/generated.jsonl builds it)"
                    if path == Path(args.generated) else "")
            parser.error(f"{path} is not there{hint}")
    if args.likeness:
        lines = (Path(args.out) / "eval.jsonl").read_text().splitlines()
        shown = {row["id"]: example_of(row) for row in map(json.loads, lines)}
        for folder in args.likeness:
            print(f"{folder}: {likeness(Path(folder), shown)}")
        return
    train, generated = dataset.read_jsonl(Path(args.train)), dataset.read_jsonl(Path(args.generated))
    evaluation_rows = dataset.read_jsonl(Path(args.eval))
    index = Index(train + generated)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows, exclude in (("train", train, True), ("generated", generated, True),
                                ("eval", evaluation_rows, False)):
        examples = index.examples(rows, exclude, args.rerank)
        text = "".join(json.dumps(with_example(row, example).to_dict()) + "\n" for row, example in zip(rows, examples))
        workspace.atomic_write_text(out / f"{name}.jsonl", text)
        print(f"{name}: {len(rows)} rows, {sum(e is None for e in examples)} without an example", flush=True)
        if name != "generated":  # the seed rows' examples too: where a way of choosing them is tuned, not on eval
            print(f"the {name} rows' examples as they stand, against the {name} rows' intents (%): "
                  f"{copied(rows, examples)}", flush=True)


if __name__ == "__main__":
    main()
