"""Choose the default recipe's hyperparameters by experiment: train variants, evaluate each, print one table.

    python bench/recipe_sweep.py bench/sweeps/sft.yaml                   # variants one after the other
    python bench/recipe_sweep.py bench/sweeps/sft.yaml --parallel 8 --gpus 2 --out results/
                                                                          # a GPU machine: 4 variants per GPU
    python bench/recipe_sweep.py bench/sweeps/sft.yaml --dry-run         # check every job.yaml, train nothing

A sweep file holds `defaults` (an `sft`, a `grpo` and a `dpo` spec, the keys of `jobs.specs.SFTJob` / `GRPOJob` /
`DPOJob`) and `variants`, each with a `name` and the keys it changes:

    defaults:
      sft: {epochs: 1, learning_rate: 0.001}
      grpo: {max_steps: 30, num_generations: 4}
    variants:
      - name: base                      # no `sft` or `grpo`: the base model as it is
      - name: lr-2e-3
        sft: {learning_rate: 0.002}
      - name: lr-2e-3+grpo
        after: lr-2e-3                  # GRPO from that variant's SFT adapter
        grpo: {temperature: 1.0}
      - name: lr-2e-3+dpo
        after: lr-2e-3                  # DPO from it: mines pairs from that adapter first (studio.pair_mining)
        dpo: {mine_limit: 20}

Every variant trains through the studio's own entry point (`python -m jobs run job.yaml`) and is evaluated with
`studio.evaluation` over the held-out split, greedy. The table is the share of answers passing each stage,
overall and per kind, the share of answers that loop (a line repeated more than 8 times), pass@k where `--pass-at`
asks for it, the decoding speed (new tokens per second of generation, shared with whatever else runs on the
device), the training wall time (a DPO phase's includes its mining) and the pairs DPO trained on; each variant's
summary lands in `--out` as JSON.

`--smoke MODEL` checks a sweep file end to end in minutes on a CPU: every phase of every variant runs one step of
short sequences on MODEL (a tiny random model folder, or the embedded one), DPO mines 2 requests with each row's
reference answer among the candidates (a tiny model's own answers rarely give a pair), and 2 eval rows are answered
in 16 tokens. It proves the file parses, every spec validates and each phase starts and chains; the figures mean
nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/recipe_sweep.py` from anywhere

STAGES = ("parses", "schema", "intent", "pass")
PHASES = ("sft", "grpo", "dpo")
# --smoke: one step of short sequences per phase; DPO mines 2 requests and counts the reference answers.
SMOKE = {
    "sft": {"max_steps": 1, "batch_size": 2, "gradient_accumulation": 1, "max_length": 256, "save_steps": 1000},
    "grpo": {"max_steps": 1, "batch_size": 2, "gradient_accumulation": 1, "num_generations": 2,
             "max_completion_length": 16, "save_steps": 1000},
    "dpo": {"max_steps": 1, "batch_size": 2, "gradient_accumulation": 1, "max_length": 512, "mine_limit": 2,
            "mine_samples": 2, "mine_pairs_per_request": 1, "mine_max_new_tokens": 16, "mine_batch_size": 4,
            "mine_reference": True, "save_steps": 1000},
}


def load_sweep(path: Path) -> tuple[dict, list[dict]]:
    data = yaml.safe_load(path.read_text())
    return data.get("defaults", {}), data["variants"]


def phase_settings(variant: dict, defaults: dict, phase: str, smoke: dict | None) -> dict:
    """A phase's keys: the sweep's defaults, the variant's changes, then (in a smoke run) the cut-down sizes."""
    settings = {**defaults.get(phase, {}), **variant.get(phase, {})}
    return {**settings, **smoke[phase]} if smoke else settings


def job_yaml(kind: str, settings: dict, run: Path) -> Path:
    """Write the variant's job.yaml (validated by the studio's own spec) and return its path."""
    from jobs import specs

    spec = specs.from_dict({"kind": kind, **settings, "output": str(run)})
    path = run.parent / f"{run.name}.yaml"
    path.write_text(specs.dump(spec))
    return path


def train(kind: str, settings: dict, run: Path, env: dict, reuse: bool = False) -> float:
    """Train one phase into `run`; its wall time in seconds. `reuse`: a phase this sweep already finished in `run`
    (its adapter and `sweep.json` are there) is not trained again, and its earlier wall time is returned."""
    done = run / "sweep.json"
    if reuse and done.exists() and (run / "adapter").is_dir():
        return json.loads(done.read_text())["seconds"]
    started = time.monotonic()
    path = job_yaml(kind, settings, run)
    with open(run.parent / f"{run.name}.log", "w") as log:
        subprocess.run([sys.executable, "-m", "jobs", "run", str(path)], cwd=ROOT, env=env, stdout=log,
                       stderr=subprocess.STDOUT, check=True)
    seconds = time.monotonic() - started
    done.write_text(json.dumps({"seconds": round(seconds, 1)}))
    return seconds


def evaluate(adapter: Path | None, settings: dict, limit: int, batch_size: int, folder: Path,
             max_new_tokens: int = 512, guided: bool = False, pass_at: int = 0, rows_file: str = "") -> dict:
    """The variant's rates over the eval split, or `rows_file` (greedy; `guided`: schema-guided decoding,
    `studio.guided`; `pass_at` k: also k sampled answers per row at temperature 0.7); the answers and verdicts are
    kept in `folder`."""
    from studio import evaluation, generation, models

    model = settings.get("model") or models.EMBEDDED
    rows = evaluation.load_rows(rows_file or evaluation.EVAL_SPLIT)[: limit or None]
    contenders = evaluation.candidates(model, adapter=str(adapter) if adapter else None, with_base=adapter is None)
    results = evaluation.evaluate(rows, contenders, generation.Settings(max_new_tokens=max_new_tokens,
                                                                                   guided=guided),
                                  batch_size=batch_size, pass_at=pass_at)
    evaluation.write(results, folder)
    return results.summary["models"][-1]


def add_evaluation_arguments(parser) -> None:
    """The arguments of the benches that train runs and evaluate each (grpo_seeds, sft_variants, data_curve)."""
    parser.add_argument("--guided", choices=("on", "off"), default="on", help="schema-guided evaluation")
    parser.add_argument("--limit", type=int, default=0, help="evaluate on the first N eval rows only")
    parser.add_argument("--eval-batch", type=int, default=0, help="answers generated at once (128 on a large GPU)")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--model", default="", help="another base model (a tiny one for a smoke run)")


def evaluate_once(adapter: Path, model: str, folder: Path, limit: int, batch_size: int, max_new_tokens: int = 512,
                  guided: bool = False, announce: str = "", rows_file: str = "") -> dict:
    """`evaluate` for an adapter on `model` (over `rows_file`, else the eval split), unless `folder` holds its
    results already: then they are read back. `announce` is printed before an evaluation that runs."""
    from studio import evaluation

    results = evaluation.read(folder)
    if results is not None:
        return results.summary["models"][-1]
    if announce:
        print(announce, flush=True)
    return evaluate(adapter, {"model": model}, limit, batch_size or evaluation.DEFAULT_BATCH_SIZE, folder,
                    max_new_tokens, guided=guided, rows_file=rows_file)


def run_variant(variant: dict, defaults: dict, work: Path, out: Path, gpu: int | None, limit: int,
                batch_size: int, smoke: dict | None = None, max_new_tokens: int = 512,
                guided: str = "off", pass_at: int = 0, evaluate_it: bool = True, reuse: bool = False,
                rows_file: str = "") -> dict:
    """Train one variant (SFT, then GRPO or DPO if asked) and evaluate it; runs in its own process."""
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    name = variant["name"]
    record = {"name": name, "variant": variant, "seconds": {}}
    adapter = None
    sft = phase_settings(variant, defaults, "sft", smoke)
    if "sft" in variant:
        run = work / f"{name}-sft"
        record["seconds"]["sft"] = round(train("sft", sft, run, env, reuse), 1)
        adapter = run / "adapter"
    for phase in ("grpo", "dpo"):
        if phase not in variant:
            continue
        start = work / f"{variant['after']}-sft" / "adapter" if variant.get("after") else adapter
        settings = phase_settings(variant, defaults, phase, smoke)
        if start is not None:
            settings["adapter"] = str(start)
        run = work / f"{name}-{phase}"
        record["seconds"][phase] = round(train(phase, settings, run, env, reuse), 1)
        adapter = run / "adapter"
        if phase == "dpo":  # the pairs it trained on, and the share of its time spent mining them
            summary = json.loads((run / "summary.json").read_text())
            record["dpo"] = {key: summary.get(key) for key in ("pairs", "pairs_by_source", "mining",
                                                               "rewards_accuracy", "rewards_margin")}
    for mode in {"off": [False], "on": [True], "both": [False, True]}[guided] if evaluate_it else []:
        key = "eval_guided" if mode else "eval"
        started = time.monotonic()
        record[key] = evaluate(adapter, sft, limit, batch_size, out / (f"{name}-guided" if mode else name),
                               max_new_tokens, guided=mode, pass_at=0 if mode else pass_at, rows_file=rows_file)
        record["seconds"][key] = round(time.monotonic() - started, 1)
        (out / f"{name}.json").write_text(json.dumps(record, indent=1))  # kept even if a later pass is cut short
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record


def dry_run(variants: list[dict], defaults: dict, work: Path) -> int:
    """Every variant's job.yaml written and checked as `jobs run` would; returns 1 when one cannot start."""
    from jobs import specs

    work.mkdir(parents=True, exist_ok=True)
    failed = 0
    for variant in variants:
        for kind in PHASES:
            if kind not in variant:
                continue
            settings = {**defaults.get(kind, {}), **variant[kind]}
            try:
                path = job_yaml(kind, settings, work / f"{variant['name']}-{kind}")
                missing = specs.load(path).with_paths_resolved(ROOT).missing_files()
            except (specs.SpecError, TypeError) as error:
                missing = [str(error)]
            failed += bool(missing)
            print(f"[sweep] {variant['name']} {kind}: " + ("; ".join(missing) if missing else f"ok ({path})"))
    return 1 if failed else 0


def table(records: list[dict], key: str = "eval") -> str:
    """One row per variant with `key` (eval: greedy, eval_guided: greedy guided by the schemas)."""
    records = [record for record in records if key in record]
    header = ["variant", "train s", "pairs"] + [f"{kind[:2]} {stage}" for kind in ("terraform", "kubernetes")
                                                 for stage in STAGES] + ["all parses", "all schema", "all intent",
                                                                         "all pass", "loops", "pass@k", "tok/s"]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for record in records:
        kinds = record[key]["by_kind"]
        train_s = sum(v for k, v in record["seconds"].items() if not k.startswith("eval"))
        pairs = record.get("dpo", {}).get("pairs")
        cells = [record["name"], f"{train_s:.0f}", "-" if pairs is None else str(pairs)]
        cells += [f"{100 * kinds[kind][stage]:.0f}" if kind in kinds else "-" for kind in ("terraform", "kubernetes")
                  for stage in STAGES]
        cells += [f"{100 * record[key]['rates'][stage]:.0f}" for stage in STAGES]
        passes = record[key].get("pass_at_k") or {}
        k = max(passes, key=int, default=None)
        speed = record[key].get("new_tokens", 0) / max(record[key].get("generation_seconds", 0), 1e-9)
        cells += [f"{100 * record[key]['rates'].get('loop', 0):.0f}", f"{100 * passes[k]:.0f} (k={k})" if k else "-",
                  f"{speed:.0f}" if record[key].get("generation_seconds") else "-"]
        lines.append(" | ".join(cells))
    return "\n".join(f"| {line} |" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, default=Path("sweep-results"))
    parser.add_argument("--work", type=Path, default=None, help="run folders (default: <out>/runs)")
    parser.add_argument("--parallel", type=int, default=1, help="variants at once")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs to spread the variants over")
    parser.add_argument("--limit", type=int, default=0, help="evaluate on the first N eval rows only")
    parser.add_argument("--rows", default="", metavar="JSONL",
                        help="evaluate on these rows instead of the eval split (a sample of the training rows: how "
                             "well the variant learned what it saw, beside how it does on what it did not)")
    parser.add_argument("--eval-batch", type=int, default=16)
    parser.add_argument("--only", nargs="*", default=None, help="variant names to run")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="longest eval answer")
    parser.add_argument("--guided", choices=("off", "on", "both"), default="off",
                        help="evaluate greedy unguided, guided by the schemas (studio.guided), or both")
    parser.add_argument("--train-only", nargs="*", default=[], metavar="VARIANT",
                        help="train these variants (for the ones after them) without evaluating them")
    parser.add_argument("--pass-at", type=int, default=0, metavar="K",
                        help="also sample K answers per row at temperature 0.7 (unguided pass only): pass@K")
    parser.add_argument("--reuse", action="store_true",
                        help="do not train again a phase this sweep finished in --work (a run split over calls)")
    parser.add_argument("--smoke", metavar="MODEL", default="",
                        help="one step per phase on MODEL, 2 mined requests, 2 eval rows of 16 tokens (see above)")
    parser.add_argument("--dry-run", action="store_true",
                        help="write and check every variant's job.yaml (and the files it reads), train nothing")
    args = parser.parse_args()
    defaults, variants = load_sweep(args.sweep)
    unknown = [f"{v.get('name')}: {key}" for v in variants for key in v if key not in ("name", "after", *PHASES)]
    if unknown:
        sys.exit(f"unknown variant keys: {', '.join(unknown)}; a variant has name, after, {', '.join(PHASES)}")
    if args.only:
        variants = [v for v in variants if v["name"] in args.only]
    if args.dry_run:
        raise SystemExit(dry_run(variants, defaults, (args.work or args.out / "runs").resolve()))
    smoke = None
    if args.smoke:
        smoke = {phase: {**SMOKE[phase], "model": args.smoke} for phase in PHASES}
        args.limit, args.max_new_tokens, args.eval_batch = 2, 16, 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = (args.work or args.out / "runs").resolve()
    work.mkdir(parents=True, exist_ok=True)
    # GRPO and DPO variants that start from another variant's SFT wait for the first wave.
    waves = [[v for v in variants if not v.get("after")], [v for v in variants if v.get("after")]]
    records, slot = [], 0
    context = __import__("multiprocessing").get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.parallel, mp_context=context) as pool:
        for wave in waves:
            futures = {}
            for variant in wave:
                gpu = slot % args.gpus if args.gpus else None
                slot += 1
                futures[pool.submit(run_variant, variant, defaults, work, args.out, gpu, args.limit,
                                    args.eval_batch, smoke, args.max_new_tokens, args.guided,
                                    args.pass_at, variant["name"] not in args.train_only,
                                    args.reuse, args.rows)] = variant["name"]
            for future in concurrent.futures.as_completed(futures):
                try:
                    records.append(future.result())
                    print(f"[sweep] {futures[future]} done", flush=True)
                except Exception as error:  # one broken variant must not lose the others' results
                    print(f"[sweep] {futures[future]} failed: {error}", flush=True)
    order = {v["name"]: i for i, v in enumerate(variants)}
    records.sort(key=lambda r: order[r["name"]])
    text = table(records)
    if any("eval_guided" in record for record in records):
        text += "\n\nGuided by the schemas:\n\n" + table(records, "eval_guided")
    (args.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
