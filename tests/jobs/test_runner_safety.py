"""Jobs on a shared studio (issue 16): a same-name submit cannot run another's job.yaml, per-owner quotas,
free space checked before start, resume and checkpoint, a full disk marks the job failed with that reason, and
jobs left "running" are reconciled when the app starts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

from jobs import runner, specs
from jobs.run_folder import RunFolder
from jobs.store import JobStateError, JobStore
from studio import access, workspace


def _spec(model, rows, output, **changes):
    return specs.SFTJob(dataset=str(rows[0]), eval_dataset="", model=str(model), output=output, **changes)


@pytest.fixture
def model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def test_of_two_same_name_submits_at_once_one_is_refused_and_the_job_runs_its_own_yaml(job_home, rows, model):
    outcomes = {}
    barrier = threading.Barrier(6)

    def submit(steps):
        barrier.wait()
        try:
            runner.submit(_spec(model, rows, "same", max_steps=steps), start=False)
            outcomes[steps] = "queued"
        except JobStateError as error:
            outcomes[steps] = str(error)

    threads = [threading.Thread(target=submit, args=(steps,)) for steps in range(11, 17)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [steps for steps, outcome in outcomes.items() if outcome == "queued"]
    assert len(winners) == 1, outcomes
    assert specs.load(RunFolder.named("same").spec_file).max_steps == winners[0], "the job runs another's job.yaml"


def test_a_submit_in_progress_elsewhere_holds_the_name(job_home, rows, model):
    run = RunFolder.named("taken")
    run.path.mkdir(parents=True)
    (run.path / runner.CLAIM_FILE).write_text(str(os.getpid()))  # a submitter that is alive: this process
    with pytest.raises(JobStateError, match="is being submitted or exists already"):
        runner.submit(_spec(model, rows, "taken"), start=False)
    assert not run.spec_file.exists()


def test_a_claim_left_by_a_dead_submit_is_taken_over(job_home, rows, model):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = RunFolder.named("orphaned")
    run.path.mkdir(parents=True)
    (run.path / runner.CLAIM_FILE).write_text(dead.stdout.strip())
    assert runner.submit(_spec(model, rows, "orphaned"), start=False).state == "queued"


def test_an_owner_has_at_most_a_few_jobs_queued_on_a_shared_studio(job_home, rows, model, monkeypatch):
    monkeypatch.setenv("INFRAMIND_OWNERS", "alice")
    monkeypatch.setattr(runner, "MAX_ACTIVE_JOBS_PER_OWNER", 2)
    token = access._CURRENT.set(access.User("alice", access.OWNER, key="alice"))
    try:
        runner.submit(_spec(model, rows, "a1"), start=False)
        runner.submit(_spec(model, rows, "a2"), start=False)
        with pytest.raises(JobStateError, match="already have 2 jobs queued or running"):
            runner.submit(_spec(model, rows, "a3"), start=False)
    finally:
        access._CURRENT.reset(token)
    assert JobStore().get("a1").owner == "alice"
    assert not RunFolder.named("a3").spec_file.exists()


def test_a_job_does_not_start_or_resume_without_free_space(job_home, rows, model, monkeypatch):
    monkeypatch.setenv("INFRAMIND_MIN_FREE_GB", "1000000")  # more than any disk: the disk reads as full
    with pytest.raises(workspace.DiskFull, match="not enough free space for the job big"):
        runner.submit(_spec(model, rows, "big"), start=False)
    assert JobStore().find("big") is None
    monkeypatch.setenv("INFRAMIND_MIN_FREE_GB", "0")
    runner.submit(_spec(model, rows, "later"), start=False)
    runner.stop("later")
    monkeypatch.setenv("INFRAMIND_MIN_FREE_GB", "1000000")
    with pytest.raises(workspace.DiskFull, match="resuming later"):
        runner.resume("later")
    assert JobStore().get("later").state == "stopped"


def test_no_checkpoint_is_started_on_a_full_disk(tmp_path, monkeypatch):
    from transformers import TrainerControl, TrainerState

    from jobs import training

    callback = training.stop_callback(training.StopRequest())
    state = TrainerState(global_step=10, max_steps=100)
    args = SimpleNamespace(world_size=1, device="cpu", output_dir=str(tmp_path / "checkpoints"))
    assert callback.on_step_end(args, state, TrainerControl(should_save=True)).should_save
    monkeypatch.setenv("INFRAMIND_MIN_FREE_GB", "1000000")
    assert not callback.on_step_end(args, state, TrainerControl(should_save=False)).should_save  # no save: no check
    with pytest.raises(workspace.DiskFull, match="a checkpoint at step 10"):
        callback.on_step_end(args, state, TrainerControl(should_save=True))


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", ""])
    started = runner._started(process.pid)
    process.wait()
    return process.pid, started


def test_a_job_killed_by_a_full_disk_is_marked_failed_with_that_reason_at_app_start(job_home):
    """The disk filled while the job ran and its supervisor died: the app's start reconciles it, saying why."""
    import app

    store = JobStore()
    store.add("filled", "sft")
    store.claim([])
    run = RunFolder.named("filled")
    run.path.mkdir(parents=True)
    run.log_file.write_text("[metrics] step 7/50, loss 1.2\nTraceback (most recent call last):\n"
                            "OSError: [Errno 28] No space left on device: 'checkpoint-8/optimizer.pt'\n")
    pid, started = _dead_pid()
    store.update("filled", supervisor_pid=pid, supervisor_started=started, trainer_pid=pid, trainer_started=started)

    app.reconcile_jobs()

    job = store.get("filled")
    assert job.state == "failed"
    assert job.message.startswith("the disk is full (OSError: [Errno 28] No space left on device")
    assert "then resume starts it over" in job.message


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 16 MB tmpfs as the workspace (needs root to mount; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small disk needs root")
    monkeypatch.setenv("INFRAMIND_HOME", str(mount / "workspace"))
    monkeypatch.setenv("INFRAMIND_GPUS", "none")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder) -> object:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 2**20)
                handle.flush()
        except OSError:
            pass
    return filler


def test_the_jobs_tab_works_on_a_full_disk_and_marks_the_job_once_space_is_freed(small_disk):
    from studio.ui import jobs as tab

    store = JobStore()
    store.add("filled", "sft")
    store.claim([])
    run = RunFolder.named("filled")
    run.path.mkdir(parents=True)
    run.log_file.write_text("OSError: [Errno 28] No space left on device: 'checkpoint-8/optimizer.pt'\n")
    pid, started = _dead_pid()
    store.update("filled", supervisor_pid=pid, supervisor_started=started, trainer_pid=pid, trainer_started=started)
    filler = _fill(small_disk)
    try:
        table = tab.refresh(None, None)[0]  # the disk is full: the tab still shows the jobs
        assert "filled" in table
    finally:
        filler.unlink()
    tab.refresh(None, None)
    job = JobStore().get("filled")
    assert job.state == "failed" and job.message.startswith("the disk is full")
