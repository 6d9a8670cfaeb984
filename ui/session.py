"""Session state shared by the pages, one documented key a thing, and the page-side error path.

Keys
----
``GENOME_KEY = "genome"``
    :class:`ui.choices.GenomeChoice` or None: the FASTA + annotation pair chosen in the
    sidebar; None while the chosen files cannot be loaded (the reason is under ``GENOME_ERROR_KEY``).
``GENOME_ERROR_KEY = "genome_error"``
    str or None: why the chosen pair could not be loaded, shown by :func:`require_genome`.
``LOCUS_KEY = "locus"``
    :class:`glm_core.genome.Region` or None: the locus every page opens at (0-based
    half-open, with a strand). Read it with :func:`get_locus`, set it with :func:`set_locus`.
``LOCUS_TRANSCRIPT_KEY = "locus_transcript"``
    str or None: the transcript ID when the locus was chosen as a gene.
``LOCUS_GENOME_KEY = "locus_genome"``
    :class:`ui.choices.GenomeChoice`: the genome the locus and the query boxes belong to;
    :func:`require_genome` clears them (:func:`reset_locus`) when another genome is chosen.
``MODEL_KEY = "model"``
    :class:`ui.choices.ModelChoice` or None: the masked LM chosen in the sidebar; pages get
    the loaded model with :func:`require_model`.
``COMPARE_MODEL_KEY = "compare_model"``
    :class:`ui.choices.ModelChoice` or None: the second model chosen in the sidebar to compare
    with the first on the logo and variant pages; pages get it with :func:`compare_model`.
``DEPENDENCY_KEY = "dependency_maps"``
    set of (model, genome, region) keys this session has asked to map (numbers cached as above).
``SCORED_KEY = "scored_regions"``
    set of (model, genome, region) keys this session has asked to score, so the logo and
    variant pages show them again without another click (the numbers come from the
    ``st.cache_data`` cache, shared by all sessions).

Widgets in the sidebar use keys starting with ``sidebar_``; those of a page start with the
page's name (``overview_``, ``logo_``, ``variants_``, ``embeddings_``, ``generate_``). The
widgets that name a place (keys ending in :data:`LOCUS_WIDGET_SUFFIXES`: the query box, the
choice among hits, the gene part) are cleared with the locus when the genome changes
(:func:`reset_locus`).

Errors
------
``glm_core`` raises :class:`glm_core.errors.InputError` (a ValueError), ``KeyError`` or
``FileNotFoundError`` for bad input. Pages catch exactly :data:`USER_ERRORS` and show them
with :func:`show_error`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import streamlit as st

from glm_core.errors import user_message
from glm_core.genome import Region
from glm_core.genome_fingerprint import other_genome_note, sequence_fingerprint, training_commands, training_genome
from glm_core.models import MaskedLM, trust_remote_code_from_env
from ui import cache
from ui.choices import LoadedGenome, data_dir, device

GENOME_KEY = "genome"
GENOME_ERROR_KEY = "genome_error"
LOCUS_KEY = "locus"
LOCUS_TRANSCRIPT_KEY = "locus_transcript"
LOCUS_GENOME_KEY = "locus_genome"
MODEL_KEY = "model"
COMPARE_MODEL_KEY = "compare_model"
DEPENDENCY_KEY = "dependency_maps"
SCORED_KEY = "scored_regions"

USER_ERRORS = (ValueError, KeyError, FileNotFoundError)
LOCUS_WIDGET_SUFFIXES = ("_query", "_hit", "_part")


def show_error(error: BaseException, prefix: str = "") -> None:
    """The page's ``st.error`` for a ``glm_core`` error (:func:`glm_core.errors.user_message`)."""
    st.error(f"{prefix}{user_message(error)}")


# Set by app.py before it runs a page. Until a server process has run the router once,
# Streamlit treats the pages/ folder as its old file-per-page app and runs a page file straight
# from its URL (the first visit to /logo after a restart), without the router and its sidebar.
_router_ran = False


PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
# The page a URL asked for while the router had not yet run; the router opens it.
INTENDED_PAGE_KEY = "router_intended_page"


def mark_router_ran() -> None:
    """Called by app.py once ``st.navigation`` has run; then opens a page asked for before it."""
    global _router_ran
    _router_ran = True
    intended = st.session_state.pop(INTENDED_PAGE_KEY, None)
    if intended is not None:
        st.switch_page(intended)


def require_router() -> None:
    """Send a page that runs without the router (see ``_router_ran``) to the router, which then
    opens this page with the sidebar; once it has run, Streamlit routes every URL itself."""
    if _router_ran:
        return
    # The page file is the first caller under pages/ (each page calls this through require_genome).
    for frame in inspect.stack(context=0):
        path = Path(frame.filename).resolve()
        if path.parent == PAGES_DIR:
            st.session_state[INTENDED_PAGE_KEY] = f"pages/{path.name}"
            break
    st.switch_page("app.py")


def require_genome() -> LoadedGenome:
    """The selected genome for a page; shows why and stops the page when there is none."""
    require_router()
    choice = st.session_state.get(GENOME_KEY)
    if choice is None:
        message = st.session_state.get(GENOME_ERROR_KEY)
        if message:
            st.error(f"The selected genome could not be loaded. {message}")
        else:
            st.info("Choose a genome in the sidebar (a FASTA file; an annotation is optional).")
        st.stop()
    if st.session_state.get(LOCUS_GENOME_KEY) != choice:
        if LOCUS_GENOME_KEY in st.session_state:
            reset_locus()  # a locus (or a typed query) of another genome means nothing here
        st.session_state[LOCUS_GENOME_KEY] = choice
    return cache.load(choice)


def require_model():
    """The site model chosen in the sidebar (masked or one-pass); shows why and stops the page
    when it cannot be loaded."""
    choice = st.session_state.get(MODEL_KEY)
    if choice is None:
        st.info(f"No site model found. Put a checkpoint folder under {data_dir() / 'models'} and reload.")
        st.stop()
    return load_choice(choice)


def load_choice(choice):
    """The loaded model of a :class:`ui.choices.ModelChoice`; shows why and stops the page when it fails."""
    try:
        model = cache.load_model(choice.path, choice.stamp, device(), trust_remote_code_from_env())
    except USER_ERRORS as error:
        show_error(error, prefix=f"The model {choice.name} could not be loaded: ")
        st.stop()
    genome = st.session_state.get(GENOME_KEY)
    if genome is not None:
        show_model_genome_note(choice.path, choice.name, cache.load(genome))
    return model


def show_model_genome_note(model_folder, model_name: str, loaded: LoadedGenome) -> None:
    """A visible note when ``loaded`` is not the genome the model was trained on (its
    ``config.json`` ``training_genome``), with the commands that train one on this genome."""
    record = training_genome(model_folder)
    if record is None or record["fingerprint"] == sequence_fingerprint(loaded.genome.chrom_sizes):
        return
    st.warning(other_genome_note(model_name, record), icon=":material/warning:")
    commands, expected = training_commands(loaded.choice.fasta, loaded.genome.chrom_sizes)
    with st.expander("Train a model on this genome"):
        st.code(commands, language="bash", wrap_lines=True)
        st.caption(f"Expected GPU time: {expected}.")


def compare_model() -> MaskedLM | None:
    """The second model chosen in the sidebar, or None (none chosen, or it cannot be loaded: then
    the page shows why and carries on with one model)."""
    choice = st.session_state.get(COMPARE_MODEL_KEY)
    if choice is None:
        return None
    try:
        return cache.load_model(choice.path, choice.stamp, device(), trust_remote_code_from_env())
    except USER_ERRORS as error:
        show_error(error, prefix=f"The comparison model {choice.name} could not be loaded: ")
        return None


def masked_choice():
    """The sidebar's model if it is a masked LM, else the first masked LM found (bundled first), or None."""
    from ui.choices import masked_model_choices

    chosen = st.session_state.get(MODEL_KEY)
    if chosen is not None and chosen.kind == "masked":
        return chosen
    return next(iter(masked_model_choices()), None)


def require_masked_model() -> MaskedLM:
    """A masked LM for pages that need hidden states (the embedding map): the sidebar's model if
    it is one, else the bundled masked LM; stops the page when there is none."""
    choice = masked_choice()
    if choice is None:
        st.info(f"This page needs a masked LM; none found. Put one under {data_dir() / 'models'} and reload.")
        st.stop()
    return load_choice(choice)


def get_locus() -> Region | None:
    """The current locus (0-based half-open, with strand), or None if none was chosen yet."""
    return st.session_state.get(LOCUS_KEY)


def set_locus(region: Region | None, transcript_id: str | None = None) -> None:
    """Make ``region`` the locus every page opens at; ``transcript_id`` if it is a gene."""
    st.session_state[LOCUS_KEY] = region
    st.session_state[LOCUS_TRANSCRIPT_KEY] = transcript_id


def reset_locus() -> None:
    """Forget the locus and every page's locus widgets (:data:`LOCUS_WIDGET_SUFFIXES`), so that
    pages of a newly chosen genome open empty rather than on another genome's place."""
    set_locus(None)
    for key in list(st.session_state.keys()):
        if not str(key).startswith("sidebar_") and str(key).endswith(LOCUS_WIDGET_SUFFIXES):
            del st.session_state[key]


def locus_query() -> str | None:
    """The text that names the current locus in a query box (its transcript ID, else
    ``chr:start-end (strand)``), or None when there is no locus yet."""
    locus = get_locus()
    if locus is None:
        return None
    return st.session_state.get(LOCUS_TRANSCRIPT_KEY) or f"{locus} ({locus.strand})"
