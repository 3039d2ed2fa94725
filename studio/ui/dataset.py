"""The Dataset tab: browse, edit and check the rows, see them as the model does, import, export, restore.

    >>> with gr.Blocks() as demo:
    ...     build()

Every change is saved at once as a new version of the dataset (`studio.dataset_store`); the Versions panel
restores any earlier one. Verdicts come from the validators (`studio.dataset.check_row`), cached by content,
so only an edited row is checked again.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from studio import access, dataset, dataset_store, dataset_tokens, models
from studio.dataset import DatasetError, Row
from studio.highlight import code_html
from studio.ui import dataset_sources
from studio.ui.widgets import verdict_html, verdict_reasons, when_opened

PAGE_SIZE = 25
ALL = "all"
COLUMNS = ["id", "split", "kind", "tags", "instruction", "verdict"]
EXPORT_FORMATS = {
    "JSONL (.jsonl)": "jsonl",
    "JSON (.json)": "json",
    "CSV (.csv)": "csv",
    "Hugging Face datasets folder (.zip)": "zip",
}
NEW_OUTPUT = {"terraform": "```hcl\n\n```", "kubernetes": "```yaml\n\n```"}
PREVIEW_ROWS = 10
EDITOR_OUTPUTS = 10  # the editor's fields, the output view and the verdict (what `row_fields` returns)


# -- what the table and the summary show -------------------------------------------------------------------


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verdict_cell(row: Row) -> str:
    report = dataset.check_row(row)
    if report.ok:
        return "✓ pass"
    reasons = verdict_reasons(report.to_dict())
    return "✗ " + _short(reasons[0] if reasons else report.summary(), 90)


def table_page(name: str, search: str, kind: str, tag: str, verdict: str, split: str, page: int):
    """The rows of one page of the table, the page number shown (clamped) and the pager's label."""
    snapshot = dataset_store.load(name)
    found = snapshot.search(search, kind, tag, verdict, split)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(1, int(page or 1)), pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    values = [
        [row.id, row_split, row.kind, ", ".join(row.tags), _short(row.instruction, 110), verdict_cell(row)]
        for row, row_split in shown
    ]
    total = len(snapshot.rows())
    matching = f"{len(found)} of {total} rows match" if len(found) != total else f"{total} rows"
    label = f"Page **{page}** of {pages} · {matching}"
    return values, page, label


def summary_markdown(name: str) -> str:
    snapshot = dataset_store.load(name)
    counts = snapshot.counts()
    rows = [row for row, _ in snapshot.rows()]
    kinds = {kind: sum(1 for row in rows if row.kind == kind) for kind in ("terraform", "kubernetes")}
    known = [dataset.known_verdict(row) for row in rows]
    if all(known):
        passed = sum(1 for verdict in known if verdict.ok)
        verdicts = f"✓ {passed} pass · ✗ {len(rows) - passed} fail"
    else:
        verdicts = f"checking verdicts… ({sum(1 for v in known if v)} of {len(rows)})"
    version = snapshot.version
    return (
        f"**{name}** · {len(rows)} rows: {counts['train']} train, {counts['eval']} eval (held out) · "
        f"{kinds['terraform']} Terraform, {kinds['kubernetes']} Kubernetes · {verdicts}  \n"
        f"<span class='im-muted'>version {version.id}, saved {version.saved_at}: {html.escape(version.note)}</span>"
    )


def versions_table(name: str) -> list[list]:
    return [[v.id, v.saved_at, v.rows, v.counts.get("train", 0), v.counts.get("eval", 0), v.note]
            for v in dataset_store.versions(name)]


FENCED = re.compile(r"\A\s*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n(.*?)\n?[ \t]*\1[ \t]*\Z", re.DOTALL)


def output_html(output: str, kind: str) -> str:
    """The output's code highlighted; a single fenced block is shown without its fences, under its tag."""
    match = FENCED.match(output or "")
    if not match:
        return code_html(output or "", kind)
    tag = match.group(2) or "no language tag"
    return f"<div class='im-muted'>```{html.escape(tag)}</div>{code_html(match.group(3), kind)}"


def row_verdict_html(row: Row | None, error: str = "", unsaved: bool = False) -> str:
    """The verdict of the row in the editor; `error` when the editor does not hold a valid row."""
    if error:
        return f"<div class='im-verdict im-fail'>✗ <b>not a valid row</b>: {html.escape(error)}</div>"
    if row is None:
        return ""
    return verdict_html(dataset.check_row(row).to_dict(), labels=("pass", "fail"),
                        note="(edited, not saved yet)" if unsaved else "")


def row_from_editor(row_id: str, kind: str, tags: str, instruction: str, input_text: str, output: str,
                    intent: str) -> Row:
    """The row the editor holds, checked as a file's row is; DatasetError names the field at fault."""
    data = {
        "id": row_id or "",
        "instruction": instruction or "",
        "input": input_text or "",
        "output": output or "",
        "kind": kind or "",
        "intent": (intent or "").strip() or {},
        "tags": [tag.strip() for tag in (tags or "").split(",") if tag.strip()],
    }
    return Row.from_dict(data, "this row")


# -- event handlers: each returns what its outputs show, in their order ----------------------------------------


def dataset_view(name, search, kind, tag, verdict, split, page):
    """Everything that depends on which dataset and version is current: the chooser, the summary, the tag
    filter, the versions, and the table (`table_page`'s three values)."""
    names = dataset_store.names()
    if name not in names:
        name = dataset_store.SEED
    if access.current().is_owner:  # the Train and Evaluate tabs default to the dataset an owner opened here
        dataset_store.remember_opened(name)
    snapshot = dataset_store.load(name)
    tags = [ALL, *snapshot.tags()]
    values, page, label = table_page(name, search, kind, tag if tag in tags else ALL, verdict, split, page)
    version_ids = [(f"{v.id} · {v.note}", v.id) for v in dataset_store.versions(name)]
    return (
        gr.update(choices=names, value=name),
        summary_markdown(name),
        gr.update(choices=tags, value=tag if tag in tags else ALL),
        versions_table(name),
        gr.update(choices=version_ids, value=None),
        values, page, label,
    )


def dataset_names():
    """The datasets as they are now (another browser tab may have imported one)."""
    return gr.update(choices=dataset_store.names())


def seed_view():
    """The page as it opens: the dataset open last (the seed at first), unfiltered, on its first page."""
    return dataset_view(dataset_store.opened(), "", ALL, ALL, ALL, ALL, 1)


def page_of_row(name, search, kind, tag, verdict, split, row_id):
    """The table turned to the page holding row `row_id` (a new row lands last), under the filters shown."""
    found = dataset_store.load(name).search(search, kind, tag, verdict, split)
    position = next((number for number, (row, _) in enumerate(found) if row.id == row_id), None)
    page = 1 if position is None else position // PAGE_SIZE + 1
    return table_page(name, search, kind, tag, verdict, split, page)


def first_view(name, search, kind, tag, verdict, split):
    return dataset_view(name, search, kind, tag, verdict, split, 1)


def first_page(name, search, kind, tag, verdict, split):
    return table_page(name, search, kind, tag, verdict, split, 1)


def previous_page(name, search, kind, tag, verdict, split, page):
    return table_page(name, search, kind, tag, verdict, split, page - 1)


def next_page(name, search, kind, tag, verdict, split, page):
    return table_page(name, search, kind, tag, verdict, split, page + 1)


def check_all(name, progress=gr.Progress()):
    """Run the validators over every row not checked yet, then show the counts."""
    rows = [row for row, _ in dataset_store.load(name).rows()]
    todo = [row for row in rows if dataset.known_verdict(row) is None]
    for number, row in enumerate(todo):
        if number % 50 == 0:
            progress(number / len(todo), desc=f"Checking {len(todo)} rows")
        dataset.check_row(row)
    return summary_markdown(name)


def row_fields(name: str, row_id: str) -> tuple:
    """The editor's fields for a saved row, then its output highlighted and its verdict."""
    row, split = dataset_store.load(name).find(row_id)
    return (row.id, split, row.kind, ", ".join(row.tags), row.instruction, row.input, row.output,
            json.dumps(row.intent, indent=1, ensure_ascii=False) if row.intent else "",
            output_html(row.output, row.kind), row_verdict_html(row))


def pick_row(name, evt: gr.SelectData):
    """A row clicked in the table, into the editor."""
    row_id = (evt.row_value or [None])[0]
    if not row_id:
        return [gr.update()] * (EDITOR_OUTPUTS + 1)
    return (*row_fields(name, row_id), "")


def preview_row(name, split, *values):
    """The output highlighted and the verdict as it would be saved, while the row is being edited."""
    kind, output = values[1], values[5]
    try:
        row = row_from_editor(*values)
    except DatasetError as error:
        return output_html(output or "", kind), row_verdict_html(None, error=str(error))
    try:
        saved = dataset_store.load(name).find(row.id) if row.id else None
    except DatasetError:  # deleted meanwhile: saving adds it back
        saved = None
    return output_html(row.output, row.kind), row_verdict_html(row, unsaved=saved != (row, split))


def save_edited_row(name, split, *values):
    """Save the editor's row as a new version: (row id, output view, verdict, status)."""
    try:
        row = row_from_editor(*values)
        version, saved = dataset_store.save_row(name, row, split, replacing=values[0] or None)
    except DatasetError as error:
        return gr.update(), gr.update(), gr.update(), f"✗ Not saved: {error}"
    badge = "✓ passes" if dataset.check_row(saved).ok else "✗ fails"
    return (saved.id, output_html(saved.output, saved.kind), row_verdict_html(saved),
            f"Saved **{saved.id}** ({badge} the validators) as version `{version.id}` ({version.rows} rows)."
            + long_row_warning(saved))


# Characters per token of the embedded tokenizer on the seed rows is about 3.5; below 3 a row is surely long.
CHARS_PER_TOKEN = 3


def long_row_warning(row: Row) -> str:
    """A word when a row is so long that training surely cuts it (the default max_length), else ''."""
    characters = len(row.instruction) + len(row.input) + len(row.output)
    limit = dataset_tokens.DEFAULT_MAX_LENGTH
    if characters <= CHARS_PER_TOKEN * limit:
        return ""
    return (f"  \n⚠️ This row has {characters:,} characters, far over the {limit:,} tokens a training job keeps "
            "by default (max_length): the end of its answer would be cut off and never learned. "
            "*As the model sees it* below shows where the cut falls.")


def save_row_on_version(name, split, base_version, *values):
    """`save_edited_row`, refused (with both edits shown) when the row changed since version `base_version`, the
    one the editor loaded it from; returns the version saved as the editor's new base."""
    try:
        row = row_from_editor(*values)
        version, saved = dataset_store.save_row(name, row, split, replacing=values[0] or None,
                                                base_version=base_version or None)
    except DatasetError as error:
        return gr.update(), gr.update(), gr.update(), f"✗ Not saved: {error}", gr.update()
    badge = "✓ passes" if dataset.check_row(saved).ok else "✗ fails"
    return (saved.id, output_html(saved.output, saved.kind), row_verdict_html(saved),
            f"Saved **{saved.id}** ({badge} the validators) as version `{version.id}` ({version.rows} rows)."
            + long_row_warning(saved), version.id)


def current_version_id(name) -> str:
    """The version a row just loaded into the editor comes from: its save is checked against it."""
    return dataset_store.current_version(name).id


def new_row(kind):
    return empty_editor(kind, "New row: write it, then **Save row** (it gets an id then).")


def clear_editor():
    return empty_editor("terraform", "")


def duplicate_row(name, row_id):
    if not row_id:
        return [gr.update()] * EDITOR_OUTPUTS + ["Pick a row in the table first."]
    try:
        version, copy = dataset_store.duplicate_row(name, row_id)
    except DatasetError as error:
        return [gr.update()] * EDITOR_OUTPUTS + [f"✗ Not duplicated: {error}"]
    return (*row_fields(name, copy.id), f"Duplicated {row_id} as **{copy.id}** (version `{version.id}`).")


def delete_row(name, row_id):
    if not row_id:
        return [gr.update()] * EDITOR_OUTPUTS + ["Pick a row in the table first."]
    previous = dataset_store.current_version(name)
    try:
        version = dataset_store.delete_row(name, row_id)
    except DatasetError as error:  # deleted meanwhile, from another browser tab
        return [gr.update()] * EDITOR_OUTPUTS + [f"✗ Not deleted: {error}"]
    return empty_editor("terraform", f"Deleted **{row_id}** (version `{version.id}`). To undo, restore "
                                     f"version `{previous.id}` under Versions.")


def _tokenizer(model_name, progress):
    try:
        return dataset_tokens.tokenizer_for(model_name, lambda f, m: progress(f, desc=m))
    except (models.ModelUnavailable, OSError, ValueError) as error:
        raise gr.Error(str(error), duration=None) from error


def show_tokens(model_name, max_length, *values, progress=gr.Progress()):
    """The row in the editor as the model sees it (`tokens_html`)."""
    try:
        row = row_from_editor(*values)
    except DatasetError as error:
        return f"<p>✗ {html.escape(str(error))}</p>"
    seen = dataset_tokens.render(row, _tokenizer(model_name, progress), int(max_length or 0) or None)
    return tokens_html(seen)


def measure_lengths(name, model_name, max_length, progress=gr.Progress()):
    """Every row's token length: a histogram per kind and a line of figures."""
    max_length = int(max_length or dataset_tokens.DEFAULT_MAX_LENGTH)
    tok = _tokenizer(model_name, progress)
    rows = dataset_store.load(name).rows()
    lengths = dataset_tokens.token_lengths([row for row, _ in rows], tok, lambda f, m: progress(f, desc=m))
    by_kind: dict[str, list[int]] = {"terraform": [], "kubernetes": []}
    for (row, _), length in zip(rows, lengths):
        by_kind[row.kind].append(length)
    stats = dataset_tokens.length_stats(lengths, max_length)
    over = (f"**{stats['over']} rows are over {max_length} tokens**: training cuts their end off, "
            "so the end of those answers is never learned." if stats["over"] else
            f"Every row fits in {max_length} tokens.")
    text = (f"{stats['rows']} rows · min {stats['min']} · median {stats['median']:.0f} · 95th percentile "
            f"{stats['p95']} · max {stats['max']} tokens. {over}")
    return dataset_tokens.length_histogram(by_kind, max_length), text


def preview_upload(name, path):
    """An uploaded file checked: (message, its first rows, a name for it, both import buttons, the file kept)."""
    off = gr.update(interactive=False)
    if not path:
        return "", gr.update(visible=False, value=None), "", off, off, ""
    message, rows, suggestion = import_preview(name, path)
    if rows is None:
        return message, gr.update(visible=False, value=None), "", off, off, ""
    on = gr.update(interactive=bool(rows))
    return message, gr.update(visible=True, value=rows), suggestion, on, on, str(path)


def clear_upload():
    return preview_upload("", None)


def import_new(path, new_name, hold_out):
    """Import the pending file as a new dataset and choose it."""
    name, message = import_as_new(path, new_name, hold_out)
    return (gr.update(choices=dataset_store.names(), value=name) if name else gr.update()), message


def restore_version(name, version_id):
    if not version_id:
        return "Pick a version to restore first."
    version = dataset_store.restore(name, version_id)
    return f"Restored version `{version_id}` as the new version `{version.id}` ({version.rows} rows)."


# -- the tab ------------------------------------------------------------------------------------------------


def build() -> None:
    t = SimpleNamespace()  # the tab's components, so the wiring below can name what each handler updates
    gr.Markdown(
        "The rows the model is trained and evaluated on. Every output is checked by the validators against "
        "its row's intent; every change is saved at once as a new version, and any version can be restored.",
        elem_classes=["im-muted"],
    )
    with gr.Row():
        t.name = gr.Dropdown(label="Dataset", choices=[], value=None, elem_id="ds-name", scale=1,
                             info="`seed` is the studio's own dataset; imports become datasets of their own.")
        t.summary = gr.Markdown(elem_id="ds-summary")
    with gr.Row():
        t.search = gr.Textbox(label="Search", placeholder="words in the id, request or answer", scale=3,
                              elem_id="ds-search")
        t.kind = gr.Dropdown([ALL, "terraform", "kubernetes"], value=ALL, label="Kind", elem_id="ds-kind",
                             min_width=120)
        t.tag = gr.Dropdown([ALL], value=ALL, label="Tag", elem_id="ds-tag", min_width=140)
        t.verdict = gr.Dropdown([ALL, "pass", "fail"], value=ALL, label="Verdict", elem_id="ds-verdict",
                                min_width=110)
        t.split = gr.Dropdown([ALL, "train", "eval"], value=ALL, label="Split", elem_id="ds-split",
                              min_width=110)
    t.table = gr.Dataframe(
        headers=COLUMNS, datatype="str", interactive=False, wrap=True, elem_id="ds-table",
        column_widths=["10%", "6%", "9%", "15%", "40%", "20%"], max_height=640,
        label="Rows (click one to edit it below)",
    )
    with gr.Row():
        t.prev = gr.Button("◀ Previous", size="sm", elem_id="ds-prev", min_width=60, scale=1)
        t.page_label = gr.Markdown(elem_id="ds-page-label")
        t.next = gr.Button("Next ▶", size="sm", elem_id="ds-next", min_width=60, scale=1)
    t.page = gr.State(1)

    gr.Markdown("### Row editor")
    with gr.Row():
        t.row_id = gr.Textbox(label="Row id", interactive=False, elem_id="ds-row-id", scale=2,
                              placeholder="a new row gets an id when saved")
        t.edit_split = gr.Radio(["train", "eval"], value="train", label="Split", elem_id="ds-edit-split", scale=1)
        t.edit_kind = gr.Radio(["terraform", "kubernetes"], value="terraform", label="Kind",
                               elem_id="ds-edit-kind", scale=2)
        t.edit_tags = gr.Textbox(label="Tags (comma-separated, the first is the topic)", elem_id="ds-edit-tags",
                                 scale=3)
    with gr.Row(equal_height=False):
        with gr.Column():
            t.edit_instruction = gr.Textbox(label="Instruction", lines=2, elem_id="ds-edit-instruction")
            t.edit_input = gr.Textbox(label="Input (context, names to reuse or code to fix; may be empty)",
                                      lines=2, elem_id="ds-edit-input")
            t.edit_output = gr.Textbox(label="Output (one fenced code block)", lines=14, max_lines=40,
                                       elem_id="ds-edit-output", elem_classes=["im-mono"])
            t.edit_intent = gr.Code(label="Intent (JSON: what the answer must contain, see studio/iac/INTENT.md)",
                                    language="json", lines=4, max_lines=14, elem_id="ds-edit-intent")
        with gr.Column():
            t.verdict_view = gr.HTML(elem_id="ds-row-verdict")
            t.output_view = gr.HTML(elem_id="ds-output-view")
    with gr.Row():
        t.save_row = gr.Button("Save row", variant="primary", elem_id="ds-save-row")
        t.new_row = gr.Button("New row", elem_id="ds-new-row")
        t.duplicate_row = gr.Button("Duplicate", elem_id="ds-duplicate-row")
        t.delete_row = gr.Button("Delete", variant="stop", elem_id="ds-delete-row")
    t.status = gr.Markdown(elem_id="ds-status")
    t.row_version = gr.State("")  # the version the row in the editor was loaded from (a save is checked against it)

    with gr.Accordion("As the model sees it: chat template, loss, token lengths", open=False):
        with gr.Row():
            t.model = gr.Dropdown(models.choices(), value=models.EMBEDDED, label="Tokenizer of", scale=3,
                                  allow_custom_value=True, elem_id="ds-model",
                                  info="The embedded model's tokenizer is ready offline (about 30 s the first time).")
            t.max_length = gr.Number(dataset_tokens.DEFAULT_MAX_LENGTH, label="Training max length (tokens)",
                                     precision=0, minimum=16, elem_id="ds-max-length", scale=1)
        with gr.Row():
            t.show_tokens = gr.Button("Show the row in the editor as the model sees it", elem_id="ds-show-tokens")
            t.measure = gr.Button("Histogram of all rows' token lengths", elem_id="ds-measure")
        t.tokens_view = gr.HTML(elem_id="ds-tokens-view")
        t.length_stats = gr.Markdown(elem_id="ds-length-stats")
        t.histogram = gr.Plot(label="Token lengths", elem_id="ds-histogram")

    with gr.Accordion("Import and export", open=False):
        with gr.Row(equal_height=False):
            with gr.Column():
                t.upload = gr.File(
                    label=f"Import: JSONL, JSON, CSV or a zipped `datasets` folder "
                          f"(up to {dataset.MAX_UPLOAD_BYTES // 2**20} MB)",
                    file_types=[".jsonl", ".json", ".csv", ".zip"], elem_id="ds-upload",
                )
                t.import_preview = gr.Markdown(elem_id="ds-import-preview")
                t.import_table = gr.Dataframe(headers=COLUMNS[:5], interactive=False, visible=False, wrap=True,
                                              elem_id="ds-import-table", max_height=300)
                with gr.Row():
                    t.import_name = gr.Textbox(label="New dataset's name", elem_id="ds-import-name", scale=2)
                    t.hold_out = gr.Checkbox(True, label="Hold out ~16% per topic as eval if the file has no eval rows",
                                             elem_id="ds-hold-out", scale=2)
                with gr.Row():
                    t.import_new = gr.Button("Import as a new dataset", variant="primary", interactive=False,
                                             elem_id="ds-import-new")
                    t.import_append = gr.Button("Append to this dataset", interactive=False,
                                                elem_id="ds-import-append")
                t.pending = gr.State("")
            with gr.Column():
                with gr.Row():
                    t.export_format = gr.Dropdown(list(EXPORT_FORMATS), value=next(iter(EXPORT_FORMATS)),
                                                  label="Export format", elem_id="ds-export-format")
                    t.export_split = gr.Dropdown([ALL, "train", "eval"], value=ALL, label="Rows",
                                                 elem_id="ds-export-split")
                t.export = gr.Button("Export", elem_id="ds-export")
                t.export_file = gr.File(label="Download", interactive=False, elem_id="ds-export-file")

    t.sources = dataset_sources.build()

    with gr.Accordion("Versions", open=False):
        t.versions = gr.Dataframe(headers=["version", "saved at (UTC)", "rows", "train", "eval", "change"],
                                  interactive=False, elem_id="ds-versions", max_height=320)
        with gr.Row():
            t.version_pick = gr.Dropdown([], label="Version to restore", elem_id="ds-version-pick", scale=3)
            t.restore = gr.Button("Restore this version", elem_id="ds-restore", scale=1)

    _wire(t)


def _wire(t: SimpleNamespace) -> None:
    filters = [t.name, t.search, t.kind, t.tag, t.verdict, t.split]
    editor = [t.row_id, t.edit_kind, t.edit_tags, t.edit_instruction, t.edit_input, t.edit_output, t.edit_intent]
    table_outputs = [t.table, t.page, t.page_label]
    dataset_outputs = [t.name, t.summary, t.tag, t.versions, t.version_pick, *table_outputs]
    editor_outputs = [t.row_id, t.edit_split, *editor[1:], t.output_view, t.verdict_view]
    assert len(editor_outputs) == EDITOR_OUTPUTS
    quiet = {"api_name": False}

    gr.on(None, seed_view, None, dataset_outputs, **quiet).then(
        check_all, [t.name], [t.summary], **quiet).then(
        table_page, [*filters, t.page], table_outputs, **quiet)
    when_opened(dataset_names, None, [t.name])
    # Another dataset: the row in the editor belongs to the one left, so the editor starts empty.
    t.name.input(first_view, filters, dataset_outputs, **quiet).then(
        clear_editor, None, [*editor_outputs, t.status], **quiet).then(
        check_all, [t.name], [t.summary], **quiet).then(
        table_page, [*filters, t.page], table_outputs, **quiet)
    for control in (t.kind, t.tag, t.verdict, t.split):
        control.input(first_page, filters, table_outputs, **quiet)
    t.search.submit(first_page, filters, table_outputs, **quiet)
    t.search.input(first_page, filters, table_outputs, trigger_mode="always_last", **quiet)
    t.prev.click(previous_page, [*filters, t.page], table_outputs, **quiet)
    t.next.click(next_page, [*filters, t.page], table_outputs, **quiet)

    # -- the row editor ---------------------------------------------------------------------------------
    t.table.select(pick_row, [t.name], [*editor_outputs, t.status], **quiet).then(
        current_version_id, [t.name], [t.row_version], **quiet)
    # `change`, not `input`: it also follows a row picked in the table, and every way a browser edits a field.
    for field in (t.edit_output, t.edit_intent, t.edit_kind, t.edit_split, t.edit_tags, t.edit_instruction,
                  t.edit_input):
        field.change(preview_row, [t.name, t.edit_split, *editor], [t.output_view, t.verdict_view],
                     trigger_mode="always_last", show_progress="hidden", **quiet)
    t.save_row.click(save_row_on_version, [t.name, t.edit_split, t.row_version, *editor],
                     [t.row_id, t.output_view, t.verdict_view, t.status, t.row_version], api_name="save_row").then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        page_of_row, [*filters, t.row_id], table_outputs, **quiet)
    t.new_row.click(new_row, [t.edit_kind], [*editor_outputs, t.status], **quiet)
    t.duplicate_row.click(duplicate_row, [t.name, t.row_id], [*editor_outputs, t.status], **quiet).then(
        current_version_id, [t.name], [t.row_version], **quiet).then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        page_of_row, [*filters, t.row_id], table_outputs, **quiet)
    t.delete_row.click(delete_row, [t.name, t.row_id], [*editor_outputs, t.status], **quiet).then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet)

    # -- tokens -----------------------------------------------------------------------------------------
    t.show_tokens.click(show_tokens, [t.model, t.max_length, *editor], [t.tokens_view], **quiet)
    t.measure.click(measure_lengths, [t.name, t.model, t.max_length], [t.histogram, t.length_stats], **quiet)

    # -- import and export ------------------------------------------------------------------------------
    upload_outputs = [t.import_preview, t.import_table, t.import_name, t.import_new, t.import_append, t.pending]
    t.upload.upload(preview_upload, [t.name, t.upload], upload_outputs, **quiet)
    t.upload.clear(clear_upload, None, upload_outputs, **quiet)
    t.import_new.click(import_new, [t.pending, t.import_name, t.hold_out], [t.name, t.import_preview],
                       **quiet).then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        clear_editor, None, [*editor_outputs, t.status], **quiet).then(
        check_all, [t.name], [t.summary], **quiet)
    t.import_append.click(append_file, [t.name, t.pending], [t.import_preview], **quiet).then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        check_all, [t.name], [t.summary], **quiet)
    t.export.click(export_file, [t.name, t.export_format, t.export_split], [t.export_file], api_name="export_dataset")
    # Generated rows and mapped imports land as a new version: reload what the tab shows, as after an import.
    dataset_sources.wire(t.sources, t.name, lambda event: event.then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        check_all, [t.name], [t.summary], **quiet))

    # -- versions -------------------------------------------------------------------------------------------
    t.restore.click(restore_version, [t.name, t.version_pick], [t.status], **quiet).then(
        dataset_view, [*filters, t.page], dataset_outputs, **quiet).then(
        check_all, [t.name], [t.summary], **quiet)


def empty_editor(kind: str, status: str) -> tuple:
    """The editor's fields for a new row of `kind`, then `status`: in the order of the editor's outputs."""
    kind = kind or "terraform"
    return ("", "train", kind, "", "", "", NEW_OUTPUT[kind], "", output_html(NEW_OUTPUT[kind], kind), "", status)


def import_preview(name: str, path: str) -> tuple[str, list[list] | None, str]:
    """What an uploaded file holds, checked, before anything changes: a message, the first rows (None when
    the file cannot be imported) and a free name for it as a new dataset."""
    try:
        splits = dataset.read_file(path)
    except DatasetError as error:
        return f"✗ **Cannot import this file**: {error}  \nNothing was changed.", None, ""
    rows = [row for part in splits.values() for row in part]
    inside = dataset.deduplicate(rows)
    against = dataset.deduplicate(inside.kept, existing=[row for row, _ in dataset_store.load(name).rows()])
    kinds = {kind: sum(1 for row in rows if row.kind == kind) for kind in ("terraform", "kubernetes")}
    message = (
        f"**{Path(path).name}**: {len(rows)} rows ({len(splits['train'])} train, {len(splits['eval'])} eval; "
        f"{kinds['terraform']} Terraform, {kinds['kubernetes']} Kubernetes). "
        f"{len(inside.dropped)} repeat another row of the file; {len(against.dropped)} more are already in "
        f"**{name}**.  \nNothing is changed until you import it as a new dataset or append it."
    )
    first = [[row.id, split, row.kind, ", ".join(row.tags), _short(row.instruction, 110)]
             for split in dataset.SPLITS for row in splits[split]][:PREVIEW_ROWS]
    return message, first, dataset.free_id(dataset.stem_of(Path(path)), set(dataset_store.names()))


def import_as_new(path: str, new_name: str, hold_out: bool) -> tuple[str | None, str]:
    """The file as a new dataset, its repeated rows dropped; `hold_out` draws an eval split if it has none.

    Returns the new dataset's name (None when nothing was created) and a message.
    """
    name = (new_name or "").strip()
    try:
        splits = dataset.read_file(path)
        kept = dataset.deduplicate(splits["train"] + splits["eval"])
        keep = {id(row) for row in kept.kept}
        splits = {split: [row for row in rows if id(row) in keep] for split, rows in splits.items()}
        if hold_out and not splits["eval"]:
            splits = dataset.draw_split(splits["train"])
        version = dataset_store.create(name, splits, f"imported {Path(path).name}")
    except (DatasetError, ValueError) as error:  # workspace.UnsafeName, for a name like "../x", is a ValueError
        return None, f"✗ Not imported: {error}"
    dropped = f", {len(kept.dropped)} duplicates dropped" if kept.dropped else ""
    return name, (f"Imported **{name}**: {version.rows} rows ({version.counts['train']} train, "
                  f"{version.counts['eval']} eval{dropped}).")


def append_file(name: str, path: str) -> str:
    """The file's rows added to dataset `name` (duplicates left out); a message either way."""
    try:
        version, result = dataset_store.append(name, dataset.read_file(path), Path(path).name)
    except DatasetError as error:
        return f"✗ Not appended: {error}  \n**{name}** is unchanged."
    if version is None:
        return f"Nothing appended: all {len(result.dropped)} rows are already in **{name}**."
    return (f"Appended {len(result.kept)} rows to **{name}** (version `{version.id}`, {version.rows} rows); "
            f"{len(result.dropped)} duplicates left out.")


def export_file(name: str, label: str, split: str) -> str:
    """The current version of `name` (all rows or one split) written in the format `label` names."""
    snapshot = dataset_store.load(name)
    splits = snapshot.splits if split in (ALL, None) else {split: snapshot.splits[split]}
    part = "" if split in (ALL, None) else f"-{split}"
    # One folder for every export, each file named by its version: exporting again replaces, never piles up.
    folder = Path(tempfile.gettempdir()) / "inframind-dataset-exports"
    path = folder / f"{name}{part}-{snapshot.version.id}.{EXPORT_FORMATS[label]}"
    return str(dataset.write_file(splits, path))


def tokens_html(seen: dataset_tokens.Rendering) -> str:
    """The templated row: the prompt dimmed, the part carrying the loss marked, what is cut struck through."""
    cut = (f"<s style='color:#b91c1c' title='past the max length: cut off in training'>"
           f"{html.escape(seen.cut_text)}</s>") if seen.cut_text else ""
    body = (
        f"<span style='opacity:0.6' title='prompt: no loss'>{html.escape(seen.prompt_text)}</span>"
        f"<mark style='background:#bbf7d0;color:#14532d' title='completion: the loss falls here'>"
        f"{html.escape(seen.completion_text)}</mark>{cut}"
    )
    if seen.dropped:
        over = (f" · <b style='color:#b91c1c'>the prompt alone fills the max length {seen.max_length}: this row "
                "is dropped from training</b>")
    elif seen.cut_tokens:
        over = f" · <b style='color:#b91c1c'>{seen.cut_tokens} tokens cut</b> (over the max length {seen.max_length})"
    else:
        over = f" · fits in the max length {seen.max_length}" if seen.max_length else ""
    return (
        f"<p>{seen.total_tokens} tokens: {seen.prompt_tokens} prompt (dimmed, no loss) · "
        f"<mark style='background:#bbf7d0;color:#14532d'>{seen.completion_tokens} answer tokens carry the "
        f"loss</mark>{over}</p>"
        f"<pre class='im-tokens' style='white-space:pre-wrap;word-break:break-word;padding:0.75em;"
        f"border-radius:6px;font-size:0.85em'>{body}</pre>"
    )
