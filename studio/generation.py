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

# Tokens that end an assistant turn in the chat templates the studio meets (ChatML, Llama 3, Phi).
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


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
    # An answer is one fenced block: stop when the generated text closes its first fence (a fence in the
    # prompt does not count), as well as at the end of the turn.
    stop_at_fence: bool = True

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
            "eos_token_id": end_of_turn_ids(tokenizer),
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            # Explicit, so a generation_config.json asking for sampling does not turn greedy runs random.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


def end_of_turn_ids(tokenizer) -> list[int]:
    """The tokenizer's end-of-sequence token and every end-of-turn token it knows: a chat model ends its turn
    with `<|im_end|>` even where its EOS is `<|endoftext|>` (SmolLM2)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    # Token by token rather than through get_vocab(), which copies the whole vocabulary (65 ms for SmolLM2's 49k
    # tokens): guided decoding asks for these at every step.
    for token in END_OF_TURN:
        i = tokenizer.convert_tokens_to_ids(token)
        if isinstance(i, int) and tokenizer.convert_ids_to_tokens(i) == token:
            ids.append(i)
    return list(dict.fromkeys(ids))


def closes_fence(text: str) -> bool:
    """Whether `text` holds a fenced block that is closed: an opening fence line, then a line of just ```.

    >>> closes_fence("Here:\n```hcl\nresource \"a\" \"b\" {}\n```"), closes_fence("```hcl\nvariable \"x\" {}\n")
    (True, False)
    """
    opened = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("```"):
            continue
        if opened and stripped == "```":
            return True
        opened = True
    return False


class StopAtClosingFence:
    """A transformers stopping criterion: a row is done once its generated text (after `prompt_length`) closes a
    fence. It decodes a row only when its newest token holds a backtick, so it costs little per step."""

    def __init__(self, tokenizer, prompt_length: int):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.backticks = _backtick_ids(tokenizer)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if input_ids.shape[1] <= self.prompt_length:
            return done
        for row, last in enumerate(input_ids[:, -1].tolist()):
            if last in self.backticks:
                text = self.tokenizer.decode(input_ids[row, self.prompt_length:], skip_special_tokens=True)
                done[row] = closes_fence(text)
        return done


_BACKTICKS: dict[int, frozenset[int]] = {}


def pick_token(scores, temperature: float, top_p: float, generator=None) -> int:
    """The next token from one row of logits (a 1-D tensor): the most likely (greedy) or a draw at `temperature`
    within the `top_p` nucleus, from `generator` (the same seed draws the same tokens). Compare's panes and the
    llama.cpp engine pick their tokens with it."""
    import torch

    if temperature <= 0:
        return int(scores.argmax())
    scores = scores.float() / temperature
    if top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True)
        probabilities = ordered.softmax(-1)
        # Drop the tail whose mass lies beyond top_p; the most likely token always stays.
        scores[order[probabilities.cumsum(-1) - probabilities > top_p]] = float("-inf")
    return int(torch.multinomial(scores.softmax(-1), 1, generator=generator))


def _backtick_ids(tokenizer) -> frozenset[int]:
    key = id(tokenizer)
    if key not in _BACKTICKS:
        _BACKTICKS[key] = frozenset(i for token, i in tokenizer.get_vocab().items() if "`" in token)
    return _BACKTICKS[key]


def _stopping(tokenizer, settings: "Settings", prompt_length: int) -> dict:
    if not settings.stop_at_fence:
        return {}
    from transformers import StoppingCriteriaList

    return {"stopping_criteria": StoppingCriteriaList([StopAtClosingFence(tokenizer, prompt_length)])}


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The chat rendered through the model's own template, ending where the assistant begins."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _device_of(model):
    return next(model.parameters()).device


def guidance(tokenizer, settings: Settings, kinds: list[str | None] | None, workers: int = 0) -> dict:
    """The `generate` keyword arguments of schema-guided decoding for these rows (none when it is off); `workers`:
    processes that compute the masks (`studio.guided.shards`; 0: this one)."""
    if not settings.guided:
        return {}
    from studio.guided.decoding import processors_for

    return processors_for(tokenizer, kinds, guided=True, budget=settings.max_new_tokens, workers=workers)


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
                               **_stopping(tokenizer, settings, inputs["input_ids"].shape[1]),
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
    decoder: str = "transformers"  # which decoder wrote the answers (DECODERS)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


# Who decodes a batch: "transformers" (`model.generate`), "studio" (studio.decoder: the adapter merged into a
# plain decoder with a static KV cache, each step one CUDA graph on a GPU, guided or not), or "auto": the studio's
# decoder on a GPU wherever it applies (greedy or plain temperature sampling; Llama and Qwen2 families), since
# `generate` on the H200 device decoded a 135M model's 121 eval answers at about 100 new tokens/s.
DECODERS = ("auto", "transformers", "studio")


def studio_decoder(model, settings: Settings, decoder: str = "auto"):
    """The studio's decoder, synced with `model`'s weights as they are now (an adapter switched off stays off),
    for decoding with `settings`; None where `model.generate` should decode."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, not {decoder!r}")
    if decoder == "transformers" or (decoder == "auto" and _device_of(model).type != "cuda"):
        return None
    from studio import decoder as plain

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    why_not = plain.supports(base.config, top_p=settings.top_p if settings.temperature > 0 else 1.0)
    if why_not:
        if decoder == "studio":
            raise ValueError(f"The studio's decoder does not handle {why_not}; use decoder='transformers'.")
        return None
    engine = plain.Rollout.for_model(model)
    engine.sync(model)
    return engine


def cut_at_fence(tokenizer, ids: list[int]) -> list[int]:
    """`ids` up to the token that closes the answer's first fence (where `StopAtClosingFence` stops `generate`)."""
    backticks = _backtick_ids(tokenizer)
    for end, token in enumerate(ids, 1):
        if token in backticks and closes_fence(tokenizer.decode(ids[:end], skip_special_tokens=True)):
            return ids[:end]
    return ids


def generate(model, tokenizer, chats: list[list[dict]], settings: Settings = Settings(), batch_size: int = 8,
             kinds: list[str] | None = None, decoder: str = "auto") -> Batch:
    """Answers for many chats, in order, `batch_size` at a time with left padding; `kinds` (one per chat) name
    the grammars of guided answers (None: read from each system prompt); `decoder` says who decodes (DECODERS:
    both give the same greedy answers)."""
    import torch

    engine = studio_decoder(model, settings, decoder)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    answers, new_tokens, started = [], 0, time.perf_counter()
    try:
        for start in range(0, len(chats), batch_size):
            texts = [prompt_text(tokenizer, chat) for chat in chats[start : start + batch_size]]
            chunk_kinds = kinds[start : start + batch_size] if kinds else None
            if engine is not None:
                prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
                # on a GPU the masks of a step come from worker processes while the card computes it
                workers = 0
                if settings.guided:
                    from studio.guided.shards import default_workers

                    workers = default_workers(len(texts), engine.device)
                processor = guidance(tokenizer, settings, chunk_kinds, workers).get("logits_processor")
                torch.manual_seed(settings.seed + start)
                for ids in engine.generate(prompts, settings.max_new_tokens, settings.temperature,
                                           end_of_turn_ids(tokenizer), tokenizer.pad_token_id,
                                           logits_processor=processor):
                    ids = cut_at_fence(tokenizer, ids) if settings.stop_at_fence else ids
                    new_tokens += sum(token != tokenizer.pad_token_id for token in ids)
                    answers.append(tokenizer.decode(ids, skip_special_tokens=True))
                continue
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            inputs = {key: value.to(_device_of(model)) for key, value in inputs.items()}
            torch.manual_seed(settings.seed + start)
            with torch.inference_mode():
                output = model.generate(**inputs, **settings.generate_kwargs(tokenizer),
                                        **_stopping(tokenizer, settings, inputs["input_ids"].shape[1]),
                                        **guidance(tokenizer, settings, chunk_kinds))
            generated = output[:, inputs["input_ids"].shape[1] :]
            for row in generated:
                keep = row[row != tokenizer.pad_token_id] if tokenizer.pad_token_id is not None else row
                new_tokens += int(keep.numel())
                answers.append(tokenizer.decode(keep, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
    return Batch(answers, new_tokens, time.perf_counter() - started, "transformers" if engine is None else "studio")
