"""The Dataset tab: edit the Alpaca dataset with live validation."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("This tab will edit the Alpaca dataset with live validation. It is being built (issue 4).")
