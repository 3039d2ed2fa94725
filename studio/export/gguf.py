"""GGUF files for llama.cpp and Ollama, written from a merged model with the `gguf` package.

    >>> from studio.export import gguf
    >>> gguf.write(model, tokenizer, Path("exports/iac/gguf/iac-Q8_0.gguf"), "Q8_0")
    >>> reread, reread_tokenizer = gguf.read_with_transformers(Path("exports/iac/gguf/iac-Q8_0.gguf"))
    >>> gguf.run_with_llama_cpp(Path("exports/iac/gguf/iac-Q8_0.gguf"), prompts, new_tokens=8)

There is no `convert_hf_to_gguf.py` in the `gguf` package, so this is the converter the studio needs, for the
two architectures it trains: llama (SmolLM2, the embedded model) and qwen2 (Qwen2.5). It follows llama.cpp's
conventions, which both llama.cpp and transformers' GGUF loader read back:

- tensor names from `gguf.get_tensor_name_map` (`model.layers.0.self_attn.q_proj` -> `blk.0.attn_q`);
- llama's Q and K rows permuted to llama.cpp's rotary layout (transformers' loader undoes it); qwen2 uses
  the NeoX layout, which is transformers' own, so its tensors go in unchanged;
- a tied output head is not written: its absence is what says "tied" to both readers;
- 1-D tensors (norms, biases) stay F32; 2-D weights take the file's type;
- the tokenizer as metadata: `tokenizer.ggml.model = "gpt2"` (byte-level BPE), tokens, token types, merges,
  special token ids, the pre-tokenizer's name and the chat template.

Quantized types are those `gguf.quants` can quantize in numpy and transformers can dequantize: F16, Q8_0, Q4_1
and Q4_0. Q4_K and Q6_K only dequantize in gguf-py 0.19, so they cannot be offered here. Q4_1 is the embedded
model's own type (its weights came out of a Q4_1 file): requantized to it, they land almost where they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

# (file type name) -> what the 2-D weights become, and llama.cpp's `general.file_type` for the file.
TYPES = ("F16", "Q8_0", "Q4_1", "Q4_0")
TYPE_HELP = {
    "F16": "16-bit floats, the reference: the size of bf16 weights, no quantization loss",
    "Q8_0": "8-bit blocks of 32, about half of F16, a loss hard to see in the output",
    "Q4_1": "4-bit blocks of 32 with a scale and a minimum; the output head stays 8-bit",
    "Q4_0": "4-bit blocks of 32 with a scale only, the smallest; the output head stays 8-bit",
}
FOUR_BIT = ("Q4_1", "Q4_0")
ARCHITECTURES = ("llama", "qwen2")

# Pre-tokenizers llama.cpp knows by name (`tokenizer.ggml.pre`), recognized from the tokenizer's own JSON.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

Progress = Callable[[float, str], None]


class UnsupportedModel(ValueError):
    """A model this converter cannot write faithfully; the message says what is missing."""


def _ggml():
    # Imported on use: `studio.export` is imported by the UI, which must come up without numpy-heavy imports.
    import gguf

    return gguf


def _quant_type(name: str):
    return getattr(_ggml().GGMLQuantizationType, name)


def _file_type(name: str) -> int:
    ftype = _ggml().LlamaFileType
    return {
        "F16": ftype.MOSTLY_F16,
        "Q8_0": ftype.MOSTLY_Q8_0,
        "Q4_1": ftype.MOSTLY_Q4_1,
        "Q4_0": ftype.MOSTLY_Q4_0,
    }[name]


# --- the tokenizer ------------------------------------------------------------------------------------------


def pre_tokenizer_name(tokenizer_json: dict) -> str:
    """llama.cpp's name for how this byte-level tokenizer splits text before BPE.

    >>> pre_tokenizer_name({"pre_tokenizer": {"type": "ByteLevel", "use_regex": True}})
    'gpt-2'

    A wrong name would make llama.cpp split text differently from the tokenizer the model was trained with,
    silently, so an unknown one is refused rather than guessed.
    """
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"  # SmolLM2 from the hub: digits one by one, then GPT-2's split
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        pattern = (steps[0].get("pattern") or {}).get("Regex")
        if pattern == QWEN2_SPLIT:
            return "qwen2"
        if pattern == LLAMA3_SPLIT:
            return "llama-bpe"
    raise UnsupportedModel(
        f"This tokenizer's pre-tokenizer ({json.dumps(pre)[:200]}) is not one llama.cpp knows by name "
        "(gpt-2, smollm, qwen2, llama-bpe); export the merged weights and convert them with llama.cpp's "
        "convert_hf_to_gguf.py instead."
    )


@dataclass(frozen=True)
class TokenizerMetadata:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    pre: str
    special_ids: dict[str, int]
    add_bos: bool
    add_eos: bool
    chat_template: str | None


def tokenizer_metadata(tokenizer, vocab_size: int) -> TokenizerMetadata:
    """What llama.cpp needs of a byte-level BPE tokenizer, for an embedding of `vocab_size` rows.

    Rows past the tokenizer's last id (Qwen2.5 pads its embedding to a multiple of 128) get `[PAD<id>]`
    tokens of type UNUSED, as llama.cpp's converter writes them.
    """
    token_type = _ggml().TokenType
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise UnsupportedModel(f"Only byte-level BPE tokenizers are written to GGUF here, not {model.get('type')}.")
    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= vocab_size:
        raise UnsupportedModel(
            f"The tokenizer has ids up to {max(vocab.values())} but the embedding only {vocab_size} rows."
        )
    by_id = {index: token for token, index in vocab.items()}
    added = {index: token for index, token in tokenizer.added_tokens_decoder.items()}
    tokens, types = [], []
    for index in range(vocab_size):
        if index in added:
            tokens.append(added[index].content)
            types.append(int(token_type.CONTROL if added[index].special else token_type.USER_DEFINED))
        elif index in by_id:
            tokens.append(by_id[index])
            types.append(int(token_type.NORMAL))
        else:
            tokens.append(f"[PAD{index}]")
            types.append(int(token_type.UNUSED))
    merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in model.get("merges", [])]
    special_ids = {
        name: getattr(tokenizer, f"{name}_token_id")
        for name in ("bos", "eos", "unk", "pad")
        if getattr(tokenizer, f"{name}_token_id", None) is not None
    }
    # Whether the tokenizer adds BOS/EOS on its own, read from what it does rather than from its config.
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    framed = tokenizer("x")["input_ids"]
    add_bos = len(framed) > len(plain) and framed[0] == special_ids.get("bos")
    add_eos = len(framed) > len(plain) and framed[-1] == special_ids.get("eos")
    return TokenizerMetadata(
        tokens=tokens,
        types=types,
        merges=merges,
        pre=pre_tokenizer_name(spec),
        special_ids=special_ids,
        add_bos=add_bos,
        add_eos=add_eos,
        chat_template=tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None,
    )


# --- the tensors --------------------------------------------------------------------------------------------


def permute_for_llama_cpp(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder Q or K rows from transformers' rotary layout (halves) to llama.cpp's (interleaved pairs).

    The inverse of `LlamaTensorProcessor._reverse_permute_weights` in transformers' GGUF loader; pass the
    KV head count for K. Works on a bias (1-D) too.
    """
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    source: str
    ggml_type: str  # "F32", "F16", "Q8_0", "Q4_0"
    shape: tuple[int, ...]


def _architecture(config) -> str:
    if config.model_type not in ARCHITECTURES:
        raise UnsupportedModel(
            f"GGUF export covers {', '.join(ARCHITECTURES)} models; this one is {config.model_type!r}. "
            "Export the merged weights and convert them with llama.cpp's convert_hf_to_gguf.py."
        )
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise UnsupportedModel(f"RoPE scaling {rope.get('rope_type')!r} is not written to GGUF here.")
    return config.model_type


def tensor_type(name: str, shape: tuple[int, ...], file_type: str, tied: bool) -> str:
    """The GGML type of one tensor in a file of `file_type`.

    >>> tensor_type("blk.0.attn_norm.weight", (576,), "Q4_0", tied=True)
    'F32'
    >>> tensor_type("token_embd.weight", (49152, 576), "Q4_0", tied=True)
    'Q8_0'
    """
    if len(shape) == 1:
        return "F32"  # norms and biases: tiny, and llama.cpp computes them in F32
    if file_type == "F16":
        return "F16"
    if shape[-1] % 32:
        return "F16"  # blocks of 32 along a row; a row that does not divide stays F16, as in llama.cpp
    # The output head decides every token: llama-quantize keeps it at 6 bits in a 4-bit file (Q6_K, which
    # gguf-py cannot quantize), so it stays at 8 bits here. When tied, the embedding is the head.
    if file_type in FOUR_BIT and (name == "output.weight" or (tied and name == "token_embd.weight")):
        return "Q8_0"
    return file_type


def plan(model, file_type: str) -> list[PlannedTensor]:
    """Every tensor the file will hold, in order, with its GGUF name and type."""
    gguf = _ggml()
    config = model.config
    arch = getattr(gguf.MODEL_ARCH, _architecture(config).upper())
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    planned = []
    for source, tensor in model.state_dict().items():
        if tied and source == "lm_head.weight":
            continue  # no output.weight: both readers take that as "tied to token_embd"
        stem, _, suffix = source.rpartition(".")
        name = names.get_name(stem)
        if name is None:
            if "rotary_emb" in source:
                continue  # a buffer computed from rope_theta, not a weight
            raise UnsupportedModel(f"No GGUF name for tensor {source!r}.")
        name = f"{name}.{suffix}"
        shape = tuple(tensor.shape)
        planned.append(PlannedTensor(name, source, tensor_type(name, shape, file_type, tied), shape))
    return planned


def _tensor_data(model, item: PlannedTensor, state: dict) -> np.ndarray:
    import torch

    config = model.config
    with torch.no_grad():
        data = state[item.source].detach().to("cpu", torch.float32).numpy()
    if config.model_type == "llama":
        if ".attn_q." in item.name:
            data = permute_for_llama_cpp(data, config.num_attention_heads)
        elif ".attn_k." in item.name:
            data = permute_for_llama_cpp(data, config.num_key_value_heads)
    if item.ggml_type == "F32":
        return np.ascontiguousarray(data, dtype=np.float32)
    if item.ggml_type == "F16":
        return np.ascontiguousarray(data, dtype=np.float16)
    return _ggml().quants.quantize(np.ascontiguousarray(data), _quant_type(item.ggml_type))


def _byte_shape(item: PlannedTensor) -> tuple[tuple[int, ...], object, int]:
    """`(shape as written, numpy dtype, byte count)` of a planned tensor, before computing it."""
    gguf = _ggml()
    count = int(np.prod(item.shape))
    if item.ggml_type == "F32":
        return item.shape, np.float32, count * 4
    if item.ggml_type == "F16":
        return item.shape, np.float16, count * 2
    shape = gguf.quants.quant_shape_to_byte_shape(item.shape, _quant_type(item.ggml_type))
    return shape, np.uint8, int(np.prod(shape))


# --- writing ------------------------------------------------------------------------------------------------


def _add_model_metadata(writer, config, file_type: str, name: str) -> None:
    writer.add_name(name)
    writer.add_type("model")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    if config.model_type == "llama":
        # transformers' loader reads head_dim from here for llama; llama.cpp the rotary width.
        writer.add_rope_dimension_count(head_dim)
        writer.add_vocab_size(config.vocab_size)
    if head_dim * config.num_attention_heads != config.hidden_size:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_file_type(_file_type(file_type))
    writer.add_quantization_version(_ggml().GGML_QUANT_VERSION)


def _add_tokenizer_metadata(writer, meta: TokenizerMetadata) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(meta.pre)
    writer.add_token_list(meta.tokens)
    writer.add_token_types(meta.types)
    writer.add_token_merges(meta.merges)
    adders = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for name, token_id in meta.special_ids.items():
        adders[name](token_id)
    writer.add_add_bos_token(meta.add_bos)
    writer.add_add_eos_token(meta.add_eos)
    if meta.chat_template:
        writer.add_chat_template(meta.chat_template)


def write(model, tokenizer, path: Path, file_type: str, name: str = "", progress: Progress | None = None) -> Path:
    """Write `model` (a merged transformers model, any float dtype) and its tokenizer to `path` as `file_type`.

    Tensors are computed and written one at a time, so memory stays near one tensor above the model's own.
    """
    if file_type not in TYPES:
        raise ValueError(f"GGUF type must be one of {', '.join(TYPES)}, not {file_type!r}")
    gguf = _ggml()
    report = progress or (lambda fraction, message: None)
    config = model.config
    arch = _architecture(config)
    planned = plan(model, file_type)
    meta = tokenizer_metadata(tokenizer, config.vocab_size)
    path = Path(path)
    writer = gguf.GGUFWriter(path, arch)
    try:
        # "mistral" in general.name makes transformers' loader read the file as a Mistral model.
        _add_model_metadata(writer, config, file_type, (name or path.stem).replace("mistral", "mistr-al"))
        _add_tokenizer_metadata(writer, meta)
        for item in planned:
            shape, dtype, nbytes = _byte_shape(item)
            raw = None if item.ggml_type in ("F32", "F16") else _quant_type(item.ggml_type)
            writer.add_tensor_info(item.name, shape, np.dtype(dtype), nbytes, raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        state = model.state_dict()
        for index, item in enumerate(planned):
            writer.write_tensor_data(_tensor_data(model, item, state))
            if index % 16 == 0:
                report(index / len(planned), f"{path.name}: {item.name} as {item.ggml_type}")
        writer.close()
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    report(1.0, f"{path.name} written")
    return path


def tensor_types(path: Path) -> dict[str, str]:
    """`{tensor name: GGML type}` as stored in a GGUF file."""
    reader = _ggml().GGUFReader(path)
    return {tensor.name: tensor.tensor_type.name for tensor in reader.tensors}


def metadata(path: Path, *keys: str) -> dict:
    """Selected metadata values of a GGUF file (strings, numbers, or lists for arrays)."""
    reader = _ggml().GGUFReader(path)
    return {key: reader.fields[key].contents() for key in keys if key in reader.fields}


# --- reading back -------------------------------------------------------------------------------------------


def read_with_transformers(path: Path):
    """`(model, tokenizer)` loaded from the GGUF file by transformers, dequantized to fp32, for checking."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    model.eval()
    return model, tokenizer


@dataclass
class LlamaCppRun:
    """What llama.cpp computed for each prompt: the logits over the prompt and the greedy continuation."""

    logits: list[np.ndarray]
    greedy: list[list[int]]


def run_with_llama_cpp(path: Path, prompts: list[list[int]], new_tokens: int = 8) -> LlamaCppRun:
    """Load the file in llama.cpp itself (through llama-cpp-python) and run it on token ids.

    Token ids, not text, go in: the comparison is of the weights, not of two tokenizers' regex engines.
    """
    import os

    from studio.llama_engine import open_llama

    longest = max(len(prompt) for prompt in prompts) + new_tokens
    llm = open_llama(
        path,
        n_ctx=max(64, longest + 8),
        n_batch=max(64, longest + 8),
        logits_all=True,
        n_threads=max(1, min(4, os.cpu_count() or 1)),
        verbose=False,
    )
    try:
        logits, greedy = [], []
        for prompt in prompts:
            llm.reset()
            llm.eval(prompt)
            logits.append(np.array(llm.scores[: len(prompt)], dtype=np.float32))
            produced = []
            for _ in range(new_tokens):
                token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
                produced.append(token)
                llm.eval([token])
            greedy.append(produced)
        return LlamaCppRun(logits, greedy)
    finally:
        llm.close()


def iter_types(file_types) -> Iterator[str]:
    """The requested types in the studio's order (F16 first: it is the reference the others are judged by)."""
    wanted = set(file_types)
    unknown = wanted - set(TYPES)
    if unknown:
        raise ValueError(f"Unknown GGUF type(s) {', '.join(sorted(unknown))}: pick from {', '.join(TYPES)}")
    return (name for name in TYPES if name in wanted)
