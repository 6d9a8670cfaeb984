"""``glm-explore``: the command line for batch work, on the same core as the app's pages.

Each subcommand lives in one ``_cmd_*`` function. A region argument is read by
:func:`glm_core.locus.resolve_locus`, the reader the app's pages use, so both accept the same
text. Errors in the user's input are printed as one clear line
(:func:`glm_core.errors.user_message`) and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .evaluation import HELD_OUT_CHROMS
from .genome import EMBEDDED_FASTA

MIN_UMAP_WINDOWS = 4  # glm_core.embedding.umap_projection refuses fewer rows
# Batches per saved chunk of a resumable job (glm_core.chunked_job): a few seconds of work on
# a CPU, under a second on a GPU; a multiple of the batch size keeps results unchanged.
CHUNK_BATCHES = 8


def _tqdm_progress(description: str):
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit="pos", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (a batch size, a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _check_device(name: str | None) -> None:
    """Refuse, before loading anything, a ``--device`` this machine cannot run on."""
    from .devices import check_device

    check_device(name, "--device")


def _model_folder(path: Path | None, device: str | None = None, exact: bool = False) -> Path:
    """``--model``, else the device's default (:func:`~glm_core.models.default_site_model_path`:
    the one-pass model on a CPU, the masked LM with ``--exact`` or on a GPU)."""
    from .models import default_site_model_path

    return Path(path) if path is not None else default_site_model_path(device, exact=exact)


def _load_site_model(path: Path, device: str | None):
    """A site model from ``path``: a k-mer ``.npz`` (``KmerModel.save``), or a masked LM or
    one-pass model folder, by its config.json."""
    from .models import load_site_model, trust_remote_code_from_env

    if Path(path).suffix == ".npz":
        from .kmer import KmerModel

        return KmerModel.load(path)
    return load_site_model(path, device=device, trust_remote_code=trust_remote_code_from_env())


def _config_kind(path: Path) -> str:
    """The kind of the model folder at ``path`` (``masked``, ``one-pass``, ``causal``); ``masked`` when
    unreadable (the loader then names what is wrong)."""
    import json

    from .models import site_model_kind

    try:
        return site_model_kind(json.loads((Path(path) / "config.json").read_text()))
    except (OSError, ValueError):
        return "masked"


def _print_estimate(model, n_positions: int) -> None:
    """A measured time estimate on stderr, for masked models on regions worth one (minutes on a CPU)."""
    if model.kind != "masked" or n_positions < 500:
        return
    from .throughput import describe_estimate, measure_rate

    rate = measure_rate(model)
    print(f"scoring with {model.name} (masked, one window per base) on {model.device}: "
          f"{describe_estimate(n_positions, rate)}", file=sys.stderr)


def _model_words(model) -> str:
    return f"{model.name}, {model.kind}, on {getattr(model, 'device', 'cpu')}"


def _cmd_train_mlm(args: argparse.Namespace) -> int:
    from .outputs import check_output_dir
    from .training import MLMTrainingConfig, train_mlm

    _check_device(args.device)
    check_output_dir(args.output_dir, [args.fasta])

    config = MLMTrainingConfig(
        fasta=str(args.fasta),
        output_dir=str(args.output_dir),
        held_out_chroms=tuple(args.held_out),
        context=args.context,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        hidden_dropout_prob=args.dropout,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        mask_token_fraction=args.mask_token_fraction,
        warmup_steps=args.warmup_steps,
        max_steps=args.max_steps,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_windows=args.eval_windows,
        checkpoint_every=args.checkpoint_every,
        time_limit_s=args.time_limit,
        compile=args.compile,
        device=args.device,
        resume_weights=str(args.resume_weights) if args.resume_weights else None,
    )
    metrics = train_mlm(config, log=lambda line: print(line, flush=True))
    if os.environ.get("RANK", "0") == "0":  # one summary line under torchrun
        print(f"last held-out accuracy {metrics['accuracy']:.4f}, {metrics['bits_per_base']:.4f} bits/base; "
              f"best model in {Path(args.output_dir) / 'best'}")
    return 0


def _cmd_eval_mlm(args: argparse.Namespace) -> int:
    import json

    from .genome import Genome
    from .models import load_masked_lm, load_site_model
    from .outputs import atomic_write, check_outputs
    from .training import heldout_eval_set, masked_lm_metrics

    _check_device(args.device)
    if args.out:
        check_outputs([args.out], [args.model, args.fasta])
    if _config_kind(args.model) == "one-pass":  # nothing to mask: score held-out positions as the model card does
        from .evaluation import sample_eval_positions, site_model_metrics

        model = load_site_model(args.model, device=args.device)
        genome = Genome(args.fasta)
        sites = sample_eval_positions(genome, tuple(args.held_out), fraction=args.site_fraction)
        report = {"model": str(args.model), "kind": model.kind, "held_out": args.held_out,
                  "single_site": site_model_metrics(model, genome, sites)}
        print(f"single site ({model.kind}): accuracy {report['single_site']['accuracy']:.4f}, "
              f"{report['single_site']['bits_per_base']:.4f} bits/base ({report['single_site']['n']:,} positions)")
        if args.out:
            atomic_write(args.out, json.dumps(report, indent=2))
        return 0
    model = load_masked_lm(args.model, device=args.device)
    genome = Genome(args.fasta)
    held_out = tuple(args.held_out)
    inputs, labels = heldout_eval_set(genome, held_out, model.context, max_windows=args.max_windows)
    corrupted, _ = heldout_eval_set(genome, held_out, model.context, max_windows=args.max_windows,
                                    mask_token_fraction=0.8)
    report = {"model": str(args.model), "held_out": args.held_out, "mask_fraction": 0.15}
    rows = (("forward", inputs, False), ("forward_reverse_averaged", inputs, True),
            ("trainer_style_80_10_10_forward", corrupted, False))
    for name, windows, both_strands in rows:
        report[name] = masked_lm_metrics(model.model, windows, labels, model.device, reverse_complement=both_strands)
        print(f"{name}: accuracy {report[name]['accuracy']:.4f}, {report[name]['bits_per_base']:.4f} bits/base "
              f"({report[name]['n_masked']:,} masked bases)")
    if args.out:
        atomic_write(args.out, json.dumps(report, indent=2))
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from . import embedding
    from .chunked_job import ChunkedJob, file_fingerprint
    from .embedding_map import embedding_map
    from .errors import InputError
    from .models import default_batch_size, load_masked_lm
    from .outputs import atomic_path, check_outputs

    if args.umap and args.sample is not None and args.sample < MIN_UMAP_WINDOWS:
        raise InputError(f"--umap needs at least {MIN_UMAP_WINDOWS} windows; --sample {args.sample} asks for fewer")
    _check_device(args.device)
    model_folder = _model_folder(args.model, exact=True)  # embeddings are a masked LM's hidden states
    if _config_kind(model_folder) == "one-pass":
        from .models import BUNDLED_MLM

        raise InputError(
            f"{model_folder} is a one-pass model: it has no per-window hidden states to embed; pass a masked LM "
            f"(e.g. --model {BUNDLED_MLM})"
        )
    check_outputs([args.out], [args.bed, args.fasta, args.annotation, model_folder])
    windows = embedding.windows_from_bed(args.bed) if args.bed is not None else None
    genome, annotation = _genome_and_annotation(args.fasta, args.annotation, args.aliases)
    if windows is None:
        if annotation is None:
            raise InputError("--sample needs the genome's annotation to find region classes: pass --annotation, "
                             "or --bed with your own windows")
        windows = embedding.sample_windows(
            annotation, genome.chrom_sizes, args.sample, args.window_length, args.classes, args.seed, chroms=args.chroms
        )
    else:
        try:  # the windows' ranges, before the model loads
            embedding.embedding_contexts(windows, genome.chrom_sizes)
        except (KeyError, ValueError) as error:
            from .errors import user_message

            raise InputError(f"{args.bed}: {user_message(error)}") from None
    if args.umap and len(windows) < MIN_UMAP_WINDOWS:  # checked before the slow part, embedding
        raise InputError(f"--umap needs at least {MIN_UMAP_WINDOWS} windows; got {len(windows)}: sample or list more")
    model = load_masked_lm(model_folder, device=args.device)
    bar = tqdm(total=len(windows), desc=f"embedding with {model.name}", unit="window", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    began = time.perf_counter()
    if args.cache_dir is not None:
        vectors = embedding.cached_window_embeddings(
            model, genome, windows, args.cache_dir, batch_size=args.batch_size, progress=progress
        )
        job = None
    else:
        batch_size = args.batch_size or default_batch_size(model.device, model.context)
        windows_text = windows[["chrom", "start", "end"]].to_csv(sep="\t", index=False)
        job = ChunkedJob.open(args.out, {
            "command": "embed", "windows": windows_text, "fasta": file_fingerprint(args.fasta),
            "model": file_fingerprint(model_folder), "device": str(model.device), "batch_size": batch_size,
        })
        vectors = job.map(
            len(windows), CHUNK_BATCHES * batch_size,
            lambda first, last: embedding.window_embeddings(model, genome, windows.iloc[first:last],
                                                            batch_size=batch_size),
            progress=progress,
        )
    bar.close()
    seconds = time.perf_counter() - began
    bundle = embedding_map(model, genome, annotation, windows, vectors, str(args.fasta), with_spectrum=False)
    projection = None
    if args.umap:
        projection = embedding.umap_projection(vectors, args.n_neighbors, args.min_dist, args.metric, args.umap_seed)
    sample = umap = None
    if args.bed is None:
        sample = {"n_windows": args.sample, "window_length": args.window_length, "seed": args.seed,
                  "classes": args.classes, "chroms": args.chroms}
    if args.umap:
        umap = {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist, "metric": args.metric,
                "seed": args.umap_seed}
    with atomic_path(args.out) as temporary:
        table = bundle.write(temporary, projection, sample=sample, umap=umap)
    if job is not None:
        job.finish()
    print(f"wrote {len(table):,} windows x {vectors.shape[1]} embedding dimensions to {args.out} "
          f"({model.name} on {model.device}, {seconds:.1f} s)")
    return 0


def _add_embed_parser(commands) -> None:
    embed = commands.add_parser(
        "embed", help="embed genomic windows with a masked LM: parquet of windows, classes and embeddings"
    )
    windows = embed.add_mutually_exclusive_group(required=True)
    windows.add_argument("--bed", type=Path, help="windows to embed (0-based BED); the name column is the class")
    windows.add_argument("--sample", type=int, metavar="N", help="sample N windows, the same number per region class")
    embed.add_argument("--out", type=Path, required=True, help="parquet file to write")
    embed.add_argument("--model", type=Path, default=None,
                       help="a masked LM's save_pretrained folder (default: the bundled gpn-umaydis); one-pass "
                            "models have no window embeddings")
    _add_genome_options(embed, "GFF3/GTF for --sample and the nearest-gene column (default: the embedded one "
                               "with the embedded genome)")
    embed.add_argument("--window-length", type=int, default=100, help="bp per sampled window")
    embed.add_argument("--classes", nargs="+", default=None, help="region classes to sample (default: all present)")
    embed.add_argument("--chroms", nargs="+", default=None, help="sample only on these sequences")
    embed.add_argument("--seed", type=int, default=0, help="sampling seed")
    embed.add_argument("--umap", action="store_true", help="add 2-D UMAP columns umap_x, umap_y")
    embed.add_argument("--n-neighbors", type=int, default=15)
    embed.add_argument("--min-dist", type=float, default=0.1)
    embed.add_argument("--metric", default="euclidean", choices=["euclidean", "cosine", "manhattan", "correlation"])
    embed.add_argument("--umap-seed", type=int, default=0)
    embed.add_argument("--batch-size", type=_positive_int, default=None,
                       help="windows a forward pass (default: by device)")
    embed.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    embed.add_argument("--cache-dir", type=Path, default=None,
                       help="reuse and keep embeddings here (the app uses <cache>/embeddings)")
    embed.set_defaults(handler=_cmd_embed)


def _genome_and_annotation(fasta: Path, annotation_path: Path | None, aliases: str | None = "auto"):
    """The genome and its annotation, opened as the app opens them
    (:func:`glm_core.genome_files.open_genome_files`): ``annotation_path``, else the GFF3
    itself when ``fasta`` is a GFF3 with ``##FASTA``, else the embedded one with the embedded
    genome, else None. ``aliases``: ``auto``, an aliases file, or ``none``."""
    from .genome import EMBEDDED_ANNOTATION
    from .genome_files import open_genome_files

    if annotation_path is None and Path(fasta).resolve() == EMBEDDED_FASTA.resolve():
        annotation_path = EMBEDDED_ANNOTATION
    files = open_genome_files(fasta, annotation_path, aliases=_aliases(aliases))
    for warning in files.warnings:
        print(f"glm-explore: {warning}", file=sys.stderr)
    return files.genome, None if files.annotation.is_empty else files.annotation


def _aliases(value: str | None) -> str | None:
    return None if value is None or str(value).lower() == "none" else str(value)


def _add_genome_options(parser, annotation_help: str) -> None:
    """``--fasta``, ``--annotation`` and ``--aliases``, the same for every command that reads a genome."""
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA,
                        help="the genome: FASTA (plain, gzip or bgzip), or a GFF3 with a ##FASTA section, which is "
                             "then its own annotation (default: the embedded U. maydis genome)")
    parser.add_argument("--annotation", type=Path, default=None, help=annotation_help)
    parser.add_argument("--aliases", default="auto", metavar="auto|FILE|none",
                        help="match annotation sequence names to the FASTA's: 'auto' maps names that differ by a "
                             "systematic pattern (prefix, suffix, chr, a ':'-field, a version), FILE is a two-column "
                             "aliases file (annotation name, FASTA name), 'none' uses them as they are")


def _cmd_info(args: argparse.Namespace) -> int:
    from .genome_files import format_report, genome_report

    print(format_report(genome_report(args.fasta, args.annotation, aliases=_aliases(args.aliases))), end="")
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    import time

    from .chunked_job import ChunkedJob, ResumableSiteModel, file_fingerprint
    from .genome_files import open_genome_files
    from .locus import is_coordinate_query, resolve_locus
    from .logo import position_table
    from .outputs import check_outputs
    from .scoring import site_probabilities
    from .tracks import track_format, write_position_track

    track_format(args.out)  # refuse an unknown extension before scoring
    _check_device(args.device)
    model_folder = _model_folder(args.model, args.device, args.exact)
    check_outputs([args.out], [args.fasta, args.annotation, model_folder])
    genome = open_genome_files(args.fasta, None).genome
    # Coordinates need no annotation; reading one takes seconds.
    annotation = None if is_coordinate_query(args.region, genome) else _genome_and_annotation(
        args.fasta, args.annotation, args.aliases)[1]
    locus = resolve_locus(args.region, genome, annotation, part=_part(args.part), flank=args.flank,
                          strand=args.strand, upstream=args.upstream)
    if len(locus.matches) > 1:
        print(f"glm-explore scan: {len(locus.matches)} transcripts match {args.region!r}; using {locus.transcript_id} "
              "(pass its ID to choose another)", file=sys.stderr)
    region = locus.region
    model = _load_site_model(model_folder, args.device)
    _print_estimate(model, region.end - region.start)
    began = time.perf_counter()
    job = ChunkedJob.open(args.out, {
        "command": "scan", "region": f"{region} ({region.strand})", "fasta": file_fingerprint(args.fasta),
        "model": file_fingerprint(model_folder),
        "device": str(model.device), "batch_size": args.batch_size,
    })
    probabilities = site_probabilities(
        ResumableSiteModel(model, job, CHUNK_BATCHES), genome, region.chrom, region.start, region.end,
        region.strand, batch_size=args.batch_size, progress=_tqdm_progress(f"scoring {region} ({region.strand})"),
    )
    table = position_table(genome, region.chrom, region.start, region.end, region.strand, probabilities, with_llr=True)
    write_position_track(table, args.out, genome.chrom_sizes, value=args.value)
    job.finish()
    what = "per-position table" if track_format(args.out) == "tsv" else f"{track_format(args.out)} of {args.value}"
    print(f"wrote {len(table):,} positions of {region} ({region.strand}) to {args.out} as a {what} "
          f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)")
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
    from .model_comparison import compare_probabilities, joined_tsv
    from .outputs import write_text
    from .scoring import site_probabilities

    second = _load_site_model(args.compare_model, args.device)
    other = site_probabilities(
        second, genome, region.chrom, region.start, region.end, region.strand, batch_size=args.batch_size,
        progress=_tqdm_progress(f"scoring {region} ({region.strand}) with {second.name}"),
    )
    comparison = compare_probabilities(genome, region.chrom, region.start, region.end, region.strand,
                                       probabilities, other, str(model.name), str(second.name))
    path = _comparison_path(args)
    write_text(joined_tsv(comparison), path)
    summary = comparison.summary()
    print(f"wrote {summary['n_snvs']:,} SNVs of {region} compared between {model.name} (_1) and {second.name} (_2) "
          f"to {path}: mean KL {summary['mean_kl_bits']:.4f} bits, LLR Pearson {summary['pearson']:.3f}, "
          f"Spearman {summary['spearman']:.3f}")


def _cmd_dependency(args: argparse.Namespace) -> int:
    import time

    from .dependency import (DEPENDENCY_SUFFIXES, check_dependency_region, dependency_file_bytes,
                             dependency_map, estimate_dependency_seconds)
    from .errors import InputError
    from .genome_files import open_genome_files
    from .locus import is_coordinate_query, resolve_locus
    from .outputs import atomic_write, check_outputs

    suffix = Path(args.out).suffix.lower()
    if suffix not in DEPENDENCY_SUFFIXES:
        raise InputError(f"--out must end in one of {', '.join(DEPENDENCY_SUFFIXES)}; got {args.out}")
    check_outputs([args.out], [args.fasta, args.annotation, _model_folder(args.model, args.device)])
    genome = open_genome_files(args.fasta, None).genome
    annotation = None if is_coordinate_query(args.region, genome) else _genome_and_annotation(
        args.fasta, args.annotation, args.aliases)[1]
    region = resolve_locus(args.region, genome, annotation, part=_part(args.part), flank=args.flank,
                           strand=args.strand, upstream=args.upstream).region
    model = _load_site_model(_model_folder(args.model, args.device), args.device)
    estimate = estimate_dependency_seconds(model, genome, region.chrom, region.start, region.end)
    print(f"dependency map of {region} ({region.strand}), {len(region):,} bp with {model.name}: "
          f"{estimate.n_sequences:,} variant sequences, estimated {estimate.seconds:,.1f} s on {estimate.device}",
          file=sys.stderr)
    check_dependency_region(model, genome, region.chrom, region.start, region.end, estimate=estimate)
    began = time.perf_counter()
    result = dependency_map(
        model, genome, region.chrom, region.start, region.end, region.strand, check_limits=False,
        batch_size=args.batch_size, progress=_tqdm_progress("variant sequences"),
    )
    atomic_write(args.out, dependency_file_bytes(result, suffix))
    print(f"wrote the {len(result)} x {len(result)} dependency map of {region} ({region.strand}) to {args.out} "
          f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)")
    return 0


def _cmd_score_vcf(args: argparse.Namespace) -> int:
    import time

    from . import variants
    from .chunked_job import ChunkedJob, ResumableSiteModel, file_fingerprint
    from .outputs import check_outputs, write_texts
    from .vcf import read_vcf, scored_vcf_text, tsv_path_beside

    _check_device(args.device)
    tsv_path = args.tsv or tsv_path_beside(args.out)
    af_path = tsv_path.with_name(tsv_path.stem + ".af_bins.tsv")  # written when the VCF has allele frequencies
    model_folder = _model_folder(args.model, args.device, args.exact)
    check_outputs([args.out, tsv_path, af_path],
                  [args.vcf, args.fasta, args.annotation, args.background, model_folder])
    vcf = read_vcf(args.vcf)
    genome, annotation = _genome_and_annotation(args.fasta, args.annotation, args.aliases)
    model = _load_site_model(model_folder, args.device)
    if args.background and args.background.suffix.lower() == ".npz":
        from .backgrounds import read_background

        background = read_background(args.background)
    elif args.background:
        background = variants.read_llr_background(args.background)
    else:
        background = variants.model_llr_background(model, genome)
    calibration = variants.model_calibration(model, genome)
    _print_estimate(model, len(vcf))  # about one scored position a record
    began = time.perf_counter()
    if annotation is None:  # consequences then read no_annotation
        from .annotation import Annotation

        annotation = Annotation.empty()
    job = ChunkedJob.open(args.out, {
        "command": "score-vcf", "vcf": file_fingerprint(args.vcf), "fasta": file_fingerprint(args.fasta),
        "model": file_fingerprint(model_folder), "device": str(model.device), "batch_size": args.batch_size,
    })
    scored = variants.score_vcf(
        ResumableSiteModel(model, job, CHUNK_BATCHES), genome, annotation, vcf, background=background,
        calibration=calibration, batch_size=args.batch_size, progress=_tqdm_progress(f"scoring {Path(args.vcf).name}"),
    )
    # Both files are written under temporary names, then renamed together.
    write_texts({args.out: scored_vcf_text(vcf, scored, model.name, Path(args.fasta).name),
                 tsv_path: variants.scored_tsv(scored)})
    job.finish()
    _write_frequency_summary(vcf, scored, af_path)
    for row in variants.chromosome_report(scored).itertuples():
        if row.match != "exact":
            target = row.genome_chrom if row.match == "alias" else f"not scored ({row.match})"
            print(f"chromosome {row.vcf_chrom}: {target} ({row.n_alleles} alleles)", file=sys.stderr)
    counts = ", ".join(f"{row.n} {row.status}" for row in variants.status_counts(scored).itertuples())
    print(f"wrote {len(vcf):,} records ({len(scored):,} alleles: {counts}) to {args.out} and {tsv_path} "
          f"({_model_words(model)}, {time.perf_counter() - began:.1f} s)")
    return 0


def _part(text: str) -> str:
    """``start-codon`` -> ``start codon``, ``donor-of-intron-2`` -> ``donor of intron 2``; checked."""
    from .errors import InputError
    from .locus import GENE_PARTS, accepted_parts, is_gene_part

    part = text.replace("-", " ").strip()
    part = next((known for known in GENE_PARTS if known.lower() == part.lower()), part)
    if not is_gene_part(part):
        raise InputError(f"unknown --part {text!r}; choose one of {accepted_parts().replace(' ', '-')}")
    return part


def _write_frequency_summary(vcf, scored, path: Path) -> None:
    """LLR and cLLR by allele-frequency bin, when the VCF carries AF or AC/AN: to ``path`` and stderr."""
    import numpy as np

    from .allele_frequency import allele_frequencies, frequency_summary
    from .outputs import atomic_write

    frequencies = allele_frequencies(vcf, scored)
    if np.isnan(frequencies).all():
        return
    summary = frequency_summary(scored, frequencies)
    atomic_write(path, summary.to_csv(sep="\t", index=False, float_format="%.4f", lineterminator="\n"))
    print(f"scores by allele frequency (rare -> common), also in {path}:", file=sys.stderr)
    print(summary.to_string(index=False), file=sys.stderr)


MODEL_HELP = ("a save_pretrained folder, masked LM or one-pass model (default: the bundled one-pass model "
              "gpn-umaydis-onepass on a CPU, the masked gpn-umaydis on a GPU or with --exact)")
EXACT_HELP = ("score exactly with the bundled masked LM gpn-umaydis (one 512-bp window a base: ~1 position/s "
              "on a laptop CPU, thousands on a GPU) instead of the one-pass model")


def _add_scan_parsers(commands) -> None:
    from .locus import DEFAULT_PROMOTER_BP, accepted_parts
    from .tracks import TRACK_SUFFIXES, TRACK_VALUES

    scan = commands.add_parser(
        "scan", help="per-position predictions and SNV LLRs of a region, as TSV, bedGraph or bigWig"
    )
    scan.add_argument("region", help="CHR:START-END or 'CHR START END', 1-based inclusive (e.g. chr01:2,632-2,731), "
                                      "a sequence name, or a gene ID or name (e.g. um10944)")
    scan.add_argument("--part", default="whole-gene",
                      help="for a gene: which part to scan, one of " + accepted_parts().replace(" ", "-").replace(
                          ",-", ", ") + " (K = 1, 2, ... from the 5' end; default: whole-gene)")
    scan.add_argument("--upstream", type=int, default=DEFAULT_PROMOTER_BP,
                      help=f"for --part promoter: bp before the TSS, gene's strand (default {DEFAULT_PROMOTER_BP})")
    scan.add_argument("--flank", type=int, default=0,
                      help="for a gene: bases to add on each side (default 0); --part TSS --flank N is TSS +- N")
    scan.add_argument("--strand", choices=["+", "-"], default=None,
                      help="strand to read the bases and probabilities on (TSV; default: the region's or gene's, "
                           "else +); tracks do not depend on it")
    scan.add_argument("--out", type=Path, required=True,
                      help=f"output file; its extension picks the format ({', '.join(TRACK_SUFFIXES)})")
    scan.add_argument("--value", choices=TRACK_VALUES, default="ic",
                      help="what a bedGraph/bigWig carries: information content (bits, default), entropy, "
                           "reference-base probability, or the mean LLR of the three alternative alleles")
    scan.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    scan.add_argument("--exact", action="store_true", help=EXACT_HELP)
    _add_genome_options(scan, "GFF3/GTF to find genes in (default: the embedded one with the embedded genome)")
    scan.add_argument("--batch-size", type=_positive_int, default=None,
                      help="windows a forward pass (default: by device)")
    scan.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    scan.add_argument("--compare-model", type=Path, default=None,
                      help="a second site model (a masked LM or one-pass folder, or a k-mer .npz): also write "
                           "both models' probabilities, KL, delta P(ref) and every SNV's LLR under both (joined TSV)")
    scan.add_argument("--compare-out", type=Path, default=None,
                      help="the joined TSV of --compare-model (default: OUT's stem + .compare.tsv)")
    scan.set_defaults(handler=_cmd_scan)

    dependency = commands.add_parser(
        "dependency", help="nucleotide dependency map of a region: TSV matrix, .npz, or PNG/SVG heat map"
    )
    dependency.add_argument("region", help="as for scan: CHR:START-END (1-based inclusive), or a gene ID or name")
    dependency.add_argument("--out", type=Path, required=True,
                            help="output file; its extension picks the format (.tsv, .npz, .png, .svg)")
    dependency.add_argument("--part", default="whole-gene", help="for a gene: which part to map, as for scan")
    dependency.add_argument("--upstream", type=int, default=DEFAULT_PROMOTER_BP,
                            help=f"for --part promoter: bp before the TSS (default {DEFAULT_PROMOTER_BP})")
    dependency.add_argument("--flank", type=int, default=0, help="for a gene: bases to add on each side")
    dependency.add_argument("--strand", choices=["+", "-"], default=None,
                            help="strand to read (default: the region's or gene's, else +)")
    dependency.add_argument("--model", type=Path, default=None,
                            help="a masked LM or one-pass model folder, or a k-mer .npz (default: the bundled GPN)")
    _add_genome_options(dependency, "GFF3/GTF to find genes in (default: the embedded one with the embedded genome)")
    dependency.add_argument("--batch-size", type=int, default=None, help="windows a forward pass (default: by device)")
    dependency.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    dependency.set_defaults(handler=_cmd_dependency)

    score = commands.add_parser(
        "score-vcf", help="LLR, consequence and gene of every SNV in a VCF; writes a VCF and a TSV"
    )
    score.add_argument("vcf", type=Path, help="input VCF, plain or gzipped")
    score.add_argument("--out", type=Path, required=True,
                       help="output VCF (.vcf, or .vcf.gz for bgzip); one record per ALT allele")
    score.add_argument("--tsv", type=Path, default=None, help="output TSV (default: OUT with .tsv for .vcf[.gz])")
    score.add_argument("--model", type=Path, default=None, help=MODEL_HELP)
    score.add_argument("--exact", action="store_true", help=EXACT_HELP)
    _add_genome_options(score, "GFF3/GTF for consequences (default: the embedded one with the embedded genome; "
                               "without one, consequences read 'no annotation')")
    score.add_argument("--background", type=Path, default=None,
                       help="genome-wide LLR background for GLM_LLR_PCT: llr_background.npz from score-genome, "
                            "or an LLR sample (.npy, or a `scan` TSV) (default: the model folder's, when it was "
                            "computed on this genome)")
    score.add_argument("--batch-size", type=_positive_int, default=None,
                       help="windows a forward pass (default: by device)")
    score.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    score.set_defaults(handler=_cmd_score_vcf)


def _cmd_train_generator(args: argparse.Namespace) -> int:
    from .generation import GeneratorTrainingConfig, train_generator
    from .outputs import check_output_dir

    _check_device(args.device)
    check_output_dir(args.output_dir, [args.fasta, args.annotation, args.tag_table])
    config = GeneratorTrainingConfig(
        output_dir=str(args.output_dir), fasta=str(args.fasta), annotation=str(args.annotation),
        tag_table=str(args.tag_table) if args.tag_table else None, tag_family=args.tag_family,
        n_bins=args.bins, upstream=args.upstream, held_out_chroms=tuple(args.held_out),
        hidden_size=args.hidden_size, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden_size, pretrain_steps=args.pretrain_steps,
        finetune_steps=args.finetune_steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        finetune_learning_rate=args.finetune_learning_rate, unconditional_fraction=args.unconditional_fraction,
        seed=args.seed, eval_every=args.eval_every, time_limit_s=args.time_limit, device=args.device,
        threads=args.threads,
    )
    metrics = train_generator(config, log=lambda line: print(line, flush=True))
    print(f"held-out promoters {metrics['heldout_bits']:.3f} bits/token (opposite tag "
          f"{metrics['heldout_bits_opposite_tag']:.3f}); oracle held-out AUROC "
          f"{metrics['oracle'].get('heldout_auroc', float('nan')):.3f}; model in {args.output_dir}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generation import (designs_fasta, generate_promoters, guidance_warning, load_generator,
                             recommended_guidance)
    from .oracle import KmerOracle
    from .outputs import atomic_write, check_outputs

    _check_device(args.device)
    check_outputs([args.out], [args.model])
    generator = load_generator(args.model, device=args.device)
    generator.tag_ids(args.tag)  # unknown tags fail before any sampling
    guidance = recommended_guidance(generator) if args.guidance is None else args.guidance
    warning = guidance_warning(generator, guidance)
    if warning:
        print(f"glm-explore generate: warning: {warning}", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=args.n * (args.length - len(args.prefix)), desc="sampling", unit="base", file=sys.stderr)
    designs = generate_promoters(
        generator, args.tag, n=args.n, length=args.length, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, guidance_scale=guidance, seed=args.seed, prefix=args.prefix, batch_size=args.batch_size,
        progress=lambda done, total: bar.update(done - bar.n),
    )
    bar.close()
    try:
        designs["oracle_score"] = KmerOracle.load(args.model).score(designs["sequence"])
    except FileNotFoundError:
        pass
    atomic_write(args.out, designs_fasta(designs, seed=args.seed))
    print(f"wrote {len(designs):,} designs of {args.length} bp ({', '.join(args.tag)}, guidance {guidance:g}) "
          f"to {args.out}")
    return 0


def _add_generation_parsers(commands) -> None:
    from .generation import BUNDLED_GENERATOR
    from .genome import EMBEDDED_ANNOTATION

    train = commands.add_parser("train-generator",
                                help="train a tag-conditioned promoter generator (and its k-mer oracle)")
    train.add_argument("--output-dir", type=Path, required=True)
    train.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    train.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    train.add_argument("--tag-table", type=Path, default=None,
                       help="CSV/TSV: gene ID, value or label (default: CAI tertiles against ribosomal-protein genes)")
    train.add_argument("--tag-family", default=None, help="name of the tag family (default: the value column's header)")
    train.add_argument("--bins", type=int, default=3, help="quantile bins for numeric tag values")
    train.add_argument("--upstream", type=int, default=250, help="promoter length upstream of the TSS (bp)")
    train.add_argument("--held-out", nargs="+", default=["chr20", "chr21", "chr22", "chr23"])
    train.add_argument("--hidden-size", type=int, default=128)
    train.add_argument("--layers", type=int, default=4)
    train.add_argument("--heads", type=int, default=4)
    train.add_argument("--pretrain-steps", type=int, default=600)
    train.add_argument("--finetune-steps", type=int, default=1200)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=float, default=2e-3, help="peak learning rate of pretraining")
    train.add_argument("--finetune-learning-rate", type=float, default=1e-3)
    train.add_argument("--unconditional-fraction", type=float, default=0.1,
                       help="share of fine-tuning promoters shown without tags (for classifier-free guidance)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--eval-every", type=int, default=200)
    train.add_argument("--time-limit", type=float, default=None, help="seconds; stop training and save after this")
    train.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    train.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    train.set_defaults(handler=_cmd_train_generator)

    generate = commands.add_parser("generate", help="sample promoters for control tags, as FASTA")
    generate.add_argument("--tag", nargs="+", required=True, help="tags, e.g. HIGH (one per tag family)")
    generate.add_argument("-n", type=_positive_int, default=10, help="number of designs")
    generate.add_argument("--length", type=int, default=250, help="bases per design, prefix included")
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument("--top-k", type=int, default=None)
    generate.add_argument("--top-p", type=float, default=None)
    generate.add_argument("--guidance", type=float, default=None, metavar="W",
                          help="classifier-free tag guidance: 1 = off, > 1 = designs carry the tags' signature "
                               "more strongly (needs a generator trained with --unconditional-fraction > 0; "
                               "default: the model folder's recommended_guidance, else 1)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--prefix", default="", help="fixed 5' bases every design starts with")
    generate.add_argument("--batch-size", type=_positive_int, default=64)
    generate.add_argument("--model", type=Path, default=BUNDLED_GENERATOR, help="a train-generator output folder")
    generate.add_argument("--device", default=None)
    generate.add_argument("--out", type=Path, required=True, help="FASTA file to write")
    generate.set_defaults(handler=_cmd_generate)


def _cmd_distill(args: argparse.Namespace) -> int:
    from .distill import DistillationConfig, distill

    config = DistillationConfig(
        teacher=str(args.teacher),
        output_dir=str(args.output_dir),
        fasta=str(args.fasta),
        held_out_chroms=tuple(args.held_out),
        hidden_size=args.hidden_size,
        dropout=args.dropout,
        target_spacing=args.target_spacing,
        target_time_limit_s=args.target_time_limit if args.target_time_limit > 0 else None,
        agreement_windows=args.agreement_windows,
        window=args.window,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        max_steps=args.max_steps,
        time_limit_s=args.time_limit,
        kl_weight=args.kl_weight,
        ce_weight=args.ce_weight,
        eval_every=args.eval_every,
        seed=args.seed,
        compile=args.compile,
        device=args.device,
    )
    summary = distill(config, log=lambda line: print(line, flush=True))
    best = summary["best"]
    print(f"best held-out accuracy {best['accuracy']:.4f}, {best['bits_per_base']:.4f} bits/base at step "
          f"{best['step']}; one-pass model in {args.output_dir}")
    return 0


def _add_distill_parser(commands) -> None:
    distill = commands.add_parser(
        "distill", help="train a one-pass site model from a masked LM (distillation)",
        description="Labels the training chromosomes with the teacher (one base in every --target-spacing "
                    "masked at once in each window's central half, fwd/RC averaged), then trains a blind-spot "
                    "one-pass model on KL to those targets plus cross-entropy on the true base. The held-out "
                    "chromosomes are never trained on; the best held-out model is saved as a save_pretrained folder.")
    distill.add_argument("--teacher", type=Path, required=True, help="a masked LM save_pretrained folder")
    distill.add_argument("--output-dir", type=Path, required=True, help="the one-pass model is saved here")
    distill.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    distill.add_argument("--held-out", nargs="+", default=list(HELD_OUT_CHROMS))
    distill.add_argument("--hidden-size", type=int, default=256)
    distill.add_argument("--dropout", type=float, default=0.1)
    distill.add_argument("--target-spacing", type=int, default=32, help="bases between bases masked together")
    distill.add_argument("--target-time-limit", type=float, default=90.0,
                         help="seconds of teacher labelling (bases spread over the genome); 0 or less: all phases")
    distill.add_argument("--agreement-windows", type=int, default=512,
                         help="held-out windows on which the cheap targets are compared with exact single-site ones")
    distill.add_argument("--window", type=int, default=2048, help="bases per training window")
    distill.add_argument("--batch-size", type=int, default=64, help="windows a step")
    distill.add_argument("--learning-rate", type=float, default=2e-3)
    distill.add_argument("--warmup-steps", type=int, default=300)
    distill.add_argument("--max-steps", type=int, default=20_000)
    distill.add_argument("--time-limit", type=float, default=None, help="seconds of training; the schedule ends there")
    distill.add_argument("--kl-weight", type=float, default=1.0)
    distill.add_argument("--ce-weight", type=float, default=0.5)
    distill.add_argument("--eval-every", type=int, default=500)
    distill.add_argument("--seed", type=int, default=0)
    distill.add_argument("--compile", action="store_true", help="torch.compile the student (CUDA)")
    distill.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    distill.set_defaults(handler=_cmd_distill)


def _cmd_score_genome(args: argparse.Namespace) -> int:
    from .genome_scores import DEFAULT_ONEPASS, GenomeScoreSettings, Processes, score_genome
    from .outputs import check_output_dir

    _check_device(args.device)
    model_folder = Path(args.model) if args.model is not None else DEFAULT_ONEPASS
    check_output_dir(args.out_dir, [args.fasta, args.annotation, model_folder, args.regions], option="--out-dir")
    processes = Processes(args.device)
    try:
        genome, annotation = _genome_and_annotation(args.fasta, args.annotation)
        annotation_path = args.annotation
        if annotation_path is None and annotation is not None:
            from .genome import EMBEDDED_ANNOTATION

            annotation_path = EMBEDDED_ANNOTATION
        model = _load_site_model(model_folder, processes.device)
        settings = GenomeScoreSettings(chunk_size=args.chunk_size, regions=args.regions, calibration=args.calibration,
                                       proxy=args.neutral_proxy, batch_size=args.batch_size)
        first = processes.rank == 0
        manifest = score_genome(
            model, genome, annotation, args.out_dir, model_folder=model_folder, annotation_path=annotation_path,
            settings=settings, processes=processes,
            progress=_tqdm_progress(f"scoring {genome.path.name}") if first else None,
            log=(lambda line: print(line, file=sys.stderr)) if first else (lambda line: None),
        )
    finally:
        processes.close()
    if manifest is not None:
        print(f"wrote {args.out_dir}: {manifest['bases']:,} bases, {manifest['n_snvs']:,} SNVs "
              f"({manifest['model']} on {manifest['device']}, {manifest['processes']} process(es), "
              f"{manifest['wall_s']:.1f} s)")
    return 0


def _add_score_genome_parser(commands) -> None:
    from .calibration import NEUTRAL_PROXIES
    from .genome_scores import DEFAULT_CHUNK_SIZE, DEFAULT_PROXY

    genome = commands.add_parser(
        "score-genome", help="every position of a genome: bigWigs, a track hub, a tabix SNV table with (c)LLRs",
        description="Scores every base (or the --regions) with a site model and writes P(A/C/G/T), information "
                    "content and P(ref) bigWigs, a UCSC track hub, an IGV session, every possible SNV with its "
                    "LLR, calibrated LLR, consequence and gene (bgzip + tabix), calibration and background tables "
                    "and a manifest. Resumable: run the same command again to continue. Under torchrun each "
                    "process scores its share of the chunks.")
    genome.add_argument("--out-dir", type=Path, required=True, help="output folder (created if missing)")
    genome.add_argument("--model", type=Path, default=None,
                        help="a site model folder, masked or one-pass (default: the bundled one-pass model)")
    genome.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    genome.add_argument("--annotation", type=Path, default=None,
                        help="GFF3/GTF for consequences and neutral sites (default: the embedded one with the "
                             "embedded genome)")
    genome.add_argument("--regions", type=Path, default=None, help="BED of regions to score (default: everything)")
    genome.add_argument("--chunk-size", type=_positive_int, default=DEFAULT_CHUNK_SIZE,
                        help=f"bases a saved chunk (default {DEFAULT_CHUNK_SIZE:,})")
    genome.add_argument("--calibration", type=Path, default=None,
                        help="a calibration.tsv to use for cLLR (default: computed from this genome's neutral "
                             "sites, else the model's own)")
    genome.add_argument("--neutral-proxy", choices=NEUTRAL_PROXIES, default=DEFAULT_PROXY,
                        help=f"neutral sites for the calibration table (default {DEFAULT_PROXY})")
    genome.add_argument("--batch-size", type=_positive_int, default=None,
                        help="windows a forward pass (default: by device)")
    genome.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    genome.set_defaults(handler=_cmd_score_genome)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glm-explore", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train-mlm", help="train a GPN ConvNet masked LM on a FASTA file")
    train.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    train.add_argument("--output-dir", type=Path, required=True, help="checkpoints and the best model go here")
    train.add_argument("--held-out", nargs="+", default=list(HELD_OUT_CHROMS),
                       help="chromosomes kept out of training for validation")
    train.add_argument("--context", type=int, default=512)
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--layers", type=int, default=16)
    train.add_argument("--intermediate-size", type=int, default=None, help="default: 4 x hidden size")
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--batch-size", type=_positive_int, default=256,
                       help="windows a step; under torchrun split evenly across the processes")
    train.add_argument("--learning-rate", type=float, default=1.5e-3)
    train.add_argument("--mask-token-fraction", type=float, default=0.8,
                       help="share of the chosen positions shown as [MASK]; the rest split evenly between "
                            "a random base and the true base (BERT: 0.8)")
    train.add_argument("--warmup-steps", type=int, default=500)
    train.add_argument("--max-steps", type=int, default=8000)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--eval-every", type=int, default=500)
    train.add_argument("--eval-windows", type=int, default=1024)
    train.add_argument("--checkpoint-every", type=int, default=1000)
    train.add_argument("--time-limit", type=float, default=None, help="seconds; stop and checkpoint after this")
    train.add_argument("--compile", action="store_true", help="torch.compile the encoder (CUDA)")
    train.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    train.add_argument("--resume-weights", type=Path, default=None,
                       help="continue from a 'latest' weights folder when the output folder has no checkpoint")
    train.set_defaults(handler=_cmd_train_mlm)

    evaluate = commands.add_parser(
        "eval-mlm", help="held-out accuracy and bits/base of a masked LM (or a one-pass model)",
        description="Masked LM: scores 15 %% of the bases of every held-out 512-bp window, all replaced by [MASK] "
                    "(forward, and forward/reverse-complement averaged), and once more corrupted 80/10/10 "
                    "as in training (forward), which is how a Hugging Face Trainer's evaluation measures. "
                    "One-pass model: single-site accuracy and bits/base at a fixed random sample of held-out "
                    "positions (--site-fraction), as its model card reports them.")
    evaluate.add_argument("--model", type=Path, required=True, help="a save_pretrained folder, masked or one-pass")
    evaluate.add_argument("--site-fraction", type=float, default=0.15,
                          help="one-pass models: share of the held-out A/C/G/T positions scored (default 0.15)")
    evaluate.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    evaluate.add_argument("--held-out", nargs="+", default=list(HELD_OUT_CHROMS))
    evaluate.add_argument("--max-windows", type=int, default=None,
                          help="evaluate a random subset of the non-overlapping held-out windows")
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--out", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.set_defaults(handler=_cmd_eval_mlm)
    info = commands.add_parser(
        "info", help="what a genome and its annotation hold, read as the app reads them: sequences, genes, "
                     "transcripts, features by type, the name mapping applied, warnings")
    _add_genome_options(info, "GFF3, GTF or GFF2 annotation (default: none; a GFF3 with ##FASTA is its own)")
    info.set_defaults(handler=_cmd_info)
    _add_embed_parser(commands)
    _add_scan_parsers(commands)
    _add_generation_parsers(commands)
    _add_distill_parser(commands)
    _add_score_genome_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Library chatter off before transformers is imported: its warnings and "Loading weights" bars.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import user_message

    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"glm-explore {args.command}: interrupted; run the same command again to continue where it "
              "stopped", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as error:
        # ValueError covers InputError; OSError covers missing, unreadable or unwritable files.
        print(f"glm-explore {args.command}: error: {user_message(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
