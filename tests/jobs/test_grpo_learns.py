"""GRPO's direction: on a reward a few steps can learn, the studio's trainer raises it.

The IaC rewards barely move over a GRPO run of the embedded model (bench/grpo_seeds.py), which a trainer that
pairs rewards with the wrong answers, or steps against the advantage, would show as well. Here a tiny random model
learns what it can in a dozen steps: to write more tokens of one half of its vocabulary (even ids), which it first
writes about half the time. Both rollout paths: the studio's engine (a GPU's default) and TRL's `generate`.
"""

from __future__ import annotations

import statistics

import pytest


@pytest.mark.parametrize("rollout", ["studio", "trl"])
def test_grpo_raises_a_reward_it_can_learn(tiny_llama, tmp_path, rollout):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from jobs.grpo import trainer_class
    from studio.decoder import Rollout

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    prompts = Dataset.from_list([{"prompt": [{"role": "user", "content": f"Create bucket {i}"}]} for i in range(64)])
    seen: list[float] = []  # each step's mean reward

    def even_share(completion_ids, **kwargs) -> list[float]:
        """The reward: the share of an answer's tokens whose id is even."""
        values = [sum(token % 2 == 0 for token in ids) / max(1, len(ids)) for ids in completion_ids]
        seen.append(statistics.fmean(values))
        return values

    config = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=16, num_generations=8,
                        max_completion_length=12, learning_rate=2e-2, lr_scheduler_type="constant", max_steps=12,
                        temperature=1.0, seed=0, use_cpu=True, report_to=[], save_strategy="no", logging_steps=1,
                        disable_tqdm=True)
    trainer = trainer_class()(model=model, reward_funcs=[even_share], args=config, train_dataset=prompts,
                              processing_class=tokenizer)
    if rollout == "studio":
        trainer.rollout = Rollout.for_model(trainer.accelerator.unwrap_model(trainer.model))
        assert trainer.rollout is not None
    trainer.train()

    assert len(seen) == 12
    first, last = statistics.fmean(seen[:3]), statistics.fmean(seen[-3:])
    assert 0.3 < first < 0.7, f"a random model writes even ids about half the time, not {first:.2f}"
    assert last > first + 0.2, f"{rollout}: the reward went {first:.2f} -> {last:.2f} over {seen}"
    if rollout == "studio":
        assert trainer.timings["generate_s"] > 0 and trainer.rollout.synced_at == 11  # re-synced at each step
