"""Rows as the model sees them in training: the chat template's text, which part carries the loss, how long.

    >>> from studio import dataset, dataset_tokens, models
    >>> tokenizer = dataset_tokens.tokenizer_for(models.EMBEDDED)     # loaded once per model name
    >>> row = dataset.read_jsonl("data/train.jsonl")[0]
    >>> seen = dataset_tokens.render(row, tokenizer, max_length=1024)
    >>> seen.prompt_tokens, seen.completion_tokens, seen.cut_tokens
    (88, 134, 0)
    >>> print(seen.completion_text)          # what the loss falls on: the answer and the end-of-turn marker
    ```hcl
    resource "aws_db_instance" "ledger" {
    ...
    >>> lengths = dataset_tokens.token_lengths(dataset.read_jsonl("data/eval.jsonl"), tokenizer)
    >>> dataset_tokens.length_stats(lengths, max_length=1024)["over"]
    0

A row is tokenized exactly as TRL's SFTTrainer tokenizes the prompt-completion pairs the SFT job gives it
(`dataset.to_prompt_completion`): the prompt (system and user turns) through the chat template with the
generation prompt, the whole conversation through it without; the completion starts where the two token
lists part, and only its tokens carry the loss. Rows longer than the training max length are cut at the end
(TRL's default `truncation_mode="keep_start"`), so the end of a long answer is never learned.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
import weakref
from dataclasses import dataclass

from studio import dataset, models

DEFAULT_MAX_LENGTH = 1024

_TOKENIZERS: dict[str, object] = {}
_TOKENIZERS_LOCK = threading.Lock()
# Per tokenizer object, so a tokenizer that is dropped takes its lengths with it.
_LENGTHS: "weakref.WeakKeyDictionary[object, dict[str, int]]" = weakref.WeakKeyDictionary()


def tokenizer_for(model_name: str, progress: models.Progress | None = None):
    """The tokenizer of `model_name` (a registry name, hub id or folder), loaded once per name.

    The embedded model's tokenizer comes from its materialized folder: the first call converts the model
    (about 30 s on 2 cores, once per workspace).
    """
    name = (model_name or "").strip() or models.EMBEDDED
    with _TOKENIZERS_LOCK:
        if name not in _TOKENIZERS:
            _TOKENIZERS[name] = models.load_tokenizer(name, progress)
        return _TOKENIZERS[name]


def _ids(tokenizer, messages: list[dict], **kwargs) -> list[int]:
    result = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)
    return list(result["input_ids"])


@dataclass(frozen=True)
class Rendering:
    """One row through the chat template: the text of each part and its token count.

    `prompt_text` carries no loss; `completion_text` does; `cut_text` is what lies past the max length and
    is dropped in training (empty when the row fits).
    """

    prompt_text: str
    completion_text: str
    cut_text: str
    prompt_tokens: int
    completion_tokens: int
    cut_tokens: int
    max_length: int | None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.cut_tokens

    @property
    def dropped(self) -> bool:
        """True when the prompt alone fills the max length: no token is left to learn from, and TRL drops
        the row from training."""
        return self.completion_tokens == 0


def split_ids(row: dataset.Row, tokenizer) -> tuple[list[int], int]:
    """The row's token ids and how many of the first ones are prompt (no loss), as TRL computes them."""
    pair = dataset.to_prompt_completion(row)
    prompt_ids = _ids(tokenizer, pair["prompt"], add_generation_prompt=True)
    ids = _ids(tokenizer, pair["prompt"] + pair["completion"])
    # The completion starts where the two tokenizations part (TRL's common_prefix_length): a template that
    # renders the prompt alone differently moves the start back, never forward.
    prompt_length = 0
    for mine, theirs in zip(prompt_ids, ids):
        if mine != theirs:
            break
        prompt_length += 1
    return ids, prompt_length


def render(row: dataset.Row, tokenizer, max_length: int | None = DEFAULT_MAX_LENGTH) -> Rendering:
    """`row` as the model is trained on it, cut at `max_length` tokens (None: never cut)."""
    ids, prompt_length = split_ids(row, tokenizer)
    end = len(ids) if not max_length else min(len(ids), max_length)
    kept_prompt = min(prompt_length, end)

    def text(part: list[int]) -> str:
        return tokenizer.decode(part, skip_special_tokens=False) if part else ""

    return Rendering(
        prompt_text=text(ids[:kept_prompt]),
        completion_text=text(ids[kept_prompt:end]),
        cut_text=text(ids[end:]),
        prompt_tokens=kept_prompt,
        completion_tokens=end - kept_prompt,
        cut_tokens=len(ids) - end,
        max_length=max_length,
    )


def _row_key(row: dataset.Row) -> str:
    material = json.dumps([row.instruction, row.input, row.output, row.kind], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def token_lengths(rows: list[dataset.Row], tokenizer, progress: models.Progress | None = None) -> list[int]:
    """The number of tokens of each row through the chat template, uncut; cached per tokenizer and content."""
    known = _LENGTHS.setdefault(tokenizer, {})
    lengths = []
    for number, row in enumerate(rows):
        key = _row_key(row)
        length = known.get(key)
        if length is None:
            length = known[key] = len(_ids(tokenizer, dataset.to_messages(row)))
        lengths.append(length)
        if progress and number % 100 == 0:
            progress(number / max(1, len(rows)), f"Tokenizing row {number + 1} of {len(rows)}")
    return lengths


def length_stats(lengths: list[int], max_length: int = DEFAULT_MAX_LENGTH) -> dict:
    """Count, min, median, 95th percentile, max, and how many rows are over `max_length`.

    >>> length_stats([100, 200, 300, 1200], max_length=1024)
    {'rows': 4, 'min': 100, 'median': 250.0, 'p95': 1200, 'max': 1200, 'over': 1, 'max_length': 1024}
    """
    if not lengths:
        return {"rows": 0, "min": 0, "median": 0, "p95": 0, "max": 0, "over": 0, "max_length": max_length}
    ordered = sorted(lengths)
    # Nearest-rank percentile: a real row's length, not an interpolation between two.
    p95 = ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))]
    return {
        "rows": len(ordered),
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": p95,
        "max": ordered[-1],
        "over": sum(1 for length in ordered if length > max_length),
        "max_length": max_length,
    }


def length_histogram(lengths_by_group: dict[str, list[int]], max_length: int = DEFAULT_MAX_LENGTH):
    """A plotly histogram of token lengths, one stacked series per group, with the max length as a line."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for group, lengths in lengths_by_group.items():
        if lengths:
            figure.add_trace(go.Histogram(x=lengths, name=group, xbins={"size": 32}))
    all_lengths = [length for lengths in lengths_by_group.values() for length in lengths]
    over = sum(1 for length in all_lengths if length > max_length)
    figure.add_vline(
        x=max_length,
        line_dash="dash",
        line_color="crimson",
        annotation_text=f"max length {max_length}: {over} row{'s' if over != 1 else ''} over",
        annotation_position="top left" if all_lengths and max(all_lengths) > max_length else "top right",
    )
    figure.update_layout(
        barmode="stack",
        xaxis_title="tokens per row (prompt + answer, chat template applied)",
        yaxis_title="rows",
        legend_title_text="",
        margin={"l": 40, "r": 20, "t": 30, "b": 40},
        height=320,
    )
    return figure


def cut_rows_warning(path, model_name: str, max_length: int, completion_length: int | None = None,
                     rows: list[dataset.Row] | None = None) -> str | None:
    """A warning naming how many rows of the JSONL file `path` training would cut, or None when none is cut.

    SFT (`completion_length` None): rows longer than `max_length` lose their end, the closing fence and the
    end-of-turn token included. GRPO (`completion_length` = max_completion_length): reference answers longer than
    that show answers of that length get cut. `rows`: the rows as training will see them, where that is not the
    file as it stands (each with its worked example, `studio.examples`).
    """
    rows = dataset.read_jsonl(path) if rows is None else rows
    tokenizer = tokenizer_for(model_name)
    if completion_length is None:
        lengths = token_lengths(rows, tokenizer)
        over = [n for n in lengths if n > max_length]
        if not over:
            return None
        return (f"{len(over)} of {len(rows)} rows are longer than max_length {max_length} tokens (the longest is "
                f"{max(lengths)}): training cuts their end, the closing fence and end-of-turn included, so the model "
                f"learns answers that never end. Raise max_length to {max(lengths)} or more.")
    answers = [len(ids) - prompt for ids, prompt in (split_ids(row, tokenizer) for row in rows)]
    over = [n for n in answers if n > completion_length]
    if not over:
        return None
    return (f"{len(over)} of {len(rows)} reference answers are longer than max_completion_length {completion_length} "
            f"tokens (the longest is {max(answers)}): answers as long as they are get cut and score low. Raise it to "
            f"{max(answers)} or more.")
