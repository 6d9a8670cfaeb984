"""Deterministic toy site models with known probabilities, for tests that pin exact numbers.

Both satisfy :class:`glm_core.scoring.SiteModel` and are strand-symmetric (their forward and
reverse-complement predictions agree), as the contract asks.
"""

from __future__ import annotations

import numpy as np

from glm_core.genome import nucleotide_codes


class FixedRowModel:
    """The same distribution over A, C, G, T at every position, whatever the context."""

    name = "fixed row"
    kind = "one-pass"
    context_flank = 3

    def __init__(self, row):
        self.row = np.asarray(row, dtype=np.float64)

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        positions = np.asarray(positions)
        if progress is not None:
            progress(len(positions), len(positions))
        return np.tile(self.row, (len(positions), 1))


class NeighbourModel:
    """P(b) = 0.1 + 0.3 [b is the left neighbour] + 0.3 [b is the right neighbour].

    A neighbour that is missing (sequence end) or not A/C/G/T spreads its 0.3 evenly (0.075
    a base). So a base between two different neighbours L, R gets P(L) = P(R) = 0.4 and 0.1
    for the other two; between two equal neighbours P = 0.7 for that base. Reading the
    reverse complement swaps and complements the neighbours, so the rule is strand-symmetric.
    """

    name = "neighbour"
    kind = "one-pass"
    context_flank = 1

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        codes = nucleotide_codes(sequence).astype(np.int64)
        positions = np.asarray(positions, dtype=np.int64)
        out = np.full((len(positions), 4), 0.1)
        rows = np.arange(len(positions))
        for neighbour in (positions - 1, positions + 1):
            inside = (neighbour >= 0) & (neighbour < len(codes))
            base = np.where(inside, codes[np.clip(neighbour, 0, len(codes) - 1)], -1)
            known = base >= 0
            out[rows[known], base[known]] += 0.3
            out[~known] += 0.075
        if progress is not None:
            progress(len(positions), len(positions))
        return out
