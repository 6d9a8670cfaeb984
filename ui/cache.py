"""Everything the app caches: ``st.cache_resource`` for opened genome files and models (one
object shared by every session: never mutate it), ``st.cache_data`` for results keyed by
hashable inputs (a leading underscore keeps an argument out of the key).

Files written for the cache (decompressed FASTA copies, links to read-only FASTA files) go
under :func:`ui.choices.cache_dir`, never beside the user's files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from glm_core import embedding
from glm_core.chrom_names import NameMapping, propose_name_mapping
from glm_core.genome import Genome, format_region
from glm_core.genome_files import GenomeFiles, find_genome_files, open_genome_files
from glm_core.gff import read_annotation
from glm_core.models import MaskedLM, load_site_model
from ui.choices import GenomeChoice, LoadedGenome, cache_dir, data_dir, file_stamp

# --------------------------------------------------------------------------- genomes


@st.cache_resource(show_spinner="Opening the genome files…", max_entries=8)
def open_files(
    fasta: str,
    fasta_stamp: tuple[int, int],
    annotation: str | None,
    annotation_stamp: tuple[int, int],
    aliases: str | None,
    aliases_stamp: tuple[int, int],
) -> GenomeFiles:
    """:func:`glm_core.genome_files.open_genome_files`, shared by all sessions; keyed by the
    paths, their file stamps and the aliases choice.

    Anything written for it (the FASTA index, a decompressed copy, the sequences of a GFF3
    with ``##FASTA``) goes to the app's cache folder, never beside the user's files.
    """
    return open_genome_files(fasta, annotation, aliases=aliases, cache_dir=cache_dir())


def load(choice: GenomeChoice) -> LoadedGenome:
    """Genome and annotation of ``choice``, with agreeing sequence names (an empty annotation
    when there is none).

    Raises InputError (a ValueError naming both sets of names), KeyError or FileNotFoundError.
    """
    files = open_files(
        choice.fasta,
        choice.fasta_stamp,
        choice.annotation,
        choice.annotation_stamp,
        choice.aliases,
        choice.aliases_stamp,
    )
    return LoadedGenome(choice, files.genome, files.annotation, tuple(files.warnings), files.name_mapping)


@st.cache_data(show_spinner="Comparing sequence names…", max_entries=8)
def proposed_name_mapping(choice: GenomeChoice) -> NameMapping | None:
    """The mapping of the annotation's sequence names onto the FASTA's that
    :func:`glm_core.chrom_names.propose_name_mapping` proposes; None without annotation or
    when the names agree already."""
    if choice.annotation is None or Path(choice.annotation) == Path(choice.fasta):
        return None
    genome = open_files(choice.fasta, choice.fasta_stamp, None, (0, 0), None, (0, 0)).genome
    names = pd.unique(read_annotation(choice.annotation)["chrom"])
    mapping = propose_name_mapping(genome.chrom_sizes, names)
    return mapping if mapping.renames else None


@st.cache_data(show_spinner="Looking for genome files…", max_entries=8)
def genome_files_in(folder: str, listing: tuple) -> pd.DataFrame:
    """:func:`glm_core.genome_files.find_genome_files` of ``folder``; ``listing`` (every
    file's path and stamp) keys the cache, so added or edited files are seen."""
    return find_genome_files(folder)


@st.cache_data(show_spinner="Measuring the sequences…", max_entries=16)
def genome_summary(choice: GenomeChoice) -> pd.DataFrame:
    """One row a sequence: ``chrom, length, gc, n_count`` (see :meth:`Genome.summary`)."""
    return load(choice).genome.summary()


@st.cache_data(show_spinner="Classifying every base…", max_entries=16)
def region_class_totals(choice: GenomeChoice, promoter_length: int = 500, downstream_length: int = 500) -> pd.DataFrame:
    """Bases per region class: ``region_class, bases, fraction`` (see :meth:`Annotation.region_class_totals`)."""
    loaded = load(choice)
    return loaded.annotation.region_class_totals(loaded.genome.chrom_sizes, promoter_length, downstream_length)


# --------------------------------------------------------------------------- masked LMs and their scores


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(path: str, stamp: tuple[int, int], device: str | None, trust_remote_code: bool):
    """The loaded site model (masked or one-pass, by its config), shared by every session (never mutate it)."""
    return load_site_model(path, device=device, trust_remote_code=trust_remote_code)


@st.cache_data(show_spinner="Timing the model on this device…", max_entries=16)
def site_rate(model_id: tuple, _model) -> float:
    """Positions/s the model scores on its device, measured once a process
    (:func:`glm_core.throughput.measure_rate`); ``model_id`` (:func:`model_key`) names model and device."""
    from glm_core import throughput

    return throughput.measure_rate(_model)


def model_key(model) -> tuple[str, str, tuple[int, int]]:
    """Cache key of a loaded model: its folder, device and config stamp (a retrained model differs)."""
    folder = str(model.path or model.name)
    return (folder, str(model.device), file_stamp(Path(folder) / "config.json"))


@st.cache_data(show_spinner=False, max_entries=64)
def region_probabilities(
    model_id: tuple,
    choice: GenomeChoice,
    chrom: str,
    start: int,
    end: int,
    strand: str,
    _model: MaskedLM,
    _genome: Genome,
):
    """``site_probabilities`` of ``[start, end)`` (0-based half-open) on ``strand``, cached per
    (model, genome, region, strand), with a progress bar while the model runs.

    The minus strand is read off the cached plus strand (:func:`glm_core.scoring.minus_strand`).
    """
    from glm_core.scoring import minus_strand, site_probabilities

    if strand == "-":
        return minus_strand(region_probabilities(model_id, choice, chrom, start, end, "+", _model, _genome))
    label = f"Scoring {format_region(chrom, start, end)} with {_model.name} on {_model.device}"
    bar = st.progress(0.0, text=label)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{label}: {done:,} of {total:,} positions")

    probabilities = site_probabilities(_model, _genome, chrom, start, end, "+", progress=progress)
    bar.empty()
    return probabilities


@st.cache_data(show_spinner=False, max_entries=16)
def scored_vcf(
    model_id: tuple, choice: GenomeChoice, digest: str, _model: MaskedLM, _loaded: LoadedGenome, _vcf
) -> pd.DataFrame:
    """``glm_core.variants.score_vcf`` of a VCF, cached per (model, genome, file content digest),
    with a progress bar while the model runs."""
    from glm_core.variants import score_vcf

    bar = st.progress(0.0, text=f"Scoring {_vcf.source} with {_model.name} on {_model.device}")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scoring {_vcf.source}: {done:,} of {total:,} positions")

    background, calibration = score_tables(_model, _loaded)
    table = score_vcf(
        _model,
        _loaded.genome,
        _loaded.annotation,
        _vcf,
        background=background,
        calibration=calibration,
        progress=progress,
    )
    bar.empty()
    return table


# --------------------------------------------------------------------------- precomputed genome-wide scores

SCORES_FOLDER = "scores"


def scores_folders() -> tuple[Path, ...]:
    """Where the app looks for ``glm-explore score-genome`` output folders (each itself or one level down)."""
    return (data_dir() / SCORES_FOLDER, cache_dir() / SCORES_FOLDER)


def _manifest_stamps(folders: tuple[Path, ...]) -> tuple:
    """Path and stamp of every manifest the folders hold: a run that finishes later changes the key."""
    from glm_core.genome_hub import MANIFEST

    stamps = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
            if (candidate / MANIFEST).is_file():
                stamps.append((str(candidate / MANIFEST), file_stamp(candidate / MANIFEST)))
    return tuple(stamps)


@st.cache_resource(show_spinner="Looking for precomputed scores…", max_entries=8)
def _precomputed(model_id: tuple, choice: GenomeChoice, manifests: tuple, _genome: Genome, _model):
    from glm_core.genome_hub import precomputed_scores as find

    for folder in scores_folders():
        found = find(folder, _genome, _model)
        if found is not None:
            return found
    return None


def precomputed_scores(model, loaded: LoadedGenome):
    """The score-genome folder (:class:`glm_core.genome_hub.PrecomputedScores`) of this genome and
    model under :func:`scores_folders`, or None; keyed by model, genome and the manifests there
    (hashing the genome and weights happens once per key)."""
    return _precomputed(model_key(model), loaded.choice, _manifest_stamps(scores_folders()), loaded.genome, model)


@st.cache_data(show_spinner=False, max_entries=64)
def _position_scores(folder: str, manifest_stamp, chrom: str, start: int, end: int, _found) -> pd.DataFrame:
    return _found.position_scores(chrom, start, end)


def precomputed_position_scores(found, chrom: str, start: int, end: int) -> pd.DataFrame:
    """``found.position_scores`` (a :class:`glm_core.genome_hub.PrecomputedScores`) of a region,
    cached per folder, its manifest's stamp (a rerun of score-genome is read again) and region."""
    from glm_core.genome_hub import MANIFEST

    return _position_scores(str(found.folder), file_stamp(found.folder / MANIFEST), chrom, start, end, found)


def score_tables(model, loaded: LoadedGenome):
    """``(background, calibration)`` for this model's LLRs on this genome; either may be None.

    The neutral table: a matching score-genome folder's (its cLLRs were computed with it) first,
    else the one shipped with the model. The background: the folder's when it scored the whole
    genome; a folder of ``--regions`` ranks only against those regions, so the model's own
    genome-wide background comes first then.
    """
    from glm_core.backgrounds import BACKGROUND_FILE
    from glm_core.calibration import CALIBRATION_FILE
    from glm_core.variants import MODEL_BACKGROUND_FILES

    folder = getattr(model, "path", None)
    names = (BACKGROUND_FILE, CALIBRATION_FILE, *MODEL_BACKGROUND_FILES)
    shipped = tuple(file_stamp(Path(folder) / name) for name in names) if folder is not None else ()
    manifests = _manifest_stamps(scores_folders())
    return _score_tables(model_key(model), loaded.choice, shipped, manifests, model, loaded)


@st.cache_resource(show_spinner=False, max_entries=16)
def _score_tables(model_id: tuple, choice: GenomeChoice, shipped: tuple, manifests: tuple, _model, _loaded):
    # Cached (keyed by the stamps of the files read): matching a model's tables to the genome
    # hashes the genome file, and pages ask on every rerun.
    from glm_core.variants import model_calibration, model_llr_background

    found = precomputed_scores(_model, _loaded)
    calibration = (found.calibration() if found else None) or model_calibration(_model, _loaded.genome)
    shipped = model_llr_background(_model, _loaded.genome)
    background = found.background() if found is not None and (found.whole_genome or shipped is None) else None
    return background or shipped, calibration


# --------------------------------------------------------------------------- logo images


@st.cache_data(show_spinner="Drawing the logo…", max_entries=32)
def logo_image(table: pd.DataFrame) -> bytes:
    """logomaker drawing of a position table as a bare PNG (see ``glm_core.logo.logo_png``)."""
    from glm_core.logo import logo_png

    return logo_png(table)


@st.cache_data(show_spinner="Drawing the figure for print…", max_entries=32)
def publication_images(
    table: pd.DataFrame, features: pd.DataFrame, motifs: pd.DataFrame, title: str | None
) -> tuple[bytes, bytes]:
    """The print figure (``glm_core.logo.publication_figure``) as (PNG at 300 dpi, SVG) bytes."""
    from glm_core.logo import figure_bytes, publication_figure

    figure = publication_figure(table, features, motifs, title)
    return figure_bytes(figure, "png", dpi=300), figure_bytes(figure, "svg")


# --------------------------------------------------------------------------- dependency maps


@st.cache_data(show_spinner="Timing the model on this device…", max_entries=32)
def dependency_estimate(model_id: tuple, choice: GenomeChoice, chrom: str, start: int, end: int, _model, _genome):
    """:func:`glm_core.dependency.estimate_dependency_seconds` of ``[start, end)`` (0-based half-open),
    per (model, device, genome, region)."""
    from glm_core.dependency import estimate_dependency_seconds

    return estimate_dependency_seconds(_model, _genome, chrom, start, end)


@st.cache_data(show_spinner=False, max_entries=16)
def dependency_map(
    model_id: tuple,
    choice: GenomeChoice,
    chrom: str,
    start: int,
    end: int,
    strand: str,
    _model,
    _genome,
    _estimate=None,
):
    """:func:`glm_core.dependency.dependency_map` of ``[start, end)`` on ``strand``, with a progress
    bar; the minus strand is read off the cached plus strand (:func:`glm_core.dependency.minus_strand_map`)."""
    from glm_core import dependency

    if strand == "-":
        plus = dependency_map(model_id, choice, chrom, start, end, "+", _model, _genome, _estimate)
        return dependency.minus_strand_map(plus)
    label = f"Mapping {format_region(chrom, start, end)} with {_model.name}"
    bar = st.progress(0.0, text=label)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{label}: {done:,} of {total:,} variant sequences")

    result = dependency.dependency_map(_model, _genome, chrom, start, end, "+", estimate=_estimate, progress=progress)
    bar.empty()
    return result


@st.cache_data(show_spinner="Drawing the dependency map for print…", max_entries=16)
def dependency_images(
    model_id: tuple, choice: GenomeChoice, chrom: str, start: int, end: int, strand: str, _dependency
) -> tuple[bytes, bytes]:
    """The print heat map of a cached map as (PNG at 300 dpi, SVG) bytes."""
    from glm_core.plots.dependency_figures import dependency_image

    return dependency_image(_dependency, "png"), dependency_image(_dependency, "svg")


# --------------------------------------------------------------------------- embedding map


@st.cache_data(show_spinner="Sampling windows…", max_entries=16)
def sampled_windows(
    choice: GenomeChoice, n_windows: int, window_length: int, classes: tuple[str, ...], seed: int
) -> pd.DataFrame:
    loaded = load(choice)
    return embedding.sample_windows(
        loaded.annotation, loaded.genome.chrom_sizes, n_windows, window_length, list(classes), seed
    )


@st.cache_resource(show_spinner=False, max_entries=4)
def precomputed_map(model_folder: str, weights_stamp: tuple):
    """The map shipped in a model folder (:func:`glm_core.precomputed_map.read_precomputed_map`),
    or None; keyed by the folder and the stamps of its weights, so new weights are checked again."""
    from glm_core.precomputed_map import read_precomputed_map

    return read_precomputed_map(model_folder)


def shipped_map(model):
    """:func:`precomputed_map` of a loaded model (None for a model without a folder)."""
    if model.path is None:
        return None
    folder = Path(model.path)
    stamps = tuple(file_stamp(p) for p in sorted(folder.glob("*.safetensors")))
    return precomputed_map(str(folder), (stamps, file_stamp(folder / "embedding_map.parquet")))


@st.cache_data(show_spinner="Timing the model on this device…", max_entries=8)
def seconds_per_window(model_id: str, _model) -> float:
    return embedding.estimate_seconds_per_window(_model)


@st.cache_data(show_spinner="Projecting with UMAP (the first map of a session compiles UMAP's code)…", max_entries=16)
def projection(embeddings: np.ndarray, n_neighbors: int, min_dist: float, metric: str, seed: int) -> np.ndarray:
    return embedding.umap_projection(embeddings, n_neighbors, min_dist, metric, seed)


@st.cache_data(show_spinner=False, max_entries=16)
def knn_scores(embeddings: np.ndarray, spectrum: np.ndarray, labels: tuple[str, ...], k: int) -> pd.DataFrame:
    """Macro-F1 of a ``k``-nearest-neighbour class vote: ``representation, macro-F1`` for the gLM and the 4-mers."""
    rows = [
        ("gLM embedding", embedding.knn_macro_f1(embeddings, labels, k=k)),
        ("4-mer spectrum", embedding.knn_macro_f1(spectrum, labels, k=k)),
    ]
    return pd.DataFrame(rows, columns=["representation", "macro-F1"])


# --------------------------------------------------------------------------- promoter design


@st.cache_resource(show_spinner="Loading the promoter generator…", max_entries=2)
def load_generator(path: str, device: str | None):
    """The generator and its oracle, shared by every session (never mutate them)."""
    from glm_core.generation import load_generator as load
    from glm_core.oracle import KmerOracle

    return load(path, device=device), KmerOracle.load(path)


@st.cache_data(show_spinner="Collecting the natural promoters…", max_entries=4)
def natural_promoters(choice: GenomeChoice, upstream: int, _loaded: LoadedGenome) -> pd.DataFrame:
    from glm_core.promoters import promoter_table

    return promoter_table(_loaded.annotation, _loaded.genome, upstream=upstream)


@st.cache_data(show_spinner="Fitting the k-mer oracle on your tags…", max_entries=8)
def tag_summary(
    digest: str, name: str, n_bins: int, choice: GenomeChoice, upstream: int, _content: bytes, _promoters: pd.DataFrame
):
    """Tags of an uploaded table and the oracle fitted on them, per (content digest, bins, genome)."""
    from glm_core.custom_tags import summarize_tag_table
    from glm_core.promoters import load_tag_table

    return summarize_tag_table(load_tag_table(_content, name), _promoters, n_bins=n_bins)
