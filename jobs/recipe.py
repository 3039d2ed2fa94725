"""The default recipe: SFT on the seed dataset, then GRPO from its adapter with the IaC rewards.

    >>> sft, grpo = phases("recipe-1")                      # recipes/default-*.yaml as two job specs
    >>> (sft.output, grpo.output, grpo.adapter)
    ('recipe-1-sft', 'recipe-1-grpo', 'recipe-1-sft')
    >>> submit("recipe-1")                                   # doctest: +SKIP
    (Job(name='recipe-1-sft', state='running', ...), Job(name='recipe-1-grpo', state='queued', after=...))

The hyperparameters live in `recipes/default-sft.yaml` and `recipes/default-grpo.yaml`, each choice with the
figure that decided it; `python -m jobs run` takes either file as it is. The Train tab's "Run the default
recipe" button is `submit`, and `bench/recipe.py` trains `phases` and evaluates them.
"""

from __future__ import annotations

import dataclasses

from jobs import specs
from jobs.store import Job
from studio import workspace

ROOT = workspace.PROJECT_ROOT
FILES = (ROOT / "recipes" / "default-sft.yaml", ROOT / "recipes" / "default-grpo.yaml")


def phases(name: str, **changes) -> tuple[specs.SFTJob, specs.GRPOJob]:
    """The recipe's two specs, run as `<name>-sft` and `<name>-grpo`, GRPO starting from that SFT run's adapter.

    `changes` apply to both (another base model or dataset; the tests' tiny model and a step or two). Relative
    paths are the project's, wherever the studio was started from.
    """
    sft = dataclasses.replace(specs.load(FILES[0]), output=f"{name}-sft", **changes)
    grpo = dataclasses.replace(specs.load(FILES[1]), output=f"{name}-grpo", adapter=sft.output, **changes)
    return sft.with_paths_resolved(ROOT), grpo.with_paths_resolved(ROOT)


def submit(name: str, **changes) -> tuple[Job, Job]:
    """Queue both phases: the GRPO job waits for the SFT job to succeed (and fails at once if it does not)."""
    from jobs import runner

    sft, grpo = phases(name, **changes)
    first = runner.submit(sft)
    return first, runner.submit(grpo, after=first.name)
