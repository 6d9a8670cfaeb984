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
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


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
