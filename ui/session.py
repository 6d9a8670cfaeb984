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
``MODEL_KEY = "model"``
    :class:`ui.choices.ModelChoice` or None: the masked LM chosen in the sidebar; pages get
    the loaded model with :func:`require_model`.
``SCORED_KEY = "scored_regions"``
    set of (model, genome, region) keys this session has asked to score, so the logo and
    variant pages show them again without another click (the numbers come from the
    ``st.cache_data`` cache, shared by all sessions).

Widgets in the sidebar use keys starting with ``sidebar_``; those of a page start with the
page's name (``overview_``, ``logo_``, ``variants_``, ``embeddings_``, ``generate_``).

Errors
------
``glm_core`` raises :class:`glm_core.errors.InputError` (a ValueError), ``KeyError`` or
``FileNotFoundError`` for bad input. Pages catch exactly :data:`USER_ERRORS` and show them
with :func:`show_error`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import streamlit as st

from glm_core.errors import user_message
from glm_core.genome import Region
from glm_core.models import MaskedLM, trust_remote_code_from_env
from ui import cache
from ui.choices import LoadedGenome, data_dir, device

GENOME_KEY = "genome"
GENOME_ERROR_KEY = "genome_error"
LOCUS_KEY = "locus"
LOCUS_TRANSCRIPT_KEY = "locus_transcript"
MODEL_KEY = "model"
SCORED_KEY = "scored_regions"

USER_ERRORS = (ValueError, KeyError, FileNotFoundError)


def show_error(error: BaseException, prefix: str = "") -> None:
    """The page's ``st.error`` for a ``glm_core`` error (:func:`glm_core.errors.user_message`)."""
    st.error(f"{prefix}{user_message(error)}")


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
        return cache.load_model(choice.path, choice.stamp, device(), trust_remote_code_from_env())
    except USER_ERRORS as error:
        show_error(error, prefix=f"The model {choice.name} could not be loaded: ")
        st.stop()


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


def locus_query() -> str | None:
    """The text that names the current locus in a query box (its transcript ID, else
    ``chr:start-end (strand)``), or None when there is no locus yet."""
    locus = get_locus()
    if locus is None:
        return None
    return st.session_state.get(LOCUS_TRANSCRIPT_KEY) or f"{locus} ({locus.strand})"
