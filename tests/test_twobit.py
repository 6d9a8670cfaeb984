"""The .2bit writer, read back with an independent reader (twobitreader, pure Python).

Facts checked: the tiny genome and a hand-made FASTA with N runs, soft-masked runs, a masked
N run, an IUPAC code and lengths that are not multiples of 4 read back base for base (IUPAC
codes become N, as faToTwoBit makes them); the header is the signature 0x1A412743 (bytes
43 27 41 1A little-endian), version 0, the sequence count and a reserved 0; the first index
entry is the name's length, the name and the offset of its record; ACGT packs to 0x9C
(A=10, C=01, G=11, T=00).
"""

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

twobitreader = pytest.importorskip("twobitreader")

from glm_core.errors import InputError  # noqa: E402
from glm_core.genome import Genome  # noqa: E402
from glm_core.twobit import TWOBIT_SIGNATURE, pack_bases, runs, sequence_record, write_twobit  # noqa: E402

DATA = Path(__file__).parent / "data"
RECORDS = {
    "chrA": "ACGTNNNNNacgtnnACGTRACGTTTaaaaCCCCG",  # 35 bp: N run, soft-masked run, masked N run, IUPAC R
    "scaffold_2": "NNNNACGT",  # starts with N
    "s3": "acg",  # all masked, 3 bp
}


def read_back(path: Path) -> dict[str, str]:
    handle = twobitreader.TwoBitFile(str(path))
    try:
        return {name: str(handle[name]) for name in handle.sequence_sizes()}
    finally:
        handle.close()


def test_tiny_genome_reads_back_exactly(tmp_path):
    shutil.copy(DATA / "tiny.fa", tmp_path / "tiny.fa")
    genome = Genome(tmp_path / "tiny.fa")
    write_twobit(genome, tmp_path / "tiny.2bit")
    back = read_back(tmp_path / "tiny.2bit")
    assert list(back) == ["chrT", "chrU"]
    assert back == {name: genome.fetch(name, 0, size) for name, size in genome.chrom_sizes.items()}
    assert not list(tmp_path.glob("*.incomplete-*"))


def test_n_runs_and_soft_masking_read_back(tmp_path):
    (tmp_path / "hand.fa").write_text("".join(f">{name}\n{seq}\n" for name, seq in RECORDS.items()))
    path = write_twobit(Genome(tmp_path / "hand.fa"), tmp_path / "hand.2bit")
    back = read_back(path)
    assert back == {name: seq.replace("R", "N") for name, seq in RECORDS.items()}
    handle = twobitreader.TwoBitFile(str(path))
    assert handle["chrA"][4:9] == "NNNNN" and handle["chrA"][9:15] == "acgtnn"
    handle.close()

    data = path.read_bytes()
    assert data[:4] == bytes([0x43, 0x27, 0x41, 0x1A])
    assert struct.unpack("<IIII", data[:16]) == (TWOBIT_SIGNATURE, 0, 3, 0)
    # index: 1 + 4 + 4, 1 + 10 + 4, 1 + 2 + 4 bytes; chrA's record right after it
    assert data[16] == 4 and data[17:21] == b"chrA"
    first = struct.unpack("<I", data[21:25])[0]
    assert first == 16 + 9 + 15 + 7
    # chrA's record: 35 bases; N blocks at 4 (5 bp), 13 (2 bp), 19 (1 bp, the R); 2 mask blocks
    assert struct.unpack("<II", data[first : first + 8]) == (35, 3)
    assert struct.unpack("<3I3I", data[first + 8 : first + 32]) == (4, 13, 19, 5, 2, 1)
    assert struct.unpack("<I2I2I", data[first + 32 : first + 52]) == (2, 9, 26, 6, 4)


def test_packing_and_runs_by_hand():
    assert pack_bases(b"ACGT") == bytes([0b10011100])
    assert pack_bases(b"TTTTG") == bytes([0x00, 0b11000000])  # padded with T
    assert pack_bases(b"NNNN") == bytes([0x00])
    starts, sizes = runs(np.array([True, True, False, True]))
    assert starts.tolist() == [0, 3] and sizes.tolist() == [2, 1]
    record = sequence_record("aC")
    assert struct.unpack("<IIIII", record[:20]) == (2, 0, 1, 0, 1) and record[20:24] == bytes(4)
    assert record[24:] == bytes([0b10010000])


def test_names_a_2bit_cannot_hold_are_refused(tmp_path):
    class Named:
        chrom_sizes = {"x" * 256: 4}

        def fetch(self, chrom, start, end):
            return "ACGT"

    with pytest.raises(InputError, match="at most 255"):
        write_twobit(Named(), tmp_path / "long.2bit")
    assert not list(tmp_path.iterdir())
