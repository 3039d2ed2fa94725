"""The job command line: train headless, or queue and watch jobs like the Jobs tab does.

    python -m jobs run workspace/runs/sft-iac-1/job.yaml     # train now, in this terminal (Ctrl-C stops cleanly)
    python -m jobs submit job.yaml                           # queue it; it runs in the background
    python -m jobs list                                      # every job, its state and progress
    python -m jobs status sft-iac-1                          # details, the last metrics, the summary
    python -m jobs logs sft-iac-1 -n 50 --follow             # train.log
    python -m jobs stop sft-iac-1                            # checkpoint at the end of the step, then end
    python -m jobs resume sft-iac-1                          # continue from the last checkpoint
    python -m jobs delete sft-iac-1 --yes                    # forget it and delete its run folder
    python -m jobs eval --adapter sft-iac-1                  # base and fine-tuned over the eval split, here
    python -m jobs eval --adapter sft-iac-1 --submit         # the same as a background job

`run` is the training entry point the runner starts (through `accelerate launch` for several GPUs); started by
hand, it records itself in the job store so that the Jobs tab and `list` show it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from jobs import runner, specs
from jobs.run_folder import RunFolder
from jobs.store import CPU, JobNotFound, JobStateError, JobStore
from studio import workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # `supervise` is the runner's own (added without help, so it is not listed).
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{run,submit,list,status,resume,stop,logs,delete,eval}")

    run = commands.add_parser("run", help="train the job described by a job.yaml, in this process")
    run.add_argument("job_yaml", type=Path)
    run.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    submit = commands.add_parser("submit", help="queue a job.yaml; it starts when a device is free")
    submit.add_argument("job_yaml", type=Path)
    submit.add_argument("--after", default="", help="a queued or running job that must succeed first (the SFT "
                        "run a GRPO job starts from)")
    commands.add_parser("list", help="every job with its state and progress")
    for name, text in (("status", "a job's details"), ("resume", "queue a stopped or failed job again")):
        commands.add_parser(name, help=text).add_argument("name")
    stop = commands.add_parser("stop", help="stop a job cleanly (a checkpoint, then the end)")
    stop.add_argument("name")
    stop.add_argument("--force", action="store_true", help="kill it now; steps since the last checkpoint are lost")
    logs = commands.add_parser("logs", help="the end of a job's train.log")
    logs.add_argument("name")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing while the job runs")
    delete = commands.add_parser("delete", help="forget a job and delete its run folder")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    evaluate = commands.add_parser("eval", help="evaluate a model (base, adapter or merged) over held-out rows",
                                   description="Every option is a key of the eval job's job.yaml (jobs.specs.EvalJob).")
    _add_spec_options(evaluate, specs.EvalJob)
    evaluate.add_argument("--submit", action="store_true", help="queue it as a background job instead of running "
                          "it in this terminal")
    supervise = commands.add_parser("supervise")
    supervise.add_argument("name")
    supervise.add_argument("--attach", action="store_true")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (specs.SpecError, JobNotFound, JobStateError, workspace.UnsafeName) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


# -- run -----------------------------------------------------------------------------------------------


def entry_point(spec: specs.JobSpec):
    module, function = spec.entry_point.split(":")
    return getattr(importlib.import_module(module), function)


def cmd_run(args) -> int:
    started = runner.process_start()
    spec = specs.load(args.job_yaml)
    problems = spec.missing_files()
    if problems:
        raise specs.SpecError(problems)
    run = RunFolder(spec.run_folder())
    run.path.mkdir(parents=True, exist_ok=True)
    if not run.spec_file.exists() or run.spec_file.resolve() != args.job_yaml.resolve():
        specs.save(spec, run.spec_file)  # the run keeps the spec it ran with
    store = _register_by_hand(spec, run)
    if store is not None:
        run.clear_outcome()
    if not os.environ.get(runner.SUPERVISED_ENV):
        _copy_output_to(run.log_file)
    print(f"[job] {spec.kind} job {run.name} (pid {os.getpid()}), run folder {run.path}", flush=True)
    _one_gpu_per_process(spec)
    try:
        entry_point(spec)(spec, run, resume=args.resume, started=started)
    except BaseException as error:
        traceback.print_exc()
        sys.stdout.flush()
        if store is not None:
            state, message = runner.outcome(run, 1, False)
            store.finish(run.name, state, exit_code=1, message=f"{type(error).__name__}: {error}\n{message}")
        return 1
    if store is not None:
        state, message = runner.outcome(run, 0, False)
        store.finish(run.name, state, exit_code=0, message=message)
    return 0


def _one_gpu_per_process(spec: specs.JobSpec) -> None:
    """Started by hand on a machine of several GPUs, one process trains on one GPU (the runner and `accelerate
    launch` choose the GPUs themselves): with all of them visible, Trainer would wrap the model in
    nn.DataParallel, which TRL refuses."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None or os.environ.get("LOCAL_RANK") is not None:
        return
    gpus = runner.gpu_ids() if spec.gpus else []
    if len(gpus) < 2:
        return
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0]
    if spec.gpus > 1:
        print(f"[job] one process trains on one GPU ({gpus[0]}): for {spec.gpus} GPUs use "
              "`python -m jobs submit` or `accelerate launch -m jobs run`", flush=True)


def _register_by_hand(spec: specs.JobSpec, run: RunFolder) -> JobStore | None:
    """Record a job started by hand (not by a supervisor) in the store, so the Jobs tab and `list` show it."""
    if os.environ.get(runner.SUPERVISED_ENV) or os.environ.get("RANK", "0") != "0":
        return None
    if run.path.parent != workspace.runs_dir():
        return None  # a run outside the workspace is none of the studio's business
    store = JobStore()
    job = store.find(run.name)
    if job is not None and job.state == "running" and runner.alive(job.supervisor_pid, job.supervisor_started):
        raise JobStateError(f"{run.name} is already running (pid {job.trainer_pid})")
    if job is None:
        store.add(run.name, spec.kind, gpus=spec.gpus, state="running")
    pid, started = os.getpid(), runner._started(os.getpid())
    gpus = runner.gpu_ids()
    devices = ",".join(gpus[: max(1, spec.gpus)]) if gpus and spec.gpus else CPU
    store.update(run.name, state="running", devices=devices, started_at=time.time(), ended_at=None,
                 supervisor_pid=pid, supervisor_started=started, trainer_pid=pid, trainer_started=started,
                 stop_requested_at=None, exit_code=None, message="started by hand")
    return store


class _Tee:
    """Writes to the terminal and to train.log: a job started by hand keeps its log like a queued one."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text):
        self.log.write(text)
        self.log.flush()
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _copy_output_to(path: Path) -> None:
    log = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - open for the process's life
    sys.stdout = _Tee(sys.stdout, log)
    sys.stderr = _Tee(sys.stderr, log)


# -- eval ----------------------------------------------------------------------------------------------


def _add_spec_options(parser: argparse.ArgumentParser, cls) -> None:
    """One --option per field of the spec `cls`, with the field's default and help text."""
    for item in dataclasses.fields(cls):
        flag = "--" + item.name.replace("_", "-")
        default = item.default
        text = item.metadata.get("help", "")
        if isinstance(default, bool):
            parser.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=default,
                                help=text)
        else:
            parser.add_argument(flag, dest=item.name, type=type(default), default=default,
                                help=f"{text} (default: {default!r})")


def cmd_eval(args) -> int:
    """Write the eval job's job.yaml, then run it here (as `run` does) or queue it (as `submit` does)."""
    values = {item.name: getattr(args, item.name) for item in dataclasses.fields(specs.EvalJob)}
    spec = specs.EvalJob(**values).with_paths_resolved()
    if args.submit:
        job = runner.submit(spec)
        print(f"{job.name}: {job.state}" + (f" on {job.devices}" if job.devices else "")
              + f"; follow it with: python -m jobs logs {job.name} -f")
        return 0
    problems = spec.missing_files()
    if problems:
        raise specs.SpecError(problems)
    run = RunFolder(spec.run_folder())
    if run.spec_file.exists() or run.metrics_file.exists():
        raise JobStateError(f"a run named {run.name!r} exists already: pick another --output or delete it")
    run.path.mkdir(parents=True, exist_ok=True)
    specs.save(spec, run.spec_file)
    return cmd_run(argparse.Namespace(job_yaml=run.spec_file, resume=False))


# -- the queue -----------------------------------------------------------------------------------------


def cmd_submit(args) -> int:
    job = runner.submit(specs.load(args.job_yaml), after=args.after)
    print(f"{job.name}: {job.state}" + (f" on {job.devices}" if job.devices else "")
          + (f", after {job.after}" if job.after else ""))
    return 0


def progress(name: str) -> str:
    last = RunFolder.named(name).last_metrics()
    if not last or not last.get("total_steps"):
        return "-"
    return f"{last['step']}/{last['total_steps']}"


def cmd_list(args) -> int:
    store = JobStore()
    runner.reconcile(store)
    rows = [("NAME", "KIND", "STATE", "STEP", "DEVICE", "STARTED", "NOTE")]
    for job in store.list():
        started = time.strftime("%m-%d %H:%M", time.localtime(job.started_at)) if job.started_at else "-"
        note = (job.message or "").splitlines()[0] if job.message else ""
        rows.append((job.name, job.kind, job.state, progress(job.name), job.devices or "-", started, note[:60]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def cmd_status(args) -> int:
    store = JobStore()
    runner.reconcile(store)
    job = store.get(args.name)
    run = RunFolder.named(job.name)
    print(f"{job.name}: {job.kind}, {job.state}, step {progress(job.name)}, device {job.devices or '-'}")
    if job.message:
        print(job.message)
    last = run.last_checkpoint()
    print(f"run folder: {run.path}\nlast checkpoint: {last.name if last else 'none'}")
    metrics = run.last_metrics()
    if metrics:
        print("last metrics: " + json.dumps(metrics))
    summary = run.summary()
    if summary:
        print("summary: " + json.dumps(summary, indent=1))
    return 0


def cmd_stop(args) -> int:
    job = runner.stop(args.name, force=args.force)
    print(f"{job.name}: {'stop requested' if job.state == 'running' else job.state}")
    return 0


def cmd_resume(args) -> int:
    job = runner.resume(args.name)
    print(f"{job.name}: {job.state}")
    return 0


def cmd_logs(args) -> int:
    store = JobStore()
    run = RunFolder.named(store.get(args.name).name)
    print(run.log_tail(args.lines))
    if not args.follow:
        return 0
    offset = run.log_file.stat().st_size if run.log_file.exists() else 0
    while True:
        if run.log_file.exists() and run.log_file.stat().st_size > offset:
            with run.log_file.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        elif store.get(args.name).state not in ("queued", "running"):
            return 0
        time.sleep(1.0)


def cmd_delete(args) -> int:
    if not args.yes:
        answer = input(f"Delete {args.name} and its run folder (checkpoints, adapter)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return 1
    runner.delete(args.name)
    print(f"{args.name}: deleted")
    return 0


def cmd_supervise(args) -> int:
    runner.supervise(args.name, attach=args.attach)
    return 0


COMMANDS = {
    "run": cmd_run, "submit": cmd_submit, "list": cmd_list, "status": cmd_status, "stop": cmd_stop,
    "resume": cmd_resume, "logs": cmd_logs, "delete": cmd_delete, "supervise": cmd_supervise,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
