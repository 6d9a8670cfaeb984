"""``score-genome``: every position of a genome, as tracks, a hub and a tabix SNV table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..genome import EMBEDDED_FASTA
from .common import _check_device, _genome_and_annotation, _load_site_model, _positive_int, _tqdm_progress


def _cmd_score_genome(args: argparse.Namespace) -> int:
    from ..genome_scores import DEFAULT_ONEPASS, GenomeScoreSettings, score_genome
    from ..processes import Processes
    from ..outputs import check_output_dir

    _check_device(args.device)
    model_folder = Path(args.model) if args.model is not None else DEFAULT_ONEPASS
    check_output_dir(args.out_dir, [args.fasta, args.annotation, model_folder, args.regions], option="--out-dir")
    processes = Processes(args.device)
    try:
        genome, annotation = _genome_and_annotation(args.fasta, args.annotation)
        annotation_path = args.annotation
        if annotation_path is None and annotation is not None:
            from ..genome import EMBEDDED_ANNOTATION

            annotation_path = EMBEDDED_ANNOTATION
        model = _load_site_model(model_folder, processes.device)
        settings = GenomeScoreSettings(
            chunk_size=args.chunk_size,
            regions=args.regions,
            calibration=args.calibration,
            proxy=args.neutral_proxy,
            batch_size=args.batch_size,
        )
        first = processes.rank == 0
        manifest = score_genome(
            model,
            genome,
            annotation,
            args.out_dir,
            model_folder=model_folder,
            annotation_path=annotation_path,
            settings=settings,
            processes=processes,
            progress=_tqdm_progress(f"scoring {genome.path.name}") if first else None,
            log=(lambda line: print(line, file=sys.stderr)) if first else (lambda line: None),
        )
    finally:
        processes.close()
    if manifest is not None:
        print(
            f"wrote {args.out_dir}: {manifest['bases']:,} bases, {manifest['n_snvs']:,} SNVs "
            f"({manifest['model']} on {manifest['device']}, {manifest['processes']} process(es), "
            f"{manifest['wall_s']:.1f} s)"
        )
    return 0


def add_score_genome_parser(commands) -> None:
    from ..calibration import NEUTRAL_PROXIES
    from ..genome_scores import DEFAULT_CHUNK_SIZE, DEFAULT_PROXY

    genome = commands.add_parser(
        "score-genome",
        help="every position of a genome: bigWigs, a track hub, a tabix SNV table with (c)LLRs",
        description="Scores every base (or the --regions) with a site model and writes P(A/C/G/T), information "
        "content and P(ref) bigWigs, a UCSC track hub, an IGV session, every possible SNV with its "
        "LLR, calibrated LLR, consequence and gene (bgzip + tabix), calibration and background tables "
        "and a manifest. Resumable: run the same command again to continue. Under torchrun each "
        "process scores its share of the chunks.",
    )
    genome.add_argument("--out-dir", type=Path, required=True, help="output folder (created if missing)")
    genome.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a site model folder, masked or one-pass (default: the bundled one-pass model)",
    )
    genome.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    genome.add_argument(
        "--annotation",
        type=Path,
        default=None,
        help="GFF3/GTF for consequences and neutral sites (default: the embedded one with the embedded genome)",
    )
    genome.add_argument("--regions", type=Path, default=None, help="BED of regions to score (default: everything)")
    genome.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"bases a saved chunk (default {DEFAULT_CHUNK_SIZE:,})",
    )
    genome.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a calibration.tsv to use for cLLR (default: computed from this genome's neutral "
        "sites, else the model's own)",
    )
    genome.add_argument(
        "--neutral-proxy",
        choices=NEUTRAL_PROXIES,
        default=DEFAULT_PROXY,
        help=f"neutral sites for the calibration table (default {DEFAULT_PROXY})",
    )
    genome.add_argument(
        "--batch-size", type=_positive_int, default=None, help="windows a forward pass (default: by device)"
    )
    genome.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    genome.set_defaults(handler=_cmd_score_genome)
