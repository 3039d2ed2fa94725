"""Exporting a run: merged weights, the adapter and GGUF files, checked, with a model card, in one folder.

    >>> from studio.export.build import ExportRequest, build_export, list_exports
    >>> export = build_export(ExportRequest(run="sft-1", name="iac-smollm2"))
    >>> [(f.path, f.size) for f in export.files][:2]
    [('README.md', 5321), ('adapter/adapter_config.json', 1012)]
    >>> export.checks["merged"]["largest_logit_difference"]
    3.0517578125e-05
    >>> [e.name for e in list_exports()]
    ['iac-smollm2']

An export is written into a hidden sibling folder (`.iac-smollm2.partial-<pid>-<id>`), its completion
marker last, then renamed into place: a crash or an error leaves no folder that looks complete, and a folder
without its marker is never listed. Names are plain names inside the exports folder, never paths, and an
existing export is replaced only when the request says `overwrite=True`.

    exports/<name>/
        README.md                     the model card (each format folder has its own, for a hub repo)
        merged/                       safetensors + config + generation config + tokenizer + chat template
        adapter/                      adapter_config.json + adapter_model.safetensors + tokenizer
        gguf/<name>-<TYPE>.gguf       F16, Q8_0, Q4_1, Q4_0 as picked, and an Ollama Modelfile
        gguf/<kind>.gbnf              the schema grammars for llama.cpp (`--grammar-file`), beside the GGUF
        grammars/<kind>.{gbnf,lark}   the same grammars for xgrammar and llguidance (vLLM's structured outputs)
        checks.json                   every round trip: largest logit difference, greedy agreement
        inframind-export.json         the marker: the request, every file with its size, the checks
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from studio import access, adapters, examples, models, workspace
from studio.export import card

MARKER = "inframind-export.json"
# The hidden folders an export makes beside its target: `.<name>.partial-<pid>-<id>` while it is written,
# `.<name>.replaced-<pid>-<id>` for the export it replaces, in the instant between two renames.
ABANDONED = re.compile(r"^\..+\.(partial|replaced)-(?P<pid>\d+)-[0-9a-f]+$")
FORMATS = card.FORMATS
# Files a trainer leaves beside an adapter that are training state, not the adapter.
TRAINING_STATE = {"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json"}


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says what to change."""


class ExportExists(ExportError):
    """The export name is taken and overwriting was not confirmed."""


def _gguf_types() -> tuple[str, ...]:
    from studio.export import gguf

    return gguf.TYPES


@dataclass(frozen=True)
class ExportRequest:
    """What to export. The Export tab fills one in; so can a script or a test."""

    run: str = field(metadata={"help": "the run folder's name under workspace/runs"})
    name: str = field(metadata={"help": "the export folder's name under workspace/exports: letters, digits, . _ -"})
    formats: tuple[str, ...] = field(default=FORMATS, metadata={"help": "any of merged, adapter, gguf"})
    gguf_types: tuple[str, ...] = field(default=("F16", "Q8_0", "Q4_1"), metadata={"help": "F16, Q8_0, Q4_1, Q4_0"})
    dtype: str = field(default="auto", metadata={"help": "merged weights: auto (the base's own), bfloat16, ..."})
    system_kind: str = field(default="terraform", metadata={"help": "the system prompt the Modelfile sets"})
    llama_cpp_check: bool = field(default=True, metadata={"help": "also load each GGUF file in llama.cpp"})
    overwrite: bool = field(default=False, metadata={"help": "replace an export of the same name"})

    def __post_init__(self):
        from studio import chat
        from studio.export.merge import DTYPES

        object.__setattr__(self, "formats", tuple(self.formats))
        object.__setattr__(self, "gguf_types", tuple(self.gguf_types))
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ExportError(f"Pick at least one format among {', '.join(FORMATS)} (got {', '.join(self.formats)}).")
        if "gguf" in self.formats:
            bad = set(self.gguf_types) - set(_gguf_types())
            if bad or not self.gguf_types:
                raise ExportError(
                    f"Pick at least one GGUF type among {', '.join(_gguf_types())} (got {', '.join(self.gguf_types)})."
                )
        if self.dtype not in DTYPES:
            raise ExportError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.system_kind not in chat.SYSTEM_PROMPTS:
            raise ExportError(f"system_kind must be one of {', '.join(chat.SYSTEM_PROMPTS)}, not {self.system_kind!r}")


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export folder, with forward slashes
    size: int


@dataclass
class Export:
    """A complete export on disk, as its marker describes it."""

    name: str
    folder: Path
    run: str
    formats: list[str]
    files: list[ExportedFile]
    checks: dict
    created: str
    seconds: float
    merged_dtype: str | None = None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def gguf_files(self) -> list[str]:
        return [Path(f.path).name for f in self.files if f.path.startswith("gguf/") and f.path.endswith(".gguf")]


# --- the folder ---------------------------------------------------------------------------------------------


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


def read_export(folder: Path) -> Export | None:
    """The export in `folder`, or None when it is not a complete one.

    Complete means: the marker is there, and every file it lists exists with the size it recorded (a file
    truncated after the fact, or one missing, makes the export incomplete).
    """
    folder = Path(folder)
    try:
        marker = json.loads((folder / MARKER).read_text())
        sizes = marker["files"]
        if sizes != _file_sizes(folder):
            return None
        return Export(
            name=folder.name,
            folder=folder,
            run=marker["request"]["run"],
            formats=list(marker["request"]["formats"]),
            files=[ExportedFile(path, size) for path, size in sizes.items()],
            checks=marker.get("checks", {}),
            created=marker.get("created", ""),
            seconds=marker.get("seconds", 0.0),
            merged_dtype=marker.get("merged_dtype"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_exports() -> list[Export]:
    """Every complete export, newest first. Partial folders (hidden, no marker) are never listed."""
    found = []
    for folder in workspace.exports_dir().iterdir():
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue  # hidden: partial or being replaced; a link may point anywhere
        export = read_export(folder)
        if export:
            found.append(export)
    return sorted(found, key=lambda e: e.created, reverse=True)


def find_export(name: str) -> Export:
    export = read_export(workspace.inside(workspace.exports_dir(), name))
    if export is None:
        raise ExportError(f"There is no complete export named {name!r}.")
    return export


def remove_abandoned_partials() -> list[str]:
    """Delete the hidden folders of exports whose process died (a partial one, or an old one being replaced).

    Returns their names. A hidden folder of a live process belongs to an export still running: left alone.
    """
    removed = []
    for folder in workspace.exports_dir().glob(".*"):
        match = ABANDONED.match(folder.name)
        if match and folder.is_dir() and not psutil.pid_exists(int(match["pid"])):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished `tmp` to `target`; an existing target is replaced only when `overwrite`."""
    if not target.exists():
        try:
            os.rename(tmp, target)  # atomic; fails if another export took the name meanwhile
            return
        except OSError as error:
            if not target.exists():
                raise
            if not overwrite:
                raise ExportExists(f"An export named {target.name!r} appeared while this one ran.") from error
    if not overwrite:
        raise ExportExists(f"An export named {target.name!r} exists: tick 'overwrite' to replace it.")
    old = target.with_name(f".{target.name}.replaced-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


# --- the formats --------------------------------------------------------------------------------------------


def _base_of(run_folder: Path, adapter: Path) -> str:
    """The base model of a run: `model` in job.yaml when there, else what the adapter records."""
    import yaml

    try:
        job = yaml.safe_load((run_folder / "job.yaml").read_text())
        if isinstance(job, dict) and isinstance(job.get("model"), str) and job["model"].strip():
            return adapters.base_model_name(job["model"].strip())
    except (OSError, yaml.YAMLError):
        pass
    return adapters.read(adapter, run_folder.name).base_model


def copy_adapter(adapter: Path, destination: Path, base: str) -> None:
    """The adapter as PEFT saved it, without training state; its base recorded as a hub id where there is one.

    The recorded base of a run on the embedded model is a path into this machine's model cache, useless
    anywhere else; the card explains which weights the adapter was trained on.
    """
    destination.mkdir(parents=True)
    for item in sorted(Path(adapter).iterdir()):
        if item.is_file() and item.name not in TRAINING_STATE and item.name != "README.md":
            shutil.copy2(item, destination / item.name)
    config_path = destination / "adapter_config.json"
    config = json.loads(config_path.read_text())
    base_id = card.hub_id(base)
    if base_id:
        config["base_model_name_or_path"] = base_id
    workspace.atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")


def _export_merged_and_gguf(request: ExportRequest, adapter: Path, base: str, tmp: Path, report) -> dict:
    """Merge, save, check; then each GGUF type, checked against the saved merged model. Returns the checks."""
    import gc

    from studio.export import checks, gguf, merge, serving

    results: dict = {}
    merged = merge.merge_adapter(adapter, base, progress=lambda f, m: report(0.05 + 0.2 * f, m))
    report(0.27, "Saving the merged model (safetensors)")
    saved_dtype = merge.save_merged(merged, tmp / "merged", request.dtype)
    examples.copy_pool(adapter, tmp / "merged")  # a model trained with worked examples is asked with them
    results["merged_dtype"] = saved_dtype
    reference, prompts, tokenizer = merged.reference, merged.prompts, merged.tokenizer
    del merged
    gc.collect()

    # Reloaded from disk: the check covers the files as written, not the model still in memory.
    model, _ = merge.load_merged(tmp / "merged")
    report(0.32, "Checking the merged model against base + adapter")
    on_merged = checks.run(model, prompts)
    results["merged"] = checks.compare("merged vs base + adapter", reference, on_merged).as_dict()

    if "gguf" in request.formats:
        types = list(gguf.iter_types(request.gguf_types))
        (tmp / "gguf").mkdir()
        span = 0.6 / len(types)
        for index, file_type in enumerate(types):
            start = 0.35 + index * span
            path = tmp / "gguf" / f"{request.name}-{file_type}.gguf"
            gguf.write(model, tokenizer, path, file_type, name=request.name,
                       progress=lambda f, m, s=start: report(s + 0.3 * span * f, m))
            report(start + 0.3 * span, f"Reading {path.name} back through transformers")
            reread, reread_tokenizer = gguf.read_with_transformers(path)
            label = f"GGUF {file_type} vs merged"
            result = checks.compare(label, on_merged, checks.run(reread, prompts)).as_dict()
            if index == 0:
                # The tokenizer metadata is the same in every file: one check of it is enough.
                result["tokenizer_identical"] = checks.check_prompts(reread_tokenizer) == prompts
            del reread
            gc.collect()
            if request.llama_cpp_check:
                report(start + 0.8 * span, f"Running {path.name} in llama.cpp")
                ran = gguf.run_with_llama_cpp(path, prompts, checks.NEW_TOKENS)
                as_run = checks.Run(ran.logits, ran.greedy)
                result["llama_cpp"] = checks.compare(f"llama.cpp {file_type} vs merged", on_merged, as_run).as_dict()
            results[f"gguf {file_type}"] = result
        files = [f"{request.name}-{t}.gguf" for t in types]
        chosen = serving.preferred_gguf(files)
        report(0.95, "Writing the schema grammars (GBNF beside the GGUF files, Lark for vLLM)")
        serving.write_grammars(tmp, tmp / "gguf")
        examples.copy_pool(adapter, tmp / "gguf")
        (tmp / "gguf" / "Modelfile").write_text(
            serving.modelfile(chosen, tokenizer.chat_template, request.system_kind)
        )
    else:
        serving.write_grammars(tmp)
    del model
    gc.collect()
    if "merged" not in request.formats:
        shutil.rmtree(tmp / "merged")  # made only to convert from
    return results


# Exports one owner may keep on a studio with roles (a Space); locally no limit. Each is up to a few GB.
MAX_EXPORTS_PER_OWNER = int(os.environ.get("INFRAMIND_MAX_EXPORTS_PER_OWNER", "5"))


def export_owner(export: Export) -> str:
    """Who made `export` on a studio with roles ("" locally, or for an export made before owners were kept)."""
    try:
        return json.loads((export.folder / MARKER).read_text(encoding="utf-8")).get("owner", "") or ""
    except (OSError, ValueError):
        return ""


def _check_export_quota(name: str) -> str:
    """The exporting owner's name; ExportError when they keep MAX_EXPORTS_PER_OWNER exports already (replacing
    one of their own does not count)."""
    if not access.settings().roles:
        return ""
    owner = access.current().name or ""
    theirs = [e.name for e in list_exports() if export_owner(e) == owner and e.name != name]
    if len(theirs) >= MAX_EXPORTS_PER_OWNER:
        raise ExportError(f"{owner or 'you'} already keep {len(theirs)} exports ({', '.join(theirs)}); the limit is "
                          f"{MAX_EXPORTS_PER_OWNER} (INFRAMIND_MAX_EXPORTS_PER_OWNER): delete one, or overwrite one "
                          "of yours by its name.")
    return owner


def build_export(request: ExportRequest, progress: models.Progress | None = None) -> Export:
    """Make the export `request` asks for, all of it or nothing. Raises ExportError on bad input."""
    report = progress or (lambda fraction, message: None)
    started = time.monotonic()
    exports = workspace.exports_dir()
    target = workspace.inside(exports, request.name)
    run_folder = workspace.inside(workspace.runs_dir(), request.run)
    adapter = run_folder / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise ExportError(f"Run {request.run!r} has no final adapter ({adapter} holds no adapter_config.json) yet.")
    if target.exists() and not request.overwrite:
        raise ExportExists(f"An export named {request.name!r} exists: tick 'overwrite' to replace it.")
    owner = _check_export_quota(request.name)
    workspace.check_free_space(f"the export {request.name}")
    remove_abandoned_partials()

    tmp = exports / f".{request.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        base = _base_of(run_folder, adapter)
        facts = card.RunFacts.read(run_folder, base)
        results: dict = {}
        if "adapter" in request.formats:
            report(0.02, "Copying the adapter")
            copy_adapter(adapter, tmp / "adapter", base)
        if {"merged", "gguf"} & set(request.formats):
            results = _export_merged_and_gguf(request, adapter, base, tmp, report)

        report(0.96, "Writing the model cards")
        merged_dtype = results.pop("merged_dtype", None)
        gguf_files = sorted(p.name for p in (tmp / "gguf").glob("*.gguf")) if (tmp / "gguf").is_dir() else []
        for kind in request.formats:
            text = card.model_card(facts, kind, request.name, results, gguf_files, merged_dtype)
            (tmp / kind / "README.md").write_text(text)
        primary = request.formats[0]
        index = card.model_card(facts, primary, request.name, results, gguf_files, merged_dtype)
        index += "\n## This export\n\n" + "\n".join(f"- `{kind}/`" for kind in request.formats) + "\n"
        (tmp / "README.md").write_text(index)
        (tmp / "checks.json").write_text(json.dumps(results, indent=2) + "\n")

        marker = {
            "request": asdict(request),
            "base": base,
            "merged_dtype": merged_dtype,
            "files": _file_sizes(tmp),
            "checks": results,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "owner": owner,
            "seconds": round(time.monotonic() - started, 1),
        }
        workspace.atomic_write_text(tmp / MARKER, json.dumps(marker, indent=1) + "\n")  # last: the export is whole
        _place(tmp, target, request.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report(1.0, f"Exported to {target}")
    export = read_export(target)
    if export is None:  # only if something changed the folder in the instant since the rename
        raise ExportError(f"The export in {target} was modified while it was being written.")
    return export
