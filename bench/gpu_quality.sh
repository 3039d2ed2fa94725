#!/usr/bin/env bash
# The quality figures of issues 12, 13, 14 and 17 in one run on one GPU, every model evaluated on the 121 eval rows
# (greedy, at most 512 new tokens) through the studio's own entry points:
#   - bench/sweeps/dpo.yaml: the base model, the default recipe's SFT phase, SFT+GRPO and SFT+DPO on mined pairs at
#     the recipe's GRPO budget; each evaluated unguided and guided by the schemas (studio.guided);
#   - bench/sweeps/synth.yaml: SFT on the seed rows against seed + generated rows (50% mix), at the CPU recipe's
#     budget and at a GPU budget, unguided.
#
#     bash bench/gpu_quality.sh OUT [SECONDS]      # SECONDS: stop whatever is still running after that long
#     QUALITY_SMOKE=<tiny model folder> bash bench/gpu_quality.sh OUT   # the same run in minutes on a CPU
#                                                    # (recipe_sweep --smoke: one step per phase, figures meaningless)
#
# The three sweeps run side by side on the one GPU, two variants each at a time; each variant's figures land in
# OUT/<sweep>/<variant>.json as soon as it is evaluated, so a run cut short by SECONDS keeps what finished. The GRPO
# and DPO variants start as soon as the SFT adapter they build on is written, not after the other first-wave
# evaluations. On 2026-12-03 (one H200, up to seven processes at once) a 135M model's evaluation through
# `generate` ran at ~140 new tokens/s at batch 121 and took ~5 minutes, so the whole run needs about 15 minutes;
# cut at 500-530 s, it kept the first wave's figures (bench/sweeps/results/quality-h200.md).
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
# Convert the embedded model into the workspace once, before several processes want it.
timeout -k 10 300 python -c "from studio import models; models.resolve(models.EMBEDDED)" > "$out/convert.log" 2>&1 ||
  exit 1
echo "[quality] model ready after $(( $(date +%s) - started )) s"

sweep() {  # sweep FILE OUT_SUBFOLDER ARGS...
  local file=$1 sub=$2; shift 2
  # -k: a sweep told to stop while its pool winds down is killed 10 s later, workers and jobs with it.
  timeout -k 10 "$(left)" python bench/recipe_sweep.py "bench/sweeps/$file" --gpus 1 --eval-batch 128 --work "$work" \
    --out "$out/$sub" $smoke "$@" > "$out/$sub.log" 2>&1
  echo "[quality] $sub ended (rc $?) after $(( $(date +%s) - started )) s"
}

# QUALITY_PASS_AT=4: also pass@4 for base and SFT (4 sampled answers per row: the first wave then takes ~3x longer).
sweep dpo.yaml first --only base sft --parallel 2 --guided both --pass-at "${QUALITY_PASS_AT:-0}" &
(
  while [ ! -f "$work/sft-sft/adapter/adapter_config.json" ] || [ ! -f "$work/sft-sft/summary.json" ]; do
    sleep 2
    [ "$(left)" -gt 0 ] || exit 0
  done
  sweep dpo.yaml preference --only sft+grpo sft+dpo --parallel 2 --guided both
) &
(
  timeout -k 10 "$(left)" python -m studio.synth --rows $rows --seed 0 --out data/generated.jsonl \
    > "$out/synth-build.log" 2>&1 &&
    sweep synth.yaml synth --only ${QUALITY_SYNTH:-cpu-seed cpu-mix50 gpu-seed gpu-mix50} --parallel 2
) &
wait
for table in "$out"/*/table.md; do echo "== $table"; cat "$table"; done
