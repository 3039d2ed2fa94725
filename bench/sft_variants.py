"""Does a change of the `gpu` recipe's SFT help it meet held-out requests? Each seed trains the recipe's SFT and
every variant, each variant judged against the recipe's run of its own seed, so that the verdict rests on paired
differences and not on one run (one evaluation moves by about ±2-3 points of intent score with the seed alone).

    python bench/sft_variants.py --seeds 1 2 --steps 300 \\
        --variant r256 lora.r=256 lora.alpha=512 --variant prompt-loss completion_only_loss=false
    python bench/sft_variants.py --seeds 1 --steps 300 --variant r256 lora.r=256 lora.alpha=512 \\
        --name v300 --eval-batch 128                       # a seed a call on a machine whose calls are short;
                                                           # each call prints every run of --name so far
    python bench/sft_variants.py --seeds 1 2 --steps 300 --variant r256 lora.r=256 lora.alpha=512 --only r256 &
    python bench/sft_variants.py --seeds 1 2 --steps 300 --variant r256 lora.r=256 lora.alpha=512 --only recipe
                                                           # side by side on one GPU, one process a run
    python bench/sft_variants.py --seeds 1 --steps 1 --limit 2 --model TINY --guided off --smoke \\
        --variant r4 lora.r=4 lora.alpha=8

The recipe's SFT (recipes/gpu-sft.yaml with `--steps`, its time budget lifted) trains into runs/<name>-s<seed>-sft and
each variant, the same spec with the variant's KEY=VALUE changes (keys of jobs.specs.SFTJob, `lora.` ones of its
LoRA settings, values read as YAML), into runs/<name>-s<seed>-sft-<tag>. Every run trains through `python -m jobs run`
and is evaluated greedy on the eval split (a variant's `eval_rows=FILE`: on FILE's rows instead, such as the eval
rows with an example that bench/retrieved_rows.py writes), guided by the schemas unless `--guided off`, as
bench/grpo_seeds.py does; a run already trained and evaluated is read back, not run again.

The table: per seed, the recipe's run and each variant with intent (every clause met) and the intent score (the mean
share of a request's clauses met, `evaluation.intent_scores`) per kind and overall, each variant's differences from
the recipe's run of its seed; under it, per variant, the mean paired difference over the seeds and in how many the
variant raised the score.

On 2026-12-06, one H100, 300 steps, guided, seeds 1-4 (bench/sweeps/results/sft-variants-h100.md), against the
recipe's SFT as it then was (LoRA r=32): r=256 (alpha 512) raised the intent score by 6.0 points (sd 1.4), r=512
(alpha 1024) by 8.0 (sd 1.4), each in 4 of 4 seeds, and at 600 steps r=512 by 8.1 (seed 1); the loss on the prompt
too (`completion_only_loss=false`) lowered it by 3.9 (seeds 1-2). The recipe then took r=512.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpo_seeds  # noqa: E402  (bench/grpo_seeds.py: training, evaluation and pairing shared)
import recipe_sweep  # noqa: E402

from jobs import recipe, specs  # noqa: E402
from studio import evaluation, workspace  # noqa: E402

# SFT keys this bench sets itself.
OWN_KEYS = {"max_steps", "seed", "output", "max_minutes", "model"}
# A variant's key that is no SFT setting: the file of rows it is evaluated on, in place of the eval split (rows that
# hold more than their request, as bench/retrieved_rows.py writes; their intents the eval split's).
EVAL_ROWS = "eval_rows"
# --smoke: short sequences and the seed rows only, for a tiny model on a CPU (num_generations: the recipe's GRPO phase,
# built beside the SFT and not run, must still divide its batch), without worked examples (a row with its example is
# longer than the short sequences).
SMOKE = {"batch_size": 2, "gradient_accumulation": 1, "max_length": 256, "save_steps": 1000,
         "dataset": "data/train.jsonl", "mix_dataset": "", "num_generations": 2, "worked_examples": False}


def variant_changes(pairs: list[str]) -> dict:
    """KEY=VALUE pairs as SFT spec changes, each value read as YAML; `lora.` keys change the LoRA settings.

    >>> variant_changes(["lora.r=256", "lora.alpha=512", "completion_only_loss=false", "learning_rate=5e-4"])
    {'lora.r': 256, 'lora.alpha': 512, 'completion_only_loss': False, 'learning_rate': 0.0005}
    >>> variant_changes(["max_length=2048", "eval_rows=data/retrieved/eval.jsonl"])
    {'max_length': 2048, 'eval_rows': 'data/retrieved/eval.jsonl'}
    """
    default = specs.SFTJob()
    fields = {field.name for field in dataclasses.fields(specs.SFTJob)} - OWN_KEYS - {"lora"}
    lora_fields = {field.name for field in dataclasses.fields(specs.LoraSettings)}
    changes: dict = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if key == EVAL_ROWS and equals:
            changes[key] = value
            continue
        owner, _, name = key.rpartition(".")
        if not equals or not ((owner == "" and name in fields) or (owner == "lora" and name in lora_fields)):
            raise ValueError(f"{pair!r}: give KEY=VALUE with KEY one of SFTJob's keys other than "
                             f"{', '.join(sorted(OWN_KEYS))} (this bench sets those), or lora.<one of "
                             f"{', '.join(sorted(lora_fields))}>, or {EVAL_ROWS}=FILE (the rows it is evaluated on)")
        changes[key] = grpo_seeds.spec_value(value, getattr(default.lora if owner else default, name),
                                             f"{pair!r}: {key}")
    return changes


def changed(spec: specs.SFTJob, changes: dict, output: str) -> specs.SFTJob:
    """`spec` with a variant's changes, run as `output` (validated: a value the spec refuses raises SpecError)."""
    lora = {key.removeprefix("lora."): value for key, value in changes.items() if key.startswith("lora.")}
    plain = {key: value for key, value in changes.items() if not key.startswith("lora.") and key != EVAL_ROWS}
    return dataclasses.replace(spec, output=output, lora=dataclasses.replace(spec.lora, **lora), **plain)


def plans(args: argparse.Namespace, seed: int) -> list[tuple[str, specs.SFTJob, dict]]:
    """The seed's runs: ("", the recipe's SFT, {}) then (tag, the variant's SFT, its changes) per variant."""
    base = {"seed": seed, "max_minutes": 0.0, **({"model": args.model} if args.model else {}),
            **(SMOKE if args.smoke else {})}
    sft, _ = recipe.phases(f"{args.name}-s{seed}", "gpu", **base)
    sft = dataclasses.replace(sft, max_steps=args.steps)
    return [("", sft, {})] + [(tag, changed(sft, changes, f"{sft.output}-{tag}"), changes)
                              for tag, changes in args.variants.items()]


def print_table(seeds: dict[int, dict[str, dict]], tags: list[str]) -> None:
    scopes = ("all", *evaluation.KINDS)
    header = ["seed", "run", "train s"] + [f"{scope} {figure}" for scope in scopes for figure in ("intent", "score")]
    header += ["all schema", "Δ intent", "Δ score"]
    print("| " + " | ".join(header) + " |")
    print("| --- " * len(header) + "|")
    cell = grpo_seeds.cell
    for seed, runs in sorted(seeds.items()):
        base = runs[""]
        for tag in ["", *tags]:
            if tag not in runs:
                continue
            run = runs[tag]
            cells = [str(seed), tag or "the recipe's SFT", f"{run['seconds']:.0f}"]
            for scope in scopes:
                rates = run["rates"] if scope == "all" else run["by_kind"].get(scope)
                cells += [cell(rates["intent"]) if rates else "-", cell(run["intent_score"].get(scope))]
            cells.append(cell(run["rates"]["schema"]))
            cells += ["", ""] if not tag else [cell(run["rates"]["intent"] - base["rates"]["intent"], True),
                                               cell(run["intent_score"]["all"] - base["intent_score"]["all"], True)]
            print("| " + " | ".join(cells) + " |")
    for tag in tags:
        pairs = [(runs[""], runs[tag]) for runs in seeds.values() if tag in runs]
        if pairs:
            summary = grpo_seeds.paired(pairs)
            print(f"{tag} against the recipe's SFT over {summary['seeds']} seeds: intent "
                  f"{cell(summary['intent'], True)} points, intent score {cell(summary['score'], True)} "
                  f"(sd {cell(summary['score_sd'])}); the score raised in {summary['raised']} of {summary['seeds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="the recipe's SFT and every variant per "
                        "seed")
    parser.add_argument("--steps", type=int, default=300, help="SFT steps of every run (the recipe's: 1,200)")
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar=("TAG", "KEY=VALUE"),
                        help="a variant: its tag, then its changes of the recipe's SFT (repeat for more)")
    parser.add_argument("--only", nargs="+", default=[], metavar="TAG", help="train and evaluate only these runs "
                        "('recipe': the recipe's SFT); the others are read back once evaluated (processes side by "
                        "side)")
    parser.add_argument("--name", default="", help="runs are <name>-s<seed>-sft[-<tag>] (default: variants<steps>)")
    recipe_sweep.add_evaluation_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help="short sequences and the seed rows only")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps counts steps: at least 1")
    args.variants = {}
    for tag, *pairs in args.variant:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]*", tag) or tag in args.variants:
            parser.error(f"--variant {tag!r}: a tag is letters, digits, dots and dashes, each tag once")
        if not pairs:
            parser.error(f"--variant {tag}: give its changes, KEY=VALUE")
        try:
            args.variants[tag] = variant_changes(pairs)
        except ValueError as error:
            parser.error(f"--variant {tag}: {error}")
    unknown = set(args.only) - {"recipe", *args.variants}
    if unknown:
        parser.error(f"--only {' '.join(sorted(unknown))}: give 'recipe' or a tag of --variant")
    args.name = args.name or f"variants{args.steps}"
    pattern = re.compile(re.escape(args.name) + r"-s(\d+)-sft")
    earlier = {int(found.group(1)) for path in workspace.home().glob(f"runs/{args.name}-s*-sft/seeds.json")
               if (found := pattern.fullmatch(path.parent.name))}
    try:  # every spec built first: a value one refuses trains nothing
        planned = {seed: plans(args, seed) for seed in sorted({*args.seeds, *earlier})}
    except (specs.SpecError, TypeError, ValueError) as error:
        parser.error(f"--variant: {error}")
    seeds: dict[int, dict[str, dict]] = {}
    for seed, runs_of_seed in planned.items():
        if seed in args.seeds:
            recipe.ensure_generated(runs_of_seed[0][1])
        runs = {}
        for tag, spec, changes in runs_of_seed:
            if seed in args.seeds and (not args.only or (tag or "recipe") in args.only):
                runs[tag] = {**grpo_seeds.train(spec, seed, changes),
                             **grpo_seeds.evaluated(spec, args, changes.get(EVAL_ROWS, ""))}
            elif (results := evaluation.read(grpo_seeds.eval_folder(spec, args))) is not None:
                # read back only once evaluated: a process running it beside this one (--only) may be at it
                if record := grpo_seeds.trained(spec, seed, changes):
                    runs[tag] = {**record, **grpo_seeds.figures(results.summary["models"][-1])}
        if "" in runs:
            seeds[seed] = runs
    print(f"\n[variants] the gpu recipe's SFT, {args.steps} steps, "
          f"{'guided' if args.guided == 'on' else 'unguided'}; rates and scores in %:")
    print_table(seeds, list(args.variants))


if __name__ == "__main__":
    main()
