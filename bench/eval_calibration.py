"""Raw vs calibrated LLR on the 150 held-out genes: consequence AUROCs, overall and within strata.

Scores every SNV at every CDS base of the 150 held-out genes (:func:`glm_core.evaluation.cds_snv_llrs`)
with ``--model``, calibrates the LLRs with each ``--table`` (a ``calibration.tsv`` written by
``glm-explore score-genome`` or ``bench.genome_tables``), and reports
:func:`glm_core.calibration.calibration_aurocs` for the raw LLR and each calibrated one, plus
the mean cLLR of synonymous SNVs at four-fold sites (the coding neutral proxy).

Usage::

    python -m bench.eval_calibration --model assets/models/gpn-umaydis-onepass \\
        --table intergenic_far=runs/sg/calibration.intergenic_far.tsv --table fourfold=runs/sg/calibration.fourfold.tsv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench import json_records
from glm_core.annotation import Annotation
from glm_core.calibration import calibrate_snvs, calibration_aurocs, read_neutral_table
from glm_core.evaluation import cds_snv_llrs
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import load_site_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--table", action="append", default=[], help="NAME=PATH of a calibration.tsv (repeatable)")
    parser.add_argument("--n-genes", type=int, default=150)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    genome, annotation = Genome(EMBEDDED_FASTA), Annotation.from_file(EMBEDDED_ANNOTATION)
    model = load_site_model(args.model, args.device)
    began = time.perf_counter()
    snvs = cds_snv_llrs(model, genome, annotation, n_genes=args.n_genes)
    scoring_s = time.perf_counter() - began
    scores = ["llr"]
    for item in args.table:
        name, path = item.split("=", 1)
        snvs[f"cllr_{name}"] = calibrate_snvs(snvs, genome, read_neutral_table(path))
        scores.append(f"cllr_{name}")
    table = calibration_aurocs(snvs, scores)
    means = snvs.groupby(snvs["consequence"].astype(str))[scores].mean().reset_index()
    report = {
        "model": model.name,
        "device": str(getattr(model, "device", "")),
        "n_snvs": len(snvs),
        "n_positions": len(snvs) // 3,
        "scoring_s": round(scoring_s, 1),
        "aurocs": json_records(table),
        "mean_by_consequence": json_records(means),
    }
    print(table.to_string(index=False))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
