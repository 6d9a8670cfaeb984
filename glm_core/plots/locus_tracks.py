"""Locus tracks: gene models and the sequence row, stacked on one shared genomic x axis.

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

from ..genome import format_region

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
        raise ValueError(f"a locus needs 0 <= start < end (0-based half-open); got {chrom}:{start}-{end}")
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
    lines.append(f"{row['chrom']}:{part_start + 1:,}-{part_end:,} ({row['strand']}), {part_end - part_start:,} bp")
    return "<br>".join(lines)


def gene_model_track(features: pd.DataFrame, start: int, end: int, details: pd.DataFrame | None = None) -> Track:
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
        return _empty_gene_track(start, end)
    transcripts = _with_details(transcripts, details)
    transcripts = transcripts.assign(lane=pack_lanes(transcripts, min_gap=(end - start) // 100).to_numpy())
    n_lanes = int(transcripts["lane"].max()) + 1
    traces = [
        _intron_trace(transcripts, features),
        *_feature_box_traces(transcripts, features),
        *_strand_arrow_traces(transcripts, start, end),
    ]
    if len(transcripts) <= MAX_LABELLED_TRANSCRIPTS:
        traces.append(_label_trace(transcripts, start, end))
    return Track("genes", traces, height=30 + LANE_PX * n_lanes, yaxis=_lane_axis(n_lanes))


def _empty_gene_track(start: int, end: int) -> Track:
    message = go.Scatter(
        x=[(start + end) / 2 + 0.5],
        y=[0],
        mode="text",
        text=["no annotated transcripts in this region"],
        textfont={"color": INTRON_COLOUR},
        hoverinfo="skip",
    )
    return Track("genes", [message], height=30 + LANE_PX, yaxis=_lane_axis(1))


def _with_details(transcripts: pd.DataFrame, details: pd.DataFrame | None) -> pd.DataFrame:
    """``transcripts`` with the ``gene_id`` and ``description`` columns of ``details`` they lack."""
    if details is None:
        return transcripts
    extra = [c for c in ("gene_id", "description") if c in details.columns and c not in transcripts.columns]
    return transcripts.merge(
        details[["transcript_id", *extra]].drop_duplicates("transcript_id"), on="transcript_id", how="left"
    )


def _intron_trace(transcripts: pd.DataFrame, features: pd.DataFrame) -> go.Scatter:
    """One line trace joining the exons of every transcript, in its lane."""
    intron_x: list = []
    intron_y: list = []
    for (s, e), lane in zip(_introns(transcripts, features), transcripts["lane"]):
        for intron_start, intron_end in zip(s, e):
            intron_x += [intron_start + 0.5, intron_end + 0.5, None]
            intron_y += [lane, lane, None]
    return go.Scatter(
        x=intron_x, y=intron_y, mode="lines", line={"color": INTRON_COLOUR, "width": 1.5}, hoverinfo="skip"
    )


def _feature_box_traces(transcripts: pd.DataFrame, features: pd.DataFrame) -> list[go.Bar]:
    """Exons as thin pale boxes and CDS as thick boxes, coloured by strand, with hover text."""
    lane_of = transcripts.set_index("transcript_id")["lane"]
    info = transcripts.set_index("transcript_id")
    traces = []
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
    return traces


def _strand_arrow_traces(transcripts: pd.DataFrame, start: int, end: int) -> list[go.Scatter]:
    """Arrowheads along each transcript's visible part, about 45 across the window, per strand."""
    step = max((end - start) / 45, 1.0)
    traces = []
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
    return traces


def _label_trace(transcripts: pd.DataFrame, start: int, end: int) -> go.Scatter:
    """``name (strand)`` above the middle of each transcript's visible part."""
    left = np.maximum(transcripts["start"].to_numpy(), start)
    right = np.minimum(transcripts["end"].to_numpy(), end)
    return go.Scatter(
        x=(left + right) / 2 + 0.5,
        y=transcripts["lane"].to_numpy() - 0.5,
        mode="text",
        text=[f"{name} ({strand})" for name, strand in zip(transcripts["name"], transcripts["strand"])],
        textfont={"size": 11, "color": "#1f2937"},
        hoverinfo="skip",
    )


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
