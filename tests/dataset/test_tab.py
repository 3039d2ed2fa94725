"""The Dataset tab: its import, export and table functions, and a browser that edits a row and sees its verdict."""

from __future__ import annotations

import json
import os

import pytest

from studio import dataset, dataset_store
from studio.ui import dataset as tab
from tests.factories import free_port


def test_pages_filters_and_verdict_cells(home):
    values, page, label = tab.table_page("seed", "", "all", "all", "all", "all", 99)
    assert page == 30 and len(values) == 740 - 29 * tab.PAGE_SIZE
    assert label == "Page **30** of 30 · 740 rows"
    values, page, label = tab.table_page("seed", "", "kubernetes", "all", "all", "eval", 1)
    assert {row[1:3] == ["eval", "kubernetes"] for row in values} == {True}
    assert "49 of 740 rows match" in label
    assert all(row[-1] == "✓ pass" for row in values)


def test_a_bad_upload_is_explained_and_changes_nothing(home, tmp_path):
    before = dataset_store.dataset_path("seed", "train").read_bytes(), dataset_store.versions("seed")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "A bucket", "output": "x", "kind": "terraform"}\n{"instruction": "B"}\n')
    message, preview, _ = tab.import_preview("seed", str(bad))
    assert preview is None and "bad.jsonl:2: missing 'output', 'kind'" in message and "Nothing was changed" in message
    assert "bad.jsonl:2" in tab.append_file("seed", str(bad))
    name, message = tab.import_as_new(str(bad), "bad", True)
    assert name is None and "bad.jsonl:2" in message
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(dataset.MAX_UPLOAD_BYTES + 2**20)
    message, preview, _ = tab.import_preview("seed", str(huge))
    assert preview is None and "over the 20 MB upload limit" in message
    assert (dataset_store.dataset_path("seed", "train").read_bytes(), dataset_store.versions("seed")) == before
    assert dataset_store.names() == ["seed"]


def test_import_preview_then_new_dataset_then_append(home, tmp_path, rows):
    path = dataset.write_file({"train": rows, "eval": []}, tmp_path / "Team Rows.jsonl")
    message, preview, suggestion = tab.import_preview("seed", str(path))
    assert "3 rows (3 train, 0 eval" in message and len(preview) == 3 and suggestion == "team-rows"
    assert dataset_store.names() == ["seed"], "a preview changes nothing"
    name, message = tab.import_as_new(str(path), suggestion, hold_out=False)
    assert name == "team-rows" and "3 rows (3 train, 0 eval)" in message
    name, message = tab.import_as_new(str(path), "team-rows", hold_out=False)
    assert name is None and "already exists" in message
    assert "Nothing appended: all 3 rows are already in **team-rows**" in tab.append_file("team-rows", str(path))
    assert "Appended 3 rows to **seed**" in tab.append_file("seed", str(path))
    assert dataset_store.load("seed").counts() == {"train": 622, "eval": 121}


def test_import_can_hold_out_an_eval_split(home, tmp_path, seed_splits):
    path = dataset.write_file({"train": seed_splits["train"][:60], "eval": []}, tmp_path / "some.csv")
    name, _ = tab.import_as_new(str(path), "some", hold_out=True)
    counts = dataset_store.load(name).counts()
    assert counts["eval"] > 0 and counts["train"] + counts["eval"] == 60


@pytest.mark.parametrize("label", list(tab.EXPORT_FORMATS))
def test_export_in_every_format_reads_back(home, label):
    path = tab.export_file("seed", label, "all")
    assert dataset.read_file(path) == dataset_store.load("seed").splits
    only_eval = dataset.read_file(tab.export_file("seed", label, "eval"))
    assert only_eval == {"train": [], "eval": dataset_store.load("seed").splits["eval"]}


def test_the_editor_reads_intent_json_and_tags(home):
    row = tab.row_from_editor("a", "terraform", " s3, logs ,", "A bucket", "", "```hcl\n```",
                              json.dumps({"require": [{"resource": "aws_s3_bucket"}]}))
    assert row.tags == ["s3", "logs"] and row.intent == {"require": [{"resource": "aws_s3_bucket"}]}
    with pytest.raises(dataset.DatasetError, match="this row: 'intent' is not valid JSON"):
        tab.row_from_editor("a", "terraform", "", "A bucket", "", "```hcl\n```", "{oops")


# -- in a browser -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tab_url(tmp_path_factory):
    import gradio as gr

    from studio.ui import CSS, THEME

    previous = os.environ.get("INFRAMIND_HOME")
    os.environ["INFRAMIND_HOME"] = str(tmp_path_factory.mktemp("tab-workspace"))
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


def test_browser_edits_a_row_and_sees_its_verdict_change(tab_url, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(tab_url)
    # The table has a hidden copy of its first rows for measuring: act on the visible cells.
    cell = page.locator("#ds-table").get_by_text("tfc-0001", exact=True).filter(visible=True)
    cell.wait_for(timeout=60_000)
    expect(page.locator("#ds-summary")).to_contain_text("740 pass", timeout=90_000)
    cell.click()
    expect(page.locator("#ds-row-id textarea")).to_have_value("tfc-0001")
    expect(page.locator("#ds-row-verdict")).to_contain_text("pass")

    output = page.locator("#ds-edit-output textarea")
    original = output.input_value()
    output.fill(original.replace('  engine     ', '  engin      ', 1))
    verdict = page.locator("#ds-row-verdict")
    expect(verdict).to_contain_text("fail (edited, not saved yet)")
    expect(verdict).to_contain_text('unknown argument "engin" (did you mean "engine"?)')

    page.locator("#ds-save-row").click()
    expect(page.locator("#ds-status")).to_contain_text("Saved tfc-0001 (✗ fails the validators)")
    expect(page.locator("#ds-summary")).to_contain_text("739 pass · ✗ 1 fail")
    row = page.locator("#ds-table").get_by_role("row").filter(has_text="tfc-0001").filter(visible=True)
    expect(row).to_contain_text('✗ schema: line 3: aws_db_instance.ledger: unknown argument "engin"')
    expect(verdict).not_to_contain_text("not saved yet")

    page.locator("#ds-verdict input").click()  # the verdict filter: only the failing row is left
    page.get_by_role("option", name="fail").click()
    expect(page.locator("#ds-page-label")).to_contain_text("1 of 740 rows match")

    output.fill(original)
    page.locator("#ds-save-row").click()
    expect(page.locator("#ds-status")).to_contain_text("Saved tfc-0001 (✓ passes the validators)")
    expect(page.locator("#ds-summary")).to_contain_text("740 pass · ✗ 0 fail")
    expect(page.locator("#ds-row-verdict")).to_contain_text("✓ pass")
    assert dataset_store.load("seed").find("tfc-0001")[0].output == original
    assert [v.note for v in dataset_store.versions("seed")][:2] == ["edited tfc-0001", "edited tfc-0001"]
