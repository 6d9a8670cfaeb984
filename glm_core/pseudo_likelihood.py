"""Pseudo-log-likelihood of whole sequences under a site model (designed vs natural promoters).

Any :class:`~glm_core.scoring.SiteModel` works; each sequence is scored alone through the
model's ``sequence_site_probabilities``. Bits per base, log base 2.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .genome import nucleotide_codes
from .scoring import Progress, SiteModel

__all__ = ["sequence_pseudo_log_likelihood"]


def sequence_pseudo_log_likelihood(
    model: SiteModel,
    sequences: Sequence[str],
    *,
    positions_per_sequence: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Pseudo-log-likelihood: mean log2 P(reference base | the rest) over each sequence, one position masked at a time.

    Each sequence is scored alone, with no genomic flank, so that designed and natural
    sequences see the same amount of context; a masked LM pads it to its window and averages
    the forward and reverse-complement predictions
    (:func:`glm_core.scoring.masked_site_probabilities`). Positions that are not A/C/G/T are
    skipped.

    Parameters
    ----------
    sequences : DNA strings.
    positions_per_sequence : score this many positions drawn at random (without
        replacement, ``seed``) instead of all of them: an unbiased estimate of the same mean
        at a fraction of the cost (a masked LM runs two windows per position).
    progress : ``progress(done, total)`` over scored positions.

    Returns
    -------
    np.ndarray, shape=(len(sequences),), float64: bits per base, <= 0 (-2 is a uniform
    guess over four bases); NaN for a sequence without A/C/G/T.
    """
    rng = np.random.default_rng(seed)
    codes = [nucleotide_codes(sequence) for sequence in sequences]
    chosen = []
    for sequence_codes in codes:
        valid = np.flatnonzero(sequence_codes >= 0)
        if positions_per_sequence is not None and len(valid) > positions_per_sequence:
            valid = np.sort(rng.choice(valid, positions_per_sequence, replace=False))
        chosen.append(valid)
    total = int(sum(len(positions) for positions in chosen))
    scores = np.full(len(chosen), np.nan)
    done = 0
    for i, (sequence, positions) in enumerate(zip(sequences, chosen)):
        if len(positions) == 0:
            continue

        def step(inner_done: int, inner_total: int, before: int = done) -> None:
            if progress is not None:
                progress(before + inner_done, total)

        probabilities = model.sequence_site_probabilities(sequence, positions, batch_size=batch_size, progress=step)
        reference = codes[i][positions].astype(np.int64)
        p_reference = probabilities[np.arange(len(positions)), reference].astype(np.float64)
        scores[i] = float(np.mean(np.log2(np.clip(p_reference, 1e-12, 1.0))))
        done += len(positions)
    return scores
