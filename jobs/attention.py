"""Attention for padding-free packed rows on a GPU: PyTorch's own variable-length flash kernel
(`torch.nn.attention.varlen`), registered with transformers under the name `NAME`.

    >>> from jobs import attention
    >>> attention.register()                  # True where this torch has the kernel and a GPU
    >>> model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation=attention.NAME)

Why: TRL's padding-free collator flattens a batch of packed rows into one sequence and gives the row boundaries
(`cu_seq_lens_q`, `max_length_q`), which is what a varlen flash kernel reads. SDPA cannot use them (its mask over
the flattened batch grows with the square of its tokens); flex attention can, but is compiled by torch.compile for
each new shape of the batch (minutes on the first steps of a job, seen on an H200); flash-attn's wheels are too
large for many machines. PyTorch ships the same varlen flash kernel since 2.10, with its backward.

Where a batch carries no row boundaries (an unpacked batch, generation), the layer falls back to SDPA with the
padding mask transformers builds for it.
"""

from __future__ import annotations

import inspect

NAME = "studio_varlen"
_registered = False


def available() -> bool:
    """A CUDA device and a torch whose `torch.nn.attention.varlen.varlen_attn` runs forward and backward on it
    (checked once on a few tokens)."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        from torch.nn.attention.varlen import varlen_attn

        q = torch.randn(12, 2, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        bounds = torch.tensor([0, 5, 12], device="cuda", dtype=torch.int32)
        varlen_attn(q, q, q, bounds, bounds, 7, 7, **_varlen_kwargs()).sum().backward()
        torch.cuda.synchronize()
    except Exception as error:  # an older torch, or a card the kernel does not support
        print(f"[job] PyTorch's varlen attention is not usable here ({type(error).__name__}: {error})", flush=True)
        return False
    return True


def _varlen_kwargs(scale: float | None = None) -> dict:
    """Causal masking and the scale, as this torch's varlen_attn spells them (2.9 took is_causal; 2.10 a
    window)."""
    from torch.nn.attention.varlen import varlen_attn

    parameters = inspect.signature(varlen_attn).parameters
    kwargs = {"is_causal": True} if "is_causal" in parameters else {"window_size": (-1, 0)}
    if scale is not None and "scale" in parameters:
        kwargs["scale"] = scale
    return kwargs


def varlen_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0,
                             scaling: float | None = None, **kwargs):
    """transformers' attention interface: query [B, H, T, D], key and value [B, KV, T, D] -> ([B, T, H, D], None)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    boundaries = kwargs.get("cu_seq_lens_q")
    if boundaries is None or query.shape[0] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=attention_mask is None and query.shape[2] > 1)
    import torch
    from torch.nn.attention.varlen import varlen_attn

    batch, heads, tokens, dim = query.shape
    group = heads // key.shape[1]
    q = query.transpose(1, 2).reshape(tokens, heads, dim)
    # key and value as [T, H, D]; grouped-query heads repeated (older varlen_attn has no enable_gqa)
    k = key.transpose(1, 2).reshape(tokens, -1, dim).repeat_interleave(group, dim=1)
    v = value.transpose(1, 2).reshape(tokens, -1, dim).repeat_interleave(group, dim=1)
    boundaries = boundaries.to(device=query.device, dtype=boundaries.dtype)
    keys = kwargs.get("cu_seq_lens_k", boundaries).to(query.device)
    longest_q = int(kwargs.get("max_length_q") or tokens)
    longest_k = int(kwargs.get("max_length_k") or longest_q)
    # The flash kernel takes 16-bit inputs only; a QLoRA model prepared for k-bit training keeps its norms (and so
    # the activations reaching here) in fp32: compute in bf16 and hand back the caller's dtype.
    dtype = query.dtype
    if dtype not in (torch.float16, torch.bfloat16) and query.is_cuda:
        q, k, v = (t.to(torch.bfloat16) for t in (q, k, v))
    out = varlen_attn(q, k, v, boundaries, keys, longest_q, longest_k, **_varlen_kwargs(scaling))
    return out.to(dtype).reshape(batch, tokens, heads, dim), None


def _mask(*args, **kwargs):
    """No mask for packed rows (the kernel reads their boundaries); SDPA's mask where padding needs one."""
    from transformers.masking_utils import sdpa_mask

    attention_mask = kwargs.get("attention_mask")
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return sdpa_mask(*args, **kwargs)


def register() -> bool:
    """Make `NAME` known to transformers; False where the kernel is not available."""
    global _registered
    if not available():
        return False
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface

        AttentionInterface.register(NAME, varlen_attention_forward)
        AttentionMaskInterface.register(NAME, _mask)
        _registered = True
    return True
