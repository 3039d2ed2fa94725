"""Evaluation on llama.cpp (the default without a GPU): F16 GGUFs the studio writes, many answers decoding at once,
the same answers as transformers, and transformers where llama.cpp cannot take the model."""

from __future__ import annotations

import pytest

from studio import chat, evaluation, generation, llama_engine, models

SHORT = generation.Settings(max_new_tokens=12)


@pytest.fixture(scope="module")
def rows():
    split = evaluation.load_rows(evaluation.EVAL_SPLIT)
    return [row for row in split if row.kind == "terraform"][:3] + [row for row in split if row.kind == "kubernetes"][:2]


def texts(results, label):
    return [record["answers"][label][0]["text"] for record in results.rows]


def test_llama_cpp_gives_the_transformers_answers_with_and_without_the_adapter(home, tiny_llama, tiny_adapter, rows):
    contenders = evaluation.candidates(str(tiny_llama), adapter=str(tiny_adapter))
    plain = evaluation.evaluate(rows, contenders, SHORT, answer_engine="transformers")
    seen = []
    fast = evaluation.evaluate(rows, contenders, SHORT, batch_size=2, answer_engine="llama.cpp",
                               on_progress=seen.append)

    assert [m["decoder"] for m in fast.summary["models"]] == ["llama.cpp", "llama.cpp"]
    assert [m["decoder"] for m in plain.summary["models"]] == ["transformers", "transformers"]
    for label in ("base", "fine-tuned"):
        assert texts(fast, label) == texts(plain, label), label
    assert texts(fast, "base") != texts(fast, "fine-tuned"), "the adapter is merged into the fine-tuned GGUF"
    # Two F16 files (the base, and the adapter merged), written into the workspace's cache.
    assert len(list((home / "cache" / "gguf").glob("*-F16.gguf"))) == 2
    # Progress after every answer, and the tokens counted as transformers counts them.
    assert [(p.label, p.done) for p in seen] == [("base", i) for i in range(1, 6)] + [
        ("fine-tuned", i) for i in range(1, 6)]
    assert [m["new_tokens"] for m in fast.summary["models"]] == [m["new_tokens"] for m in plain.summary["models"]]


def test_answers_do_not_depend_on_how_many_decode_together(home, tiny_llama):
    """Continuous batching: with 1 slot or 3, each prompt gets the same answer, greedy or sampled (each answer has
    its own seeded generator), and every prompt is answered once."""
    model, tokenizer = models.load(str(tiny_llama))
    path = llama_engine.gguf_for(model, tokenizer, llama_engine.weights_key(str(tiny_llama)))
    requests = ["An S3 bucket", "A VPC with two subnets", "nginx, 2 replicas", "An SQS queue", "A CronJob"]
    prompts = [tokenizer(generation.prompt_text(tokenizer, chat.messages_for(r, "terraform")),
                         add_special_tokens=False)["input_ids"] for r in requests]
    stop = generation.end_of_turn_ids(tokenizer)
    for temperature in (0.0, 1.0):
        answers = []
        for slots in (1, 3):
            engine = llama_engine.LlamaBatch(path, slots=slots, context=slots * 512)
            found = list(engine.answers(prompts, 20, stop, temperature=temperature, top_p=0.9, seed=5))
            engine.close()
            assert sorted(index for index, _ in found) == list(range(len(prompts)))
            answers.append(dict(found))
        assert answers[0] == answers[1], temperature
        assert all(0 < len(ids) <= 20 for ids in answers[0].values())
    # A caller's stop rule ends an answer at the token it names, that token kept.
    engine = llama_engine.LlamaBatch(path, slots=2, context=1024)
    first = dict(engine.answers(prompts[:2], 20, stop))
    cut = dict(engine.answers(prompts[:2], 20, stop, stop=lambda ids: len(ids) == 3))
    assert all(cut[i] == first[i][:3] for i in cut)



class _Recorder:
    """llama_cpp as the engine sees it, with each decode call's sequence ids written down."""

    def __init__(self, lib):
        self._lib, self.calls = lib, []

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def llama_decode(self, ctx, batch):
        self.calls.append([batch.seq_id[i][0] for i in range(batch.n_tokens)])
        return self._lib.llama_decode(ctx, batch)


def test_answers_decode_in_consecutive_slots_and_keep_their_tokens_when_moved(home, tiny_llama):
    """llama.cpp makes one pass of the model per run of consecutive slots: every call lists its answers' slots in
    order, and once no prompt waits, an answer in a high slot moves into a freed lower one (its KV buffer copied),
    writing the tokens it would have written where it was."""
    model, tokenizer = models.load(str(tiny_llama))
    path = llama_engine.gguf_for(model, tokenizer, llama_engine.weights_key(str(tiny_llama)))
    requests = ["An S3 bucket", "A VPC with two subnets", "nginx, 2 replicas", "An SQS queue", "A CronJob",
                "An ECR repository"]
    prompts = [tokenizer(generation.prompt_text(tokenizer, chat.messages_for(r, "terraform")),
                         add_special_tokens=False)["input_ids"] for r in requests]
    targets: dict[int, int] = {}  # each answer's length, by its list of tokens, in the order they begin

    def uneven(ids):
        if id(ids) not in targets:
            targets[id(ids)] = next(lengths)
        return len(ids) >= targets[id(ids)]

    runs = {}
    for in_order in (False, True):
        engine = llama_engine.LlamaBatch(path, slots=4, context=4 * 512)
        recorder = engine._lib = _Recorder(engine._lib)
        llama_engine.SLOTS_IN_ORDER = in_order
        try:
            targets.clear()
            lengths = iter([3, 30, 2, 25, 4, 28])  # uneven: the slots free up out of order
            runs[in_order] = dict(engine.answers(prompts, 40, [], stop=uneven))
        finally:
            llama_engine.SLOTS_IN_ORDER = True
            engine.close()
        slots = [sorted(set(call)) for call in recorder.calls]
        if in_order:
            assert all(call == sorted(call) for call in recorder.calls), "slots in order within each call"
            assert all(used == list(range(len(used))) for used in slots), "the slots decoding are 0..n-1"
        else:
            assert any(used != list(range(len(used))) for used in slots), "without it, freed slots leave holes"
    assert runs[True] == runs[False], "moving an answer to another slot keeps its tokens"
    assert sorted(len(ids) for ids in runs[True].values()) == [2, 3, 4, 25, 28, 30]


def test_the_engine_is_llama_cpp_without_a_gpu_and_transformers_where_it_cannot_be(home, tiny_llama, rows,
                                                                                    monkeypatch):
    monkeypatch.delenv("INFRAMIND_EVAL_ENGINE", raising=False)
    monkeypatch.setattr(models, "device", lambda: "cpu")
    assert evaluation.engine() == "llama.cpp"
    monkeypatch.setenv("INFRAMIND_EVAL_ENGINE", "transformers")
    assert evaluation.engine() == "transformers" and evaluation.engine("llama.cpp") == "llama.cpp"
    monkeypatch.delenv("INFRAMIND_EVAL_ENGINE")
    monkeypatch.setattr(models, "device", lambda: "cuda")
    assert evaluation.engine() == "transformers"
    with pytest.raises(ValueError, match="engine must be one of"):
        evaluation.engine("vllm")

    # A model the GGUF exporter cannot write is answered by transformers, and the summary says so.
    from studio.export import gguf

    def unsupported(*args, **kwargs):
        raise gguf.UnsupportedModel("not written to GGUF here")

    monkeypatch.setattr(gguf, "write", unsupported)
    results = evaluation.evaluate(rows[:2], evaluation.candidates(str(tiny_llama)), SHORT, answer_engine="llama.cpp")
    assert results.summary["models"][0]["decoder"] == "transformers"
    assert all(record["answers"]["base"][0]["text"] for record in results.rows)
