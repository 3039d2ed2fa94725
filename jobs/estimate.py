"""The memory a job will need, estimated from the model's config.json before anything is loaded.

    >>> from jobs.estimate import estimate_job
    >>> report = estimate_job(SFTJob(model="Qwen2.5-0.5B folder", batch_size=16, max_length=512), device="cuda")
    >>> report.parts
    {'weights': ..., 'LoRA weights and gradients': ..., 'optimizer state': ..., 'activations': ..., 'logits': ...}
    >>> print(report.markdown())

The estimate follows the plan the job will run with (`plan`): on the CPU, and under `speed: as_written`, the
spec's batch and checkpointing; on a GPU under `speed: auto`, padding-free packed rows (batch_size sequences of
max_length tokens), without gradient checkpointing where at least AUTO_MIN_TOKENS_WITHOUT_CHECKPOINTING tokens
fit `memory_budget_gib` without it, else with it at AUTO_TOKENS. The GPU constants are the first guesses of
issue 21: bench/train_speed.py prints the estimate beside each measured peak to set them by.

The parts, per process (one GPU, or the CPU):

- weights: NF4 linear layers at 4 bits plus their scales (double quantization: 8-bit scales per 64 weights and
  an fp32 scale per 256 of those), the rest (embeddings, norms) in fp32 as `prepare_model_for_kbit_training`
  leaves them; without 4-bit, every parameter in the compute dtype.
- LoRA weights and gradients: r x (in + out) per wrapped projection and layer, twice (weights and gradients),
  in fp32 (bf16 on a 4-bit base, where TRL casts the adapter).
- optimizer state: AdamW's two moments per trained parameter.
- activations: what the backward pass needs per token and layer, about 13 x hidden + 5 x intermediate + 2 x the
  key/value width elements (the inputs of every projection, attention's q, k, v and output, the MLP's
  intermediate products, LoRA's dropped-out inputs); with gradient checkpointing only each layer's input is kept,
  plus one layer's worth during its recomputation, and the whole of the layers the plan keeps
  (`TrainingPlan.kept_layers`). Counted at full max_length, so an upper bound for short rows.
- logits: with Liger's kernels (a GPU plan where `liger_kernel` is installed) its fused linear cross-entropy, in
  chunks of next_pow2(tokens / ceil(vocab / hidden)) tokens (Liger 0.8.5's rule). Otherwise TRL 1.16 computes the log-probabilities with a fused LM head in tiles of at most 4,096 tokens x
  32,768 vocabulary entries, so the full batch x sequence x vocabulary tensor (which dominates plain PEFT at a
  150k vocabulary) never exists. On CUDA its Triton kernel keeps about a tile in the compute dtype for the
  forward and one for the backward (from the kernel's buffers; not measured here). Without Triton (the CPU) the
  torch fallback works on whole tiles and holds about 16 tile-sized fp32 temporaries at its peak: measured with
  `python bench/memory_estimate.py`, this is most of a CPU job's memory. GRPO adds the generation's KV cache;
  DPO doubles the batch (each pair's chosen and rejected answers).
- runtime: on the CPU, Python, torch and the libraries (about 0.6 GiB resident, measured with a tiny model);
  on CUDA, the context (a few hundred MiB) is outside PyTorch's allocator and not counted.

This module imports no torch: the Train tab calls it on every change of the form.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from jobs.specs import DPOJob, GRPOJob, JobSpec, SFTJob
from studio import models

GIB = 2**30
STUDIO_VARLEN = "studio_varlen"  # jobs.attention.NAME (not imported here: that module needs torch)
FUSED_TOKENS, FUSED_VOCAB = 4096, 32768  # trl.kernels.chunked_logprob's tile
# Tile-sized fp32 temporaries of the fused LM head at its peak: 2 with Triton (forward and backward buffers),
# about 16 in the torch fallback on the CPU (fitted to peak RSS at 256 to 2,048 tokens, bench/memory_estimate.py).
TILE_COPIES = {"cuda": 2, "cpu": 16}
CPU_RUNTIME_BYTES = int(0.6 * GIB)
# Bits per weight of NF4's scales: 32-bit absmax per 64 weights, or 8-bit per 64 plus 32-bit per 256 blocks.
SCALE_BITS = {False: 32 / 64, True: 8 / 64 + 32 / (64 * 256)}


@dataclass(frozen=True)
class ModelShape:
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool
    bias: int = 0  # bias parameters per layer (Qwen2's q, k, v projections carry biases)

    @classmethod
    def from_config(cls, config: dict) -> "ModelShape":
        config = config.get("text_config", config)
        hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        head_dim = int(config.get("head_dim") or hidden // heads)
        kv_width = int(config.get("num_key_value_heads") or heads) * head_dim
        bias = 0
        if config.get("model_type") == "qwen2":
            bias = heads * head_dim + 2 * kv_width
        elif config.get("attention_bias"):
            bias = heads * head_dim + 2 * kv_width + hidden
        return cls(
            vocab=int(config["vocab_size"]),
            hidden=hidden,
            intermediate=int(config.get("intermediate_size", 4 * hidden)),
            layers=int(config["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=head_dim,
            tied=bool(config.get("tie_word_embeddings", False)),
            bias=bias,
        )

    @classmethod
    def of(cls, model_name: str, progress: models.Progress | None = None) -> "ModelShape":
        """The shape of a studio model (the embedded one is materialized on first use, `progress` told of it)."""
        folder = models.resolve(model_name, progress)
        return cls.from_config(json.loads((Path(folder) / "config.json").read_text()))

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def projections(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each projection of one layer."""
        h, i, kv, q = self.hidden, self.intermediate, self.kv_width, self.heads * self.head_dim
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def linear_parameters(self) -> int:
        return self.layers * sum(a * b for a, b in self.projections().values())

    @property
    def other_parameters(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        # two norms per layer, the biases, and the final norm
        return embeddings + self.layers * (2 * self.hidden + self.bias) + self.hidden

    @property
    def parameters(self) -> int:
        return self.linear_parameters + self.other_parameters

    def lora_parameters(self, r: int, targets) -> int:
        shapes = self.projections()
        return self.layers * sum(r * (shapes[t][0] + shapes[t][1]) for t in targets if t in shapes)


@dataclass
class MemoryEstimate:
    device: str
    dtype: str
    four_bit: bool
    tokens: int
    parts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def markdown(self) -> str:
        where = "per GPU" if self.device == "cuda" else "on the CPU"
        rows = [f"| part ({where}, {self.dtype}{', NF4 base' if self.four_bit else ''}) | memory |", "| --- | ---: |"]
        rows += [f"| {name} | {_gib(size)} |" for name, size in self.parts.items()]
        rows.append(f"| **total** | **{_gib(self.total)}** |")
        return "\n".join(rows + ([""] + [f"- {note}" for note in self.notes] if self.notes else []))


def _count(number: int) -> str:
    return f"{number / 1e9:,.2f}B" if number >= 1e9 else f"{number / 1e6:,.1f}M" if number >= 1e6 else f"{number:,}"


def _gib(size: int) -> str:
    return f"{size / GIB:,.2f} GiB" if size >= GIB / 10 else f"{size / 2**20:,.1f} MiB"


# -- the speed plan ------------------------------------------------------------------------------------

# Tokens per micro-batch that `speed: auto` aims for on a GPU with padding-free packing. Measured on one H200
# (2026-12-04, `python bench/train_speed.py --rows lora --variants`, Qwen2.5-0.5B shape, LoRA r=32, checkpointing
# on, as the 12 GiB budget needs): 16 x 1024 tokens 39,902 real tokens/s at 3.6 GiB, 32 x 1024 57,268 at 6.0 GiB.
# QLoRA (H200, 2026-12-04, `--variants`, NF4 with fp32 norms): a micro-batch costs about 0.35 s whatever its size up to
# 16 x 1024 tokens (bitsandbytes dequantizes every weight in each forward, recomputation and backward): 4 x 1024 x
# accumulation 4 11,055 tokens/s (1.47x the QLoRA baseline, 1.08 GiB), 8 x 1024 21,329 (2.84x), 16 x 1024 38,735
# (5.16x, 4.2 GiB). Under `speed: auto` (bf16 norms, `--auto-tokens`): 8,192 tokens 3.13x at 45% of the baseline's
# memory, 12,288 3.70x at 59%, 16,384 5.13x at 72%. 12,288 is the largest within issue 21's 60% of the baseline's
# memory (QLoRA is chosen to save it).
AUTO_TOKENS = {False: 32768, True: 12288}  # by four_bit
# Without gradient checkpointing a micro-batch of at least this many tokens must fit the budget; else the plan
# checkpoints and keeps AUTO_TOKENS.
AUTO_MIN_TOKENS_WITHOUT_CHECKPOINTING = 8192
# `speed: auto` on the CPU (SFT): bf16 autocast where the CPU multiplies bf16 matrices at least this many times
# faster than fp32 (`models.cpu_bf16_speedup`), and rows batched with rows of like length. The cpu recipe's SFT on
# this 2-core Xeon with AMX (tenth session, `python bench/cpu_train_speed.py`, 8 steps each, the same run): 208 real
# tokens/s as written in fp32, 389 under this plan (1.87x), 512 with LoRA dropout 0 too (2.46x). Autocast alone, on
# the same batches as fp32, took 10.3 s a step against 14.4 and gave the same 8 losses within 0.005.
CPU_BF16_MIN_SPEEDUP = 2.0
CPU_BF16_ENV = "INFRAMIND_CPU_BF16"  # "1" or "0": autocast on or off whatever the measurement says


# The most of a card's memory `speed: auto` plans for, whatever `memory_budget_gib` says: the estimate ran 10% under the
# measured peak at 24 GiB (the gpu recipe's SFT, 11 x 2,048 tokens at r=512: 22.7 GiB estimated, 24.9 measured on an
# H100, thirty-third session), so a recipe written for an 80 GB card still plans within a 16 or 24 GB one.
CARD_SHARE = 0.75


@functools.lru_cache(maxsize=1)
def card_memory() -> int | None:
    """Bytes of the smallest GPU's memory here (`device_memory`, read once a process), or None."""
    found = device_memory("cuda")
    return found[0] if found else None


def memory_budget_gib(spec: JobSpec) -> float:
    """The GiB the auto plan may use: the spec's `memory_budget_gib`, at most CARD_SHARE of the card's memory where
    nvidia-smi reads it."""
    card = card_memory()
    return spec.memory_budget_gib if card is None else min(spec.memory_budget_gib, CARD_SHARE * card / GIB)


def auto_tokens(four_bit: bool) -> int:
    """AUTO_TOKENS, or `INFRAMIND_AUTO_TOKENS` where set (`bench/train_speed.py --auto-tokens` measures the choice)."""
    import os

    return int(os.environ.get("INFRAMIND_AUTO_TOKENS") or AUTO_TOKENS[four_bit])


def kept_layers_cap(layers: int) -> int:
    """The most decoder layers a checkpointed LoRA plan may leave unrecomputed (`TrainingPlan.kept_layers`): none
    unless `INFRAMIND_KEPT_LAYERS` says how many. Keeping a layer skips its recomputation for a layer's activations:
    on one H200 (2026-12-05, Qwen2.5-0.5B shape, 32 x 1024 tokens, LoRA dropout 0) 3 kept layers trained 11% faster
    at 6.96 GiB against 4.41, where this estimate counts 2.2 GiB a kept layer and said 11.37 GiB
    (`bench/train_speed.py --kept-layers 4`, bench/sweeps/results/train-speed-h200.md). Off by default until the
    estimate is mended: the plan without it meets its speed target."""
    import os

    return min(layers - 1, int(os.environ.get("INFRAMIND_KEPT_LAYERS") or 0))


def adapter_input_cast() -> bool:
    """Whether `speed: auto` keeps PEFT's cast of each adapter's input to its fp32 weights: no, unless
    `INFRAMIND_ADAPTER_CAST=1` (`bench/train_speed.py --adapter-cast-too` measures both). Under bf16 autocast, which
    the Trainer runs a bf16 job in, the adapters' products run in bf16 either way: the cast only writes a fp32 copy
    of each projection's input (its dropout too), four bytes an element, seven projections a layer, in the forward,
    the recomputation and the backward. Without it (H200, 2026-12-04, Qwen2.5-0.5B shape, 32 x 1024 packed tokens):
    63,160 tokens/s at 4.80 GiB against 57,249 at 5.97 GiB (bench/sweeps/results/train-speed-h200.md)."""
    import os

    return os.environ.get("INFRAMIND_ADAPTER_CAST") == "1"


@dataclass(frozen=True)
class TrainingPlan:
    """How a job trains on this device: what `speed: auto` chose on a GPU, or the spec as written."""

    batch_size: int
    gradient_accumulation: int
    gradient_checkpointing: bool
    packing: bool
    attention: str              # attn_implementation: "sdpa", "flex_attention" or "flash_attention_2"
    liger: bool                 # Liger's RMSNorm, SwiGLU and RoPE kernels
    optimizer: str              # TrainingArguments.optim (fused AdamW: transformers' default too, said aloud)
    kbit_upcast: bool           # 4-bit base: prepare_model_for_kbit_training's fp32 norms and embeddings
    reason: str
    # LoRA on a bf16 base: PEFT casts each adapter's input up to the adapter's fp32 weights, and then autocast
    # casts it back down for the product (see `adapter_input_cast`). Off under `speed: auto`.
    adapter_input_cast: bool = True
    # With checkpointing on: the last `kept_layers` decoder layers keep their activations for the backward instead
    # of recomputing them, as many as the memory budget leaves room for (`keep_layers` in jobs.training).
    kept_layers: int = 0
    cpu_bf16: bool = False       # on the CPU: the forward and backward under bf16 autocast (fp32 weights kept)
    group_by_length: bool = False  # batches of rows of like length (transformers' LengthGroupedSampler): less padding

    def describe(self) -> str:
        if self.cpu_bf16 or self.group_by_length:  # the CPU's auto plan
            return (f"micro-batch {self.batch_size} rows{' of like length' if self.group_by_length else ''} x "
                    f"accumulation {self.gradient_accumulation}, {'bf16 autocast' if self.cpu_bf16 else 'fp32'} "
                    f"({self.reason})")
        tokens = "sequences packed to max_length" if self.packing else "rows"
        checkpointing = "on" if self.gradient_checkpointing else "off"
        if self.gradient_checkpointing and self.kept_layers:
            checkpointing += f" but for the last {self.kept_layers} layers"
        return (f"micro-batch {self.batch_size} {tokens} x accumulation {self.gradient_accumulation}, gradient "
                f"checkpointing {checkpointing}, attention {self.attention}, Liger "
                f"{'on' if self.liger else 'off'}, optimizer {self.optimizer}"
                f"{'' if self.adapter_input_cast else ', adapters read their bf16 inputs'} ({self.reason})")


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def packed_attention() -> str:
    """The attention for padding-free packed rows on a GPU. The rows are one flattened sequence: SDPA's mask over
    it grows with the square of the batch; varlen flash kernels read the rows' boundaries instead: flash-attn's
    where installed, else PyTorch's own (jobs.attention; the job falls back to flex attention on a torch without
    it)."""
    return "flash_attention_2" if installed("flash_attn") else STUDIO_VARLEN


def four_bit_on(spec: JobSpec, device: str) -> bool:
    return spec.quantization == "nf4" or (spec.quantization == "auto" and device == "cuda")


def plan(spec: JobSpec, shape: ModelShape, device: str = "cuda") -> TrainingPlan:
    """What the job will run with on `device`. On the CPU, and with `speed: as_written`, the spec's batch,
    checkpointing and packing; on a GPU under `speed: auto` (SFT), padding-free packing through an attention
    that keeps the rows apart, Liger where installed, and the largest micro-batch up to AUTO_TOKENS that fits
    `memory_budget_gib`, without gradient checkpointing when at least AUTO_MIN_TOKENS_WITHOUT_CHECKPOINTING
    tokens fit without it."""
    on_gpu = device == "cuda"
    packing = bool(getattr(spec, "packing", False))
    attention = "sdpa"
    if on_gpu and packing:
        attention = packed_attention()
    as_written = TrainingPlan(
        batch_size=spec.batch_size, gradient_accumulation=spec.gradient_accumulation,
        gradient_checkpointing=spec.gradient_checkpointing, packing=packing, attention=attention,
        liger=on_gpu and installed("liger_kernel"), optimizer="adamw_torch_fused",
        kbit_upcast=True, reason="as written" if on_gpu else "the CPU runs the spec as written")
    if not on_gpu and spec.speed == "auto" and isinstance(spec, SFTJob):
        forced = os.environ.get(CPU_BF16_ENV, "").strip()
        if forced in ("0", "1"):
            bf16, reason = forced == "1", f"speed auto on the CPU, {CPU_BF16_ENV}={forced}"
        else:
            speedup = models.cpu_bf16_speedup()
            bf16 = speedup >= CPU_BF16_MIN_SPEEDUP
            reason = (f"speed auto on the CPU: bf16 matrices {speedup:.1f}x fp32's here"
                      + ("" if bf16 else f", under the {CPU_BF16_MIN_SPEEDUP:g}x that autocast needs to pay"))
        return dataclasses.replace(as_written, cpu_bf16=bf16, group_by_length=not packing, reason=reason)
    if not on_gpu or spec.speed != "auto" or not isinstance(spec, SFTJob):
        return as_written  # the auto plan is SFT's: GRPO and DPO train as written
    four_bit = four_bit_on(spec, device)
    budget_gib = memory_budget_gib(spec)
    budget = budget_gib * GIB
    sequences_per_step = spec.batch_size * spec.gradient_accumulation
    attention = packed_attention()

    def fits(batch: int, checkpointing: bool, kept: int = 0) -> bool:
        candidate = TrainingPlan(batch, 1, checkpointing, True, attention, as_written.liger, as_written.optimizer,
                                 False, "", adapter_input_cast=four_bit or adapter_input_cast(), kept_layers=kept)
        return _estimate(spec, shape, device, candidate).total <= budget

    target = max(1, auto_tokens(four_bit) // spec.max_length)
    floor = max(1, AUTO_MIN_TOKENS_WITHOUT_CHECKPOINTING // spec.max_length)
    batch = next((b for b in range(target, floor - 1, -1) if fits(b, False)), 0)
    checkpointing = batch == 0
    kept = 0
    if checkpointing:
        batch = next((b for b in range(target, 0, -1) if fits(b, True)), 1)
        # LoRA: the layers the budget still has room for skip their recomputation (QLoRA's plan is chosen to save
        # memory and recomputes all)
        if not four_bit:
            kept = next((k for k in range(kept_layers_cap(shape.layers), 0, -1) if fits(batch, True, k)), 0)
    accumulation = max(1, -(-sequences_per_step // batch))
    reason = (f"speed auto: {batch * spec.max_length:,} tokens per micro-batch within "
              f"{budget_gib:.3g} GiB" + (", checkpointing to fit" if checkpointing else ""))
    return TrainingPlan(batch, accumulation, checkpointing, True, attention, as_written.liger, as_written.optimizer,
                        False, reason, adapter_input_cast=four_bit or adapter_input_cast(), kept_layers=kept)


def estimate(spec: JobSpec, shape: ModelShape, device: str = "cuda") -> MemoryEstimate:
    """The estimate for `spec` on `device` ("cuda" or "cpu"), per process, under the plan it will run with."""
    report = _estimate(spec, shape, device, plan(spec, shape, device))
    return report


def _estimate(spec: JobSpec, shape: ModelShape, device: str, run: TrainingPlan) -> MemoryEstimate:
    on_gpu = device == "cuda"
    element = 2 if on_gpu else 4  # bf16 on the GPU, fp32 on the CPU (see studio.models.pick_dtype)
    four_bit = four_bit_on(spec, device)
    report = MemoryEstimate(device, "bf16" if on_gpu else "fp32", four_bit, 0)

    if four_bit:
        per_weight = (4 + SCALE_BITS[spec.double_quantization]) / 8
        # prepare_model_for_kbit_training keeps norms and embeddings in fp32; the auto plan leaves them in bf16
        report.parts["weights"] = int(shape.linear_parameters * per_weight +
                                      shape.other_parameters * (4 if run.kbit_upcast else element))
    else:
        report.parts["weights"] = shape.parameters * element

    lora = shape.lora_parameters(spec.lora.r, spec.lora.targets)
    lora_element = 2 if four_bit else 4
    report.parts["LoRA weights and gradients"] = 2 * lora * lora_element
    report.parts["optimizer state"] = 2 * lora * lora_element

    if isinstance(spec, GRPOJob):
        sequence = spec.max_length + spec.max_completion_length
        generated = spec.batch_size * spec.gradient_accumulation  # the generation batch, per process
    else:
        sequence, generated = spec.max_length, 0
    # DPO runs each pair's chosen and rejected answers through the model together: twice the batch's rows.
    rows = 2 * run.batch_size if isinstance(spec, DPOJob) else run.batch_size
    tokens = rows * sequence
    report.tokens = tokens
    per_layer_token = 13 * shape.hidden + 5 * shape.intermediate + 2 * shape.kv_width
    if run.gradient_checkpointing:
        kept = min(run.kept_layers, shape.layers)
        activations = tokens * ((shape.layers - kept) * shape.hidden + (kept + 1) * per_layer_token) * element
    else:
        activations = tokens * shape.layers * per_layer_token * element
    report.parts["activations"] = activations
    if on_gpu and not four_bit and run.gradient_checkpointing and run.adapter_input_cast:
        # The adapters' weights are fp32 (PEFT casts each wrapped projection's input up to them): during the
        # recomputed layer's backward (and in each kept layer) each adapter keeps its dropped-out input in fp32,
        # two bytes per element more than the bf16 counted above (the 4-bit base's adapters are bf16). Checked
        # against H200 peaks at 16, 32 and 64 x 1024 packed tokens (6-8% under them,
        # bench/sweeps/results/train-speed-h200.md), not read from PEFT's buffers.
        inputs = sum(shape.projections()[t][0] for t in spec.lora.targets if t in shape.projections())
        report.parts["activations"] += tokens * inputs * (4 - element) * (1 + min(run.kept_layers, shape.layers))
    if on_gpu and run.liger:
        # Liger's fused linear cross-entropy: chunks of next_pow2(tokens / ceil(vocab / hidden)) tokens, one chunk's
        # logits in the compute dtype and their gradient in place, plus the gradient of the final hidden states.
        chunk = min(tokens, 1 << (max(1, -(-tokens // -(-shape.vocab // shape.hidden))) - 1).bit_length())
        report.parts["logits"] = (2 * chunk * shape.vocab + tokens * shape.hidden) * element
    else:
        tile = min(tokens, FUSED_TOKENS) * min(shape.vocab, FUSED_VOCAB)
        report.parts["logits"] = TILE_COPIES["cuda" if on_gpu else "cpu"] * tile * (element if on_gpu else 4)
    if generated:
        report.parts["generation KV cache"] = generated * sequence * shape.layers * 2 * shape.kv_width * element
    if not on_gpu:
        report.parts["runtime"] = CPU_RUNTIME_BYTES

    report.notes.append(f"{_count(shape.parameters)} parameters, {_count(lora)} trained by LoRA r={spec.lora.r}; "
                        f"{rows} x {sequence} tokens per forward pass at most")
    if on_gpu and isinstance(spec, SFTJob):
        report.notes.append(f"runs with {run.describe()}")
    if isinstance(spec, DPOJob) and spec.mine_samples:
        report.notes.append(f"mining first: {spec.mine_batch_size} answers of up to {spec.mine_max_new_tokens} tokens "
                            "generated together (freed before training)")
    if four_bit and not on_gpu:
        report.notes.append("4-bit on the CPU: about 50x slower to generate than fp32, and it saves little here")
    if spec.quantization == "auto":
        report.notes.append("quantization auto: NF4 on a GPU, full precision on the CPU")
    return report


def estimate_job(spec: JobSpec, device: str | None = None) -> MemoryEstimate:
    """`estimate` with the model's shape read from its config.json; `device` defaults to where it will run."""
    if device is None:
        from jobs.runner import gpu_ids

        device = "cuda" if gpu_ids() and spec.gpus > 0 else "cpu"
    return estimate(spec, ModelShape.of(spec.model), device)


def device_memory(device: str) -> tuple[int, str] | None:
    """(bytes, name) of the memory a job has where it runs: the smallest GPU's memory (from `nvidia-smi`), or
    the machine's physical memory on the CPU; None when it cannot be read."""
    import os
    import shutil
    import subprocess

    if device == "cuda":
        if not shutil.which("nvidia-smi"):
            return None
        try:
            listed = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                    capture_output=True, text=True, timeout=10, check=True).stdout
            mib = min(int(line.strip()) for line in listed.splitlines() if line.strip())
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
        return mib * 2**20, "the GPU's memory"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's memory"
    except (ValueError, OSError, AttributeError):
        return None


def over_memory(report: MemoryEstimate) -> str | None:
    """Why a job cannot run here when its estimate exceeds the device's memory, with what to lower; else None."""
    found = device_memory(report.device)
    if found is None or report.total <= found[0]:
        return None
    size, where = found
    biggest = max(report.parts, key=report.parts.get)
    return (f"the estimate, {_gib(report.total)}, exceeds {where} ({_gib(size)}): lower the batch size or max "
            f"length (the largest part is {biggest}, {_gib(report.parts[biggest])})")
