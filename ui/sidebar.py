"""The sidebar: which genome (embedded, a data-directory pair, or uploads) and which site model.

:func:`render_sidebar` runs on every rerun (``app.py`` calls it) and leaves the choices in
``st.session_state`` (see :mod:`ui.session`). Uploads are copied once into the cache folder
(:func:`save_upload`), named after their content.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import streamlit as st

from glm_core.errors import user_message
from glm_core.models import BUNDLED_MODELS_DIR, default_site_model_path
from glm_core.outputs import atomic_write
from ui import cache
from ui.choices import (
    DATA_DIR_ENV, GenomeChoice, ModelChoice,
    cache_dir, data_dir, device, embedded_choice, site_model_choices,
)
from ui.session import GENOME_ERROR_KEY, GENOME_KEY, MODEL_KEY, USER_ERRORS, set_locus

SOURCES = ("Embedded genome", "Data directory", "Upload")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
ANNOTATION_SUFFIXES = (".gff", ".gff3", ".gtf")
# Bytes of a saved upload's name: a file name may have 255, and the temporary name it is
# written under first adds about 20.
MAX_UPLOAD_NAME = 200


def render_sidebar() -> None:
    """The genome selector and the model selector; called by ``app.py`` every run.

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
                loaded = cache.load(choice)
        except USER_ERRORS as error:
            choice, message = None, user_message(error)
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
    root = folder.resolve()
    for path in sorted(folder.rglob("*")):
        name = path.name.lower().removesuffix(".gz")
        # A link out of the data directory (to a system file, say) is not offered at all.
        if name.endswith(suffixes) and path.is_file() and path.resolve().is_relative_to(root):
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
    target = cache_dir() / "uploads" / digest / safe_upload_name(name)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, content)
    return target


def safe_upload_name(name: str) -> str:
    """``name`` as a harmless file name: its last part only, ASCII letters, digits and ``._-``,
    no leading dot, at most :data:`MAX_UPLOAD_NAME` bytes.

    A longer name keeps its start and its extensions (``.fa.gz``, which say the format) and
    gets a hash of the whole name between them, so two long names stay apart.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".") or "upload"
    if len(safe) <= MAX_UPLOAD_NAME:
        return safe
    suffixes = "".join(suffix for suffix in Path(safe).suffixes[-2:] if len(suffix) <= 8)
    tag = "-" + hashlib.sha256(safe.encode()).hexdigest()[:12]
    stem = safe[: len(safe) - len(suffixes)] if suffixes else safe
    return stem[: MAX_UPLOAD_NAME - len(tag) - len(suffixes)] + tag + suffixes


def _render_model_selector() -> None:
    """Every site model with its kind; the default is the device's (one-pass on a CPU, masked on a GPU)."""
    st.subheader("Model")
    choices = site_model_choices()
    if not choices:
        st.session_state[MODEL_KEY] = None
        st.caption(f"No site model found in {BUNDLED_MODELS_DIR} or {data_dir() / 'models'}.")
        return
    preferred = default_site_model_path(device())
    default = next((i for i, c in enumerate(choices) if Path(c.path) == preferred), 0)
    choice = st.selectbox("Site model", choices, index=default, format_func=ModelChoice.label, key="sidebar_model")
    st.caption(
        "One pass: every base of a region from one forward pass (fast on a CPU), distilled from a masked LM."
        if choice.kind == "one-pass" else
        "Masked, one window per base: each base masked in its own window, forward and reverse "
        "complement (exact; pages time it on this device before scoring)."
    )
    st.session_state[MODEL_KEY] = choice
