"""The guided tour of the embedded U. maydis genome: a handful of loci where the bundled
model shows something, each opened in one view with one click (the overview page).

The loci were chosen by ``bench/find_tour_loci.py`` on one H200 (results in
``docs/results/tour_loci.tsv``): among the 134 ribosomal-protein transcripts of the
annotation, the start codon, stop codon and first-intron donor with the highest mean
information content (IC, bits) of the bundled gpn-umaydis model, and the promoters with the
strongest high-IC runs (>= 1 bit over >= 4 bases). Figures quoted are from that run; on
a CPU the same model gives the same numbers to about 1e-3 bits.

A stop's ``query`` is what the page's region box reads (:func:`glm_core.locus.resolve_locus`);
``part`` and ``flank`` are its gene-part choice (None for coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

LOGO_PAGE = "pages/logo.py"
OVERVIEW_PAGE = "pages/overview.py"


@dataclass(frozen=True)
class TourStop:
    """One locus of the tour: a button ``title``, the sentence shown beside it, and where it opens."""

    title: str
    text: str
    page: str
    query: str
    part: str | None = None
    flank: int = 0


TOUR = (
    TourStop(
        "A start codon",
        "um04855 (60S ribosomal protein L26, minus strand): the model is nearly sure of the A, T and G of the "
        "start codon (1.86 bits on average of 2) and much less of the bases around it.",
        LOGO_PAGE,
        "um04855",
        "start codon",
        20,
    ),
    TourStop(
        "A stop codon",
        "um02353 (40S ribosomal protein S9): the TAA that ends the protein stands out (1.13 bits a base); past it "
        "the 3' sequence is read with less certainty.",
        LOGO_PAGE,
        "um02353",
        "stop codon",
        20,
    ),
    TourStop(
        "A splice donor",
        "um10700 (60S ribosomal protein L30): the GT that opens its intron (0.89 bits a base), and the weaker "
        "exon and intron bases on either side.",
        LOGO_PAGE,
        "um10700",
        "donor of intron 1",
        10,
    ),
    TourStop(
        "A strongly predicted promoter run",
        "153-180 bp upstream of um00811 (50S ribosomal protein L1): ATTCGTGATTATTCACGATTCGTGACT, 1.56 bits a "
        "base, a run of TTCGTGA/TCACGA palindromes the model predicts from their own partners.",
        LOGO_PAGE,
        "chr01:2,424,115-2,424,161",
    ),
    TourStop(
        "A repeat the model copies",
        "154-192 bp upstream of um04960: AATCACG four times over, 1.80 bits a base. A masked model predicts a repeat "
        "unit from its copies, so a strong run can be a tandem repeat rather than a binding site.",
        LOGO_PAGE,
        "chr15:238,238-238,295",
    ),
    TourStop(
        "A ribosomal protein gene",
        "um10110 (60S ribosomal protein L36): two exons on the plus strand, in the locus view with 500 bp "
        "on each side; zoom in to read its bases.",
        OVERVIEW_PAGE,
        "um10110",
    ),
)
