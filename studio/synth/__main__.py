"""Build the generated dataset, or measure what a training set covers of the eval split.

    python -m studio.synth --rows 10000 --seed 0 --out data/generated.jsonl     # ~60% Terraform, reproducible
    python -m studio.synth --rows 500 --services s3 lambda --kinds Deployment Service --out small.jsonl
    python -m studio.synth --rows 10000 --dataset generated     # into the workspace's datasets (Train tab)
    python -m studio.synth coverage data/train.jsonl data/generated.jsonl  # eval types never seen in training

The build prints what the rows cover (resource types, patterns, kinds), how many drawn rows failed a check
(validity), were duplicates or came too close to an eval row, and the time it took.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio import dataset


def build_command(argv: list[str]) -> int:
    from studio.synth.build import TERRAFORM_SHARE, generate

    parser = argparse.ArgumentParser(prog="python -m studio.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows to generate (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same rows")
    parser.add_argument("--terraform-share", type=float, default=TERRAFORM_SHARE,
                        help="share of Terraform rows (default 0.6)")
    parser.add_argument("--services", nargs="*", default=None,
                        help="only these services (compute, storage, databases, ... or a type prefix: s3, lambda)")
    parser.add_argument("--kinds", nargs="*", default=None, help="only these Kubernetes kinds")
    parser.add_argument("--out", type=Path, default=None, help="a .jsonl file to write the rows to")
    parser.add_argument("--dataset", default="", help="also save the rows as a dataset of the workspace "
                                                      "(a new version when it exists), training rows only")
    args = parser.parse_args(argv)
    if args.out is None and not args.dataset:
        parser.error("give --out FILE.jsonl, --dataset NAME or both")

    def progress(done: int, total: int) -> None:
        print(f"\r[synth] {done}/{total} rows", end="", file=sys.stderr, flush=True)

    result = generate(args.rows, args.seed, terraform_share=args.terraform_share, services=args.services,
                      kinds=args.kinds, progress=progress)
    print(file=sys.stderr)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(dataset.jsonl_text(result.rows), encoding="utf-8")
        print(f"[synth] wrote {len(result.rows)} rows to {args.out}")
    if args.dataset:
        from studio import dataset_store

        note = f"generated: {len(result.rows)} rows, seed {args.seed}"
        splits = {"train": result.rows, "eval": []}
        version = dataset_store.save(args.dataset, splits, note)
        print(f"[synth] dataset {args.dataset}: version {version.id}")
    print(json.dumps(result.stats))
    return 0


def coverage_command(argv: list[str]) -> int:
    from studio.synth.build import EVAL_SPLIT, unseen_share

    parser = argparse.ArgumentParser(prog="python -m studio.synth coverage",
                                     description="The share of the eval split's Terraform types (resources and "
                                                 "data sources) that no training row declares.")
    parser.add_argument("train", nargs="+", type=Path, help="training JSONL files, taken together")
    parser.add_argument("--eval", type=Path, default=EVAL_SPLIT)
    args = parser.parse_args(argv)
    train = [row for path in args.train for row in dataset.read_jsonl(path)]
    share, missing, wanted = unseen_share(dataset.read_jsonl(args.eval), train)
    print(f"{len(missing)} of {len(wanted)} eval resource types ({100 * share:.1f}%) never appear in "
          f"{' + '.join(str(p) for p in args.train)}" + (f": {', '.join(missing)}" if missing else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["coverage"]:
        return coverage_command(argv[1:])
    return build_command(argv)


if __name__ == "__main__":
    raise SystemExit(main())
