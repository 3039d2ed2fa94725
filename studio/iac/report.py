"""What a validation says: one verdict per stage, each with reasons that point into the code.

    >>> from studio.iac import validate
    >>> report = validate('```hcl\\nresource "aws_s3_bucket" "logs" {\\n  name = "logs"\\n}\\n```', "terraform")
    >>> report.ok, report.schema.status
    (False, 'failed')
    >>> print(report.schema.reasons[0])
    line 2: aws_s3_bucket.logs: unknown argument "name" (did you mean "bucket"?)

Stages run in order (extracted, parses, schema, intent, best_practice); a stage that could not run because
an earlier one failed is "skipped", never "passed". Each verdict also carries a graded `score` in [0, 1]
(the fraction of what it checked that was right) which the GRPO rewards use as partial credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "skipped"]
Severity = Literal["error", "warning", "note"]

STAGES = ("extracted", "parses", "schema", "intent", "best_practice")


@dataclass(frozen=True)
class Reason:
    """One finding: `message`, optionally the 1-based `line` in the extracted code and a field `path`.

    Errors make a stage fail; warnings and notes ("not checked: random_id is not an AWS resource") do not.
    """

    message: str
    line: int | None = None
    path: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}{tag}{self.message}"

    def to_dict(self) -> dict:
        return {"message": self.message, "line": self.line, "path": self.path, "severity": self.severity}


@dataclass
class Verdict:
    """The outcome of one stage: status, reasons and a graded score (0 when skipped)."""

    status: Status
    reasons: list[Reason] = field(default_factory=list)
    score: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def errors(self) -> list[Reason]:
        return [r for r in self.reasons if r.severity == "error"]

    @classmethod
    def skipped(cls, why: str) -> "Verdict":
        return cls("skipped", [Reason(why, severity="note")], 0.0)

    @classmethod
    def from_reasons(cls, reasons: list[Reason], score: float | None = None) -> "Verdict":
        """Failed if any reason is an error; the score defaults to 1 or 0 accordingly."""
        failed = any(r.severity == "error" for r in reasons)
        if score is None:
            score = 0.0 if failed else 1.0
        return cls("failed" if failed else "passed", reasons, max(0.0, min(1.0, score)))

    def to_dict(self) -> dict:
        return {"status": self.status, "score": round(self.score, 4), "reasons": [r.to_dict() for r in self.reasons]}


@dataclass
class Report:
    """Everything `validate` found about one answer.

    `language` is what the extracted code is ("terraform", "kubernetes", or None when no code was found);
    `wrong_language` names what the answer is instead when it is not the language asked for ("python",
    "bash", "cloudformation", "terraform", "kubernetes", ...). `ok` is extracted and parses and schema and
    intent: the best-practice verdict is advice and is kept apart.
    """

    language: str | None
    code: str
    extracted: Verdict
    parses: Verdict
    schema: Verdict
    intent: Verdict
    best_practice: Verdict
    asked: str | None = None
    wrong_language: str | None = None

    @property
    def ok(self) -> bool:
        return self.extracted.passed and self.parses.passed and self.schema.passed and self.intent.passed

    @property
    def verdicts(self) -> dict[str, Verdict]:
        return {stage: getattr(self, stage) for stage in STAGES}

    def reasons(self, *, include_notes: bool = False) -> list[str]:
        """Every reason as `stage: message` lines, errors and warnings (notes too if asked)."""
        lines = []
        for stage, verdict in self.verdicts.items():
            for reason in verdict.reasons:
                if reason.severity == "note" and not include_notes:
                    continue
                # Intent reasons already open with "intent:" (the wording INTENT.md documents).
                prefix = "" if reason.message.startswith(f"{stage}:") else f"{stage}: "
                lines.append(f"{prefix}{reason}")
        return lines

    def summary(self) -> str:
        """One line per stage, for a log or a table cell: `schema: failed (2 errors)`."""
        parts = []
        for stage, verdict in self.verdicts.items():
            count = len(verdict.errors)
            suffix = f" ({count} error{'s' if count != 1 else ''})" if count else ""
            parts.append(f"{stage}: {verdict.status}{suffix}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "language": self.language,
            "asked": self.asked,
            "wrong_language": self.wrong_language,
            "code": self.code,
            **{stage: verdict.to_dict() for stage, verdict in self.verdicts.items()},
        }
