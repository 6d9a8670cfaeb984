"""Dinucleotide shuffles keep every dinucleotide count and both end letters, change the
sequence, and draw both possible orders of a small example about equally often."""

from collections import Counter
from itertools import pairwise

import numpy as np

from glm_core.shuffle import dinucleotide_shuffle


def _dinucleotides(sequence):
    return Counter(pairwise(sequence))


def test_dinucleotide_shuffle_keeps_counts_and_ends_and_changes_the_sequence():
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), 250, p=[0.2, 0.3, 0.3, 0.2]))
    shuffles = [dinucleotide_shuffle(sequence, rng) for _ in range(20)]
    for shuffled in shuffles:
        assert len(shuffled) == 250
        assert _dinucleotides(shuffled) == _dinucleotides(sequence)
        assert shuffled[0] == sequence[0] and shuffled[-1] == sequence[-1]
        assert shuffled != sequence
    assert len(set(shuffles)) == 20
    assert dinucleotide_shuffle(sequence, 7) == dinucleotide_shuffle(sequence, 7)
    # a run of one letter or a very short sequence has nothing else to become
    assert dinucleotide_shuffle("AAAAAA", 1) == "AAAAAA" and dinucleotide_shuffle("AC", 1) == "AC"


def test_dinucleotide_shuffle_draws_every_arrangement_alike():
    # AACGTAC has exactly two arrangements with its dinucleotides and ends: itself and ACGTAAC
    counts = Counter(dinucleotide_shuffle("AACGTAC", rng) for rng in [np.random.default_rng(0)] * 4000)
    assert set(counts) == {"AACGTAC", "ACGTAAC"}
    assert abs(counts["AACGTAC"] - 2000) < 150
