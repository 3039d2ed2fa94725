"""A comparison in a real browser: pick a run's adapter and an eval example, generate, see both verdicts, vote."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.factories import served_studio


@pytest.fixture(scope="module")
def studio(tiny_adapter, tmp_path_factory):
    """The studio on a workspace whose only run is `sft-tiny`, with the tiny adapter."""
    home = tmp_path_factory.mktemp("compare-browser") / "workspace"
    shutil.copytree(tiny_adapter, home / "runs" / "sft-tiny" / "adapter")
    with served_studio(home) as url:
        yield url, home


def test_a_comparison_in_the_browser(studio, tiny_llama, browser):
    from playwright.sync_api import expect

    url, home = studio
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()

    # The run's adapter is offered; choosing it selects the base it was trained on.
    page.locator("#compare-tuned input").click()
    page.get_by_role("option", name="sft-tiny").click()
    expect(page.locator("#compare-model input")).to_have_value(str(tiny_llama), timeout=10_000)

    # An example from the eval split fills the request; its intent is then checked.
    page.locator("#compare-example input").fill("tfc-0006")
    page.get_by_role("option", name="tfc-0006").click()
    expect(page.locator("#prompt textarea")).to_have_value(re.compile("^Set up an Aurora PostgreSQL cluster"),
                                                           timeout=10_000)
    assert "core-db-subnets" in page.locator("#compare-input textarea").input_value()

    page.get_by_text("Generation settings").click()
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("16")
    tokens.press("Enter")
    page.locator("#generate").click()

    expect(page.locator("#answer-tuned-status")).to_contain_text("tokens/s", timeout=60_000)
    expect(page.locator("#answer-status")).to_contain_text("tokens/s")
    for pane in ("#answer-verdict", "#answer-tuned-verdict"):
        badges = page.locator(f"{pane} .im-badge")
        expect(badges).to_have_count(6)
        # A random model writes no code: nothing found, the rest skipped, intent included (an example).
        expect(page.locator(f"{pane} .im-badge.im-failed").first).to_contain_text("not valid")
        assert page.locator(f"{pane} .im-unchecked").count() == 0
    assert page.locator("#answer").inner_text() != page.locator("#answer-tuned").inner_text()

    page.locator("#vote-right").click()
    expect(page.locator("#vote-status")).to_contain_text("Saved: right is better", timeout=10_000)
    page.locator("#vote-left").click()  # a second vote on the same answers does not count
    expect(page.locator("#vote-status")).to_contain_text("Already saved", timeout=10_000)
    votes = [json.loads(line) for line in (home / "preferences" / "votes.jsonl").read_text().splitlines()]
    assert [v["vote"] for v in votes] == ["right"] and votes[0]["example_id"] == "tfc-0006"
    assert votes[0]["right"]["model"].startswith("fine-tuned: sft-tiny")

    page.locator("#vote-export").click()
    expect(page.locator("#vote-status")).to_contain_text("1 DPO pair written", timeout=10_000)
    page.screenshot(path=str(home / "compare.png"), full_page=True)
