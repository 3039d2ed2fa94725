"""InfraMind Studio: fine-tune a small LLM into an Infrastructure-as-Code generator.

    python app.py                        # http://127.0.0.1:7860, workspace in ./workspace
    python app.py --host 0.0.0.0 --port 8080
    INFRAMIND_HOME=/data/inframind python app.py --share

This is also the Hugging Face Space's `app_file`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # A Space sets GRADIO_SERVER_NAME=0.0.0.0; locally the studio listens on loopback only.
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument(
        "--no-preload", action="store_true", help="do not prepare the embedded model in the background at start"
    )
    return parser.parse_args(argv)


def preload_embedded() -> None:
    """Prepare and load the embedded model while the page comes up, so the first answer does not wait.

    The first run converts it from GGUF (about half a minute on 2 cores); the terminal shows the steps.
    """
    from studio import models

    def report(fraction: float, message: str) -> None:
        print(f"[embedded model {fraction:4.0%}] {message}", flush=True)

    try:
        started = time.monotonic()
        models.CACHE.get(models.EMBEDDED, progress=report)
        print(f"[embedded model] loaded in {time.monotonic() - started:.1f} s", flush=True)
    except Exception as error:  # the UI reports it again on use; the page must come up regardless
        print(f"[embedded model] could not be prepared: {error}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from studio import workspace
    from studio.ui import CSS, THEME, build_app

    print(f"InfraMind Studio: workspace {workspace.home()}", flush=True)
    if not args.no_preload:
        threading.Thread(target=preload_embedded, name="preload", daemon=True).start()
    demo = build_app()
    demo.queue(default_concurrency_limit=2)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS)


if __name__ == "__main__":
    main()
