#!/usr/bin/env bash
# score-genome on one CUDA GPU with 1, 2 and 4 processes (torchrun, sharing the GPU) over the
# same regions with the one-pass model, then the masked LM over one chromosome with one
# process; wall time, positions/s and output sizes of each, and the sha256 of every output
# so that runs with different process counts can be compared byte for byte.
# -> $OUT/scaling.log, $OUT/scaling.json. Wheels / EXTRA_SITE as in bench/device_dependency.sh.
# ONEPASS_BED / MASKED_BED: regions (default chr09 + chr10, and chr23); PROCS: process counts.
set -uo pipefail
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/scaling_work}
mkdir -p "$out" "$work"
WHEELS=${WHEELS:-.whl}
DEVICE=${DEVICE:-cuda}
export PYTHONPATH=${EXTRA_SITE:+$(realpath "$EXTRA_SITE"):}$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
if ! python3 -c "import pysam, pyBigWig, gpn, pyfaidx, Bio.bgzf" 2>/dev/null && [ -d "$WHEELS" ]; then
  timeout 120 python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
log=$out/scaling.log
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$log"
echo "cpus $(nproc --all)" | tee -a "$log"
onepass_bed=${ONEPASS_BED:-$work/onepass.bed}
masked_bed=${MASKED_BED:-$work/masked.bed}
[ -n "${ONEPASS_BED:-}" ] || printf 'chr09\t0\t733964\nchr10\t0\t692355\n' > "$onepass_bed"
[ -n "${MASKED_BED:-}" ] || printf 'chr23\t0\t344927\n' > "$masked_bed"
records=()
score() {  # name model bed nproc timeout
  local name=$1 model=$2 bed=$3 nproc=$4 limit=$5 began status
  began=$(date +%s.%N)
  timeout "$limit" python3 -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m glm_core.cli \
    score-genome --model "$model" --regions "$bed" --out-dir "$work/$name" --chunk-size 250000 --device "$DEVICE" \
    > "$work/$name.log" 2>&1
  status=$?
  local seconds bases
  seconds=$(python3 -c "import sys,time; print(round(time.time() - float(sys.argv[1]), 2))" "$began")
  bases=$(awk '{n += $3 - $2} END {print n}' "$bed")
  echo "== $name: exit $status, $nproc processes, $bases bases, $seconds s" | tee -a "$log"
  grep -v "Loading weights\|dilation\|it/s\]" "$work/$name.log" | tail -5 >> "$log"
  (cd "$work/$name" && find . -maxdepth 1 -type f ! -name '*.log' -printf '%f %s\n' | sort) > "$work/$name.sizes"
  (cd "$work/$name" && sha256sum snvs.tsv.gz snvs.tsv.gz.tbi ./*.bw genome.2bit calibration*.tsv llr_background.npz \
    2>/dev/null) > "$work/$name.sha256"
  records+=("{\"run\": \"$name\", \"model\": \"$model\", \"processes\": $nproc, \"bases\": $bases, \"exit\": $status, \"seconds\": $seconds}")
}
onepass=assets/models/gpn-umaydis-onepass
for n in ${PROCS:-1 2 4}; do
  score "onepass_p$n" $onepass "$onepass_bed" "$n" 240
done
score masked_p1 assets/models/gpn-umaydis "$masked_bed" 1 "${MASKED_S:-200}"
for n in ${PROCS:-1 2 4}; do
  if cmp -s "$work/onepass_p1.sha256" "$work/onepass_p$n.sha256"; then same=identical; else same=DIFFERENT; fi
  echo "one-pass outputs, 1 vs $n processes: $same" | tee -a "$log"
done
for f in "$work"/*.sizes "$work"/*.sha256; do echo "-- $(basename "$f")"; cat "$f"; done >> "$log"
(IFS=,; echo "[${records[*]}]") > "$out/scaling.json"
cat "$out/scaling.json"
echo "== done after $SECONDS s" | tee -a "$log"
