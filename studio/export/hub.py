"""Pushing an export folder to the Hugging Face Hub, in one commit, private unless asked otherwise.

    >>> from studio.export import hub
    >>> pushed = hub.push(Path("workspace/exports/iac-smollm2/merged"), "me/iac-smollm2")   # locally: HF_TOKEN
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

from studio import access, models

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


def check_namespace(repo_id: str, api, token: str, signed_in: access.User | None = None) -> str:
    """The owner part of `repo_id`, when it is the token's user or one of their organizations (and, given
    `signed_in`, the signed-in user or one of theirs); else PushFailed before anything is created or written.

    >>> class Hub:
    ...     def whoami(self, token=None): return {"name": "me", "orgs": [{"name": "acme"}]}
    >>> check_namespace("acme/iac", Hub(), "hf_x")
    'acme'
    """
    namespace = repo_id.split("/")[0]
    try:
        identity = api.whoami(token=token)
    except Exception as error:
        raise PushFailed(f"The token was refused by the hub ({type(error).__name__}: {error}); nothing was "
                         "uploaded. Sign in again or paste a valid write token.") from error
    mine = {identity.get("name", "")} | {org.get("name", "") for org in identity.get("orgs") or []}
    mine = {name.lower() for name in mine if name}
    if signed_in is not None:
        mine &= {name.lower() for name in (signed_in.name, *signed_in.orgs) if name}
    if namespace.lower() not in mine:
        raise PushFailed(f"{repo_id} is not yours to push to: the repository must belong to "
                         f"{' or '.join(sorted(mine)) or 'the signed-in user'}. Nothing was uploaded.")
    return namespace


def push(folder: Path, repo_id: str, token: str | None = None, private: bool = True, api=None) -> Pushed:
    """Upload every file of `folder` to the model repository `repo_id` as one commit.

    `token`: the one typed in the tab; else, on a Space, the signed-in owner's Hugging Face sign-in
    (`studio.access.current().token`), never the Space's own `HF_TOKEN`; locally, `HF_TOKEN` from the
    environment. The repository must belong to the token's user or one of their organizations (and on a Space
    to the signed-in user's), so a push never writes into someone else's repository that a token could reach.
    `api` is for tests: an object with `whoami`, `create_repo` and `upload_folder` like `huggingface_hub.HfApi`.
    """
    folder = Path(folder)
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not files:
        raise PushFailed(f"{folder} holds no files to push.")
    repo_id = check_repo_id(repo_id)
    user = access.current()
    on_space = access.settings().space is not None
    token = (token or "").strip() or (user.token if on_space else token_from_environment())
    if not token:
        if on_space:
            raise PushFailed("No Hugging Face token: sign in with Hugging Face (the button at the top), or paste a "
                             "write token of yours in the tab. The Space's own token is never used for a push.")
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
    check_namespace(repo_id, api, token, signed_in=user if on_space else None)
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
