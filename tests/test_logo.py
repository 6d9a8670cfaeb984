"""glm_core.logo: position tables, candidate motifs and logomaker figures (files: tests/test_tracks.py).

Facts checked: letter heights are probability x information content and sum to the IC;
the minus-strand table is the plus-strand one reversed and complemented (same IC, the
reverse-complement reference); candidate motifs are exactly the maximal runs of
IC >= threshold of at least the minimum length, on a synthetic IC profile; drawn glyphs
have the heights asked for. Model scores come from a tiny randomly initialised GPN (fast; the numbers mean
nothing biologically), so nothing here depends on the bundled model.
"""

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from glm_core import logo
from glm_core.genome import reverse_complement
from glm_core.scoring import site_probabilities

ROOT = Path(__file__).resolve().parent.parent
CHROM, START, END = "chr22", 69_113, 69_143  # 30 bp around the start codon of um06164 (+)


@pytest.fixture(scope="module")
def plus_and_minus(tiny_gpn, embedded_genome):
    plus = site_probabilities(tiny_gpn, embedded_genome, CHROM, START, END, "+")
    minus = site_probabilities(tiny_gpn, embedded_genome, CHROM, START, END, "-")
    return (
        logo.position_table(embedded_genome, CHROM, START, END, "+", plus, with_llr=True),
        logo.position_table(embedded_genome, CHROM, START, END, "-", minus, with_llr=True),
    )


def synthetic_table(ic: list[float], strand: str = "+", start: int = 100) -> pd.DataFrame:
    """A position table whose top base is A with probability p, chosen to give each IC."""
    rows = []
    for value in ic:
        # Bisect the probability of A (the rest split evenly) that gives this IC.
        low, high = 0.25, 1.0
        for _ in range(60):
            p = (low + high) / 2
            q = (1 - p) / 3
            entropy = -(p * np.log2(p) + 3 * q * np.log2(q)) if q > 0 else 0.0
            low, high = (p, high) if 2 - entropy < value else (low, p)
        rows.append([p, q, q, q])
    probabilities = np.array(rows)
    n = len(ic)
    entropy = -(probabilities * np.log2(probabilities)).sum(axis=1)
    return pd.DataFrame(
        {
            "chrom": "chrS",
            "pos": np.arange(start, start + n) if strand == "+" else np.arange(start + n - 1, start - 1, -1),
            "strand": strand,
            "ref": ["A"] * n,
            "pA": probabilities[:, 0],
            "pC": probabilities[:, 1],
            "pG": probabilities[:, 2],
            "pT": probabilities[:, 3],
            "p_ref": probabilities[:, 0],
            "entropy": entropy,
            "ic": 2 - entropy,
        }
    )


# --------------------------------------------------------------------------- tables


def test_minus_strand_table_is_the_plus_table_reverse_complemented(plus_and_minus, embedded_genome):
    plus, minus = plus_and_minus
    assert "".join(plus["ref"]) == embedded_genome.fetch(CHROM, START, END).upper()
    assert "".join(minus["ref"]) == reverse_complement(embedded_genome.fetch(CHROM, START, END)).upper()
    assert minus["pos"].tolist() == list(range(END - 1, START - 1, -1))  # 5'->3' on the minus strand
    flipped = minus.iloc[::-1].reset_index(drop=True)
    np.testing.assert_allclose(flipped[["pA", "pC", "pG", "pT"]].to_numpy(), plus[["pT", "pG", "pC", "pA"]].to_numpy())
    np.testing.assert_allclose(flipped["ic"], plus["ic"], atol=1e-6)
    np.testing.assert_allclose(flipped["p_ref"], plus["p_ref"])
    np.testing.assert_allclose(flipped["llr_mean"], plus["llr_mean"], atol=1e-12)


def test_letter_heights_are_probability_times_information(plus_and_minus):
    plus, _ = plus_and_minus
    heights = logo.letter_heights(plus)
    np.testing.assert_allclose(heights.sum(axis=1), plus["ic"], rtol=1e-6)  # float32 probabilities
    np.testing.assert_allclose(heights["A"], plus["pA"] * plus["ic"])
    assert ((plus["ic"] >= 0) & (plus["ic"] <= 2)).all()


def test_llr_columns_are_zero_at_the_reference(plus_and_minus):
    plus, _ = plus_and_minus
    for base in "ACGT":
        at_reference = plus["ref"] == base
        assert (plus.loc[at_reference, f"llr_{base}"] == 0).all()
    expected = np.log(plus["pC"]) - np.log(plus["p_ref"])
    np.testing.assert_allclose(plus["llr_C"], expected, rtol=1e-5)


def test_position_table_refuses_probabilities_of_another_shape(embedded_genome):
    with pytest.raises(ValueError, match=r"needs \(30, 4\)"):
        logo.position_table(embedded_genome, CHROM, START, END, "+", np.full((29, 4), 0.25))


# --------------------------------------------------------------------------- motifs


def test_high_ic_runs_on_a_synthetic_profile():
    #           0    1    2    3    4    5    6    7    8    9   10   11   12   13
    ic = [0.2, 1.2, 1.0, 1.5, 1.1, 0.9, 1.3, 1.4, 1.6, 0.1, 1.9, 1.8, 1.7, 1.2]
    # Runs with IC >= 1.0: [1, 5) (1.0 counts), [6, 9), [10, 14) (runs to the end).
    np.testing.assert_array_equal(logo.high_ic_runs(ic, 1.0, 4), [[1, 5], [10, 14]])
    np.testing.assert_array_equal(logo.high_ic_runs(ic, 1.0, 3), [[1, 5], [6, 9], [10, 14]])
    np.testing.assert_array_equal(logo.high_ic_runs(ic, 1.25, 2), [[6, 9], [10, 13]])
    assert logo.high_ic_runs(ic, 2.0, 1).shape == (0, 2)
    np.testing.assert_array_equal(logo.high_ic_runs([1.5, np.nan, 1.5, 1.5], 1.0, 2), [[2, 4]])  # NaN breaks a run
    with pytest.raises(ValueError, match="min_length must be at least 1"):
        logo.high_ic_runs(ic, 1.0, 0)


def test_candidate_motifs_report_genomic_intervals_and_consensus():
    ic = [0.1, 1.2, 0.3, 1.4, 1.5, 0.5, 1.6, 0.2]
    table = synthetic_table(ic, "+", start=100)
    # Row 5: A and C tie at 0.45, so the consensus base is uncertain (IC 0.53 bits).
    table.loc[5, ["pA", "pC", "pG", "pT"]] = [0.45, 0.45, 0.05, 0.05]
    table.loc[5, "entropy"] = -(2 * 0.45 * np.log2(0.45) + 2 * 0.05 * np.log2(0.05))
    table.loc[5, "ic"] = 2 - table.loc[5, "entropy"]
    motifs = logo.candidate_motifs(table, min_ic=1.0, min_length=2)
    assert len(motifs) == 1
    motif = motifs.iloc[0]
    assert (motif["start"], motif["end"], motif["length"], motif["first"], motif["last"]) == (103, 105, 2, 3, 4)
    assert motif["consensus"] == "AA" and motif["reference"] == "AA"
    assert motif["mean_ic"] == pytest.approx(1.45, abs=1e-6)
    wide = logo.candidate_motifs(table, min_ic=0.4, min_length=4)
    assert wide["consensus"].tolist() == ["AAaA"]  # lower case where the top base has P < 0.5
    # On the minus strand rows run 5'->3' downwards in genomic position; intervals stay half-open.
    minus = logo.candidate_motifs(synthetic_table(ic, "-", start=100), min_ic=1.0, min_length=2)
    assert (minus["start"].iloc[0], minus["end"].iloc[0], minus["strand"].iloc[0]) == (103, 105, "-")


# --------------------------------------------------------------------------- figures


def test_drawn_glyph_heights_are_probability_times_ic():
    from matplotlib.figure import Figure

    table = synthetic_table([0.2, 1.9, 1.0])
    ax = Figure().add_subplot()
    drawn = logo.draw_logo(ax, table)
    heights = logo.letter_heights(table)
    for position in range(3):
        for base in "ACGT":
            glyph = drawn.glyph_df.loc[position, base]
            assert glyph.ceiling - glyph.floor == pytest.approx(heights.loc[position, base], abs=1e-9)
    for position in range(3):  # each stack is as tall as the position's IC
        top = max(drawn.glyph_df.loc[position, base].ceiling for base in "ACGT")
        assert top == pytest.approx(table.loc[position, "ic"], abs=1e-9)


def test_publication_figure_writes_png_and_svg(plus_and_minus, embedded_annotation):
    plus, _ = plus_and_minus
    features = embedded_annotation.region_features(CHROM, START, END)
    motifs = logo.candidate_motifs(plus, min_ic=0.0, min_length=3)  # the random model is never sure: take all
    figure = logo.publication_figure(plus, features, motifs)
    png = logo.figure_bytes(figure, "png", dpi=100)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = logo.figure_bytes(figure, "svg")
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "um06164 (+)" in svg.decode()  # the gene model is labelled
    assert logo.logo_png(plus)[:4] == b"\x89PNG"


def test_drawing_more_than_the_render_limit_is_refused():
    table = synthetic_table([0.5] * (logo.MAX_RENDER_BP + 1))
    with pytest.raises(ValueError, match=f"at most {logo.MAX_RENDER_BP} bp: zoom into a sub-range"):
        logo.logo_png(table)


def test_logo_and_variant_modules_do_not_import_streamlit():
    code = "import sys, glm_core.logo, glm_core.variants; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
