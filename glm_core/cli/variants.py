"""``score-vcf``: every SNV of a VCF scored, with its allele-frequency summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import (
    CHUNK_BATCHES,
    EXACT_HELP,
    MODEL_HELP,
    _add_genome_options,
    _check_device,
    _genome_and_annotation,
    _load_site_model,
    _model_folder,
    _model_words,
    _positive_int,
    _print_estimate,
    _tqdm_progress,
)


def _cmd_score_vcf(args: argparse.Namespace) -> int:
    import time

    from .. import variants
    from ..chunked_job import ChunkedJob, ResumableSiteModel, file_fingerprint
    from ..outputs import check_outputs, write_texts
    from ..vcf import read_vcf, scored_vcf_text, tsv_path_beside

    _check_device(args.device)
    tsv_path = args.tsv or tsv_path_beside(args.out)
    af_path = tsv_path.with_name(tsv_path.stem + ".af_bins.tsv")  # written when the VCF has allele frequencies
    model_folder = _model_folder(args.model, args.device, args.exact)
    check_outputs([args.out, tsv_path, af_path], [args.vcf, args.fasta, args.annotation, args.background, model_folder])
    vcf = read_vcf(args.vcf)
    genome, annotation = _genome_and_annotation(args.fasta, args.annotation, args.aliases)
    model = _load_site_model(model_folder, args.device)
    if args.background and args.background.suffix.lower() == ".npz":
        from ..backgrounds import read_background

        background = read_background(args.background)
    elif args.background:
        background = variants.read_llr_background(args.background)
    else:
        background = variants.model_llr_background(model, genome)
    calibration = variants.model_calibration(model, genome)
    _print_estimate(model, len(vcf))  # about one scored position a record
    began = time.perf_counter()
    if annotation is None:  # consequences then read no_annotation
        from ..annotation import Annotation

        annotation = Annotation.empty()
    job = ChunkedJob.open(
        args.out,
        {
            "command": "score-vcf",
            "vcf": file_fingerprint(args.vcf),
            "fasta": file_fingerprint(args.fasta),
            "model": file_fingerprint(model_folder),
            "device": str(model.device),
            "batch_size": args.batch_size,
        },
    )
    scored = variants.score_vcf(
        ResumableSiteModel(model, job, CHUNK_BATCHES),
        genome,
        annotation,
        vcf,
        background=background,
        calibration=calibration,
        batch_size=args.batch_size,
        progress=_tqdm_progress(f"scoring {Path(args.vcf).name}"),
    )
    # Both files are written under temporary names, then renamed together.
    write_texts(
        {
            args.out: scored_vcf_text(vcf, scored, model.name, Path(args.fasta).name),
            tsv_path: variants.scored_tsv(scored),
        }
    )
    job.finish()
    _write_frequency_summary(vcf, scored, af_path)
    for row in variants.chromosome_report(scored).itertuples():
        if row.match != "exact":
            target = row.genome_chrom if row.match == "alias" else f"not scored ({row.match})"
            print(f"chromosome {row.vcf_chrom}: {target} ({row.n_alleles} alleles)", file=sys.stderr)
    counts = ", ".join(f"{row.n} {row.status}" for row in variants.status_counts(scored).itertuples())
    print(
        f"wrote {len(vcf):,} records ({len(scored):,} alleles: {counts}) to {args.out} and {tsv_path} "
        f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)"
    )
    return 0


def _write_frequency_summary(vcf, scored, path: Path) -> None:
    """LLR and cLLR by allele-frequency bin, when the VCF carries AF or AC/AN: to ``path`` and stderr."""
    import numpy as np

    from ..allele_frequency import allele_frequencies, frequency_summary
    from ..outputs import atomic_write

    frequencies = allele_frequencies(vcf, scored)
    if np.isnan(frequencies).all():
        return
    summary = frequency_summary(scored, frequencies)
    atomic_write(path, summary.to_csv(sep="\t", index=False, float_format="%.4f", lineterminator="\n"))
    print(f"scores by allele frequency (rare -> common), also in {path}:", file=sys.stderr)
    print(summary.to_string(index=False), file=sys.stderr)


def add_score_vcf_parser(commands) -> None:
    score = commands.add_parser(
        "score-vcf", help="LLR, consequence and gene of every SNV in a VCF; writes a VCF and a TSV"
    )
    score.add_argument("vcf", type=Path, help="input VCF, plain or gzipped")
    score.add_argument(
        "--out", type=Path, required=True, help="output VCF (.vcf, or .vcf.gz for bgzip); one record per ALT allele"
    )
    score.add_argument("--tsv", type=Path, default=None, help="output TSV (default: OUT with .tsv for .vcf[.gz])")
    score.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    score.add_argument("--exact", action="store_true", help=EXACT_HELP)
    _add_genome_options(
        score,
        "GFF3/GTF for consequences (default: the embedded one with the embedded genome; "
        "without one, consequences read 'no annotation')",
    )
    score.add_argument(
        "--background",
        type=Path,
        default=None,
        help="genome-wide LLR background for GLM_LLR_PCT: llr_background.npz from score-genome, "
        "or an LLR sample (.npy, or a `scan` TSV) (default: the model folder's, when it was "
        "computed on this genome)",
    )
    score.add_argument(
        "--batch-size", type=_positive_int, default=None, help="windows a forward pass (default: by device)"
    )
    score.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    score.set_defaults(handler=_cmd_score_vcf)
