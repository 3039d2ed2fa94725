"""The memory estimate counts what the real model has, and each setting moves the part it should."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jobs.estimate import AUTO_TOKENS, GIB, ModelShape, estimate, plan
from jobs.specs import GRPOJob, LoraSettings, SFTJob
from studio import models

# Qwen2.5-0.5B-Instruct's config (the seed's target), as published with the model.
QWEN_05B = {"model_type": "qwen2", **models.QWEN25_05B_SHAPE}


def test_parameter_counts_match_the_model_and_peft(tiny_model):
    """The count from config.json equals the loaded model's, and the LoRA count equals what PEFT trains."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    shape = ModelShape.from_config(json.loads((tiny_model / "config.json").read_text()))
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    lora = LoraSettings(r=8)
    trainable, _ = get_peft_model(model, lora.shape().peft_config()).get_nb_trainable_parameters()
    assert shape.lora_parameters(8, lora.targets) == trainable


def test_qwen_half_billion_counts():
    shape = ModelShape.from_config(QWEN_05B)
    assert shape.parameters == 494_032_768  # what transformers counts for Qwen2.5-0.5B
    assert shape.lora_parameters(32, LoraSettings().targets) == 17_596_416  # PEFT: r=16 trains 8,798,208


def test_four_bit_shrinks_the_weights_and_checkpointing_the_activations():
    shape = ModelShape.from_config(QWEN_05B)
    bf16 = estimate(SFTJob(quantization="none", speed="as_written"), shape, "cuda").parts
    nf4 = estimate(SFTJob(quantization="nf4", speed="as_written"), shape, "cuda").parts
    assert nf4["weights"] < bf16["weights"]
    # The embeddings stay unquantized (fp32 after prepare_model_for_kbit_training): most of 0.5B's weights.
    assert nf4["weights"] > 0.5 * bf16["weights"]
    # speed auto keeps them in bf16
    assert estimate(SFTJob(quantization="nf4"), shape, "cuda").parts["weights"] < nf4["weights"]
    full = estimate(SFTJob(gradient_checkpointing=False, speed="as_written"), shape, "cuda").parts["activations"]
    checkpointed = estimate(SFTJob(gradient_checkpointing=True, speed="as_written"), shape, "cuda")
    assert checkpointed.parts["activations"] < full / 5


def test_the_fused_lm_head_bounds_the_logits():
    """TRL 1.16 never builds batch x sequence x vocabulary logits: the estimate stays flat as the batch grows."""
    shape = ModelShape.from_config(QWEN_05B)
    small = estimate(SFTJob(batch_size=8, max_length=512, speed="as_written"), shape, "cuda").parts["logits"]
    large = estimate(SFTJob(batch_size=64, max_length=512, speed="as_written"), shape, "cuda").parts["logits"]
    assert small == large and large <= 0.5 * GIB


def test_grpo_adds_the_generation_cache_and_the_cpu_its_runtime():
    shape = ModelShape.from_config(QWEN_05B)
    assert "generation KV cache" in estimate(GRPOJob(eval_dataset=""), shape, "cuda").parts
    cpu = estimate(SFTJob(), shape, "cpu")
    assert "runtime" in cpu.parts and not cpu.four_bit and cpu.dtype == "fp32"
    assert "| **total** |" in cpu.markdown()


@pytest.mark.parametrize("quantization, device, four_bit", [("auto", "cuda", True), ("auto", "cpu", False),
                                                             ("nf4", "cpu", True), ("none", "cuda", False)])
def test_auto_quantization_means_nf4_on_cuda_only(quantization, device, four_bit):
    assert estimate(SFTJob(quantization=quantization), ModelShape.from_config(QWEN_05B), device).four_bit is four_bit


def test_the_cpu_runs_the_spec_as_written_and_a_gpu_the_speed_plan():
    shape = ModelShape.from_config(QWEN_05B)
    spec = SFTJob(quantization="none")
    cpu = plan(spec, shape, "cpu")
    assert (cpu.batch_size, cpu.gradient_accumulation, cpu.gradient_checkpointing, cpu.packing) == (4, 4, True, False)
    assert cpu.attention == "sdpa" and not cpu.liger
    gpu = plan(spec, shape, "cuda")
    assert gpu.packing and gpu.attention in ("studio_varlen", "flash_attention_2")
    assert gpu.batch_size * spec.max_length <= AUTO_TOKENS[False]
    assert gpu.batch_size * gpu.gradient_accumulation >= spec.batch_size * spec.gradient_accumulation
    assert estimate(spec, shape, "cuda").total <= spec.memory_budget_gib * GIB
    assert "micro-batch" in estimate(spec, shape, "cuda").markdown()
    # a budget too small to go without checkpointing: the plan checkpoints
    tight = plan(SFTJob(quantization="none", memory_budget_gib=4.0), shape, "cuda")
    assert tight.gradient_checkpointing and estimate(SFTJob(quantization="none", memory_budget_gib=4.0), shape,
                                                     "cuda").total <= 4 * GIB
    roomy = plan(SFTJob(quantization="none", memory_budget_gib=80.0), shape, "cuda")
    assert not roomy.gradient_checkpointing
    # as written on a GPU: the spec's own numbers
    written = plan(SFTJob(speed="as_written", batch_size=3, gradient_accumulation=5), shape, "cuda")
    assert (written.batch_size, written.gradient_accumulation, written.packing) == (3, 5, False)
    # GRPO trains as written
    grpo = plan(GRPOJob(eval_dataset=""), shape, "cuda")
    assert (grpo.batch_size, grpo.gradient_checkpointing, grpo.packing) == (4, True, False)
    assert not plan(SFTJob(quantization="nf4"), shape, "cuda").kbit_upcast


def test_the_auto_plan_drops_the_adapters_fp32_input_copies_for_lora(monkeypatch):
    """Under `speed: auto` LoRA adapters read their bf16 inputs (no fp32 copy to hold through the recomputed layer):
    the estimate is smaller by those copies; QLoRA's adapters are bf16 already; INFRAMIND_ADAPTER_CAST=1 restores
    PEFT's cast (bench/train_speed.py measures both)."""
    shape = ModelShape.from_config(QWEN_05B)
    spec = SFTJob(quantization="none")
    auto = plan(spec, shape, "cuda")
    assert not auto.adapter_input_cast and "bf16 inputs" in auto.describe()
    assert plan(SFTJob(quantization="nf4"), shape, "cuda").adapter_input_cast
    assert plan(SFTJob(quantization="none", speed="as_written"), shape, "cuda").adapter_input_cast
    monkeypatch.setenv("INFRAMIND_ADAPTER_CAST", "1")
    cast = plan(spec, shape, "cuda")
    assert cast.adapter_input_cast and (cast.batch_size, cast.gradient_checkpointing) == (auto.batch_size, True)
    from jobs import estimate as module

    recast = dataclasses.replace(auto, adapter_input_cast=True)
    saved = module._estimate(spec, shape, "cuda", recast).total - module._estimate(spec, shape, "cuda", auto).total
    inputs = 6 * shape.hidden + shape.intermediate  # q, k, v, o, gate, up read the hidden size; down the MLP's
    # in the recomputed layer and in each layer the plan keeps
    assert saved == auto.batch_size * spec.max_length * inputs * 2 * (1 + auto.kept_layers)


def test_a_checkpointed_lora_plan_keeps_the_layers_the_budget_has_room_for(monkeypatch):
    """Asked to (INFRAMIND_KEPT_LAYERS, what bench/train_speed.py --kept-layers measures), a plan that checkpoints
    32 x 1024 tokens within 12 GiB keeps the activations of as many of the last layers as still fit (they are not
    recomputed); one more would not fit. By default, and for QLoRA, whose plan saves memory, it keeps none."""
    from jobs import estimate as module

    shape = ModelShape.from_config(QWEN_05B)
    spec = SFTJob(quantization="none")
    assert plan(spec, shape, "cuda").kept_layers == 0
    monkeypatch.setenv("INFRAMIND_KEPT_LAYERS", "8")
    auto = plan(spec, shape, "cuda")
    assert auto.gradient_checkpointing and 0 < auto.kept_layers <= 8
    assert f"but for the last {auto.kept_layers} layers" in auto.describe()
    budget = spec.memory_budget_gib * GIB
    assert module._estimate(spec, shape, "cuda", auto).total <= budget
    one_more = dataclasses.replace(auto, kept_layers=auto.kept_layers + 1)
    assert module._estimate(spec, shape, "cuda", one_more).total > budget
    # each kept layer holds a layer's activations instead of its input
    none = dataclasses.replace(auto, kept_layers=0)
    per_layer = (module._estimate(spec, shape, "cuda", auto).parts["activations"] -
                 module._estimate(spec, shape, "cuda", none).parts["activations"]) / auto.kept_layers
    assert per_layer > 10 * spec.max_length * auto.batch_size * shape.hidden * 2
    assert plan(SFTJob(quantization="nf4"), shape, "cuda").kept_layers == 0


def test_dpo_runs_chosen_and_rejected_together():
    from jobs.specs import DPOJob

    shape = ModelShape.from_config(QWEN_05B)
    sft = estimate(SFTJob(batch_size=4, max_length=512, gradient_checkpointing=False, speed="as_written"), shape,
                   "cuda")
    dpo = estimate(DPOJob(batch_size=4, max_length=512, gradient_checkpointing=False), shape, "cuda")
    assert dpo.tokens == 2 * sft.tokens and dpo.parts["activations"] == 2 * sft.parts["activations"]
    assert any("mining first" in note for note in dpo.notes)


# Peaks measured on one H200 with Liger installed (bench/sweeps/results/train-speed-h200.md, calls 2, 5 and 6):
# (quantization, packed rows of 1024 tokens, gradient checkpointing) -> GiB. The 4-bit rows ran under
# `speed: auto`, whose norms stay bf16.
H200_PEAKS = {("none", 16, True): 3.58, ("none", 32, True): 5.98, ("none", 64, True): 10.69,
              ("none", 16, False): 24.23, ("nf4", 8, True): 1.53, ("nf4", 12, True): 1.99, ("nf4", 16, True): 2.41}


@pytest.mark.parametrize("setting", sorted(H200_PEAKS))
def test_the_gpu_estimate_is_within_15_percent_of_the_peaks_measured_with_liger(setting, monkeypatch):
    import dataclasses

    from jobs import estimate as module

    monkeypatch.setattr(module, "installed", lambda name: name == "liger_kernel")
    quantization, rows, checkpointing = setting
    spec = SFTJob(quantization=quantization, speed="as_written", packing=True, batch_size=rows,
                  gradient_accumulation=1, gradient_checkpointing=checkpointing, max_length=1024)
    shape = ModelShape.from_config(QWEN_05B)
    run = dataclasses.replace(plan(spec, shape, "cuda"), kbit_upcast=quantization == "none")
    total = module._estimate(spec, shape, "cuda", run).total / GIB
    assert abs(total / H200_PEAKS[setting] - 1) <= 0.15, (setting, total)


def test_the_cpus_auto_plan_autocasts_to_bf16_only_where_it_measures_faster(monkeypatch):
    """On the CPU `speed: auto` batches rows of like length, and trains under bf16 autocast where this CPU
    multiplies bf16 matrices CPU_BF16_MIN_SPEEDUP times faster than fp32 (AMX), not where it is slower (AVX2)."""
    from jobs import estimate as estimate_module
    from studio import models

    shape = ModelShape.from_config(QWEN_05B)
    measured = models.cpu_bf16_speedup()  # the real figure of this machine, whichever it is
    assert measured > 0
    here = plan(SFTJob(quantization="none"), shape, "cpu")
    assert here.cpu_bf16 == (measured >= estimate_module.CPU_BF16_MIN_SPEEDUP) and here.group_by_length
    monkeypatch.setattr(models, "cpu_bf16_speedup", lambda: 8.0)
    fast = plan(SFTJob(quantization="none"), shape, "cpu")
    assert fast.cpu_bf16 and "bf16 autocast" in fast.describe() and "8.0x" in fast.describe()
    monkeypatch.setattr(models, "cpu_bf16_speedup", lambda: 0.2)
    slow = plan(SFTJob(quantization="none"), shape, "cpu")
    assert not slow.cpu_bf16 and slow.group_by_length and "fp32" in slow.describe()
    # the spec's numbers either way; packed rows need no grouping; as written, GRPO and DPO: the spec alone
    assert (fast.batch_size, fast.gradient_accumulation, fast.packing) == (4, 4, False)
    assert not plan(SFTJob(quantization="none", packing=True), shape, "cpu").group_by_length
    monkeypatch.setattr(models, "cpu_bf16_speedup", lambda: 8.0)
    for written in (SFTJob(quantization="none", speed="as_written"), GRPOJob(eval_dataset="")):
        chosen = plan(written, shape, "cpu")
        assert not chosen.cpu_bf16 and not chosen.group_by_length


def test_the_auto_plan_stays_within_three_quarters_of_the_card(monkeypatch):
    """The gpu recipe plans for 24 GiB: on a 16 GiB card the plan is the one for 12 GiB; where the card's memory
    cannot be read, or the card is large, the recipe's own."""
    import jobs.estimate as module
    from jobs import recipe as recipes
    from jobs import specs

    recipe = specs.load(recipes.files("gpu")[0])
    assert recipe.memory_budget_gib == 24
    shape = ModelShape.of(recipe.model)
    monkeypatch.setattr(module, "card_memory", lambda: None)  # nvidia-smi not read: the spec's budget as it is
    as_twelve = plan(dataclasses.replace(recipe, memory_budget_gib=12.0), shape, "cuda")
    own = plan(recipe, shape, "cuda")
    assert (own.batch_size, own.gradient_accumulation) == (11, 1) and "22,528 tokens" in own.reason
    monkeypatch.setattr(module, "card_memory", lambda: 16 * GIB)
    small = plan(recipe, shape, "cuda")
    assert small == as_twelve and (small.batch_size, small.gradient_accumulation) == (5, 2)
    assert "within 12 GiB" in small.reason and estimate(recipe, shape, "cuda").total <= 12 * GIB
    monkeypatch.setattr(module, "card_memory", lambda: 80 * GIB)
    assert plan(recipe, shape, "cuda") == own
