"""The Compare tab: one request, the base and the fine-tuned answers side by side, checked, and a vote.

    >>> with gr.Blocks() as demo:
    ...     build()

API endpoints: `/compare` (the tab's button: both answers and their verdicts), `/generate` (one model's answer
and its speed, for scripts), `/export_votes` and `/footprint`.
"""

from __future__ import annotations

from typing import Iterator

import gradio as gr

from studio import chat, compare, examples, generation, models, preferences
from studio.ui.widgets import (GREEDY, GUIDED_INFO, GUIDED_LABEL, NO_TUNED, SAMPLED, code_block_html, pick_base_for,
                               tuned_choices, verdict_html, when_opened)

WAITING_TUNED = ("*Choose a fine-tuned model above (a run's adapter, or a merged export's folder) to see its answer "
                 "here.*")
VOTE_NOTE = ("Votes are saved in the workspace (`preferences/votes.jsonl`). The download holds the votes that prefer "
             "one answer as DPO pairs (prompt, chosen, rejected); ties and “both bad” are kept in the votes but "
             "not exported as pairs.")


# -- what the panes show -----------------------------------------------------------------------------------


def answer_pane(report, kind: str, intent_checked: bool) -> str:
    """An answer's verdict and the code it was checked on."""
    verdict = report.to_dict()
    return verdict_html(verdict, intent_checked) + code_block_html(verdict, kind)


def _status(partial: compare.Partial) -> str:
    if partial.done:
        return f"{partial.tokens} tokens in {partial.seconds:.1f} s ({partial.tokens_per_second:.1f} tokens/s)"
    return f"Generating… {partial.tokens} tokens, {partial.seconds:.1f} s"


def _example_note(asked: str, who: str) -> str:
    """The status line's words on the worked example a request was asked with ('' where there was none)."""
    shown = examples.shown(asked)[0]
    return f" · {who} with a worked example: “{shown[:100]}{'…' if len(shown) > 100 else ''}”" if shown else ""


def _settings(decoding: str, temperature, max_tokens, seed) -> generation.Settings:
    sampled = decoding == SAMPLED
    return generation.Settings(
        max_new_tokens=int(max_tokens),
        # Sampling at temperature 0 is greedy decoding: take the smallest real temperature instead.
        temperature=max(0.05, float(temperature)) if sampled else 0.0,
        seed=int(seed or 0),
    )


# -- events ------------------------------------------------------------------------------------------------


def _compare(base_name, tuned_choice, kind, prompt, context, decoding, temperature, max_tokens, seed, example,
             guided_base=False, guided_tuned=False, progress=gr.Progress()) -> Iterator[tuple]:
    loading = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
    try:
        tuned = compare.fine_tuned(tuned_choice)
        settings = _settings(decoding, temperature, max_tokens, seed)
        intent = compare.intent_for(example, kind, prompt, context)
        # A fine-tuned model trained with worked examples is asked with its nearest one (both panes are).
        asked = examples.request_input(tuned.path if tuned else None, prompt, kind, context)
        note = _example_note(asked, "both asked")
        stream = compare.stream_pair(base_name or models.EMBEDDED, tuned, kind, prompt, asked, settings,
                                     intent=intent, progress=loading, guided=(bool(guided_base), bool(guided_tuned)))
        for left, right in stream:
            left_verdict = right_verdict = ""
            pair = None
            if left.done:
                left_verdict = answer_pane(left.report, kind, intent is not None)
                if right is not None:
                    right_verdict = answer_pane(right.report, kind, intent is not None)
                    pair = {
                        "messages": chat.messages_for(prompt, kind, asked), "kind": kind,
                        "left": left.text, "right": right.text,
                        "left_model": f"base: {base_name or models.EMBEDDED}", "right_model": f"fine-tuned: "
                        f"{tuned.label}", "example_id": (example or {}).get("id", "") if intent is not None else "",
                        "settings": {"temperature": settings.temperature, "max_new_tokens": settings.max_new_tokens,
                                     "seed": settings.seed, "guided": [bool(guided_base), bool(guided_tuned)]},
                    }
            yield (
                left.text, _status(left), left_verdict,
                right.text if right else WAITING_TUNED, _status(right) + note if right else "", right_verdict,
                pair, "" if pair is None else "Which answer is better?",
            )
    except (ValueError, models.ModelUnavailable) as error:
        raise gr.Error(str(error), duration=None) from error


def generate(model: str, kind: str, prompt: str, max_tokens: float, temperature: float) -> Iterator[tuple[str, str]]:
    """One model's answer and its speed: `[answer, status]` (the `/generate` API endpoint)."""
    settings = generation.Settings(max_new_tokens=int(max_tokens), temperature=float(temperature))
    try:
        for partial in compare.stream_answer(model or models.EMBEDDED, kind, prompt, settings=settings):
            # Read only once the model loaded: its name is then one the studio accepts (studio.access).
            note = _example_note(examples.request_input(model, prompt, kind), "asked") if partial.done and model else ""
            yield partial.text, _status(partial) + note
    except (ValueError, models.ModelUnavailable) as error:
        raise gr.Error(str(error), duration=None) from error


def _vote_counts() -> str:
    counts = preferences.counts()
    pairs = counts["left"] + counts["right"]
    return (f"Votes so far: {counts['left']} left, {counts['right']} right, {counts['tie']} tie, "
            f"{counts['both_bad']} both bad ({pairs} can become DPO pairs).")


def vote(choice: str, pair):
    """Save the vote `choice` on the answers in `pair` (once per pair); returns the pair marked and a message."""
    if not pair:
        raise gr.Error("Generate both answers first (choose a fine-tuned model), then vote.")
    if pair.get("voted"):
        return pair, f"Already saved for these answers ({preferences.VOTE_LABELS[pair['voted']].lower()}). " \
                     f"{_vote_counts()}"
    try:
        preferences.record(pair["messages"], left=pair["left"], right=pair["right"], vote=choice,
                           left_model=pair["left_model"], right_model=pair["right_model"],
                           example_id=pair.get("example_id", ""), settings=pair.get("settings"))
    except ValueError as error:
        raise gr.Error(str(error)) from error
    # One vote per pair: a second click on the same answers does not count twice.
    return {**pair, "voted": choice}, f"Saved: {preferences.VOTE_LABELS[choice].lower()}. {_vote_counts()}"


def _ask_judge(url: str, judge_model: str, pair):
    from studio.judge import Judge, JudgeUnavailable

    if not pair:
        raise gr.Error("Generate both answers first (choose a fine-tuned model), then ask the judge.")
    request = pair["messages"][-1]["content"]
    kind = pair.get("kind", "terraform")
    try:
        judge = Judge(url, model=judge_model or "default")
        scores = [judge.score(request, pair[side], kind) for side in ("left", "right")]
    except (ValueError, JudgeUnavailable) as error:
        raise gr.Error(str(error), duration=None) from error
    lines = [f"- **{name}**: {score.score if score.score is not None else '?'}/5: {score.reason}"
             for name, score in zip(("Base", "Fine-tuned"), scores)]
    return "\n".join(lines)


def _export_votes():
    path, pairs = preferences.export_dpo()
    return (gr.update(value=str(path), visible=True),
            f"{pairs} DPO pair{'s' if pairs != 1 else ''} written to `{path}`. {_vote_counts()}")


def _pick_example(example_id: str):
    row = next((r for r in compare.examples() if r.id == example_id), None)
    if row is None:
        return gr.update(), gr.update(), gr.update(), None
    return row.kind, row.instruction, row.input, row.to_dict()


def _refresh(current):
    return gr.update(choices=tuned_choices(), value=current or NO_TUNED)


def _footprint(model_name, progress=gr.Progress()):
    progress(0.1, desc="Loading the model at fp32, bf16 and NF4")
    try:
        report = models.footprint(model_name or models.EMBEDDED)
    except models.ModelUnavailable as error:
        raise gr.Error(str(error), duration=None) from error
    return footprint_markdown(report)


def footprint_markdown(report: dict) -> str:
    rows = ["| precision | weights in memory |", "| --- | --- |"]
    for label, size in report["bytes"].items():
        rows.append(f"| {label} | {size / 2**20:,.1f} MiB |")
    for label, error in report["errors"].items():
        rows.append(f"| {label} | not available here: {error} |")
    lora = report.get("lora")
    if lora:
        rows.append("")
        rows.append(
            f"LoRA r={lora['r']}, alpha={lora['alpha']} on {', '.join(lora['targets'])}: "
            f"**{lora['trainable']:,}** trainable of {lora['total']:,} parameters ({lora['percent']:.2f}%)."
        )
    return "\n".join(rows)


def _example_choices() -> list[tuple[str, str]]:
    return [(f"{row.id} · {row.kind} · {row.instruction[:90]}", row.id) for row in compare.examples()]


# -- the tab -----------------------------------------------------------------------------------------------


def build() -> None:
    with gr.Row():
        model_name = gr.Dropdown(
            models.choices(),
            value=models.EMBEDDED,
            label="Base model",
            info="The embedded model works offline; a hub id needs internet; or type a local folder's path.",
            allow_custom_value=True,
            elem_id="compare-model",
            scale=3,
        )
        tuned = gr.Dropdown(
            tuned_choices(),
            value=NO_TUNED,
            label="Fine-tuned",
            info="A run's adapter (on the same weights, toggled), or type a merged export's folder.",
            allow_custom_value=True,
            elem_id="compare-tuned",
            scale=3,
        )
        refresh = gr.Button("↻ Runs", elem_id="compare-refresh", scale=0, min_width=80)
    with gr.Row():
        kind = gr.Radio(["terraform", "kubernetes"], value="terraform", label="Language", elem_id="compare-kind")
        example = gr.Dropdown(
            _example_choices(), value=None, label="Example from the eval split",
            info="Its intent is checked too, as long as the request is left as it is.", elem_id="compare-example",
            scale=3,
        )
    prompt = gr.Textbox(
        label="Request", placeholder="An S3 bucket for logs with versioning enabled", lines=3, elem_id="prompt"
    )
    context = gr.Textbox(label="Context (optional: names, IDs, code to fix)", lines=2, elem_id="compare-input")
    with gr.Accordion("Generation settings", open=False):
        with gr.Row():
            decoding = gr.Radio([GREEDY, SAMPLED], value=GREEDY, label="Decoding", elem_id="compare-decoding",
                                info="Greedy: the same request always gets the same answers.")
            temperature = gr.Slider(0.05, 1.5, value=0.7, step=0.05, label="Temperature (sampled)",
                                    elem_id="compare-temperature")
            max_tokens = gr.Slider(16, 1024, value=384, step=16, label="Max new tokens", elem_id="max-tokens")
            seed = gr.Number(0, precision=0, label="Seed (sampled)", elem_id="compare-seed")
    generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("### Base", elem_classes=["im-pane-title"])
            guided_base = gr.Checkbox(False, label=GUIDED_LABEL, info=GUIDED_INFO, elem_id="compare-guided-base")
            answer = gr.Markdown(label="Base answer", elem_id="answer", min_height=80)
            status = gr.Markdown(elem_id="answer-status", elem_classes=["im-muted"])
            verdict = gr.HTML(elem_id="answer-verdict")
        with gr.Column():
            gr.Markdown("### Fine-tuned", elem_classes=["im-pane-title"])
            guided_tuned = gr.Checkbox(False, label=GUIDED_LABEL, info=GUIDED_INFO, elem_id="compare-guided-tuned")
            tuned_answer = gr.Markdown(WAITING_TUNED, label="Fine-tuned answer", elem_id="answer-tuned",
                                       min_height=80)
            tuned_status = gr.Markdown(elem_id="answer-tuned-status", elem_classes=["im-muted"])
            tuned_verdict = gr.HTML(elem_id="answer-tuned-verdict")
    pair = gr.State(None)
    with gr.Group():
        vote_prompt = gr.Markdown(elem_id="vote-prompt")
        with gr.Row():
            votes = {
                "left": gr.Button("◀ Left is better", elem_id="vote-left", size="sm"),
                "right": gr.Button("Right is better ▶", elem_id="vote-right", size="sm"),
                "tie": gr.Button("Tie", elem_id="vote-tie", size="sm"),
                "both_bad": gr.Button("Both are bad", elem_id="vote-both-bad", size="sm"),
            }
            export = gr.Button("Download DPO pairs", elem_id="vote-export", size="sm")
        gr.Markdown(VOTE_NOTE, elem_classes=["im-muted"])
        vote_status = gr.Markdown(elem_id="vote-status")
        # Shown once there is a file: an empty file box is 200 px of nothing.
        vote_file = gr.File(label="DPO pairs (JSONL)", elem_id="vote-file", visible=False, interactive=False)
    with gr.Accordion("LLM judge (optional, off unless asked)", open=False):
        gr.Markdown("A model behind an OpenAI-compatible server (llama.cpp's `llama-server`, vLLM) scores both "
                    "answers from 1 to 5 against the request, with a rubric: a second opinion beside the validators.")
        with gr.Row():
            judge_url = gr.Textbox("http://127.0.0.1:8080", label="Server URL", elem_id="judge-url", scale=3)
            judge_model = gr.Textbox("default", label="Model name", elem_id="judge-model", scale=2)
            judge_button = gr.Button("Ask the judge", elem_id="judge-ask", scale=1)
        judge_scores = gr.Markdown(elem_id="judge-scores")
    with gr.Accordion("Model footprint", open=False):
        gr.Markdown(
            "Weights in memory at each precision as `get_memory_footprint` measures them, and the parameters the "
            "default LoRA adapter trains as PEFT counts them."
        )
        measure = gr.Button("Measure", elem_id="footprint-measure")
        footprint = gr.Markdown(elem_id="footprint")

    chosen = gr.State(None)
    inputs = [model_name, tuned, kind, prompt, context, decoding, temperature, max_tokens, seed, chosen, guided_base,
              guided_tuned]
    outputs = [answer, status, verdict, tuned_answer, tuned_status, tuned_verdict, pair, vote_prompt]
    generate_button.click(_compare, inputs, outputs, api_name="compare")
    prompt.submit(_compare, inputs, outputs, api_name=False)
    gr.api(generate, api_name="generate")
    example.change(_pick_example, [example], [kind, prompt, context, chosen], api_name=False)
    tuned.change(pick_base_for, [tuned, model_name], [model_name], api_name=False)
    refresh.click(_refresh, [tuned], [tuned], api_name=False)
    when_opened(_refresh, [tuned], [tuned], follow=True)
    for choice, button in votes.items():
        button.click(lambda shown, choice=choice: vote(choice, shown), [pair], [pair, vote_status],
                     api_name=False)
    export.click(_export_votes, None, [vote_file, vote_status], api_name="export_votes")
    judge_button.click(_ask_judge, [judge_url, judge_model, pair], [judge_scores], api_name=False)
    measure.click(_footprint, [model_name], [footprint], api_name="footprint")
