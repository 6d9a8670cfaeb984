"""glm_core.tracks: TSV, bedGraph and bigWig files of position tables.

Facts checked: the TSV is 1-based and sorted by genomic position whatever the strand; the
bedGraph is 0-based half-open, one base a line, and the same for either strand (IC does not
depend on it); the values of a bedGraph and of a bigWig of the same table read back (the
bigWig with pyBigWig) equal the table's; a failed bigWig write leaves the previous file
byte for byte. Model scores come from a tiny randomly initialised GPN (fast; the numbers
mean nothing biologically).
"""

import hashlib
import io

import numpy as np
import pandas as pd
import pytest

from glm_core import logo, tracks
from glm_core.errors import InputError
from glm_core.scoring import site_probabilities

CHROM, START, END = "chr22", 69_113, 69_143  # 30 bp around the start codon of um06164 (+)


@pytest.fixture(scope="module")
def plus_and_minus(tiny_gpn, embedded_genome):
    plus = site_probabilities(tiny_gpn, embedded_genome, CHROM, START, END, "+")
    minus = site_probabilities(tiny_gpn, embedded_genome, CHROM, START, END, "-")
    return (
        logo.position_table(embedded_genome, CHROM, START, END, "+", plus, with_llr=True),
        logo.position_table(embedded_genome, CHROM, START, END, "-", minus, with_llr=True),
    )


def bedgraph_rows(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep="\t", skiprows=1, header=None, names=["chrom", "start", "end", "value"])


def test_tsv_is_one_based_and_sorted_by_position(plus_and_minus):
    _, minus = plus_and_minus
    table = pd.read_csv(io.StringIO(tracks.position_tsv(minus)), sep="\t")
    assert list(table.columns[:9]) == ["chrom", "pos", "ref", "pA", "pC", "pG", "pT", "entropy", "ic"]
    assert table["pos"].tolist() == list(range(START + 1, END + 1))
    np.testing.assert_allclose(table[["pA", "pC", "pG", "pT"]].sum(axis=1), 1.0, atol=1e-5)
    assert set(table["strand"]) == {"-"}


def test_bedgraph_is_zero_based_half_open_and_strand_independent(plus_and_minus):
    plus, minus = plus_and_minus
    text = tracks.bedgraph_text(plus)
    lines = text.splitlines()
    assert lines[0].startswith("track type=bedGraph")
    rows = pd.read_csv(io.StringIO("\n".join(lines[1:])), sep="\t", header=None, names=["chrom", "start", "end", "ic"])
    assert rows["start"].tolist() == list(range(START, END)) and (rows["end"] - rows["start"] == 1).all()
    np.testing.assert_allclose(rows["ic"], plus["ic"], rtol=1e-5, atol=1e-9)
    # IC does not depend on the strand the bases are read on.
    minus_rows = pd.read_csv(io.StringIO(tracks.bedgraph_text(minus)), sep="\t", skiprows=1, header=None)
    np.testing.assert_array_equal(minus_rows[1], rows["start"])
    np.testing.assert_allclose(minus_rows[3], rows["ic"], atol=1e-6)


def test_bigwig_round_trip(plus_and_minus, tmp_path, embedded_genome):
    import pyBigWig

    plus, _ = plus_and_minus
    path = tracks.write_position_track(plus, tmp_path / "ic.bw", embedded_genome.chrom_sizes, value="p_ref")
    with pyBigWig.open(str(path)) as track:
        assert track.chroms(CHROM) == embedded_genome.chrom_sizes[CHROM]
        np.testing.assert_allclose(track.values(CHROM, START, END), plus["p_ref"], rtol=1e-6)


@pytest.mark.parametrize("value", tracks.TRACK_VALUES)
def test_bedgraph_and_bigwig_files_read_back_the_same_values(plus_and_minus, tmp_path, embedded_genome, value):
    """Written through write_position_track, both files give back the table's values on the
    same one-base intervals; the bigWig's intervals read with pyBigWig."""
    import pyBigWig

    _, minus = plus_and_minus  # minus-strand rows run backwards; both files are sorted
    graph = tracks.write_position_track(minus, tmp_path / f"{value}.bedgraph", embedded_genome.chrom_sizes, value)
    wig = tracks.write_position_track(minus, tmp_path / f"{value}.bw", embedded_genome.chrom_sizes, value)
    rows = bedgraph_rows(graph.read_text())
    expected = minus.sort_values("pos")
    assert rows["start"].tolist() == expected["pos"].tolist() and (rows["chrom"] == CHROM).all()
    np.testing.assert_allclose(rows["value"], expected[value], rtol=1e-5, atol=1e-9)
    with pyBigWig.open(str(wig)) as track:
        intervals = np.array(track.intervals(CHROM))
        assert track.chroms() == embedded_genome.chrom_sizes
    np.testing.assert_array_equal(intervals[:, 0], rows["start"])
    np.testing.assert_array_equal(intervals[:, 1], rows["end"])
    np.testing.assert_allclose(intervals[:, 2], expected[value], rtol=1e-6)  # bigWig stores float32
    np.testing.assert_allclose(intervals[:, 2], rows["value"], rtol=1e-5, atol=1e-9)


def test_tsv_file_reads_back_as_the_table(plus_and_minus, tmp_path):
    plus, _ = plus_and_minus
    path = tracks.write_position_track(plus, tmp_path / "plus.tsv", {CHROM: 10**6})
    back = pd.read_csv(path, sep="\t")
    assert path.read_text() == tracks.position_tsv(plus)
    assert (back["pos"] - 1).tolist() == plus["pos"].tolist()
    np.testing.assert_allclose(
        back[["pA", "pC", "pG", "pT", "llr_mean"]], plus[["pA", "pC", "pG", "pT", "llr_mean"]], rtol=1e-5, atol=1e-9
    )


def test_unknown_track_format_or_value_is_refused(plus_and_minus, tmp_path):
    plus, _ = plus_and_minus
    with pytest.raises(InputError, match=r"extension \.bed; use one of"):
        tracks.write_position_track(plus, tmp_path / "x.bed", {CHROM: 1})
    with pytest.raises(InputError, match="a track can carry one of"):
        tracks.bedgraph_text(plus, value="pA")
    assert tracks.track_format("A.BigWig") == "bigwig" and tracks.track_format("a.bg") == "bedgraph"


def test_failed_bigwig_write_keeps_the_previous_file(plus_and_minus, tmp_path, embedded_genome):
    """chr22 missing from the header makes pyBigWig refuse the entries mid-write."""
    plus, _ = plus_and_minus
    path = tracks.write_position_track(plus, tmp_path / "ic.bw", embedded_genome.chrom_sizes)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(RuntimeError):
        tracks.write_position_track(plus, path, {"chr01": embedded_genome.chrom_sizes["chr01"]})
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ic.bw"]  # no temporary file left
