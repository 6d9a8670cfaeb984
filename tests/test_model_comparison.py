"""Two site models side by side (glm_core.model_comparison).

Facts checked: a model compared with itself has KL 0, delta P(ref) 0 and LLR correlations 1;
the KL of two known distributions is the hand-computed value in bits (model 1 the reference);
two k-mer models fitted on the tiny genome disagree (KL > 0) and their joined table has one
row per SNV, 1-based in the file, with the LLRs each model gives alone; the minus strand
reads the complemented bases.
"""

import io

import numpy as np
import pandas as pd
import pytest

from glm_core.kmer import KmerModel
from glm_core.model_comparison import (
    POSITION_COLUMNS,
    SNV_COLUMNS,
    compare_models,
    compare_probabilities,
    joined_tsv,
    kl_divergence_bits,
)
from glm_core.scoring import site_probabilities
from glm_core.genome import reverse_complement


@pytest.fixture(scope="module")
def kmer_models(tiny_genome):
    chroms = tiny_genome.chroms
    return KmerModel.fit(tiny_genome, chroms, k=1), KmerModel.fit(tiny_genome, chroms, k=2)


def test_kl_divergence_in_bits_has_model_one_as_reference():
    p = np.array([[0.5, 0.5, 0.0, 0.0]])
    q = np.array([[0.25, 0.25, 0.25, 0.25]])
    assert kl_divergence_bits(p, q)[0] == pytest.approx(1.0)  # 2 x 0.5 log2(0.5 / 0.25)
    assert kl_divergence_bits(q, q)[0] == 0.0
    assert kl_divergence_bits(q, p)[0] > 10  # the other direction meets P = 0 (clipped at 1e-12)


def test_a_model_compared_with_itself(tiny_genome, kmer_models):
    model = kmer_models[1]
    chrom = tiny_genome.chroms[0]
    comparison = compare_models(model, model, tiny_genome, chrom, 10, 60)
    assert (comparison.positions["kl_bits"] == 0).all()
    assert (comparison.positions["delta_p_ref"] == 0).all()
    assert comparison.pearson == pytest.approx(1.0, abs=1e-12)
    assert comparison.spearman == pytest.approx(1.0, abs=1e-12)
    assert list(comparison.positions.columns) == POSITION_COLUMNS and list(comparison.snvs.columns) == SNV_COLUMNS


def test_two_kmer_models_joined_table(tiny_genome, kmer_models):
    one, two = kmer_models
    chrom = tiny_genome.chroms[0]
    start, end = 10, 60
    comparison = compare_models(one, two, tiny_genome, chrom, start, end)
    assert (comparison.name_1, comparison.name_2) == ("k-mer (k=1)", "k-mer (k=2)")
    assert comparison.positions["kl_bits"].gt(0).all()
    assert 0 < comparison.pearson < 1 and -1 <= comparison.spearman <= 1

    table = pd.read_csv(io.StringIO(joined_tsv(comparison)), sep="\t")
    assert len(table) == 3 * (end - start) and table["pos"].between(start + 1, end).all()
    assert list(table.columns[:7]) == SNV_COLUMNS
    # The LLRs are each model's own: log P(alt) - log P(ref) from its probabilities alone.
    probabilities = site_probabilities(two, tiny_genome, chrom, start, end)
    row = table.iloc[0]
    column = "ACGT".index(row["alt"]), "ACGT".index(row["ref"])
    offset = int(row["pos"]) - 1 - start
    expected = np.log(probabilities[offset, column[0]]) - np.log(probabilities[offset, column[1]])
    assert row["llr_2"] == pytest.approx(expected, rel=1e-5)
    kl = table.drop_duplicates("pos")["kl_bits"].to_numpy()
    np.testing.assert_allclose(kl, comparison.positions["kl_bits"], rtol=1e-5)


def test_minus_strand_comparison_reads_the_complement(tiny_genome, kmer_models):
    one, two = kmer_models
    chrom = tiny_genome.chroms[0]
    plus = compare_models(one, two, tiny_genome, chrom, 10, 30, "+")
    minus = compare_models(one, two, tiny_genome, chrom, 10, 30, "-")
    assert "".join(minus.positions["ref"]) == reverse_complement("".join(plus.positions["ref"]))
    np.testing.assert_allclose(minus.positions["kl_bits"].to_numpy()[::-1], plus.positions["kl_bits"], atol=1e-12)
    assert minus.pearson == pytest.approx(plus.pearson)


def test_probabilities_of_the_wrong_shape_are_refused(tiny_genome):
    chrom = tiny_genome.chroms[0]
    with pytest.raises(ValueError, match="needs \\(5, 4\\)"):
        compare_probabilities(tiny_genome, chrom, 0, 5, "+", np.full((4, 4), 0.25), np.full((5, 4), 0.25), "a", "b")
