"""glm_core.gff: GFF3 and GTF files into the feature table.

Facts checked: file coordinates (1-based inclusive) become 0-based half-open; gzip and a
trailing ``##FASTA`` section read like the plain file; every malformed line is refused with
the file, line and fix; URL-encoded descriptions are decoded; the GFF3 and the GTF of
tests/data describe the same genes, transcripts, exons and coding bases (GTF's stop codons
included), so either file gives the same feature facts.
"""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core.errors import InputError
from glm_core.file_formats import sniff_format
from glm_core.gff import FEATURE_COLUMNS, empty_feature_table, fasta_section_line, read_annotation, write_fasta_section

DATA = Path(__file__).parent / "data"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gff3_coordinates_become_0_based_half_open():
    table = read_annotation(DATA / "tiny.gff3")
    assert list(table.columns) == FEATURE_COLUMNS
    gene = table.iloc[0]
    # File line 4: "chrT test gene 41 160" -> [40, 160).
    assert (gene["feature"], gene["start"], gene["end"], gene["line"]) == ("gene", 40, 160, 4)
    assert gene["id"] == "gene:geneA" and gene["name"] == "alpha1"
    # Note=alpha+test+protein%2C+plus+strand is URL-encoded.
    assert gene["description"] == "alpha test protein, plus strand"
    cds = table[table["feature"] == "CDS"]
    assert cds["phase"].tolist() == [0, 1, 0, 2]
    assert table["phase"].dtype == "Int64" and table.loc[0, "phase"] is pd.NA
    assert cds["parent"].tolist() == ["transcript:txA"] * 2 + ["transcript:txB"] * 2
    assert np.isnan(table["score"]).all()


def test_gzip_and_embedded_fasta_section_read_like_plain_gff3(tmp_path):
    plain = read_annotation(DATA / "tiny.gff3")
    packed = tmp_path / "tiny.gff3.gz"
    packed.write_bytes(gzip.compress((DATA / "tiny.gff3").read_bytes()))
    pd.testing.assert_frame_equal(read_annotation(packed), plain)
    with_fasta = tmp_path / "with_fasta.gff3"
    with_fasta.write_text((DATA / "tiny.gff3").read_text() + "##FASTA\n" + (DATA / "tiny.fa").read_text())
    pd.testing.assert_frame_equal(read_annotation(with_fasta), plain)


GOOD_LINE = "chrT\ttest\tCDS\t51\t70\t.\t+\t0\tParent=tx1"


@pytest.mark.parametrize(
    "line, message",
    [
        ("chrT\ttest\tCDS\t51\t70\t.\t+\t0", r"line 3: expected 9 tab-separated columns, found 8"),
        ("chrT test CDS 51 70 . + 0 Parent=tx1", r"line 3: expected 9 tab-separated columns, found 1"),
        ("chrT\ttest\tCDS\t5x\t70\t.\t+\t0\tParent=tx1", r"line 3: start '5x' is not an integer"),
        ("chrT\ttest\tCDS\t51\t7.5\t.\t+\t0\tParent=tx1", r"line 3: end '7.5' is not an integer"),
        ("chrT\ttest\tCDS\t0\t70\t.\t+\t0\tParent=tx1", r"line 3: start 0 is below 1.*1-based"),
        ("chrT\ttest\tCDS\t71\t70\t.\t+\t0\tParent=tx1", r"line 3: end 70 is before start 71"),
        ("chrT\ttest\tCDS\t51\t70\t.\t?\t0\tParent=tx1", r"line 3: strand '\?' is not one of \+ - \."),
        ("chrT\ttest\tCDS\t51\t70\t.\t.\t0\tParent=tx1", r"line 3: CDS has strand '\.'.*set column 7 to \+ or -"),
        ("chrT\ttest\tmRNA\t51\t70\t.\t.\t.\tID=tx1", r"line 3: mRNA has strand '\.'"),
        ("chrT\ttest\tCDS\t51\t70\t.\t+\t3\tParent=tx1", r"line 3: phase '3' is not one of 0 1 2 \."),
        ("chrT\ttest\tCDS\t51\t70\thigh\t+\t0\tParent=tx1", r"line 3: score 'high' is not a number"),
    ],
)
def test_malformed_lines_name_the_file_line_and_fix(tmp_path, line, message):
    path = write(tmp_path / "broken.gff3", ["##gff-version 3", GOOD_LINE, line])
    with pytest.raises(InputError, match=r"broken\.gff3, " + message):
        read_annotation(path)


def test_unstranded_non_transcript_features_are_allowed(tmp_path):
    path = write(
        tmp_path / "repeats.gff3",
        [GOOD_LINE, "chrT\ttest\trepeat_region\t1\t30\t.\t.\t.\tID=rep1;Note=simple+repeat"],
    )
    table = read_annotation(path)
    assert table["strand"].tolist() == ["+", "."]
    assert table.loc[1, "description"] == "simple repeat"


def test_missing_annotation_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.gff3"):
        read_annotation(tmp_path / "absent.gff3")


def test_gtf_is_detected_from_its_attribute_syntax(tmp_path):
    renamed = tmp_path / "tiny.gff3"  # a GTF behind a GFF3 name
    renamed.write_bytes((DATA / "tiny.gtf").read_bytes())
    table = read_annotation(renamed)
    assert table["gene_id"].iloc[0] == "geneA" and table["parent"].iloc[0] == "txA"
    pd.testing.assert_frame_equal(table, read_annotation(DATA / "tiny.gtf", format="gtf"))
    with pytest.raises(InputError, match="format must be 'gff3', 'gtf', 'gff2' or None"):
        read_annotation(renamed, format="bed")


def coding_bases(table: pd.DataFrame) -> dict[str, set[int]]:
    """0-based positions covered by CDS or stop_codon lines, per transcript (ID prefix dropped)."""
    bases: dict[str, set[int]] = {}
    coding = table[table["feature"].isin(["CDS", "stop_codon"])]
    for parent, start, end in coding[["parent", "start", "end"]].itertuples(index=False):
        bases.setdefault(parent.removeprefix("transcript:"), set()).update(range(start, end))
    return bases


def test_gff3_and_gtf_of_the_test_data_give_the_same_genes_and_transcripts():
    gff3, gtf = read_annotation(DATA / "tiny.gff3"), read_annotation(DATA / "tiny.gtf")

    def exons(table):
        rows = table[table["feature"] == "exon"]
        return sorted(zip(rows["parent"].str.removeprefix("transcript:"), rows["start"], rows["end"], rows["strand"]))

    assert (
        exons(gff3)
        == exons(gtf)
        == [
            ("txA", 40, 70, "+"),
            ("txA", 90, 160, "+"),
            ("txB", 200, 240, "-"),
            ("txB", 260, 320, "-"),
            ("txC", 350, 362, "+"),
            ("txC", 372, 390, "+"),
        ]
    )
    # GTF keeps the stop codon out of CDS (its own line); the coding bases are the same.
    assert coding_bases(gff3) == coding_bases(gtf)
    assert {len(bases) for bases in coding_bases(gtf).values()} == {60}  # 20 codons each
    # Genes: GFF3 through Parent -> gene Name; GTF through gene_id and gene_name.
    gene_lines = gff3[gff3["feature"].str.endswith("gene")].set_index("id")["name"]
    transcripts = gff3[gff3["feature"].isin(["mRNA", "ncRNA"])]
    gff3_genes = dict(zip(transcripts["id"].str.removeprefix("transcript:"), transcripts["parent"].map(gene_lines)))
    parts = gtf[gtf["feature"] != "transcript"]  # a GTF transcript line's parent is its gene
    gtf_genes = parts.drop_duplicates("parent").set_index("parent")["name"].to_dict()
    assert gff3_genes == gtf_genes == {"txA": "alpha1", "txB": "beta2", "txC": "gamma"}
    assert sorted(pd.unique(gtf["gene_id"])) == ["geneA", "geneB", "geneC"]
    assert np.array_equal(gtf["line"], np.arange(2, len(gtf) + 2))  # line 1 is a comment


def test_file_without_features_is_refused_and_the_empty_table_keeps_the_columns(tmp_path):
    with pytest.raises(InputError, match=r"empty\.gff3: no annotation features in its 2 lines"):
        read_annotation(write(tmp_path / "empty.gff3", ["##gff-version 3", "# nothing here"]))
    table = empty_feature_table()
    assert list(table.columns) == FEATURE_COLUMNS and len(table) == 0
    assert table["start"].dtype == np.int64 and table["phase"].dtype == "Int64"


def test_one_id_on_two_sequences_is_refused_not_merged(tmp_path):
    path = write(
        tmp_path / "clash.gff3",
        [
            "##gff-version 3",
            "chrT\ttest\tmRNA\t11\t90\t.\t+\t.\tID=tx1",
            "chrT\ttest\tCDS\t11\t90\t.\t+\t0\tParent=tx1",
            "chrU\ttest\tmRNA\t11\t60\t.\t-\t.\tID=tx1",
            "chrU\ttest\tCDS\t11\t60\t.\t-\t0\tParent=tx1",
        ],
    )
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"clash\.gff3, lines 2 and 4: ID 'tx1' is used on chrT and on chrU"):
        read_annotation(path)
    assert path.read_bytes() == before


def test_a_cds_split_over_lines_may_share_its_id_on_one_sequence():
    table = read_annotation(DATA / "tiny.gff3")
    assert (table["id"] == "cds:txA").sum() == 2  # two CDS lines, one feature


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("a.gff", "##gff-version 3\nchrT\tt\tgene\t1\t9\t.\t+\t.\tID=g\n", "gff3"),
        ("a.gff", 'chrT\tt\texon\t1\t9\t.\t+\t.\tgene_id "g"; transcript_id "t";\n', "gtf"),
        ("a.gff", 'chrT\tJGI\texon\t1\t9\t.\t+\t.\tname "g"; transcriptId 12\n', "gff2"),
        ("a.gtf", "chrT\tt\texon\t1\t9\t.\t+\t.\t.\n", "gtf"),
        ("a.txt", ">chrT\nACGT\n", "fasta"),
        ("a.fa", "\n\n", "empty"),
        ("a.fa", "hello world\n", "unknown"),
        ("prokka.gff", "##gff-version 3\n##FASTA\n>c1\nACGT\n", "gff3"),
    ],
)
def test_sniff_format_reads_the_content_not_the_name(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    assert sniff_format(path) == expected
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress(text.encode()))
    assert sniff_format(packed) == expected


def test_fasta_or_unknown_file_as_annotation_says_what_it_is(tmp_path):
    with pytest.raises(InputError, match=r"tiny\.fa is a FASTA file .*not an annotation"):
        read_annotation(DATA / "tiny.fa")
    with pytest.raises(InputError, match=r"notes\.gff: not a GFF3, GTF or GFF2 annotation \(it starts with 'hello'\)"):
        read_annotation(write(tmp_path / "notes.gff", ["hello", "world"]))


def test_jgi_gff2_lines_get_transcripts_by_transcript_id_and_gene_name(tmp_path):
    path = write(
        tmp_path / "jgi.gff",
        [
            'scaffold_1\tJGI\texon\t101\t200\t.\t+\t.\tname "geneX"; transcriptId 11',
            'scaffold_1\tJGI\tCDS\t131\t200\t.\t+\t0\tname "geneX"; proteinId 11; exonNumber 1',
            'scaffold_1\tJGI\tstop_codon\t198\t200\t.\t+\t0\tname "geneX"',
            # Two transcripts of one name: a CDS line joins the one whose ID its proteinId is.
            'scaffold_1\tJGI\texon\t301\t400\t.\t-\t.\tname "geneY"; transcriptId 21',
            'scaffold_1\tJGI\texon\t301\t380\t.\t-\t.\tname "geneY"; transcriptId 22',
            'scaffold_1\tJGI\tCDS\t311\t380\t.\t-\t0\tname "geneY"; proteinId 22',
        ],
    )
    table = read_annotation(path)
    assert table["parent"].tolist() == ["11", "11", "11", "21", "22", "22"]
    assert table["gene_id"].tolist() == ["geneX"] * 3 + ["geneY"] * 3
    assert table["name"].tolist() == table["gene_id"].tolist()


def test_prokka_gff3_sequences_are_copied_with_their_line_offset(tmp_path):
    lines = ["##gff-version 3", GOOD_LINE.replace("Parent=tx1", "ID=c1"), "##FASTA", ">chrT", "ACGT"]
    gff = write(tmp_path / "p.gff", lines)
    assert fasta_section_line(gff) == 3
    offset = write_fasta_section(gff, tmp_path / "cache" / "p.fa")
    assert offset == 3 and (tmp_path / "cache" / "p.fa").read_text() == ">chrT\nACGT\n"
    assert len(read_annotation(gff)) == 1
