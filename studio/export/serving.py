"""How to serve an export: the Ollama Modelfile beside the GGUF files, and the exact commands to paste.

    >>> from studio.export import serving
    >>> print(serving.modelfile("iac-smollm2-Q8_0.gguf", template))
    FROM ./iac-smollm2-Q8_0.gguf
    SYSTEM \"\"\"You are an infrastructure engineer. ...\"\"\"
    ...
    >>> serving.commands(Path("workspace/exports/iac-smollm2"), "iac-smollm2", gguf_files)["Ollama"]
    'cd .../gguf && ollama create iac-smollm2 -f Modelfile\\nollama run iac-smollm2 "An S3 bucket ..."'
"""

from __future__ import annotations

import shlex
from pathlib import Path

from studio import chat

# Ollama's templates are Go templates, not Jinja: this is ChatML, the template of SmolLM2 and Qwen2.5, with
# the system prompt first and the assistant turn opened last.
CHATML_GO_TEMPLATE = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}{{ if not (and $last (eq .Role "assistant")) }}<|im_end|>
{{ end }}
{{- end }}
{{- if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ end }}
{{- end }}"""

# The GGUF file Ollama and llama.cpp are pointed at, best first: Q8_0 is close to F16 at half its size; the
# 4-bit types come last because on a model this small they change the greedy answer (see checks.json).
PREFERRED = ("Q8_0", "F16", "Q4_1", "Q4_0")
EXAMPLE_REQUEST = "An S3 bucket for application logs with versioning enabled."


def preferred_gguf(gguf_files: list[str]) -> str | None:
    """The file to serve by default among `gguf_files` (names ending in -<TYPE>.gguf).

    >>> preferred_gguf(["m-F16.gguf", "m-Q4_0.gguf", "m-Q8_0.gguf"])
    'm-Q8_0.gguf'
    """
    for kind in PREFERRED:
        for name in gguf_files:
            if name.endswith(f"-{kind}.gguf"):
                return name
    return gguf_files[0] if gguf_files else None


def modelfile(gguf_name: str, chat_template: str | None, system_kind: str = "terraform") -> str:
    """An Ollama Modelfile for `gguf_name` (in the same folder), with the IaC system prompt.

    A ChatML model gets the Go template above; any other leaves TEMPLATE out, and Ollama takes the chat
    template stored in the GGUF file.
    """
    if system_kind not in chat.SYSTEM_PROMPTS:
        raise ValueError(f"system_kind must be one of {', '.join(chat.SYSTEM_PROMPTS)}, not {system_kind!r}")
    others = [kind for kind in chat.SYSTEM_PROMPTS if kind != system_kind]
    lines = [
        "# Ollama Modelfile written by InfraMind Studio.",
        f"#   ollama create <name> -f Modelfile && ollama run <name> {shlex.quote(EXAMPLE_REQUEST)}",
        "# Another GGUF file of this folder: change FROM. The model was trained with one system prompt per",
        "# language; for " + ", ".join(others) + " use (in `ollama run`: /set system ...):",
    ]
    lines += [f"#   {chat.SYSTEM_PROMPTS[kind]}" for kind in others]
    lines += ["", f"FROM ./{gguf_name}", f'SYSTEM """{chat.SYSTEM_PROMPTS[system_kind]}"""']
    if chat_template and "<|im_start|>" in chat_template:
        lines.append(f'TEMPLATE """{CHATML_GO_TEMPLATE}"""')
        lines += ['PARAMETER stop "<|im_end|>"', 'PARAMETER stop "<|im_start|>"']
    # Greedy: the studio's evaluation decodes greedily, and IaC wants the likeliest answer, not variety.
    lines += ["PARAMETER temperature 0", "PARAMETER num_ctx 4096", ""]
    return "\n".join(lines)


GRAMMARS_FOLDER = "grammars"


def write_grammars(folder: Path, gguf_folder: Path | None = None) -> list[str]:
    """The schema grammars of both kinds, as GBNF (llama.cpp; xgrammar) and Lark (llguidance; vLLM's `guidance`
    backend), in `folder`/grammars, and the GBNF files beside the GGUF files too. Returns the paths written,
    relative to `folder`."""
    from studio.guided.grammars import grammar

    written = []
    for kind in chat.KINDS:
        source = grammar(kind)
        targets = [(Path(folder) / GRAMMARS_FOLDER / f"{kind}.gbnf", source.gbnf),
                   (Path(folder) / GRAMMARS_FOLDER / f"{kind}.lark", source.lark)]
        if gguf_folder is not None:
            targets.append((Path(gguf_folder) / f"{kind}.gbnf", source.gbnf))
        for path, text in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(str(path.relative_to(folder)))
    return written


def commands(folder: Path, name: str, formats: list[str], gguf_files: list[str]) -> dict[str, str]:
    """`{server: shell commands}` to serve the export in `folder`, for the formats it holds. Where the export
    holds the schema grammars (`grammars/`), the commands guide decoding with them: the answers are then one
    fenced block of real AWS types and arguments (or Kubernetes kinds and fields)."""
    folder = Path(folder).resolve()
    q = shlex.quote
    found: dict[str, str] = {}
    grammars = folder / GRAMMARS_FOLDER
    guided = (grammars / "terraform.lark").is_file()
    if "merged" in formats:
        merged = folder / "merged"
        found["vLLM"] = (
            f"vllm serve {q(str(merged))} --served-model-name {q(name)} "
            f"--chat-template {q(str(merged / 'chat_template.jinja'))}"
            + (" --structured-outputs-config '{\"backend\": \"guidance\"}'" if guided else "") + "\n"
            "curl http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' -d "
            + q(
                '{"model": "%s", "messages": [{"role": "system", "content": "%s"}, {"role": "user", "content": "%s"}]}'
                % (name, chat.SYSTEM_PROMPTS["terraform"], EXAMPLE_REQUEST)
            )
        )
        if guided:
            # The grammar goes with each request (1.6 MB of Lark for Terraform): from Python, not a shell line.
            found["vLLM"] += (
                "\n# guided by the Terraform schema (kubernetes.lark for Kubernetes):\npython -c " + q(
                    "import openai; c = openai.OpenAI(base_url='http://localhost:8000/v1', api_key='-'); "
                    f"print(c.chat.completions.create(model={name!r}, messages=["
                    f"{{'role': 'system', 'content': {chat.SYSTEM_PROMPTS['terraform']!r}}}, "
                    f"{{'role': 'user', 'content': {EXAMPLE_REQUEST!r}}}], extra_body={{'structured_outputs': "
                    f"{{'grammar': open({str(grammars / 'terraform.lark')!r}).read()}}}}).choices[0].message.content)"
                )
            )
    chosen = preferred_gguf(gguf_files)
    if "gguf" in formats and chosen:
        gguf_folder = folder / "gguf"
        guided_gguf = (gguf_folder / "terraform.gbnf").is_file()
        grammar_flag = f" --grammar-file {q(str(gguf_folder / 'terraform.gbnf'))}" if guided_gguf else ""
        found["llama.cpp"] = (
            f"llama-server -m {q(str(gguf_folder / chosen))} --jinja -c 4096 --port 8080\n"
            f"llama-cli -m {q(str(gguf_folder / chosen))} --jinja -cnv -sys {q(chat.SYSTEM_PROMPTS['terraform'])}"
            + grammar_flag
        )
        if guided_gguf:
            found["llama.cpp"] += ("\n# --grammar-file kubernetes.gbnf with the Kubernetes system prompt; llama-server "
                                   "takes a per-request \"grammar\" with the file's text")
        found["Ollama"] = (
            f"cd {q(str(gguf_folder))} && ollama create {q(name.lower())} -f Modelfile\n"
            f"ollama run {q(name.lower())} {q(EXAMPLE_REQUEST)}"
        )
    if "adapter" in formats:
        found["PEFT"] = (
            "python -c "
            + q(
                "from peft import AutoPeftModelForCausalLM; "
                f"model = AutoPeftModelForCausalLM.from_pretrained({str(folder / 'adapter')!r}); print(model)"
            )
        )
    return found
