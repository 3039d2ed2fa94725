"""InfraMind Studio: fine-tune a small LLM into an Infrastructure-as-Code generator.

    python app.py                        # http://127.0.0.1:7860, workspace in ./workspace
    python app.py --host 0.0.0.0 --port 8080
    INFRAMIND_HOME=/data/inframind python app.py --share
    python app.py --auth alice:secret,bob:secret2     # a login page; roles as on a Space (README: Security)

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
    parser.add_argument(
        "--auth", metavar="USER:PASSWORD[,USER:PASSWORD]", default=os.environ.get("INFRAMIND_AUTH"),
        help="ask for a login; the users of INFRAMIND_OWNERS (by default all of these) are owners, the rest "
             "visitors (README: Security)",
    )
    return parser.parse_args(argv)


# Bounds that keep one visitor from filling the server: the largest upload Gradio accepts (checked while it
# streams in, before anything is kept), and how many events may wait in the queue.
MAX_FILE_SIZE = os.environ.get("INFRAMIND_MAX_UPLOAD", "50mb")
QUEUE_MAX_SIZE = int(os.environ.get("INFRAMIND_QUEUE_MAX", "64"))


def launch_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of `demo.launch` (also what the tests launch with)."""
    from studio import access

    settings = access.configure(args.auth)
    options = {"max_file_size": MAX_FILE_SIZE}
    if settings.sign_in == "huggingface" and not settings.space:
        from huggingface_hub import get_token

        if get_token() is None:  # Gradio signs in locally as the machine's Hugging Face login
            raise SystemExit("INFRAMIND_OWNERS is set, so the studio asks who you are: give --auth user:password, "
                             "or log this machine in to Hugging Face (`hf auth login`) to sign in as yourself.")
    if settings.sign_in == "password":
        options["auth"] = list(settings.passwords)
        options["auth_message"] = "InfraMind Studio: sign in (README: Security)."
    return options


def queue(demo):
    """The queue the studio runs with: two events at once by default, at most QUEUE_MAX_SIZE waiting."""
    return demo.queue(default_concurrency_limit=2, max_size=QUEUE_MAX_SIZE)


def reconcile_jobs() -> None:
    """Jobs left "running" by a crash or a full disk are marked at start, so the Jobs tab shows the truth."""
    from jobs import runner

    try:
        changed = runner.reconcile()
    except Exception as error:  # the page must come up regardless; the Jobs tab reconciles again on use
        print(f"[jobs] could not reconcile the job store: {error}", file=sys.stderr, flush=True)
        return
    for job in changed:
        print(f"[jobs] {job.name}: {job.state} ({(job.message or '').splitlines()[0] if job.message else ''})",
              flush=True)


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
    options = launch_options(args)  # before build_app: the roles decide whether it shows a sign-in button
    reconcile_jobs()
    demo = queue(build_app())
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS, **options)


if __name__ == "__main__":
    main()
