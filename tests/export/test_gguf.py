"""The GGUF converter: every type round-trips through transformers and llama.cpp, for llama and qwen2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.export import checks, gguf, merge

# Largest logit difference allowed against the fp32 model, whose logits have a standard deviation of about
# 0.16 here. Measured: F16 1e-3, Q8_0 2e-2, 4-bit 0.2-0.6 (random weights have no structure for 4 bits to
# keep). A wrong Q/K permutation or a lost bias moves F16's logits by more than 0.1.
LOGIT_TOLERANCE = {"F16": 5e-3, "Q8_0": 5e-2, "Q4_1": 1.0, "Q4_0": 1.0}
# Relative error of a weight matrix read back (Frobenius norm): measured F16 2e-4, Q8_0 5e-3, 4-bit 8e-2.
# A permuted or transposed matrix reads back with an error above 1.
WEIGHT_TOLERANCE = {"F16": 1e-3, "Q8_0": 1e-2, "Q4_1": 0.12, "Q4_0": 0.12}
NEW_TOKENS = 6


@pytest.fixture
def merged_model(arch, base_and_adapter, tmp_path_factory, _merged_cache={}):
    """`(merged model, tokenizer, check prompts, its run on them)` per architecture, made once for all types."""
    if arch not in _merged_cache:
        base, adapter = base_and_adapter
        merged = merge.merge_adapter(adapter, str(base))
        folder = tmp_path_factory.mktemp(f"merged-{arch}")
        merge.save_merged(merged, folder)
        model, tokenizer = merge.load_merged(folder)
        _merged_cache[arch] = (model, tokenizer, merged.prompts, checks.run(model, merged.prompts, NEW_TOKENS))
    return _merged_cache[arch]


def assert_greedy_agrees_where_confident(model, prompts, reference, candidate, tolerance):
    """Each candidate continuation follows the reference's until a step where the reference's top two logits
    are within `tolerance` of each other: only a near tie may flip, never a confident choice.

    Tiny random models have near ties (margins down to 6e-4), so demanding identical tokens would test the
    CPU's rounding, not the converter.
    """
    for prompt, ours, theirs in zip(prompts, reference, candidate):
        step = checks.agreeing_prefix(ours, theirs)
        if step == len(ours):
            continue
        with torch.no_grad():
            logits = model(torch.tensor([prompt + ours[:step]])).logits[0, -1]
        top = torch.topk(logits, 2).values
        margin = (top[0] - top[1]).item()
        assert margin < tolerance, f"diverged at step {step} where the reference was sure (margin {margin:.4f})"


@pytest.mark.parametrize("file_type", gguf.TYPES)
def test_gguf_round_trip_through_transformers_and_llama_cpp(merged_model, tmp_path, file_type):
    model, tokenizer, prompts, reference = merged_model
    path = gguf.write(model, tokenizer, tmp_path / f"m-{file_type}.gguf", file_type)

    types = gguf.tensor_types(path)
    two_d = {name: t for name, t in types.items() if not name.endswith(("norm.weight", ".bias"))}
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert types["blk.0.ffn_down.weight"] == file_type
    if file_type in gguf.FOUR_BIT:  # the output head (the embedding when tied) stays 8-bit
        head = "output.weight" if "output.weight" in types else "token_embd.weight"
        assert types[head] == "Q8_0"
    else:
        assert set(two_d.values()) == {file_type}
    assert ("output.weight" in types) == (not model.config.tie_word_embeddings)

    reread, reread_tokenizer = gguf.read_with_transformers(path)
    assert reread.config.model_type == model.config.model_type
    assert reread.config.tie_word_embeddings == model.config.tie_word_embeddings
    source, loaded = model.state_dict(), reread.state_dict()
    for name in ("model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                 "model.layers.1.mlp.down_proj.weight"):
        error = (torch.linalg.norm(loaded[name] - source[name]) / torch.linalg.norm(source[name])).item()
        assert error < WEIGHT_TOLERANCE[file_type], f"{name}: relative error {error:.4f}"
    if model.config.model_type == "qwen2":
        bias = "model.layers.0.self_attn.q_proj.bias"
        assert torch.allclose(loaded[bias], source[bias], atol=1e-6), "qkv biases must survive (kept F32)"

    reread_run = checks.run(reread, prompts, NEW_TOKENS)
    through_transformers = checks.compare(file_type, reference, reread_run)
    assert through_transformers.largest_logit_difference < LOGIT_TOLERANCE[file_type]
    assert checks.check_prompts(reread_tokenizer) == prompts, "the tokenizer must round-trip"
    assert reread_tokenizer.chat_template == tokenizer.chat_template

    ran = gguf.run_with_llama_cpp(path, prompts, NEW_TOKENS)
    in_llama_cpp = checks.compare(file_type, reference, checks.Run(ran.logits, ran.greedy))
    assert in_llama_cpp.largest_logit_difference < 2 * LOGIT_TOLERANCE[file_type]
    if file_type in ("F16", "Q8_0"):  # at 4 bits random weights lose too much for the tokens to follow
        tolerance = 2 * LOGIT_TOLERANCE[file_type]
        assert through_transformers.greedy_tokens_agreeing > 0 and in_llama_cpp.greedy_tokens_agreeing > 0
        for candidate in (reread_run.greedy, ran.greedy):
            assert_greedy_agrees_where_confident(model, prompts, reference.greedy, candidate, tolerance)


def test_gguf_metadata_says_what_llama_cpp_and_transformers_read(merged_model, tmp_path):
    model, tokenizer, _, _ = merged_model
    path = gguf.write(model, tokenizer, tmp_path / "m.gguf", "Q8_0", name="iac-model")
    arch = model.config.model_type
    meta = gguf.metadata(
        path,
        "general.architecture", "general.name", "general.file_type", f"{arch}.block_count",
        f"{arch}.attention.head_count_kv", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.token_type", "tokenizer.chat_template",
    )
    assert meta["general.architecture"] == arch and meta["general.name"] == "iac-model"
    assert meta["general.file_type"] == 7  # MOSTLY_Q8_0
    assert meta[f"{arch}.block_count"] == 2 and meta[f"{arch}.attention.head_count_kv"] == 2
    assert meta["tokenizer.ggml.model"] == "gpt2"
    # transformers gives a qwen2 model's tokenizer Qwen2's split regex; the file must name what is in use.
    assert meta["tokenizer.ggml.pre"] == {"llama": "gpt-2", "qwen2": "qwen2"}[arch]
    assert len(meta["tokenizer.ggml.tokens"]) == model.config.vocab_size
    assert meta["tokenizer.ggml.tokens"][meta["tokenizer.ggml.eos_token_id"]] == "<|im_end|>"
    assert meta["tokenizer.ggml.token_type"][:3] == [3, 3, 3]  # ChatML specials are CONTROL tokens
    assert meta["tokenizer.chat_template"] == tokenizer.chat_template


def test_llama_q_and_k_permutation_is_what_transformers_loader_undoes():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weights = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8 * 16, 3)
    permuted = gguf.permute_for_llama_cpp(weights, 8)
    assert not np.array_equal(permuted, weights)
    undone = LlamaTensorProcessor()._reverse_permute_weights(permuted, 8, 8)
    np.testing.assert_array_equal(undone, weights)


def test_tensor_types_keep_small_and_unaligned_tensors_precise():
    assert gguf.tensor_type("blk.0.attn_q.bias", (64,), "Q4_0", tied=False) == "F32"
    assert gguf.tensor_type("blk.0.ffn_down.weight", (64, 100), "Q8_0", tied=False) == "F16"  # 100 % 32 != 0
    assert gguf.tensor_type("token_embd.weight", (400, 64), "Q4_0", tied=False) == "Q4_0"
    assert gguf.tensor_type("output.weight", (400, 64), "Q4_1", tied=False) == "Q8_0"


def test_pre_tokenizer_names_and_an_unknown_one_refused():
    assert gguf.pre_tokenizer_name({"pre_tokenizer": {"type": "ByteLevel", "use_regex": True}}) == "gpt-2"
    smollm = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                                    {"type": "ByteLevel", "use_regex": True}]}
    assert gguf.pre_tokenizer_name({"pre_tokenizer": smollm}) == "smollm"
    qwen = {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": gguf.QWEN2_SPLIT}},
                                                  {"type": "ByteLevel", "use_regex": False}]}
    assert gguf.pre_tokenizer_name({"pre_tokenizer": qwen}) == "qwen2"
    with pytest.raises(gguf.UnsupportedModel, match="pre-tokenizer"):
        gguf.pre_tokenizer_name({"pre_tokenizer": {"type": "Whitespace"}})


def test_qwen2_pre_tokenizer_regex_is_the_one_transformers_uses():
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    assert gguf.QWEN2_SPLIT == PRETOKENIZE_REGEX


def test_other_architectures_are_refused_with_a_way_out(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    with pytest.raises(gguf.UnsupportedModel, match="convert_hf_to_gguf"):
        gguf.write(model, None, tmp_path / "x.gguf", "F16")
    assert not (tmp_path / "x.gguf").exists()
