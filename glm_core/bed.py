"""BED files of windows: ``chrom, start, end`` (0-based half-open) and an optional class name."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from .genome import is_gzip

# The columns of a window table (0-based half-open), as BED files and sampled windows give them.
WINDOW_COLUMNS = ["chrom", "start", "end", "region_class"]
# Class given to BED intervals without a name column.
UNLABELLED = "unlabelled"

__all__ = ["UNLABELLED", "WINDOW_COLUMNS", "windows_from_bed"]


def windows_from_bed(path: str | Path) -> pd.DataFrame:
    """Windows from a BED file (plain or gzip): chrom, start, end and, optionally, the class.

    BED is 0-based half-open. The 4th (name) column is the window's class; lines with no
    name or ``.`` get :data:`UNLABELLED`. Empty lines and ``#``, ``track`` and ``browser``
    lines are skipped; columns are tab-separated (or, when a line has no tab, whitespace).

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open, int64) and
    ``region_class`` (str), in file order.

    Raises
    ------
    FileNotFoundError for a missing file; ValueError naming the file and line for a line
    with fewer than 3 columns, non-integer coordinates or not ``0 <= start < end``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BED file not found: {path}")
    rows = []
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rt", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 3:
                raise ValueError(
                    f"{path}, line {number}: a BED line needs chrom, start and end (tab-separated); got {line[:80]!r}"
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: start and end must be whole numbers (BED, 0-based half-open); "
                    f"got {fields[1]!r} and {fields[2]!r}"
                ) from None
            if not 0 <= start < end:
                raise ValueError(
                    f"{path}, line {number}: BED intervals need 0 <= start < end (0-based half-open); "
                    f"got start={start}, end={end}"
                )
            name = fields[3].strip() if len(fields) > 3 else ""
            rows.append((fields[0].strip(), start, end, name if name not in ("", ".") else UNLABELLED))
    if not rows:
        raise ValueError(f"{path}: no intervals found; a BED file has lines 'chrom<TAB>start<TAB>end<TAB>class'")
    table = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    return table.astype({"start": np.int64, "end": np.int64})
