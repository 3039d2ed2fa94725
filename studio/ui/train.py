"""The Train tab: SFT, GRPO and DPO forms with the defaults, a memory estimate and the exact command and job.yaml
before launch, and the launch itself (the job is queued and runs in processes of its own). For DPO, a panel counts
the pairs each source gives (the Compare tab's votes, pair files) and mines a sample from the model, with examples.

    >>> with gr.Blocks() as demo:
    ...     build()

The form writes a spec (`jobs.specs`); the engine reads only that. Launch is `jobs.runner.submit`, the same call
as `python -m jobs submit job.yaml`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import gradio as gr

from jobs import specs
from studio import adapters, models, workspace
from studio.ui.widgets import launched_markdown, problems_markdown, when_opened

KIND_LABELS = {"SFT (supervised fine-tuning)": "sft", "GRPO (rewards from the IaC validators)": "grpo",
               "DPO (preference pairs: votes, files, mined)": "dpo"}

QUANTIZATION_INFO = (
    "auto = NF4 4-bit with double quantization (QLoRA) where CUDA is present, full precision on the CPU: there "
    "bitsandbytes runs 4-bit but about 50x slower, and at 135M parameters it saves little memory."
)

SFT_DEFAULTS, GRPO_DEFAULTS = specs.SFTJob(output="x"), specs.GRPOJob(output="x")
DPO_DEFAULTS = specs.DPOJob(output="x")
DEFAULTS = {"sft": SFT_DEFAULTS, "grpo": GRPO_DEFAULTS, "dpo": DPO_DEFAULTS}
# Fields whose default differs between the kinds: switching the kind resets them to the new kind's default.
KIND_SPECIFIC = [f.name for f in dataclasses.fields(specs.JobSpec) if f.name != "output"
                 and len({repr(getattr(d, f.name)) for d in DEFAULTS.values()}) > 1]
# The DPO form's own inputs and the spec keys they fill (beta and adapter are GRPO's inputs' names too).
DPO_INPUTS = {"dpo_votes": "votes", "dpo_pairs": "pairs", "dpo_beta": "beta", "dpo_loss_type": "loss_type",
              "dpo_sft_weight": "sft_weight", "dpo_adapter": "adapter",
              **{key: key for key in specs.MINING_KEYS}}
# Requests mined by "Mine a sample": enough to show what the pairs look like, few enough for a CPU.
SAMPLE_REQUESTS = 2


def dataset_choices(split: str = "train") -> list[tuple[str, str]]:
    """(label, file) for the `split` of every dataset of the Dataset tab in its current version, named with its
    row count and version (a version's files never change, so a run keeps reading what it was given), then the
    project's data/ files."""
    from studio import dataset_store

    found = []
    try:
        found += [(dataset_store.label(name, split), _shown(dataset_store.dataset_path(name, split)))
                  for name in dataset_store.names()]
    except (OSError, ValueError, dataset_store.DatasetError):
        pass  # an unreadable workspace dataset must not take the Train tab down
    found += [(f"{_shown(path)} (the shipped file; Dataset-tab edits do not reach it)", _shown(path))
              for path in sorted(workspace.SEED_DATA.glob("*.jsonl"))]
    return found


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is inside it (short in the form), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def default_dataset(split: str = "train") -> str:
    """The `split` of the dataset open in the Dataset tab, in its current version."""
    from studio import dataset_store

    try:
        return _shown(dataset_store.dataset_path(dataset_store.opened(), split))
    except (OSError, ValueError, dataset_store.DatasetError):
        return getattr(SFT_DEFAULTS, "dataset" if split == "train" else "eval_dataset")


def rows_note(path: str | None, eval_path: str | None = None) -> str:
    """Which rows a job will read, in words: the dataset, its version and row count, or the file's row count."""
    from studio import dataset_store

    def one(file: str | None, what: str) -> str:
        if not (file or "").strip():
            return f"no {what}"
        described = dataset_store.describe_file(file)
        if described:
            return (f"{what}: **{described['rows']} rows** of dataset **{described['name']}** ({described['split']}"
                    f" split), version `{described['version']}` ({described['note']})")
        location = Path(file).expanduser()
        if not location.is_file():
            return f"{what}: `{file}` does not exist"
        count = sum(1 for line in location.read_text(encoding="utf-8", errors="replace").split("\n") if line.strip())
        return f"{what}: **{count} rows** of the file `{file}` (not a Dataset-tab dataset: edits there do not reach it)"

    return "The job reads " + one(path, "training rows") + "; " + one(eval_path, "held-out rows") + "."


def follow_dataset(value: str | None, split: str, followed: str) -> str:
    """Where a dataset picker should point now: a dataset's file follows that dataset's current version, and
    the one the tab set itself (`followed`, not changed by hand) follows the dataset open in the Dataset tab;
    any other file stays as chosen."""
    from studio import dataset_store

    described = dataset_store.describe_file(value) if value else None
    if value and described is None:
        return value
    name = dataset_store.opened() if not value or described["name"] == followed else described["name"]
    try:
        return _shown(dataset_store.dataset_path(name, split))
    except (OSError, ValueError, dataset_store.DatasetError):
        return value or ""


def refresh_lists(train_file, eval_file, recipe_file, followed):
    """The tab opened, or a job ended: the dataset pickers list every dataset in its current version and follow
    it (see `follow_dataset`), and the note says which rows a job will read. (`refresh_adapters` does the
    adapters.)"""
    from studio import dataset_store

    train_choices, eval_choices = dataset_choices(), [("none", ""), *dataset_choices("eval")]
    train_file = follow_dataset(train_file, "train", followed)
    eval_file = follow_dataset(eval_file, "eval", followed) if eval_file else eval_file
    recipe_file = follow_dataset(recipe_file, "train", followed)
    return (gr.update(choices=train_choices, value=train_file), gr.update(choices=eval_choices, value=eval_file),
            gr.update(choices=train_choices, value=recipe_file), gr.update(choices=[("none", ""), *train_choices]),
            rows_note(train_file, eval_file), dataset_store.opened())


def adapter_choices() -> list[str]:
    """Starting adapters for GRPO and DPO: none, or a finished run's adapter/ (by run name)."""
    return [""] + [adapter.run for adapter in adapters.find()]


def pair_file_choices() -> list[str]:
    """Pair files the studio knows: the workspace's preferences/*.jsonl (mined or exported; not the raw votes) and
    the pairs every DPO run trained on."""
    from studio import preferences

    found = [path for path in sorted(preferences.folder().glob("*.jsonl")) if path.name != preferences.VOTES_FILE]
    found += sorted(workspace.runs_dir().glob("*/pairs.jsonl"))
    return [str(path) for path in found]


def _reward_components() -> tuple[str, ...]:
    from studio.iac.rewards import COMPONENTS

    return COMPONENTS


def _whole(value):
    """Number boxes hand over floats (4.0); a whole number is what the person meant."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def spec_from_form(values: dict) -> specs.JobSpec:
    """The spec a form describes; raises SpecError with every problem."""
    kind = KIND_LABELS.get(values["kind"], values["kind"])
    data = {"kind": kind}
    common = {f.name for f in dataclasses.fields(specs.JobSpec)} - {"lora"}
    for name in common:
        data[name] = values[name]
    data["lora"] = {"r": _whole(values["lora_r"]), "alpha": _whole(values["lora_alpha"]),
                    "dropout": values["lora_dropout"], "targets": list(values["lora_targets"] or [])}
    if kind == "sft":
        data.update(completion_only_loss=values["completion_only_loss"], packing=values["packing"],
                    worked_examples=values["worked_examples"], example_rerank=_whole(values["example_rerank"]),
                    examples_dataset=values["examples_dataset"])
    elif kind == "grpo":
        data.update({name: values[name] for name in ("num_generations", "max_completion_length", "temperature",
                                                     "beta", "adapter")})
        data["reward_weights"] = {c: values[f"weight_{c}"] for c in _reward_components()}
    else:
        data.update({key: values[name] for name, key in DPO_INPUTS.items()})
        data["pairs"] = [path.strip() for path in data["pairs"] or [] if path.strip()]
    for name in ("seed", "max_steps", "batch_size", "gradient_accumulation", "max_length", "logging_steps",
                 "save_steps", "eval_steps", "save_total_limit", "gpus", "num_generations",
                 "max_completion_length", "mine_samples", "mine_limit", "mine_max_new_tokens",
                 "mine_min_stage_gap", "mine_pairs_per_request", "mine_batch_size"):
        if name in data:
            data[name] = _whole(data[name])
    for name in ("dataset", "eval_dataset", "mix_dataset", "examples_dataset", "output", "model", "adapter"):
        if name in data:
            data[name] = (data[name] or "").strip()
    if not data["output"]:
        data.pop("output")
    return specs.from_dict(data)


# The fields a problem can be shown next to; a problem names its field first ("batch_size must be ...").
_FIELD_WORD = re.compile(r"[a-z_]+(?:\.[a-z_]+)?")


def field_of(problem: str, names, prefix: str = "") -> str | None:
    """The form field a SpecError problem is about (`lora.r ...` is the field lora_r; with `prefix` "dpo_",
    `beta ...` is dpo_beta where the DPO form has its own), or None."""
    problem = problem.removeprefix("with an eval_dataset, ")
    for word in _FIELD_WORD.findall(problem)[:3]:
        name = word.replace(".", "_")
        if prefix and prefix + name in names:
            return prefix + name
        if name in names:
            return name
    return None


def _shape_known(model: str) -> bool:
    """Whether the model's config.json is on disk already: the estimate on every edit must not start the
    embedded model's conversion or a download (Preview and Launch do that)."""
    model = (model or "").strip()
    if not model or model == models.EMBEDDED:
        return models.is_complete(workspace.models_dir() / models.EMBEDDED_FOLDER)
    return (Path(model).expanduser() / "config.json").is_file()


def check_form(form: dict) -> tuple[list[str], dict[str, str]]:
    """Every reason the form cannot launch, and for each field the reason shown next to it.

    The spec's own checks (ranges, types, names), then the memory estimate against the device's memory.
    """
    from jobs import estimate

    try:
        spec = spec_from_form(form).with_paths_resolved()
    except (specs.SpecError, ValueError, TypeError) as error:
        problems = list(getattr(error, "problems", None) or [str(error)])
        by_field: dict[str, str] = {}
        prefix = "dpo_" if KIND_LABELS.get(form["kind"], form["kind"]) == "dpo" else ""
        for problem in problems:
            name = field_of(problem, form, prefix)
            if name and name not in by_field:
                by_field[name] = problem
        return problems, by_field
    problems, by_field = [], {}
    if _shape_known(spec.model):
        try:
            over = estimate.over_memory(estimate.estimate_job(spec))
        except (models.ModelUnavailable, OSError, KeyError, ValueError):
            over = None
        if over:
            problems.append(over)
            by_field["batch_size"] = over
    for missing in spec.missing_files():
        problems.append(missing)
        by_field.setdefault(missing.split(" ", 1)[0], missing)
    return problems, by_field


def preview(form: dict):
    """(estimate, command, job.yaml) for the form, or the problems in place of the estimate."""
    try:
        spec = spec_from_form(form).with_paths_resolved()
    except (specs.SpecError, ValueError) as error:
        return problems_markdown(error), "", ""
    return _preview_of(spec)


def _preview_of(spec: specs.JobSpec):
    from jobs import estimate, runner

    try:
        report = estimate.estimate_job(spec).markdown()
    except (models.ModelUnavailable, OSError, KeyError, ValueError) as error:
        report = f"No memory estimate: {error}"
    missing = spec.missing_files()
    if missing:
        report = "**Before launch:** " + "; ".join(missing) + "\n\n" + report
    else:
        cut = _cut_rows(spec)
        if cut:
            report = f"**Warning:** {cut}\n\n" + report
    return f"### Memory estimate\n{report}", runner.preview_command(spec), specs.dump(spec)


def _cut_rows(spec: specs.JobSpec) -> str | None:
    """The warning for training rows the chosen lengths would cut (None when every row fits)."""
    from studio import dataset_tokens

    grpo = isinstance(spec, specs.GRPOJob)
    try:
        rows = None
        if getattr(spec, "worked_examples", False):  # the rows as the SFT trains on them: about twice as long
            from jobs import training
            from studio import examples

            rows = examples.training_rows(training.read_rows(spec.dataset),
                                          examples.Index(training.example_pool(spec), spec.example_rerank))
        return dataset_tokens.cut_rows_warning(spec.dataset, spec.model, spec.max_length,
                                               spec.max_completion_length if grpo else None, rows=rows)
    except (models.ModelUnavailable, OSError, ValueError) as error:
        return f"the rows' lengths could not be checked: {error}"


def launch(form: dict):
    """Queue the job the form describes; it starts at once when its device is free."""
    from jobs import runner
    from jobs.run_folder import RunFolder
    from jobs.store import JobStateError

    problems, _ = check_form(form)
    if problems:  # the button is disabled then, but an API call or a stale page still lands here
        return problems_markdown(specs.SpecError(problems)), gr.update(), gr.skip(), gr.skip(), gr.skip()
    try:
        spec = spec_from_form(form)
        job = runner.submit(spec)
    except (specs.SpecError, JobStateError, models.ModelUnavailable, ValueError, OSError) as error:
        return problems_markdown(error), gr.update(), gr.skip(), gr.skip(), gr.skip()
    status = launched_markdown(job, "Watch it in the Jobs tab; it goes on if you close this page.")
    # Show what was launched: the job.yaml as written in the run folder, its command and memory estimate.
    return (status, gr.update(value=""), *_preview_of(specs.load(RunFolder.named(job.name).spec_file)))


def launch_recipe(name: str, model: str, dataset: str, which: str = "cpu", progress=gr.Progress()):
    """Queue a recipe (`jobs.recipe.submit`): its SFT job, then its GRPO job, which waits for the SFT run to
    succeed and starts from its adapter."""
    import time

    from jobs import recipe
    from jobs.store import JobNotFound, JobStateError

    name = (name or "").strip() or f"recipe-{time.strftime('%Y%m%d-%H%M%S')}"
    changes = {key: value.strip() for key, value in (("model", model), ("dataset", dataset)) if (value or "").strip()}
    try:
        first, second = recipe.submit(
            name, which or "cpu", **changes,
            progress=lambda done, total: progress(done / total, desc=f"Generating training rows: {done}/{total}"))
    except (specs.SpecError, JobStateError, JobNotFound, models.ModelUnavailable, ValueError, OSError) as error:
        return problems_markdown(error)
    return (f"**{first.name}** ({which or 'cpu'} recipe) is {first.state}; **{second.name}** is {second.state} and "
            "starts from its adapter once it succeeded. Watch both in the Jobs tab.")


def model_of_recipe(which: str):
    """The base model of a recipe's SFT file, for the model picker when the recipe changes."""
    from jobs import recipe

    return gr.update(value=specs.load(recipe.files(which)[0]).model)


def switch_kind(kind_label):
    """Reset the fields whose defaults differ between the kinds, and show the kind's own settings."""
    kind = KIND_LABELS[kind_label]
    return [gr.update(value=getattr(DEFAULTS[kind], name)) for name in KIND_SPECIFIC] + [
        gr.update(visible=kind == shown) for shown in ("sft", "grpo", "dpo")]


# -- DPO: the pairs before launch --------------------------------------------------------------------------


def count_pairs(votes: bool, pair_files: list[str] | None) -> str:
    """The pairs each source gives now (the votes when ticked, each pair file), with a few examples."""
    from studio import preferences

    found = [preferences.votes_source()] if votes else []
    found += preferences.sources([path for path in pair_files or [] if path.strip()])
    text = preferences.describe(found)
    total = sum(source.pairs for source in found if not source.problems)
    return f"**{total} pairs** from {len(found)} source(s), before mining.\n\n{text}" if found else text


def mine_sample(model: str, adapter: str, dataset: str, samples, temperature, max_new_tokens, margin, min_stage_gap,
                pairs_per_request, reference: bool, limit) -> str:
    """Mine SAMPLE_REQUESTS requests with the form's settings and show the pairs kept, and what the job's mining
    would give at that rate."""
    import time

    from studio import dataset as dataset_io
    from studio import pair_mining, preferences

    settings = pair_mining.MiningSettings(
        samples=_whole(samples), temperature=temperature, max_new_tokens=_whole(max_new_tokens), margin=margin,
        min_stage_gap=_whole(min_stage_gap), pairs_per_request=_whole(pairs_per_request), reference=reference,
        limit=SAMPLE_REQUESTS, batch_size=_whole(samples) * SAMPLE_REQUESTS)
    problems = settings.problems()
    if problems:
        return problems_markdown(ValueError("; ".join(problems)))
    try:
        rows = dataset_io.read_jsonl((dataset or "").strip())
        folder = adapters.folder((adapter or "").strip())
        model_and_tokenizer = models.CACHE.get((model or "").strip() or models.EMBEDDED, adapter=folder)
    except (OSError, ValueError, models.ModelUnavailable) as error:
        return problems_markdown(error)
    started = time.monotonic()
    result = pair_mining.mine(*model_and_tokenizer, rows, settings)
    seconds = time.monotonic() - started
    requests = min(len(rows), _whole(limit) or len(rows))
    rate = len(result.pairs) / max(1, result.requests)
    found = preferences.describe([preferences.Source("mined (sample)", [], len(result.pairs), result.pairs)])
    return (f"**{len(result.pairs)} pairs** from {result.requests} requests x {settings.samples} answers in "
            f"{seconds:.0f} s. At this rate the job's {requests} requests give about {rate * requests:.0f} pairs "
            f"and take about {seconds / max(1, result.requests) * requests / 60:.0f} min to mine here.\n\n{found}")


def build() -> None:
    d = SFT_DEFAULTS
    # Common fields take the SFT wording (GRPO reads max_length as the prompt's); GRPO's own fields their own.
    help_ = {**specs.field_help(specs.GRPOJob), **specs.field_help(specs.SFTJob)}
    dpo_help = specs.field_help(specs.DPOJob)  # its beta and adapter mean other things than GRPO's
    form: dict[str, gr.components.Component] = {}
    gr.Markdown(
        "Fill in a job, **Preview** its memory estimate, command and job.yaml, then **Launch**. The job runs in "
        "processes of its own: it keeps going if you close the page or restart the studio.",
        elem_classes=["im-muted"],
    )
    datasets = dataset_choices()
    from studio import dataset_store

    followed = gr.State(dataset_store.opened())  # the dataset the pickers were set to by the tab, not by hand
    with gr.Group():
        from jobs import recipe as recipes

        first_recipe = recipes.default()  # asks nvidia-smi: once per page build
        gr.Markdown(
            "**Recipes**: SFT on the dataset, then GRPO from its adapter with the IaC validators as rewards "
            "(`recipes/<recipe>-sft.yaml` and `-grpo.yaml`, each setting commented with the figure that chose it). "
            "Or fill in a job of your own below.")
        recipe_choice = gr.Radio([(f"{name}: {what}", name) for name, what in recipes.RECIPES.items()],
                                 value=first_recipe, label="Recipe", elem_id="train-recipe-choice")
        with gr.Row():
            recipe_name = gr.Textbox(label="Recipe run name", placeholder="empty: recipe-<date>-<time>",
                                     elem_id="train-recipe-name", scale=2)
            recipe_model = gr.Dropdown(models.choices(), value=specs.load(recipes.files(first_recipe)[0]).model,
                                       label="Base model", allow_custom_value=True, elem_id="train-recipe-model",
                                       scale=2)
            recipe_dataset = gr.Dropdown(datasets, value=default_dataset(), label="Training rows",
                                         allow_custom_value=True, elem_id="train-recipe-dataset", scale=2)
            recipe_button = gr.Button("Run the recipe", variant="primary", elem_id="train-recipe", scale=1)
        recipe_status = gr.Markdown(elem_id="train-recipe-status")
    recipe_choice.change(model_of_recipe, recipe_choice, recipe_model, api_name=False)
    recipe_button.click(launch_recipe, [recipe_name, recipe_model, recipe_dataset, recipe_choice], recipe_status,
                        api_name="train_recipe")
    form["kind"] = gr.Radio(list(KIND_LABELS), value=next(iter(KIND_LABELS)), label="Job", elem_id="train-kind")
    with gr.Row():
        form["model"] = gr.Dropdown(models.choices(), value=d.model, label="Base model", allow_custom_value=True,
                                    info=help_["model"], elem_id="train-model", scale=3)
        form["output"] = gr.Textbox(label="Run name", placeholder="empty: <kind>-<date>-<time>",
                                    info="A folder under the workspace's runs/", elem_id="train-output", scale=2)
    with gr.Row():
        form["dataset"] = gr.Dropdown(datasets, value=default_dataset(), label="Training rows",
                                      allow_custom_value=True, info=help_["dataset"], elem_id="train-dataset")
        form["eval_dataset"] = gr.Dropdown([("none", ""), *dataset_choices("eval")], value=default_dataset("eval"),
                                           label="Held-out rows",
                                           allow_custom_value=True, info=help_["eval_dataset"],
                                           elem_id="train-eval-dataset")
    rows_md = gr.Markdown(rows_note(default_dataset(), default_dataset("eval")), elem_id="train-rows",
                          elem_classes=["im-muted"])
    with gr.Row():
        # Seed rows, generated rows (a dataset of the Dataset tab's generator, or python -m studio.synth), or both.
        form["mix_dataset"] = gr.Dropdown([("none", ""), *datasets], value=d.mix_dataset, label="Mix in rows from",
                                          allow_custom_value=True, info=help_["mix_dataset"],
                                          elem_id="train-mix-dataset", scale=2)
        form["mix_ratio"] = gr.Slider(0.05, 1, value=d.mix_ratio, step=0.05, label="Share of mixed-in rows",
                                      info=help_["mix_ratio"], elem_id="train-mix-ratio", scale=1)
    with gr.Row():
        form["max_steps"] = gr.Number(d.max_steps, label="Max steps", precision=0,
                                      info=help_["max_steps"], elem_id="train-max-steps")
        form["max_minutes"] = gr.Number(d.max_minutes, label="Max minutes", minimum=0,
                                        info=help_["max_minutes"], elem_id="train-max-minutes")
        form["epochs"] = gr.Number(d.epochs, label="Epochs", info=help_["epochs"], elem_id="train-epochs")
        form["batch_size"] = gr.Number(d.batch_size, label="Batch size", precision=0,
                                       info=help_["batch_size"], elem_id="train-batch-size")
        form["gradient_accumulation"] = gr.Number(d.gradient_accumulation, label="Gradient accumulation",
                                                  precision=0, elem_id="train-accumulation")
    with gr.Row():
        form["learning_rate"] = gr.Number(d.learning_rate, label="Learning rate", elem_id="train-lr")
        form["lr_schedule"] = gr.Dropdown(list(specs.SCHEDULES), value=d.lr_schedule, label="Schedule",
                                          elem_id="train-schedule")
        form["warmup_ratio"] = gr.Number(d.warmup_ratio, label="Warm-up share")
        form["max_length"] = gr.Number(d.max_length, label="Max length (tokens)", precision=0,
                                       info=help_["max_length"], elem_id="train-max-length")
    with gr.Row():
        form["quantization"] = gr.Radio(list(specs.QUANTIZATIONS), value=d.quantization, label="Base weights",
                                        info=QUANTIZATION_INFO, elem_id="train-quantization", scale=3)
        form["double_quantization"] = gr.Checkbox(d.double_quantization, label="Double quantization",
                                                  info=help_["double_quantization"])
        form["gpus"] = gr.Number(d.gpus, label="GPUs", precision=0, info=help_["gpus"],
                                 elem_id="train-gpus")
    with gr.Accordion("LoRA", open=False):
        with gr.Row():
            form["lora_r"] = gr.Number(d.lora.r, label="r", precision=0, elem_id="train-lora-r")
            form["lora_alpha"] = gr.Number(d.lora.alpha, label="alpha")
            form["lora_dropout"] = gr.Number(d.lora.dropout, label="dropout")
        form["lora_targets"] = gr.CheckboxGroup(list(models.LORA_TARGETS), value=list(d.lora.targets),
                                                label="Projections the adapter wraps")
    with gr.Accordion("Logging, checkpoints, seed", open=False):
        with gr.Row():
            form["logging_steps"] = gr.Number(d.logging_steps, label="Log every (steps)", precision=0)
            form["save_steps"] = gr.Number(d.save_steps, label="Checkpoint every (steps)", precision=0, elem_id="train-save-steps")
            form["eval_steps"] = gr.Number(d.eval_steps, label="Evaluate every (steps)", precision=0,
                                           elem_id="train-eval-steps")
            form["save_total_limit"] = gr.Number(d.save_total_limit, label="Checkpoints kept", precision=0)
            form["seed"] = gr.Number(d.seed, label="Seed", precision=0)
            form["gradient_checkpointing"] = gr.Checkbox(d.gradient_checkpointing, label="Gradient checkpointing",
                                                         info=help_["gradient_checkpointing"],
                                                         elem_id="train-checkpointing")
    with gr.Accordion("Speed on a GPU", open=False):
        with gr.Row():
            form["speed"] = gr.Dropdown(list(specs.SPEEDS), value=d.speed, label="Speed", info=help_["speed"],
                                        elem_id="train-speed")
            form["memory_budget_gib"] = gr.Number(d.memory_budget_gib, label="Memory budget (GiB per GPU)",
                                                  minimum=0.5, info=help_["memory_budget_gib"])
    with gr.Group(visible=True) as sft_group:
        gr.Markdown("**SFT**: the loss falls on the answers of the chat-templated rows.")
        with gr.Row():
            form["completion_only_loss"] = gr.Checkbox(True, label="Loss on the answer only",
                                                       info=help_["completion_only_loss"])
            form["packing"] = gr.Checkbox(False, label="Packing", info=help_["packing"])
            form["worked_examples"] = gr.Checkbox(False, label="Worked examples", info=help_["worked_examples"],
                                                  elem_id="train-worked-examples")
            form["example_rerank"] = gr.Number(0, label="Examples by their answer (of the K nearest)", precision=0,
                                               minimum=0, info=help_["example_rerank"], elem_id="train-example-rerank")
            form["examples_dataset"] = gr.Dropdown([("none", ""), *datasets], value="", label="Examples also from",
                                                   allow_custom_value=True, info=help_["examples_dataset"],
                                                   elem_id="train-examples-dataset")
    g = GRPO_DEFAULTS
    with gr.Group(visible=False) as grpo_group:
        gr.Markdown("**GRPO**: answers sampled per request, scored by the validators, compared within their group.")
        with gr.Row():
            form["num_generations"] = gr.Number(g.num_generations, label="Answers per prompt", precision=0, info=help_["num_generations"],
                                                elem_id="train-num-generations")
            form["max_completion_length"] = gr.Number(g.max_completion_length, label="Max answer length", precision=0, elem_id="train-max-completion")
            form["temperature"] = gr.Number(g.temperature, label="Temperature",
                                            info=help_["temperature"])
            form["beta"] = gr.Number(g.beta, label="KL beta", info=help_["beta"])
        form["adapter"] = gr.Dropdown(adapter_choices(), value="", label="Start from adapter",
                                      allow_custom_value=True, info=help_["adapter"], elem_id="train-adapter")
        gr.Markdown("Reward weights (a weight of 0 leaves the component out)")
        with gr.Row():
            for component in _reward_components():
                form[f"weight_{component}"] = gr.Number(g.reward_weights.get(component, 0.0), label=component,
                                                        elem_id=f"train-weight-{component}")
    d_ = DPO_DEFAULTS
    with gr.Group(visible=False) as dpo_group:
        gr.Markdown("**DPO**: pairs of a better and a worse answer to one request. Sources mix: the Compare tab's "
                    "votes, pair files, and pairs mined from the starting model before training (answers to the "
                    "training rows above, ranked by the validators: the chosen one passes more checks).")
        with gr.Row():
            form["dpo_votes"] = gr.Checkbox(d_.votes, label="Train on the Compare tab's votes",
                                            info=dpo_help["votes"], elem_id="train-dpo-votes")
            form["dpo_pairs"] = gr.Dropdown(pair_file_choices(), value=[], multiselect=True,
                                            allow_custom_value=True, label="Pair files", info=dpo_help["pairs"],
                                            elem_id="train-dpo-pairs", scale=2)
        with gr.Row():
            form["mine_samples"] = gr.Number(d_.mine_samples, label="Mined answers per request", precision=0,
                                             minimum=0, info=dpo_help["mine_samples"], elem_id="train-mine-samples")
            form["mine_limit"] = gr.Number(d_.mine_limit, label="Requests to mine (0: all)", precision=0, minimum=0,
                                           elem_id="train-mine-limit")
            form["mine_temperature"] = gr.Number(d_.mine_temperature, label="Mining temperature", minimum=0.05,
                                                 maximum=5)
            form["mine_top_p"] = gr.Number(d_.mine_top_p, label="Mining top-p", minimum=0.01, maximum=1,
                                           info=dpo_help["mine_top_p"])
            form["mine_max_new_tokens"] = gr.Number(d_.mine_max_new_tokens, label="Mined answer length (tokens)",
                                                    precision=0, minimum=8, info=dpo_help["mine_max_new_tokens"],
                                                    elem_id="train-mine-tokens")
        with gr.Row():
            form["mine_margin"] = gr.Number(d_.mine_margin, label="Reward margin", minimum=0,
                                            info=dpo_help["mine_margin"])
            form["mine_min_stage_gap"] = gr.Number(d_.mine_min_stage_gap, label="Extra stages passed", precision=0,
                                                   minimum=0, maximum=4, info=dpo_help["mine_min_stage_gap"])
            form["mine_pairs_per_request"] = gr.Number(d_.mine_pairs_per_request, label="Pairs per request",
                                                       precision=0, minimum=1)
            form["mine_batch_size"] = gr.Number(d_.mine_batch_size, label="Mining batch", precision=0, minimum=1)
            form["mine_reference"] = gr.Checkbox(d_.mine_reference, label="Reference answers as candidates",
                                                 info=dpo_help["mine_reference"])
        with gr.Row():
            form["dpo_beta"] = gr.Number(d_.beta, label="DPO beta", minimum=0.001, info=dpo_help["beta"])
            form["dpo_loss_type"] = gr.Dropdown(list(specs.DPO_LOSSES), value=d_.loss_type, label="DPO loss")
            form["dpo_sft_weight"] = gr.Number(d_.sft_weight, label="SFT loss weight (RPO)", minimum=0,
                                               info=dpo_help["sft_weight"])
        form["dpo_adapter"] = gr.Dropdown(adapter_choices(), value="", label="Start from adapter (and measure "
                                          "against it)", allow_custom_value=True, info=dpo_help["adapter"],
                                          elem_id="train-dpo-adapter")
        with gr.Row():
            count_button = gr.Button("Count the pairs", elem_id="train-dpo-count")
            mine_button = gr.Button(f"Mine a sample ({SAMPLE_REQUESTS} requests; a minute or more on a CPU)",
                                    elem_id="train-dpo-mine")
        pairs_md = gr.Markdown(elem_id="train-dpo-pairs-view")
    with gr.Row():
        preview_button = gr.Button("Preview", elem_id="train-preview")
        launch_button = gr.Button("Launch", variant="primary", elem_id="train-launch")
    refusal = gr.Markdown(elem_id="train-refusal")
    status = gr.Markdown(elem_id="train-status")
    estimate_md = gr.Markdown(elem_id="train-estimate")
    with gr.Row():
        # No line numbers: CodeMirror numbered only the lines of the box's first measured height (36 of ~45).
        command = gr.Code(label="Command", language="shell", interactive=False, elem_id="train-command",
                          show_line_numbers=False, wrap_lines=True)
        job_yaml = gr.Code(label="job.yaml", language="yaml", interactive=False, show_line_numbers=False,
                           elem_id="train-yaml")

    names, inputs = list(form), list(form.values())  # the handlers take the form's values by name
    preview_button.click(lambda *values: preview(dict(zip(names, values))), inputs,
                         [estimate_md, command, job_yaml], api_name="train_preview")
    launch_button.click(lambda *values: launch(dict(zip(names, values))), inputs,
                        [status, form["output"], estimate_md, command, job_yaml], api_name="train_launch").then(
        refresh_adapters, None, [form["adapter"], form["dpo_adapter"]], api_name=False)
    # Every edit is checked: a form that cannot run disables Launch, with the reason under the field at fault.
    # "" rather than None: an update's None means "leave as is", which would leave a fixed reason standing.
    help_shown = {name: getattr(component, "info", None) or "" for name, component in form.items()}

    def check(*values):
        problems, by_field = check_form(dict(zip(names, values)))
        reason = problems_markdown(specs.SpecError(problems), "Launch is off until this is fixed") if problems else ""
        return (gr.update(interactive=not problems), reason,
                *[gr.update(info=f"⚠️ {by_field[name]}" if name in by_field else help_shown[name]) for name in names])

    gr.on([component.change for component in inputs], check, inputs, [launch_button, refusal, *inputs],
          api_name=False, show_progress="hidden", trigger_mode="always_last")
    form["dataset"].change(rows_note, [form["dataset"], form["eval_dataset"]], rows_md, api_name=False,
                           show_progress="hidden")
    form["eval_dataset"].change(rows_note, [form["dataset"], form["eval_dataset"]], rows_md, api_name=False,
                                show_progress="hidden")
    when_opened(refresh_lists, [form["dataset"], form["eval_dataset"], recipe_dataset, followed],
                [form["dataset"], form["eval_dataset"], recipe_dataset, form["mix_dataset"], rows_md, followed],
                follow=True)
    when_opened(refresh_adapters, None, [form["adapter"], form["dpo_adapter"]], follow=True)
    form["kind"].change(switch_kind, form["kind"], [form[name] for name in KIND_SPECIFIC] + [sft_group, grpo_group,
                                                                                            dpo_group],
                        api_name=False)
    count_button.click(count_pairs, [form["dpo_votes"], form["dpo_pairs"]], pairs_md, api_name="train_dpo_pairs")
    mine_button.click(mine_sample, [form[name] for name in (
        "model", "dpo_adapter", "dataset", "mine_samples", "mine_temperature", "mine_max_new_tokens", "mine_margin",
        "mine_min_stage_gap", "mine_pairs_per_request", "mine_reference", "mine_limit")], pairs_md,
        api_name="train_dpo_mine")


def refresh_adapters():
    """Offer the adapters of runs finished since the page loaded (GRPO's and DPO's starting adapter)."""
    choices = adapter_choices()
    return gr.update(choices=choices), gr.update(choices=choices)
