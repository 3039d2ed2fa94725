"""The path a new user takes through the tabs, in a real browser: edit a row in the Dataset tab, train a 2-step
job on that dataset from the Train tab, watch it in Jobs to the end, pick its adapter in Evaluate and Compare
without a reload, export it, and check that the rows trained on were the edited ones.

Screenshots of the Train, Jobs and Export tabs during the run go to $FLOW_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.factories import kill_jobs, served_studio
from tests.jobs.conftest import write_rows

ENV = {"OMP_NUM_THREADS": "1", "INFRAMIND_GPUS": "none", "TOKENIZERS_PARALLELISM": "false"}
EDITED = "An S3 bucket named flow-edited-logs."


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_llama):
    """The studio on a workspace holding a small dataset `mini` (12 training rows, 4 held out), open last in the
    Dataset tab; its jobs are killed at the end."""
    from studio import dataset, dataset_store

    root = tmp_path_factory.mktemp("flows")
    home = root / "workspace"
    train = dataset.read_jsonl(write_rows(root / "train.jsonl", 12))
    held_out = dataset.read_jsonl(write_rows(root / "eval.jsonl", 4))
    for row in held_out:
        row.id = f"e-{row.id}"
    try:
        with served_studio(home, **ENV) as url:
            dataset_store.create("mini", {"train": train, "eval": held_out}, "made by the test")
            dataset_store.remember_opened("mini")
            yield url, home
    finally:
        kill_jobs(home)


def _shot(page, name: str) -> None:
    folder = os.environ.get("FLOW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _pick(page, selector: str, option) -> None:
    page.locator(f"{selector} input").click()
    page.get_by_role("option", name=option).first.click()


def test_a_new_users_path_through_the_tabs(studio, tiny_llama, browser):
    from playwright.sync_api import expect

    from studio import dataset_store

    url, home = studio
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)

    # -- Dataset: the dataset open last comes back; edit a row's request and save it ---------------------------
    expect(page.locator("#ds-summary")).to_contain_text("mini", timeout=60_000)
    page.locator("#ds-table").get_by_text("t-000", exact=True).filter(visible=True).click()
    expect(page.locator("#ds-row-id textarea")).to_have_value("t-000")
    page.locator("#ds-edit-instruction textarea").fill(EDITED)
    page.locator("#ds-save-row").click()
    expect(page.locator("#ds-status")).to_contain_text("Saved t-000", timeout=30_000)
    edited = dataset_store.current_version("mini")
    assert edited.note == "edited t-000"

    # -- Train: the edited version is the default, named with its rows; a form that cannot run is refused ------
    page.get_by_role("tab", name="Train").click()
    rows_note = page.locator("#train-rows")
    expect(rows_note).to_contain_text(f"12 rows of dataset mini (train split), version {edited.id}",
                                      timeout=20_000)
    expect(rows_note).to_contain_text("4 rows of dataset mini (eval split)")

    def fill(selector, value):
        box = page.locator(selector)
        box.fill(str(value))
        box.press("Enter")

    fill("#train-model input", tiny_llama)
    fill("#train-output textarea", "flow-sft")
    fill("#train-max-steps input", 2)
    fill("#train-accumulation input", 1)
    fill("#train-max-length input", 320)
    page.get_by_text("Logging, checkpoints, seed").click()
    page.locator("#train-checkpointing input").uncheck()
    launch = page.locator("#train-launch")

    fill("#train-batch-size input", 100000)  # the estimate is hundreds of GiB: Launch goes off, saying why
    expect(launch).to_be_disabled(timeout=20_000)
    expect(page.locator("#train-batch-size")).to_contain_text("exceeds this machine's memory")
    fill("#train-batch-size input", 2)
    fill("#train-lr input", 3)  # out of range: the reason stands under the field
    expect(page.locator("#train-lr")).to_contain_text("learning_rate must be in (0, 1)", timeout=20_000)
    expect(launch).to_be_disabled()
    fill("#train-lr input", 0.001)
    expect(launch).to_be_enabled(timeout=20_000)
    expect(page.locator("#train-refusal")).to_have_text("")

    launch.click()
    expect(page.locator("#train-status")).to_contain_text("Watch it in the Jobs tab", timeout=60_000)
    _shot(page, "train")

    # -- Jobs: it runs to the end ----------------------------------------------------------------------------
    page.get_by_role("tab", name="Jobs").click()
    table = page.locator("#jobs-table")
    expect(table).to_contain_text("flow-sft", timeout=30_000)
    expect(page.locator("#jobs-loss-plot")).to_contain_text("waiting for the first step", timeout=30_000)
    expect(page.locator("#jobs-stop")).to_be_enabled()
    _shot(page, "jobs-running")
    expect(table.locator(".im-state")).to_have_text("succeeded", timeout=150_000)
    expect(page.locator("#jobs-stop")).to_be_disabled(timeout=10_000)  # nothing left to stop
    expect(page.locator("#jobs-log textarea")).to_have_value(re.compile(r"\[job\] done"), timeout=10_000)
    log = (home / "runs" / "flow-sft" / "train.log").read_text()
    assert re.search(r"evaluation at step 2: 4/4 rows", log), "the final evaluation says how far it got"
    _shot(page, "jobs-done")

    # -- Evaluate and Compare offer its adapter without a reload -----------------------------------------------
    page.get_by_role("tab", name="Evaluate").click()
    _pick(page, "#eval-tuned", re.compile("flow-sft"))
    expect(page.locator("#eval-model input")).to_have_value(str(tiny_llama), timeout=10_000)
    page.get_by_role("tab", name="Compare").click()
    _pick(page, "#compare-tuned", re.compile("flow-sft"))
    expect(page.locator("#compare-model input")).to_have_value(str(tiny_llama), timeout=10_000)

    # -- Export: the run is offered; GGUF unticked turns its types off; the export shows its progress ---------
    page.get_by_role("tab", name="Export").click()
    _pick(page, "#export-run", re.compile("flow-sft"))
    page.locator("#export-formats").get_by_text("GGUF (llama.cpp", exact=False).click()
    expect(page.locator("#export-gguf-types input").first).to_be_disabled(timeout=10_000)
    page.locator("#export-formats").get_by_text("Merged weights", exact=False).click()  # the adapter: quick
    page.locator("#export-go").click()
    _shot(page, "export-running")
    expect(page.locator("#export-summary")).to_contain_text("Exported", timeout=90_000)
    _shot(page, "export-done")
    page.close()

    # -- The rows trained on were the edited ones, and the run says which version they came from ----------------
    run = home / "runs" / "flow-sft"
    job_yaml = (run / "job.yaml").read_text()
    trained_file = Path(re.search(r"^dataset: (.+)$", job_yaml, re.M).group(1))
    assert json.loads(trained_file.read_text().splitlines()[0])["instruction"] == EDITED
    assert f"# dataset: dataset mini, version {edited.id}, 12 rows of its train split (edited t-000)" in job_yaml
    summary = json.loads((run / "summary.json").read_text())
    assert summary["dataset"]["version"] == edited.id and summary["steps"] == 2
    card = (home / "exports" / "flow-sft-export" / "README.md").read_text()
    assert f"dataset `mini`, version `{edited.id}`" in card


# -- the pieces, without a browser ---------------------------------------------------------------------------


def test_every_bad_line_of_a_file_is_listed_with_its_number(tmp_path):
    from studio import dataset, evaluation

    good = {"instruction": "A bucket", "output": "```hcl\n```", "kind": "terraform"}
    lines = [json.dumps(good), "{not json", json.dumps({**good, "kind": "ansible"}), json.dumps(good), "[1"]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for read in (dataset.read_jsonl, dataset.read_file, evaluation.load_rows):
        with pytest.raises(dataset.DatasetError) as caught:
            read(path)
        message = str(caught.value)
        assert message.startswith("3 bad lines:"), read
        assert re.search(r"bad\.jsonl:2: not valid JSON", message) and re.search(r"bad\.jsonl:5: not valid", message)
        assert re.search(r"bad\.jsonl:3: 'kind' must be one of", message)


def test_a_plain_alpaca_csv_takes_its_kind_from_the_code_fence(tmp_path):
    from studio import dataset

    path = tmp_path / "alpaca.csv"
    path.write_text('instruction,input,output\n"A bucket",,"```hcl\nresource ""aws_s3_bucket"" ""b"" {}\n```"\n'
                    '"A namespace",,"```yaml\nkind: Namespace\n```"\n"Prose",,"no fence here"\n')
    with pytest.raises(dataset.DatasetError, match=r"alpaca\.csv:8: missing 'kind'"):
        dataset.read_file(path)  # no fence, no kind: still refused, by its line
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    rows = dataset.read_file(path)["train"]
    assert [row.kind for row in rows] == ["terraform", "kubernetes"]


def test_the_pickers_name_each_dataset_with_its_rows_and_version_and_follow_edits(home):
    from studio import dataset_store
    from studio.ui import evaluate, train

    assert dataset_store.opened() == "seed"
    version = dataset_store.current_version("seed")
    label, value = train.dataset_choices()[0]
    assert label == f"seed · train · 619 rows · version {version.id}"
    assert train.default_dataset() == value and dataset_store.describe_file(value)["version"] == version.id
    assert evaluate.row_sources()[0] == (f"seed · eval · 121 rows · version {version.id}", "seed")

    # An edit makes a new version: a picker on the old one follows it; a file of one's own stays as chosen.
    row, split = dataset_store.load("seed").find("tfc-0001")
    edited, _ = dataset_store.save_row("seed", row, split, replacing="tfc-0001")
    assert train.follow_dataset(value, "train", "seed") == train.default_dataset()
    assert dataset_store.describe_file(train.default_dataset())["version"] == edited.id
    assert train.follow_dataset("data/train.jsonl", "train", "seed") == "data/train.jsonl"
    note = train.rows_note(train.default_dataset(), "")
    assert f"**619 rows** of dataset **seed** (train split), version `{edited.id}` (edited tfc-0001)" in note


def test_an_upload_becomes_the_rows_checked_first(home, tmp_path):
    from studio.ui import evaluate

    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"instruction": "A bucket", "kind": "terraform"}) + "\n{oops\n"
                    + json.dumps({"instruction": "A queue"}) + "\n")
    source, message = evaluate.check_upload(str(path), "seed")
    assert source["value"] == evaluate.UPLOAD
    assert "cannot be evaluated" in message and "mine.jsonl:2: not valid JSON" in message
    assert "mine.jsonl:3: missing 'kind'" in message
    path.write_text(json.dumps({"instruction": "A bucket", "kind": "terraform"}) + "\n")
    source, message = evaluate.check_upload(str(path), "seed")
    assert source["value"] == evaluate.UPLOAD and "1 rows (1 terraform, 0 kubernetes)" in message
    assert evaluate.rows_summary(evaluate.UPLOAD, str(path), 0) == "all 1 rows of the uploaded file mine.jsonl"
    assert evaluate.rows_summary("seed", None, 5).startswith("the first 5 of the 121 rows of the eval split of seed")


def test_a_form_that_cannot_run_names_the_field(home, tiny_llama, monkeypatch):
    from studio.ui import train

    # This machine's memory is what it checks: a CPU machine, whatever GPUs the environment shows (on a GPU machine
    # the plan splits the batch into micro-batches that fit, and no verdict comes)
    monkeypatch.setenv("INFRAMIND_GPUS", "none")

    form = {**train.SFT_DEFAULTS.to_dict(), "kind": "sft", "model": str(tiny_llama), "dataset": "data/train.jsonl",
            "eval_dataset": "", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
            "lora_targets": ["q_proj"], "completion_only_loss": True, "packing": False}
    form.pop("lora")
    assert train.check_form(form) == ([], {})
    problems, by_field = train.check_form({**form, "batch_size": 100000})
    if "batch_size" not in by_field:  # seen in CI (24th and 27th sessions): say why no verdict came
        from jobs import estimate

        spec = train.spec_from_form({**form, "batch_size": 100000}).with_paths_resolved()
        pytest.fail(f"no memory verdict: problems {problems}; shape known {train._shape_known(spec.model)}; "
                    f"memory {estimate.device_memory('cpu')}; estimate {estimate.estimate_job(spec)}")
    assert "exceeds this machine's memory" in by_field["batch_size"] and problems == [by_field["batch_size"]]
    problems, by_field = train.check_form({**form, "learning_rate": 3.0, "lora_r": 0})
    assert by_field["learning_rate"].startswith("learning_rate must be in (0, 1)")
    assert by_field["lora_r"].startswith("lora.r must be")
    status, *_ = train.launch({**form, "learning_rate": 3.0})
    assert "Cannot launch" in status and "learning_rate" in status


def test_charts_wait_for_the_first_step_and_count_steps_in_whole_numbers():
    from jobs import progress
    from studio.ui import jobs

    empty = jobs.loss_figure([])
    assert [a.text for a in empty.layout.annotations] == [jobs.WAITING]
    drawn = jobs.loss_figure([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}])
    assert drawn.layout.xaxis.tickformat == "d" and drawn.layout.xaxis.dtick == 1 and not drawn.layout.annotations
    rows = [{"step": 8, "total_steps": 8, "loss": 1.0}, {"step": 8, "total_steps": 8, "phase": "evaluation",
                                                         "rows_done": 16, "rows_total": 121}]
    assert progress.evaluation_in_progress(rows) == (16, 121)
    assert progress.evaluation_in_progress(rows[:1]) is None


def test_the_job_command_line_hides_its_internals_and_names_a_missing_file(capsys):
    from jobs.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "SUPPRESS" not in capsys.readouterr().out
    assert main(["run", "missing.yaml"]) == 2
    assert "missing.yaml: no such file" in capsys.readouterr().err


def test_evaluation_batches_grow_so_the_first_answers_come_soon():
    from studio import evaluation

    assert evaluation.batch_bounds(40, 16) == [(0, 1), (1, 3), (3, 7), (7, 15), (15, 31), (31, 40)]
    assert evaluation.batch_bounds(3, 1) == [(0, 1), (1, 2), (2, 3)]


def test_a_saved_new_row_is_shown_on_its_page_and_a_huge_row_gets_a_word(home):
    from studio import dataset_store
    from studio.dataset import Row
    from studio.ui import dataset as tab

    row = Row(instruction="A queue named jobs.", output="```hcl\nresource \"aws_sqs_queue\" \"q\" {}\n```",
              kind="terraform")
    _, saved = dataset_store.save_row("seed", row, "train")
    values, page, label = tab.page_of_row("seed", "", "all", "all", "all", "all", saved.id)
    # A new training row is the 620th row (training rows come first): page 25 of 30, not page 1.
    assert page == 25 and saved.id in [line[0] for line in values], "the table turns to the new row's page"
    assert tab.long_row_warning(saved) == ""
    huge = Row(instruction="x" * 50_000, output=row.output, kind="terraform")
    assert f"{50_000 + len(row.output):,} characters" in tab.long_row_warning(huge) and "1,024 tokens" in tab.long_row_warning(huge)


def test_a_long_conversion_step_reports_that_it_lives():
    import time

    from studio import models

    heard = []
    with models.ticking(lambda fraction, message: heard.append((fraction, message)), 0.2, 0.8, "Dequantizing", 1.0,
                        every_s=0.05):
        time.sleep(0.3)
    assert heard[0] == (0.2, "Dequantizing") and len(heard) >= 3
    assert all(0.2 <= fraction < 0.8 for fraction, _ in heard) and "s, about 1 s in all)" in heard[-1][1]


def test_a_visitor_may_run_every_refresh_of_a_tab_opened_or_a_timer(home):
    """The role guard refuses a visitor any event not named in its allow-list: the pickers' refreshes (tab
    opened, timer) are read-only and must pass, or a visitor would see a refusal every few seconds."""
    import gradio as gr

    from studio import access
    from studio.ui import build_app

    demo = build_app()
    refreshes = [block_fn for block_fn in demo.fns.values()
                 if any(isinstance(demo.blocks.get(block_id), (gr.Tab, gr.Timer)) for block_id, _ in block_fn.targets)]
    assert len(refreshes) >= 8  # a select per tab with pickers, and their timers
    refused = [access.event_name(block_fn.fn) for block_fn in refreshes
               if not access.allowed_for_visitors(block_fn.fn)]
    assert refused == []
