"""Reference genomes: random access to sequences through pyfaidx.

Coordinate conventions
----------------------
* Inside ``glm_core`` every interval is **0-based, half-open** (``start <= i < end``),
  like BED files, numpy slices and bioframe tables.
* Everything shown to users or read from them (region strings such as
  ``chr01:1001-1200``, TSV/VCF positions) is **1-based, inclusive**, as in genome
  browsers. :func:`glm_core.locus.resolve_locus` reads what users type; :func:`format_region` writes it.

Bases
-----
Sequences are returned as they are stored: upper case for ordinary bases, lower case
for soft-masked (repeat) bases, ``N`` and IUPAC ambiguity codes untouched.
:meth:`Genome.soft_mask` gives the soft-mask as a boolean array and
:func:`nucleotide_codes` turns a sequence into 0..3 codes (A, C, G, T) with -1 for
anything that is not an unambiguous base.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx

from .errors import InputError
from .fasta_index import PreparedFasta, prepare_fasta
from .file_formats import is_gzip  # noqa: F401  (glm_core.embedding imports it from here)

NUCLEOTIDES = "ACGT"
IUPAC_CODES = frozenset("ACGTUNRYSWKMBDHV")
_COMPLEMENT = str.maketrans("ACGTURYSWKMBDHVNacgturyswkmbdhvn", "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn")
_CODE_OF_BYTE = np.full(256, -1, dtype=np.int8)
for _code, _base in enumerate(NUCLEOTIDES):
    _CODE_OF_BYTE[ord(_base)] = _code
    _CODE_OF_BYTE[ord(_base.lower())] = _code

_BASES_AT_GAP = 100_000  # scattered positions closer than this share one fetch (Genome.bases_at)

EMBEDDED_GENOME_DIR = Path(__file__).resolve().parent.parent / "assets" / "genomes" / "umaydis"
EMBEDDED_FASTA = EMBEDDED_GENOME_DIR / "umaydis.fa.gz"
EMBEDDED_ANNOTATION = EMBEDDED_GENOME_DIR / "umaydis.gff3.gz"


def reverse_complement(sequence: str) -> str:
    """Reverse complement, keeping case and IUPAC codes (``R`` <-> ``Y`` ...)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def fasta_text(records: dict[str, str], width: int = 60) -> str:
    """FASTA text of ``{header: sequence}`` (the header may carry a description after a space)."""
    lines = []
    for header, sequence in records.items():
        lines.append(f">{header}")
        lines.extend(sequence[i : i + width] for i in range(0, len(sequence), width))
    return "\n".join(lines) + "\n"


def nucleotide_codes(sequence: str) -> np.ndarray:
    """Codes 0..3 for A, C, G, T (either case); -1 for N, IUPAC codes and gaps.

    Returns
    -------
    np.ndarray, shape=(len(sequence),), dtype=int8
    """
    return _CODE_OF_BYTE[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


@dataclass(frozen=True)
class Region:
    """A genomic interval, 0-based half-open, with a strand (``+`` or ``-``)."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def __post_init__(self):
        if self.strand not in ("+", "-"):
            raise ValueError(f"strand must be '+' or '-'; got {self.strand!r}")
        if not 0 <= self.start < self.end:
            raise ValueError(
                f"a region needs 0 <= start < end (0-based half-open); got start={self.start}, end={self.end}"
            )

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return format_region(self.chrom, self.start, self.end)


def format_region(chrom: str, start: int, end: int) -> str:
    """0-based half-open interval -> the 1-based inclusive ``chrom:start-end`` users see."""
    return f"{chrom}:{start + 1:,}-{end:,}"


class Genome:
    """A FASTA genome (plain, gzip or bgzip, or the ``##FASTA`` part of a GFF3) with random access.

    Opening checks the whole file (see :mod:`glm_core.fasta_index`) and builds its index in
    the cache, once per version of the file; nothing is written beside the user's file. A
    plain-gzip file or a GFF3's sequences are copied into the cache first (keyed by content
    hash), because pyfaidx cannot seek in them.

    Parameters
    ----------
    path : path to the FASTA file (or a GFF3 with a ``##FASTA`` section).
    cache_dir : where the index and any copy go; default :func:`glm_core.fasta_index.default_cache_dir`.

    Attributes
    ----------
    chrom_sizes : sequence name -> length, in file order.
    source_format : ``fasta`` or ``gff3`` (the file also holds the annotation).
    warnings : sentences for the user, e.g. a stale ``.fai`` found beside the file.
    """

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None):
        self.path = Path(path)
        prepared = prepare_fasta(self.path, cache_dir)
        self.source_format = prepared.source_format
        self.warnings = list(prepared.warnings)
        self._fasta = _open_indexed(self.path, prepared)
        self.chrom_sizes: dict[str, int] = {name: len(self._fasta[name]) for name in self._fasta.keys()}

    @property
    def chroms(self) -> list[str]:
        return list(self.chrom_sizes)

    def summary(self) -> pd.DataFrame:
        """One row a sequence: ``chrom``, ``length`` (bp), ``gc`` (fraction of A/C/G/T), ``n_count``."""
        rows = []
        for chrom, length in self.chrom_sizes.items():
            counts = np.bincount(nucleotide_codes(self.fetch(chrom, 0, length)) + 1, minlength=5)
            acgt = counts[1:].sum()
            rows.append(
                {
                    "chrom": chrom,
                    "length": length,
                    "gc": (counts[2] + counts[3]) / acgt if acgt else np.nan,
                    "n_count": int(length - acgt),
                }
            )
        return pd.DataFrame(rows)

    def check_interval(self, chrom: str, start: int, end: int) -> None:
        """Raise a clear error unless ``0 <= start < end <= length`` on a known chromosome."""
        if chrom not in self.chrom_sizes:
            shown = ", ".join(list(self.chrom_sizes)[:12]) + (" ..." if len(self.chrom_sizes) > 12 else "")
            raise KeyError(f"unknown chromosome {chrom!r}; this genome has {len(self.chrom_sizes)}: {shown}")
        length = self.chrom_sizes[chrom]
        if not (0 <= start < end <= length):
            raise ValueError(
                f"{chrom}:{start + 1}-{end} is outside {chrom}, whose valid range is 1-{length:,} (1-based inclusive)"
            )

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        """Sequence of ``[start, end)`` (0-based half-open), reverse-complemented for ``strand='-'``."""
        self.check_interval(chrom, start, end)
        sequence = self._fasta[chrom][start:end]
        return reverse_complement(sequence) if strand == "-" else sequence

    def fetch_region(self, region: Region) -> str:
        return self.fetch(region.chrom, region.start, region.end, region.strand)

    def bases_at(self, chroms, positions) -> str:
        """The upper-case plus-strand base at each of scattered 0-based positions.

        Parameters
        ----------
        chroms : sequence name of each position, shape=(n,) (or one name for all).
        positions : 0-based positions, shape=(n,).

        Returns
        -------
        str of length n, one base per position in the order given (``N`` and IUPAC codes as
        stored, upper-cased). Positions close together are read with one fetch.

        Raises ``KeyError`` for an unknown chromosome and ``ValueError`` for a position
        outside its chromosome, naming both.
        """
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        chroms = np.full(len(positions), chroms, dtype=object) if isinstance(chroms, str) else np.asarray(chroms)
        if len(chroms) != len(positions):
            raise ValueError(f"bases_at needs one chromosome per position; got {len(chroms)} and {len(positions)}")
        bases = np.empty(len(positions), dtype=np.uint8)
        for chrom in pd.unique(chroms):
            rows = np.flatnonzero(chroms == chrom)
            order = rows[np.argsort(positions[rows], kind="stable")]
            sorted_positions = positions[order]
            chrom = str(chrom)
            self.check_interval(chrom, int(sorted_positions[0]), int(sorted_positions[-1]) + 1)
            breaks = np.flatnonzero(np.diff(sorted_positions) > _BASES_AT_GAP) + 1
            for block in np.split(np.arange(len(order)), breaks):
                start, end = int(sorted_positions[block[0]]), int(sorted_positions[block[-1]]) + 1
                text = self.fetch(chrom, start, end).upper().encode("ascii")
                bases[order[block]] = np.frombuffer(text, dtype=np.uint8)[sorted_positions[block] - start]
        return bases.tobytes().decode("ascii")

    def soft_mask(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Boolean array, True where the base is lower case (soft-masked), for ``[start, end)``."""
        sequence = self.fetch(chrom, start, end)
        return np.frombuffer(sequence.encode("ascii"), dtype=np.uint8) >= ord("a")


def _open_indexed(path: Path, prepared: PreparedFasta) -> pyfaidx.Fasta:
    """pyfaidx on the prepared file and its index in the cache; it builds and writes nothing."""
    try:
        with warnings.catch_warnings():
            # The cache's manifest (file size and mtime), not pyfaidx's mtime comparison, says the index is fresh.
            warnings.filterwarnings("ignore", message="Index file .* is older than", category=RuntimeWarning)
            return pyfaidx.Fasta(
                str(prepared.readable),
                indexname=str(prepared.fai),
                gzi_indexname=str(prepared.gzi) if prepared.gzi else None,
                sequence_always_upper=False,
                as_raw=True,
                rebuild=False,
                build_index=False,
            )
    except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError) as error:
        raise InputError(f"{path}: not a readable FASTA file ({error})") from error
