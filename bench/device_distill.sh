#!/usr/bin/env bash
# Distil the bundled masked LM into the one-pass model, export it (fp16), evaluate and time it,
# on one CUDA GPU, in one call of at most ~9.5 minutes:
#   1. smoke: a few bf16 steps of a tiny student and one scored sequence (aborts the call on errors)
#   2. glm-explore distill (teacher targets for TARGET_S s, training for TRAIN_S s)
#   3. export to $OUT/gpn-umaydis-onepass (fp16 safetensors, tokenizer, config), then python -m bench.eval_onepass on it
# Run from the project root (or a copy of it holding assets/ one or two levels up).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/gpn-umaydis-onepass"
teacher=${TEACHER:-assets/models/gpn-umaydis}
run_dir=${RUN_DIR:-/tmp/onepass-run}
budget=${BUDGET_S:-570}
if [ -d .whl ]; then wheel_dir=.whl; else wheel_dir=../../.whl; fi
if [ ! -e assets ] && [ -d ../../assets ]; then ln -s ../../assets assets; fi
if ! python3 -c "import gpn, pyfaidx, Bio" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$wheel_dir"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
log=$out/device.log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$log"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$log"

echo "== smoke" | tee -a "$log"
timeout 120 python3 - <<'PY' 2>&1 | grep -v "Loading weights\|Writing model\|dilation" | tee -a "$log"
import time, torch
from glm_core.onepass import OnePassConfig, OnePassForSiteProbabilities, OnePassSiteModel
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
small = {} if device.type == "cuda" else {"hidden_size": 16, "intermediate_size": 32, "head_size": 16}
model = OnePassForSiteProbabilities(OnePassConfig(**small)).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(3, 7, (8, 2048), device=device)
for _ in range(3):
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss = model(input_ids=ids, labels=ids - 3).loss
    optimizer.zero_grad(); loss.backward(); optimizer.step()
model.eval()
p = OnePassSiteModel(model, "smoke", device=device).sequence_site_probabilities("ACGT" * 10_000)
assert p.shape == (40_000, 4) and abs(p.sum(1) - 1).max() < 1e-3, p
print("smoke ok: loss", round(loss.item(), 3))
PY
[ "${PIPESTATUS[0]}" = 0 ] || { echo "smoke failed" | tee -a "$log"; exit 1; }

echo "== distill" | tee -a "$log"
remaining=$((budget - SECONDS))
timeout $((remaining - 130)) python3 -m glm_core.cli distill --teacher "$teacher" --output-dir "$run_dir" \
  --target-time-limit "${TARGET_S:-90}" --time-limit "${TRAIN_S:-210}" --eval-every "${EVAL_EVERY:-250}" \
  ${DISTILL_ARGS:-} 2>&1 | grep -v "Loading weights\|Writing model\|dilation" | tee -a "$log"
cp "$run_dir/training_metrics.json" "$out/" 2>/dev/null

echo "== export" | tee -a "$log"
python3 -c "from glm_core.distill import export_student; export_student('$run_dir', '$out/gpn-umaydis-onepass')" 2>&1 \
  | grep -v "Loading weights\|Writing model" | tee -a "$log"
ls -la "$out/gpn-umaydis-onepass" | tee -a "$log"

echo "== evaluate" | tee -a "$log"
remaining=$((budget - SECONDS))
timeout $((remaining > 30 ? remaining : 30)) python3 -m bench.eval_onepass --model "$out/gpn-umaydis-onepass" --teacher "$teacher" \
  --out "$out/eval_onepass.json" ${EVAL_ARGS:-} 2>&1 | grep -v "Loading weights\|dilation" | tee -a "$log"
echo "== done after $SECONDS s" | tee -a "$log"
