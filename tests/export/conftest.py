"""Fixtures for the export tests: one tiny base and adapter per architecture, built once per session."""

from __future__ import annotations

import pytest

from tests.export.tiny_runs import build_adapter, build_export_base, install_run


@pytest.fixture(scope="session", params=["llama", "qwen2"])
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def bases(tmp_path_factory) -> dict:
    """{arch: (base folder, adapter folder)}, built on first use."""
    return {}


@pytest.fixture
def base_and_adapter(arch, bases, tmp_path_factory):
    if arch not in bases:
        root = tmp_path_factory.mktemp(f"export-{arch}")
        base = build_export_base(root / "base", arch)
        bases[arch] = (base, build_adapter(base, root / "adapter"))
    return bases[arch]


@pytest.fixture
def llama_base_and_adapter(bases, tmp_path_factory):
    if "llama" not in bases:
        root = tmp_path_factory.mktemp("export-llama")
        base = build_export_base(root / "base", "llama")
        bases["llama"] = (base, build_adapter(base, root / "adapter"))
    return bases["llama"]


@pytest.fixture
def run(home, llama_base_and_adapter) -> str:
    """A workspace (the `home` fixture) holding the run `sft-1`: tiny llama base, adapter, job.yaml, eval."""
    base, adapter = llama_base_and_adapter
    install_run(home, "sft-1", base, adapter, evaluation=True)
    return "sft-1"
