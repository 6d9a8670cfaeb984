#!/usr/bin/env bash
# Trains the bundled GPN model (assets/models/gpn-umaydis) on one CUDA GPU.
#
# A device command may run 10 minutes, so training runs as one background process that
# outlives the command, and each phase waits on it:
#   bench/device_train_mlm.sh start SECONDS   # start training, wait SECONDS, copy a fallback
#   bench/device_train_mlm.sh finish SECONDS  # wait for the end (at most SECONDS), evaluate, export
# If the machine was replaced between phases, `finish` continues from the fallback
# weights the first phase copied back (bench/mlm-fallback/, optimiser state restarts).
# Python packages missing on the GPU machine travel as wheels in .whl/.
set -euo pipefail
phase=$1
wait_s=$2
run_dir=/root/mlm-run
out=${OUT:-/tmp/out}
mkdir -p "$run_dir" "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null || true
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1

train_args=(--output-dir "$run_dir" --hidden-size 256 --layers 16 --batch-size 256 --learning-rate 1.5e-3
            --warmup-steps 500 --max-steps 20000 --time-limit "${TRAIN_SECONDS:-840}" --eval-every 1000
            --eval-windows 1024 --checkpoint-every 1000 --compile --seed 0)

running() { [ -f "$run_dir/pid" ] && kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; }

launch() {
  setsid nohup python3 -m glm_core.cli train-mlm "${train_args[@]}" "$@" >>"$run_dir/log" 2>&1 &
  echo $! >"$run_dir/pid"
}

wait_for_training() {
  local deadline=$((SECONDS + $1))
  while running && [ $SECONDS -lt $deadline ]; do sleep 10; done
}

case $phase in
  start)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import torch, transformers, gpn; print('torch', torch.__version__, 'transformers', transformers.__version__)"
    running || launch
    wait_for_training "$wait_s"
    grep -v "Writing model" "$run_dir/log" | tail -40
    if [ -d "$run_dir/latest" ]; then
      tar -C "$run_dir" -cf - latest | split -b 15m - "$out/fallback.tar."
    fi
    ;;
  finish)
    if ! running && [ ! -f "$run_dir/checkpoint.pt" ]; then
      echo "no training state on this machine: continuing from bench/mlm-fallback"
      mkdir -p "$run_dir" && cat bench/mlm-fallback/fallback.tar.* | tar -C "$run_dir" -xf - && mv "$run_dir/latest" "$run_dir/resume"
      TRAIN_SECONDS=$((wait_s - 120)) launch --resume-weights "$run_dir/resume"
    fi
    wait_for_training "$wait_s"
    grep -v "Writing model" "$run_dir/log" | tail -30
    python3 -m glm_core.cli eval-mlm --model "$run_dir/best" --out "$out/heldout_metrics.json"
    python3 -c "
from pathlib import Path
from glm_core.training import export_model
export_model(Path('$run_dir/best'), Path('$run_dir/export'))
"
    tar -C "$run_dir/export" -cf - . | split -b 15m - "$out/gpn-umaydis.tar."
    grep -v "Writing model" "$run_dir/log" >"$out/train.log"
    ;;
esac
