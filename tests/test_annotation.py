"""Transcript models, translation, search and sequence checks (reading GFF3/GTF:
tests/test_gff.py; region classes: tests/test_region_classes.py).

``tests/data/tiny.fa`` + ``tiny.gff3`` (and the same models in ``tiny.gtf``) hold, on chrT
(420 bp) and an empty chrU (50 bp), 0-based half-open:

* txA (+): exons [40,70) [90,160), CDS [50,70) [90,130) -> MAWQLKDRFGPYENIVHCA*
* txB (-): exons [260,320) [200,240), CDS [260,300) [220,240) -> MKPWDLQGIRSEYWAKFHV*
* txC (+, ncRNA): exons [350,362) [372,390)
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core.annotation import TRANSCRIPT_COLUMNS, Annotation
from glm_core.errors import InputError

DATA = Path(__file__).parent / "data"
TINY_SIZES = {"chrT": 420, "chrU": 50}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- from files


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

    def plain_id(table):
        return table.assign(transcript_id=table["transcript_id"].str.replace("transcript:", ""))

    columns = ["transcript_id", "chrom", "start", "end", "strand", "cds_start", "cds_end", "n_exons"]
    pd.testing.assert_frame_equal(from_gtf.transcripts[columns], plain_id(tiny_annotation.transcripts)[columns])
    pd.testing.assert_frame_equal(from_gtf.exon_table, plain_id(tiny_annotation.exon_table))
    # GTF leaves the stop codon out of CDS; it is merged back in.
    pd.testing.assert_frame_equal(from_gtf.cds_table, plain_id(tiny_annotation.cds_table))
    assert from_gtf.transcripts["gene_id"].tolist() == ["geneA", "geneB", "geneC"]
    assert from_gtf.transcripts["name"].tolist() == ["alpha1", "beta2", "gamma"]


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
            "description": ["alpha test protein, plus strand", "beta test protein on the minus strand", ""],
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
    with pytest.raises(InputError, match=r"no transcript 'txA'.*did you mean transcript:txA"):
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


def test_bare_cds_lines_of_a_prokaryote_are_one_gene_each(tmp_path):
    path = tmp_path / "bacterium.gff3"
    path.write_text(
        "##gff-version 3\n"
        "ctg1\tGeneMark\tCDS\t1\t90\t.\t+\t0\tName=dnaA\n"
        "ctg1\tGeneMark\tCDS\t201\t290\t.\t-\t0\tName=dnaN\n"
    )
    transcripts = Annotation.from_file(path).transcripts
    assert transcripts["transcript_id"].tolist() == ["CDS:line2", "CDS:line3"]
    assert transcripts["name"].tolist() == ["dnaA", "dnaN"]
