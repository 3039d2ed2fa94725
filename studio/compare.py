"""Answers for the Compare tab: a request in, the model's answer streamed out, with its speed.

    >>> from studio.compare import stream_answer
    >>> for partial in stream_answer(models.EMBEDDED, "terraform", "S3 bucket for logs, versioned"):
    ...     print(partial.text, partial.tokens_per_second)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

from studio import chat, generation, models


@dataclass(frozen=True)
class Partial:
    """The answer so far; `done` on the last one, when `tokens` is exact."""

    text: str
    seconds: float
    tokens: int = 0
    done: bool = False

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def stream_answer(
    model_name: str,
    kind: str,
    instruction: str,
    input_text: str = "",
    settings: generation.Settings = generation.Settings(),
    progress: models.Progress | None = None,
) -> Iterator[Partial]:
    if not instruction.strip():
        raise ValueError("Type a request first, for example: 'An S3 bucket for logs with versioning enabled'.")
    model, tokenizer = models.CACHE.get(model_name, progress=progress)
    messages = chat.messages_for(instruction, kind, input_text)
    started = time.perf_counter()
    text = ""
    for text in generation.stream(model, tokenizer, messages, settings):
        yield Partial(text, time.perf_counter() - started)
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    yield Partial(text, time.perf_counter() - started, tokens, done=True)
