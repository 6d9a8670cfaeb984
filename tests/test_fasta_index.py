"""Honest FASTA input: the whole file is checked, derived files go to the cache, the user's files never change.

Each case checks the message (file, line, what to do) and that every file of the user's
folder is byte for byte what it was (sha256 before and after); nothing is added beside them.
"""

import gzip
import hashlib
import os
import random
import shutil

import pytest

from glm_core.genome import EMBEDDED_FASTA, Genome, fasta_text


def folder_hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def sequence(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


@pytest.fixture
def user(tmp_path):
    folder = tmp_path / "user"
    folder.mkdir()
    return folder


def two_mb_fasta(folder, bad_line_text=None):
    """Two 1.2 Mb records, 60 bases a line; optionally line 30,000 (past the first MB) replaced."""
    text = fasta_text({"chrA": sequence(1_200_000, 1), "chrB": sequence(1_200_000, 2)})
    lines = text.split("\n")
    if bad_line_text is not None:
        lines[29_999] = bad_line_text
    path = folder / "big.fa"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_junk_past_the_first_megabyte_is_refused_with_line_column_and_byte(user, tmp_path):
    path = two_mb_fasta(user, "ACGT" * 10 + "ACGTJ" + "A" * 15)
    before = folder_hashes(user)
    with pytest.raises(
        ValueError,
        match=r"big\.fa, line 30,000: characters 'J' are not nucleotides; the first is at "
        r"column 45 \(byte 1,\d{3},\d{3} of the file\)",
    ):
        Genome(path, cache_dir=tmp_path / "cache")
    assert folder_hashes(user) == before


def test_non_ascii_past_the_first_megabyte_names_file_and_line(user, tmp_path):
    path = two_mb_fasta(user, "ACGT" * 10 + "ACGTé" + "A" * 14)
    before = folder_hashes(user)
    with pytest.raises(
        ValueError,
        match=r"big\.fa, line 30,000: characters '\\xc3\\xa9' are not nucleotides "
        r"\(non-ASCII",
    ):
        Genome(path, cache_dir=tmp_path / "cache")
    assert folder_hashes(user) == before


def test_a_record_cut_mid_way_is_refused(user, tmp_path):
    text = fasta_text({"chrA": sequence(600, 1), "chrB": sequence(600, 2)})
    path = user / "cut.fa"
    path.write_text(text[: len(text) - 25])  # as a download that stopped
    before = folder_hashes(user)
    with pytest.raises(
        ValueError, match=r"cut\.fa, line 22: the file ends in the middle of this line.*'chrB' looks cut off"
    ):
        Genome(path, cache_dir=tmp_path / "cache")
    assert folder_hashes(user) == before


def test_cut_bgzip_file_is_refused(tmp_path, user):
    path = user / "umaydis.fa.gz"
    data = EMBEDDED_FASTA.read_bytes()
    path.write_bytes(data[:-28])  # the whole-block part of the file, without the EOF block
    before = folder_hashes(user)
    with pytest.raises(ValueError, match=r"umaydis\.fa\.gz: the bgzip file lacks its end-of-file block"):
        Genome(path, cache_dir=tmp_path / "cache")
    assert folder_hashes(user) == before


def test_gzip_damaged_before_its_first_line_is_named_not_read_as_empty(tmp_path, user):
    from glm_core.annotation import Annotation
    from glm_core.genome_files import find_genome_files

    for name in ("genome.fa.gz", "genes.gff3.gz"):
        (user / name).write_bytes(b"\x1f\x8b" + bytes(range(40)))  # gzip magic, then junk
    before = folder_hashes(user)
    with pytest.raises(
        ValueError, match=r"genome\.fa\.gz: the file starts as gzip but its compressed data are damaged"
    ):
        Genome(user / "genome.fa.gz", cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match=r"genes\.gff3\.gz: the file starts as gzip but its compressed data"):
        Annotation.from_file(user / "genes.gff3.gz")
    assert find_genome_files(user).empty  # a data folder lists neither, and the listing does not fail
    assert folder_hashes(user) == before


def test_fasta_edited_after_its_fai_is_read_with_a_fresh_index(user, tmp_path):
    old = {"chrA": sequence(300, 1), "chrB": sequence(300, 2)}
    path = user / "genome.fa"
    path.write_text(fasta_text(old))
    Genome(path, cache_dir=tmp_path / "samtools")  # stands in for the user's `samtools faidx genome.fa`
    shutil.copy(
        tmp_path / "samtools" / "fasta-index" / os.listdir(tmp_path / "samtools" / "fasta-index")[0] / "index.fai",
        user / "genome.fa.fai",
    )
    new = {"chrZ": sequence(120, 9), "chrA": sequence(500, 3)}
    path.write_text(fasta_text(new))  # edited; the .fai beside it is now stale
    before = folder_hashes(user)
    genome = Genome(path, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"chrZ": 120, "chrA": 500}
    assert genome.fetch("chrA", 0, 500) == new["chrA"]
    assert "genome.fa.fai beside the FASTA does not match it" in genome.warnings[0]
    assert folder_hashes(user) == before


def test_an_index_in_the_cache_is_rebuilt_when_the_fasta_changes(user, tmp_path):
    path = user / "genome.fa"
    path.write_text(fasta_text({"chrA": sequence(300, 1)}))
    assert Genome(path, cache_dir=tmp_path / "cache").chrom_sizes == {"chrA": 300}
    replacement = sequence(420, 5)
    path.write_text(fasta_text({"chrA": replacement}))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    genome = Genome(path, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"chrA": 420} and genome.fetch("chrA", 360, 420) == replacement[360:]
    assert sorted(p.name for p in user.iterdir()) == ["genome.fa"]


@pytest.mark.parametrize("unrelated_is_newer", [False, True])
def test_plain_gzip_is_decompressed_into_the_cache_never_over_a_file_beside_it(user, tmp_path, unrelated_is_newer):
    packed = {"chrG": sequence(700, 11)}
    gz = user / "genome.fa.gz"
    gz.write_bytes(gzip.compress(fasta_text(packed).encode()))
    unrelated = user / "genome.fa"
    unrelated.write_text(fasta_text({"other": sequence(100, 12)}))
    stamp = gz.stat().st_mtime_ns + (10**9 if unrelated_is_newer else -(10**9))
    os.utime(unrelated, ns=(stamp, stamp))
    before = folder_hashes(user)
    genome = Genome(gz, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"chrG": 700} and genome.fetch("chrG", 0, 700) == packed["chrG"]
    assert folder_hashes(user) == before and unrelated.stat().st_mtime_ns == stamp
    copies = list((tmp_path / "cache" / "fasta-plain").glob("*/genome.fa"))
    assert len(copies) == 1 and copies[0].read_text() == fasta_text(packed)


def test_plain_text_named_gz_is_read_and_said_to_be_uncompressed(user, tmp_path):
    path = user / "genome.fa.gz"
    path.write_text(fasta_text({"chrP": sequence(130, 4)}))
    before = folder_hashes(user)
    genome = Genome(path, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"chrP": 130}
    assert genome.warnings == ["genome.fa.gz is named .gz but is not compressed; it was read as plain text"]
    assert folder_hashes(user) == before


def test_duplicate_sequence_names_are_refused(user, tmp_path):
    path = user / "twice.fa"
    path.write_text(">chrA\nACGT\n>chrB\nACGT\n>chrA second copy\nACGT\n")
    with pytest.raises(
        ValueError, match=r"twice\.fa, line 5: sequence name 'chrA' appears a second time \(first on line 1\)"
    ):
        Genome(path, cache_dir=tmp_path / "cache")


def test_embedded_genome_index_matches_the_shipped_one(tmp_path):
    genome = Genome(EMBEDDED_FASTA, cache_dir=tmp_path / "cache")
    assert genome.warnings == []  # the freshly built .fai and .gzi equal the ones shipped beside it
    built = next((tmp_path / "cache" / "fasta-index").iterdir())
    assert (built / "index.fai").read_bytes() == EMBEDDED_FASTA.with_name("umaydis.fa.gz.fai").read_bytes()
    assert (built / "index.gzi").read_bytes() == EMBEDDED_FASTA.with_name("umaydis.fa.gz.gzi").read_bytes()


@pytest.mark.parametrize(
    "name, text, message",
    [
        (
            "genes.gff3",
            "##gff-version 3\nchrT\tt\tgene\t1\t9\t.\t+\t.\tID=g\n",
            r"is a GFF3 annotation without a ##FASTA",
        ),
        ("genes.gtf", 'chrT\tt\texon\t1\t9\t.\t+\t.\tgene_id "g"; transcript_id "t";\n', r"is a GTF annotation, not a"),
        ("blank.fa", "\n", r"blank\.fa: the file is empty"),
    ],
)
def test_an_annotation_or_empty_file_as_the_genome_says_what_it_is(user, tmp_path, name, text, message):
    path = user / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Genome(path, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in user.iterdir()) == [name]
