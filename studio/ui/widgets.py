"""What several tabs draw the same way: a verdict, checked code, a progress bar, a list of problems, where a job
runs, an evaluation's headline, and the fine-tuned model picker's pieces.

    >>> from studio.iac import validate
    >>> html = verdict_html(validate("no code here", "terraform").to_dict())      # badges, reasons, advice
    >>> progress_bar(0.25)                                                         # '<div ...data-fraction=...'

Tabs import this module, never each other. A verdict is always `Report.to_dict()` (an evaluation's answer record
is one too, with its `text`): one shape, drawn by `verdict_html` in the Dataset, Compare and Evaluate tabs.
"""

from __future__ import annotations

import html

import gradio as gr
from gradio.context import Context

from studio import compare, models
from studio.durations import format_duration
from studio.evaluation import LOOP_REPEATS
from studio.iac.report import STAGES

GREEDY, SAMPLED = "Greedy", "Sampled"
# The schema-guided decoding switch (studio.guided), the same words in Compare and Evaluate.
GUIDED_LABEL = "Guided by schema"
GUIDED_INFO = ("Only tokens that keep the answer one fenced block of real AWS types and arguments (or Kubernetes "
               "kinds and fields) may be chosen.")
NO_TUNED = ""
NO_TUNED_LABEL = "None: the base model alone"
STAGE_NAMES = {"extracted": "code found", "parses": "parses", "schema": "schema", "intent": "intent",
               "best_practice": "best practice"}
STATUS_STYLE = {
    "passed": ("#dcfce7", "#166534", "✓"),
    "failed": ("#fee2e2", "#991b1b", "✗"),
    "skipped": ("#f1f5f9", "#475569", "–"),
    "unchecked": ("#f1f5f9", "#475569", "n/a"),
}
MAX_REASONS = 12
FAILURE_WORDS = {"loop": "loop", "extracted": "no code", "parses": "does not parse", "schema": "schema",
                 "intent": "misses the intent"}
UNCHECKED_INTENT = ("A typed request has no intent spec: pick an example from the eval split to check the intent "
                    "too.")


# -- lists that follow the workspace ------------------------------------------------------------------------

# How often a tab's pickers look for runs, adapters and exports finished since (a directory listing or two).
FOLLOW_S = 5.0


def when_opened(fn, inputs, outputs, *, follow: bool = False) -> None:
    """Call `fn` each time the tab being built is opened (`gr.Tab.select`), so its pickers list what exists now;
    with `follow`, also when a job changed state or an export or dataset version appeared (checked every FOLLOW_S
    seconds), so a run that ends while the tab is open shows up without a click. `fn` returns updates for
    `outputs`."""
    inputs = list(inputs or [])
    block = Context.block
    while block is not None and not isinstance(block, gr.Tab):
        block = block.parent
    quiet = {"api_name": False, "show_progress": "hidden"}
    if block is not None:
        block.select(fn, inputs, outputs, **quiet)
    if not follow:
        return
    seen = gr.State(None)

    def on_change(last, *values):
        now = workspace_signature()
        if now == last:  # nothing new: leave the pickers alone (an open dropdown is not redrawn)
            return (*[gr.skip()] * len(outputs), last)
        updates = fn(*values)
        return (*(updates if isinstance(updates, tuple) else (updates,)), now)

    # Named as `fn` (not wrapped: Gradio would read fn's parameters): the role guard (studio.access) allows the
    # tick to a visitor exactly when it allows `fn`.
    on_change.__module__, on_change.__qualname__ = fn.__module__, fn.__qualname__
    gr.Timer(FOLLOW_S).tick(on_change, [seen, *inputs], [*outputs, seen], **quiet)


def workspace_signature() -> tuple:
    """What the pickers list, in brief: every job's state, the exports, each dataset's current version."""
    from jobs.store import JobStore
    from studio import dataset_store, workspace

    jobs = tuple((job.name, job.state) for job in JobStore().list())
    exports = tuple(sorted(path.name for path in workspace.exports_dir().iterdir())) \
        if workspace.exports_dir().is_dir() else ()
    try:
        datasets = tuple((name, dataset_store.current_version(name).id) for name in dataset_store.names())
    except (OSError, ValueError):
        datasets = ()
    return jobs, exports, datasets


# -- a verdict ---------------------------------------------------------------------------------------------


def badge(label: str, status: str, title: str = "") -> str:
    """A pill: ✓, ✗, – or n/a and the label, coloured by `status` (a key of STATUS_STYLE)."""
    background, color, mark = STATUS_STYLE[status]
    return (f'<span class="im-badge im-{status}" title="{html.escape(title)}" style="background:{background};'
            f'color:{color};padding:2px 8px;border-radius:10px;margin:0 4px 4px 0;display:inline-block;'
            f'font-size:0.85em">{mark} {html.escape(label)}</span>')


def _reason_line(stage: str, reason: dict) -> str:
    # As `Report.reasons` writes them; intent reasons already open with "intent:" (INTENT.md's wording).
    prefix = "" if reason["message"].startswith(f"{stage}:") else f"{stage}: "
    where = f"line {reason['line']}: " if reason.get("line") else ""
    tag = "" if reason["severity"] == "error" else f"{reason['severity']}: "
    return f"{prefix}{where}{tag}{reason['message']}"


def verdict_reasons(report: dict, *, advice: bool = False) -> list[str]:
    """The errors and warnings of the correctness stages of a `Report.to_dict()` (with `advice`, those of the
    best-practice stage instead), one `stage: line N: message` line each.

    A verdict that fails with no error to show (a stage skipped for a malformed intent says why only in a note)
    gets that note, so a failure always says why.

    >>> from studio.iac import validate
    >>> verdict_reasons(validate("no code here", "terraform").to_dict())
    ['extracted: no Terraform code found in the answer']
    """
    stages = ["best_practice"] if advice else [stage for stage in STAGES if stage != "best_practice"]
    lines = [_reason_line(stage, reason) for stage in stages for reason in report[stage]["reasons"]
             if reason["severity"] != "note"]
    if not lines and not advice and not report.get("ok"):
        lines = [_reason_line(stage, {**reason, "severity": "error"}) for stage in stages
                 if report[stage]["status"] != "passed" for reason in report[stage]["reasons"]][:1]
    return lines


def verdict_html(report: dict | None, intent_checked: bool = True, *, labels: tuple[str, str] = ("valid",
                 "not valid"), note: str = "") -> str:
    """A verdict drawn: the overall badge (`labels` for valid and not), `note` beside it, a badge per stage, the
    reasons, and the best-practice advice folded away (advice never fails an answer).

    `intent_checked` False shows the intent badge as "n/a": a typed request has no intent spec to check.
    """
    if not report:
        return ""
    ok = bool(report.get("ok"))
    overall = badge(labels[0] if ok else labels[1], "passed" if ok else "failed",
                    "extracted, parses, schema and intent (best practice is advice)")
    if note:
        overall += f" <span class='im-muted'>{html.escape(note)}</span> "
    badges = []
    for stage, name in STAGE_NAMES.items():
        if stage == "intent" and not intent_checked:
            badges.append(badge(name, "unchecked", UNCHECKED_INTENT))
        else:
            badges.append(badge(name, report[stage]["status"]))
    reasons = verdict_reasons(report)
    if not intent_checked:
        reasons = [reason for reason in reasons if not reason.startswith("intent")]
    items = "".join(f"<li>{html.escape(reason)}</li>" for reason in reasons[:MAX_REASONS])
    more = f"<li>… {len(reasons) - MAX_REASONS} more</li>" if len(reasons) > MAX_REASONS else ""
    listing = f'<ul class="im-reasons" style="margin:4px 0 0 1em">{items}{more}</ul>' if reasons else ""
    advice = verdict_reasons(report, advice=True)
    folded = (f"<details><summary>Best-practice advice ({len(advice)}; advice never fails an answer)</summary><ul>"
              + "".join(f"<li>{html.escape(line)}</li>" for line in advice) + "</ul></details>") if advice else ""
    return (f'<div class="im-verdict im-{"pass" if ok else "fail"}"><div>{overall}{"".join(badges)}</div>'
            f"{listing}{folded}</div>")


def code_block_html(report: dict | None, kind: str) -> str:
    """The code the validators checked, highlighted (empty when no code was found)."""
    from studio.highlight import code_html

    code = (report or {}).get("code") or ""
    return code_html(code, report.get("language") or kind) if code.strip() else ""


# -- jobs --------------------------------------------------------------------------------------------------


def progress_bar(fraction: float, color: str = "#4f46e5", min_width: str = "") -> str:
    """A thin bar filled to `fraction` (0 to 1); `.im-progress` carries the fraction for tests and scripts."""
    width = f";min-width:{min_width}" if min_width else ""
    return (f"<div style='background:#e2e8f0;border-radius:4px;height:10px{width}'>"
            f"<div class='im-progress' data-fraction='{fraction:.3f}' style='background:{color};"
            f"width:{fraction * 100:.1f}%;height:10px;border-radius:4px'></div></div>")


def problems_markdown(error: Exception, heading: str = "Cannot launch") -> str:
    """Every problem of a SpecError (or the error's text) as a list under `heading`."""
    problems = getattr(error, "problems", None) or [str(error)]
    return f"**{heading}:**\n" + "\n".join(f"- {problem}" for problem in problems)


def device_label(devices: str | None) -> str:
    """Where a job runs, for a sentence: 'the CPU', 'GPU 0', 'GPU 0,1' ('' when not placed yet)."""
    if not devices:
        return ""
    return "the CPU" if devices == "cpu" else f"GPU {devices}"


def launched_markdown(job, follow: str) -> str:
    """'**sft-1** is running on GPU 0. <follow>' (a queued job has no device yet)."""
    where = f" on {device_label(job.devices)}" if job.state == "running" and job.devices else ""
    return f"**{job.name}** is {job.state}{where}. {follow}"


# -- evaluations -------------------------------------------------------------------------------------------


def evaluation_headline(summary: dict) -> str:
    """An evaluation's headline: what was evaluated, on what, how, and pass@k when there are samples."""
    settings = summary.get("settings", {})
    decoding = (f"sampled at temperature {settings['temperature']}" if settings.get("temperature") else "greedy")
    lines = [
        f"**{summary['rows']} rows** of `{summary.get('split', '?')}`"
        + (f" ({', '.join(f'{n} {k}' for k, n in summary.get('kinds', {}).items() if n)})" if summary.get("kinds")
           else "")
        + f", {summary.get('samples', 1)} answer(s) per row, {decoding}"
        + (f", at most {settings['max_new_tokens']} new tokens" if settings.get("max_new_tokens") else "")
        + (f"; {format_duration(summary['seconds'])} in all." if summary.get("seconds") else "."),
    ]
    for entry in summary["models"]:
        what = f"`{entry['model']}`" + (f" + adapter `{entry['adapter']}`" if entry.get("adapter") else "")
        figures = [f"pass **{entry['rates']['pass']:.1%}**"]
        if (entry.get("intent_score") or {}).get("all") is not None:
            figures.append(f"intent score {entry['intent_score']['all']:.1%}")
        if entry.get("pass_at_k"):
            sampled = summary.get("sampled")
            where = f" ({sampled['k']} sampled at {sampled['temperature']})" if entry.get("sampled") and sampled else ""
            figures.append(", ".join(f"pass@{k} {v:.1%}" for k, v in entry["pass_at_k"].items()) + where)
        if entry.get("failures"):
            # A loop is named first: a looping answer fails whatever stage it reaches, and no setting fixes that.
            figures.append("fails: " + ", ".join(f"{FAILURE_WORDS.get(reason, reason)} {share:.1%}"
                                                  for reason, share in entry["failures"].items()))
        if entry.get("judge"):
            figures.append(f"judge {entry['judge']['mean_score']:.2f}/5 over {entry['judge']['answers']} answers")
        if entry.get("seconds") and entry.get("new_tokens"):
            figures.append(f"{entry['new_tokens'] / entry['seconds']:.1f} new tokens/s")
        lines.append(f"- **{entry['label']}**: {what}: {'; '.join(figures)}")
    lines.append("\n*pass* = code found, parses, schema and intent; best practice is advice, reported apart. "
                 "*intent score* = the share of each request's clauses met, near misses counting part. "
                 f"*loop* = a line repeated more than {LOOP_REPEATS} times.")
    return "\n".join(lines)


def loop_note(answer: dict) -> str:
    """What a looping answer's verdict says beside its badge; "" for one that does not loop."""
    loop = answer.get("loop")
    return f"loop: the line `{loop['line']}` repeats {loop['repeats']} times (a generation loop)" if loop else ""


# -- the fine-tuned model picker (Compare, Evaluate) ---------------------------------------------------------


def tuned_choices() -> list[tuple[str, str]]:
    """None, then every run's adapter and merged export."""
    return [(NO_TUNED_LABEL, NO_TUNED), *compare.fine_tuned_choices()]


def pick_base_for(choice: str, base_name: str):
    """Choosing a run's adapter selects the base model it was trained on."""
    try:
        tuned = compare.fine_tuned(choice)
    except models.ModelUnavailable as error:
        gr.Warning(str(error))
        return gr.update()
    base = compare.base_model_of(tuned) if tuned else None
    return base if base and base != base_name else gr.update()
