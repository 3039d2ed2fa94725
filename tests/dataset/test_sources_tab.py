"""The Dataset tab's generator and mapped imports: preview with verdicts, then one new version; in a browser too."""

from __future__ import annotations

import json
import os

import pytest

from studio import dataset_store
from studio.ui import dataset as tab
from studio.ui import dataset_sources as sources
from tests.factories import free_port


def test_generate_preview_then_add_as_a_new_version(home):
    message, table, pending = sources.generate_preview(["storage"], ["ConfigMap"], 8, 3, 0.5)
    assert message.startswith("**8 rows**") and len(table) == len(pending) == 8
    assert {row[-1] for row in table} == {"✓ pass"}
    assert {row[1] for row in table} == {"terraform", "kubernetes"}
    assert dataset_store.names() == ["seed"], "a preview saves nothing"
    name, message = sources.add_rows("seed", pending, "")
    assert name == "seed" and "Added 8 rows to **seed**" in message
    assert dataset_store.load("seed").counts() == {"train": 627, "eval": 121}
    assert dataset_store.versions("seed")[0].note == "appended 8 rows from the generator"
    assert "already in **seed**" in sources.add_rows("seed", pending, "")[1]
    name, message = sources.add_rows("seed", pending, "gen")
    assert name == "gen" and dataset_store.load("gen").counts() == {"train": 8, "eval": 0}
    assert "✗" in sources.generate_preview([], [], 0, 0, 0.6)[0]
    assert "unknown Kubernetes kind" in sources.generate_preview([], ["Deploymnet"], 4, 0, 0.6)[0]


def test_mapped_import_lists_the_invalid_rows(home, tmp_path):
    path = tmp_path / "hub-dump.jsonl"
    records = [{"q": "Bucket acme-logs", "a": 'resource "aws_s3_bucket" "l" {\n  bucket = "acme-logs"\n}'},
               {"q": "Bucket named x", "a": 'resource "aws_s3_bucket" "l" {\n  name = "x"\n}'}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    message, invalid, pending = sources.mapped_preview("", "train", str(path), "q", "", "a", "auto", False)
    assert "1 row imported, 1 fail the validators (left out)" in message and len(pending) == 1
    assert invalid[0][0] == "hub-dump-0002" and 'unknown argument "name"' in invalid[0][2]
    _, _, kept = sources.mapped_preview("", "train", str(path), "q", "", "a", "auto", True)
    assert len(kept) == 2
    message, _, pending = sources.mapped_preview("", "train", str(path), "prompt", "", "a", "auto", False)
    assert "no column for instruction -> 'prompt'" in message and pending == []
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        message, _, _ = sources.mapped_preview("someone/iac-rows", "train", None, "q", "", "a", "auto", False)
    finally:
        del os.environ["HF_HUB_OFFLINE"]
    assert "Cannot reach the Hugging Face hub" in message


@pytest.fixture(scope="module")
def tab_url(tmp_path_factory):
    import gradio as gr

    from studio.ui import CSS, THEME

    previous = os.environ.get("INFRAMIND_HOME")
    os.environ["INFRAMIND_HOME"] = str(tmp_path_factory.mktemp("sources-workspace"))
    with gr.Blocks() as demo:
        tab.build()
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, theme=THEME, css=CSS, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    if previous is None:
        os.environ.pop("INFRAMIND_HOME", None)
    else:
        os.environ["INFRAMIND_HOME"] = previous


def test_browser_generates_previews_and_adds_a_dataset(tab_url, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(tab_url)
    expect(page.locator("#ds-summary")).to_contain_text("740 rows", timeout=60_000)
    page.get_by_text("Generate rows from the AWS provider and Kubernetes schemas").click()
    page.locator("#gen-services").get_by_label("storage").check()
    page.locator("#gen-count input").fill("6")
    page.locator("#gen-preview").click()
    expect(page.locator("#gen-message")).to_contain_text("6 rows", timeout=60_000)
    expect(page.locator("#gen-table").get_by_text("✓ pass").filter(visible=True).first).to_be_visible()
    page.locator("#gen-name textarea").fill("generated-small")
    page.locator("#gen-add").click()
    expect(page.locator("#gen-message")).to_contain_text("Created generated-small with 6 rows")
    expect(page.locator("#ds-summary")).to_contain_text("generated-small · 6 rows", timeout=30_000)
    assert dataset_store.load("generated-small").counts() == {"train": 6, "eval": 0}
