"""Merging a run's LoRA adapter into its base: one plain model that needs no PEFT to run.

    >>> from studio.export import merge
    >>> merged = merge.merge_adapter(Path("workspace/runs/sft-1/adapter"), models.EMBEDDED)
    >>> merged.comparison.largest_logit_difference     # merged vs base + adapter, same prompts, fp32
    3.0517578125e-05
    >>> merge.save_merged(merged, Path("exports/iac/merged"), dtype="auto")

The base is reloaded in fp32 on the CPU for the merge, never in 4-bit: a QLoRA job trains against NF4 weights,
and `merge_and_unload` on those would round the merged weights to 4 bits again. fp32 holds every 16-bit base
exactly, so W + BA is computed once at full precision and rounded once, to the precision the export stores.
The CPU, because a training job may hold the GPU; merging is one addition per weight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio import models
from studio.export import checks

# "auto" keeps the base's own precision: bf16 for Qwen2.5, fp32 for the embedded model (its weights were
# dequantized from Q4_1 to fp32, and bf16 would round them a second time).
DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass
class Merged:
    model: object  # the merged transformers model, fp32, on the CPU
    tokenizer: object
    base: str  # the studio's name for the base: models.EMBEDDED, a hub id or a folder
    base_folder: Path
    base_dtype: str  # the precision the base is stored in, from its config.json
    reference: checks.Run  # base + adapter, unmerged, on the check prompts
    prompts: list[list[int]]


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def stored_dtype(folder: Path) -> str:
    """The precision a Hugging Face folder's weights are stored in, from its config (fp32 when unstated)."""
    config = json.loads((Path(folder) / "config.json").read_text())
    name = str(config.get("dtype") or config.get("torch_dtype") or "float32").replace("torch.", "")
    return name if name in DTYPES[1:] else "float32"


def resolve_dtype(dtype: str, base_dtype: str) -> str:
    """The precision the merged weights are stored in.

    >>> resolve_dtype("auto", "bfloat16")
    'bfloat16'
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    return base_dtype if dtype == "auto" else dtype


def load_run_tokenizer(adapter: Path, base_folder: Path):
    """The tokenizer the run trained with: the adapter's copy when the job saved one, else the base's."""
    from transformers import AutoTokenizer

    source = adapter if (adapter / "tokenizer_config.json").is_file() else base_folder
    tokenizer = AutoTokenizer.from_pretrained(source)
    if not tokenizer.chat_template and source != base_folder:
        tokenizer.chat_template = AutoTokenizer.from_pretrained(base_folder).chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def merge_adapter(adapter: Path, base: str, progress: models.Progress | None = None) -> Merged:
    """Base + adapter, merged in fp32 on the CPU, with base + adapter's own output kept as the reference."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    report = progress or (lambda fraction, message: None)
    adapter = Path(adapter)
    base_folder = models.resolve(base, progress)
    report(0.1, f"Loading the base {base} in fp32")
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32, device_map=None)
    model.eval()
    tokenizer = load_run_tokenizer(adapter, base_folder)
    report(0.4, "Applying the adapter")
    peft_model = PeftModel.from_pretrained(model, adapter, is_trainable=False)
    peft_model.eval()
    prompts = checks.check_prompts(tokenizer)
    report(0.5, "Running base + adapter on the check prompts")
    reference = checks.run(peft_model, prompts)
    report(0.8, "Merging (merge_and_unload)")
    merged = peft_model.merge_and_unload(safe_merge=True)  # safe_merge refuses NaNs instead of writing them
    merged.eval()
    return Merged(merged, tokenizer, base, base_folder, stored_dtype(base_folder), reference, prompts)


def save_merged(merged: Merged, folder: Path, dtype: str = "auto") -> str:
    """Write the merged model as safetensors with its tokenizer, chat template and generation config.

    Returns the dtype written. The model is converted in place: what follows (the checks, the GGUF files)
    reloads the folder, so it sees exactly what was saved and proves the files load.
    """
    chosen = resolve_dtype(dtype, merged.base_dtype)
    merged.model.to(torch_dtype(chosen))
    merged.model.save_pretrained(folder)  # safetensors, config.json and generation_config.json
    merged.tokenizer.save_pretrained(folder)  # tokenizer files and chat_template.jinja
    return chosen


def load_merged(folder: Path):
    """`(model, tokenizer)` of a merged folder, in fp32 on the CPU: what the checks compare."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, device_map=None)
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder)
