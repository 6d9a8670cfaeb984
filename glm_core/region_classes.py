"""Region classes of a genome from its annotation: CDS, UTRs, introns, promoters, intergenic.

Every base of a genome gets one class of :data:`REGION_CLASSES`. Each transcript of an
:class:`glm_core.annotation.Annotation` contributes its CDS, UTR, non-coding exon, intron,
promoter and downstream intervals (:func:`class_intervals`); where they overlap, the class
listed first wins, and what no transcript covers is ``intergenic`` (:func:`region_classes`).
All intervals are 0-based half-open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .intervals import POSITION_BITS, CoveringIntervals, position_keys

if TYPE_CHECKING:
    from .annotation import Annotation

# Highest priority first: where classes overlap, a base gets the first one listed.
# ``non_coding_exon`` covers exons of transcripts without CDS (none in the embedded genome).
REGION_CLASSES = [
    "CDS",
    "five_prime_UTR",
    "three_prime_UTR",
    "non_coding_exon",
    "intron",
    "promoter",
    "downstream",
    "intergenic",
]
# Stands for "no chromosome end" when chrom_sizes are not given; shifted so that adding a
# flank length cannot overflow int64.
_NO_LIMIT = np.iinfo(np.int64).max >> 24


def _intervals(chrom, start, end, region_class, transcript_id) -> pd.DataFrame:
    """One piece of :func:`class_intervals`: the non-empty ``[start, end)`` of the given arrays."""
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    keep = end > start
    return pd.DataFrame(
        {
            "chrom": np.asarray(chrom, dtype=object)[keep],
            "start": start[keep],
            "end": end[keep],
            "region_class": region_class if isinstance(region_class, str) else np.asarray(region_class)[keep],
            "transcript_id": np.asarray(transcript_id, dtype=object)[keep],
        }
    )


def _exon_pieces(annotation: Annotation) -> list[pd.DataFrame]:
    """UTRs (the exonic parts outside ``[cds_start, cds_end)``, 5' or 3' by strand) and non-coding exons."""
    t, e = annotation.transcripts, annotation.exon_table
    info = t.set_index("transcript_id").loc[e["transcript_id"]]
    coding = info["cds_start"].notna().to_numpy()
    cds_start = info["cds_start"].fillna(0).to_numpy(np.int64)
    cds_end = info["cds_end"].fillna(0).to_numpy(np.int64)
    e_start, e_end = e["start"].to_numpy(np.int64), e["end"].to_numpy(np.int64)
    minus = (e["strand"] == "-").to_numpy()
    left_class = np.where(minus, "three_prime_UTR", "five_prime_UTR")
    right_class = np.where(minus, "five_prime_UTR", "three_prime_UTR")
    chrom, transcript_id = e["chrom"], e["transcript_id"]
    return [
        _intervals(
            chrom[coding],
            e_start[coding],
            np.minimum(e_end, cds_start)[coding],
            left_class[coding],
            transcript_id[coding],
        ),
        _intervals(
            chrom[coding],
            np.maximum(e_start, cds_end)[coding],
            e_end[coding],
            right_class[coding],
            transcript_id[coding],
        ),
        _intervals(chrom[~coding], e_start[~coding], e_end[~coding], "non_coding_exon", transcript_id[~coding]),
    ]


def _flank_pieces(
    annotation: Annotation, chrom_sizes: dict[str, int] | None, promoter_length: int, downstream_length: int
) -> list[pd.DataFrame]:
    """Promoters before each transcript's 5' end and downstream flanks after its 3' end, clipped."""
    t = annotation.transcripts
    strand_minus = (t["strand"] == "-").to_numpy()
    t_start, t_end = t["start"].to_numpy(np.int64), t["end"].to_numpy(np.int64)
    if chrom_sizes is None:
        limit = np.full(len(t), _NO_LIMIT)
    else:
        limit = t["chrom"].map(chrom_sizes).fillna(_NO_LIMIT).to_numpy(np.int64)
    upstream = (np.maximum(t_start - promoter_length, 0), t_start)
    upstream_minus = (t_end, np.minimum(t_end + promoter_length, limit))
    after = (t_end, np.minimum(t_end + downstream_length, limit))
    after_minus = (np.maximum(t_start - downstream_length, 0), t_start)
    return [
        _intervals(
            t["chrom"],
            np.where(strand_minus, upstream_minus[0], upstream[0]),
            np.where(strand_minus, upstream_minus[1], upstream[1]),
            "promoter",
            t["transcript_id"],
        ),
        _intervals(
            t["chrom"],
            np.where(strand_minus, after_minus[0], after[0]),
            np.where(strand_minus, after_minus[1], after[1]),
            "downstream",
            t["transcript_id"],
        ),
    ]


def class_intervals(
    annotation: Annotation,
    chrom_sizes: dict[str, int] | None = None,
    promoter_length: int = 500,
    downstream_length: int = 500,
) -> pd.DataFrame:
    """Every transcript's CDS, UTR, non-coding exon, intron, promoter and downstream intervals.

    Intervals of different transcripts and classes may overlap; :func:`region_classes`
    resolves that. UTRs are the exonic parts outside ``[cds_start, cds_end)``, 5' or 3'
    by strand; promoter = ``promoter_length`` bp before the transcript's 5' end, downstream =
    ``downstream_length`` bp after its 3' end, both clipped to the chromosome
    (``chrom_sizes``, or only at 0 when None).

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open), ``region_class``
    (one of :data:`REGION_CLASSES` other than ``intergenic``) and ``transcript_id``; CDS
    first, then UTRs, non-coding exons, introns, promoters, downstream flanks.
    """
    c = annotation.cds_table
    i = introns(annotation)
    pieces = [
        _intervals(c["chrom"], c["start"], c["end"], "CDS", c["transcript_id"]),
        *_exon_pieces(annotation),
        _intervals(i["chrom"], i["start"], i["end"], "intron", i["transcript_id"]),
        *_flank_pieces(annotation, chrom_sizes, promoter_length, downstream_length),
    ]
    return pd.concat(pieces, ignore_index=True)


def introns(annotation: Annotation) -> pd.DataFrame:
    """Gaps between consecutive exons of each transcript.

    Returns
    -------
    pd.DataFrame with columns ``transcript_id, chrom, start, end`` (0-based half-open),
    ``strand``, and ``upstream_exon_start, downstream_exon_end`` (genomic, the exons to the
    left and right of the intron, for splice-region clipping).
    """
    e = annotation.exon_table.sort_values(["transcript_id", "start"], kind="stable")
    same = e["transcript_id"].to_numpy()[1:] == e["transcript_id"].to_numpy()[:-1]
    left, right = e.iloc[:-1][same], e.iloc[1:][same]
    gaps = pd.DataFrame(
        {
            "transcript_id": left["transcript_id"].to_numpy(),
            "chrom": left["chrom"].to_numpy(),
            "start": left["end"].to_numpy(np.int64),
            "end": right["start"].to_numpy(np.int64),
            "strand": left["strand"].to_numpy(),
            "upstream_exon_start": left["start"].to_numpy(np.int64),
            "downstream_exon_end": right["end"].to_numpy(np.int64),
        }
    )
    return gaps[gaps["end"] > gaps["start"]].reset_index(drop=True)


def region_classes(
    annotation: Annotation, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
) -> pd.DataFrame:
    """Tile every chromosome of ``chrom_sizes`` exactly once with region classes.

    Where classes overlap, the one listed first in :data:`REGION_CLASSES` wins (CDS >
    five_prime_UTR > three_prime_UTR > non_coding_exon > intron > promoter > downstream >
    intergenic). Adjacent intervals of the same class are merged.

    Parameters
    ----------
    chrom_sizes : sequence name -> length; every annotated chromosome must be present.
    promoter_length, downstream_length : bp before the 5' end / after the 3' end.

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open) and ``region_class``,
    in ``chrom_sizes`` order then by start; lengths on a chromosome sum to its size.
    """
    annotation.check_sequence_ids(chrom_sizes)
    chroms = list(chrom_sizes)
    code_of = {chrom: i for i, chrom in enumerate(chroms)}
    sizes = np.array([chrom_sizes[c] for c in chroms], dtype=np.int64)
    intervals = class_intervals(annotation, chrom_sizes, promoter_length, downstream_length)
    codes = intervals["chrom"].map(code_of).to_numpy(np.int64)
    starts = position_keys(codes, intervals["start"].to_numpy())
    ends = position_keys(codes, intervals["end"].to_numpy())
    chrom_codes = np.arange(len(chroms))
    boundaries = np.unique(
        np.concatenate([position_keys(chrom_codes, 0 * sizes), position_keys(chrom_codes, sizes), starts, ends])
    )
    segment_start, segment_end = boundaries[:-1], boundaries[1:]
    same_chrom = (segment_start >> POSITION_BITS) == (segment_end >> POSITION_BITS)
    segment_start, segment_end = segment_start[same_chrom], segment_end[same_chrom]
    # Segments between boundaries are covered uniformly, so testing their first base suffices.
    label = np.full(len(segment_start), len(REGION_CLASSES) - 1, dtype=np.int64)
    classes = intervals["region_class"].to_numpy()
    for priority in range(len(REGION_CLASSES) - 2, -1, -1):
        chosen = classes == REGION_CLASSES[priority]
        covered = CoveringIntervals(starts[chosen], ends[chosen]).first_covering(segment_start) >= 0
        label[covered] = priority
    segment_chrom = segment_start >> POSITION_BITS
    new_run = np.ones(len(label), dtype=bool)
    new_run[1:] = (label[1:] != label[:-1]) | (segment_chrom[1:] != segment_chrom[:-1])
    run_first = np.flatnonzero(new_run)
    run_last = np.append(run_first[1:], len(label)) - 1
    mask = (1 << POSITION_BITS) - 1
    return pd.DataFrame(
        {
            "chrom": pd.array(np.asarray(chroms, dtype=object)[segment_chrom[run_first]], dtype="str"),
            "start": segment_start[run_first] & mask,
            "end": segment_end[run_last] & mask,
            "region_class": pd.Categorical.from_codes(label[run_first], categories=REGION_CLASSES),
        }
    )


def region_class_totals(
    annotation: Annotation, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
) -> pd.DataFrame:
    """Bases per region class over the whole genome (see :func:`region_classes`).

    Returns
    -------
    pd.DataFrame with columns ``region_class`` (all of :data:`REGION_CLASSES`, in priority
    order), ``bases`` (int64) and ``fraction`` (of the genome).
    """
    tiles = region_classes(annotation, chrom_sizes, promoter_length, downstream_length)
    bases = (tiles["end"] - tiles["start"]).groupby(tiles["region_class"], observed=False).sum()
    bases = bases.reindex(REGION_CLASSES, fill_value=0).astype("int64")
    total = sum(chrom_sizes.values())
    return pd.DataFrame(
        {"region_class": REGION_CLASSES, "bases": bases.to_numpy(), "fraction": bases.to_numpy() / total}
    )
