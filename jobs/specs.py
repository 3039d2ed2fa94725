"""Typed job specs: one dataclass per job kind, validated on construction, saved as `job.yaml` in the run folder.

    >>> from jobs.specs import SFTJob, GRPOJob, DPOJob, load, dump
    >>> spec = SFTJob(model="SmolLM2-135M-Instruct (embedded)", max_steps=200, output="sft-iac-1")
    >>> spec.lora.r, spec.lora.alpha, spec.quantization
    (32, 64, 'auto')
    >>> print(dump(spec))                   # the job.yaml the Train tab previews and writes
    kind: sft
    model: SmolLM2-135M-Instruct (embedded)
    ...
    >>> load("workspace/runs/sft-iac-1/job.yaml") == spec
    True
    >>> SFTJob(lerning_rate=1e-4)
    Traceback (most recent call last):
    TypeError: ... unexpected keyword argument 'lerning_rate'
    >>> from_dict({"kind": "sft", "lerning_rate": 1e-4})
    Traceback (most recent call last):
    SpecError: unknown key 'lerning_rate' (did you mean 'learning_rate'?) ...

A new training job kind is a new dataclass deriving from `JobSpec`, decorated with `@register`, whose
`entry_point` names the function that runs it: the CLI, the runner and the Jobs tab need nothing else. A job
that trains nothing (`EvalJob`, the Evaluate tab's) is a dataclass of its own with the same few members.

This module imports no torch, transformers or trl: the UI builds and checks specs before anything heavy loads.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from studio import adapters, models, workspace

QUANTIZATIONS = ("auto", "nf4", "none")
SPEEDS = ("auto", "as_written")
ROLLOUTS = ("auto", "studio", "trl")
EVAL_ENGINES = ("auto", "llama.cpp", "transformers")  # studio.evaluation.ENGINES
SCHEDULES = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial",
             "inverse_sqrt")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class SpecError(ValueError):
    """A job spec that cannot run; the message lists every problem and what to change."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


KINDS: dict[str, type["JobSpec"]] = {}


def register(cls: type["JobSpec"]) -> type["JobSpec"]:
    """Make a spec class known to `from_dict`, the CLI and the runner under its `kind`."""
    if not cls.kind or cls.kind in KINDS:
        raise ValueError(f"{cls.__name__}: kind {cls.kind!r} is empty or already registered")
    KINDS[cls.kind] = cls
    return cls


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING):
    """A dataclass field that carries its help text (shown by the Train tab and `python -m jobs run --help`)."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


def run_folder(output: str) -> Path:
    """A job's run folder: the workspace's runs/<output>, or `output` itself when absolute."""
    if Path(output).is_absolute():
        return Path(output)
    return workspace.inside(workspace.runs_dir(), output)


def _output_problems(output: str) -> list[str]:
    """A run name must stay a name under runs/ (an absolute folder is taken as it is)."""
    if Path(output).is_absolute():
        return []
    try:
        workspace.inside(Path("/runs"), output)
    except workspace.UnsafeName as error:
        return [f"output: {error}"]
    return []


# An adapter's folder: a path as given, or a run name's adapter/ in the workspace; None for none. It lives in
# studio.adapters, where the mining command line (below jobs in the layering) resolves a run's name too.
adapter_folder = adapters.folder


@dataclass(frozen=True)
class LoraSettings:
    """The LoRA adapter a job trains; the defaults are the studio's (`studio.models.LoraShape`)."""

    r: int = _help("LoRA rank: the adapter's inner dimension.", models.LoraShape.r)
    alpha: int = _help("LoRA alpha: the update is scaled by alpha / r.", models.LoraShape.alpha)
    dropout: float = _help("Dropout on the adapter's input.", models.LoraShape.dropout)
    targets: tuple[str, ...] = _help("Module names the adapter wraps.", models.LoraShape.targets)
    top_layers: int = _help("Adapt only the last N decoder layers (0: all). The backward pass stops at the lowest "
                            "adapted layer: much faster on a CPU.", models.LoraShape.top_layers)

    def shape(self) -> models.LoraShape:
        return models.LoraShape(r=self.r, alpha=self.alpha, dropout=self.dropout, targets=tuple(self.targets),
                                top_layers=self.top_layers)

    def problems(self) -> list[str]:
        found = []
        if not (isinstance(self.r, int) and 1 <= self.r <= 1024):
            found.append(f"lora.r must be a whole number from 1 to 1024, not {self.r!r} (16-64 is usual)")
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0):
            found.append(f"lora.alpha must be positive, not {self.alpha!r} (twice r is usual)")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            found.append(f"lora.dropout must be in [0, 1), not {self.dropout!r}")
        if not (isinstance(self.top_layers, int) and self.top_layers >= 0):
            found.append(f"lora.top_layers must be 0 (all layers) or a positive number, not {self.top_layers!r}")
        if not self.targets or not all(isinstance(t, str) and _IDENTIFIER.match(t) for t in self.targets):
            found.append(f"lora.targets must be a non-empty list of module names like q_proj, not {self.targets!r}")
        return found


@dataclass(frozen=True)
class JobSpec:
    """What every training job has: the model, the data, the schedule, the adapter and where it all goes."""

    kind: ClassVar[str] = ""
    # "module:function" called as function(spec, run_folder, resume) in the job's own process.
    entry_point: ClassVar[str] = ""
    # The settings that name a JSONL file of rows.
    data_files: ClassVar[tuple[str, ...]] = ("dataset", "eval_dataset", "mix_dataset")

    model: str = _help("Base model: the embedded default, a hub id or a local folder.", models.EMBEDDED)
    dataset: str = _help("Training rows (JSONL of Alpaca rows with kind and intent).", "data/train.jsonl")
    eval_dataset: str = _help("Held-out rows for the eval loss; empty for none.", "data/eval.jsonl")
    mix_dataset: str = _help("More training rows mixed into `dataset`, such as the generated ones (python -m "
                             "studio.synth --out data/generated.jsonl); empty for none.", "")
    mix_ratio: float = _help("Share of the training rows drawn from mix_dataset: 0.5 half, 1 mix_dataset alone.",
                             0.5)
    output: str = _help("Run name (a folder under the workspace's runs/) or an absolute folder; "
                        "empty picks <kind>-<date>-<time>.", "")
    seed: int = _help("Seed for the adapter's initialization, shuffling and sampling.", 42)
    epochs: float = _help("Passes over the training rows (ignored when max_steps > 0).", 1.0)
    max_steps: int = _help("Optimizer steps to run; 0 means run `epochs` passes.", 0)
    max_minutes: float = _help("Finish within this many minutes of the job's start (its process's: the libraries' "
                               "import and the model's loading included), training until then or max_steps (or "
                               "`epochs` passes), whichever comes first; the learning-rate schedule follows the "
                               "time as well as the steps. 0 for no limit.", 0.0)
    batch_size: int = _help("Rows per device per forward pass.", 4)
    gradient_accumulation: int = _help("Forward passes per optimizer step (effective batch = batch x this x GPUs).",
                                       4)
    learning_rate: float = _help("Peak learning rate of the adapter.", 2e-4)
    lr_schedule: str = _help(f"Learning-rate schedule: {', '.join(SCHEDULES)}.", "cosine")
    warmup_ratio: float = _help("Share of the steps spent warming up the learning rate.", 0.03)
    max_length: int = _help("Longest sequence in tokens; longer rows are cut.", 1024)
    logging_steps: int = _help("Steps between two lines of metrics.jsonl.", 1)
    save_steps: int = _help("Steps between two checkpoints.", 50)
    eval_steps: int = _help("Steps between two evaluations on eval_dataset.", 50)
    save_total_limit: int = _help("Checkpoints kept (the oldest go first); 0 keeps all.", 2)
    quantization: str = _help("Base weights: 'nf4' (QLoRA 4-bit), 'none', or 'auto' = nf4 where CUDA is "
                              "present, none on the CPU (4-bit there is slow and saves little).", "auto")
    double_quantization: bool = _help("Quantize the 4-bit scales too (QLoRA's double quantization).", True)
    lora: LoraSettings = _help("The LoRA adapter.", factory=LoraSettings)
    gradient_checkpointing: bool = _help("Recompute activations in the backward pass: less memory, ~20% slower.",
                                         True)
    gpus: int = _help("GPUs to train on (several go through `accelerate launch`); 0 trains on the CPU. Where no "
                      "GPU exists the job runs on the CPU.", 1)
    speed: str = _help("'auto': on a GPU the job picks what trains fastest within memory_budget_gib (padding-free "
                       "packing of rows, an attention that keeps them apart, Liger kernels where installed, the "
                       "micro-batch and gradient checkpointing from the memory estimate; train.log lists the "
                       "choice). On the CPU (SFT): bf16 autocast where this CPU multiplies bf16 faster (AMX), and "
                       "batches of rows of like length. 'as_written': batch_size, gradient_checkpointing and "
                       "packing exactly as given, in fp32 on the CPU.", "auto")
    memory_budget_gib: float = _help("GPU memory the 'auto' speed settings may plan for, per GPU (at most three "
                                     "quarters of the card's).", 12.0)

    def __post_init__(self) -> None:
        if not self.output:
            # A frozen dataclass: set the default run name through object.__setattr__, once, here.
            object.__setattr__(self, "output", f"{self.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
        if isinstance(self.lora, dict):
            object.__setattr__(self, "lora", _build(LoraSettings, self.lora, "lora."))
        if isinstance(self.lora, LoraSettings) and isinstance(self.lora.targets, list):
            object.__setattr__(self, "lora", dataclasses.replace(self.lora, targets=tuple(self.lora.targets)))
        problems = _type_problems(self) or self.problems()
        if problems:
            raise SpecError(problems)

    # -- validation ------------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every value that cannot work, each with what to change. Subclasses add their own."""
        found = []
        if not self.model.strip():
            found.append(f"model is empty: use '{models.EMBEDDED}', a hub id or a local folder")
        if not self.dataset.strip():
            found.append("dataset is empty: give a JSONL file of training rows (data/train.jsonl)")
        for name in self.data_files:
            value = getattr(self, name)
            if value and not value.endswith(".jsonl"):
                found.append(f"{name} must be a .jsonl file, not {value!r}")
        if self.mix_dataset and not (0 < self.mix_ratio <= 1):
            found.append(f"mix_ratio must be above 0 and at most 1, not {self.mix_ratio} (0.5: half the rows from "
                         "mix_dataset; clear mix_dataset to train on `dataset` alone)")
        found += _output_problems(self.output)
        for name in ("batch_size", "gradient_accumulation", "max_length", "logging_steps", "save_steps",
                     "eval_steps"):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("max_steps", "save_total_limit", "gpus", "seed"):
            if getattr(self, name) < 0:
                found.append(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.max_steps == 0 and not (self.epochs > 0 and math.isfinite(self.epochs)):
            found.append(f"epochs must be positive when max_steps is 0, not {self.epochs}")
        if not (0 <= self.max_minutes < 100_000):
            found.append(f"max_minutes must be 0 (no limit) or a positive number of minutes, not {self.max_minutes}")
        if self.max_length < 32 and self.max_length >= 1:
            found.append(f"max_length {self.max_length} leaves no room for an answer: use 256 or more")
        if not (0 < self.learning_rate < 1):
            found.append(f"learning_rate must be in (0, 1), not {self.learning_rate} (LoRA: 1e-4 to 5e-4)")
        if self.lr_schedule not in SCHEDULES:
            found.append(f"lr_schedule must be one of {', '.join(SCHEDULES)}, not {self.lr_schedule!r}")
        if not (0 <= self.warmup_ratio < 1):
            found.append(f"warmup_ratio must be in [0, 1), not {self.warmup_ratio}")
        if self.speed not in SPEEDS:
            found.append(f"speed must be one of {', '.join(SPEEDS)}, not {self.speed!r}")
        if not (0 < self.memory_budget_gib < 10_000):
            found.append(f"memory_budget_gib must be a positive number of GiB, not {self.memory_budget_gib}")
        if self.quantization not in QUANTIZATIONS:
            found.append(f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {self.quantization!r}")
        found.extend(self.lora.problems())
        return found

    # -- derived ---------------------------------------------------------------------------------------

    @property
    def processes(self) -> int:
        """Training processes: one per GPU when several are asked for, else one."""
        return max(1, self.gpus)

    def run_folder(self) -> Path:
        """Where the run keeps its files: the workspace's runs/<output>, or `output` itself when absolute."""
        return run_folder(self.output)

    @property
    def run_name(self) -> str:
        return Path(self.output).name

    def with_paths_resolved(self, base: Path | None = None) -> "JobSpec":
        """The same spec with relative paths made absolute against `base` (the current folder): the datasets,
        and the model or starting adapter when they name a folder that exists there.

        The runner starts jobs from the project folder, so job.yaml carries paths that hold from anywhere.
        """
        base = Path(base or Path.cwd())
        changes = {}
        for name in self.data_files:
            value = getattr(self, name)
            if value and not Path(value).expanduser().is_absolute():
                changes[name] = str((base / value).resolve())
        for name in ("model", "adapter"):
            value = getattr(self, name, "")
            if value and not Path(value).expanduser().is_absolute() and (base / value).is_dir():
                changes[name] = str((base / value).resolve())
        return dataclasses.replace(self, **changes) if changes else self

    def missing_files(self) -> list[str]:
        """Dataset files that do not exist, as messages (checked at launch, not on construction, so that the
        job.yaml of an old run still loads after its data moved)."""
        found = []
        for name in self.data_files:
            value = getattr(self, name)
            if value and not Path(value).expanduser().is_file():
                generated = name == "mix_dataset" or Path(value).name == "generated.jsonl"  # the gpu recipe's GRPO too
                hint = " (build it: python -m studio.synth --out data/generated.jsonl)" if generated else ""
                found.append(f"{name} {value!r} does not exist{hint}")
        return found

    def to_dict(self) -> dict:
        data = {"kind": self.kind}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, LoraSettings):
                value = {**dataclasses.asdict(value), "targets": list(value.targets)}
            data[item.name] = value
        return data


@register
@dataclass(frozen=True)
class SFTJob(JobSpec):
    """Supervised fine-tuning with TRL's SFTTrainer on the chat-templated rows, loss on the answers only."""

    kind: ClassVar[str] = "sft"
    entry_point: ClassVar[str] = "jobs.sft:train"
    data_files: ClassVar[tuple[str, ...]] = JobSpec.data_files + ("examples_dataset",)

    completion_only_loss: bool = _help("Compute the loss on the answer only, not on the system and user turns.",
                                       True)
    packing: bool = _help("Pack several rows into each max_length sequence: fewer pad tokens. The rows stay apart: "
                          "transformers masks attention between them from their position ids.", False)
    worked_examples: bool = _help("Give every row the nearest other training row's request and answer as a worked "
                                  "example, and every later request the nearest of them (studio.examples): the rows "
                                  "get about twice as long, so raise max_length.", False)
    example_rerank: int = _help("With worked_examples: of the K nearest rows, take as the example the one whose "
                                "answer names the most of the request's words (0: the nearest). Kept with the "
                                "adapter, so that later requests get theirs the same way.", 0)
    examples_dataset: str = _help("With worked examples: more rows the examples may come from, besides dataset and "
                                  "mix_dataset, not trained on (the generated rows, for an SFT on the seed rows "
                                  "alone); empty for none.", "")

    def problems(self) -> list[str]:
        from studio.examples import CANDIDATES

        found = super().problems()
        if not (isinstance(self.example_rerank, int) and 0 <= self.example_rerank <= CANDIDATES):
            found.append(f"example_rerank must be a whole number from 0 (the nearest row) to {CANDIDATES}, not "
                         f"{self.example_rerank!r} (40: the best measured)")
        return found


def _default_reward_weights() -> dict[str, float]:
    from studio.iac.rewards import DEFAULT_WEIGHTS

    return dict(DEFAULT_WEIGHTS)


@register
@dataclass(frozen=True)
class GRPOJob(JobSpec):
    """GRPO with TRL's GRPOTrainer: sampled answers scored by the IaC validators (studio.iac.rewards)."""

    kind: ClassVar[str] = "grpo"
    entry_point: ClassVar[str] = "jobs.grpo:train"

    learning_rate: float = _help("Peak learning rate of the adapter (RL wants it lower than SFT).", 1e-5)
    gradient_accumulation: int = _help("Forward passes per optimizer step; the generation batch is batch x this "
                                       "x GPUs answers, num_generations per prompt.", 2)
    max_length: int = _help("Longest prompt in tokens.", 1024)
    num_generations: int = _help("Answers sampled per prompt; rewards are compared within this group.", 4)
    # The longest answer of data/train.jsonl is 656 tokens with SmolLM2's tokenizer: a shorter cap cuts correct
    # answers, which the validators then score below a trivial one.
    max_completion_length: int = _help("Longest answer in tokens; cover the dataset's longest answer (656 in the "
                                       "seed).", 768)
    mask_truncated_completions: bool = _help("Leave answers cut at max_completion_length out of the loss, so that a "
                                             "correct answer cut short is not pushed down and answers are not "
                                             "pushed shorter.", True)
    temperature: float = _help("Sampling temperature: too low and a group's answers are alike (no signal).", 0.9)
    beta: float = _help("KL penalty against the starting model; 0 skips the reference pass.", 0.0)
    guided: bool = _help("Guide the rollouts by the schema grammars (studio.guided): every answer is one fenced block "
                         "of real types, arguments and fields, so the rewards compare answers that all parse.", False)
    reward_weights: dict[str, float] = _help("Weight of each reward component (studio.iac.rewards); 0 leaves it "
                                             "out.", factory=_default_reward_weights)
    adapter: str = _help("Start from this adapter: an SFT run's name or its adapter/ folder; empty starts a new "
                         "one.", "")
    rollout: str = _help("How answers are sampled: 'studio' merges the adapter into a plain decoder replayed as a "
                         "CUDA graph (bench/rollout_speed.py: many times TRL's), 'trl' is TRL's `generate`, 'auto' "
                         "is studio on a GPU for Llama and Qwen2 models and trl elsewhere.", "auto")

    def problems(self) -> list[str]:
        from studio.iac.rewards import COMPONENTS

        found = super().problems()
        if self.num_generations < 2:
            found.append(f"num_generations must be at least 2 (GRPO compares answers within a group), "
                         f"not {self.num_generations}")
        else:
            batch = self.batch_size * self.gradient_accumulation * self.processes
            if batch % self.num_generations:
                divisors = [str(d) for d in range(2, batch + 1) if batch % d == 0]
                choice = f"pick {', '.join(divisors)}" if divisors else "raise batch_size"
                found.append(f"num_generations must divide the generation batch (batch_size x "
                             f"gradient_accumulation x GPUs): {batch} % {self.num_generations} != 0, {choice}")
            eval_batch = self.batch_size * self.processes
            if self.eval_dataset and eval_batch % self.num_generations:
                found.append(f"with an eval_dataset, num_generations must divide the eval batch (batch_size x "
                             f"GPUs): {eval_batch} % {self.num_generations} != 0; change batch_size or clear "
                             "eval_dataset")
        if self.rollout not in ROLLOUTS:
            found.append(f"rollout must be one of {', '.join(ROLLOUTS)}, not {self.rollout!r}")
        if self.max_completion_length < 8:
            found.append(f"max_completion_length must be at least 8 tokens, not {self.max_completion_length}")
        if not (0 < self.temperature <= 5):
            found.append(f"temperature must be in (0, 5], not {self.temperature} (0.7-1.0 is usual for GRPO)")
        if self.beta < 0:
            found.append(f"beta must be 0 or more, not {self.beta}")
        unknown = sorted(set(self.reward_weights) - set(COMPONENTS))
        if unknown:
            found.append(f"reward_weights: unknown component(s) {', '.join(unknown)}; the components are "
                         f"{', '.join(COMPONENTS)}")
        bad = [k for k, v in self.reward_weights.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            found.append(f"reward_weights must be numbers: {', '.join(bad)} is not")
        elif not any(self.reward_weights.get(c, 0) for c in COMPONENTS):
            found.append("reward_weights are all 0: give at least one component a weight")
        return found

    def adapter_folder(self) -> Path | None:
        """The starting adapter's folder: a path as given, or a run name's adapter/ in the workspace."""
        return adapter_folder(self.adapter)

    def missing_files(self) -> list[str]:
        found = super().missing_files()
        folder = self.adapter_folder()
        if folder is not None and not (folder / "adapter_config.json").is_file():
            found.append(f"adapter {self.adapter!r}: {folder} holds no adapter_config.json (finish the SFT run "
                         "first, or give its adapter/ folder)")
        return found


DPO_LOSSES = ("sigmoid", "ipo", "hinge")
# The DPO job's mining keys and the studio.pair_mining.MiningSettings fields they set.
MINING_KEYS = {"mine_samples": "samples", "mine_limit": "limit", "mine_temperature": "temperature",
               "mine_top_p": "top_p", "mine_max_new_tokens": "max_new_tokens", "mine_margin": "margin",
               "mine_min_stage_gap": "min_stage_gap", "mine_pairs_per_request": "pairs_per_request",
               "mine_batch_size": "batch_size", "mine_reference": "reference"}


@register
@dataclass(frozen=True)
class DPOJob(JobSpec):
    """DPO with TRL's DPOTrainer on pairs of answers (prompt, chosen, rejected) from up to three sources, mixed:
    the Compare tab's votes, pair files, and pairs mined from the starting model, ranked by the IaC validators
    (`studio.pair_mining`) before training starts."""

    kind: ClassVar[str] = "dpo"
    entry_point: ClassVar[str] = "jobs.dpo:train"

    dataset: str = _help("Training requests (Alpaca rows with kind and intent) to mine pairs from before training: "
                         "mine_samples answers to each from the starting model, ranked by the validators. Unused "
                         "when mine_samples is 0.", "data/train.jsonl")
    eval_dataset: str = _help("Held-out preference pairs (JSONL of prompt, chosen, rejected) for the eval loss and "
                              "reward accuracy; empty for none.", "")
    learning_rate: float = _help("Peak learning rate of the adapter (DPO on LoRA: 1e-5 to 2e-4).", 5e-5)
    max_length: int = _help("Longest prompt + answer in tokens; longer pairs are cut at the end of the answer.", 1024)
    votes: bool = _help("Train on the Compare tab's votes: the workspace's preferences/dpo-pairs.jsonl, exported "
                        "again from votes.jsonl when the job starts.", False)
    pairs: tuple[str, ...] = _help("Pair files to train on too (JSONL of prompt, chosen, rejected: an earlier "
                                   "mining, `python -m studio.preferences mine`, or a file of your own).", ())
    mine_samples: int = _help("Answers sampled per training request to mine pairs from; 0 mines nothing (train on "
                              "the votes and pair files only).", 4)
    mine_limit: int = _help("Mine from N training requests drawn at random (seeded); 0 uses them all.", 0)
    mine_temperature: float = _help("Sampling temperature while mining: too low and a request's answers are alike "
                                    "(no pair).", 0.9)
    mine_top_p: float = _help("Nucleus sampling while mining; 1.0 samples the whole distribution, as GRPO's rollouts "
                              "do, and lets a GPU mine on the studio's decoder (studio.decoder).", 0.95)
    # The seed's longest answer is 656 tokens (SmolLM2's tokenizer): a lower cap cuts correct answers, which would
    # then be mined as rejected against shorter, worse ones.
    mine_max_new_tokens: int = _help("Longest mined answer in tokens; cover the dataset's longest answer (656 in the "
                                     "seed), or correct answers cut short become rejected ones.", 768)
    mine_margin: float = _help("Smallest reward difference (studio.iac.rewards total) between the chosen and the "
                               "rejected answer of a mined pair; a schema error alone costs 0.25.", 0.25)
    mine_min_stage_gap: int = _help("Correctness stages (extracted, parses, schema, intent) the chosen answer must "
                                    "pass beyond the rejected one; 0 ranks by the reward alone.", 1)
    mine_pairs_per_request: int = _help("Pairs kept per request at most: best with worst, then inwards.", 1)
    mine_batch_size: int = _help("Answers generated together while mining.", 16)
    mine_reference: bool = _help("Count each request's own answer (the dataset's output, which passes the checks) "
                                 "among the mined candidates: every request whose samples fail gives a pair.", False)
    beta: float = _help("How far DPO may move from the starting model: higher stays closer (0.1 is usual).", 0.1)
    loss_type: str = _help(f"DPO loss: {', '.join(DPO_LOSSES)} (sigmoid is the paper's).", "sigmoid")
    sft_weight: float = _help("Add the SFT loss on the chosen answers with this weight (RPO): keeps them likely "
                              "while DPO pushes each pair apart; 0 for none.", 0.0)
    adapter: str = _help("Start from this adapter, which is also the reference DPO measures against: an SFT run's "
                         "name or its adapter/ folder; empty starts a new one on the base model.", "")

    def __post_init__(self) -> None:
        if isinstance(self.pairs, list):
            object.__setattr__(self, "pairs", tuple(self.pairs))
        super().__post_init__()

    def mining(self):
        """The studio.pair_mining settings the mine_* keys describe."""
        from studio.pair_mining import MiningSettings

        return MiningSettings(**{field: getattr(self, key) for key, field in MINING_KEYS.items()}, seed=self.seed)

    def problems(self) -> list[str]:
        found = super().problems()
        if self.mine_samples == 0:
            # The requests are not read: an empty dataset is no problem.
            found = [problem for problem in found if not problem.startswith("dataset is empty")]
            if not self.votes and not self.pairs:
                found.append("nothing to train on: turn on votes, give pair files in pairs, or mine pairs "
                             "(mine_samples 2 or more)")
        elif self.mine_samples < 2:
            found.append(f"mine_samples must be 0 (no mining) or at least 2 answers per request, not "
                         f"{self.mine_samples}")
        else:
            # MiningSettings names its fields; the person wrote the mine_* keys.
            keys = {value: key for key, value in MINING_KEYS.items()}
            names = re.compile(r"\b(" + "|".join(keys) + r")\b")
            found += [names.sub(lambda match: keys[match.group(1)], problem) for problem in self.mining().problems()]
        if not all(isinstance(p, str) and p.strip().endswith(".jsonl") for p in self.pairs):
            found.append(f"pairs must be a list of .jsonl files, not {list(self.pairs)!r}")
        if self.beta <= 0:
            found.append(f"beta must be positive, not {self.beta} (0.1 is usual; higher stays closer to the start)")
        if self.loss_type not in DPO_LOSSES:
            found.append(f"loss_type must be one of {', '.join(DPO_LOSSES)}, not {self.loss_type!r}")
        if self.sft_weight < 0:
            found.append(f"sft_weight must be 0 or more, not {self.sft_weight}")
        return found

    def adapter_folder(self) -> Path | None:
        """The starting adapter's folder: a path as given, or a run name's adapter/ in the workspace."""
        return adapter_folder(self.adapter)

    def with_paths_resolved(self, base: Path | None = None) -> "DPOJob":
        spec = super().with_paths_resolved(base)
        base = Path(base or Path.cwd())
        resolved = tuple(value if Path(value).expanduser().is_absolute() else str((base / value).resolve())
                         for value in spec.pairs)
        return dataclasses.replace(spec, pairs=resolved) if resolved != spec.pairs else spec

    def missing_files(self) -> list[str]:
        """Besides missing files, every problem of the pair files by line (read now: a bad file is refused
        before a model loads)."""
        from studio import preferences

        found = [problem for problem in super().missing_files()
                 if self.mine_samples or not problem.startswith("dataset ")]
        folder = self.adapter_folder()
        if folder is not None and not (folder / "adapter_config.json").is_file():
            found.append(f"adapter {self.adapter!r}: {folder} holds no adapter_config.json (finish the SFT run "
                         "first, or give its adapter/ folder)")
        files = [p for p in self.pairs if Path(p).expanduser().is_file()]
        found += [f"pairs: {p!r} does not exist" for p in self.pairs if p not in files]
        if self.eval_dataset and Path(self.eval_dataset).expanduser().is_file():
            files.append(self.eval_dataset)
        try:
            preferences.read_pair_files(files)
        except preferences.PairFileError as error:
            found += error.problems + ([f"and {error.more} more problem(s)"] if error.more else [])
        if self.votes and not preferences.dpo_pairs(preferences.read_votes()):
            found.append(f"votes is on but {preferences.votes_file()} holds no vote that prefers one answer: vote "
                         "in the Compare tab, or turn votes off")
        return found

    def to_dict(self) -> dict:
        return {**super().to_dict(), "pairs": list(self.pairs)}


@register
@dataclass(frozen=True)
class EvalJob:
    """An evaluation: a model (base, a run's adapter on it, or a merged export) answers held-out rows, every
    answer is checked by studio.iac, and the rate of each stage is reported (studio.evaluation).

    Not a JobSpec: an evaluation trains nothing, and a job.yaml listing epochs, LoRA and learning rates that it
    ignores would break the rule that every key in it means something. It offers what the runner and the CLI
    use of a spec (`model`, `output`, `gpus`, `run_folder`, `missing_files`, ...).
    """

    kind: ClassVar[str] = "eval"
    entry_point: ClassVar[str] = "jobs.evaluate:run"

    model: str = _help("Base model: the embedded default, a hub id or a local folder.", models.EMBEDDED)
    adapter: str = _help("A run's name or an adapter folder, evaluated on `model`; the base's answers come from "
                         "the same weights with the adapter off. Empty for none.", "")
    merged: str = _help("A merged export's folder (exports/<name>/merged), evaluated beside `model`. Empty for "
                        "none.", "")
    with_base: bool = _help("Evaluate the base model too, side by side with the fine-tuned one.", True)
    dataset: str = _help("Rows to answer: JSONL of Alpaca rows with kind and intent (output may be left out).",
                         "data/eval.jsonl")
    limit: int = _help("Answer the first N rows only; 0 answers them all.", 0)
    samples: int = _help("Answers per row; more than 1 gives pass@k and needs a temperature above 0.", 1)
    temperature: float = _help("0 decodes greedily (the same answers every time); above 0 samples.", 0.0)
    pass_at_k: int = _help("Also sample k answers per row and report pass@1..k beside the main (greedy) answers; "
                           "0: off. 4 costs four more answers per row.", 0)
    pass_at_k_temperature: float = _help("The temperature of the pass@k samples.", 0.7)
    top_p: float = _help("When sampling, draw from the most likely tokens holding this share of probability.", 0.95)
    max_new_tokens: int = _help("Longest answer in tokens (the eval split's longest reference is 432 with "
                                "SmolLM2's tokenizer).", 512)
    batch_size: int = _help("Answers generated together (transformers: left-padded batches; llama.cpp: answers "
                            "decoding at once, a finished one's place taken by the next). On a 2-core CPU llama.cpp "
                            "ran 1.4x faster with 32 than with 16 (studio.evaluation.DEFAULT_BATCH_SIZE).", 32)
    engine: str = _help("Who answers: 'llama.cpp' (an F16 GGUF of the same weights, answers decoding together; "
                        "bench/eval_engine.py), 'transformers', or 'auto': llama.cpp on a machine without a GPU, "
                        "transformers with one.", "auto")
    threads: int = _help("torch CPU threads; 0 keeps torch's default (one per core); 1 can be faster on a machine "
                         "busy with other work.", 0)
    seed: int = _help("Seed for sampling.", 0)
    guided: bool = _help("Schema-guided decoding: every answer is one fenced block whose types, arguments and "
                         "fields come from the AWS and Kubernetes schemas (studio.guided).", False)
    judge_url: str = _help("An OpenAI-compatible server (llama.cpp's llama-server, vLLM) that also scores every "
                           "answer from 1 to 5; empty: no judge.", "")
    judge_model: str = _help("The model name to ask the judge's server for.", "default")
    output: str = _help("This job's run name (a folder under runs/); empty picks eval-<date>-<time>. The results go "
                        "to the evaluated run's eval/ folder, or to evaluations/<this name>/.", "")
    gpus: int = _help("1 generates on a GPU, 0 on the CPU; where no GPU exists it runs on the CPU.", 1)

    def __post_init__(self) -> None:
        if not self.output:
            object.__setattr__(self, "output", f"{self.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
        problems = _type_problems(self) or self.problems()
        if problems:
            raise SpecError(problems)

    def problems(self) -> list[str]:
        found = []
        if not self.model.strip() and not (self.merged and not self.with_base):
            found.append(f"model is empty: use '{models.EMBEDDED}', a hub id or a local folder")
        if self.adapter and self.merged:
            found.append("give an adapter or a merged export, not both: the fine-tuned side is one model")
        if not self.with_base and not (self.adapter or self.merged):
            found.append("with_base is off and there is no adapter or merged export: nothing to evaluate")
        if not self.dataset.strip() or not self.dataset.endswith(".jsonl"):
            found.append(f"dataset must be a .jsonl file of rows, not {self.dataset!r} (data/eval.jsonl)")
        found += _output_problems(self.output)
        if self.engine not in EVAL_ENGINES:
            found.append(f"engine must be one of {', '.join(EVAL_ENGINES)}, not {self.engine!r}")
        for name in ("samples", "max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("limit", "threads", "seed"):
            if getattr(self, name) < 0:
                found.append(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.max_new_tokens > 8192:
            found.append(f"max_new_tokens must be at most 8192, not {self.max_new_tokens}")
        if not (0 <= self.temperature <= 5):
            found.append(f"temperature must be between 0 (greedy) and 5, not {self.temperature}")
        if self.samples > 1 and self.temperature <= 0:
            found.append(f"samples is {self.samples} but temperature is 0: greedy decoding gives one answer, "
                         f"{self.samples} times; set a temperature (0.7-1.0) for pass@k")
        if not (0 < self.top_p <= 1):
            found.append(f"top_p must be in (0, 1], not {self.top_p}")
        if self.pass_at_k < 0 or self.pass_at_k > 64:
            found.append(f"pass_at_k must be 0 (off) or a number of samples up to 64, not {self.pass_at_k} (4 is usual)")
        if self.pass_at_k and not (0 < self.pass_at_k_temperature <= 5):
            found.append(f"pass_at_k_temperature must be in (0, 5], not {self.pass_at_k_temperature} (0.7 is usual)")
        if self.gpus not in (0, 1):
            found.append(f"gpus must be 0 (CPU) or 1: an evaluation runs on one device, not {self.gpus}")
        if self.judge_url and not self.judge_url.startswith(("http://", "https://")):
            found.append(f"judge_url must start with http:// or https://, not {self.judge_url!r}")
        return found

    @property
    def processes(self) -> int:
        return 1

    def run_folder(self) -> Path:
        return run_folder(self.output)

    @property
    def run_name(self) -> str:
        return Path(self.output).name

    def adapter_folder(self) -> Path | None:
        """The adapter's folder: a path as given, or a run name's adapter/ in the workspace."""
        return adapter_folder(self.adapter)

    def with_paths_resolved(self, base: Path | None = None) -> "EvalJob":
        """The same spec with relative file paths made absolute against `base` (the current folder); a run name
        given as the adapter stays a name."""
        base = Path(base or Path.cwd())
        changes = {}
        for name in ("dataset", "merged", "adapter"):
            value = getattr(self, name)
            if not value or Path(value).expanduser().is_absolute():
                continue
            if name == "adapter" and "/" not in value and not (base / value).exists():
                continue
            changes[name] = str((base / value).resolve())
        return dataclasses.replace(self, **changes) if changes else self

    def missing_files(self) -> list[str]:
        found = []
        if not Path(self.dataset).expanduser().is_file():
            found.append(f"dataset {self.dataset!r} does not exist")
        folder = self.adapter_folder()
        if folder is not None and not (folder / "adapter_config.json").is_file():
            found.append(f"adapter {self.adapter!r}: {folder} holds no adapter_config.json (finish the run first, "
                         "or give its adapter/ folder)")
        if self.merged and not (Path(self.merged).expanduser() / "config.json").is_file():
            found.append(f"merged {self.merged!r} holds no config.json: give an export's merged/ folder")
        return found

    def to_dict(self) -> dict:
        return {"kind": self.kind, **{item.name: getattr(self, item.name) for item in dataclasses.fields(self)}}


# -- building from YAML or a form ----------------------------------------------------------------------


def _type_problems(spec: Any) -> list[str]:
    """Values of the wrong type (a string for an integer, a number for a flag), named by field."""
    hints = typing.get_type_hints(type(spec))
    found = []
    for item in dataclasses.fields(spec):
        value, hint = getattr(spec, item.name), hints[item.name]
        expected = _expected_types(hint)
        if expected is None:
            continue
        if isinstance(value, bool) and bool not in expected:
            ok = False  # True is an int to Python, never to a person filling a form
        else:
            ok = isinstance(value, expected)
        if not ok:
            names = "a number" if hint is float else " or ".join(sorted({_type_name(t) for t in expected}))
            found.append(f"{item.name} must be {names}, not {value!r}")
    return found


def _expected_types(hint: Any) -> tuple | None:
    if hint is float:
        return (int, float)
    if hint in (int, str, bool):
        return (hint,)
    origin = typing.get_origin(hint)
    if origin is dict:
        return (dict,)
    if origin is tuple:
        return (tuple, list)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return (hint,)
    return None


def _type_name(kind: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
            tuple: "a list", list: "a list"}.get(kind, kind.__name__)


def _unknown_key_problems(cls: type, data: dict, prefix: str = "") -> list[str]:
    names = [item.name for item in dataclasses.fields(cls)]
    found = []
    for key in data:
        if key in names:
            continue
        close = difflib.get_close_matches(str(key), names, n=1)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        found.append(f"unknown key '{prefix}{key}'{hint}")
    if found:
        found.append(f"{'a ' + cls.__name__ if not prefix else prefix.rstrip('.')} takes: {', '.join(names)}")
    return found


def _build(cls: type, data: dict, prefix: str = ""):
    problems = _unknown_key_problems(cls, data, prefix)
    if problems:
        raise SpecError(problems)
    return cls(**data)


def from_dict(data: dict) -> JobSpec:
    """A spec from a mapping with a `kind` key (a parsed job.yaml); unknown keys are refused by name."""
    if not isinstance(data, dict):
        raise SpecError([f"a job spec is a mapping of keys to values, not {type(data).__name__}"])
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in KINDS:
        raise SpecError([f"kind must be one of {', '.join(KINDS)}, not {kind!r}"])
    cls = KINDS[kind]
    problems = _unknown_key_problems(cls, data)
    _read_exponents_as_numbers(cls, data)
    lora = data.get("lora")
    if isinstance(lora, dict):
        problems += _unknown_key_problems(LoraSettings, lora, "lora.")
    if problems:
        raise SpecError(problems)
    try:
        return cls(**data)
    except TypeError as error:  # a value of a shape the dataclass cannot take at all
        raise SpecError([str(error)]) from error


def _read_exponents_as_numbers(cls: type, data: dict) -> None:
    """YAML 1.1 (PyYAML) reads `1e-4` as a string: it wants `1.0e-4`. A person means the number."""
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if hints.get(key) is float and isinstance(value, str):
            try:
                data[key] = float(value)
            except ValueError:
                pass  # left for the type check to name


def loads(text: str) -> JobSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError([f"not valid YAML: {error}"]) from error
    return from_dict(data or {})


def load(path: str | Path) -> JobSpec:
    """The spec saved in a job.yaml; every problem is named with the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise SpecError([f"{path}: no such file (the Train tab writes one into each run folder: "
                         "workspace/runs/<run>/job.yaml)"]) from None
    try:
        return loads(text)
    except SpecError as error:
        raise SpecError([f"{path}: {problem}" for problem in error.problems]) from error


def dump(spec: JobSpec) -> str:
    """The job.yaml text: a header saying how to run it, then every field in declaration order."""
    header = (f"# InfraMind Studio {spec.kind} job. Run it with: python -m jobs run job.yaml\n"
              "# Every key is checked: an unknown or misspelled key is refused, not ignored.\n")
    for name in ("dataset", "eval_dataset"):
        described = dataset_version(getattr(spec, name, ""))
        if described:
            header += (f"# {name}: dataset {described['name']}, version {described['version']}, "
                       f"{described['rows']} rows of its {described['split']} split ({described['note']})\n")
    return header + yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, width=100)


def dataset_version(path: str) -> dict | None:
    """Which dataset version a job's rows file is (`studio.dataset_store.describe_file`), or None."""
    if not path:
        return None
    from studio import dataset_store

    return dataset_store.describe_file(path)


def save(spec: JobSpec, path: str | Path) -> None:
    workspace.atomic_write_text(Path(path), dump(spec))


def field_help(cls: type[JobSpec]) -> dict[str, str]:
    """Each field's help text, for forms and `--help`."""
    return {item.name: item.metadata.get("help", "") for item in dataclasses.fields(cls)}
