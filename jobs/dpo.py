"""The DPO job: TRL's DPOTrainer on preference pairs, LoRA on top of an SFT run's adapter or a new one.

    python -m jobs run workspace/runs/dpo-iac-1/job.yaml            # what the runner and the Train tab start
    python -m jobs run workspace/runs/dpo-iac-1/job.yaml --resume   # continue from the last checkpoint

The pairs come from up to three sources, mixed: the Compare tab's votes (`votes: true`), pair files (`pairs`),
and pairs mined from the starting model before training (`mine_samples` answers to each training request, ranked
by the IaC validators: `studio.pair_mining`). The mixed set is written to the run folder as `pairs.jsonl` (with the
mined pairs' scores), so a resume trains on the same pairs and a person can read what was trained on.

Started from an SFT adapter, that adapter is trained further and a frozen copy of it is DPO's reference (TRL adds
it as a second adapter, `ref`); from a new adapter the reference is the base model with the adapter switched off.
TRL logs the implicit rewards (`rewards/chosen`, `rewards/rejected`, margins and accuracy), which the metrics
callback writes to metrics.jsonl as `rewards_chosen`, `rewards_rejected`, `rewards_margin`, `rewards_accuracy`.

Reads top to bottom: set up, load the model, gather the pairs (mining with the model), train, save, clean up.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter

from jobs import training
from jobs.metrics import MetricsCallback
from jobs.run_folder import RunFolder
from jobs.specs import DPOJob
from studio import examples, preferences, workspace

PAIRS_FILE = "pairs.jsonl"
MINING_FILE = "mining.json"
READY_FILE = "pairs.ready"


def gather_pairs(spec: DPOJob, run: RunFolder, setup: training.Setup, model, tokenizer,
                 stop: training.StopRequest, resume: bool) -> list[dict] | None:
    """The run's training pairs: those it was started with on a resume, else the votes, the pair files and the
    pairs mined now from `model`, written to the run's pairs.jsonl. None when a stop came during mining."""
    saved, ready = run.path / PAIRS_FILE, run.path / READY_FILE
    # The processes of one attempt share their launcher (`accelerate launch`): its pid marks the pairs as this
    # attempt's, so a process never trains on the pairs of an earlier attempt.
    attempt = str(os.getppid())
    if not setup.main_process:
        # The first process gathers (and mines); the others train on what it wrote.
        while not (ready.exists() and ready.read_text() == attempt):
            if stop.requested:
                return None
            time.sleep(1.0)
        return preferences.read_pairs(saved)
    if resume and saved.exists():
        print(f"[job] resume: training on the {PAIRS_FILE} the run started with", flush=True)
        workspace.atomic_write_text(ready, attempt)
        return preferences.read_pairs(saved)

    pairs = []
    if spec.votes:
        path, count = preferences.export_dpo()
        print(f"[job] votes: {count} pairs from the Compare tab ({path})", flush=True)
        pairs += preferences.read_pairs(path, "votes")
    for path in spec.pairs:
        found = preferences.read_pairs(path)
        print(f"[job] {len(found)} pairs from {path}", flush=True)
        pairs += found
    if spec.mine_samples:
        from studio import pair_mining

        settings = spec.mining()
        rows = examples.attach(training.read_rows(spec.dataset), spec.adapter_folder(), exclude_near=True)
        total = min(len(rows), settings.limit or len(rows))
        print(f"[job] mining: {settings.samples} answers to each of {total} requests (temperature "
              f"{settings.temperature}, up to {settings.max_new_tokens} tokens), pairs {settings.min_stage_gap}+ "
              f"stages and {settings.margin}+ reward apart", flush=True)
        every, printed = max(1, total // 20), [0]  # about 20 progress lines in train.log

        def report(done: int, of: int, kept: int) -> None:
            if done == of or done - printed[0] >= every:
                printed[0] = done
                print(f"[mine] {done}/{of} requests, {kept} pairs kept", flush=True)

        result = pair_mining.mine(model, tokenizer, rows, settings, on_progress=report,
                                  should_stop=lambda: stop.requested)
        if stop.requested:
            return None
        summary = {**result.summary(), "settings": {key: getattr(spec, key) for key in (
            "mine_samples", "mine_limit", "mine_temperature", "mine_max_new_tokens", "mine_margin",
            "mine_min_stage_gap", "mine_pairs_per_request", "mine_reference")}}
        workspace.atomic_write_text(run.path / MINING_FILE, json.dumps(summary, indent=1))
        print(f"[job] mined {len(result.pairs)} pairs from {result.requests} requests in {result.seconds:.0f} s "
              f"({result.without_pair} requests gave none)", flush=True)
        pairs += result.pairs
    if not pairs:
        raise ValueError("no preference pairs to train on: mining kept none (every request's answers passed the "
                         "same stages, or were closer than mine_margin). Raise mine_samples or mine_temperature, "
                         "lower mine_min_stage_gap or mine_margin, or start from an SFT run's adapter")
    preferences.write_pairs(pairs, saved)
    workspace.atomic_write_text(ready, attempt)
    return preferences.read_pairs(saved)


def train(spec: DPOJob, run: RunFolder, resume: bool = False, started: float | None = None) -> str:
    """Train `spec` into `run`; returns "succeeded" or "stopped". `started` (time.monotonic's clock) is where the
    job's wall time and time budget count from: the process's start when the CLI runs it, else now."""
    started = time.monotonic() if started is None else started
    stop = training.StopRequest.install(run)

    # -- set up --------------------------------------------------------------------------------------------
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    setup = training.describe_setup(spec)

    # -- the model: an SFT run's adapter trained further (a frozen copy is the reference), or a new one -------
    model, tokenizer = training.load_for_training(spec, setup)
    peft_config = spec.lora.shape().peft_config(model.config.num_hidden_layers)
    start_from = spec.adapter_folder()
    if start_from is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(start_from), is_trainable=True)
        peft_config = None  # the adapter brings its own shape; the spec's lora settings do not apply
        print(f"[job] starting from the adapter in {start_from}; it is also the reference", flush=True)

    # -- the pairs -----------------------------------------------------------------------------------------
    pairs = gather_pairs(spec, run, setup, model, tokenizer, stop, resume)
    if pairs is None:  # asked to stop while mining: nothing trained yet
        return training.save_stopped(run, setup, 0, stop)
    by_source = dict(Counter(pair["source"] for pair in pairs))
    columns = ("prompt", "chosen", "rejected")
    train_rows = Dataset.from_list([{key: pair[key] for key in columns} for pair in pairs])
    eval_rows = None
    if spec.eval_dataset:
        eval_rows = Dataset.from_list([{key: pair[key] for key in columns}
                                       for pair in preferences.read_pairs(spec.eval_dataset)])
    print(f"[job] DPO on {len(pairs)} pairs (" + ", ".join(f"{n} {s}" for s, n in by_source.items()) + ")"
          + (f", evaluating on {len(eval_rows)}" if eval_rows else ""), flush=True)

    losses = [spec.loss_type] + (["sft"] if spec.sft_weight else [])
    config = DPOConfig(
        **training.common_arguments(spec, run, setup, has_eval=eval_rows is not None),
        max_length=spec.max_length,
        beta=spec.beta,
        loss_type=losses,
        loss_weights=[1.0, spec.sft_weight] if spec.sft_weight else None,
    )
    metrics = MetricsCallback.for_device(run.metrics_file, setup.dtype, setup.device)
    stopper = training.stop_callback(stop)
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[metrics, stopper, training.finite_gradients()],
    )
    training.quiet_printer(trainer)
    training.add_time_budget(trainer, metrics, spec.max_minutes, started)
    if len(trainer.train_dataset) == 0:
        raise ValueError(f"every pair's prompt is longer than max_length={spec.max_length} tokens: raise max_length")
    trainable, total = trainer.model.get_nb_trainable_parameters()
    print(f"[job] LoRA: {trainable:,} trainable of {total:,} parameters ({100 * trainable / total:.2f}%); "
          f"loss {' + '.join(losses)}, beta {spec.beta}", flush=True)

    # -- train ---------------------------------------------------------------------------------------------
    if stop.requested:  # asked to stop while the model loaded: nothing new to save
        return training.save_stopped(run, setup, 0, stop)
    trainer.train(resume_from_checkpoint=training.checkpoint_to_resume(run, resume))

    # -- save ----------------------------------------------------------------------------------------------
    if stopper.stopped_at is not None:
        return training.save_stopped(run, setup, trainer.state.global_step, stop)
    last = metrics.last
    mining = run.path / MINING_FILE
    extra = {
        "pairs": len(pairs),
        "pairs_by_source": by_source,
        "mining": json.loads(mining.read_text()) if spec.mine_samples and mining.exists() else None,
        **{key: last.get(key) for key in ("rewards_chosen", "rewards_rejected", "rewards_margin",
                                          "rewards_accuracy")},
        "started_from": str(start_from) if start_from else None,
    }
    result = training.finish(trainer, spec, run, setup, metrics, started, extra=extra)
    if run.adapter.is_dir():
        examples.copy_pool(start_from, run.adapter)
    # PEFT saves every adapter of the model; the frozen reference copy (`ref`) is the starting adapter again.
    if setup.main_process and (run.adapter / "ref").is_dir():
        shutil.rmtree(run.adapter / "ref")
    return result
