"""Votes are kept in the workspace, all of them; the DPO export holds only the ones that prefer an answer."""

from __future__ import annotations

import doctest
import json
import threading

import pytest

from studio import chat, preferences

MESSAGES = chat.messages_for("An S3 bucket for logs, versioned", "terraform")
GOOD = '```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n```'
BAD = '```hcl\nresource "aws_s3_bucket" "logs" {\n  name = "logs"\n}\n```'


def vote(kind, left=BAD, right=GOOD, **extra):
    return preferences.record(MESSAGES, left=left, right=right, vote=kind, left_model="base: tiny",
                              right_model="fine-tuned: sft-1", **extra)


def test_every_vote_is_stored_and_only_preferences_are_exported(home):
    vote("right", example_id="tfa-0001", settings={"temperature": 0.0})
    vote("left", left=GOOD, right=BAD)
    vote("tie")
    vote("both_bad")

    stored = [json.loads(line) for line in (home / "preferences" / "votes.jsonl").read_text().splitlines()]
    assert [entry["vote"] for entry in stored] == ["right", "left", "tie", "both_bad"]
    assert stored[0]["example_id"] == "tfa-0001" and stored[0]["right"]["model"] == "fine-tuned: sft-1"
    assert stored[0]["prompt"] == MESSAGES
    assert preferences.counts() == {"left": 1, "right": 1, "tie": 1, "both_bad": 1}

    path, pairs = preferences.export_dpo()
    assert path == home / "preferences" / "dpo-pairs.jsonl" and pairs == 2
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected"}
        assert row["prompt"] == MESSAGES
        # Both votes preferred the answer with `bucket`, once on each side.
        assert row["chosen"] == [{"role": "assistant", "content": GOOD}]
        assert row["rejected"] == [{"role": "assistant", "content": BAD}]


def test_the_export_is_what_trl_reads_as_a_preference_dataset(home, tmp_path):
    from datasets import Dataset
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    from tests.factories import build_tokenizer

    vote("right")
    path, _ = preferences.export_dpo()
    data = Dataset.from_json(str(path))
    assert is_conversational(data[0])
    rendered = maybe_apply_chat_template(data[0], build_tokenizer(tmp_path))
    assert rendered["prompt"].endswith("<|im_start|>assistant\n")
    assert 'bucket = "logs"' in rendered["chosen"] and 'name = "logs"' in rendered["rejected"]


def test_identical_answers_and_bad_votes_are_refused_or_skipped(home):
    vote("left", left=GOOD, right=GOOD)
    assert preferences.export_dpo()[1] == 0, "a pair of identical answers teaches nothing"
    with pytest.raises(ValueError, match="vote must be one of"):
        vote("maybe")
    with pytest.raises(ValueError, match="left answer is empty"):
        vote("left", left="  ")
    vote("right", left="")  # an empty answer is a fair loser
    assert len(preferences.read_votes()) == 2
    assert preferences.export_dpo()[1] == 1


def test_a_damaged_line_is_skipped_and_concurrent_votes_stay_whole(home):
    vote("right")
    with preferences.votes_file().open("a") as handle:
        handle.write('{"vote": "right", "prompt": [\n')  # a crash mid-line
    threads = [threading.Thread(target=vote, args=("left",), kwargs={"left": GOOD * 200}) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    votes = preferences.read_votes()
    assert len(votes) == 9 and all(v["left"]["answer"] in (BAD, GOOD * 200) for v in votes)


def test_the_dpo_pairs_example_runs():
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(preferences.dpo_pairs, globs={"dpo_pairs": preferences.dpo_pairs}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_the_vote_buttons_count_once_per_pair_of_answers(home):
    import gradio as gr

    from studio.ui import compare as compare_tab

    with pytest.raises(gr.Error, match="Generate both answers first"):
        compare_tab.vote("left", None)
    pair = {"messages": MESSAGES, "left": BAD, "right": GOOD, "left_model": "base: tiny", "right_model": "sft-1"}
    pair, status = compare_tab.vote("right", pair)
    assert pair["voted"] == "right" and status.startswith("Saved: right is better. Votes so far: 0 left, 1 right")
    again, status = compare_tab.vote("left", pair)
    assert again == pair and status.startswith("Already saved for these answers (right is better)")
    assert preferences.counts()["left"] == 0
