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

Pair files (the export, pairs mined from a model by `studio.pair_mining`, any file of TRL's preference rows) are
read back with every problem named by line, so a DPO job refuses a bad file before it loads a model:

    >>> pairs = preferences.read_pairs("workspace/preferences/dpo-pairs.jsonl")
    >>> preferences.read_pairs("bad.jsonl")
    Traceback (most recent call last):
    PairFileError: bad.jsonl:3: missing 'rejected'; bad.jsonl:7: chosen and rejected are the same answer ...

The command line (`python -m studio.preferences --help`):

    python -m studio.preferences export                         # votes.jsonl -> preferences/dpo-pairs.jsonl
    python -m studio.preferences check pairs.jsonl ...          # every problem of the pair files, by line
    python -m studio.preferences show pairs.jsonl ... -n 3      # pairs per source and a few examples
    python -m studio.preferences mine --adapter sft-1 --limit 40 --out mined.jsonl   # see studio.pair_mining
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
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


# -- pair files ------------------------------------------------------------------------------------------

PAIR_FIELDS = ("prompt", "chosen", "rejected")
ROLES = ("system", "user", "assistant")
# A file with thousands of broken lines is named by its first few; the count says how many more.
MAX_PROBLEMS = 20


class PairFileError(ValueError):
    """Pair files that cannot train: every problem as `file:line: what is wrong, what to do`."""

    def __init__(self, problems: list[str], more: int = 0):
        self.problems = list(problems)
        self.more = more
        text = "; ".join(self.problems)
        super().__init__(text + (f"; and {more} more problem(s)" if more else ""))


def answer_text(answer) -> str:
    """The text of a chosen or rejected answer: a string or a list of assistant messages.

    >>> answer_text([{"role": "assistant", "content": "bucket = x"}])
    'bucket = x'
    """
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list):
        return "\n".join(m.get("content", "") for m in answer if isinstance(m, dict)
                         and isinstance(m.get("content"), str))
    return ""


def _message_problems(messages, name: str, last_role: str | None) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return [f"'{name}' must be a non-empty list of messages ({{\"role\": ..., \"content\": ...}}) or a string"]
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return [f"{name}[{index}] must be a message with a string 'content'"]
        if message.get("role") not in ROLES:
            return [f"{name}[{index}] has role {message.get('role')!r}; use one of {', '.join(ROLES)}"]
    if last_role and messages[-1]["role"] != last_role:
        return [f"'{name}' must end with the {last_role}'s turn, not the {messages[-1]['role']}'s"]
    return []


def pair_problems(data) -> list[str]:
    """What keeps one parsed line from being a preference pair (empty when it is one).

    >>> pair_problems({"prompt": "A bucket", "chosen": "bucket = x"})
    ["missing 'rejected'"]
    >>> pair_problems({"prompt": "A bucket", "chosen": "bucket = x", "rejected": " bucket = x "})
    ['chosen and rejected are the same answer: the pair teaches nothing, drop it']
    """
    if not isinstance(data, dict):
        return [f"expected a JSON object with {', '.join(PAIR_FIELDS)}, got {type(data).__name__}"]
    missing = [name for name in PAIR_FIELDS if data.get(name) in (None, "", [])]
    if missing:
        return [f"missing {', '.join(repr(name) for name in missing)}"]
    found = []
    prompt = data["prompt"]
    if not isinstance(prompt, str):
        found += _message_problems(prompt, "prompt", "user")
    for name in ("chosen", "rejected"):
        answer = data[name]
        if isinstance(answer, str):
            continue
        problems = _message_problems(answer, name, None)
        if not problems and any(m["role"] != "assistant" for m in answer):
            problems = [f"'{name}' must hold assistant messages only"]
        found += problems
    if found:
        return found
    chosen, rejected = answer_text(data["chosen"]), answer_text(data["rejected"])
    if not chosen.strip():
        return ["the chosen answer is empty: an empty answer can lose but not win"]
    if chosen.strip() == rejected.strip():
        return ["chosen and rejected are the same answer: the pair teaches nothing, drop it"]
    return []


def normalize_pair(data: dict, source: str) -> dict:
    """TRL's conversational preference row: a string prompt becomes the user's turn, a string answer the
    assistant's, so that one dataset never mixes the two forms (Arrow needs one type per column)."""
    prompt = data["prompt"]
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]

    def as_messages(answer):
        if isinstance(answer, str):
            return [{"role": "assistant", "content": answer}]
        return [{"role": "assistant", "content": m["content"]} for m in answer]

    return {"prompt": [{"role": m["role"], "content": m["content"]} for m in prompt],
            "chosen": as_messages(data["chosen"]), "rejected": as_messages(data["rejected"]),
            "source": str(data.get("source") or source)}


def source_of(path: Path) -> str:
    """The source a file's pairs are counted under when its lines do not say: `votes` for the Compare tab's
    export, else the file's name."""
    return "votes" if Path(path).name == DPO_FILE else Path(path).stem


def read_pairs(path: str | Path, source: str | None = None) -> list[dict]:
    """Every pair of a JSONL file, normalized (`normalize_pair`), each with its `source`; raises PairFileError
    naming every bad line (the first MAX_PROBLEMS of them)."""
    path = Path(path).expanduser()
    source = source or source_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PairFileError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as error:
        raise PairFileError([f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8"]) from error
    pairs, problems = [], []
    # "\n" only: str.splitlines() also splits at U+2028, which JSON leaves unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            problems.append(f"{path}:{number}: not valid JSON ({getattr(error, 'msg', 'nested too deeply')})")
            continue
        found = pair_problems(data)
        if found:
            problems += [f"{path}:{number}: {problem}" for problem in found]
        else:
            pairs.append(normalize_pair(data, source))
    if problems:
        raise PairFileError(problems[:MAX_PROBLEMS], more=max(0, len(problems) - MAX_PROBLEMS))
    if not pairs:
        raise PairFileError([f"{path}: no pairs (an empty file); vote in the Compare tab and export, or mine pairs"])
    return pairs


def read_pair_files(paths) -> list[dict]:
    """The pairs of several files, in order; the problems of every file together in one PairFileError."""
    pairs, problems, more = [], [], 0
    for path in paths:
        try:
            pairs += read_pairs(path)
        except PairFileError as error:
            problems += error.problems
            more += error.more
    if problems:
        raise PairFileError(problems, more)
    return pairs


def write_pairs(pairs: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workspace.atomic_write_text(path, "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs))
    return path


@dataclass
class Source:
    """What one source of pairs gives: its name, the files, how many pairs, a few of them, or what is wrong."""

    name: str
    files: list[str] = field(default_factory=list)
    pairs: int = 0
    examples: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def sources(paths, examples: int = 3) -> list[Source]:
    """The pairs each source gives, over the files `paths` (a bad file is reported, not raised)."""
    found: dict[str, Source] = {}
    for path in paths:
        try:
            pairs = read_pairs(path)
        except PairFileError as error:
            entry = found.setdefault(source_of(Path(path)), Source(source_of(Path(path))))
            entry.files.append(str(path))
            entry.problems += error.problems + ([f"and {error.more} more"] if error.more else [])
            continue
        for pair in pairs:
            entry = found.setdefault(pair["source"], Source(pair["source"]))
            if str(path) not in entry.files:
                entry.files.append(str(path))
            entry.pairs += 1
            if len(entry.examples) < examples:
                entry.examples.append(pair)
    return list(found.values())


def votes_source(examples: int = 3) -> Source:
    """What the Compare tab's votes give now (read from votes.jsonl; nothing is written)."""
    pairs = [normalize_pair(pair, "votes") for pair in dpo_pairs(read_votes())]
    return Source("votes", [str(votes_file())], len(pairs), pairs[:examples])


def describe(found: list[Source], width: int = 160) -> str:
    """Markdown: pairs per source, and each source's examples (request, chosen and rejected, shortened)."""
    if not found:
        return "No pairs yet: vote in the Compare tab, or mine pairs from a model."

    def short(text: str) -> str:
        # One line without the code fences, so that it sits inside `...` whole.
        text = " ".join(re.sub(r"```[A-Za-z]*", " ", text).replace("`", "'").split())
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["| source | pairs | files |", "| --- | --- | --- |"]
    lines += [f"| {s.name} | {s.pairs if not s.problems else 'refused'} | {', '.join(Path(f).name for f in s.files)} |"
              for s in found]
    for entry in found:
        if entry.problems:
            lines += ["", f"**{entry.name}** cannot train:"] + [f"- {problem}" for problem in entry.problems]
            continue
        lines += ["", f"**{entry.name}**, {min(len(entry.examples), entry.pairs)} of {entry.pairs}:"]
        for pair in entry.examples:
            lines.append(f"- request: {short(pair['prompt'][-1]['content'])}")
            lines.append(f"  - chosen: `{short(answer_text(pair['chosen']))}`")
            lines.append(f"  - rejected: `{short(answer_text(pair['rejected']))}`")
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.preferences", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the votes that prefer an answer as DPO pairs")
    export.add_argument("--out", type=Path, default=None, help="default: the workspace's preferences/dpo-pairs.jsonl")
    check = commands.add_parser("check", help="name every problem of pair files, by line")
    check.add_argument("files", nargs="+", type=Path)
    show = commands.add_parser("show", help="pairs per source and a few examples")
    show.add_argument("files", nargs="*", type=Path, help="default: the workspace's preferences/dpo-pairs.jsonl")
    show.add_argument("-n", "--examples", type=int, default=3)
    mine = commands.add_parser("mine", help="sample answers to training requests, keep validator-ranked pairs")
    from studio import pair_mining

    pair_mining.add_arguments(mine)
    args = parser.parse_args(argv)

    if args.command == "export":
        path, count = export_dpo(args.out)
        print(f"{count} pairs from {len(read_votes())} votes in {path}")
        return 0
    if args.command == "check":
        try:
            pairs = read_pair_files(args.files)
        except PairFileError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            if error.more:
                print(f"... and {error.more} more problem(s)", file=sys.stderr)
            return 1
        print(f"{len(pairs)} pairs, no problems")
        return 0
    if args.command == "show":
        print(describe(sources(args.files or [folder() / DPO_FILE], args.examples)))
        return 0
    return pair_mining.main_from(args)


if __name__ == "__main__":
    sys.exit(main())
