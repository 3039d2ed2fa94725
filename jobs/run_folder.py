"""A run's folder and the files in it: what the job writes and what the Jobs tab and the CLI read.

    >>> from jobs.run_folder import RunFolder
    >>> run = RunFolder.named("sft-iac-1")            # workspace/runs/sft-iac-1
    >>> run.metrics()[-1]["loss"]                     # the last line of metrics.jsonl
    1.234
    >>> run.last_checkpoint()
    PosixPath('.../runs/sft-iac-1/checkpoints/checkpoint-150')
    >>> print(run.log_tail(5))

The layout, which other parts of the studio rely on:

    job.yaml          the spec the job ran with
    metrics.jsonl     one line per logged step (see jobs.metrics), appended while the job runs
    train.log         stdout and stderr of the job's processes, with the supervisor's notes
    checkpoints/      checkpoint-<step>/ with the adapter, optimizer, scheduler and RNG state
    adapter/          the final PEFT adapter with the tokenizer (studio.adapters finds runs by it)
    summary.json      the final figures, written when the job succeeds
    stopped.json      written when a stop request ended the job cleanly (the step and its checkpoint)
    stop              a stop request the job polls at every step (besides the signal)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from studio import workspace

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @classmethod
    def named(cls, name: str) -> "RunFolder":
        return cls(workspace.inside(workspace.runs_dir(), name))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec_file(self) -> Path:
        return self.path / "job.yaml"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_file(self) -> Path:
        return self.path / "train.log"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    @property
    def stopped_file(self) -> Path:
        return self.path / "stopped.json"

    @property
    def stop_file(self) -> Path:
        return self.path / "stop"

    def last_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step that was written completely (it has its trainer_state.json)."""
        found = []
        if self.checkpoints.is_dir():
            for child in self.checkpoints.iterdir():
                match = _CHECKPOINT.match(child.name)
                # Trainer writes trainer_state.json last: a checkpoint without it was cut short.
                if match and (child / "trainer_state.json").is_file():
                    found.append((int(match.group(1)), child))
        return max(found)[1] if found else None

    def metrics(self, tail_bytes: int | None = None) -> list[dict]:
        """Every complete line of metrics.jsonl (a line being written is skipped, not an error); with
        `tail_bytes`, only the lines in the file's last that many bytes (a long run's file is megabytes)."""
        try:
            with self.metrics_file.open("rb") as handle:
                if tail_bytes is not None:
                    handle.seek(0, 2)
                    handle.seek(max(0, handle.tell() - tail_bytes))
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return workspace.jsonl_records(text)

    def last_metrics(self) -> dict | None:
        """The last training line (not an evaluation line) of metrics.jsonl, read from the file's end."""
        rows = self.metrics(tail_bytes=32_000)
        for row in reversed(rows):
            if row.get("loss") is not None or row.get("reward") is not None:
                return row
        return rows[-1] if rows else None

    def log_tail(self, lines: int = 40, max_bytes: int = 64_000) -> str:
        """The last `lines` lines of train.log, read from its end (logs grow to megabytes)."""
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - max_bytes))
                data = handle.read()
        except FileNotFoundError:
            return ""
        text = data.decode("utf-8", errors="replace")
        # Progress bars redraw with carriage returns; keep what the last redraw left on each line.
        cleaned = [part.rsplit("\r", 1)[-1] for part in text.split("\n")]
        return "\n".join(cleaned[-lines:])

    def read_json(self, path: Path) -> dict | None:
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def summary(self) -> dict | None:
        return self.read_json(self.summary_file)

    def stopped(self) -> dict | None:
        return self.read_json(self.stopped_file)

    def clear_outcome(self) -> None:
        """Forget how an earlier attempt ended, before a new one starts (resume)."""
        for path in (self.summary_file, self.stopped_file, self.stop_file):
            path.unlink(missing_ok=True)
