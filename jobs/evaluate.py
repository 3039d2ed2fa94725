"""The eval job: a model (base, adapter or merged export) over held-out rows, every answer checked.

    python -m jobs eval --adapter sft-iac-1                  # base and fine-tuned over the eval split, here
    python -m jobs eval --adapter sft-iac-1 --submit         # the same as a background job (the Evaluate tab's way)
    python -m jobs eval --adapter sft-iac-1 --pass-at-k 4    # also 4 sampled answers per row (0.7): pass@1..4
    python -m jobs run workspace/runs/eval-sft-iac-1/job.yaml   # what the runner starts

Reads top to bottom: set up, generate and check (`studio.evaluation.evaluate`), save, clean up. Progress goes to
metrics.jsonl one line per batch (`step` = answers done of `total_steps`, with the ETA), so the Jobs tab shows
a bar. The results go with the run whose adapter was evaluated (`runs/<run>/eval/`), or, for a model that
belongs to no run, to `evaluations/<this job's name>/`; the job's own summary.json says where.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from jobs.run_folder import RunFolder
from jobs.specs import EvalJob
from jobs.training import StopRequest
from studio import evaluation, generation, workspace


def results_folder(spec: EvalJob) -> Path:
    """Where the results of `spec` go: with the evaluated adapter's run, else under evaluations/."""
    adapter = spec.adapter_folder()
    run = evaluation.run_of(adapter) if adapter else None
    return evaluation.results_folder(run=run, name=None if run else spec.run_name)


def run(spec: EvalJob, run: RunFolder, resume: bool = False, started: float | None = None) -> str:
    """Evaluate `spec` and write its results; returns "succeeded" or "stopped". `resume` starts over: an
    evaluation keeps no state worth resuming. `started` as for the training jobs (jobs.sft.train)."""
    started = time.monotonic() if started is None else started
    # A stop is heard between two batches of answers; an evaluation keeps no checkpoint (a rerun starts over).
    stop = StopRequest.install(run, after="the batch of answers in progress (an evaluation keeps no checkpoint)")

    # -- set up --------------------------------------------------------------------------------------------
    import torch

    if spec.threads:
        torch.set_num_threads(spec.threads)
    rows = evaluation.load_rows(spec.dataset)[: spec.limit or None]
    adapter = spec.adapter_folder()
    contenders = evaluation.candidates(spec.model, adapter=str(adapter) if adapter else None,
                                       merged=spec.merged or None, with_base=spec.with_base)
    settings = generation.Settings(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature,
                                   top_p=spec.top_p, seed=spec.seed, guided=spec.guided)
    judge = None
    if spec.judge_url:
        from studio.judge import Judge

        judge = Judge(spec.judge_url, model=spec.judge_model)
        judge.check()  # fail now, with the URL, rather than after the generation
    folder = results_folder(spec)
    total = len(rows) * (spec.samples + spec.pass_at_k) * len(contenders)
    sampled = f" and {spec.pass_at_k} sampled at {spec.pass_at_k_temperature} for pass@k" if spec.pass_at_k else ""
    print(f"[job] eval: {len(rows)} rows of {spec.dataset}, {spec.samples} answer(s) each{sampled}, "
          f"{' and '.join(c.label for c in contenders)}; {torch.get_num_threads()} CPU threads; "
          f"results in {folder}", flush=True)

    # -- generate and check ----------------------------------------------------------------------------------
    run.metrics_file.unlink(missing_ok=True)  # a rerun's bar starts from zero
    # A first line before the model loads, so the Jobs and Evaluate tabs show 0 of N at once, not "-".
    with run.metrics_file.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"step": 0, "total_steps": total, "model": f"loading {contenders[0].label}",
                                 "elapsed_s": round(time.monotonic() - started, 1), "eta_s": None}) + "\n")
    finished_models: list[int] = []
    answered = [0]  # answers done so far, all models together (what a stop reports)

    def progress(p: evaluation.Progress) -> None:
        done = answered[0] = sum(finished_models) + p.done
        elapsed = time.monotonic() - started
        line = {"step": done, "total_steps": total, "model": p.label, "elapsed_s": round(elapsed, 1),
                "eta_s": round(elapsed / done * (total - done), 1) if done else None,
                "tokens_per_s": round(p.new_tokens / p.seconds, 2) if p.seconds else None}
        with run.metrics_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        print(f"[job] {p}", flush=True)
        if p.done == p.total:
            finished_models.append(p.total)

    try:
        results = evaluation.evaluate(rows, contenders, settings, samples=spec.samples, batch_size=spec.batch_size,
                                      split=Path(spec.dataset).stem, judge=judge, on_progress=progress,
                                      should_stop=lambda: stop.requested, pass_at=spec.pass_at_k,
                                      pass_at_temperature=spec.pass_at_k_temperature, answer_engine=spec.engine)
    except evaluation.StopRequested as error:
        print(f"[job] {error}", flush=True)
        workspace.atomic_write_text(run.stopped_file, json.dumps({"step": answered[0], "checkpoint": None}))
        return "stopped"

    # -- save ----------------------------------------------------------------------------------------------
    results.summary["dataset"] = spec.dataset
    evaluation.write(results, folder)
    print(evaluation.table(results.summary).to_string(index=False), flush=True)
    models = results.summary["models"]
    summary = {"kind": "eval", "results": str(folder), "rows": len(rows),
               "pass": {entry["label"]: entry["rates"]["pass"] for entry in models},
               "loop": {entry["label"]: entry["rates"].get("loop", 0.0) for entry in models},
               "failures": {entry["label"]: entry.get("failures", {}) for entry in models},
               "steps": total, "seconds": round(time.monotonic() - started, 1)}
    if spec.pass_at_k:
        summary["pass_at_k"] = {entry["label"]: entry["sampled"]["pass_at_k"] for entry in models}
    workspace.atomic_write_text(run.summary_file, json.dumps(summary, indent=1))
    print(f"[job] done in {summary['seconds']:.0f} s; results in {folder}", flush=True)
    return "succeeded"
