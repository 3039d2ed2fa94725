"""The Export tab: merge and export (merged weights, adapter, GGUF)."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("This tab will merge and export (merged weights, adapter, GGUF). It is being built (issue 7).")
