"""The recipes: SFT, then GRPO from its adapter with the IaC rewards, as two queued jobs.

    >>> sft, grpo = phases("recipe-1")                      # recipes/cpu-*.yaml as two job specs
    >>> (sft.output, grpo.output, grpo.adapter)
    ('recipe-1-sft', 'recipe-1-grpo', 'recipe-1-sft')
    >>> phases("r2", "gpu")[0].mix_dataset.endswith("data/generated.jsonl")
    True
    >>> submit("recipe-1", "gpu")                            # doctest: +SKIP
    (Job(name='recipe-1-sft', state='running', ...), Job(name='recipe-1-grpo', state='queued', after=...))

Each recipe is two files, `recipes/<recipe>-sft.yaml` and `recipes/<recipe>-grpo.yaml`, each choice commented with
the figure that decided it; `python -m jobs run` takes either file as it is. The Train tab's recipe buttons are
`submit`, and `bench/recipe.py --recipe NAME` trains `phases` and evaluates them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jobs import specs
from jobs.store import Job
from studio import workspace

ROOT = workspace.PROJECT_ROOT
# name: what it is for, as the Train tab says it
RECIPES = {
    "cpu": "the embedded model on a 2-core CPU, SFT and GRPO within 30 minutes",
    "gpu": "the embedded model on one GPU, SFT and GRPO within 10 minutes: every layer, seed plus generated rows "
           "each with a worked example, 4x the GRPO requests",
    "qwen2.5-0.5b": "Qwen2.5-0.5B-Instruct from the hub on one GPU (QLoRA where the card is small)",
}
GENERATED = ROOT / "data" / "generated.jsonl"


def files(recipe: str = "cpu") -> tuple[Path, Path]:
    """The recipe's two job files (SFT, GRPO)."""
    if recipe not in RECIPES:
        raise ValueError(f"No recipe {recipe!r}: the recipes are {', '.join(RECIPES)}")
    return ROOT / "recipes" / f"{recipe}-sft.yaml", ROOT / "recipes" / f"{recipe}-grpo.yaml"


FILES = files("cpu")


def default() -> str:
    """The recipe for this machine: `gpu` where jobs have a GPU (`runner.gpu_ids`, found without importing
    torch), else `cpu`."""
    from jobs import runner

    return "gpu" if runner.gpu_ids() else "cpu"


def phases(name: str, recipe: str = "cpu", **changes) -> tuple[specs.SFTJob, specs.GRPOJob]:
    """The recipe's two specs, run as `<name>-sft` and `<name>-grpo`, GRPO starting from that SFT run's adapter.

    `changes` apply to both (another base model or dataset; the tests' tiny model and a step or two). Relative
    paths are the project's, wherever the studio was started from.
    """
    first, second = files(recipe)
    sft = specs.load(first)
    unknown = sorted(key for key in changes if not hasattr(sft, key) and not hasattr(specs.GRPOJob, key))
    if unknown:
        raise ValueError(f"Neither phase has {', '.join(unknown)}")
    sft = dataclasses.replace(sft, output=f"{name}-sft",
                              **{k: v for k, v in changes.items() if hasattr(sft, k)})
    grpo = specs.load(second)
    grpo = dataclasses.replace(grpo, output=f"{name}-grpo", adapter=sft.output,
                               **{k: v for k, v in changes.items() if hasattr(grpo, k)})
    return sft.with_paths_resolved(ROOT), grpo.with_paths_resolved(ROOT)


def ensure_generated(spec: specs.SFTJob, log=print, progress=None) -> None:
    """Build data/generated.jsonl (studio.synth, 10,000 rows, seed 0, ~40 s) when the recipe mixes it in or draws
    worked examples from it and it is not there yet: it is rebuilt rather than kept in the repository.
    `progress(done, total)` follows the rows."""
    named = [spec.mix_dataset, spec.examples_dataset if spec.worked_examples else ""]
    if GENERATED.exists() or not any(path and Path(path).resolve() == GENERATED.resolve() for path in named):
        return
    from studio import dataset
    from studio.synth.build import generate

    log(f"[recipe] building {GENERATED.relative_to(ROOT)} (python -m studio.synth --rows 10000 --seed 0, ~40 s)")
    workspace.atomic_write_text(GENERATED, dataset.jsonl_text(generate(10_000, 0, progress=progress).rows))


def submit(name: str, recipe: str = "cpu", progress=None, **changes) -> tuple[Job, Job]:
    """Queue both phases: the GRPO job waits for the SFT job to succeed (and fails at once if it does not).
    `progress(done, total)` follows the generated rows' build where the recipe needs it first."""
    from jobs import runner

    sft, grpo = phases(name, recipe, **changes)
    ensure_generated(sft, progress=progress)
    first = runner.submit(sft)
    return first, runner.submit(grpo, after=first.name)
