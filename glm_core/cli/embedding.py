"""``embed``: a masked LM's embeddings of genomic windows, as parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import (
    CHUNK_BATCHES,
    _add_genome_options,
    _check_device,
    _config_kind,
    _genome_and_annotation,
    _model_folder,
    _positive_int,
)

MIN_UMAP_WINDOWS = 4  # glm_core.embedding.umap_projection refuses fewer rows


def _windows_to_embed(args: argparse.Namespace):
    """The genome, its annotation (or None) and the windows to embed: ``--bed``'s, their ranges checked
    before the model loads, else ``--sample``'s, drawn per region class from the annotation."""
    from .. import embedding
    from ..errors import InputError

    windows = embedding.windows_from_bed(args.bed) if args.bed is not None else None
    genome, annotation = _genome_and_annotation(args.fasta, args.annotation, args.aliases)
    if windows is None:
        if annotation is None:
            raise InputError(
                "--sample needs the genome's annotation to find region classes: pass --annotation, "
                "or --bed with your own windows"
            )
        windows = embedding.sample_windows(
            annotation, genome.chrom_sizes, args.sample, args.window_length, args.classes, args.seed, chroms=args.chroms
        )
    else:
        try:  # the windows' ranges, before the model loads
            embedding.embedding_contexts(windows, genome.chrom_sizes)
        except (KeyError, ValueError) as error:
            from ..errors import user_message

            raise InputError(f"{args.bed}: {user_message(error)}") from None
    return genome, annotation, windows


def _cmd_embed(args: argparse.Namespace) -> int:
    """``glm-explore embed``: windows, model, embeddings, map and output, in order.

    Kept as one function because its steps run once each and share the parsed arguments;
    most of its length is calls laid out one argument a line."""
    import time

    from tqdm import tqdm

    from .. import embedding
    from ..chunked_job import ChunkedJob, file_fingerprint
    from ..embedding_map import embedding_map
    from ..errors import InputError
    from ..models import default_batch_size, load_masked_lm
    from ..outputs import atomic_path, check_outputs

    if args.umap and args.sample is not None and args.sample < MIN_UMAP_WINDOWS:
        raise InputError(f"--umap needs at least {MIN_UMAP_WINDOWS} windows; --sample {args.sample} asks for fewer")
    _check_device(args.device)
    model_folder = _model_folder(args.model, exact=True)  # embeddings are a masked LM's hidden states
    if _config_kind(model_folder) == "one-pass":
        from ..models import BUNDLED_MLM

        raise InputError(
            f"{model_folder} is a one-pass model: it has no per-window hidden states to embed; pass a masked LM "
            f"(e.g. --model {BUNDLED_MLM})"
        )
    check_outputs([args.out], [args.bed, args.fasta, args.annotation, model_folder])
    genome, annotation, windows = _windows_to_embed(args)
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
        job = ChunkedJob.open(
            args.out,
            {
                "command": "embed",
                "windows": windows_text,
                "fasta": file_fingerprint(args.fasta),
                "model": file_fingerprint(model_folder),
                "device": str(model.device),
                "batch_size": batch_size,
            },
        )
        vectors = job.map(
            len(windows),
            CHUNK_BATCHES * batch_size,
            lambda first, last: embedding.window_embeddings(
                model, genome, windows.iloc[first:last], batch_size=batch_size
            ),
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
        sample = {
            "n_windows": args.sample,
            "window_length": args.window_length,
            "seed": args.seed,
            "classes": args.classes,
            "chroms": args.chroms,
        }
    if args.umap:
        umap = {
            "n_neighbors": args.n_neighbors,
            "min_dist": args.min_dist,
            "metric": args.metric,
            "seed": args.umap_seed,
        }
    with atomic_path(args.out) as temporary:
        table = bundle.write(temporary, projection, sample=sample, umap=umap)
    if job is not None:
        job.finish()
    print(
        f"wrote {len(table):,} windows x {vectors.shape[1]} embedding dimensions to {args.out} "
        f"({model.name} on {model.device}, {seconds:.1f} s)"
    )
    return 0


def add_embed_parser(commands) -> None:
    embed = commands.add_parser(
        "embed", help="embed genomic windows with a masked LM: parquet of windows, classes and embeddings"
    )
    windows = embed.add_mutually_exclusive_group(required=True)
    windows.add_argument("--bed", type=Path, help="windows to embed (0-based BED); the name column is the class")
    windows.add_argument("--sample", type=int, metavar="N", help="sample N windows, the same number per region class")
    embed.add_argument("--out", type=Path, required=True, help="parquet file to write")
    embed.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a masked LM's save_pretrained folder (default: the bundled gpn-umaydis); one-pass "
        "models have no window embeddings",
    )
    _add_genome_options(
        embed, "GFF3/GTF for --sample and the nearest-gene column (default: the embedded one with the embedded genome)"
    )
    embed.add_argument("--window-length", type=int, default=100, help="bp per sampled window")
    embed.add_argument("--classes", nargs="+", default=None, help="region classes to sample (default: all present)")
    embed.add_argument("--chroms", nargs="+", default=None, help="sample only on these sequences")
    embed.add_argument("--seed", type=int, default=0, help="sampling seed")
    embed.add_argument("--umap", action="store_true", help="add 2-D UMAP columns umap_x, umap_y")
    embed.add_argument("--n-neighbors", type=int, default=15)
    embed.add_argument("--min-dist", type=float, default=0.1)
    embed.add_argument("--metric", default="euclidean", choices=["euclidean", "cosine", "manhattan", "correlation"])
    embed.add_argument("--umap-seed", type=int, default=0)
    embed.add_argument(
        "--batch-size", type=_positive_int, default=None, help="windows a forward pass (default: by device)"
    )
    embed.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    embed.add_argument(
        "--cache-dir", type=Path, default=None, help="reuse and keep embeddings here (the app uses <cache>/embeddings)"
    )
    embed.set_defaults(handler=_cmd_embed)
