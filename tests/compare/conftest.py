"""A tiny model with a tiny adapter whose weights are not zero, and the same adapter merged into a model folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import build_tiny_adapter


@pytest.fixture(scope="session")
def tiny_adapter(tiny_llama, tmp_path_factory) -> Path:
    return build_tiny_adapter(tmp_path_factory.mktemp("tiny-adapter") / "adapter", tiny_llama)


@pytest.fixture(scope="session")
def tiny_merged(tiny_llama, tiny_adapter, tmp_path_factory) -> Path:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-merged")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), tiny_adapter)
    model.merge_and_unload().save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(folder)
    return folder
