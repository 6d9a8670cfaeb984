"""Held-out numbers of the count baselines, for the model card.

Fits the unigram and bidirectional k-mer models (k = 3, 4, 5 by default) on the training
chromosomes, scores 15 % of the held-out positions (chr20-chr23), and runs the biology
checks (information content at start codons / splice sites, consequence AUROCs) with
k = 4. Prints the tables and writes them to a JSON file.

Usage::

    python -m bench.eval_baselines --out runs/baselines.json
    python -m bench.eval_baselines --ks 4 --save-model runs/kmer4.npz   # also keep the k=4 model

Runs on CPU in well under a minute a model.
"""

from __future__ import annotations

import argparse
import json
import platform
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


def main(argv: list[str] | None = None) -> int:
    """The benchmark as one script: its measurements run in order and read top to bottom, so
    they stay in one function rather than being split across helpers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA, help="genome FASTA (default: embedded U. maydis)")
    parser.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION, help="GFF3/GTF of that genome")
    parser.add_argument("--ks", type=int, nargs="+", default=[3, 4, 5], help="k-mer half-widths to evaluate")
    parser.add_argument("--biology-k", type=int, default=4, help="k of the model used for the biology checks")
    parser.add_argument("--fraction", type=float, default=0.15, help="fraction of held-out positions scored")
    parser.add_argument("--n-genes", type=int, default=150, help="held-out genes for the biology checks")
    parser.add_argument("--seed", type=int, default=0, help="seed of the position and gene samples")
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    parser.add_argument("--save-model", type=Path, help="also save the biology-k model as .npz here")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    genome = Genome(args.fasta)
    train = training_chroms(genome.chrom_sizes)
    held_out = [chrom for chrom in HELD_OUT_CHROMS if chrom in genome.chrom_sizes]
    positions = sample_eval_positions(genome, held_out, fraction=args.fraction, seed=args.seed)
    print(
        f"training on {sum(genome.chrom_sizes[c] for c in train) / 1e6:.2f} Mb ({len(train)} sequences); "
        f"held out {', '.join(held_out)} ({sum(genome.chrom_sizes[c] for c in held_out) / 1e6:.2f} Mb); "
        f"scoring {len(positions):,} positions ({args.fraction:.0%} of held-out A/C/G/T)"
    )

    rows, models = [], {}
    for k in sorted({0, *args.ks, args.biology_k}):
        start = time.perf_counter()
        model = KmerModel.fit(genome, train, k=k)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        metrics = site_model_metrics(model, genome, positions)
        rows.append(
            {
                "model": model.name,
                "k": k,
                **metrics,
                "fit_seconds": round(fit_seconds, 2),
                "eval_seconds": round(time.perf_counter() - start, 2),
            }
        )
        models[k] = model
        print(
            f"{model.name:>14}  accuracy {metrics['accuracy']:.4f}  bits/base {metrics['bits_per_base']:.4f}  "
            f"n={metrics['n']:,}  fit {fit_seconds:.1f} s"
        )

    model = models[args.biology_k]
    if args.save_model:
        print(f"saved {model.save(args.save_model)}")
    annotation = Annotation.from_file(args.annotation)
    transcripts = held_out_transcripts(annotation, n_genes=args.n_genes, seed=args.seed, chroms=held_out)

    start = time.perf_counter()
    motifs = motif_information(model, genome, annotation, transcripts)
    motif_seconds = time.perf_counter() - start
    print(f"\ninformation content, {model.name}, {len(transcripts)} held-out genes ({motif_seconds:.1f} s)")
    print(motifs.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    start = time.perf_counter()
    snvs = cds_snv_llrs(model, genome, annotation, transcripts)
    consequences = consequence_summary(snvs)
    consequence_seconds = time.perf_counter() - start
    print(
        f"\nconsequences, {model.name}, {len(snvs):,} CDS SNVs of {len(transcripts)} genes "
        f"({consequence_seconds:.1f} s)"
    )
    print(consequences.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    by_codon = None
    if "codon_position" in snvs:
        by_codon = (
            snvs[snvs["consequence"].isin(["synonymous", "missense", "stop_gained"])]
            .groupby(["consequence", "codon_position"])["llr"]
            .agg(["mean", "size"])
            .reset_index()
        )
        print("\nmean LLR by consequence and codon position")
        print(by_codon.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    total_seconds = time.perf_counter() - began
    print(f"\nwall time {total_seconds:.1f} s")
    if args.out:
        result = {
            "genome": str(args.fasta.name),
            "annotation": str(args.annotation.name),
            "held_out_chroms": held_out,
            "training_bases": int(sum(genome.chrom_sizes[c] for c in train)),
            "held_out_bases": int(sum(genome.chrom_sizes[c] for c in held_out)),
            "fraction": args.fraction,
            "seed": args.seed,
            "site_metrics": rows,
            "biology_model": model.name,
            "n_genes": len(transcripts),
            "n_cds_snvs": int(len(snvs)),
            "motif_information": motifs.to_dict(orient="records"),
            "consequences": json_records(consequences),
            "llr_by_codon_position": json_records(by_codon) if by_codon is not None else None,
            "seconds": {
                "motif_information": round(motif_seconds, 2),
                "consequences": round(consequence_seconds, 2),
                "total": round(total_seconds, 2),
            },
            "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, CPU",
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
