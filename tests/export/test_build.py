"""The export folder: whole or absent, inside the workspace, never overwritten unasked, listed only when complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from studio import dataset, examples, workspace
from studio.export import build, gguf
from studio.export.build import ExportError, ExportExists, ExportRequest, build_export, list_exports

QUICK = dict(formats=("adapter", "gguf"), gguf_types=("F16",), llama_cpp_check=False)


def test_an_export_holds_every_format_its_cards_and_its_checks(run, home):
    # The run was trained with worked examples: their pool goes with every format (studio.examples).
    pool = examples.save_pool(home / "runs" / run / "adapter", dataset.read_jsonl("data/train.jsonl")[:3], rerank=40)
    export = build_export(ExportRequest(run=run, name="iac-tiny", gguf_types=("F16", "Q4_0")))
    assert export.folder == home / "exports" / "iac-tiny"
    paths = {f.path for f in export.files}
    assert {
        "README.md", "checks.json",
        "merged/model.safetensors", "merged/config.json", "merged/generation_config.json",
        "merged/tokenizer.json", "merged/chat_template.jinja", "merged/README.md",
        "adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter/README.md",
        "gguf/iac-tiny-F16.gguf", "gguf/iac-tiny-Q4_0.gguf", "gguf/Modelfile", "gguf/README.md",
    } <= paths
    assert all(f.size == (export.folder / f.path).stat().st_size for f in export.files)
    for folder in ("merged", "adapter", "gguf"):
        assert (export.folder / folder / examples.POOL_FILE).read_bytes() == pool.read_bytes(), folder
        assert examples.rerank_of(export.folder / folder) == 40, "and how its examples are chosen"
        assert "**Ask it with a worked example.**" in (export.folder / folder / "README.md").read_text()

    checks = export.checks
    assert checks["merged"]["largest_logit_difference"] < 1e-4 and checks["merged"]["greedy_identical"]
    assert checks["gguf F16"]["largest_logit_difference"] < 5e-3 and checks["gguf F16"]["tokenizer_identical"]
    assert checks["gguf F16"]["llama_cpp"]["largest_logit_difference"] < 1e-2
    assert "llama_cpp" in checks["gguf Q4_0"]
    assert json.loads((export.folder / "checks.json").read_text()) == checks

    card = (export.folder / "merged" / "README.md").read_text()
    assert "| fine-tuned | 100.0% | 95.0% | 87.5% | 70.0% | 60.0% | 52.5% |" in card  # the evaluation table
    assert "learning_rate: 0.0002" in card and "Dataset: data/train.jsonl" in card  # job.yaml
    assert "merged vs base + adapter" in card
    modelfile = (export.folder / "gguf" / "Modelfile").read_text()
    assert "FROM ./iac-tiny-F16.gguf" in modelfile and "Answer with Terraform" in modelfile
    assert [e.name for e in list_exports()] == ["iac-tiny"]


@pytest.mark.parametrize(
    "name", ["../outside", "..", ".", "/tmp/absolute", "a/b", "", ".hidden", "x" * 200, "bad name", "é"]
)
def test_export_names_that_leave_the_exports_folder_are_refused(run, home, name):
    workspace.exports_dir()  # the (empty) exports folder itself may be created
    before = set(home.parent.rglob("*"))
    with pytest.raises(workspace.UnsafeName):
        build_export(ExportRequest(run=run, name=name, **QUICK))
    assert set(home.parent.rglob("*")) == before, "a refused export must write nothing anywhere"


def test_a_symlink_planted_in_the_exports_folder_is_refused(run, home, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (home / "exports").mkdir(exist_ok=True)
    (home / "exports" / "link").symlink_to(outside)
    with pytest.raises(workspace.UnsafeName, match="outside"):
        build_export(ExportRequest(run=run, name="link", **QUICK))
    assert list(outside.iterdir()) == []


def test_run_names_are_plain_names_too(run, home):
    with pytest.raises(workspace.UnsafeName):
        build_export(ExportRequest(run="../runs/sft-1", name="x", **QUICK))
    with pytest.raises(ExportError, match="no final adapter"):
        build_export(ExportRequest(run="no-such-run", name="x", **QUICK))


def test_an_existing_export_is_kept_unless_overwrite_is_confirmed(run, home):
    first = build_export(ExportRequest(run=run, name="iac", formats=("adapter",)))
    card = first.folder / "adapter" / "README.md"
    card.write_text("edited by hand")
    with pytest.raises(ExportExists, match="overwrite"):
        build_export(ExportRequest(run=run, name="iac", formats=("adapter",)))
    assert card.read_text() == "edited by hand"

    build_export(ExportRequest(run=run, name="iac", formats=("adapter",), overwrite=True))
    assert card.read_text() != "edited by hand"
    assert [p.name for p in (home / "exports").iterdir()] == ["iac"], "no leftovers of the replaced export"


def _merge_that_fails(adapter, base, progress=None):
    raise MemoryError("out of memory while merging")


def test_a_failed_export_leaves_no_folder_and_nothing_listed(run, home, monkeypatch):
    from studio.export import merge

    # The adapter is copied first, so the partial folder holds real files when the merge fails.
    monkeypatch.setattr(merge, "merge_adapter", _merge_that_fails)
    with pytest.raises(MemoryError):
        build_export(ExportRequest(run=run, name="iac"))
    assert list((home / "exports").iterdir()) == []
    assert list_exports() == []


def test_a_half_written_gguf_file_is_removed_with_its_export(run, home, monkeypatch):
    def write_half_then_fail(model, tokenizer, path, file_type, **kwargs):
        path.write_bytes(b"GGUF" + b"\0" * 1000)  # what a full disk leaves
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf, "write", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        build_export(ExportRequest(run=run, name="iac", formats=("gguf",), gguf_types=("Q8_0",)))
    assert list((home / "exports").iterdir()) == []


def test_a_failed_overwrite_keeps_the_previous_export(run, home, monkeypatch):
    from studio.export import merge

    build_export(ExportRequest(run=run, name="iac", formats=("adapter",)))
    monkeypatch.setattr(merge, "merge_adapter", _merge_that_fails)
    with pytest.raises(MemoryError):
        build_export(ExportRequest(run=run, name="iac", overwrite=True))
    assert [e.name for e in list_exports()] == ["iac"]
    assert [p.name for p in (home / "exports").iterdir()] == ["iac"]


def test_a_killed_export_leaves_only_a_hidden_partial_that_is_never_listed_and_later_removed(run, home):
    # A real process killed mid-export: its partial folder has files but no completion marker.
    script = (
        "import os, signal\n"
        "from studio.export import build\n"
        "copy = build.copy_adapter\n"
        "def copy_then_die(*args):\n"
        "    copy(*args)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "build.copy_adapter = copy_then_die\n"
        "build.build_export(build.ExportRequest(run='sft-1', name='iac', formats=('adapter',)))\n"
    )
    env = dict(os.environ, INFRAMIND_HOME=str(home), PYTHONPATH=os.getcwd())
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    leftovers = list((home / "exports").iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".iac.partial-")
    assert (leftovers[0] / "adapter" / "adapter_model.safetensors").exists()
    assert not (leftovers[0] / build.MARKER).exists()
    assert list_exports() == []
    assert not (home / "exports" / "iac").exists()

    build_export(ExportRequest(run=run, name="other", formats=("adapter",)))  # cleans up after the dead one
    assert sorted(p.name for p in (home / "exports").iterdir()) == ["other"]


def test_a_folder_whose_files_changed_after_the_marker_is_not_an_export(run, home):
    export = build_export(ExportRequest(run=run, name="iac", formats=("adapter",)))
    assert list_exports()
    weights = export.folder / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated after the fact
    assert list_exports() == []
    with pytest.raises(ExportError, match="no complete export"):
        build.find_export("iac")


def test_requests_are_validated_with_what_to_change():
    with pytest.raises(ExportError, match="at least one format"):
        ExportRequest(run="r", name="n", formats=())
    with pytest.raises(ExportError, match="GGUF type"):
        ExportRequest(run="r", name="n", formats=("gguf",), gguf_types=("Q4_K",))
    with pytest.raises(ExportError, match="dtype"):
        ExportRequest(run="r", name="n", dtype="int8")
    assert ExportRequest(run="r", name="n", formats=["adapter"]).formats == ("adapter",)


def test_on_a_shared_studio_an_owner_keeps_a_few_exports_and_none_on_a_full_disk(run, monkeypatch):
    """Issue 16: per-owner export quota (replacing one's own export is fine) and a free-space check."""
    from studio import access
    from studio.export import build

    monkeypatch.setenv("INFRAMIND_OWNERS", "alice")
    monkeypatch.setattr(build, "MAX_EXPORTS_PER_OWNER", 1)
    adapter_only = dict(formats=("adapter",), llama_cpp_check=False)
    token = access._CURRENT.set(access.User("alice", access.OWNER, key="alice"))
    try:
        first = build_export(ExportRequest(run=run, name="mine", **adapter_only))
        assert build.export_owner(first) == "alice"
        build_export(ExportRequest(run=run, name="mine", overwrite=True, **adapter_only))
        with pytest.raises(ExportError, match="already keep 1 exports \\(mine\\); the limit is 1"):
            build_export(ExportRequest(run=run, name="another", **adapter_only))
        monkeypatch.setattr(build, "MAX_EXPORTS_PER_OWNER", 5)
        monkeypatch.setenv("INFRAMIND_MIN_FREE_GB", "1000000")
        with pytest.raises(OSError, match="not enough free space for the export another"):
            build_export(ExportRequest(run=run, name="another", **adapter_only))
    finally:
        access._CURRENT.reset(token)
    assert [e.name for e in build.list_exports()] == ["mine"]
