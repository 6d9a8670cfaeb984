"""Per-position track files: TSV, bedGraph and bigWig writers for position tables.

A *position table* (:func:`glm_core.logo.position_table`) holds one row per base of a
locus, ``pos`` 0-based, in the locus's 5'->3' order. The files written here are always
sorted by genomic position, in the coordinates their formats define:

* TSV (:func:`position_tsv`): every column, ``pos`` **1-based**;
* bedGraph (:func:`bedgraph_text`) and bigWig (:func:`write_bigwig`): one value per base
  (one of :data:`TRACK_VALUES`) on **0-based half-open** one-base intervals.

:func:`write_position_track` picks the format from the file's extension
(:data:`TRACK_SUFFIXES`). Files are written atomically (:mod:`glm_core.outputs`): an
error leaves an existing file as it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .logo import LLR_COLUMNS, PROBABILITY_COLUMNS
from .outputs import atomic_path, atomic_write

# Columns of the per-position TSV, in order (``pos`` 1-based there).
TSV_COLUMNS = ["chrom", "pos", "ref", *PROBABILITY_COLUMNS, "entropy", "ic", "strand", "p_ref"]
# Values a bedGraph or bigWig track can carry (one number per base).
TRACK_VALUES = ("ic", "entropy", "p_ref", "llr_mean")
TRACK_SUFFIXES = {
    ".tsv": "tsv",
    ".txt": "tsv",
    ".bedgraph": "bedgraph",
    ".bg": "bedgraph",
    ".bw": "bigwig",
    ".bigwig": "bigwig",
}


def position_tsv(table: pd.DataFrame) -> str:
    """Tab-separated text of a position table, sorted by genomic position, ``pos`` 1-based.

    Columns: chrom, pos (1-based), ref, pA, pC, pG, pT, entropy, ic, strand, p_ref, and the
    LLR columns when the table has them. ``ref`` and the probabilities are on ``strand``.
    """
    extra = [column for column in (*LLR_COLUMNS, "llr_mean") if column in table.columns]
    out = table.sort_values("pos", kind="stable")[[*TSV_COLUMNS, *extra]].copy()
    out["pos"] = out["pos"] + 1
    return out.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")


def _track_values(table: pd.DataFrame, value: str) -> pd.DataFrame:
    if value not in TRACK_VALUES:
        raise InputError(f"a track can carry one of {', '.join(TRACK_VALUES)}; got {value!r}")
    if value not in table.columns:
        raise ValueError(f"the position table has no {value!r} column; build it with with_llr=True")
    return table.loc[table[value].notna(), ["chrom", "pos", value]].sort_values("pos", kind="stable")


def bedgraph_text(
    table: pd.DataFrame, value: str = "ic", name: str | None = None, description: str | None = None
) -> str:
    """bedGraph of one per-base value: ``chrom, start, end, value`` with 0-based half-open
    intervals of one base each, sorted, after a ``track type=bedGraph`` line.

    Parameters
    ----------
    value : one of :data:`TRACK_VALUES` (``ic`` by default: information content in bits).
    name, description : the track line's name and description (defaults name the value).
    """
    rows = _track_values(table, value)
    name = name or value
    description = (
        description
        or {
            "ic": "information content (bits) of the predicted base distribution",
            "entropy": "entropy (bits) of the predicted base distribution",
            "p_ref": "predicted probability of the reference base",
            "llr_mean": "mean LLR of the three alternative alleles (natural log)",
        }[value]
    )
    lines = [f'track type=bedGraph name="{name}" description="{description}"']
    lines += [
        f"{chrom}\t{pos}\t{pos + 1}\t{score:.6g}"
        for chrom, pos, score in zip(rows["chrom"], rows["pos"].to_numpy(), rows[value].to_numpy())
    ]
    return "\n".join(lines) + "\n"


def write_bigwig(table: pd.DataFrame, path: str | Path, chrom_sizes: dict[str, int], value: str = "ic") -> Path:
    """Write one per-base value as a bigWig (0-based half-open, one-base entries), atomically.

    ``chrom_sizes`` (e.g. :attr:`glm_core.genome.Genome.chrom_sizes`) becomes the file's
    header; every chromosome of ``table`` must be in it.
    """
    import pyBigWig

    rows = _track_values(table, value)
    path = Path(path)
    with atomic_path(path) as temporary:
        writer = pyBigWig.open(str(temporary), "w")
        if writer is None:
            raise ValueError(f"could not open {path} for writing a bigWig; check that its folder exists")
        try:
            writer.addHeader([(chrom, int(size)) for chrom, size in chrom_sizes.items()])
            for chrom, part in rows.groupby("chrom", sort=False):
                starts = part["pos"].to_numpy(dtype=np.int64)
                writer.addEntries(
                    [str(chrom)] * len(part),
                    starts.tolist(),
                    ends=(starts + 1).tolist(),
                    values=part[value].to_numpy(dtype=np.float64).tolist(),
                )
        finally:
            writer.close()
    return path


def track_format(path: str | Path) -> str:
    """``tsv``, ``bedgraph`` or ``bigwig`` from a file name's extension (case-insensitive)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TRACK_SUFFIXES:
        raise InputError(
            f"cannot tell the format of {path} from its extension {suffix or '(none)'}; use one of "
            f"{', '.join(TRACK_SUFFIXES)} (TSV, bedGraph or bigWig)"
        )
    return TRACK_SUFFIXES[suffix]


def write_position_track(table: pd.DataFrame, path: str | Path, chrom_sizes: dict[str, int], value: str = "ic") -> Path:
    """Write a position table to ``path`` as TSV (all columns), bedGraph or bigWig (``value``),
    the format chosen by the extension (:data:`TRACK_SUFFIXES`)."""
    path = Path(path)
    kind = track_format(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {path} does not exist; create it first")
    if kind == "tsv":
        atomic_write(path, position_tsv(table))
    elif kind == "bedgraph":
        atomic_write(path, bedgraph_text(table, value))
    else:
        write_bigwig(table, path, chrom_sizes, value)
    return path
