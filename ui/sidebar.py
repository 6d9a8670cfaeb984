"""The sidebar: which genome (embedded, data-directory files, or uploads) and which site model.

:func:`render_sidebar` runs on every rerun (``app.py`` calls it) and leaves the choices in
``st.session_state`` (see :mod:`ui.session`). Uploads are copied once into the cache folder
(:func:`save_upload`), named after their content. A genome needs no annotation, and a GFF3
with a ``##FASTA`` section is both. When the annotation names its sequences differently
(``chr01`` for ``Umaydis:chr01:1:+:2476500``), the proposed mapping is shown and applied once
the user confirms it, or an aliases file is used instead.
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
    DATA_DIR_ENV,
    GenomeChoice,
    ModelChoice,
    cache_dir,
    data_dir,
    device,
    embedded_choice,
    file_stamp,
    site_model_choices,
)
from ui.session import COMPARE_MODEL_KEY, GENOME_ERROR_KEY, GENOME_KEY, MODEL_KEY, USER_ERRORS

SOURCES = ("Embedded genome", "Data directory", "Upload")
NO_ANNOTATION = "none"
APPLY_MAPPING_KEY = "sidebar_apply_name_mapping"
ANNOTATION_KEY = "sidebar_data_annotation"
ANNOTATION_FOR_KEY = "sidebar_data_annotation_for"  # the FASTA the annotation choice was made for
# Bytes of a saved upload's name: a file name may have 255, and the temporary name it is
# written under first adds about 20.
MAX_UPLOAD_NAME = 200


def render_sidebar() -> None:
    """The genome selector and the model selector; called by ``app.py`` every run.

    Leaves the choice in ``st.session_state[GENOME_KEY]`` (None plus a message under
    ``GENOME_ERROR_KEY`` if it cannot be loaded); :func:`ui.session.require_genome` clears the
    locus when the genome has changed.
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
            if choice is not None and not choice.is_embedded():
                choice = _name_mapping_choice(choice)
            if choice is not None:
                loaded = cache.load(choice)
        except USER_ERRORS as error:
            choice, message = None, upload_names(user_message(error), st.session_state.get("sidebar_saved_uploads", {}))
            st.error("Could not load these files; see the message on the page.")
        else:
            message = None
            if choice is not None:
                sizes = loaded.genome.chrom_sizes
                genes = (
                    "no annotation"
                    if loaded.annotation.is_empty
                    else f"{len(loaded.annotation.transcripts):,} transcripts"
                )
                st.caption(f"**{choice.label}**: {len(sizes)} sequences, {sum(sizes.values()) / 1e6:,.1f} Mb, {genes}")
                for warning in loaded.warnings:
                    st.warning(warning)
        st.session_state[GENOME_KEY] = choice
        st.session_state[GENOME_ERROR_KEY] = message

        _render_model_selector()


def _data_dir_choice() -> GenomeChoice | None:
    folder = data_dir()
    st.caption(f"Files in `{folder}` (set {DATA_DIR_ENV} to use another folder).")
    if not folder.is_dir():
        st.info(f"The data directory {folder} does not exist. Create it and put a FASTA file in it.")
        return None
    listing = tuple((str(p), file_stamp(p)) for p in sorted(folder.rglob("*")) if p.is_file())
    found = cache.genome_files_in(str(folder), listing)
    sequences = [Path(p) for p in found.loc[found["sequences"], "path"]]
    annotations = [Path(p) for p in found.loc[found["annotation"], "path"]]
    if not sequences:
        st.info(
            f"{folder} holds no FASTA file (nor a GFF3 with a ##FASTA section); found {len(annotations)} "
            "annotation file(s). Files are recognised by their content, plain or gzip/bgzip."
        )
        return None
    shown = {NO_ANNOTATION: NO_ANNOTATION, **{p: str(p.relative_to(folder)) for p in sequences + annotations}}
    fasta = st.selectbox("FASTA", sequences, key="sidebar_data_fasta", format_func=shown.get)
    options = [NO_ANNOTATION, *annotations]
    if st.session_state.get(ANNOTATION_FOR_KEY) != str(fasta):  # another FASTA: preselect its own annotation
        st.session_state.pop(ANNOTATION_KEY, None)
        st.session_state[ANNOTATION_FOR_KEY] = str(fasta)
    annotation = st.selectbox(
        "Annotation",
        options,
        index=options.index(_default_annotation(fasta, annotations)),
        key=ANNOTATION_KEY,
        format_func=shown.get,
    )
    return GenomeChoice.of(_stem(fasta), fasta, None if annotation == NO_ANNOTATION else annotation)


def _default_annotation(fasta: Path, annotations: list[Path]) -> Path | str:
    """The FASTA itself when it is a GFF3 with ``##FASTA``, else one of the same stem, else the first."""
    if fasta in annotations:
        return fasta
    same_stem = [a for a in annotations if _stem(a) == _stem(fasta)]
    return (same_stem or annotations or [NO_ANNOTATION])[0]


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _upload_choice() -> GenomeChoice | None:
    fasta = st.file_uploader(
        "Genome: FASTA, or GFF3 with a ##FASTA section (optionally .gz)", key="sidebar_upload_fasta"
    )
    annotation = st.file_uploader(
        "Annotation, optional (GFF3, GTF or GFF2, optionally .gz)", key="sidebar_upload_annotation"
    )
    if fasta is None:
        st.info("Upload a FASTA file (or a GFF3 with its sequences after ##FASTA); the annotation is optional.")
        return None
    return GenomeChoice.of(
        f"{fasta.name} (uploaded)", _saved(fasta), None if annotation is None else _saved(annotation)
    )


def _name_mapping_choice(choice: GenomeChoice) -> GenomeChoice:
    """``choice`` with the aliases the user confirmed: the proposed mapping, shown as a table,
    or an uploaded two-column aliases file; unchanged when the names agree."""
    if choice.annotation is None:
        return choice
    proposal = cache.proposed_name_mapping(choice)
    aliases_file = None
    if proposal is not None:
        st.markdown("**Sequence names differ** between the FASTA and the annotation:")
        table = proposal.table.rename(columns={"annotation_name": "annotation", "fasta_name": "FASTA"})
        st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 250), key="sidebar_name_mapping")
        st.caption(proposal.describe())
        if st.checkbox("Use this name mapping", key=APPLY_MAPPING_KEY):
            return choice.with_aliases("auto")
    with st.expander("Sequence-name aliases file", expanded=False):
        upload = st.file_uploader(
            "Two columns, tab- or space-separated: annotation name, FASTA name", key="sidebar_upload_aliases"
        )
        if upload is not None:
            aliases_file = _saved(upload)
    return choice.with_aliases(aliases_file) if aliases_file is not None else choice


def upload_names(message: str, saved: dict) -> str:
    """``message`` with the cache paths of uploads (``saved``: (file id, name) -> saved path, as
    :func:`_saved` keeps them) replaced by the names they were uploaded under: the user knows
    their file, not where the server keeps its copy."""
    for (_, name), path in saved.items():
        message = message.replace(str(path), name)
    return message


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
        st.session_state[MODEL_KEY] = st.session_state[COMPARE_MODEL_KEY] = None
        st.caption(f"No site model found in {BUNDLED_MODELS_DIR} or {data_dir() / 'models'}.")
        return
    preferred = default_site_model_path(device())
    default = next((i for i, c in enumerate(choices) if Path(c.path) == preferred), 0)
    choice = st.selectbox("Site model", choices, index=default, format_func=ModelChoice.label, key="sidebar_model")
    st.caption(
        "One pass: every base of a region from one forward pass (fast on a CPU), distilled from a masked LM."
        if choice.kind == "one-pass"
        else "Masked, one window per base: each base masked in its own window, forward and reverse "
        "complement (exact; pages time it on this device before scoring)."
    )
    st.session_state[MODEL_KEY] = choice
    # A second model for the logo and variant pages to set beside the first (None: no comparison).
    st.session_state[COMPARE_MODEL_KEY] = st.selectbox(
        "Compare with",
        [None, *choices],
        format_func=lambda c: "(no second model)" if c is None else c.name,
        key="sidebar_compare_model",
        help="Logo and variant pages then show both models, their per-base KL "
        "divergence and difference of P(ref), and the two LLRs of every SNV.",
    )
