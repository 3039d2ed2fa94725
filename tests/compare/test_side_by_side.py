"""Base and fine-tuned side by side: the base pane really runs without the adapter, on the same weights."""

from __future__ import annotations

import pytest
import torch

from studio import chat, compare, generation, models

REQUEST = "Create an S3 bucket for logs with versioning enabled."
GREEDY = generation.Settings(max_new_tokens=16)


def last(stream):
    pairs = list(stream)
    return pairs, pairs[-1]


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(models, "CACHE", models.ModelCache())
    # These tests are about the transformers lanes; the llama.cpp ones are at the end.
    monkeypatch.setenv("INFRAMIND_COMPARE_ENGINE", "transformers")


def plain_answer(folder, settings=GREEDY) -> str:
    model, tokenizer = models.load(str(folder))
    messages = chat.messages_for(REQUEST, "terraform")
    return generation.generate(model, tokenizer, [messages], settings).answers[0]


def test_base_pane_is_the_plain_base_model_and_the_adapter_changes_the_answer(tiny_llama, tiny_adapter):
    tuned = compare.fine_tuned(tiny_adapter)
    assert tuned is not None and not tuned.merged
    pairs, (base, right) = last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=GREEDY))

    assert base.done and right.done
    assert base.text == plain_answer(tiny_llama), "the base pane must be the base model without the adapter"
    assert right.text != base.text, "an adapter with non-zero weights must change the answer"

    # The fine-tuned pane is what PEFT's own generate gives with the adapter on.
    peft_model, tokenizer = models.load_with_adapter(str(tiny_llama), tiny_adapter)
    messages = chat.messages_for(REQUEST, "terraform")
    assert right.text == generation.generate(peft_model, tokenizer, [messages], GREEDY).answers[0]
    # And the adapter is left on after a comparison: nothing leaks out of disable_adapter().
    cached, _ = models.CACHE.get(str(tiny_llama), adapter=tiny_adapter)
    assert not cached.base_model.model.model.layers[0].self_attn.q_proj.disable_adapters


def test_both_panes_grow_together_on_one_copy_of_the_weights(tiny_llama, tiny_adapter, monkeypatch):
    loads = []
    real = models.load
    monkeypatch.setattr(models, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    pairs, _ = last(compare.stream_pair(str(tiny_llama), compare.fine_tuned(tiny_adapter), "terraform", REQUEST,
                                        settings=GREEDY))
    assert len(loads) == 1, "one copy of the weights serves both panes"
    running = [(b.tokens, r.tokens) for b, r in pairs[:-1]]
    assert len(running) >= 2
    for (b_before, r_before), (b_after, r_after) in zip(running, running[1:]):
        # Each round adds a token to every answer still going: neither pane waits for the other to finish.
        assert b_after >= b_before and r_after >= r_before and (b_after, r_after) != (b_before, r_before)
    assert running[0] == (1, 1)


def test_merged_export_runs_beside_the_base(tiny_llama, tiny_merged):
    tuned = compare.fine_tuned(tiny_merged)
    assert tuned.merged
    _, (base, right) = last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=GREEDY))
    assert base.text == plain_answer(tiny_llama)
    assert right.text == plain_answer(tiny_merged)
    assert right.text != base.text


def test_base_alone_has_one_pane_and_verdicts(tiny_llama):
    _, (base, right) = last(compare.stream_pair(str(tiny_llama), None, "terraform", REQUEST, settings=GREEDY))
    assert right is None
    assert base.text == plain_answer(tiny_llama)
    assert base.report is not None and not base.report.ok  # a random model writes no Terraform
    assert base.report.extracted.status == "failed"


def test_sampling_is_seeded_and_pairs_share_the_random_numbers(tiny_llama, tiny_adapter):
    sampled = generation.Settings(max_new_tokens=16, temperature=1.0, seed=7)
    tuned = compare.fine_tuned(tiny_adapter)
    runs = [last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=sampled))[1]
            for _ in range(2)]
    assert [p.text for p in runs[0]] == [p.text for p in runs[1]], "the same seed gives the same answers"
    other = last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST,
                                     settings=generation.Settings(max_new_tokens=16, temperature=1.0, seed=8)))[1]
    assert [p.text for p in other] != [p.text for p in runs[0]]
    assert runs[0][0].text != plain_answer(tiny_llama), "a sampled answer is not the greedy one"


def test_top_p_keeps_only_the_nucleus():
    logits = torch.tensor([4.0, 3.0, 0.0, -1.0])
    generator = torch.Generator().manual_seed(0)
    # Token 0 alone holds 71% of the mass: with top_p 0.5 it is the only one left.
    assert {generation.pick_token(logits, 1.0, 0.5, generator) for _ in range(50)} == {0}
    assert len({generation.pick_token(logits, 1.0, 1.0, generator) for _ in range(200)}) >= 3
    assert generation.pick_token(logits, 0.0, 0.5) == 0


def test_fine_tuned_names_a_run_an_adapter_or_a_merged_folder(home, tiny_llama, tiny_adapter, tmp_path):
    import shutil

    shutil.copytree(tiny_adapter, home / "runs" / "sft-7" / "adapter")
    by_run = compare.fine_tuned("sft-7")
    assert by_run.path == (home / "runs" / "sft-7" / "adapter").resolve() and not by_run.merged
    assert by_run.label == "sft-7 (adapter)"
    assert compare.fine_tuned(str(tiny_llama)).merged
    assert compare.fine_tuned("  ") is None
    with pytest.raises(models.ModelUnavailable, match="neither a run"):
        compare.fine_tuned(str(tmp_path))
    labels = [label for label, _ in compare.fine_tuned_choices()]
    assert labels and labels[0].startswith("sft-7")


def test_an_adapter_of_another_base_is_refused_by_name(tiny_llama, tiny_adapter, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    # The same architecture at another width, as SmolLM2 is to Qwen2.5: the LoRA matrices do not fit.
    config = AutoConfig.from_pretrained(tiny_llama)
    config.hidden_size, config.intermediate_size = 32, 64
    other = tmp_path / "narrow"
    AutoModelForCausalLM.from_config(config).save_pretrained(other)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(other)
    with pytest.raises(models.ModelUnavailable, match="trained on"):
        models.load_with_adapter(str(other), tiny_adapter)


def test_intent_only_for_an_unchanged_example():
    row = compare.examples()[0].to_dict()
    assert compare.intent_for(row, row["kind"], row["instruction"], row["input"]) == row["intent"]
    assert compare.intent_for(row, row["kind"], row["instruction"] + " Add tags.", row["input"]) is None
    other = "kubernetes" if row["kind"] == "terraform" else "terraform"
    assert compare.intent_for(row, other, row["instruction"], row["input"]) is None
    assert len(compare.examples()) == 121


def test_a_merged_export_is_offered_with_its_base(home, tiny_llama, tiny_adapter):
    import shutil

    from studio.export.build import ExportRequest, build_export

    shutil.copytree(tiny_adapter, home / "runs" / "sft-9" / "adapter")
    build_export(ExportRequest(run="sft-9", name="sft-9-merged", formats=("merged",)))
    choices = {folder: label for label, folder in compare.fine_tuned_choices()}
    folder = home / "exports" / "sft-9-merged" / "merged"
    assert choices[str(folder)] == "sft-9-merged (merged export of sft-9)"
    tuned = compare.fine_tuned(str(folder))
    assert tuned.merged and compare.base_model_of(tuned) == str(tiny_llama)
    assert compare.base_model_of(compare.fine_tuned("sft-9")) == str(tiny_llama)


def test_on_llama_cpp_both_panes_give_the_transformers_answers(home, tiny_llama, tiny_adapter, monkeypatch):
    """llama.cpp on F16 GGUFs the studio writes (the base without the adapter, and with it merged) gives the
    greedy answers of the transformers lanes, and the GGUFs are written once."""
    tuned = compare.fine_tuned(tiny_adapter)
    _, (base, right) = last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=GREEDY))

    monkeypatch.setenv("INFRAMIND_COMPARE_ENGINE", "llama.cpp")
    lanes, _ = compare._lanes(str(tiny_llama), tuned, None)
    assert [type(lane).__name__ for lane in lanes] == ["_LlamaLane", "_LlamaLane"]
    _, (fast_base, fast_right) = last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST,
                                                          settings=GREEDY))
    assert (fast_base.text, fast_right.text) == (base.text, right.text)
    assert fast_right.text != fast_base.text
    written = sorted((home / "cache" / "gguf").glob("*.gguf"))
    assert len(written) == 2
    before = [path.stat().st_mtime_ns for path in written]
    last(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=GREEDY))
    assert [path.stat().st_mtime_ns for path in written] == before


def test_without_a_gpu_compare_chooses_llama_cpp_and_falls_back_to_transformers(home, tiny_llama, monkeypatch):
    monkeypatch.delenv("INFRAMIND_COMPARE_ENGINE")
    monkeypatch.setattr(models, "device", lambda: "cpu")
    assert compare.engine() == "llama.cpp"
    monkeypatch.setattr(models, "device", lambda: "cuda")
    assert compare.engine() == "transformers"

    # A model the GGUF exporter cannot write is answered by transformers, not refused.
    monkeypatch.setenv("INFRAMIND_COMPARE_ENGINE", "llama.cpp")

    def unsupported(*args, **kwargs):
        raise compare_gguf.UnsupportedModel("not written to GGUF here")

    from studio.export import gguf as compare_gguf

    monkeypatch.setattr(compare_gguf, "write", unsupported)
    lanes, _ = compare._lanes(str(tiny_llama), None, None)
    assert type(lanes[0]).__name__ == "_Lane"
    _, (base, _right) = last(compare.stream_pair(str(tiny_llama), None, "terraform", REQUEST, settings=GREEDY))
    assert base.done and base.text == plain_answer(tiny_llama)
