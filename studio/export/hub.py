"""Pushing an export folder to the Hugging Face Hub, in one commit, private unless asked otherwise.

    >>> from studio.export import hub
    >>> pushed = hub.push(Path("workspace/exports/iac-smollm2/merged"), "me/iac-smollm2")   # token from HF_TOKEN
    >>> pushed.commit_url
    'https://huggingface.co/me/iac-smollm2/commit/3f2a...'
    >>> hub.push(folder, "me/iac-smollm2")          # offline: fails in seconds
    Traceback (most recent call last):
    PushFailed: Cannot reach the Hugging Face Hub (HF_HUB_OFFLINE is set). Nothing was uploaded. ...

The upload is a single `upload_folder` commit: large files go up first as blobs, and the commit that makes
them visible comes last, so a repository holds all of the export or none of it. Success is reported only
with the commit's URL in hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from studio import models

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


class PushFailed(RuntimeError):
    """A push that did not happen, or did not finish; the message says what to do."""


@dataclass(frozen=True)
class Pushed:
    repo_id: str
    repo_url: str
    commit_url: str
    private: bool
    files: int


def token_from_environment() -> str | None:
    for name in TOKEN_VARIABLES:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return None


def check_repo_id(repo_id: str) -> str:
    """`owner/name`, as the hub spells repository ids; anything else is refused before any network call.

    >>> check_repo_id("me/iac-smollm2")
    'me/iac-smollm2'
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip()
    if repo_id.count("/") != 1:
        raise PushFailed(f"The repository must be written owner/name (like me/iac-smollm2), not {repo_id!r}.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PushFailed(f"{repo_id!r} is not a valid repository id: {error}") from error
    return repo_id


def push(folder: Path, repo_id: str, token: str | None = None, private: bool = True, api=None) -> Pushed:
    """Upload every file of `folder` to the model repository `repo_id` as one commit.

    `token`: the one typed in the tab, else `HF_TOKEN` from the environment. `api` is for tests: an object
    with `create_repo` and `upload_folder` like `huggingface_hub.HfApi`.
    """
    folder = Path(folder)
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not files:
        raise PushFailed(f"{folder} holds no files to push.")
    repo_id = check_repo_id(repo_id)
    token = (token or "").strip() or token_from_environment()
    if not token:
        raise PushFailed(
            "No Hugging Face token: paste a write token in the tab or set HF_TOKEN in the environment "
            "(create one at https://huggingface.co/settings/tokens)."
        )
    if api is None:
        # Bounded by models.HUB_TIMEOUT_S: offline, this says so in seconds instead of retrying for minutes.
        reason = models._hub_reachable()
        if reason:
            raise PushFailed(f"Cannot reach the Hugging Face Hub ({reason}). Nothing was uploaded. "
                             f"The export stays in {folder}; push it again once online.")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            commit_message=f"Upload {folder.parent.name}/{folder.name} from InfraMind Studio",
        )
    except Exception as error:
        raise PushFailed(
            f"The push to {repo_id} failed: {type(error).__name__}: {error}. No commit was made, so the "
            "repository shows none of this export (it may exist, empty, if it was just created)."
        ) from error
    commit_url = getattr(commit, "commit_url", None)
    if not commit_url:
        raise PushFailed(f"The hub answered without a commit for {repo_id}: the upload cannot be confirmed.")
    return Pushed(repo_id, str(getattr(repo_url, "url", repo_url)), commit_url, private, len(files))
