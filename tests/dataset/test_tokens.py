"""Rows as the model sees them: the same tokens and the same loss span as TRL's SFTTrainer, and lengths."""

from __future__ import annotations

import pytest

from studio import dataset, dataset_tokens
from tests.dataset.conftest import DATA
from tests.factories import build_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A byte-level BPE of 400 tokens with ChatML: IaC takes many tokens, so max lengths bite early."""
    return build_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def eval_rows():
    return dataset.read_jsonl(DATA / "eval.jsonl")


def test_the_loss_falls_on_the_answer_and_the_end_of_turn(tokenizer, eval_rows):
    row = eval_rows[0]
    seen = dataset_tokens.render(row, tokenizer, max_length=None)
    assert seen.prompt_text.startswith("<|im_start|>system\nYou are an infrastructure engineer.")
    assert seen.prompt_text.endswith(f"{row.instruction}\n\n{row.input}<|im_end|>\n<|im_start|>assistant\n")
    assert seen.completion_text == row.output + "<|im_end|>\n"
    assert seen.cut_text == "" and seen.cut_tokens == 0 and not seen.dropped
    ids, prompt_length = dataset_tokens.split_ids(row, tokenizer)
    assert (seen.prompt_tokens, seen.total_tokens) == (prompt_length, len(ids))


def test_a_max_length_cuts_the_end_of_the_answer(tokenizer, eval_rows):
    row = eval_rows[0]
    whole = dataset_tokens.render(row, tokenizer, max_length=None)
    cut = dataset_tokens.render(row, tokenizer, max_length=whole.prompt_tokens + 10)
    assert (cut.prompt_tokens, cut.completion_tokens) == (whole.prompt_tokens, 10)
    assert cut.cut_tokens == whole.completion_tokens - 10
    assert cut.completion_text + cut.cut_text == whole.completion_text
    short = dataset_tokens.render(row, tokenizer, max_length=whole.prompt_tokens - 1)
    assert short.dropped and short.completion_text == ""
    assert short.prompt_text + short.cut_text == whole.prompt_text + whole.completion_text


def test_lengths_and_stats(tokenizer, eval_rows):
    lengths = dataset_tokens.token_lengths(eval_rows[:12], tokenizer)
    assert lengths == [dataset_tokens.render(row, tokenizer, None).total_tokens for row in eval_rows[:12]]
    stats = dataset_tokens.length_stats(lengths, max_length=sorted(lengths)[5])
    assert stats["rows"] == 12 and stats["over"] == 6
    assert stats["min"] == min(lengths) and stats["max"] == max(lengths) == stats["p95"]
    figure = dataset_tokens.length_histogram({"terraform": lengths[:6], "kubernetes": lengths[6:]}, 900)
    assert [trace.name for trace in figure.data] == ["terraform", "kubernetes"]
    assert figure.layout.shapes[0].x0 == 900  # the max length line
    assert figure.layout.annotations[0].text.startswith("max length 900:")


def test_the_same_tokens_and_loss_as_sft_trainer(tiny_llama, eval_rows):
    """What the tab marks as loss is what SFTTrainer trains on, cut where SFTTrainer cuts.

    Rows whose prompt alone fills the max length are dropped by TRL: `Rendering.dropped` says so.
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    # With the 400-token vocabulary and 300 tokens at most: tfa-0001 fits, k8b-0125 and tfc-0007 are cut,
    # the prompt of k8b-0094 alone is longer (529 tokens).
    by_id = {row.id: row for row in eval_rows}
    rows = [by_id[row_id] for row_id in ("tfa-0001", "k8b-0125", "k8b-0094", "tfc-0007")]
    max_length = 300
    seen = [dataset_tokens.render(row, tokenizer, max_length) for row in rows]
    assert ["dropped" if s.dropped else "cut" if s.cut_tokens else "fits" for s in seen] == [
        "fits", "cut", "dropped", "cut"]

    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_llama),
        args=SFTConfig(output_dir=str(tiny_llama / "sft-check"), max_length=max_length, report_to=[],
                       use_cpu=True, bf16=False),
        train_dataset=Dataset.from_list([dataset.to_prompt_completion(row) for row in rows]),
        processing_class=tokenizer,
    )
    trained = list(trainer.train_dataset)
    kept = [s for s in seen if not s.dropped]
    assert len(trained) == len(kept)
    for example, rendering in zip(trained, kept):
        assert tokenizer.decode(example["input_ids"]) == rendering.prompt_text + rendering.completion_text
        learned = [token for token, label in zip(example["input_ids"], example["labels"]) if label != -100]
        assert tokenizer.decode(learned) == rendering.completion_text


def test_the_default_lengths_cover_every_seed_row(embedded_home, seed_splits, monkeypatch):
    """No seed row is cut in training (issue 12): SFT's max_length holds every row whole, GRPO's
    max_completion_length the longest answer; with the embedded model's tokenizer."""
    from jobs import recipe, specs
    from studio import models

    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    tokenizer = models.load_tokenizer(models.EMBEDDED)
    rows = seed_splits["train"] + seed_splits["eval"]
    lengths = dataset_tokens.token_lengths(rows, tokenizer)
    answers = [len(ids) - prompt for ids, prompt in (dataset_tokens.split_ids(r, tokenizer) for r in seed_splits["train"])]
    sft, grpo = recipe.phases("lengths")
    for max_length in (specs.SFTJob().max_length, sft.max_length):
        assert dataset_tokens.length_stats(lengths, max_length)["over"] == 0, max_length
    for completion in (specs.GRPOJob().max_completion_length, grpo.max_completion_length):
        assert completion >= max(answers)
    assert grpo.mask_truncated_completions and specs.GRPOJob().mask_truncated_completions
    print(f"\nseed rows fitting max_length {sft.max_length}: {sum(n <= sft.max_length for n in lengths)}/{len(rows)} "
          f"(longest {max(lengths)} tokens); longest training answer {max(answers)} <= {grpo.max_completion_length}")


def test_the_train_tab_warns_of_rows_training_would_cut(tiny_llama, eval_rows, tmp_path, home):
    from jobs import specs
    from studio.ui import train

    path = tmp_path / "rows.jsonl"
    path.write_text(dataset.jsonl_text(eval_rows[:6]), encoding="utf-8")
    tokenizer = dataset_tokens.tokenizer_for(str(tiny_llama))
    lengths = dataset_tokens.token_lengths(eval_rows[:6], tokenizer)
    middle = sorted(lengths)[2]
    over = sum(n > middle for n in lengths)
    warning = dataset_tokens.cut_rows_warning(path, str(tiny_llama), middle)
    assert warning.startswith(f"{over} of 6 rows are longer than max_length {middle} tokens (the longest is "
                              f"{max(lengths)})")
    assert dataset_tokens.cut_rows_warning(path, str(tiny_llama), max(lengths)) is None
    assert "reference answers are longer than max_completion_length 8" in dataset_tokens.cut_rows_warning(
        path, str(tiny_llama), 4096, completion_length=8)
    estimate, _, _ = train._preview_of(specs.SFTJob(model=str(tiny_llama), dataset=str(path), eval_dataset="",
                                                    max_length=middle, output="x"))
    assert f"**Warning:** {over} of 6 rows are longer than max_length {middle}" in estimate
