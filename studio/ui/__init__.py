"""The studio's web UI: one builder module per tab, assembled here.

    >>> from studio.ui import build_app
    >>> demo = build_app()
    >>> demo.launch(prevent_thread_lock=True)

Tab modules import no torch, transformers or trl when imported: they call `studio` and `jobs`, which load
those on first use, so the page is up in seconds.
"""

from __future__ import annotations

import gradio as gr

from studio import access
from studio.ui import compare, dataset, evaluate, export, jobs, train

TITLE = "InfraMind Studio"
# The tabs in their order; each module's name is its tab's id and, capitalized, its title.
TABS = (dataset, train, jobs, compare, evaluate, export)

CSS = """
.im-code pre { padding: 0.75em; border-radius: 6px; overflow-x: auto; font-size: 0.85em; }
#im-header h1 { margin-bottom: 0; }
.im-muted { opacity: 0.75; font-size: 0.9em; }
.im-mono textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em; }
.im-verdict { padding: 0.5em 0.75em; border-radius: 6px; border-left: 4px solid; }
.im-verdict.im-pass { border-color: #16a34a; background: rgba(22, 163, 74, 0.08); }
.im-verdict.im-fail { border-color: #dc2626; background: rgba(220, 38, 38, 0.08); }
.im-verdict ul { margin: 0.4em 0 0 1.2em; }
#answer pre, #answer-tuned pre, #answer code, #answer-tuned code { white-space: pre-wrap; word-break: break-word; }
"""

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="teal", neutral_hue="slate")


# Files Gradio keeps for downloads and uploads are deleted after an hour (checked every hour).
DELETE_CACHE = (3600, 3600)


def role_banner(request: gr.Request) -> str:
    return access.banner(access.user_of(request))


def build_app() -> gr.Blocks:
    """The whole studio; every event checks the sender's role first (`studio.access.protect`)."""
    with gr.Blocks(title=TITLE, delete_cache=DELETE_CACHE) as demo:
        with gr.Row():
            gr.Markdown(
                f"# {TITLE}\nFine-tune a small LLM into an Infrastructure-as-Code generator: Terraform for AWS and "
                "Kubernetes YAML, checked for real by parsers, provider schemas and intent.",
                elem_id="im-header",
            )
            if access.settings().sign_in == "huggingface":
                with gr.Column(scale=0, min_width=220):
                    gr.LoginButton(elem_id="im-login")
        if access.settings().roles:
            who = gr.Markdown(elem_id="im-role")
            demo.load(role_banner, None, who, api_name=False)
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.__name__.rsplit(".", 1)[-1].capitalize(), id=tab.__name__.rsplit(".", 1)[-1]):
                    tab.build()
    return access.protect(demo)
