"""`validate` returns a verdict for any input, in bounded time and memory, and kills no process.

    python -m pytest tests/iac/test_hostile_inputs.py -q -s -n 0   # -s prints the fuzz figures (in one process)

The inputs of issue 16 (each once crashed or stalled the app), then a few thousand hostile ones that
hypothesis builds from the characters parsers nest on, repeated runs of them, fences and aliases.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.iac import Report, isolated, validate

# A verdict comes within this, on a loaded 2-core machine; the slowest seen here is well under a second.
BUDGET_S = 5.0
FUZZ_EXAMPLES = int(os.environ.get("INFRAMIND_FUZZ_EXAMPLES", "2000"))

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f'{new}: &{new} [{",".join(["*" + old] * 9)}]\n' for old, new in zip("abcdefgh", "bcdefghi"))

# The findings of issue 16, exactly: libyaml segfault, RecursionError, lark's VisitError, 87 s and 2 GB,
# quadratic fence regex.
ISSUE_INPUTS = {
    "24 KB of { in a yaml fence": "```yaml\n" + "{" * 24_000 + "\n```",
    "23,000 [": "[" * 23_000,
    "23,000 [ in a yaml fence": "```yaml\n" + "[" * 23_000 + "\n```",
    "10,000 nested HCL blocks": 'resource "aws_s3_bucket" "b" {\n' + "x {" * 10_000 + "}" * 10_001,
    "10,000 nested HCL blocks, fenced": "```hcl\n" + "".join(f"b{i} {{\n" for i in range(10_000)) + "}\n" * 10_000
                                       + "```",
    "YAML alias bomb": "```yaml\n" + ALIAS_BOMB + "```",
    "1 MB of backticks": "`" * 1_000_000,
    "128 KB of backticks on lines": "```\n" * 32_000,
    "binary": "\x00\x01\x02" * 1000,
    # Found by the fuzzing: the pure-Python YAML scanner is quadratic in open brackets (200 KB: minutes).
    "200 KB of { in a yaml fence": "```yaml\na: x \"\n" + "{" * 199_000 + "\n```",
}


def test_the_alias_bomb_is_the_issues_size():
    assert 300 < len(ALIAS_BOMB) < 600  # 546 bytes in the issue; 9^9 = 387 million nodes expanded


@pytest.mark.parametrize("name", list(ISSUE_INPUTS))
@pytest.mark.parametrize("kind", [None, "terraform", "kubernetes"])
def test_each_input_of_the_issue_gets_a_failed_verdict_in_time(name, kind):
    started = time.perf_counter()
    report = validate(ISSUE_INPUTS[name], kind)
    assert time.perf_counter() - started < BUDGET_S
    assert isinstance(report, Report)
    assert not report.ok
    assert report.reasons(), "a failed verdict says why"


def test_nested_hcl_blocks_that_fit_the_line_limit_are_refused_with_a_reason():
    report = validate(ISSUE_INPUTS["10,000 nested HCL blocks"], "terraform", max_lines=100_000)
    assert report.parses.status == "failed"
    assert "nested deeper than 100 levels" in report.parses.reasons[0].message


def test_the_alias_bomb_is_refused_before_it_is_expanded():
    report = validate(ISSUE_INPUTS["YAML alias bomb"], "kubernetes")
    assert report.parses.status == "failed"
    assert "alias bomb" in report.parses.reasons[0].message


def test_deep_yaml_is_refused_by_the_python_loader_not_crashed_by_the_c_one():
    report = validate(ISSUE_INPUTS["24 KB of { in a yaml fence"], "kubernetes")
    assert "nested deeper than 100 levels" in report.parses.reasons[0].message


def test_ordinary_answers_still_pass():
    bucket = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n```'
    assert validate(bucket, "terraform").parses.passed
    pod = "```yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: nginx}]\n```"
    assert validate(pod, "kubernetes").schema.passed


def test_in_the_app_the_issue_inputs_run_in_a_worker_that_survives_them():
    with isolated.untrusted():
        validate("```hcl\nlocals {}\n```", "terraform")
        before = isolated.worker_pids()
        for name, text in ISSUE_INPUTS.items():
            report = validate(text, "kubernetes")
            assert not report.ok, name
        assert set(isolated.worker_pids()) >= set(before), "a hostile answer killed a validation worker"


def test_a_worker_that_runs_over_its_time_is_replaced_and_the_answer_fails(monkeypatch):
    with isolated.untrusted():
        validate("```hcl\nlocals {}\n```", "terraform")  # the workers are up
        monkeypatch.setattr(isolated, "TIME_LIMIT_S", 0.3)
        report = validate("```\n" * 250_000, "terraform")  # a megabyte of empty fences: about 2 s of work
    assert not report.ok
    assert "took longer than" in report.extracted.reasons[0].message
    monkeypatch.undo()
    with isolated.untrusted():
        assert validate('```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n```', "terraform").parses.passed


# -- fuzzing ------------------------------------------------------------------------------------------------

NESTERS = ["{", "[", "(", "}", "]", ")", '"', "'", ":", "- ", "? ", "&a ", "*a", "<<: ", "\n", "  ", "\t", "#",
           "`", "```", "~~~", "${", "<<EOF\n", "EOF\n", "/*", "*/", "\\", "\x00", "\r", "---\n", "!!python/object ",
           "&x [", "*x, ", "resource \"aws_s3_bucket\" \"b\" {\n", "apiVersion: v1\nkind: Pod\n", "a: ", "= "]

pieces = st.one_of(st.sampled_from(NESTERS), st.text(max_size=20))
repeated = st.tuples(pieces, st.integers(1, 30_000)).map(lambda p: p[0] * min(p[1], 50_000 // max(1, len(p[0]))))
bodies = st.lists(st.one_of(pieces, repeated), max_size=12).map("".join)
answers = st.one_of(
    bodies,
    st.tuples(st.sampled_from(["yaml", "hcl", "", "json", "yml", "tf"]), bodies).map(lambda t: f"```{t[0]}\n{t[1]}\n```"),
    st.binary(max_size=2000),
)

FIGURES = {"inputs": 0, "slowest_s": 0.0, "slowest_len": 0, "largest": 0, "rss_before_mb": 0.0}


@pytest.fixture(scope="module")
def warm():
    """The schemas loaded and compiled once before timing (the first Kubernetes check compiles its schema)."""
    validate('```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n```', "terraform")
    validate("```yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n```")
    _forget_the_peak()
    FIGURES["rss_before_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _forget_the_peak():
    """The process's peak memory starts again from what it holds now, so that the figure is the fuzzing's and not
    that of a test run before it in the same process (Linux: writing 5 to clear_refs resets the peak)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the figure stays the process's whole peak, a bound above the fuzzing's


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.function_scoped_fixture])
@given(text=answers, kind=st.sampled_from([None, "terraform", "kubernetes"]))
def test_fuzz_validate_always_gives_a_verdict_in_time(warm, text, kind):
    started = time.perf_counter()
    report = validate(text, kind)
    took = time.perf_counter() - started
    assert isinstance(report, Report)
    assert set(report.verdicts) == {"extracted", "parses", "schema", "intent", "best_practice"}
    assert took < BUDGET_S, f"{took:.1f} s for {len(text):,} characters"
    FIGURES["inputs"] += 1
    FIGURES["largest"] = max(FIGURES["largest"], len(text))
    if took > FIGURES["slowest_s"]:
        FIGURES["slowest_s"], FIGURES["slowest_len"], FIGURES["slowest"] = took, len(text), (text, kind)


def test_fuzz_figures():
    """Printed with `-s`: how many inputs were tried, the slowest verdict and this process's peak memory since the
    fuzzing began."""
    if not FIGURES["inputs"]:
        pytest.skip("run with the fuzz test")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nfuzz: {FIGURES['inputs']:,} inputs tried (largest {FIGURES['largest']:,} characters), slowest verdict "
          f"{FIGURES['slowest_s']:.3f} s ({FIGURES['slowest_len']:,} characters), peak memory of the test process "
          f"since the fuzzing began {peak_mb:.0f} MB ({FIGURES['rss_before_mb']:.0f} MB before the fuzzing)")
    if os.environ.get("INFRAMIND_FUZZ_SLOWEST"):  # keep the slowest input to look at
        import pickle

        Path(os.environ["INFRAMIND_FUZZ_SLOWEST"]).write_bytes(pickle.dumps(FIGURES["slowest"]))
    assert FIGURES["inputs"] >= min(FUZZ_EXAMPLES, 1000)
    assert peak_mb < 2048


def test_the_workers_run_under_a_memory_limit():
    with isolated.untrusted():
        validate("```hcl\nlocals {}\n```", "terraform")
    pid = isolated.worker_pids()[0]
    limits = open(f"/proc/{pid}/limits").read()
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert address_space.split()[3] == str(isolated.MEMORY_LIMIT_BYTES)
