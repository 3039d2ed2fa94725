"""Builders for tests: tiny random models from a config (no download), a chat tokenizer, a free port.

    from tests.factories import build_tiny_model
    folder = build_tiny_model(tmp_path, "qwen2")     # 2 layers, hidden 64, ChatML tokenizer
    with served_studio(home) as url: ...            # the whole app on a free port, INFRAMIND_HOME=home
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
from pathlib import Path

# Chromium in a container: no sandbox, no GPU, nothing phoned home.
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]

# ChatML, the template of both SmolLM2 and Qwen2.5, with the assistant turn marked for TRL's
# assistant-only loss.
CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CORPUS = [
    'resource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}\n',
    'resource "aws_s3_bucket_versioning" "logs" {\n  bucket = aws_s3_bucket.logs.id\n'
    '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n',
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    "You are an infrastructure engineer. Answer with Terraform (HCL) for the AWS provider.",
    "Create an S3 bucket for logs with versioning enabled and a Kubernetes service of type LoadBalancer.",
]


def build_tokenizer(folder: Path):
    """A byte-level BPE tokenizer trained on a few lines of IaC, with ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    return tokenizer


def build_tiny_model(folder: Path, arch: str = "llama", seed: int = 0) -> Path:
    """A random 2-layer `arch` ("llama" or "qwen2") model with a chat tokenizer, saved in `folder`."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig, Qwen2Config

    tokenizer = build_tokenizer(folder)
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config = LlamaConfig(**shape, tie_word_embeddings=True) if arch == "llama" else Qwen2Config(**shape)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(folder)
    return folder


def build_qwen25_shape(folder: Path, seed: int = 0) -> Path:
    """A random model of Qwen2.5-0.5B's shape (`models.QWEN25_05B_SHAPE`, 494M parameters, saved in bf16: ~1 GB)
    with the tiny chat tokenizer, for shape tests of what targets that model."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from studio import models

    tokenizer = build_tokenizer(folder)
    config = Qwen2Config(**models.QWEN25_05B_SHAPE, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(folder)
    return folder


def load_script(relative: str):
    """A script of the project that is no package (`bench/recipe.py`, `scripts/...`) as a module."""
    path = Path(__file__).resolve().parents[1] / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_tiny_adapter(folder: Path, base: Path, seed: int = 1) -> Path:
    """A LoRA adapter for the tiny model in `base` whose weights are not zero, saved in `folder`.

    PEFT starts B at zero, so a fresh adapter changes nothing; `init_lora_weights=False` draws both matrices at
    random, so the adapted model really answers differently from its base.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


@contextlib.contextmanager
def served_studio(home: Path, **env: str):
    """The whole studio served headless on a free port with INFRAMIND_HOME=`home` (and `env`); yields its URL.
    The environment is put back afterwards."""
    previous = {name: os.environ.get(name) for name in ("INFRAMIND_HOME", *env)}
    os.environ.update({"INFRAMIND_HOME": str(home), **env})
    try:
        from studio.ui import CSS, THEME, build_app

        demo = build_app()
        demo.queue()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, theme=THEME, css=CSS,
                    quiet=True)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kill_jobs(home: Path) -> None:
    """Kill the processes the jobs of workspace `home` left running: a failed test's job must not outlive it."""
    from jobs import runner
    from jobs.store import JobStore

    if not (home / "jobs.sqlite").exists():
        return
    for job in JobStore(home / "jobs.sqlite").list():
        for pid, started in ((job.trainer_pid, job.trainer_started), (job.supervisor_pid, job.supervisor_started)):
            if runner.alive(pid, started):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
