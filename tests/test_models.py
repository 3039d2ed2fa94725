"""The model registry and loading: the embedded model, local folders, offline hub ids, 4-bit, footprints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from jobs import training
from studio import models


def test_embedded_model_materializes_once_and_is_reused(embedded_home, monkeypatch):
    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    folder = models.resolve(models.EMBEDDED)
    assert models.is_complete(folder)
    weights = folder / "model.safetensors"
    written = weights.stat().st_mtime_ns

    started = time.monotonic()
    again = models.resolve(models.EMBEDDED)
    assert again == folder
    assert weights.stat().st_mtime_ns == written, "a complete cache must not be rewritten"
    assert time.monotonic() - started < 1.0

    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    assert (folder / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (folder / "tokenizer_config.json").read_text()
    )


def test_embedded_model_answers_with_its_chat_template(embedded_home, monkeypatch):
    from studio import chat, generation

    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    model, tokenizer = models.load(models.EMBEDDED)
    assert model.dtype == torch.float32  # the CPU choice, see models.pick_dtype
    messages = chat.messages_for("Write a Terraform S3 bucket named logs.", "terraform")
    prompt = generation.prompt_text(tokenizer, messages)
    assert prompt.startswith("<|im_start|>system\nYou are an infrastructure engineer.")
    assert prompt.endswith("<|im_start|>assistant\n")
    batch = generation.generate(model, tokenizer, [messages], generation.Settings(max_new_tokens=12))
    assert batch.new_tokens > 0 and batch.answers[0].strip()


def test_loading_draws_no_bar_of_transformers_own(tiny_llama, capfd):
    """The app's terminal showed "Loading weights" for every model the tabs loaded, beside the studio's own lines."""
    from transformers.utils import logging

    logging.enable_progress_bar()  # as a fresh process starts (another test may have turned it off already)
    capfd.readouterr()
    model, _ = models.load(str(tiny_llama))
    printed = capfd.readouterr()
    assert model is not None and "Loading weights" not in printed.out + printed.err, printed.err
    assert not logging.is_progress_bar_enabled()


def test_loading_an_adapter_prints_no_library_deprecation_note(tiny_llama, tiny_adapter):
    """Each adapter the tabs loaded printed PEFT's FutureWarning about transformers' renamed
    `is_gradient_checkpointing` in the app's terminal; a fresh process, as the app is, prints none."""
    code = (f"from studio import models\nmodel, _ = models.load_with_adapter({str(tiny_llama)!r}, {str(tiny_adapter)!r})"
            "\nprint(type(model).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.strip() == "PeftModelForCausalLM", done.stderr
    assert "FutureWarning" not in done.stderr and "is_gradient_checkpointing" not in done.stderr, done.stderr


def test_interrupted_or_truncated_cache_is_rebuilt(embedded_home, tmp_path, monkeypatch, capfd):
    """A folder without the completion marker (a crash mid-write) or with a file of the wrong size is rebuilt, once for
    two callers at once, with the studio's progress and no bar of transformers' own."""
    source = embedded_home / "models" / models.EMBEDDED_FOLDER
    home = tmp_path / "ws"
    cached = home / "models" / models.EMBEDDED_FOLDER
    cached.mkdir(parents=True)
    # Hard links: a complete copy of the cache in no time and no space.
    for item in source.iterdir():
        os.link(item, cached / item.name)
    monkeypatch.setenv("INFRAMIND_HOME", str(home))
    assert models.is_complete(cached)

    # Truncated weights with the marker still there: caught by the recorded sizes.
    (cached / "model.safetensors").unlink()
    (cached / "model.safetensors").write_bytes(b"\0" * 1024)
    assert not models.is_complete(cached)
    # No marker at all: the signature of a crash mid-write.
    (cached / models.COMPLETE_MARKER).unlink()
    assert not models.is_complete(cached)

    # Two callers at once (the app's background preparation and a first answer): one conversion, one folder.
    import gguf

    reader_class = gguf.GGUFReader
    seen, folders, errors = [], [], []

    def materialize():
        printer = training.stage_printer()  # as a job's train.log shows it: one line a stage

        def progress(fraction, message):
            seen.append(message)
            printer(fraction, message)

        try:
            folders.append(models.materialize_embedded(progress))
        except Exception as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)

    callers = [threading.Thread(target=materialize) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert not errors and len(folders) == 2 and folders[0] == folders[1], errors
    folder = folders[0]
    assert models.is_complete(folder)
    assert (folder / "model.safetensors").stat().st_size == (source / "model.safetensors").stat().st_size
    assert seen and "First run" in seen[0], "the first run must say what it is doing"
    assert sum("First run" in message for message in seen) == 1, "the second caller waits for the first's folder"
    assert not list(folder.parent.glob(".*partial*")), "no temporary folder may be left behind"
    assert gguf.GGUFReader is reader_class, "the conversion's one-read patch of gguf is undone"
    printed = capfd.readouterr()
    assert "de-quantizing GGUF tensors" not in printed.out + printed.err, "transformers' bar beside the studio's ticks"
    stages = [line for line in printed.out.splitlines() if line.startswith("[job] ")]
    assert len(stages) == 5 and stages[-1].startswith("[job] Embedded model ready in "), printed.out
    assert [line.split(" (")[0] for line in stages[:-1]] == [
        f"[job] First run: converting the embedded model from {models.embedded_gguf().name}",
        "[job] Reading the GGUF file and its tokenizer", "[job] Dequantizing the weights", "[job] Writing safetensors",
    ], printed.out


def test_offline_hub_id_fails_fast_and_names_the_way_out(home, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the real network path, not the shortcut
    started = time.monotonic()
    with pytest.raises(models.ModelUnavailable) as raised:
        models.load("Qwen/Qwen2.5-0.5B-Instruct")
    assert time.monotonic() - started < models.HUB_TIMEOUT_S + 5
    message = str(raised.value)
    assert models.EMBEDDED in message and "local" in message and "Qwen/Qwen2.5-0.5B-Instruct" in message


def test_hub_offline_variable_is_respected(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelUnavailable, match="HF_HUB_OFFLINE"):
        models.resolve("HuggingFaceTB/SmolLM2-360M-Instruct")


def test_bad_names_get_clear_errors(home, tmp_path):
    with pytest.raises(models.ModelUnavailable, match="no config.json"):
        models.resolve(str(tmp_path))
    with pytest.raises(models.ModelUnavailable, match="neither a folder"):
        models.resolve("not a model")


def test_presets_start_with_the_seed_target():
    assert models.choices()[0] == models.EMBEDDED
    assert models.PRESETS[0] == "Qwen/Qwen2.5-0.5B-Instruct"


def test_local_folder_loads_in_full_precision(tiny_model):
    model, tokenizer = models.load(str(tiny_model))
    assert model.dtype == torch.float32
    assert tokenizer.pad_token is not None
    ids = tokenizer("resource", return_tensors="pt")
    assert model(**ids).logits.shape[-1] == model.config.vocab_size


def test_four_bit_loads_on_cpu_and_runs(tiny_model):
    import bitsandbytes as bnb

    model, tokenizer = models.load(str(tiny_model), four_bit=True, dtype=torch.bfloat16)
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7, "every projection of both layers is NF4"
    weight = quantized[0].weight
    assert weight.quant_type == "nf4" and weight.quant_state.nested, "NF4 with double quantization"
    ids = tokenizer("bucket", return_tensors="pt")
    assert torch.isfinite(model(**ids).logits).all()


def test_footprint_figures(tiny_model):
    import transformers

    report = models.footprint(str(tiny_model))
    sizes = report["bytes"]
    assert sizes["fp32"] > sizes["bf16"] > sizes["nf4"] > 0
    config = transformers.AutoConfig.from_pretrained(tiny_model)
    params = report["parameters"]
    # get_memory_footprint counts parameters and buffers: at least 4 bytes per parameter at fp32.
    assert sizes["fp32"] >= 4 * params and sizes["bf16"] >= 2 * params

    lora = report["lora"]
    hidden, inter, r = config.hidden_size, config.intermediate_size, 32
    kv = config.num_key_value_heads * (hidden // config.num_attention_heads)
    # LoRA adds r * (in + out) parameters to each targeted projection.
    per_layer = r * ((hidden + hidden) * 2 + (hidden + kv) * 2 + (hidden + inter) * 2 + (inter + hidden))
    assert lora["trainable"] == config.num_hidden_layers * per_layer
    assert lora["total"] == params + lora["trainable"]
    assert lora["targets"] == list(models.LORA_TARGETS)


def test_lora_on_the_top_layers_only(tiny_model):
    """top_layers=N wraps the projections of the last N decoder layers and leaves the others plain."""
    import transformers
    from peft import get_peft_model

    config = transformers.AutoConfig.from_pretrained(tiny_model)
    layers = config.num_hidden_layers
    assert layers >= 2
    everywhere = models.footprint(str(tiny_model), four_bit=False)["lora"]["trainable"]
    top = models.footprint(str(tiny_model), lora=models.LoraShape(top_layers=1), four_bit=False)["lora"]["trainable"]
    assert top * layers == everywhere, "one layer's worth of adapter parameters"

    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    peft_model = get_peft_model(model, models.LoraShape(top_layers=1).peft_config(layers))
    adapted = {name.split(".layers.")[1].split(".")[0] for name, _ in peft_model.named_parameters()
               if "lora_A" in name}
    assert adapted == {str(layers - 1)}
    with pytest.raises(ValueError, match="number of layers"):
        models.LoraShape(top_layers=1).peft_config()


def test_dtype_choice():
    assert models.pick_dtype("cpu") == torch.float32


# -- hub models are checked before any download (issue 16) ---------------------------------------------------


class FakeModelInfo:
    """What `HfApi.model_info(name, files_metadata=True)` reads: the file list with sizes, and the config."""

    def __init__(self, sizes: dict, config: dict):
        from types import SimpleNamespace

        self.calls = []
        self.info = SimpleNamespace(siblings=[SimpleNamespace(rfilename=n, size=s) for n, s in sizes.items()],
                                    config=config)

    def model_info(self, name, **kwargs):
        self.calls.append((name, kwargs))
        return self.info


def test_a_hub_model_too_large_or_not_a_causal_lm_is_refused_before_download():
    from studio import models

    causal = {"architectures": ["Qwen2ForCausalLM"]}
    small = FakeModelInfo({"model.safetensors": 988_000_000, "config.json": 700}, causal)
    assert models.check_hub_model("Qwen/Qwen2.5-0.5B-Instruct", api=small) == {
        "bytes": 988_000_000, "architectures": ["Qwen2ForCausalLM"]}
    assert small.calls[0][1]["files_metadata"] is True
    huge = FakeModelInfo({f"model-{i:05d}.safetensors": 5 * 2**30 for i in range(30)}, causal)
    with pytest.raises(models.ModelUnavailable, match="150.0 GiB of weights; the studio downloads at most 16 GiB"):
        models.check_hub_model("big/model", api=huge)
    with pytest.raises(models.ModelUnavailable, match="not a causal language model"):
        models.check_hub_model("x/vit", api=FakeModelInfo({"model.safetensors": 10}, {"architectures": ["ViTModel"]}))
    with pytest.raises(models.ModelUnavailable, match="needs its own Python code"):
        models.check_hub_model("x/custom", api=FakeModelInfo({"model.safetensors": 10},
                                                              {**causal, "auto_map": {"AutoModel": "m.M"}}))
    with pytest.raises(models.ModelUnavailable, match="no safetensors weights"):
        models.check_hub_model("x/pickles", api=FakeModelInfo({"pytorch_model.bin": 10}, causal))


def test_a_visitor_gets_the_presets_only(home):
    from studio import access, models

    token = access._CURRENT.set(access.User(None, access.VISITOR, key="anonymous"))
    try:
        for name in ("/etc", "someone/any-model", str(home.parent)):
            with pytest.raises(models.ModelUnavailable, match="Visitors can use the embedded model and the presets"):
                models.resolve(name)
    finally:
        access._CURRENT.reset(token)


def test_a_model_name_is_checked_without_loading_it(tmp_path):
    """The one check the runner (before queueing) and `resolve` (before loading) share."""
    assert models.check_name(models.EMBEDDED) is None and models.check_name("Qwen/Qwen2.5-0.5B-Instruct") is None
    (tmp_path / "model" / "config.json").parent.mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert models.check_name(str(tmp_path / "model")) == (tmp_path / "model").resolve()
    with pytest.raises(models.ModelUnavailable, match="no config.json"):
        models.check_name(str(tmp_path))
    for name in ("./nowhere", "just-a-name", "a/b/c", "a/"):
        with pytest.raises(models.ModelUnavailable, match="neither a folder on this machine nor a hub id"):
            models.check_name(name)
