"""The Export tab: pick a run, tick formats, watch it export, download the files, copy the serving commands.

    >>> with gr.Blocks() as demo:
    ...     build()

The work happens in `studio.export` (merge, GGUF, model card, hub push); this module only wires the page.
Files are served in place from the exports folder (a static path), not copied into Gradio's cache: a merged
model and its GGUF files are hundreds of megabytes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import gradio as gr

from studio import access, adapters, models, workspace
from studio.export import build as exports
from studio.export import card, hub, serving
from studio.ui.widgets import when_opened

INTRO = (
    "Turn a run's adapter into what you take home: **merged weights** (safetensors, for transformers and vLLM), "
    "the **adapter** alone (PEFT), and **GGUF** files (llama.cpp, Ollama), each with a model card. Every export "
    "is checked: the merged model against base + adapter, each GGUF file against the merged model, read back "
    "through transformers and llama.cpp."
)
FORMAT_CHOICES = [
    ("Merged weights (safetensors, transformers / vLLM)", "merged"),
    ("Adapter only (PEFT, small)", "adapter"),
    ("GGUF (llama.cpp / Ollama)", "gguf"),
]
DTYPE_CHOICES = [
    ("auto: the base's own precision (fp32 for the embedded model, bf16 for Qwen2.5)", "auto"),
    ("bfloat16", "bfloat16"),
    ("float16", "float16"),
    ("float32", "float32"),
]
DEFAULT_TYPES = ["F16", "Q8_0", "Q4_1"]


def _gguf_choices() -> list[tuple[str, str]]:
    from studio.export import gguf

    return [(f"{name}: {gguf.TYPE_HELP[name]}", name) for name in gguf.TYPES]


def run_choices() -> list[tuple[str, str]]:
    """(label, run) for every run with a final adapter, newest first."""
    return [(adapter.label, adapter.run) for adapter in adapters.find()]


def export_names() -> list[str]:
    return [export.name for export in exports.list_exports()]


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


def files_markdown(export: exports.Export) -> str:
    """The export's files with their sizes and download links (served in place from the exports folder)."""
    rows = ["| file | size |", "| --- | --- |"]
    for item in export.files:
        href = quote(f"gradio_api/file={(export.folder / item.path).as_posix()}", safe="/=")
        rows.append(f'| <a href="{href}" download="{Path(item.path).name}">{item.path}</a> | {_size(item.size)} |')
    return "\n".join(rows)


def weight_files(export: exports.Export) -> list[str]:
    """The files worth a download button: weights and the Modelfile (their names are unique in an export)."""
    keep = (".gguf", ".safetensors", "Modelfile")
    return [str(export.folder / item.path) for item in export.files if item.path.endswith(keep)]


def summary_markdown(export: exports.Export) -> str:
    lines = [
        f"### Exported `{export.name}`",
        f"From run `{export.run}` in {export.seconds:.0f} s: {len(export.files)} files, {_size(export.total_size)}, "
        f"in `{export.folder}`.",
        "",
        files_markdown(export),
    ]
    table = card.checks_table(export.checks)
    if table:
        lines += [
            "",
            "**Checks** (same token ids, logits in fp32; greedy = tokens of the argmax continuation that agree):",
            "",
            table,
        ]
        tokenizer = next((r.get("tokenizer_identical") for r in export.checks.values() if "tokenizer_identical" in r), None)
        if tokenizer is not None:
            lines.append(
                f"\nThe GGUF tokenizer, read back by transformers, encodes the check prompts "
                f"{'identically' if tokenizer else '**differently** (see checks.json)'}."
            )
    return "\n".join(lines)


def commands_text(export: exports.Export) -> str:
    found = serving.commands(export.folder, export.name, export.formats, export.gguf_files())
    return "\n\n".join(f"# {server}\n{text}" for server, text in found.items())


def _shown(export: exports.Export):
    return summary_markdown(export), weight_files(export), commands_text(export)


def _suggest_name(run: str | None) -> str:
    return f"{run}-export" if run else ""


def _failed(message: str) -> tuple:
    """An export that did not happen, said where the export's result would be (not in a toast)."""
    return f"✗ **Not exported**: {message}", gr.skip(), gr.skip(), gr.skip()


def _export(run, name, formats, gguf_types, dtype, system_kind, llama_cpp, overwrite, progress=gr.Progress()):
    if not run:
        return _failed("pick a run first (runs appear here once their job has saved an adapter).")
    try:
        request = exports.ExportRequest(
            run=run,
            name=(name or "").strip(),
            formats=tuple(formats or ()),
            gguf_types=tuple(gguf_types or ()),
            dtype=dtype or "auto",
            system_kind=system_kind or "terraform",
            llama_cpp_check=bool(llama_cpp),
            overwrite=bool(overwrite),
        )
        export = exports.build_export(request, progress=lambda fraction, message: progress(fraction, desc=message))
    except (ValueError, models.ModelUnavailable) as error:  # ExportError, UnsafeName, UnsupportedModel
        return _failed(str(error))
    except (OSError, RuntimeError, MemoryError) as error:  # a full disk, a failed load: nothing was kept
        return _failed(f"the export failed and was removed: {type(error).__name__}: {error}")
    summary, paths, commands = _shown(export)
    return summary, paths, commands, gr.update(choices=export_names(), value=export.name)


def _show(name):
    if not name:
        return "Pick an export.", [], ""
    try:
        return _shown(exports.find_export(name))
    except (exports.ExportError, workspace.UnsafeName) as error:
        raise gr.Error(str(error)) from error


def _push(name, folder, repo_id, token, private):
    if not name:
        raise gr.Error("Pick an export to push.")
    try:
        export = exports.find_export(name)
        if folder not in export.formats:
            raise hub.PushFailed(f"The export {name!r} has no {folder}/ folder (it holds {', '.join(export.formats)}).")
        pushed = hub.push(export.folder / folder, repo_id, token=token, private=bool(private))
    except (hub.PushFailed, exports.ExportError, workspace.UnsafeName) as error:
        raise gr.Error(str(error), duration=None) from error
    visibility = "private" if pushed.private else "public"
    return (
        f"Pushed {pushed.files} files of `{name}/{folder}` to [{pushed.repo_id}]({pushed.repo_url}) "
        f"({visibility}) in one commit: {pushed.commit_url}"
    )


def refresh_choices():
    """The runs and the exports, again: those finished since the page loaded too."""
    return gr.update(choices=run_choices()), gr.update(choices=export_names())


def gguf_types_for(formats):
    """The GGUF types can be picked only while GGUF is ticked."""
    return gr.update(interactive="gguf" in (formats or []))


def build() -> None:
    # Download links serve the files where they are; see the module docstring.
    if not access.settings().roles:
        # Served where they are, to anyone who knows the path: fine for one local user, not for a public Space,
        # where an owner's download goes through Gradio's cache (a path only they are given, deleted after an hour).
        gr.set_static_paths([workspace.exports_dir()])
    gr.Markdown(INTRO)
    with gr.Row():
        run = gr.Dropdown(
            run_choices(),
            value=None,
            label="Run",
            info="Runs whose job saved a final adapter, newest first.",
            elem_id="export-run",
            scale=4,
        )
        refresh = gr.Button("Refresh", elem_id="export-refresh", scale=1)
    name = gr.Textbox(
        label="Export name",
        info="A folder name under workspace/exports: letters, digits, '.', '_' and '-'.",
        elem_id="export-name",
    )
    formats = gr.CheckboxGroup(FORMAT_CHOICES, value=["merged", "adapter", "gguf"], label="Formats",
                               elem_id="export-formats")
    gguf_types = gr.CheckboxGroup(_gguf_choices(), value=DEFAULT_TYPES, label="GGUF types",
                                  elem_id="export-gguf-types")
    with gr.Accordion("Options", open=False):
        dtype = gr.Dropdown(DTYPE_CHOICES, value="auto", label="Merged weights precision", elem_id="export-dtype")
        system_kind = gr.Radio(["terraform", "kubernetes"], value="terraform", label="System prompt in the Modelfile")
        llama_cpp = gr.Checkbox(True, label="Also load each GGUF file in llama.cpp and compare", elem_id="export-llama")
    overwrite = gr.Checkbox(False, label="Overwrite an existing export of this name", elem_id="export-overwrite")
    go = gr.Button("Export", variant="primary", elem_id="export-go")
    # Tall enough for the progress (stage and percent) that the export draws over it while it runs.
    summary = gr.Markdown("Pick a run, tick the formats, then **Export**. Its stages and progress show here.",
                          elem_id="export-summary", min_height=120)
    files = gr.File(label="Weights", file_count="multiple", interactive=False, elem_id="export-files")
    commands = gr.Code(label="Serve it", language="shell", interactive=False, elem_id="export-commands")

    with gr.Accordion("Exports on disk, and pushing one to the Hugging Face Hub", open=False):
        with gr.Row():
            existing = gr.Dropdown(export_names(), value=None, label="Export", elem_id="export-existing", scale=4)
            show = gr.Button("Show", elem_id="export-show", scale=1)
        with gr.Row():
            folder = gr.Radio(["merged", "adapter", "gguf"], value="merged", label="Folder to push")
            repo_id = gr.Textbox(label="Repository", placeholder="your-name/iac-smollm2", elem_id="export-repo")
        with gr.Row():
            token = gr.Textbox(
                label="Token",
                type="password",
                info="A write token of yours; empty: your Hugging Face sign-in on a Space, HF_TOKEN locally. "
                     "Not stored.",
                elem_id="export-token",
            )
            private = gr.Checkbox(True, label="Private repository", elem_id="export-private")
        push = gr.Button("Push to the Hub", elem_id="export-push")
        pushed = gr.Markdown(elem_id="export-pushed")

    refresh.click(refresh_choices, None, [run, existing], api_name=False)
    when_opened(refresh_choices, None, [run, existing], follow=True)
    formats.change(gguf_types_for, formats, gguf_types, api_name=False, show_progress="hidden")
    run.change(_suggest_name, run, name, api_name=False)
    inputs = [run, name, formats, gguf_types, dtype, system_kind, llama_cpp, overwrite]
    # One export at a time: each holds a model or two in memory.
    go.click(
        _export,
        inputs,
        [summary, files, commands, existing],
        api_name="export_model",
        concurrency_limit=1,
        show_progress_on=summary,
    )
    show.click(_show, existing, [summary, files, commands], api_name="show_export")
    push.click(_push, [existing, folder, repo_id, token, private], pushed, api_name="push_export")
