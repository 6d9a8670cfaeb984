#!/usr/bin/env bash
# Dependency-map timings on one CUDA GPU, in one call: the masked LM and the one-pass model,
# 100 and 200 bp, the one-pass model also scoring each variant sequence whole (bench.bench_dependency
# --whole-sequences), median of REPEATS maps -> $OUT/bench_dependency_gpu.json.
# Wheels of missing packages in $WHEELS (default .whl); $EXTRA_SITE (plain packages, e.g. a
# slim Bio holding Bio.bgzf) goes on the path too. Run from the project root.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
WHEELS=${WHEELS:-.whl}
export PYTHONPATH=${EXTRA_SITE:+$(realpath "$EXTRA_SITE"):}$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if ! python3 -c "import gpn, pyfaidx" 2>/dev/null && [ -d "$WHEELS" ]; then
  timeout 120 python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/dependency.log"
python3 -c "import torch; print('torch', torch.__version__)" 2>&1 | tee -a "$out/dependency.log"
timeout "${BENCH_S:-420}" python3 -m bench.bench_dependency --lengths 100 200 --repeats "${REPEATS:-3}" \
  --onepass-model assets/models/gpn-umaydis-onepass --whole-sequences --out "$out/bench_dependency_gpu.json" \
  2>&1 | grep -v "Loading weights\|dilation" | tee -a "$out/dependency.log"
echo "== done after $SECONDS s" | tee -a "$out/dependency.log"
