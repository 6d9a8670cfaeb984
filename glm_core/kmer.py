"""Bidirectional k-mer baseline: P(x_i | k bases left, k bases right) from counts.

The model is a table of counts ``n[context, base]`` over every window of ``2k + 1``
A/C/G/T bases of the training sequences, read on both strands, and predicts

    P(base | context) = (n[context, base] + 1/2) / (n[context] + 2)        (add-1/2, Jeffreys)

Windows that contain anything but A/C/G/T (``N``, IUPAC codes) are not counted.

Back-off
--------
Tables are counted for every half-width ``j = 0 .. k`` (``j = 0`` is the unigram). A
position is predicted from the longest *symmetric* context whose ``2j`` bases are all
A/C/G/T and inside the sequence: an ``N`` three bases to the left of the position, or a
sequence end three bases away, gives ``j = 2``; an ``N`` right beside it gives the unigram.

Strand symmetry
---------------
Counting both strands makes ``n[L, R, b] == n[rc(R), rc(L), comp(b)]`` exactly, so the
prediction for the reverse complement of a sequence is the complemented prediction of the
forward sequence; the forward / reverse-complement average that :class:`SiteModel`
asks for is therefore the forward prediction itself.

Context ids
-----------
A context of half-width ``j`` is the ``2j`` bases left then right of the position in
5'->3' order, read as a base-4 number with the first base most significant (A=0, C=1,
G=2, T=3). The count table of half-width ``j`` has shape ``(4 ** (2 * j), 4)``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import InputError
from .genome import Genome, nucleotide_codes
from .outputs import atomic_write
from .scoring import Progress

PSEUDOCOUNT = 0.5
FORMAT_VERSION = 1


def kmer_names(k: int = 4) -> list[str]:
    """The ``4 ** k`` k-mers in id order (AAAA, AAAC, ...): the column order of every k-mer table."""
    names = [""]
    for _ in range(k):
        names = [prefix + base for prefix in names for base in "ACGT"]
    return names


def kmer_ids(codes: np.ndarray, k: int, order: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Id of every length-``k`` window of ``codes`` and whether it holds only A/C/G/T.

    Parameters
    ----------
    codes : :func:`glm_core.genome.nucleotide_codes` of a sequence.
    order : the window's positions read as base-4 digits, most significant first
        (default ``0 .. k - 1``, so ids follow :func:`kmer_names`).

    Returns
    -------
    (ids int64 shape=(n,), valid bool shape=(n,)) with ``n = len(codes) - k + 1`` (0 when
    the sequence is shorter than ``k``); ids of invalid windows are meaningless.
    """
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    bad = np.concatenate([[0], np.cumsum(codes < 0)])
    valid = (bad[k:] - bad[:-k]) == 0
    clean = np.maximum(codes, 0).astype(np.int64)
    ids = np.zeros(n, dtype=np.int64)
    for offset in range(k) if order is None else order:
        ids *= 4
        ids += clean[offset : offset + n]
    return ids, valid


def reverse_complement_kmer_ids(k: int) -> np.ndarray:
    """Permutation: id of a k-mer (first base most significant) -> id of its reverse complement.

    For a context of half-width ``j`` (its ``2j`` digits left then right of the centre) use
    ``k = 2j``: the reverse complement of ``L x R`` is ``rc(R) comp(x) rc(L)``, so the context
    digits are reversed and complemented as one string.
    """
    ids = np.arange(4**k, dtype=np.int64)
    flipped = np.zeros_like(ids)
    for digit in range(k):  # least significant first: it becomes the most significant
        flipped = flipped * 4 + (3 - ((ids >> (2 * digit)) & 3))
    return flipped


def _window_counts(codes: np.ndarray, half_width: int) -> np.ndarray:
    """Counts of (context, centre) over all-ACGT windows of one strand, shape=(4**(2j), 4), int64."""
    j = half_width
    width = 2 * j + 1
    context_then_centre = [*range(j), *range(j + 1, width), j]
    joint, valid = kmer_ids(codes, width, order=context_then_centre)
    counts = np.bincount(joint[valid], minlength=4 ** (2 * j + 1))
    return counts.reshape(4 ** (2 * j), 4)


class KmerModel:
    """Bidirectional k-mer count model with add-1/2 smoothing; a ``SiteModel`` of kind "k-mer".

    Build one with :meth:`fit` or :meth:`load`.

    Attributes
    ----------
    k : bases of context on each side (``context_flank``).
    counts : list of ``k + 1`` int64 arrays; ``counts[j]`` has shape=(4 ** (2 * j), 4),
        both strands counted.
    training_chroms : the sequences it was counted on.
    """

    def __init__(self, counts: list[np.ndarray], training_chroms: Iterable[str] = (), genome_name: str = ""):
        if not counts:
            raise ValueError("a KmerModel needs at least the unigram count table (counts[0])")
        for j, table in enumerate(counts):
            if table.shape != (4 ** (2 * j), 4):
                raise ValueError(
                    f"count table for half-width {j} must have shape {(4 ** (2 * j), 4)}; got {table.shape}"
                )
        self.counts = [np.asarray(table, dtype=np.int64) for table in counts]
        self.k = len(counts) - 1
        self.training_chroms = tuple(training_chroms)
        self.genome_name = genome_name
        self.name = "unigram" if self.k == 0 else f"k-mer (k={self.k})"
        self.kind = "k-mer"
        self.context_flank = self.k
        self._probabilities = [
            ((table + PSEUDOCOUNT) / (table.sum(axis=1, keepdims=True) + 4 * PSEUDOCOUNT)) for table in self.counts
        ]

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        genome: Genome,
        chroms: Iterable[str],
        k: int = 4,
        *,
        progress: Progress | None = None,
    ) -> "KmerModel":
        """Count windows of ``2k + 1`` bases on both strands of ``chroms``.

        Parameters
        ----------
        genome : the genome to count on.
        chroms : training sequences (whole chromosomes are read).
        k : bases of context on each side; 0 gives the unigram model. Tables hold
            ``4 ** (2k + 1)`` counts (1 M for k = 4, 268 M for k = 6), so ``k`` is limited to 0..6.
        progress : called as ``progress(bases_done, bases_total)`` after each chromosome.
        """
        if not 0 <= int(k) <= 6:
            raise ValueError(f"k (bases of context on each side) must be in 0..6; got k={k}")
        k = int(k)
        chroms = list(chroms)
        missing = [chrom for chrom in chroms if chrom not in genome.chrom_sizes]
        if missing:
            raise InputError(f"chromosomes {missing} are not in {genome.path.name}; it has {list(genome.chrom_sizes)}")
        if not chroms:
            raise ValueError("no training chromosomes given; pass at least one sequence name to count on")
        forward = [np.zeros((4 ** (2 * j), 4), dtype=np.int64) for j in range(k + 1)]
        total = sum(genome.chrom_sizes[chrom] for chrom in chroms)
        done = 0
        for chrom in chroms:
            codes = nucleotide_codes(genome.fetch(chrom, 0, genome.chrom_sizes[chrom]))
            for j in range(k + 1):
                forward[j] += _window_counts(codes, j)
            done += genome.chrom_sizes[chrom]
            if progress is not None:
                progress(done, total)
        counts = []
        for j, table in enumerate(forward):
            # The minus strand holds every window's reverse complement: (rc(context), comp(centre)).
            counts.append(table + table[reverse_complement_kmer_ids(2 * j)][:, ::-1])
        return cls(counts, training_chroms=chroms, genome_name=genome.path.name)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the count tables and the configuration to a compressed ``.npz`` file."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            f"counts_{j}": table.astype(np.uint32 if table.max() < 2**32 else np.int64)
            for j, table in enumerate(self.counts)
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format_version=np.int64(FORMAT_VERSION),
            k=np.int64(self.k),
            pseudocount=np.float64(PSEUDOCOUNT),
            training_chroms=np.array(self.training_chroms, dtype=str),
            genome_name=np.array(self.genome_name),
            **arrays,
        )
        atomic_write(path, buffer.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "KmerModel":
        """Read a model written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"k-mer model file not found: {path} (write one with KmerModel.fit(...).save(path))"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                k = int(data["k"])
                counts = [data[f"counts_{j}"].astype(np.int64) for j in range(k + 1)]
                chroms = [str(c) for c in data["training_chroms"]]
                genome_name = str(data["genome_name"])
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"{path} is not a k-mer model written by KmerModel.save ({error})") from error
        return cls(counts, training_chroms=chroms, genome_name=genome_name)

    # ------------------------------------------------------------------ prediction
    def context_probabilities(self, half_width: int) -> np.ndarray:
        """P(base | context) table of half-width ``j``, shape=(4 ** (2j), 4), columns A, C, G, T."""
        return self._probabilities[half_width]

    def sequence_site_probabilities(
        self,
        sequence: str,
        positions: np.ndarray | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """P(base | k bases either side) for 0-based ``positions`` of ``sequence`` (its plus strand).

        The base at each position is never looked at. Positions whose full context runs
        past the sequence ends or holds a non-ACGT base back off to the longest symmetric
        all-ACGT context (see the module docstring). Counting both strands makes the
        forward and reverse-complement predictions identical, so no averaging is needed.

        Parameters
        ----------
        sequence : DNA, either case.
        positions : 0-based positions to score, shape=(n,); all positions when None.
        batch_size : positions handled per step (memory bound only; results do not depend on it).
        progress : called as ``progress(positions_done, positions_total)``.

        Returns
        -------
        np.ndarray, shape=(n, 4), float64, columns A, C, G, T, rows summing to 1.
        """
        codes = nucleotide_codes(sequence)
        length = len(codes)
        positions = np.arange(length) if positions is None else np.asarray(positions, dtype=np.int64).reshape(-1)
        out = np.empty((len(positions), 4), dtype=np.float64)
        if len(positions) == 0:
            return out
        if positions.min() < 0 or positions.max() >= length:
            raise ValueError(
                f"positions must lie in 0..{length - 1} (0-based) for a sequence of length {length}; "
                f"got {positions.min()}..{positions.max()}"
            )
        k = self.k
        # Pad k invalid bases each side so the ends behave like an N.
        padded = np.concatenate([np.full(k, -1, np.int8), codes, np.full(k, -1, np.int8)]).astype(np.int64)
        batch_size = int(batch_size or 1 << 20)
        for first in range(0, len(positions), batch_size):
            chunk = positions[first : first + batch_size] + k
            out[first : first + len(chunk)] = self._predict_padded(padded, chunk)
            if progress is not None:
                progress(min(first + batch_size, len(positions)), len(positions))
        return out

    def _predict_padded(self, padded: np.ndarray, centres: np.ndarray) -> np.ndarray:
        k = self.k
        # depth = largest j such that the j bases on each side are all A/C/G/T.
        depth = np.zeros(len(centres), dtype=np.int64)
        still_ok = np.ones(len(centres), dtype=bool)
        for j in range(1, k + 1):
            still_ok &= (padded[centres - j] >= 0) & (padded[centres + j] >= 0)
            depth += still_ok
        out = np.empty((len(centres), 4), dtype=np.float64)
        for j in range(k + 1):
            rows = np.flatnonzero(depth == j)
            if len(rows) == 0:
                continue
            at = centres[rows]
            context = np.zeros(len(rows), dtype=np.int64)
            for offset in [*range(-j, 0), *range(1, j + 1)]:
                context = context * 4 + padded[at + offset]
            out[rows] = self._probabilities[j][context]
        return out

    def __repr__(self) -> str:
        n = int(self.counts[0].sum())
        return f"KmerModel(k={self.k}, windows={n:,} (both strands), trained on {len(self.training_chroms)} sequences)"
