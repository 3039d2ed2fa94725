"""The Train tab: SFT and GRPO forms with the defaults, a memory estimate and the exact command and job.yaml
before launch, and the launch itself (the job is queued and runs in processes of its own).

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

KIND_LABELS = {"SFT (supervised fine-tuning)": "sft", "GRPO (rewards from the IaC validators)": "grpo"}

QUANTIZATION_INFO = (
    "auto = NF4 4-bit with double quantization (QLoRA) where CUDA is present, full precision on the CPU: there "
    "bitsandbytes runs 4-bit but about 50x slower, and at 135M parameters it saves little memory."
)

SFT_DEFAULTS, GRPO_DEFAULTS = specs.SFTJob(output="x"), specs.GRPOJob(output="x")
# Fields whose default differs between the kinds: switching the kind resets them to the new kind's default.
KIND_SPECIFIC = [f.name for f in dataclasses.fields(specs.JobSpec)
                 if getattr(SFT_DEFAULTS, f.name) != getattr(GRPO_DEFAULTS, f.name) and f.name != "output"]


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


def refresh_lists(train_file, eval_file, recipe_file, adapter, followed):
    """The tab opened, or a job ended: every picker lists what exists now, the dataset pickers follow the
    current versions (see `follow_dataset`), and the note says which rows a job will read."""
    from studio import dataset_store

    opened = dataset_store.opened()
    train_choices, eval_choices = dataset_choices(), [("none", ""), *dataset_choices("eval")]
    train_file = follow_dataset(train_file, "train", followed)
    # The held-out rows follow the training rows' dataset when they came from the same one.
    eval_file = follow_dataset(eval_file, "eval", followed) if eval_file else eval_file
    recipe_file = follow_dataset(recipe_file, "train", followed)
    adapters_now = adapter_choices()
    del adapter  # kept as typed: a run's adapter may be named before it exists (the GRPO job waits for it)
    return (gr.update(choices=train_choices, value=train_file), gr.update(choices=eval_choices, value=eval_file),
            gr.update(choices=train_choices, value=recipe_file),
            gr.update(choices=adapters_now),
            rows_note(train_file, eval_file), opened)


def adapter_choices() -> list[str]:
    """Starting adapters for GRPO: none, or a finished SFT run's adapter/ (by run name)."""
    return [""] + [adapter.run for adapter in adapters.find()]


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
        data.update(completion_only_loss=values["completion_only_loss"], packing=values["packing"])
    else:
        data.update({name: values[name] for name in ("num_generations", "max_completion_length", "temperature",
                                                     "beta", "adapter")})
        data["reward_weights"] = {c: values[f"weight_{c}"] for c in _reward_components()}
    for name in ("seed", "max_steps", "batch_size", "gradient_accumulation", "max_length", "logging_steps",
                 "save_steps", "eval_steps", "save_total_limit", "gpus", "num_generations",
                 "max_completion_length"):
        if name in data:
            data[name] = _whole(data[name])
    for name in ("dataset", "eval_dataset", "output", "model", "adapter"):
        if name in data:
            data[name] = (data[name] or "").strip()
    if not data["output"]:
        data.pop("output")
    return specs.from_dict(data)


# The fields a problem can be shown next to; a problem names its field first ("batch_size must be ...").
_FIELD_WORD = re.compile(r"[a-z_]+(?:\.[a-z_]+)?")


def field_of(problem: str, names) -> str | None:
    """The form field a SpecError problem is about (`lora.r ...` is the field lora_r), or None."""
    problem = problem.removeprefix("with an eval_dataset, ")
    for word in _FIELD_WORD.findall(problem)[:3]:
        name = word.replace(".", "_")
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
        for problem in problems:
            name = field_of(problem, form)
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
    return f"### Memory estimate\n{report}", runner.preview_command(spec), specs.dump(spec)


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


def launch_recipe(name: str, model: str, dataset: str):
    """Queue the default recipe (`jobs.recipe.submit`): its SFT job, then its GRPO job, which waits for the SFT run
    to succeed and starts from its adapter."""
    import time

    from jobs import recipe
    from jobs.store import JobNotFound, JobStateError

    name = (name or "").strip() or f"recipe-{time.strftime('%Y%m%d-%H%M%S')}"
    changes = {key: value.strip() for key, value in (("model", model), ("dataset", dataset)) if (value or "").strip()}
    try:
        first, second = recipe.submit(name, **changes)
    except (specs.SpecError, JobStateError, JobNotFound, models.ModelUnavailable, ValueError, OSError) as error:
        return problems_markdown(error)
    return (f"**{first.name}** is {first.state}; **{second.name}** is {second.state} and starts from its adapter "
            "once it succeeded. Watch both in the Jobs tab.")


def switch_kind(kind_label):
    """Reset the fields whose defaults differ between SFT and GRPO, and show the kind's own settings."""
    defaults = SFT_DEFAULTS if KIND_LABELS[kind_label] == "sft" else GRPO_DEFAULTS
    is_sft = defaults.kind == "sft"
    return [gr.update(value=getattr(defaults, name)) for name in KIND_SPECIFIC] + [
        gr.update(visible=is_sft), gr.update(visible=not is_sft)]


def build() -> None:
    d = SFT_DEFAULTS
    # Common fields take the SFT wording (GRPO reads max_length as the prompt's); GRPO's own fields their own.
    help_ = {**specs.field_help(specs.GRPOJob), **specs.field_help(specs.SFTJob)}
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
        gr.Markdown(
            "**Default recipe**: SFT on the dataset, then GRPO from its adapter with the IaC validators as rewards "
            "(`recipes/default-sft.yaml`, `recipes/default-grpo.yaml`; 27 minutes measured on a 2-core CPU with the "
            "embedded model). Or fill in a job of your own below.")
        with gr.Row():
            recipe_name = gr.Textbox(label="Recipe run name", placeholder="empty: recipe-<date>-<time>",
                                     elem_id="train-recipe-name", scale=2)
            recipe_model = gr.Dropdown(models.choices(), value=d.model, label="Base model", allow_custom_value=True,
                                       elem_id="train-recipe-model", scale=2)
            recipe_dataset = gr.Dropdown(datasets, value=default_dataset(), label="Training rows",
                                         allow_custom_value=True, elem_id="train-recipe-dataset", scale=2)
            recipe_button = gr.Button("Run the default recipe", variant="primary", elem_id="train-recipe", scale=1)
        recipe_status = gr.Markdown(elem_id="train-recipe-status")
    recipe_button.click(launch_recipe, [recipe_name, recipe_model, recipe_dataset], recipe_status,
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
        form["max_steps"] = gr.Number(d.max_steps, label="Max steps", precision=0,
                                      info=help_["max_steps"], elem_id="train-max-steps")
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
    with gr.Group(visible=True) as sft_group:
        gr.Markdown("**SFT**: the loss falls on the answers of the chat-templated rows.")
        with gr.Row():
            form["completion_only_loss"] = gr.Checkbox(True, label="Loss on the answer only",
                                                       info=help_["completion_only_loss"])
            form["packing"] = gr.Checkbox(False, label="Packing", info=help_["packing"])
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
        refresh_adapters, None, [form["adapter"]], api_name=False)
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
    when_opened(refresh_lists, [form["dataset"], form["eval_dataset"], recipe_dataset, form["adapter"], followed],
                [form["dataset"], form["eval_dataset"], recipe_dataset, form["adapter"], rows_md, followed],
                follow=True)
    form["kind"].change(switch_kind, form["kind"], [form[name] for name in KIND_SPECIFIC] + [sft_group, grpo_group],
                        api_name=False)


def refresh_adapters():
    """Offer the adapters of runs finished since the page loaded."""
    return gr.update(choices=adapter_choices())
