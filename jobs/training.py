"""What the SFT and GRPO entry points share: loading the model for training, the TRL arguments both take, the
stop protocol, and saving the run at the end.

    >>> stop = StopRequest.install(run)                 # SIGTERM, SIGINT or the run's stop file
    >>> setup = describe_setup(spec)                    # device, dtype, 4-bit or not, ranks
    >>> model, tokenizer = load_for_training(spec, setup)   # NF4 + prepare_model_for_kbit_training on CUDA
    >>> config = SFTConfig(**common_arguments(spec, run, setup, has_eval=True), completion_only_loss=True)
    >>> trainer = SFTTrainer(..., callbacks=[metrics, stop_callback(stop)])
    >>> trainer.train(resume_from_checkpoint=checkpoint_to_resume(run, resume))
    >>> finish(trainer, spec, run, setup, metrics, started)   # adapter/ + summary.json (save_stopped on a stop)

Each entry point (jobs/sft.py, jobs/grpo.py) reads top to bottom with these calls; nothing here hides a trainer.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from jobs import estimate
from jobs.run_folder import RunFolder
from jobs.specs import JobSpec
from studio import dataset, models, workspace


# -- stopping ------------------------------------------------------------------------------------------


class StopRequest:
    """A stop asked for by signal (SIGTERM from `python -m jobs stop`, Ctrl-C) or by the run's stop file.

    The handler only sets a flag: the training step in progress finishes, then `StopCallback` ends training
    with a checkpoint, so the checkpoint is whole.
    """

    def __init__(self, stop_file: Path | None = None, after: str = "this step, with a checkpoint"):
        self.stop_file = stop_file
        self.after = after  # what the job finishes before it stops, for the log
        self.signal: str | None = None

    @classmethod
    def install(cls, run: RunFolder, after: str = "this step, with a checkpoint") -> "StopRequest":
        request = cls(run.stop_file, after)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, request._handle)
        return request

    def _handle(self, signum, frame) -> None:
        if self.signal is None:
            print(f"[job] {signal.Signals(signum).name} received: stopping after {self.after}", flush=True)
        self.signal = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal is not None or bool(self.stop_file and self.stop_file.exists())


def stop_callback(request: StopRequest):
    """A TrainerCallback that turns a stop request into `should_training_stop` plus a checkpoint.

    With several processes every rank must stop at the same step, or the others wait forever in the next
    all-reduce: the ranks agree by an all-reduce of their flags (MAX) at each step end (`any_rank`).
    """
    from transformers import TrainerCallback

    class StopCallback(TrainerCallback):
        def __init__(self):
            self.stopped_at: int | None = None

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step < state.max_steps and any_rank(args, request.requested):
                control.should_training_stop = True
                control.should_save = True
                control.should_log = True
                self.stopped_at = state.global_step
            if control.should_save:
                # A checkpoint half-written onto a full disk is worse than none: the job fails here, saying
                # why, and resumes from the last whole checkpoint once space is freed.
                workspace.check_free_space(f"a checkpoint at step {state.global_step}", Path(args.output_dir))
            return control

    return StopCallback()


def any_rank(args, flag: bool) -> bool:
    """Whether `flag` is set on any rank (an all-reduce, MAX, where several processes train; else `flag`): a
    decision to stop must be the same on every rank, or the others wait forever in the next all-reduce."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized() and args.world_size > 1:
        tensor = torch.tensor([1.0 if flag else 0.0], device=args.device)
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return bool(tensor.item())
    return flag


def finite_gradients():
    """A TrainerCallback that skips an optimizer step whose gradient is not finite.

    One NaN in a gradient is enough to make every weight NaN at the next update, after which the model only answers
    with empty or endless text and the rest of the run trains nothing (seen on an H200 on 2026-12-04: the gpu
    recipe's GRPO got a NaN gradient at step 26 of 30, with a finite loss, and every later reward was 0). The
    check runs after clipping, just before the update: the step's gradients are dropped, the update does not
    happen, the learning-rate schedule goes on, and the job log says so. With several processes the gradients are
    already all-reduced, so every rank sees the same verdict.
    """
    import torch
    from transformers import TrainerCallback

    class FiniteGradients(TrainerCallback):
        def __init__(self):
            self.skipped: list[int] = []

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            # One fused norm over every gradient and one sync: NaN or inf anywhere makes it non-finite.
            if not grads or bool(torch.nn.utils.get_total_norm(grads).isfinite()):
                return control
            # Where it came from: gradients flow from the loss down, so the deepest layers with a finite gradient
            # sit just above the one that first went wrong.
            bad = [name for name, p in model.named_parameters() if p.grad is not None and not p.grad.isfinite().all()]
            for parameter in model.parameters():
                parameter.grad = None  # an optimizer skips a parameter without a gradient
            self.skipped.append(state.global_step + 1)
            print(f"[job] step {state.global_step + 1}: the gradient is not finite; this update is skipped "
                  f"({len(self.skipped)} so far). Not finite in {len(bad)} of the trained tensors: "
                  f"{', '.join(bad[:3])}{' ... ' + bad[-1] if len(bad) > 3 else ''}", flush=True)
            return control

    return FiniteGradients()


# -- a time budget -------------------------------------------------------------------------------------

# Kept back from the budget for saving the adapter and the summary: 10 s, or a twentieth of a short budget.
BUDGET_RESERVE_S, BUDGET_RESERVE_SHARE = 10.0, 0.05
BUDGET_SCHEDULE_POINTS = 10_000  # the schedule's shape is read at this many points of the run's progress
# The next step is begun only if the longest of the last this many would end before the deadline: a GRPO step's time
# follows its answers' lengths (42-112 s on this CPU in one run), and judged by the last step alone one of 96 s after
# one of 55 s ran the cpu recipe's GRPO 20 s past its budget (thirty-second session).
BUDGET_RECENT_STEPS = 5


def time_budget(minutes: float, started: float):
    """A TrainerCallback that ends training within `minutes` of `started` (the job's start, time.monotonic's
    clock: its process's start when the CLI runs it), or None for no limit (`minutes` 0).

    The learning-rate schedule follows the run's progress rather than its steps: the larger of the share of
    `max_steps` done and the share of the training time gone, from training's first step to the deadline (the
    budget less a reserve for saving: BUDGET_RESERVE_S, or a twentieth of a short budget). Its warmup and decay
    (cosine, linear, ...) are the job's, read at that progress. So on a slow machine the schedule ends at the
    deadline with the steps that fit, on a fast one at `max_steps`, with nothing guessed ahead about the steps'
    speed (an SFT step follows its rows' lengths, longest first; a GRPO step its answers'). A step that would end
    past the deadline (by the longest of the last BUDGET_RECENT_STEPS steps' times) is not begun. `state.max_steps`
    tells the steps expected at the pace so far (for the progress bar and the ETA), and the total once training ends.
    A resumed run's budget counts from its restart.
    """
    if not minutes:
        return None
    import torch
    from transformers import TrainerCallback, get_scheduler

    deadline = started + 60.0 * minutes - min(BUDGET_RESERVE_S, BUDGET_RESERVE_SHARE * 60.0 * minutes)

    class TimeBudget(TrainerCallback):
        def __init__(self):
            self.began: float | None = None  # training's first step
            self.upper = 0  # max_steps as the Trainer planned it
            self.last_end: float | None = None
            self.recent: collections.deque[float] = collections.deque(maxlen=BUDGET_RECENT_STEPS)  # steps' times
            self.ended_early: int | None = None  # the step training ended at, before max_steps

        def progress(self, step: int) -> float:
            """The run's progress after `step` steps, 0 to 1."""
            gone = (time.monotonic() - self.began) / max(1e-9, deadline - self.began)
            return min(1.0, max(step / max(1, self.upper), gone))

        def seconds_left(self) -> float:
            """Until the deadline (the budget less the reserve for saving)."""
            return max(0.0, deadline - time.monotonic())

        def on_train_begin(self, args, state, control, lr_scheduler=None, **kwargs):
            self.began = self.last_end = time.monotonic()
            self.upper = state.max_steps
            print(f"[job] time budget {minutes:g} min: training ends by {(deadline - started) / 60:.1f} min "
                  f"after the job's start, at most {state.max_steps} steps; the learning-rate schedule follows "
                  "the time as well as the steps", flush=True)
            live = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate may wrap it
            if not isinstance(live, torch.optim.lr_scheduler.LambdaLR):
                return
            points = BUDGET_SCHEDULE_POINTS
            probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
            shape = get_scheduler(args.lr_scheduler_type, probe, num_warmup_steps=args.get_warmup_steps(points),
                                  num_training_steps=points,
                                  scheduler_specific_kwargs=args.lr_scheduler_kwargs or {}).lr_lambdas[0]

            def rate(step: int) -> float:
                return shape(round(points * self.progress(step)))

            live.lr_lambdas = [rate for _ in live.lr_lambdas]
            rates = [group["initial_lr"] * rate(live.last_epoch) for group in live.optimizer.param_groups]
            for group, value in zip(live.optimizer.param_groups, rates):
                group["lr"] = value
            live._last_lr = rates

        def on_step_end(self, args, state, control, **kwargs):
            now = time.monotonic()
            self.recent.append(now - self.last_end)
            self.last_end = now
            progress = self.progress(state.global_step)
            if state.global_step < self.upper and any_rank(args, now + max(self.recent) > deadline):
                print(f"[job] time budget {minutes:g} min: the next step would end past it; training ends at step "
                      f"{state.global_step} of at most {self.upper}", flush=True)
                self.ended_early = state.max_steps = state.global_step
                control.should_training_stop = True
            elif progress > 0:
                state.max_steps = min(self.upper, max(state.global_step, math.ceil(state.global_step / progress)))
            return control

    return TimeBudget()


def add_time_budget(trainer, metrics, minutes: float, started: float):
    """Give `trainer` the job's `time_budget` where it has one, and the metrics its deadline for the ETA; the
    budget, or None."""
    budget = time_budget(minutes, started)
    if budget is not None:
        trainer.add_callback(budget)
        metrics.budget = budget
    return budget


# -- loading -------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """How the job runs here: device, compute dtype, 4-bit or not, and the processes of a multi-GPU run."""

    device: str
    dtype: str
    four_bit: bool
    world_size: int
    rank: int
    local_rank: int
    note: str
    plan: "estimate.TrainingPlan"

    @property
    def main_process(self) -> bool:
        return self.rank == 0


def quiet_libraries() -> None:
    """Keep train.log readable: no progress bars redrawn in it, no deprecation notes about TRL's own arguments (the
    one about `gradient_checkpointing` is filtered where `studio` is imported)."""
    import warnings

    import datasets

    datasets.disable_progress_bars()
    models.quiet_loading_bars()
    # TRL 1.16 points to Hub kernels instead, which need a download; Liger's installed kernels are what runs here.
    warnings.filterwarnings("ignore", message=r".*use_liger_kernel=True. is deprecated", category=FutureWarning)


def stage_printer(prefix: str = "[job] "):
    """A `studio.models.Progress` for train.log: one line per stage of a model's first conversion or download, not
    one per tick.

    >>> report = stage_printer()
    >>> for message in ("Dequantizing the weights", "Dequantizing the weights (2 s, about 6 s in all)", "Writing"):
    ...     report(0.5, message)
    [job] Dequantizing the weights
    [job] Writing
    """
    last = None

    def report(fraction: float, message: str) -> None:
        nonlocal last
        stage = message.split(" (")[0]
        if stage != last:
            last = stage
            print(prefix + message, flush=True)

    return report


def describe_setup(spec: JobSpec) -> Setup:
    import torch

    quiet_libraries()
    device = models.device()
    dtype = models.pick_dtype(device)
    dtype_name = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    if spec.quantization == "auto":
        four_bit = device == "cuda"
        note = ("NF4 4-bit base (QLoRA)" if four_bit else
                "full-precision base: 4-bit on the CPU is slow and saves little at this size (quantization: auto)")
    else:
        four_bit = spec.quantization == "nf4"
        note = "NF4 4-bit base (QLoRA)" if four_bit else "full-precision base (quantization: none)"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    # The speed plan: on the CPU (and under `speed: as_written`) the spec as written; on a GPU under
    # `speed: auto` packing, attention, kernels, micro-batch and checkpointing chosen from the memory estimate. The
    # model's shape resolves it: on a fresh machine the embedded model's conversion, told in train.log.
    plan = estimate.plan(spec, estimate.ModelShape.of(spec.model, progress=stage_printer()), device)
    return Setup(device, dtype_name, four_bit, world_size, int(os.environ.get("RANK", "0")),
                 int(os.environ.get("LOCAL_RANK", "0")), note, plan)


def load_for_training(spec: JobSpec, setup: Setup):
    """(model, tokenizer) ready for LoRA: NF4 with double quantization and `prepare_model_for_kbit_training`
    when 4-bit, in the device's compute dtype; each rank of a multi-GPU run on its own GPU."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(setup.dtype, torch.float32)
    # One whole copy per process: "auto" would split a model over the GPUs, which DDP cannot train.
    device_map = {"": setup.local_rank} if setup.device == "cuda" else None
    plan = setup.plan
    if plan.attention == estimate.STUDIO_VARLEN:
        from jobs import attention

        if not attention.register():
            # a torch without torch.nn.attention.varlen: flex attention also follows the rows (compiled per shape)
            plan = setup.plan = dataclasses.replace(plan, attention="flex_attention")
    print(f"[job] loading {spec.model} on {setup.device} ({setup.dtype}); {setup.note}", flush=True)
    if setup.device == "cuda" or plan.cpu_bf16 or plan.group_by_length:
        print(f"[job] speed: {plan.describe()}", flush=True)
    model, tokenizer = models.load(spec.model, four_bit=setup.four_bit, dtype=dtype, device_map=device_map,
                                   double_quant=spec.double_quantization, attn_implementation=plan.attention)
    if setup.four_bit and plan.kbit_upcast:
        from peft import prepare_model_for_kbit_training

        # Casts the norms and embeddings to fp32, freezes the base and, with checkpointing, lets the inputs carry
        # gradients into the checkpointed blocks.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=plan.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif setup.four_bit:
        # The same preparation without the fp32 copies: the frozen norms and the (tied) embeddings stay in bf16,
        # so the LM head multiplies in bf16 on the tensor cores instead of in fp32, and half their memory.
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        if plan.gradient_checkpointing:
            model.enable_input_require_grads()
    return model, tokenizer


def read_rows(path: str) -> list[dataset.Row]:
    rows = dataset.read_jsonl(Path(path).expanduser())
    if not rows:
        raise dataset.DatasetError(f"{path}: no rows")
    return rows


def training_rows(spec: JobSpec) -> list[dataset.Row]:
    """The spec's training rows: `dataset`, with `mix_dataset` mixed in at `mix_ratio` when it is set."""
    rows = read_rows(spec.dataset)
    if not spec.mix_dataset:
        return rows
    extra = read_rows(spec.mix_dataset)
    mixed = dataset.mix(rows, extra, spec.mix_ratio, spec.seed)
    from_extra = {id(row) for row in extra}
    drawn = sum(1 for row in mixed if id(row) in from_extra)
    print(f"[job] training rows: {len(mixed)} ({drawn} from {spec.mix_dataset}, ratio {spec.mix_ratio})",
          flush=True)
    return mixed


def example_pool(spec: JobSpec) -> list[dataset.Row]:
    """The rows worked examples are drawn from (`worked_examples`): the dataset, the whole mix dataset and
    `examples_dataset`."""
    extra = getattr(spec, "examples_dataset", "")
    return [row for path in (spec.dataset, spec.mix_dataset, extra) if path for row in read_rows(path)]


def common_arguments(spec: JobSpec, run: RunFolder, setup: Setup, has_eval: bool) -> dict:
    """The TrainingArguments both SFTConfig and GRPOConfig take, from the spec."""
    plan = setup.plan
    return dict(
        output_dir=str(run.checkpoints),
        seed=spec.seed,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation,
        learning_rate=spec.learning_rate,
        lr_scheduler_type=spec.lr_schedule,
        warmup_steps=spec.warmup_ratio,  # a float below 1 is a share of the steps
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps if spec.max_steps > 0 else -1,
        logging_steps=spec.logging_steps,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit or None,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=spec.eval_steps,
        # TRL turns bf16 on unless told otherwise; on the CPU only where the plan says it is faster (AMX).
        bf16=(setup.device == "cuda" and setup.dtype == "bf16") or plan.cpu_bf16,
        fp16=setup.device == "cuda" and setup.dtype == "fp16",
        gradient_checkpointing=plan.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if plan.gradient_checkpointing else None,
        use_liger_kernel=plan.liger,
        optim=plan.optimizer,
        ddp_find_unused_parameters=False if setup.world_size > 1 else None,
        # Several processes on a machine without a GPU (`accelerate launch --num_processes 2` on the CPU): without
        # use_cpu transformers leaves them undistributed, each training alone; gloo is the CPU's backend.
        # accelerate takes bf16 autocast on the CPU only with use_cpu
        use_cpu=setup.device == "cpu" and (setup.world_size > 1 or plan.cpu_bf16),
        **({"train_sampling_strategy": "group_by_length"} if plan.group_by_length else {}),
        ddp_backend="gloo" if setup.device == "cpu" and setup.world_size > 1 else None,
        dataloader_pin_memory=setup.device == "cuda",
        report_to=[],
        # The metrics callback prints one line per log; tqdm's redraws would bury it in train.log.
        disable_tqdm=True,
    )


def adapter_inputs(trainer, plan: estimate.TrainingPlan) -> None:
    """Under a plan without the adapters' input cast (`estimate.adapter_input_cast`), turn PEFT's cast off, where
    the Trainer runs the model under bf16 autocast (accelerate's mixed precision wraps its forward): autocast then
    multiplies the bf16 inputs by the fp32 adapters in bf16, as it did after the cast. Without autocast an fp32
    adapter cannot take a bf16 input, so the cast stays."""
    if plan.adapter_input_cast or getattr(trainer.accelerator, "mixed_precision", "no") != "bf16":
        return
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [module for module in trainer.model.modules() if isinstance(module, BaseTunerLayer)]
    for layer in layers:
        layer.cast_input_dtype_enabled = False
    print(f"[job] {len(layers)} adapters read their bf16 inputs under autocast (no fp32 copies)", flush=True)


def keep_layers(trainer, plan: estimate.TrainingPlan) -> None:
    """Under a checkpointed plan that keeps layers (`TrainingPlan.kept_layers`), the last that many decoder layers
    run without checkpointing: their activations stay for the backward and are not computed twice. Set when
    training begins, after the Trainer (and TRL) turned checkpointing on for every layer."""
    if not (plan.gradient_checkpointing and plan.kept_layers):
        return
    from transformers import TrainerCallback
    from transformers.modeling_layers import GradientCheckpointingLayer

    class KeepLayers(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            layers = [m for m in (model or trainer.model).modules() if isinstance(m, GradientCheckpointingLayer)]
            for layer in layers[-plan.kept_layers:]:
                layer.gradient_checkpointing = False
            recomputed = sum(1 for layer in layers if layer.gradient_checkpointing)
            print(f"[job] checkpointing: {recomputed} of {len(layers)} layers recomputed in the backward, the last "
                  f"{len(layers) - recomputed} keep their activations", flush=True)

    trainer.add_callback(KeepLayers())


def quiet_printer(trainer) -> None:
    """Drop Trainer's dict-per-log printer (the metrics callback prints a readable line instead)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def checkpoint_to_resume(run: RunFolder, resume: bool) -> str | None:
    if not resume:
        return None
    last = run.last_checkpoint()
    if last is None:
        print("[job] resume: no checkpoint yet, starting from the beginning", flush=True)
        return None
    print(f"[job] resuming from {last.name}: adapter, optimizer, scheduler and RNG state", flush=True)
    return str(last)


# -- the end -------------------------------------------------------------------------------------------


def save_stopped(run: RunFolder, setup: Setup, step: int, stop: StopRequest) -> str:
    """Record a clean stop: stopped.json names the step and the checkpoint a resume continues from."""
    if setup.main_process:
        last = run.last_checkpoint()
        workspace.atomic_write_text(run.stopped_file, json.dumps({
            "step": step, "checkpoint": str(last) if last else None, "signal": stop.signal, "time": time.time(),
        }, indent=1))
    print(f"[job] stopped at step {step}; a resume continues from the last checkpoint", flush=True)
    return "stopped"


def finish(trainer, spec: JobSpec, run: RunFolder, setup: Setup, metrics, started: float,
           extra: dict | None = None) -> str:
    """Save what a finished run keeps: adapter/ with the tokenizer, the final evaluation and summary.json."""
    state = trainer.state
    eval_metrics = {}
    if metrics.last_eval_step == state.global_step:
        eval_metrics = {k if k.startswith("eval_") else f"eval_{k}": v for k, v in metrics.last_eval.items()}
    elif trainer.eval_dataset is not None:
        print("[job] final evaluation", flush=True)
        eval_metrics = trainer.evaluate()
    trainer.save_model(str(run.adapter))
    if setup.main_process:
        trainer.processing_class.save_pretrained(str(run.adapter))
        _record_base_model(run.adapter, spec.model)
        totals = metrics.totals()
        last = metrics.last
        summary = {
            "kind": spec.kind,
            "model": spec.model,
            "steps": state.global_step,
            "total_steps": state.max_steps,
            "epochs": round(float(state.epoch or 0), 4),
            "train_loss": last.get("loss"),
            "eval_loss": eval_metrics.get("eval_loss"),
            "wall_s": round(time.monotonic() - started, 2),
            "train_s": totals["elapsed_s"],
            "tokens": totals["tokens"],
            "tokens_per_s": totals["tokens_per_s"],
            "peak_memory_bytes": totals["peak_memory_bytes"],
            "peak_memory_of": totals["peak_memory_of"],
            "device": setup.device,
            "dtype": setup.dtype,
            "four_bit": setup.four_bit,
            "processes": setup.world_size,
            **({"max_minutes": spec.max_minutes} if spec.max_minutes else {}),
            "adapter": str(run.adapter),
            # Which rows it learned from: a Dataset-tab dataset's name and version, or the file.
            "dataset": _dataset_record(spec.dataset),
            **(extra or {}),
        }
        eval_rewards = {k: v for k, v in eval_metrics.items() if k.startswith("eval_reward")}
        if eval_rewards:
            summary["eval_rewards"] = eval_rewards
        workspace.atomic_write_text(run.summary_file, json.dumps(summary, indent=1))
        print(f"[job] done: adapter in {run.adapter}, summary in {run.summary_file}", flush=True)
    return "succeeded"


def _dataset_record(path: str) -> dict:
    from jobs.specs import dataset_version

    described = dataset_version(path)
    return {"file": path, **described} if described else {"file": path}


def _record_base_model(adapter: Path, model_name: str) -> None:
    """Name a hub model's base by its hub id rather than the cache snapshot path it was loaded from."""
    config_path = adapter / "adapter_config.json"
    local = Path(model_name).expanduser()
    if model_name == models.EMBEDDED or local.is_dir() or not config_path.is_file():
        return  # the embedded model's path maps back to its name in studio.adapters; a folder is its own name
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = model_name
    workspace.atomic_write_text(config_path, json.dumps(config, indent=2))
