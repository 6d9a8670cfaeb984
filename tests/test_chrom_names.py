"""glm_core.chrom_names: matching a file's chromosome names to the genome's.

Facts checked: ``1``, ``chr1``, ``01`` and ``chr01`` are one chromosome, ``M`` is ``MT``;
an exact name always wins; a name that fits two genome sequences is ambiguous, never guessed.
"""

import pytest

from glm_core.chrom_names import alias_key, resolve_chromosomes


def test_chromosome_aliases():
    sizes = {"chr01": 10, "chr22": 10, "chrM": 10}
    resolved = resolve_chromosomes(["1", "chr1", "01", "chr01", "22", "MT", "chr2", "scaffold_9"], sizes)
    assert resolved["genome_chrom"].tolist() == ["chr01", "chr01", "chr01", "chr01", "chr22", "chrM", None, None]
    assert resolved["match"].tolist() == ["alias", "alias", "alias", "exact", "alias", "alias", "unknown", "unknown"]
    both = resolve_chromosomes(["1", "chr1"], {"chr1": 5, "chr01": 5})
    assert both["match"].tolist() == ["ambiguous", "exact"]  # '1' could be either


@pytest.mark.parametrize(
    "name, key",
    [("chr01", "1"), ("1", "1"), ("Chromosome_7", "7"), ("chrom-12", "12"), ("chrM", "mt"), ("MT", "mt"),
     ("scaffold_9", "scaffold_9"), (" chrX ", "x")],
)
def test_alias_key_drops_prefix_case_and_leading_zeros(name, key):
    assert alias_key(name) == key


def test_each_name_is_reported_once_in_first_seen_order():
    resolved = resolve_chromosomes(["chr22", "22", "chr22", "22"], {"chr22": 100})
    assert resolved.values.tolist() == [["chr22", "chr22", "exact"], ["22", "chr22", "alias"]]
