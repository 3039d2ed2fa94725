"""The studio's rollout engine (studio.decoder) against transformers' `generate`: the same greedy tokens from the
same weights, a LoRA adapter merged in or switched off, prompts of different lengths left-padded together.

On the CPU the engine runs without CUDA graphs; its speed is bench/rollout_speed.py's business, on a GPU.
"""

from __future__ import annotations

import pytest
import torch

from studio.decoder import Rollout, supports


def _prompts(tokenizer):
    texts = ["Create an S3 bucket for logs", "apiVersion: apps/v1\nkind: Deployment", "resource"]
    return [tokenizer(text)["input_ids"] for text in texts]


def _generate_greedy(model, tokenizer, prompt, max_new):
    ids = torch.tensor([prompt])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                         do_sample=False, eos_token_id=[tokenizer.eos_token_id], pad_token_id=tokenizer.pad_token_id)
    answer = out[0, len(prompt):].tolist()
    if tokenizer.eos_token_id in answer:
        answer = answer[: answer.index(tokenizer.eos_token_id) + 1]
    return answer


@pytest.mark.parametrize("with_adapter", [False, True])
def test_greedy_answers_match_generate(tiny_model, with_adapter):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    if with_adapter:
        torch.manual_seed(3)  # random A and B: the adapter really changes the answers
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, lora_dropout=0.1, init_lora_weights=False,
                                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                 "gate_proj", "up_proj", "down_proj"])).eval()
    engine = Rollout.for_model(model)
    assert engine is not None and not engine.use_graphs
    engine.sync(model)
    prompts = _prompts(tokenizer)
    answers = engine.generate(prompts, max_new_tokens=12, temperature=0.0, eos_ids=[tokenizer.eos_token_id],
                              pad_id=tokenizer.pad_token_id)
    expected = [_generate_greedy(model, tokenizer, prompt, 12) for prompt in prompts]
    assert answers == expected
    if with_adapter:
        with model.disable_adapter():
            engine.sync(model)
            base_answers = engine.generate(prompts, 12, 0.0, [tokenizer.eos_token_id], tokenizer.pad_token_id)
            assert base_answers == [_generate_greedy(model, tokenizer, p, 12) for p in prompts]
        assert base_answers != answers


def test_sampling_stops_each_row_at_its_end_token(tiny_llama):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    engine = Rollout.for_model(model)
    engine.sync(model)
    torch.manual_seed(0)
    # every token of the vocabulary ends an answer: each row stops after exactly one token
    answers = engine.generate(_prompts(tokenizer) * 2, max_new_tokens=8, temperature=1.0,
                              eos_ids=list(range(len(tokenizer))), pad_id=tokenizer.pad_token_id)
    assert [len(a) for a in answers] == [1] * 6
    answers = engine.generate(_prompts(tokenizer), 8, 1.0, [], tokenizer.pad_token_id)
    assert [len(a) for a in answers] == [8] * 3
    assert all(0 <= token < len(tokenizer) for answer in answers for token in answer)


def test_sampling_ends_at_its_deadline(tiny_llama):
    """A deadline already past: each answer stops after the first chunk of tokens (one host check), cut where it
    stands; with a logits processor, after its first token. One far ahead changes nothing."""
    import time

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    engine = Rollout.for_model(model)
    engine.sync(model)
    torch.manual_seed(0)
    past = time.monotonic()
    answers = engine.generate(_prompts(tokenizer), 200, 1.0, [], tokenizer.pad_token_id, check_every=4,
                              deadline=past)
    assert [len(a) for a in answers] == [5] * 3  # the prefill's token, then one chunk of 4, no padding after
    answers = engine.generate(_prompts(tokenizer), 200, 1.0, [], tokenizer.pad_token_id, deadline=past,
                              logits_processor=lambda ids, scores: scores)
    assert [len(a) for a in answers] == [1] * 3
    answers = engine.generate(_prompts(tokenizer), 40, 1.0, [], tokenizer.pad_token_id, deadline=past + 600)
    assert [len(a) for a in answers] == [40] * 3


def test_what_the_engine_leaves_to_trl(tiny_llama):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_llama)
    assert supports(config) is None
    assert "top_p" in supports(config, top_p=0.9)
    config.model_type = "gpt2"
    assert "gpt2" in supports(config)


@pytest.mark.parametrize("adapter_on", [True, False])
def test_batches_of_answers_are_the_same_from_either_decoder(tiny_llama, tiny_adapter, adapter_on):
    """`generation.generate` through the studio's decoder (what a GPU uses for evaluation) gives the answers of
    `model.generate`, greedy, with the adapter on and switched off, prompts of different lengths in one batch."""
    import contextlib

    from studio import chat, generation, models

    model, tokenizer = models.load_with_adapter(str(tiny_llama), str(tiny_adapter))
    chats = [chat.messages_for("A versioned S3 bucket for logs", "terraform"),
             chat.messages_for("nginx", "kubernetes"),
             chat.messages_for("An SQS queue with a dead-letter queue after 5 receives", "terraform", "region eu-west-1")]
    settings = generation.Settings(max_new_tokens=24)
    switch = contextlib.nullcontext() if adapter_on else model.disable_adapter()
    with switch:
        studio = generation.generate(model, tokenizer, chats, settings, batch_size=3, decoder="studio")
        plain = generation.generate(model, tokenizer, chats, settings, batch_size=3, decoder="transformers")
    assert (studio.decoder, plain.decoder) == ("studio", "transformers")
    assert studio.answers == plain.answers
    assert studio.new_tokens == plain.new_tokens
    # on the CPU "auto" keeps transformers' generate
    assert generation.generate(model, tokenizer, chats[:1], settings).decoder == "transformers"
    with pytest.raises(ValueError, match="top_p"):
        generation.studio_decoder(model, generation.Settings(temperature=0.7, top_p=0.9), "studio")


def test_an_answer_is_cut_where_its_fence_closes(tiny_llama):
    from transformers import AutoTokenizer

    from studio import generation

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    ids = tokenizer('```hcl\nresource "aws_sqs_queue" "jobs" {}\n```\nThat creates the queue.',
                    add_special_tokens=False)["input_ids"]
    cut = generation.cut_at_fence(tokenizer, ids)
    assert tokenizer.decode(cut).rstrip("\n") == '```hcl\nresource "aws_sqs_queue" "jobs" {}\n```'
    unclosed = tokenizer("```hcl\nresource", add_special_tokens=False)["input_ids"]
    assert generation.cut_at_fence(tokenizer, unclosed) == unclosed
