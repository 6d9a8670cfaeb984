"""glm_core.region_classes: every base of a genome gets one region class.

``tests/data/tiny.gff3`` holds, on chrT (420 bp) and an empty chrU (50 bp), 0-based half-open:
txA (+) exons [40,70) [90,160), CDS [50,70) [90,130); txB (-) exons [260,320) [200,240),
CDS [260,300) [220,240); txC (+, ncRNA) exons [350,362) [372,390).

Facts checked: the tiling of the tiny genome, class by class, with promoters and
downstream flanks on the right side of each strand; flanks clipped at chromosome ends and
outranked by exons; the embedded genome tiled without gaps or overlaps, its totals summing
to its 19,702,792 bp and its CDS bases all classed CDS; the Annotation methods give the
same tables as the functions.
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core.annotation import Annotation
from glm_core.errors import InputError
from glm_core.region_classes import REGION_CLASSES, class_intervals, introns, region_class_totals, region_classes

TINY_SIZES = {"chrT": 420, "chrU": 50}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tiny_region_classes(tiny_annotation):
    tiles = region_classes(tiny_annotation, TINY_SIZES, promoter_length=10, downstream_length=10)
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
    tiles = region_classes(Annotation.from_file(path), {"chrT": 100}, promoter_length=50, downstream_length=3)
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
    tiles = region_classes(embedded_annotation, embedded_genome.chrom_sizes)
    assert time.perf_counter() - began < 5
    region_class_invariants(tiles, embedded_genome.chrom_sizes)
    totals = region_class_totals(embedded_annotation, embedded_genome.chrom_sizes).set_index("region_class")
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
        InputError, match=r"1 of 1 chromosomes in .*tiny\.gff3 are not in the FASTA: chrT\. The FASTA has 1: chr01"
    ):
        region_classes(tiny_annotation, {"chr01": 1000})


def test_tiny_introns_and_class_intervals(tiny_annotation):
    gaps = introns(tiny_annotation)
    assert gaps[["transcript_id", "start", "end", "strand"]].values.tolist() == [
        ["transcript:txA", 70, 90, "+"],
        ["transcript:txB", 240, 260, "-"],
        ["transcript:txC", 362, 372, "+"],
    ]
    assert gaps[["upstream_exon_start", "downstream_exon_end"]].values.tolist() == [[40, 160], [200, 320], [350, 390]]
    pieces = class_intervals(tiny_annotation, TINY_SIZES, promoter_length=10, downstream_length=10)
    txb = pieces[pieces["transcript_id"] == "transcript:txB"]  # minus strand: parts listed 5' -> 3'
    # The promoter of a minus-strand transcript lies to its right, its downstream flank to its left.
    assert txb[["start", "end", "region_class"]].values.tolist() == [
        [260, 300, "CDS"],
        [220, 240, "CDS"],
        [200, 220, "three_prime_UTR"],
        [300, 320, "five_prime_UTR"],
        [240, 260, "intron"],
        [320, 330, "promoter"],
        [190, 200, "downstream"],
    ]


def test_annotation_methods_give_the_module_tables(tiny_annotation):
    pd.testing.assert_frame_equal(tiny_annotation.introns(), introns(tiny_annotation))
    pd.testing.assert_frame_equal(
        tiny_annotation.class_intervals(TINY_SIZES, 7, 9), class_intervals(tiny_annotation, TINY_SIZES, 7, 9)
    )
    pd.testing.assert_frame_equal(
        tiny_annotation.region_classes(TINY_SIZES, 7, 9), region_classes(tiny_annotation, TINY_SIZES, 7, 9)
    )
    pd.testing.assert_frame_equal(
        tiny_annotation.region_class_totals(TINY_SIZES), region_class_totals(tiny_annotation, TINY_SIZES)
    )
