"""Several processes through the runner's own command: `accelerate launch --num_processes 2` on the CPU, the
processes talking through gloo, exactly the path a multi-GPU job takes (bench/train_speed.py --gpus 1 2 4 8
measures it on GPUs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jobs import runner, specs
from jobs.run_folder import RunFolder
from tests.factories import free_port
from tests.jobs.conftest import tiny_job, write_rows
from tests.jobs.test_training import lora_b_norms, training_lines

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_on_the_cpu_train_one_adapter_together(tiny_llama, tmp_path):
    rows = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    spec = tiny_job("sft", tiny_llama, rows, max_steps=2, eval_dataset="", gpus=2, output=str(tmp_path / "run"))
    specs.save(spec, tmp_path / "job.yaml")
    argv = runner.training_command(tmp_path / "job.yaml", spec.processes, port=free_port())
    assert argv[1:4] == ["-m", "accelerate.commands.launch", "--num_processes"] and argv[4] == "2"
    env = {**os.environ, "INFRAMIND_HOME": str(tmp_path / "workspace"), "OMP_NUM_THREADS": "1",
           "INFRAMIND_GPUS": "none", "CUDA_VISIBLE_DEVICES": ""}
    env.pop(runner.SUPERVISED_ENV, None)
    result = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    run = RunFolder(tmp_path / "run")
    summary = run.summary()
    assert summary["processes"] == 2 and summary["steps"] == 2
    # Data parallel: each step takes batch_size rows on each process, so 2 steps cover 2 x 2 x 2 of 12 rows.
    assert abs(summary["epochs"] - 8 / 12) < 1e-3, summary["epochs"]
    assert [row["step"] for row in training_lines(run)] == [1, 2], "only rank 0 writes metrics.jsonl"
    assert result.stdout.count("[metrics] step 2/2") == 1
    assert max(lora_b_norms(run.adapter)) > 0
