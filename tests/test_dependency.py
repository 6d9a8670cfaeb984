"""Nucleotide dependency maps (glm_core.dependency), pinned with toy site models.

Facts checked:

* a model whose prediction at j depends only on base j-1 gives a map that is exactly the
  first off-diagonal (query i, target i+1), with the hand-computed largest log-odds change,
  and 0 everywhere else off the diagonal (NaN on it);
* with fwd/RC averaging, the map of the reverse-complemented sequence is the mirrored map,
  and the minus-strand map of a genome region equals the map of its reverse complement;
* scoring only targets within the model's flank gives the same map as scoring all of them,
  and a model's own many-sequence method gives the same map as the loop;
* the per-substitution track of a query is the map's row; TSV and npz files carry 1-based
  positions and the same numbers; regions over the limits are refused with the limit named.
"""

import io

import numpy as np
import pandas as pd
import pytest

from glm_core import dependency
from glm_core.dependency import (
    DependencyEstimate,
    check_dependency_region,
    dependency_map,
    log_odds,
    matrix_npz,
    matrix_tsv,
    sequence_dependency,
)
from glm_core.errors import InputError
from glm_core.genome import nucleotide_codes, reverse_complement

# Row b: P(x_j | x_{j-1} = b) over A, C, G, T; every row distinct, none uniform.
NEIGHBOUR_TABLE = np.array(
    [
        [0.70, 0.10, 0.10, 0.10],
        [0.10, 0.60, 0.20, 0.10],
        [0.25, 0.25, 0.40, 0.10],
        [0.05, 0.15, 0.30, 0.50],
    ]
)
UNIFORM = np.full(4, 0.25)


class LeftNeighbourModel:
    """P(x_j) = NEIGHBOUR_TABLE[x_{j-1}], uniform at the first base or after an N (one strand only)."""

    name = "left-neighbour"
    kind = "one-pass"
    context_flank = 1

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        codes = nucleotide_codes(sequence)
        out = np.empty((len(positions), 4))
        for row, j in enumerate(np.asarray(positions)):
            left = codes[j - 1] if j > 0 else -1
            out[row] = NEIGHBOUR_TABLE[left] if left >= 0 else UNIFORM
        return out


class AveragedNeighbourModel(LeftNeighbourModel):
    """The left-neighbour model averaged over both strands as the contract asks: log-probabilities
    of the forward and reverse-complement predictions averaged, then renormalised."""

    name = "neighbours (fwd/RC averaged)"

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        positions = np.asarray(positions)
        forward = super().sequence_site_probabilities(sequence, positions)
        mirrored = len(sequence) - 1 - positions
        backward = super().sequence_site_probabilities(reverse_complement(sequence), mirrored)[:, ::-1]
        averaged = np.exp((np.log(forward) + np.log(backward)) / 2)
        return averaged / averaged.sum(axis=1, keepdims=True)


class BatchedNeighbourModel(AveragedNeighbourModel):
    """Offers the optional many-sequence method; counts how often it is called."""

    calls = 0

    def sequences_site_probabilities(self, sequences, positions, *, batch_size=None, progress=None):
        type(self).calls += 1
        return np.stack([self.sequence_site_probabilities(s, positions) for s in sequences])


def max_log_odds_change(row_from: int, row_to: int) -> float:
    return float(np.abs(log_odds(NEIGHBOUR_TABLE[row_to]) - log_odds(NEIGHBOUR_TABLE[row_from])).max())


def test_left_neighbour_model_gives_exactly_the_first_off_diagonal():
    sequence = "GATTACAGCT"
    reference, alternatives, variants = sequence_dependency(LeftNeighbourModel(), sequence, 0, len(sequence))
    matrix = dependency.dependency_matrix(reference, variants)
    n = len(sequence)
    assert np.isnan(np.diag(matrix)).all()
    codes = nucleotide_codes(sequence)
    expected = np.zeros((n, n))
    for i in range(n - 1):
        expected[i, i + 1] = max(max_log_odds_change(codes[i], alt) for alt in range(4) if alt != codes[i])
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_allclose(matrix, expected, rtol=1e-6, atol=0)
    assert (matrix[np.triu_indices(n, 2)] == 0).all() and (matrix[np.tril_indices(n, -1)] == 0).all()
    assert alternatives[0].tolist() == [0, 1, 3]  # G -> A, C, T


def test_reverse_complement_gives_the_mirrored_map():
    model = AveragedNeighbourModel()
    sequence = "GATTACAGCTTGCAAC"
    forward = dependency.dependency_matrix(*sequence_dependency(model, sequence, 0, len(sequence))[::2])
    backward = dependency.dependency_matrix(
        *sequence_dependency(model, reverse_complement(sequence), 0, len(sequence))[::2]
    )
    np.testing.assert_allclose(backward, forward[::-1, ::-1], rtol=1e-6, atol=1e-9)
    # Both strands averaged: base i now moves the predictions at i-1 and at i+1.
    assert (np.diag(forward, 1) > 0).all() and (np.diag(forward, -1) > 0).all()
    assert np.nanmax(np.abs(np.triu(forward, 2))) == 0


def test_minus_strand_map_is_the_map_of_the_reverse_complement(tiny_genome):
    model = AveragedNeighbourModel()
    chrom = tiny_genome.chroms[0]
    start, end = 20, 44
    minus = dependency_map(model, tiny_genome, chrom, start, end, "-")
    text = tiny_genome.fetch(chrom, start - 1, end + 1)  # the flank the model can see
    reference, _, variants = sequence_dependency(model, reverse_complement(text), 1, 1 + end - start)
    np.testing.assert_allclose(minus.matrix, dependency.dependency_matrix(reference, variants), rtol=1e-6, atol=1e-9)
    assert minus.positions.tolist() == list(range(end - 1, start - 1, -1))
    assert minus.reference == reverse_complement(tiny_genome.fetch(chrom, start, end)).upper()
    plus = dependency_map(model, tiny_genome, chrom, start, end, "+")
    np.testing.assert_allclose(minus.matrix, plus.matrix[::-1, ::-1], rtol=1e-6, atol=1e-9)
    # The substitutions of each query stay in A, C, G, T order of the strand read.
    assert (np.diff(minus.alternatives, axis=1) > 0).all()


def test_targets_out_of_reach_and_the_batched_method_give_the_same_map(tiny_genome):
    sequence = tiny_genome.fetch(tiny_genome.chroms[0], 10, 40)
    model = AveragedNeighbourModel()
    everything = sequence_dependency(model, sequence, 1, 29, full_flanks=False)
    near_only = sequence_dependency(model, sequence, 1, 29, full_flanks=True)
    for a, b in zip(everything, near_only):
        np.testing.assert_array_equal(a, b)
    batched_model = BatchedNeighbourModel()
    batched = sequence_dependency(batched_model, sequence, 1, 29)
    assert BatchedNeighbourModel.calls >= 1
    np.testing.assert_allclose(batched[2], everything[2], rtol=1e-6)


class WholeSequences:
    """A one-pass model without its substitution method: every variant sequence scored whole."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name == "substitution_site_probabilities":
            raise AttributeError(name)
        return getattr(self.model, name)


@pytest.fixture(scope="module")
def random_onepass():
    """Random one-pass weights, float64: receptive field 5 + 2 * (1 + 2 + 4) = 19 bases each side."""
    import torch

    from glm_core.onepass import OnePassConfig, OnePassForSiteProbabilities, OnePassSiteModel

    torch.manual_seed(1)
    config = OnePassConfig(
        hidden_size=16, intermediate_size=32, first_kernel_size=5, kernel_size=3, dilations=(1, 2, 4), head_size=16
    )
    return OnePassSiteModel(OnePassForSiteProbabilities(config).double().eval(), "random one-pass")


@pytest.mark.parametrize(("start", "end"), [(200, 230), (3, 25)], ids=["full flanks", "at the sequence start"])
def test_one_pass_substitution_path_gives_the_map_of_whole_sequences(tiny_genome, random_onepass, start, end):
    chrom = tiny_genome.chroms[0]
    fast = dependency_map(random_onepass, tiny_genome, chrom, start, end)
    whole = dependency_map(WholeSequences(random_onepass), tiny_genome, chrom, start, end)
    np.testing.assert_allclose(fast.variant_probabilities, whole.variant_probabilities, atol=1e-6)
    np.testing.assert_allclose(fast.matrix, whole.matrix, atol=1e-4)
    # Within the receptive field every query moves its targets; beyond it, nothing.
    distance = np.abs(np.subtract.outer(np.arange(end - start), np.arange(end - start)))
    assert (fast.matrix[(distance > 0) & (distance <= 19)] > 0).all()
    assert (fast.matrix[distance > 19] == 0).all()
    estimate = dependency.estimate_dependency_seconds(random_onepass, tiny_genome, chrom, start, end)
    assert estimate.n_sequences == 3 * (end - start) and estimate.seconds > 0


def test_substitution_track_is_the_map_row_and_files_are_one_based(tiny_genome):
    chrom = tiny_genome.chroms[0]
    result = dependency_map(AveragedNeighbourModel(), tiny_genome, chrom, 30, 45)
    track = result.substitution_effect(4)
    assert set(track["alt"]) == {"ACGT"[c] for c in result.alternatives[4]}
    per_target = track.groupby("target")["max_abs_change"].max()
    np.testing.assert_allclose(per_target.to_numpy(), result.matrix[4], rtol=1e-6)
    assert track["pos"].between(30, 44).all()

    tsv = pd.read_csv(io.StringIO(matrix_tsv(result)), sep="\t", index_col=0)
    assert tsv.index[0] == f"31{result.reference[0]}" and tsv.shape == (15, 15)
    np.testing.assert_allclose(tsv.to_numpy(), result.matrix, rtol=1e-5)
    with np.load(io.BytesIO(matrix_npz(result))) as saved:
        assert saved["positions"].tolist() == list(range(31, 46))
        np.testing.assert_array_equal(saved["matrix"], result.matrix)
        assert str(saved["strand"]) == "+" and saved["variant_probabilities"].shape == (15, 3, 15, 4)


def test_regions_over_the_limits_are_refused(tiny_genome):
    chrom = tiny_genome.chroms[0]
    assert tiny_genome.chrom_sizes[chrom] > 201
    # A one-pass model on a CPU: only a smaller region or a GPU would do.
    with pytest.raises(InputError, match=r"at most 200 bp on a CPU\. Choose a smaller region or a GPU \("):
        dependency_map(AveragedNeighbourModel(), tiny_genome, chrom, 0, 201)

    class SlowMasked(AveragedNeighbourModel):
        kind = "masked"
        name = "slow"

    slow = DependencyEstimate(
        seconds=1_000.0, n_sequences=60, n_positions=1_200, seconds_per_call=0.0, seconds_per_position=0.8, device="cpu"
    )
    with pytest.raises(
        InputError,
        match=r"estimated 1,000 s\); a dependency map covers at most 11 bp.*Choose a smaller region, a one-pass model "
        r"or a GPU",
    ):
        check_dependency_region(SlowMasked(), tiny_genome, chrom, 0, 20, estimate=slow)


def test_estimate_counts_the_work_of_the_map(tiny_genome):
    chrom = tiny_genome.chroms[0]
    estimate = dependency.estimate_dependency_seconds(AveragedNeighbourModel(), tiny_genome, chrom, 30, 50)
    assert estimate.n_sequences == 60
    # Full flanks: each query rescoring its two neighbours, one at each region end.
    assert estimate.n_positions == 20 + 3 * (2 * 20 - 2)
    assert estimate.seconds >= 0 and estimate.device == "cpu"


def test_packed_variant_sequences_score_as_alone_for_a_masked_lm(tiny_gpn, embedded_genome):
    # Full flanks: each copy of the sequence holds every base a target's window can see.
    flank = tiny_gpn.context_flank
    sequence = embedded_genome.fetch("chr22", 69_123 - flank, 69_129 + flank)
    alone = sequence_dependency(tiny_gpn, sequence, flank, flank + 6, full_flanks=False)
    packed = sequence_dependency(tiny_gpn, sequence, flank, flank + 6, full_flanks=True)
    np.testing.assert_allclose(packed[2], alone[2], rtol=1e-4, atol=1e-6)
