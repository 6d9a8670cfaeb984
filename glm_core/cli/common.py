"""Option helpers shared by the ``glm-explore`` subcommands: genome options, the model folder
and loader, the device check, the progress bar, positive whole numbers and ``--part``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..genome import EMBEDDED_FASTA

# Batches per saved chunk of a resumable job (glm_core.chunked_job): a few seconds of work on
# a CPU, under a second on a GPU; a multiple of the batch size keeps results unchanged.
CHUNK_BATCHES = 8


def _tqdm_progress(description: str, unit: str = "pos"):
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr, counting ``unit``s."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr)
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
    from ..devices import check_device

    check_device(name, "--device")


def _model_folder(path: Path | None, device: str | None = None, exact: bool = False) -> Path:
    """``--model``, else the device's default (:func:`~glm_core.models.default_site_model_path`:
    the one-pass model on a CPU, the masked LM with ``--exact`` or on a GPU)."""
    from ..models import default_site_model_path

    return Path(path) if path is not None else default_site_model_path(device, exact=exact)


def _load_site_model(path: Path, device: str | None):
    """A site model from ``path``: a k-mer ``.npz`` (``KmerModel.save``), or a masked LM or
    one-pass model folder, by its config.json."""
    from ..models import load_site_model, trust_remote_code_from_env

    if Path(path).suffix == ".npz":
        from ..kmer import KmerModel

        return KmerModel.load(path)
    return load_site_model(path, device=device, trust_remote_code=trust_remote_code_from_env())


def _config_kind(path: Path) -> str:
    """The kind of the model folder at ``path`` (``masked``, ``one-pass``, ``causal``); ``masked`` when
    unreadable (the loader then names what is wrong)."""
    import json

    from ..models import site_model_kind

    try:
        return site_model_kind(json.loads((Path(path) / "config.json").read_text()))
    except (OSError, ValueError):
        return "masked"


def _print_estimate(model, n_positions: int) -> None:
    """A measured time estimate on stderr, for masked models on regions worth one (minutes on a CPU)."""
    if model.kind != "masked" or n_positions < 500:
        return
    from ..throughput import describe_estimate, measure_rate

    rate = measure_rate(model)
    print(
        f"scoring with {model.name} (masked, one window per base) on {model.device}: "
        f"{describe_estimate(n_positions, rate)}",
        file=sys.stderr,
    )


def _model_words(model) -> str:
    return f"{model.name}, {model.kind}, on {getattr(model, 'device', 'cpu')}"


def _genome_and_annotation(fasta: Path, annotation_path: Path | None, aliases: str | None = "auto"):
    """The genome and its annotation, opened as the app opens them
    (:func:`glm_core.genome_files.open_genome_files`): ``annotation_path``, else the GFF3
    itself when ``fasta`` is a GFF3 with ``##FASTA``, else the embedded one with the embedded
    genome, else None. ``aliases``: ``auto``, an aliases file, or ``none``."""
    from ..genome import EMBEDDED_ANNOTATION
    from ..genome_files import open_genome_files

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
    parser.add_argument(
        "--fasta",
        type=Path,
        default=EMBEDDED_FASTA,
        help="the genome: FASTA (plain, gzip or bgzip), or a GFF3 with a ##FASTA section, which is "
        "then its own annotation (default: the embedded U. maydis genome)",
    )
    parser.add_argument("--annotation", type=Path, default=None, help=annotation_help)
    parser.add_argument(
        "--aliases",
        default="auto",
        metavar="auto|FILE|none",
        help="match annotation sequence names to the FASTA's: 'auto' maps names that differ by a "
        "systematic pattern (prefix, suffix, chr, a ':'-field, a version), FILE is a two-column "
        "aliases file (annotation name, FASTA name), 'none' uses them as they are",
    )


def _part(text: str) -> str:
    """``start-codon`` -> ``start codon``, ``donor-of-intron-2`` -> ``donor of intron 2``; checked."""
    from ..errors import InputError
    from ..locus import GENE_PARTS, accepted_parts, is_gene_part

    part = text.replace("-", " ").strip()
    part = next((known for known in GENE_PARTS if known.lower() == part.lower()), part)
    if not is_gene_part(part):
        raise InputError(f"unknown --part {text!r}; choose one of {accepted_parts().replace(' ', '-')}")
    return part


MODEL_HELP = (
    "a save_pretrained folder, masked LM or one-pass model (default: the bundled one-pass model "
    "gpn-umaydis-onepass on a CPU, the masked gpn-umaydis on a GPU or with --exact)"
)
EXACT_HELP = (
    "score exactly with the bundled masked LM gpn-umaydis (one 512-bp window a base: ~1 position/s "
    "on a laptop CPU, thousands on a GPU) instead of the one-pass model"
)
