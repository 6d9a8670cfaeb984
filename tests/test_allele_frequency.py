"""Allele frequency vs score: AF from INFO/AF or AC/AN, bins rare -> common, means and CIs."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toy_models import FixedRowModel  # noqa: E402

from glm_core.allele_frequency import AF_LABELS, allele_frequencies, frequency_summary  # noqa: E402
from glm_core.variants import score_vcf  # noqa: E402
from glm_core.vcf import read_vcf, vcf_alleles  # noqa: E402

ROW = np.array([0.1, 0.2, 0.3, 0.4])


def _vcf(tiny_genome, records):
    sequence = tiny_genome.fetch("chrT", 0, 420)
    lines = [
        "##fileformat=VCFv4.2",
        '##INFO=<ID=AF,Number=A,Type=Float,Description="AF">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for pos, alts, info in records:
        lines.append(f"chrT\t{pos + 1}\t.\t{sequence[pos]}\t{alts}\t.\t.\t{info}")
    return read_vcf(("\n".join(lines) + "\n").encode())


def test_frequencies_come_from_af_per_allele_or_from_ac_over_an(tiny_genome):
    vcf = _vcf(
        tiny_genome,
        [
            (10, "A,C" if tiny_genome.fetch("chrT", 10, 11) not in "AC" else "G,T", "AF=0.5,0.002"),
            (20, "N", "AC=3;AN=100"),
            (30, "N", "DP=4"),
        ],
    )
    assert allele_frequencies(vcf, vcf_alleles(vcf)).tolist()[:3] == [0.5, 0.002, 0.03]
    assert np.isnan(allele_frequencies(vcf, vcf_alleles(vcf))[3])


def test_summary_bins_rare_to_common_with_exact_means_and_normal_cis(tiny_genome, tiny_annotation):
    sequence = tiny_genome.fetch("chrT", 0, 420)
    records, expected = [], {}
    frequencies = [0.0005, 0.0005, 0.0005, 0.3, 0.3, 0.7]
    for i, af in enumerate(frequencies):
        pos = 200 + 7 * i
        ref = sequence[pos]
        alt = "T" if ref != "T" else "A"
        records.append((pos, alt, f"AF={af}"))
        expected.setdefault(af, []).append(np.log(ROW["ACGT".index(alt)] / ROW["ACGT".index(ref)]))
    vcf = _vcf(tiny_genome, records)
    scored = score_vcf(FixedRowModel(ROW), tiny_genome, tiny_annotation, vcf)
    summary = frequency_summary(scored, allele_frequencies(vcf, scored))
    llr = summary[summary["score"] == "llr"].set_index("af_bin")
    assert list(llr.index.astype(str)) == list(AF_LABELS)
    assert llr["n"].tolist() == [3, 0, 0, 0, 2, 1]
    rare = np.array(expected[0.0005])
    assert llr.loc["<0.1%", "mean"] == pytest.approx(rare.mean())
    half = 1.96 * rare.std(ddof=1) / np.sqrt(3)
    assert llr.loc["<0.1%", "ci_high"] - llr.loc["<0.1%", "mean"] == pytest.approx(half)
    assert llr.loc["20-50%", "mean"] == pytest.approx(np.mean(expected[0.3]))
    assert llr.loc[">=50%", "mean"] == pytest.approx(expected[0.7][0]) and np.isnan(llr.loc[">=50%", "ci_low"])
    assert np.isnan(llr.loc["1-5%", "mean"])
    assert set(summary["score"]) == {"llr"}  # no cllr without a neutral table


def test_score_vcf_writes_the_frequency_bins_beside_its_tsv(tmp_path, tiny_gpn_dir):
    import shutil

    import pandas as pd

    from glm_core.cli import main
    from glm_core.genome import Genome

    data = Path(__file__).parent / "data"
    shutil.copy(data / "tiny.fa", tmp_path / "tiny.fa")
    genome = Genome(tmp_path / "tiny.fa")
    vcf = _vcf(genome, [(100, "N", "AF=0.0002"), (150, "N", "AC=30;AN=100")])
    text = "\n".join([*vcf.meta, "\t".join(vcf.header)] + ["\t".join(r) for r in vcf.records]) + "\n"
    base = {100: genome.fetch("chrT", 100, 101), 150: genome.fetch("chrT", 150, 151)}
    text = text.replace(f"101\t.\t{base[100]}\tN", f"101\t.\t{base[100]}\t{'A' if base[100] != 'A' else 'C'}")
    text = text.replace(f"151\t.\t{base[150]}\tN", f"151\t.\t{base[150]}\t{'A' if base[150] != 'A' else 'C'}")
    (tmp_path / "in.vcf").write_text(text)
    assert (
        main(
            [
                "score-vcf",
                str(tmp_path / "in.vcf"),
                "--out",
                str(tmp_path / "out.vcf"),
                "--fasta",
                str(tmp_path / "tiny.fa"),
                "--annotation",
                str(data / "tiny.gff3"),
                "--model",
                str(tiny_gpn_dir),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    bins = pd.read_csv(tmp_path / "out.af_bins.tsv", sep="\t")
    assert bins.loc[bins["score"] == "llr", "n"].tolist() == [1, 0, 0, 0, 1, 0]
