"""The LoRA adapters the studio's runs have produced, for the tabs that pick one (Compare, Evaluate, Export).

    >>> from studio import adapters
    >>> [a.label for a in adapters.find()]
    ['sft-embedded-1 (SmolLM2-135M-Instruct (embedded))', ...]

A run keeps its final adapter in `<run>/adapter/` (PEFT's `adapter_config.json` and weights, with the
tokenizer). The base model is read from `adapter_config.json`; a path into the workspace's copy of the embedded
model is shown by its studio name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio import models, workspace


@dataclass(frozen=True)
class Adapter:
    run: str
    path: Path
    base_model: str

    @property
    def label(self) -> str:
        return f"{self.run} ({self.base_model})"


def base_model_name(recorded: str) -> str:
    """The studio's name for the base recorded in an adapter: the embedded model's cache path maps back."""
    try:
        if Path(recorded).resolve() == (workspace.models_dir() / models.EMBEDDED_FOLDER).resolve():
            return models.EMBEDDED
    except (OSError, ValueError):
        pass
    return recorded


def read(path: Path, run: str | None = None) -> Adapter:
    config = json.loads((Path(path) / "adapter_config.json").read_text())
    return Adapter(run or Path(path).parent.name, Path(path), base_model_name(config.get("base_model_name_or_path", "")))


def folder(adapter: str) -> Path | None:
    """An adapter's folder: a path as given, or a run name's adapter/ in the workspace; None for none.

    >>> folder("sft-1")                              # doctest: +SKIP
    PosixPath('workspace/runs/sft-1/adapter')
    """
    if not adapter:
        return None
    path = Path(adapter).expanduser()
    if path.is_absolute() or path.exists() or "/" in adapter:
        return path
    return workspace.inside(workspace.runs_dir(), adapter) / "adapter"


def find() -> list[Adapter]:
    """Every run's final adapter, newest first."""
    found = []
    for config in workspace.runs_dir().glob("*/adapter/adapter_config.json"):
        try:
            found.append((config.stat().st_mtime, read(config.parent)))
        except (OSError, ValueError):
            continue  # a run still writing its adapter, or a damaged one: not offered
    return [adapter for _, adapter in sorted(found, key=lambda item: item[0], reverse=True)]
