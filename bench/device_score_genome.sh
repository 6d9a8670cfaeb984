#!/usr/bin/env bash
# Genome-wide scores, calibration and background tables of the bundled models, in one GPU call:
#   1. glm-explore score-genome on the whole embedded genome with the one-pass model, under
#      torchrun with NPROC processes sharing the GPU (the SNV table and its annotation are CPU work);
#   2. meanwhile, bench.genome_tables with the masked model on a random sample of POSITIONS
#      positions (the whole genome would take ~71 min), then bench.eval_calibration for it;
#   3. bench.eval_calibration for the one-pass model with the tables of step 1.
# Results go to $OUT as a few tarballs and logs (<= 8 files). Python packages missing on the GPU
# machine travel as wheels in .whl/. For a CPU rehearsal: DEVICE=cpu NPROC=2 POSITIONS=300
# NGENES=2 REGIONS=some.bed MASKED=a-tiny-gpn-folder bash bench/device_score_genome.sh
set -uo pipefail
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/score_genome_work}
mkdir -p "$out" "$work"
began=$(date +%s.%N)
DEVICE=${DEVICE:-cuda}
NPROC=${NPROC:-14}
POSITIONS=${POSITIONS:-200000}
NGENES=${NGENES:-150}
CHUNK=${CHUNK:-500000}
EVAL=${EVAL:-1}  # 0: skip the raw vs calibrated AUROCs (bench.eval_calibration)
seconds() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$1" "$(date +%s.%N)"; }
regions=()
[ -n "${REGIONS:-}" ] && regions=(--regions "$REGIONS")
# Wheels in $WHEELS (default .whl) are installed when a package is missing; $EXTRA_SITE (a
# folder of plain packages, e.g. a slim Bio with Bio.Seq and Bio.bgzf) goes on the path too.
WHEELS=${WHEELS:-.whl}
PY=${PY:-python3}
export PYTHONPATH=${EXTRA_SITE:+$(realpath "$EXTRA_SITE"):}${PYTHONPATH:-}:$PWD
if ! $PY -c "import pysam, pyBigWig, gpn, pyfaidx, Bio" 2>/dev/null && [ -d "$WHEELS" ]; then
  timeout 120 $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc

masked=${MASKED:-assets/models/gpn-umaydis}
onepass=assets/models/gpn-umaydis-onepass
(
  t0=$(date +%s.%N)
  timeout 170 $PY -m bench.genome_tables --model $masked --positions "$POSITIONS" --device "$DEVICE" \
    --out-dir "$work/masked" 2>&1 | grep -v "Loading weights\|dilation"
  echo "masked tables after $(seconds "$t0") s"
  t1=$(date +%s.%N)
  [ "$EVAL" = 1 ] && timeout 160 $PY -m bench.eval_calibration --model $masked --n-genes "$NGENES" --device "$DEVICE" \
    --table intergenic_far="$work/masked/calibration.intergenic_far.tsv" \
    --table fourfold="$work/masked/calibration.fourfold.tsv" --out "$work/masked/eval_calibration.json" \
    2>&1 | grep -v "Loading weights\|dilation"
  echo "masked eval after $(seconds "$t1") s"
) > "$out/masked.log" 2>&1 &
masked_job=$!

t0=$(date +%s.%N)
timeout 300 $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m glm_core.cli score-genome \
  --model $onepass --out-dir "$work/onepass" --chunk-size "$CHUNK" --device "$DEVICE" "${regions[@]}" \
  > "$out/score_genome.log" 2>&1
echo "score-genome exit $? after $(seconds "$t0") s" | tee -a "$out/score_genome.log"
t1=$(date +%s.%N)
[ "$EVAL" = 1 ] && timeout 80 $PY -m bench.eval_calibration --model $onepass --n-genes "$NGENES" --device "$DEVICE" \
  --table intergenic_far="$work/onepass/calibration.intergenic_far.tsv" \
  --table fourfold="$work/onepass/calibration.fourfold.tsv" --out "$work/onepass/eval_calibration.json" \
  2>&1 | grep -v "Loading weights\|dilation" | tee "$out/onepass_eval.log"
echo "one-pass eval after $(seconds "$t1") s"
wait $masked_job
ls -la "$work/onepass" > "$work/onepass/sizes.txt" 2>&1
du -sb "$work/onepass"/* >> "$work/onepass/sizes.txt" 2>&1
# the small outputs only (the SNV table and bigWigs stay here: ~GBs)
(cd "$work/onepass" && tar czf "$out/onepass_tables.tar.gz" --ignore-failed-read calibration*.tsv llr_background.npz \
  manifest.json trackDb.txt hub.txt genomes.txt igv_session.xml eval_calibration.json sizes.txt 2>/dev/null)
(cd "$work/masked" && tar czf "$out/masked_tables.tar.gz" --ignore-failed-read . 2>/dev/null)
# a taste of the SNV table: its first 2,000 lines, read back through tabix
$PY - "$work/onepass" "$out/snv_table_head.tsv" <<'EOF' || true
import sys, pysam
folder, target = sys.argv[1], sys.argv[2]
with pysam.TabixFile(f"{folder}/snvs.tsv.gz") as table, open(target, "w") as out:
    out.write("\n".join(table.header) + "\n")
    chrom = table.contigs[0]
    for i, line in enumerate(table.fetch(chrom, 0, 700)):
        out.write(line + "\n")
EOF
echo "{\"total_s\": $(seconds "$began"), \"nproc\": $NPROC, \"positions\": $POSITIONS}" > "$out/timing.json"
cat "$out/timing.json"
ls -la "$out"
