"""Two models at one locus: both logos stacked on one axis with the KL and delta P(ref)
tracks above the gene models, and the scatter of the two models' SNV LLRs.

Inputs come from :func:`glm_core.model_comparison.compare_probabilities` and the two
models' position tables (:func:`glm_core.logo.position_table`). Never imports Streamlit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..genome import format_region
from .locus_tracks import Track, gene_model_track, tracks_figure
from .logo_figures import _read_on_strand, _strand_sequence_track, add_logo_image, logo_track

KL_COLOUR = "#b45309"
DELTA_COLOUR = "#0f766e"
LINE_ROW_PX = 90


def _line_track(
    positions: pd.DataFrame, column: str, name: str, colour: str, hover: str, y_range: tuple[float, float]
) -> Track:
    order = np.argsort(positions["pos"].to_numpy())
    x = positions["pos"].to_numpy()[order] + 1
    trace = go.Scatter(
        x=x,
        y=positions[column].to_numpy()[order],
        mode="lines+markers" if len(x) <= 300 else "lines",
        line={"color": colour, "width": 1.5},
        marker={"size": 4},
        hovertemplate=f"{positions['chrom'].iloc[0]}:%{{x:,}} {hover} %{{y:.3f}}<extra></extra>",
    )
    axis = {
        "range": list(y_range),
        "fixedrange": True,
        "zeroline": True,
        "zerolinecolor": "#d1d5db",
        "gridcolor": "#eef0f3",
    }
    return Track(name, [trace], height=LINE_ROW_PX, yaxis=axis)


def comparison_locus_figure(
    comparison,
    table_1: pd.DataFrame,
    table_2: pd.DataFrame,
    features: pd.DataFrame,
    details: pd.DataFrame | None = None,
    logo_images: tuple[bytes | None, bytes | None] = (None, None),
    sequence: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Logo of model 1, logo of model 2, KL(1 || 2) in bits and P2(ref) - P1(ref), above the
    gene models (and the sequence), on one x axis.

    ``table_1``, ``table_2`` are the two models' position tables of the comparison's locus
    and strand; ``logo_images`` their logomaker images (None: letters drawn as bars).
    """
    chrom, start, end, strand = comparison.chrom, comparison.start, comparison.end, comparison.strand
    logos = []
    for table, image, name in zip((table_1, table_2), logo_images, (comparison.name_1, comparison.name_2)):
        track = logo_track(table, letters_as_image=image is not None)
        track.name = f"{name} (bits)"
        logos.append(track)
    kl_top = max(float(comparison.positions["kl_bits"].max()) * 1.1, 0.05)
    tracks = [
        *logos,
        _line_track(
            comparison.positions,
            "kl_bits",
            "KL (bits)",
            KL_COLOUR,
            f"KL({comparison.name_1} || {comparison.name_2}) bits",
            (0, kl_top),
        ),
        _line_track(
            comparison.positions,
            "delta_p_ref",
            "\u0394 P(ref)",
            DELTA_COLOUR,
            f"P(ref) {comparison.name_2} \u2212 {comparison.name_1}",
            (-1, 1),
        ),
        gene_model_track(features, start, end, details),
    ]
    if sequence is not None:
        tracks.append(_strand_sequence_track(sequence, chrom, start, strand))
    figure = tracks_figure(
        chrom,
        start,
        end,
        tracks,
        title=title or f"{format_region(chrom, start, end)} ({strand}), {comparison.name_1} vs {comparison.name_2}",
    )
    figure.update_layout(barmode="overlay", bargap=0)
    for row, (image, table) in enumerate(zip(logo_images, (table_1, table_2)), start=1):
        if image is not None:
            add_logo_image(figure, image, table, row=row)
    return _read_on_strand(figure, start, end, strand)


def llr_scatter_figure(comparison) -> go.Figure:
    """Every SNV's LLR under model 1 (x) and model 2 (y), the diagonal, and Pearson/Spearman in the title."""
    snvs = comparison.snvs
    hover = [
        f"{chrom}:{pos + 1:,} {ref}>{alt} ({strand})<br>{comparison.name_1} {a:.3f}, {comparison.name_2} {b:.3f}"
        for chrom, pos, strand, ref, alt, a, b in zip(
            snvs["chrom"], snvs["pos"], snvs["strand"], snvs["ref"], snvs["alt"], snvs["llr_1"], snvs["llr_2"]
        )
    ]
    values = np.concatenate([snvs["llr_1"].to_numpy(), snvs["llr_2"].to_numpy()])
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (-1.0, 1.0)
    figure = go.Figure(
        [
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                line={"color": "#9ca3af", "dash": "dot"},
                hoverinfo="skip",
                name="y = x",
            ),
            go.Scatter(
                x=snvs["llr_1"],
                y=snvs["llr_2"],
                mode="markers",
                name="SNVs",
                marker={"size": 5, "color": "#2563eb", "opacity": 0.6},
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(
        height=420,
        showlegend=False,
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        title={
            "text": f"LLR of {len(snvs):,} SNVs: Pearson {comparison.pearson:.3f}, Spearman {comparison.spearman:.3f}",
            "x": 0,
            "font": {"size": 14},
        },
        xaxis={"title": {"text": f"LLR, {comparison.name_1}"}, "gridcolor": "#eef0f3", "zeroline": False},
        yaxis={"title": {"text": f"LLR, {comparison.name_2}"}, "gridcolor": "#eef0f3", "zeroline": False},
    )
    return figure
