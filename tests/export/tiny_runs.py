"""Run folders for export tests: a tiny base, a LoRA adapter whose B is not zero, job.yaml and summaries.

    base = build_export_base(tmp_path / "base", "qwen2")        # tiny model, non-zero qkv biases
    adapter = build_adapter(base, tmp_path / "adapter")          # r=8 on all seven projections, random B
    run = install_run(home, "sft-1", base, adapter, evaluation=True)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.factories import build_tiny_model

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

EVALUATION = {
    "split": "eval",
    "rows": 40,
    "models": [
        {
            "label": "base",
            "model": "tiny",
            "adapter": None,
            "rates": {"extracted": 0.9, "parses": 0.55, "schema": 0.3, "intent": 0.2, "best_practice": 0.1, "pass": 0.05},
            "by_kind": {
                "terraform": {"extracted": 0.85, "parses": 0.5, "schema": 0.25, "intent": 0.2, "best_practice": 0.1,
                              "pass": 0.05},
                "kubernetes": {"extracted": 0.95, "parses": 0.6, "schema": 0.35, "intent": 0.2, "best_practice": 0.1,
                               "pass": 0.05},
            },
        },
        {
            "label": "fine-tuned",
            "model": "tiny",
            "adapter": "runs/sft-1/adapter",
            "rates": {"extracted": 1.0, "parses": 0.95, "schema": 0.875, "intent": 0.7, "best_practice": 0.6,
                      "pass": 0.525},
            "by_kind": {},
        },
    ],
}


def build_export_base(folder: Path, arch: str) -> Path:
    """A tiny random model whose biases (qwen2 has q/k/v biases) are non-zero, so a converter that drops or
    scrambles them shows it; transformers initializes them to zero."""
    import torch
    from transformers import AutoModelForCausalLM

    build_tiny_model(folder, arch)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".bias"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model.save_pretrained(folder)
    return folder


def build_adapter(base: Path, folder: Path, r: int = 8, std: float = 0.2) -> Path:
    """A PEFT LoRA adapter on every projection of `base`, with lora_B drawn from N(0, std) (PEFT starts it at
    zero, which would make every merge trivially exact), saved with the base's tokenizer like a job does."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft_model = get_peft_model(
        model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM")
    )
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    peft_model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


def install_run(home: Path, run: str, base: Path, adapter: Path, evaluation: bool = False) -> Path:
    """`home/runs/<run>` as the job system leaves it: job.yaml, summary.json, adapter/, optionally eval/."""
    folder = home / "runs" / run
    folder.mkdir(parents=True)
    shutil.copytree(adapter, folder / "adapter")
    (folder / "job.yaml").write_text(
        f"kind: sft\nmodel: {base}\ndataset: data/train.jsonl\nepochs: 2\nlearning_rate: 0.0002\n"
        "lora:\n  r: 8\n  alpha: 16\n"
    )
    (folder / "summary.json").write_text(json.dumps({"steps": 40, "final_loss": 0.71, "seconds": 104.2}))
    if evaluation:
        (folder / "eval").mkdir()
        (folder / "eval" / "summary.json").write_text(json.dumps(EVALUATION))
    return folder
