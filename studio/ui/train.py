"""The Train tab: launch QLoRA SFT and GRPO jobs."""

from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("This tab will launch QLoRA SFT and GRPO jobs. It is being built (issue 5).")
