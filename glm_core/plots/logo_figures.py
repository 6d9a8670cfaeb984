"""Predicted-logo and variant-effect figures: logo, value and saturation-scan rows on the
locus axis of :mod:`glm_core.plots.locus_tracks`, and the LLR-by-consequence summaries.

Never imports Streamlit.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..genome import format_region
from .locus_tracks import (
    BASE_COLOURS,
    Track,
    base_positions,
    gene_model_track,
    sequence_track,
    tracks_figure,
)


# --------------------------------------------------------------------------- predicted logos and LLR scans
#
# Position tables (glm_core.logo.position_table) list a locus 5'->3' on its strand. On the
# plus strand the axis runs left to right as usual; on the minus strand the figures
# reverse the x axis (1-based genomic positions decreasing to the right), so the logo,
# the gene models and the complemented sequence read 5'->3' on that strand.

LOGO_ROW_PX = 150
LINE_ROW_PX = 80
HEATMAP_ROW_PX = 150
MOTIF_FILL = "rgba(255, 213, 79, 0.35)"
CONSEQUENCE_COLOURS = {
    "stop_gained": "#b91c1c",
    "stop_lost": "#f97316",
    "start_lost": "#db2777",
    "splice_donor": "#7c3aed",
    "splice_acceptor": "#7c3aed",
    "missense": "#d97706",
    "synonymous": "#2563eb",
}


def _locus_of(table: pd.DataFrame) -> tuple[str, int, int, str]:
    """chrom, start, end (0-based half-open) and strand of a position table."""
    return (
        str(table["chrom"].iloc[0]),
        int(table["pos"].min()),
        int(table["pos"].max()) + 1,
        str(table["strand"].iloc[0]),
    )


def _position_hover(table: pd.DataFrame) -> list[str]:
    chrom, strand = table["chrom"].iloc[0], table["strand"].iloc[0]
    return [
        f"{chrom}:{pos + 1:,} ({strand}) ref {ref}<br>A {a:.3f}  C {c:.3f}  G {g:.3f}  T {t:.3f}<br>"
        f"P(ref) {p_ref:.3f}, entropy {entropy:.2f} bits, IC {ic:.2f} bits"
        for pos, ref, a, c, g, t, p_ref, entropy, ic in zip(
            table["pos"],
            table["ref"],
            table["pA"],
            table["pC"],
            table["pG"],
            table["pT"],
            table["p_ref"],
            table["entropy"],
            table["ic"],
        )
    ]


def logo_track(table: pd.DataFrame, motifs: pd.DataFrame | None = None, letters_as_image: bool = False) -> Track:
    """The predicted logo row (y = bits, 0..2): letter heights are probability x IC.

    Parameters
    ----------
    table : position table (:func:`glm_core.logo.position_table`).
    motifs : candidate motifs (:func:`glm_core.logo.candidate_motifs`): shaded, with their
        consensus written above.
    letters_as_image : leave the letters out, for a logomaker image added with
        :func:`add_logo_image`; otherwise each base is a coloured bar of its letter's
        height, largest on top (letters are unreadable below a few pixels a base anyway).

    Hovering a position shows its four probabilities, P(ref), entropy and IC.
    """
    x = table["pos"].to_numpy() + 1
    heights = table[["pA", "pC", "pG", "pT"]].to_numpy(dtype=np.float64) * table["ic"].to_numpy()[:, None]
    traces: list = []
    if not letters_as_image:
        order = np.argsort(heights, axis=1, kind="stable")  # smallest at the bottom
        rank = np.argsort(order, axis=1)
        below = np.zeros_like(heights)
        for column in range(4):
            below[:, column] = np.where(rank < rank[:, [column]], heights, 0.0).sum(axis=1)
        for column, base in enumerate("ACGT"):
            traces.append(
                go.Bar(
                    x=x,
                    y=heights[:, column],
                    base=below[:, column],
                    width=0.9,
                    name=base,
                    marker={"color": BASE_COLOURS[base], "line": {"width": 0}},
                    hoverinfo="skip",
                )
            )
    traces.append(
        go.Scatter(
            x=x,
            y=np.clip(table["ic"].to_numpy(), 0.05, 2.0),
            mode="markers",
            marker={"size": 12, "opacity": 0},
            hovertext=_position_hover(table),
            hovertemplate="%{hovertext}<extra></extra>",
            name="logo",
        )
    )
    shapes = []
    top = 2.0
    if motifs is not None and len(motifs):
        top = 2.35
        for motif in motifs.itertuples():
            shapes.append(
                {
                    "type": "rect",
                    "x0": motif.start + 0.5,
                    "x1": motif.end + 0.5,
                    "y0": 0,
                    "y1": 2,
                    "fillcolor": MOTIF_FILL,
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
        traces.append(
            go.Scatter(
                x=(motifs["start"] + motifs["end"]).to_numpy() / 2 + 0.5,
                y=[2.17] * len(motifs),
                mode="text",
                text=motifs["consensus"].tolist(),
                textfont={"family": "monospace", "size": 12},
                hovertext=[
                    f"candidate motif {row.consensus} (reference {row.reference}), {row.length} bp, "
                    f"mean IC {row.mean_ic:.2f} bits"
                    for row in motifs.itertuples()
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    axis = {"range": [0, top], "tickvals": [0, 1, 2], "fixedrange": True, "showgrid": False, "zeroline": False}
    return Track("logo (bits)", traces, height=LOGO_ROW_PX, yaxis=axis, shapes=shapes)


def value_track(table: pd.DataFrame, column: str, name: str, y_range: tuple[float, float], colour: str) -> Track:
    """One per-position value of a position table as a line (e.g. ``p_ref`` or ``entropy``)."""
    x = table["pos"].to_numpy() + 1
    order = np.argsort(x)
    chrom = table["chrom"].iloc[0]
    trace = go.Scatter(
        x=x[order],
        y=table[column].to_numpy()[order],
        mode="lines+markers" if len(table) <= 300 else "lines",
        line={"color": colour, "width": 1.5},
        marker={"size": 4},
        hovertemplate=f"{chrom}:%{{x:,}} {name} %{{y:.3f}}<extra></extra>",
    )
    axis = {"range": list(y_range), "fixedrange": True, "zeroline": False, "gridcolor": "#eef0f3"}
    return Track(name, [trace], height=LINE_ROW_PX, yaxis=axis)


def precomputed_score_tracks(scores: pd.DataFrame, calibrated: bool = False) -> list[Track]:
    """Two rows from a score-genome folder, one value per base: information content (bits) and
    the mean and minimum LLR of the base's three SNVs (cLLR when ``calibrated``).

    Parameters
    ----------
    scores : :func:`glm_core.genome_hub.position_scores` of the locus (``pos`` 0-based, one row a base).
    calibrated : draw ``cllr_mean`` / ``cllr_min`` instead of ``llr_mean`` / ``llr_min``.

    Strand-independent values, drawn at their genomic positions; on the minus strand the
    figure's reversed axis keeps them under their bases.
    """
    x = scores["pos"].to_numpy() + 1
    chrom = scores["chrom"].iloc[0]
    ic = go.Scatter(
        x=x,
        y=scores["ic"].to_numpy(dtype=np.float64),
        mode="lines+markers" if len(scores) <= 300 else "lines",
        line={"color": "#3c3c3c", "width": 1.5, "shape": "hvh"},
        marker={"size": 4},
        name="IC",
        hovertemplate=f"{chrom}:%{{x:,}} IC %{{y:.3f}} bits (score-genome ic.bw)<extra></extra>",
    )
    score = "cLLR" if calibrated else "LLR"
    prefix = "cllr" if calibrated else "llr"
    mean = scores[f"{prefix}_mean"].to_numpy(dtype=np.float64)
    low = scores[f"{prefix}_min"].to_numpy(dtype=np.float64)
    traces = [
        go.Scatter(
            x=x,
            y=low,
            mode="markers",
            marker={"size": 5, "color": "#b91c1c", "symbol": "triangle-down"},
            name=f"min {score}",
            hovertemplate=f"{chrom}:%{{x:,}} minimum {score} of the 3 SNVs %{{y:.3f}}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=mean,
            mode="lines+markers" if len(scores) <= 300 else "lines",
            line={"color": "#1d4ed8", "width": 1.5},
            marker={"size": 4},
            name=f"mean {score}",
            hovertemplate=f"{chrom}:%{{x:,}} mean {score} of the 3 SNVs %{{y:.3f}}<extra></extra>",
        ),
    ]
    finite = np.concatenate([low[np.isfinite(low)], mean[np.isfinite(mean)], [0.0]])
    pad = 0.05 * max(1.0, float(finite.max() - finite.min()))
    score_axis = {
        "range": [float(finite.min()) - pad, float(finite.max()) + pad],
        "fixedrange": True,
        "zeroline": True,
        "zerolinecolor": "#9ca3af",
        "gridcolor": "#eef0f3",
    }
    ic_axis = {"range": [0, 2], "tickvals": [0, 1, 2], "fixedrange": True, "gridcolor": "#eef0f3"}
    return [
        Track("IC (bits)", [ic], height=LINE_ROW_PX, yaxis=ic_axis),
        Track(f"{score} mean, min", traces, height=LINE_ROW_PX + 20, yaxis=score_axis),
    ]


def add_logo_image(figure: go.Figure, png: bytes, table: pd.DataFrame, row: int = 1) -> go.Figure:
    """Place a bare logo image (:func:`glm_core.logo.logo_png` of ``table``) on ``row`` so that
    base ``i`` of the image covers its genomic position; works on either strand's axis."""
    import base64

    _, start, end, strand = _locus_of(table)
    figure.add_layout_image(
        source="data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        x=start + 0.5 if strand == "+" else end + 0.5,
        y=2,
        sizex=end - start,
        sizey=2,
        xanchor="left",
        yanchor="top",
        sizing="stretch",
        layer="above",
        row=row,
        col=1,
    )
    return figure


def _read_on_strand(figure: go.Figure, start: int, end: int, strand: str) -> go.Figure:
    """Reverse the x axis for the minus strand, turning strand arrows with it."""
    if strand == "-":
        figure.update_xaxes(range=[end + 0.5, start + 0.5])
        swap = {"triangle-right": "triangle-left", "triangle-left": "triangle-right"}
        for trace in figure.data:
            if trace.type == "scatter" and trace.marker is not None and trace.marker.symbol in swap:
                trace.marker.symbol = swap[trace.marker.symbol]
    return figure


def _strand_sequence_track(sequence: str, chrom: str, start: int, strand: str) -> Track:
    if strand == "+":
        return sequence_track(sequence, chrom, start)
    from ..genome import reverse_complement

    track = sequence_track(reverse_complement(sequence)[::-1], chrom, start)  # complement, genomic order
    track.name = "sequence (-)"
    return track


def logo_locus_figure(
    table: pd.DataFrame,
    features: pd.DataFrame,
    details: pd.DataFrame | None = None,
    motifs: pd.DataFrame | None = None,
    logo_image: bytes | None = None,
    sequence: str | None = None,
    title: str | None = None,
    extra_tracks: Sequence[Track] = (),
) -> go.Figure:
    """Logo, P(ref) and entropy rows above the gene models (and the sequence), one x axis.

    Parameters
    ----------
    table : position table of the locus (consecutive bases of one strand).
    features, details : gene features and hover details, as for :func:`gene_model_track`.
    motifs : candidate motifs to highlight in the logo row.
    logo_image : :func:`glm_core.logo.logo_png` of ``table``; without it the letters are bars.
    sequence : plus-strand bases of the locus, for the sequence row (complemented on ``-``).
    title : defaults to the region and strand.
    extra_tracks : rows drawn right under the logo (e.g. :func:`precomputed_score_tracks`).
    """
    chrom, start, end, strand = _locus_of(table)
    tracks = [
        logo_track(table, motifs, letters_as_image=logo_image is not None),
        *extra_tracks,
        value_track(table, "p_ref", "P(ref)", (0, 1), "#374151"),
        value_track(table, "entropy", "entropy (bits)", (0, 2), "#7c3aed"),
        gene_model_track(features, start, end, details),
    ]
    if sequence is not None:
        tracks.append(_strand_sequence_track(sequence, chrom, start, strand))
    figure = tracks_figure(
        chrom, start, end, tracks, title=title or f"{format_region(chrom, start, end)} ({strand}), predicted logo"
    )
    figure.update_layout(barmode="overlay", bargap=0)
    if logo_image is not None:
        add_logo_image(figure, logo_image, table, row=1)
    return _read_on_strand(figure, start, end, strand)


def saturation_track(snvs: pd.DataFrame, start: int, end: int) -> Track:
    """Heat map of every SNV's LLR: positions x A/C/G/T, the reference cell blank.

    Parameters
    ----------
    snvs : :func:`glm_core.variants.region_snvs` of ``[start, end)`` (0-based half-open).

    The diverging colour scale is centred at 0 (red = the model prefers the reference,
    blue = it prefers the alternative) and clipped symmetrically at the 99th percentile
    of |LLR|. Hovering a cell names the variant, its LLR, percentile and consequence.
    """
    n = end - start
    z = np.full((4, n), np.nan)
    text = np.full((4, n), "", dtype=object)
    column = snvs["pos"].to_numpy() - start
    row = pd.Categorical(snvs["alt"], categories=list("ACGT")).codes
    z[row, column] = snvs["llr"].to_numpy()
    chrom = snvs["chrom"].iloc[0] if len(snvs) else ""
    has_genome_pct = "llr_percentile_genome" in snvs.columns
    for r, c, variant in zip(row, column, snvs.itertuples()):
        consequence = variant.consequence if isinstance(variant.consequence, str) else "no annotation"
        detail = ""
        if isinstance(variant.gene, str):
            detail = f" in {escape(variant.gene)}"
            if isinstance(variant.ref_aa, str) and isinstance(variant.alt_aa, str):
                detail += f" ({variant.ref_codon}>{variant.alt_codon}, {variant.ref_aa}>{variant.alt_aa})"
        line = (
            f"{chrom}:{variant.pos + 1:,} {variant.ref}>{variant.alt}<br>LLR {variant.llr:.3f} "
            f"(percentile in region {variant.llr_percentile:.1f})"
        )
        if has_genome_pct:
            line += f", genome-wide {variant.llr_percentile_genome:.1f}"
        text[r, c] = f"{line}<br>{consequence}{detail}"
    # Reference cells: a light grey layer underneath (the LLR layer has a gap there).
    reference = snvs.drop_duplicates("pos")
    z_reference = np.full((4, n), np.nan)
    reference_text = np.full((4, n), "", dtype=object)
    for pos, ref in zip(reference["pos"].to_numpy() - start, reference["ref"]):
        z_reference["ACGT".index(ref), pos] = 0.0
        reference_text["ACGT".index(ref), pos] = f"{chrom}:{pos + start + 1:,} reference {ref}"
    finite = np.abs(snvs["llr"].to_numpy())
    limit = float(max(np.nanquantile(finite, 0.99), 0.1)) if len(finite) else 1.0
    x = base_positions(start, end)
    reference_cells = go.Heatmap(
        x=x,
        y=list("ACGT"),
        z=z_reference,
        text=reference_text,
        hovertemplate="%{text}<extra></extra>",
        colorscale=[[0, "#e5e7eb"], [1, "#e5e7eb"]],
        showscale=False,
        hoverongaps=False,
        xgap=0,
        ygap=1,
    )
    heat = go.Heatmap(
        x=x,
        y=list("ACGT"),
        z=z,
        text=text,
        hovertemplate="%{text}<extra></extra>",
        hoverongaps=False,
        colorscale="RdBu",
        zmid=0,
        zmin=-limit,
        zmax=limit,
        xgap=0,
        ygap=1,
        name="LLR",
        colorbar={"title": {"text": "LLR"}, "thickness": 12},
    )
    axis = {"fixedrange": True, "showgrid": False, "zeroline": False, "autorange": "reversed"}
    return Track("alt allele", [reference_cells, heat], height=HEATMAP_ROW_PX, yaxis=axis)


def variant_scan_figure(
    snvs: pd.DataFrame,
    chrom: str,
    start: int,
    end: int,
    features: pd.DataFrame,
    details: pd.DataFrame | None = None,
    sequence: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """The saturation heat map above the gene models (and the sequence), on one x axis."""
    tracks = [saturation_track(snvs, start, end), gene_model_track(features, start, end, details)]
    if sequence is not None:
        tracks.append(sequence_track(sequence, chrom, start))
    figure = tracks_figure(
        chrom, start, end, tracks, title=title or f"{format_region(chrom, start, end)}, LLR of every SNV"
    )
    domain = figure.layout.yaxis.domain
    figure.update_traces(
        colorbar={"y": (domain[0] + domain[1]) / 2, "len": domain[1] - domain[0], "yanchor": "middle"},
        selector={"type": "heatmap", "name": "LLR"},
        row=1,
        col=1,
    )
    return figure


def _consequences_present(snvs: pd.DataFrame) -> list[str]:
    known = snvs.loc[snvs["consequence"].notna() & snvs["llr"].notna(), "consequence"]
    categories = list(getattr(known.dtype, "categories", pd.unique(known)))
    present = set(known.astype(str))
    return [category for category in categories if category in present]


def consequence_llr_figure(snvs: pd.DataFrame) -> go.Figure:
    """LLR of the region's SNVs per consequence (violins with box and points), most severe first.

    Every class is drawn with all its SNVs, whatever it shows: synonymous changes often
    score below missense ones because the model has learnt the genome's codon usage.
    """
    figure = go.Figure()
    for consequence in _consequences_present(snvs):
        values = snvs.loc[snvs["consequence"].astype(str) == consequence, "llr"].dropna()
        figure.add_trace(
            go.Violin(
                x=[f"{consequence}<br>n={len(values):,}"] * len(values),
                y=values,
                name=consequence,
                box={"visible": True},
                meanline={"visible": True},
                points="all" if len(values) <= 300 else "outliers",
                pointpos=0,
                jitter=0.4,
                marker={"size": 3},
                line={"color": CONSEQUENCE_COLOURS.get(consequence, "#6b7280")},
                spanmode="hard",
                hovertemplate=f"{consequence}: LLR %{{y:.3f}}<extra></extra>",
            )
        )
    figure.add_hline(y=0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    figure.update_layout(
        height=380,
        showlegend=False,
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        yaxis={"title": {"text": "LLR (natural log)"}, "gridcolor": "#eef0f3", "zeroline": False},
        title={"text": "LLR by predicted consequence", "x": 0, "font": {"size": 14}},
    )
    return figure


def codon_position_llr_figure(snvs: pd.DataFrame) -> go.Figure:
    """LLR of coding SNVs by codon position (1..3 on the transcript's strand), one box per
    consequence at each position: shows how much of the LLR follows codon position."""
    coding = snvs[snvs["codon_position"].notna() & snvs["llr"].notna()]
    figure = go.Figure()
    for consequence in _consequences_present(coding):
        part = coding[coding["consequence"].astype(str) == consequence]
        figure.add_trace(
            go.Box(
                x=[f"position {int(p)}" for p in part["codon_position"]],
                y=part["llr"],
                name=consequence,
                marker={"color": CONSEQUENCE_COLOURS.get(consequence, "#6b7280"), "size": 3},
                boxpoints="all" if len(part) <= 300 else "outliers",
                jitter=0.4,
                pointpos=0,
                hovertemplate=f"{consequence}, %{{x}}: LLR %{{y:.3f}}<extra></extra>",
            )
        )
    figure.add_hline(y=0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    figure.update_layout(
        height=380,
        boxmode="group",
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        xaxis={"categoryorder": "array", "categoryarray": ["position 1", "position 2", "position 3"]},
        yaxis={"title": {"text": "LLR (natural log)"}, "gridcolor": "#eef0f3", "zeroline": False},
        legend={"title": {"text": "consequence"}},
        title={"text": "LLR by codon position", "x": 0, "font": {"size": 14}},
    )
    return figure
