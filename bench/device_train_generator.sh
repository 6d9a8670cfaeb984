#!/usr/bin/env bash
# Trains the bundled promoter generator (assets/models/promoter-gen-umaydis) on one CUDA GPU.
#
# Training runs in the background so it can share a machine with other work:
#   bench/device_train_generator.sh start            # launch (GEN_SECONDS of training, default 540)
#   bench/device_train_generator.sh finish SECONDS   # wait for it (at most SECONDS), copy the model to $OUT
# Python packages missing on the GPU machine travel as wheels in .whl/.
set -euo pipefail
phase=$1
run_dir=/root/gen-run
out=${OUT:-/tmp/out}
mkdir -p "$run_dir" "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null || true
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1

running() { [ -f "$run_dir/pid" ] && kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; }

case $phase in
  start)
    running && exit 0
    setsid nohup python3 -m glm_core.cli train-generator --output-dir "$run_dir/promoter-gen-umaydis" \
      --hidden-size 256 --layers 4 --heads 8 --batch-size 64 --learning-rate 1e-3 --finetune-learning-rate 5e-4 \
      --unconditional-fraction 0.1 --pretrain-steps 1000000 --finetune-steps 1000000 --eval-every 250 \
      --time-limit "${GEN_SECONDS:-540}" --seed 0 --device cuda >>"$run_dir/log" 2>&1 &
    echo $! >"$run_dir/pid"
    ;;
  finish)
    deadline=$((SECONDS + $2))
    while running && [ $SECONDS -lt $deadline ]; do sleep 5; done
    grep -v "Writing model" "$run_dir/log" | tail -25
    cp "$run_dir/log" "$out/generator-train.log"
    [ -f "$run_dir/promoter-gen-umaydis/model.safetensors" ] &&
      tar -C "$run_dir/promoter-gen-umaydis" -cf "$out/promoter-gen-umaydis.tar" .
    ;;
esac
