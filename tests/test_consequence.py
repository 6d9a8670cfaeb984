"""SNV consequences on hand-made genes (tests/data/tiny_annotation.*) and real U. maydis genes.

The tiny_annotation genome (see tests/test_annotation.py), 0-based positions:

* txA (+) CDS [50,70) [90,130): ATG GCT TGG CAA CTG AAA GA|T ... TGC GCA TAA; intron [70,90).
* txB (-) CDS [260,300) [220,240): ATG AAA CCC TGG ... TAC T|GG ... GTC TAG; intron [240,260).
* txC (+) non-coding, exons [350,362) [372,390), intron [362,372).
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core.annotation import Annotation
from glm_core.consequence import CONSEQUENCE_COLUMNS, CONSEQUENCES, annotate_snvs, splice_intervals

DATA = Path(__file__).parent / "data"
COMPLEMENT = dict(zip("ACGT", "TGCA"))

# pos, alt (+ strand), consequence, transcript, codon position, ref codon, alt codon, ref aa, alt aa
HAND_MADE_CASES = [
    # txA, + strand
    (50, "G", "start_lost", "transcript:txA", 1, "ATG", "GTG", "M", "V"),
    (57, "A", "stop_gained", "transcript:txA", 2, "TGG", "TAG", "W", "*"),
    (58, "A", "stop_gained", "transcript:txA", 3, "TGG", "TGA", "W", "*"),
    (62, "T", "synonymous", "transcript:txA", 1, "CTG", "TTG", "L", "L"),
    (64, "A", "synonymous", "transcript:txA", 3, "CTG", "CTA", "L", "L"),
    (54, "A", "missense", "transcript:txA", 2, "GCT", "GAT", "A", "D"),
    (68, "T", "missense", "transcript:txA", 1, "GAT", "TAT", "D", "Y"),  # codon GA|T split by the intron
    (90, "G", "missense", "transcript:txA", 3, "GAT", "GAG", "D", "E"),  # its third base, after the intron
    (127, "C", "stop_lost", "transcript:txA", 1, "TAA", "CAA", "*", "Q"),
    (128, "G", "synonymous", "transcript:txA", 2, "TAA", "TGA", "*", "*"),
    (45, "C", "five_prime_UTR", "transcript:txA", None, None, None, None, None),
    (140, "C", "three_prime_UTR", "transcript:txA", None, None, None, None, None),
    (70, "C", "splice_donor", "transcript:txA", None, None, None, None, None),  # G of GT
    (71, "A", "splice_donor", "transcript:txA", None, None, None, None, None),
    (72, "A", "splice_region", "transcript:txA", None, None, None, None, None),  # 3rd intron base
    (77, "A", "splice_region", "transcript:txA", None, None, None, None, None),  # 8th
    (78, "T", "intron", "transcript:txA", None, None, None, None, None),  # 9th
    (81, "C", "intron", "transcript:txA", None, None, None, None, None),
    (82, "G", "splice_region", "transcript:txA", None, None, None, None, None),  # 8th from the acceptor end
    (88, "T", "splice_acceptor", "transcript:txA", None, None, None, None, None),  # A of AG
    (89, "C", "splice_acceptor", "transcript:txA", None, None, None, None, None),
    (35, "T", "promoter", "transcript:txA", None, None, None, None, None),
    (165, "T", "downstream", "transcript:txA", None, None, None, None, None),
    (5, "T", "intergenic", None, None, None, None, None, None),
    (175, "C", "intergenic", None, None, None, None, None, None),
    # txB, - strand: alleles are given on +, codons read on -
    (299, "C", "start_lost", "transcript:txB", 1, "ATG", "GTG", "M", "V"),
    (297, "G", "start_lost", "transcript:txB", 3, "ATG", "ATC", "M", "I"),
    (289, "T", "stop_gained", "transcript:txB", 2, "TGG", "TAG", "W", "*"),
    (260, "G", "missense", "transcript:txB", 1, "TGG", "CGG", "W", "R"),  # codon T|GG split by the intron
    (239, "T", "stop_gained", "transcript:txB", 2, "TGG", "TAG", "W", "*"),
    (238, "T", "stop_gained", "transcript:txB", 3, "TGG", "TGA", "W", "*"),
    (295, "G", "missense", "transcript:txB", 2, "AAA", "ACA", "K", "T"),
    (291, "C", "synonymous", "transcript:txB", 3, "CCC", "CCG", "P", "P"),
    (222, "G", "stop_lost", "transcript:txB", 1, "TAG", "CAG", "*", "Q"),
    (258, "T", "splice_donor", "transcript:txB", None, None, None, None, None),  # 5' end of the intron on -
    (259, "T", "splice_donor", "transcript:txB", None, None, None, None, None),
    (240, "G", "splice_acceptor", "transcript:txB", None, None, None, None, None),
    (241, "A", "splice_acceptor", "transcript:txB", None, None, None, None, None),
    (252, "T", "splice_region", "transcript:txB", None, None, None, None, None),  # 8th base from the donor
    (244, "T", "splice_region", "transcript:txB", None, None, None, None, None),
    (250, "C", "intron", "transcript:txB", None, None, None, None, None),
    (310, "G", "five_prime_UTR", "transcript:txB", None, None, None, None, None),  # right of the CDS on -
    (210, "T", "three_prime_UTR", "transcript:txB", None, None, None, None, None),
    (325, "C", "promoter", "transcript:txB", None, None, None, None, None),  # right of the gene on -
    (195, "C", "downstream", "transcript:txB", None, None, None, None, None),
    # txC, non-coding
    (352, "C", "non_coding_exon", "transcript:txC", None, None, None, None, None),
    (359, "G", "splice_region", "transcript:txC", None, None, None, None, None),  # 3rd exon base before the intron
    (358, "G", "non_coding_exon", "transcript:txC", None, None, None, None, None),  # 4th
    (374, "C", "splice_region", "transcript:txC", None, None, None, None, None),  # 3rd exon base after it
    (366, "A", "splice_region", "transcript:txC", None, None, None, None, None),
    (410, "G", "intergenic", None, None, None, None, None, None),
]


def snvs(genome, chrom, positions, alts):
    """Variant table with ref read from the genome (+ strand)."""
    return pd.DataFrame(
        {
            "chrom": chrom,
            "pos": positions,
            "ref": [genome.fetch(chrom, p, p + 1).upper() for p in positions],
            "alt": list(alts),
        }
    )


def tiny_cases():
    table = pd.DataFrame(
        HAND_MADE_CASES,
        columns=[
            "pos",
            "alt",
            "consequence",
            "transcript_id",
            "codon_position",
            "ref_codon",
            "alt_codon",
            "ref_aa",
            "alt_aa",
        ],
    )
    return table


def test_hand_made_cases_on_both_strands(tiny_annotation, tiny_genome):
    cases = tiny_cases()
    variants = snvs(tiny_genome, "chrT", cases["pos"].tolist(), cases["alt"])
    result = annotate_snvs(tiny_annotation, tiny_genome, variants, promoter_length=10, downstream_length=10)
    assert list(result.columns) == ["chrom", "pos", "ref", "alt"] + CONSEQUENCE_COLUMNS
    got = result.assign(consequence=result["consequence"].astype(str))

    def as_list(values):
        return [None if pd.isna(value) else value for value in values]

    for column in ["consequence", "transcript_id", "codon_position", "ref_codon", "alt_codon", "ref_aa", "alt_aa"]:
        expected, observed = as_list(cases[column]), as_list(got[column])
        mismatches = [(p, e, o) for p, e, o in zip(cases["pos"], expected, observed) if e != o]
        assert not mismatches, f"{column}: (pos, expected, got) {mismatches}"
    assert got.loc[got["transcript_id"] == "transcript:txB", "gene"].unique().tolist() == ["beta2"]


def test_every_consequence_class_is_covered_by_the_cases():
    # coding_sequence: see the phase test below; no_annotation: the test without annotation.
    covered = {case[2] for case in HAND_MADE_CASES} | {"coding_sequence", "no_annotation"}
    assert covered == set(CONSEQUENCES)


def test_results_keep_the_input_rows_and_columns(tiny_annotation, tiny_genome):
    variants = snvs(tiny_genome, "chrT", [50, 5, 57], "GTA").assign(sample=["s1", "s2", "s3"])
    variants.index = [10, 20, 30]
    before = variants.copy()
    result = annotate_snvs(tiny_annotation, tiny_genome, variants)
    pd.testing.assert_frame_equal(variants, before)  # the caller's table is untouched
    assert result.index.tolist() == [10, 20, 30]
    assert result["sample"].tolist() == ["s1", "s2", "s3"]
    assert result["consequence"].cat.ordered and list(result["consequence"].cat.categories) == CONSEQUENCES
    assert result["codon_position"].dtype == "Int64"


def test_lower_case_alleles_are_accepted(tiny_annotation, tiny_genome):
    variants = snvs(tiny_genome, "chrT", [57], "a")
    variants["ref"] = variants["ref"].str.lower()
    assert annotate_snvs(tiny_annotation, tiny_genome, variants)["consequence"].tolist() == ["stop_gained"]


def test_empty_variant_table(tiny_annotation, tiny_genome):
    empty = pd.DataFrame(
        {
            "chrom": pd.Series(dtype=str),
            "pos": pd.Series(dtype=int),
            "ref": pd.Series(dtype=str),
            "alt": pd.Series(dtype=str),
        }
    )
    result = annotate_snvs(tiny_annotation, tiny_genome, empty)
    assert len(result) == 0 and list(result.columns)[4:] == CONSEQUENCE_COLUMNS


# ---------------------------------------------------------------- frames and overlaps


def rewritten_gff3(tmp_path, replacements: dict[str, str], extra: list[str] = ()) -> Annotation:
    text = (DATA / "tiny.gff3").read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "variant.gff3"
    path.write_text(text + "".join(line + "\n" for line in extra))
    return Annotation.from_file(path)


def test_internal_gff_phases_are_not_trusted(tmp_path, tiny_annotation, tiny_genome):
    wrong = rewritten_gff3(
        tmp_path,
        {
            "91\t130\t.\t+\t1\t": "91\t130\t.\t+\t0\t",
            "221\t240\t.\t-\t2\t": "221\t240\t.\t-\t0\t",
        },
    )
    cases = tiny_cases()
    variants = snvs(tiny_genome, "chrT", cases["pos"].tolist(), cases["alt"])
    pd.testing.assert_frame_equal(
        annotate_snvs(wrong, tiny_genome, variants), annotate_snvs(tiny_annotation, tiny_genome, variants)
    )


def test_first_cds_phase_shifts_the_frame_and_leaves_an_incomplete_codon(tmp_path, tiny_genome):
    # txA's CDS now starts 2 bases early with phase 2: bases 48, 49 belong to no complete codon,
    # and the CDS is 5'-incomplete, so its first complete codon (ATG) is no start codon to lose.
    shifted = rewritten_gff3(tmp_path, {"51\t70\t.\t+\t0\t": "49\t70\t.\t+\t2\t"})
    result = annotate_snvs(shifted, tiny_genome, snvs(tiny_genome, "chrT", [48, 49, 50, 57], "TTTA"))
    assert result["consequence"].astype(str).tolist() == [
        "coding_sequence",
        "coding_sequence",
        "missense",
        "stop_gained",
    ]
    assert result["codon_position"].isna().tolist() == [True, True, False, False]
    assert result["ref_codon"].tolist()[2:] == ["ATG", "TGG"]


def test_most_severe_transcript_wins_where_transcripts_overlap(tmp_path, tiny_genome):
    # txA2 ends its first exon 2 bp earlier, so txA's last exon bases 68-69 are txA2's splice donor.
    overlapping = rewritten_gff3(
        tmp_path,
        {},
        extra=[
            "chrT\ttest\tmRNA\t41\t160\t.\t+\t.\tID=transcript:txA2;Parent=gene:geneA",
            "chrT\ttest\texon\t41\t68\t.\t+\t.\tParent=transcript:txA2",
            "chrT\ttest\texon\t91\t160\t.\t+\t.\tParent=transcript:txA2",
            "chrT\ttest\tCDS\t51\t68\t.\t+\t0\tParent=transcript:txA2",
            "chrT\ttest\tCDS\t91\t130\t.\t+\t0\tParent=transcript:txA2",
        ],
    )
    result = annotate_snvs(overlapping, tiny_genome, snvs(tiny_genome, "chrT", [68, 57, 74], "TAT"))
    assert result["consequence"].astype(str).tolist() == ["splice_donor", "stop_gained", "splice_region"]
    assert result["transcript_id"].tolist()[0] == "transcript:txA2"
    # Both isoforms read TGG -> TAG at 57; the first in genome order is named.
    assert result["transcript_id"].tolist()[1] == "transcript:txA"


def test_splice_intervals_are_strand_aware(tiny_annotation):
    table = splice_intervals(tiny_annotation)
    donors = table[table["consequence"] == "splice_donor"].set_index("transcript_id")
    assert (donors.loc["transcript:txA", "start"], donors.loc["transcript:txA", "end"]) == (70, 72)
    assert (donors.loc["transcript:txB", "start"], donors.loc["transcript:txB", "end"]) == (258, 260)


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"ref": ["A"], "alt": ["C"]},
            r"ref differs from the genome at 1 of 1 variants \(chrT:58 ref=A genome=G.*0-based \(VCF POS - 1\)",
        ),
        ({"chrom": ["chr1"]}, r"chromosome names in the variants are not in the genome: \['chr1'\]"),
        ({"pos": [420]}, r"pos 420 is outside chrT, whose valid 0-based positions are 0-419"),
        ({"pos": [-1]}, r"pos -1 is outside chrT"),
        ({"alt": ["AT"]}, r"alt 'AT' is not a single base A, C, G or T"),
        ({"alt": ["N"]}, r"alt 'N' is not a single base"),
        ({"alt": ["G"]}, r"ref and alt are both G"),
    ],
)
def test_bad_variants_are_explained(tiny_annotation, tiny_genome, change, message):
    variants = snvs(tiny_genome, "chrT", [57], "A")
    for column, values in change.items():
        variants[column] = values
    with pytest.raises(ValueError, match=message):
        annotate_snvs(tiny_annotation, tiny_genome, variants)


def test_missing_columns_are_named(tiny_annotation, tiny_genome):
    with pytest.raises(ValueError, match=r"lacks columns \['alt'\]; it needs chrom, pos \(0-based\), ref, alt"):
        annotate_snvs(tiny_annotation, tiny_genome, pd.DataFrame({"chrom": ["chrT"], "pos": [1], "ref": ["A"]}))


# ---------------------------------------------------------------- real genes


def genomic_position(annotation, transcript_id, cds_offset):
    """0-based genomic position of a CDS offset, walking the parts one by one."""
    strand = annotation.cds_table.loc[annotation.cds_table["transcript_id"] == transcript_id, "strand"].iloc[0]
    for part in annotation.cds(transcript_id).itertuples():
        length = part.end - part.start
        if cds_offset < length:
            return part.start + cds_offset if strand == "+" else part.end - 1 - cds_offset
        cds_offset -= length
    raise AssertionError("offset beyond the CDS")


@pytest.mark.parametrize("transcript_id", ["mRNA:um10944", "mRNA:um10095", "mRNA:um00133"])
def test_changing_the_a_of_atg_loses_the_start(embedded_annotation, embedded_genome, transcript_id):
    assert embedded_annotation.cds_sequence(embedded_genome, transcript_id).startswith("ATG")
    strand = embedded_annotation.transcripts.set_index("transcript_id").loc[transcript_id, "strand"]
    position = genomic_position(embedded_annotation, transcript_id, 0)
    chrom = embedded_annotation.cds(transcript_id)["chrom"].iloc[0]
    alts = "CGT" if strand == "+" else "ACG"  # every change of the A (T on the + strand for '-')
    result = annotate_snvs(embedded_annotation, embedded_genome, snvs(embedded_genome, chrom, [position] * 3, alts))
    assert result["consequence"].astype(str).tolist() == ["start_lost"] * 3
    assert result["codon_position"].tolist() == [1, 1, 1]
    assert set(result["ref_codon"]) == {"ATG"}


@pytest.mark.parametrize("transcript_id", ["mRNA:um10944", "mRNA:um10095"])
def test_real_stop_contexts_give_stop_gained(embedded_annotation, embedded_genome, transcript_id):
    """TGG -> TAG/TGA and CAA/CAG/CGA -> TAA/TAG/TGA, at the first such codons of a real gene."""
    sequence = embedded_annotation.cds_sequence(embedded_genome, transcript_id)
    codons = [sequence[i : i + 3] for i in range(0, len(sequence) - 3, 3)]
    strand = embedded_annotation.transcripts.set_index("transcript_id").loc[transcript_id, "strand"]
    chrom = embedded_annotation.cds(transcript_id)["chrom"].iloc[0]
    wanted = {"TGG": [(1, "A"), (2, "A")], "CAA": [(0, "T")], "CAG": [(0, "T")], "CGA": [(0, "T")]}
    positions, alts, expected_codons = [], [], []
    for codon_text, changes in wanted.items():
        index = codons.index(codon_text)
        for within, new_base in changes:
            positions.append(genomic_position(embedded_annotation, transcript_id, 3 * index + within))
            alts.append(new_base if strand == "+" else COMPLEMENT[new_base])
            expected_codons.append(codon_text[:within] + new_base + codon_text[within + 1 :])
    result = annotate_snvs(embedded_annotation, embedded_genome, snvs(embedded_genome, chrom, positions, alts))
    assert result["consequence"].astype(str).tolist() == ["stop_gained"] * len(positions)
    assert result["alt_codon"].tolist() == expected_codons
    assert set(result["alt_aa"]) == {"*"}
    assert result["transcript_id"].eq(transcript_id).all()


def all_cds_snvs(annotation, genome, transcript_ids):
    """All 3 alternatives at every CDS base of the transcripts."""
    parts = annotation.cds_table[annotation.cds_table["transcript_id"].isin(transcript_ids)]
    chroms, positions, refs = [], [], []
    for chrom, start, end in parts[["chrom", "start", "end"]].drop_duplicates().itertuples(index=False):
        chroms.append(np.full(end - start, chrom, dtype=object))
        positions.append(np.arange(start, end))
        refs.append(np.array(list(genome.fetch(chrom, start, end).upper())))
    chrom, pos, ref = np.concatenate(chroms), np.concatenate(positions), np.concatenate(refs)
    bases = np.array(list("ACGT"))
    keep = np.isin(ref, bases)
    chrom, pos, ref = chrom[keep], pos[keep], ref[keep]
    alt = np.stack([bases[(np.searchsorted(bases, ref) + shift) % 4] for shift in (1, 2, 3)], axis=1).ravel()
    return pd.DataFrame({"chrom": np.repeat(chrom, 3), "pos": np.repeat(pos, 3), "ref": np.repeat(ref, 3), "alt": alt})


def test_vectorised_codons_match_a_per_variant_reading(embedded_annotation, embedded_genome):
    transcripts = embedded_annotation.transcripts
    chosen = transcripts[(transcripts["chrom"] == "chr01") & (transcripts["n_exons"] > 1)]["transcript_id"].head(30)
    variants = all_cds_snvs(embedded_annotation, embedded_genome, chosen)
    began = time.perf_counter()
    result = annotate_snvs(embedded_annotation, embedded_genome, variants)
    elapsed = time.perf_counter() - began
    assert elapsed < 10, f"{len(variants)} SNVs took {elapsed:.1f} s"
    consequences = result["consequence"].astype(str)
    assert consequences.isin(["missense", "synonymous", "stop_gained", "stop_lost", "start_lost"]).all()
    # About a quarter of random coding SNVs are synonymous under the standard code.
    assert 0.18 < (consequences == "synonymous").mean() < 0.3
    sample = result.sample(400, random_state=0)
    strand_of = transcripts.set_index("transcript_id")["strand"]
    spliced, genomic_of_offset = {}, {}
    for tid in sample["transcript_id"].unique():
        spliced[tid] = embedded_annotation.cds_sequence(embedded_genome, tid)
        parts = embedded_annotation.cds(tid)
        walk = [
            range(s, e) if strand_of[tid] == "+" else range(e - 1, s - 1, -1)
            for s, e in zip(parts["start"], parts["end"])
        ]
        genomic_of_offset[tid] = np.concatenate([np.fromiter(steps, dtype=np.int64) for steps in walk])
    for row in sample.itertuples():
        tid = row.transcript_id
        offset = int(np.flatnonzero(genomic_of_offset[tid] == row.pos)[0])
        codon = spliced[tid][offset - offset % 3 : offset - offset % 3 + 3]
        alt = row.alt if strand_of[tid] == "+" else COMPLEMENT[row.alt]
        assert (row.ref_codon, row.codon_position) == (codon, offset % 3 + 1)
        assert row.alt_codon == codon[: offset % 3] + alt + codon[offset % 3 + 1 :]


def test_without_annotation_every_snv_reads_no_annotation(tiny_genome):
    from glm_core.annotation import Annotation

    result = annotate_snvs(Annotation.empty(), tiny_genome, snvs(tiny_genome, "chrT", [50, 5, 57], "GTA"))
    assert result["consequence"].astype(str).tolist() == ["no_annotation"] * 3
    assert list(result["consequence"].cat.categories) == CONSEQUENCES
    assert result["transcript_id"].isna().all() and result["codon_position"].isna().all()
