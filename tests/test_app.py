"""The studio served headless: the tabs are there, and Compare answers through the API and in a browser."""

from __future__ import annotations

import pytest

from tests.factories import served_studio


@pytest.fixture(scope="module")
def studio_url(embedded_home):
    with served_studio(embedded_home) as url:
        yield url


def test_compare_answers_through_gradio_client(studio_url):
    from gradio_client import Client

    from studio import models

    client = Client(studio_url, verbose=False)
    answer, status = client.predict(
        models.EMBEDDED,
        "terraform",
        "Create an S3 bucket named app-logs with versioning enabled.",
        24,
        0.0,
        api_name="/generate",
    )
    assert answer.strip(), "the embedded model must answer"
    assert "tokens in" in status and "tokens/s" in status


def test_compare_reports_an_unreachable_model(studio_url):
    from gradio_client import Client

    client = Client(studio_url, verbose=False)
    with pytest.raises(Exception, match="embedded"):
        client.predict("Qwen/Qwen2.5-0.5B-Instruct", "terraform", "A bucket", 16, 0.0, api_name="/generate")


def test_browser_types_a_prompt_and_sees_an_answer(studio_url, browser):
    page = browser.new_page()
    page.goto(studio_url)
    page.get_by_role("tab", name="Compare").wait_for(timeout=30_000)
    for tab in ("Dataset", "Train", "Jobs", "Compare", "Evaluate", "Export"):
        assert page.get_by_role("tab", name=tab).count() == 1, f"the {tab} tab is missing"
    page.get_by_role("tab", name="Compare").click()
    # A short answer keeps the test quick: open the settings and lower the token budget.
    page.get_by_text("Generation settings").click()
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("32")
    tokens.press("Enter")
    page.locator("#prompt textarea").fill("Write Terraform for an S3 bucket named app-logs.")
    page.locator("#generate").click()
    page.locator("#answer-status").get_by_text("tokens/s").wait_for(timeout=180_000)
    assert page.locator("#answer").inner_text().strip()
    page.close()
