"""`glm-explore dependency` and `glm-explore scan --compare-model`.

Facts checked: the TSV matrix the CLI writes for the 23 bp around the start codon of um06164
is the map glm_core computes for the same model and region (1-based labels, NaN diagonal),
.npz and .png are written too; a region over the CPU limit ends with the limit named and exit
status 2; ``scan --compare-model`` writes the joined table whose model-1 LLRs are the scan's
own. A k-mer model (k=2, fitted on chr22) and the tiny random GPN keep this fast.
"""

import numpy as np
import pandas as pd
import pytest

from glm_core.cli import main
from glm_core.dependency import dependency_map
from glm_core.kmer import KmerModel

REGION = "chr22:69,114-69,136"  # 1-based inclusive: [69113, 69136) 0-based
CHROM, START, END = "chr22", 69_113, 69_136


@pytest.fixture(scope="module")
def kmer_path(embedded_genome, tmp_path_factory):
    model = KmerModel.fit(embedded_genome, ["chr22"], k=2)
    return model.save(tmp_path_factory.mktemp("kmer") / "k2.npz")


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def test_dependency_tsv_is_the_map_of_glm_core(kmer_path, embedded_genome, tmp_path, capsys):
    out = tmp_path / "map.tsv"
    assert run_cli("dependency", REGION, "--model", kmer_path, "--out", out) == 0
    captured = capsys.readouterr()
    assert "69 variant sequences, estimated" in captured.err
    assert "wrote the 23 x 23 dependency map of chr22:69,114-69,136 (+)" in captured.out
    table = pd.read_csv(out, sep="\t", index_col=0)
    reference = embedded_genome.fetch(CHROM, START, END).upper()
    assert table.index.tolist() == [f"{START + 1 + i}{base}" for i, base in enumerate(reference)]
    expected = dependency_map(KmerModel.load(kmer_path), embedded_genome, CHROM, START, END).matrix
    np.testing.assert_allclose(table.to_numpy(), expected, rtol=1e-5)
    assert np.isnan(np.diag(table.to_numpy())).all()
    # k = 2: a base moves predictions at most 2 bases away.
    assert np.nanmax(np.abs(np.triu(table.to_numpy(), 3))) == 0

    assert run_cli("dependency", REGION, "--model", kmer_path, "--out", tmp_path / "map.npz") == 0
    with np.load(tmp_path / "map.npz") as saved:
        np.testing.assert_array_equal(saved["matrix"], expected)
    assert run_cli("dependency", REGION, "--model", kmer_path, "--strand", "-", "--out", tmp_path / "m.png") == 0
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dependency_over_the_cpu_limit_is_refused(kmer_path, tmp_path, capsys):
    assert run_cli("dependency", "chr22:69,001-69,201", "--model", kmer_path, "--out", tmp_path / "m.tsv") == 2
    error = capsys.readouterr().err
    assert "201 bp; a dependency map covers at most 200 bp on a CPU" in error
    assert "estimated" not in error  # refused before any probe was timed
    assert not (tmp_path / "m.tsv").exists()


def test_scan_compare_model_writes_the_joined_table(tiny_gpn_dir, kmer_path, tmp_path, capsys):
    out = tmp_path / "scan.tsv"
    assert (
        run_cli("scan", REGION, "--model", tiny_gpn_dir, "--device", "cpu", "--out", out, "--compare-model", kmer_path)
        == 0
    )
    assert "compared between" in capsys.readouterr().out
    joined = pd.read_csv(tmp_path / "scan.compare.tsv", sep="\t")
    assert len(joined) == 3 * (END - START) and joined["pos"].between(START + 1, END).all()
    scan = pd.read_csv(out, sep="\t").set_index("pos")
    for row in joined.head(6).itertuples():
        assert row.llr_1 == pytest.approx(scan.loc[row.pos, f"llr_{row.alt}"], rel=1e-4, abs=1e-6)
    assert (joined["kl_bits"] >= 0).all() and joined["delta_p_ref"].between(-1, 1).all()
