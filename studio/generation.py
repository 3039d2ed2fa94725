"""Generation: one answer streamed token by token, or many answers in batches.

    >>> from studio import models, generation
    >>> model, tokenizer = models.load(models.EMBEDDED)
    >>> messages = chat.messages_for("S3 bucket for logs, versioned", "terraform")
    >>> for text in generation.stream(model, tokenizer, messages, Settings(max_new_tokens=64)):
    ...     print(text)          # the answer so far, growing
    >>> generation.generate(model, tokenizer, [messages, messages], Settings())   # a batch, answers in order
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Settings:
    """How to decode. `temperature` 0 means greedy: the same prompt always gives the same answer. `guided`
    masks every token that would leave the kind's grammar (`studio.guided`): one fenced block of real resource
    types, arguments and fields, then the end of the turn."""

    max_new_tokens: int = 384
    temperature: float = 0.0
    top_p: float = 0.95
    seed: int = 0
    guided: bool = False

    def __post_init__(self):
        if not 1 <= self.max_new_tokens <= 8192:
            raise ValueError(f"max_new_tokens must be between 1 and 8192, not {self.max_new_tokens}")
        if not 0 <= self.temperature <= 5:
            raise ValueError(f"temperature must be between 0 (greedy) and 5, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")

    def generate_kwargs(self, tokenizer) -> dict:
        kwargs = {
            "max_new_tokens": self.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            # Explicit, so a generation_config.json asking for sampling does not turn greedy runs random.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The chat rendered through the model's own template, ending where the assistant begins."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _device_of(model):
    return next(model.parameters()).device


def guidance(tokenizer, settings: Settings, kinds: list[str | None] | None) -> dict:
    """The `generate` keyword arguments of schema-guided decoding for these rows (none when it is off)."""
    if not settings.guided:
        return {}
    from studio.guided.decoding import processors_for

    return processors_for(tokenizer, kinds, guided=True)


def stream(model, tokenizer, messages: list[dict], settings: Settings = Settings(),
           kind: str | None = None) -> Iterator[str]:
    """Yield the answer so far as it grows; the last value is the whole answer. `kind` names the grammar of a
    guided answer (None: read from the system prompt)."""
    import torch
    from transformers import TextIteratorStreamer

    inputs = tokenizer(prompt_text(tokenizer, messages), return_tensors="pt", add_special_tokens=False)
    inputs = {key: value.to(_device_of(model)) for key, value in inputs.items()}
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    failure: list[BaseException] = []

    def run():
        try:
            torch.manual_seed(settings.seed)
            with torch.inference_mode():
                model.generate(**inputs, streamer=streamer, **settings.generate_kwargs(tokenizer),
                               **guidance(tokenizer, settings, [kind] if kind else None))
        except BaseException as error:  # surfaced in the caller's thread below
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    text = ""
    for piece in streamer:
        text += piece
        yield text
    worker.join()
    if failure:
        raise failure[0]


@dataclass
class Batch:
    answers: list[str]
    new_tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def generate(model, tokenizer, chats: list[list[dict]], settings: Settings = Settings(), batch_size: int = 8,
             kinds: list[str] | None = None) -> Batch:
    """Answers for many chats, in order, `batch_size` at a time with left padding; `kinds` (one per chat) name
    the grammars of guided answers (None: read from each system prompt)."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    answers, new_tokens, started = [], 0, time.perf_counter()
    try:
        for start in range(0, len(chats), batch_size):
            texts = [prompt_text(tokenizer, chat) for chat in chats[start : start + batch_size]]
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            inputs = {key: value.to(_device_of(model)) for key, value in inputs.items()}
            torch.manual_seed(settings.seed + start)
            with torch.inference_mode():
                chunk_kinds = kinds[start : start + batch_size] if kinds else None
                output = model.generate(**inputs, **settings.generate_kwargs(tokenizer),
                                        **guidance(tokenizer, settings, chunk_kinds))
            generated = output[:, inputs["input_ids"].shape[1] :]
            for row in generated:
                keep = row[row != tokenizer.pad_token_id] if tokenizer.pad_token_id is not None else row
                new_tokens += int(keep.numel())
                answers.append(tokenizer.decode(keep, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
    return Batch(answers, new_tokens, time.perf_counter() - started)
