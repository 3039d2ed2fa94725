"""The embedded model's first-run conversion (`studio.models.materialize_embedded`): GGUF to a Hugging Face folder.
Baseline: the same conversion without `_gguf_read_once`, where transformers parses the GGUF for the config, the
tokenizer and the weights and builds gguf's tensor-name map once per module.

    python bench/embedded_conversion.py            # each way twice, alternating, each in a fresh process and workspace

Prints the seconds of each conversion (timed inside the process, after its imports) and whether the two ways wrote
the same files, byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import models  # noqa: E402

WAYS = ("plain", "studio")


def convert(way: str) -> None:
    """One conversion into $INFRAMIND_HOME; prints its seconds as JSON."""
    import transformers  # noqa: F401  (imported before the clock starts, as the app has by then)

    if way == "plain":
        models._gguf_read_once = contextlib.nullcontext
    started = time.monotonic()
    models.materialize_embedded()
    print(json.dumps({"way": way, "seconds": round(time.monotonic() - started, 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="conversions of each way")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)  # one conversion, in this process
    args = parser.parse_args()
    if args.way:
        return convert(args.way)
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            for way in WAYS:
                home = Path(scratch) / f"{way}-{round_}"
                result = subprocess.run([sys.executable, __file__, "--way", way], capture_output=True, text=True,
                                        env={**os.environ, "INFRAMIND_HOME": str(home)})
                if result.returncode:
                    sys.exit(f"the {way} conversion failed:\n{result.stderr[-2000:]}")
                seconds[way].append(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
                print(f"[conversion] {way}: {seconds[way][-1]:.1f} s", flush=True)
        folders = [next((Path(scratch) / f"{way}-0" / "models").iterdir()) for way in WAYS]
        # the completion marker records the conversion's seconds: it differs by design
        names = sorted(path.name for path in folders[0].iterdir() if path.name != models.COMPLETE_MARKER)
        same = [name for name in names if filecmp.cmp(folders[0] / name, folders[1] / name, shallow=False)]
    plain, studio = (statistics.median(seconds[way]) for way in WAYS)
    print(f"\nmedian of {args.rounds}: baseline (plain) {plain:.1f} s, studio {studio:.1f} s ({plain / studio:.2f}x)")
    print(f"files alike byte for byte: {len(same)} of {len(names)}" +
          ("" if len(same) == len(names) else f" (differ: {', '.join(sorted(set(names) - set(same)))})"))


if __name__ == "__main__":
    main()
