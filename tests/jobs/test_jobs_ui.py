"""The Train and Jobs tabs served headless: preview and refusals through the API, and in a real browser a job
launched from the Train tab whose loss chart draws in the Jobs tab."""

from __future__ import annotations

import json

import pytest

from tests.factories import kill_jobs, served_studio
from tests.jobs.conftest import write_rows

ENV = {"OMP_NUM_THREADS": "1", "INFRAMIND_GPUS": "none"}


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_llama):
    """The studio on a free port, with a workspace and rows of its own; its jobs are killed at the end."""
    root = tmp_path_factory.mktemp("ui")
    rows = write_rows(root / "train.jsonl", 12), write_rows(root / "eval.jsonl", 4)
    try:
        with served_studio(root / "workspace", **ENV) as url:
            yield {"url": url, "rows": rows, "model": tiny_llama, "home": root / "workspace"}
    finally:
        kill_jobs(root / "workspace")


def _form(client, studio, **changes):
    """The Train tab's inputs in order, as the API takes them, from the endpoint's own parameter list."""
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/train_preview"]
    values = {p["label"]: p["parameter_default"] for p in info["parameters"]}
    labels = {"model": "Base model", "dataset": "Training rows", "eval_dataset": "Held-out rows",
              "output": "Run name", "max_steps": "Max steps", "batch_size": "Batch size",
              "max_length": "Max length (tokens)", "learning_rate": "Learning rate"}
    values.update({labels["model"]: str(studio["model"]), labels["dataset"]: str(studio["rows"][0]),
                   labels["eval_dataset"]: str(studio["rows"][1])})
    values.update({labels[key]: value for key, value in changes.items()})
    return [values[p["label"]] for p in info["parameters"]]


def test_preview_shows_the_estimate_the_command_and_the_yaml(studio):
    from gradio_client import Client

    client = Client(studio["url"], verbose=False)
    estimate, command, job_yaml = client.predict(*_form(client, studio, output="preview-1", max_steps=7),
                                                 api_name="/train_preview")
    assert "Memory estimate" in estimate and "| **total** |" in estimate and "activations" in estimate
    assert command.startswith("python -m jobs run ") and command.endswith("preview-1/job.yaml")
    assert "kind: sft\n" in job_yaml and "max_steps: 7\n" in job_yaml and "output: preview-1\n" in job_yaml


def test_a_bad_form_is_refused_with_its_problems_and_nothing_is_queued(studio):
    from gradio_client import Client

    from jobs.store import JobStore

    client = Client(studio["url"], verbose=False)
    status, *_ = client.predict(*_form(client, studio, output="../escape", learning_rate=3.0),
                                api_name="/train_launch")
    assert "Cannot launch" in status and "learning_rate must be in (0, 1), not 3.0" in status
    assert "'../escape' is not a valid name" in status
    assert JobStore(studio["home"] / "jobs.sqlite").list() == []


def test_a_job_launched_in_the_browser_draws_its_loss_chart(studio, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(studio["url"])
    page.get_by_role("tab", name="Train").click()

    def fill(selector, value):
        box = page.locator(selector)
        box.fill(str(value))
        box.press("Enter")

    fill("#train-model input", studio["model"])
    fill("#train-dataset input", studio["rows"][0])
    fill("#train-eval-dataset input", studio["rows"][1])
    fill("#train-output textarea", "browser-sft")
    fill("#train-max-steps input", 6)
    fill("#train-batch-size input", 2)
    fill("#train-accumulation input", 1)
    fill("#train-max-length input", 320)
    page.get_by_text("Logging, checkpoints, seed").click()
    page.locator("#train-checkpointing input").uncheck()
    page.locator("#train-worked-examples input").check()
    fill("#train-example-rerank input", 2)
    fill("#train-examples-dataset input", studio["rows"][1])
    page.locator("#train-launch").click()
    page.locator("#train-status").get_by_text("Watch it in the Jobs tab").wait_for(timeout=60_000)
    assert "Memory estimate" in page.locator("#train-estimate").inner_text(), "launch shows what it launched"

    page.get_by_role("tab", name="Jobs").click()
    page.locator("#jobs-table").get_by_text("browser-sft").wait_for(timeout=30_000)
    # The chart draws from metrics.jsonl once the job logs its first step (after its imports: tens of seconds).
    page.locator("#jobs-loss-plot .js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=180_000)
    assert page.locator("#jobs-loss-plot .scatterlayer .trace path.js-line").count() >= 1
    # Reloading the page changes nothing for the job: the tab finds it again in the store.
    page.reload()
    page.get_by_role("tab", name="Jobs").click()
    page.locator("#jobs-table").get_by_text("succeeded").wait_for(timeout=120_000)
    bar = page.locator("#jobs-table .im-progress").first
    assert bar.get_attribute("data-fraction") == "1.000"

    # Delete asks first, then removes the run folder.
    run_folder = studio["home"] / "runs" / "browser-sft"
    assert (run_folder / "adapter" / "adapter_config.json").is_file()
    assert (run_folder / "adapter" / "examples.jsonl").is_file(), "trained with worked examples, it keeps their pool"
    assert json.loads((run_folder / "adapter" / "examples.json").read_text()) == {"rerank": 2}, "and their choice"
    pool = (run_folder / "adapter" / "examples.jsonl").read_text().splitlines()
    assert len(pool) == 12 + 4, "the training rows and the rows named as examples' too"
    page.locator("#jobs-delete").click()
    page.locator("#jobs-delete-confirm").wait_for(timeout=10_000)
    assert run_folder.exists(), "nothing is deleted before the confirmation"
    page.locator("#jobs-delete-confirm").click()
    page.locator("#jobs-action-status").get_by_text("browser-sft deleted").wait_for(timeout=30_000)
    assert not run_folder.exists()
    page.locator("#jobs-table").get_by_text("No jobs yet").wait_for(timeout=30_000)
    page.close()


def test_a_grpo_form_becomes_its_spec():
    """Number boxes hand over floats; the form's values become the spec a person filled in."""
    from jobs import specs
    from studio.ui import train

    expected = specs.GRPOJob(output="grpo-form", num_generations=4, batch_size=4, gradient_accumulation=2,
                             reward_weights={"format": 0.5, "parse": 1.0, "schema": 2.0, "intent": 1.0,
                                             "best_practice": 0.0, "wrong_language": 1.0}, adapter="sft-1",
                             max_minutes=9.5)
    form = {name: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            for name, value in expected.to_dict().items() if name not in ("lora", "reward_weights")}
    form.update(kind="GRPO (rewards from the IaC validators)", lora_r=32.0, lora_alpha=64.0, lora_dropout=0.05,
                lora_targets=list(expected.lora.targets), completion_only_loss=True, packing=False,
                **{f"weight_{name}": weight for name, weight in expected.reward_weights.items()})
    assert train.spec_from_form(form) == expected


def test_the_tabs_and_the_job_system_import_no_torch():
    """The page comes up in seconds and supervisors stay small: torch loads only in the training process."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, studio.ui.train, studio.ui.jobs, jobs.runner, jobs.store, jobs.estimate, jobs.progress; "
            "from studio.ui import build_app; build_app(); "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_dpo_form_becomes_its_spec():
    from jobs import specs
    from studio.ui import train

    expected = specs.DPOJob(output="dpo-form", votes=True, pairs=("/data/mined.jsonl",), mine_samples=6,
                            mine_limit=40, mine_pairs_per_request=2, beta=0.2, loss_type="ipo", sft_weight=0.5,
                            adapter="sft-1", learning_rate=1e-4)
    values = {name: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
              for name, value in expected.to_dict().items() if name != "lora"}
    form = {name: values[name] for name in values if name not in train.DPO_INPUTS.values()}
    form.update({name: values[key] for name, key in train.DPO_INPUTS.items()})
    form.update(kind="DPO (preference pairs: votes, files, mined)", lora_r=32.0, lora_alpha=64.0, lora_dropout=0.05,
                lora_targets=list(expected.lora.targets))
    assert train.spec_from_form(form) == expected
    # Switching the kind to DPO clears the held-out rows (DPO's are pairs) and shows its own settings.
    updates = train.switch_kind("DPO (preference pairs: votes, files, mined)")
    values = dict(zip(train.KIND_SPECIFIC, updates))
    assert values["eval_dataset"]["value"] == "" and values["learning_rate"]["value"] == 5e-5
    assert [update["visible"] for update in updates[-3:]] == [False, False, True]


def test_the_dpo_panel_counts_the_pairs_of_each_source_and_mines_a_sample(home, tmp_path, tiny_llama):
    from studio import chat, preferences
    from studio.ui import train

    messages = chat.messages_for("An S3 bucket", "terraform")
    good = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n```'
    preferences.record(messages, left="no", right=good, vote="right")
    mined = tmp_path / "mined.jsonl"
    mined.write_text(json.dumps({"prompt": messages, "chosen": good, "rejected": "no", "source": "mined"}) + "\n")
    text = train.count_pairs(True, [str(mined)])
    assert text.startswith("**2 pairs** from 2 source(s)")
    assert "| votes | 1 |" in text and "| mined | 1 | mined.jsonl |" in text and "request: An S3 bucket" in text
    assert "refused" in train.count_pairs(False, [str(write_rows(tmp_path / "rows.jsonl", 2))]), "not pair rows"

    rows = write_rows(tmp_path / "train.jsonl", 4)
    text = train.mine_sample(str(tiny_llama), "", str(rows), 2.0, 0.9, 12.0, 0.5, 1.0, 1.0, True, 0.0)
    assert text.startswith("**2 pairs** from 2 requests x 2 answers") and "the job's 4 requests give about 4" in text
    assert "Cannot launch" in train.mine_sample(str(tiny_llama), "", str(rows), 1.0, 0.9, 12.0, 0.5, 1.0, 1.0,
                                                 False, 0.0)


def test_the_jobs_tab_charts_dpo_rewards():
    from studio.ui import jobs

    rows = [{"step": step, "loss": 0.69, "rewards_chosen": 0.01 * step, "rewards_rejected": -0.01 * step,
             "rewards_margin": 0.02 * step, "rewards_accuracy": 0.5} for step in (1, 2, 3)]
    figure = jobs.preference_figure(rows + [{"step": 3, "eval_loss": 0.6, "eval_rewards_margin": 0.1}])
    assert [trace.name for trace in figure.data] == ["chosen", "rejected", "margin", "pairs ranked right (share)"]
    assert list(figure.data[2].y) == [0.02, 0.04, 0.06]


def test_the_dpo_panel_in_the_browser(studio, browser):
    from studio import chat, preferences

    preferences.record(chat.messages_for("A queue named orders", "terraform"), left="no code",
                       right='```hcl\nresource "aws_sqs_queue" "orders" {\n  name = "orders"\n}\n```', vote="right")
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(studio["url"])
    page.get_by_role("tab", name="Train").click()
    assert not page.locator("#train-dpo-count").is_visible(), "DPO's settings show for DPO only"
    page.get_by_text("DPO (preference pairs: votes, files, mined)").click()
    page.locator("#train-dpo-count").wait_for(state="visible", timeout=10_000)
    page.locator("#train-dpo-votes input").check()
    page.locator("#train-dpo-count").click()
    view = page.locator("#train-dpo-pairs-view")
    view.get_by_text("1 pairs").wait_for(timeout=30_000)
    assert "request: A queue named orders" in view.inner_text()
    box = page.locator("#train-model input")  # the tiny model: the embedded one would be converted first
    box.fill(str(studio["model"]))
    box.press("Enter")
    page.locator("#train-preview").click()
    page.locator("#train-yaml").get_by_text("kind: dpo").wait_for(timeout=30_000)
    # The estimate counts each pair's two answers and says mining comes first (the yaml's editor shows only
    # the lines in view).
    estimate = page.locator("#train-estimate").inner_text()
    assert "mining first" in estimate and "8 x 1024 tokens" in estimate  # batch 4: 8 answers
    page.close()


def test_the_train_form_mixes_generated_rows_in():
    from jobs import specs
    from studio.ui import train

    expected = specs.SFTJob(output="sft-mix", mix_dataset="data/generated.jsonl", mix_ratio=0.75)
    form = dict(expected.to_dict(), kind="SFT (supervised fine-tuning)", lora_r=32.0, lora_alpha=64.0, lora_dropout=0.05,
                lora_targets=list(expected.lora.targets))
    form["mix_dataset"] = " data/generated.jsonl "
    form.pop("lora")
    assert train.spec_from_form(form) == expected
