"""Who may do what: owners train, edit, export and push; visitors of a public Space get a read-only demo.

    >>> from studio import access
    >>> access.settings().roles                      # locally: one user, the owner, no sign-in
    False
    >>> access.current().role
    'owner'
    >>> demo = access.protect(build_app())           # done by studio.ui.build_app: every event is checked

Roles are on when the studio runs as a Hugging Face Space (`SYSTEM=spaces` and `SPACE_ID`, as Gradio tells), when `--auth user:password` is
given (Gradio's login page), or when `INFRAMIND_OWNERS` is set. Then:

- **owner**: a signed-in user named in `INFRAMIND_OWNERS` (comma-separated users and organizations), or a member
  of an organization named there. By default the Space's owner (`SPACE_AUTHOR_NAME`, else the first part of
  `SPACE_ID`); with `--auth`, every user of the password list.
- **visitor**: everyone else, signed in or not. Visitors may call only the events of `VISITOR_EVENTS` (browse
  the dataset, view runs and evaluations, Compare on the preset models, at most
  `VISITOR_COMPARES_PER_HOUR` a visitor); any other event is refused on the server before it runs.

`protect(demo)` wraps `demo.process_api`, the one door every event of the page, of `gradio_client` and of the
HTTP API goes through, so a handler added by anyone is owner-only until it is named in `VISITOR_EVENTS`
(default deny). While an event runs, `current()` is the user who sent it, and `studio.iac.validate` checks
text in a worker process (`studio.iac.isolated`). Hiding buttons is a courtesy on top, not the protection.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import os
import threading
import time
import types
from dataclasses import dataclass, field

OWNER, VISITOR = "owner", "visitor"
OWNERS_ENV = "INFRAMIND_OWNERS"
AUTH_ENV = "INFRAMIND_AUTH"  # "user:password,user2:password2", the same as --auth

VISITOR_COMPARES_PER_HOUR = int(os.environ.get("INFRAMIND_VISITOR_COMPARES_PER_HOUR", "20"))

# The events a visitor may trigger, by the name of the function the event calls: "module:function". A lambda is
# allowed when every studio function it calls is (`_allowed`). Everything else needs the owner.
VISITOR_EVENTS = {
    "studio.ui": {"role_banner"},
    # Dataset tab: browse, search, page, pick a row and see its verdict; no saving, importing or exporting.
    "studio.ui.dataset": {"seed_view", "first_view", "dataset_view", "first_page", "previous_page", "next_page",
                          "table_page", "check_all", "pick_row", "preview_row", "new_row", "clear_editor",
                          "current_version_id", "dataset_names", "page_of_row",
                          # names before issue 18's refactor, should a branch still wire them
                          "table", "whole", "pick", "preview", "show_row"},
    # Jobs tab: the list, a job's page, its plots and log (the timer); no stop, resume or delete.
    "studio.ui.jobs": {"refresh", "choose", "hide"},
    # Compare: the preset models and the runs' adapters (studio.models refuses other models to a visitor).
    "studio.ui.compare": {"_compare", "generate", "_pick_example", "_refresh", "pick_base_for"},
    "studio.ui.widgets": {"pick_base_for"},
    # Evaluate: the results already there; no launching.
    "studio.ui.evaluate": {"show_results", "_list_results", "_filter", "show_row", "watch", "preview",
                           "refresh_lists"},
    # Train: the form's preview (it only writes text) and switching the form's kind.
    # The pickers read again on opening the tab, the rows note, and the form's check (it only reads).
    "studio.ui.train": {"switch_kind", "preview", "preview_form", "refresh_adapters", "refresh_lists", "rows_note",
                        "check", "model_of_recipe"},
    # Export: the lists of runs and exports; no export, no push, no files.
    "studio.ui.export": {"_suggest_name", "refresh_choices", "gguf_types_for"},
}
# Events that spend compute a visitor may still start, each counted against the visitor's hourly allowance.
RATE_LIMITED = {"studio.ui.compare:_compare", "studio.ui.compare:generate"}


class AccessDenied(PermissionError):
    """An action the current user's role does not allow; the message says who may and how to sign in."""


@dataclass(frozen=True)
class User:
    """Who sent the event: `name` None for an anonymous visitor; `orgs` from the Hugging Face profile;
    `token` the OAuth access token of a signed-in user (never the environment's)."""

    name: str | None
    role: str
    orgs: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)
    key: str = ""  # what rate limits count by: the user name, else the browser session

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER


LOCAL_OWNER = User("local", OWNER, key="local")


@dataclass(frozen=True)
class Settings:
    roles: bool
    owners: frozenset[str]
    space: str | None
    passwords: tuple[tuple[str, str], ...] = ()

    @property
    def sign_in(self) -> str:
        """"huggingface" (a Space, or the owner list set locally), "password" (--auth) or "" (local, open)."""
        if not self.roles:
            return ""
        return "password" if self.passwords and not self.space else "huggingface"


_configured: dict = {}


def configure(auth: str | None = None) -> Settings:
    """Set the password list of `--auth` ("user:password,..."); returns the settings now in force."""
    _configured["auth"] = auth
    return settings()


def _passwords(text: str | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in (text or "").split(","):
        if item.strip():
            user, sep, password = item.strip().partition(":")
            if not sep or not user or not password:
                raise ValueError(f"--auth takes user:password pairs separated by commas, not {item.strip()!r}")
            pairs.append((user, password))
    return tuple(pairs)


def settings() -> Settings:
    # What Gradio itself takes for a Space (gradio.utils.get_space): its sign-in routes follow the same test.
    space = os.environ.get("SPACE_ID") if os.environ.get("SYSTEM") == "spaces" else None
    passwords = _passwords(_configured.get("auth") or os.environ.get(AUTH_ENV))
    listed = frozenset(n.strip().lower() for n in os.environ.get(OWNERS_ENV, "").split(",") if n.strip())
    owners = listed
    if not owners and space:
        owners = frozenset({(os.environ.get("SPACE_AUTHOR_NAME") or space.split("/")[0]).lower()})
    if not owners and passwords:
        owners = frozenset(user.lower() for user, _ in passwords)
    return Settings(roles=bool(space or passwords or listed), owners=owners, space=space, passwords=passwords)


def role_of(name: str | None, orgs: tuple[str, ...] = (), current: Settings | None = None) -> str:
    """OWNER when `name`, or one of the organizations it belongs to, is an owner; else VISITOR.

    >>> role_of("alice", (), Settings(True, frozenset({"alice"}), "alice/studio"))
    'owner'
    >>> role_of("bob", ("acme",), Settings(True, frozenset({"acme"}), "acme/studio"))
    'owner'
    >>> role_of(None, (), Settings(True, frozenset({"alice"}), "alice/studio"))
    'visitor'
    """
    current = current or settings()
    if not current.roles:
        return OWNER
    names = {n.lower() for n in (name, *orgs) if n}
    return OWNER if name and names & current.owners else VISITOR


# -- who sent this request -------------------------------------------------------------------------------


def _session(request) -> dict:
    """The signed session cookie's content (where Gradio's Hugging Face sign-in keeps the profile)."""
    if request is None:
        return {}
    underlying = getattr(request, "request", None) or request
    scope = getattr(underlying, "scope", None)
    if isinstance(scope, dict):
        return scope.get("session") or {}
    try:
        return getattr(underlying, "session", None) or {}
    except (AttributeError, AssertionError):
        return {}


def user_of(request) -> User:
    """The user behind a Gradio request: the Hugging Face profile of the session, else Gradio's password login."""
    current = settings()
    if not current.roles:
        return LOCAL_OWNER
    name, orgs, token = None, (), None
    info = _session(request).get("oauth_info")
    if isinstance(info, dict) and (info.get("expires_at") is None or info["expires_at"] >= time.time()):
        profile = info.get("userinfo") or {}
        name = profile.get("preferred_username")
        orgs = tuple(org.get("preferred_username") or org.get("name") for org in profile.get("orgs") or []
                     if isinstance(org, dict))
        token = info.get("access_token")
    elif request is not None and getattr(request, "username", None):
        name = request.username
    key = name or _address(request) or getattr(request, "session_hash", None) or "anonymous"
    return User(name, role_of(name, tuple(o for o in orgs if o), current), tuple(o for o in orgs if o), token, key)


def _address(request) -> str | None:
    """Where an anonymous visitor comes from, for the rate limit: the first X-Forwarded-For address (a Space's
    proxy sets it), else the connection's. Not the browser session, which a script renews at will."""
    if request is None:
        return None
    try:
        forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
    except (AttributeError, TypeError):
        forwarded = ""
    if forwarded.strip():
        return forwarded.split(",")[0].strip()
    return getattr(getattr(request, "client", None), "host", None)


_CURRENT: contextvars.ContextVar[User | None] = contextvars.ContextVar("inframind_user", default=None)


def current() -> User:
    """The user of the event being handled; outside an event (the CLI, a job, a test) the local owner."""
    return _CURRENT.get() or LOCAL_OWNER


def in_event() -> bool:
    """True while the app handles an event from a browser or an API client."""
    return _CURRENT.get() is not None


def require_owner(action: str) -> User:
    """The current user, when an owner; else AccessDenied saying who may `action`."""
    user = current()
    if not user.is_owner:
        raise AccessDenied(denied_message(action))
    return user


def denied_message(action: str) -> str:
    current = settings()
    how = ("sign in with Hugging Face as an owner" if current.sign_in == "huggingface"
           else "sign in as an owner")
    owners = ", ".join(sorted(current.owners)) or "nobody yet"
    return (f"{action} is for the owners of this studio ({owners}): {how}. Visitors can browse the dataset, view "
            "runs and evaluations, and compare the preset models.")


def banner(user: User) -> str:
    """One line under the title: who is signed in and what that allows."""
    if user.is_owner:
        return f"Signed in as **{user.name}**: owner (train, edit, export, push)."
    who = f"Signed in as **{user.name}**" if user.name else "Not signed in"
    return (f"{who}: visitor. You can browse the dataset, view runs and evaluations, and compare the preset "
            f"models ({VISITOR_COMPARES.per_hour} comparisons an hour); the owners ({', '.join(sorted(settings().owners))}) "
            "train, edit and export.")


# -- the door ------------------------------------------------------------------------------------------------


def event_name(fn) -> str:
    """"module:function" of the function an event calls (partials and wrappers unwrapped)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__wrapped__", fn)
    module = getattr(fn, "__module__", "") or ""
    name = (getattr(fn, "__qualname__", "") or getattr(fn, "__name__", "")).split(".")[-1]
    return f"{module}:{name}"


def _calls(fn) -> list:
    """The functions a lambda calls: its globals and closure cells that are functions."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    found = [fn.__globals__.get(name) for name in code.co_names]
    found += [cell.cell_contents for cell in (fn.__closure__ or ()) if _filled(cell)]
    return [f for f in found if isinstance(f, (types.FunctionType, functools.partial))]


def _filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def allowed_for_visitors(fn, _seen: frozenset = frozenset()) -> bool:
    """Whether a visitor may trigger an event calling `fn` (see VISITOR_EVENTS)."""
    name = event_name(fn)
    module, function = name.split(":", 1)
    if module.startswith("gradio"):  # Gradio's own events: the sign-in button's status, and the like
        return True
    if function in VISITOR_EVENTS.get(module, ()):
        return True
    if function == "<lambda>" and id(fn) not in _seen:
        called = [f for f in _calls(fn) if event_name(f).startswith("studio.")]
        return bool(called) and all(allowed_for_visitors(f, _seen | {id(fn)}) for f in called)
    return False


class _RateLimit:
    def __init__(self, per_hour: int):
        self.per_hour = per_hour
        self.seen: dict[str, collections.deque] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """None when `key` may go now (and counts it); else the seconds until it may."""
        now = time.monotonic()
        with self.lock:
            times = self.seen.setdefault(key, collections.deque())
            while times and now - times[0] > 3600:
                times.popleft()
            if len(times) >= self.per_hour:
                return 3600 - (now - times[0])
            times.append(now)
            return None


VISITOR_COMPARES = _RateLimit(VISITOR_COMPARES_PER_HOUR)


def protect(demo):
    """Check the sender's role before every event of `demo` runs (default deny for visitors); returns `demo`."""
    import gradio as gr

    from studio.iac import isolated

    if getattr(demo, "_inframind_protected", False):
        return demo
    original = demo.process_api

    async def process_api(block_fn, inputs, state=None, request=None, iterator=None, *args, **kwargs):
        fn = demo.fns[block_fn] if isinstance(block_fn, int) else block_fn
        first = request[0] if isinstance(request, list) else request
        if first is None and kwargs.get("explicit_call"):
            user = LOCAL_OWNER  # `demo(...)` called from Python in this process
        else:
            user = user_of(first)
        target = fn.fn
        if not user.is_owner and target is not None:
            name = event_name(target)
            if not allowed_for_visitors(target):
                raise gr.Error(denied_message(f"`{fn.api_name or name.split(':')[1]}`"), title="Owners only")
            if name in RATE_LIMITED and iterator is None:
                wait = VISITOR_COMPARES.take(user.key)
                if wait is not None:
                    raise gr.Error(f"Visitors may compare {VISITOR_COMPARES.per_hour} times an hour; try again in "
                                   f"{wait / 60:.0f} min, or run the studio yourself (README: Set up and run).",
                                   title="Enough for now")
        user_token = _CURRENT.set(user)
        untrusted = isolated._UNTRUSTED.set(True)
        try:
            return await original(block_fn, inputs, state, request, iterator, *args, **kwargs)
        finally:
            isolated._UNTRUSTED.reset(untrusted)
            _CURRENT.reset(user_token)

    demo.process_api = process_api
    demo._inframind_protected = True
    return demo
