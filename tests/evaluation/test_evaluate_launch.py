"""The Evaluate tab launches an eval job; its progress shows, then its results, here and on the Jobs tab's page."""

from __future__ import annotations

from jobs.store import JobStore
from studio.ui import evaluate as evaluate_tab
from studio.ui import jobs as jobs_tab
from tests.jobs.conftest import wait_for


def form(tiny_llama, **changes):
    values = dict(base=str(tiny_llama), tuned="sft-tiny", with_base=True, decoding="Greedy", temperature=0.8,
                  samples=1, max_tokens=4, batch_size=4, limit=3, threads=1, judge_on=False,
                  judge_url="http://127.0.0.1:8080", judge_model="default", name="eval-from-tab")
    values.update(changes)
    return list(values.values())


def test_launch_watch_and_show_on_the_jobs_page(eval_home, tiny_llama):
    sources = evaluate_tab.row_sources()
    assert sources[0][1] == "seed" and sources[-1][1] == evaluate_tab.UPLOAD
    assert sources[0][0].startswith("seed · eval · 121 rows · version "), "named with its rows and version"

    command = evaluate_tab.preview("seed", None, *form(tiny_llama))
    assert command.startswith("python -m jobs eval --model ") and "--limit 3" in command
    assert "--output eval-from-tab --submit" in command and "--judge-url" not in command

    status, shown_command, name = evaluate_tab.launch("seed", None, *form(tiny_llama))
    assert name == "eval-from-tab" and "**eval-from-tab** is" in status and shown_command == command
    assert "It evaluates the first 3 of the 121 rows of the eval split of seed, version " in status
    store = JobStore()
    wait_for(lambda: store.get(name).state not in ("queued", "running"), 120, what="the eval job to end")
    assert store.get(name).state == "succeeded", store.get(name).message

    bar, folder_update, headline, table, chart, rows_update, records, shown = evaluate_tab.watch(name, None)
    assert "succeeded" in bar and "6/6 answers" in bar and 'data-fraction="1.000"' in bar.replace("'", '"')
    assert folder_update["value"] == str(eval_home / "runs" / "sft-tiny" / "eval") and shown == name
    assert "**3 rows**" in headline and len(records) == 3, "the new results are shown, not only chosen"
    again = evaluate_tab.watch(name, shown)
    assert list(again[1:7]) == [{"__type__": "update"}] * 6, "shown once, then left alone (gr.skip) on every tick"

    # The run whose adapter was evaluated, and the eval job itself, show the evaluation on their page.
    for page in ("eval-from-tab", "sft-tiny"):
        if page == "sft-tiny":
            store.add("sft-tiny", "sft", gpus=0, state="succeeded")
        outputs = jobs_tab.refresh(page, None)
        summary, chart = outputs[7], outputs[8]
        assert summary["visible"] and "### Evaluation" in summary["value"] and "**3 rows**" in summary["value"]
        assert chart["visible"] and chart["value"] is not None
    details = jobs_tab.job_details(store, "eval-from-tab")
    assert "Final: pass base 0.0%, fine-tuned 0.0% over 3 rows" in details


def test_a_bad_form_is_refused_with_every_problem(eval_home, tiny_llama):
    status, _, name = evaluate_tab.launch("seed", None, *form(tiny_llama, decoding="Sampled", samples=-1,
                                                              max_tokens=0))
    assert name is None and status.startswith("**Cannot launch:**")
    assert "samples must be at least 1" in status and "max_new_tokens must be at least 1" in status
    status, _, _ = evaluate_tab.launch(evaluate_tab.UPLOAD, None, *form(tiny_llama))
    assert "Choose a JSONL file" in status
