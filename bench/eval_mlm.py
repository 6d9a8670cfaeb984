"""Model-card numbers of a masked LM beside the k-mer baseline, on held-out chr20-chr23.

For the masked LM and the bidirectional k-mer model (k = 4), with the same code and the
same held-out genes:

* held-out masked accuracy and bits/base (15 % of bases masked; the LM sees each window
  with its masks, the k-mer model its true context, as in the reference table); for the LM
  also a single-site row: the same 15 % of held-out bases, each masked alone in its own window with
  the rest of the context intact, as the app scores; and a row with the same scored bases
  corrupted 80/10/10 as in training (one in ten left visible), forward strand only, which is
  what a Hugging Face Trainer's evaluation loss measures;
* mean information content at start codons and intron GT...AG ends vs. their flanks;
* AUROC of -LLR separating stop-gained / missense from synonymous SNVs in held-out CDS.

Usage (a GPU makes the LM part take about a minute)::

    python -m bench.eval_mlm --model assets/models/gpn-umaydis --out runs/eval_mlm.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import json_records
from glm_core.annotation import Annotation
from glm_core.evaluation import (
    HELD_OUT_CHROMS,
    cds_snv_llrs,
    consequence_summary,
    held_out_transcripts,
    motif_information,
    sample_eval_positions,
    site_model_metrics,
    training_chroms,
)
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.kmer import KmerModel
from glm_core.models import BUNDLED_MLM, load_masked_lm
from glm_core.training import heldout_eval_set, masked_lm_metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--n-genes", type=int, default=150)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--heldout-windows",
        type=int,
        default=None,
        help="score this many of the held-out 512-bp windows (default: all, ~3,400)",
    )
    parser.add_argument(
        "--no-single-site",
        action="store_true",
        help="skip scoring the k-mer row's positions with the LM, each masked alone",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    genome = Genome(EMBEDDED_FASTA)
    annotation = Annotation.from_file(EMBEDDED_ANNOTATION)
    transcripts = held_out_transcripts(annotation, n_genes=args.n_genes, seed=0, chroms=HELD_OUT_CHROMS)
    lm = load_masked_lm(args.model, device=args.device)
    kmer = KmerModel.fit(genome, training_chroms(genome.chrom_sizes), k=4)
    result = {"model": args.model.name, "n_genes": len(transcripts), "device": str(lm.device)}

    inputs, labels = heldout_eval_set(genome, HELD_OUT_CHROMS, lm.context, max_windows=args.heldout_windows)
    sites = sample_eval_positions(genome, HELD_OUT_CHROMS, fraction=0.15)
    result["heldout"] = {
        lm.name: masked_lm_metrics(lm.model, inputs, labels, lm.device, reverse_complement=True),
        kmer.name: site_model_metrics(kmer, genome, sites),
    }
    if not args.no_single_site:
        result["heldout"][f"{lm.name} (single site)"] = site_model_metrics(lm, genome, sites)
    # The same windows and scored bases corrupted 80/10/10 as in training, forward strand
    # only: what a Hugging Face Trainer's evaluation reports, for numbers measured that way.
    corrupted, _ = heldout_eval_set(
        genome, HELD_OUT_CHROMS, lm.context, max_windows=args.heldout_windows, mask_token_fraction=0.8
    )
    result["heldout"][f"{lm.name} (80/10/10, forward)"] = masked_lm_metrics(
        lm.model, corrupted, labels, lm.device, reverse_complement=False
    )
    for name, metrics in result["heldout"].items():
        print(f"{name:>28}: accuracy {metrics['accuracy']:.4f}, {metrics['bits_per_base']:.4f} bits/base")

    for model in (kmer, lm):
        started = time.perf_counter()
        motifs = motif_information(model, genome, annotation, transcripts)
        snvs = cds_snv_llrs(model, genome, annotation, transcripts)
        consequences = consequence_summary(snvs)
        by_codon = (
            snvs[snvs["consequence"].isin(["synonymous", "missense", "stop_gained"])]
            .groupby(["consequence", "codon_position"], observed=True)["llr"]
            .agg(["mean", "size"])
            .reset_index()
        )
        result[model.name] = {
            "motif_information": json_records(motifs),
            "consequences": json_records(consequences),
            "llr_by_codon_position": json_records(by_codon),
            "n_cds_snvs": int(len(snvs)),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"\n{model.name}: {len(snvs):,} CDS SNVs, {result[model.name]['seconds']} s")
        print(motifs.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(consequences.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    result["seconds"] = round(time.perf_counter() - began, 1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
