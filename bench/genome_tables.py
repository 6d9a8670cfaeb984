"""Calibration and background tables of a site model from a random sample of genome positions.

For a model too slow to score every position (the masked ``gpn-umaydis``: ~71 min for the
whole genome on an H200), the neutral tables (:mod:`glm_core.calibration`) and the LLR
background (:mod:`glm_core.backgrounds`) are computed from ``--positions`` positions drawn
uniformly from the A/C/G/T bases of the genome (seed ``--seed``), every possible SNV at each.
The output folder gets ``calibration.<proxy>.tsv`` for both proxies, ``calibration.tsv`` (the
``--proxy`` one) and ``llr_background.npz``, with the sampling written into its metadata, and
``genome_tables.json`` (counts and timings).

Usage::

    python -m bench.genome_tables --model assets/models/gpn-umaydis --positions 200000 --out-dir runs/tables
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from glm_core.annotation import Annotation
from glm_core.backgrounds import BACKGROUND_FILE, write_background
from glm_core.calibration import CALIBRATION_FILE, NEUTRAL_PROXIES, ContextSums, calibrate_codes, write_neutral_table
from glm_core.consequence import CONSEQUENCES
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome, nucleotide_codes
from glm_core.genome_hub import background_from_records
from glm_core.models import load_site_model
from glm_core.genome_scores import (
    DEFAULT_PROXY,
    genome_sha256,
    snv_records,
    weights_sha256,
)
from glm_core.scoring import site_probabilities_at


def sample_positions(genome: Genome, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct A/C/G/T positions drawn uniformly over the genome: ``chrom, pos`` (0-based), sorted."""
    rng = np.random.default_rng(seed)
    sizes = np.array(list(genome.chrom_sizes.values()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    picked = np.zeros(0, dtype=np.int64)
    while len(picked) < n:
        draw = np.unique(np.concatenate([picked, rng.integers(0, offsets[-1], 2 * (n - len(picked)))]))
        chrom_index = np.searchsorted(offsets, draw, side="right") - 1
        chroms = np.array(list(genome.chrom_sizes))[chrom_index]
        bases = nucleotide_codes(genome.bases_at(chroms, draw - offsets[chrom_index]))
        picked = draw[bases >= 0]
        if len(picked) > n:
            picked = np.sort(rng.choice(picked, n, replace=False))
    chrom_index = np.searchsorted(offsets, picked, side="right") - 1
    return pd.DataFrame(
        {"chrom": np.array(list(genome.chrom_sizes))[chrom_index], "pos": picked - offsets[chrom_index]}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxy", choices=NEUTRAL_PROXIES, default=DEFAULT_PROXY)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    genome, annotation = Genome(EMBEDDED_FASTA), Annotation.from_file(EMBEDDED_ANNOTATION)
    model = load_site_model(args.model, args.device)
    positions = sample_positions(genome, args.positions, args.seed)
    clock = time.perf_counter()
    probabilities = site_probabilities_at(model, genome, positions)
    scored_s = time.perf_counter() - clock
    gene_codes = pd.Index(np.array(sorted(set(annotation.transcripts["name"].dropna()))))
    records = snv_records(
        genome, annotation, positions["chrom"].to_numpy(), positions["pos"].to_numpy(), probabilities, gene_codes
    )
    counts = {}
    tables = {}
    for bit, proxy in enumerate(NEUTRAL_PROXIES):
        member = (records["neutral"] & (1 << bit)) > 0
        sums = ContextSums().add(records["context"][member], records["alt"][member], records["llr"][member])
        tables[proxy] = sums.table(proxy, model.name)
        counts[proxy] = int(member.sum())
        write_neutral_table(tables[proxy], args.out_dir / f"calibration.{proxy}.tsv")
    write_neutral_table(tables[args.proxy], args.out_dir / CALIBRATION_FILE)
    meta = {
        "model": model.name,
        "weights_sha256": weights_sha256(args.model),
        "genome": genome.path.name,
        "genome_sha256": genome_sha256(genome),
        "sampling": f"every SNV at a uniform random sample of {args.positions:,} positions (seed {args.seed})",
        "calibration": f"{args.proxy} sites of the same sample",
    }
    lookup = tables[args.proxy].lookup()
    cllr = calibrate_codes(records["context"].astype(np.int64), records["alt"].astype(np.int64), records["llr"], lookup)
    background = background_from_records(records, cllr, meta)
    write_background(background, args.out_dir / BACKGROUND_FILE)
    report = {
        "model": model.name,
        "device": str(getattr(model, "device", "")),
        "positions": args.positions,
        "snvs": int(len(records)),
        "neutral_snvs": counts,
        "scoring_s": round(scored_s, 2),
        "positions_per_s": round(args.positions / scored_s, 1),
        "wall_s": round(time.perf_counter() - began, 2),
        "consequence_counts": {c: int((records["consequence"] == i).sum()) for i, c in enumerate(CONSEQUENCES)},
    }
    (args.out_dir / "genome_tables.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
