"""What a user types to name a place in the genome, turned into one interval: ``resolve_locus``.

Every page and every command-line option that takes a region goes through
:func:`resolve_locus`, so they accept the same text. Accepted today:

* coordinates ``chr01:2,632-4,026`` or ``chr01 2632 4026``, 1-based inclusive as users type
  them, commas or underscores allowed, optionally followed by a strand ``+``/``-``/``(+)``;
* a sequence name alone, ``chr01``: the whole sequence;
* a chromosome alias wherever a sequence name goes: ``1``, ``chr1`` and ``01`` name
  ``chr01`` when exactly one sequence fits (the rule VCF reading uses,
  :func:`glm_core.chrom_names.resolve_chromosomes`);
* anything else is a transcript search by ID, gene ID, name or description words
  (:meth:`glm_core.annotation.Annotation.search`); the best hit is used unless
  ``transcript_id`` picks another, and ``part`` chooses which part of it (below), widened
  by ``flank`` bases on each side (clipped to the sequence).

Gene parts (:data:`GENE_PARTS`, plus the splice sites of :func:`gene_parts`), all on the
transcript's own strand:

* ``whole gene``: the transcript's span; ``CDS``: first to last coding base;
* ``start codon`` / ``stop codon``: the first / last three CDS bases;
* ``promoter``: the ``upstream`` bases before the transcription start (5' of it on the
  transcript's strand), the TSS itself excluded;
* ``TSS``: the transcription start base, so that ``flank=N`` gives TSS +- N;
* ``donor of intron k`` / ``acceptor of intron k``: the intron's first / last two bases
  (GT / AG in a canonical intron), introns counted 1, 2, ... from the 5' end.

The grammar is written as small steps (:func:`_coordinates`, :func:`_genome_chrom`,
:func:`gene_part_span`), so a further gene part is a new entry there, not another parser.

Errors are :class:`glm_core.errors.InputError`; their messages say what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .errors import InputError
from .genome import Genome, Region, format_region

WHOLE_GENE = "whole gene"
START_CODON = "start codon"
STOP_CODON = "stop codon"
CDS = "CDS"
PROMOTER = "promoter"
TSS = "TSS"
# The order pages offer them in (the start codon first: the logo page's default view);
# the splice sites of a transcript follow (:func:`gene_parts`).
GENE_PARTS = (START_CODON, WHOLE_GENE, CDS, STOP_CODON, PROMOTER, TSS)
DEFAULT_PROMOTER_BP = 500
_SPLICE_PART = re.compile(r"^\s*(donor|acceptor)\s+of\s+intron\s+(\d+)\s*$", re.IGNORECASE)

# "chr01:1,000-2,000" names coordinates; "um10944", "mRNA:um10944" or "phosphatase" are searches.
_LOOKS_LIKE_COORDINATES = re.compile(r"^\s*[^\s:]+\s*:\s*[\d,_]")
_NUMBER = r"(\d[\d,_]*)"
_STRAND = r"(?:\s*\(?([+-])\)?)?"
_COLON_RANGE = re.compile(rf"^\s*([^\s:]+)\s*:\s*{_NUMBER}\s*-\s*{_NUMBER}{_STRAND}\s*$")
_SPACED_RANGE = re.compile(rf"^\s*(\S+)\s+{_NUMBER}\s+{_NUMBER}{_STRAND}\s*$")


class NoMatchingGene(InputError):
    """The query is not coordinates and no transcript of the annotation matches it."""


@dataclass(frozen=True)
class Locus:
    """A resolved query: one interval, 0-based half-open ``[start, end)``, with a strand.

    ``transcript_id``, ``name``, ``part`` and ``flank`` are set when the query named a gene
    (``part`` one of :data:`GENE_PARTS`), None / 0 for coordinates. ``matches`` holds every
    transcript the search found (rows of ``Annotation.transcripts``, best first; empty for
    coordinates), so a page can offer the others.
    """

    chrom: str
    start: int
    end: int
    strand: str = "+"
    transcript_id: str | None = None
    name: str | None = None
    part: str | None = None
    flank: int = 0
    matches: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    @property
    def region(self) -> Region:
        return Region(self.chrom, self.start, self.end, self.strand)

    @property
    def is_gene(self) -> bool:
        return self.transcript_id is not None

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return format_region(self.chrom, self.start, self.end)

    def title(self) -> str | None:
        """``um06164 (+), start codon ± 20 bp`` for a gene part; None for coordinates."""
        if not self.is_gene:
            return None
        return f"{self.name} ({self.strand}), {self.part} \u00b1 {self.flank} bp"


def splice_site_parts(n_introns: int) -> list[str]:
    """``donor of intron 1``, ``acceptor of intron 1``, ... for a transcript with ``n_introns``."""
    return [f"{site} of intron {k}" for k in range(1, n_introns + 1) for site in ("donor", "acceptor")]


def gene_parts(annotation, transcript_id: str) -> list[str]:
    """Every part :func:`resolve_locus` can give for this transcript: :data:`GENE_PARTS`
    (without CDS and codons for a non-coding one), then its splice sites."""
    row = annotation.transcripts.iloc[annotation.transcript_rows([transcript_id])[0]]
    coding = pd.notna(row.get("cds_start"))
    parts = [p for p in GENE_PARTS if coding or p not in (START_CODON, STOP_CODON, CDS)]
    return parts + splice_site_parts(max(0, int(row["n_exons"]) - 1))


def is_gene_part(part: str) -> bool:
    """True for a name :func:`gene_part_span` knows (a splice site of any intron included)."""
    return part in GENE_PARTS or _SPLICE_PART.match(part or "") is not None


def accepted_parts() -> str:
    """The gene parts, as one phrase for messages and ``--help``."""
    return ", ".join(GENE_PARTS) + ", donor of intron K, acceptor of intron K"


def accepted_forms(genome: Genome) -> str:
    """One sentence listing what :func:`resolve_locus` accepts, with this genome's first sequence."""
    first = next(iter(genome.chrom_sizes), "chr01")
    return (
        f"Type a region as {first}:1,001-1,200 or {first} 1001 1200 (1-based, inclusive), a sequence name "
        f"such as {first}, or a gene ID, name or description words"
    )


def is_coordinate_query(query: str, genome: Genome) -> bool:
    """True when ``query`` names coordinates or a sequence (so gene parts and flanks do not apply)."""
    text = (query or "").strip()
    if _LOOKS_LIKE_COORDINATES.match(text) or _SPACED_RANGE.match(text):
        return True
    return bool(text) and " " not in text and _genome_chrom(text, genome, required=False) is not None


def resolve_locus(
    query: str,
    genome: Genome,
    annotation=None,
    *,
    part: str = WHOLE_GENE,
    flank: int = 0,
    strand: str | None = None,
    transcript_id: str | None = None,
    limit: int = 50,
    upstream: int = DEFAULT_PROMOTER_BP,
) -> Locus:
    """The interval ``query`` names on ``genome`` (see the module docstring for the grammar).

    Parameters
    ----------
    query : what the user typed.
    annotation : a :class:`glm_core.annotation.Annotation`, needed only for gene searches.
    part, flank : for a gene: which part (see the module notes) and how many bases to add
        on each side; ignored for coordinates.
    upstream : length of the ``promoter`` part in bp.
    strand : ``+`` or ``-`` to override the strand of the query (coordinates default to ``+``,
        a gene to its own strand).
    transcript_id : pick this transcript among the search hits instead of the best one.
    limit : at most this many search hits in :attr:`Locus.matches`.

    Raises
    ------
    InputError for text that is neither coordinates nor a known gene (:class:`NoMatchingGene`
    when the search found nothing), an unknown sequence, or a range outside the sequence.
    """
    text = (query or "").strip()
    if not text:
        raise InputError(f"No region given. {accepted_forms(genome)}.")
    if strand not in (None, "+", "-"):
        raise InputError(f"strand must be '+' or '-'; got {strand!r}")
    if is_coordinate_query(text, genome):
        chrom, start, end, typed_strand = _coordinates(text, genome)
        return Locus(chrom, start, end, strand or typed_strand or "+")
    return _gene_locus(text, genome, annotation, part, flank, strand, transcript_id, limit, upstream)


def _coordinates(text: str, genome: Genome) -> tuple[str, int, int, str | None]:
    """``(chrom, start, end, strand or None)`` of a coordinate query, 0-based half-open and checked."""
    match = _COLON_RANGE.match(text) or _SPACED_RANGE.match(text)
    if match is None:
        if _LOOKS_LIKE_COORDINATES.match(text):
            raise InputError(f"Could not read the region {text!r}. {accepted_forms(genome)}.")
        chrom = _genome_chrom(text, genome)
        return chrom, 0, genome.chrom_sizes[chrom], None
    name, start_text, end_text, typed_strand = match.groups()
    first, last = (int(number.replace(",", "").replace("_", "")) for number in (start_text, end_text))
    if first < 1 or last < first:
        raise InputError(f"in {text!r} the start must be >= 1 and the end >= the start (1-based inclusive)")
    chrom = _genome_chrom(name, genome)
    length = genome.chrom_sizes[chrom]
    if last > length:
        raise InputError(
            f"{chrom}:{first}-{last} is outside {chrom}, whose valid range is 1-{length:,} (1-based inclusive)"
        )
    return chrom, first - 1, last, typed_strand


def _genome_chrom(name: str, genome: Genome, required: bool = True) -> str | None:
    """The genome's sequence name for ``name``: itself, or its one alias; None or InputError otherwise."""
    sizes = genome.chrom_sizes
    if name in sizes:
        return name
    from .chrom_names import resolve_chromosomes

    match = resolve_chromosomes([name], sizes).iloc[0]
    if match["genome_chrom"] is not None:
        return str(match["genome_chrom"])
    if not required:
        return None
    shown = ", ".join(list(sizes)[:12]) + (" ..." if len(sizes) > 12 else "")
    several = " (several sequences fit it)" if match["match"] == "ambiguous" else ""
    raise InputError(f"unknown chromosome {name!r}{several}; this genome has {len(sizes)}: {shown}")


def _gene_locus(text, genome, annotation, part, flank, strand, transcript_id, limit, upstream) -> Locus:
    if annotation is None:
        raise InputError(f"{text!r} is not a region, and gene search needs an annotation. {accepted_forms(genome)}.")
    if getattr(annotation, "is_empty", False):
        raise InputError(
            f"{text!r} is not a region, and this genome has no annotation to search genes in (no annotation). "
            f"Type a region such as {next(iter(genome.chrom_sizes), 'chr01')}:1,001-1,200 (1-based, inclusive), "
            "or choose an annotation file in the sidebar."
        )
    if not is_gene_part(part):
        raise InputError(f"unknown gene part {part!r}; choose one of {accepted_parts()}")
    if flank < 0:
        raise InputError(f"the flank must be 0 or more bases; got {flank}")
    if upstream < 1:
        raise InputError(f"the promoter length must be 1 bp or more; got {upstream}")
    hits = annotation.search(text, limit=limit)
    if hits.empty:
        raise NoMatchingGene(
            f"No transcript matches {text!r}. Search by gene ID, name or description words, or type a region "
            f"such as {next(iter(genome.chrom_sizes), 'chr01')}:1,001-1,200 (1-based, inclusive)."
        )
    if transcript_id is None:
        hit = hits.iloc[0]
    elif transcript_id in set(hits["transcript_id"]):
        hit = hits[hits["transcript_id"] == transcript_id].iloc[0]
    else:
        raise InputError(f"{transcript_id!r} is not among the transcripts matching {text!r}")
    exons = annotation.exons(hit["transcript_id"]) if _SPLICE_PART.match(part) else None
    start, end = gene_part_span(hit, part, exons=exons, upstream=upstream)
    size = genome.chrom_sizes[hit["chrom"]]
    if start - flank >= size or end + flank <= 0:
        raise InputError(f"the {part} of {hit['name']} lies outside {hit['chrom']} (1-{size:,})")
    return Locus(
        str(hit["chrom"]),
        max(0, start - flank),
        min(size, end + flank),
        strand or str(hit["strand"]),
        transcript_id=str(hit["transcript_id"]),
        name=str(hit["name"]),
        part=part,
        flank=int(flank),
        matches=hits,
    )


def gene_part_span(
    transcript: pd.Series, part: str, *, exons: pd.DataFrame | None = None, upstream: int = DEFAULT_PROMOTER_BP
) -> tuple[int, int]:
    """0-based half-open span of a transcript's ``part`` (see the module notes), on its strand.

    The start and stop codons are the first or last three CDS bases on the transcript's
    strand; a transcript without a CDS gives its own first or last three bases, and has no
    ``CDS`` part. A promoter may reach past the sequence's ends (the caller clips it).
    Splice sites need ``exons``: the transcript's exons in transcription order
    (:meth:`glm_core.annotation.Annotation.exons`).
    """
    start, end, plus = int(transcript["start"]), int(transcript["end"]), transcript["strand"] != "-"
    if part == WHOLE_GENE:
        return start, end
    if part == TSS:
        return (start, start + 1) if plus else (end - 1, end)
    if part == PROMOTER:
        return (start - upstream, start) if plus else (end, end + upstream)
    splice = _SPLICE_PART.match(part)
    if splice is not None:
        return _splice_site_span(transcript, exons, splice.group(1).lower(), int(splice.group(2)))
    has_cds = pd.notna(transcript.get("cds_start")) and pd.notna(transcript.get("cds_end"))
    if part == CDS:
        if not has_cds:
            raise InputError(f"{transcript['name']} is non-coding: it has no CDS. Choose another part of it.")
        return int(transcript["cds_start"]), int(transcript["cds_end"])
    bounds = ("cds_start", "cds_end") if has_cds else ("start", "end")
    low, high = int(transcript[bounds[0]]), int(transcript[bounds[1]])
    at_low = (part == START_CODON) == plus
    return (low, min(low + 3, high)) if at_low else (max(high - 3, low), high)


def _splice_site_span(transcript: pd.Series, exons: pd.DataFrame | None, site: str, intron: int) -> tuple[int, int]:
    """The first (donor) or last (acceptor) two bases of intron ``intron`` (1-based, 5'->3')."""
    n_introns = 0 if exons is None else len(exons) - 1
    if not 1 <= intron <= n_introns:
        raise InputError(
            f"{transcript['name']} has {n_introns} intron{'s' if n_introns != 1 else ''}; "
            f"there is no intron {intron} (introns are counted 1, 2, ... from the 5' end)"
        )
    upstream_exon, downstream_exon = exons.iloc[intron - 1], exons.iloc[intron]
    if transcript["strand"] != "-":
        low, high = int(upstream_exon["end"]), int(downstream_exon["start"])
        return (low, low + 2) if site == "donor" else (high - 2, high)
    low, high = int(downstream_exon["end"]), int(upstream_exon["start"])
    return (high - 2, high) if site == "donor" else (low, low + 2)
