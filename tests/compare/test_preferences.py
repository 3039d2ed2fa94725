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


# -- pair files -------------------------------------------------------------------------------------------


def test_pair_files_are_read_back_normalized_and_counted_by_source(home, tmp_path):
    vote("right")
    votes_path, _ = preferences.export_dpo()
    own = tmp_path / "mine.jsonl"
    own.write_text(json.dumps({"prompt": "A bucket", "chosen": GOOD, "rejected": BAD}) + "\n"
                   + json.dumps({"prompt": MESSAGES, "chosen": GOOD, "rejected": BAD, "source": "mined",
                                 "chosen_score": {"stages": 4}}) + "\n")
    pairs = preferences.read_pair_files([votes_path, own])
    assert [pair["source"] for pair in pairs] == ["votes", "mine", "mined"]
    # One form for every row: a string prompt is the user's turn, a string answer the assistant's; extras dropped.
    assert pairs[1] == {"prompt": [{"role": "user", "content": "A bucket"}],
                        "chosen": [{"role": "assistant", "content": GOOD}],
                        "rejected": [{"role": "assistant", "content": BAD}], "source": "mine"}
    found = {source.name: source for source in preferences.sources([votes_path, own], examples=1)}
    assert {name: source.pairs for name, source in found.items()} == {"votes": 1, "mine": 1, "mined": 1}
    text = preferences.describe(list(found.values()))
    assert "| votes | 1 | dpo-pairs.jsonl |" in text and "chosen: `" in text


@pytest.mark.parametrize("line, problem", [
    ('{"prompt": "x", "chosen": "a"}', "missing 'rejected'"),
    ('{"chosen": "a", "rejected": "b"}', "missing 'prompt'"),
    ('{"prompt": "x", "chosen": "a", "rejected": ""}', "missing 'rejected'"),
    ('{"prompt": "x", "chosen": "same", "rejected": " same\\n"}', "chosen and rejected are the same answer"),
    ('{"prompt": "x", "chosen": " ", "rejected": "b"}', "the chosen answer is empty"),
    ('{"prompt": [{"role": "assistant", "content": "x"}], "chosen": "a", "rejected": "b"}',
     "'prompt' must end with the user's turn, not the assistant's"),
    ('{"prompt": "x", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}',
     "'chosen' must hold assistant messages only"),
    ('{"prompt": "x", "chosen": [{"role": "assistant"}], "rejected": "b"}', "chosen[0] must be a message"),
    ('{"prompt": "x", "chosen": "a", "rejected": "b"', "not valid JSON"),
    ('["x", "a", "b"]', "expected a JSON object with prompt, chosen, rejected, got list"),
])
def test_a_bad_pair_is_refused_with_its_line_number(tmp_path, line, problem):
    good = json.dumps({"prompt": "x", "chosen": "a", "rejected": "b"})
    path = tmp_path / "pairs.jsonl"
    path.write_text(f"{good}\n\n{line}\n{good}\n")
    with pytest.raises(preferences.PairFileError) as caught:
        preferences.read_pairs(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:3: ") and problem in caught.value.problems[0]


def test_a_file_of_many_bad_lines_names_the_first_ones_and_counts_the_rest(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "x", "chosen": "a"}\n' * 30)
    with pytest.raises(preferences.PairFileError) as caught:
        preferences.read_pairs(path)
    assert len(caught.value.problems) == preferences.MAX_PROBLEMS and caught.value.more == 10
    assert str(caught.value).endswith("and 10 more problem(s)")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(preferences.PairFileError, match="no pairs"):
        preferences.read_pairs(empty)


def test_the_pair_checks_examples_run():
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for function in (preferences.pair_problems, preferences.answer_text):
        for test in doctest.DocTestFinder().find(function, globs={function.__name__: function}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_the_command_line_checks_and_shows_pair_files(home, tmp_path, capsys):
    vote("left", left=GOOD, right=BAD)
    assert preferences.main(["export"]) == 0
    assert "1 pairs from 1 votes" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "chosen": "a", "rejected": "a"}\n')
    assert preferences.main(["check", str(bad)]) == 1
    assert f"{bad}:1: chosen and rejected are the same answer" in capsys.readouterr().err
    assert preferences.main(["show"]) == 0
    assert "| votes | 1 |" in capsys.readouterr().out


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
