"""The runner: queue jobs, start each in processes of its own, stop, resume, notice the ones that died.

    >>> from jobs import runner
    >>> from jobs.specs import SFTJob
    >>> runner.submit(SFTJob(output="sft-iac-1", max_steps=100))   # job.yaml written, queued, started if free
    Job(name='sft-iac-1', state='running', devices='cpu', ...)
    >>> runner.stop("sft-iac-1")          # SIGTERM: the job checkpoints at the end of its step and ends
    >>> runner.resume("sft-iac-1")        # queued again; continues from its last checkpoint
    >>> runner.reconcile()                # after an app restart: marks jobs whose processes are gone

Each job gets a small supervisor, `python -m jobs supervise <name>`, started in a session of its own so it
outlives the app and the browser. The supervisor starts the training command (`python -m jobs run job.yaml`, or
`accelerate launch --num_processes N -m jobs run job.yaml` for N GPUs) with an argument list, its output going to
train.log; it waits for it, records how it ended in the store, and starts the next queued job. So the queue moves
on without the app running, and the app only ever reads the store and the run folders.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from jobs import specs
from jobs.run_folder import RunFolder
from jobs.store import CPU, Job, JobStateError, JobStore
from studio import access, models, workspace

PROJECT_ROOT = workspace.PROJECT_ROOT
# Set in the environment of a job started by a supervisor, so `python -m jobs run` does not register itself again.
SUPERVISED_ENV = "INFRAMIND_SUPERVISED"
# Overrides GPU discovery: "0,1" or "none". Lets a user keep GPUs for other work, and tests fake a GPU machine.
GPUS_ENV = "INFRAMIND_GPUS"
# How long a stop request may take (a step to finish, the checkpoint to be written) before the job is killed.
STOP_GRACE_S = float(os.environ.get("INFRAMIND_STOP_GRACE_S", "300"))
# A job claimed this long ago whose supervisor never recorded itself is taken for lost.
START_GRACE_S = 60.0
LOG_LINES_ON_FAILURE = 25
# Jobs one owner may have queued or running at once on a studio with roles (a Space); locally no limit.
MAX_ACTIVE_JOBS_PER_OWNER = int(os.environ.get("INFRAMIND_MAX_JOBS_PER_OWNER", "3"))
# Written first, exclusively, into a run folder by the submit that takes its name (see `_claim_name`).
CLAIM_FILE = ".submitted"


# -- devices -------------------------------------------------------------------------------------------


def gpu_ids() -> list[str]:
    """The GPUs jobs may use, found without importing torch (the app and supervisors stay light).

    `INFRAMIND_GPUS` when set; else CUDA_VISIBLE_DEVICES when set; else what `nvidia-smi` lists; else none.
    """
    override = os.environ.get(GPUS_ENV)
    if override is not None:
        return [] if override.strip().lower() in ("", "none", "cpu") else [g.strip() for g in override.split(",")]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip()]


# -- commands ------------------------------------------------------------------------------------------


def training_command(job_yaml: Path, processes: int = 1, resume: bool = False, port: int | None = None,
                     launcher: bool = False) -> list[str]:
    """The argument list that trains the job: the command a person could type, as the Train tab previews it.

    >>> training_command(Path("runs/a/job.yaml"))
    ['.../python', '-m', 'jobs', 'run', 'runs/a/job.yaml']
    >>> training_command(Path("runs/a/job.yaml"), processes=2)[:8]
    ['.../python', '-m', 'accelerate.commands.launch', '--num_processes', '2', '--num_machines', '1', '--multi_gpu']

    `launcher=True` goes through `accelerate launch` for one process too (bench/train_speed.py's scaling
    baseline, and the tests of that path). With no GPU the processes talk through gloo on the CPU.
    """
    tail = ["-m", "jobs", "run", str(job_yaml)] + (["--resume"] if resume else [])
    if processes <= 1 and not launcher:
        return [sys.executable, *tail]
    # --multi_gpu needs two processes or more; one process under the launcher is a plain (non-distributed) run.
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
              "--num_machines", "1", *(["--multi_gpu"] if processes > 1 else []), "--mixed_precision", "no",
              "--dynamo_backend", "no"]
    if port:
        # Two multi-GPU jobs on one machine each need their own rendezvous port.
        launch += ["--main_process_port", str(port)]
    return [*launch, *tail]


def preview_command(spec: specs.JobSpec) -> str:
    """The training command as one line to paste in a shell (the Train tab's preview)."""
    import shlex

    job_yaml = spec.run_folder() / "job.yaml"
    argv = training_command(job_yaml, spec.processes if gpu_ids() else 1)
    argv[0] = "python"
    return shlex.join(argv)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The children must find the same workspace and this package, whatever their working folder.
    env[workspace.HOME_ENV] = str(workspace.home())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


# -- processes -----------------------------------------------------------------------------------------


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def process_start() -> float:
    """When this process started, on time.monotonic()'s clock: a job run by the CLI counts its wall time and its
    time budget from there, so that the interpreter's start and the libraries' import (10-20 s) are inside them.
    Asked first thing, the process is a second or two old; an age past a minute means a clock not to be trusted
    (a budget counted from it would end before training began), and counts from now instead."""
    created = _started(os.getpid())
    age = time.time() - created if created is not None else 0.0
    return time.monotonic() - (age if 0.0 <= age < 60.0 else 0.0)


def alive(pid: int | None, started: float | None) -> bool:
    """True when process `pid` runs and is the one recorded (same start time: pids are reused)."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def describe_exit(code: int | None) -> str:
    if code is None:
        return "its exit status is unknown (the supervisor was gone)"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        why = " (kill -9, or the kernel's out-of-memory killer)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{why}"
    return f"exited with status {code}"


# -- the queue -----------------------------------------------------------------------------------------


def submit(spec: specs.JobSpec, store: JobStore | None = None, start: bool = True, after: str = "") -> Job:
    """Write the run folder's job.yaml, queue the job and start it if a device is free.

    Relative paths (datasets, a model or adapter folder) are made absolute here, so the job, which runs from the
    project folder, reads the files the person meant. With `after` (a queued or running job), the job waits until
    that one succeeded: a GRPO job may then name as its adapter the SFT run that has not trained yet.
    """
    store = store or JobStore()
    spec = spec.with_paths_resolved()
    problems = spec.missing_files()
    if after:
        store.get(after)  # JobNotFound names the jobs there are
        problems = [p for p in problems if not (p.startswith("adapter ") and after in p)]
    if spec.run_folder().parent != workspace.runs_dir():
        problems.append(f"output {spec.output!r}: queued jobs keep their runs in {workspace.runs_dir()}; give a "
                        "run name (an absolute folder is for `python -m jobs run` alone)")
    gpus = gpu_ids()
    if spec.gpus > 1 and gpus and spec.gpus > len(gpus):
        problems.append(f"gpus is {spec.gpus} but this machine has {len(gpus)} GPU(s)")
    if problems:
        raise specs.SpecError(problems)
    models.check_name(spec.model)  # before queueing, without loading it (the job resolves it for real)
    owner = _check_quota(store)
    workspace.check_free_space(f"the job {spec.output}")
    run = RunFolder(spec.run_folder())
    # A job.yaml written by hand into its run folder may be submitted; a folder that has trained may not.
    if store.find(run.name) or run.metrics_file.exists() or run.checkpoints.exists() or run.adapter.exists():
        raise JobStateError(f"a run named {run.name!r} exists already: pick another name or delete it")
    run.path.mkdir(parents=True, exist_ok=True)
    _claim_name(run, store)
    try:
        specs.save(spec, run.spec_file)
        job = store.add(run.name, spec.kind, gpus=spec.gpus, after=after, owner=owner)
    except BaseException:
        (run.path / CLAIM_FILE).unlink(missing_ok=True)
        raise
    if start:
        schedule(store)
    return store.get(job.name)


def _claim_name(run: RunFolder, store: JobStore) -> None:
    """Take the run's name for this submit, atomically (O_EXCL): of two submits of one name at once, the second
    is refused before it writes anything, so neither can run the other's job.yaml. A claim left by a submit
    that died before recording its job is taken over."""
    claim = run.path / CLAIM_FILE
    for _ in range(2):
        try:
            descriptor = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(claim.read_text() or 0)
            except (OSError, ValueError):
                holder = 0
            if store.find(run.name) is None and holder and not psutil.pid_exists(holder):
                claim.unlink(missing_ok=True)  # its submit died before recording the job
                continue
            raise JobStateError(f"a run named {run.name!r} is being submitted or exists already: pick another "
                                "name") from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        return
    raise JobStateError(f"a run named {run.name!r} is being submitted by another process: pick another name")


def _check_quota(store: JobStore) -> str:
    """The submitting owner's name (studio.access; empty locally); JobStateError when they have as many jobs
    queued or running as MAX_ACTIVE_JOBS_PER_OWNER allows on a studio with roles."""
    user = access.current()
    if not access.settings().roles:
        return ""
    owner = user.name or ""
    active = [job for job in store.list(("queued", "running")) if job.owner == owner]
    if len(active) >= MAX_ACTIVE_JOBS_PER_OWNER:
        raise JobStateError(f"{owner or 'you'} already have {len(active)} jobs queued or running "
                            f"({', '.join(job.name for job in active)}); the limit is {MAX_ACTIVE_JOBS_PER_OWNER} "
                            "(INFRAMIND_MAX_JOBS_PER_OWNER): wait for one to end or stop one")
    return owner


def schedule(store: JobStore | None = None) -> list[Job]:
    """Start every queued job that a free device can take now; returns the jobs started."""
    store = store or JobStore()
    reconcile(store)
    started = []
    try:
        claimed = store.claim(gpu_ids())
    except sqlite3.OperationalError:  # a full disk: nothing can start now; the Jobs tab must still show the jobs
        return started
    for job in claimed:
        try:
            started.append(_spawn_supervisor(job, store))
        except OSError as error:
            store.finish(job.name, "failed", message=f"could not start its supervisor: {error}")
    return started


def _spawn_supervisor(job: Job, store: JobStore, attach: bool = False) -> Job:
    run = RunFolder.named(job.name)
    argv = [sys.executable, "-m", "jobs", "supervise", job.name] + (["--attach"] if attach else [])
    with open(run.log_file, "ab") as log:
        # start_new_session: the supervisor and its job leave the app's process group, so closing the app (or
        # Ctrl-C in its terminal) does not take them down.
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=_child_env(), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return store.update(job.name, supervisor_pid=process.pid, supervisor_started=_started(process.pid))


def stop(name: str, force: bool = False, store: JobStore | None = None) -> Job:
    """Ask a job to stop: a queued one is cancelled; a running one gets SIGTERM and ends after its current step
    with a checkpoint. `force` kills its processes at once (the steps since the last checkpoint are lost)."""
    store = store or JobStore()
    job = store.request_stop(name)
    if job.state != "running":
        return job
    run = RunFolder.named(name)
    # The stop file reaches every rank of a multi-GPU job, whatever the launcher does with signals.
    workspace.atomic_write_text(run.stop_file, f"stop requested at {time.ctime()}\n")
    if job.trainer_pid and alive(job.trainer_pid, job.trainer_started):
        try:
            if force:
                os.killpg(job.trainer_pid, signal.SIGKILL)
            else:
                os.kill(job.trainer_pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    return store.get(name)


def resume(name: str, store: JobStore | None = None) -> Job:
    """Queue a stopped or failed job again; it continues from its last checkpoint (or starts over without one)."""
    store = store or JobStore()
    workspace.check_free_space(f"resuming {name}")
    RunFolder.named(name).clear_outcome()
    store.requeue(name, resume=True)
    schedule(store)
    return store.get(name)


def delete(name: str, store: JobStore | None = None) -> None:
    """Forget a job that is not running and delete its run folder (checkpoints and adapter included)."""
    store = store or JobStore()
    reconcile(store)  # a job whose processes died is no longer running, and may go
    store.delete(name)
    shutil.rmtree(RunFolder.named(name).path, ignore_errors=True)


# -- noticing the dead ---------------------------------------------------------------------------------


def outcome(run: RunFolder, exit_code: int | None, stop_requested: bool) -> tuple[str, str]:
    """(state, message) of an ended job, from what it left in its run folder and its exit status.

    The files decide, not the exit status alone: `accelerate launch` reports a clean stop as a failure.
    """
    summary, stopped = run.summary(), run.stopped()
    if summary is not None and not stopped:
        return "succeeded", f"finished {summary.get('steps', '?')} steps"
    if stopped is not None:
        checkpoint = stopped.get("checkpoint")
        where = f"; {Path(checkpoint).name} saved" if checkpoint else "; no checkpoint (it stopped before a step)"
        return "stopped", f"stopped at step {stopped.get('step', '?')}{where}"
    tail = run.log_tail(LOG_LINES_ON_FAILURE).strip()
    full = disk_full_reason(tail)
    if full and not stop_requested:
        last = run.last_checkpoint()
        where = f"resume continues from {last.name}" if last else "resume starts it over (no checkpoint)"
        return "failed", f"the disk is full ({full}); free space in {workspace.home()}, then {where}\n{tail}"
    if stop_requested:
        return "stopped", f"{describe_exit(exit_code)} after a stop request; steps since the last checkpoint " \
                          f"are lost\n{tail}"
    last = run.last_checkpoint()
    resumable = f"; resume continues from {last.name}" if last else "; resume starts it over (no checkpoint)"
    return "failed", f"{describe_exit(exit_code)}{resumable}\n{tail}"


def disk_full_reason(log_tail: str) -> str | None:
    """The line of a log that says the disk filled up (ENOSPC, or the free-space check), else None."""
    for line in reversed(log_tail.splitlines()):
        if "No space left on device" in line or "DiskFull" in line or "database or disk is full" in line:
            return line.strip()[:300]
    return None


def reconcile(store: JobStore | None = None) -> list[Job]:
    """Mark running jobs whose processes are gone (kill -9, out of memory, a reboot) and re-attach a watcher to a
    job whose supervisor died but whose training goes on. Returns the jobs it changed."""
    store = store or JobStore()
    changed = []
    for job in store.list(("running",)):
        if alive(job.supervisor_pid, job.supervisor_started):
            continue
        if job.supervisor_pid is None and time.time() - (job.started_at or 0) < START_GRACE_S:
            continue  # claimed a moment ago; its supervisor is being started
        if alive(job.trainer_pid, job.trainer_started):
            changed.append(_spawn_supervisor(job, store, attach=True))
            continue
        state, message = outcome(RunFolder.named(job.name), None, job.stop_requested_at is not None)
        if state == "failed" and not message.startswith("the disk is full"):
            message = "its processes are gone without a word: " + message
        try:
            changed.append(store.finish(job.name, state, message=message))
        except sqlite3.OperationalError:  # the disk is still full: the next look marks it, the tab still shows
            continue
    return changed


# -- the supervisor ------------------------------------------------------------------------------------


def supervise(name: str, attach: bool = False, store: JobStore | None = None) -> int:
    """Run job `name` to its end and record how it ended; then start what is queued. Returns the job's exit code.

    `attach`: watch a training process that is already running (its first supervisor died) instead of starting
    one; its exit status cannot be had then, so the run folder's files tell how it ended.
    """
    store = store or JobStore()
    job = store.get(name)
    run = RunFolder.named(name)
    say = _notes(run)
    if attach:
        say(f"re-attached to pid {job.trainer_pid}")
        while alive(job.trainer_pid, job.trainer_started):
            _enforce_stop_grace(store.get(name), say)
            time.sleep(1.0)
        code = None
    else:
        code = _run_training(job, run, store, say)
    job = store.get(name)
    state, message = outcome(run, code, job.stop_requested_at is not None)
    _finish_despite_a_full_disk(store, name, state, code, message)
    say(f"{state}: {message.splitlines()[0] if message else ''}")
    schedule(store)
    return code if code is not None else 0


def _finish_despite_a_full_disk(store: JobStore, name: str, state: str, code: int | None, message: str,
                                attempts: int = 60) -> None:
    """Record the end; while the disk is full SQLite refuses, so try again every few seconds for a while (the
    app's reconcile marks it later otherwise)."""
    for attempt in range(attempts):
        try:
            store.finish(name, state, exit_code=code, message=message)
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(5.0)


def _notes(run: RunFolder):
    def say(text: str) -> None:
        try:
            with open(run.log_file, "a", encoding="utf-8") as log:
                log.write(f"[supervisor {time.strftime('%H:%M:%S')}] {text}\n")
        except OSError:  # a full disk must not take the supervisor down before it records how the job ended
            pass

    return say


def _run_training(job: Job, run: RunFolder, store: JobStore, say) -> int:
    spec = specs.load(run.spec_file)
    processes = max(1, len(job.gpu_ids)) if job.devices != CPU else 1
    argv = training_command(run.spec_file, processes, resume=bool(job.resume),
                            port=_free_port() if processes > 1 else None)
    # A CPU job on a GPU machine must not touch the GPUs other jobs hold.
    visible = ",".join(job.gpu_ids) if job.devices != CPU else ""
    env = _child_env({SUPERVISED_ENV: "1", "CUDA_VISIBLE_DEVICES": visible})
    if job.devices == CPU and spec.gpus and not gpu_ids():
        say("no GPU on this machine: training on the CPU")
    # How an earlier attempt ended must not pass for this one's ending. The stop file stays: it may be a stop
    # asked for while this supervisor started (resume and submit clear an old one).
    run.stopped_file.unlink(missing_ok=True)
    run.summary_file.unlink(missing_ok=True)
    say(f"starting on {'the CPU' if job.devices == CPU else 'GPU ' + job.devices}: {' '.join(argv)}")
    with open(run.log_file, "ab") as log:
        # Its own session: a stop can signal the whole tree (accelerate's ranks included) by its group id.
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    store.update(job.name, trainer_pid=process.pid, trainer_started=_started(process.pid))
    while True:
        try:
            return process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            _enforce_stop_grace(store.get(job.name), say)


def _enforce_stop_grace(job: Job, say) -> None:
    """Kill a job that was asked to stop and has not within STOP_GRACE_S (a hung collective, a stuck save)."""
    if job.stop_requested_at is None or time.time() - job.stop_requested_at < STOP_GRACE_S:
        return
    if job.trainer_pid and alive(job.trainer_pid, job.trainer_started):
        say(f"no clean stop within {STOP_GRACE_S:.0f} s of the request: killing the job's processes")
        try:
            os.killpg(job.trainer_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
