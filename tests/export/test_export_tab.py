"""The Export tab in a real browser: pick a run, export, download a file, read the serving commands."""

from __future__ import annotations


import pytest

from tests.export.tiny_runs import build_adapter, build_export_base, install_run
from tests.factories import served_studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The studio on a workspace holding one run of a tiny llama model; yields (url, workspace)."""
    root = tmp_path_factory.mktemp("export-tab")
    home = root / "workspace"
    base = build_export_base(root / "base", "llama")
    install_run(home, "sft-tiny", base, build_adapter(base, root / "adapter"), evaluation=True)
    with served_studio(home) as url:
        yield url, home


def test_browser_exports_a_run_and_downloads_its_gguf(studio, browser):
    url, home = studio
    page = browser.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Export").click()
    page.locator("#export-run input").click()
    page.get_by_role("option", name="sft-tiny").click()
    name = page.locator("#export-name textarea, #export-name input").first
    name.wait_for()
    page.wait_for_function("document.querySelector('#export-name textarea, #export-name input').value !== ''")
    name.fill("tiny-iac")
    # Two GGUF types keep it quick: untick Q4_1, leave F16 and Q8_0.
    page.locator("#export-gguf-types").get_by_text("Q4_1", exact=False).click()
    page.locator("#export-go").click()

    summary = page.locator("#export-summary")
    # The progress line says "Exported ... 100%" a moment before the summary with the files replaces it: wait for
    # the summary's download link (on a loaded machine the two were seen apart).
    summary.get_by_role("link", name="gguf/tiny-iac-Q8_0.gguf").wait_for(timeout=150_000)
    text = summary.inner_text()
    assert "Exported" in text and "gguf/tiny-iac-Q8_0.gguf" in text and "merged/model.safetensors" in text
    assert "merged vs base + adapter" in text and "llama.cpp F16 vs merged" in text
    assert "Q4_1" not in text

    # The download link serves the file in place, whole.
    link = summary.get_by_role("link", name="gguf/tiny-iac-Q8_0.gguf")
    response = page.request.get(page.url.rstrip("/") + "/" + link.get_attribute("href").lstrip("/"))
    assert response.status == 200
    on_disk = home / "exports" / "tiny-iac" / "gguf" / "tiny-iac-Q8_0.gguf"
    assert response.body() == on_disk.read_bytes()
    assert page.locator('#export-files td[aria-label="tiny-iac-F16.gguf"]').count() == 1

    commands = page.locator("#export-commands").inner_text()
    for expected in ("vllm serve", "--chat-template", "llama-server -m", "--jinja", "ollama create tiny-iac",
                     "ollama run tiny-iac"):
        assert expected in commands, expected

    # Exporting again under the same name without ticking overwrite is refused, and says how to proceed.
    page.locator("#export-go").click()
    page.get_by_text("tick 'overwrite'").first.wait_for(timeout=30_000)


def test_api_refuses_a_name_that_leaves_the_exports_folder(studio):
    from gradio_client import Client

    url, home = studio
    client = Client(url, verbose=False)
    summary, *_ = client.predict("sft-tiny", "../../escape", ["adapter"], [], "auto", "terraform", False, False,
                                 api_name="/export_model")
    assert "Not exported" in summary and "not a valid name" in summary  # said in the page, not a toast
    assert not (home.parent / "escape").exists()
