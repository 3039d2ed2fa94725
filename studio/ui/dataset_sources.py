"""The Dataset tab's two row sources beside file uploads: the generator (rows from the AWS provider and Kubernetes
schemas) and imports with a column mapping (a Hugging Face dataset id, Parquet, CSV, JSONL).

    >>> message, table, pending = generate_preview(["storage"], ["ConfigMap"], 20, 0, 0.6)
    >>> name, message = add_rows("seed", pending, "")      # a new version of `seed` holding the 20 rows

Both preview first (rows with their verdicts, nothing saved), then add the rows to the dataset shown, or as a new
dataset, in one new version. The handlers are plain functions; `build` lays out the components and the Dataset
tab's `_wire` connects them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from studio import dataset, dataset_import, dataset_store
from studio.dataset import DatasetError, Row

PREVIEW_COLUMNS = ["id", "kind", "tags", "instruction", "verdict"]
INVALID_COLUMNS = ["id", "instruction", "why it fails"]
PREVIEW_ROWS = 25
MAX_GENERATE = 5000


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict(row: Row) -> str:
    report = dataset.check_row(row)
    return "✓ pass" if report.ok else "✗ " + _short(dataset_import.why_invalid(report), 90)


def service_choices() -> list[str]:
    from studio.synth.terraform import POPULAR_SERVICES

    return list(POPULAR_SERVICES)


def kind_choices() -> list[str]:
    from studio.synth.kubernetes import KINDS

    return list(KINDS)


def generate_preview(services: list[str] | None, kinds: list[str] | None, count, seed, share,
                     progress=None) -> tuple[str, list[list], list[dict]]:
    """Generate `count` rows: a message, the first rows with their verdicts, and every row (for `add_rows`)."""
    from studio.synth.build import generate

    try:
        count, seed, share = int(count or 0), int(seed or 0), float(share)
    except (TypeError, ValueError):
        return "✗ Count and seed are whole numbers, the Terraform share a number from 0 to 1.", [], []
    if not 1 <= count <= MAX_GENERATE:
        return (f"✗ Generate between 1 and {MAX_GENERATE} rows here (`python -m studio.synth --rows N` builds "
                "more from a shell).", [], [])
    try:
        result = generate(count, seed, terraform_share=share, services=services or None, kinds=kinds or None,
                          progress=progress)
    except ValueError as error:
        return f"✗ {error}", [], []
    stats = result.stats
    message = (f"**{stats['rows']} rows** ({stats['terraform']} Terraform over {stats['resource_types']} resource "
               f"types and {stats['patterns']} patterns, {stats['kubernetes']} Kubernetes over {stats['kinds']} "
               f"kinds) in {stats['seconds']} s; {stats['invalid']} drawn rows failed a check, "
               f"{stats['duplicates']} were duplicates, {stats['near_eval']} too close to an eval row (all left "
               "out).  \nNothing is saved until you add them.")
    table = [[row.id, row.kind, ", ".join(row.tags), _short(row.instruction), _verdict(row)]
             for row in result.rows[:PREVIEW_ROWS]]
    return message, table, [row.to_dict() for row in result.rows]


def add_rows(name: str, pending: list[dict], new_name: str, source: str = "the generator") -> tuple[str | None, str]:
    """The pending rows as training rows: a new dataset `new_name`, or appended to `name` (one new version).

    Returns the dataset now shown (None when nothing changed) and a message.
    """
    if not pending:
        return None, "Nothing to add: preview rows first."
    rows = [Row.from_dict(data, f"row {data.get('id', '')}") for data in pending]
    new_name = (new_name or "").strip()
    try:
        if new_name:
            version = dataset_store.create(new_name, {"train": rows, "eval": []}, f"{len(rows)} rows from {source}")
            return new_name, f"Created **{new_name}** with {version.rows} rows from {source}."
        version, result = dataset_store.append(name, {"train": rows, "eval": []}, source)
    except (DatasetError, ValueError) as error:  # an unsafe or taken name
        return None, f"✗ Not added: {error}"
    if version is None:
        return None, f"Nothing added: all {len(rows)} rows are already in **{name}**."
    return name, (f"Added {len(result.kept)} rows to **{name}** as version `{version.id}` ({version.rows} rows); "
                  f"{len(result.dropped)} duplicates left out.")


def mapped_preview(hub_id: str, split: str, path: str | None, instruction: str, input_column: str, output: str,
                   kind: str, keep_invalid: bool) -> tuple[str, list[list], list[dict]]:
    """Read a hub dataset or a file through a column mapping and check every row: a message, the invalid rows
    with why, and the rows to add (the invalid ones only when kept)."""
    mapping = dataset_import.ColumnMap(instruction=(instruction or "").strip(), input=(input_column or "").strip(),
                                       output=(output or "").strip(), kind="kind", intent="intent", tags="tags")
    try:
        if (hub_id or "").strip():
            records = dataset_import.hub_records(hub_id, (split or "train").strip())
            source = hub_id.strip().split("/")[-1]
        elif path:
            records = dataset_import.read_records(path)
            source = Path(path).name
        else:
            return "Give a Hugging Face dataset id or choose a file.", [], []
        result = dataset_import.to_rows(records, mapping, kind=kind or "auto", source=source,
                                        keep_invalid=bool(keep_invalid))
    except DatasetError as error:
        return f"✗ **Cannot import**: {error}  \nNothing was changed.", [], []
    invalid = [[row.id, _short(row.instruction, 80), _short(why, 140)] for row, why in result.invalid]
    invalid += [[where, "", why] for where, why in result.unreadable]
    message = (f"**{source}**: {result.summary()}.  \n"
               + ("The rows listed below are left out" + (" (the invalid ones kept, as asked)" if keep_invalid
                                                          else "; tick *Keep rows that fail* to add them anyway")
                  + ". " if invalid else "")
               + "Nothing is saved until you add them.")
    return message, invalid, [row.to_dict() for row in result.rows]


def build() -> SimpleNamespace:
    """The generator's and the mapped import's components (inside the Dataset tab's layout)."""
    g = SimpleNamespace()
    with gr.Accordion("Generate rows from the AWS provider and Kubernetes schemas", open=False):
        gr.Markdown("Rows drawn from the provider schema (single resources and multi-resource patterns wired by "
                    "reference) and the Kubernetes schemas; each one passes the validators and its own intent. "
                    "`python -m studio.synth` builds the same rows from a shell.", elem_classes=["im-muted"])
        with gr.Row():
            g.services = gr.CheckboxGroup(service_choices(), label="Terraform services (none ticked: all)",
                                          elem_id="gen-services", scale=3)
            g.kinds = gr.Dropdown(kind_choices(), multiselect=True, label="Kubernetes kinds (empty: all)",
                                  elem_id="gen-kinds", scale=2)
        with gr.Row():
            g.count = gr.Number(200, label="Rows", precision=0, minimum=1, maximum=MAX_GENERATE, elem_id="gen-count")
            g.seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="gen-seed")
            g.share = gr.Slider(0, 1, value=0.6, step=0.05, label="Terraform share", elem_id="gen-share")
            g.generate = gr.Button("Generate and preview", variant="primary", elem_id="gen-preview")
        g.message = gr.Markdown(elem_id="gen-message")
        g.table = gr.Dataframe(headers=PREVIEW_COLUMNS, interactive=False, wrap=True, elem_id="gen-table",
                               max_height=360)
        with gr.Row():
            g.new_name = gr.Textbox(label="New dataset (empty: add to the dataset shown above)", elem_id="gen-name",
                                    scale=3)
            g.add = gr.Button("Add as a new version", elem_id="gen-add", scale=1)
        g.pending = gr.State([])
    with gr.Accordion("Import with a column mapping: Hugging Face, Parquet, CSV, JSONL", open=False):
        with gr.Row():
            g.hub_id = gr.Textbox(label="Hugging Face dataset id (owner/name)", elem_id="map-hub-id", scale=3)
            g.split = gr.Textbox("train", label="Split", elem_id="map-split", scale=1)
            g.file = gr.File(label="…or a file", file_types=[".parquet", ".csv", ".jsonl"], elem_id="map-file",
                             scale=2)
        with gr.Row():
            g.instruction = gr.Textbox("instruction", label="Instruction column", elem_id="map-instruction")
            g.input = gr.Textbox("input", label="Input column (empty: none)", elem_id="map-input")
            g.output = gr.Textbox("output", label="Output column", elem_id="map-output")
            g.kind = gr.Dropdown(["auto", "terraform", "kubernetes"], value="auto", label="Kind",
                                 info="auto: a `kind` column, else detected from the code", elem_id="map-kind")
            g.keep_invalid = gr.Checkbox(False, label="Keep rows that fail the validators", elem_id="map-keep")
        g.read = gr.Button("Read and check", variant="primary", elem_id="map-read")
        g.map_message = gr.Markdown(elem_id="map-message")
        g.invalid = gr.Dataframe(headers=INVALID_COLUMNS, interactive=False, wrap=True, elem_id="map-invalid",
                                 max_height=300, label="Left out")
        with gr.Row():
            g.map_name = gr.Textbox(label="New dataset (empty: add to the dataset shown above)", elem_id="map-name",
                                    scale=3)
            g.map_add = gr.Button("Add as a new version", elem_id="map-add", scale=1)
        g.map_pending = gr.State([])
    return g


def wire(g: SimpleNamespace, name: gr.components.Component, refresh) -> None:
    """Connect the components; `refresh(event)` chains the Dataset tab's reload of the dataset shown."""

    def preview(services, kinds, count, seed, share, progress=gr.Progress()):
        def report(done, total):
            progress(done / max(1, total), desc=f"Generating {total} rows")

        return generate_preview(services, kinds, count, seed, share, progress=report)

    def add(current, pending, new_name):
        shown, message = add_rows(current, pending, new_name)
        return (gr.update(choices=dataset_store.names(), value=shown) if shown else gr.update()), message

    g.generate.click(preview, [g.services, g.kinds, g.count, g.seed, g.share], [g.message, g.table, g.pending],
                     api_name=False)
    refresh(g.add.click(add, [name, g.pending, g.new_name], [name, g.message], api_name=False))

    def add_mapped(current, pending, new_name):
        shown, message = add_rows(current, pending, new_name, source="a mapped import")
        return (gr.update(choices=dataset_store.names(), value=shown) if shown else gr.update()), message

    g.read.click(mapped_preview, [g.hub_id, g.split, g.file, g.instruction, g.input, g.output, g.kind,
                                  g.keep_invalid], [g.map_message, g.invalid, g.map_pending], api_name=False)
    refresh(g.map_add.click(add_mapped, [name, g.map_pending, g.map_name], [name, g.map_message], api_name=False))
