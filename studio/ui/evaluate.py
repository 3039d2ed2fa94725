"""The Evaluate tab: evaluate base against fine-tuned over the held-out split."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("This tab will evaluate base against fine-tuned over the held-out split. It is being built (issue 6).")
