"""glm_core.locus.resolve_locus: the one reader of what users type for a region.

Facts checked: typed coordinates are 1-based inclusive and come back 0-based half-open
(``chr01:2,632-4,026`` is ``[2631, 4026)``, the span of um10944); the space-separated form,
a strand suffix and chromosome aliases (``1`` and ``chr1`` for ``chr01``) give the same
interval; a sequence name alone is the whole sequence (chr01: 2,476,500 bp); gene parts of
the tiny genome read ATG at both start codons and TAA/TAG at the stop codons, on either
strand; a flank is clipped to the sequence; bad input raises InputError saying what is
accepted.
"""

import pytest

from glm_core.errors import InputError
from glm_core.genome import Region
from glm_core.annotation import Annotation
from glm_core.locus import (
    CDS,
    GENE_PARTS,
    PROMOTER,
    TSS,
    START_CODON,
    STOP_CODON,
    WHOLE_GENE,
    Locus,
    NoMatchingGene,
    gene_parts,
    is_coordinate_query,
    resolve_locus,
)

UM10944 = Region("chr01", 2631, 4026, "+")  # chr01:2,632-4,026 (+), 1-based inclusive


@pytest.mark.parametrize(
    "query",
    [
        "chr01:2,632-4,026",
        "chr01:2632-4026",
        " chr01 : 2_632 - 4_026 ",
        "chr01 2632 4026",
        "chr01 2,632 4,026",
        "1:2,632-4,026",
        "chr1:2632-4026",
        "01 2632 4026",
    ],
)
def test_coordinates_and_aliases_name_the_span_of_um10944(embedded_genome, query):
    locus = resolve_locus(query, embedded_genome)
    assert locus.region == UM10944
    assert not locus.is_gene and locus.transcript_id is None and locus.matches.empty
    assert str(locus) == "chr01:2,632-4,026" and len(locus) == 1395


@pytest.mark.parametrize(
    "query, strand", [("chr01:2,632-4,026 (-)", "-"), ("chr01:2,632-4,026-", "-"), ("chr01 2632 4026 +", "+")]
)
def test_a_strand_suffix_sets_the_strand(embedded_genome, query, strand):
    assert resolve_locus(query, embedded_genome).region == Region("chr01", 2631, 4026, strand)


def test_a_sequence_name_alone_is_the_whole_sequence(embedded_genome):
    assert resolve_locus("chr01", embedded_genome).region == Region("chr01", 0, 2_476_500)
    assert resolve_locus("1", embedded_genome).region == Region("chr01", 0, 2_476_500)


def test_a_gene_id_gives_its_span_and_the_search_hits(embedded_genome, embedded_annotation):
    locus = resolve_locus("um10944", embedded_genome, embedded_annotation)
    assert locus.region == UM10944
    assert (locus.transcript_id, locus.name, locus.part) == ("mRNA:um10944", "um10944", WHOLE_GENE)
    assert locus.matches["transcript_id"].iloc[0] == "mRNA:um10944"
    # The same gene with the overview page's default flank.
    flanked = resolve_locus("um10944", embedded_genome, embedded_annotation, flank=500)
    assert flanked.region == Region("chr01", 2131, 4526, "+")
    assert resolve_locus("mRNA:um10944", embedded_genome, embedded_annotation).region == UM10944


def test_start_codon_of_um06164_with_a_flank(embedded_genome, embedded_annotation):
    locus = resolve_locus("um06164", embedded_genome, embedded_annotation, part=START_CODON, flank=10)
    assert locus.region == Region("chr22", 69_113, 69_136, "+")
    assert embedded_genome.fetch("chr22", 69_123, 69_126) == "ATG"
    assert locus.title() == "um06164 (+), start codon \u00b1 10 bp"


@pytest.mark.parametrize(
    "name, part, span, strand, bases",
    [
        ("alpha1", START_CODON, (50, 53), "+", "ATG"),
        ("alpha1", STOP_CODON, (127, 130), "+", "TAA"),
        ("beta2", START_CODON, (297, 300), "-", "ATG"),  # minus strand: the last CDS bases
        ("beta2", STOP_CODON, (220, 223), "-", "TAG"),
        ("gamma", WHOLE_GENE, (350, 390), "+", None),
    ],
)
def test_gene_parts_on_both_strands_of_the_tiny_genome(tiny_genome, tiny_annotation, name, part, span, strand, bases):
    locus = resolve_locus(name, tiny_genome, tiny_annotation, part=part)
    assert (locus.start, locus.end, locus.strand) == (*span, strand)
    if bases is not None:
        assert tiny_genome.fetch(locus.chrom, locus.start, locus.end, locus.strand) == bases


def test_flank_is_clipped_to_the_sequence(tiny_genome, tiny_annotation):
    locus = resolve_locus("gamma", tiny_genome, tiny_annotation, flank=100)
    assert locus.region == Region("chrT", 250, 420, "+")  # chrT is 420 bp


def test_strand_argument_overrides_the_query(tiny_genome, tiny_annotation):
    assert resolve_locus("beta2", tiny_genome, tiny_annotation, strand="+").strand == "+"
    assert resolve_locus("chrT:1-10", tiny_genome, strand="-").region == Region("chrT", 0, 10, "-")


def test_transcript_id_picks_another_hit(tiny_genome, tiny_annotation):
    words = resolve_locus("test protein", tiny_genome, tiny_annotation)
    assert set(words.matches["transcript_id"]) == {"transcript:txA", "transcript:txB"}
    other = resolve_locus("test protein", tiny_genome, tiny_annotation, transcript_id="transcript:txB")
    assert (other.name, other.start, other.end) == ("beta2", 200, 320)
    with pytest.raises(InputError, match="is not among the transcripts"):
        resolve_locus("test protein", tiny_genome, tiny_annotation, transcript_id="transcript:txC")


def test_coordinate_queries_are_told_from_searches(embedded_genome):
    assert is_coordinate_query("chr22:69,114-69,136", embedded_genome)
    assert is_coordinate_query("chr22 69114 69136", embedded_genome)
    assert is_coordinate_query("chr22", embedded_genome)
    assert not is_coordinate_query("um06164", embedded_genome)
    assert not is_coordinate_query("mRNA:um06164", embedded_genome)
    assert not is_coordinate_query("phosphatase methylesterase", embedded_genome)


@pytest.mark.parametrize(
    "query, message",
    [
        ("chr01:5000-100", "the end >= the start"),
        ("chr01:0-100", "the start must be >= 1"),
        ("chr99:1-100", "unknown chromosome 'chr99'; this genome has 36"),
        ("chr01:1-3,000,000", "valid range is 1-2,476,500"),
        ("chr01:1000", "Could not read the region 'chr01:1000'. Type a region as chr01:1,001-1,200"),
        ("", "No region given"),
    ],
)
def test_bad_regions_raise_input_errors_saying_what_is_accepted(embedded_genome, embedded_annotation, query, message):
    with pytest.raises(InputError, match=message):
        resolve_locus(query, embedded_genome, embedded_annotation)


def test_gene_search_errors(tiny_genome, tiny_annotation):
    with pytest.raises(NoMatchingGene, match="No transcript matches 'no such gene'.*chrT:1,001-1,200"):
        resolve_locus("no such gene", tiny_genome, tiny_annotation)
    with pytest.raises(InputError, match="gene search needs an annotation"):
        resolve_locus("alpha1", tiny_genome)
    with pytest.raises(InputError, match="unknown gene part 'exon 3'; choose one of .*donor of intron K"):
        resolve_locus("alpha1", tiny_genome, tiny_annotation, part="exon 3")
    assert issubclass(NoMatchingGene, InputError) and issubclass(InputError, ValueError)


def test_loci_compare_by_interval_and_gene_not_by_hits(tiny_genome, tiny_annotation):
    first = resolve_locus("alpha1", tiny_genome, tiny_annotation)
    assert first == Locus("chrT", 40, 160, "+", "transcript:txA", "alpha1", WHOLE_GENE, 0)
    assert GENE_PARTS[0] == START_CODON  # the logo page opens on the start codon


@pytest.mark.parametrize(
    "name, part, upstream, flank, span",
    [
        ("alpha1", CDS, 500, 0, (50, 130)),
        ("beta2", CDS, 500, 0, (220, 300)),
        ("alpha1", PROMOTER, 20, 0, (20, 40)),  # 20 bp before the TSS at 41 (1-based), TSS excluded
        ("beta2", PROMOTER, 20, 0, (320, 340)),  # minus strand: upstream is to the right
        ("alpha1", PROMOTER, 500, 0, (0, 40)),  # clipped at the sequence start
        ("alpha1", TSS, 500, 5, (35, 46)),  # TSS +- 5
        ("beta2", TSS, 500, 5, (314, 325)),
        ("alpha1", "donor of intron 1", 500, 0, (70, 72)),  # exons 41-70 and 91-160 (1-based)
        ("alpha1", "acceptor of intron 1", 500, 0, (88, 90)),
        ("beta2", "donor of intron 1", 500, 0, (258, 260)),  # exons 261-320 then 201-240 on the minus strand
        ("beta2", "Acceptor of intron 1", 500, 3, (237, 245)),
    ],
)
def test_more_gene_parts_on_both_strands(tiny_genome, tiny_annotation, name, part, upstream, flank, span):
    locus = resolve_locus(name, tiny_genome, tiny_annotation, part=part, upstream=upstream, flank=flank)
    assert (locus.start, locus.end) == span
    assert locus.strand == ("+" if name == "alpha1" else "-")


def test_splice_sites_read_gt_ag_on_either_strand(embedded_genome, embedded_annotation):
    # The first intron of the first 40 multi-exon transcripts on each strand: GT ... AG in all
    # but one (um15048's 'intron' is a frameshift gap; um00206.2 has a GC-AG intron).
    transcripts = embedded_annotation.transcripts
    for strand in "+-":
        chosen = transcripts[(transcripts["n_exons"] > 1) & (transcripts["strand"] == strand)].head(40)
        sites = {}
        for transcript_id in chosen["transcript_id"]:
            parts = gene_parts(embedded_annotation, transcript_id)
            assert parts[len(GENE_PARTS) : len(GENE_PARTS) + 2] == ["donor of intron 1", "acceptor of intron 1"]
            sites[transcript_id] = tuple(
                embedded_genome.fetch_region(
                    resolve_locus(transcript_id, embedded_genome, embedded_annotation, part=part).region
                )
                for part in parts[len(GENE_PARTS) : len(GENE_PARTS) + 2]
            )
        odd = {tid: bases for tid, bases in sites.items() if bases != ("GT", "AG")}
        assert odd == ({"mRNA:um15048": ("AT", "AA")} if strand == "+" else {"mRNA:um00206.2": ("GC", "AG")})


def test_gene_part_errors(tiny_genome, tiny_annotation):
    with pytest.raises(InputError, match="alpha1 has 1 intron; there is no intron 2"):
        resolve_locus("alpha1", tiny_genome, tiny_annotation, part="donor of intron 2")
    with pytest.raises(InputError, match="promoter length must be 1 bp or more"):
        resolve_locus("alpha1", tiny_genome, tiny_annotation, part=PROMOTER, upstream=0)
    assert gene_parts(tiny_annotation, "transcript:txC")[:3] == [WHOLE_GENE, PROMOTER, TSS]  # non-coding


def test_a_genome_without_annotation_says_so(tiny_genome):
    with pytest.raises(InputError, match="no annotation"):
        resolve_locus("alpha1", tiny_genome, Annotation.empty())
    assert resolve_locus("chrT 1 10", tiny_genome, Annotation.empty()).region == Region("chrT", 0, 10, "+")
