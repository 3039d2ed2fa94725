"""Schema-guided decoding: a transformers logits processor that masks every token leaving the grammar.

    >>> from studio.guided.decoding import GuidedLogitsProcessor
    >>> processor = GuidedLogitsProcessor(tokenizer, kinds=["terraform", "kubernetes"])   # one kind per row
    >>> model.generate(**inputs, logits_processor=[processor])   # each answer: one fenced block, then end of turn

Each row of the batch gets a matcher of its kind's grammar (`kinds=None`: the kind is read from the row's
system prompt, which is how GRPO's rollouts are guided: TRL's generate call names no kinds). At every step the
matchers take the token sampled last, then fill a bitmask of the tokens allowed next, in parallel threads;
the mask is expanded and applied where the logits are (CPU or GPU). A row whose grammar is complete may only
end its turn; a row that finished keeps its pad tokens untouched.

With a token budget (`budget`, the answer's max_new_tokens: `generate`, the evaluation and Compare pass theirs), a
guided answer also ends whole: at each point where the grammar would let the fence close (after a complete
Terraform block, or a complete YAML line), the row remembers how many tokens its longest stretch between two such
points took; once fewer tokens than that (and CLOSE_MARGIN) are left, the fence closes there, instead of the
budget cutting the next block in half. In the last FINISH_WITHIN tokens an answer still inside a block (a model
repeating one argument line until the budget ends, the commonest cut seen on the eval split) is walked out of it:
each step allows only the first closer the grammar takes there, in the order of `_closers` (inside a string its
quote; else `}`, `]`, `)`, then a newline unless the line is blank; in YAML and in comments only the newline,
brackets being text there), and the fence closes at the first point it may, so the answer ends whole rather than cut
mid-line. Where no closer is allowed (the grammar keeps a block open until the arguments its schema requires are
written; a name waits for its `=`, a header for its label), a Terraform answer writes what its block lacks (a name
begun goes on to the one it began), else the token that completes the construct soonest (`_finishers`: `=`, `{`, a
quote); in a heredoc, its marker on a line of its own. Inside a Terraform block the walk-out may begin earlier, at
a line where a block may close (or lacks only arguments the walk-out writes), once the tokens left would not hold the
longest stretch between two such lines and the last FINISH_WITHIN (`BLOCK_ENDING`).

Beside the grammar, a row may not write a name twice where the validator refuses it (`studio.guided.repeats`): a
Terraform block under a type and name already declared, a YAML key its mapping already holds; nor close a block or
leave a mapping that lacks a name its schema requires (where the model's likeliest token was that `}`, or began a
YAML line left of the mapping, the line may only begin a name the block or mapping lacks), except in the last
FINISH_WITHIN tokens.

Two engines: llguidance (the default: it compiles the 1.4 MB Terraform grammar in seconds and computes masks
lazily) and xgrammar (precompiles a mask cache per grammar and tokenizer: faster per step, much slower to
start; `bench/guided.py` measures both). A compiled grammar is kept per tokenizer and kind for the process.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
import weakref

from studio.chat import SYSTEM_PROMPTS
from studio.guided.grammars import grammar
from studio.guided.repeats import in_comment

ENGINES = ("llguidance", "xgrammar")
DEFAULT_ENGINE = "llguidance"
# Measured on the seed: the default limits stop the Kubernetes grammar's parser on deep manifests.
_LIMITS = dict(step_lexer_fuel=2_000_000, step_max_items=500_000, max_items_in_row=20_000)

# Tokens kept in hand beyond the row's longest stretch between two points where the fence may close.
CLOSE_MARGIN = 16
# The last tokens of the budget, where an answer is walked out of whatever it is inside: ten levels of brackets, or a
# block that first writes the arguments and nested blocks its schema requires (with 24, answers of the cpu recipe's
# model were still inside such a block when the budget ended, eighth session).
FINISH_WITHIN = 40
# In the walk-out, a block that lacks at most WRITE_MISSING of the arguments its schema requires writes them before
# its `}` where the tokens left hold MISSING_TOKENS for each, two for each block still open and four more: on the cpu
# recipe's model, Terraform answers lacking a required argument 7 to 2 of 72 (ninth session).
WRITE_MISSING, MISSING_TOKENS = 2, 14
# Off only to measure what it changes (`bench/eval_engine.py --no-budget-ending`).
BUDGET_ENDING = True
# No Terraform label declared twice, no YAML key repeated in its mapping (`studio.guided.repeats`); off only to
# measure what it changes (`bench/eval_engine.py --no-repeat-bans`).
REPEAT_BANS = True
# No Terraform block closed, and no YAML mapping left, while a name its schema requires is missing (with the steering
# to the missing name, `studio.guided.repeats`): on the cpu recipe's SFT+GRPO (llama.cpp, 121 eval rows, sixth
# session) Terraform schema-valid 65.3% to 70.8% at the same parsing (77.8%). Off only to measure what it changes
# (`bench/eval_engine.py --no-required-bans`).
REQUIRED_BANS = True
# The kinds whose guided answers begin no comment line (`studio.guided.repeats`: where the grammar takes a model's
# token away, a comment is where it escapes to, and loops). Terraform only: on the cpu recipe's SFT model (llama.cpp,
# 121 eval rows, 2026-12-04) the bans cut Terraform loops from 47.2% to 40.3% (schema-valid 52.8 to 54.2, parses
# 75.0 both ways), but a Kubernetes answer pushed off its comment writes invalid YAML instead: parses 95.9 to 85.7,
# schema-valid 51.0 to 38.8. `--no-comment-bans` turns them off to measure.
COMMENT_BANS: tuple[str, ...] = ("terraform",)
# Where comments are allowed (Kubernetes), no comment line right after another (the seed answers never write two in
# a row). Off: on the cpu recipe's SFT model 25 of its 28 looping guided Kubernetes answers repeated a comment line
# to the budget, but with this on its 49 guided Kubernetes answers parsed 93.9% and were schema-valid 46.9%, against
# 95.9% and 49.0% off (llama.cpp, fifth session; one answer each way, within what llama.cpp's batching varies).
# `bench/eval_engine.py --comment-runs` turns it on to measure.
COMMENT_RUNS = False
# A Kubernetes document begins with its `kind`, then its apiVersion (the grammar takes both orders). Off: the cpu
# recipe's model, guided, wrote `apiVersion: v1` first, as most seed documents begin, then had only v1's kinds left
# and wrote a Service where a StatefulSet or a Job was asked for (20 of the 66 kinds its Kubernetes requests ask for
# declared, against 31 unguided; 24 of its 49 answers a Service). Kind first, it declared 26, but its 49 answers
# parsed 87.8% and were schema-valid 75.5% (from 100.0 and 98.0; intent 0 both ways, intent score 7.2 to 7.5); the
# gpu recipe's model declared 38 against 42, intent 2.0% against 4.1%, intent score 17.0 against 21.1 (llama.cpp,
# seventeenth session, `bench/eval_engine.py --guided --rows-file <the Kubernetes eval rows> [--kind-first]`,
# `bench/intent_types.py`). A header out of the order a model learned costs more than the kind it gains.
KIND_FIRST = False
# A Kubernetes line (outside a block scalar) longer than this is ended where it can be, as the budget's walk-out ends
# one (its string closed, then the line): the longest line of the seed's Kubernetes answers has 133 characters; the
# cpu recipe's model, guided, wrote a list item or a comment 1,000 characters long in 2 of its 5 Kubernetes answers
# that were not schema-valid (ninth session).
YAML_LINE_LIMIT = 200
# Likewise a Terraform line outside a heredoc: its string closed, then the brackets it opened, then the line (not
# the block: what the block lacks is written on the next lines). The seed's longest Terraform line has 175
# characters; guided answers of the cpu recipe's model wrote a value of `:to` 300 times and a list of one string 60
# times to the budget, then the walk-out closed their blocks without `grantee` and `from_port` (twelfth session).
TERRAFORM_LINE_LIMIT = 200

# Inside a Terraform block, at the start of a line where the block may close (or where it lacks only one or two
# required arguments, which the walk-out writes): once the tokens left would not hold the longest stretch between two
# such points, FINISH_WITHIN more, MISSING_TOKENS for each argument lacking and two for each block open, the row
# winds down from there (the walk-out: each block writes what it lacks and closes, then the fence), rather than
# beginning another block that the walk-out must then close lacking what it requires (`target_grant { }`,
# `custom_error_response { }`, `content { storage_class = { } }` after the same block 10 times: 4 of the 8 Terraform
# answers of the cpu recipe's model that were not schema-valid, guided, twelfth session; a `connection` block of 15
# arguments before its `host`, then the resource closed without its `from_port`; the base model nesting a free block
# in itself on every line, `SQSQueueFactory {` 35 levels deep, thirteenth session). Off only to measure what it
# changes (`bench/eval_engine.py --no-block-ending`).
BLOCK_ENDING = True

_NAME_BEGUN = re.compile(r" *([A-Za-z][A-Za-z0-9_-]*)")
_COMPILED: dict[tuple, object] = {}
_LOCK = threading.Lock()


class GuidedDecodingError(RuntimeError):
    """The grammar could not be used with this tokenizer; the message says why."""


def kind_of_prompt(text: str) -> str | None:
    """The kind a rendered prompt asks for, from its system prompt (`studio.chat`).

    >>> kind_of_prompt("<|im_start|>system\\n" + SYSTEM_PROMPTS["kubernetes"] + "<|im_end|>")
    'kubernetes'
    """
    for kind, prompt in SYSTEM_PROMPTS.items():
        if prompt in text:
            return kind
    return None


def _tokenizer_key(tokenizer, vocab_size: int) -> tuple:
    return (getattr(tokenizer, "name_or_path", ""), len(tokenizer), vocab_size, tokenizer.eos_token_id)


def byte_level_json(tokenizer_json: str) -> str:
    """The tokenizer's JSON with a plain ByteLevel decoder where its decoder is a sequence that ends in one.

    transformers 5.17 converts SmolLM2's GGUF tokenizer (byte-level BPE, like GPT-2's) with the decoder
    [ByteFallback, Fuse, Replace("▁", " "), ByteLevel]: it decodes text right, but llguidance reads such a vocabulary
    as text rather than bytes, so "Ċ" (the byte-level form of a newline) is to it the two bytes of "Ċ" and
    every mask is wrong (measured on the H200 device: every guided row left the grammar at its first newline).
    5.23 writes the plain ByteLevel decoder. For a byte-level vocabulary the two decoders decode the same text.
    """
    data = json.loads(tokenizer_json)
    decoder = data.get("decoder") or {}
    steps = decoder.get("decoders") or [] if decoder.get("type") == "Sequence" else []
    levels = [step for step in steps if step.get("type") == "ByteLevel"]
    pre = data.get("pre_tokenizer") or {}
    pre_steps = pre.get("pretokenizers") or [pre]
    if levels and any(step.get("type") == "ByteLevel" for step in pre_steps):
        data["decoder"] = levels[-1]
        return json.dumps(data)
    return tokenizer_json


# llguidance's slices: groups of tokens (those whose text matches a slice's regex) that a mask takes or leaves whole
# where the grammar allows everything the regex does, instead of walking them one by one. Its general slices are
# JSON's string contents, which an HCL string (where `${` and `%{` begin templates) and a YAML plain value (where `: `
# and ` #` end it) never allow whole, so they never applied there. With two of our own before them, on this 2-core
# CPU with Qwen's 151,665 tokens (fourteenth session): a mask inside a Terraform string 0.12 ms, from 1.42; a YAML
# value at column 2 0.80 ms, from 1.59 (at column 14 the tokens that end the line cost the same either way).
SLICES = [
    r"[\x20\x0A\x0D\x09]+",  # whitespace (llguidance's first general slice)
    r'[^"\\\x00-\x20\x7F:#$%]{1,30}',  # within a YAML plain value or an HCL string: no space, colon, `#`, `$`, `%`
    r'[^"\\\x00-\x1F\x7F$%]{1,30}',  # within an HCL string, spaces and all
    r'[^"\\\x00-\x1F\x7F]{1,10}',  # llguidance's general slices: JSON strings' contents, comments
    r'[^"\\\x00-\x1F\x7F]{1,30}',
    r'[^"\\\x00-\x1F\x7F]+',
]


def llguidance_tokenizer(tokenizer, vocab_size: int):
    """llguidance's view of a fast Hugging Face tokenizer: its vocabulary as bytes, its end-of-turn tokens."""
    import copy

    import llguidance

    from studio.generation import end_of_turn_ids

    backend = copy.copy(tokenizer.backend_tokenizer)
    backend.no_padding()
    backend.no_truncation()
    # The grammar ends with the end of the turn: whichever of the model's end tokens it writes (transformers 5.17
    # gives the converted SmolLM2 the EOS <|im_start|>; its turns end with <|im_end|>).
    return llguidance.LLTokenizer(byte_level_json(backend.to_str()), n_vocab=vocab_size,
                                  eos_token=end_of_turn_ids(tokenizer), slices=SLICES)


def compiled(engine: str, tokenizer, kind: str, vocab_size: int):
    """The engine's compiled grammar of `kind` for `tokenizer` (built once per process); returns
    (prototype, seconds it took now)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    key = (engine, kind, *_tokenizer_key(tokenizer, vocab_size))
    with _LOCK:
        if key in _COMPILED:
            return _COMPILED[key], 0.0
        started = time.perf_counter()
        source = grammar(kind)
        if engine == "llguidance":
            import llguidance

            lltok = _COMPILED.get(("lltok", *key[2:]))
            if lltok is None:
                lltok = _COMPILED[("lltok", *key[2:])] = llguidance_tokenizer(tokenizer, vocab_size)
            limits = llguidance.LLParserLimits(**_LIMITS)
            prototype = llguidance.LLMatcher(lltok, llguidance.LLMatcher.grammar_from_lark(source.lark),
                                             limits=limits, log_level=0)
            if prototype.is_error():
                raise GuidedDecodingError(f"llguidance refused the {kind} grammar: {prototype.get_error()[:500]}")
        else:
            import xgrammar

            info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
            prototype = xgrammar.GrammarCompiler(info).compile_grammar(source.gbnf)
        _COMPILED[key] = prototype
        return prototype, time.perf_counter() - started


# Seed answers of a kind that `warm` walks through the masks. llguidance builds its lexer's states as answers reach
# them (the first mask of a grammar for Qwen's 151,665 tokens took 2.0 s on this 2-core CPU, the next ones 0.04 ms
# a token), and the bans build their token tables by column and name the same way; a worker that met them first in
# a batch made that batch wait (Kubernetes guided at 67% of the unguided speed in the first batch of 8 fresh
# workers on an H200, 83% in the next; twelfth session, bench/sweeps/results/guided-h200.md).
WARM_ANSWERS = 2
_WARMED: set[tuple] = set()


def warm(tokenizer, kind: str, vocab_size: int, answers: int | None = None) -> tuple[float, float]:
    """Compile the grammar of `kind` for `tokenizer`, compute its first mask, and walk `answers` (default
    WARM_ANSWERS) seed answers of that kind (the longest of `data/train.jsonl`) through the masks, grammar, bans and
    budget's ending, as generation would, so that the states and tables they meet are built before a batch waits on
    them. Once per process; returns (seconds compiling, seconds walking)."""
    import torch

    _, compile_seconds = compiled(DEFAULT_ENGINE, tokenizer, kind, vocab_size)
    key = (kind, *_tokenizer_key(tokenizer, vocab_size))
    if key in _WARMED:
        return compile_seconds, 0.0
    started = time.perf_counter()
    # the start's mask first (most of the cost: every token's first bytes against the lexer's first states)
    for text in [""] + _seed_answers(kind, WARM_ANSWERS if answers is None else answers):
        ids = tokenizer.encode(text, add_special_tokens=False)
        # a budget the answer stays well within: its ending's tables are built, its winding down never begins
        processor = GuidedLogitsProcessor(tokenizer, [kind], vocab_size=vocab_size, budget=2 * len(ids) + 1000)
        sequence = torch.tensor([[tokenizer.eos_token_id or 0]])
        processor.fill(sequence)
        for token in ids:
            if processor.done[0]:
                break
            sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
            processor.fill(sequence)
    _WARMED.add(key)
    return compile_seconds, time.perf_counter() - started


def _seed_answers(kind: str, count: int) -> list[str]:
    from studio.workspace import SEED_DATA

    path = SEED_DATA / "train.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = sorted((row["output"] for row in rows if row.get("kind") == kind), key=len, reverse=True)
    return answers[:count]


class GuidedLogitsProcessor:
    """A `transformers` logits processor; one per `generate` call (it follows that call's rows)."""

    def __init__(self, tokenizer, kinds: list[str] | None = None, engine: str = DEFAULT_ENGINE,
                 vocab_size: int | None = None, budget: int | None = None):
        self.tokenizer = tokenizer
        # xgrammar's matchers are not asked (below)
        self.budget = budget if engine == "llguidance" and BUDGET_ENDING else None
        self.closed_early = 0  # rows whose fence closed because the budget would not hold another stretch
        self.repeats_banned = 0  # steps where a row's mask lost the tokens that would repeat a name
        self.kinds = list(kinds) if kinds is not None else None
        self.engine = engine
        self.vocab_size = vocab_size
        self.matchers: list | None = None
        self.done: list[bool] = []
        self.failed = 0  # rows whose token the grammar refused (sampling outside the mask): left unguided
        self.mask_seconds = 0.0
        # its parts: the grammar's masks, the bans (`studio.guided.repeats`), the ending within the budget
        self.part_seconds = {"grammar": 0.0, "bans": 0.0, "budget": 0.0}
        self.seen = 0  # length of the input_ids whose tokens the matchers have consumed
        self.compile_seconds = 0.0
        self._bitmask = None
        self._executor = None
        self._filled = False  # this step's masks were filled by `fill_together`
        self._active: list[int] = []  # the rows this step's masks guide
        self._complete: list[int] = []  # the rows whose grammar is complete: they may only end their turn
        self.steer: dict = {}  # see `fill`

    def _start(self, input_ids, vocab_size: int) -> None:
        kinds = self.kinds
        if kinds is None:
            prompts = self.tokenizer.batch_decode(input_ids, skip_special_tokens=False)
            kinds = [kind_of_prompt(text) for text in prompts]
        if len(kinds) != input_ids.shape[0]:
            raise ValueError(f"{len(kinds)} kinds for a batch of {input_ids.shape[0]} rows")
        self.matchers = []
        self._row_kinds = list(kinds)
        for kind in kinds:
            if kind is None:  # a prompt of neither kind: that row is not guided
                print("[guided] a row of no known kind (no Terraform or Kubernetes system prompt): not guided",
                      file=sys.stderr, flush=True)
                self.matchers.append(None)
                continue
            prototype, seconds = compiled(self.engine, self.tokenizer, kind, vocab_size)
            self.compile_seconds += seconds
            if self.engine == "llguidance":
                self.matchers.append(prototype.deep_copy())
            else:
                import xgrammar

                self.matchers.append(xgrammar.GrammarMatcher(prototype))
        self.done = [m is None for m in self.matchers]
        from studio.guided.repeats import Repeats

        self._repeats = [Repeats(self.tokenizer, kind, names=REPEAT_BANS, comments=kind in COMMENT_BANS,
                                 comment_runs=COMMENT_RUNS, required=REQUIRED_BANS, kind_first=KIND_FIRST)
                         if kind and (REPEAT_BANS or kind in COMMENT_BANS or COMMENT_RUNS or REQUIRED_BANS
                                      or KIND_FIRST) else None
                         for kind in kinds]
        self._complete: list[int] = []
        self._start_length = input_ids.shape[1]
        self._last_closable: list[int | None] = [None] * len(self.matchers)
        self._longest = [0] * len(self.matchers)
        # Terraform, inside a block: the points where a block may close (see `_block_point`), the longest stretch
        # between two of them, and whether the row winds down to its fence from there (`_close_within_budget`)
        self._block_last: list[int | None] = [None] * len(self.matchers)
        self._block_longest = [0] * len(self.matchers)
        self._block_line = [-1] * len(self.matchers)
        self._winding = [False] * len(self.matchers)
        self._fences = per_tokenizer(_fences, self.tokenizer) if self.budget else []
        self._forcing: list[list[int]] = [[] for _ in self.matchers]  # the rest of a fence being closed
        self._closers = per_tokenizer(_closers, self.tokenizer)
        import numpy

        closers = dict(self._closers)
        braces = closers.get("}", numpy.zeros(0, dtype=numpy.int64))
        self._brace_words = (braces // 32, braces % 32)  # the `}` closers' mask words and bits
        self._line_ends = closers.get("\n", [])
        self._finishers = per_tokenizer(_finishers, self.tokenizer) if self.budget else []
        from studio.generation import end_of_turn_ids

        self._end_ids = end_of_turn_ids(self.tokenizer)
        import torch

        words = (vocab_size + 31) // 32
        self._bitmask = torch.full((len(kinds), words), -1, dtype=torch.int32)
        if self.engine == "llguidance":
            self._executor = _executor()

    def _sync(self, input_ids, vocab_size: int) -> None:
        """Feed the matchers the tokens appended since the last call (one per step; a caller that asks twice for
        the same step, or skips one, still feeds each matcher every token exactly once)."""
        if self.matchers is None:
            self._start(input_ids, vocab_size)
            self.seen = input_ids.shape[1]
        elif input_ids.shape[1] > self.seen:
            for row, tokens in enumerate(input_ids[:, self.seen:].tolist()):
                for token in tokens:
                    if not self.done[row]:
                        self._accept(row, token)
            self.seen = input_ids.shape[1]

    def __call__(self, input_ids, scores):
        self.fill(input_ids, scores)
        return self.apply(scores)

    def fill(self, input_ids, scores=None) -> list[int]:
        """This step's masks, into `self._bitmask` (a row's -1 words where it is not guided); returns the rows
        guided. Without `scores` (a worker process of `studio.guided.shards`, which has no logits) a row that the
        bans would steer to a name its block lacks if its likeliest token closed the block keeps the masks in
        `self.steer` (row -> (steered words, the grammar's words, the closing tokens' words)) for the caller to
        choose between."""
        self._sync(input_ids, self.vocab_size or (scores.shape[-1] if scores is not None else None))
        started = time.perf_counter()
        bitmask = self._bitmask
        self.steer = {}
        active = [row for row, done in enumerate(self.done) if not done]
        if self._filled:  # `fill_together` computed this step's masks already
            self._filled = False
        elif self.engine == "llguidance" and active and EXECUTOR_THREADS == 1:  # a worker: in this thread
            bitmask.fill_(-1)
            from llguidance.torch import fill_next_token_bitmask

            for row in active:
                fill_next_token_bitmask(self.matchers[row], bitmask, row)
        elif self.engine == "llguidance" and active:
            bitmask.fill_(-1)
            from llguidance.torch import fill_next_token_bitmask_par

            fill_next_token_bitmask_par(self._executor, [(self.matchers[r], r) for r in active], bitmask)
        else:
            bitmask.fill_(-1)
            for row in active:
                self.matchers[row].fill_next_token_bitmask(bitmask, row)
        # In the last FINISH_WITHIN tokens an answer is walked out of what it is inside: a block may close then
        # whatever it lacks (its `}` is needed).
        finishing = self.budget is not None and self.budget - (input_ids.shape[1] - self._start_length) <= FINISH_WITHIN
        banning = time.perf_counter()
        for row in active:
            if self._repeats[row] is not None:
                self._repeats[row].finishing = finishing
                self._ban_repeats(row, bitmask, scores)
        ending = time.perf_counter()
        if self.budget and active:
            self._close_within_budget(active, input_ids, bitmask)
        for row in active:
            if not self._forcing[row] and self._long_line(row):
                self._walk_out(row, input_ids, bitmask, line_only=True)
        self.mask_seconds += time.perf_counter() - started
        self.part_seconds["grammar"] += banning - started
        self.part_seconds["bans"] += ending - banning
        self.part_seconds["budget"] += time.perf_counter() - ending
        self._active = active
        return active

    def apply(self, scores):
        """`scores` with this step's masks (`fill`) applied, in place: -inf where a token is not allowed."""
        if self._active:
            apply_bitmask(scores, self._bitmask.to(scores.device, non_blocking=True))
        end_only(scores, self._complete, self._end_ids)
        return scores

    def _close_within_budget(self, active: list[int], input_ids, bitmask) -> None:
        """Where a row's fence may close now and the tokens left would not hold its longest stretch so far, allow
        only the closing fence; in the last FINISH_WITHIN tokens, only the first closer the grammar allows."""
        new = input_ids.shape[1] - self._start_length
        left = self.budget - new
        # each row's mask words of the fences' first tokens
        words = bitmask[:, [fence[0] // 32 for fence in self._fences]].tolist()
        for row in active:
            if self._forcing[row]:  # a fence of several tokens, begun: its next one
                self._force(bitmask, row, [self._forcing[row].pop(0)])
                continue
            matcher = self.matchers[row]
            # the first way to close the fence here (each tried on a copy of the matcher: the first will do)
            closing = next((fence for fence, word in zip(self._fences, words[row])
                            if (word >> (fence[0] % 32)) & 1 and _ends(matcher, fence)), None)
            if closing:  # the first stretch counts from the answer's start (the fence closes after a block only)
                self._longest[row] = max(self._longest[row], new - (self._last_closable[row] or 0))
                self._last_closable[row] = new
                self._block_last[row] = new
                if left <= max(self._longest[row] + CLOSE_MARGIN, FINISH_WITHIN) or self._winding[row]:
                    self._force(bitmask, row, [closing[0]])
                    self._forcing[row] = list(closing[1:])
                    self.closed_early += 1
            elif left <= FINISH_WITHIN or self._winding[row]:
                self._walk_out(row, input_ids, bitmask, left)
            elif BLOCK_ENDING and (need := self._block_point(row, bitmask)) is not None:
                if self._block_last[row] is not None:
                    self._block_longest[row] = max(self._block_longest[row], new - self._block_last[row])
                self._block_last[row] = new
                if self._block_longest[row] and left <= self._block_longest[row] + FINISH_WITHIN + need:
                    self._winding[row] = True
                    self._walk_out(row, input_ids, bitmask, left)

    def _block_point(self, row: int, bitmask) -> int | None:
        """Terraform, where the row has just begun a line inside a block (not in a heredoc) from which the walk-out
        could close every block: the tokens it needs for that, MISSING_TOKENS for each argument it would write
        first (none where the mask lets the block close now, its `}`: the grammar and the bans find nothing it
        lacks; up to WRITE_MISSING where it lacks only required arguments the grammar checks) and two for each block
        open (a `}` and a line end). None elsewhere (it lacks more, or a block), and after the line's first step."""
        repeats = self._repeats[row]
        if repeats is None or self._row_kinds[row] != "terraform":
            return None
        text = repeats.text
        start = text.rfind("\n") + 1
        if start == self._block_line[row] or text[start:].strip(" "):
            return None
        self._block_line[row] = start
        depth = repeats.depth()
        if depth == 0 or repeats.in_free_text():
            return None
        braces = self._brace_words
        if ((bitmask[row].numpy()[braces[0]] >> braces[1]) & 1).any():
            return 2 * depth
        missing = repeats.missing_arguments()
        if 0 < len(missing) <= WRITE_MISSING and missing == repeats.missing():
            return MISSING_TOKENS * len(missing) + 2 * depth
        return None

    def _force(self, bitmask, row: int, tokens: list[int]) -> None:
        """Allow only `tokens` in the row's mask, over any steering the bans left for the caller (`self.steer`: a row
        winding down at a blank line of a block that lacks a name)."""
        _allow_only(bitmask, row, tokens)
        self.steer.pop(row, None)

    def _long_line(self, row: int) -> bool:
        """Whether the row's line, outside free text, is longer than its kind's limit (YAML_LINE_LIMIT,
        TERRAFORM_LINE_LIMIT)."""
        repeats = self._repeats[row]
        limit = {"kubernetes": YAML_LINE_LIMIT, "terraform": TERRAFORM_LINE_LIMIT}.get(self._row_kinds[row])
        return repeats is not None and limit is not None and repeats.line_length() > limit

    def _walk_out(self, row: int, input_ids, bitmask, left: int | None = None, line_only: bool = False) -> None:
        """In the budget's last tokens, allow only what takes the row out of what it is inside: the first closer
        the grammar allows (`_closers`); where none is, in Terraform, the start of a name its block lacks (the
        grammar keeps a block open until its required arguments are written), else what completes the line's
        construct soonest (`_finishers`: an argument's `=`, a header's `{`, a value's or a label's quote).
        `line_only`: out of the line alone (a line too long), not out of its block."""
        import numpy

        words = bitmask[row].numpy()

        def found(group):
            if not len(group):
                return []
            tokens = numpy.asarray(group, dtype=numpy.int64)  # the tables' arrays as they are; a list of names' starts
            return tokens[((words[tokens >> 5] >> (tokens & 31)) & 1).astype(bool)].tolist()

        # A quote closes the string the line is inside; outside one it would open another. In YAML and in a comment
        # a bracket is text: only the end of the line closes anything there. A blank line has nothing to end. The
        # bans' copy of the answer where the row has one (decoding the whole answer again took 0.2 ms a call).
        repeats = self._repeats[row]
        text = repeats.text if repeats is not None else self.tokenizer.decode(
            input_ids[row, self._start_length:].tolist())
        line = text.rsplit("\n", 1)[-1]
        in_string = (line.count('"') - line.count('\\"')) % 2 == 1
        # a comment, also after code (`}//* 2016-10-1` then `}` to the budget: brackets are text there)
        text_only = self._row_kinds[row] == "kubernetes" or in_comment(line)
        if repeats is not None and (marker := repeats.heredoc()):
            # inside a heredoc, brackets are text too: its marker ends it, on a line of its own (an answer wrote `}`
            # lines into a heredoc it never ended, thirteenth session)
            ending = repeats.heredoc_ending(marker, line.strip(" \t"))
            if tokens := found(self._line_ends if ending is None else ending):
                self._force(bitmask, row, tokens)
            return
        if not text_only and not line.strip() and left is not None and repeats is not None:
            # At a blank line of a block that lacks one or two arguments its schema requires, with tokens in hand to
            # write them and then to close every block open, one of them before the block's `}`. Not nested blocks
            # (a CloudFront distribution's required blocks, each with its own, outran the budget), nor in a `dynamic`
            # block's content, where the grammar takes any name, as a block too (`name { }` again and again).
            missing = repeats.missing_arguments()
            if 0 < len(missing) <= WRITE_MISSING and left >= MISSING_TOKENS * len(missing) + 2 * repeats.depth() + 4:
                if tokens := found(repeats.starts_of(missing)):
                    self._force(bitmask, row, tokens)
                    return
        for closer, group in self._closers:
            if ((closer == '"') != in_string or (text_only and closer not in ('"', "\n"))
                    or (line_only and closer == "}") or (closer == "\n" and not line.strip() and not text_only)):
                continue
            if tokens := found(group):
                self._force(bitmask, row, tokens)
                return
        if text_only or line_only:
            return
        place = _NAME_BEGUN.fullmatch(line)
        if place and repeats is not None and (missing := repeats.missing()):
            # a name begun toward one its block lacks goes on to it (given `d` for `domain_name`, answers wrote
            # `dynamic "custom_header" { }`, and given `p` for `protocol`, `provisioner "AWS" { }`, to the budget)
            going = [name for name in missing if name.startswith(place[1])]
            if going and (tokens := found(repeats.continuing(going, place[1]))):
                self._force(bitmask, row, tokens)
                return
        if not line.strip() and repeats is not None and (missing := repeats.missing()):
            if tokens := found(repeats.starts_of(missing)):
                self._force(bitmask, row, tokens)
                return
        for _, group in self._finishers:
            if tokens := found(group):
                self._force(bitmask, row, tokens)
                return

    def _ban_repeats(self, row: int, bitmask, scores) -> None:
        """Take out of the row's mask the tokens that would repeat a name (`studio.guided.repeats`), unless
        nothing would be left. Where a Terraform block that lacks a required name would have closed (the grammar's
        likeliest token is its `}`), the row may only begin one of the names it lacks; without `scores` that choice
        is left to the caller (`self.steer`)."""
        import torch

        repeats = self._repeats[row]
        parts = repeats.banned_parts()
        if not parts:
            return
        words = bitmask[row].numpy()
        kept = words & ~_packed(parts, words)
        if repeats.lacking:
            steered = kept & _packed([repeats.steer_tokens()], words)
            if steered.any():
                closing = _packed([repeats.closing], words)
                if scores is None:
                    self.steer[row] = (steered, words.copy(), closing)
                elif _has(closing, _likeliest(scores[row], words)):
                    kept = steered
        if (kept != words).any() and kept.any():
            bitmask[row] = torch.from_numpy(kept)
            repeats.applied += 1
            self.repeats_banned += 1

    def _accept(self, row: int, token: int) -> None:
        if self._repeats[row] is not None:
            self._repeats[row].add(token)
        matcher = self.matchers[row]
        if self.engine == "llguidance":
            ok = matcher.consume_token(token)
            stopped = matcher.is_stopped()
        else:
            ok = matcher.accept_token(token)
            stopped = matcher.is_terminated()
        if not ok:
            self.done[row] = True
            if token == self.tokenizer.pad_token_id:  # generate pads a row it has stopped (closed fence)
                return
            # Under the mask this cannot happen with greedy or sampled decoding; when it does (a mask that did not
            # reach the logits, a parser limit), say so: the row goes on unguided.
            self.failed += 1
            if self.failed <= 3:
                error = matcher.get_error() if self.engine == "llguidance" else ""
                print(f"[guided] row {row}: the grammar refused token {token} "
                      f"({self.tokenizer.decode([token])!r}); the row goes on unguided. {error[:300]}",
                      file=sys.stderr, flush=True)
        elif stopped:  # the grammar is complete: from here on the row may only end its turn
            self.done[row] = True
            self._complete.append(row)


def fill_together(guides: list[tuple["GuidedLogitsProcessor", object]], vocab_size: int) -> None:
    """Compute the next masks of several llguidance processors (each with its `input_ids`) in one parallel call,
    so that their own calls this step only apply them: the llama.cpp engine keeps a processor per answer, and
    filling their masks one after another left all but one core idle."""
    import torch
    from llguidance.torch import fill_next_token_bitmask_par

    pairs, targets = [], []
    for guide, input_ids in guides:
        guide._sync(input_ids, guide.vocab_size or vocab_size)
        if guide.engine != "llguidance":
            continue
        for row, done in enumerate(guide.done):
            if not done:
                pairs.append(guide.matchers[row])
                targets.append((guide, row))
    if not pairs:
        return
    shared = torch.full((len(pairs), targets[0][0]._bitmask.shape[1]), -1, dtype=torch.int32)
    fill_next_token_bitmask_par(_executor(), [(matcher, i) for i, matcher in enumerate(pairs)], shared)
    for guide in {id(g): g for g, _ in targets}.values():
        guide._bitmask.fill_(-1)
    for i, (guide, row) in enumerate(targets):
        guide._bitmask[row] = shared[i]
        guide._filled = True


_EXECUTOR = None


# The llguidance pool's threads (None: its default, one per core); a worker process of `studio.guided.shards` takes 1,
# and then a processor computes its rows' masks in its own thread instead: a pool of one thread handed each step's
# masks to that thread and back (Kubernetes, 2 rows, grammar part 0.38 ms a step against 0.34 in the caller's thread,
# three runs each on this 2-core CPU, sixteenth session).
EXECUTOR_THREADS: int | None = None


def _executor():
    """One llguidance thread pool for every processor of the process."""
    global _EXECUTOR
    if _EXECUTOR is None:
        import llguidance

        _EXECUTOR = llguidance.LLExecutor(EXECUTOR_THREADS) if EXECUTOR_THREADS else llguidance.LLExecutor()
    return _EXECUTOR


_PER_TOKENIZER: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def per_tokenizer(function, tokenizer):
    """`function(tokenizer)`, computed once per tokenizer object: the token tables of guided decoding read the
    whole vocabulary (a third of a second for 49k tokens), and the llama.cpp engine makes a processor per
    answer."""
    tables = _PER_TOKENIZER.setdefault(tokenizer, {})
    if function.__name__ not in tables:
        tables[function.__name__] = function(tokenizer)
    return tables[function.__name__]


def _fences(tokenizer) -> list[list[int]]:
    """Ways to write a closing fence: each token that is one (alone, or after a newline or a space), else the
    tokens "```" encodes to (a small vocabulary spells it in three)."""
    single = [[i] for token, i in tokenizer.get_vocab().items()
              if tokenizer.convert_tokens_to_string([token]).strip(" \n") == "```"]
    return sorted(single) or [tokenizer.encode("```", add_special_tokens=False)]


def _closers(tokenizer) -> list[tuple[str, "numpy.ndarray"]]:
    """Tokens that close something, most decisive first: a string (tried only inside one), a block or object, a
    list, a call, a line. Each group as (what it closes with, its token ids as an array, which the walk-out looks up
    in a mask's words)."""
    groups: dict[str, list[int]] = {'"': [], "}": [], "]": [], ")": [], "\n": []}
    for token, i in tokenizer.get_vocab().items():
        text = tokenizer.convert_tokens_to_string([token])
        stripped = text.strip(" \n") or text.strip(" ")
        if stripped in groups and stripped != "\n":
            groups[stripped].append(i)
        elif text == "\n":
            groups["\n"].append(i)
    return _arrays(groups)


def _finishers(tokenizer) -> list[tuple[str, "numpy.ndarray"]]:
    """Terraform tokens that complete a construct soonest where nothing can close yet, in the order tried: the `=`
    after an argument's name, a block header's `{` (a quote there opens one more label: the base model wrote labels
    to the budget in free blocks), a quote (a value or a label, its closing quote then ends it)."""
    groups: dict[str, list[int]] = {"=": [], "{": [], '"': []}
    for token, i in tokenizer.get_vocab().items():
        stripped = tokenizer.convert_tokens_to_string([token]).strip(" ")
        if stripped in groups:
            groups[stripped].append(i)
    return _arrays(groups)


def _arrays(groups: dict[str, list[int]]) -> list[tuple[str, "numpy.ndarray"]]:
    """The non-empty `groups` in order, each one's token ids sorted in an int64 array."""
    import numpy

    return [(text, numpy.array(sorted(ids), dtype=numpy.int64)) for text, ids in groups.items() if ids]


def _allow_only(bitmask, row: int, tokens: list[int]) -> None:
    bitmask[row].zero_()
    for token in tokens:
        bitmask[row, token // 32] |= _bit(token % 32)


def _ends(matcher, tokens: list[int]) -> bool:
    """Whether `tokens` would end the answer's code here: the grammar accepts right after them. Asked of a copy: a
    matcher that has stopped cannot roll back."""
    trial = matcher.deep_copy()
    return all(trial.consume_token(token) for token in tokens) and trial.is_accepting()


# Arrays of token ids longer than this (the bans keep them per tokenizer and column: a YAML line begun left of a
# mapping is most of the vocabulary) are packed once and kept, by identity: packing one for each row at each step
# was most of the Kubernetes bans' time on an H200 (a step of 32 rows: 6.4-9.0 ms in one process, 3.2-3.9 ms in 8
# workers; packed once, 5.0 and 1.9 ms, and guided Kubernetes at 83% of the unguided speed with the workers, from
# 53-59%: twelfth session, bench/sweeps/results/guided-h200.md).
PACK_ONCE = 4096
_PACKED: dict[int, tuple] = {}  # id(array) -> (the array, the mask's size in words, its packed words)


def _packed(parts: list, words):
    """The tokens of `parts` (lists or arrays of token ids; a ban may hold most of the vocabulary) as a mask of
    `words`' shape and dtype: little-endian int32 words, token i as bit i % 32 of word i // 32."""
    import numpy

    mask, rest = None, []
    for part in parts:
        if isinstance(part, numpy.ndarray) and part.size > PACK_ONCE:
            kept = _PACKED.get(id(part))
            if kept is None or kept[0] is not part or kept[1] != words.size:
                kept = _PACKED[id(part)] = (part, words.size, _pack([part], words))
            mask = kept[2].copy() if mask is None else mask | kept[2]
        else:
            rest.append(part)
    if rest or mask is None:
        packed = _pack(rest, words)
        mask = packed if mask is None else mask | packed
    return mask


def _pack(parts: list, words):
    import numpy

    flags = numpy.zeros(words.size * 32, dtype=bool)
    for part in parts:
        ids = numpy.asarray(part, dtype=numpy.int64)
        flags[ids[ids < flags.size]] = True
    return numpy.packbits(flags, bitorder="little").view(words.dtype)


def _likeliest(row_scores, words) -> int:
    """The token with the highest score among those the mask `words` (a row's int32 words) allows."""
    import numpy
    import torch

    allowed = numpy.unpackbits(words.view(numpy.uint8), bitorder="little")[: row_scores.shape[-1]].astype(bool)
    masked = row_scores.detach().float().clone()
    masked[torch.from_numpy(~allowed).to(masked.device)] = float("-inf")
    return int(masked.argmax())


def _has(words, token: int) -> bool:
    """Whether the mask `words` (int32 words) holds `token`."""
    return bool((int(words[token >> 5]) >> (token & 31)) & 1)


def _bit(position: int) -> int:
    """The int32 word value with bit `position` set (bit 31 is the sign bit)."""
    return (1 << position) - (1 << 32) if position == 31 else 1 << position


def apply_bitmask(scores, bitmask) -> None:
    """Set to -inf every logit whose bit is 0 (32 tokens per int32 word, lowest bit first), in place."""
    import torch

    bits = torch.arange(32, device=scores.device, dtype=torch.int32)
    allowed = ((bitmask.unsqueeze(-1) >> bits) & 1).bool().view(bitmask.shape[0], -1)[:, : scores.shape[-1]]
    scores.masked_fill_(~allowed, float("-inf"))


def end_only(scores, rows: list[int], end_ids: list[int]) -> None:
    """In place: the `rows` (whose grammar is complete) may only end their turn (one of `end_ids`)."""
    if not rows:
        return
    import torch

    ends = torch.tensor(end_ids, device=scores.device)
    keep = scores[rows][:, ends]
    scores[rows] = float("-inf")
    scores[torch.tensor(rows, device=scores.device).unsqueeze(1), ends] = keep


def processors_for(tokenizer, kinds: list[str] | None, guided: bool, engine: str = DEFAULT_ENGINE,
                   budget: int | None = None, workers: int = 0) -> dict:
    """The `generate` keyword arguments that turn guidance on (none when `guided` is False); `budget` is the
    answers' max_new_tokens (see "a guided answer also ends whole" above); `workers` > 0: the masks are computed by
    that many worker processes (`studio.guided.shards`, llguidance only)."""
    if not guided:
        return {}
    from transformers import LogitsProcessorList

    if workers and engine == "llguidance":
        from studio.guided.shards import ShardedGuide

        guide = ShardedGuide(tokenizer, kinds, budget=budget, workers=workers)
    else:
        guide = GuidedLogitsProcessor(tokenizer, kinds, engine=engine, budget=budget)
    return {"logits_processor": LogitsProcessorList([guide])}


@contextlib.contextmanager
def guided_generate(model, tokenizer, engine: str = DEFAULT_ENGINE):
    """Within the block, `model.generate` guides every row by the grammar its system prompt asks for.

    For callers that own the `generate` call and pass no logits processor: TRL 1.16's GRPOTrainer calls
    `unwrapped_model.generate(**inputs, generation_config=...)` in `_generate_single_turn` (its transformers path)
    and offers no hook for one. Rows of another prompt are left unguided.
    """
    from transformers import LogitsProcessorList

    original = model.generate

    def generate(*args, **kwargs):
        given = kwargs.pop("logits_processor", None) or []
        processors = LogitsProcessorList([GuidedLogitsProcessor(tokenizer, None, engine=engine), *given])
        return original(*args, logits_processor=processors, **kwargs)

    model.generate = generate
    try:
        yield
    finally:
        del model.generate  # the instance attribute: the class's generate shows through again
