"""The Compare tab: a request in, the model's answer streamed out.

    >>> with gr.Blocks() as demo:
    ...     build()
"""

from __future__ import annotations

import gradio as gr

from studio import compare, generation, models

EXAMPLES = [
    ["terraform", "An S3 bucket for application logs with versioning enabled and public access blocked."],
    ["terraform", "A security group for a web server that allows HTTPS from anywhere and SSH only from 10.0.0.0/8."],
    ["kubernetes", "A Deployment of nginx:1.27 with 3 replicas on port 80, and a ClusterIP Service in front of it."],
    ["kubernetes", "A CronJob that runs a backup container every night at 02:00 and keeps 3 successful jobs."],
]


def _answer(model_name, kind, prompt, max_tokens, temperature, progress=gr.Progress()):
    settings = generation.Settings(max_new_tokens=int(max_tokens), temperature=float(temperature))
    loading = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
    try:
        for partial in compare.stream_answer(model_name, kind, prompt, settings=settings, progress=loading):
            status = (
                f"{partial.tokens} tokens in {partial.seconds:.1f} s ({partial.tokens_per_second:.1f} tokens/s)"
                if partial.done
                else f"Generating… {partial.seconds:.1f} s"
            )
            yield partial.text, status
    except (ValueError, models.ModelUnavailable) as error:
        raise gr.Error(str(error), duration=None) from error


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


def build() -> None:
    with gr.Row():
        model_name = gr.Dropdown(
            models.choices(),
            value=models.EMBEDDED,
            label="Model",
            info="The embedded model works offline; a hub id needs internet; or type a local folder's path.",
            allow_custom_value=True,
            elem_id="compare-model",
            scale=3,
        )
        kind = gr.Radio(["terraform", "kubernetes"], value="terraform", label="Language", elem_id="compare-kind")
    prompt = gr.Textbox(
        label="Request",
        placeholder="An S3 bucket for logs with versioning enabled",
        lines=3,
        elem_id="prompt",
    )
    with gr.Accordion("Generation settings", open=False):
        with gr.Row():
            max_tokens = gr.Slider(16, 1024, value=384, step=16, label="Max new tokens", elem_id="max-tokens")
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="Temperature (0 = greedy)")
    generate = gr.Button("Generate", variant="primary", elem_id="generate")
    answer = gr.Markdown(label="Answer", elem_id="answer", min_height=80)
    status = gr.Markdown(elem_id="answer-status", elem_classes=["im-muted"])
    gr.Examples(EXAMPLES, inputs=[kind, prompt], label="Example requests")
    with gr.Accordion("Model footprint", open=False):
        gr.Markdown(
            "Weights in memory at each precision as `get_memory_footprint` measures them, and the parameters the "
            "default LoRA adapter trains as PEFT counts them."
        )
        measure = gr.Button("Measure", elem_id="footprint-measure")
        footprint = gr.Markdown(elem_id="footprint")

    inputs = [model_name, kind, prompt, max_tokens, temperature]
    generate.click(_answer, inputs, [answer, status], api_name="generate")
    prompt.submit(_answer, inputs, [answer, status], api_name=False)
    measure.click(_footprint, [model_name], [footprint], api_name="footprint")
