"""Sign-in and roles, tried as a visitor would: `gradio_client` calls, raw queue calls, and a real browser.

The Space is simulated the way Gradio runs one: SPACE_ID and the OAuth variables set, and a session cookie
signed with the key Gradio's SessionMiddleware uses, holding the profile that Hugging Face's sign-in leaves.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from jobs.store import JobStore
from studio import access
from tests.factories import free_port, kill_jobs

SECRET = "test-oauth-secret"
SPACE_ENV = {"SYSTEM": "spaces", "SPACE_ID": "alice/inframind", "SPACE_AUTHOR_NAME": "alice",
             "OAUTH_CLIENT_ID": "client", "OAUTH_CLIENT_SECRET": SECRET, "OAUTH_SCOPES": "openid profile",
             "OPENID_PROVIDER_URL": "https://huggingface.co"}


@contextlib.contextmanager
def studio(home: Path, env: dict, auth: str | None = None):
    """The studio launched as app.py launches it, with `env` set; yields its URL."""
    import gradio.oauth

    import app
    from studio.ui import build_app

    names = {"INFRAMIND_HOME", *env, *SPACE_ENV, "INFRAMIND_OWNERS", "INFRAMIND_AUTH"}
    previous = {name: os.environ.get(name) for name in names}
    patched = {name: getattr(gradio.oauth, name) for name in ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET",
                                                              "OAUTH_SCOPES", "OPENID_PROVIDER_URL")}
    for name in names - set(env):
        os.environ.pop(name, None)
    os.environ.update({"INFRAMIND_HOME": str(home), **env})
    for name in patched:  # gradio.oauth reads them once, when imported
        setattr(gradio.oauth, name, env.get(name))
    try:
        options = app.launch_options(app.parse_args(["--auth", auth] if auth else []))
        demo = app.queue(build_app())
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
        try:
            yield f"http://127.0.0.1:{port}/", demo
        finally:
            demo.close()
            kill_jobs(home)
    finally:
        access.configure(None)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name, value in patched.items():
            setattr(gradio.oauth, name, value)


def session_cookie(username: str, orgs: tuple[str, ...] = ()) -> str:
    """What Gradio's sign-in callback stores, signed as Starlette's SessionMiddleware signs it on a Space."""
    from itsdangerous import TimestampSigner

    session = {"oauth_info": {"userinfo": {"preferred_username": username, "name": username, "picture": "",
                                           "profile": f"https://huggingface.co/{username}",
                                           "orgs": [{"preferred_username": org, "name": org} for org in orgs]},
                              "access_token": f"hf_oauth_{username}", "scope": "openid profile",
                              "expires_at": int(time.time()) + 3600}}
    signer = TimestampSigner(hashlib.sha256((SECRET + "-v4").encode()).hexdigest())
    return signer.sign(base64.b64encode(json.dumps(session).encode())).decode()


def client(url: str, user: str | None = None, orgs: tuple[str, ...] = ()) -> Client:
    headers = {"Cookie": f"session={session_cookie(user, orgs)}"} if user else None
    return Client(url, headers=headers, verbose=False, download_files=False)


def train_launch_arguments(c: Client, **values) -> list:
    """/train_launch's parameters at their defaults, some set by label (model, dataset, output)."""
    parameters = c.view_api(return_format="dict", print_info=False)["named_endpoints"]["/train_launch"]["parameters"]
    arguments = []
    for parameter in parameters:
        label = (parameter.get("label") or "").lower()
        value = parameter.get("parameter_default")
        for key, given in values.items():
            if label.startswith(key):
                value = given
        arguments.append(value)
    return arguments


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    home = tmp_path_factory.mktemp("space") / "workspace"
    with studio(home, SPACE_ENV) as (url, demo):
        yield url, home, demo


def test_an_anonymous_client_cannot_launch_a_job_with_server_paths(space):
    url, home, _ = space
    c = client(url)
    with pytest.raises(Exception, match="is for the owners of this studio \\(alice\\)"):
        c.predict(*train_launch_arguments(c, model="/etc", dataset="/etc/passwd", output="pwned"),
                  api_name="/train_launch")
    assert JobStore(home / "jobs.sqlite").list() == []
    assert not (home / "runs" / "pwned").exists()


@pytest.mark.parametrize("api_name, arguments", [
    ("/jobs_delete", ["sft-1"]), ("/jobs_stop", ["sft-1"]), ("/jobs_resume", ["sft-1"]),
    ("/export_dataset", ["seed", "JSONL", "all"]), ("/push_export", ["e", "merged", "alice/x", "", True]),
    ("/export_votes", []), ("/train_recipe", ["r", "SmolLM2-135M-Instruct (embedded)", "seed", "cpu"]),
])
def test_a_signed_in_visitor_is_refused_every_owner_action(space, api_name, arguments):
    url, home, _ = space
    with pytest.raises(Exception, match="is for the owners"):
        client(url, "mallory").predict(*arguments, api_name=api_name)
    assert JobStore(home / "jobs.sqlite").list() == []


def test_an_event_hidden_from_the_api_is_refused_too(space):
    """api_name=False hides an event from the API page, not from a raw queue call: the check is on the server."""
    url, home, demo = space
    restore = next(i for i, fn in demo.fns.items() if access.event_name(fn.fn) == "studio.ui.dataset:restore_version")
    with httpx.Client(base_url=url, timeout=30) as http:
        joined = http.post("gradio_api/queue/join", json={"data": ["seed", "x"], "fn_index": restore,
                                                            "session_hash": "raw-visitor", "event_data": None})
        assert joined.status_code == 200
        stream = http.get("gradio_api/queue/data", params={"session_hash": "raw-visitor"}).text
    assert "is for the owners" in stream


def test_a_visitor_may_browse_and_view(space):
    url, _, _ = space
    headline = client(url, "mallory").predict(None, api_name="/results")[0]
    assert "No evaluation yet" in headline


def test_a_visitor_reads_only_the_workspaces_results_and_no_export_file(space, tmp_path):
    """The Evaluate tab's results box once read any folder, and exports were served to anyone with the path."""
    url, home, _ = space
    elsewhere = tmp_path / "private-results"
    elsewhere.mkdir()
    (elsewhere / "summary.json").write_text(json.dumps({"rows": 1, "models": [], "secret": "do not show"}))
    headline = client(url, "mallory").predict(str(elsewhere), api_name="/results")[0]
    assert "No evaluation yet" in headline
    weights = home / "exports" / "mine" / "merged" / "model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\0" * 64)
    assert httpx.get(f"{url}gradio_api/file={weights}").status_code == 403


def test_visitors_compare_only_preset_models_and_a_few_times_an_hour(space, monkeypatch):
    url, _, _ = space
    monkeypatch.setattr(access, "VISITOR_COMPARES", access._RateLimit(1))
    c = client(url, "mallory")
    with pytest.raises(Exception, match="Visitors can use the embedded model and the presets"):
        c.predict("/etc", "terraform", "a bucket", 8, 0.0, api_name="/generate")
    with pytest.raises(Exception, match="Visitors may compare 1 times an hour"):
        c.predict("/etc", "terraform", "a bucket", 8, 0.0, api_name="/generate")


def test_the_spaces_owner_and_an_org_member_are_owners(space):
    url, _, _ = space
    # Past the role check, the handler answers about the job itself.
    with pytest.raises(Exception) as error:
        client(url, "alice").predict("sft-1", api_name="/jobs_delete")
    assert "is for the owners" not in str(error.value)
    assert access.role_of("bob", ("acme",), access.Settings(True, frozenset({"acme"}), "acme/studio")) == "owner"


def test_an_org_listed_in_inframind_owners_makes_its_members_owners(space, monkeypatch):
    url, _, _ = space
    monkeypatch.setenv("INFRAMIND_OWNERS", "acme")  # read on every request
    with pytest.raises(Exception) as error:
        client(url, "bob", orgs=("acme",)).predict("sft-1", api_name="/jobs_delete")
    assert "is for the owners" not in str(error.value)
    with pytest.raises(Exception, match="is for the owners of this studio \\(acme\\)"):
        client(url, "alice").predict("sft-1", api_name="/jobs_delete")


def test_locally_with_auth_the_password_users_sign_in_and_the_owner_list_decides(tmp_path):
    with studio(tmp_path / "workspace", {"INFRAMIND_OWNERS": "olivia"}, auth="olivia:pw1,victor:pw2") as (url, _):
        with pytest.raises(Exception, match="is for the owners of this studio \\(olivia\\)"):
            Client(url, auth=("victor", "pw2"), verbose=False).predict("sft-1", api_name="/jobs_delete")
        with pytest.raises(Exception) as error:
            Client(url, auth=("olivia", "pw1"), verbose=False).predict("sft-1", api_name="/jobs_delete")
        assert "is for the owners" not in str(error.value)
        assert httpx.get(url + "config").status_code in (401, 403)  # no login, no studio


def test_locally_without_auth_nothing_changes(space, monkeypatch):
    url, _, _ = space
    monkeypatch.delenv("SYSTEM")  # the same server, no longer on a Space: one user, the owner
    assert not access.settings().roles
    with pytest.raises(Exception) as error:
        Client(url, verbose=False).predict("sft-1", api_name="/jobs_delete")
    assert "is for the owners" not in str(error.value)


def test_every_event_is_owner_only_unless_listed(space):
    """Default deny: of the studio's events, only the listed read-only ones are open to visitors."""
    _, _, demo = space
    visitors = {fn.api_name: access.allowed_for_visitors(fn.fn) for fn in demo.fns.values() if fn.fn is not None}
    by_name = {access.event_name(fn.fn): access.allowed_for_visitors(fn.fn) for fn in demo.fns.values()
               if fn.fn is not None}
    for api_name in ("train_launch", "train_recipe", "jobs_stop", "jobs_resume", "jobs_delete", "save_row",
                     "export_dataset", "export_model", "push_export", "show_export", "evaluate", "export_votes",
                     "footprint"):
        assert visitors[api_name] is False, api_name
    for name in ("dataset:delete_row", "dataset:duplicate_row", "dataset:import_new", "dataset:append_file",
                 "dataset:restore_version", "dataset:show_tokens", "dataset:measure_lengths", "jobs:kill_job",
                 "compare:_ask_judge"):
        assert by_name[f"studio.ui.{name}"] is False, name
    for api_name in ("compare", "generate", "results", "train_preview"):
        assert visitors[api_name] is True, api_name
    assert by_name["studio.ui.dataset:next_page"] and by_name["studio.ui.jobs:refresh"]
    votes = [fn for fn in demo.fns.values() if "vote" in getattr(getattr(fn.fn, "__code__", None), "co_names", ())]
    assert votes and not any(access.allowed_for_visitors(fn.fn) for fn in votes)


def test_a_visitor_in_the_browser_sees_the_sign_in_button_and_cannot_launch(space, browser):
    from playwright.sync_api import expect

    url, home, _ = space
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)
    expect(page.locator("#im-role")).to_contain_text("Not signed in: visitor", timeout=20_000)
    expect(page.locator("#im-login")).to_contain_text("Sign in with Hugging Face")
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-launch").click()
    expect(page.get_by_text("is for the owners of this studio (alice)").first).to_be_visible(timeout=20_000)
    assert JobStore(home / "jobs.sqlite").list() == []

    # Signed in as the Space's owner (the cookie Hugging Face's sign-in leaves), the same page says so.
    context = browser.new_context()
    context.add_cookies([{"name": "session", "value": session_cookie("alice"), "url": url}])
    owner_page = context.new_page()
    owner_page.goto(url)
    expect(owner_page.locator("#im-role")).to_contain_text("Signed in as alice: owner", timeout=20_000)
    context.close()
    page.close()


def test_bounded_uploads_queue_and_temp_files(space):
    """A 60 MB upload is refused while it streams in and nothing of it is kept; the queue and cache are bounded."""
    import tempfile

    import app
    from studio.ui import DELETE_CACHE

    url, _, demo = space
    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    before = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    blob = b"x" * (60 * 2**20)
    response = httpx.post(url + "gradio_api/upload", files={"files": ("big.jsonl", blob)}, timeout=120)
    assert response.status_code == 413, response.text[:200]
    after = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    assert not [p for p in after - before if p.stat().st_size >= 50 * 2**20], "the refused upload was kept"
    assert demo._queue.max_size == app.QUEUE_MAX_SIZE
    assert demo.delete_cache == DELETE_CACHE
