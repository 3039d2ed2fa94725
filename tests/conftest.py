"""Shared fixtures: tiny random models built from a config (no download), and isolated workspaces.

    def test_something(tiny_model):          # a folder with a 2-layer random model and a chat tokenizer
        model, tokenizer = models.load(str(tiny_model))
    def test_page(browser):                  # Debian's Chromium, headless, one per test module
        page = browser.new_page()
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import BROWSER_ARGS, build_tiny_adapter, build_tiny_model

# Tests never reach the hub; a test that tries must fail fast, not hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# What decides whether a process trains and estimates for a GPU (jobs.runner.gpu_ids): a test that changes it must put
# it back, else later tests of its worker take the CPU machine for a GPU one.
DEVICE_ENV = ("CUDA_VISIBLE_DEVICES", "INFRAMIND_GPUS")


@pytest.fixture(autouse=True)
def _device_environment_put_back():
    before = {name: os.environ.get(name) for name in DEVICE_ENV}
    yield
    after = {name: os.environ.get(name) for name in DEVICE_ENV}
    assert after == before, f"the test left the device environment changed: {before} -> {after}"


@pytest.fixture(scope="session", params=["llama", "qwen2"])
def tiny_model(request, tmp_path_factory) -> Path:
    """A tiny random model folder, once as Llama (SmolLM2's architecture) and once as Qwen2 (Qwen2.5's)."""
    return build_tiny_model(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_llama, tmp_path_factory) -> Path:
    """A LoRA adapter on `tiny_llama` whose weights are not zero: it changes the answers."""
    return build_tiny_adapter(tmp_path_factory.mktemp("tiny-adapter") / "adapter", tiny_llama)


@pytest.fixture(scope="session")
def tiny_merged(tiny_llama, tiny_adapter, tmp_path_factory) -> Path:
    """`tiny_adapter` merged into its base: a merged export's plain model folder."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-merged")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), tiny_adapter)
    model.merge_and_unload().save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(folder)
    return folder


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty workspace of the test's own."""
    monkeypatch.setenv("INFRAMIND_HOME", str(tmp_path / "workspace"))
    return tmp_path / "workspace"


@pytest.fixture(scope="session")
def embedded_home(tmp_path_factory) -> Path:
    """A workspace holding the embedded model, materialized once for the whole session (about 18 s)."""
    from studio import models

    folder = tmp_path_factory.mktemp("embedded-workspace")
    previous = os.environ.get("INFRAMIND_HOME")
    os.environ["INFRAMIND_HOME"] = str(folder)
    try:
        models.materialize_embedded()
    finally:
        if previous is None:
            os.environ.pop("INFRAMIND_HOME")
        else:
            os.environ["INFRAMIND_HOME"] = previous
    return folder


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        yield chromium
        chromium.close()
