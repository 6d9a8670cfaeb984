#!/usr/bin/env bash
# Benchmarks and model-card evaluations of the bundled masked LM on one CUDA GPU, in one call:
#   bench/bench_scoring.py  positions/s (engine vs. reference path) and the 200-bp logo time
#   bench/eval_mlm.py       held-out accuracy/bits and biology metrics beside the k-mer baseline
#   bench/eval_embeddings.py  kNN macro-F1 of window embeddings vs. the 4-mer spectrum
# MODEL (default: the bundled assets/models/gpn-umaydis) picks another save_pretrained folder.
# Python packages missing on the GPU machine travel as wheels in .whl/ (pandas only if absent).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
wheels=(.whl/gpn-*.whl .whl/pyfaidx-*.whl .whl/biopython-*.whl)
python3 -c "import pandas" 2>/dev/null || wheels+=(.whl/pandas-*.whl)
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "${wheels[@]}"
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
model=${MODEL:-assets/models/gpn-umaydis}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m bench.bench_scoring --model "$model" --out "$out/bench_scoring.json" 2>&1 | grep -v "Loading weights\|dilation"
python3 -m bench.eval_mlm --model "$model" --out "$out/eval_mlm.json" 2>&1 | grep -v "Loading weights\|dilation"
python3 -m bench.eval_embeddings --model "$model" --out "$out/eval_embeddings.json" 2>&1 | grep -v "Loading weights\|dilation"
