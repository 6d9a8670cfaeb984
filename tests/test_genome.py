"""Facts about the embedded U. maydis genome and the conventions of glm_core.genome."""

import gzip
import random

import numpy as np
import pytest

from glm_core.genome import (
    EMBEDDED_FASTA,
    Genome,
    Region,
    format_region,
    nucleotide_codes,
    reverse_complement,
)


@pytest.fixture(scope="module")
def genome():
    return Genome(EMBEDDED_FASTA)


def random_fasta_text(names_and_lengths, seed=0, width=60):
    rng = random.Random(seed)
    lines = []
    for name, length in names_and_lengths:
        sequence = "".join(rng.choice("ACGT") for _ in range(length))
        lines.append(f">{name} test sequence")
        lines.extend(sequence[i : i + width] for i in range(0, length, width))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the embedded genome


def test_embedded_genome_has_36_sequences_and_19_7_mb(genome):
    assert len(genome.chrom_sizes) == 36
    assert genome.chrom_sizes["chr01"] == 2_476_500
    assert sum(genome.chrom_sizes.values()) == 19_702_792
    assert genome.chroms[0] == "chr01"


def test_embedded_genome_summary_counts_every_base(genome):
    summary = genome.summary()
    assert list(summary.columns) == ["chrom", "length", "gc", "n_count"]
    assert summary["length"].sum() == 19_702_792
    # U. maydis is GC-rich (about 54 % GC).
    chr01 = summary.set_index("chrom").loc["chr01"]
    assert 0.5 < chr01["gc"] < 0.6


def test_annotated_start_codon_reads_atg_on_both_strands(genome):
    # um10944 (+) starts at chr01:2,632 (1-based); um06480 (-) ends at chr01:2,078.
    assert genome.fetch("chr01", 2631, 2634).upper() == "ATG"
    assert genome.fetch("chr01", 2075, 2078, strand="-").upper() == "ATG"


def test_minus_strand_fetch_is_the_reverse_complement(genome):
    plus = genome.fetch("chr05", 100_000, 100_500)
    minus = genome.fetch("chr05", 100_000, 100_500, strand="-")
    assert minus == reverse_complement(plus)
    assert reverse_complement(minus) == plus
    assert len(minus) == 500


def test_fetch_region_uses_the_region_strand(genome):
    region = Region("chr02", 1000, 1020, "-")
    assert genome.fetch_region(region) == genome.fetch("chr02", 1000, 1020, "-")


# ---------------------------------------------------------------- sequences and codes


def test_reverse_complement_keeps_case_and_iupac_codes():
    assert reverse_complement("ACGTacgtN") == "NacgtACGT"
    assert reverse_complement("RYKMSWBDHV") == "BDHVWSKMRY"
    assert reverse_complement("") == ""


def test_nucleotide_codes_map_acgt_to_0_3_and_others_to_minus_1():
    codes = nucleotide_codes("ACGTacgtNRY-")
    np.testing.assert_array_equal(codes, [0, 1, 2, 3, 0, 1, 2, 3, -1, -1, -1, -1])
    assert codes.dtype == np.int8


# ---------------------------------------------------------------- region strings


def test_format_region_writes_1_based_inclusive_with_commas():
    region = Region("chr07", 12_344, 67_890)
    assert len(region) == 55_546
    assert format_region(region.chrom, region.start, region.end) == "chr07:12,345-67,890"
    assert str(region) == "chr07:12,345-67,890"


def test_region_rejects_empty_intervals_and_bad_strands():
    with pytest.raises(ValueError, match="0 <= start < end"):
        Region("chr01", 10, 10)
    with pytest.raises(ValueError, match="strand must be"):
        Region("chr01", 0, 10, strand="?")


# ---------------------------------------------------------------- errors


def test_unknown_chromosome_lists_the_genome_s_chromosomes(genome):
    with pytest.raises(KeyError, match=r"unknown chromosome 'chr99'; this genome has 36: chr01, chr02"):
        genome.fetch("chr99", 0, 10)


def test_out_of_range_names_the_valid_range(genome):
    with pytest.raises(ValueError, match=r"chr01:2476401-2476600 is outside chr01, whose valid range is 1-2,476,500"):
        genome.fetch("chr01", 2_476_400, 2_476_600)
    with pytest.raises(ValueError, match="valid range is 1-2,476,500"):
        genome.fetch("chr01", -5, 10)


def test_missing_fasta_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.fa"):
        Genome(tmp_path / "nothing.fa")


def test_bad_character_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">a\nACGTACGTAC\nACGTJCGTAC\nACG\n")
    with pytest.raises(ValueError, match=r"bad\.fa, line 3: characters 'J' are not nucleotides"):
        Genome(path)


def test_file_without_header_is_rejected_at_line_1(tmp_path):
    path = tmp_path / "notes.fa"
    path.write_text("hello\nACGT\n")
    with pytest.raises(ValueError, match=r"notes\.fa, line 1: a FASTA file must start with '>name'"):
        Genome(path)


def test_fasta_cut_after_a_header_names_the_file_and_line(tmp_path):
    path = tmp_path / "cut.fa"
    path.write_text(">a\nACGTACGTAC\nACGT\n>b\n")
    with pytest.raises(ValueError, match=r"cut\.fa, line 4: sequence 'b' has no bases.*truncated"):
        Genome(path)


def test_truncated_gzip_fasta_names_the_file_and_line(tmp_path):
    text = random_fasta_text([("chrA", 120_000)])
    data = gzip.compress(text.encode())
    path = tmp_path / "truncated.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.fa\.gz, line \d[\d,]*: the compressed data break off.*truncated"):
        Genome(path, cache_dir=tmp_path / "cache")
    # Nothing half-written is left to be mistaken for the genome next time.
    assert not any((tmp_path / "cache").iterdir())


def test_ragged_lines_name_the_file(tmp_path):
    path = tmp_path / "ragged.fa"
    path.write_text(">a\nACGTACGTAC\nACGTAC\nACGTACGTAC\n")
    with pytest.raises(ValueError, match=r"ragged\.fa, line 3: not a readable FASTA file.*line 4 continues"):
        Genome(path)


# ---------------------------------------------------------------- compression


def test_plain_gzip_fasta_reads_the_same_as_plain_text(tmp_path):
    text = random_fasta_text([("chrA", 1_000), ("chrB", 257)], seed=3)
    plain_path = tmp_path / "plain.fa"
    plain_path.write_text(text)
    gzip_path = tmp_path / "packed.fa.gz"
    with gzip.open(gzip_path, "wt") as handle:
        handle.write(text)
    plain = Genome(plain_path)
    packed = Genome(gzip_path, cache_dir=tmp_path / "cache")
    assert packed.chrom_sizes == plain.chrom_sizes == {"chrA": 1_000, "chrB": 257}
    assert packed.fetch("chrA", 0, 1_000) == plain.fetch("chrA", 0, 1_000)
    assert packed.fetch("chrB", 200, 257, "-") == plain.fetch("chrB", 200, 257, "-")
    assert packed.fetch("chrA", 0, 60) == text.splitlines()[1]


def test_soft_mask_marks_lower_case_bases(tmp_path):
    path = tmp_path / "masked.fa"
    path.write_text(">a\nACGTacgtAC\n")
    np.testing.assert_array_equal(Genome(path).soft_mask("a", 2, 7), [False, False, True, True, True])


def test_bases_at_reads_scattered_positions_in_the_order_given(genome):
    chroms = ["chr02", "chr01", "chr01", "chr01"]
    positions = [0, 1_000_000, 5, 5]
    expected = "".join(genome.fetch(c, p, p + 1).upper() for c, p in zip(chroms, positions))
    assert genome.bases_at(chroms, positions) == expected
    assert genome.bases_at("chr01", np.array([7, 6, 5])) == genome.fetch("chr01", 5, 8).upper()[::-1]
    assert genome.bases_at([], []) == ""
    with pytest.raises(ValueError, match="outside chr01"):
        genome.bases_at(["chr01"], [genome.chrom_sizes["chr01"]])
    with pytest.raises(KeyError, match="unknown chromosome 'chrX'"):
        genome.bases_at(["chrX"], [0])
