"""The runner without training: the commands it builds, how it reads an ended run, and how it notices processes
that died without a word (stand-in processes, so these run in seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from jobs import runner, specs
from jobs.run_folder import RunFolder
from jobs.store import JobStateError, JobStore
from tests.jobs.conftest import wait_for


def test_one_process_runs_the_entry_point_directly(tmp_path):
    argv = runner.training_command(tmp_path / "job.yaml")
    assert argv == [sys.executable, "-m", "jobs", "run", str(tmp_path / "job.yaml")]
    assert runner.training_command(tmp_path / "job.yaml", resume=True)[-1] == "--resume"


def test_several_gpus_go_through_accelerate_launch(tmp_path):
    argv = runner.training_command(tmp_path / "job.yaml", processes=4, resume=True, port=29555)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert argv[argv.index("--num_processes") + 1] == "4"
    assert "--multi_gpu" in argv and argv[argv.index("--main_process_port") + 1] == "29555"
    # The same entry point as one process, after the launcher's own options
    assert argv[argv.index("-m", 3):] == ["-m", "jobs", "run", str(tmp_path / "job.yaml"), "--resume"]


def test_the_accelerate_launcher_accepts_the_arguments(tmp_path):
    """accelerate's own parser reads the command (no GPU needed to parse it)."""
    from accelerate.commands.launch import launch_command_parser

    argv = runner.training_command(tmp_path / "job.yaml", processes=2, port=29555)
    parsed = launch_command_parser().parse_args(argv[3:])
    assert parsed.num_processes == 2 and parsed.multi_gpu and parsed.module
    assert parsed.training_script == "jobs" and parsed.training_script_args == ["run", str(tmp_path / "job.yaml")]


def test_gpu_discovery_follows_the_environment(monkeypatch):
    monkeypatch.setenv("INFRAMIND_GPUS", "0, 2")
    assert runner.gpu_ids() == ["0", "2"]
    monkeypatch.setenv("INFRAMIND_GPUS", "none")
    assert runner.gpu_ids() == []
    monkeypatch.delenv("INFRAMIND_GPUS")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert runner.gpu_ids() == ["3", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert runner.gpu_ids() == []


def test_exit_statuses_read_as_people_say_them():
    assert runner.describe_exit(-9) == "killed by SIGKILL (kill -9, or the kernel's out-of-memory killer)"
    assert runner.describe_exit(-15) == "killed by SIGTERM"
    assert runner.describe_exit(1) == "exited with status 1"


def test_the_run_folder_decides_how_a_job_ended(home):
    run = RunFolder.named("r")
    run.path.mkdir(parents=True)
    run.log_file.write_text("line 1\nTraceback (most recent call last):\nRuntimeError: boom\n")
    state, message = runner.outcome(run, 1, stop_requested=False)
    assert state == "failed" and "exited with status 1" in message and "RuntimeError: boom" in message
    assert "resume starts it over (no checkpoint)" in message
    (run.checkpoints / "checkpoint-20").mkdir(parents=True)
    (run.checkpoints / "checkpoint-20" / "trainer_state.json").write_text("{}")
    (run.checkpoints / "checkpoint-30").mkdir(parents=True)  # cut short: no trainer_state.json
    assert "resume continues from checkpoint-20" in runner.outcome(run, -9, stop_requested=False)[1]
    run.stopped_file.write_text(json.dumps({"step": 20, "checkpoint": str(run.checkpoints / "checkpoint-20")}))
    # accelerate reports a clean stop with a non-zero status: the file decides
    assert runner.outcome(run, 1, stop_requested=True) == ("stopped", "stopped at step 20; checkpoint-20 saved")
    run.stopped_file.unlink()
    run.summary_file.write_text(json.dumps({"steps": 40}))
    assert runner.outcome(run, 0, stop_requested=False) == ("succeeded", "finished 40 steps")


def _dead_process() -> tuple[int, float]:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    started = runner._started(process.pid) or time.time()
    process.wait()
    return process.pid, started


def test_a_job_whose_processes_died_without_a_word_is_marked_failed_and_resumable(job_home):
    """kill -9 of both the supervisor and the training (or a reboot): nobody recorded the end."""
    store = JobStore()
    store.add("gone", "sft")
    store.claim([])
    run = RunFolder.named("gone")
    run.path.mkdir(parents=True)
    run.log_file.write_text("".join(f"[metrics] step {i}/100, loss 1.0\n" for i in range(1, 41)))
    (run.checkpoints / "checkpoint-30").mkdir(parents=True)
    (run.checkpoints / "checkpoint-30" / "trainer_state.json").write_text("{}")
    pid, started = _dead_process()
    store.update("gone", supervisor_pid=pid, supervisor_started=started, trainer_pid=pid, trainer_started=started)

    runner.reconcile(store)

    job = store.get("gone")
    assert job.state == "failed"
    assert job.message.startswith("its processes are gone without a word")
    assert "resume continues from checkpoint-30" in job.message
    assert "[metrics] step 40/100" in job.message and "[metrics] step 10/100" not in job.message  # the last lines
    assert store.requeue("gone", resume=True).state == "queued"


def test_a_live_job_is_left_alone(job_home):
    import os

    store = JobStore()
    store.add("alive", "sft")
    store.claim([])
    me = os.getpid()
    store.update("alive", supervisor_pid=me, supervisor_started=runner._started(me))
    assert runner.reconcile(store) == [] and store.get("alive").state == "running"


def test_a_reused_pid_is_not_taken_for_the_job(job_home):
    import os

    store = JobStore()
    store.add("old", "sft")
    store.claim([])
    RunFolder.named("old").path.mkdir(parents=True)
    me = os.getpid()
    # Our pid, but recorded with another start time: the job's process is gone and the pid was given again.
    store.update("old", supervisor_pid=me, supervisor_started=runner._started(me) - 1000)
    runner.reconcile(store)
    assert store.get("old").state == "failed"


def test_a_training_process_that_lost_its_supervisor_gets_a_watcher(job_home):
    """The app restarted and the supervisor was killed, but training goes on: a watcher re-attaches and records
    the end from the run folder."""
    store = JobStore()
    store.add("orphan", "sft")
    store.claim([])
    run = RunFolder.named("orphan")
    run.path.mkdir(parents=True)
    training = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        dead, dead_started = _dead_process()
        store.update("orphan", supervisor_pid=dead, supervisor_started=dead_started, trainer_pid=training.pid,
                     trainer_started=runner._started(training.pid))
        changed = runner.reconcile(store)
        assert [job.name for job in changed] == ["orphan"]
        watcher = store.get("orphan")
        assert runner.alive(watcher.supervisor_pid, watcher.supervisor_started)
        assert store.get("orphan").state == "running"
        run.summary_file.write_text(json.dumps({"steps": 12}))  # the training finishes its work ...
        training.kill()  # ... and ends
        training.wait()
        job = wait_for(lambda: (j := store.get("orphan")).state != "running" and j, 30, what="the watcher")
        assert (job.state, job.message) == ("succeeded", "finished 12 steps")
        assert "re-attached to pid" in run.log_file.read_text()
    finally:
        training.kill()


def test_submit_refuses_what_cannot_run(job_home, rows, tmp_path):
    base = dict(dataset=str(rows[0]), eval_dataset="", model=str(tmp_path))
    with pytest.raises(specs.SpecError, match="does not exist"):
        runner.submit(specs.SFTJob(**{**base, "dataset": str(tmp_path / "missing.jsonl")}), start=False)
    from studio.models import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="no config.json"):
        runner.submit(specs.SFTJob(**base, output="r1"), start=False)
    (tmp_path / "config.json").write_text("{}")
    job = runner.submit(specs.SFTJob(**base, output="r1"), start=False)
    assert job.state == "queued" and specs.load(RunFolder.named("r1").spec_file).dataset == str(rows[0])
    with pytest.raises(JobStateError, match="exists already"):
        runner.submit(specs.SFTJob(**base, output="r1"), start=False)
    with pytest.raises(specs.SpecError, match="queued jobs keep their runs in"):
        runner.submit(specs.SFTJob(**base, output=str(tmp_path / "outside")), start=False)


def test_stopping_a_queued_job_cancels_it(job_home, rows, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    runner.submit(specs.SFTJob(dataset=str(rows[0]), eval_dataset="", model=str(tmp_path), output="q"), start=False)
    job = runner.stop("q")
    assert (job.state, job.message) == ("stopped", "cancelled before it started")
    runner.delete("q")
    assert not RunFolder.named("q").path.exists() and JobStore().find("q") is None


def test_a_grpo_job_may_be_queued_after_the_sft_run_it_starts_from(job_home, rows, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    base = dict(dataset=str(rows[0]), eval_dataset="", model=str(tmp_path))
    with pytest.raises(specs.SpecError, match="holds no adapter_config.json"):
        runner.submit(specs.GRPOJob(**base, output="g", adapter="s"), start=False)
    runner.submit(specs.SFTJob(**base, output="s"), start=False)
    job = runner.submit(specs.GRPOJob(**base, output="g", adapter="s"), start=False, after="s")
    assert (job.state, job.after) == ("queued", "s")
    from jobs.store import JobNotFound

    with pytest.raises(JobNotFound):
        runner.submit(specs.GRPOJob(**base, output="g2", adapter="s"), start=False, after="nobody")


def test_a_job_started_by_hand_on_several_gpus_trains_on_one(monkeypatch, capsys):
    from jobs.__main__ import _one_gpu_per_process

    # setenv first: delenv of an absent variable records nothing to put back, and the "0" this test makes would
    # outlive it (a later test of the process then sees a GPU: the form's memory check of CI at 3212e03)
    for name in ("CUDA_VISIBLE_DEVICES", "LOCAL_RANK"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("INFRAMIND_GPUS", "0,1")
    _one_gpu_per_process(specs.SFTJob(gpus=1))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0", "else Trainer wraps the model in nn.DataParallel"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    _one_gpu_per_process(specs.SFTJob(gpus=2))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0" and "accelerate launch" in capsys.readouterr().out
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("LOCAL_RANK", "1")  # under accelerate launch: its choice stands
    _one_gpu_per_process(specs.SFTJob(gpus=2))
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
