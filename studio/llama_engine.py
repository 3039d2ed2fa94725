"""llama.cpp for the studio's answers on a machine without a GPU: the F16 GGUFs it runs, and many answers at once.

    >>> path = gguf_for(model, tokenizer, weights_key("SmolLM2-135M-Instruct (embedded)", "runs/sft-1/adapter"))
    >>> engine = LlamaBatch(path, slots=16)
    >>> for index, ids in engine.answers(prompts, max_new_tokens=512, stop_ids=[2]):
    ...     print(index, ids)          # in the order answers finish; each a list of new token ids

Continuous batching: up to `slots` answers decode together, one token each per llama.cpp call, and a finished
answer's slot takes the next prompt at once (its prompt is read in the same call as the other answers' next
tokens), so no answer waits for the longest of a batch. Each slot has a KV buffer of its own (`context` / `slots`
cells), so an answer's attention reads its own tokens only.

The tokens are picked here, from llama.cpp's logits: greedy, or sampled at a temperature within top_p with one
seeded generator per answer (the same seed gives the same answers whatever the slot count), and, where a guide
is given per answer (a `studio.guided` logits processor), only among the tokens its grammar allows.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from studio import generation, models, workspace

# llama.cpp's "extra buffer types" (weights repacked for AMX and wide-vector kernels) crash decoding a 4-bit GGUF
# (the embedded model's Q4_1) with a segmentation fault on a CPU with AMX (this project's 2-core Xeon on 2026-12-04,
# llama-cpp-python 0.3.36 built there: any prompt of more than one token). Off where the CPU has AMX.
SAFE_BUFFERS = "amx_int8" not in (Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else "")
_LLAMA_LOCK = threading.Lock()


def model_params():
    """llama.cpp's default model parameters, without the extra buffer types where they crash (SAFE_BUFFERS)."""
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    if not SAFE_BUFFERS:
        params.use_extra_bufts = False
    return params


def open_llama(path: str | Path, **kwargs):
    """`llama_cpp.Llama(model_path=path, **kwargs)` with `model_params` (its constructor takes no such argument: the
    defaults it reads are swapped for the call)."""
    import llama_cpp
    from llama_cpp import Llama

    with _LLAMA_LOCK:
        defaults = llama_cpp.llama_cpp.llama_model_default_params
        llama_cpp.llama_cpp.llama_model_default_params = model_params
        try:
            return Llama(model_path=str(path), **kwargs)
        finally:
            llama_cpp.llama_cpp.llama_model_default_params = defaults


GGUF_KEPT = 4  # F16 files in the cache: a few hundred MB each for the embedded model
MAX_CONTEXT = 65536  # KV cells one LlamaBatch holds for all its answers (1.5 GB for the embedded model)
# llama.cpp's flash attention, which its context defaults turn on by themselves ("auto") on this CPU: off. The
# embedded base model, 2-core CPU, nothing else running, 32 at once, up to 512 new tokens (`python
# bench/eval_engine.py --engines llama.cpp --flash-attention-too`): the 121 eval rows in 9.66 minutes without it
# against 12.09 with (82.0 against 65.6 new tokens/s), the same rates, 111 of 121 answers the same.
# `llama_cpp.Llama` (the Compare tab's single answers) has it off already.
FLASH_ATTENTION = False
# The answers decoding together fill slots 0..n-1 and go to llama.cpp in that order (`LlamaBatch._compact`). The
# embedded base model, the 121 eval rows, 32 at once, the 2-core CPU, nothing else running (`python
# bench/eval_engine.py --engines llama.cpp --slots-out-of-order-too`): 4.24 minutes against 9.33 with the slots as
# they came (187.1 against 84.9 new tokens/s), the same rates, 120 of 121 answers the same. Off only to measure.
SLOTS_IN_ORDER = True


def available() -> bool:
    """Whether llama-cpp-python is installed (it comes with the embedded model's package)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def fingerprint(folder: Path) -> str:
    """A folder's files with their sizes and times: a new training run into the same folder is a new key."""
    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(Path(folder).glob("*"))
                    if f.is_file())


def weights_key(model_name: str, adapter: str | Path | None = None) -> str:
    """What names one set of weights in the GGUF cache: the model's folder, and the adapter's when merged in."""
    key = f"{model_name}|{fingerprint(models.resolve(model_name))}"
    return f"{key}|{adapter}|{fingerprint(Path(adapter))}" if adapter else key


def gguf_for(model, tokenizer, key: str, adapter: bool = True) -> Path:
    """An F16 GGUF of `model`'s weights, written once per `key` into the workspace's cache (`cache/gguf/`) by the
    studio's own exporter. A PEFT model's adapter is merged in, or left out with `adapter=False`."""
    from studio.export import gguf

    folder = workspace.home() / "cache" / "gguf"
    path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}-F16.gguf"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    plain = model
    if hasattr(model, "merge_and_unload"):  # a copy: the cached model keeps its adapter switchable
        import copy

        twin = copy.deepcopy(model)
        plain = twin.merge_and_unload() if adapter else twin.unload()
    # Two browser tabs may write the same file at once: each writes its own, and the last rename wins.
    partial = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.partial")
    gguf.write(plain, tokenizer, partial, "F16")
    partial.replace(path)
    for old in sorted(folder.glob("*-F16.gguf"), key=lambda f: f.stat().st_mtime, reverse=True)[GGUF_KEPT:]:
        old.unlink(missing_ok=True)
    return path


def quiet() -> None:
    """llama.cpp's own log lines (thousands when it loads a model) kept off the console; errors still show."""
    from llama_cpp import _logger

    _logger.set_verbose(False)


@dataclass
class _Slot:
    index: int  # the prompt's position in the caller's list
    prompt: list[int]
    position: int = 0  # tokens of this answer's sequence already in the KV cache
    pending: list[int] = field(default_factory=list)  # tokens to read in the next call
    new: list[int] = field(default_factory=list)
    generator: object = None
    guide: object = None


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class LlamaBatch:
    """One llama.cpp model and context with `slots` sequences; `answers` decodes prompts through them."""

    def __init__(self, path: str | Path, slots: int = 16, context: int = 16384, threads: int | None = None,
                 unified: bool = False):
        import llama_cpp

        self._lib = llama_cpp
        quiet()
        llama_cpp.llama_backend_init()
        threads = threads or default_threads()
        self._model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params())
        if not self._model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context
        params.n_batch = params.n_ubatch = 2048
        params.n_seq_max = slots
        params.n_threads = params.n_threads_batch = threads
        # A KV buffer per slot: each answer's attention reads its own tokens only. On the 2-core CPU, 32 eval rows of
        # up to 512 new tokens, 16 slots: 110.8 new tokens/s, against 92.5 with one buffer shared by all (which was
        # ahead at 256 tokens, 129 against 104, and falls behind as the answers grow).
        params.kv_unified = unified
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if FLASH_ATTENTION else
                                  llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            raise RuntimeError(f"llama.cpp could not make a context of {context} tokens for {slots} answers")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.slots = slots
        self.context = context
        self.unified = unified
        self.vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._batch_size = params.n_batch

    def close(self) -> None:
        if getattr(self, "_ctx", None):
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._lib.llama_model_free(self._model)
            self._ctx = None

    def __del__(self):
        try:
            self.close()
        except TypeError:  # at interpreter exit llama_cpp's functions may be gone already
            pass

    def answers(self, prompts: list[list[int]], max_new_tokens: int, stop_ids: list[int],
                temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
                guides: list | None = None, stop: Callable[[list[int]], bool] | None = None,
                ) -> Iterator[tuple[int, list[int]]]:
        """`(index, new token ids)` of each prompt, as each answer ends: at a token of `stop_ids` (left out), when
        `stop(new ids)` says so (the token kept), or after `max_new_tokens`."""
        import numpy as np
        import torch

        longest = max((len(p) for p in prompts), default=0)
        room = self.context if self.unified else self.context // self.slots
        if longest + max_new_tokens > room:
            raise ValueError(f"a prompt of {longest} tokens and {max_new_tokens} new ones do not fit the "
                             f"{room} tokens each answer has: a larger context or fewer slots")
        lib, stops = self._lib, set(stop_ids)
        lib.llama_memory_clear(self._memory, True)
        waiting = list(range(len(prompts)))[::-1]
        active: dict[int, _Slot] = {}
        free = list(range(self.slots))[::-1]
        while waiting or active:
            # Fill the free slots with new prompts, as many as one call reads.
            budget = self._batch_size - len(active)
            if SLOTS_IN_ORDER:
                free.sort(reverse=True)  # the lowest free slot first
            while waiting and free and len(prompts[waiting[-1]]) <= budget:
                index = waiting.pop()
                generator = torch.Generator().manual_seed(seed + index) if temperature > 0 else None
                slot = _Slot(index, prompts[index], pending=list(prompts[index]), generator=generator,
                             guide=guides[index] if guides else None)
                active[free.pop()] = slot
                budget -= len(slot.prompt)
            if not active:
                raise ValueError(f"a prompt of {len(prompts[waiting[-1]])} tokens does not fit one llama.cpp "
                                 f"call of {self._batch_size}")
            # One call: each slot's pending tokens, logits only at each slot's last, in the order of the slots (see
            # `_compact`).
            batch, n, last = self._batch, 0, {}
            for seq, slot in sorted(active.items()) if SLOTS_IN_ORDER else active.items():
                for offset, token in enumerate(slot.pending):
                    batch.token[n] = token
                    batch.pos[n] = slot.position + offset
                    batch.n_seq_id[n] = 1
                    batch.seq_id[n][0] = seq
                    batch.logits[n] = offset == len(slot.pending) - 1
                    n += 1
                last[seq] = n - 1
                slot.position += len(slot.pending)
            batch.n_tokens = n
            status = lib.llama_decode(self._ctx, batch)
            if status != 0:
                raise RuntimeError(f"llama.cpp's decode failed (status {status}): the {self.context}-token "
                                   "context is full; fewer slots or a larger context")
            sequences = {seq: torch.tensor([slot.prompt + slot.new]) for seq, slot in active.items()
                         if slot.guide is not None}
            if len(sequences) > 1:  # every guided answer's mask in one parallel call
                from studio.guided.decoding import fill_together

                fill_together([(active[seq].guide, ids) for seq, ids in sequences.items()], self.vocab)
            for seq in list(active):
                slot = active[seq]
                row = np.ctypeslib.as_array(lib.llama_get_logits_ith(self._ctx, last[seq]), shape=(self.vocab,))
                token = self._pick(row, slot, temperature, top_p, sequences.get(seq))
                finished = token in stops
                if not finished:
                    slot.new.append(token)
                    slot.pending = [token]
                    finished = len(slot.new) >= max_new_tokens or bool(stop and stop(slot.new))
                if finished:
                    lib.llama_memory_seq_rm(self._memory, seq, -1, -1)
                    del active[seq]
                    free.append(seq)
                    yield slot.index, slot.new
            if SLOTS_IN_ORDER and not waiting and not self.unified:
                self._compact(active, free)

    def _compact(self, active: dict[int, _Slot], free: list[int]) -> None:
        """Move the answers in the highest slots into the free ones below them, so that the slots decoding are
        0..n-1. llama.cpp splits a call into one pass of the whole model per run of consecutive slots (with a KV
        buffer per slot, each pass must hold consecutive sequences, in order); once no prompt waits, finished
        answers leave such holes. Each move copies an answer's KV buffer (`SLOTS_IN_ORDER`'s figures include the
        copies; the per-call figures that found it are in bench/sweeps/results/eval-engine-cpu.md)."""
        while free and active and min(free) < max(active):
            hole, top = min(free), max(active)
            self._lib.llama_memory_seq_cp(self._memory, top, hole, -1, -1)
            self._lib.llama_memory_seq_rm(self._memory, top, -1, -1)
            active[hole] = active.pop(top)
            free.remove(hole)
            free.append(top)

    @staticmethod
    def _pick(row, slot: _Slot, temperature: float, top_p: float, sequence=None) -> int:
        import numpy as np
        import torch

        if slot.guide is None and temperature <= 0:
            return int(np.argmax(row))
        scores = torch.from_numpy(row.copy()).unsqueeze(0)
        if slot.guide is not None:
            scores = slot.guide(sequence if sequence is not None else torch.tensor([slot.prompt + slot.new]), scores)
        return generation.pick_token(scores[0], temperature, top_p, slot.generator)
