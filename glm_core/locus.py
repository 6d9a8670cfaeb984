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
  ``transcript_id`` picks another, and ``part`` chooses the whole gene, its start codon or
  its stop codon, widened by ``flank`` bases on each side (clipped to the sequence).

The grammar is written as small steps (:func:`_coordinates`, :func:`_genome_chrom`,
:func:`gene_part_span`) so that further gene parts (promoter, TSS +- N, splice sites) are a
new entry in :data:`GENE_PARTS` and :func:`gene_part_span`, not another parser.

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
# The order pages offer them in (the start codon first: the logo page's default view).
GENE_PARTS = (START_CODON, WHOLE_GENE, STOP_CODON)

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
) -> Locus:
    """The interval ``query`` names on ``genome`` (see the module docstring for the grammar).

    Parameters
    ----------
    query : what the user typed.
    annotation : a :class:`glm_core.annotation.Annotation`, needed only for gene searches.
    part, flank : for a gene: which part (one of :data:`GENE_PARTS`) and how many bases to add
        on each side; ignored for coordinates.
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
    return _gene_locus(text, genome, annotation, part, flank, strand, transcript_id, limit)


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


def _gene_locus(text, genome, annotation, part, flank, strand, transcript_id, limit) -> Locus:
    if annotation is None:
        raise InputError(f"{text!r} is not a region, and gene search needs an annotation. {accepted_forms(genome)}.")
    if part not in GENE_PARTS:
        raise InputError(f"unknown gene part {part!r}; choose one of {', '.join(GENE_PARTS)}")
    if flank < 0:
        raise InputError(f"the flank must be 0 or more bases; got {flank}")
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
    start, end = gene_part_span(hit, part)
    size = genome.chrom_sizes[hit["chrom"]]
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


def gene_part_span(transcript: pd.Series, part: str) -> tuple[int, int]:
    """0-based half-open span of a transcript's ``part`` (one of :data:`GENE_PARTS`).

    The start and stop codons are the first or last three CDS bases on the transcript's
    strand; a transcript without a CDS gives its own first or last three bases.
    """
    if part == WHOLE_GENE:
        return int(transcript["start"]), int(transcript["end"])
    has_cds = pd.notna(transcript.get("cds_start")) and pd.notna(transcript.get("cds_end"))
    bounds = ("cds_start", "cds_end") if has_cds else ("start", "end")
    low, high = int(transcript[bounds[0]]), int(transcript[bounds[1]])
    at_low = (part == START_CODON) == (transcript["strand"] == "+")
    return (low, min(low + 3, high)) if at_low else (max(high - 3, low), high)
