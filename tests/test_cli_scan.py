"""`glm-explore scan` and `glm-explore score-vcf`: the same numbers as the pages' core functions.

Facts checked: the bedGraph the CLI writes for a 100-bp region is, line for line, the one
the logo page offers (glm_core.tracks.bedgraph_text of the same site_probabilities); TSV and
bigWig carry the same values; score-vcf writes a bgzip VCF and a TSV beside it with the
outcome of every record; bad input ends with one `error:` line and exit status 2. A tiny
randomly initialised GPN keeps this fast.
"""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core import logo, variants
from glm_core.cli import main
from glm_core.scoring import site_probabilities
from glm_core.tracks import bedgraph_text

DATA = Path(__file__).resolve().parent / "data"
REGION = "chr22:69,094-69,193"  # 100 bp, 1-based inclusive: [69093, 69193) 0-based
CHROM, START, END = "chr22", 69_093, 69_193


@pytest.fixture(scope="module")
def page_table(tiny_gpn_dir, embedded_genome):
    """What the logo page computes for the region: site_probabilities -> position_table."""
    from glm_core.models import load_masked_lm

    model = load_masked_lm(tiny_gpn_dir, device="cpu")
    probabilities = site_probabilities(model, embedded_genome, CHROM, START, END, "+")
    return logo.position_table(embedded_genome, CHROM, START, END, "+", probabilities, with_llr=True)


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def test_scan_bedgraph_matches_the_page_download(tiny_gpn_dir, page_table, tmp_path, capsys):
    out = tmp_path / "ic.bedgraph"
    assert run_cli("scan", REGION, "--model", tiny_gpn_dir, "--device", "cpu", "--out", out) == 0
    assert "wrote 100 positions of chr22:69,094-69,193 (+)" in capsys.readouterr().out
    assert out.read_text() == bedgraph_text(page_table, "ic")
    rows = pd.read_csv(out, sep="\t", skiprows=1, header=None, names=["chrom", "start", "end", "ic"])
    assert (rows["start"].iloc[0], rows["end"].iloc[-1], len(rows)) == (START, END, 100)  # 0-based half-open


def test_scan_tsv_and_bigwig_carry_the_same_numbers(tiny_gpn_dir, page_table, tmp_path):
    import pyBigWig

    assert run_cli("scan", REGION, "--model", tiny_gpn_dir, "--device", "cpu", "--out", tmp_path / "s.tsv") == 0
    table = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert table["pos"].tolist() == list(range(START + 1, END + 1))  # 1-based
    np.testing.assert_allclose(table["llr_mean"], page_table["llr_mean"], rtol=1e-5, atol=1e-7)
    assert {"pA", "pC", "pG", "pT", "entropy", "ic", "llr_A", "llr_T"} <= set(table.columns)
    bigwig = tmp_path / "llr.bw"
    assert (
        run_cli("scan", REGION, "--model", tiny_gpn_dir, "--device", "cpu", "--value", "llr_mean", "--out", bigwig) == 0
    )
    with pyBigWig.open(str(bigwig)) as track:
        np.testing.assert_allclose(track.values(CHROM, START, END), page_table["llr_mean"], rtol=1e-5, atol=1e-7)


def test_scan_on_the_minus_strand_reads_complement_bases(tiny_gpn_dir, page_table, tmp_path):
    assert (
        run_cli(
            "scan",
            "chr22:69,124-69,126",
            "--strand",
            "-",
            "--model",
            tiny_gpn_dir,
            "--device",
            "cpu",
            "--out",
            tmp_path / "atg.tsv",
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "atg.tsv", sep="\t")
    assert "".join(table["ref"]) == "TAC"  # the ATG of um06164, complemented, in genomic order
    assert set(table["strand"]) == {"-"}


@pytest.mark.parametrize("query", ["um06164", "mRNA:um06164"])
def test_scan_takes_a_gene_and_its_start_codon(tiny_gpn_dir, tmp_path, capsys, query):
    # The ATG of um06164 is chr22:69,124-69,126 (+); a gene name reads the same grammar as the pages.
    out = tmp_path / "atg.tsv"
    assert (
        run_cli(
            "scan",
            query,
            "--part",
            "start-codon",
            "--flank",
            "2",
            "--model",
            tiny_gpn_dir,
            "--device",
            "cpu",
            "--out",
            out,
        )
        == 0
    )
    assert "wrote 7 positions of chr22:69,122-69,128 (+)" in capsys.readouterr().out
    table = pd.read_csv(out, sep="\t")
    assert table["pos"].tolist() == list(range(69_122, 69_129)) and "".join(table["ref"])[2:5] == "ATG"


def test_scan_of_a_whole_gene_and_an_alias(tiny_gpn_dir, tmp_path, capsys):
    assert run_cli("scan", "um10944", "--model", tiny_gpn_dir, "--device", "cpu", "--out", tmp_path / "g.bedgraph") == 0
    assert "wrote 1,395 positions of chr01:2,632-4,026 (+)" in capsys.readouterr().out
    alias = tmp_path / "a.tsv"
    assert run_cli("scan", "22 69124 69126", "--model", tiny_gpn_dir, "--device", "cpu", "--out", alias) == 0
    assert "wrote 3 positions of chr22:69,124-69,126 (+)" in capsys.readouterr().out


def test_score_vcf_writes_bgzip_vcf_and_tsv_beside(tiny_gpn_dir, tmp_path, capsys):
    out = tmp_path / "scored.vcf.gz"
    assert run_cli("score-vcf", DATA / "variants.vcf", "--model", tiny_gpn_dir, "--device", "cpu", "--out", out) == 0
    printed = capsys.readouterr()
    assert "5 scored, 1 indel, 1 ref_mismatch, 1 unknown_chromosome, 1 symbolic" in printed.out
    assert "chromosome 1: chr01" in printed.err and "chromosome chrZZ: not scored (unknown)" in printed.err
    text = gzip.decompress(out.read_bytes()).decode()
    records = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    assert len(records) == 9
    table = pd.read_csv(tmp_path / "scored.tsv", sep="\t")
    assert table["status"].value_counts()["scored"] == 5
    assert table.loc[table["id"] == "synonymous_alias", "consequence"].item() == "synonymous"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["scan", "chr22:1-10", "--out", "{tmp}/x.bed"], "cannot tell the format of"),
        (["scan", "chr99:1-10", "--out", "{tmp}/x.tsv"], "unknown chromosome 'chr99'"),
        (["scan", "chr22:10-1", "--out", "{tmp}/x.tsv"], "the end >= the start"),
        (["scan", "no_such_gene_xyz", "--out", "{tmp}/x.tsv"], "No transcript matches 'no_such_gene_xyz'"),
        (["score-vcf", "{tmp}/absent.vcf", "--out", "{tmp}/o.vcf"], "VCF file not found"),
        (["score-vcf", str(DATA / "variants.vcf"), "--out", "{tmp}/no/such/dir/o.vcf"], "does not exist"),
    ],
)
def test_bad_input_is_one_error_line(argv, message, tmp_path, capsys):
    assert run_cli(*[arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "error:" in error[0] and message in error[0]


def test_bad_vcf_text_names_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.vcf"
    bad.write_text("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\tten\t.\tA\tG\t.\t.\t.\n")
    assert run_cli("score-vcf", bad, "--out", tmp_path / "o.vcf") == 2
    assert f"{bad}, line 2: POS 'ten' is not a whole number" in capsys.readouterr().err


def test_background_file_from_a_scan_tsv(tiny_gpn_dir, tmp_path):
    assert run_cli("scan", REGION, "--model", tiny_gpn_dir, "--device", "cpu", "--out", tmp_path / "bg.tsv") == 0
    background = variants.read_llr_background(tmp_path / "bg.tsv")
    assert len(background) == 300  # three alternative alleles at each of 100 positions
    assert (
        run_cli(
            "score-vcf",
            DATA / "variants.vcf",
            "--model",
            tiny_gpn_dir,
            "--device",
            "cpu",
            "--background",
            tmp_path / "bg.tsv",
            "--out",
            tmp_path / "o.vcf",
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    assert table.loc[table["status"] == "scored", "llr_percentile_genome"].between(0, 100).all()
