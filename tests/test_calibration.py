"""Neutral-site tables, calibrated LLRs and genome-wide LLR backgrounds."""

import numpy as np
import pandas as pd
import pytest

from glm_core.backgrounds import background_from_scores, quantile_percentile, read_background, write_background
from glm_core.calibration import (
    ContextSums,
    calibrate,
    context_codes,
    context_text,
    fold,
    neutral_table,
    read_neutral_table,
    write_neutral_table,
)
from glm_core.genome import nucleotide_codes, reverse_complement


def _random_snvs(n, seed=0):
    rng = np.random.default_rng(seed)
    contexts = ["".join(rng.choice(list("ACGT"), 5)) for _ in range(n)]
    alts = [rng.choice([b for b in "ACGT" if b != c[2]]) for c in contexts]
    return pd.DataFrame({"context": contexts, "alt": alts})


def test_context_codes_read_five_mers_and_skip_ends_and_n():
    codes = context_codes(nucleotide_codes("AACGTNACGTA"))
    assert codes[:2].tolist() == [-1, -1] and codes[-2:].tolist() == [-1, -1]
    assert context_text(codes[2]) == "AACGT"
    assert codes[3:8].tolist() == [-1] * 5  # every 5-mer touching the N


def test_folding_maps_a_context_and_its_reverse_complement_to_one_cell():
    context = int((nucleotide_codes("ACGTT").astype(int) * 4 ** np.arange(4, -1, -1)).sum())  # centre G
    folded, alt = fold(np.array([context]), np.array([0]))  # G>A
    assert context_text(folded[0]) == reverse_complement("ACGTT") and alt[0] == 3  # AACGT, C>T


def test_table_has_512_contexts_times_3_alts_and_round_trips(tmp_path):
    snvs = _random_snvs(20_000).assign(llr=-1.0)
    table = neutral_table(snvs, proxy="intergenic_far", model="toy")
    assert len(table.cells) == 512 * 3 == 1536
    assert set(table.cells["context"].str[2]) == {"A", "C"}
    assert table.cells["mean_llr"].to_numpy() == pytest.approx(-1.0)
    write_neutral_table(table, tmp_path / "calibration.tsv")
    again = read_neutral_table(tmp_path / "calibration.tsv")
    assert again.proxy == "intergenic_far" and again.model == "toy"
    pd.testing.assert_frame_equal(again.cells, table.cells, check_dtype=False)


def test_calibrated_llrs_of_neutral_sites_centre_on_zero():
    snvs = _random_snvs(200_000, seed=1)
    rng = np.random.default_rng(2)
    # a context-and-alt bias (what calibration removes) plus noise
    bias = {(c, a): rng.normal(-1, 0.5) for c in set(snvs["context"]) for a in "ACGT"}
    shift = np.array([bias[(c, a)] for c, a in zip(snvs["context"], snvs["alt"])])
    neutral = rng.random(len(snvs)) < 0.5
    # strand symmetry, as the bundled models have: a context's bias is its reverse complement's
    folded, folded_alt = fold(
        (nucleotide_codes("".join(snvs["context"])).astype(int).reshape(-1, 5) * 4 ** np.arange(4, -1, -1)).sum(1),
        nucleotide_codes("".join(snvs["alt"])).astype(int),
    )
    cell_bias = pd.Series(shift).groupby(folded * 4 + folded_alt).transform("mean").to_numpy()
    snvs["llr"] = cell_bias + rng.normal(0, 0.3, len(snvs))
    table = neutral_table(snvs, neutral)
    cllr = calibrate(snvs, table)
    assert abs(cllr[neutral].mean()) < 1e-9  # exact: each cell's neutral mean is subtracted
    assert abs(cllr[~neutral].mean()) < 0.01 and snvs["llr"].mean() < -0.5
    assert np.std(cllr[~neutral]) == pytest.approx(0.3, abs=0.02)


def test_context_sums_add_up_across_chunks():
    snvs = _random_snvs(1000).assign(llr=np.linspace(-3, 0, 1000))
    codes = (nucleotide_codes("".join(snvs["context"])).astype(int).reshape(-1, 5) * 4 ** np.arange(4, -1, -1)).sum(1)
    alts = nucleotide_codes("".join(snvs["alt"])).astype(int)
    whole = ContextSums().add(codes, alts, snvs["llr"].to_numpy())
    halves = ContextSums().add(codes[:500], alts[:500], snvs["llr"].to_numpy()[:500]) + ContextSums().add(
        codes[500:], alts[500:], snvs["llr"].to_numpy()[500:]
    )
    np.testing.assert_allclose(halves.as_array(), whole.as_array())


def test_genome_wide_percentile_of_a_known_llr_from_a_toy_table(tmp_path):
    llr = np.linspace(-10, 0, 100_001)  # uniform: the share at most -2.5 is 75 %
    consequence = np.where(llr < -5, 0, 1)
    background = background_from_scores(
        {"llr": llr}, consequence, ["stop_gained", "synonymous"], {"model": "toy", "genome": "toy.fa"}
    )
    assert background.percentile([-2.5])[0] == pytest.approx(75.0, abs=0.01)
    assert background.percentile([-2.5], group="synonymous")[0] == pytest.approx(50.0, abs=0.02)
    assert background.percentile([-11.0, 1.0, np.nan]).tolist()[:2] == [0.0, 100.0]
    write_background(background, tmp_path / "llr_background.npz")
    again = read_background(tmp_path / "llr_background.npz")
    assert again.percentile([-7.5], group="stop_gained")[0] == pytest.approx(50.0, abs=0.02)
    assert again.counts.tolist() == [100_001, 50_000, 50_001] and "toy.fa" in again.describe()


def test_tied_quantiles_give_the_share_at_most_the_value():
    quantiles = np.array([-1.0, 0.0, 0.0, 0.0, 1.0])  # levels 0, 25, 50, 75, 100
    assert quantile_percentile(np.array([0.0]), quantiles)[0] == 75.0


def test_scored_vcf_carries_genome_wide_percentiles_and_calibrated_llrs(tmp_path, tiny_genome, tiny_annotation):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from toy_models import FixedRowModel

    from glm_core.calibration import ContextSums
    from glm_core.chunked_job import file_fingerprint
    from glm_core.variants import model_calibration, model_llr_background, score_vcf
    from glm_core.vcf import read_vcf, scored_vcf_text

    sequence = tiny_genome.fetch("chrT", 0, 420)
    pos = 100  # 0-based; REF is the genome's base there
    ref = sequence[pos]
    alt = "A" if ref != "A" else "C"
    vcf = read_vcf(
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchrT\t{pos + 1}\t.\t{ref}\t{alt}\t.\t.\t.\n".encode()
    )
    model = FixedRowModel([0.1, 0.2, 0.3, 0.4])
    model.path = tmp_path
    assert model_llr_background(model, tiny_genome) is None
    plain = score_vcf(model, tiny_genome, tiny_annotation, vcf, background=None)
    text = scored_vcf_text(vcf, plain)
    assert "GLM_LLR_PCT=" not in text and "##glm_explorer_llr_background=none" in text

    # a toy background (uniform LLRs on -3..3) and a neutral table that puts every cell at -0.5
    genome_hash = file_fingerprint(tiny_genome.path)["sha256"]
    write_background(
        background_from_scores(
            {"llr": np.linspace(-3, 3, 6001), "cllr": np.linspace(-3, 3, 6001)},
            None,
            [],
            {"genome": "tiny.fa", "genome_sha256": genome_hash},
        ),
        tmp_path / "llr_background.npz",
    )
    sums = ContextSums()
    sums.total[:] = -0.5 * 100
    sums.count[:] = 100
    write_neutral_table(sums.table("fourfold", "fixed row"), tmp_path / "calibration.tsv")
    background, calibration = model_llr_background(model, tiny_genome), model_calibration(model, tiny_genome)
    scored = score_vcf(model, tiny_genome, tiny_annotation, vcf, background=background, calibration=calibration)
    llr = np.log(model.row["ACGT".index(alt)] / model.row["ACGT".index(ref)])
    row = scored.iloc[0]
    assert row["llr"] == pytest.approx(llr) and row["cllr"] == pytest.approx(llr + 0.5)
    assert row["llr_percentile_genome"] == pytest.approx((llr + 3) / 6 * 100, abs=0.02)
    text = scored_vcf_text(vcf, scored)
    assert f"GLM_CLLR={llr + 0.5:.4f}" in text and f"GLM_LLR_PCT={(llr + 3) / 6 * 100:.2f}" in text
    assert "##glm_explorer_llr_background=genome-wide: every possible SNV of tiny.fa" in text
