"""The GRPO job: TRL's GRPOTrainer samples answers to the dataset's requests and the IaC validators score them.

    python -m jobs run workspace/runs/grpo-iac-1/job.yaml            # what the runner and the Train tab start
    python -m jobs run workspace/runs/grpo-iac-1/job.yaml --resume   # continue from the last checkpoint

The rewards are `studio.iac.rewards`: one TRL reward function per component (format, parse, schema, intent,
best practice, wrong language), weighted by the spec, each reading the row's `kind` and `intent` columns. TRL
logs each component's mean and std, which the metrics callback writes to metrics.jsonl for the Jobs tab.

Reads top to bottom: set up, load the data and the model, train, save, clean up.
"""

from __future__ import annotations

import json
import os
import time

from jobs import training
from jobs.metrics import MetricsCallback
from jobs.run_folder import RunFolder
from jobs.specs import GRPOJob
from studio import dataset, examples


def prompt_rows(rows: list[dataset.Row]) -> list[dict]:
    """The request of each row as a conversational prompt, with the columns the rewards read.

    `intent` travels as JSON text: Arrow would otherwise force every row's intent into one struct type.
    """
    return [{"prompt": dataset.to_prompt_completion(row)["prompt"], "kind": row.kind,
             "intent": json.dumps(row.intent or {}, sort_keys=True)} for row in rows]


def _fits(tokenizer, max_length: int):
    def fits(row: dict) -> bool:
        ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        return len(ids) <= max_length

    return fits


def reward_workers(setup: training.Setup) -> int:
    """Processes that validate a batch of answers (`IaCReward(workers=...)`): on a GPU the CPU cores wait while
    it generates, so the rewards take them all, shared among the run's processes; on the CPU the model's own
    threads hold every core, and a pool would only take turns with them."""
    if setup.device != "cuda":
        return 0
    return max(0, (os.cpu_count() or 1) // setup.world_size)


# Before a budget's first step, the share of a step its rollouts are taken to take (on a CPU they took 45-65% of each
# step in the cpu recipe's GRPO, thirty-fourth session; the rest scores them and trains on them).
FIRST_ROLLOUT_SHARE = 0.5


def trainer_class():
    """TRL's GRPOTrainer with the studio's rollout engine (studio.decoder) in place of `generate` where it applies,
    rollouts guided by the schema grammars when `guided` is set, and the time of each step split into generating,
    scoring and training (`timings`, read by the metrics callback).

    Guided rollouts on TRL's own path: TRL 1.16's `_generate_single_turn` calls the unwrapped model's `generate`
    with a GenerationConfig and takes no logits processor, so for the length of each rollout the model's
    `generate` adds one (studio.guided.decoding.guided_generate). On the engine the processor is passed directly.
    Either way each row's grammar is read from its system prompt.

    Under a time budget (`budget`, jobs.training.time_budget) the rollouts stop where the step would otherwise end
    past the deadline (`rollout_seconds`): a GRPO step follows its answers' lengths, and one whose answers ran to
    768 tokens took 256 s after five of 54-116 s, so the cpu recipe's 10-minute GRPO took 12.0 (thirty-fourth
    session).
    The answers cut short are truncated ones, masked from the loss where `mask_truncated_completions` is set.
    """
    import contextlib

    from trl import GRPOTrainer

    from studio.guided.decoding import GuidedLogitsProcessor, guided_generate
    from studio.guided.shards import ShardedGuide, default_workers

    class StudioGRPOTrainer(GRPOTrainer):
        def __init__(self, *args, rollout=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.rollout = rollout
            self.guided = False  # True: every rollout is masked by the schema grammars
            self.timings = {"generate_s": 0.0, "reward_s": 0.0}
            self.budget = None  # the job's time budget, where it has one
            self.rollout_s = 0.0  # the rollouts' seconds since training began (`timings` is read and reset each step)
            self.rollouts_cut = 0  # steps whose rollouts the budget cut short

        def rollout_seconds(self) -> float | None:
            """How long this step's rollouts may take under the budget, or None for no limit: the time left to the
            deadline times the share of the training time rollouts took so far (FIRST_ROLLOUT_SHARE before any),
            so that the step, scoring and training on them included, ends about by the deadline."""
            if self.budget is None or self.budget.began is None:
                return None
            gone = time.monotonic() - self.budget.began
            share = min(1.0, self.rollout_s / gone) if self.state.global_step else FIRST_ROLLOUT_SHARE
            return self.budget.seconds_left() * share

        # TRL 1.16's hook for one round of sampling (the non-vLLM paths); the signature is TRL's own.
        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                                  has_tool_images=False):
            began, limit = time.perf_counter(), self.rollout_seconds()
            if self.rollout is not None and not images and not multimodal_fields:
                self.rollout.sync(self.accelerator.unwrap_model(self.model), step=self.state.global_step)
                processor = None
                if self.guided:  # on a GPU the masks come from worker processes while the card computes the step
                    workers = default_workers(len(prompt_ids), self.rollout.device)
                    processor = (ShardedGuide(self._tokenizer, None, workers=workers) if workers
                                 else GuidedLogitsProcessor(self._tokenizer, None))
                completions = self.rollout.generate(prompt_ids, self.max_completion_length, self.temperature,
                                                    self.eos_token_ids, self._tokenizer.pad_token_id,
                                                    logits_processor=processor,
                                                    deadline=None if limit is None else time.monotonic() + limit)
                result = (completions, None)
            else:
                model = self.accelerator.unwrap_model(self.model)
                self.generation_config.max_time = limit  # transformers' MaxTimeCriteria ends `generate` there
                try:
                    with guided_generate(model, self.processing_class) if self.guided else contextlib.nullcontext():
                        result = super()._generate_single_turn(prompt_ids, images, multimodal_fields,
                                                               num_generations, has_tool_images)
                finally:
                    self.generation_config.max_time = None
            took = time.perf_counter() - began
            self.timings["generate_s"] += took
            self.rollout_s += took
            if limit is not None and took >= limit:
                self.rollouts_cut += 1
                print(f"[job] time budget: step {self.state.global_step + 1}'s rollouts cut at {took:.0f} s so that "
                      "the step ends by the deadline (its unfinished answers count as truncated)", flush=True)
            return result

        def _calculate_rewards(self, *args, **kwargs):
            began = time.perf_counter()
            result = super()._calculate_rewards(*args, **kwargs)
            self.timings["reward_s"] += time.perf_counter() - began
            return result

    return StudioGRPOTrainer


def pick_rollout(spec: GRPOJob, setup: training.Setup, model, config):
    """The studio's rollout engine for this job, or None for TRL's own `generate` (with the reason printed)."""
    from studio import decoder as rollout

    wanted = spec.rollout if spec.rollout != "auto" else ("studio" if setup.device == "cuda" else "trl")
    if wanted == "trl":
        return None
    why_not = rollout.supports(model.config, top_p=config.top_p, top_k=config.top_k, min_p=config.min_p,
                               repetition_penalty=config.repetition_penalty)
    if why_not:
        print(f"[job] rollout: TRL's generate (the studio's engine does not handle {why_not})", flush=True)
        return None
    print("[job] rollout: the studio's engine (merged adapter, static cache"
          f"{', CUDA graphs' if setup.device == 'cuda' else ''})", flush=True)
    return rollout.Rollout.for_model(model)


def train(spec: GRPOJob, run: RunFolder, resume: bool = False, started: float | None = None) -> str:
    """Train `spec` into `run`; returns "succeeded" or "stopped". `started` (time.monotonic's clock) is where the
    job's wall time and time budget count from: the process's start when the CLI runs it, else now."""
    started = time.monotonic() if started is None else started
    stop = training.StopRequest.install(run)

    # -- set up: the rewards and the requests --------------------------------------------------------------
    from datasets import Dataset
    from trl import GRPOConfig

    from studio.iac.rewards import IaCReward

    setup = training.describe_setup(spec)
    rewards = IaCReward(weights={name: float(w) for name, w in spec.reward_weights.items()},
                        workers=reward_workers(setup))
    reward_functions = rewards.reward_functions()
    print("[job] rewards: " + ", ".join(f"{f.__name__} x {w:g}" for f, w in zip(reward_functions,
                                                                                rewards.trl_reward_weights())),
          flush=True)

    # -- the model: a new adapter, or an SFT run's adapter trained further ----------------------------------
    model, tokenizer = training.load_for_training(spec, setup)
    tokenizer.padding_side = "left"  # generation appends on the right, so prompts are padded on the left
    peft_config = spec.lora.shape().peft_config(model.config.num_hidden_layers)
    start_from = spec.adapter_folder()
    if start_from is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(start_from), is_trainable=True)
        peft_config = None  # the adapter brings its own shape; the spec's lora settings do not apply
        print(f"[job] starting from the adapter in {start_from}", flush=True)

    fits = _fits(tokenizer, spec.max_length)
    # An adapter trained with worked examples is asked with them (studio.examples), here as everywhere.
    rows = examples.attach(training.training_rows(spec), start_from, exclude_near=True)
    if (index := examples.index_of(start_from)) is not None:
        print(f"[job] worked examples: each prompt with an example after its request, {examples.choice(index.rerank)} "
              "of the adapter's pool", flush=True)
    train_rows = Dataset.from_list(prompt_rows(rows)).filter(fits)
    if 0 < len(train_rows) < len(rows):
        print(f"[job] {len(rows) - len(train_rows):,} of {len(rows):,} prompts are longer than max_length="
              f"{spec.max_length} tokens and are left out (raise max_length to keep them)", flush=True)
    eval_rows = None
    if spec.eval_dataset:
        eval_rows = Dataset.from_list(prompt_rows(examples.attach(training.read_rows(spec.eval_dataset),
                                                                  start_from))).filter(fits)
    if len(train_rows) == 0:
        raise ValueError(f"every prompt is longer than max_length={spec.max_length} tokens: raise max_length")
    print(f"[job] GRPO on {len(train_rows)} prompts x {spec.num_generations} answers of up to "
          f"{spec.max_completion_length} tokens", flush=True)

    config = GRPOConfig(
        **training.common_arguments(spec, run, setup, has_eval=bool(eval_rows)),
        num_generations=spec.num_generations,
        max_completion_length=spec.max_completion_length,
        mask_truncated_completions=spec.mask_truncated_completions,
        temperature=spec.temperature,
        beta=spec.beta,
        reward_weights=rewards.trl_reward_weights(),
    )
    metrics = MetricsCallback.for_device(run.metrics_file, setup.dtype, setup.device)
    stopper = training.stop_callback(stop)
    trainer = trainer_class()(
        model=model,
        reward_funcs=reward_functions,
        args=config,
        train_dataset=train_rows,
        eval_dataset=eval_rows or None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[metrics, stopper, training.finite_gradients()],
    )
    trainer.rollout = pick_rollout(spec, setup, trainer.accelerator.unwrap_model(trainer.model), config)
    trainer.guided = spec.guided
    if spec.guided:
        where = "the studio's engine" if trainer.rollout is not None else "TRL's generate"
        print(f"[job] rollouts guided by the schema grammars (studio.guided), on {where}", flush=True)
        from studio.guided.shards import default_workers, prepare

        workers = default_workers(config.generation_batch_size or 0, trainer.rollout.device) if trainer.rollout else 0
        if workers:  # they compile and warm their grammars while the trainer sets up (studio.guided.shards)
            prepare(tokenizer, model.config.vocab_size, workers)
    trainer.budget = training.add_time_budget(trainer, metrics, spec.max_minutes, started)
    metrics.timings = trainer.timings  # the step's split: generate, reward, and the rest is training
    training.quiet_printer(trainer)

    # -- train ---------------------------------------------------------------------------------------------
    if stop.requested:  # asked to stop while the model loaded: nothing new to save
        return training.save_stopped(run, setup, 0, stop)
    trainer.train(resume_from_checkpoint=training.checkpoint_to_resume(run, resume))

    # -- save ----------------------------------------------------------------------------------------------
    if stopper.stopped_at is not None:
        return training.save_stopped(run, setup, trainer.state.global_step, stop)
    last = metrics.last
    extra = {
        "reward": last.get("reward"),
        "frac_zero_std": last.get("frac_zero_std"),
        "rewards": {key[: -len("_mean")]: value for key, value in last.items()
                    if key.startswith("reward_") and key.endswith("_mean")},
        "started_from": str(start_from) if start_from else None,
        "rollouts_cut": trainer.rollouts_cut,  # steps whose rollouts the time budget cut short
    }
    result = training.finish(trainer, spec, run, setup, metrics, started, extra=extra)
    if run.adapter.is_dir():
        examples.copy_pool(start_from, run.adapter)
    rewards.close()
    return result
