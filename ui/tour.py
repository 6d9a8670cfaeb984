"""The guided tour on the overview page: one button a locus of :data:`glm_core.tour.TOUR`.

A click fills the target page's region box (and gene part and flank) and opens that page;
the logo page then offers to score the few dozen bases (about a second a base on a small
CPU, instantly on a GPU).
"""

from __future__ import annotations

import streamlit as st

from glm_core.tour import OVERVIEW_PAGE, TOUR, TourStop
from ui.session import set_locus

_PREFIX = {"pages/logo.py": "logo", OVERVIEW_PAGE: "overview"}
_QUERY_KEY = {"logo": "logo_query", "overview": "overview_locus_query"}


def _open(stop: TourStop) -> None:
    """Button callback: the target page's widgets as the stop wants them (before that page runs)."""
    prefix = _PREFIX[stop.page]
    set_locus(None)
    st.session_state[_QUERY_KEY[prefix]] = stop.query
    st.session_state.pop(f"{prefix}_hit", None)
    if stop.part is not None:
        st.session_state[f"{prefix}_part"] = stop.part
        st.session_state[f"{prefix}_flank"] = stop.flank


def render_tour() -> None:
    """The tour's buttons, each with its sentence; a click opens its page at its locus."""
    with st.expander("Guided tour: six places where the model shows something", expanded=False):
        st.caption(
            "Found with the bundled model on a GPU (bench/find_tour_loci.py). Each button opens the view; the "
            "logo page scores its few dozen bases on demand (about a second a base on a small CPU)."
        )
        for number, stop in enumerate(TOUR):
            left, right = st.columns([1, 3])
            if left.button(stop.title, key=f"overview_tour_{number}", on_click=_open, args=(stop,)):
                st.switch_page(stop.page)
            right.markdown(stop.text)
