"""Plotly figures for the locus browser: stacked tracks on one shared genomic x axis.

Coordinates
-----------
Every table passed in is **0-based, half-open** (``start <= i < end``), like the rest of
``glm_core``. The x axis of every figure is the **1-based** position users see: base ``i``
(0-based) is drawn centred on ``x = i + 1`` and covers ``[i + 0.5, i + 1.5]``, so an
interval ``[start, end)`` spans ``x`` from ``start + 0.5`` to ``end + 0.5``. A track that
plots one value per base puts it at ``x = base_positions(start, end)``.

Tracks
------
A figure is a stack of :class:`Track` rows sharing the x axis (zooming one row zooms all).
:func:`gene_model_track` and :func:`sequence_track` build the standard rows;
:func:`locus_figure` stacks any extra rows (logos, LLR scans ...) above the gene models.

This module never imports Streamlit: the app renders the figures with ``st.plotly_chart``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .genome import format_region

# The usual sequence-logo colours.
BASE_COLOURS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
OTHER_BASE_COLOUR = "#9e9e9e"
STRAND_COLOURS = {"+": "#2b6cb0", "-": "#b7410e"}
INTRON_COLOUR = "#6b7280"

# Above this many bp the sequence row is left out: its letter layer costs the browser time
# for every base in view (about 1 s for 10 kb in headless Chromium).
MAX_SEQUENCE_BP = 10_000
# Above this many bp a locus figure is refused: thousands of gene models are unreadable.
MAX_LOCUS_BP = 2_000_000
# Bases narrower than this on screen get no letter (see sequence_track): on a chart about
# 1,100 px wide letters start to appear below about 270 bp in view, are readable by about
# 120 bp and full size by about 95 bp.
LETTER_GAP_PX = 4
# Gene names are drawn above the models only when at most this many transcripts are in view.
MAX_LABELLED_TRANSCRIPTS = 60

LANE_PX = 46
SEQUENCE_ROW_PX = 56
ROW_GAP_PX = 14


@dataclass
class Track:
    """One row of a locus figure.

    Parameters
    ----------
    name : the row's title, shown on its y axis.
    traces : plotly traces whose x values are 1-based genome positions (see the module
        docstring); their y values are in the row's own units.
    height : the row's height in pixels.
    yaxis : layout properties of the row's y axis (``range``, ``tickvals``, ...); ``title``
        defaults to ``name``.
    shapes : layout shapes drawn in the row, in data coordinates (``xref``/``yref`` are set
        by :func:`tracks_figure`); useful for letter glyphs of a logo.
    """

    name: str
    traces: list = field(default_factory=list)
    height: int = 120
    yaxis: dict = field(default_factory=dict)
    shapes: list = field(default_factory=list)


def base_positions(start: int, end: int) -> np.ndarray:
    """x values (1-based positions) of the bases of ``[start, end)`` (0-based half-open).

    Returns
    -------
    np.ndarray, shape=(end - start,), int64
    """
    return np.arange(start + 1, end + 1, dtype=np.int64)


def _check_window(chrom: str, start: int, end: int) -> None:
    if not 0 <= start < end:
        raise ValueError(
            f"a locus needs 0 <= start < end (0-based half-open); got {chrom}:{start}-{end}"
        )
    if end - start > MAX_LOCUS_BP:
        raise ValueError(
            f"{chrom}:{start + 1:,}-{end:,} is {end - start:,} bp; the locus view shows at most "
            f"{MAX_LOCUS_BP:,} bp: choose a smaller region or search for a gene"
        )


# --------------------------------------------------------------------------- gene models


def pack_lanes(transcripts: pd.DataFrame, min_gap: int = 0) -> pd.Series:
    """Put each transcript in the first lane where it overlaps nothing (greedy, by start).

    Parameters
    ----------
    transcripts : columns ``start, end`` (0-based half-open).
    min_gap : bp kept free between neighbours in one lane (room for their labels).

    Returns
    -------
    pd.Series of int64 lane numbers (0 = top row), indexed like ``transcripts``.
    """
    lane_ends: list[int] = []
    lanes = pd.Series(0, index=transcripts.index, dtype="int64")
    order = transcripts.sort_values(["start", "end"], kind="stable")
    for index, start, end in zip(order.index, order["start"].to_numpy(), order["end"].to_numpy()):
        lane = next((i for i, lane_end in enumerate(lane_ends) if lane_end + min_gap <= start), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(int(end))
        else:
            lane_ends[lane] = int(end)
        lanes[index] = lane
    return lanes


def _hover_text(row: pd.Series, part: str, part_start: int, part_end: int) -> str:
    lines = [f"<b>{escape(str(row['name']))}</b> {part}"]
    identifiers = escape(str(row["transcript_id"]))
    gene_id = row.get("gene_id")
    if isinstance(gene_id, str) and gene_id not in ("", row["transcript_id"]):
        identifiers += f" (gene {escape(gene_id)})"
    lines.append(identifiers)
    description = row.get("description")
    if isinstance(description, str) and description:
        lines.append(escape(description))
    lines.append(
        f"{row['chrom']}:{part_start + 1:,}-{part_end:,} ({row['strand']}), {part_end - part_start:,} bp"
    )
    return "<br>".join(lines)


def gene_model_track(
    features: pd.DataFrame, start: int, end: int, details: pd.DataFrame | None = None
) -> Track:
    """Gene models: exons as thin boxes, CDS as thick boxes, introns as lines, strand arrows.

    Parameters
    ----------
    features : one row a feature, columns ``transcript_id, name, feature`` (``transcript``,
        ``exon`` or ``CDS``), ``chrom, start, end`` (0-based half-open), ``strand``, as
        :meth:`glm_core.annotation.Annotation.region_features` returns.
    start, end : the window shown (0-based half-open); spaces the strand arrows and labels.
    details : optional table with ``transcript_id`` and any of ``gene_id, description``
        (e.g. :attr:`Annotation.transcripts`), added to the hover text.

    Returns
    -------
    Track with one lane per set of non-overlapping transcripts (y = lane, 0 at the top).
    """
    transcripts = features[features["feature"] == "transcript"].drop_duplicates("transcript_id")
    if transcripts.empty:
        message = go.Scatter(
            x=[(start + end) / 2 + 0.5],
            y=[0],
            mode="text",
            text=["no annotated transcripts in this region"],
            textfont={"color": INTRON_COLOUR},
            hoverinfo="skip",
        )
        return Track("genes", [message], height=30 + LANE_PX, yaxis=_lane_axis(1))
    if details is not None:
        extra = [c for c in ("gene_id", "description") if c in details.columns and c not in transcripts.columns]
        transcripts = transcripts.merge(
            details[["transcript_id", *extra]].drop_duplicates("transcript_id"), on="transcript_id", how="left"
        )
    width = end - start
    transcripts = transcripts.assign(lane=pack_lanes(transcripts, min_gap=width // 100).to_numpy())
    lane_of = transcripts.set_index("transcript_id")["lane"]
    info = transcripts.set_index("transcript_id")
    n_lanes = int(transcripts["lane"].max()) + 1

    traces: list = []
    intron_x: list = []
    intron_y: list = []
    for (s, e), lane in zip(_introns(transcripts, features), transcripts["lane"]):
        for intron_start, intron_end in zip(s, e):
            intron_x += [intron_start + 0.5, intron_end + 0.5, None]
            intron_y += [lane, lane, None]
    traces.append(
        go.Scatter(x=intron_x, y=intron_y, mode="lines", line={"color": INTRON_COLOUR, "width": 1.5}, hoverinfo="skip")
    )

    for part, thickness, alpha in (("exon", 0.36, 0.45), ("CDS", 0.62, 1.0)):
        parts = features[(features["feature"] == part) & features["transcript_id"].isin(lane_of.index)]
        if parts.empty:
            continue
        rows = info.loc[parts["transcript_id"]].reset_index()
        traces.append(
            go.Bar(
                orientation="h",
                y=lane_of.loc[parts["transcript_id"]].to_numpy(),
                x=(parts["end"] - parts["start"]).to_numpy(),
                base=parts["start"].to_numpy() + 0.5,
                width=thickness,
                marker={
                    "color": [STRAND_COLOURS.get(strand, INTRON_COLOUR) for strand in parts["strand"]],
                    "opacity": alpha,
                    "line": {"width": 0},
                },
                hovertext=[
                    _hover_text(row, part, s, e)
                    for (_, row), s, e in zip(rows.iterrows(), parts["start"], parts["end"])
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )

    step = max(width / 45, 1.0)
    for strand, symbol in (("+", "triangle-right"), ("-", "triangle-left")):
        arrow_x: list[float] = []
        arrow_y: list[int] = []
        on_strand = transcripts[transcripts["strand"] == strand]
        for s, e, lane in zip(on_strand["start"], on_strand["end"], on_strand["lane"]):
            left, right = max(s, start), min(e, end)
            if right <= left:
                continue
            xs = np.arange(left + step / 2, right, step) if right - left > step else np.array([(left + right) / 2])
            arrow_x += (xs + 0.5).tolist()
            arrow_y += [int(lane)] * len(xs)
        if arrow_x:
            traces.append(
                go.Scatter(
                    x=arrow_x,
                    y=arrow_y,
                    mode="markers",
                    marker={
                        "symbol": symbol,
                        "size": 7,
                        "color": "white",
                        "line": {"color": STRAND_COLOURS[strand], "width": 1},
                    },
                    hoverinfo="skip",
                )
            )

    if len(transcripts) <= MAX_LABELLED_TRANSCRIPTS:
        left = np.maximum(transcripts["start"].to_numpy(), start)
        right = np.minimum(transcripts["end"].to_numpy(), end)
        traces.append(
            go.Scatter(
                x=(left + right) / 2 + 0.5,
                y=transcripts["lane"].to_numpy() - 0.5,
                mode="text",
                text=[f"{name} ({strand})" for name, strand in zip(transcripts["name"], transcripts["strand"])],
                textfont={"size": 11, "color": "#1f2937"},
                hoverinfo="skip",
            )
        )
    return Track("genes", traces, height=30 + LANE_PX * n_lanes, yaxis=_lane_axis(n_lanes))


def _introns(transcripts: pd.DataFrame, features: pd.DataFrame) -> list[tuple[list[int], list[int]]]:
    """Per transcript (in ``transcripts`` order): starts and ends of the gaps between its exons.

    A transcript without exon rows is drawn as one line over its whole span.
    """
    exons = features[features["feature"] == "exon"].sort_values("start")
    by_transcript = {tid: group for tid, group in exons.groupby("transcript_id", sort=False)}
    result = []
    for tid, start, end in zip(transcripts["transcript_id"], transcripts["start"], transcripts["end"]):
        group = by_transcript.get(tid)
        if group is None:
            result.append(([int(start)], [int(end)]))
            continue
        reach = np.maximum.accumulate(group["end"].to_numpy())
        gap_start, gap_end = reach[:-1], group["start"].to_numpy()[1:]
        keep = gap_end > gap_start
        result.append((gap_start[keep].tolist(), gap_end[keep].tolist()))
    return result


def _lane_axis(n_lanes: int) -> dict:
    return {
        "range": [n_lanes - 0.45, -0.85],
        "showticklabels": False,
        "ticks": "",
        "showgrid": False,
        "zeroline": False,
        "fixedrange": True,
    }


# --------------------------------------------------------------------------- sequence


def sequence_track(sequence: str, chrom: str, start: int) -> Track:
    """The forward-strand bases as coloured cells, lettered at high zoom.

    At low zoom the row is a coloured barcode; hovering a cell names the base. Letters are
    drawn by a transparent second layer whose cells are narrowed by :data:`LETTER_GAP_PX`,
    so plotly writes a letter only once a base is wider than that on screen: on a chart
    about 1,100 px wide, letters appear below about 270 bp in view and are readable from
    about 120 bp. Lower-case (soft-masked) bases keep their case.

    Parameters
    ----------
    sequence : the bases of ``[start, start + len(sequence))``, forward strand.
    chrom, start : where the sequence begins (0-based), for the x positions and hover text.

    Raises
    ------
    ValueError if the sequence is longer than :data:`MAX_SEQUENCE_BP`.
    """
    if len(sequence) > MAX_SEQUENCE_BP:
        raise ValueError(
            f"the sequence row shows at most {MAX_SEQUENCE_BP:,} bp; got {len(sequence):,} bp "
            f"from {chrom}:{start + 1:,}: pass a smaller window"
        )
    positions = base_positions(start, start + len(sequence))
    bases = [list(sequence)]
    codes = [[_BASE_INDEX.get(base, len(BASE_COLOURS)) for base in sequence.upper()]]
    cells = {"x": positions, "y": [0], "z": codes, "zmin": -0.5, "zmax": len(BASE_COLOURS) + 0.5, "showscale": False}
    colour_cells = go.Heatmap(
        **cells,
        colorscale=_BASE_COLOURSCALE,
        text=bases,
        hovertemplate=f"{chrom}:%{{x:,}} %{{text}}<extra></extra>",
    )
    # Plotly sizes heatmap text from the distance between neighbouring labels in x and y,
    # less the cell gaps, and falls back to a fixed size when there is only one row. A
    # second row of blank labels just above the letters (every 10th base, so one is always
    # in view) keeps the sizing automatic, so letters vanish when bases get narrow.
    spacer = [" " if i % 10 == 0 else "" for i in range(len(sequence))]
    letter_cells = go.Heatmap(
        x=positions,
        y=[0, 0.45],
        z=codes * 2,
        showscale=False,
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        xgap=LETTER_GAP_PX,
        text=[bases[0], spacer],
        texttemplate="%{text}",
        textfont={"color": "white", "family": "monospace"},
        hoverinfo="skip",
    )
    axis = {
        "range": [-0.5, 0.5],
        "showticklabels": False,
        "ticks": "",
        "showgrid": False,
        "zeroline": False,
        "fixedrange": True,
    }
    return Track("sequence (+)", [colour_cells, letter_cells], height=SEQUENCE_ROW_PX, yaxis=axis)


def _discrete_colourscale(colours: list[str]) -> list[list]:
    """A colourscale mapping integer codes 0..n-1 (with zmin=-0.5, zmax=n-0.5) to ``colours``."""
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / len(colours), colour], [(i + 1) / len(colours), colour]]
    return scale


_BASE_INDEX = {base: i for i, base in enumerate(BASE_COLOURS)}
_BASE_COLOURSCALE = _discrete_colourscale([*BASE_COLOURS.values(), OTHER_BASE_COLOUR])


# --------------------------------------------------------------------------- figures


def tracks_figure(chrom: str, start: int, end: int, tracks: Sequence[Track], title: str | None = None) -> go.Figure:
    """Stack ``tracks`` top to bottom on one x axis showing ``[start, end)`` (0-based half-open).

    Zooming or panning any row moves all of them; y axes are fixed, so a drag zooms the
    genome axis only.
    """
    _check_window(chrom, start, end)
    if not tracks:
        raise ValueError("tracks_figure needs at least one Track")
    heights = [max(int(track.height), 20) for track in tracks]
    plot_height = sum(heights) + ROW_GAP_PX * (len(tracks) - 1)
    figure = make_subplots(
        rows=len(tracks),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=ROW_GAP_PX / plot_height if len(tracks) > 1 else 0,
        row_heights=[height / sum(heights) for height in heights],
    )
    for row, track in enumerate(tracks, start=1):
        for trace in track.traces:
            figure.add_trace(trace, row=row, col=1)
        yaxis = {"title": {"text": track.name, "font": {"size": 12}}, **track.yaxis}
        figure.update_yaxes(yaxis, row=row, col=1)
        for shape in track.shapes:
            figure.add_shape(shape, row=row, col=1)
    figure.update_xaxes(
        range=[start + 0.5, end + 0.5], tickformat=",d", showgrid=True, gridcolor="#eef0f3", zeroline=False
    )
    figure.update_xaxes(title_text=f"{chrom} position (1-based)", row=len(tracks), col=1)
    top, bottom = (44 if title else 16), 56
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}} if title else None,
        height=plot_height + top + bottom,
        margin={"l": 80, "r": 20, "t": top, "b": bottom},
        showlegend=False,
        barmode="overlay",
        bargap=0,
        plot_bgcolor="white",
        hovermode="closest",
        dragmode="zoom",
    )
    return figure


def locus_figure(
    chrom: str,
    start: int,
    end: int,
    features: pd.DataFrame,
    details: pd.DataFrame | None = None,
    sequence: str | None = None,
    extra_tracks: Sequence[Track] = (),
    title: str | None = None,
) -> go.Figure:
    """The locus view: ``extra_tracks`` (top, in order), gene models, then the sequence.

    Parameters
    ----------
    chrom, start, end : the window shown, 0-based half-open (the axis shows 1-based positions).
    features : gene features overlapping the window, as for :func:`gene_model_track`.
    details : optional ``transcript_id, gene_id, description`` table for the hover text.
    sequence : forward-strand bases of exactly ``[start, end)``, or None to leave the sequence
        row out (it is limited to :data:`MAX_SEQUENCE_BP`).
    extra_tracks : further :class:`Track` rows (logos, scores ...) drawn above the genes.
    title : defaults to the region as users write it, ``chr01:2,632-4,026``.

    Raises
    ------
    ValueError for an empty window, one over :data:`MAX_LOCUS_BP`, or a sequence whose
    length differs from the window's.
    """
    _check_window(chrom, start, end)
    tracks = [*extra_tracks, gene_model_track(features, start, end, details)]
    if sequence is not None:
        if len(sequence) != end - start:
            raise ValueError(
                f"the sequence has {len(sequence):,} bp but the window {chrom}:{start + 1:,}-{end:,} "
                f"has {end - start:,}; fetch exactly [start, end)"
            )
        tracks.append(sequence_track(sequence, chrom, start))
    return tracks_figure(chrom, start, end, tracks, title=title or format_region(chrom, start, end))


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
            "none on this sequence" if not name else (f"{name} (overlaps)" if d == 0 else f"{name} ({d:,} bp away)")
            if pd.notna(d) else name
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
            table["pos"], table["ref"], table["pA"], table["pC"], table["pG"], table["pT"],
            table["p_ref"], table["entropy"], table["ic"],
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
                go.Bar(x=x, y=heights[:, column], base=below[:, column], width=0.9, name=base,
                       marker={"color": BASE_COLOURS[base], "line": {"width": 0}}, hoverinfo="skip")
            )
    traces.append(
        go.Scatter(
            x=x, y=np.clip(table["ic"].to_numpy(), 0.05, 2.0), mode="markers", marker={"size": 12, "opacity": 0},
            hovertext=_position_hover(table), hovertemplate="%{hovertext}<extra></extra>", name="logo",
        )
    )
    shapes = []
    top = 2.0
    if motifs is not None and len(motifs):
        top = 2.35
        for motif in motifs.itertuples():
            shapes.append(
                {"type": "rect", "x0": motif.start + 0.5, "x1": motif.end + 0.5, "y0": 0, "y1": 2,
                 "fillcolor": MOTIF_FILL, "line": {"width": 0}, "layer": "below"}
            )
        traces.append(
            go.Scatter(
                x=(motifs["start"] + motifs["end"]).to_numpy() / 2 + 0.5, y=[2.17] * len(motifs), mode="text",
                text=motifs["consensus"].tolist(), textfont={"family": "monospace", "size": 12},
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
        x=x[order], y=table[column].to_numpy()[order], mode="lines+markers" if len(table) <= 300 else "lines",
        line={"color": colour, "width": 1.5}, marker={"size": 4},
        hovertemplate=f"{chrom}:%{{x:,}} {name} %{{y:.3f}}<extra></extra>",
    )
    axis = {"range": list(y_range), "fixedrange": True, "zeroline": False, "gridcolor": "#eef0f3"}
    return Track(name, [trace], height=LINE_ROW_PX, yaxis=axis)


def add_logo_image(figure: go.Figure, png: bytes, table: pd.DataFrame, row: int = 1) -> go.Figure:
    """Place a bare logo image (:func:`glm_core.logo.logo_png` of ``table``) on ``row`` so that
    base ``i`` of the image covers its genomic position; works on either strand's axis."""
    import base64

    _, start, end, strand = _locus_of(table)
    figure.add_layout_image(
        source="data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        x=start + 0.5 if strand == "+" else end + 0.5, y=2, sizex=end - start, sizey=2,
        xanchor="left", yanchor="top", sizing="stretch", layer="above", row=row, col=1,
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
    from .genome import reverse_complement

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
    """
    chrom, start, end, strand = _locus_of(table)
    tracks = [
        logo_track(table, motifs, letters_as_image=logo_image is not None),
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
        x=x, y=list("ACGT"), z=z_reference, text=reference_text, hovertemplate="%{text}<extra></extra>",
        colorscale=[[0, "#e5e7eb"], [1, "#e5e7eb"]], showscale=False, hoverongaps=False, xgap=0, ygap=1,
    )
    heat = go.Heatmap(
        x=x, y=list("ACGT"), z=z, text=text, hovertemplate="%{text}<extra></extra>", hoverongaps=False,
        colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit, xgap=0, ygap=1, name="LLR",
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
        selector={"type": "heatmap", "name": "LLR"}, row=1, col=1,
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
                x=[f"{consequence}<br>n={len(values):,}"] * len(values), y=values, name=consequence,
                box={"visible": True}, meanline={"visible": True}, points="all" if len(values) <= 300 else "outliers",
                pointpos=0, jitter=0.4, marker={"size": 3},
                line={"color": CONSEQUENCE_COLOURS.get(consequence, "#6b7280")}, spanmode="hard",
                hovertemplate=f"{consequence}: LLR %{{y:.3f}}<extra></extra>",
            )
        )
    figure.add_hline(y=0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    figure.update_layout(
        height=380, showlegend=False, plot_bgcolor="white", margin={"l": 60, "r": 20, "t": 30, "b": 60},
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
                x=[f"position {int(p)}" for p in part["codon_position"]], y=part["llr"], name=consequence,
                marker={"color": CONSEQUENCE_COLOURS.get(consequence, "#6b7280"), "size": 3},
                boxpoints="all" if len(part) <= 300 else "outliers", jitter=0.4, pointpos=0,
                hovertemplate=f"{consequence}, %{{x}}: LLR %{{y:.3f}}<extra></extra>",
            )
        )
    figure.add_hline(y=0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    figure.update_layout(
        height=380, boxmode="group", plot_bgcolor="white", margin={"l": 60, "r": 20, "t": 30, "b": 40},
        xaxis={"categoryorder": "array", "categoryarray": ["position 1", "position 2", "position 3"]},
        yaxis={"title": {"text": "LLR (natural log)"}, "gridcolor": "#eef0f3", "zeroline": False},
        legend={"title": {"text": "consequence"}},
        title={"text": "LLR by codon position", "x": 0, "font": {"size": 14}},
    )
    return figure
