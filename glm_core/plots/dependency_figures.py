"""Dependency-map figures: the interactive heat map under the logo and gene models, the
per-substitution track of one query base, and the static heat map for print.

The maps come from :func:`glm_core.dependency.dependency_map`. Both axes of the heat map are
the 1-based genomic positions of the locus axis (:mod:`glm_core.plots.locus_tracks`): x the
target base ``j``, y the query base ``i``, the query at the top being the locus's 5' base on
its strand (on the minus strand both axes run in decreasing genomic position). Never imports
Streamlit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..genome import format_region
from .locus_tracks import BASE_COLOURS, Track, gene_model_track, tracks_figure
from .logo_figures import _read_on_strand, add_logo_image, logo_track

HEATMAP_PX = 560
SUBSTITUTION_ROW_PX = 130
# Up to this many bp a transparent marker sits on every cell, so a click selects it (plotly
# heat maps cannot be selected) and its hover names the pair; above, the heat map hovers itself.
CLICKABLE_MAX_BP = 200
COLOURSCALE = "Viridis"


def _genomic_order(dependency) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the map sorted by genomic position, and those positions 1-based."""
    order = np.argsort(dependency.positions)
    return order, dependency.positions[order] + 1


def _cell_text(dependency, order: np.ndarray) -> np.ndarray:
    bases = np.array(list(dependency.reference))[order]
    x = dependency.positions[order] + 1
    values = dependency.matrix[np.ix_(order, order)]
    text = np.empty(values.shape, dtype=object)
    for r in range(len(order)):
        for c in range(len(order)):
            value = "n/a (the same base)" if r == c else f"{values[r, c]:.3f}"
            text[r, c] = (
                f"query i = {x[r]:,} {bases[r]} \u2192 target j = {x[c]:,} {bases[c]}<br>max |\u0394 log-odds| {value}"
            )
    return text


def colour_limit(matrix: np.ndarray) -> float:
    """Top of the colour scale: the 99th percentile of the off-diagonal values (at least 0.1)."""
    finite = matrix[np.isfinite(matrix)]
    return float(max(np.quantile(finite, 0.99), 0.1)) if len(finite) else 1.0


def dependency_track(dependency, clickable: bool | None = None) -> Track:
    """The map as a heat map row: x = target, y = query (both 1-based genomic positions).

    ``clickable`` (default: at most :data:`CLICKABLE_MAX_BP` bp) lays a transparent marker
    on each cell whose ``customdata`` is ``[query row, target row]`` of the map, so that a
    selection names the clicked pair.
    """
    order, x = _genomic_order(dependency)
    z = dependency.matrix[np.ix_(order, order)]
    clickable = len(dependency) <= CLICKABLE_MAX_BP if clickable is None else clickable
    text = _cell_text(dependency, order)
    heat = go.Heatmap(
        x=x,
        y=x,
        z=z,
        colorscale=COLOURSCALE,
        zmin=0,
        zmax=colour_limit(z),
        hoverongaps=False,
        name="dependency",
        text=text,
        hovertemplate="%{text}<extra></extra>",
        hoverinfo="skip" if clickable else None,
        colorbar={"title": {"text": "max |\u0394 log-odds|", "side": "right"}, "thickness": 12},
    )
    traces = [heat]
    if clickable:
        rows, columns = np.meshgrid(np.arange(len(x)), np.arange(len(x)), indexing="ij")
        traces.append(
            go.Scatter(
                x=x[columns.ravel()],
                y=x[rows.ravel()],
                mode="markers",
                name="cells",
                marker={"size": max(3, int(HEATMAP_PX / len(x))), "symbol": "square", "opacity": 0},
                customdata=np.stack([order[rows.ravel()], order[columns.ravel()]], axis=1),
                text=text.ravel(),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    start, end = int(dependency.positions.min()), int(dependency.positions.max()) + 1
    # The 5' query on the strand read sits at the top.
    y_range = [end + 0.5, start + 0.5] if dependency.strand == "+" else [start + 0.5, end + 0.5]
    axis = {"range": y_range, "fixedrange": False, "showgrid": False, "zeroline": False, "tickformat": ",d"}
    return Track("query base i", traces, height=HEATMAP_PX, yaxis=axis)


def substitution_track(dependency, query: int) -> Track:
    """The effect of each substitution of query row ``query`` along the region: one line per
    alternative base, max |Δ log-odds| at each target (the map's value for that substitution)."""
    effect = dependency.substitution_effect(query)
    position = int(dependency.positions[query]) + 1
    reference = dependency.reference[query]
    traces = []
    for alt, part in effect.groupby("alt", sort=True):
        part = part.sort_values("pos")
        traces.append(
            go.Scatter(
                x=part["pos"] + 1,
                y=part["max_abs_change"],
                mode="lines+markers",
                name=f"{reference}>{alt}",
                line={"color": BASE_COLOURS[alt], "width": 1.5},
                marker={"size": 4},
                customdata=part[["target_ref", "ref_change"]].to_numpy(),
                hovertemplate=(
                    f"{position:,} {reference}>{alt} at target %{{x:,}} %{{customdata[0]}}<br>"
                    "max |\u0394 log-odds| %{y:.3f}; \u0394 log-odds of the target's reference base "
                    "%{customdata[1]:.3f}<extra></extra>"
                ),
            )
        )
    top = float(np.nanmax(effect["max_abs_change"])) if effect["max_abs_change"].notna().any() else 1.0
    shapes = [
        {
            "type": "line",
            "x0": position,
            "x1": position,
            "y0": 0,
            "y1": max(top, 0.1) * 1.05,
            "line": {"color": "#6b7280", "width": 1, "dash": "dot"},
        }
    ]
    axis = {"range": [0, max(top, 0.1) * 1.1], "fixedrange": True, "zeroline": False, "gridcolor": "#eef0f3"}
    return Track(f"{position:,} {reference}>alt", traces, height=SUBSTITUTION_ROW_PX, yaxis=axis, shapes=shapes)


def dependency_figure(
    dependency,
    logo_table: pd.DataFrame,
    features: pd.DataFrame,
    details: pd.DataFrame | None = None,
    logo_image: bytes | None = None,
    query: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """Logo, gene models, the chosen query's substitution track (if ``query``) and the heat map,
    on one x axis (the map's target bases).

    Parameters
    ----------
    dependency : :class:`glm_core.dependency.DependencyMap` of the locus.
    logo_table : the position table of the same locus and strand (:func:`glm_core.logo.position_table`).
    features, details : gene features and hover details, as for :func:`gene_model_track`.
    logo_image : :func:`glm_core.logo.logo_png` of ``logo_table``; without it the letters are bars.
    query : map row (0..L-1) whose substitutions are drawn as a track.
    """
    start, end = int(dependency.start), int(dependency.end)
    tracks = [
        logo_track(logo_table, letters_as_image=logo_image is not None),
        gene_model_track(features, start, end, details),
    ]
    if query is not None:
        tracks.append(substitution_track(dependency, query))
    tracks.append(dependency_track(dependency))
    figure = tracks_figure(
        dependency.chrom,
        start,
        end,
        tracks,
        title=title or f"{format_region(dependency.chrom, start, end)} ({dependency.strand}), dependency map",
    )
    figure.update_layout(barmode="overlay", bargap=0, showlegend=False)
    if logo_image is not None:
        add_logo_image(figure, logo_image, logo_table, row=1)
    row = len(tracks)
    domain = figure.layout[f"yaxis{row}"].domain
    figure.update_traces(
        colorbar={"y": (domain[0] + domain[1]) / 2, "len": domain[1] - domain[0], "yanchor": "middle"},
        selector={"type": "heatmap", "name": "dependency"},
    )
    return _read_on_strand(figure, start, end, dependency.strand)


def dependency_image(dependency, fmt: str = "png", dpi: int = 300) -> bytes:
    """The heat map for print (matplotlib, no pyplot state): PNG at ``dpi`` or SVG bytes.

    Axes are 1-based genomic positions, the query on y (5' on top), the target on x.
    """
    from matplotlib.figure import Figure

    from ..logo import figure_bytes

    order, x = _genomic_order(dependency)
    if dependency.strand == "-":
        order, x = order[::-1], x[::-1]
    z = np.ma.masked_invalid(dependency.matrix[np.ix_(order, order)])
    size = 3.2 + min(len(x), 500) / 60
    figure = Figure(figsize=(size + 1.2, size))
    ax = figure.add_axes((0.14, 0.12, 0.68, 0.8))
    image = ax.imshow(
        z, cmap="viridis", vmin=0, vmax=colour_limit(dependency.matrix), interpolation="nearest", aspect="equal"
    )
    ticks = np.unique(np.linspace(0, len(x) - 1, min(len(x), 6)).round().astype(int))
    ax.set_xticks(ticks, [f"{x[t]:,}" for t in ticks], fontsize=7)
    ax.set_yticks(ticks, [f"{x[t]:,}" for t in ticks], fontsize=7)
    ax.set_xlabel(f"target base j, {dependency.chrom} ({dependency.strand})", fontsize=8)
    ax.set_ylabel("query base i", fontsize=8)
    ax.set_title(
        f"{format_region(dependency.chrom, dependency.start, dependency.end)} ({dependency.strand}), "
        f"{dependency.model_name}",
        fontsize=8,
        loc="left",
    )
    colour_axes = figure.add_axes((0.85, 0.12, 0.03, 0.8))
    bar = figure.colorbar(image, cax=colour_axes)
    bar.set_label("max |\u0394 log-odds|", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return figure_bytes(figure, fmt, dpi=dpi)
