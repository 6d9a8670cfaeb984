"""``info``, ``scan`` (with ``--compare-model``) and ``dependency``: one genome or one region of it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import (
    CHUNK_BATCHES,
    EXACT_HELP,
    MODEL_HELP,
    _add_genome_options,
    _aliases,
    _check_device,
    _genome_and_annotation,
    _load_site_model,
    _model_folder,
    _model_words,
    _part,
    _positive_int,
    _print_estimate,
    _tqdm_progress,
)


def _cmd_info(args: argparse.Namespace) -> int:
    from ..genome_files import format_report, genome_report

    print(format_report(genome_report(args.fasta, args.annotation, aliases=_aliases(args.aliases))), end="")
    return 0


def _genome_and_locus(args: argparse.Namespace):
    """The genome of ``--fasta`` and the locus ``args.region`` names (with ``--part``,
    ``--flank``, ``--strand``, ``--upstream``), as the app's region boxes read it."""
    from ..genome_files import open_genome_files
    from ..locus import is_coordinate_query, resolve_locus

    genome = open_genome_files(args.fasta, None).genome
    # Coordinates need no annotation; reading one takes seconds.
    annotation = (
        None
        if is_coordinate_query(args.region, genome)
        else _genome_and_annotation(args.fasta, args.annotation, args.aliases)[1]
    )
    locus = resolve_locus(
        args.region,
        genome,
        annotation,
        part=_part(args.part),
        flank=args.flank,
        strand=args.strand,
        upstream=args.upstream,
    )
    return genome, locus


def _cmd_scan(args: argparse.Namespace) -> int:
    import time

    from ..chunked_job import ChunkedJob, ResumableSiteModel, file_fingerprint
    from ..logo import position_table
    from ..outputs import check_outputs
    from ..scoring import site_probabilities
    from ..tracks import track_format, write_position_track

    track_format(args.out)  # refuse an unknown extension before scoring
    _check_device(args.device)
    model_folder = _model_folder(args.model, args.device, args.exact)
    check_outputs([args.out], [args.fasta, args.annotation, model_folder])
    genome, locus = _genome_and_locus(args)
    if len(locus.matches) > 1:
        print(
            f"glm-explore scan: {len(locus.matches)} transcripts match {args.region!r}; using {locus.transcript_id} "
            "(pass its ID to choose another)",
            file=sys.stderr,
        )
    region = locus.region
    model = _load_site_model(model_folder, args.device)
    _print_estimate(model, region.end - region.start)
    began = time.perf_counter()
    job = ChunkedJob.open(
        args.out,
        {
            "command": "scan",
            "region": f"{region} ({region.strand})",
            "fasta": file_fingerprint(args.fasta),
            "model": file_fingerprint(model_folder),
            "device": str(model.device),
            "batch_size": args.batch_size,
        },
    )
    probabilities = site_probabilities(
        ResumableSiteModel(model, job, CHUNK_BATCHES),
        genome,
        region.chrom,
        region.start,
        region.end,
        region.strand,
        batch_size=args.batch_size,
        progress=_tqdm_progress(f"scoring {region} ({region.strand})"),
    )
    table = position_table(genome, region.chrom, region.start, region.end, region.strand, probabilities, with_llr=True)
    write_position_track(table, args.out, genome.chrom_sizes, value=args.value)
    job.finish()
    what = "per-position table" if track_format(args.out) == "tsv" else f"{track_format(args.out)} of {args.value}"
    print(
        f"wrote {len(table):,} positions of {region} ({region.strand}) to {args.out} as a {what} "
        f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)"
    )
    if args.compare_model is not None:
        _write_comparison(args, genome, region, model, probabilities)
    return 0


def _comparison_path(args: argparse.Namespace) -> Path:
    if args.compare_out is not None:
        return Path(args.compare_out)
    out = Path(args.out)
    return out.with_name(f"{out.name.split('.')[0]}.compare.tsv")


def _write_comparison(args: argparse.Namespace, genome, region, model, probabilities) -> None:
    """Score the region with ``--compare-model`` and write the joined table of both models."""
    from ..model_comparison import compare_probabilities, joined_tsv
    from ..outputs import write_text
    from ..scoring import site_probabilities

    second = _load_site_model(args.compare_model, args.device)
    other = site_probabilities(
        second,
        genome,
        region.chrom,
        region.start,
        region.end,
        region.strand,
        batch_size=args.batch_size,
        progress=_tqdm_progress(f"scoring {region} ({region.strand}) with {second.name}"),
    )
    comparison = compare_probabilities(
        genome,
        region.chrom,
        region.start,
        region.end,
        region.strand,
        probabilities,
        other,
        str(model.name),
        str(second.name),
    )
    path = _comparison_path(args)
    write_text(joined_tsv(comparison), path)
    summary = comparison.summary()
    print(
        f"wrote {summary['n_snvs']:,} SNVs of {region} compared between {model.name} (_1) and {second.name} (_2) "
        f"to {path}: mean KL {summary['mean_kl_bits']:.4f} bits, LLR Pearson {summary['pearson']:.3f}, "
        f"Spearman {summary['spearman']:.3f}"
    )


def _cmd_dependency(args: argparse.Namespace) -> int:
    import time

    from ..dependency import (
        DEPENDENCY_SUFFIXES,
        check_dependency_region,
        dependency_file_bytes,
        dependency_map,
        estimate_dependency_seconds,
    )
    from ..errors import InputError
    from ..outputs import atomic_write, check_outputs

    suffix = Path(args.out).suffix.lower()
    if suffix not in DEPENDENCY_SUFFIXES:
        raise InputError(f"--out must end in one of {', '.join(DEPENDENCY_SUFFIXES)}; got {args.out}")
    check_outputs([args.out], [args.fasta, args.annotation, _model_folder(args.model, args.device)])
    genome, locus = _genome_and_locus(args)
    region = locus.region
    model = _load_site_model(_model_folder(args.model, args.device), args.device)
    # Over-limit regions are refused before any probe is timed (a masked model on a CPU is
    # refused by its estimate, which the check measures and returns).
    estimate = check_dependency_region(model, genome, region.chrom, region.start, region.end)
    estimate = estimate or estimate_dependency_seconds(model, genome, region.chrom, region.start, region.end)
    print(
        f"dependency map of {region} ({region.strand}), {len(region):,} bp with {model.name}: "
        f"{estimate.n_sequences:,} variant sequences, estimated {estimate.seconds:,.1f} s on {estimate.device}",
        file=sys.stderr,
    )
    began = time.perf_counter()
    result = dependency_map(
        model,
        genome,
        region.chrom,
        region.start,
        region.end,
        region.strand,
        check_limits=False,
        batch_size=args.batch_size,
        progress=_tqdm_progress("variant sequences", unit="seq"),
    )
    atomic_write(args.out, dependency_file_bytes(result, suffix))
    print(
        f"wrote the {len(result)} x {len(result)} dependency map of {region} ({region.strand}) to {args.out} "
        f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)"
    )
    return 0


def add_info_parser(commands) -> None:
    info = commands.add_parser(
        "info",
        help="what a genome and its annotation hold, read as the app reads them: sequences, genes, "
        "transcripts, features by type, the name mapping applied, warnings",
    )
    _add_genome_options(info, "GFF3, GTF or GFF2 annotation (default: none; a GFF3 with ##FASTA is its own)")
    info.set_defaults(handler=_cmd_info)


def add_scan_parsers(commands) -> None:
    """A list of option declarations, one after another; nothing in it branches."""
    from ..locus import DEFAULT_PROMOTER_BP, accepted_parts
    from ..tracks import TRACK_SUFFIXES, TRACK_VALUES

    scan = commands.add_parser(
        "scan", help="per-position predictions and SNV LLRs of a region, as TSV, bedGraph or bigWig"
    )
    scan.add_argument(
        "region",
        help="CHR:START-END or 'CHR START END', 1-based inclusive (e.g. chr01:2,632-2,731), "
        "a sequence name, or a gene ID or name (e.g. um10944)",
    )
    scan.add_argument(
        "--part",
        default="whole-gene",
        help="for a gene: which part to scan, one of "
        + accepted_parts().replace(" ", "-").replace(",-", ", ")
        + " (K = 1, 2, ... from the 5' end; default: whole-gene)",
    )
    scan.add_argument(
        "--upstream",
        type=int,
        default=DEFAULT_PROMOTER_BP,
        help=f"for --part promoter: bp before the TSS, gene's strand (default {DEFAULT_PROMOTER_BP})",
    )
    scan.add_argument(
        "--flank",
        type=int,
        default=0,
        help="for a gene: bases to add on each side (default 0); --part TSS --flank N is TSS +- N",
    )
    scan.add_argument(
        "--strand",
        choices=["+", "-"],
        default=None,
        help="strand to read the bases and probabilities on (TSV; default: the region's or gene's, "
        "else +); tracks do not depend on it",
    )
    scan.add_argument(
        "--out",
        type=Path,
        required=True,
        help=f"output file; its extension picks the format ({', '.join(TRACK_SUFFIXES)})",
    )
    scan.add_argument(
        "--value",
        choices=TRACK_VALUES,
        default="ic",
        help="what a bedGraph/bigWig carries: information content (bits, default), entropy, "
        "reference-base probability, or the mean LLR of the three alternative alleles",
    )
    scan.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    scan.add_argument("--exact", action="store_true", help=EXACT_HELP)
    _add_genome_options(scan, "GFF3/GTF to find genes in (default: the embedded one with the embedded genome)")
    scan.add_argument(
        "--batch-size", type=_positive_int, default=None, help="windows a forward pass (default: by device)"
    )
    scan.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    scan.add_argument(
        "--compare-model",
        type=Path,
        default=None,
        help="a second site model (a masked LM or one-pass folder, or a k-mer .npz): also write "
        "both models' probabilities, KL, delta P(ref) and every SNV's LLR under both (joined TSV)",
    )
    scan.add_argument(
        "--compare-out",
        type=Path,
        default=None,
        help="the joined TSV of --compare-model (default: OUT's stem + .compare.tsv)",
    )
    scan.set_defaults(handler=_cmd_scan)

    dependency = commands.add_parser(
        "dependency", help="nucleotide dependency map of a region: TSV matrix, .npz, or PNG/SVG heat map"
    )
    dependency.add_argument("region", help="as for scan: CHR:START-END (1-based inclusive), or a gene ID or name")
    dependency.add_argument(
        "--out", type=Path, required=True, help="output file; its extension picks the format (.tsv, .npz, .png, .svg)"
    )
    dependency.add_argument("--part", default="whole-gene", help="for a gene: which part to map, as for scan")
    dependency.add_argument(
        "--upstream",
        type=int,
        default=DEFAULT_PROMOTER_BP,
        help=f"for --part promoter: bp before the TSS (default {DEFAULT_PROMOTER_BP})",
    )
    dependency.add_argument("--flank", type=int, default=0, help="for a gene: bases to add on each side")
    dependency.add_argument(
        "--strand", choices=["+", "-"], default=None, help="strand to read (default: the region's or gene's, else +)"
    )
    dependency.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a masked LM or one-pass model folder, or a k-mer .npz (default: the bundled GPN)",
    )
    _add_genome_options(dependency, "GFF3/GTF to find genes in (default: the embedded one with the embedded genome)")
    dependency.add_argument("--batch-size", type=int, default=None, help="windows a forward pass (default: by device)")
    dependency.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    dependency.set_defaults(handler=_cmd_dependency)
