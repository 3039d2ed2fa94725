"""The model card (base, training config, dataset, evaluation) and the serving files and commands."""

from __future__ import annotations

import json
import shlex

import yaml

from studio import chat, models
from studio.export import card, serving
from tests.export.tiny_runs import EVALUATION


def _run_folder(tmp_path, evaluation=True, job=True):
    folder = tmp_path / "runs" / "sft-7"
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_config.json").write_text(
        json.dumps({"r": 32, "lora_alpha": 64, "lora_dropout": 0.05, "target_modules": ["v_proj", "q_proj"]})
    )
    if job:
        (folder / "job.yaml").write_text(f"kind: sft\nmodel: {models.EMBEDDED}\ndataset: data/train.jsonl\nepochs: 3\n")
    (folder / "summary.json").write_text(json.dumps({"steps": 120, "final_loss": 0.42, "history": [1, 2]}))
    if evaluation:
        (folder / "eval").mkdir()
        (folder / "eval" / "summary.json").write_text(json.dumps(EVALUATION))
    return folder


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_names_the_base_the_training_and_the_evaluation(tmp_path):
    facts = card.RunFacts.read(_run_folder(tmp_path), models.EMBEDDED)
    checks = {"merged": {"label": "merged vs base + adapter", "largest_logit_difference": 1.2e-5,
                         "greedy_tokens_agreeing": 48, "greedy_tokens": 48}}
    text = card.model_card(facts, "merged", "iac-smollm2", checks=checks, merged_dtype="float32")
    meta = _front_matter(text)
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "transformers"
    assert "dequantized to fp32" in text  # the embedded base is not the hub's bf16 weights: said so
    assert "epochs: 3" in text and "Dataset: data/train.jsonl" in text
    assert "r = 32, lora_alpha = 64" in text
    assert "- final_loss: 0.42" in text and "history" not in text
    assert "(40 rows)" in text
    assert "| base | 90.0% | 55.0% | 30.0% | 20.0% | 10.0% | 5.0% |" in text
    assert "| base, kubernetes | 95.0% | 60.0% | 35.0% | 20.0% | 10.0% | 5.0% |" in text
    assert "| merged vs base + adapter | 1.2e-05 | 48/48 |" in text
    for prompt in chat.SYSTEM_PROMPTS.values():
        assert prompt in text


def test_card_shows_the_intent_score_where_the_evaluation_has_it(tmp_path):
    scored = json.loads(json.dumps(EVALUATION))
    scored["models"][0]["intent_score"] = {"all": 0.125, "kubernetes": 0.25}
    folder = _run_folder(tmp_path)
    (folder / "eval" / "summary.json").write_text(json.dumps(scored))
    text = card.model_card(card.RunFacts.read(folder, models.EMBEDDED), "adapter", "iac")
    assert "| intent | best practice | pass | loops | intent score |" in text
    assert "| base | 90.0% | 55.0% | 30.0% | 20.0% | 10.0% | 5.0% | – | 12.5% |" in text
    assert "| base, kubernetes | 95.0% | 60.0% | 35.0% | 20.0% | 10.0% | 5.0% | – | 25.0% |" in text
    assert "| base, terraform | 85.0% | 50.0% | 25.0% | 20.0% | 10.0% | 5.0% | – | – |" in text  # none for it


def test_card_without_evaluation_or_job_says_so(tmp_path):
    facts = card.RunFacts.read(_run_folder(tmp_path, evaluation=False, job=False), "/models/my-local-model")
    text = card.model_card(facts, "adapter", "iac")
    meta = _front_matter(text)
    assert "base_model" not in meta and meta["library_name"] == "peft" and "lora" in meta["tags"]
    assert "has not been evaluated yet" in text
    assert "no `job.yaml`" in text
    assert "## Export checks" not in text


def test_hub_ids_of_bases():
    assert card.hub_id(models.EMBEDDED) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.hub_id("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert card.hub_id("/tmp/some/folder") is None


def test_modelfile_has_the_system_prompt_the_chat_template_and_stops():
    text = serving.modelfile("iac-Q8_0.gguf", "{{ '<|im_start|>' + message['role'] }}", "kubernetes")
    assert "FROM ./iac-Q8_0.gguf" in text
    assert f'SYSTEM """{chat.SYSTEM_PROMPTS["kubernetes"]}"""' in text
    assert 'TEMPLATE """{{- if .System }}<|im_start|>system' in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert chat.SYSTEM_PROMPTS["terraform"] in text  # the other language's prompt, in a comment
    # A template that is not ChatML is left to the one stored in the GGUF file.
    assert "TEMPLATE" not in serving.modelfile("x.gguf", "[INST] {{ message }} [/INST]")


def test_serving_commands_point_at_the_files_and_survive_spaces(tmp_path):
    folder = tmp_path / "my exports" / "iac"
    found = serving.commands(folder, "IAC", ["merged", "adapter", "gguf"], ["IAC-F16.gguf", "IAC-Q8_0.gguf"])
    assert set(found) == {"vLLM", "llama.cpp", "Ollama", "PEFT"}
    vllm = shlex.split(found["vLLM"].splitlines()[0])
    assert vllm[:3] == ["vllm", "serve", str(folder / "merged")]
    assert vllm[vllm.index("--chat-template") + 1] == str(folder / "merged" / "chat_template.jinja")
    server = shlex.split(found["llama.cpp"].splitlines()[0])
    assert server[:3] == ["llama-server", "-m", str(folder / "gguf" / "IAC-Q8_0.gguf")] and "--jinja" in server
    assert "ollama create iac -f Modelfile" in found["Ollama"] and "ollama run iac" in found["Ollama"]
    assert set(serving.commands(folder, "x", ["adapter"], [])) == {"PEFT"}


def test_card_of_a_model_trained_with_worked_examples_says_how_to_ask_it(tmp_path):
    from studio import dataset, examples

    folder = _run_folder(tmp_path)
    assert "worked example" not in card.model_card(card.RunFacts.read(folder, models.EMBEDDED), "adapter", "iac")
    examples.save_pool(folder / "adapter", dataset.read_jsonl("data/train.jsonl")[:3])
    text = card.model_card(card.RunFacts.read(folder, models.EMBEDDED), "merged", "iac")
    assert "**Ask it with a worked example.**" in text and f"`{examples.POOL_FILE}` in this folder" in text
    assert examples.LEAD in text
    assert "Put the nearest one of the request's kind after the request" in text
    examples.save_pool(folder / "adapter", dataset.read_jsonl("data/train.jsonl")[:3], rerank=40)
    text = card.model_card(card.RunFacts.read(folder, models.EMBEDDED), "merged", "iac")
    assert "Put the one of the 40 rows of the request's kind nearest to it whose answer holds the most" in text
