"""Answers for the Compare tab: one request, the base and the fine-tuned answers growing side by side.

    >>> from studio import compare, generation, models
    >>> tuned = compare.fine_tuned("workspace/runs/sft-1/adapter")      # or a merged export's folder
    >>> for base, right in compare.stream_pair(models.EMBEDDED, tuned, "terraform",
    ...                                        "S3 bucket for logs, versioned", settings=generation.Settings()):
    ...     print(base.text, "|", right.text)      # both answers so far; the last pair has .done and .report
    >>> for partial in compare.stream_answer(models.EMBEDDED, "terraform", "S3 bucket for logs, versioned"):
    ...     print(partial.text, partial.tokens_per_second)               # one model alone

With an adapter, both answers come from one copy of the weights: the base pane's steps run with the LoRA layers
switched off (`AdapterSwitch`, what PEFT's `disable_adapter()` does, made cheap), the fine-tuned pane's with
them on. One decode loop steps the two answers in turn, each with
its own KV cache, so both panes grow together and no two threads ever toggle the adapter of one model. Greedy
answers are token for token those of `generation.generate` on the plain model (tests/compare checks it).

On a machine without a GPU the steps run in llama.cpp (`engine()`), on F16 GGUFs of the same weights that the
studio's exporter writes once into `cache/gguf/` (the base, and the adapter merged): 4.4x faster on a 2-core CPU,
with the same greedy answer on 7 of 8 eval requests at 160 tokens (`_LlamaLane`). The token is still picked here,
so sampling, seeds and schema guidance work the same on both engines.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from studio import access, adapters, chat, dataset, generation, llama_engine, models, workspace
from studio import examples as worked_examples  # compare.examples: the Compare tab's example requests
from studio.iac import Report, validate

EVAL_SPLIT = workspace.SEED_DATA / "eval.jsonl"
LEFT, RIGHT = "base", "fine-tuned"

# Held for each decoding step: the adapter switch is a flag on the shared weights, so two comparisons running
# at once (two browser tabs) must not interleave inside a step. Steps of the two interleave freely.
_STEP_LOCK = threading.Lock()


@dataclass(frozen=True)
class Partial:
    """The answer so far; `done` on the last one, when `tokens` is exact and `report` holds the verdicts."""

    text: str
    seconds: float
    tokens: int = 0
    done: bool = False
    report: Report | None = None

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class FineTuned:
    """What the right pane runs: a LoRA adapter on the base weights, or a merged export with weights of its own."""

    path: Path
    merged: bool

    @property
    def label(self) -> str:
        kind = "merged export" if self.merged else "adapter"
        name = self.path.parent.name if self.path.name == "adapter" else self.path.name
        return f"{name} ({kind})"


def fine_tuned(choice: str | Path | None) -> FineTuned | None:
    """The fine-tuned model named by the Compare tab's second box, or None for the base alone.

    Accepts a run's name (`sft-1`, its `adapter/` is used), an adapter folder (it holds `adapter_config.json`)
    or a merged export (a model folder holding `config.json`).

    >>> fine_tuned("") is None
    True
    """
    text = str(choice or "").strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.exists():
        try:
            run = workspace.inside(workspace.runs_dir(), text)
        except workspace.UnsafeName:
            run = None
        if run is not None and (run / "adapter").is_dir():
            path = run / "adapter"
    if not access.current().is_owner and not _in_workspace(path):
        raise models.ModelUnavailable("Visitors compare the runs' adapters and the exports of this studio; "
                                      f"{text!r} is not one of them.")
    if (path / "adapter_config.json").is_file():
        return FineTuned(path.resolve(), merged=False)
    if (path / "config.json").is_file():
        return FineTuned(path.resolve(), merged=True)
    raise models.ModelUnavailable(
        f"{text!r} is neither a run with an adapter, an adapter folder (adapter_config.json) nor a merged "
        "model folder (config.json)."
    )


def _in_workspace(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(base.resolve()) for base in (workspace.runs_dir(), workspace.exports_dir()))


def base_model_of(tuned: FineTuned) -> str | None:
    """The base model an adapter was trained on (the studio's name for it); None for a merged export."""
    if tuned.merged:
        from studio.export.build import read_export

        # An export's merged/ folder: the adapter of the run it was exported from names the base.
        export = read_export(tuned.path.parent) if tuned.path.name == "merged" else None
        if export is None:
            return None
        try:
            return adapters.read(workspace.inside(workspace.runs_dir(), export.run) / "adapter").base_model or None
        except (OSError, ValueError):
            return None
    return adapters.read(tuned.path).base_model or None


def fine_tuned_choices() -> list[tuple[str, str]]:
    """(label, folder) for every run adapter, then every merged export, newest first, for a dropdown."""
    from studio.export.build import list_exports

    found = [(adapter.label, str(adapter.path)) for adapter in adapters.find()]
    for export in list_exports():
        if (export.folder / "merged" / "config.json").is_file():
            found.append((f"{export.name} (merged export of {export.run})", str(export.folder / "merged")))
    return found


def examples(path: Path = EVAL_SPLIT) -> list[dataset.Row]:
    """The held-out rows the Compare tab offers as example requests (their intent is then checked too)."""
    try:
        return dataset.read_jsonl(path)
    except (OSError, dataset.DatasetError):
        return []


def intent_for(example: dict | None, kind: str, instruction: str, input_text: str = "") -> dict | None:
    """The example row's intent when the request is still that row's, else None (a typed request has none).

    >>> row = {"instruction": "A bucket", "input": "", "kind": "terraform", "intent": {"require": []}}
    >>> intent_for(row, "terraform", "A bucket")
    {'require': []}
    >>> intent_for(row, "terraform", "A bucket, versioned") is None
    True
    """
    if not example:
        return None
    same = (
        example.get("kind") == kind
        and (example.get("instruction") or "").strip() == (instruction or "").strip()
        and (example.get("input") or "").strip() == (input_text or "").strip()
    )
    return example.get("intent") if same else None


# -- decoding --------------------------------------------------------------------------------------------


class AdapterSwitch:
    """Turns a PEFT model's LoRA layers off and on again, fast enough to do at every decoding step.

    `with model.disable_adapter():` does the same but first walks all modules and computes the model's status:
    55 ms a step on the embedded model (210 LoRA layers among 2,499 modules), against 12 ms for flipping the
    layers found once. Adapters that are not layer-based (prompt learning) take PEFT's own way.
    """

    def __init__(self, model):
        from peft.tuners.tuners_utils import AuxiliaryTrainingWrapper, BaseTunerLayer

        self.model = model
        config = model.peft_config[model.active_adapter]
        self.layered = not (config.is_prompt_learning or getattr(config, "is_adaption_prompt", False))
        wrappers = (BaseTunerLayer, AuxiliaryTrainingWrapper)
        # The modules PEFT's own enable/disable_adapter_layers flip, found once.
        self.layers = [m for m in model.modules() if isinstance(m, wrappers)] if self.layered else []

    @contextlib.contextmanager
    def off(self):
        if not self.layered:
            with self.model.disable_adapter():
                yield
            return
        for layer in self.layers:
            layer.enable_adapters(False)
        try:
            yield
        finally:
            for layer in self.layers:
                layer.enable_adapters(True)


@dataclass
class _Lane:
    """One answer being decoded: its model, whether its adapter is on, its cache and its tokens."""

    model: object
    adapter: bool | None  # True: the PEFT adapter on; False: off (the base); None: a plain model
    switch: AdapterSwitch | None = None
    generator: object = None
    cache: object = None
    next_ids: object = None
    tokens: list | None = None
    seconds: float = 0.0
    done: bool = False
    guide: object = None  # a studio.guided GuidedLogitsProcessor when this pane is guided by the schema

    @property
    def device(self):
        return next(self.model.parameters()).device

    def logits(self, input_ids):
        if self.adapter is False:
            with self.switch.off():
                output = self.model(input_ids=input_ids, past_key_values=self.cache, use_cache=True)
        else:
            output = self.model(input_ids=input_ids, past_key_values=self.cache, use_cache=True)
        self.cache = output.past_key_values
        return output.logits[:, -1, :]


class _LlamaLane(_Lane):
    """A lane whose steps run in llama.cpp on an F16 GGUF of the same weights (`llama_engine.gguf_for`): on a 2-core CPU it
    decodes 79.9 new tokens/s against 18.2 for transformers fp32 and keeps today's greedy answer on 7 of 8 eval
    requests at 160 tokens (`python bench/cpu_answer.py --prompts 8`, 2026-12-04; the embedded Q4_1 file is faster
    but keeps 1 of 8). The token is still picked by `generation.pick_token`, with the same seeded generator, on llama.cpp's logits."""

    device = "cpu"

    def logits(self, input_ids):
        import llama_cpp
        import numpy as np
        import torch

        ids = input_ids[0].tolist()
        if self.cache is None:  # a new answer: the prompt from the start
            self.model.reset()
            self.cache = True
        self.model.eval(ids)
        row = llama_cpp.llama_get_logits_ith(self.model.ctx, -1)
        return torch.from_numpy(np.ctypeslib.as_array(row, shape=(self.model.n_vocab(),)).copy()).unsqueeze(0)


def engine() -> str:
    """Which engine Compare decodes with: `INFRAMIND_COMPARE_ENGINE` (llama.cpp, transformers) or, by default,
    llama.cpp on a machine without a GPU where llama-cpp-python is installed, else transformers."""
    import os

    wanted = os.environ.get("INFRAMIND_COMPARE_ENGINE", "auto")
    if wanted in ("llama.cpp", "transformers"):
        return wanted
    return "llama.cpp" if models.device() == "cpu" and llama_engine.available() else "transformers"


def _llama(lane: _Lane, tokenizer, key: str, progress: models.Progress | None):
    """A llama.cpp model of the lane's weights; a new one per comparison (it holds that answer's KV cache)."""
    import os

    if progress:
        progress(0.9, "Preparing the llama.cpp copy of the weights")
    path = llama_engine.gguf_for(lane.model, tokenizer, key, adapter=lane.adapter is not False)
    threads = max(1, min(4, os.cpu_count() or 1))
    return llama_engine.open_llama(path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)


def _visible(tokenizer, tokens: list[int]) -> str:
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    # A character split over two tokens decodes as U+FFFD until its second half arrives.
    return text.rstrip("\ufffd")


def decode_side_by_side(lanes: list[_Lane], tokenizer, messages: list[dict],
                        settings: generation.Settings = generation.Settings(),
                        guided: tuple[bool, ...] = (), kind: str | None = None) -> Iterator[list[Partial]]:
    """Decode every lane's answer to `messages`, one token of each in turn; yield all answers after each round.

    Each lane keeps its own KV cache. Sampled lanes draw from generators seeded alike, so two models given the
    same settings are compared on the same random numbers. `guided[i]` guides lane i by the schema grammar of
    `kind` (studio.guided): each pane has its own switch.
    """
    import torch

    prompt = tokenizer(generation.prompt_text(tokenizer, messages), return_tensors="pt", add_special_tokens=False)
    device = lanes[0].device
    stop = tokenizer.eos_token_id
    for lane in lanes:
        lane.next_ids = prompt["input_ids"].to(device)
        lane.tokens = []
        lane.generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    for lane, on in zip(lanes, guided):
        if on:
            from studio.guided.decoding import GuidedLogitsProcessor

            lane.guide = GuidedLogitsProcessor(tokenizer, [kind] if kind else None, budget=settings.max_new_tokens)
    for _ in range(settings.max_new_tokens):
        for lane in lanes:
            if lane.done:
                continue
            started = time.perf_counter()
            with _STEP_LOCK, torch.inference_mode():
                logits = lane.logits(lane.next_ids)
                if lane.guide is not None:
                    # The processor reads the whole sequence so far, as in `generate`: the prompt on its first call,
                    # then each token it has not seen yet.
                    sequence = prompt["input_ids"] if not lane.tokens else torch.cat(
                        [prompt["input_ids"], torch.tensor([lane.tokens])], dim=1)
                    logits = lane.guide(sequence, logits.float())
            token = generation.pick_token((logits.cpu() if settings.temperature > 0 else logits)[0],
                                           settings.temperature, settings.top_p, lane.generator)
            lane.seconds += time.perf_counter() - started
            if token == stop:
                lane.done = True
                continue
            lane.tokens.append(token)
            lane.next_ids = torch.tensor([[token]], device=device)
        if all(lane.done for lane in lanes):
            break
        yield [Partial(_visible(tokenizer, lane.tokens), lane.seconds, len(lane.tokens)) for lane in lanes]
    for lane in lanes:
        lane.done, lane.cache = True, None  # the caches are the largest thing a comparison holds
    yield [Partial(_visible(tokenizer, lane.tokens), lane.seconds, len(lane.tokens), done=True) for lane in lanes]


def _lanes(base_model: str, tuned: FineTuned | None, progress: models.Progress | None):
    lanes, tokenizer = _transformers_lanes(base_model, tuned, progress)
    if engine() != "llama.cpp":
        return lanes, tokenizer
    try:
        keys = [llama_engine.weights_key(base_model)]
        if tuned:
            keys.append(llama_engine.weights_key(base_model, tuned.path))
        return [_LlamaLane(_llama(lane, tokenizer, key, progress), None) for lane, key in zip(lanes, keys)], tokenizer
    except Exception as error:  # an architecture the exporter does not write, a full disk: today's path
        print(f"[compare] llama.cpp not used ({error}); decoding with transformers", flush=True)
        return lanes, tokenizer


def _transformers_lanes(base_model: str, tuned: FineTuned | None, progress: models.Progress | None):
    if tuned is None:
        model, tokenizer = models.CACHE.get(base_model, progress=progress)
        return [_Lane(model, None)], tokenizer
    if tuned.merged:
        (base, tokenizer), (merged, _) = models.CACHE.get_many([(base_model, None), (str(tuned.path), None)],
                                                               progress=progress)
        return [_Lane(base, None), _Lane(merged, None)], tokenizer
    model, tokenizer = models.CACHE.get(base_model, adapter=tuned.path, progress=progress)
    return [_Lane(model, False, AdapterSwitch(model)), _Lane(model, True)], tokenizer


def stream_pair(
    base_model: str,
    tuned: FineTuned | None,
    kind: str,
    instruction: str,
    input_text: str = "",
    settings: generation.Settings = generation.Settings(),
    intent: dict | None = None,
    progress: models.Progress | None = None,
    guided: tuple[bool, bool] = (False, False),
) -> Iterator[tuple[Partial, Partial | None]]:
    """`(base, fine_tuned)` answers so far, both growing; `fine_tuned` is None when no fine-tuned model is given.

    The last pair is `done` and carries each answer's validation `report` (intent checked when given).
    `guided` switches schema-guided decoding on per pane: (base, fine-tuned).
    """
    if not instruction.strip():
        raise ValueError("Type a request first, for example: 'An S3 bucket for logs with versioning enabled'.")
    lanes, tokenizer = _lanes(base_model or models.EMBEDDED, tuned, progress)
    # A fine-tuned model trained with worked examples is asked with its nearest one, and so is the base beside it.
    input_text = worked_examples.request_input(tuned.path if tuned else None, instruction, kind, input_text)
    messages = chat.messages_for(instruction, kind, input_text)
    answers: list[Partial] = []
    for answers in decode_side_by_side(lanes, tokenizer, messages, settings, guided=tuple(guided), kind=kind):
        if answers[0].done:
            break
        yield answers[0], (answers[1] if len(answers) > 1 else None)
    checked = [
        Partial(a.text, a.seconds, a.tokens, done=True, report=validate(a.text, kind, intent)) for a in answers
    ]
    yield checked[0], (checked[1] if len(checked) > 1 else None)


def stream_answer(
    model_name: str,
    kind: str,
    instruction: str,
    input_text: str = "",
    settings: generation.Settings = generation.Settings(),
    progress: models.Progress | None = None,
) -> Iterator[Partial]:
    """One model's answer, streamed through `generation.stream` (the `/generate` API endpoint)."""
    if not instruction.strip():
        raise ValueError("Type a request first, for example: 'An S3 bucket for logs with versioning enabled'.")
    model, tokenizer = models.CACHE.get(model_name, progress=progress)
    messages = chat.messages_for(instruction, kind, worked_examples.request_input(model_name, instruction, kind,
                                                                                 input_text))
    started = time.perf_counter()
    text = ""
    for text in generation.stream(model, tokenizer, messages, settings, kind=kind):
        yield Partial(text, time.perf_counter() - started)
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    yield Partial(text, time.perf_counter() - started, tokens, done=True, report=validate(text, kind))
