"""The grammars, built once per schema version and cached in the workspace.

    >>> from studio.guided.grammars import grammar
    >>> g = grammar("terraform")                 # built on first use (~10 s), then read from the cache
    >>> g.version, g.build_seconds, len(g.gbnf) // 1024, g.path("gbnf")
    ('aws-3f2a...-g1', 11.9, 1408, PosixPath('workspace/cache/grammars/terraform-aws-3f2a...-g1.gbnf'))

Each grammar is kept in two formats: GBNF (llama.cpp's, which xgrammar and vLLM's xgrammar backend read) and
Lark (llguidance's, which vLLM's `guidance` backend reads), converted by llguidance's `gbnf_to_lark`. The
version names what it was built from (the AWS schema file's hash, or kubernetes-validate's version and the
pinned Kubernetes version) and `GENERATOR`, bumped whenever the generators change what they write; a cached
file of another version is never read.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio import workspace

KINDS = ("terraform", "kubernetes")
# Bump when the generated grammar changes for the same schemas.
GENERATOR = "g20"


@dataclass(frozen=True)
class Grammar:
    kind: str
    version: str
    gbnf: str
    lark: str
    build_seconds: float
    folder: str

    def path(self, fmt: str) -> Path:
        return Path(self.folder) / f"{self.kind}-{self.version}.{fmt}"

    @property
    def sizes(self) -> dict[str, int]:
        return {"gbnf_bytes": len(self.gbnf.encode()), "lark_bytes": len(self.lark.encode()),
                "rules": self.gbnf.count("\n")}


def cache_dir() -> Path:
    return workspace.home() / "cache" / "grammars"


def schema_version(kind: str) -> str:
    """What the grammar of `kind` is generated from, as a short name."""
    if kind == "terraform":
        from studio.iac.aws_schema import SCHEMA_PATH
        from studio.synth.terraform import supported_types

        # The schema, and the types whose required arguments the grammar enforces (terraform_grammar).
        source = SCHEMA_PATH.read_bytes() + " ".join(sorted(supported_types())).encode()
        digest = hashlib.sha256(source).hexdigest()[:10]
        return f"aws-{digest}-{GENERATOR}"
    if kind == "kubernetes":
        from studio.iac.kubernetes import DEFAULT_KUBERNETES_VERSION

        validator = importlib.metadata.version("kubernetes-validate")
        return f"k8s{DEFAULT_KUBERNETES_VERSION}-kv{validator}-{GENERATOR}"
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def build_gbnf(kind: str) -> str:
    if kind == "terraform":
        from studio.guided.terraform_grammar import terraform_gbnf

        return terraform_gbnf()
    from studio.guided.kubernetes_grammar import kubernetes_gbnf

    return kubernetes_gbnf()


_LOADED: dict[str, Grammar] = {}
_FILES: dict[str, Grammar] = {}


def use_files(folder: Path) -> None:
    """Use the grammar files an export wrote (`<kind>.gbnf`, `<kind>.lark`) in this process, whatever the
    schemas installed here: a machine that serves or benchmarks needs neither the schemas nor the builder."""
    for kind in KINDS:
        gbnf, lark = Path(folder) / f"{kind}.gbnf", Path(folder) / f"{kind}.lark"
        if gbnf.is_file() and lark.is_file():
            _FILES[kind] = Grammar(kind, "files", gbnf.read_text(encoding="utf-8"), lark.read_text(encoding="utf-8"),
                                   0.0, str(folder))


def grammar(kind: str, folder: Path | None = None) -> Grammar:
    """The grammar of `kind`, from this process's memory, the cache folder, or built (and cached) now."""
    if kind in _FILES:
        return _FILES[kind]
    version = schema_version(kind)
    folder = Path(folder) if folder else cache_dir()
    key = f"{kind}-{version}"  # the same version is the same grammar, whichever folder holds it
    if key in _LOADED:
        return _LOADED[key]
    meta_path = folder / f"{kind}-{version}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        found = Grammar(kind, version, (folder / f"{kind}-{version}.gbnf").read_text(encoding="utf-8"),
                        (folder / f"{kind}-{version}.lark").read_text(encoding="utf-8"), meta["build_seconds"],
                        str(folder))
    except (OSError, ValueError, KeyError):
        found = _build(kind, version, folder)
    _LOADED[key] = found
    return found


def _build(kind: str, version: str, folder: Path) -> Grammar:
    from llguidance.gbnf_to_lark import gbnf_to_lark

    started = time.perf_counter()
    gbnf = build_gbnf(kind)
    lark = gbnf_to_lark(gbnf)
    if kind == "kubernetes":  # what GBNF cannot say (`kubernetes_grammar.NOT_PLAIN_STRING`)
        from studio.guided.kubernetes_grammar import refine_lark

        lark = refine_lark(lark)
    built = Grammar(kind, version, gbnf, lark, round(time.perf_counter() - started, 1), str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    workspace.atomic_write_text(built.path("gbnf"), gbnf)
    workspace.atomic_write_text(built.path("lark"), lark)
    meta = {k: v for k, v in asdict(built).items() if k not in ("gbnf", "lark")} | built.sizes
    workspace.atomic_write_text(folder / f"{kind}-{version}.json", json.dumps(meta, indent=1))
    return built
