"""glm_core.variants: scoring VCF alleles and regions, percentiles, and a scientific check of
the bundled model (VCF reading and writing: tests/test_vcf.py; aliases: tests/test_chrom_names.py).

tests/data/variants.vcf is hand-made on the embedded U. maydis genome. um06164 (chr22,
+ strand, CDS from chr22:69,124) reads ...TAC TAC TAC CAA GGC... from chr22:71,239, so:

* chr22:71,241 C>A turns TAC (Tyr) into TAA: stop_gained;
* chr22:71,248 C>T,G (multi-allelic) turns CAA (Gln) into TAA (stop_gained) and GAA (Glu, missense);
* ``22``:71,253 C>T turns GGC into GGT, both Gly: synonymous, with ``22`` standing for chr22;
* chr22:71,250 A>AT is an insertion; chr22:71,263 has REF A where the genome has T;
* ``chrZZ`` is not a chromosome of the genome; chr22:71,265 G><DEL> is a symbolic allele;
* ``1``:2,632 A>G hits the A of the ATG of um10944 (chr01): start_lost, with ``1`` for chr01.

Format tests use a tiny randomly initialised GPN (fast, biologically meaningless). The last
tests use the bundled model on 39 positions of the held-out chromosome chr22.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core import variants
from glm_core.scoring import site_probabilities
from glm_core.vcf import read_vcf, vcf_alleles

DATA = Path(__file__).resolve().parent / "data"
VCF = DATA / "variants.vcf"
# Expected outcome of each allele of variants.vcf: (id, alt, status, consequence, gene, genome chrom).
EXPECTED = [
    ("stop_gained", "A", "scored", "stop_gained", "um06164", "chr22"),
    ("multi_allelic", "T", "scored", "stop_gained", "um06164", "chr22"),
    ("multi_allelic", "G", "scored", "missense", "um06164", "chr22"),
    ("synonymous_alias", "T", "scored", "synonymous", "um06164", "chr22"),
    ("insertion", "AT", "indel", None, None, "chr22"),
    ("ref_mismatch", "G", "ref_mismatch", None, None, "chr22"),
    ("unknown_chrom", "G", "unknown_chromosome", None, None, None),
    ("deletion_sv", "<DEL>", "symbolic", None, None, "chr22"),
    ("start_lost_alias", "G", "scored", "start_lost", "um10944", "chr01"),
]


@pytest.fixture(scope="module")
def scored(tiny_gpn, embedded_genome, embedded_annotation):
    return variants.score_vcf(tiny_gpn, embedded_genome, embedded_annotation, read_vcf(VCF))


# --------------------------------------------------------------------------- outcomes


def test_every_allele_of_the_hand_made_vcf_gets_its_outcome(scored):
    got = list(
        zip(
            scored["id"],
            scored["alt"],
            scored["status"],
            scored["consequence"].astype(object),
            scored["gene"].astype(object),
            scored["genome_chrom"],
        )
    )
    got = [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in row) for row in got]
    assert got == EXPECTED
    assert scored["pos"].tolist()[:2] == [71_240, 71_247]  # 0-based: POS - 1
    scored_rows = scored["status"] == "scored"
    assert scored.loc[scored_rows, "llr"].notna().all() and scored.loc[~scored_rows, "llr"].isna().all()
    assert (scored.loc[~scored_rows, "reason"].str.len() > 0).all()
    assert "genome's T at chr22:71,263" in scored.set_index("id").at["ref_mismatch", "reason"]
    mismatch = scored.set_index("id").loc["multi_allelic"]
    assert mismatch["ref_codon"].tolist() == ["CAA", "CAA"] and mismatch["alt_aa"].tolist() == ["*", "E"]


def test_llr_is_log_ratio_of_the_probabilities_and_percentiles_are_local(scored):
    done = scored[scored["status"] == "scored"]
    np.testing.assert_allclose(done["llr"], np.log(done["p_alt"]) - np.log(done["p_ref"]), rtol=1e-5)
    assert done["llr_percentile"].between(0, 100).all()
    # Two alleles at one position share one prediction.
    multi = done[done["id"] == "multi_allelic"]
    assert multi["p_ref"].nunique() == 1


def test_vcf_scores_equal_the_region_scan_of_the_same_positions(tiny_gpn, embedded_genome, embedded_annotation, scored):
    start, end = 71_238, 71_256  # chr22, covers the first three records
    probabilities = site_probabilities(tiny_gpn, embedded_genome, "chr22", start, end)
    scan = variants.region_snvs(embedded_genome, embedded_annotation, "chr22", start, end, probabilities)
    merged = scored[scored["status"] == "scored"].merge(
        scan, left_on=["genome_chrom", "pos", "alt"], right_on=["chrom", "pos", "alt"], suffixes=("", "_scan")
    )
    assert len(merged) == 4  # both alleles of the multi-allelic record, the stop and the synonymous SNV
    np.testing.assert_allclose(merged["llr"], merged["llr_scan"], rtol=1e-5, atol=1e-6)
    assert (merged["consequence"].astype(str) == merged["consequence_scan"].astype(str)).all()


def test_scores_do_not_depend_on_batch_size(tiny_gpn, embedded_genome, embedded_annotation, scored):
    again = variants.score_vcf(tiny_gpn, embedded_genome, embedded_annotation, read_vcf(VCF), batch_size=1)
    np.testing.assert_allclose(again["llr"], scored["llr"], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- scored TSV


def test_scored_tsv_is_one_row_per_allele_with_one_based_positions(scored):
    table = pd.read_csv(io.StringIO(variants.scored_tsv(scored)), sep="\t")
    assert len(table) == 9
    assert table["pos"].tolist()[:2] == [71_241, 71_248]
    assert table["line"].tolist()[:3] == [8, 9, 9]
    assert table.loc[table["status"] == "unknown_chromosome", "chrom"].tolist() == ["chrZZ"]


def test_every_kind_of_unscorable_allele_is_named(embedded_genome):
    """chr22:71,239-71,241 reads TAC; chr22 is 1-based positions 1..len."""
    length = embedded_genome.chrom_sizes["chr22"]
    text = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"chr22\t{pos}\t{name}\t{ref}\t{alt}\t.\t.\t.\n"
        for pos, name, ref, alt in [
            (71_239, "no_alt", "T", "."),
            (71_239, "spanning_deletion", "T", "*"),
            (71_239, "breakend", "T", "T[chr21:100["),
            (71_239, "mnv", "TA", "CG"),
            (71_239, "non_acgt", "T", "N"),
            (71_239, "alt_equals_ref", "T", "T"),
            (71_239, "lower_case_snv", "t", "c"),
            (length + 1, "outside_chromosome", "A", "G"),
            (0, "pos_zero", "A", "G"),
        ]
    )
    status = variants.variant_status(embedded_genome, vcf_alleles(read_vcf(text.encode())))
    expected = [
        "no_alt",
        "spanning_deletion",
        "symbolic",
        "mnv",
        "non_acgt",
        "alt_equals_ref",
        "scored",
        "outside_chromosome",
        "outside_chromosome",
    ]
    assert status["status"].tolist() == expected
    assert set(expected) <= set(variants.STATUSES)


# --------------------------------------------------------------------------- percentiles


def test_percentile_is_the_share_of_the_background_at_or_below():
    background = np.array([-3.0, -2.0, -1.0, 0.0, np.nan])
    np.testing.assert_allclose(variants.llr_percentile([-2.0, -5.0, 1.0, np.nan], background), [50, 0, 100, np.nan])


def test_genome_background_adds_a_column(tiny_gpn, embedded_genome, tmp_path):
    np.save(tmp_path / "background.npy", np.linspace(-5, 1, 601))
    background = variants.read_llr_background(tmp_path / "background.npy")
    alleles = vcf_alleles(read_vcf(VCF)).iloc[:1]
    table = variants.score_variants(tiny_gpn, embedded_genome, None, alleles, background=background)
    llr = table["llr"].iloc[0]
    assert table["llr_percentile_genome"].iloc[0] == pytest.approx((np.linspace(-5, 1, 601) <= llr).mean() * 100)
    assert table["consequence"].isna().all()  # no annotation given


# --------------------------------------------------------------------------- the bundled model


@pytest.fixture(scope="module")
def bundled_model():
    from glm_core.models import BUNDLED_MLM, load_masked_lm

    return load_masked_lm(BUNDLED_MLM, device="cpu")


def test_stop_gained_snvs_score_below_synonymous_ones_on_held_out_cds(
    bundled_model, embedded_genome, embedded_annotation
):
    """chr22:71,239-71,274 (held out from training) is the 36-bp in-frame CDS stretch of um06164
    with the most stop-gained SNVs among 80 held-out genes (TAC TAC TAC CAA ... TGG CAG TGG TAT):
    15 stop-gained, 18 synonymous. Over 36-bp windows with at least four stop-gained SNVs, 99.6 %
    had the lower mean LLR for stop-gained (measured on a GPU over the same 80 genes)."""
    probabilities = site_probabilities(bundled_model, embedded_genome, "chr22", 71_238, 71_274)
    snvs = variants.region_snvs(embedded_genome, embedded_annotation, "chr22", 71_238, 71_274, probabilities)
    means = snvs.groupby(snvs["consequence"].astype(str))["llr"].agg(["mean", "size"])
    assert means.at["stop_gained", "size"] == 15 and means.at["synonymous", "size"] == 18
    assert means.at["stop_gained", "mean"] < means.at["synonymous", "mean"] - 1.0
    summary = variants.consequence_llr_summary(snvs)
    assert summary["consequence"].iloc[0] == "stop_gained"  # most severe first
    assert set(snvs["codon_position"].dropna().astype(int)) == {1, 2, 3}


def test_start_codon_of_a_held_out_gene_is_predicted(bundled_model, embedded_genome):
    """The ATG of um06164 (chr22:69,124-69,126, + strand). 74 % of 78 held-out start codons
    have P(ref) > 0.25 at all three bases under this model (measured on a GPU)."""
    probabilities = site_probabilities(bundled_model, embedded_genome, "chr22", 69_123, 69_126)
    assert embedded_genome.fetch("chr22", 69_123, 69_126) == "ATG"
    p_ref = probabilities[np.arange(3), [0, 3, 2]]  # A, T, G
    assert (p_ref > 0.25).all(), p_ref
