"""Checks for Infrastructure-as-Code answers: extraction, parsing, AWS / Kubernetes schemas, intent, advice.

    >>> from studio.iac import validate
    >>> report = validate('```hcl\\nresource "aws_s3_bucket" "logs" {\\n  bucket = "logs"\\n}\\n```', "terraform",
    ...                   intent={"require": [{"resource": "aws_s3_bucket"}]})
    >>> report.ok, report.summary()
    (True, 'extracted: passed; parses: passed; schema: passed; intent: passed; best_practice: failed')

The Dataset, Compare and Evaluate tabs call `validate`; GRPO calls the reward functions in
`studio.iac.rewards`. The intent format is documented in `studio/iac/INTENT.md`.
"""

from studio.iac.extract import Extraction, extract_code
from studio.iac.intent import IntentError, load_intent
from studio.iac.kubernetes import DEFAULT_KUBERNETES_VERSION
from studio.iac.report import Reason, Report, Verdict
from studio.iac.validation import validate

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "Extraction",
    "IntentError",
    "Reason",
    "Report",
    "Verdict",
    "extract_code",
    "load_intent",
    "validate",
]
