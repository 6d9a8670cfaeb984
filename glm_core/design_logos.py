"""Predicted logos of designed promoters beside natural ones, aligned at the TSS.

A design of ``length`` bp and a natural promoter (any length) both end at the transcription
start, so position ``i`` (1-based) of the design faces position ``i + len(natural) - length``
of the natural promoter. :func:`aligned_logo_tables` scores the same 1-based range of every
sequence with a masked LM and returns the position tables the logos are drawn from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError


def aligned_logo_tables(
    model, sequences: dict[str, str], first: int, last: int, length: int
) -> dict[str, pd.DataFrame]:
    """Position tables of ``first..last`` (1-based, inclusive, in design coordinates) of each sequence.

    Parameters
    ----------
    model : a masked LM with ``sequence_site_probabilities(sequence, positions)``.
    sequences : ``{label: sequence}``, each 5'->3' and ending at the TSS.
    first, last : the range, 1-based inclusive, of a design of ``length`` bp.

    Returns
    -------
    ``{label: table}`` in the order of ``sequences``, each table as
    :func:`glm_core.scoring.probability_table` builds (``chrom`` = the label, ``pos`` 0-based
    in that sequence). A sequence too short to reach this far upstream is left out.
    """
    from .scoring import probability_table

    if not 1 <= first <= last <= length:
        raise InputError(f"the logo range {first}-{last} must lie within 1-{length} (1-based, inclusive)")
    tables = {}
    for label, sequence in sequences.items():
        offset = len(sequence) - length
        span = np.arange(first - 1 + offset, last + offset)
        span = span[span >= 0]
        if len(span) == 0:
            continue
        probabilities = model.sequence_site_probabilities(sequence, span)
        tables[label] = probability_table(label, int(span[0]), sequence[span[0] : span[-1] + 1], probabilities)
    return tables
