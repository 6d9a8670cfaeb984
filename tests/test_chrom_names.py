"""glm_core.chrom_names: matching a file's chromosome names to the genome's.

Facts checked: ``1``, ``chr1``, ``01`` and ``chr01`` are one chromosome, ``M`` is ``MT``;
an exact name always wins; a name that fits two genome sequences is ambiguous, never guessed.
"""

import pytest

import pandas as pd

from glm_core.chrom_names import alias_key, propose_name_mapping, read_aliases, rename_sequences, resolve_chromosomes
from glm_core.errors import InputError


def test_chromosome_aliases():
    sizes = {"chr01": 10, "chr22": 10, "chrM": 10}
    resolved = resolve_chromosomes(["1", "chr1", "01", "chr01", "22", "MT", "chr2", "scaffold_9"], sizes)
    assert resolved["genome_chrom"].tolist() == ["chr01", "chr01", "chr01", "chr01", "chr22", "chrM", None, None]
    assert resolved["match"].tolist() == ["alias", "alias", "alias", "exact", "alias", "alias", "unknown", "unknown"]
    both = resolve_chromosomes(["1", "chr1"], {"chr1": 5, "chr01": 5})
    assert both["match"].tolist() == ["ambiguous", "exact"]  # '1' could be either


@pytest.mark.parametrize(
    "name, key",
    [
        ("chr01", "1"),
        ("1", "1"),
        ("Chromosome_7", "7"),
        ("chrom-12", "12"),
        ("chrM", "mt"),
        ("MT", "mt"),
        ("scaffold_9", "scaffold_9"),
        (" chrX ", "x"),
    ],
)
def test_alias_key_drops_prefix_case_and_leading_zeros(name, key):
    assert alias_key(name) == key


def test_each_name_is_reported_once_in_first_seen_order():
    resolved = resolve_chromosomes(["chr22", "22", "chr22", "22"], {"chr22": 100})
    assert resolved.values.tolist() == [["chr22", "chr22", "exact"], ["22", "chr22", "alias"]]


# ---------------------------------------------------------------- FASTA names versus annotation names

DEBIAN_FASTA = ["Umaydis:chr01:1:+:2476500", "Umaydis:chr02:1:+:1887501", "Umaydis:chr10:1:+:905000"]


def test_debian_headers_map_by_their_second_colon_field():
    mapping = propose_name_mapping(DEBIAN_FASTA, ["chr01", "chr02", "chr03"])
    assert mapping.table.to_dict("records") == [
        {"annotation_name": "chr01", "fasta_name": "Umaydis:chr01:1:+:2476500", "rule": "FASTA ':'-field 2"},
        {"annotation_name": "chr02", "fasta_name": "Umaydis:chr02:1:+:1887501", "rule": "FASTA ':'-field 2"},
        {"annotation_name": "chr03", "fasta_name": None, "rule": "unmatched"},
    ]
    assert mapping.unmatched_annotation == ["chr03"]
    assert mapping.unmatched_fasta == ["Umaydis:chr10:1:+:905000"]
    assert mapping.describe() == "2 of 3 annotation sequence names mapped (FASTA ':'-field 2), 1 unmatched: chr03"


@pytest.mark.parametrize(
    "fasta, annotation, rule",
    [
        (["Um_chr01", "Um_chr02"], ["chr01", "chr02"], "FASTA names without the prefix 'Um_'"),
        (["chr01_pilon", "chr02_pilon"], ["chr01", "chr02"], "FASTA names without the suffix '_pilon'"),
        (["NC_003070.9", "NC_003071.7"], ["NC_003070", "NC_003071"], "version suffix ignored"),
        (["chr1", "chr2"], ["1", "2"], "'chr' and leading zeros ignored"),
        (["1", "2"], ["chr01", "chr02"], "'chr' and leading zeros ignored"),
        (["chr01", "chr02"], ["Umaydis:chr01", "Umaydis:chr02"], "annotation ':'-field 2"),
    ],
)
def test_systematic_name_differences_are_found(fasta, annotation, rule):
    mapping = propose_name_mapping(fasta, annotation)
    assert mapping.mapping == dict(zip(annotation, fasta))
    assert set(mapping.table["rule"]) == {rule}


def test_equal_names_match_first_and_an_ambiguous_key_matches_nothing():
    mapping = propose_name_mapping(["chr1", "chrM", "chr01", "scaffold_9"], ["chrM", "1"])
    assert mapping.table["fasta_name"].tolist() == ["chrM", None]  # '1' could be chr1 or chr01
    assert mapping.renames == {}


def test_aliases_file_in_either_column_order(tmp_path):
    path = tmp_path / "aliases.txt"
    path.write_text("# annotation  FASTA\nchr01\tUmaydis:chr01:1:+:2476500\nUmaydis:chr02:1:+:1887501 chr02\n\n")
    mapping = read_aliases(path, DEBIAN_FASTA, ["chr01", "chr02", "chr10"])
    assert mapping.mapping == {"chr01": DEBIAN_FASTA[0], "chr02": DEBIAN_FASTA[1]}
    assert mapping.table["rule"].tolist() == ["aliases file", "aliases file", "unmatched"]
    path.write_text("chr01 Umaydis:chr01:1:+:2476500 extra\n")
    with pytest.raises(InputError, match=r"aliases\.txt, line 1: expected two names.*found 3"):
        read_aliases(path, DEBIAN_FASTA, ["chr01"])
    path.write_text("chr01\tchrX\n")
    with pytest.raises(InputError, match=r"line 1: neither 'chr01' nor 'chrX' is a sequence of the FASTA file"):
        read_aliases(path, DEBIAN_FASTA, ["chr01"])


def test_rename_sequences_returns_a_renamed_copy():
    table = pd.DataFrame({"chrom": ["chr01", "chr02", "other"], "start": [0, 5, 9]})
    renamed = rename_sequences(table, {"chr01": DEBIAN_FASTA[0], "chr02": DEBIAN_FASTA[1]})
    assert renamed["chrom"].tolist() == DEBIAN_FASTA[:2] + ["other"]
    assert table["chrom"].tolist() == ["chr01", "chr02", "other"]  # the caller's table is unchanged
