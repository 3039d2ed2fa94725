"""The Evaluate tab: run a model (base, adapter or merged) over the eval split or an uploaded set as a background
job, then read the rate of each stage for base and fine-tuned side by side, and drill down row by row.

    >>> with gr.Blocks() as demo:
    ...     build()

The results are files (`<run>/eval/summary.json` and `rows.jsonl`, or `workspace/evaluations/<name>/`); this tab
and the Jobs tab only read them, so a reload or a restart loses nothing.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from studio import evaluation, workspace
from studio.ui.compare import code_block_html, verdict_html

NO_RESULTS = "No evaluation yet: run one above, or with `python -m jobs eval --help` in a terminal."


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


def summary_markdown(summary: dict) -> str:
    """The headline: what was evaluated, on what, how, and pass@k when there are samples."""
    settings = summary.get("settings", {})
    decoding = (f"sampled at temperature {settings['temperature']}" if settings.get("temperature") else "greedy")
    lines = [
        f"**{summary['rows']} rows** of `{summary.get('split', '?')}`"
        + (f" ({', '.join(f'{n} {k}' for k, n in summary.get('kinds', {}).items() if n)})" if summary.get("kinds")
           else "")
        + f", {summary.get('samples', 1)} answer(s) per row, {decoding}"
        + (f", at most {settings['max_new_tokens']} new tokens" if settings.get("max_new_tokens") else "")
        + (f"; {evaluation._duration(summary['seconds'])} in all." if summary.get("seconds") else "."),
    ]
    for entry in summary["models"]:
        what = f"`{entry['model']}`" + (f" + adapter `{entry['adapter']}`" if entry.get("adapter") else "")
        figures = [f"pass **{entry['rates']['pass']:.1%}**"]
        if entry.get("pass_at_k"):
            figures.append(", ".join(f"pass@{k} {v:.1%}" for k, v in entry["pass_at_k"].items()))
        if entry.get("judge"):
            figures.append(f"judge {entry['judge']['mean_score']:.2f}/5 over {entry['judge']['answers']} answers")
        if entry.get("seconds") and entry.get("new_tokens"):
            figures.append(f"{entry['new_tokens'] / entry['seconds']:.1f} new tokens/s")
        lines.append(f"- **{entry['label']}**: {what}: {'; '.join(figures)}")
    lines.append("\n*pass* = code found, parses, schema and intent; best practice is advice, reported apart.")
    return "\n".join(lines)


def show_results(folder: str | None):
    """(headline, table, chart, drill-down choices, records) for the results in `folder`."""
    results = evaluation.read(folder) if folder else None
    if results is None:
        return NO_RESULTS, None, None, gr.update(choices=[], value=None), []
    choices = _row_choices(results.rows, "all", _labels(results.summary))
    return (summary_markdown(results.summary), percent_table(results.summary), evaluation.figure(results.summary),
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
    from studio.iac import extract_code

    answers = record.get("answers", {}).get(label)
    if not answers:
        return ""
    parts = []
    for number, answer in enumerate(answers, start=1):
        heading = f"<h4>{html.escape(label)}" + (f", answer {number} of {len(answers)}" if len(answers) > 1 else "")
        judged = answer.get("judge")
        if judged:
            heading += f" · judge {judged['score'] if judged['score'] is not None else '?'}/5"
        code = extract_code(answer["text"], record["kind"]).code
        body = code_block_html({"code": code, "language": answer.get("language")}, record["kind"]) if code else (
            f"<pre class='im-raw'>{html.escape(answer['text'][:4000]) if answer['text'].strip() else '(empty answer)'}"
            "</pre>")
        reason = f"<p class='im-muted'>judge: {html.escape(judged['reason'])}</p>" if judged else ""
        parts.append(f"{heading}</h4>{verdict_html(answer)}{reason}{body}")
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
    gr.Markdown("## Results", elem_classes=["im-section"])
    with gr.Row():
        # Filled when the page loads, so that a reload lists what finished since the studio started.
        folder = gr.Dropdown([], value=None, label="Evaluation",
                             info="A run's results (runs/<run>/eval) or an evaluation of its own (evaluations/).",
                             allow_custom_value=True, elem_id="eval-results", scale=4)
        refresh = gr.Button("↻", elem_id="eval-results-refresh", scale=0, min_width=60)
    headline = gr.Markdown(NO_RESULTS, elem_id="eval-summary")
    table = gr.Dataframe(label="Rate of each stage", elem_id="eval-table", interactive=False, wrap=True)
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
    folder.change(show_results, [folder], shown, api_name="results")
    gr.on(None, _list_results, None, [folder], api_name=False)  # on page load
    refresh.click(_list_results, [folder], [folder], api_name=False)
    which.change(_filter, [which, records, folder], [row], api_name=False)
    row.change(show_row, [row, records, folder], [request, left, right], api_name=False)
