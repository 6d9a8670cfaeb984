"""Find the loci of the overview page's guided tour: places of the embedded genome where the
bundled model shows something a student can see in one view.

For the ribosomal-protein genes of the embedded annotation (search "ribosomal protein"),
scores with the masked LM (fwd/RC averaged, each base masked in its own window):

* the start codon and the stop codon, +- 20 bp: mean information content (bits) of the
  codon's three bases;
* the donor of the first intron, +- 10 bp: mean IC of its two bases;
* the promoter, 300 bp before the TSS: the high-information runs
  (:func:`glm_core.logo.candidate_motifs`, >= 1 bit over >= 4 bases) and the best one's
  mean IC and consensus.

and writes one JSON row per gene and part, best first, so that the tour can name the
strongest example of each (``glm_core.tour``). On one H200 the ~100 genes take about a
minute; on a 2-core CPU, hours.

Usage::

    python -m bench.find_tour_loci --out runs/tour_loci.json [--limit 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from glm_core.annotation import Annotation
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.locus import PROMOTER, START_CODON, STOP_CODON, resolve_locus
from glm_core.logo import candidate_motifs, position_table
from glm_core.models import BUNDLED_MLM, load_masked_lm
from glm_core.scoring import site_probabilities

PARTS = ((START_CODON, 20), (STOP_CODON, 20), ("donor of intron 1", 10), (PROMOTER, 0))


def score_part(model, genome, annotation, transcript_id: str, part: str, flank: int) -> dict:
    locus = resolve_locus(transcript_id, genome, annotation, part=part, flank=flank, upstream=300)
    region = locus.region
    probabilities = site_probabilities(model, genome, region.chrom, region.start, region.end, region.strand)
    table = position_table(genome, region.chrom, region.start, region.end, region.strand, probabilities)
    row = {"transcript_id": transcript_id, "name": locus.name, "part": part, "flank": flank,
           "region": f"{locus} ({locus.strand})"}
    if part == PROMOTER:
        motifs = candidate_motifs(table)
        best = motifs.sort_values("mean_ic", ascending=False).head(1)
        row.update(n_runs=len(motifs), score=float(best["mean_ic"].iloc[0]) if len(best) else 0.0,
                   consensus=str(best["consensus"].iloc[0]) if len(best) else "",
                   run_length=int(best["length"].iloc[0]) if len(best) else 0)
    else:
        core = table["ic"].to_numpy()[flank: len(table) - flank]
        row.update(score=float(np.mean(core)), bases="".join(table["ref"].iloc[flank: len(table) - flank]))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=100, help="ribosomal-protein transcripts to score")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    model = load_masked_lm(args.model, device=args.device)
    genome, annotation = Genome(EMBEDDED_FASTA), Annotation.from_file(EMBEDDED_ANNOTATION)
    hits = annotation.search("ribosomal protein", limit=args.limit)
    rows = []
    for transcript_id, n_exons in zip(hits["transcript_id"], hits["n_exons"]):
        for part, flank in PARTS:
            if part.startswith("donor") and n_exons < 2:
                continue
            rows.append(score_part(model, genome, annotation, transcript_id, part, flank))
    rows.sort(key=lambda row: (row["part"], -row["score"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(args.model), "device": str(model.device), "rows": rows}, indent=1))
    for part, _ in PARTS:
        best = [row for row in rows if row["part"] == part][:3]
        for row in best:
            print(part, row["name"], row["region"], round(row["score"], 3), row.get("consensus", row.get("bases")))
    print(f"{len(rows)} parts of {len(hits)} transcripts in {time.perf_counter() - began:.0f} s on {model.device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
