"""`validate`: the one entry point the tabs, the dataset checks and the rewards call.

    >>> from studio.iac import validate
    >>> report = validate("```python\\nimport boto3\\nboto3.client('s3').create_bucket(Bucket='b')\\n```",
    ...                   kind="terraform")
    >>> report.ok, report.wrong_language, report.extracted.reasons[0].message
    (False, 'python', 'asked for Terraform but the answer is Python (boto3)')

Stages: extract the code -> parse -> schema (AWS provider / Kubernetes strict) -> intent -> best practice.
A stage after a failed one is "skipped"; `Report.ok` covers the first four.
"""

from __future__ import annotations

from studio.iac.best_practice import check_kubernetes_practices, check_terraform_practices
from studio.iac import isolated, limits
from studio.iac.extract import KINDS, KUBERNETES, TERRAFORM, extract_code
from studio.iac.intent import check_intent
from studio.iac.kubernetes import check_kubernetes_schema, parse_kubernetes
from studio.iac.report import Reason, Report, Verdict
from studio.iac.terraform import check_terraform_schema, parse_terraform

# A GRPO answer is a few hundred tokens; thousands of lines are a generation loop, and checking them
# would stall the reward for the whole batch.
MAX_LINES = 2000
CHARS_PER_LINE = 100


def validate(text: str | None, kind: str | None = None, intent: dict | str | None = None,
             best_practice: bool = True, *, kubernetes_version: str | None = None,
             max_lines: int = MAX_LINES) -> Report:
    """Check one answer; `kind` is "terraform", "kubernetes" or None (detect), `intent` a dict or JSON.

    Returns a verdict for any text: too long, nested too deep, an alias bomb, binary, or anything a parser
    raises on becomes a failed stage with its reason (`studio.iac.limits`), never an exception or a crash.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be 'terraform', 'kubernetes' or None, not {kind!r}")
    if isolated.active():  # the app: a visitor's text is parsed in a worker process with limits
        return isolated.validate_in_worker(text, kind, intent, best_practice, kubernetes_version=kubernetes_version,
                                           max_lines=max_lines)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif text is not None and not isinstance(text, str):
        text = str(text)
    if text is not None and len(text) > limits.MAX_ANSWER_CHARS:
        return _stopped(Verdict("failed", [Reason(f"the answer is {len(text):,} characters; answers over "
                                                  f"{limits.MAX_ANSWER_CHARS:,} are not checked")], 0.0),
                        "", None, kind, None, "the answer is too long to check")
    try:
        return _validate(text, kind, intent, best_practice, kubernetes_version, max_lines)
    except Exception as error:  # a parser's own failure on hostile input: a verdict, never a crash
        return failed_report(f"the checker could not read this answer ({type(error).__name__}: "
                             f"{str(error)[:200]})", kind)


def failed_report(reason: str, kind: str | None = None) -> Report:
    """A report whose extraction failed with `reason` and whose other stages were skipped."""
    return _stopped(Verdict("failed", [Reason(reason)], 0.0), "", None, kind, None, "the answer could not be checked")


def _validate(text: str | None, kind: str | None, intent, best_practice: bool, kubernetes_version: str | None,
              max_lines: int) -> Report:
    found = extract_code(text, kind)
    if not found.code:
        reason = found.reason or "no code found"
        if found.wrong_language == "python" and text and "boto3" in text:
            reason += " (boto3)"
        return _stopped(Verdict("failed", [Reason(reason)], 0.0), found.code, None, kind, found.wrong_language,
                        "no code to check")
    lines = found.code.count("\n") + 1
    # Lines or characters: a single 5 MB line would stall the parser as surely as 10,000 short ones.
    if lines > max_lines or len(found.code) > max_lines * CHARS_PER_LINE:
        size = f"{lines:,} lines" if lines > max_lines else f"{len(found.code):,} characters"
        extracted = Verdict("failed", [Reason(f"the code is {size}; answers over {max_lines:,} lines "
                                              f"({max_lines * CHARS_PER_LINE:,} characters) are not checked "
                                              "(a generation loop?)")], 0.0)
        return _stopped(extracted, found.code, found.language, kind, None, "the code is too long to check")

    notes = []
    if not found.fenced:
        notes.append(Reason("the code is not in a fenced block", severity="note"))
    elif not found.tagged:
        notes.append(Reason(f"a fence is not tagged as {found.language} (```hcl or ```yaml)", severity="note"))
    if found.truncated:
        notes.append(Reason("a code fence is never closed (was the answer cut off?)", severity="warning"))
    if found.blocks > 1:
        notes.append(Reason(f"{found.blocks} code blocks joined", severity="note"))
    extracted = Verdict("passed", notes, found.format_score)

    if found.language == TERRAFORM and limits.hcl_nesting(found.code) > limits.MAX_NESTING:
        # python-hcl2 builds its objects recursively: refused here, with a reason, before it overflows.
        parses = Verdict("failed", [Reason(f"the code is nested deeper than {limits.MAX_NESTING} levels of "
                                           "brackets; it is not checked")], 0.0)
        skipped = Verdict.skipped("the code does not parse")
        return Report(found.language, found.code, extracted, parses, skipped, skipped, skipped, asked=kind,
                      wrong_language=None)
    if found.language == TERRAFORM:
        parsed = parse_terraform(found.code)
        schema = check_terraform_schema(parsed)
    elif found.language == KUBERNETES:
        parsed = parse_kubernetes(found.code)
        schema = check_kubernetes_schema(parsed, kubernetes_version)
    else:  # extract_code only returns the two kinds
        raise AssertionError(found.language)
    intent_verdict = check_intent(intent, parsed)
    if not best_practice:
        practices = Verdict.skipped("best-practice rules not asked for")
    elif not parsed.verdict.passed:
        practices = Verdict.skipped("the code does not parse")
    elif found.language == TERRAFORM:
        practices = check_terraform_practices(parsed)
    else:
        practices = check_kubernetes_practices(parsed)
    return Report(found.language, found.code, extracted, parsed.verdict, schema, intent_verdict, practices,
                  asked=kind, wrong_language=None)


def _stopped(extracted: Verdict, code: str, language: str | None, kind: str | None, wrong: str | None,
             why: str) -> Report:
    skipped = Verdict.skipped(why)
    return Report(language, code, extracted, skipped, Verdict.skipped(why), Verdict.skipped(why),
                  Verdict.skipped(why), asked=kind, wrong_language=wrong)
