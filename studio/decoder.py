"""Fast decoding for GRPO's rollouts and for batches of answers on a GPU (`studio.generation.generate`, so the
evaluation and pair mining): the model's weights merged into a plain decoder with a static KV cache, each
decoding step replayed on a GPU as one CUDA graph.

    >>> from studio.decoder import Rollout
    >>> engine = Rollout.for_model(peft_model)            # Llama and Qwen2 families; None for anything else
    >>> engine.sync(peft_model)                           # after each optimizer step: base + LoRA, merged
    >>> engine.generate([[1, 2, 3], [4, 5]], max_new_tokens=512, temperature=0.9, eos_ids=[2], pad_id=0)
    [[17, 99, ..., 2], [...]]                             # each answer cut after its first end token

Why: TRL's own path calls `model.generate` on the PEFT model, which launches a few thousand small kernels per
token (every LoRA projection is four of them) and synchronizes with the host at every step; on an H200 that
decodes about 2,000 tokens/s at batch 64 whatever the card could do. Here each step is the same work in fewer,
larger kernels (q, k and v in one matrix, gate and up in one, the adapter merged into the weights) with no host
synchronization, captured once per batch as a CUDA graph and replayed: `python bench/rollout_speed.py` measures
both paths in one run. On the CPU the same code runs without graphs, which is how the tests check that it
samples the same tokens as `generate` for greedy decoding.

Sampling is temperature sampling over the whole vocabulary (TRL's GRPO defaults: top_p 1, top_k 0, no min_p or
repetition penalty) through the Gumbel-max trick, or greedy at temperature 0. Other settings are TRL's to do:
`supports` says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SUPPORTED_MODELS = ("llama", "qwen2")
# With a logits processor (guided decoding), the choice of each step's tokens from the processed logits replayed as
# a CUDA graph of its own, where the processor changed the logits in place (as the studio's guides do); off only to
# measure what it changes.
GRAPHED_CHOICE = True


def supports(config, *, top_p: float = 1.0, top_k: int | None = 0, min_p: float | None = None,
             repetition_penalty: float = 1.0) -> str | None:
    """None when the engine can sample for this model config and these settings, else why not."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if config.model_type not in SUPPORTED_MODELS:
        return f"model type {config.model_type!r} (the fast rollout knows {', '.join(SUPPORTED_MODELS)})"
    if getattr(config, "use_sliding_window", False) and getattr(config, "sliding_window", None):
        return "sliding-window attention"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r}"
    if (top_p or 1.0) < 1.0 or (top_k or 0) > 0 or min_p or (repetition_penalty or 1.0) != 1.0:
        return "top_p, top_k, min_p or a repetition penalty (only temperature sampling is built in)"
    return None


def effective_weight(module) -> torch.Tensor:
    """A projection's weight as the model computes with it: 4-bit weights dequantized, the active LoRA adapters'
    deltas added (dropout is off at sampling time); a plain Linear's own weight."""
    from peft.tuners.lora import LoraLayer
    from peft.utils.integrations import dequantize_module_weight

    if isinstance(module, LoraLayer):
        base = module.get_base_layer()
        weight = dequantize_module_weight(base).detach()
        if module.merged or module.disable_adapters:
            return weight  # merged: already in the base weight; disabled: the base model's own output
        for name in module.active_adapters:
            if name in module.lora_A:
                weight = weight + module.get_delta_weight(name).detach().to(weight.dtype)
        return weight
    return dequantize_module_weight(module).detach()


def _bias(module):
    base = module.get_base_layer() if hasattr(module, "get_base_layer") else module
    return None if base.bias is None else base.bias.detach()


@dataclass
class _Layer:
    norm1: torch.Tensor
    qkv: torch.Tensor            # [q + k + v, hidden]
    qkv_bias: torch.Tensor | None
    o: torch.Tensor
    o_bias: torch.Tensor | None
    norm2: torch.Tensor
    gate_up: torch.Tensor        # [2 x intermediate, hidden]
    gate_up_bias: torch.Tensor | None
    down: torch.Tensor
    down_bias: torch.Tensor | None


class Rollout:
    """A decoder that holds merged copies of a causal LM's weights and samples from them."""

    def __init__(self, config, device, dtype, use_graphs: bool | None = None):
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.config = config
        self.device = torch.device(device)
        self.dtype = dtype
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        self.use_graphs = self.device.type == "cuda" if use_graphs is None else use_graphs
        self.layers: list[_Layer] = []
        self.embed = self.norm = self.lm_head = None
        self.inv_freq = None
        self.rope_scale = 1.0
        self.synced_at: int | None = None

    @classmethod
    def for_model(cls, model, **settings) -> "Rollout | None":
        """An engine for `model` (a PEFT or plain causal LM) on its device, or None when `supports` says no."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if supports(base.config, **settings) is not None:
            return None
        device = base.model.embed_tokens.weight.device
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else (
            torch.float16 if device.type == "cuda" else torch.float32)
        return cls(base.config, device, dtype)

    # -- weights ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def sync(self, model, step: int | None = None) -> None:
        """Copy `model`'s current weights (base + active adapters) into the engine; skipped when already synced
        at `step`."""
        if step is not None and step == self.synced_at:
            return
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        cast = dict(device=self.device, dtype=self.dtype)
        layers = []
        for layer in base.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            q, k, v = (effective_weight(p) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
            biases = [_bias(p) for p in (attn.q_proj, attn.k_proj, attn.v_proj)]
            qkv_bias = None
            if any(b is not None for b in biases):
                qkv_bias = torch.cat([b if b is not None else torch.zeros(w.shape[0], device=w.device)
                                      for b, w in zip(biases, (q, k, v))]).to(**cast)
            gate_bias, up_bias = _bias(mlp.gate_proj), _bias(mlp.up_proj)
            layers.append(_Layer(
                norm1=layer.input_layernorm.weight.detach().to(**cast),
                qkv=torch.cat([q, k, v]).to(**cast),
                qkv_bias=qkv_bias,
                o=effective_weight(attn.o_proj).to(**cast),
                o_bias=None if _bias(attn.o_proj) is None else _bias(attn.o_proj).to(**cast),
                norm2=layer.post_attention_layernorm.weight.detach().to(**cast),
                gate_up=torch.cat([effective_weight(mlp.gate_proj), effective_weight(mlp.up_proj)]).to(**cast),
                gate_up_bias=None if gate_bias is None else torch.cat([gate_bias, up_bias]).to(**cast),
                down=effective_weight(mlp.down_proj).to(**cast),
                down_bias=None if _bias(mlp.down_proj) is None else _bias(mlp.down_proj).to(**cast),
            ))
        self.layers = layers
        self.embed = base.model.embed_tokens.weight.detach().to(**cast)
        self.norm = base.model.norm.weight.detach().to(**cast)
        head = base.get_output_embeddings()
        self.lm_head = self.embed if head.weight is base.model.embed_tokens.weight else effective_weight(head).to(
            **cast)
        rotary = base.model.rotary_emb
        self.inv_freq = rotary.inv_freq.detach().to(self.device, torch.float32)
        self.rope_scale = float(getattr(rotary, "attention_scaling", 1.0))
        self.synced_at = step

    # -- the decoder -----------------------------------------------------------------------------------

    def _rms(self, x, weight):
        # transformers' LlamaRMSNorm: in fp32, then back to the input's dtype before the weight
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return weight * (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)

    def _rope_tables(self, positions):
        freqs = positions.float()[..., None] * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return (emb.cos() * self.rope_scale).to(self.dtype), (emb.sin() * self.rope_scale).to(self.dtype)

    @staticmethod
    def _rotate(x, cos, sin):
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def _project_qkv(self, layer, h):
        qkv = F.linear(h, layer.qkv, layer.qkv_bias)
        q_width, kv_width = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return qkv.split([q_width, kv_width, kv_width], dim=-1)

    def _mlp(self, layer, x):
        h = self._rms(x, layer.norm2)
        gate, up = F.linear(h, layer.gate_up, layer.gate_up_bias).chunk(2, dim=-1)
        return x + F.linear(F.silu(gate) * up, layer.down, layer.down_bias)

    def _prefill(self, tokens, starts, cache_k, cache_v):
        """Run the left-padded prompts [B, P] through the model, filling cache slots [0, P); the last logits."""
        batch, length = tokens.shape
        slots = torch.arange(length, device=self.device)
        positions = (slots[None, :] - starts[:, None]).clamp(min=0)
        cos, sin = self._rope_tables(positions)                                   # [B, P, D]
        cos, sin = cos[:, None], sin[:, None]
        # A query sees the keys of its own row from the row's start up to itself; a padding query sees itself
        # only, so that no row is all masked (softmax of nothing is NaN, which would reach the cache).
        causal = slots[None, :] <= slots[:, None]
        valid = causal[None] & (slots[None, None, :] >= starts[:, None, None])
        valid = (valid | torch.eye(length, dtype=torch.bool, device=self.device)[None])[:, None]
        x = self.embed[tokens]
        group = self.heads // self.kv_heads
        for index, layer in enumerate(self.layers):
            h = self._rms(x, layer.norm1)
            q, k, v = self._project_qkv(layer, h)
            q = self._rotate(q.view(batch, length, self.heads, self.head_dim).transpose(1, 2), cos, sin)
            k = self._rotate(k.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2), cos, sin)
            v = v.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            cache_k[index, :, :, :length] = k
            cache_v[index, :, :, :length] = v
            out = F.scaled_dot_product_attention(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1),
                                                 attn_mask=valid)
            x = x + F.linear(out.transpose(1, 2).reshape(batch, length, -1), layer.o, layer.o_bias)
            x = self._mlp(layer, x)
        return F.linear(self._rms(x[:, -1], self.norm), self.lm_head).float()

    def _decode(self, state) -> None:
        """One token for every row: reads state's token, position and slot, writes the next ones in place."""
        self._emit(state, self._forward(state))

    def _forward_into(self, state) -> None:
        """`_forward` with its logits written into `state.logits` (a fixed address a CUDA graph can fill)."""
        state.logits.copy_(self._forward(state))

    def _forward(self, state):
        """The next-token logits of every row from its last token; the cache, position and slot move one on."""
        batch = state.tokens.shape[0]
        x = self.embed[state.tokens]                                                # [B, H]
        cos, sin = self._rope_tables(state.positions)
        cos, sin = cos[:, None], sin[:, None]                                      # [B, 1, D]
        slot = state.slot                                                           # [1]
        keys = state.key_slots
        visible = (keys[None, :] >= state.starts[:, None]) & (keys[None, :] <= slot)  # [B, L]
        visible = visible[:, None, None, :]
        group = self.heads // self.kv_heads
        scale = self.head_dim ** -0.5
        for index, layer in enumerate(self.layers):
            h = self._rms(x, layer.norm1)
            q, k, v = self._project_qkv(layer, h)
            q = self._rotate(q.view(batch, self.heads, self.head_dim), cos, sin)
            k = self._rotate(k.view(batch, self.kv_heads, self.head_dim), cos, sin)
            state.cache_k[index].index_copy_(2, slot, k[:, :, None, :])
            state.cache_v[index].index_copy_(2, slot, v.view(batch, self.kv_heads, 1, self.head_dim))
            q = q.view(batch, self.kv_heads, group, self.head_dim)
            scores = torch.matmul(q, state.cache_k[index].transpose(-1, -2)).float() * scale  # [B, KV, G, L]
            scores = scores.masked_fill(~visible, float("-inf"))
            out = torch.matmul(scores.softmax(-1).to(self.dtype), state.cache_v[index])        # [B, KV, G, D]
            x = x + F.linear(out.reshape(batch, -1), layer.o, layer.o_bias)
            x = self._mlp(layer, x)
        logits = F.linear(self._rms(x, self.norm), self.lm_head).float()
        state.positions.add_(1)
        state.slot.add_(1)
        return logits

    def _emit(self, state, logits) -> None:
        """Sample the next token from `logits`, record it at the current step and feed it back."""
        if state.temperature > 0:
            noise = torch.rand_like(logits).clamp_(min=1e-20)
            # Gumbel-max: argmax(logits / T + Gumbel noise) is a sample of softmax(logits / T), with no host sync
            chosen = (logits / state.temperature - torch.log(-torch.log(noise))).argmax(-1)
        else:
            chosen = logits.argmax(-1)
        chosen = torch.where(state.finished, state.pad, chosen)
        state.out.index_copy_(1, state.step, chosen[:, None])
        state.finished |= (chosen[:, None] == state.eos[None, :]).any(-1)
        state.tokens.copy_(chosen)
        state.step.add_(1)

    # -- sampling --------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], max_new_tokens: int, temperature: float, eos_ids: list[int],
                 pad_id: int, check_every: int = 16, logits_processor=None,
                 deadline: float | None = None) -> list[list[int]]:
        """Sample up to `max_new_tokens` after each prompt; each answer ends after its first token in `eos_ids`.
        With `deadline` (time.monotonic's clock) the sampling ends there too, the unfinished answers cut where they
        stand (checked every `check_every` tokens, or every token with a processor).

        `logits_processor` (a transformers-style callable `(input_ids, scores) -> scores`, such as
        `studio.guided.decoding.GuidedLogitsProcessor`) sees every step's logits before the token is chosen, with
        the left-padded prompts and the tokens chosen so far as `input_ids` (on the CPU). The host then learns
        each step's tokens (one sync a step); on a GPU the forward pass stays one CUDA graph, and the processor's
        CPU work (a grammar's masks) runs while the card computes the step.
        """
        if not self.layers:
            raise RuntimeError("Rollout.sync(model) must run before generate")
        batch, length = len(prompts), max(len(p) for p in prompts)
        device = self.device
        tokens = torch.full((batch, length), pad_id, dtype=torch.long)
        for row, ids in enumerate(prompts):
            tokens[row, length - len(ids):] = torch.tensor(ids, dtype=torch.long)
        prompt_ids, tokens = tokens, tokens.to(device)
        starts = torch.tensor([length - len(p) for p in prompts], device=device)
        total = length + max_new_tokens
        shape = (len(self.layers), batch, self.kv_heads, total, self.head_dim)
        state = _State(
            cache_k=torch.zeros(shape, device=device, dtype=self.dtype),
            cache_v=torch.zeros(shape, device=device, dtype=self.dtype),
            starts=starts,
            key_slots=torch.arange(total, device=device),
            tokens=torch.zeros(batch, dtype=torch.long, device=device),
            positions=(length - starts).clone(),
            slot=torch.tensor([length], device=device),
            step=torch.zeros(1, dtype=torch.long, device=device),
            finished=torch.zeros(batch, dtype=torch.bool, device=device),
            out=torch.full((batch, max_new_tokens), pad_id, dtype=torch.long, device=device),
            eos=torch.tensor(sorted(set(eos_ids)) or [-1], device=device),
            pad=torch.tensor(pad_id, device=device),
            temperature=float(temperature),
            # only a logits processor reads the logits between steps; the graphed step keeps them inside
            logits=torch.empty((batch, self.lm_head.shape[0]) if logits_processor else (0,), device=device),
        )
        if logits_processor is not None:
            return self._generate_processed(state, prompt_ids, max_new_tokens, eos_ids, logits_processor, deadline)
        self._emit(state, self._prefill(tokens, starts, state.cache_k, state.cache_v))
        remaining = max_new_tokens - 1
        step = self._graphed_step(state) if self.use_graphs and remaining > 0 else (lambda: self._decode(state))
        done = 0
        while done < remaining:
            chunk = min(check_every, remaining - done)
            for _ in range(chunk):
                step()
            done += chunk
            if bool(state.finished.all()) or _past(deadline):  # one host sync per chunk, not per token
                break
        return self._answers(state, eos_ids)

    @staticmethod
    def _answers(state, eos_ids: list[int]) -> list[list[int]]:
        """Each row's tokens up to its first end token, or as far as the sampling went (a deadline can end it first)."""
        eos, sampled = set(eos_ids), int(state.step)
        answers = []
        for row in state.out[:, :sampled].tolist():
            cut = next((i + 1 for i, token in enumerate(row) if token in eos), len(row))
            answers.append(row[:cut])
        return answers

    def _generate_processed(self, state, prompt_ids, max_new_tokens: int, eos_ids: list[int], processor,
                            deadline: float | None = None):
        """`generate` with `processor` between each step's logits and its choice of tokens."""
        batch, length = prompt_ids.shape
        history = torch.cat([prompt_ids, torch.zeros((batch, max_new_tokens), dtype=torch.long)], dim=1)
        logits = self._prefill(prompt_ids.to(self.device), state.starts, state.cache_k, state.cache_v)
        forward = choose = None
        ends, finished = set(eos_ids), [False] * batch  # the rows' ends, followed on the host (as `_emit` does)
        for step in range(max_new_tokens):
            if step:
                if forward is None:  # captured once the first token is in: the graph reads state.tokens
                    forward = self._graphed(state, self._forward_into) if self.use_graphs else (
                        lambda: self._forward_into(state))
                forward()  # on a GPU this returns at once: the processor below runs while the card computes
                logits = state.logits
            scores = processor(history[:, : length + step], logits)
            if step and scores is state.logits and self.use_graphs and GRAPHED_CHOICE:
                if choose is None:  # a dozen small kernels, launched as one
                    choose = self._graphed(state, lambda s: self._emit(s, s.logits))
                choose()
            else:
                self._emit(state, scores)
            chosen = state.tokens.tolist()  # the one host sync of the step
            history[:, length + step] = torch.tensor(chosen)
            finished = [done or token in ends for done, token in zip(finished, chosen)]
            if all(finished) or _past(deadline):
                break
        return self._answers(state, eos_ids)

    def _graphed_step(self, state):
        """`_decode(state)` captured as a CUDA graph."""
        return self._graphed(state, self._decode)

    def _graphed(self, state, step):
        """`step(state)` captured as a CUDA graph; the warm-up runs are undone before capture."""
        saved = {name: getattr(state, name).clone() for name in ("tokens", "positions", "slot", "step",
                                                                 "finished", "out")}
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(2):  # allocations and library handles settle before capture
                step(state)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        for name, value in saved.items():
            getattr(state, name).copy_(value)  # the warm-up's cache writes sit in slots the real steps overwrite
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step(state)
        return graph.replay


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


@dataclass
class _State:
    """The tensors one `generate` call decodes with; fixed addresses, so a CUDA graph can replay over them."""

    cache_k: torch.Tensor
    cache_v: torch.Tensor
    starts: torch.Tensor
    key_slots: torch.Tensor
    tokens: torch.Tensor
    positions: torch.Tensor
    slot: torch.Tensor
    step: torch.Tensor
    finished: torch.Tensor
    out: torch.Tensor
    eos: torch.Tensor
    pad: torch.Tensor
    temperature: float
    logits: torch.Tensor         # [B, vocabulary]: the last forward pass's, for a logits processor
