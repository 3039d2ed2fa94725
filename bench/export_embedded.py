"""Export sizes and round-trip differences for the embedded model, the figures issue 7 closes on.

    python bench/export_embedded.py                  # a LoRA of the default shape with random non-zero B
    python bench/export_embedded.py --run sft-1      # a real run of the workspace instead
    INFRAMIND_HOME=/tmp/ws python bench/export_embedded.py --types F16 Q8_0

Without --run it makes the run `bench-export-default-lora` in the workspace: the embedded SmolLM2-135M-Instruct
with the studio's default adapter (r=32, alpha=64 on the seven projections, `models.LoraShape`), its B matrices
drawn from N(0, 0.01) so the merge has something to merge. Then it exports every format and GGUF type and
prints each file's size and the largest logit difference of each round trip (merged vs base + adapter; each
GGUF type vs merged, read back through transformers and through llama.cpp).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/export_embedded.py` from anywhere
from studio import models, workspace
from studio.export import gguf
from studio.export.build import ExportRequest, build_export

BENCH_RUN = "bench-export-default-lora"


def make_default_lora_run(std: float) -> str:
    import torch
    from peft import get_peft_model

    run = workspace.runs_dir() / BENCH_RUN
    if (run / "adapter" / "adapter_config.json").is_file():
        return BENCH_RUN
    model, tokenizer = models.load(models.EMBEDDED, dtype=torch.float32, device_map=None)
    peft_model = get_peft_model(model, models.LoraShape().peft_config())
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:  # PEFT starts B at zero, which would make the merge a no-op
                weight.copy_(torch.randn(weight.shape, generator=generator) * std)
    peft_model.save_pretrained(run / "adapter")
    tokenizer.save_pretrained(run / "adapter")
    shape = models.LoraShape()
    (run / "job.yaml").write_text(
        f"# made by bench/export_embedded.py: random B, no training\nkind: sft\nmodel: {models.EMBEDDED}\n"
        f"lora_r: {shape.r}\nlora_alpha: {shape.alpha}\nlora_targets: [{', '.join(shape.targets)}]\n"
    )
    return BENCH_RUN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="export this run of the workspace instead of the random default LoRA")
    parser.add_argument("--types", nargs="+", default=list(gguf.TYPES), choices=gguf.TYPES)
    parser.add_argument("--dtype", default="auto", help="merged weights: auto, bfloat16, float16, float32")
    parser.add_argument("--std", type=float, default=0.01, help="std of the random lora_B weights")
    parser.add_argument("--name", default="bench-export-embedded")
    args = parser.parse_args()

    run = args.run or make_default_lora_run(args.std)
    started = time.monotonic()
    export = build_export(
        ExportRequest(run=run, name=args.name, gguf_types=tuple(args.types), dtype=args.dtype, overwrite=True),
        progress=lambda fraction, message: print(f"[{fraction:4.0%}] {message}", flush=True),
    )
    seconds = time.monotonic() - started
    print(f"\nrun {run} -> {export.folder} in {seconds:.0f} s")
    print("\n| export | size |\n| --- | --- |")
    for kind in ("merged", "adapter"):
        size = sum(f.size for f in export.files if f.path.startswith(f"{kind}/"))
        weights = sum(f.size for f in export.files if f.path.startswith(f"{kind}/") and f.path.endswith(".safetensors"))
        print(f"| {kind}/ ({export.merged_dtype if kind == 'merged' else 'as trained'}) "
              f"| {size / 2**20:,.1f} MiB (weights {weights / 2**20:,.1f} MiB) |")
    for f in export.files:
        if f.path.endswith(".gguf"):
            print(f"| {f.path} | {f.size / 2**20:,.1f} MiB |")
    print("\n| round trip | largest logit difference | greedy tokens identical |\n| --- | --- | --- |")
    for label, result in export.checks.items():
        if not isinstance(result, dict):
            continue
        for entry in (result, result.get("llama_cpp")):
            if entry:
                print(f"| {entry['label']} | {entry['largest_logit_difference']:.4g} | "
                      f"{entry['greedy_tokens_agreeing']}/{entry['greedy_tokens']} |")
    if "gguf F16" in export.checks:
        print(f"\nGGUF tokenizer read back by transformers encodes the check prompts identically: "
              f"{export.checks['gguf F16'].get('tokenizer_identical')}")


if __name__ == "__main__":
    main()
