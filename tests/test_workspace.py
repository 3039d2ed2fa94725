"""The workspace: names stay inside it, and writes are atomic."""

from __future__ import annotations

import os

import pytest

from studio import workspace


def test_home_follows_the_environment(home):
    assert workspace.home() == home.resolve() and home.is_dir()
    assert workspace.runs_dir().parent == home.resolve()


@pytest.mark.parametrize("name", ["../escape", "/etc", "a/b", "..", ".", "", ".hidden", "x" * 200, "a\0b"])
def test_names_that_could_leave_the_folder_are_refused(home, name):
    with pytest.raises(workspace.UnsafeName):
        workspace.inside(workspace.exports_dir(), name)


def test_a_symlink_pointing_out_is_refused(home, tmp_path):
    exports = workspace.exports_dir()
    (exports / "link").symlink_to(tmp_path)
    with pytest.raises(workspace.UnsafeName, match="outside"):
        workspace.inside(exports, "link")


def test_plain_names_are_accepted(home):
    assert workspace.inside(workspace.exports_dir(), "sft-1.v2_final") == workspace.exports_dir() / "sft-1.v2_final"


def test_atomic_write_replaces_whole_or_not_at_all(home, monkeypatch):
    target = home / "data.txt"
    workspace.atomic_write_text(target, "version 1")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        workspace.atomic_write_text(target, "version 2")
    assert target.read_text() == "version 1"
    assert [p.name for p in home.iterdir()] == ["data.txt"], "the temporary file is cleaned up"
