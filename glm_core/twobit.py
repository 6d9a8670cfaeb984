"""UCSC .2bit files: a writer of the genome sequence an assembly hub (``twoBitPath``) and IGV read.

Format (version 0, little-endian, as UCSC's ``faToTwoBit`` writes it; see
https://genome.ucsc.edu/FAQ/FAQformat.html#format7):

* header, 16 bytes: signature ``0x1A412743``, version 0, sequence count, reserved 0 (uint32 each);
* index, one entry a sequence in file order: name length (uint8), name (ASCII), offset of
  the sequence's record from the start of the file (uint32);
* one record a sequence: ``dnaSize``; ``nBlockCount`` and as many ``nBlockStarts`` then
  ``nBlockSizes``; ``maskBlockCount``, ``maskBlockStarts``, ``maskBlockSizes``; reserved 0
  (all uint32); then the bases, four a byte, the first in the two most significant bits,
  ``T=0, C=1, A=2, G=3``.

Block starts are 0-based. N blocks are the runs of bases other than A/C/G/T in either case
(IUPAC codes become N, as ``faToTwoBit`` makes them), packed as T; mask blocks are the runs
of lower-case (soft-masked) bases, N runs included. Version 0 offsets are 32-bit, so the
file is refused above 4 GiB (no genome this project opens comes near).

:func:`write_twobit` streams: the index size is known from the names alone, so records are
written one sequence at a time (one sequence's bases and arrays in memory) and the index
is filled in last, inside an atomic write (:mod:`glm_core.outputs`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .errors import InputError
from .outputs import atomic_path

TWOBIT_SIGNATURE = 0x1A412743
MAX_OFFSET = 2**32 - 1
# Byte -> 2-bit code (T=0, C=1, A=2, G=3); every other byte is an N base, packed as T.
_CODES = np.zeros(256, dtype=np.uint8)
for _base, _code in zip(b"TCAGtcag", (0, 1, 2, 3, 0, 1, 2, 3)):
    _CODES[_base] = _code
_IS_ACGT = np.zeros(256, dtype=bool)
_IS_ACGT[list(b"ACGTacgt")] = True


def runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts (0-based) and lengths of the runs of True in a boolean array, as uint32 arrays."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    return starts.astype("<u4"), (ends - starts).astype("<u4")


def pack_bases(sequence: bytes) -> bytes:
    """Four bases a byte, the first in the most significant bits (T=0, C=1, A=2, G=3; N as T)."""
    codes = _CODES[np.frombuffer(sequence, dtype=np.uint8)]
    codes = np.concatenate([codes, np.zeros(-len(codes) % 4, dtype=np.uint8)]).reshape(-1, 4)
    return ((codes[:, 0] << 6) | (codes[:, 1] << 4) | (codes[:, 2] << 2) | codes[:, 3]).astype(np.uint8).tobytes()


def sequence_record(sequence: str) -> bytes:
    """The .2bit record of one sequence (module docstring): sizes, N and mask blocks, packed bases."""
    data = sequence.encode("ascii")
    raw = np.frombuffer(data, dtype=np.uint8)
    n_starts, n_sizes = runs(~_IS_ACGT[raw])
    mask_starts, mask_sizes = runs((raw >= ord("a")) & (raw <= ord("z")))
    parts = [
        struct.pack("<II", len(data), len(n_starts)),
        n_starts.tobytes(),
        n_sizes.tobytes(),
        struct.pack("<I", len(mask_starts)),
        mask_starts.tobytes(),
        mask_sizes.tobytes(),
        struct.pack("<I", 0),
        pack_bases(data),
    ]
    return b"".join(parts)


def write_twobit(genome, path: str | Path) -> Path:
    """Write every sequence of ``genome`` (``chrom_sizes`` in file order and ``fetch(chrom, start,
    end)``, as :class:`glm_core.genome.Genome` has) to ``path`` as a version-0 .2bit file.

    Case is kept as soft-masking. Raises InputError for a sequence name longer than 255 bytes
    or not ASCII, and for a genome whose file would pass 4 GiB (version 0's 32-bit offsets).
    """
    path = Path(path)
    names = list(genome.chrom_sizes)
    encoded = []
    for name in names:
        try:
            encoded.append(name.encode("ascii"))
        except UnicodeEncodeError:
            raise InputError(f"sequence name {name!r} is not ASCII; a .2bit file holds ASCII names only") from None
        if len(encoded[-1]) > 255:
            raise InputError(
                f"sequence name {name[:40]!r}... has {len(encoded[-1])} bytes; a .2bit name has at most 255"
            )
    index_size = sum(1 + len(name) + 4 for name in encoded)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(struct.pack("<IIII", TWOBIT_SIGNATURE, 0, len(names), 0))
            handle.write(b"\0" * index_size)
            offsets = []
            for name in names:
                offsets.append(handle.tell())
                if offsets[-1] > MAX_OFFSET:
                    raise InputError(
                        f"{path.name} would pass 4 GiB at {name!r}; version-0 .2bit offsets are 32-bit: "
                        "convert the FASTA with UCSC's `faToTwoBit -long` instead"
                    )
                handle.write(sequence_record(genome.fetch(name, 0, int(genome.chrom_sizes[name]))))
            handle.seek(16)
            handle.write(
                b"".join(
                    struct.pack("<B", len(name)) + name + struct.pack("<I", o) for name, o in zip(encoded, offsets)
                )
            )
    return path
