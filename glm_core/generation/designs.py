"""Designed promoters measured against training promoters: identity, shared k-mers, GC, FASTA text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..genome import NUCLEOTIDES, fasta_text, nucleotide_codes


def _code_matrix(sequences, width: int) -> np.ndarray:
    """Sequences right-aligned (at the TSS) in a (n, width) int8 matrix of 0..3 codes, -1 = no base."""
    matrix = np.full((len(sequences), width), -1, dtype=np.int8)
    for i, sequence in enumerate(sequences):
        codes = nucleotide_codes(sequence[-width:])
        matrix[i, width - len(codes) :] = codes
    return matrix


def nearest_identity(designs, references, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """For each design, the most similar reference and their identity.

    Identity is ungapped: sequences aligned at their 3' end (the TSS), identical positions
    over the design's length (a shorter reference counts its missing bases as mismatches).
    Pass the same list twice for pairwise identity among designs; a design is then never
    its own neighbour.

    Returns (index into ``references`` shape=(len(designs),), identity in [0, 1] shape=(len(designs),)).
    """
    designs, references = list(designs), list(references)
    width = max(len(s) for s in designs)
    left, right = _code_matrix(designs, width), _code_matrix(references, width)
    same = designs is references or designs == references
    lengths = np.array([len(s) for s in designs], dtype=np.float64)
    best = np.zeros(len(designs), dtype=np.int64)
    identity = np.zeros(len(designs))
    for first in range(0, len(designs), chunk):
        block = left[first : first + chunk]
        matches = ((block[:, None, :] == right[None, :, :]) & (block[:, None, :] >= 0)).sum(axis=2)
        if same:
            matches[np.arange(len(block)), np.arange(first, first + len(block))] = -1
        best[first : first + chunk] = matches.argmax(axis=1)
        identity[first : first + chunk] = matches.max(axis=1) / lengths[first : first + chunk]
    return best, identity


def shares_kmer(designs, references, k: int = 50) -> np.ndarray:
    """True where a design shares at least one exact k-mer (given strand) with any reference, shape=(len(designs),)."""
    seen = {hash(s[i : i + k]) for s in references for i in range(len(s) - k + 1)}
    return np.array([any(hash(s[i : i + k]) in seen for i in range(len(s) - k + 1)) for s in designs])


def gc_fraction(sequences) -> np.ndarray:
    """G+C over A/C/G/T bases per sequence, shape=(len(sequences),)."""
    return np.array([(s.count("G") + s.count("C")) / max(1, sum(s.count(b) for b in NUCLEOTIDES)) for s in sequences])


def describe_designs(designs: pd.DataFrame, oracle, training_promoters: pd.DataFrame, k: int = 50) -> pd.DataFrame:
    """Designs with ``oracle_score`` (and ``P(label)``), ``gc``, ``nearest_gene``, ``nearest_identity``
    and ``shares_50mer`` (against ``training_promoters``' ``sequence``); a new table."""
    table = designs.reset_index(drop=True).copy()
    if oracle is not None:
        table = pd.concat([table, oracle.predict_table(table["sequence"])], axis=1)
    table["gc"] = gc_fraction(table["sequence"])
    references = training_promoters["sequence"].tolist()
    nearest, identity = nearest_identity(table["sequence"].tolist(), references)
    table["nearest_gene"] = training_promoters["name"].to_numpy()[nearest]
    table["nearest_identity"] = identity
    table[f"shares_{k}mer"] = shares_kmer(table["sequence"], references, k)
    return table


def designs_fasta(table: pd.DataFrame, seed: int | None = None) -> str:
    """FASTA text of a design table (``design_id``, ``tags``, ``sequence`` [, ``guidance``, ``oracle_score``]);
    ``seed``, when given, is written in every header as the sampling seed."""
    records = {}
    seed_field = "" if seed is None else f" seed={seed}"
    for row in table.itertuples(index=False):
        guidance = f" guidance={row.guidance:g}" if hasattr(row, "guidance") else ""
        score = f" oracle_score={row.oracle_score:.3f}" if hasattr(row, "oracle_score") else ""
        records[f"{row.design_id} tags={row.tags}{guidance}{seed_field}{score}"] = row.sequence
    return fasta_text(records, width=80)
