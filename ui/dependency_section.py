"""The dependency-map section of the logo page: limit, measured time estimate, the map, the
clicked query's substitution track, and downloads.

The numbers come from :mod:`glm_core.dependency` through :mod:`ui.cache`; the figure from
:mod:`glm_core.plots.dependency_figures`. Widget keys start with ``logo_dependency_``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from glm_core import dependency
from glm_core.genome import Region, format_region
from glm_core.plots.dependency_figures import dependency_figure
from ui import cache
from ui.choices import LoadedGenome
from ui.session import DEPENDENCY_KEY, USER_ERRORS, show_error

CHART_KEY = "logo_dependency_chart"
QUERY_KEY = "logo_dependency_query"
CLICK_SEEN_KEY = "logo_dependency_last_click"


def _clicked_position(event) -> int | None:
    """1-based query position of the cell last clicked in the heat map, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        if point.get("y") is not None and point.get("x") is not None:
            return int(round(float(point["y"])))
    return None


def _query_row(result, labels: list[str]) -> int | None:
    """The query row to show: a newly clicked cell moves the choice box; otherwise the box decides."""
    clicked = _clicked_position(st.session_state.get(CHART_KEY))
    if clicked is not None and clicked != st.session_state.get(CLICK_SEEN_KEY):
        st.session_state[CLICK_SEEN_KEY] = clicked
        rows = np.flatnonzero(result.positions + 1 == clicked)
        if len(rows):
            st.session_state[QUERY_KEY] = labels[int(rows[0]) + 1]
    chosen = st.selectbox("Substituted base i (or click a cell)", ["(none)", *labels], key=QUERY_KEY)
    return None if chosen == "(none)" else labels.index(chosen)


def render_dependency_section(
    model,
    loaded: LoadedGenome,
    region: Region,
    strand: str,
    view: pd.DataFrame,
    features: pd.DataFrame,
    logo_image: bytes | None,
) -> None:
    """Everything below the logo's downloads: the map of the zoomed range ``view`` (a position table)."""
    st.subheader("Nucleotide dependency map")
    st.caption(
        "How substituting base i changes the model's prediction at base j: the largest absolute change in "
        "log-odds, log(p / (1 \u2212 p)), of any base at j over the three substitutions at i (Tomaz da Silva et "
        "al. 2024), forward and reverse-complement predictions averaged. It shows which bases the model treats "
        "as coupled (codons, paired stems, the parts of a binding site)."
    )
    if not st.toggle("Compute a dependency map of the zoomed range", key="logo_dependency_on"):
        return
    start, end = int(view["pos"].min()), int(view["pos"].max()) + 1
    hard_limit, reason = dependency.dependency_limit_bp(model)
    if end - start > hard_limit:
        st.info(
            f"{format_region(region.chrom, start, end)} is {end - start:,} bp; a dependency map covers at most "
            f"{reason}. Zoom to a smaller range above."
        )
        return
    model_id = cache.model_key(model)
    try:
        estimate = cache.dependency_estimate(model_id, loaded.choice, region.chrom, start, end, model, loaded.genome)
        dependency.check_dependency_region(model, loaded.genome, region.chrom, start, end, estimate=estimate)
    except USER_ERRORS as error:
        show_error(error)
        return
    key = (model_id, loaded.choice, region.chrom, start, end)
    asked = st.session_state.setdefault(DEPENDENCY_KEY, set())
    if key not in asked:
        st.caption(
            f"{estimate.n_sequences:,} variant sequences, {estimate.n_positions:,} positions scored; measured on "
            f"{estimate.device}: about {estimate.seconds:,.1f} s."
        )
        if not st.button(
            f"Compute the dependency map ({end - start} bp, about {estimate.seconds:,.0f} s)",
            type="primary",
            key="logo_dependency_compute",
        ):
            return
        asked.add(key)
    try:
        result = cache.dependency_map(
            model_id, loaded.choice, region.chrom, start, end, strand, model, loaded.genome, estimate
        )
    except USER_ERRORS as error:
        show_error(error)
        return
    labels = [f"{pos + 1:,} {base}" for pos, base in zip(result.positions, result.reference)]
    query = _query_row(result, labels)
    figure = dependency_figure(
        result, view, features, loaded.annotation.transcripts, logo_image=logo_image, query=query
    )
    st.plotly_chart(
        figure,
        config={"scrollZoom": True, "displaylogo": False},
        key=CHART_KEY,
        on_select="rerun",
        selection_mode="points",
    )
    st.caption(
        "Rows: the substituted base i (5' on top); columns: the base j whose prediction changes; the diagonal is "
        "left blank (a base's own prediction never sees it). Hover a cell for i, j, their bases and the change; "
        "click one, or choose i above, for the effect of each substitution along the region."
    )
    _downloads(model_id, loaded, result)


def _downloads(model_id: tuple, loaded: LoadedGenome, result) -> None:
    stem = (
        f"dependency_{result.chrom}_{result.start + 1}-{result.end}_"
        f"{'plus' if result.strand == '+' else 'minus'}_{result.model_name}"
    )
    columns = st.columns(4)
    columns[0].download_button(
        "Matrix TSV",
        dependency.matrix_tsv(result),
        file_name=f"{stem}.tsv",
        mime="text/tab-separated-values",
        key="logo_dependency_download_tsv",
        help="rows: query base i, columns: target base j, labelled '1-based position + base'",
    )
    columns[1].download_button(
        "Arrays (.npz)",
        dependency.matrix_npz(result),
        file_name=f"{stem}.npz",
        mime="application/octet-stream",
        key="logo_dependency_download_npz",
        help="matrix, 1-based positions, reference and variant probabilities",
    )
    try:
        png, svg = cache.dependency_images(
            model_id, loaded.choice, result.chrom, result.start, result.end, result.strand, result
        )
    except USER_ERRORS as error:
        show_error(error)
        return
    columns[2].download_button(
        "Heat map PNG", png, file_name=f"{stem}.png", mime="image/png", key="logo_dependency_download_png"
    )
    columns[3].download_button(
        "Heat map SVG", svg, file_name=f"{stem}.svg", mime="image/svg+xml", key="logo_dependency_download_svg"
    )
