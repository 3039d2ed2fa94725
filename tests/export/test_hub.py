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

    def __init__(self, fail=None, commit="https://huggingface.co/me/iac/commit/abc123", user="me", orgs=()):
        self.fail, self.commit, self.calls = fail, commit, []
        self.user, self.orgs = user, orgs

    def whoami(self, token=None):
        self.calls.append(("whoami", token))
        return {"name": self.user, "orgs": [{"name": org} for org in self.orgs]}

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
    assert [call[0] for call in fake.calls] == ["whoami", "create_repo", "upload_folder"]
    assert fake.calls[1][2]["private"] is True
    assert fake.calls[2][1]["folder_path"] == str(folder)


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


# -- whose token, whose repository (issue 16) ----------------------------------------------------------------


@pytest.fixture
def on_a_space(monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "alice/inframind")
    monkeypatch.setenv("HF_TOKEN", "hf_the_spaces_own_token")


def signed_in(name, orgs=(), token=None):
    """Run as `name` signed in with Hugging Face, as studio.access sets it while the app handles an event."""
    from studio import access

    return access._CURRENT.set(access.User(name, access.OWNER, tuple(orgs), token, name))


def test_on_a_space_the_environments_token_is_never_used(folder, on_a_space):
    fake = FakeHub(user="alice")
    with pytest.raises(hub.PushFailed, match="The Space's own token is never used"):
        hub.push(folder, "alice/iac", api=fake)
    assert fake.calls == []


def test_on_a_space_the_signed_in_owners_oauth_token_pushes(folder, on_a_space):
    from studio import access

    fake = FakeHub(user="alice", commit="https://huggingface.co/alice/iac/commit/1")
    token = signed_in("alice", token="hf_oauth_alice")
    try:
        assert hub.push(folder, "alice/iac", api=fake).commit_url.endswith("/commit/1")
    finally:
        access._CURRENT.reset(token)
    assert fake.calls[0] == ("whoami", "hf_oauth_alice")


def test_a_repository_of_someone_else_is_refused_before_anything_is_created(folder):
    fake = FakeHub(user="me", orgs=("acme",))
    with pytest.raises(hub.PushFailed, match="not yours to push to: the repository must belong to acme or me"):
        hub.push(folder, "victim/models", token="hf_x", api=fake)
    assert [call[0] for call in fake.calls] == ["whoami"]
    assert hub.push(folder, "acme/iac", token="hf_x", api=FakeHub(user="me", orgs=("acme",))).commit_url


def test_on_a_space_a_typed_token_must_be_the_signed_in_owners(folder, on_a_space):
    from studio import access

    fake = FakeHub(user="eve")  # a token of another account, typed in the box
    token = signed_in("alice", token="hf_oauth_alice")
    try:
        with pytest.raises(hub.PushFailed, match="not yours to push to"):
            hub.push(folder, "eve/iac", token="hf_eve", api=fake)
    finally:
        access._CURRENT.reset(token)
    assert "create_repo" not in [call[0] for call in fake.calls]
