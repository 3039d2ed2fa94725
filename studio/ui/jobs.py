"""The Jobs tab: watch jobs with live loss and reward plots."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("This tab will watch jobs with live loss and reward plots. It is being built (issue 5).")
