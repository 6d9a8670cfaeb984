"""Generic interval helpers: sortable position keys across chromosomes, and interval cover queries.

Intervals are 0-based half-open (``start <= i < end``) throughout. Positions on different
chromosomes share one sorted int64 axis through :func:`position_keys` (chromosome code in
the high bits, position in the low :data:`POSITION_BITS` bits), so that one binary search
answers queries over the whole genome.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# 40 bits hold positions up to 1.1e12, longer than any chromosome.
POSITION_BITS = 40


def position_keys(chrom_codes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """One sortable int64 per (chromosome code, 0-based position), for searches across chromosomes."""
    return (np.asarray(chrom_codes, dtype=np.int64) << POSITION_BITS) | np.asarray(positions, dtype=np.int64)


def split_position_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`position_keys`: (chromosome codes, 0-based positions)."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> POSITION_BITS, keys & ((1 << POSITION_BITS) - 1)


class CoveringIntervals:
    """Which intervals cover given points, vectorised with binary search.

    Parameters
    ----------
    starts, ends : int64 arrays, shape=(n,), half-open ``[start, end)`` (any sortable keys,
        for example :func:`position_keys`). Intervals may overlap and nest.
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        self.order = np.argsort(starts, kind="stable")
        self.starts, self.ends = starts[self.order], ends[self.order]
        self.reach = np.maximum.accumulate(self.ends) if len(self.ends) else self.ends
        # The interval reaching furthest among the first i is the last one that set a new reach.
        record = self.ends == self.reach
        self.reach_owner = np.maximum.accumulate(np.where(record, np.arange(len(self.ends)), -1))

    def first_covering(self, points: np.ndarray) -> np.ndarray:
        """Index (into the constructor's arrays) of one interval covering each point, -1 where none.

        Returns
        -------
        np.ndarray, shape=(len(points),), int64
        """
        points = np.asarray(points, dtype=np.int64)
        if not len(self.starts):
            return np.full(len(points), -1, dtype=np.int64)
        last_started = np.searchsorted(self.starts, points, side="right") - 1
        clipped = np.maximum(last_started, 0)
        covered = (last_started >= 0) & (self.reach[clipped] > points)
        return np.where(covered, self.order[self.reach_owner[clipped]], -1)

    def all_covering(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, interval) pair with the interval covering the point.

        Returns
        -------
        point_index, interval_index : int64 arrays of equal length (indices into ``points``
        and into the constructor's arrays), ordered by point.
        """
        points = np.asarray(points, dtype=np.int64)
        if not len(self.starts):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        first = np.searchsorted(self.reach, points, side="right")  # earlier ones all end <= point
        stop = np.searchsorted(self.starts, points, side="right")
        counts = np.maximum(stop - first, 0)
        point_index = np.repeat(np.arange(len(points)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        candidate = np.repeat(first, counts) + offsets
        keep = self.ends[candidate] > points[point_index]
        return point_index[keep], self.order[candidate[keep]]


def merge_per_group(table: pd.DataFrame, group: str, join: str, keep: dict[str, str] | None = None) -> pd.DataFrame:
    """Join intervals within each ``group``.

    Parameters
    ----------
    table : columns ``group``, ``start``, ``end`` (0-based half-open) and any others.
    group : the column whose values form the groups (e.g. ``transcript_id``).
    join : ``"union"`` merges overlapping and touching intervals; ``"abutting"`` merges
        only intervals where one ends exactly where the next starts, leaving overlaps apart.
    keep : other columns to keep, column -> pandas aggregation (e.g. ``{"phase": "first"}``).

    Returns
    -------
    A new DataFrame with columns ``group, start, end`` and those of ``keep``, sorted by
    group, then start; the caller's table is not changed.
    """
    if table.empty:
        return table.reset_index(drop=True)
    table = table.sort_values([group, "start", "end"], kind="stable").reset_index(drop=True)
    first_in_group = table[group].ne(table[group].shift(1))
    if join == "union":
        previous_reach = table.groupby(group, sort=False)["end"].cummax().shift(1)
        separate = table["start"] > previous_reach
    else:
        separate = table["start"] != table["end"].shift(1)
    block = (first_in_group | separate).cumsum()
    aggregations = {group: "first", "start": "min", "end": "max", **(keep or {})}
    return table.groupby(block, sort=False).agg(aggregations).reset_index(drop=True)
