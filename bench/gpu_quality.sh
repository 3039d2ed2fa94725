#!/usr/bin/env bash
# The quality figures of issues 13, 14, 15 and 17 in one run on one GPU, every model evaluated on the 121 eval rows
# (greedy, at most 512 new tokens, unguided and guided by the schemas) through the studio's own entry points:
# bench/sweeps/gpu.yaml, the base model, the gpu recipe's SFT (seed + generated rows), SFT on the seed rows only at
# the same budget, the gpu recipe's GRPO from that SFT, and DPO on pairs mined from it at GRPO's budget.
#
#     bash bench/gpu_quality.sh OUT [SECONDS]      # SECONDS: stop whatever is still running after that long
#     QUALITY_SMOKE=<tiny model folder> bash bench/gpu_quality.sh OUT   # the same run in minutes on a CPU
#                                                    # (recipe_sweep --smoke: one step per phase, figures meaningless)
#     QUALITY_CPU_BUDGET=1 bash bench/gpu_quality.sh OUT   # also dpo.yaml and synth.yaml's cpu-* rows (the CPU
#                                                    # recipe's budget), after the rest
#
# One process at a time: processes that share a GPU take turns on it, and on 2026-12-03 (one H200, two or three
# processes) `generate` decoded each evaluation at 95-180 new tokens/s, 4-5 minutes each. Evaluations now decode on
# the studio's decoder (studio.decoder): 12-25 s each on 2026-12-04. Each variant's figures land in
# OUT/<wave>/<variant>.json as soon as it is evaluated, so a run cut short by SECONDS keeps what finished, and run
# again with the same OUT it does not train again a phase that finished (--reuse).
set -u
out=$(realpath -m "${1:-quality-results}")
limit=${2:-3600}
work=${QUALITY_WORK:-$out/runs}   # run folders (adapters): QUALITY_WORK keeps them out of OUT
mkdir -p "$out" "$work"
cd "$(dirname "$0")/.."
started=$(date +%s)
left() { echo $(( limit - ($(date +%s) - started) )); }

smoke=${QUALITY_SMOKE:+--smoke $QUALITY_SMOKE}
rows=10000
if [ -n "$smoke" ]; then rows=300; fi
timeout -k 10 300 python -c "from studio import models; models.resolve(models.EMBEDDED)" > "$out/convert.log" 2>&1 ||
  exit 1
timeout -k 10 "$(left)" python -m studio.synth --rows $rows --seed 0 --out data/generated.jsonl \
  > "$out/synth-build.log" 2>&1 || exit 1
echo "[quality] model and generated rows ready after $(( $(date +%s) - started )) s"

sweep() {  # sweep FILE OUT_SUBFOLDER ARGS...
  local file=$1 sub=$2; shift 2
  # -k: a sweep told to stop while its pool winds down is killed 10 s later, workers and jobs with it.
  timeout -k 10 "$(left)" python bench/recipe_sweep.py "bench/sweeps/$file" --gpus 1 --eval-batch 128 --work "$work" \
    --out "$out/$sub" --reuse $smoke "$@" > "$out/$sub.log" 2>&1
  echo "[quality] $sub ended (rc $?) after $(( $(date +%s) - started )) s"
}

sweep gpu.yaml first --only base sft --parallel 1 --guided both
sweep gpu.yaml second --only sft+grpo sft+dpo --parallel 1 --guided both
sweep gpu.yaml seed --only seed-sft --parallel 1
if [ -n "${QUALITY_CPU_BUDGET:-}" ]; then
  sweep dpo.yaml cpu-budget --only sft sft+grpo sft+dpo --parallel 1
  sweep synth.yaml synth --only cpu-seed cpu-mix50 --parallel 1
fi
for table in "$out"/*/table.md; do echo "== $table"; cat "$table"; done
