"""GFF3/GTF reading, transcript models, translation, search and region classes.

``tests/data/tiny.fa`` + ``tiny.gff3`` (and the same models in ``tiny.gtf``) hold, on chrT
(420 bp) and an empty chrU (50 bp), 0-based half-open:

* txA (+): exons [40,70) [90,160), CDS [50,70) [90,130) -> MAWQLKDRFGPYENIVHCA*
* txB (-): exons [260,320) [200,240), CDS [260,300) [220,240) -> MKPWDLQGIRSEYWAKFHV*
* txC (+, ncRNA): exons [350,362) [372,390)
"""

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core.annotation import (
    FEATURE_COLUMNS,
    REGION_CLASSES,
    TRANSCRIPT_COLUMNS,
    Annotation,
    CoveringIntervals,
    read_annotation,
)

DATA = Path(__file__).parent / "data"
TINY_SIZES = {"chrT": 420, "chrU": 50}






def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- reading


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


def test_embedded_annotation_counts(embedded_annotation):
    features = embedded_annotation.features
    assert (features["feature"] == "mRNA").sum() == 6787
    assert (features["feature"] == "CDS").sum() == 9778
    assert len(embedded_annotation.transcripts) == 6787
    assert len(embedded_annotation.cds_table) == 9778
    # No exon lines: exons are derived from the CDS, one per CDS line except where lines
    # overlap (um15079's three overlapping lines make one exon).
    assert embedded_annotation.transcripts["n_exons"].sum() == 9778 - 2
    assert embedded_annotation.features["description"].str.contains(r"\+").sum() == 0
    um10944 = embedded_annotation.transcripts.set_index("transcript_id").loc["mRNA:um10944"]
    assert um10944["name"] == "um10944"
    assert um10944["description"] == "related to protein phosphatase methylesterase 1"
    assert (um10944["chrom"], um10944["start"], um10944["end"], um10944["strand"]) == ("chr01", 2631, 4026, "+")


def test_gtf_gives_the_same_transcript_models_as_gff3(tiny_annotation):
    from_gtf = Annotation.from_file(DATA / "tiny.gtf")
    plain_id = lambda table: table.assign(transcript_id=table["transcript_id"].str.replace("transcript:", ""))
    columns = ["transcript_id", "chrom", "start", "end", "strand", "cds_start", "cds_end", "n_exons"]
    pd.testing.assert_frame_equal(from_gtf.transcripts[columns], plain_id(tiny_annotation.transcripts)[columns])
    pd.testing.assert_frame_equal(from_gtf.exon_table, plain_id(tiny_annotation.exon_table))
    # GTF leaves the stop codon out of CDS; it is merged back in.
    pd.testing.assert_frame_equal(from_gtf.cds_table, plain_id(tiny_annotation.cds_table))
    assert from_gtf.transcripts["gene_id"].tolist() == ["geneA", "geneB", "geneC"]
    assert from_gtf.transcripts["name"].tolist() == ["alpha1", "beta2", "gamma"]


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
    with pytest.raises(ValueError, match=r"broken\.gff3, " + message):
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


def test_parts_on_another_strand_than_their_transcript_are_rejected(tmp_path):
    path = write(
        tmp_path / "mixed.gff3",
        ["chrT\ttest\tmRNA\t41\t160\t.\t+\t.\tID=tx1", "chrT\ttest\tCDS\t51\t70\t.\t-\t0\tParent=tx1"],
    )
    with pytest.raises(ValueError, match=r"mixed\.gff3, line 2: CDS of tx1 lies on chrT strand -, but the transcript"):
        Annotation.from_file(path)


# ---------------------------------------------------------------- transcript models


def test_tiny_transcripts_table(tiny_annotation):
    expected = pd.DataFrame(
        {
            "transcript_id": ["transcript:txA", "transcript:txB", "transcript:txC"],
            "gene_id": ["gene:geneA", "gene:geneB", "gene:geneC"],
            "name": ["alpha1", "beta2", "gammaRNA"],
            "description": ["alpha test protein, plus strand", "beta test protein on the minus strand", np.nan],
            "chrom": ["chrT"] * 3,
            "start": np.array([40, 200, 350], dtype=np.int64),
            "end": np.array([160, 320, 390], dtype=np.int64),
            "strand": ["+", "-", "+"],
            "cds_start": pd.array([50, 220, pd.NA], dtype="Int64"),
            "cds_end": pd.array([130, 300, pd.NA], dtype="Int64"),
            "n_exons": np.array([2, 2, 2], dtype=np.int64),
        }
    )
    assert list(tiny_annotation.transcripts.columns) == TRANSCRIPT_COLUMNS
    pd.testing.assert_frame_equal(tiny_annotation.transcripts, expected, check_dtype=False)


def test_exons_and_cds_come_in_transcription_order(tiny_annotation):
    minus_exons = tiny_annotation.exons("transcript:txB")
    assert list(minus_exons.columns) == ["chrom", "start", "end"]
    assert minus_exons[["start", "end"]].values.tolist() == [[260, 320], [200, 240]]
    minus_cds = tiny_annotation.cds("transcript:txB")
    assert minus_cds[["start", "end"]].values.tolist() == [[260, 300], [220, 240]]
    assert minus_cds["phase"].tolist() == [0, 2]
    assert tiny_annotation.cds("transcript:txA")[["start", "end"]].values.tolist() == [[50, 70], [90, 130]]
    assert tiny_annotation.cds("transcript:txC").empty


def test_tiny_genes_translate_on_both_strands(tiny_annotation, tiny_genome):
    # txA's codon 7 is GA|T across the exon junction; txB's codon 14 is T|GG.
    assert tiny_annotation.cds_sequence(tiny_genome, "transcript:txA")[18:21] == "GAT"
    assert tiny_annotation.cds_sequence(tiny_genome, "transcript:txB")[39:42] == "TGG"
    assert tiny_annotation.protein_sequence(tiny_genome, "transcript:txA") == "MAWQLKDRFGPYENIVHCA*"
    assert tiny_annotation.protein_sequence(tiny_genome, "transcript:txB") == "MKPWDLQGIRSEYWAKFHV*"
    with pytest.raises(ValueError, match="transcript:txC has no CDS"):
        tiny_annotation.cds_sequence(tiny_genome, "transcript:txC")


def test_unknown_transcript_suggests_matches(tiny_annotation):
    with pytest.raises(KeyError, match=r"no transcript 'txA'.*did you mean transcript:txA"):
        tiny_annotation.exons("txA")


def test_minus_strand_dead_box_helicase_translates_despite_wrong_gff_phase(embedded_annotation, embedded_genome):
    # um10095, "probable RNA helicase dbp2 (DEAD box protein)": chr01, minus strand, 3 CDS parts.
    cds = embedded_annotation.cds("mRNA:um10095")
    assert cds[["start", "end"]].values.tolist() == [[856561, 857882], [854924, 854945], [854516, 854833]]
    # The file gives phase 0 to the last part; the spliced frame needs 2 (1321 + 21 = 1342 bases before it).
    assert cds["phase"].tolist() == [0, 2, 0]
    protein = embedded_annotation.protein_sequence(embedded_genome, "mRNA:um10095")
    assert protein.startswith("M") and protein.endswith("*") and protein.count("*") == 1
    assert len(protein) * 3 == len(embedded_annotation.cds_sequence(embedded_genome, "mRNA:um10095")) == 1659
    assert "VMDEADRML" in protein  # motif II of DEAD-box helicases


def test_overlapping_cds_lines_encode_a_frameshift(embedded_annotation, embedded_genome):
    # um15079 (chr05, -) has CDS lines 840100-840118, 840118-840125 and 840125-840152 (1-based):
    # each overlaps the next by one base, which the protein needs read twice.
    cds = embedded_annotation.cds("mRNA:um15079")
    assert cds[["start", "end"]].values.tolist()[-3:] == [[840124, 840152], [840117, 840125], [840099, 840118]]
    spliced = embedded_annotation.cds_sequence(embedded_genome, "mRNA:um15079")
    assert len(spliced) == (cds["end"] - cds["start"]).sum() == 765
    protein = embedded_annotation.protein_sequence(embedded_genome, "mRNA:um15079")
    assert protein.startswith("M") and protein.endswith("HEWRSPEL*") and protein.count("*") == 1


def test_start_and_single_stop_over_all_genes(embedded_annotation, embedded_genome):
    sequences = embedded_annotation.cds_sequences(embedded_genome)
    from Bio.Seq import translate

    proteins = sequences.map(lambda s: translate(s[: len(s) - len(s) % 3]))
    complete = proteins.str.startswith("M") & proteins.str.endswith("*") & (proteins.str.count(r"\*") == 1)
    chrom = embedded_annotation.transcripts.set_index("transcript_id")["chrom"].reindex(complete.index)
    per_chrom = complete.groupby(chrom).mean()
    assert complete.mean() > 0.93
    # Beyond about 690 kb the chr03 annotation is 94-97 bp behind the FASTA (an assembly
    # version mismatch in the source files), so only chr03 falls short.
    assert (per_chrom.drop("chr03")[per_chrom.drop("chr03").index.str.startswith("chr")] > 0.97).all()
    chr03 = embedded_annotation.transcripts.set_index("transcript_id").loc[complete.index]
    before_shift = (chr03["chrom"] == "chr03") & (chr03["end"] < 680_000)
    assert complete[before_shift.to_numpy()].mean() > 0.97


# ---------------------------------------------------------------- search and tracks


def test_search_finds_ribosomal_proteins(embedded_annotation):
    hits = embedded_annotation.search("Ribosomal Protein", limit=500)
    assert len(hits) > 40
    assert hits["description"].str.lower().str.contains("ribosomal").all()
    assert hits["description"].str.contains("40S ribosomal protein").any()
    assert hits["description"].str.contains("60S ribosomal protein").any()
    assert len(embedded_annotation.search("ribosomal protein", limit=5)) == 5


def test_search_ranks_an_exact_id_first(embedded_annotation):
    hits = embedded_annotation.search("um10944")
    assert hits.iloc[0]["transcript_id"] == "mRNA:um10944"
    assert embedded_annotation.search("mRNA:UM10944").iloc[0]["transcript_id"] == "mRNA:um10944"
    # "um1094" is a prefix of um10940..um10949: all found, none exact.
    assert set(embedded_annotation.search("um1094")["name"]) >= {"um10944", "um10945", "um10946"}
    assert embedded_annotation.search("no such protein anywhere").empty
    assert embedded_annotation.search("   ").empty


def test_search_matches_words_in_any_order(tiny_annotation):
    assert tiny_annotation.search("strand minus")["name"].tolist() == ["beta2"]
    assert tiny_annotation.search("ALPHA")["name"].tolist() == ["alpha1"]


def test_region_features_lists_overlapping_transcripts_exons_and_cds(tiny_annotation):
    features = tiny_annotation.region_features("chrT", 60, 95)
    assert features[["feature", "start", "end"]].values.tolist() == [
        ["transcript", 40, 160],
        ["exon", 40, 70],
        ["exon", 90, 160],
        ["CDS", 50, 70],
        ["CDS", 90, 130],
    ]
    assert set(features["name"]) == {"alpha1"}
    assert tiny_annotation.region_features("chrT", 160, 200).empty
    assert tiny_annotation.region_features("chrU", 0, 50).empty


# ---------------------------------------------------------------- region classes


def test_tiny_region_classes(tiny_annotation):
    tiles = tiny_annotation.region_classes(TINY_SIZES, promoter_length=10, downstream_length=10)
    expected = [
        ("chrT", 0, 30, "intergenic"),
        ("chrT", 30, 40, "promoter"),  # txA starts at 40 on +
        ("chrT", 40, 50, "five_prime_UTR"),
        ("chrT", 50, 70, "CDS"),
        ("chrT", 70, 90, "intron"),
        ("chrT", 90, 130, "CDS"),
        ("chrT", 130, 160, "three_prime_UTR"),
        ("chrT", 160, 170, "downstream"),
        ("chrT", 170, 190, "intergenic"),
        ("chrT", 190, 200, "downstream"),  # txB (-) ends at its left end, 200
        ("chrT", 200, 220, "three_prime_UTR"),
        ("chrT", 220, 240, "CDS"),
        ("chrT", 240, 260, "intron"),
        ("chrT", 260, 300, "CDS"),
        ("chrT", 300, 320, "five_prime_UTR"),
        ("chrT", 320, 330, "promoter"),  # txB's promoter lies to its right
        ("chrT", 330, 340, "intergenic"),
        ("chrT", 340, 350, "promoter"),
        ("chrT", 350, 362, "non_coding_exon"),
        ("chrT", 362, 372, "intron"),
        ("chrT", 372, 390, "non_coding_exon"),
        ("chrT", 390, 400, "downstream"),
        ("chrT", 400, 420, "intergenic"),
        ("chrU", 0, 50, "intergenic"),
    ]
    assert [tuple(row) for row in tiles.astype({"region_class": str}).itertuples(index=False)] == expected


def test_promoter_is_clipped_at_the_chromosome_ends_and_outranked_by_exons(tmp_path):
    path = write(
        tmp_path / "edges.gff3",
        [
            "chrT\ttest\tmRNA\t6\t20\t.\t+\t.\tID=left",
            "chrT\ttest\tCDS\t6\t20\t.\t+\t0\tParent=left",
            "chrT\ttest\tmRNA\t26\t95\t.\t-\t.\tID=right",
            "chrT\ttest\tCDS\t26\t95\t.\t-\t0\tParent=right",
        ],
    )
    tiles = Annotation.from_file(path).region_classes({"chrT": 100}, promoter_length=50, downstream_length=3)
    as_tuples = [
        tuple(row)
        for row in tiles[["start", "end", "region_class"]].astype({"region_class": str}).itertuples(index=False)
    ]
    assert as_tuples == [
        (0, 5, "promoter"),  # 50 bp asked, 5 available
        (5, 20, "CDS"),
        # 20..23 is downstream of "left" and 22..25 downstream of "right" (its 3' end is on the left).
        (20, 25, "downstream"),
        (25, 95, "CDS"),
        (95, 100, "promoter"),  # right's promoter, clipped at the chromosome end
    ]


def region_class_invariants(tiles: pd.DataFrame, chrom_sizes: dict):
    for chrom, length in chrom_sizes.items():
        rows = tiles[tiles["chrom"] == chrom]
        starts, ends = rows["start"].to_numpy(), rows["end"].to_numpy()
        assert starts[0] == 0 and ends[-1] == length, chrom
        assert (ends - starts).sum() == length, chrom
        np.testing.assert_array_equal(starts[1:], ends[:-1])  # no gaps, no overlaps
        classes = rows["region_class"].to_numpy()
        assert (classes[1:] != classes[:-1]).all(), f"unmerged neighbours on {chrom}"
    assert set(tiles["chrom"]) == set(chrom_sizes)


def test_embedded_region_classes_tile_every_chromosome_quickly(embedded_annotation, embedded_genome):
    began = time.perf_counter()
    tiles = embedded_annotation.region_classes(embedded_genome.chrom_sizes)
    assert time.perf_counter() - began < 5
    region_class_invariants(tiles, embedded_genome.chrom_sizes)
    totals = embedded_annotation.region_class_totals(embedded_genome.chrom_sizes).set_index("region_class")
    assert totals.index.tolist() == REGION_CLASSES
    assert totals["bases"].sum() == 19_702_792
    assert totals["fraction"].sum() == pytest.approx(1.0)
    # Every CDS base of the annotation is classed CDS (nothing outranks it).
    in_cds = {chrom: np.zeros(length, dtype=bool) for chrom, length in embedded_genome.chrom_sizes.items()}
    for chrom, start, end in embedded_annotation.cds_table[["chrom", "start", "end"]].itertuples(index=False):
        in_cds[chrom][start:end] = True
    assert totals.loc["CDS", "bases"] == sum(mask.sum() for mask in in_cds.values())
    # No UTR or exon lines in this annotation, so no UTR bases.
    assert totals.loc["five_prime_UTR", "bases"] == totals.loc["three_prime_UTR", "bases"] == 0
    assert totals.loc["intron", "bases"] > 0 and totals.loc["intergenic", "bases"] > 0


def test_region_classes_need_every_annotated_chromosome(tiny_annotation):
    with pytest.raises(
        ValueError, match=r"1 of 1 chromosomes in .*tiny\.gff3 are not in the FASTA: chrT\. The FASTA has 1: chr01"
    ):
        tiny_annotation.region_classes({"chr01": 1000})


def test_check_sequence_ids_truncates_long_lists(tiny_annotation):
    many = {f"scaffold{i}": 100 for i in range(40)}
    with pytest.raises(ValueError, match=r"The FASTA has 40: scaffold0, .*scaffold9 \.\.\. \(30 more\)"):
        tiny_annotation.check_sequence_ids(many)
    with pytest.raises(ValueError, match=r"line 4: gene ends at 160 but chrT has 100 bp"):
        tiny_annotation.check_sequence_ids({"chrT": 100})
    tiny_annotation.check_sequence_ids(TINY_SIZES)


# ---------------------------------------------------------------- model details


def test_exons_are_derived_from_cds_and_stretched_to_the_transcript(tmp_path):
    path = write(
        tmp_path / "cds_only.gff3",
        [
            "chrT\ttest\tmRNA\t11\t100\t.\t-\t.\tID=tx1",
            "chrT\ttest\tCDS\t21\t40\t.\t-\t0\tParent=tx1",
            "chrT\ttest\tCDS\t61\t80\t.\t-\t0\tParent=tx1",
        ],
    )
    annotation = Annotation.from_file(path)
    assert annotation.exons("tx1")[["start", "end"]].values.tolist() == [[60, 100], [10, 40]]
    tiles = annotation.region_classes({"chrT": 120}, promoter_length=5, downstream_length=5)
    classes = dict(zip(zip(tiles["start"], tiles["end"]), tiles["region_class"].astype(str)))
    assert classes[(80, 100)] == "five_prime_UTR" and classes[(10, 20)] == "three_prime_UTR"


def test_an_exon_with_two_parents_belongs_to_both(tmp_path):
    path = write(
        tmp_path / "shared.gff3",
        [
            "chrT\ttest\tmRNA\t1\t100\t.\t+\t.\tID=t1",
            "chrT\ttest\tmRNA\t1\t100\t.\t+\t.\tID=t2",
            "chrT\ttest\texon\t1\t30\t.\t+\t.\tParent=t1,t2",
            "chrT\ttest\texon\t51\t100\t.\t+\t.\tParent=t1",
            "chrT\ttest\texon\t71\t100\t.\t+\t.\tParent=t2",
        ],
    )
    annotation = Annotation.from_file(path)
    assert annotation.exons("t1")[["start", "end"]].values.tolist() == [[0, 30], [50, 100]]
    assert annotation.exons("t2")[["start", "end"]].values.tolist() == [[0, 30], [70, 100]]
    assert annotation.features["line"].tolist() == [1, 2, 3, 3, 4, 5]


def test_covering_intervals_finds_nested_and_overlapping_intervals():
    starts = np.array([0, 10, 12, 30, 5])
    ends = np.array([100, 20, 14, 40, 8])
    index = CoveringIntervals(starts, ends)
    points = np.array([13, 50, 100, 6, -1])
    found = index.first_covering(points)
    assert all(starts[i] <= p < ends[i] for p, i in zip(points, found) if i >= 0)
    assert found[2] == -1 and found[4] == -1
    point, interval = index.all_covering(points)
    pairs = sorted(zip(point.tolist(), interval.tolist()))
    assert pairs == [(0, 0), (0, 1), (0, 2), (1, 0), (3, 0), (3, 4)]
