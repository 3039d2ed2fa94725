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
