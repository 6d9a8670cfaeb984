#!/usr/bin/env bash
# Trains the bundled GPN model (assets/models/gpn-umaydis) on CUDA GPUs.
#
# A device command may run 10 minutes, so training runs as background processes that
# outlive the command, and each phase waits on them:
#   bench/device_train_mlm.sh sweep SECONDS   # short runs of candidate recipes side by side
#   bench/device_train_mlm.sh start SECONDS   # train (continuing the sweep's best run, if any),
#                                             # wait, copy a fallback
#   bench/device_train_mlm.sh continue SECONDS  # like start, but continue the weights in
#                                             # CONTINUE_FROM (default: the bundled model), trained
#                                             # CONTINUE_STEP steps so far, with a new cosine from
#                                             # CONTINUE_LR, CONTINUE_BATCH windows a step (default
#                                             # 256) and dropout CONTINUE_DROPOUT (default 0);
#                                             # unless GPUS > 1, a second GPU meanwhile repeats the
#                                             # reference probe's budget (3,700 steps from scratch)
#                                             # and evaluates it
#   bench/device_train_mlm.sh finish SECONDS  # wait for the end, export, and run the model-card
#                                             # evaluation (bench/eval_mlm.py)
#   bench/device_train_mlm.sh anneal SECONDS  # after finish, on the same machine: one more cosine of
#                                             # SECONDS from ANNEAL_LR (optimiser state kept), then
#                                             # export and the model-card evaluation
# start, continue and finish wait on training for at most SECONDS from the phase's start, so
# each phase fits in one device command.
# The sweep runs every recipe for the same wall time, spread over the visible GPUs, and
# picks the one with the lowest held-out bits/base; `start` then continues that run with
# the same recipe for TRAIN_SECONDS. Without a sweep, `start` trains the default recipe.
# If the machine was replaced between phases, `finish` continues from the fallback
# weights the first phase copied back (bench/mlm-fallback/, optimiser state restarts).
# GPUS=N (start, continue, finish) trains data-parallel on N GPUs through torchrun: the
# recipe's batch is split across them, so a step takes about 1/N of the time.
# Python packages missing on the GPU machine travel as wheels in .whl/.
set -euo pipefail
phase=$1
wait_s=$2
run_dir=/root/mlm-run
sweep_dir=/root/mlm-sweep
out=${OUT:-/tmp/out}
mkdir -p "$run_dir" "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null || true
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1

default_recipe="--hidden-size 256 --layers 16 --batch-size 256 --learning-rate 1.5e-3"
# name and arguments of each candidate; all within the 40 MB (fp16) limit of the bundled model
recipes=(
  "bert-80-10-10|$default_recipe"
  "mask-only|$default_recipe --mask-token-fraction 1.0"
  "lr-3e-3|--hidden-size 256 --layers 16 --batch-size 256 --learning-rate 3e-3"
  "lr-6e-4|--hidden-size 256 --layers 16 --batch-size 256 --learning-rate 6e-4"
  "batch-128|--hidden-size 256 --layers 16 --batch-size 128 --learning-rate 1e-3"
  "wide-384x8|--hidden-size 384 --layers 8 --batch-size 256 --learning-rate 1.5e-3"
)
common_args=(--max-steps 1000000 --eval-windows 1024 --checkpoint-every 1000 --compile --seed 0)

running() { [ -f "$run_dir/pid" ] && kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; }

recipe_args() {
  if [ -f "$run_dir/recipe.args" ]; then cat "$run_dir/recipe.args"; else echo "$default_recipe"; fi
}

launch() {
  local runner=(python3 -m glm_core.cli)
  if [ "${GPUS:-1}" -gt 1 ]; then
    runner=(python3 -m torch.distributed.run --standalone --nproc_per_node "$GPUS" -m glm_core.cli)
  fi
  # shellcheck disable=SC2046  # the recipe is a list of arguments
  setsid nohup "${runner[@]}" train-mlm --output-dir "$run_dir" $(recipe_args) "${common_args[@]}" \
    --warmup-steps 500 --eval-every 1000 --time-limit "${TRAIN_SECONDS:-840}" "$@" >>"$run_dir/log" 2>&1 &
  echo $! >"$run_dir/pid"
}

# A data-parallel launch that hangs (e.g. in NCCL set-up) would otherwise hold the machine
# for the whole phase: stop it if no training step is logged within $1 seconds.
started_or_stop() {
  local deadline=$((SECONDS + $1))
  while running && ! grep -q "steps/s" "$run_dir/log" && [ $SECONDS -lt $deadline ]; do sleep 5; done
  if ! grep -q "steps/s" "$run_dir/log"; then
    tail -40 "$run_dir/log"
    echo "no training step logged within $1 s; stopping"
    kill -- -"$(cat "$run_dir/pid")" 2>/dev/null || true
    exit 1
  fi
}

# waits until training ends or the phase has run $1 seconds, whichever comes first, so a
# phase's length stays within the device's limit on one command
wait_for_training() {
  while running && [ $SECONDS -lt "$1" ]; do sleep 10; done
}

export_best() {
  python3 -m bench.export_mlm "$run_dir/best" "$run_dir/gpn-umaydis"
  tar -C "$run_dir/gpn-umaydis" -cf - . | split -b 15m - "$out/gpn-umaydis.tar."
}

case $phase in
  sweep)
    nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
    gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
    mkdir -p "$sweep_dir"
    i=0
    for recipe in "${recipes[@]}"; do
      name=${recipe%%|*}
      # shellcheck disable=SC2086
      CUDA_VISIBLE_DEVICES=$((i % gpus)) python3 -m glm_core.cli train-mlm --output-dir "$sweep_dir/$name" \
        ${recipe#*|} "${common_args[@]}" --warmup-steps 200 --eval-every 400 --time-limit "$wait_s" \
        >"$sweep_dir/$name.log" 2>&1 &
      i=$((i + 1))
    done
    wait
    printf "recipe\tsteps\taccuracy\tbits_per_base\targuments\n" >"$out/sweep.tsv"
    for recipe in "${recipes[@]}"; do
      name=${recipe%%|*}
      grep "held-out accuracy" "$sweep_dir/$name.log" | sed "s/^/$name: /"
      grep "^step .*held-out accuracy" "$sweep_dir/$name.log" | tail -1 |
        sed -E "s/^step ([0-9]+): held-out accuracy ([0-9.]+), ([0-9.]+) bits.*/$name\t\1\t\2\t\3\t${recipe#*|}/" \
        >>"$out/sweep.tsv"
    done
    best=$(tail -n +2 "$out/sweep.tsv" | sort -t$'\t' -k4,4g | head -1)
    echo "best recipe: $best"
    echo "$best" | cut -f5 >"$run_dir/recipe.args"
    echo "$sweep_dir/$(echo "$best" | cut -f1)/latest" >"$run_dir/continue_from"
    cp "$sweep_dir"/*.log "$out/" 2>/dev/null || true
    ;;
  start)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import torch, transformers, gpn; print('torch', torch.__version__, 'transformers', transformers.__version__)"
    echo "recipe: $(recipe_args)"
    if ! running; then
      if [ -f "$run_dir/continue_from" ]; then launch --resume-weights "$(cat "$run_dir/continue_from")"; else launch; fi
    fi
    wait_for_training "$wait_s"
    grep -v "Writing model" "$run_dir/log" | tail -40
    if [ -d "$run_dir/latest" ]; then
      cp "$run_dir/recipe.args" "$run_dir/latest/" 2>/dev/null || true
      tar -C "$run_dir" -cf - latest | split -b 15m - "$out/fallback.tar."
    fi
    ;;
  continue)
    nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
    if ! running; then
      weights=${CONTINUE_FROM:-assets/models/gpn-umaydis}
      mkdir -p "$run_dir/resume"
      cp "$weights"/*.json "$weights/model.safetensors" "$run_dir/resume/"
      # the bundled model's card gives the step it was kept at; the log counts on from there
      echo "{\"step\": ${CONTINUE_STEP:-29758}, \"best_loss\": Infinity, \"history\": []}" \
        >"$run_dir/resume/trainer_state.json"
      echo "--hidden-size 256 --layers 16 --batch-size ${CONTINUE_BATCH:-256}" \
        "--learning-rate ${CONTINUE_LR:-7.5e-4} --dropout ${CONTINUE_DROPOUT:-0}" >"$run_dir/recipe.args"
      if [ "${GPUS:-1}" -gt 1 ]; then
        launch --resume-weights "$run_dir/resume"
        started_or_stop 300
      else
        CUDA_VISIBLE_DEVICES=0 launch --resume-weights "$run_dir/resume"
      fi
    fi
    probe_pid=
    if [ "${GPUS:-1}" -eq 1 ] && [ "$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)" -gt 1 ]; then
      (
        # shellcheck disable=SC2086
        CUDA_VISIBLE_DEVICES=1 python3 -m glm_core.cli train-mlm --output-dir /root/mlm-probe $default_recipe \
          --max-steps 3700 --warmup-steps 500 --eval-every 1000 --checkpoint-every 1000 --eval-windows 1024 \
          --compile --seed 0 >"$out/probe3700.train.log" 2>&1
        CUDA_VISIBLE_DEVICES=1 python3 -m bench.eval_mlm --model /root/mlm-probe/latest \
          --out "$out/probe3700_eval.json" >"$out/probe3700_eval.log" 2>&1
      ) &
      probe_pid=$!
    fi
    wait_for_training "$wait_s"
    [ -z "$probe_pid" ] || wait "$probe_pid" || echo "reference-budget run failed; see its logs"
    grep -v "Writing model" "$run_dir/log" | tail -20
    if [ -n "$probe_pid" ]; then grep "held-out\|accuracy" "$out/probe3700.train.log" "$out/probe3700_eval.log" | head -20; fi
    if [ -d "$run_dir/latest" ]; then
      cp "$run_dir/recipe.args" "$run_dir/latest/"
      tar -C "$run_dir" -cf - latest | split -b 15m - "$out/fallback.tar."
    fi
    ;;
  finish)
    if ! running && [ ! -d "$run_dir/checkpoint" ] && [ ! -f "$run_dir/checkpoint.pt" ]; then
      echo "no training state on this machine: continuing from bench/mlm-fallback"
      mkdir -p "$run_dir" && cat bench/mlm-fallback/fallback.tar.* | tar -C "$run_dir" -xf - && mv "$run_dir/latest" "$run_dir/resume"
      cp "$run_dir/resume/recipe.args" "$run_dir/" 2>/dev/null || true
      TRAIN_SECONDS=$((wait_s - 120)) launch --resume-weights "$run_dir/resume"
    fi
    wait_for_training "$wait_s"
    grep -v "Writing model" "$run_dir/log" | tail -30
    grep -v "Writing model" "$run_dir/log" >"$out/train.log"
    export_best
    # the model-card evaluation (every protocol, biology, k-mer rows) on the exported weights
    python3 -m bench.eval_mlm --model "$run_dir/gpn-umaydis" --out "$out/eval_mlm.json" 2>&1 |
      grep -v "Loading weights\|dilation"
    ;;
  anneal)
    python3 -m glm_core.cli train-mlm --output-dir "$run_dir" --hidden-size 256 --layers 16 --batch-size 256 \
      --learning-rate "${ANNEAL_LR:-2.5e-4}" "${common_args[@]}" --warmup-steps 500 --eval-every 1000 \
      --time-limit "$wait_s" 2>&1 | grep -v "Writing model" | tee -a "$run_dir/log" | grep "held-out\|resumed\|limit"
    export_best
    python3 -m bench.eval_mlm --model "$run_dir/gpn-umaydis" --out "$out/eval_mlm.json" 2>&1 |
      grep -v "Loading weights\|dilation"
    grep -v "Writing model" "$run_dir/log" >"$out/train.log"
    ;;
esac
