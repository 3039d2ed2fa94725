"""The Dataset tab's event handlers without a browser: what each returns for its outputs, and what it saves."""

from __future__ import annotations

from studio import dataset_store
from studio.ui import dataset as tab


def editor_values(fields: tuple) -> list:
    """The editor's inputs (id, kind, tags, instruction, input, output, intent) from `row_fields`' outputs."""
    row_id, _split, kind, tags, instruction, input_text, output, intent = fields[:8]
    return [row_id, kind, tags, instruction, input_text, output, intent]


def test_the_view_of_a_dataset_falls_back_to_the_seed(home):
    chooser, summary, tags, versions, version_pick, values, page, label = tab.dataset_view(
        "gone", "", "all", "no-such-tag", "all", "all", 3)
    assert chooser["value"] == "seed" and "**seed** · 740 rows" in summary
    assert tags["value"] == "all" and "all" in tags["choices"] and len(tags["choices"]) > 10
    # Each version offered with its change note (not a bare id).
    assert len(versions) == 1 and version_pick["choices"] == [(f"{versions[0][0]} · {versions[0][5]}", versions[0][0])]
    assert page == 3 and len(values) == tab.PAGE_SIZE and label.startswith("Page **3** of 30")
    assert tab.next_page("seed", "", "all", "all", "all", "all", 30)[1] == 30, "the last page stays the last"
    assert tab.previous_page("seed", "", "all", "all", "all", "all", 1)[1] == 1


def test_edit_save_duplicate_delete_and_restore_a_row(home):
    fields = tab.row_fields("seed", "tfc-0001")
    assert len(fields) == tab.EDITOR_OUTPUTS and fields[0] == "tfc-0001" and "✓ pass" in fields[-1]
    values = editor_values(fields)
    values[5] = values[5].replace("  engine     ", "  engin      ", 1)

    _, verdict = tab.preview_row("seed", "train", *values)
    assert "✗ fail</span> <span class='im-muted'>(edited, not saved yet)" in verdict
    assert "unknown argument &quot;engin&quot;" in verdict
    _, verdict = tab.preview_row("seed", "train", *values[:6], "{oops")
    assert "not a valid row" in verdict

    first = dataset_store.current_version("seed")
    row_id, _, verdict, status = tab.save_edited_row("seed", "train", *values)
    assert row_id == "tfc-0001" and "(edited" not in verdict
    assert status.startswith("Saved **tfc-0001** (✗ fails the validators)")
    assert "not saved yet" not in tab.preview_row("seed", "train", *values)[1]

    *copy, status = tab.duplicate_row("seed", "tfc-0001")
    assert copy[0] != "tfc-0001" and f"as **{copy[0]}**" in status
    *emptied, status = tab.delete_row("seed", copy[0])
    assert emptied[0] == "" and status.startswith(f"Deleted **{copy[0]}**")
    assert tab.delete_row("seed", "")[-1] == "Pick a row in the table first."

    assert tab.restore_version("seed", None) == "Pick a version to restore first."
    assert f"Restored version `{first.id}`" in tab.restore_version("seed", first.id)
    assert "✓ pass" in tab.row_fields("seed", "tfc-0001")[-1]


def test_an_upload_is_checked_before_the_buttons_turn_on(home, tmp_path):
    message, table, name, new, append, pending = tab.clear_upload()
    assert (message, name, pending) == ("", "", "") and not new["interactive"] and not table["visible"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\n')
    message, table, name, new, append, pending = tab.preview_upload("seed", str(bad))
    assert "Cannot import this file" in message and not append["interactive"] and pending == ""
