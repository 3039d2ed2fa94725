"""How long does an evaluation of the eval split take on this machine, by engine? Decides `evaluation.engine()`.

    python bench/eval_engine.py                                  # the embedded model, all 121 rows, 512 new tokens
    python bench/eval_engine.py --rows 32 --engines llama.cpp    # a quick look at one engine
    python bench/eval_engine.py --adapter workspace/runs/sft-1/adapter --engines llama.cpp transformers
    python bench/eval_engine.py --engines llama.cpp --flash-attention-too   # llama.cpp with and without it
    python bench/eval_engine.py --engines llama.cpp --slots-out-of-order-too  # slots as they come, then in order

Runs `studio.evaluation.evaluate` itself (what the Evaluate tab and `python -m jobs eval` run), greedy, up to
--tokens new tokens, batches of --batch, once per engine: the first engine named is the baseline (transformers
by default, in batches of 16: `generation.generate`, the evaluation's path before llama.cpp). Prints, per engine, the wall time
of the whole evaluation, new tokens/s, the rates it measured, and how many answers are character for character
the baseline's. The machine's load is printed with the figures: on a shared machine, take them as upper bounds.

On 2026-12-04, this 2-core CPU (no other load), embedded base model, the 121 eval rows, up to 512 new tokens
(`python bench/eval_engine.py`): transformers in batches of 16 took 12.35 min (64.1 new tokens/s); llama.cpp with
32 answers at once 7.59 min (104.4 new tokens/s, 1.63x), the same rates, 114 of 121 answers character for character
the same (bench/sweeps/results/eval-engine-cpu.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import evaluation, generation, models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=0, help="first N eval rows (0: all)")
    parser.add_argument("--rows-file", default="", help="rows to answer instead of the eval split (JSONL)")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--batch", type=int, default=evaluation.DEFAULT_BATCH_SIZE)
    parser.add_argument("--engines", nargs="+", default=["transformers:16", "llama.cpp"], metavar="ENGINE[:BATCH]",
                        help="engines in order, the first the baseline; ENGINE:N answers N at once (default --batch)")
    parser.add_argument("--adapter", default="", help="a LoRA adapter on the embedded model (else the base)")
    parser.add_argument("--guided", action="store_true", help="schema-guided answers")
    parser.add_argument("--no-budget-ending", action="store_true",
                        help="guided answers without their ending within the token budget (studio.guided.decoding)")
    parser.add_argument("--no-block-ending", action="store_true",
                        help="guided Terraform answers that do not wind down from inside a block where the tokens "
                             "left would not hold another stretch (studio.guided.decoding.BLOCK_ENDING)")
    parser.add_argument("--no-repeat-bans", action="store_true",
                        help="guided answers that may repeat a name (studio.guided.repeats)")
    parser.add_argument("--no-comment-bans", action="store_true",
                        help="guided answers that may write comment lines (studio.guided.repeats)")
    parser.add_argument("--no-required-bans", action="store_true",
                        help="guided Terraform answers that may close a block lacking what its schema requires")
    parser.add_argument("--comment-runs", action="store_true",
                        help="guided Kubernetes answers that may not write a comment line right after another")
    parser.add_argument("--kind-first", action="store_true",
                        help="guided Kubernetes documents that begin with their kind (decoding.KIND_FIRST)")
    parser.add_argument("--slots-out-of-order-too", action="store_true",
                        help="llama.cpp also with its answers in slots as they come (as before: the calls split into "
                             "one pass per run of consecutive slots), first, as the baseline")
    parser.add_argument("--flash-attention-too", action="store_true",
                        help="llama.cpp also with its flash attention (as its defaults have it), first, as the "
                             "baseline (studio.llama_engine.FLASH_ATTENTION)")
    parser.add_argument("--json", default="", help="also write the figures here")
    parser.add_argument("--keep", default="", metavar="FOLDER",
                        help="also keep each engine's answers and verdicts (summary.json, rows.jsonl) in FOLDER/<n>")
    args = parser.parse_args()

    from studio.guided import decoding

    decoding.BUDGET_ENDING = not args.no_budget_ending
    decoding.BLOCK_ENDING = not args.no_block_ending
    decoding.REPEAT_BANS = not args.no_repeat_bans
    decoding.COMMENT_BANS = () if args.no_comment_bans else decoding.COMMENT_BANS
    decoding.COMMENT_RUNS = args.comment_runs
    decoding.REQUIRED_BANS = not args.no_required_bans
    decoding.KIND_FIRST = args.kind_first
    rows = evaluation.load_rows(args.rows_file or evaluation.EVAL_SPLIT)
    rows = rows[: args.rows] if args.rows else rows
    label = "fine-tuned" if args.adapter else "base"
    contenders = [evaluation.Candidate(label, models.EMBEDDED, args.adapter or None)]
    settings = generation.Settings(max_new_tokens=args.tokens, guided=args.guided)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {len(rows)} rows, up to {args.tokens} "
          f"new tokens, {label}{', guided' if args.guided else ''}"
          f"{' without the budget ending' if args.no_budget_ending else ''}"
          f"{' without the repeat bans' if args.no_repeat_bans else ''}"
          f"{' without the comment bans' if args.no_comment_bans else ''}"
          f"{' with the comment-run bans' if args.comment_runs else ''}"
          f"{' without the required bans' if args.no_required_bans else ''}"
          f"{' kind first' if args.kind_first else ''}", flush=True)

    from studio import llama_engine

    runs = [(entry, llama_engine.FLASH_ATTENTION, llama_engine.SLOTS_IN_ORDER) for entry in args.engines]
    first_llama = [entry for entry in args.engines if entry.startswith("llama.cpp")][:1]
    if args.slots_out_of_order_too:
        runs = [(entry, llama_engine.FLASH_ATTENTION, False) for entry in first_llama] + runs
    if args.flash_attention_too:
        runs = [(entry, True, llama_engine.SLOTS_IN_ORDER) for entry in first_llama] + runs
    names = [entry + (", flash attention" if flash and not llama_engine.FLASH_ATTENTION else "")
             + (", slots out of order" if not in_order and llama_engine.SLOTS_IN_ORDER else "")
             for entry, flash, in_order in runs]
    results, baseline = [], None
    for (entry, flash, in_order), name in zip(runs, names):
        engine, _, batch = entry.partition(":")
        batch = int(batch or args.batch)
        llama_engine.FLASH_ATTENTION, llama_engine.SLOTS_IN_ORDER = flash, in_order
        started = time.perf_counter()
        outcome = evaluation.evaluate(rows, contenders, settings, batch_size=batch, answer_engine=engine)
        seconds = time.perf_counter() - started
        if args.keep:
            evaluation.write(outcome, Path(args.keep) / f"{len(results)}-{engine}")
        texts = [record["answers"][label][0]["text"] for record in outcome.rows]
        model = outcome.summary["models"][0]
        overall = model["rates"]
        same = sum(a == b for a, b in zip(texts, baseline)) if baseline is not None else len(texts)
        baseline = texts if baseline is None else baseline
        line = {"engine": name, "batch": batch, "decoder": model.get("decoder"), "minutes": round(seconds / 60, 2),
                "new_tokens": model["new_tokens"], "tokens_per_second": round(model["new_tokens"] / seconds, 1),
                "same_answers": same, "rows": len(rows), "load": round(os.getloadavg()[0], 1),
                **{stage: round(100 * overall[stage], 1) for stage in ("parses", "schema", "intent", "pass")}}
        results.append(line)
        print(f"{name:12s} batch {batch:3d} ({line['decoder']}): {line['minutes']:5.2f} min, {line['tokens_per_second']:6.1f} new "
              f"tokens/s ({line['new_tokens']} tokens), {results[0]['minutes'] / line['minutes']:.2f}x the "
              f"baseline; parses {line['parses']}%, schema {line['schema']}%, intent {line['intent']}%, "
              f"pass {line['pass']}%; same answers as {names[0]} {same}/{len(rows)} "
              f"(load {line['load']})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
