"""The Jobs tab: every job with its state and a progress bar; for the chosen one, live plotly charts (loss and
eval loss, learning rate, GRPO's reward components or DPO's implicit rewards) from metrics.jsonl, the end of
train.log, and stop, resume and delete (with a confirmation).

    >>> with gr.Blocks() as demo:
    ...     build()

A timer re-reads the job store and the run folder every few seconds. Nothing lives in the page: closing or
reloading it, or restarting the studio, changes nothing for a running job, and the tab picks it up again from
the store. Each refresh also lets the runner notice jobs whose processes died and start what is queued.
"""

from __future__ import annotations

import functools
import html
import time

import gradio as gr

from jobs import progress, runner, specs
from jobs.run_folder import RunFolder
from jobs.store import JobNotFound, JobStateError, JobStore
from studio import evaluation
from studio.durations import format_duration
from studio.ui.widgets import device_label, evaluation_headline, progress_bar

REFRESH_S = 2.0
LOG_LINES = 14  # as many as the log box shows: its end, not a scroll bar's top
STATE_COLORS = {"queued": "#64748b", "running": "#4f46e5", "succeeded": "#059669", "failed": "#dc2626",
                "stopped": "#d97706"}


# -- the list ------------------------------------------------------------------------------------------


def jobs_table(store: JobStore) -> str:
    """The job list as an HTML table with a progress bar per job."""
    jobs = store.list()
    if not jobs:
        return "<p class='im-muted'>No jobs yet: launch one in the Train tab.</p>"
    by_name = {job.name: job for job in jobs}
    rows = []
    for job in jobs:
        run = RunFolder.named(job.name)
        last = run.last_metrics() or {}
        done = 1.0 if job.state == "succeeded" else progress.fraction([last])
        steps = f"{last.get('step', 0)}/{last.get('total_steps', '?')}" if last else (
            "loading…" if job.state == "running" else "-")  # a job loads its libraries and model first
        evaluating = progress.evaluation_in_progress([last]) if job.state == "running" else None
        if evaluating:  # after the last step, an evaluation over the held-out rows: its own count and bar
            rows_done, rows_total = evaluating
            steps = f"{steps} · evaluating {rows_done}/{rows_total or '?'} rows"
            done = rows_done / rows_total if rows_total else done
        eta = format_duration(last.get("eta_s")) if job.state == "running" and last.get("eta_s") is not None else ""
        if job.state == "queued" and job.after:
            eta = queued_after(job, by_name)
        color = STATE_COLORS.get(job.state, "#64748b")
        bar = progress_bar(done, color, min_width="120px")
        # When the job was launched: a resume starts it again, but it is the same job.
        started = time.strftime("%m-%d %H:%M", time.localtime(job.created_at)) if job.created_at else ""
        rows.append(
            f"<tr data-job='{html.escape(job.name)}'><td><b>{html.escape(job.name)}</b></td><td>{job.kind}</td>"
            f"<td><span class='im-state' style='color:{color};font-weight:600'>{job.state}</span></td>"
            f"<td>{bar}</td><td>{steps}</td><td>{eta}</td><td>{html.escape(job.devices or '')}</td>"
            f"<td>{started}</td></tr>")
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in
                   ("run", "kind", "state", "progress", "step", "ETA", "device", "launched"))
    return (f"<table style='width:100%;border-collapse:collapse'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def queued_after(job, jobs: dict) -> str:
    """A job queued after another: 'after X', and where X is running with an ETA and this job has a time budget, the
    time within which both will have ended (a recipe's GRPO after its SFT): X's ETA plus the budget, which counts from
    this job's process's start (jobs.training's `max_minutes`)."""
    text = f"after {html.escape(job.after)}"
    ahead = jobs.get(job.after)
    if ahead is None or ahead.state != "running":
        return text
    ahead_eta = (RunFolder.named(ahead.name).last_metrics() or {}).get("eta_s")
    try:
        budget = specs.load(RunFolder.named(job.name).spec_file).max_minutes
    except (OSError, ValueError):  # no spec yet, or one the job will refuse with its own error
        budget = None
    if ahead_eta is None or not budget:
        return text
    return f"{text} · both within {format_duration(ahead_eta + budget * 60)}"


# -- one job -------------------------------------------------------------------------------------------


def step_split(last: dict) -> str:
    """A GRPO step's time by part, from its last metrics line: 'Step 2.41 s: generate 1.20 s (50%), ...'."""
    if last.get("generate_s") is None or not last.get("step_s"):
        return ""
    step = last["step_s"]
    parts = ", ".join(f"{name} {last[key]:.2f} s ({last[key] / step:.0%})" for name, key in
                      (("generate", "generate_s"), ("reward", "reward_s"), ("train", "train_s")))
    return f"Step {step:.2f} s: {parts}"


def job_details(store: JobStore, name: str) -> str:
    try:
        job = store.get(name)
    except JobNotFound:
        return ""
    run = RunFolder.named(name)
    where = f" on {device_label(job.devices)}" if job.devices else ""
    lines = [f"**{job.name}**: {job.kind}, **{job.state}**{where}"]
    if job.attempts > 1 and job.started_at:
        lines.append(f"Attempt {job.attempts}, started {time.strftime('%m-%d %H:%M', time.localtime(job.started_at))}.")
    if job.after and job.state == "queued":
        lines.append(f"Waits for **{job.after}** to succeed, then starts from its adapter.")
    if job.stop_requested_at and job.state == "running":
        lines.append("Stop requested: it ends after its current batch of answers (an evaluation keeps no "
                     "checkpoint)." if job.kind == "eval" else
                     "Stop requested: it ends after its current step, with a checkpoint.")
    if job.message:
        first, _, rest = job.message.partition("\n")
        lines.append(first)
        if rest.strip() and job.state == "failed":
            lines.append(f"```\n{rest.strip()[-3000:]}\n```")
    last = run.last_metrics()
    if last:
        figures = []
        if last.get("tokens_per_s"):
            figures.append(f"{last['tokens_per_s']:,.0f} tokens/s")
        if last.get("peak_memory_bytes"):
            figures.append(f"peak memory {last['peak_memory_bytes'] / 2**30:.2f} GiB ({last.get('peak_memory_of')})")
        if last.get("mfu") is not None:
            figures.append(f"MFU {last['mfu']:.1%} of {last.get('mfu_peak')}")
        if last.get("elapsed_s") is not None:
            figures.append(f"elapsed {format_duration(last['elapsed_s'])}")
        if figures:
            lines.append(", ".join(figures))
        split = step_split(last)
        if split:
            lines.append(split)
    summary = run.summary()
    if summary and job.state == "succeeded" and job.kind == "eval":
        passing = ", ".join(f"{label} {rate:.1%}" for label, rate in (summary.get("pass") or {}).items())
        lines.append(f"Final: pass {passing} over {summary.get('rows', '?')} rows. Results in "
                     f"`{summary.get('results')}` (row by row in the Evaluate tab).")
    elif summary and job.state == "succeeded":
        parts = [f"{key.replace('_', ' ')} {summary[key]:.4g}" for key in ("train_loss", "eval_loss", "reward",
                                                                           "rewards_margin", "rewards_accuracy")
                 if isinstance(summary.get(key), (int, float))]
        if summary.get("pairs_by_source"):
            parts.append("pairs " + ", ".join(f"{n} {source}" for source, n in summary["pairs_by_source"].items()))
        lines.append("Final: " + ", ".join(parts) + f". Adapter in `{summary.get('adapter')}`.")
    checkpoint = run.last_checkpoint()
    if job.state in ("stopped", "failed"):
        lines.append(f"Resume continues from {checkpoint.name}." if checkpoint else "Resume starts over (no "
                     "checkpoint yet).")
    return "\n\n".join(lines)


def loss_figure(rows: list[dict]):
    import plotly.graph_objects as go

    figure = go.Figure()
    train = [row for row in rows if row.get("loss") is not None]
    evals = [row for row in rows if row.get("eval_loss") is not None]
    if train:
        figure.add_trace(go.Scatter(x=[r["step"] for r in train], y=[r["loss"] for r in train], mode="lines+markers",
                                    name="loss"))
    if evals:
        figure.add_trace(go.Scatter(x=[r["step"] for r in evals], y=[r["eval_loss"] for r in evals],
                                    mode="lines+markers", name="eval loss"))
    return _layout(figure, "Loss", "loss")


def lr_figure(rows: list[dict]):
    import plotly.graph_objects as go

    train = [row for row in rows if row.get("learning_rate") is not None]
    figure = go.Figure()
    if train:
        figure.add_trace(go.Scatter(x=[r["step"] for r in train], y=[r["learning_rate"] for r in train],
                                    mode="lines", name="learning rate"))
    return _layout(figure, "Learning rate", "learning rate")


def reward_figure(rows: list[dict]):
    """Each reward component's mean per step, the total reward, and the share of zero-variance groups."""
    import plotly.graph_objects as go

    figure = go.Figure()
    train = progress.training_rows(rows)
    for name in progress.reward_components(rows):
        points = [r for r in train if r.get(f"{name}_mean") is not None]
        figure.add_trace(go.Scatter(x=[r["step"] for r in points], y=[r[f"{name}_mean"] for r in points],
                                    mode="lines+markers", name=name.removeprefix("reward_")))
    total = [r for r in train if r.get("reward") is not None]
    if total:
        figure.add_trace(go.Scatter(x=[r["step"] for r in total], y=[r["reward"] for r in total], mode="lines",
                                    name="total", line={"width": 3}))
        passing = [r for r in total if r.get("iac_ok") is not None]
        if passing:
            figure.add_trace(go.Scatter(x=[r["step"] for r in passing], y=[r["iac_ok"] for r in passing],
                                        mode="lines", name="answers passing every check", line={"dash": "dash"}))
        figure.add_trace(go.Scatter(x=[r["step"] for r in total if r.get("frac_zero_std") is not None],
                                    y=[r["frac_zero_std"] for r in total if r.get("frac_zero_std") is not None],
                                    mode="lines", name="zero-variance groups", line={"dash": "dot"}))
    return _layout(figure, "Rewards (GRPO)", "mean reward")


def preference_figure(rows: list[dict]):
    """DPO's implicit rewards per step: the chosen and rejected answers', their margin, and the pair accuracy."""
    import plotly.graph_objects as go

    figure = go.Figure()
    train = progress.training_rows(rows)
    for key, name, style in (("rewards_chosen", "chosen", {}), ("rewards_rejected", "rejected", {}),
                             ("rewards_margin", "margin", {"width": 3}),
                             ("rewards_accuracy", "pairs ranked right (share)", {"dash": "dash"})):
        points = [r for r in train if r.get(key) is not None]
        if points:
            figure.add_trace(go.Scatter(x=[r["step"] for r in points], y=[r[key] for r in points],
                                        mode="lines+markers", name=name, line=style))
    return _layout(figure, "Preferences (DPO): beta x log(policy / reference)", "implicit reward")


WAITING = "waiting for the first step"


def _layout(figure, title: str, y_title: str):
    """Steps are whole numbers on the x axis; a chart with nothing yet says what it waits for."""
    figure.update_layout(title=title, xaxis_title="step", yaxis_title=y_title, height=300,
                         margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.25})
    steps = [x for trace in figure.data for x in (trace.x or ())]
    figure.update_xaxes(tickformat="d", dtick=1 if steps and max(steps) <= 10 else None, rangemode="tozero")
    if not steps:
        figure.update_xaxes(range=[0, 1], showticklabels=False)
        figure.update_yaxes(showticklabels=False)
        figure.add_annotation(text=WAITING, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                              font={"size": 15, "color": "#64748b"})
    return figure


# -- the timer -----------------------------------------------------------------------------------------


def refresh(selected: str | None, seen: tuple | None):
    """Everything the tab shows, re-read from the store and the run folder.

    The charts are rebuilt only when metrics.jsonl changed (`seen` holds its size), so an idle chart does not
    flicker; the chosen job stays chosen while it exists, and the newest is chosen otherwise.
    """
    store = JobStore()
    runner.schedule(store)  # notices dead jobs, starts queued ones
    names = [job.name for job in store.list()]
    if selected not in names:
        selected = names[0] if names else None
    table = jobs_table(store)
    chooser = gr.update(choices=names, value=selected)
    if selected is None:
        hidden = gr.update(value=None, visible=False)
        return (table, chooser, "", gr.update(value="", visible=False), None, None, None, hidden, hidden, "", None,
                *buttons_for(None))
    run = RunFolder.named(selected)
    size = run.metrics_file.stat().st_size if run.metrics_file.exists() else -1
    rows = run.metrics()
    warning = progress.learning_signal_warning(rows)
    warning_update = gr.update(value=f"⚠️ {warning}" if warning else "", visible=bool(warning))
    results = evaluation.results_of_run(run.path)
    key = (selected, size, (results / evaluation.SUMMARY_FILE).stat().st_mtime if results else None)
    if key == seen:
        plots = (gr.skip(),) * 5
    else:
        has_rewards = bool(progress.reward_components(rows))
        # GRPO's rewards and DPO's implicit rewards share the chart's place: a job has one or the other.
        has_preferences = any(row.get("rewards_margin") is not None for row in rows)
        rewards = reward_figure(rows) if has_rewards else preference_figure(rows) if has_preferences else None
        trains = store.get(selected).kind != "eval"  # an evaluation has no loss to chart
        plots = (gr.update(value=loss_figure(rows), visible=trains), gr.update(value=lr_figure(rows), visible=trains),
                 gr.update(value=rewards, visible=rewards is not None), *evaluation_view(results))
    return (table, chooser, job_details(store, selected), warning_update, *plots, run.log_tail(LOG_LINES), key,
            *buttons_for(store.get(selected).state))


def buttons_for(state: str | None) -> tuple:
    """Stop, Resume, Delete and Kill, each enabled only where it can act on the chosen job's state."""
    live = state in ("queued", "running")
    return (gr.update(interactive=live), gr.update(interactive=state in ("stopped", "failed")),
            gr.update(interactive=state is not None and not live), gr.update(interactive=state == "running"))


def evaluation_view(results) -> tuple:
    """The run's evaluation (headline and chart), shown on its page when there is one."""
    found = evaluation.read(results) if results else None
    if found is None:
        return gr.update(value=None, visible=False), gr.update(value=None, visible=False)
    headline = f"### Evaluation\n{evaluation_headline(found.summary)}\n\nRow by row: the Evaluate tab, `{results}`."
    return gr.update(value=headline, visible=True), gr.update(value=evaluation.figure(found.summary), visible=True)


def _act(action, name: str | None):
    if not name:
        return "Choose a job first."
    try:
        action(name)
    except (JobNotFound, JobStateError) as error:
        return f"{error}"
    return ""


def stop_job(name):
    return _act(runner.stop, name)


def kill_job(name):
    return _act(functools.partial(runner.stop, force=True), name)


def resume_job(name):
    return _act(runner.resume, name)


def delete_job(name):
    message = _act(runner.delete, name)
    return message or f"{name} deleted.", gr.update(visible=False)


def choose(name: str | None):
    """Another job chosen: everything the tab shows, charts redrawn."""
    return refresh(name, None)


def ask_to_delete(name: str | None):
    """Show the confirmation (nothing is deleted before it is clicked)."""
    return gr.update(visible=bool(name)), f"Delete **{name}**: its checkpoints, adapter and logs?" if name else ""


def hide():
    return gr.update(visible=False)


def build() -> None:
    gr.Markdown("Jobs run in processes of their own: closing or reloading this page changes nothing for them.",
                elem_classes=["im-muted"])
    table = gr.HTML(elem_id="jobs-table")
    with gr.Row():
        chooser = gr.Dropdown([], label="Job", elem_id="jobs-select", scale=3)
        stop_button = gr.Button("Stop", elem_id="jobs-stop", scale=1, interactive=False)
        resume_button = gr.Button("Resume", elem_id="jobs-resume", scale=1, interactive=False)
        delete_button = gr.Button("Delete…", variant="stop", elem_id="jobs-delete", scale=1, interactive=False)
    with gr.Row(visible=False) as confirm_row:
        confirm_text = gr.Markdown()
        confirm_button = gr.Button("Delete the run and its folder", variant="stop", elem_id="jobs-delete-confirm")
        cancel_button = gr.Button("Keep it", elem_id="jobs-delete-cancel")
    action_status = gr.Markdown(elem_id="jobs-action-status")
    warning = gr.Markdown(visible=False, elem_id="jobs-warning")
    details = gr.Markdown(elem_id="jobs-details")
    with gr.Row():
        loss_plot = gr.Plot(label="Loss", elem_id="jobs-loss-plot")
        lr_plot = gr.Plot(label="Learning rate", elem_id="jobs-lr-plot")
    reward_plot = gr.Plot(label="Rewards", elem_id="jobs-reward-plot", visible=False)
    eval_summary = gr.Markdown(visible=False, elem_id="jobs-eval-summary")
    eval_chart = gr.Plot(show_label=False, visible=False, elem_id="jobs-eval-chart")
    log = gr.Textbox(label="train.log (the end)", lines=LOG_LINES, max_lines=LOG_LINES, autoscroll=True,
                     interactive=False, elem_id="jobs-log", elem_classes=["im-mono"])
    with gr.Accordion("More", open=False):
        kill_button = gr.Button("Kill now (loses the steps since the last checkpoint)", elem_id="jobs-kill",
                                interactive=False)
    seen = gr.State(None)
    timer = gr.Timer(REFRESH_S)

    outputs = [table, chooser, details, warning, loss_plot, lr_plot, reward_plot, eval_summary, eval_chart, log, seen,
               stop_button, resume_button, delete_button, kill_button]
    timer.tick(refresh, [chooser, seen], outputs, api_name=False, show_progress="hidden")
    chooser.input(choose, [chooser], outputs, api_name=False, show_progress="hidden")
    stop_button.click(stop_job, chooser, action_status, api_name="jobs_stop")
    kill_button.click(kill_job, chooser, action_status, api_name=False)
    resume_button.click(resume_job, chooser, action_status, api_name="jobs_resume")
    delete_button.click(ask_to_delete, chooser, [confirm_row, confirm_text], api_name=False)
    cancel_button.click(hide, None, confirm_row, api_name=False)
    confirm_button.click(delete_job, chooser, [action_status, confirm_row], api_name="jobs_delete")
