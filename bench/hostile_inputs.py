"""The hostile inputs of issue 16: what the bare parsers did with them (the baseline), what `validate` does now.

    python bench/hostile_inputs.py              # each case in a process of its own, limited to 60 s and 3 GB

Baseline: the parser each input reached before the fix, called as the validators called it then (libyaml's C
loader, python-hcl2, json.loads in the language sniffer, the whole-text fence regex). Now: `studio.iac.validate`.
Each run is a fresh process, so a crash (a segfault) is reported as the signal that ended it. Times are of the
call alone (imports and the schema load come first); the peak is the whole process's resident memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT_S = 60
MEMORY_LIMIT = 3 * 2**30

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f'{new}: &{new} [{",".join(["*" + old] * 9)}]\n' for old, new in zip("abcdefgh", "bcdefghi"))
NESTED_HCL = 'resource "aws_s3_bucket" "b" {\n' + "x {" * 10_000 + "}" * 10_001

# (name, the text, the baseline's code run on it as `text`)
CASES = [
    ("24 KB of { in a yaml fence", "```yaml\n" + "{" * 24_000 + "\n```",
     "yaml.load(text[8:-4], Loader=yaml.CSafeLoader)"),
    ("23,000 [", "[" * 23_000, "json.loads(text)"),
    ("10,000 nested HCL blocks", NESTED_HCL, "hcl2.parses(text)"),
    ("546-byte YAML alias bomb", "```yaml\n" + ALIAS_BOMB + "```",
     "json.dumps(yaml.load(text[8:-3], Loader=yaml.CSafeLoader))"),
    ("128 KB of backticks", "`" * 131_072,
     "F = re.compile(r'^[ \\t]*(?P<fence>`{3,}|~{3,})[ \\t]*(?P<tag>[\\w+#.-]*)[^\\n]*\\n(?P<body>.*?)"
     "(?:(?P<close>^[ \\t]*(?P=fence)[ \\t]*$)|\\Z)', re.M | re.S); list(F.finditer(text))"),
    ("1 MB of backticks", "`" * 1_000_000, None),
]

CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
text = json.load(open(sys.argv[1]))
{setup}
started = time.perf_counter()
{code}
print(json.dumps({{"seconds": time.perf_counter() - started,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
BASELINE_SETUP = "import re, yaml, hcl2"
AFTER_SETUP = "from studio.iac import validate; validate('locals {}', 'terraform')  # imports and schema loaded"
AFTER = "print(validate(text).summary(), file=sys.stderr)"


def run(setup: str, code: str, text_file: Path) -> str:
    child = CHILD.format(limit=MEMORY_LIMIT, setup=setup, code=code)
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", child, str(text_file)], cwd=ROOT, capture_output=True, text=True,
                              timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        return f"still running after {TIME_LIMIT_S} s"
    if done.returncode < 0:
        return f"process killed by signal {-done.returncode} after {time.perf_counter() - started:.1f} s"
    if done.returncode:
        error = (done.stderr.strip().splitlines() or ["?"])[-1][:40]
        return f"raised {error}"
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return f"{figures['seconds']:.2f} s, peak {figures['peak_mb']:.0f} MB"


def main() -> None:
    import tempfile

    print(f"{'input':28} | {'baseline: the bare parser':48} | now: validate")
    print(f"{'-' * 28} | {'-' * 48} | {'-' * 30}")
    with tempfile.TemporaryDirectory() as folder:
        for name, text, baseline in CASES:
            text_file = Path(folder) / "text.json"
            text_file.write_text(json.dumps(text))
            before = run(BASELINE_SETUP, baseline, text_file) if baseline else "(minutes: not run)"
            print(f"{name:28} | {before:48} | {run(AFTER_SETUP, AFTER, text_file)}", flush=True)


if __name__ == "__main__":
    main()
