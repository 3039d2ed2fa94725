"""Evaluation: run models over held-out rows, check every answer, and report the rate of each stage.

    python -m jobs eval --output smollm-base             # the command line: the embedded model over the eval split
    python -m jobs eval --adapter sft-1 --limit 20       # base and fine-tuned; results in runs/sft-1/eval

    >>> from studio import access, evaluation, generation, models
    >>> rows = evaluation.load_rows(evaluation.EVAL_SPLIT)                  # the 121 held-out rows
    >>> contenders = evaluation.candidates(models.EMBEDDED, adapter="workspace/runs/sft-1/adapter")
    >>> results = evaluation.evaluate(rows, contenders, generation.Settings(max_new_tokens=512),
    ...                               on_progress=print)           # 'base: 16/242 answers in 1m04s, ETA 8m40s'
    >>> evaluation.write(results, "workspace/runs/sft-1/eval")             # summary.json + rows.jsonl
    >>> print(evaluation.table(results.summary).to_string())
                stage  base  fine-tuned ...

The figures, per model, overall and per kind (terraform, kubernetes), as shares of the answers:
`extracted`, `parses`, `schema`, `intent`, `best_practice` (each: that stage passed) and `pass` (extracted and
parses and schema and intent, as `Report.ok`; best practice is advice and reported apart). With `samples` k > 1
(sampling only) each row gets k answers; the rates are then over all of them (pass@1), and `pass_at_k` gives
the chance that at least one of k answers passes, by the unbiased estimator of Chen et al. (2021). Beside the
rates, `intent_score` is the intent stage's mean score (`intent_scores`: the share of the request's clauses met,
near misses counting part), which shows a model closing in on requests before it meets every clause of one.

A base model and an adapter on it share one copy of the weights: the base's answers are generated inside
`disable_adapter()`. Answers are generated in batches (left padding); a greedy answer in a batch can differ from
the same row's answer alone in the last bits of the arithmetic, and so, rarely, in a token.

Who answers (`engine()`): on a machine without a GPU, llama.cpp (`studio.llama_engine`) on an F16 GGUF of the
same weights, the adapter merged in (or left out for the base), up to `batch_size` answers decoding together and
a finished answer's place taken by the next request at once; elsewhere transformers, through
`generation.generate` (the studio's decoder on a GPU). Tokens are picked by the studio in both, so greedy,
sampling and schema guidance mean the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from studio import access, chat, dataset, examples, generation, llama_engine, models, workspace
from studio.durations import format_duration
from studio.iac import validate
from studio.iac.report import STAGES as CHECK_STAGES

EVAL_SPLIT = workspace.SEED_DATA / "eval.jsonl"
STAGES = (*CHECK_STAGES, "pass")
KINDS = chat.KINDS
SUMMARY_FILE = "summary.json"
ROWS_FILE = "rows.jsonl"
# A line repeated more than this many times is a generation loop. The seed's 740 reference answers repeat a
# content line at most 5 times (`name: pod-reader` in a Role, RoleBinding and ServiceAccount); looping answers
# repeat one until the token cap, dozens of times.
LOOP_REPEATS = 8
# Lines that legitimately recur in long code: block openers and closers, document separators.
_STRUCTURAL = re.compile(r"^(?:(?:- )?[-\w.\"/]*:|.*\{|[}\])]+,?|---|```\w*)$")
# Answers decoding together. transformers (`python bench/eval_batch.py`, 2-core CPU, embedded model, 32 rows of up to
# 256 new tokens): 42 new tokens/s in batches of 8, 70 of 16, 86 of 32. llama.cpp (the default there), 32 rows of up
# to 512 new tokens: 111 new tokens/s with 16 answers at once, 160 with 32.
DEFAULT_BATCH_SIZE = 32
ENGINES = ("auto", "transformers", "llama.cpp")


def engine(requested: str = "auto") -> str:
    """Who answers: `requested` unless "auto"; then `INFRAMIND_EVAL_ENGINE` (llama.cpp, transformers) where set,
    else llama.cpp on a machine without a GPU where llama-cpp-python is installed, else transformers.

    `python bench/eval_engine.py` on the 2-core CPU, embedded model, the 121 eval rows, up to 512 new tokens:
    7.59 minutes on llama.cpp (32 answers at once) against 12.35 on transformers (batches of 16), the same rates.
    """
    import os

    if requested not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {requested!r}")
    wanted = requested if requested != "auto" else os.environ.get("INFRAMIND_EVAL_ENGINE", "auto")
    if wanted in ("llama.cpp", "transformers"):
        return wanted
    return "llama.cpp" if models.device() == "cpu" and llama_engine.available() else "transformers"


@dataclass(frozen=True)
class Candidate:
    """One model under evaluation: `model` (a name or folder, a merged export included) with an optional
    LoRA `adapter` folder on top, reported under `label`."""

    label: str
    model: str
    adapter: str | None = None

    def to_dict(self) -> dict:
        return {"label": self.label, "model": self.model, "adapter": self.adapter}


def candidates(model: str, adapter: str | None = None, merged: str | None = None,
               with_base: bool = True) -> list[Candidate]:
    """The usual line-up: the base model, then the fine-tuned one (an adapter on it, or a merged export).

    >>> [c.label for c in candidates("base-model", adapter="runs/sft-1/adapter")]
    ['base', 'fine-tuned']
    >>> candidates("base-model")
    [Candidate(label='base', model='base-model', adapter=None)]
    """
    if adapter and merged:
        raise ValueError("Give an adapter or a merged export, not both.")
    found = [Candidate("base", model)] if with_base or not (adapter or merged) else []
    if adapter:
        found.append(Candidate("fine-tuned", model, str(adapter)))
    elif merged:
        found.append(Candidate("fine-tuned", str(merged)))
    return found


def load_rows(path: str | Path) -> list[dataset.Row]:
    """Rows to evaluate on: the eval split or an uploaded JSONL of Alpaca rows (`output` may be left out)."""
    path = Path(path)
    rows, problems = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise dataset.DatasetError(f"{path}: not UTF-8 text; save the file as UTF-8") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path.name}:{number}: not valid JSON ({error.msg} at column {error.colno})")
            continue
        if isinstance(data, dict) and not data.get("output"):
            # A set to evaluate on needs requests, not reference answers; the row type asks for one.
            data = {**data, "output": "(no reference answer)"}
        try:
            rows.append(dataset.Row.from_dict(data, f"{path.name}:{number}"))
        except dataset.DatasetError as error:
            problems.append(str(error))
    if problems:  # every bad line at once, in the order of the file, so it is fixed in one pass
        raise dataset.every_problem(problems)
    if not rows:
        raise dataset.DatasetError(f"{path}: no rows")
    return rows


# -- figures from answers --------------------------------------------------------------------------------


def rates(flags: list[dict[str, bool]]) -> dict[str, float]:
    """The share of answers passing each stage (and, where the flags say, the share that loop); 0 for every
    stage when there are no answers."""
    keys = (*STAGES, "loop") if any("loop" in f for f in flags) else STAGES
    return {stage: (sum(f.get(stage, False) for f in flags) / len(flags) if flags else 0.0) for stage in keys}


def _flags(answer: dict) -> dict[str, bool]:
    return {stage: answer[stage]["status"] == "passed" for stage in CHECK_STAGES} | {
        "pass": answer["ok"], "loop": bool(answer.get("loop"))}


def failure_shares(answers: list[dict]) -> dict[str, float]:
    """The share of answers failing for each reason of `failure_of` (loop first), over all the answers."""
    counts = Counter(failure_of(answer) for answer in answers)
    return {reason: counts[reason] / len(answers) for reason in ("loop", *CHECK_STAGES) if answers and counts[reason]}


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k answers drawn from n (c of them passing) passes: 1 - C(n-c,k)/C(n,k).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), pass_at_k(4, 0, 2)
    (0.25, 1.0, 0.0)
    """
    if not 0 < k <= n:
        raise ValueError(f"k must be in 1..{n}, not {k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _ks(samples: int) -> list[int]:
    """1, the powers of two below `samples`, and `samples`."""
    ks, k = [], 1
    while k < samples:
        ks.append(k)
        k *= 2
    return [*ks, samples]


def summarize_model(candidate: Candidate, rows: list[dict], samples: int = 1) -> dict:
    """A model's entry of summary.json from the per-row records (`rows.jsonl` lines)."""
    per_kind: dict[str, list] = {kind: [] for kind in KINDS}
    everything = []
    passing_per_row = []
    for row in rows:
        flags = [_flags(answer) for answer in row["answers"][candidate.label]]
        everything.extend(flags)
        per_kind.setdefault(row["kind"], []).extend(flags)
        passing_per_row.append(sum(f["pass"] for f in flags))
    entry = {
        **candidate.to_dict(),
        "rates": rates(everything),
        "by_kind": {kind: rates(flags) for kind, flags in per_kind.items() if flags},
        "answers": len(everything),
        "failures": failure_shares([a for row in rows for a in row["answers"][candidate.label]]),
    }
    if samples > 1:
        entry["pass_at_k"] = {
            str(k): sum(pass_at_k(samples, c, k) for c in passing_per_row) / len(passing_per_row) for k in _ks(samples)
        }
    sampled = [row["sampled"][candidate.label] for row in rows if row.get("sampled", {}).get(candidate.label)]
    if sampled:
        # pass@k beside greedy: k sampled answers per row, the greedy rates above untouched.
        k = len(sampled[0])
        flags = [_flags(answer) for answers in sampled for answer in answers]
        entry["sampled"] = {"k": k, "rates": rates(flags),
                            "pass_at_k": {str(j): sum(pass_at_k(k, sum(a["ok"] for a in answers), j)
                                                      for answers in sampled) / len(sampled) for j in _ks(k)}}
        entry.setdefault("pass_at_k", entry["sampled"]["pass_at_k"])
    scores = intent_scores(rows, candidate.label)
    if scores:
        entry["intent_score"] = scores
    judged = [a["judge"]["score"] for row in rows for a in row["answers"][candidate.label] if a.get("judge")]
    if judged:
        entry["judge"] = {"mean_score": sum(judged) / len(judged), "answers": len(judged)}
    return entry


def intent_scores(rows: list[dict], label: str) -> dict[str, float]:
    """The intent stage's mean score over a model's answers (all of them, as `rates`), overall ("all") and per kind:
    the share of the request's clauses met, near misses counting part (studio/iac/INTENT.md, the GRPO reward's
    intent component). It moves where the intent rate, which counts only answers meeting every clause, stays at 0.
    An answer whose code did not parse meets no clause (0). Rows without an intent, and answers kept before verdicts
    had scores, are left out; {} when none is left.

    >>> near = {"status": "failed", "score": 0.25}
    >>> intent_scores([{"kind": "kubernetes", "intent": {"require": []}, "answers": {"m": [{"intent": near}]}}], "m")
    {'all': 0.25, 'kubernetes': 0.25}
    """
    per_kind: dict[str, list[float]] = {}
    for row in rows:
        if not row.get("intent"):
            continue
        for answer in row["answers"].get(label) or []:
            score = (answer.get("intent") or {}).get("score")
            if isinstance(score, (int, float)):
                per_kind.setdefault(row["kind"], []).append(float(score))
    if not per_kind:
        return {}
    everything = [score for scores in per_kind.values() for score in scores]
    return {"all": sum(everything) / len(everything),
            **{kind: sum(per_kind[kind]) / len(per_kind[kind]) for kind in (*KINDS, *per_kind) if kind in per_kind}}


def loop_of(text: str, max_repeats: int = LOOP_REPEATS) -> dict | None:
    """The line an answer repeats more than `max_repeats` times, as {"line", "repeats"}; None when it does not
    loop. Blank lines and structural ones (`}`, `spec:`, `---`) do not count.

    >>> loop_of("```yaml\n" + "- name: a\n" * 12)
    {'line': '- name: a', 'repeats': 12}
    >>> loop_of('resource "x" "y" {\n  a = 1\n}\n') is None
    True
    """
    counts = Counter(line.strip() for line in text.splitlines()
                     if line.strip() and not _STRUCTURAL.match(line.strip()))
    if not counts:
        return None
    line, repeats = counts.most_common(1)[0]
    return {"line": line[:200], "repeats": repeats} if repeats > max_repeats else None


def failure_of(record: dict) -> str | None:
    """Why an answer fails, in one word: "loop" for a generation loop (whatever else it breaks), else the first
    stage it fails (extracted, parses, schema, intent); None for an answer that passes."""
    if record.get("loop"):
        return "loop"
    if record["ok"]:
        return None
    return next((stage for stage in CHECK_STAGES if record[stage]["status"] != "passed"), "intent")


def answer_record(text: str, kind: str, intent: dict | None) -> dict:
    """One answer as rows.jsonl keeps it: the text, its verdict (`Report.to_dict`, the studio's one shape), the
    loop it runs into (None when it does not) and `failure`, why it fails in one word (None when it passes)."""
    record = {"text": text, **validate(text, kind, intent).to_dict(), "loop": loop_of(text)}
    record["failure"] = failure_of(record)
    return record


def _upgraded(answer: dict) -> dict:
    """An answer of a rows.jsonl written before verdicts had one shape (`stages` and `reasons` strings), in the
    shape of `answer_record`, so that older results still read, count and draw."""
    if "stages" not in answer:
        return answer
    reasons: dict[str, list] = {stage: [] for stage in CHECK_STAGES}
    for line in answer.get("reasons", []):
        stage, _, message = line.partition(": ")
        if stage not in reasons:
            stage, message = "extracted", line
        reasons[stage].append({"message": message, "line": None, "path": None, "severity": "error"})
    # Those verdicts kept no scores: None, not a score of 0.
    verdicts = {stage: {"status": answer["stages"].get(stage, "skipped"), "score": None, "reasons": reasons[stage]}
                for stage in CHECK_STAGES}
    kept = {key: value for key, value in answer.items() if key not in ("stages", "reasons")}
    return {"asked": None, "code": "", **kept, **verdicts}


def row_record(row: dataset.Row) -> dict:
    return {"id": row.id, "kind": row.kind, "instruction": row.instruction, "input": row.input,
            "intent": row.intent, "reference": row.output, "answers": {}}


# -- running models ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where an evaluation stands: answers done of the total, for the model being run."""

    done: int
    total: int
    label: str
    seconds: float
    new_tokens: int = 0

    @property
    def eta_seconds(self) -> float | None:
        if not self.done:
            return None
        return self.seconds / self.done * (self.total - self.done)

    def __str__(self) -> str:
        eta = self.eta_seconds
        rest = f", ETA {format_duration(eta)}" if eta is not None and self.done < self.total else ""
        speed = f", {self.new_tokens / self.seconds:.1f} tokens/s" if self.seconds > 0 and self.new_tokens else ""
        return f"{self.label}: {self.done}/{self.total} answers in {format_duration(self.seconds)}{speed}{rest}"


@dataclass
class Results:
    summary: dict
    rows: list[dict] = field(default_factory=list)


def _weights(candidate: Candidate, everyone: list[Candidate]) -> tuple[str, str | None]:
    """Which weights run `candidate`: a base model shares the loaded adapter of a fine-tuned candidate on it."""
    if candidate.adapter:
        return candidate.model, candidate.adapter
    partner = next((other for other in everyone if other.model == candidate.model and other.adapter), None)
    return candidate.model, partner.adapter if partner else None


def batch_bounds(total: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, end) of each batch: 1, 2, 4, ... answers up to `batch_size`, then `batch_size` each, so the
    first answers (and the progress bar) come within seconds rather than after a whole batch.

    >>> batch_bounds(40, 16)
    [(0, 1), (1, 3), (3, 7), (7, 15), (15, 31), (31, 40)]
    """
    bounds, start, size = [], 0, 1
    while start < total:
        end = min(total, start + min(size, batch_size))
        bounds.append((start, end))
        start, size = end, size * 2
    return bounds


def evaluate(
    rows: list[dataset.Row],
    contenders: list[Candidate],
    settings: generation.Settings = generation.Settings(max_new_tokens=512),
    *,
    samples: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    split: str = "eval",
    judge=None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    pass_at: int = 0,
    pass_at_temperature: float = 0.7,
    answer_engine: str = "auto",
) -> Results:
    """Generate `samples` answers per row with each candidate, check them all and sum up.

    `judge` (a `studio.judge.Judge`) also scores every answer against its instruction; `should_stop` is polled
    between batches (a stop request ends the run with `StopRequested`). `pass_at` k > 0 also samples k answers
    per row at `pass_at_temperature`, beside the answers of `settings`: each model's summary then has `sampled`
    (their rates and pass@1..k) and the rows `sampled` (those answers). `answer_engine` picks who answers
    (`engine()`); where llama.cpp cannot take a model (an architecture its GGUF writer does not know), transformers
    answers and the summary's `decoder` says so.
    """
    if pass_at < 0 or (pass_at and not 0 < pass_at_temperature <= 5):
        raise ValueError(f"pass_at must be 0 (off) or k > 0 with a temperature in (0, 5], not {pass_at} at "
                         f"{pass_at_temperature}")
    if not rows:
        raise ValueError("No rows to evaluate on.")
    if not contenders:
        raise ValueError("No model to evaluate.")
    chosen_engine = engine(answer_engine)
    labels = [c.label for c in contenders]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Every model needs a label of its own, not {labels}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    if samples > 1 and settings.temperature <= 0:
        raise ValueError("pass@k needs k different answers: set a temperature above 0 to sample them.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")

    # A model trained with worked examples keeps their pool in its folder and is asked with them; every model of
    # the line-up then gets the same requests, the base too (studio.examples).
    pool = next((folder for c in contenders for folder in (c.adapter, c.model) if examples.index_of(folder)), None)
    rows = examples.attach(rows, pool)
    records = [row_record(row) for row in rows]
    chats = [chat.messages_for(row.instruction, row.kind, row.input) for row in rows]
    # Rows of similar length batch with little padding: run them longest first, keep the records in order.
    order = sorted(range(len(rows)), key=lambda i: -sum(len(m["content"]) for m in chats[i]))
    jobs = [i for i in order for _ in range(samples)]
    started = time.perf_counter()
    per_model: dict[str, dict] = {}
    held: tuple | None = None
    loaded = None
    keys = [_weights(c, contenders) for c in contenders]
    # Candidates on the same weights run one after the other, so each set of weights is loaded once.
    for candidate in sorted(contenders, key=lambda c: keys.index(_weights(c, contenders))):
        key = _weights(candidate, contenders)
        if key != held:
            loaded, held = None, None  # let the previous weights go before loading the next
            if key[1]:
                loaded = models.load_with_adapter(key[0], key[1])
            else:
                loaded = models.load(key[0])
            held = key
        model, tokenizer = loaded
        adapter_off = key[1] is not None and candidate.adapter is None
        if settings.guided and chosen_engine != "llama.cpp":
            _prepare_guidance(model, tokenizer, rows, batch_size)
        model_started, new_tokens, decoder = time.perf_counter(), 0, None
        passes = [(jobs, settings)]
        if pass_at:
            sampled_jobs = [i for i in order for _ in range(pass_at)]
            passes.append((sampled_jobs, dataclasses.replace(settings, temperature=pass_at_temperature)))
        total = sum(len(todo) for todo, _ in passes)
        outcomes: list[list[list[str]]] = []
        done = 0
        runner, prompts = None, []
        if chosen_engine == "llama.cpp":
            prompts = [tokenizer(generation.prompt_text(tokenizer, c), add_special_tokens=False)["input_ids"]
                       for c in chats]
            runner = _llama_runner(model, tokenizer, key, adapter_off, prompts, settings, batch_size)
        try:
            for todo, pass_settings in passes:
                answers: list[list[str]] = [[] for _ in rows]
                if runner is not None:
                    decoder = "llama.cpp"
                    for texts, tokens in _llama_answers(runner, tokenizer, todo, prompts, rows, pass_settings):
                        if should_stop and should_stop():
                            raise StopRequested(f"stopped after {done} of {total} answers of {candidate.label}")
                        new_tokens += tokens
                        done += 1
                        if on_progress:
                            on_progress(Progress(done, total, candidate.label, time.perf_counter() - model_started,
                                                 new_tokens))
                    for i, text in zip(todo, texts):
                        answers[i].append(text)
                    outcomes.append(answers)
                    continue
                for start, end in batch_bounds(len(todo), batch_size):
                    if should_stop and should_stop():
                        raise StopRequested(f"stopped after {done} of {total} answers of {candidate.label}")
                    chunk = todo[start:end]
                    chunk_settings = dataclasses.replace(pass_settings, seed=pass_settings.seed + start)
                    switch = model.disable_adapter() if adapter_off else contextlib.nullcontext()
                    with switch:
                        batch = generation.generate(model, tokenizer, [chats[i] for i in chunk], chunk_settings,
                                                    batch_size=len(chunk), kinds=[rows[i].kind for i in chunk])
                    new_tokens += batch.new_tokens
                    decoder = batch.decoder
                    for i, text in zip(chunk, batch.answers):
                        answers[i].append(text)
                    done += len(chunk)
                    if on_progress:
                        on_progress(Progress(done, total, candidate.label, time.perf_counter() - model_started,
                                             new_tokens))
                outcomes.append(answers)
        finally:
            if runner is not None:
                runner.close()  # its KV cache is the largest thing it holds
        generation_seconds = time.perf_counter() - model_started
        answers = outcomes[0]
        for i, record in enumerate(records):
            record["answers"][candidate.label] = [answer_record(text, rows[i].kind, rows[i].intent)
                                                  for text in answers[i]]
            if pass_at:
                record.setdefault("sampled", {})[candidate.label] = [
                    answer_record(text, rows[i].kind, rows[i].intent) for text in outcomes[1][i]]
            if judge is not None:
                for answer in record["answers"][candidate.label]:
                    answer["judge"] = judge.score(rows[i].instruction, answer["text"], rows[i].kind,
                                                  rows[i].input).to_dict()
        # new_tokens / generation_seconds is the decoding speed (the checks of the answers left out)
        per_model[candidate.label] = {"seconds": round(time.perf_counter() - model_started, 1),
                                      "generation_seconds": round(generation_seconds, 2), "new_tokens": new_tokens,
                                      "decoder": decoder}
    loaded = None
    summary = summarize(records, contenders, split=split, samples=samples)
    summary["settings"] = dataclasses.asdict(settings) | {"batch_size": batch_size}
    if pass_at:
        summary["sampled"] = {"k": pass_at, "temperature": pass_at_temperature, "top_p": settings.top_p}
    summary["seconds"] = round(time.perf_counter() - started, 1)
    for entry in summary["models"]:
        entry.update(per_model[entry["label"]])
    return Results(summary, records)


def _prepare_guidance(model, tokenizer, rows: list[dataset.Row], batch_size: int) -> None:
    """On a GPU, start the workers that will compute the guided masks (`studio.guided.shards.prepare`): they
    compile and warm the grammars of these rows' kinds side by side, once per process."""
    from studio.guided.shards import default_workers, prepare

    device = generation._device_of(model)
    workers = default_workers(min(batch_size, len(rows)), device)
    if workers:
        print(f"[eval] guided decoding: {workers} worker processes compile and warm the grammars (once per "
              "process; the first batch waits for them)", flush=True)
        prepare(tokenizer, model.config.vocab_size, workers, {row.kind for row in rows})


def _llama_runner(model, tokenizer, weights: tuple[str, str | None], adapter_off: bool, prompts: list[list[int]],
                  settings: generation.Settings, slots: int):
    """A `llama_engine.LlamaBatch` on an F16 GGUF of these weights, or None (with the reason printed) where
    llama.cpp cannot run them: the caller then answers with transformers."""
    try:
        key = llama_engine.weights_key(weights[0], None if adapter_off else weights[1])
        path = llama_engine.gguf_for(model, tokenizer, key, adapter=not adapter_off)
        per_answer = -(-(max(map(len, prompts)) + settings.max_new_tokens) // 256) * 256  # llama.cpp sizes caches by 256
        slots = max(1, min(slots, llama_engine.MAX_CONTEXT // per_answer))
        import torch

        return llama_engine.LlamaBatch(path, slots=slots, context=slots * per_answer, threads=torch.get_num_threads())
    except Exception as error:  # an architecture the exporter does not write, a full disk: transformers answers
        print(f"[evaluate] llama.cpp not used ({error}); answering with transformers", flush=True)
        return None


def _llama_answers(runner, tokenizer, todo: list[int], prompts: list[list[int]], rows: list[dataset.Row],
                   settings: generation.Settings):
    """Yield `(texts, new tokens)` after each answer of `todo` (row indices, into `prompts`, the rows' prompt
    tokens) ends; `texts` fills in, in `todo`'s order. Answer j samples with seed `settings.seed + j`, whatever the
    order they finish in."""
    guides = None
    if settings.guided:
        from studio.guided.decoding import GuidedLogitsProcessor

        guides = [GuidedLogitsProcessor(tokenizer, [rows[i].kind], budget=settings.max_new_tokens) for i in todo]
    backticks = generation._backtick_ids(tokenizer)

    def closed(ids: list[int]) -> bool:
        return ids[-1] in backticks and generation.closes_fence(tokenizer.decode(ids, skip_special_tokens=True))

    texts = [""] * len(todo)
    for position, ids in runner.answers([prompts[i] for i in todo], settings.max_new_tokens, generation.end_of_turn_ids(tokenizer),
                                        temperature=settings.temperature, top_p=settings.top_p, seed=settings.seed,
                                        guides=guides, stop=closed if settings.stop_at_fence else None):
        texts[position] = tokenizer.decode(ids, skip_special_tokens=True)
        yield texts, len(ids)


class StopRequested(RuntimeError):
    """The evaluation was asked to stop between two batches."""


def summarize(records: list[dict], contenders: list[Candidate], *, split: str = "eval", samples: int = 1) -> dict:
    """summary.json from the per-row records: the rate of each stage per model, overall and per kind.

    The Export tab's model card reads `models[].rates` and `models[].by_kind`; keep those keys.
    """
    return {
        "split": split,
        "rows": len(records),
        "kinds": {kind: sum(1 for r in records if r["kind"] == kind) for kind in KINDS},
        "samples": samples,
        "models": [summarize_model(candidate, records, samples) for candidate in contenders],
    }


# -- files ------------------------------------------------------------------------------------------------


def results_folder(run: str | Path | None = None, name: str | None = None) -> Path:
    """Where results go: `<run>/eval` for a run (a name under runs/ or a folder), else
    `workspace/evaluations/<name>`."""
    if run:
        path = Path(run)
        base = path if path.is_absolute() else workspace.inside(workspace.runs_dir(), str(run))
        return base / "eval"
    if not name:
        raise ValueError("An evaluation without a run needs a name.")
    evaluations = workspace.home() / "evaluations"
    evaluations.mkdir(parents=True, exist_ok=True)
    return workspace.inside(evaluations, name)


def write(results: Results, folder: str | Path) -> Path:
    """Write `summary.json` and `rows.jsonl` into `folder`, each atomically; rows first, so a summary is never
    without its rows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in results.rows)
    workspace.atomic_write_text(folder / ROWS_FILE, lines)
    workspace.atomic_write_text(folder / SUMMARY_FILE, json.dumps(results.summary, indent=1, ensure_ascii=False))
    return folder


def read(folder: str | Path) -> Results | None:
    """The results kept in `folder`, or None when there are none (yet).

    In the app (`studio.access.in_event`) only the workspace's results folders are read, whatever a client sends.
    """
    folder = Path(folder)
    if access.in_event() and folder.resolve() not in {found.resolve() for found in find_results()}:
        return None
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    rows = []
    try:
        for line in (folder / ROWS_FILE).read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                for label, answers in record.get("answers", {}).items():
                    record["answers"][label] = [_upgraded(answer) for answer in answers]
                rows.append(record)
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    return Results(summary, rows)


def results_of_run(run_folder: str | Path) -> Path | None:
    """The results shown on a run's page: those kept with it (`<run>/eval/`, its adapter was evaluated), or, for
    an eval job, the folder its summary.json points to."""
    run_folder = Path(run_folder)
    if (run_folder / "eval" / SUMMARY_FILE).is_file():
        return run_folder / "eval"
    try:
        pointed = json.loads((run_folder / "summary.json").read_text(encoding="utf-8")).get("results")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(pointed) if pointed and (Path(pointed) / SUMMARY_FILE).is_file() else None


def find_results() -> list[Path]:
    """Every results folder in the workspace (runs' eval/ and evaluations/), newest first."""
    home = workspace.home()
    found = [*home.glob(f"runs/*/eval/{SUMMARY_FILE}"), *home.glob(f"evaluations/*/{SUMMARY_FILE}")]
    return [p.parent for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


# -- the drill-down ---------------------------------------------------------------------------------------

FILTERS = {
    "all": "every row",
    "gained": "fine-tuned passes, base fails",
    "lost": "base passes, fine-tuned fails",
    "both_fail": "both fail",
    "both_pass": "both pass",
}


def row_passes(record: dict, label: str) -> bool | None:
    """Whether any of `label`'s answers to the row passes; None when that model did not answer it."""
    answers = record.get("answers", {}).get(label)
    return any(answer["ok"] for answer in answers) if answers else None


def drill_down(records: list[dict], which: str = "all", labels: tuple[str, str] = ("base", "fine-tuned")) -> list[dict]:
    """The rows of one outcome (a key of FILTERS): where the fine-tuned model gained, lost, or neither.

    >>> rows = [{"answers": {"base": [{"ok": False}], "fine-tuned": [{"ok": True}]}},
    ...         {"answers": {"base": [{"ok": True}], "fine-tuned": [{"ok": True}]}}]
    >>> len(drill_down(rows, "gained")), len(drill_down(rows, "both_pass")), len(drill_down(rows, "lost"))
    (1, 1, 0)
    """
    if which not in FILTERS:
        raise ValueError(f"which must be one of {', '.join(FILTERS)}, not {which!r}")
    if which == "all":
        return list(records)
    base, tuned = labels
    wanted = {"gained": (False, True), "lost": (True, False), "both_fail": (False, False), "both_pass": (True, True)}
    picked = []
    for record in records:
        before, after = row_passes(record, base), row_passes(record, tuned)
        # A base model evaluated alone: "both" filters then mean "it passes" and "it fails".
        outcome = (before, before if after is None else after)
        if outcome == wanted[which]:
            picked.append(record)
    return picked


# -- tables and charts -------------------------------------------------------------------------------------


def table(summary: dict):
    """A DataFrame: one line per (kind, stage), one column per model, and the change when there are two."""
    import pandas as pd

    models = summary["models"]
    lines = []
    counted = summary.get("kinds", {})
    looped = any("loop" in entry["rates"] for entry in models)
    scored = any(entry.get("intent_score") for entry in models)
    sampled = [entry.get("sampled") for entry in models]
    for scope in ("all", *(kind for kind in KINDS if counted.get(kind, 1))):
        for stage in (*STAGES, "loop") if looped else STAGES:
            figures = {entry["label"]: entry["rates"] if scope == "all" else entry["by_kind"].get(scope)
                       for entry in models}
            lines.append(_table_line(scope, stage, {label: rates.get(stage) if rates else None
                                                    for label, rates in figures.items()}))
            if stage == "intent" and scored:  # the mean intent score (`intent_scores`) under the intent rate
                lines.append(_table_line(scope, "intent score", {
                    entry["label"]: (entry.get("intent_score") or {}).get(scope) for entry in models}))
    if any(sampled):  # pass@k of the sampled answers, beside the greedy rates
        k = next(s["k"] for s in sampled if s)
        for j in _ks(k):
            lines.append(_table_line("all", f"pass@{j} (sampled)", {
                entry["label"]: entry["sampled"]["pass_at_k"][str(j)] if entry.get("sampled") else None
                for entry in models}))
    return pd.DataFrame(lines)


def _table_line(scope: str, stage: str, values: dict[str, float | None]) -> dict:
    """One line of `table`: each model's figure, rounded, and the change from the first to the second of two."""
    line: dict = {"kind": scope, "stage": stage}
    line.update({label: round(value, 4) if value is not None else None for label, value in values.items()})
    first, *others = values.values()
    if len(others) == 1 and None not in (first, others[0]):
        line["change"] = round(others[0] - first, 4)
    return line


def figure(summary: dict):
    """A plotly bar chart: the rate of each stage, one bar per model, overall and per kind side by side."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    scopes = [s for s in ("all", *KINDS) if s == "all" or any(s in e["by_kind"] for e in summary["models"])]
    chart = make_subplots(rows=1, cols=len(scopes), shared_yaxes=True,
                          subplot_titles=[f"{scope} ({_rows_in(summary, scope)} rows)" for scope in scopes])
    palette = ["#94a3b8", "#4f46e5", "#0d9488", "#f59e0b"]
    for index, entry in enumerate(summary["models"]):
        for column, scope in enumerate(scopes, start=1):
            figures = entry["rates"] if scope == "all" else entry["by_kind"].get(scope, {})
            chart.add_trace(go.Bar(
                name=entry["label"], x=list(STAGES), y=[figures.get(stage, 0.0) for stage in STAGES],
                marker_color=palette[index % len(palette)], showlegend=column == 1, legendgroup=entry["label"],
                text=[f"{figures.get(stage, 0.0):.0%}" for stage in STAGES], textposition="outside",
            ), row=1, col=column)
    chart.update_yaxes(range=[0, 1.1], tickformat=".0%")
    chart.update_layout(barmode="group", height=380, margin=dict(l=40, r=10, t=40, b=40),
                        legend=dict(orientation="h", y=-0.2))
    return chart


def _rows_in(summary: dict, scope: str) -> int | str:
    if scope == "all":
        return summary["rows"]
    return summary.get("kinds", {}).get(scope, "?")


# -- where results go ----------------------------------------------------------------------------------


def run_of(adapter: Path) -> Path | None:
    """The run folder an adapter belongs to (`runs/<run>/adapter`), or None."""
    adapter = adapter.resolve()
    runs = workspace.runs_dir().resolve()
    return adapter.parent if adapter.name == "adapter" and adapter.parent.parent == runs else None
