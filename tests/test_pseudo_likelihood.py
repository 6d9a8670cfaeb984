"""The pseudo-log-likelihood equals the mean log2 probability of the reference base from the
masking engine, position by position; a random subset of positions averages exactly those;
with a toy model of known probabilities the value is exact."""

import numpy as np
import pytest
from toy_models import FixedRowModel

from glm_core.pseudo_likelihood import sequence_pseudo_log_likelihood
from glm_core.scoring import masked_site_probabilities


def test_pseudo_log_likelihood_is_the_mean_log2_reference_probability(tiny_gpn):
    sequences = ["ACGTTGCAACGTAGCTAGGATCCA", "TTTTGGGGCCCCAAAATTTTGGGG", "NNNN"]
    seen = []
    pll = sequence_pseudo_log_likelihood(tiny_gpn, sequences, progress=lambda done, total: seen.append((done, total)))
    assert pll.shape == (3,) and np.isnan(pll[2])
    for value, sequence in zip(pll[:2], sequences):
        probabilities = masked_site_probabilities(tiny_gpn, sequence)
        codes = ["ACGT".index(b) for b in sequence]
        expected = np.mean(np.log2(probabilities[np.arange(len(sequence)), codes]))
        assert value == pytest.approx(expected, abs=1e-6)
        assert -4 < value < 0
    assert seen[-1] == (48, 48)

    # a random subset of positions averages exactly those positions
    subset = sequence_pseudo_log_likelihood(tiny_gpn, sequences[:1], positions_per_sequence=5, seed=3)
    chosen = np.sort(np.random.default_rng(3).choice(len(sequences[0]), 5, replace=False))
    probabilities = masked_site_probabilities(tiny_gpn, sequences[0], chosen)
    codes = np.array(["ACGT".index(b) for b in sequences[0]])[chosen]
    assert subset[0] == pytest.approx(np.mean(np.log2(probabilities[np.arange(5), codes])), abs=1e-6)


def test_pseudo_log_likelihood_of_a_fixed_row_model_is_exact():
    row = [0.5, 0.25, 0.125, 0.125]
    pll = sequence_pseudo_log_likelihood(FixedRowModel(row), ["AACG", "TNT"])
    np.testing.assert_allclose(pll, [(-1 - 1 - 2 - 3) / 4, -3.0])
