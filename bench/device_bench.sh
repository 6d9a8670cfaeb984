#!/usr/bin/env bash
# Scoring speed on one CUDA GPU, in one call: masked engine eager and compiled, the one-pass
# model, the reference path, the 200-bp logo with each, the whole genome with the one-pass model
# (bench/bench_scoring.py -> $OUT/bench_scoring.json). EVAL=1 also runs the masked LM's model-card
# evaluations (bench/eval_mlm.py, bench/eval_embeddings.py).
# MODEL / ONEPASS (default: the bundled folders) pick other save_pretrained folders.
# Python packages missing on the GPU machine travel as wheels in .whl/ (pandas only if absent).
# Run from the project root (or a copy holding assets/ and .whl/ one or two levels up).
set -euo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
if [ -d .whl ]; then wheel_dir=.whl; else wheel_dir=../../.whl; fi
if [ ! -e assets ] && [ -d ../../assets ]; then ln -s ../../assets assets; fi
if ! python3 -c "import gpn, pyfaidx, Bio" 2>/dev/null; then
  wheels=("$wheel_dir"/gpn-*.whl "$wheel_dir"/pyfaidx-*.whl "$wheel_dir"/biopython-*.whl)
  python3 -c "import pandas" 2>/dev/null || wheels+=("$wheel_dir"/pandas-*.whl)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "${wheels[@]}"
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
model=${MODEL:-assets/models/gpn-umaydis}
onepass=${ONEPASS:-assets/models/gpn-umaydis-onepass}
log=$out/device_bench.log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$log"
python3 -c "import torch, transformers, triton; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'triton', triton.__version__)" 2>&1 | tee -a "$log"
timeout "${BENCH_S:-330}" python3 -m bench.bench_scoring --model "$model" --onepass-model "$onepass" \
  --out "$out/bench_scoring.json" ${BENCH_ARGS:-} 2>&1 | grep -v "Loading weights\|dilation" | tee -a "$log"
if [ "${EVAL:-0}" = 1 ]; then
  timeout 600 python3 -m bench.eval_mlm --model "$model" --out "$out/eval_mlm.json" 2>&1 | grep -v "Loading weights\|dilation"
  timeout 600 python3 -m bench.eval_embeddings --model "$model" --out "$out/eval_embeddings.json" 2>&1 \
    | grep -v "Loading weights\|dilation"
fi
echo "== done after $SECONDS s" | tee -a "$log"
