"""The evaluation library on a tiny model with a tiny adapter: real generation, real checks, no job system."""

from __future__ import annotations

import pytest

from studio import chat, evaluation, generation, models

SHORT = generation.Settings(max_new_tokens=8)


@pytest.fixture(autouse=True)
def transformers_answers(monkeypatch):
    # These tests are about batches of `generation.generate`; llama.cpp's answers are in test_llama_engine.py.
    monkeypatch.setenv("INFRAMIND_EVAL_ENGINE", "transformers")


@pytest.fixture(scope="module")
def rows():
    split = evaluation.load_rows(evaluation.EVAL_SPLIT)
    return [row for row in split if row.kind == "terraform"][:3] + [row for row in split if row.kind == "kubernetes"][:2]


def plain_answers(folder, rows, settings=SHORT):
    model, tokenizer = models.load(str(folder))
    chats = [chat.messages_for(row.instruction, row.kind, row.input) for row in rows]
    return [generation.generate(model, tokenizer, [c], settings).answers[0] for c in chats]


def test_base_runs_without_the_adapter_on_the_same_weights(tiny_llama, tiny_adapter, rows, monkeypatch):
    loads = []
    real = models.load
    monkeypatch.setattr(models, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    seen = []
    results = evaluation.evaluate(rows, evaluation.candidates(str(tiny_llama), adapter=str(tiny_adapter)), SHORT,
                                  batch_size=1, on_progress=seen.append)
    assert len(loads) == 1, "the base and the fine-tuned model share one load"

    base = [record["answers"]["base"][0]["text"] for record in results.rows]
    tuned = [record["answers"]["fine-tuned"][0]["text"] for record in results.rows]
    monkeypatch.setattr(models, "load", real)
    assert base == plain_answers(tiny_llama, rows), "base answers are the plain base model's"
    assert base != tuned
    assert [record["id"] for record in results.rows] == [row.id for row in rows], "records keep the rows' order"

    assert [(p.label, p.done) for p in seen] == [("base", i) for i in range(1, 6)] + [
        ("fine-tuned", i) for i in range(1, 6)]
    assert seen[-1].total == 5 and seen[0].eta_seconds is not None and "ETA" in str(seen[0])
    summary = results.summary
    assert summary["rows"] == 5 and summary["settings"]["max_new_tokens"] == 8
    assert [m["label"] for m in summary["models"]] == ["base", "fine-tuned"]
    assert summary["models"][1]["adapter"] == str(tiny_adapter)
    # A random model writes no infrastructure code: nothing is extracted, nothing passes.
    assert summary["models"][0]["rates"]["pass"] == 0.0
    assert all(m["new_tokens"] > 0 for m in summary["models"])


def test_batches_and_samples(tiny_llama, rows):
    sampled = generation.Settings(max_new_tokens=6, temperature=1.0, seed=3)
    results = evaluation.evaluate(rows[:2], evaluation.candidates(str(tiny_llama)), sampled, samples=3,
                                  batch_size=4)
    answers = results.rows[0]["answers"]["base"]
    assert len(answers) == 3 and len({a["text"] for a in answers}) > 1, "k samples are k different answers"
    entry = results.summary["models"][0]
    assert entry["answers"] == 6 and set(entry["pass_at_k"]) == {"1", "2", "3"}
    with pytest.raises(ValueError, match="temperature"):
        evaluation.evaluate(rows, evaluation.candidates(str(tiny_llama)), SHORT, samples=2)


def test_merged_export_is_a_model_of_its_own(tiny_llama, tiny_merged, rows):
    results = evaluation.evaluate(rows[:2], evaluation.candidates(str(tiny_llama), merged=str(tiny_merged)), SHORT,
                                  batch_size=2)
    assert [m["model"] for m in results.summary["models"]] == [str(tiny_llama), str(tiny_merged)]
    assert results.rows[0]["answers"]["fine-tuned"][0]["text"] != results.rows[0]["answers"]["base"][0]["text"]


def test_a_stop_request_ends_between_batches(tiny_llama, rows):
    calls = []
    # The first batch is one answer (batches grow towards batch_size so the first answers come soon).
    with pytest.raises(evaluation.StopRequested, match="after 1 of 5"):
        evaluation.evaluate(rows, evaluation.candidates(str(tiny_llama)), SHORT, batch_size=2,
                            should_stop=lambda: calls.append(1) or len(calls) > 1)


def test_pass_at_k_is_sampled_beside_greedy(tiny_llama, rows):
    seen = []
    results = evaluation.evaluate(rows[:2], evaluation.candidates(str(tiny_llama)), SHORT, batch_size=4, pass_at=3,
                                  pass_at_temperature=1.0, on_progress=seen.append)
    greedy = results.rows[0]["answers"]["base"]
    sampled = results.rows[0]["sampled"]["base"]
    assert len(greedy) == 1 and len(sampled) == 3 and len({a["text"] for a in sampled}) > 1
    assert greedy[0]["text"] == plain_answers(tiny_llama, rows[:1])[0], "greedy answers are unchanged"
    entry = results.summary["models"][0]
    assert entry["answers"] == 2 and set(entry["sampled"]["pass_at_k"]) == {"1", "2", "3"}
    assert results.summary["sampled"] == {"k": 3, "temperature": 1.0, "top_p": 0.95}
    assert seen[-1].done == seen[-1].total == 2 + 6


def test_generation_stops_at_the_closing_fence_of_the_answer_only(tiny_llama):
    import torch

    _, tokenizer = models.load(str(tiny_llama))
    prompt = tokenizer("Fix this:\n```hcl\nvariable \"x\" {}\n```\n", return_tensors="pt")["input_ids"]
    stop = generation.StopAtClosingFence(tokenizer, prompt.shape[1])

    def after(text: str) -> bool:
        ids = torch.cat([prompt, tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]], 1)
        return bool(stop(ids, None)[0])

    assert not after("Here:\n```"), "an opening fence in the answer is not its end, nor the prompt's fences"
    assert not after("Here:\n```hcl\nresource \"a\" \"b\" {}\n")
    assert after("Here:\n```hcl\nresource \"a\" \"b\" {}\n```")
    ids = generation.end_of_turn_ids(tokenizer)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in ids and tokenizer.eos_token_id in ids
