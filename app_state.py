"""App-side state and caching for the gLM Explorer pages (the only module importing both
Streamlit and ``glm_core``, besides the pages themselves).

Session state keys (one per thing, all set through this module)
----------------------------------------------------------------
``GENOME_KEY = "genome"``
    :class:`GenomeChoice` or None: the FASTA + annotation pair chosen in the sidebar; None
    while the chosen files cannot be loaded (the reason is under ``GENOME_ERROR_KEY``).
``GENOME_ERROR_KEY = "genome_error"``
    str or None: why the chosen pair could not be loaded, shown by :func:`require_genome`.
``LOCUS_KEY = "locus"``
    :class:`glm_core.genome.Region` or None: the locus every page opens at (0-based
    half-open, with a strand). Read it with :func:`get_locus`, set it with :func:`set_locus`.
``LOCUS_TRANSCRIPT_KEY = "locus_transcript"``
    str or None: the transcript ID when the locus was chosen as a gene.
``MODEL_KEY = "model"``
    :class:`ModelChoice` or None: the masked LM chosen in the sidebar; pages get the loaded
    model with :func:`require_model`.

Widgets in the sidebar use keys starting with ``sidebar_``.

Pages
-----
A page starts with ``loaded = app_state.require_genome()`` (a :class:`LoadedGenome` with the
cached ``genome`` and ``annotation``), reads and writes the locus with :func:`get_locus` /
:func:`set_locus`, and shows errors from ``glm_core`` with :func:`show_error`. Cached
objects are shared by every session: never mutate them.

Environment
-----------
``GLM_EXPLORER_DATA``: folder offered in the sidebar for FASTA + annotation pairs
(default ``./data``); checkpoint folders in its ``models/`` subfolder join the bundled
models in the model selector. ``GLM_EXPLORER_DEVICE``: ``cuda``, ``mps`` or ``cpu`` to
override the automatic choice. ``GLM_EXPLORER_TRUST_REMOTE_CODE=1``: allow checkpoints
that ship their own Python code (off by default). ``GLM_EXPLORER_CACHE``: where uploads and decompressed FASTA copies
go (default ``./cache``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from glm_core.errors import user_message
from glm_core.annotation import Annotation
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome, Region
from glm_core.models import (
    BUNDLED_MLM,
    BUNDLED_MODELS_DIR,
    MaskedLM,
    discover_models,
    load_masked_lm,
    trust_remote_code_from_env,
)

GENOME_KEY = "genome"
GENOME_ERROR_KEY = "genome_error"
LOCUS_KEY = "locus"
LOCUS_TRANSCRIPT_KEY = "locus_transcript"
MODEL_KEY = "model"

DATA_DIR_ENV = "GLM_EXPLORER_DATA"
CACHE_DIR_ENV = "GLM_EXPLORER_CACHE"
APP_DIR = Path(__file__).resolve().parent

EMBEDDED_LABEL = "Ustilago maydis (embedded)"
SOURCES = ("Embedded genome", "Data directory", "Upload")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
ANNOTATION_SUFFIXES = (".gff", ".gff3", ".gtf")
# Errors that glm_core raises for bad input; pages show these, anything else is a bug.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError)


@dataclass(frozen=True)
class GenomeChoice:
    """A FASTA + annotation pair; ``*_stamp`` = (mtime_ns, size) so edited files reload."""

    label: str
    fasta: str
    annotation: str
    fasta_stamp: tuple[int, int]
    annotation_stamp: tuple[int, int]

    @classmethod
    def of(cls, label: str, fasta: str | Path, annotation: str | Path) -> "GenomeChoice":
        return cls(label, str(fasta), str(annotation), _stamp(fasta), _stamp(annotation))


@dataclass(frozen=True)
class LoadedGenome:
    choice: GenomeChoice
    genome: Genome
    annotation: Annotation


def _stamp(path: str | Path) -> tuple[int, int]:
    try:
        stat = Path(path).stat()
    except OSError:
        return (0, 0)  # the loader then raises FileNotFoundError naming the path
    return (stat.st_mtime_ns, stat.st_size)


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, APP_DIR / "data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV, APP_DIR / "cache")).expanduser()


def embedded_choice() -> GenomeChoice:
    return GenomeChoice.of(EMBEDDED_LABEL, EMBEDDED_FASTA, EMBEDDED_ANNOTATION)


# --------------------------------------------------------------------------- cached loaders


@st.cache_resource(show_spinner="Opening the FASTA file…", max_entries=8)
def load_genome(fasta: str, stamp: tuple[int, int]) -> Genome:
    """A :class:`Genome`, shared by all sessions; keyed by path and file stamp.

    Anything written for it (a decompressed copy of a plain-gzip FASTA) goes to a cache
    folder of its own, never beside the user's file.
    """
    path = Path(fasta)
    own_cache = cache_dir() / "fasta" / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    if path.is_file() and not _has_index(path) and not os.access(path.parent, os.W_OK):
        # pyfaidx writes its .fai index beside the FASTA; read a read-only folder through a link.
        linked = own_cache / path.name
        linked.parent.mkdir(parents=True, exist_ok=True)
        if not linked.is_symlink():
            linked.symlink_to(path.resolve())
        path = linked
    return Genome(path, cache_dir=own_cache)


def _has_index(path: Path) -> bool:
    return Path(f"{path}.fai").is_file()


@st.cache_resource(show_spinner="Reading the annotation…", max_entries=8)
def load_annotation(path: str, stamp: tuple[int, int]) -> Annotation:
    """An :class:`Annotation`, shared by all sessions; keyed by path and file stamp."""
    return Annotation.from_file(path)


def load(choice: GenomeChoice) -> LoadedGenome:
    """Genome and annotation of ``choice``, checked to use the same sequence names.

    Raises ValueError (naming both sets of names), KeyError or FileNotFoundError.
    """
    genome = load_genome(choice.fasta, choice.fasta_stamp)
    annotation = load_annotation(choice.annotation, choice.annotation_stamp)
    annotation.check_sequence_ids(genome.chrom_sizes)
    return LoadedGenome(choice, genome, annotation)


@st.cache_data(show_spinner="Measuring the sequences…", max_entries=16)
def genome_summary(choice: GenomeChoice) -> pd.DataFrame:
    """One row a sequence: ``chrom, length, gc, n_count`` (see :meth:`Genome.summary`)."""
    return load(choice).genome.summary()


@st.cache_data(show_spinner="Classifying every base…", max_entries=16)
def region_class_totals(choice: GenomeChoice, promoter_length: int = 500, downstream_length: int = 500) -> pd.DataFrame:
    """Bases per region class: ``region_class, bases, fraction`` (see :meth:`Annotation.region_class_totals`)."""
    loaded = load(choice)
    return loaded.annotation.region_class_totals(loaded.genome.chrom_sizes, promoter_length, downstream_length)


# --------------------------------------------------------------------------- session state


def require_genome() -> LoadedGenome:
    """The selected genome for a page; shows why and stops the page when there is none."""
    choice = st.session_state.get(GENOME_KEY)
    if choice is None:
        message = st.session_state.get(GENOME_ERROR_KEY)
        if message:
            st.error(f"The selected genome could not be loaded. {message}")
        else:
            st.info("Choose a genome and its annotation in the sidebar.")
        st.stop()
    return load(choice)


def get_locus() -> Region | None:
    """The current locus (0-based half-open, with strand), or None if none was chosen yet."""
    return st.session_state.get(LOCUS_KEY)


def set_locus(region: Region | None, transcript_id: str | None = None) -> None:
    """Make ``region`` the locus every page opens at; ``transcript_id`` if it is a gene."""
    st.session_state[LOCUS_KEY] = region
    st.session_state[LOCUS_TRANSCRIPT_KEY] = transcript_id


def error_text(error: Exception) -> str:
    """The message of a ``glm_core`` error (KeyError's ``str`` would add quotes)."""
    return user_message(error)


def show_error(error: Exception) -> None:
    st.error(error_text(error))


# --------------------------------------------------------------------------- sidebar


def render_sidebar() -> None:
    """The genome selector (and, later, the model selector); called by ``app.py`` every run.

    Leaves the choice in ``st.session_state[GENOME_KEY]`` (None plus a message under
    ``GENOME_ERROR_KEY`` if it cannot be loaded) and clears the locus when the genome changes.
    """
    with st.sidebar:
        st.subheader("Genome")
        source = st.radio("Source", SOURCES, key="sidebar_genome_source", horizontal=False)
        try:
            if source == SOURCES[0]:
                choice = embedded_choice()
            elif source == SOURCES[1]:
                choice = _data_dir_choice()
            else:
                choice = _upload_choice()
            if choice is not None:
                loaded = load(choice)
        except USER_ERRORS as error:
            choice, message = None, error_text(error)
            st.error("Could not load these files; see the message on the page.")
        else:
            message = None
            if choice is not None:
                sizes = loaded.genome.chrom_sizes
                st.caption(
                    f"**{choice.label}**: {len(sizes)} sequences, {sum(sizes.values()) / 1e6:,.1f} Mb, "
                    f"{len(loaded.annotation.transcripts):,} transcripts"
                )
        if GENOME_KEY in st.session_state and choice != st.session_state[GENOME_KEY]:
            set_locus(None)  # a locus of another genome means nothing here
        st.session_state[GENOME_KEY] = choice
        st.session_state[GENOME_ERROR_KEY] = message

        _render_model_selector()


def _data_dir_choice() -> GenomeChoice | None:
    folder = data_dir()
    st.caption(f"Files in `{folder}` (set {DATA_DIR_ENV} to use another folder).")
    if not folder.is_dir():
        st.info(f"The data directory {folder} does not exist. Create it and put a FASTA and a GFF3/GTF file in it.")
        return None
    fastas = _files_with(folder, FASTA_SUFFIXES)
    annotations = _files_with(folder, ANNOTATION_SUFFIXES)
    if not fastas or not annotations:
        st.info(
            f"{folder} needs a FASTA ({', '.join(FASTA_SUFFIXES)}, optionally .gz) and an annotation "
            f"({', '.join(ANNOTATION_SUFFIXES)}, optionally .gz); found {len(fastas)} and {len(annotations)}."
        )
        return None
    fasta = st.selectbox("FASTA", fastas, key="sidebar_data_fasta", format_func=lambda p: str(p.relative_to(folder)))
    same_stem = [i for i, a in enumerate(annotations) if _stem(a) == _stem(fasta)]
    annotation = st.selectbox(
        "Annotation",
        annotations,
        index=same_stem[0] if same_stem else 0,
        key="sidebar_data_annotation",
        format_func=lambda p: str(p.relative_to(folder)),
    )
    return GenomeChoice.of(_stem(fasta), fasta, annotation)


def _files_with(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        name = path.name.lower().removesuffix(".gz")
        if path.is_file() and name.endswith(suffixes):
            found.append(path)
    return found


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _upload_choice() -> GenomeChoice | None:
    fasta = st.file_uploader("FASTA (.fa, .fasta, optionally .gz)", key="sidebar_upload_fasta")
    annotation = st.file_uploader("Annotation (GFF3 or GTF, optionally .gz)", key="sidebar_upload_annotation")
    if fasta is None or annotation is None:
        st.info("Upload a FASTA file and its annotation.")
        return None
    return GenomeChoice.of(f"{fasta.name} (uploaded)", _saved(fasta), _saved(annotation))


def _saved(upload) -> Path:
    """Path of an uploaded file's copy, written once per upload (not on every rerun)."""
    saved = st.session_state.setdefault("sidebar_saved_uploads", {})
    key = (upload.file_id, upload.name)
    if key not in saved or not Path(saved[key]).is_file():
        saved[key] = save_upload(upload.name, upload.getvalue())
    return saved[key]


def save_upload(name: str, content: bytes) -> Path:
    """Write an uploaded file to ``<cache>/uploads/<sha256 prefix>/<name>`` and return the path.

    The folder is named after the content, so an upload never overwrites another file and a
    repeated upload reuses the copy (and the caches keyed on it).
    """
    digest = hashlib.sha256(content).hexdigest()[:20]
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".") or "upload"
    target = cache_dir() / "uploads" / digest / safe_name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(content)
        partial.replace(target)
    return target


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelChoice:
    """A checkpoint folder; ``stamp`` = (mtime_ns, size) of its config so a retrained model reloads."""

    name: str
    path: str
    stamp: tuple[int, int]


def masked_model_choices() -> list[ModelChoice]:
    """Masked LMs: the bundled ones first, then those under ``<data dir>/models``."""
    found = discover_models(BUNDLED_MODELS_DIR, data_dir() / "models")
    found = found[found["kind"] == "masked"]
    return [ModelChoice(row.name, row.path, _stamp(Path(row.path) / "config.json")) for row in found.itertuples()]


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(path: str, stamp: tuple[int, int], device: str | None, trust_remote_code: bool) -> MaskedLM:
    """The loaded model, shared by every session (never mutate it)."""
    return load_masked_lm(path, device=device, trust_remote_code=trust_remote_code)


def require_model() -> MaskedLM:
    """The model chosen in the sidebar; shows why and stops the page when it cannot be loaded."""
    choice = st.session_state.get(MODEL_KEY)
    if choice is None:
        st.info(f"No masked model found. Put a checkpoint folder under {data_dir() / 'models'} and reload.")
        st.stop()
    try:
        return load_model(choice.path, choice.stamp, os.environ.get("GLM_EXPLORER_DEVICE") or None,
                          trust_remote_code_from_env())
    except USER_ERRORS as error:
        st.error(f"The model {choice.name} could not be loaded: {error_text(error)}")
        st.stop()


def _render_model_selector() -> None:
    st.subheader("Model")
    choices = masked_model_choices()
    if not choices:
        st.session_state[MODEL_KEY] = None
        st.caption(f"No masked model found in {BUNDLED_MODELS_DIR} or {data_dir() / 'models'}.")
        return
    default = next((i for i, c in enumerate(choices) if Path(c.path) == BUNDLED_MLM), 0)
    choice = st.selectbox("Masked LM", choices, index=default, format_func=lambda c: c.name, key="sidebar_model")
    st.session_state[MODEL_KEY] = choice


# --------------------------------------------------------------------------- scored regions and VCFs
# Shared by the logo and variant pages (pages/logo.py, pages/variants.py).
#
# Session state: ``SCORED_KEY = "scored_regions"`` holds the (model, genome, region) keys this
# session has asked to score, so a page shows them again without another click (the numbers
# come from the st.cache_data cache, shared by all sessions). Widget keys of the pages
# start with ``logo_`` and ``variants_``.

SCORED_KEY = "scored_regions"
# Largest region a page scores at once: two masked windows per position, about 1 s a
# position on a 2-core CPU, well under 1 ms on an H100.
MAX_SCORED_BP = 2_000
GENE_PARTS = ("start codon", "whole gene", "stop codon")
_REGION_LIKE = re.compile(r"^\s*[^\s:]+\s*:\s*[\d,_]")


def model_key(model: MaskedLM) -> tuple[str, str, tuple[int, int]]:
    """Cache key of a loaded model: its folder, device and config stamp (a retrained model differs)."""
    folder = str(model.path or model.name)
    return (folder, str(model.device), _stamp(Path(folder) / "config.json"))


@st.cache_data(show_spinner=False, max_entries=64)
def region_probabilities(model_id: tuple, choice: GenomeChoice, chrom: str, start: int, end: int, strand: str,
                         _model: MaskedLM, _genome: Genome):
    """``site_probabilities`` of ``[start, end)`` (0-based half-open) on ``strand``, cached per
    (model, genome, region, strand), with a progress bar while the model runs.

    The minus strand is read off the cached plus strand (:func:`glm_core.scoring.minus_strand`).
    """
    from glm_core.genome import format_region
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


def scored_region_probabilities(prefix: str, model: MaskedLM, loaded: LoadedGenome, region: Region, strand: str):
    """Probabilities of ``region`` on ``strand`` for a page, once the user has asked for them.

    The first time, a button says how many positions will be scored; after that (in this
    session) the cached result comes back at once. Returns None while not yet asked.
    """
    key = (model_key(model), loaded.choice, region.chrom, region.start, region.end)
    asked = st.session_state.setdefault(SCORED_KEY, set())
    if key not in asked:
        n = len(region)
        label = f"Score {n:,} positions with {model.name}"
        slot = st.empty()
        if not slot.button(label, key=f"{prefix}_score", type="primary"):
            speed = "seconds" if model.device.type == "cuda" else "about 1 s a position on a small CPU"
            st.caption(
                f"Each position is masked in its own {model.context}-bp window, forward and reverse-complemented "
                f"({2 * n:,} windows; on {model.device}, {speed})."
            )
            return None
        slot.empty()
        asked.add(key)
    return region_probabilities(model_key(model), loaded.choice, region.chrom, region.start, region.end, strand,
                                model, loaded.genome)


def choose_scoring_region(loaded: LoadedGenome, prefix: str, max_bp: int = MAX_SCORED_BP,
                          default_flank: int = 20) -> tuple[Region | None, str | None]:
    """Widgets to pick a region to score: a gene (its start codon, whole span or stop codon,
    plus a flank) found by name, ID or description, or a typed ``chrom:start-end`` (1-based,
    inclusive). Opens at the shared locus and stores the choice there.

    Returns ``(region, title)``, or ``(None, None)`` after showing why there is none.
    """
    from glm_core.genome import format_region, parse_region

    genome, annotation = loaded.genome, loaded.annotation
    query_key = f"{prefix}_query"
    locus = get_locus()
    if query_key not in st.session_state and locus is not None:
        transcript_id = st.session_state.get(LOCUS_TRANSCRIPT_KEY)
        st.session_state[query_key] = transcript_id or f"{locus} ({locus.strand})"
    query_column, part_column, flank_column = st.columns([4, 2, 1])
    query = query_column.text_input(
        "Gene name, ID or description words, or a region chrom:start-end (1-based, inclusive)",
        key=query_key, placeholder="um06164, exoribonuclease, chr22:69,114-69,136",
    )
    if not query.strip():
        st.info("Search for a gene (for example um06164) or type a region (for example chr22:69,114-69,136).")
        return None, None
    if _REGION_LIKE.match(query):
        try:
            region = parse_region(query)
            genome.check_interval(region.chrom, region.start, region.end)
        except (ValueError, KeyError) as error:
            show_error(error)
            return None, None
        transcript_id, title = None, None
    else:
        part = part_column.selectbox("Part of the gene", GENE_PARTS, key=f"{prefix}_part")
        flank = int(flank_column.number_input("Flank (bp)", min_value=0, max_value=max_bp, value=default_flank,
                                              step=10, key=f"{prefix}_flank"))
        hits = annotation.search(query, limit=50)
        if hits.empty:
            st.warning(f"No transcript matches {query.strip()!r}. Search by gene ID, name or description words, "
                       "or type a region such as chr22:69,114-69,136.")
            return None, None
        hits = hits.set_index("transcript_id", drop=False)
        transcript_id = hits.index[0]
        if len(hits) > 1:
            transcript_id = st.selectbox(
                f"{len(hits)} matching transcripts", hits.index.tolist(), key=f"{prefix}_hit",
                format_func=lambda tid: f"{hits.at[tid, 'name']}: {hits.at[tid, 'description']} ("
                f"{format_region(hits.at[tid, 'chrom'], hits.at[tid, 'start'], hits.at[tid, 'end'])}, "
                f"{hits.at[tid, 'strand']})",
            )
        hit = hits.loc[transcript_id]
        start, end = _gene_part(hit, part)
        size = genome.chrom_sizes[hit["chrom"]]
        region = Region(hit["chrom"], max(0, start - flank), min(size, end + flank), hit["strand"])
        title = f"{hit['name']} ({hit['strand']}), {part} \u00b1 {flank} bp"
    if len(region) > max_bp:
        st.error(
            f"{region} is {len(region):,} bp; this page scores at most {max_bp:,} bp at a time. Choose the start "
            "or stop codon of a gene, a smaller flank, or type a smaller region."
        )
        return None, None
    set_locus(region, transcript_id)
    return region, title


def _gene_part(hit: pd.Series, part: str) -> tuple[int, int]:
    """0-based half-open span of a transcript's start codon, whole span, or stop codon (the
    first or last three CDS bases on its strand; the transcript's ends when it has no CDS)."""
    if part == "whole gene":
        return int(hit["start"]), int(hit["end"])
    has_cds = pd.notna(hit.get("cds_start")) and pd.notna(hit.get("cds_end"))
    low, high = (int(hit["cds_start"]), int(hit["cds_end"])) if has_cds else (int(hit["start"]), int(hit["end"]))
    at_low = (part == "start codon") == (hit["strand"] == "+")
    return (low, min(low + 3, high)) if at_low else (max(high - 3, low), high)


def strand_choice(prefix: str, region: Region) -> str:
    """A +/- toggle that starts at the region's strand (and again whenever the region changes)."""
    key = f"{prefix}_strand_{region.chrom}_{region.start}_{region.end}"
    return st.radio("Strand (read 5'\u21923')", ["+", "-"], index=0 if region.strand == "+" else 1,
                    horizontal=True, key=key)


@st.cache_data(show_spinner="Drawing the logo…", max_entries=32)
def logo_image(table: pd.DataFrame) -> bytes:
    """logomaker drawing of a position table as a bare PNG (see ``glm_core.logo.logo_png``)."""
    from glm_core.logo import logo_png

    return logo_png(table)


@st.cache_data(show_spinner="Drawing the figure for print…", max_entries=32)
def publication_images(table: pd.DataFrame, features: pd.DataFrame, motifs: pd.DataFrame,
                       title: str | None) -> tuple[bytes, bytes]:
    """The print figure (``glm_core.logo.publication_figure``) as (PNG at 300 dpi, SVG) bytes."""
    from glm_core.logo import figure_bytes, publication_figure

    figure = publication_figure(table, features, motifs, title)
    return figure_bytes(figure, "png", dpi=300), figure_bytes(figure, "svg")


@st.cache_data(show_spinner=False, max_entries=16)
def scored_vcf(model_id: tuple, choice: GenomeChoice, digest: str, _model: MaskedLM, _loaded: LoadedGenome,
               _vcf) -> pd.DataFrame:
    """``glm_core.variants.score_vcf`` of a VCF, cached per (model, genome, file content digest),
    with a progress bar while the model runs."""
    from glm_core.variants import model_llr_background, score_vcf

    bar = st.progress(0.0, text=f"Scoring {_vcf.source} with {_model.name} on {_model.device}")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scoring {_vcf.source}: {done:,} of {total:,} positions")

    table = score_vcf(_model, _loaded.genome, _loaded.annotation, _vcf, background=model_llr_background(_model),
                      progress=progress)
    bar.empty()
    return table
