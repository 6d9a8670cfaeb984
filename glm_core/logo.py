"""Predicted sequence logos at a locus: per-position tables, candidate motifs and figures.

A masked model's per-position distribution ``P(x_i | x_-i)`` over A, C, G, T (from
:func:`glm_core.scoring.site_probabilities`) is drawn as a logo the way GPN draws its
logo tracks: each letter's height is its probability times the position's information
content, ``IC = 2 - H`` bits (``H`` the Shannon entropy in bits), so a confident
position stands tall and an uninformative one nearly vanishes.

Orientation and coordinates
---------------------------
A *position table* (:func:`position_table`) has one row per base of a locus in the
order the locus is read on its strand, 5' to 3': ascending genomic positions for ``+``,
descending for ``-``. ``pos`` is the 0-based genomic position; ``ref`` and ``pA`` ...
``pT`` are bases of the chosen strand (for ``-`` the complement of the plus-strand
base). Entropy, IC, ``p_ref`` and the LLR summary do not depend on the strand.
:mod:`glm_core.tracks` writes it as TSV (``pos`` 1-based), bedGraph or bigWig (0-based
half-open), as those formats define, always sorted by genomic position.

Candidate motifs
----------------
:func:`candidate_motifs` reports every maximal run of at least ``min_length``
consecutive positions whose IC is at least ``min_ic`` bits (defaults
:data:`DEFAULT_MIN_IC` = 1 bit and :data:`DEFAULT_MIN_LENGTH` = 4). A 1-bit position
is one where the model is as sure as a fair choice between two bases; with the bundled
*U. maydis* model about 5 % of positions reach it and a run of four or more appears
about twice per kb. The consensus is the most probable base at each position, upper
case where its probability is at least 0.5 and lower case otherwise.

Figures
-------
Logos are drawn with logomaker on matplotlib :class:`~matplotlib.figure.Figure`
objects (never pyplot's global state, so concurrent app sessions cannot collide).
logomaker builds one path per letter (about 10 ms each), so :func:`logo_png` and
:func:`publication_figure` refuse more than :data:`MAX_RENDER_BP` positions; zoom in
first. This module never imports Streamlit.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .scoring import probability_table, snv_llr

DEFAULT_MIN_IC = 1.0
DEFAULT_MIN_LENGTH = 4
# Positions one logomaker drawing may hold (about 10 ms a letter, four letters a position).
MAX_RENDER_BP = 400
# The usual logo colours (the same as glm_core.plots.BASE_COLOURS).
LOGO_COLOURS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
STRAND_COLOURS = {"+": "#2b6cb0", "-": "#b7410e"}
MOTIF_COLOUR = "#ffd54f"

PROBABILITY_COLUMNS = [f"p{base}" for base in NUCLEOTIDES]
LLR_COLUMNS = [f"llr_{base}" for base in NUCLEOTIDES]


# --------------------------------------------------------------------------- tables


def position_table(
    genome: Genome, chrom: str, start: int, end: int, strand: str, probabilities: np.ndarray, *, with_llr: bool = False
) -> pd.DataFrame:
    """Per-position predictions of a locus, in its strand's 5'->3' order.

    Parameters
    ----------
    genome : the reference the probabilities were computed on.
    chrom, start, end : the locus, 0-based half-open.
    strand : ``+`` or ``-``; ``probabilities`` must be in that orientation, as
        ``site_probabilities(model, genome, chrom, start, end, strand)`` returns them.
    probabilities : shape=(end - start, 4), columns A, C, G, T of ``strand``.
    with_llr : also add ``llr_A`` ... ``llr_T`` (``log P(base) - log P(ref)``, natural log,
        0 in the reference column) and ``llr_mean`` (mean over the three alternatives).

    Returns
    -------
    pd.DataFrame with columns ``chrom, pos`` (0-based genomic), ``strand``, ``ref`` (upper
    case, on ``strand``), ``pA, pC, pG, pT``, ``p_ref`` (NaN where the reference is not
    A/C/G/T), ``entropy``, ``ic`` (bits) [, LLR columns]; row ``i`` is the ``i``-th base
    read 5'->3' on ``strand``.
    """
    if strand not in ("+", "-"):
        raise InputError(f"strand must be '+' or '-'; got {strand!r}")
    genome.check_interval(chrom, start, end)
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (end - start, 4):
        raise ValueError(
            f"probabilities have shape {probabilities.shape}; {chrom}:{start + 1:,}-{end:,} needs "
            f"({end - start}, 4), columns A, C, G, T on strand {strand}"
        )
    reference = genome.fetch(chrom, start, end, strand)
    table = probability_table(chrom, start, reference, probabilities)
    if strand == "-":
        table["pos"] = np.arange(end - 1, start - 1, -1)
    table.insert(2, "strand", strand)
    if with_llr:
        llr = snv_llr(probabilities, nucleotide_codes(reference))
        for column, name in enumerate(LLR_COLUMNS):
            table[name] = llr[:, column]
        table["llr_mean"] = np.nansum(llr, axis=1) / 3.0
        table.loc[np.isnan(llr).all(axis=1), "llr_mean"] = np.nan
    return table


def letter_heights(table: pd.DataFrame) -> pd.DataFrame:
    """Logo letter heights in bits: probability x information content.

    Returns a DataFrame with columns A, C, G, T, one row per row of ``table`` (same order);
    each row sums to the position's IC (0..2 bits).
    """
    probabilities = table[PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)
    heights = probabilities * table["ic"].to_numpy(dtype=np.float64)[:, None]
    return pd.DataFrame(heights, columns=list(NUCLEOTIDES), index=table.index)


def high_ic_runs(ic: np.ndarray, min_ic: float = DEFAULT_MIN_IC, min_length: int = DEFAULT_MIN_LENGTH) -> np.ndarray:
    """Maximal runs of consecutive entries with ``ic >= min_ic``, at least ``min_length`` long.

    Parameters
    ----------
    ic : information content in bits, shape=(n,); NaN counts as below the threshold.

    Returns
    -------
    np.ndarray, shape=(k, 2), int64: ``[first, end)`` index pairs (half-open) in ``ic``, in order.
    """
    if min_length < 1:
        raise InputError(f"min_length must be at least 1 position; got {min_length}")
    high = np.nan_to_num(np.asarray(ic, dtype=np.float64), nan=-np.inf) >= min_ic
    edges = np.diff(np.concatenate([[0], high.astype(np.int8), [0]]))
    firsts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = ends - firsts >= min_length
    return np.stack([firsts[keep], ends[keep]], axis=1).astype(np.int64)


def consensus(table: pd.DataFrame) -> str:
    """Most probable base of each row; upper case where its probability is >= 0.5, else lower."""
    probabilities = table[PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)
    best = probabilities.argmax(axis=1)
    letters = np.array(list(NUCLEOTIDES))[best]
    sure = probabilities[np.arange(len(best)), best] >= 0.5
    return "".join(letter if is_sure else letter.lower() for letter, is_sure in zip(letters, sure))


def candidate_motifs(
    table: pd.DataFrame, min_ic: float = DEFAULT_MIN_IC, min_length: int = DEFAULT_MIN_LENGTH
) -> pd.DataFrame:
    """Runs of high information content in a position table (see the module docstring).

    Parameters
    ----------
    table : from :func:`position_table` (rows in 5'->3' order of one strand).
    min_ic : bits every position of a motif reaches.
    min_length : fewest consecutive positions.

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open genomic interval),
    ``strand``, ``length``, ``mean_ic`` (bits), ``consensus`` and ``reference`` (5'->3' on
    ``strand``), ``first, last`` (row numbers in ``table`` of the motif's first and last
    base); one row per motif, in table order.
    """
    columns = ["chrom", "start", "end", "strand", "length", "mean_ic", "consensus", "reference", "first", "last"]
    runs = high_ic_runs(table["ic"].to_numpy(), min_ic, min_length)
    rows = []
    for first, end in runs:
        part = table.iloc[first:end]
        positions = part["pos"].to_numpy()
        rows.append(
            {
                "chrom": part["chrom"].iloc[0],
                "start": int(positions.min()),
                "end": int(positions.max()) + 1,
                "strand": part["strand"].iloc[0],
                "length": int(end - first),
                "mean_ic": float(part["ic"].mean()),
                "consensus": consensus(part),
                "reference": "".join(part["ref"]),
                "first": int(first),
                "last": int(end - 1),
            }
        )
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- figures


def _check_render_size(table: pd.DataFrame) -> None:
    if len(table) == 0:
        raise InputError("the position table is empty; there is nothing to draw")
    if len(table) > MAX_RENDER_BP:
        first, last = int(table["pos"].min()), int(table["pos"].max())
        raise InputError(
            f"{table['chrom'].iloc[0]}:{first + 1:,}-{last + 1:,} is {len(table):,} bp; a logo is drawn for at "
            f"most {MAX_RENDER_BP} bp: zoom into a sub-range"
        )


def draw_logo(ax, table: pd.DataFrame):
    """Draw the predicted logo of ``table`` on a matplotlib axes with logomaker.

    The x axis is the row number (0 = the locus's 5' base on its strand); y is bits, 0..2.
    Returns the :class:`logomaker.Logo` (its ``glyph_df`` holds each letter's glyph).
    """
    import logomaker

    heights = letter_heights(table).reset_index(drop=True)
    drawn = logomaker.Logo(heights, ax=ax, color_scheme=LOGO_COLOURS, vpad=0.02, width=0.9, show_spines=False)
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.set_ylim(0, 2)
    return drawn


def _figure_bytes(figure, fmt: str, dpi: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else {"Date": None})
    return buffer.getvalue()


def logo_png(table: pd.DataFrame, px_per_base: int = 16, height_px: int = 160) -> bytes:
    """The bare logo (no axes, transparent background) as PNG bytes, for placing on another
    plot whose x axis spans exactly the table's positions and whose y axis spans 0..2 bits."""
    from matplotlib.figure import Figure

    _check_render_size(table)
    dpi = 100
    figure = Figure(figsize=(max(len(table) * px_per_base, 50) / dpi, height_px / dpi), dpi=dpi)
    figure.patch.set_alpha(0)
    ax = figure.add_axes((0, 0, 1, 1))
    draw_logo(ax, table)
    ax.axis("off")
    ax.patch.set_alpha(0)
    return _figure_bytes(figure, "png", dpi)


def _nice_step(span: int, target: int) -> int:
    raw = max(span / max(target, 1), 1)
    magnitude = 10 ** int(np.floor(np.log10(raw)))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def _view_interval(start: int, end: int, locus_start: int, locus_end: int, strand: str) -> tuple[float, float]:
    """Genomic ``[start, end)`` -> x extent in view coordinates (row numbers, bases at integers)."""
    if strand == "+":
        return start - locus_start - 0.5, end - locus_start - 0.5
    return locus_end - end - 0.5, locus_end - start - 0.5


def _draw_gene_models(ax, features: pd.DataFrame, locus_start: int, locus_end: int, strand: str) -> int:
    """Gene models of ``features`` (as Annotation.region_features returns) in view coordinates."""
    from matplotlib.patches import Rectangle

    from .plots import pack_lanes

    transcripts = features[features["feature"] == "transcript"].drop_duplicates("transcript_id")
    if transcripts.empty:
        ax.text(
            (locus_end - locus_start - 1) / 2, 0, "no annotated transcripts", ha="center", va="center", color="#6b7280"
        )
        return 1
    lanes = pack_lanes(transcripts, min_gap=(locus_end - locus_start) // 50)
    lane_of = dict(zip(transcripts["transcript_id"], lanes))
    n = locus_end - locus_start
    for row in transcripts.itertuples():
        lane = lane_of[row.transcript_id]
        colour = STRAND_COLOURS.get(row.strand, "#6b7280")
        x0, x1 = _view_interval(max(row.start, locus_start), min(row.end, locus_end), locus_start, locus_end, strand)
        ax.plot([x0, x1], [lane, lane], color="#6b7280", lw=1, zorder=1)
        for part, thickness in (("exon", 0.3), ("CDS", 0.6)):
            parts = features[(features["transcript_id"] == row.transcript_id) & (features["feature"] == part)]
            for piece in parts.itertuples():
                p0, p1 = _view_interval(
                    max(piece.start, locus_start), min(piece.end, locus_end), locus_start, locus_end, strand
                )
                if p1 > p0:
                    ax.add_patch(
                        Rectangle((p0, lane - thickness / 2), p1 - p0, thickness, color=colour, lw=0, zorder=2)
                    )
        points_right = (row.strand == "+") == (strand == "+")
        step = max(n / 25, 3)
        arrows = np.arange(x0 + step / 2, x1, step)
        ax.plot(
            arrows,
            np.full(len(arrows), lane),
            ls="none",
            marker=">" if points_right else "<",
            ms=4,
            mfc="white",
            mec=colour,
            mew=0.8,
            zorder=3,
        )
        ax.text((x0 + x1) / 2, lane - 0.45, f"{row.name} ({row.strand})", ha="center", va="bottom", fontsize=8)
    n_lanes = int(max(lane_of.values())) + 1
    ax.set_ylim(n_lanes - 0.4, -1.0)
    return n_lanes


def publication_figure(
    table: pd.DataFrame,
    features: pd.DataFrame | None = None,
    motifs: pd.DataFrame | None = None,
    title: str | None = None,
):
    """A stacked figure for print: logo, reference-base probability, entropy, gene models.

    Parameters
    ----------
    table : position table (:func:`position_table`), at most :data:`MAX_RENDER_BP` rows,
        consecutive bases of one strand.
    features : gene features of the locus (:meth:`Annotation.region_features`), or None.
    motifs : :func:`candidate_motifs` of ``table`` (shaded, consensus written above), or None.
    title : defaults to the region and strand.

    Returns
    -------
    matplotlib.figure.Figure; the x axis reads 5'->3' on the table's strand and is labelled
    with 1-based genomic positions.

    One figure's panels laid out in order; splitting it would scatter one layout.
    """
    from matplotlib.figure import Figure

    _check_render_size(table)
    n = len(table)
    chrom, strand = table["chrom"].iloc[0], table["strand"].iloc[0]
    locus_start, locus_end = int(table["pos"].min()), int(table["pos"].max()) + 1
    if locus_end - locus_start != n:
        raise ValueError("the position table must hold consecutive bases of one locus")
    has_genes = features is not None
    ratios = [2.2, 0.9, 0.9] + ([1.1] if has_genes else [])
    width = float(np.clip(0.13 * n + 1.8, 6.5, 40))
    figure = Figure(figsize=(width, 1.15 * sum(ratios) + 0.9), layout="constrained")
    axes = figure.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    x = np.arange(n)

    logo_ax = axes[0]
    draw_logo(logo_ax, table)
    logo_ax.set_ylabel("bits")
    logo_ax.set_ylim(0, 2.35 if motifs is not None and len(motifs) else 2)
    if motifs is not None:
        for motif in motifs.itertuples():
            for ax in axes[:3]:
                ax.axvspan(motif.first - 0.5, motif.last + 0.5, color=MOTIF_COLOUR, alpha=0.35, lw=0, zorder=0)
            logo_ax.text(
                (motif.first + motif.last) / 2,
                2.05,
                motif.consensus,
                ha="center",
                va="bottom",
                fontsize=8,
                family="monospace",
            )
    for spine in ("top", "right"):
        logo_ax.spines[spine].set_visible(False)

    axes[1].plot(x, table["p_ref"].to_numpy(), color="#374151", lw=1.2, marker="o", ms=2.5 if n <= 120 else 0)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("P(ref)")
    axes[2].plot(x, table["entropy"].to_numpy(), color="#7c3aed", lw=1.2, marker="o", ms=2.5 if n <= 120 else 0)
    axes[2].set_ylim(0, 2)
    axes[2].set_ylabel("entropy\n(bits)")
    for ax in axes[1:3]:
        ax.grid(axis="y", color="#e5e7eb", lw=0.6)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    if has_genes:
        genes_ax = axes[3]
        _draw_gene_models(genes_ax, features, locus_start, locus_end, strand)
        genes_ax.set_yticks([])
        genes_ax.set_ylabel("genes")
        for spine in ("top", "right", "left"):
            genes_ax.spines[spine].set_visible(False)

    bottom = axes[-1]
    step = _nice_step(n, 12)
    positions = table["pos"].to_numpy() + 1
    ticks = [i for i in range(n) if positions[i] % step == 0] or [0]
    bottom.set_xticks(ticks)
    bottom.set_xticklabels([f"{positions[i]:,}" for i in ticks])
    bottom.set_xlim(-0.5, n - 0.5)
    bottom.set_xlabel(f"{chrom} position (1-based), read 5'\u21923' on the {strand} strand")
    logo_ax.set_title(
        title or f"{chrom}:{locus_start + 1:,}-{locus_end:,} ({strand}), predicted logo", loc="left", fontsize=11
    )
    return figure


def figure_bytes(figure, fmt: str = "png", dpi: int = 300) -> bytes:
    """A matplotlib figure as PNG (``dpi`` dots per inch) or SVG (vector) bytes."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"figures are written as png or svg; got {fmt!r}")
    return _figure_bytes(figure, fmt, dpi)
