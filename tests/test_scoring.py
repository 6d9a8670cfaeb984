"""The scoring primitives, checked against toy models whose probabilities are known exactly
(tests/toy_models.py), and the masked LM's batch-size invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from toy_models import FixedRowModel, NeighbourModel

from glm_core.genome import Genome, nucleotide_codes
from glm_core.kmer import KmerModel
from glm_core.logo import letter_heights, position_table
from glm_core.models import MaskedLM
from glm_core.scoring import (
    SITE_MODEL_KINDS,
    average_strands,
    every_snv,
    minus_strand,
    site_probabilities,
    site_probabilities_at,
    snv_table,
)
from glm_core.variants import llr_percentile, region_snvs

# chrA: positions 1..6 (0-based) read A|C|G|T|T|A|N|C ...
CHR_A = "ACGTTANCAGGT"
CHR_B = "GGGGCATG"


@pytest.fixture(scope="module")
def toy_genome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy_genome")
    (folder / "toy.fa").write_text(f">chrA\n{CHR_A}\n>chrB\n{CHR_B}\n")
    return Genome(folder / "toy.fa")


def neighbour_row(left: str | None, right: str | None) -> np.ndarray:
    """NeighbourModel's probabilities, written out by hand."""
    row = np.full(4, 0.1)
    for base in (left, right):
        if base in ("A", "C", "G", "T"):
            row["ACGT".index(base)] += 0.3
        else:
            row += 0.075
    return row


def test_the_models_satisfy_the_contract(tiny_gpn, embedded_genome):
    kmer = KmerModel.fit(embedded_genome, ["chr23"], k=1)
    for model in (tiny_gpn, kmer, FixedRowModel([0.25] * 4), NeighbourModel()):
        assert model.kind in SITE_MODEL_KINDS
        assert isinstance(model.name, str) and int(model.context_flank) >= 0
        probabilities = model.sequence_site_probabilities("ACGTACGTAC", np.array([0, 4, 9]), batch_size=2)
        assert probabilities.shape == (3, 4)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert isinstance(tiny_gpn, MaskedLM) and tiny_gpn.kind == "masked" and kmer.kind == "k-mer"


def test_region_probabilities_see_the_genome_around_the_region(toy_genome):
    # [2, 5) of chrA is G T T between C and A: the flank of 1 base comes from outside the region.
    probabilities = site_probabilities(NeighbourModel(), toy_genome, "chrA", 2, 5)
    expected = [neighbour_row("C", "T"), neighbour_row("G", "T"), neighbour_row("T", "A")]
    np.testing.assert_allclose(probabilities, expected)
    # At the chromosome start the missing left neighbour spreads its share.
    first = site_probabilities(NeighbourModel(), toy_genome, "chrA", 0, 1)
    np.testing.assert_allclose(first, [neighbour_row(None, "C")])


def test_minus_strand_rows_are_the_reversed_complemented_plus_rows(toy_genome):
    plus = site_probabilities(NeighbourModel(), toy_genome, "chrA", 1, 9)
    minus = site_probabilities(NeighbourModel(), toy_genome, "chrA", 1, 9, "-")
    np.testing.assert_allclose(minus, minus_strand(plus))
    np.testing.assert_allclose(minus[0], plus[-1][[3, 2, 1, 0]])


def test_scattered_positions_equal_the_region_rows(toy_genome):
    positions = pd.DataFrame({"chrom": ["chrB", "chrA", "chrA", "chrB"], "pos": [7, 10, 0, 3]})
    scattered = site_probabilities_at(NeighbourModel(), toy_genome, positions, batch_size=1)
    for row, (chrom, pos) in enumerate(zip(positions["chrom"], positions["pos"])):
        region = site_probabilities(NeighbourModel(), toy_genome, chrom, pos, pos + 1)
        np.testing.assert_allclose(scattered[row], region[0])
    np.testing.assert_allclose(scattered[0], neighbour_row("T", None))  # last base of chrB


def test_snv_llrs_are_exact(toy_genome):
    # chrA[3] = T between G and T: P = (0.1, 0.1, 0.4, 0.4).
    probabilities = site_probabilities(NeighbourModel(), toy_genome, "chrA", 3, 4)
    snvs = snv_table("chrA", 3, "T", probabilities)
    assert snvs[["pos", "ref"]].drop_duplicates().values.tolist() == [[3, "T"]]
    assert snvs["alt"].tolist() == ["A", "C", "G"]
    np.testing.assert_allclose(snvs["llr"], [np.log(0.1 / 0.4), np.log(0.1 / 0.4), 0.0])


def test_every_snv_leaves_out_positions_without_a_reference_base():
    probabilities = np.array([[0.1, 0.2, 0.3, 0.4], [0.25] * 4, [0.7, 0.1, 0.1, 0.1]])
    snvs = every_snv(["c1", "c1", "c2"], [5, 6, 9], nucleotide_codes("ANT"), probabilities)
    assert snvs["pos"].tolist() == [5, 5, 5, 9, 9, 9]
    assert snvs["chrom"].tolist() == ["c1"] * 3 + ["c2"] * 3
    np.testing.assert_allclose(snvs["llr"][:3], np.log([0.2 / 0.1, 0.3 / 0.1, 0.4 / 0.1]))
    np.testing.assert_allclose(snvs["llr"][3:], np.log([0.7 / 0.1, 1.0, 1.0]))


def test_logo_heights_are_probability_times_information(toy_genome):
    # chrA[9] = G between A and G: P = (0.4, 0.1, 0.4, 0.1); chrB[1] = G between G and G: P(G) = 0.7.
    cases = [("chrA", 9, [0.4, 0.1, 0.4, 0.1]), ("chrB", 1, [0.1, 0.1, 0.7, 0.1])]
    for chrom, pos, row in cases:
        probabilities = site_probabilities(NeighbourModel(), toy_genome, chrom, pos, pos + 1)
        heights = letter_heights(position_table(toy_genome, chrom, pos, pos + 1, "+", probabilities))
        ic = 2 + sum(p * np.log2(p) for p in row)
        np.testing.assert_allclose(heights.to_numpy()[0], np.array(row) * ic)
    assert 2 + 0.7 * np.log2(0.7) + 3 * 0.1 * np.log2(0.1) == pytest.approx(0.6432, abs=1e-4)


def test_region_percentiles_rank_each_llr_among_the_region(toy_genome):
    # A fixed row gives each SNV log P(alt) - log P(ref); chrB[4:7] is C A T, so the nine LLRs
    # are log of 1/2, 3/2, 2 (C>A, C>G, C>T), 2, 3, 4 (A>C, A>G, A>T), 1/4, 1/2, 3/4 (T>A, T>C, T>G).
    row = np.array([0.1, 0.2, 0.3, 0.4])
    probabilities = site_probabilities(FixedRowModel(row), toy_genome, "chrB", 4, 7)
    snvs = region_snvs(toy_genome, None, "chrB", 4, 7, probabilities).set_index(["pos", "alt"])
    np.testing.assert_allclose(snvs["llr"], np.log([1 / 2, 3 / 2, 2, 2, 3, 4, 1 / 4, 1 / 2, 3 / 4]))
    percentile = snvs["llr_percentile"]
    assert percentile[(5, "T")] == pytest.approx(100.0)  # the highest
    assert percentile[(6, "A")] == pytest.approx(100 / 9)  # the lowest
    assert percentile[(4, "T")] == pytest.approx(700 / 9)  # tied with A>C: seven of nine are <= log 2
    np.testing.assert_allclose(llr_percentile([snvs["llr"].min() - 1, np.nan], snvs["llr"]), [0.0, np.nan])


def test_average_strands_is_the_renormalised_mean_of_both_strands():
    forward = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    reverse = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]]))  # minus-strand A, C, G, T
    np.testing.assert_allclose(average_strands(forward, reverse).numpy(), [[0.1, 0.2, 0.3, 0.4]], rtol=1e-6)
    mixed = average_strands(forward, torch.log(torch.tensor([[0.25] * 4])), log=True).exp().numpy()[0]
    expected = np.sqrt(np.array([0.1, 0.2, 0.3, 0.4]) * 0.25)
    np.testing.assert_allclose(mixed, expected / expected.sum(), rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_masked_lm_results_do_not_depend_on_batch_size(tiny_gpn, embedded_genome, batch_size):
    reference = site_probabilities(tiny_gpn, embedded_genome, "chr02", 1000, 1010, batch_size=10)
    again = site_probabilities(tiny_gpn, embedded_genome, "chr02", 1000, 1010, batch_size=batch_size)
    np.testing.assert_allclose(again, reference, rtol=1e-5, atol=1e-7)
    positions = pd.DataFrame({"chrom": "chr02", "pos": [1009, 1000, 1004]})
    scattered = site_probabilities_at(tiny_gpn, embedded_genome, positions, batch_size=batch_size)
    np.testing.assert_allclose(scattered, reference[[9, 0, 4]], rtol=1e-5, atol=1e-7)
