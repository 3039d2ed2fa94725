"""How long `python app.py` takes to serve the studio, on a first run (empty workspace: the embedded model is
converted from its GGUF) and warm (the model cache in place). Baseline: the first run.

    python bench/app_start.py                # one first run and two warm starts, each in a workspace of its own

Each start is timed from the process's launch to (1) the page answering HTTP 200 and (2) the embedded model
loaded and ready to answer (the app prepares it in the background; its log says "[embedded model] loaded").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/app_start.py` from anywhere

from tests.factories import free_port  # noqa: E402


def start_once(home: Path, timeout: float = 600) -> tuple[float, float]:
    port = free_port()
    log = home / "app.log"
    started = time.monotonic()
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=handle,
                                   stderr=subprocess.STDOUT, env={**os.environ, "INFRAMIND_HOME": str(home)})
    page = ready = None
    try:
        while time.monotonic() - started < timeout and (page is None or ready is None):
            if process.poll() is not None:
                sys.exit(f"app.py ended with {process.returncode}:\n{log.read_text()[-2000:]}")
            if page is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        if response.status == 200:
                            page = time.monotonic() - started
                except OSError:
                    pass
            if ready is None and "[embedded model] loaded" in log.read_text():
                ready = time.monotonic() - started
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    if page is None or ready is None:
        sys.exit(f"not ready within {timeout:.0f} s:\n{log.read_text()[-2000:]}")
    return page, ready


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="inframind-start-") as tmp:
        home = Path(tmp) / "workspace"
        home.mkdir()
        print(f"{'start':<12} {'page served':>12} {'model ready':>12}")
        page, ready = start_once(home)
        print(f"{'first run':<12} {page:>11.1f}s {ready:>11.1f}s", flush=True)
        for attempt in (1, 2):
            (home / "app.log").unlink()
            for name in ("datasets", "jobs.sqlite"):  # keep only the model cache between starts
                target = home / name
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
            page, ready = start_once(home)
            print(f"{f'warm {attempt}':<12} {page:>11.1f}s {ready:>11.1f}s", flush=True)


if __name__ == "__main__":
    main()
