"""Whole-genome figures: bases per region class, and the embedding map of genomic windows.

Tables in are 0-based half-open like the rest of ``glm_core``; hovers show 1-based inclusive
positions. Never imports Streamlit.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..genome import format_region


def region_class_figure(totals: pd.DataFrame) -> go.Figure:
    """Horizontal bars of bases per region class.

    Parameters
    ----------
    totals : columns ``region_class``, ``bases`` and ``fraction`` (of the genome), as
        :meth:`glm_core.annotation.Annotation.region_class_totals` returns.
    """
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=totals["region_class"],
            x=totals["bases"] / 1e6,
            text=[f"{fraction:.1%}" for fraction in totals["fraction"]],
            textposition="outside",
            cliponaxis=False,
            marker={"color": "#2b6cb0"},
            customdata=totals["bases"],
            hovertemplate="%{y}: %{customdata:,} bp (%{text})<extra></extra>",
        )
    )
    figure.update_layout(
        height=60 + 28 * len(totals),
        margin={"l": 10, "r": 60, "t": 10, "b": 40},
        xaxis={"title": {"text": "Mb"}, "range": [0, totals["bases"].max() / 1e6 * 1.15]},
        yaxis={"autorange": "reversed"},
        plot_bgcolor="white",
    )
    return figure


# --------------------------------------------------------------------------- embedding maps

# One colour per region class, the same on every map; classes not listed (BED names) get
# the qualitative palette in order.
REGION_CLASS_COLOURS = {
    "CDS": "#d62839",
    "five_prime_UTR": "#f28e2b",
    "three_prime_UTR": "#edc948",
    "non_coding_exon": "#b07aa1",
    "intron": "#59a14f",
    "promoter": "#2b6cb0",
    "downstream": "#76b7b2",
    "intergenic": "#9c755f",
}
OTHER_CLASS_COLOURS = ("#4e79a7", "#e15759", "#ff9da7", "#af7aa1", "#bab0ac", "#86bcb6", "#8cd17d", "#f1ce63")
# Above this many points a map is drawn with WebGL (Scattergl), which stays fluid with many points.
WEBGL_POINTS = 5_000


def embedding_map_figure(table: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Scatter of a 2-D embedding map, one trace (legend entry) per class.

    Parameters
    ----------
    table : columns ``umap_x, umap_y``, ``chrom, start, end`` (0-based half-open; the hover
        shows them 1-based inclusive), ``region_class`` and, optionally, ``nearest_gene`` and
        ``gene_distance`` (bp), as :func:`glm_core.embedding.embedding_table` builds.

    Returns
    -------
    go.Figure whose every point has ``customdata[0]`` = its row position in ``table``, so a
    selected point (trace ``curve_number``, ``point_index``) maps back to its window.
    """
    missing = [c for c in ("umap_x", "umap_y", "chrom", "start", "end", "region_class") if c not in table.columns]
    if missing:
        raise ValueError(f"an embedding map needs columns {missing}; build the table with embedding_table(...)")
    labels = table["region_class"].astype(str).to_numpy()
    present = set(labels)
    order = [name for name in REGION_CLASS_COLOURS if name in present]
    order += sorted(present - set(order))
    others = iter(OTHER_CLASS_COLOURS * (1 + len(order) // len(OTHER_CLASS_COLOURS)))
    regions = [
        format_region(chrom, start, end)
        for chrom, start, end in zip(table["chrom"], table["start"].astype(int), table["end"].astype(int))
    ]
    if "nearest_gene" in table.columns:
        distance = table["gene_distance"] if "gene_distance" in table.columns else pd.Series(pd.NA, index=table.index)
        genes = [
            "none on this sequence"
            if not name
            else (f"{name} (overlaps)" if d == 0 else f"{name} ({d:,} bp away)")
            if pd.notna(d)
            else name
            for name, d in zip(table["nearest_gene"].astype(str), distance)
        ]
    else:
        genes = [""] * len(table)
    scatter = go.Scattergl if len(table) > WEBGL_POINTS else go.Scatter
    figure = go.Figure()
    for name in order:
        rows = np.flatnonzero(labels == name)
        figure.add_trace(
            scatter(
                x=table["umap_x"].to_numpy()[rows],
                y=table["umap_y"].to_numpy()[rows],
                mode="markers",
                name=f"{name} ({len(rows):,})",
                marker={"size": 6, "opacity": 0.8, "color": REGION_CLASS_COLOURS.get(name) or next(others)},
                customdata=np.stack(
                    [rows, np.asarray(regions, dtype=object)[rows], np.asarray(genes, dtype=object)[rows]], axis=1
                ),
                hovertemplate=(
                    f"<b>%{{customdata[1]}}</b><br>class: {escape(name)}<br>"
                    "nearest gene: %{customdata[2]}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        title=title,
        height=620,
        margin={"l": 10, "r": 10, "t": 80 if title else 50, "b": 10},
        xaxis={"title": {"text": "UMAP 1"}, "showticklabels": False, "zeroline": False},
        yaxis={"title": {"text": "UMAP 2"}, "showticklabels": False, "zeroline": False},
        legend={
            "title": {"text": "class (windows)"},
            "itemsizing": "constant",
            "orientation": "h",
            "x": 0,
            "y": 1.01,
            "xanchor": "left",
            "yanchor": "bottom",
        },
        plot_bgcolor="white",
        hovermode="closest",
    )
    return figure
