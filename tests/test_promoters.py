"""Promoter sets, codon adaptation and tags (glm_core/promoters.py).

Facts checked: upstream sequences are strand-aware (reverse complement on the minus strand)
and trimmed at neighbouring genes and chromosome ends; Sharp & Li's CAI on a hand-made
codon table; quantile edges come from training genes only and chr20-chr23 are flagged held
out; user tag tables match by gene name and bin numbers into LOW/MID/HIGH.
"""

import numpy as np
import pandas as pd
import pytest

from glm_core.annotation import Annotation
from glm_core.genome import Genome, reverse_complement
from glm_core.promoters import (
    add_tags,
    bin_values,
    codon_adaptation_index,
    codon_counts,
    load_tag_table,
    matching_ids,
    promoter_table,
    read_tag_table,
    relative_adaptiveness,
    tag_family_column,
    tag_token,
)


def _random_dna(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


@pytest.fixture
def toy(tmp_path):
    """chr01 (1,000 bp): a (+) 301-400, b (-) 501-600, c (+) 701-800; chr20 (200 bp): d (+) 21-100."""
    chr01, chr20 = _random_dna(1000, 1), _random_dna(200, 2)
    (tmp_path / "toy.fa").write_text(f">chr01\n{chr01}\n>chr20\n{chr20}\n")
    genes = [
        ("chr01", "a", 301, 400, "+"),
        ("chr01", "b", 501, 600, "-"),
        ("chr01", "c", 701, 800, "+"),
        ("chr20", "d", 21, 100, "+"),
    ]
    lines = ["##gff-version 3"]
    for chrom, name, start, end, strand in genes:
        lines.append(f"{chrom}\t.\tmRNA\t{start}\t{end}\t.\t{strand}\t.\tID=mRNA:{name};Name={name}")
        lines.append(f"{chrom}\t.\tCDS\t{start}\t{end}\t.\t{strand}\t0\tParent=mRNA:{name}")
    (tmp_path / "toy.gff3").write_text("\n".join(lines) + "\n")
    genome = Genome(tmp_path / "toy.fa")
    return genome, Annotation.from_file(tmp_path / "toy.gff3"), chr01, chr20


def test_promoters_are_strand_aware_and_trimmed_at_neighbours(toy):
    genome, annotation, chr01, chr20 = toy
    table = promoter_table(annotation, genome, upstream=250, min_length=10).set_index("name")
    # a (+): the full 250 bp before its start, as on the plus strand
    assert (table.loc["a", "start"], table.loc["a", "end"]) == (50, 300)
    assert table.loc["a", "sequence"] == chr01[50:300]
    # b (-): upstream is to the right, up to c's start; written as the reverse complement
    assert (table.loc["b", "start"], table.loc["b", "end"]) == (600, 700)
    assert table.loc["b", "sequence"] == reverse_complement(chr01[600:700])
    # c (+): trimmed at b's end
    assert (table.loc["c", "start"], table.loc["c", "end"]) == (600, 700)
    # d: trimmed at the chromosome start, and held out
    assert (table.loc["d", "start"], table.loc["d", "end"], table.loc["d", "length"]) == (0, 20, 20)
    assert table["held_out"].to_dict() == {"a": False, "b": False, "c": False, "d": True}
    # the default minimum length (50 bp) drops d
    assert "d" not in set(promoter_table(annotation, genome, upstream=250)["name"])


def test_cai_on_a_hand_made_codon_table():
    # Ala: GCT x3, GCC x1 in the reference; GCA, GCG unseen -> pseudocount 0.5
    weights = relative_adaptiveness(codon_counts(["GCTGCTGCTGCC"]))
    assert weights["GCT"] == 1.0
    assert weights["GCC"] == pytest.approx(1 / 3)
    assert weights["GCA"] == pytest.approx(0.5 / 3)
    assert np.isnan(weights["ATG"]) and np.isnan(weights["TGG"]) and np.isnan(weights["TAA"])
    # geometric mean over informative codons: Met, Trp and the stop are skipped
    assert codon_adaptation_index("ATGGCTGCCTGGTAA", weights) == pytest.approx(np.sqrt(1 / 3))
    assert codon_adaptation_index("GCTGCT", weights) == 1.0
    # a reading-frame offset skips the bases of an incomplete first codon
    assert codon_adaptation_index("AAGCC", weights, offset=2) == pytest.approx(1 / 3)


def test_quantile_edges_come_from_training_genes_only():
    training = pd.Series([True] * 9 + [False] * 3)
    values = pd.Series(list(range(1, 10)) + [100, -100, 5])
    labels, edges = bin_values(values, training, n_bins=3)
    assert np.allclose(edges, np.quantile(np.arange(1, 10), [1 / 3, 2 / 3]))
    assert labels.tolist() == ["LOW"] * 3 + ["MID"] * 3 + ["HIGH"] * 3 + ["HIGH", "LOW", "MID"]
    # changing held-out values changes neither the edges nor the training labels
    moved, moved_edges = bin_values(values.where(training, 0), training, n_bins=3)
    assert np.allclose(moved_edges, edges) and moved[:9].tolist() == labels[:9].tolist()


def test_tags_keep_the_held_out_split(toy):
    genome, annotation, _, _ = toy
    promoters = promoter_table(annotation, genome, upstream=250, min_length=10)
    tagged = add_tags(promoters, pd.Series([1.0, 2.0, 3.0, 9.0], index=promoters.index), "score", n_bins=3)
    assert tagged.set_index("name")["held_out"].to_dict() == {"a": False, "b": False, "c": False, "d": True}
    assert tagged.set_index("name")["score"].to_dict() == {"a": "LOW", "b": "MID", "c": "HIGH", "d": "HIGH"}
    assert tag_token("CAI", "HIGH") == "<HIGH>" and tag_token("score", "LOW") == "<score=LOW>"


def test_user_tag_table_matches_names_and_rejects_unknown_ids(toy):
    genome, annotation, _, _ = toy
    promoters = promoter_table(annotation, genome, upstream=250, min_length=10)
    labels = pd.DataFrame({"gene": ["a", "mRNA:c", "zzz"], "condition": ["heat up", "down", "up"]})
    tagged = read_tag_table(labels, promoters)
    assert tagged.set_index("name")["condition"].to_dict() == {"a": "heat_up", "c": "down"}
    with pytest.raises(ValueError, match="match a gene"):
        read_tag_table(pd.DataFrame({"gene": ["x1", "x2"], "v": [1, 2]}), promoters)
    assert matching_ids(labels["gene"], promoters) == {"a", "mRNA:c"}


def test_tag_table_reads_the_same_from_a_path_or_bytes(tmp_path):
    content = b"# expression\ngene\tleaf TPM\na\t1.5\nc\t80\n"
    path = tmp_path / "tpm.tsv"
    path.write_bytes(content)
    from_path = load_tag_table(path)
    pd.testing.assert_frame_equal(from_path, load_tag_table(content, "upload.tsv"))
    assert from_path.columns.tolist() == ["gene", "leaf TPM"] and from_path["leaf TPM"].tolist() == [1.5, 80]
    with pytest.raises(FileNotFoundError, match="tag table not found"):
        load_tag_table(tmp_path / "missing.tsv")
    with pytest.raises(ValueError, match="upload.tsv has 1 column"):
        load_tag_table(b"gene\na\n", "upload.tsv")


def test_tag_family_column_is_the_column_read_tag_table_adds(toy, tmp_path):
    genome, annotation, _, _ = toy
    promoters = promoter_table(annotation, genome, upstream=250, min_length=10)
    path = tmp_path / "tpm.tsv"
    path.write_text("gene\tleaf TPM\na\t1.5\nc\t80\n")
    assert tag_family_column(path) == "leaf_TPM"
    assert tag_family_column(path, "stress") == "stress"
    assert tag_family_column(path) in read_tag_table(path, promoters, n_bins=2).columns
