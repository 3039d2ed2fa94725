"""The job system: typed specs, the SQLite job store, the runner (spawn, stop, resume, queue), the training entry
points and the metrics they write.

    python -m jobs run workspace/runs/sft-iac-1/job.yaml     # train headless (what the runner starts)
    python -m jobs list | status | stop | resume | logs      # watch and steer queued and running jobs

    >>> from jobs import runner, specs
    >>> runner.submit(specs.SFTJob(output="sft-iac-1", max_steps=200))

| module | holds |
| --- | --- |
| `specs` | `SFTJob`, `GRPOJob`, `DPOJob` (dataclasses validated on construction), job.yaml reading and writing |
| `store` | `JobStore`: the jobs table (SQLite, WAL) and the claim of free devices |
| `runner` | submit, schedule, the per-job supervisor, stop, resume, delete, reconcile |
| `run_folder` | `RunFolder`: the files of a run (job.yaml, metrics.jsonl, train.log, checkpoints, adapter) |
| `training` | what the SFT, GRPO and DPO entry points share: loading for LoRA, TRL arguments, the stop protocol |
| `sft`, `grpo`, `dpo` | the entry points, one per job kind |
| `metrics` | the callback that writes metrics.jsonl (tokens/s, peak memory, MFU, ETA, rewards) |
| `progress` | reading metrics.jsonl back: progress, ETA, the warning when GRPO's groups teach nothing |
| `estimate` | the memory a job will need, before it is launched |
| `recipe` | the default recipe (`recipes/default-*.yaml`): its two phases, queued with GRPO after SFT |

Importing `jobs`, `specs`, `store`, `runner`, `run_folder`, `progress`, `estimate` or `recipe` loads no torch:
the UI and the supervisors stay light.
"""
