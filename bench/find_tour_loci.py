"""Find the loci of the overview page's guided tour: places of the embedded genome where the
bundled model shows something a student can see in one view.

For every ribosomal-protein transcript of the embedded annotation (search "ribosomal
protein": 134), scores with the masked LM (each base masked in its own window, fwd/RC
averaged) and records, on the transcript's strand:

* ``start`` / ``stop``: the codon +- 20 bp; ``mean_ic`` = mean information content (bits)
  of the codon's three bases;
* ``donor``: the first intron's first two bases +- 10 bp (multi-exon transcripts only);
* ``promoter``: the 300 bp before the TSS; ``mean_ic`` over all of them, and the high-IC run
  (>= 1 bit at every base, >= 4 bases, as the logo page's motifs) with the highest mean IC:
  ``run`` (0-based offsets ``first-end`` in the 300 bp), ``run_mean_ic``, ``run_bases``,
  ``run_ic_sum``.

One TSV row per transcript and part (``docs/results/tour_loci.tsv``); the best of each part
are printed. One H200 takes about half a minute.

Usage::

    python -m bench.find_tour_loci --out docs/results/tour_loci.tsv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from glm_core.annotation import Annotation
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.logo import high_ic_runs
from glm_core.models import BUNDLED_MLM, load_masked_lm
from glm_core.scoring import information_content, site_probabilities

PROMOTER_BP = 300


def _row(model, genome, transcript, part, start, end, core) -> dict:
    """Scores of ``[start, end)`` (0-based) on the transcript's strand; ``core`` = offsets summarised."""
    chrom, strand = transcript["chrom"], transcript["strand"]
    ic = information_content(site_probabilities(model, genome, chrom, start, end, strand))
    bases = genome.fetch(chrom, start, end, strand)
    row = {
        "transcript_id": transcript["transcript_id"],
        "name": transcript["name"],
        "part": part,
        "region": f"{chrom}:{start + 1}-{end}({strand})",
        "mean_ic": float(ic[core[0] : core[1]].mean()),
        "bases": bases[core[0] : core[1]],
    }
    if part == "promoter":
        runs = high_ic_runs(ic)
        means = [float(ic[first:last].mean()) for first, last in runs]
        if means:
            first, last = runs[int(np.argmax(means))]
            row.update(
                run=f"{first}-{last}",
                run_mean_ic=max(means),
                run_bases=bases[first:last],
                run_ic_sum=float(ic[first:last].sum()),
            )
    return row


def transcript_rows(model, genome, annotation, transcript) -> list[dict]:
    chrom, start, end = transcript["chrom"], int(transcript["start"]), int(transcript["end"])
    plus = transcript["strand"] == "+"
    size, rows = genome.chrom_sizes[chrom], []
    if pd.notna(transcript["cds_start"]):
        cds_start, cds_end = int(transcript["cds_start"]), int(transcript["cds_end"])
        codons = (("start", cds_start if plus else cds_end - 3), ("stop", cds_end - 3 if plus else cds_start))
        for part, codon in codons:
            if codon - 20 >= 0 and codon + 23 <= size:
                rows.append(_row(model, genome, transcript, part, codon - 20, codon + 23, (20, 23)))
    exons = annotation.exons(transcript["transcript_id"])
    if len(exons) > 1:
        donor = int(exons["end"].iloc[0]) if plus else int(exons["start"].iloc[0]) - 2
        if donor - 10 >= 0 and donor + 12 <= size:
            rows.append(_row(model, genome, transcript, "donor", donor - 10, donor + 12, (10, 12)))
    low, high = (start - PROMOTER_BP, start) if plus else (end, end + PROMOTER_BP)
    if low >= 0 and high <= size:
        rows.append(_row(model, genome, transcript, "promoter", low, high, (0, PROMOTER_BP)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--out", type=Path, required=True, help="TSV to write")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    model = load_masked_lm(args.model, device=args.device)
    genome, annotation = Genome(EMBEDDED_FASTA), Annotation.from_file(EMBEDDED_ANNOTATION)
    hits = annotation.search("ribosomal protein", limit=200)
    rows = [row for _, transcript in hits.iterrows() for row in transcript_rows(model, genome, annotation, transcript)]
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)
    for part, key in (("start", "mean_ic"), ("stop", "mean_ic"), ("donor", "mean_ic"), ("promoter", "run_ic_sum")):
        print(table[table["part"] == part].sort_values(key, ascending=False).head(5).to_string(index=False))
    print(f"{len(table)} rows for {len(hits)} transcripts in {time.perf_counter() - began:.0f} s on {model.device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
