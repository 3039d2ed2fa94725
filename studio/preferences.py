"""Votes on side-by-side answers, kept as preference pairs: the seed of preference training (DPO).

    >>> from studio import preferences
    >>> preferences.record(messages, left="```hcl ...", right="```hcl ...", vote="right",
    ...                    left_model="base: SmolLM2-135M-Instruct (embedded)", right_model="fine-tuned: sft-1")
    >>> preferences.counts()
    {'left': 0, 'right': 1, 'tie': 0, 'both_bad': 0}
    >>> path, pairs = preferences.export_dpo()    # workspace/preferences/dpo-pairs.jsonl, TRL's format
    >>> pairs
    1

Every vote is appended to `workspace/preferences/votes.jsonl`, ties and "both bad" included. The DPO export
holds only the votes that prefer one answer: `{"prompt": [system, user], "chosen": [assistant],
"rejected": [assistant]}`, the conversational preference form TRL's DPOTrainer reads.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from pathlib import Path

from studio import workspace

VOTES = ("left", "right", "tie", "both_bad")
VOTE_LABELS = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "both_bad": "Both are bad"}
VOTES_FILE = "votes.jsonl"
DPO_FILE = "dpo-pairs.jsonl"

_lock = threading.Lock()


def folder() -> Path:
    path = workspace.home() / "preferences"
    path.mkdir(parents=True, exist_ok=True)
    return path


def votes_file() -> Path:
    return folder() / VOTES_FILE


def record(messages: list[dict], *, left: str, right: str, vote: str, left_model: str = "", right_model: str = "",
           example_id: str = "", settings: dict | None = None) -> dict:
    """Append one vote on two answers to `messages` (the system and user turns) and return it as stored."""
    if vote not in VOTES:
        raise ValueError(f"vote must be one of {', '.join(VOTES)}, not {vote!r}")
    if left is None or right is None:
        raise ValueError("Both answers are needed for a vote: generate them first.")
    # An empty answer can lose (it is a fair rejected answer) but cannot win.
    preferred = {"left": left, "right": right}.get(vote)
    if preferred is not None and not preferred.strip():
        raise ValueError(f"The {vote} answer is empty: it cannot be the better one.")
    if not messages or messages[-1].get("role") != "user":
        raise ValueError("The prompt must end with the user's request.")
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "vote": vote,
        "prompt": messages,
        "left": {"model": left_model, "answer": left},
        "right": {"model": right_model, "answer": right},
        "example_id": example_id,
        "settings": settings or {},
    }
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock, votes_file().open("a", encoding="utf-8") as handle:
        # Several app processes may share a workspace: the file lock keeps their lines whole.
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return entry


def read_votes(path: Path | None = None) -> list[dict]:
    """Every stored vote, oldest first; a damaged line (a crash mid-write) is skipped."""
    path = path or votes_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [entry for entry in workspace.jsonl_records(text) if entry.get("vote") in VOTES]


def counts(votes: list[dict] | None = None) -> dict[str, int]:
    votes = read_votes() if votes is None else votes
    return {vote: sum(1 for entry in votes if entry["vote"] == vote) for vote in VOTES}


def dpo_pairs(votes: list[dict]) -> list[dict]:
    """The votes that prefer one answer, as TRL's conversational preference rows.

    Ties and "both bad" say nothing about which answer is better, and a pair whose answers are identical
    teaches nothing: both are left out.

    >>> vote = {"vote": "right", "prompt": [{"role": "user", "content": "A bucket"}],
    ...         "left": {"answer": "name = x"}, "right": {"answer": "bucket = x"}}
    >>> dpo_pairs([vote, {**vote, "vote": "tie"}])
    [{'prompt': [{'role': 'user', 'content': 'A bucket'}], 'chosen': [{'role': 'assistant', 'content': 'bucket = x'}], 'rejected': [{'role': 'assistant', 'content': 'name = x'}]}]
    """
    pairs = []
    for entry in votes:
        if entry.get("vote") not in ("left", "right"):
            continue
        winner, loser = ("left", "right") if entry["vote"] == "left" else ("right", "left")
        chosen, rejected = entry[winner]["answer"], entry[loser]["answer"]
        if chosen.strip() == rejected.strip():
            continue
        pairs.append({
            "prompt": entry["prompt"],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        })
    return pairs


def export_dpo(path: Path | None = None) -> tuple[Path, int]:
    """Write the DPO pairs of every vote to `path` (default `preferences/dpo-pairs.jsonl`); (path, pairs)."""
    path = Path(path) if path else folder() / DPO_FILE
    pairs = dpo_pairs(read_votes())
    workspace.atomic_write_text(path, "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs))
    return path, len(pairs)
