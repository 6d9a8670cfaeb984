"""The standard genetic code (NCBI table 1), the one codon table of ``glm_core``.

Codons are upper-case DNA triplets on the coding strand; amino acids are one-letter codes
with ``*`` for stop. Used by the consequence predictor, codon-usage (CAI) tags and CDS
translation.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from .genome import NUCLEOTIDES, nucleotide_codes

__all__ = ["GENETIC_CODE", "STOP_CODONS", "amino_acid_bytes", "translate"]

# NCBI translation table 1, codons in TCAG order (first base slowest), as NCBI prints it.
_TCAG_AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
GENETIC_CODE: dict[str, str] = {
    "".join(codon): amino for codon, amino in zip(product("TCAG", repeat=3), _TCAG_AMINO_ACIDS)
}
STOP_CODONS = frozenset(codon for codon, amino in GENETIC_CODE.items() if amino == "*")

# ASCII amino acid of each codon number 16*b1 + 4*b2 + b3 (A=0, C=1, G=2, T=3).
_AMINO_ACID_OF_CODON = np.array(
    [ord(GENETIC_CODE["".join(codon)]) for codon in product(NUCLEOTIDES, repeat=3)], dtype=np.uint8
)


def amino_acid_bytes(codons: np.ndarray) -> np.ndarray:
    """ASCII amino acid of each codon, shape=(n, 3) uint8 -> (n,) uint8; ``X`` if a base is not A/C/G/T."""
    codes = nucleotide_codes(np.ascontiguousarray(codons).tobytes().decode("ascii")).reshape(-1, 3).astype(np.int64)
    index = (codes[:, 0] << 4) | (codes[:, 1] << 2) | codes[:, 2]
    return np.where((codes >= 0).all(axis=1), _AMINO_ACID_OF_CODON[np.clip(index, 0, 63)], ord("X")).astype(np.uint8)


_IUPAC_BASES = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "U": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}


# IUPAC amino-acid ambiguity codes: Asx, Glx, Xle.
_AMBIGUOUS_AMINO_ACIDS = {frozenset("DN"): "B", frozenset("EQ"): "Z", frozenset("IL"): "J"}


def _ambiguous_amino_acid(codon: str) -> str:
    """The amino acid every reading of an IUPAC codon agrees on (``ACN`` -> ``T``), else ``X``."""
    choices = [_IUPAC_BASES.get(base, "") for base in codon]
    aminos = frozenset(GENETIC_CODE["".join(bases)] for bases in product(*choices)) if all(choices) else frozenset()
    return next(iter(aminos)) if len(aminos) == 1 else _AMBIGUOUS_AMINO_ACIDS.get(aminos, "X")


def translate(sequence: str) -> str:
    """Protein of a coding sequence read from its first base, whole codons only (a trailing
    partial codon is dropped); ``*`` for stop codons (translation does not stop). A codon with
    IUPAC codes gets the amino acid all its readings share (or ``B``/``Z``/``J``), else ``X``,
    as Biopython translates. Either case."""
    usable = len(sequence) - len(sequence) % 3
    upper = sequence[:usable].upper()
    codons = np.frombuffer(upper.encode("ascii"), dtype=np.uint8).reshape(-1, 3)
    protein = amino_acid_bytes(codons).tobytes().decode("ascii")
    if "X" not in protein:
        return protein
    return "".join(
        _ambiguous_amino_acid(upper[3 * i : 3 * i + 3]) if amino == "X" else amino for i, amino in enumerate(protein)
    )
