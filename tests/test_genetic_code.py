"""The one codon table: NCBI table 1, as Biopython has it, and translation as Biopython does it."""

import itertools

import numpy as np
from Bio.Data.CodonTable import standard_dna_table
from Bio.Seq import translate as bio_translate

from glm_core.genetic_code import GENETIC_CODE, STOP_CODONS, amino_acid_bytes, translate


def test_the_table_is_the_standard_code():
    assert len(GENETIC_CODE) == 64
    assert all(GENETIC_CODE[codon] == amino for codon, amino in standard_dna_table.forward_table.items())
    assert STOP_CODONS == {"TAA", "TAG", "TGA"} == set(standard_dna_table.stop_codons)
    assert GENETIC_CODE["ATG"] == "M" and GENETIC_CODE["TGG"] == "W"


def test_codon_bytes_translate_and_mark_unreadable_codons():
    codons = np.frombuffer(b"ATGTAAGCNTGG", dtype=np.uint8).reshape(-1, 3)
    assert amino_acid_bytes(codons).tobytes() == b"M*XW"


def test_translation_matches_biopython_with_ambiguity_codes():
    rng = np.random.default_rng(0)
    letters = list("ACGTacgtNRYKMSWBDHV")
    for _ in range(50):
        sequence = "".join(rng.choice(letters, 301))
        assert translate(sequence) == bio_translate(sequence[:300])
    every_codon = "".join("".join(c) for c in itertools.product("ACGT", repeat=3))
    assert translate(every_codon) == bio_translate(every_codon)
    assert translate("GCNGAY") == "AD" and translate("RAY") == "B"
