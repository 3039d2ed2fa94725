"""The varlen attention the SFT job uses for packed rows on a GPU (jobs.attention), checked on the CPU: PyTorch's
varlen flash kernel is CUDA-only, so a reference with its signature (causal attention over each row, by SDPA)
stands in for it, and the test checks the layer around it: the layout, the grouped-query heads, the row
boundaries TRL's padding-free collator hands over, and the fallback for batches without them."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F


def reference_varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, *, scale=None, window_size=(-1, -1),
                          **kwargs):
    """torch.nn.attention.varlen.varlen_attn's contract on [T, H, D] tensors, one row at a time."""
    assert window_size == (-1, 0), "the layer asks for causal attention"
    assert cu_seq_q.dtype == torch.int32 and max_q == int(cu_seq_q.diff().max())
    out = torch.empty_like(query)
    for start, end in zip(cu_seq_q[:-1].tolist(), cu_seq_q[1:].tolist()):
        q, k, v = (t[start:end].transpose(0, 1) for t in (query, key, value))
        out[start:end] = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale).transpose(0, 1)
    return out


@pytest.fixture
def varlen_on_cpu(monkeypatch):
    from torch.nn.attention import varlen

    from jobs import attention

    monkeypatch.setattr(varlen, "varlen_attn", reference_varlen_attn)
    monkeypatch.setattr(attention, "available", lambda: True)
    monkeypatch.setattr(attention, "_varlen_kwargs", lambda scale=None: {"window_size": (-1, 0), "scale": scale})
    assert "window_size" in inspect.signature(reference_varlen_attn).parameters
    assert attention.register()
    return attention.NAME


def test_packed_rows_attend_only_within_themselves(varlen_on_cpu):
    from transformers import AutoModelForCausalLM, Qwen2Config
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    config = Qwen2Config(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").eval()
    rows = [torch.randint(0, 300, (n,)).tolist() for n in (7, 12, 5)]
    alone = [model(input_ids=torch.tensor([ids])).logits[0] for ids in rows]

    model.set_attn_implementation(varlen_on_cpu)
    batch = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)([{"input_ids": ids} for ids in rows])
    assert batch["input_ids"].shape == (1, 24) and "attention_mask" not in batch
    inputs = {k: v for k, v in batch.items() if k not in ("labels",)}
    packed = model(**inputs).logits[0]
    torch.testing.assert_close(packed, torch.cat(alone), rtol=1e-4, atol=1e-4)

    # a padded batch carries no row boundaries: SDPA with the padding mask, the same logits on the real tokens
    padded = torch.tensor([rows[0] + [0] * 5, rows[1]])
    mask = torch.tensor([[1] * 7 + [0] * 5, [1] * 12])
    logits = model(input_ids=padded, attention_mask=mask).logits
    torch.testing.assert_close(logits[0, :7], alone[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits[1], alone[1], rtol=1e-4, atol=1e-4)
