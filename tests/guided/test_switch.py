"""The one switch: per pane in Compare, in the Evaluate form and the eval job's job.yaml / command line."""

import pytest

from studio import compare, generation, models

REQUEST = "Create an S3 bucket for logs with versioning enabled."


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(models, "CACHE", models.ModelCache())


def test_compare_guides_each_pane_by_its_own_switch(tiny_llama, tiny_adapter, grammars, byte_matchers):
    tuned = compare.fine_tuned(tiny_adapter)
    settings = generation.Settings(max_new_tokens=24)
    plain = list(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=settings))[-1]
    guided = list(compare.stream_pair(str(tiny_llama), tuned, "terraform", REQUEST, settings=settings,
                                      guided=(False, True)))[-1]
    assert guided[0].text == plain[0].text  # the base pane's switch is off: the same answer
    assert guided[1].text != plain[1].text and guided[1].text.startswith("```hcl\n")
    assert byte_matchers["terraform"](guided[1].text, whole=False) is None
    assert byte_matchers["terraform"](plain[1].text, whole=False) is not None


def test_the_evaluate_form_and_the_eval_job_carry_the_switch():
    from jobs import specs
    from studio.ui import evaluate

    form = dict(base=models.EMBEDDED, tuned="", with_base=True, dataset_file="data/eval.jsonl", decoding="Greedy",
                temperature=0.8, samples=1, max_tokens=64, batch_size=8, limit=4, threads=0, judge_on=False,
                judge_url="", judge_model="default", name="g1")
    assert not evaluate.spec_from_form(**form).guided
    spec = evaluate.spec_from_form(**form, guided=True)
    assert spec.guided and " --guided" in evaluate.command_line(spec)
    assert specs.from_dict({"kind": "eval", "guided": True, "output": "g2"}).guided
    assert specs.from_dict({"kind": "grpo", "model": models.EMBEDDED, "dataset": "data/train.jsonl",
                            "guided": True, "output": "g3"}).guided


def test_a_guided_grpo_job_samples_its_rollouts_by_the_grammars(tiny_llama, tmp_path):
    """`guided: true` in a GRPO job (run as a person runs one, `python -m jobs run`): its rollouts on the studio's
    engine are masked by the schema grammars, and the job trains to the end."""
    from jobs import specs
    from jobs.run_folder import RunFolder
    from tests.jobs.conftest import tiny_job, write_rows
    from tests.jobs.test_training import _cli, training_lines

    rows = write_rows(tmp_path / "train.jsonl", 8), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("grpo", tiny_llama, rows, max_steps=1, output="grpo-guided", rollout="studio", guided=True,
                    max_completion_length=12)
    specs.save(spec, tmp_path / "job.yaml")
    result = _cli(tmp_path / "job.yaml", tmp_path / "workspace")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = RunFolder(tmp_path / "workspace" / "runs" / "grpo-guided")
    log = run.log_file.read_text()
    assert "[job] rollouts guided by the schema grammars (studio.guided), on the studio's engine" in log
    assert "the grammar refused" not in log + result.stderr
    lines = training_lines(run)
    assert [row["step"] for row in lines] == [1] and lines[0]["reward"] is not None and lines[0]["generate_s"] > 0
