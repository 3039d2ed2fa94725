"""Merging: the merged model computes what base + adapter computes; the adapter alone loads with PEFT."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.export import checks, merge
from studio.export.build import copy_adapter


def test_merged_model_matches_base_plus_adapter(base_and_adapter, tmp_path):
    base, adapter = base_and_adapter
    merged = merge.merge_adapter(adapter, str(base))

    # The adapter must matter, or equality below would prove nothing.
    plain, _ = merge.load_merged(base)
    on_base = checks.run(plain, merged.prompts, new_tokens=4)
    assert checks.largest_difference(on_base.logits, merged.reference.logits) > 0.05

    assert merge.save_merged(merged, tmp_path / "merged", "auto") == "float32"  # the tiny base is stored in fp32
    reloaded, tokenizer = merge.load_merged(tmp_path / "merged")
    result = checks.compare("merged", merged.reference, checks.run(reloaded, merged.prompts))
    assert result.largest_logit_difference < 1e-4
    assert result.greedy_identical
    # No PEFT left in the merged model: plain Linear layers and no lora weights in the file.
    assert not any("lora" in name for name, _ in reloaded.named_parameters())
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template


def test_merged_folder_holds_weights_tokenizer_template_and_generation_config(base_and_adapter, tmp_path):
    base, adapter = base_and_adapter
    merged = merge.merge_adapter(adapter, str(base))
    assert merge.save_merged(merged, tmp_path / "m", "bfloat16") == "bfloat16"
    names = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja"} <= names
    assert json.loads((tmp_path / "m" / "config.json").read_text())["dtype"] == "bfloat16"
    from safetensors import safe_open

    with safe_open(tmp_path / "m" / "model.safetensors", "pt") as handle:
        assert {handle.get_tensor(key).dtype for key in handle.keys()} == {torch.bfloat16}


def test_merge_dtype_is_validated():
    assert merge.resolve_dtype("auto", "bfloat16") == "bfloat16"
    assert merge.resolve_dtype("float16", "float32") == "float16"
    with pytest.raises(ValueError, match="dtype must be one of"):
        merge.resolve_dtype("int4", "float32")


def test_exported_adapter_loads_with_peft_on_the_base_and_computes_the_same(llama_base_and_adapter, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base, adapter = llama_base_and_adapter
    copy_adapter(adapter, tmp_path / "adapter", str(base))
    exported = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= exported
    size = sum(p.stat().st_size for p in (tmp_path / "adapter").iterdir())
    assert size < 0.5 * (base / "model.safetensors").stat().st_size, "the adapter alone must be small"

    outputs = []
    for folder in (adapter, tmp_path / "adapter"):
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), folder)
        with torch.no_grad():
            outputs.append(model(torch.tensor([[5, 17, 42, 99]])).logits.numpy())
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_exported_adapter_names_the_hub_base_of_the_embedded_model(llama_base_and_adapter, tmp_path):
    from studio import models

    _, adapter = llama_base_and_adapter
    copy_adapter(adapter, tmp_path / "adapter", models.EMBEDDED)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    # A path into this machine's model cache would mean nothing on another machine.
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
