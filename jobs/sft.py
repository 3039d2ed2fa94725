"""The SFT job: TRL's SFTTrainer on the chat-templated rows, the loss on the answers only, a LoRA adapter.

    python -m jobs run workspace/runs/sft-iac-1/job.yaml            # what the runner and the Train tab start
    python -m jobs run workspace/runs/sft-iac-1/job.yaml --resume   # continue from the last checkpoint

Reads top to bottom: set up, load the data and the model, train, save, clean up.
"""

from __future__ import annotations

import time

from jobs import training
from jobs.metrics import MetricsCallback
from jobs.run_folder import RunFolder
from jobs.specs import SFTJob
from studio import dataset, examples


def train(spec: SFTJob, run: RunFolder, resume: bool = False, started: float | None = None) -> str:
    """Train `spec` into `run`; returns "succeeded" or "stopped". `started` (time.monotonic's clock) is where the
    job's wall time and time budget count from: the process's start when the CLI runs it, else now."""
    started = time.monotonic() if started is None else started
    stop = training.StopRequest.install(run)

    # -- set up: the rows as TRL's conversational prompt-completion pairs ----------------------------------
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    setup = training.describe_setup(spec)
    # The prompt is the system and user turns, the completion the answer: TRL templates both with the model's
    # chat template and masks the prompt out of the loss, no template markers needed.
    rows = training.training_rows(spec)
    pool = training.example_pool(spec) if spec.worked_examples else []
    # One index for the training rows' examples and the eval rows'.
    index = examples.Index(pool, spec.example_rerank) if pool else None
    if pool:
        rows = examples.training_rows(rows, index)
        print(f"[job] worked examples: each row with an example after its request, {examples.choice(index.rerank)} "
              f"of {len(pool):,} rows ({sum(examples.has_example(row) for row in rows):,} of {len(rows):,} found "
              "one)", flush=True)
    train_rows = Dataset.from_list([dataset.to_prompt_completion(row) for row in rows])
    eval_rows = None
    if spec.eval_dataset:
        held_out = training.read_rows(spec.eval_dataset)
        if pool:  # asked as the adapter will be asked later: with their nearest example
            held_out = examples.training_rows(held_out, index, exclude_near=False)
        eval_rows = Dataset.from_list([dataset.to_prompt_completion(r) for r in held_out])
    print(f"[job] SFT on {len(train_rows)} rows" + (f", evaluating on {len(eval_rows)}" if eval_rows else ""),
          flush=True)

    # -- the model -----------------------------------------------------------------------------------------
    model, tokenizer = training.load_for_training(spec, setup)
    config = SFTConfig(
        **training.common_arguments(spec, run, setup, has_eval=eval_rows is not None),
        max_length=spec.max_length,
        completion_only_loss=spec.completion_only_loss,
        packing=setup.plan.packing,
    )
    metrics = MetricsCallback.for_device(run.metrics_file, setup.dtype, setup.device)
    stopper = training.stop_callback(stop)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        peft_config=spec.lora.shape().peft_config(model.config.num_hidden_layers),
        callbacks=[metrics, stopper, training.finite_gradients()],
    )
    training.quiet_printer(trainer)
    training.adapter_inputs(trainer, setup.plan)
    training.keep_layers(trainer, setup.plan)
    if len(trainer.train_dataset) == 0:
        raise ValueError(f"no training row is left after cutting to max_length={spec.max_length}: every answer "
                         "was cut off entirely. Raise max_length.")
    training.add_time_budget(trainer, metrics, spec.max_minutes, started)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    print(f"[job] LoRA r={spec.lora.r} alpha={spec.lora.alpha} on {', '.join(spec.lora.targets)}: "
          f"{trainable:,} trainable of {total:,} parameters ({100 * trainable / total:.2f}%)", flush=True)

    # -- train ---------------------------------------------------------------------------------------------
    if stop.requested:  # asked to stop while the model loaded: nothing new to save
        return training.save_stopped(run, setup, 0, stop)
    trainer.train(resume_from_checkpoint=training.checkpoint_to_resume(run, resume))

    # -- save: the adapter, with the pool its examples come from -------------------------------------------
    if stopper.stopped_at is not None:
        outcome = training.save_stopped(run, setup, trainer.state.global_step, stop)
    else:
        outcome = training.finish(trainer, spec, run, setup, metrics, started)
    if pool and run.adapter.is_dir():
        examples.save_pool(run.adapter, pool, spec.example_rerank)
    return outcome
