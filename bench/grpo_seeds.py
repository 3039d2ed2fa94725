"""Does GRPO improve on the SFT it starts from? The `gpu` recipe's two phases over several seeds, each GRPO run
evaluated beside its own SFT on the eval split, so that the verdict rests on paired differences and not on one run.

    python bench/grpo_seeds.py --seeds 1 2 3 --sft-steps 300                 # 300-step SFTs, the recipe's 30 GRPO steps
    python bench/grpo_seeds.py --seeds 1 2 --sft-steps 300 --grpo-steps 30 120   # two GRPO lengths from each SFT
    python bench/grpo_seeds.py --seeds 1 2 3 --sft-steps 300 --grpo-set num_generations=8 gradient_accumulation=16 \
        --tag 16x8                                                           # GRPO changed, from the same SFTs
    python bench/grpo_seeds.py --seeds 3 --sft-steps 300 --eval-batch 128    # a machine whose calls are short: a seed
                                                                             # a call; each call prints every seed
                                                                             # trained so far under --name
    python bench/grpo_seeds.py --seeds 42 --name rag --sft-set dataset=data/retrieved/train.jsonl \
        mix_dataset=data/retrieved/generated.jsonl max_length=2048 --grpo-set dataset=data/retrieved/generated.jsonl \
        max_length=1536 --tag rag --eval-rows data/retrieved/eval.jsonl --eval-batch 128
                                                                             # the whole recipe on rows with a worked
                                                                             # example (bench/retrieved_rows.py)
    python bench/grpo_seeds.py --seeds 1 --sft-steps 1 --grpo-steps 1 --limit 2 --model TINY --guided off --smoke

One evaluation of one run moves by about ±2-3 points of intent score with the seed alone (bench/data_curve.py's two
draws; the recipe run twice), about as much as GRPO has ever moved it, so a single SFT -> GRPO pair cannot say
whether GRPO helps. Here each seed trains recipes/gpu-sft.yaml (with `--sft-steps`; the seed sets the LoRA
initialisation, the rows' order and the GRPO rollouts' sampling) into runs/<name>-s<seed>-sft, then
recipes/gpu-grpo.yaml from that adapter for each of `--grpo-steps` into runs/<name>-s<seed>-grpo<steps>; the phases'
time budgets are lifted (`max_minutes: 0`), the rest is the recipe's, but for the GRPO keys `--grpo-set` changes
(runs/<name>-s<seed>-grpo<steps>-<tag>: another GRPO from the same SFTs, paired with them as the recipe's is).
Every phase trains through `python -m jobs run` (bench/recipe.py's `run_phase`) and every adapter is evaluated greedy
on the eval split, guided by the schemas unless `--guided off` (bench/recipe_sweep.py's `evaluate`, into the run's
`eval-guided/` or `eval/`). A run already trained and evaluated is read back, not run again.

The table: per seed, the SFT and each GRPO run with intent (every clause met) and the intent score (the mean share
of a request's clauses met, `evaluation.intent_scores`) per kind and overall; for GRPO, its differences from its own
SFT and what its training logs say of its signal: the share of groups whose answers all scored alike (TRL's
`frac_reward_zero_std`, nothing to learn from) and the intent reward on its own prompts over the first and the last
quarter of its steps. Under it, per GRPO length, the mean paired difference over the seeds and in how many seeds
GRPO raised the score.

On 2026-12-06, one H100, 300 SFT steps, guided (bench/sweeps/results/grpo-seeds-h100.md): the recipe's 30 GRPO steps
lowered the intent score in each of seeds 1-3 (-0.9, -0.4, -0.6; intent -1.1 points on average), 120 steps by 3.6
(seed 1); over 120 steps GRPO's own intent reward stayed at 0.38-0.41 a quarter. At 16 prompts x 8 answers a step
(`--grpo-set num_generations=8 gradient_accumulation=16 --tag 16x8`, bench/sweeps/results/grpo-seeds-16x8-h100.md)
the score moved by -3.0, +1.3 and +2.3 (mean +0.2, sd 2.8), the own intent reward still flat; with lr 3e-4 besides
(`learning_rate=0.0003 --tag 16x8lr3`, seeds 1-3, bench/sweeps/results/grpo-seeds-16x8-lr3e-4-h100.md) it fell in each
seed and the score with it, by 5.3 on average (sd 1.6). On 16 prompts met at every step (`dataset=data/fixed16.jsonl
--tag fixed16`, bench/sweeps/results/grpo-fixed-prompts-h100.md) the own intent reward climbed, 0.44 to 0.54 (seed 3)
and 0.45 to 0.56 (seed 1), and seed 3's held-out score fell by 3.7: GRPO learns, but what it learns stays with its
prompts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipe as recipe_bench  # noqa: E402  (bench/recipe.py)
import recipe_sweep  # noqa: E402

from jobs import recipe, specs  # noqa: E402
from jobs.run_folder import RunFolder  # noqa: E402
from studio import evaluation, workspace  # noqa: E402

# GRPO keys this bench sets itself, not changed through --grpo-set.
OWN_KEYS = {"max_steps", "seed", "output", "adapter", "max_minutes", "model"}
DEFAULT_GRPO = specs.GRPOJob()
# --smoke: short sequences and two answers of a few tokens per prompt, for a tiny model on a CPU; both phases on the
# seed rows alone, so that no data/generated.jsonl is built (about 40 s on 2 cores) or read; no worked examples (a row
# with its example is longer than the short sequences).
SMOKE = {"batch_size": 2, "gradient_accumulation": 1, "max_length": 256, "num_generations": 2,
         "max_completion_length": 8, "save_steps": 1000, "dataset": "data/train.jsonl", "mix_dataset": "",
         "worked_examples": False}


def phases(args: argparse.Namespace, seed: int) -> tuple[specs.SFTJob, list[specs.GRPOJob]]:
    """The seed's SFT spec and one GRPO spec per `--grpo-steps`, each from that SFT's adapter."""
    changes = {"seed": seed, "max_minutes": 0.0, **({"model": args.model} if args.model else {}),
               **(SMOKE if args.smoke else {})}
    sft, grpo = recipe.phases(f"{args.name}-s{seed}", "gpu", **changes)
    sft = dataclasses.replace(sft, max_steps=args.sft_steps, **args.sft_set)
    tag = f"-{args.tag}" if args.tag else ""
    return sft, [dataclasses.replace(grpo, output=f"{args.name}-s{seed}-grpo{steps}{tag}", max_steps=steps,
                                     **args.grpo_set) for steps in args.grpo_steps]


def trained(spec: specs.SFTJob | specs.GRPOJob, seed: int, changes: dict) -> dict:
    """What this bench recorded when it trained `spec`'s run ({} if it did not); a run of other steps, another seed
    or other `--grpo-set` changes under the same name stops the bench rather than join the table."""
    run = spec.run_folder()
    record = json.loads((run / "seeds.json").read_text()) if (run / "seeds.json").exists() else {}
    if record and [record.get("steps"), record.get("seed"), record.get("changes", {})] != [spec.max_steps, seed,
                                                                                             changes]:
        sys.exit(f"{run} was trained with {record.get('steps')} steps, seed {record.get('seed')} and changes "
                 f"{record.get('changes', {})}: give another --name or --tag, or the same steps, seed and changes")
    return record if (run / "adapter").is_dir() else {}


def train(spec: specs.SFTJob | specs.GRPOJob, seed: int, changes: dict) -> dict:
    """Train `spec` unless its run holds an adapter trained with the same steps, seed and changes; its record."""
    record = trained(spec, seed, changes)
    if not record:
        print(f"[seeds] seed {seed}: {spec.kind.upper()} {spec.output}, {spec.max_steps} steps", flush=True)
        seconds = recipe_bench.run_phase(spec)
        record = {"seconds": round(seconds, 1), "steps": spec.max_steps, "seed": seed, "changes": changes}
        workspace.atomic_write_text(spec.run_folder() / "seeds.json", json.dumps(record))
    return record


def eval_folder(spec: specs.SFTJob | specs.GRPOJob, args: argparse.Namespace) -> Path:
    """Where the run's evaluation goes: `eval-guided/` or `eval/`."""
    return spec.run_folder() / ("eval-guided" if args.guided == "on" else "eval")


def evaluated(spec: specs.SFTJob | specs.GRPOJob, args: argparse.Namespace, rows_file: str = "") -> dict:
    """The adapter's figures on the eval split, or on `rows_file` (read back where evaluated before)."""
    run = spec.run_folder()
    entry = recipe_sweep.evaluate_once(run / "adapter", spec.model, eval_folder(spec, args), args.limit,
                                       args.eval_batch, args.max_new_tokens, args.guided == "on",
                                       f"[seeds] evaluating {spec.output}", rows_file)
    return figures(entry)


def figures(entry: dict) -> dict:
    """The figures the tables read from one model's entry of an evaluation summary."""
    return {"rates": entry["rates"], "by_kind": entry["by_kind"], "intent_score": entry.get("intent_score") or {}}


def signal(run: Path) -> dict[str, float | None]:
    """What a GRPO run's logs say of its learning signal: the mean share of groups whose answers all scored alike,
    and the mean intent reward over the first and the last quarter of its steps.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> lines = [{"step": s, "frac_zero_std": 0.5 if s < 3 else 0.0, "reward_intent_mean": s / 10} for s in range(1, 9)]
    >>> _ = (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\\n" for line in lines))
    >>> signal(folder)
    {'alike': 0.125, 'intent_first': 0.15, 'intent_last': 0.75}
    """
    rows = [row for row in RunFolder(run).metrics() if row.get("reward_intent_mean") is not None]
    if not rows:
        return {"alike": None, "intent_first": None, "intent_last": None}
    quarter = max(1, len(rows) // 4)
    mean = lambda part, key: round(statistics.fmean(row[key] for row in part), 6)
    return {"alike": mean(rows, "frac_zero_std") if all("frac_zero_std" in row for row in rows) else None,
            "intent_first": mean(rows[:quarter], "reward_intent_mean"),
            "intent_last": mean(rows[-quarter:], "reward_intent_mean")}


def paired(pairs: list[tuple[dict, dict]]) -> dict[str, float]:
    """Over (SFT, GRPO) figures of several seeds: the mean difference in intent rate and score, the score's standard
    deviation across seeds, and in how many seeds GRPO raised the score.

    >>> sft = lambda rate, score: {"rates": {"intent": rate}, "intent_score": {"all": score}}
    >>> paired([(sft(0.01, 0.20), sft(0.03, 0.21)), (sft(0.02, 0.22), sft(0.02, 0.20))])
    {'seeds': 2, 'intent': 0.01, 'score': -0.005, 'score_sd': 0.021213, 'raised': 1}
    """
    rates = [grpo["rates"]["intent"] - sft["rates"]["intent"] for sft, grpo in pairs]
    scores = [grpo["intent_score"]["all"] - sft["intent_score"]["all"] for sft, grpo in pairs]
    return {"seeds": len(pairs), "intent": round(statistics.fmean(rates), 6),
            "score": round(statistics.fmean(scores), 6),
            "score_sd": round(statistics.stdev(scores), 6) if len(scores) > 1 else 0.0,
            "raised": sum(score > 0 for score in scores)}


def grpo_changes(pairs: list[str], job: type = specs.GRPOJob, flag: str = "--grpo-set") -> dict:
    """`--grpo-set` KEY=VALUE pairs as GRPO spec changes (`--sft-set` ones as SFT changes: `job` SFTJob), each
    value read as YAML.

    >>> grpo_changes(["num_generations=8", "learning_rate=5e-5", "guided=true"])
    {'num_generations': 8, 'learning_rate': 5e-05, 'guided': True}
    >>> grpo_changes(["dataset=data/retrieved/train.jsonl", "max_length=2048"], specs.SFTJob, "--sft-set")
    {'dataset': 'data/retrieved/train.jsonl', 'max_length': 2048}
    """
    fields = {field.name for field in dataclasses.fields(job)} - OWN_KEYS - {"lora"}
    default = job()
    changes = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or key not in fields:
            raise ValueError(f"{flag} {pair!r}: give KEY=VALUE with KEY one of {job.__name__}'s keys other than "
                             f"{', '.join(sorted(OWN_KEYS | {'lora'}))} (this bench sets those)")
        changes[key] = spec_value(value, getattr(default, key), f"{flag} {pair!r}: {key}")
    return changes


def spec_value(text: str, default, what: str):
    """A KEY=VALUE pair's value read as YAML, a number where the spec's field (its default `default`) is a float.

    >>> spec_value("5e-5", 1e-4, "lr"), spec_value("1", 1e-4, "lr"), spec_value("true", False, "guided")
    (5e-05, 1.0, True)
    """
    loaded = yaml.safe_load(text)
    if isinstance(default, float) and isinstance(loaded, (int, str)):
        try:
            return float(loaded)  # YAML 1.1 reads 5e-5 as a string, 1 as an int
        except ValueError:
            raise ValueError(f"{what} is a number") from None
    return loaded


def cell(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else f"{100 * value:{'+' if signed else ''}.1f}"


def print_table(seeds: dict[int, dict], grpo_steps: list[int], tag: str = "") -> None:
    scopes = ("all", *evaluation.KINDS)
    header = ["seed", "run", "train s"] + [f"{scope} {figure}" for scope in scopes for figure in ("intent", "score")]
    header += ["Δ intent", "Δ score", "groups alike", "intent reward first → last quarter"]
    print("| " + " | ".join(header) + " |")
    print("| --- " * len(header) + "|")
    for seed, runs in sorted(seeds.items()):
        sft = runs["sft"]
        grpo = [(f"+GRPO {steps}{' ' + tag if tag else ''}", runs[steps]) for steps in grpo_steps if steps in runs]
        for label, run in [("SFT", sft), *grpo]:
            cells = [str(seed), label, f"{run['seconds']:.0f}"]
            for scope in scopes:
                rates = run["rates"] if scope == "all" else run["by_kind"].get(scope)
                cells += [cell(rates["intent"]) if rates else "-", cell(run["intent_score"].get(scope))]
            if run is sft:
                cells += ["", "", "", ""]
            else:
                cells += [cell(run["rates"]["intent"] - sft["rates"]["intent"], True),
                          cell(run["intent_score"]["all"] - sft["intent_score"]["all"], True),
                          cell(run["signal"]["alike"]),
                          f"{cell(run['signal']['intent_first'])} → {cell(run['signal']['intent_last'])}"]
            print("| " + " | ".join(cells) + " |")
    for steps in grpo_steps:
        pairs = [(runs["sft"], runs[steps]) for runs in seeds.values() if steps in runs]
        if pairs:
            summary = paired(pairs)
            print(f"GRPO {steps} steps{' ' + tag if tag else ''} against its SFT over {summary['seeds']} seeds: intent "
                  f"{cell(summary['intent'], True)} points, intent score {cell(summary['score'], True)} "
                  f"(sd {cell(summary['score_sd'])}); "
                  f"the score raised in {summary['raised']} of {summary['seeds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="a pair of runs per seed")
    parser.add_argument("--sft-steps", type=int, default=1200, help="SFT steps (the recipe's: 1,200)")
    parser.add_argument("--grpo-steps", type=int, nargs="+", default=[30], help="GRPO steps, one run each from the "
                        "seed's SFT (the recipe's: 30)")
    parser.add_argument("--name", default="", help="runs are <name>-s<seed>-sft and -grpo<steps> (default: "
                        "seeds<sft steps>)")
    recipe_sweep.add_evaluation_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help="short sequences, 2 answers of 8 tokens a prompt, the "
                        "seed rows only")
    parser.add_argument("--grpo-set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="change the recipe's GRPO (keys of jobs.specs.GRPOJob, values read as YAML); needs --tag")
    parser.add_argument("--tag", default="", help="the changed GRPO's runs are <name>-s<seed>-grpo<steps>-<tag>")
    parser.add_argument("--sft-set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="change the recipe's SFT (keys of jobs.specs.SFTJob but lora, values read as YAML), "
                        "such as its rows; give a --name of its own")
    parser.add_argument("--eval-rows", default="", metavar="FILE",
                        help="evaluate every adapter on FILE's rows instead of the eval split (rows that hold more "
                        "than their request, as bench/retrieved_rows.py writes)")
    args = parser.parse_args()
    if args.sft_steps < 1 or min(args.grpo_steps) < 1:
        parser.error("--sft-steps and --grpo-steps count steps: each at least 1")
    try:
        args.grpo_set = grpo_changes(args.grpo_set)
        args.sft_set = grpo_changes(args.sft_set, specs.SFTJob, "--sft-set")
    except ValueError as error:
        parser.error(str(error))
    if args.eval_rows and not Path(args.eval_rows).is_file():
        parser.error(f"--eval-rows {args.eval_rows}: no such file")
    if bool(args.grpo_set) != bool(args.tag):
        parser.error("--grpo-set and --tag go together: the changed GRPO runs under its own names")
    args.name = args.name or f"seeds{args.sft_steps}"
    # This call's seeds, and those an earlier call of the same name trained (read back, not run again).
    pattern = re.compile(re.escape(args.name) + r"-s(\d+)-sft")
    earlier = {int(found.group(1)) for path in workspace.home().glob(f"runs/{args.name}-s*-sft/seeds.json")
               if (found := pattern.fullmatch(path.parent.name))}
    try:  # every spec built first: a value one refuses (a type, a batch num_generations does not divide) trains nothing
        plans = {seed: phases(args, seed) for seed in sorted({*args.seeds, *earlier})}
    except (specs.SpecError, TypeError, ValueError) as error:
        parser.error(f"--grpo-set or --sft-set: {error}")
    seeds: dict[int, dict] = {}
    for seed, (sft, grpos) in plans.items():
        if seed in args.seeds:
            recipe.ensure_generated(sft)
        runs = {}
        for key, spec in [("sft", sft), *zip(args.grpo_steps, grpos)]:
            changes = args.sft_set if key == "sft" else args.grpo_set
            record = train(spec, seed, changes) if seed in args.seeds else trained(spec, seed, changes)
            if not record:
                continue  # an earlier seed without this GRPO length
            runs[key] = {**record, **evaluated(spec, args, args.eval_rows)}
            if key != "sft":
                runs[key]["signal"] = signal(spec.run_folder())
        if "sft" in runs:
            seeds[seed] = runs
    print(f"\n[seeds] the gpu recipe, {args.sft_steps} SFT steps, GRPO {', '.join(map(str, args.grpo_steps))} steps, "
          f"{'guided' if args.guided == 'on' else 'unguided'}; rates and scores in %:")
    print_table(seeds, args.grpo_steps, args.tag)


if __name__ == "__main__":
    main()
