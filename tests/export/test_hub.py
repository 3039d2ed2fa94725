"""Pushing to the hub: offline it fails fast and clearly; success is never claimed without a commit."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from studio.export import hub


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "merged").mkdir()
    (tmp_path / "merged" / "README.md").write_text("card")
    (tmp_path / "merged" / "model.safetensors").write_bytes(b"\0" * 64)
    return tmp_path / "merged"


class FakeHub:
    """Records calls like `HfApi`; `fail` makes the upload raise, `commit` is what it returns."""

    def __init__(self, fail=None, commit="https://huggingface.co/me/iac/commit/abc123"):
        self.fail, self.commit, self.calls = fail, commit, []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))
        return SimpleNamespace(url=f"https://huggingface.co/{repo_id}")

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        if self.fail:
            raise self.fail
        return SimpleNamespace(commit_url=self.commit)


def test_offline_push_fails_in_seconds_and_says_nothing_was_uploaded(folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(hub.PushFailed, match="Cannot reach the Hugging Face Hub.*Nothing was uploaded"):
        hub.push(folder, "me/iac", token="hf_x")
    assert time.monotonic() - started < 5


def test_unreachable_hub_without_the_offline_flag_also_fails_fast(folder, monkeypatch):
    from studio import models

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "HUB_HOST", ("192.0.2.1", 443))  # TEST-NET-1: never routable
    monkeypatch.setattr(models, "HUB_TIMEOUT_S", 1.0)
    started = time.monotonic()
    with pytest.raises(hub.PushFailed, match="Nothing was uploaded"):
        hub.push(folder, "me/iac", token="hf_x")
    assert time.monotonic() - started < 5


def test_a_push_is_one_private_commit_and_reports_its_url(folder):
    fake = FakeHub()
    pushed = hub.push(folder, "me/iac", token="hf_x", api=fake)
    assert pushed.commit_url == "https://huggingface.co/me/iac/commit/abc123"
    assert pushed.private and pushed.files == 2
    assert [call[0] for call in fake.calls] == ["create_repo", "upload_folder"]
    assert fake.calls[0][2]["private"] is True
    assert fake.calls[1][1]["folder_path"] == str(folder)


def test_a_failed_upload_is_an_error_never_a_success(folder):
    with pytest.raises(hub.PushFailed, match="No commit was made"):
        hub.push(folder, "me/iac", token="hf_x", api=FakeHub(fail=ConnectionError("reset by peer")))
    with pytest.raises(hub.PushFailed, match="cannot be confirmed"):
        hub.push(folder, "me/iac", token="hf_x", api=FakeHub(commit=None))


def test_token_comes_from_the_tab_or_the_environment(folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    with pytest.raises(hub.PushFailed, match="No Hugging Face token"):
        hub.push(folder, "me/iac", api=FakeHub())
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert hub.push(folder, "me/iac", api=FakeHub()).commit_url


@pytest.mark.parametrize("repo_id", ["iac", "me/iac/extra", "me/../iac", "", "me/has space"])
def test_bad_repository_ids_are_refused_before_any_call(folder, repo_id):
    fake = FakeHub()
    with pytest.raises(hub.PushFailed):
        hub.push(folder, repo_id, token="hf_x", api=fake)
    assert fake.calls == []
