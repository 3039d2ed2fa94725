"""The Evaluate tab: run a model (base, adapter or merged) over the eval split or an uploaded set as a background
job, then read the rate of each stage for base and fine-tuned side by side, and drill down row by row.

    >>> with gr.Blocks() as demo:
    ...     build()

The results are files (`<run>/eval/summary.json` and `rows.jsonl`, or `workspace/evaluations/<name>/`); this tab
and the Jobs tab only read them, so a reload or a restart loses nothing.
"""

from __future__ import annotations

import dataclasses
import html
import shlex
import shutil
import time
from pathlib import Path

import gradio as gr

from jobs import specs
from studio import compare, dataset, evaluation, models, workspace
from studio.durations import format_duration
from studio.ui.widgets import (GREEDY, GUIDED_INFO, GUIDED_LABEL, NO_TUNED, SAMPLED, code_block_html,
                               evaluation_headline, launched_markdown, loop_note, pick_base_for, problems_markdown,
                               progress_bar, tuned_choices, verdict_html, when_opened)

NO_RESULTS = "No evaluation yet: run one above, or with `python -m jobs eval --help` in a terminal."
UPLOAD = "upload"
REFRESH_S = 2.0
DEFAULTS = specs.EvalJob(output="x")


# -- launching -------------------------------------------------------------------------------------------


def row_sources() -> list[tuple[str, str]]:
    """The eval split of each dataset in the workspace (the seed first), then an uploaded file."""
    from studio import dataset_store

    found = []
    for name in dataset_store.names():
        try:
            found.append((dataset_store.label(name, "eval"), name))
        except (OSError, ValueError, dataset_store.DatasetError):
            continue
    return [*found, ("An uploaded JSONL file", UPLOAD)]


def default_source() -> str:
    """The eval split of the dataset open in the Dataset tab."""
    from studio import dataset_store

    return dataset_store.opened()


def check_upload(upload: str | None, source: str):
    """An uploaded file becomes the rows, checked at once: (rows picker, what the file holds or every bad
    line with its number)."""
    if not upload:
        return gr.update(value=default_source() if source == UPLOAD else source), ""
    try:
        rows = evaluation.load_rows(upload)
    except (dataset.DatasetError, OSError) as error:
        lines = str(error).replace(str(Path(upload).parent) + "/", "")
        return gr.update(value=UPLOAD), f"✗ **{Path(upload).name} cannot be evaluated**: fix these lines and upload " \
                                         f"it again.\n\n{_as_list(lines)}"
    kinds = ", ".join(f"{sum(1 for row in rows if row.kind == kind)} {kind}" for kind in evaluation.KINDS)
    return gr.update(value=UPLOAD), f"✓ **{Path(upload).name}**: {len(rows)} rows ({kinds}) to evaluate on."


def _as_list(message: str) -> str:
    lines = message.splitlines()
    return "\n".join(lines[1:]) if len(lines) > 1 else f"- {message}"


def rows_summary(source: str, upload: str | None, limit) -> str:
    """Which rows a launch evaluates, and how many: 'the first 5 of the 121 rows of seed's eval split (...)'."""
    from studio import dataset_store

    if source == UPLOAD:
        if not upload:
            return "no rows yet: upload a JSONL file"
        count = len(evaluation.load_rows(upload))
        what = f"the uploaded file {Path(upload).name}"
    else:
        version = dataset_store.current_version(source)
        count = version.counts.get("eval", 0)
        what = f"the eval split of {source}, version {version.id}"
    limit = int(limit or 0)
    if limit and limit < count:
        return f"the first {limit} of the {count} rows of {what}"
    return f"all {count} rows of {what}"


def refresh_lists(tuned: str | None, source: str | None, upload: str | None):
    """The tab opened, or a job ended: the fine-tuned models and the datasets as they are now; the rows follow
    the dataset open in the Dataset tab unless a file was uploaded."""
    sources = row_sources()
    if source != UPLOAD or not upload:
        source = default_source()
    return gr.update(choices=tuned_choices()), gr.update(choices=sources, value=source)


def rows_file(source: str, upload: str | None) -> str:
    """The JSONL file an eval job reads: a dataset's current eval split, or the upload copied into the workspace
    (the browser's temporary copy may be gone by the time the job runs)."""
    from studio import dataset_store

    if source != UPLOAD:
        return str(dataset_store.dataset_path(source, "eval"))
    if not upload:
        raise ValueError("Choose a JSONL file to upload, or the eval split of a dataset.")
    evaluation.load_rows(upload)  # refuse a bad file now, with its line number, not in the job
    folder = workspace.home() / "evaluations" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(upload).name}"
    if target.suffix != ".jsonl":
        target = target.with_suffix(".jsonl")
    shutil.copyfile(upload, target)
    return str(target)


def spec_from_form(base, tuned, with_base, dataset_file, decoding, temperature, samples, max_tokens, batch_size,
                   limit, threads, judge_on, judge_url, judge_model, name, pass_at_k=0,
                   guided=False, engine="auto") -> specs.EvalJob:
    """The eval job the form describes; raises SpecError with every problem."""
    chosen = compare.fine_tuned(tuned)
    sampled = decoding == SAMPLED
    values = dict(
        model=(base or models.EMBEDDED).strip(),
        adapter=str(chosen.path) if chosen and not chosen.merged else "",
        merged=str(chosen.path) if chosen and chosen.merged else "",
        with_base=bool(with_base), dataset=dataset_file, limit=int(limit or 0),
        samples=int(samples or 1) if sampled else 1,
        temperature=max(0.05, float(temperature)) if sampled else 0.0,
        max_new_tokens=int(max_tokens), batch_size=int(batch_size), threads=int(threads or 0),
        judge_url=(judge_url or "").strip() if judge_on else "", judge_model=(judge_model or "default").strip(),
        output=(name or "").strip(), pass_at_k=int(pass_at_k or 0), guided=bool(guided), engine=engine or "auto",
    )
    return specs.EvalJob(**values)


def command_line(spec: specs.EvalJob) -> str:
    """The `python -m jobs eval` line that launches the same job from a shell: the options that differ from the
    defaults."""
    argv = ["python", "-m", "jobs", "eval"]
    for item in dataclasses.fields(spec):
        value, default = getattr(spec, item.name), getattr(DEFAULTS, item.name)
        if item.name == "output" or value != default:
            flag = "--" + item.name.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + flag[2:])
            else:
                argv += [flag, str(value)]
    return shlex.join(argv) + " --submit"


def launch(source, upload, *form):
    """Queue the evaluation; it runs in a process of its own and goes on if the page closes."""
    from jobs import runner
    from jobs.store import JobStateError

    try:
        which = rows_summary(source, upload, form[8])
        spec = spec_from_form(*form[:3], rows_file(source, upload), *form[3:])
        job = runner.submit(spec)
    except (specs.SpecError, JobStateError, models.ModelUnavailable, ValueError, OSError) as error:
        return problems_markdown(error), gr.skip(), None
    return (launched_markdown(job, f"It evaluates {which}; it goes on if you close this page, and the Jobs tab "
                                   "shows it too."),
            command_line(spec), job.name)


def preview(source, upload, *form) -> str:
    try:
        dataset_file = rows_file(source, upload) if source != UPLOAD else (upload or "uploaded.jsonl")
        return command_line(spec_from_form(*form[:3], dataset_file, *form[3:]))
    except (specs.SpecError, models.ModelUnavailable, ValueError, OSError) as error:
        return f"# {error}"


def watch(name: str | None, shown: str | None):
    """The launched job's progress bar, and, once it succeeded, its results chosen below (once)."""
    from jobs import progress
    from jobs.run_folder import RunFolder
    from jobs.store import JobNotFound, JobStore

    unchanged = (gr.skip(),) * 6  # the results dropdown and the five views of show_results
    if not name:
        return gr.skip(), *unchanged, shown
    try:
        job = JobStore().get(name)
    except JobNotFound:
        return "", *unchanged, shown
    run = RunFolder.named(name)
    rows = run.metrics()
    last = rows[-1] if rows else {}
    done = 1.0 if job.state == "succeeded" else progress.fraction(rows)
    text = f"<b>{html.escape(name)}</b>: {job.state}"
    if last:
        text += f" · {last.get('model', '')} · {last['step']}/{last['total_steps']} answers"
        if job.state == "running" and last.get("eta_s") is not None:
            text += f" · ETA {format_duration(last['eta_s'])}"
    if job.state == "failed" and job.message:
        text += f"<pre>{html.escape(job.message[-1500:])}</pre>"
    bar = progress_bar(done)
    summary = run.summary()
    if job.state == "succeeded" and summary and summary.get("results") and shown != name:
        # Shown here as well as chosen: a run evaluated before keeps its folder, so the choice alone would not
        # change and the old figures would stay.
        folder = summary["results"]
        return f"{text}{bar}", gr.update(choices=results_choices(), value=folder), *show_results(folder), name
    return f"{text}{bar}", *unchanged, shown


# -- results ---------------------------------------------------------------------------------------------


def results_label(folder: Path) -> str:
    """A results folder named for a person: `sft-1` for runs/sft-1/eval, `evaluations/base-only` otherwise."""
    home = workspace.home()
    try:
        relative = folder.resolve().relative_to(home.resolve())
    except ValueError:
        return str(folder)
    parts = relative.parts
    if parts[0] == "runs" and parts[-1] == "eval":
        return parts[1]
    return str(relative)


def results_choices() -> list[tuple[str, str]]:
    return [(results_label(folder), str(folder)) for folder in evaluation.find_results()]


def show_results(folder: str | None):
    """(headline, table, chart, drill-down choices, records) for the results in `folder`."""
    results = evaluation.read(folder) if folder else None
    if results is None:
        return NO_RESULTS, None, None, gr.update(choices=[], value=None), []
    choices = _row_choices(results.rows, "all", _labels(results.summary))
    return (evaluation_headline(results.summary), percent_table(results.summary), evaluation.figure(results.summary),
            gr.update(choices=choices, value=choices[0][1] if choices else None), results.rows)


def percent_table(summary: dict):
    """`evaluation.table` with rates as percentages and the change signed, for reading."""
    frame = evaluation.table(summary)
    for column in frame.columns[2:]:
        sign = "+" if column == "change" else ""
        frame[column] = [f"{value:{sign}.1%}" if value is not None else "" for value in frame[column]]
    return frame


def _labels(summary: dict) -> tuple[str, str]:
    labels = [entry["label"] for entry in summary["models"]]
    return labels[0], labels[1] if len(labels) > 1 else ""


def _mark(passes: bool | None) -> str:
    return "–" if passes is None else ("✓" if passes else "✗")


def _row_choices(records: list[dict], which: str, labels: tuple[str, str]) -> list[tuple[str, str]]:
    choices = []
    for record in evaluation.drill_down(records, which, labels):
        marks = " ".join(f"{label} {_mark(evaluation.row_passes(record, label))}" for label in labels if label)
        choices.append((f"{record['id'] or '?'} · {record['kind']} · {marks} · {record['instruction'][:70]}",
                        record["id"] or record["instruction"]))
    return choices


def _filter(which: str, records: list[dict], folder: str | None):
    results = evaluation.read(folder) if folder else None
    labels = _labels(results.summary) if results else ("base", "fine-tuned")
    choices = _row_choices(records or [], which, labels)
    return gr.update(choices=choices, value=choices[0][1] if choices else None)


def answer_html(record: dict, label: str) -> str:
    """One model's answer(s) to a row: verdict badges, reasons and the code it wrote, highlighted."""
    answers = record.get("answers", {}).get(label)
    if not answers:
        return ""
    parts = []
    for number, answer in enumerate(answers, start=1):
        heading = f"<h4>{html.escape(label)}" + (f", answer {number} of {len(answers)}" if len(answers) > 1 else "")
        judged = answer.get("judge")
        if judged:
            heading += f" · judge {judged['score'] if judged['score'] is not None else '?'}/5"
        body = code_block_html(answer, record["kind"]) if answer.get("code", "").strip() else (
            f"<pre class='im-raw'>{html.escape(answer['text'][:4000]) if answer['text'].strip() else '(empty answer)'}"
            "</pre>")
        reason = f"<p class='im-muted'>judge: {html.escape(judged['reason'])}</p>" if judged else ""
        parts.append(f"{heading}</h4>{verdict_html(answer, note=loop_note(answer))}{reason}{body}")
    return "".join(parts)


def show_row(row_id: str | None, records: list[dict], folder: str | None):
    record = next((r for r in records or [] if (r["id"] or r["instruction"]) == row_id), None)
    if record is None:
        return "", "", ""
    results = evaluation.read(folder) if folder else None
    left, right = _labels(results.summary) if results else ("base", "fine-tuned")
    request = f"**{html.escape(record['instruction'])}**"
    if record.get("input"):
        request += f"\n\n```\n{record['input']}\n```"
    return request, answer_html(record, left), answer_html(record, right) if right else ""


def _list_results(current: str | None = None):
    choices = results_choices()
    values = [value for _, value in choices]
    return gr.update(choices=choices, value=current if current in values else (values[0] if values else None))


# -- the tab ---------------------------------------------------------------------------------------------


def build() -> None:
    gr.Markdown("## Run an evaluation", elem_classes=["im-section"])
    with gr.Row():
        base = gr.Dropdown(models.choices(), value=models.EMBEDDED, label="Base model", allow_custom_value=True,
                           elem_id="eval-model", scale=3)
        tuned = gr.Dropdown(tuned_choices(), value=NO_TUNED,
                            label="Fine-tuned", allow_custom_value=True, elem_id="eval-tuned", scale=3,
                            info="A run's adapter (the base's answers come from the same weights, adapter off), or a "
                                 "merged export's folder.")
        with_base = gr.Checkbox(True, label="Evaluate the base too", elem_id="eval-with-base", scale=1)
    with gr.Row():
        sources = row_sources()
        source = gr.Dropdown(sources, value=default_source(), label="Rows", elem_id="eval-source", scale=2,
                             info="The eval split of a dataset (the one open in the Dataset tab first), or a file "
                                  "uploaded here.")
        upload = gr.File(label="Upload rows (JSONL: instruction, kind, intent; output optional)",
                         file_types=[".jsonl"], type="filepath", elem_id="eval-upload", scale=2)
        limit = gr.Number(0, precision=0, label="First N rows only (0: all)", elem_id="eval-limit", scale=1)
    upload_status = gr.Markdown(elem_id="eval-upload-status")
    with gr.Accordion("Generation", open=False):
        with gr.Row():
            decoding = gr.Radio([GREEDY, SAMPLED], value=GREEDY, label="Decoding", elem_id="eval-decoding")
            temperature = gr.Slider(0.05, 1.5, value=0.8, step=0.05, label="Temperature (sampled)",
                                    elem_id="eval-temperature")
            samples = gr.Number(1, precision=0, minimum=1, label="Answers per row (sampled: pass@k)",
                                elem_id="eval-samples")
            pass_at_k = gr.Number(DEFAULTS.pass_at_k, precision=0, minimum=0, maximum=64,
                                  label=f"pass@k beside greedy: k samples at {DEFAULTS.pass_at_k_temperature} (0: off)",
                                  elem_id="eval-pass-at-k", info=specs.field_help(specs.EvalJob)["pass_at_k"])
        with gr.Row():
            max_tokens = gr.Number(DEFAULTS.max_new_tokens, precision=0, label="Max new tokens",
                                   elem_id="eval-max-tokens")
            batch_size = gr.Number(DEFAULTS.batch_size, precision=0, label="Batch size", elem_id="eval-batch",
                                   info="Answers decoding together: on a 2-core CPU llama.cpp ran 1.4x faster with "
                                        "32 than 16 (bench/eval_engine.py).")
            threads = gr.Number(0, precision=0, label="CPU threads (0: one per core)", elem_id="eval-threads")
            engine = gr.Dropdown(list(specs.EVAL_ENGINES), value=DEFAULTS.engine, label="Engine",
                                 info=specs.field_help(specs.EvalJob)["engine"], elem_id="eval-engine")
        guided = gr.Checkbox(False, label=GUIDED_LABEL, info=GUIDED_INFO, elem_id="eval-guided")
    with gr.Accordion("LLM judge (optional, off unless asked)", open=False):
        with gr.Row():
            judge_on = gr.Checkbox(False, label="Score every answer with a judge", elem_id="eval-judge-on")
            judge_url = gr.Textbox("http://127.0.0.1:8080", label="Server URL (OpenAI-compatible)",
                                   elem_id="eval-judge-url")
            judge_model = gr.Textbox("default", label="Model name", elem_id="eval-judge-model")
    with gr.Row():
        name = gr.Textbox(label="Job name (optional)", placeholder="eval-<date>-<time>", elem_id="eval-name",
                          scale=2)
        run_button = gr.Button("Run evaluation", variant="primary", elem_id="eval-run", scale=1)
    command = gr.Code(label="The same from a shell", language="shell", interactive=False, elem_id="eval-command")
    launch_status = gr.Markdown(elem_id="eval-launch-status")
    job_progress = gr.HTML(elem_id="eval-progress")
    launched, shown_job = gr.State(None), gr.State(None)
    timer = gr.Timer(REFRESH_S)

    gr.Markdown("## Results", elem_classes=["im-section"])
    with gr.Row():
        # Filled when the page loads, so that a reload lists what finished since the studio started.
        folder = gr.Dropdown([], value=None, label="Evaluation",
                             info="A run's results (runs/<run>/eval) or an evaluation of its own (evaluations/).",
                             allow_custom_value=True, elem_id="eval-results", scale=4)
        refresh = gr.Button("↻", elem_id="eval-results-refresh", scale=0, min_width=60)
    headline = gr.Markdown(NO_RESULTS, elem_id="eval-summary")
    table = gr.Dataframe(headers=["kind", "stage", "base", "fine-tuned", "change"], label="Rate of each stage",
                         elem_id="eval-table", interactive=False, wrap=True)
    chart = gr.Plot(show_label=False, elem_id="eval-chart")
    records = gr.State([])
    gr.Markdown("### Row by row")
    with gr.Row():
        which = gr.Radio([(text, key) for key, text in evaluation.FILTERS.items()], value="all", label="Show",
                         elem_id="eval-filter")
        row = gr.Dropdown([], label="Row", elem_id="eval-row", scale=3)
    request = gr.Markdown(elem_id="eval-request")
    with gr.Row(equal_height=False):
        left = gr.HTML(elem_id="eval-row-base")
        right = gr.HTML(elem_id="eval-row-tuned")

    shown = [headline, table, chart, row, records]
    form = [base, tuned, with_base, decoding, temperature, samples, max_tokens, batch_size, limit, threads, judge_on,
            judge_url, judge_model, name, pass_at_k, guided, engine]
    run_button.click(launch, [source, upload, *form], [launch_status, command, launched], api_name="evaluate")
    for component in (source, *form):
        component.change(preview, [source, upload, *form], [command], api_name=False, show_progress="hidden")
    tuned.change(pick_base_for, [tuned, base], [base], api_name=False)
    upload.upload(check_upload, [upload, source], [source, upload_status], api_name=False)
    upload.clear(check_upload, [upload, source], [source, upload_status], api_name=False)
    when_opened(refresh_lists, [tuned, source, upload], [tuned, source], follow=True)
    timer.tick(watch, [launched, shown_job], [job_progress, folder, *shown, shown_job], api_name=False,
               show_progress="hidden")
    folder.change(show_results, [folder], shown, api_name="results")
    gr.on(None, _list_results, None, [folder], api_name=False)  # on page load
    refresh.click(_list_results, [folder], [folder], api_name=False)
    which.change(_filter, [which, records, folder], [row], api_name=False)
    row.change(show_row, [row, records, folder], [request, left, right], api_name=False)
