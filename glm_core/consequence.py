"""Predicted consequences of single-nucleotide variants on annotated transcripts.

Coordinates: ``pos`` is **0-based** (a VCF's POS minus 1); ``ref`` and ``alt`` are given on
the ``+`` strand, whatever the transcript's strand.

Codons come from the spliced CDS of each transcript (so a codon split across an exon
junction is read whole), in the frame set by the cumulative CDS length on the
transcript's strand after skipping the first CDS part's phase; internal GFF phases are
not used (in the embedded U. maydis annotation a third of the internal minus-strand
phases disagree with the spliced sequence). Amino acids follow the standard genetic code
(:mod:`glm_core.genetic_code`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from glm_core.annotation import Annotation
from glm_core.genetic_code import amino_acid_bytes
from glm_core.genome import NUCLEOTIDES
from glm_core.intervals import CoveringIntervals, position_keys, split_position_keys

# Most severe first. Where a variant touches several transcripts the first one listed wins.
CONSEQUENCES = [
    "stop_gained",  # a codon becomes TAA, TAG or TGA
    "stop_lost",  # a stop codon becomes a sense codon
    "start_lost",  # the ATG at the start of a complete CDS changes
    "splice_donor",  # first 2 intron bases (5' end of the intron on the transcript's strand)
    "splice_acceptor",  # last 2 intron bases
    "missense",  # the amino acid changes
    "synonymous",  # the codon changes but not the amino acid (stop to stop included)
    "coding_sequence",  # CDS base outside any complete codon (incomplete first or last codon)
    "splice_region",  # intron bases 3..8 from a junction, or exon bases 1..3 next to one
    "five_prime_UTR",
    "three_prime_UTR",
    "non_coding_exon",  # exon of a transcript without CDS
    "intron",
    "promoter",  # within promoter_length bp before a transcript's 5' end
    "downstream",  # within downstream_length bp after a transcript's 3' end
    "intergenic",
]
SEVERITY = {consequence: rank for rank, consequence in enumerate(CONSEQUENCES)}
CONSEQUENCE_COLUMNS = [
    "consequence",
    "transcript_id",
    "gene",
    "codon_position",
    "ref_codon",
    "alt_codon",
    "ref_aa",
    "alt_aa",
]


_COMPLEMENT_BYTE = np.arange(256, dtype=np.uint8)
for _base, _partner in zip(b"ACGTN", b"TGCAN"):
    _COMPLEMENT_BYTE[_base] = _partner


def annotate_snvs(
    annotation: Annotation,
    genome,
    variants: pd.DataFrame,
    promoter_length: int = 500,
    downstream_length: int = 500,
) -> pd.DataFrame:
    """Most severe consequence of each SNV over all transcripts, vectorised.

    Parameters
    ----------
    annotation : the genome's :class:`glm_core.annotation.Annotation`.
    genome : a :class:`glm_core.genome.Genome`; ``ref`` is checked against it.
    variants : pd.DataFrame with columns ``chrom``, ``pos`` (0-based), ``ref``, ``alt`` (single
        bases A/C/G/T, either case, on the ``+`` strand); other columns are kept.
    promoter_length, downstream_length : bp before a transcript's 5' end / after its 3' end
        that count as promoter / downstream.

    Returns
    -------
    A new DataFrame: ``variants``' columns plus

    * ``consequence`` : ordered Categorical over :data:`CONSEQUENCES` (most severe first);
    * ``transcript_id``, ``gene`` : the transcript giving that consequence and its name (NA for
      intergenic);
    * ``codon_position`` : Int64 1..3 within the codon on the transcript's strand, NA outside codons;
    * ``ref_codon``, ``alt_codon`` : codons on the transcript's strand (upper case), NA outside codons;
    * ``ref_aa``, ``alt_aa`` : one-letter amino acids, ``*`` for stop, NA outside codons.

    Raises
    ------
    ValueError for missing columns, unknown chromosomes, positions outside a chromosome,
    alleles that are not single bases, or a ``ref`` that differs from the genome.
    """
    chrom_codes, positions, ref, alt = _checked_variants(genome, variants)
    annotation.check_sequence_ids(genome.chrom_sizes)
    code_of = {chrom: i for i, chrom in enumerate(genome.chrom_sizes)}
    keys = position_keys(chrom_codes, positions)

    severity, interval_transcript = _non_coding_consequences(
        annotation, code_of, keys, genome.chrom_sizes, promoter_length, downstream_length
    )
    coding = _coding_consequences(annotation, genome, code_of, keys, alt)

    use_coding = coding["severity"] < severity
    severity = np.where(use_coding, coding["severity"], severity)
    transcript_row = np.where(use_coding, coding["transcript_row"], interval_transcript)
    in_codon = use_coding & coding["in_codon"]

    def per_transcript(values: np.ndarray) -> pd.Series:
        picked = np.full(len(transcript_row), np.nan, dtype=object)
        has_transcript = transcript_row >= 0
        picked[has_transcript] = values[transcript_row[has_transcript]]
        return pd.Series(picked, index=variants.index, dtype="str")

    def per_codon(values: np.ndarray) -> pd.Series:
        return pd.Series(np.where(in_codon, values, np.nan), index=variants.index, dtype="str")

    result = variants.copy()
    result["consequence"] = pd.Categorical.from_codes(severity, categories=CONSEQUENCES, ordered=True)
    result["transcript_id"] = per_transcript(annotation.transcripts["transcript_id"].to_numpy())
    result["gene"] = per_transcript(annotation.transcripts["name"].to_numpy())
    result["codon_position"] = pd.Series(coding["codon_position"], index=variants.index, dtype="Int64").where(in_codon)
    for column in ("ref_codon", "alt_codon", "ref_aa", "alt_aa"):
        result[column] = per_codon(coding[column])
    return result


def _checked_variants(genome, variants: pd.DataFrame):
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in variants.columns]
    if missing:
        raise ValueError(
            f"the variant table lacks columns {missing}; it needs chrom, pos (0-based), ref, alt; "
            f"it has {list(variants.columns)}"
        )
    chrom = variants["chrom"].astype(str).to_numpy(dtype=object)
    chrom_codes = pd.Index(list(genome.chrom_sizes)).get_indexer(chrom).astype(np.int64)
    if (chrom_codes < 0).any():
        unknown = list(pd.unique(chrom[chrom_codes < 0]))
        raise ValueError(
            f"{len(unknown)} chromosome names in the variants are not in the genome: {unknown[:10]}; "
            f"the genome has {list(genome.chrom_sizes)[:12]}{' ...' if len(genome.chrom_sizes) > 12 else ''}"
        )
    positions = pd.to_numeric(variants["pos"], errors="coerce")
    if positions.isna().any() or (positions % 1 != 0).any():
        row = int(np.flatnonzero((positions.isna() | (positions % 1 != 0)).to_numpy())[0])
        raise ValueError(f"variant row {row}: pos {variants['pos'].iloc[row]!r} is not an integer (0-based position)")
    positions = positions.to_numpy(np.int64)
    sizes = np.array(list(genome.chrom_sizes.values()), dtype=np.int64)[chrom_codes]
    outside = (positions < 0) | (positions >= sizes)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"variant row {row}: pos {positions[row]} is outside {chrom[row]}, whose valid 0-based positions "
            f"are 0-{sizes[row] - 1:,} ({int(outside.sum())} variants outside)"
        )
    alleles = {}
    for column in ("ref", "alt"):
        text = variants[column].astype(str).str.upper()
        bad = ~text.isin(list(NUCLEOTIDES)).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"variant row {row}: {column} {variants[column].iloc[row]!r} is not a single base A, C, G or T "
                f"({int(bad.sum())} such rows); only SNVs are annotated here"
            )
        alleles[column] = text.to_numpy(dtype="S1").view(np.uint8)
    same = alleles["ref"] == alleles["alt"]
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise ValueError(f"variant row {row}: ref and alt are both {chr(alleles['ref'][row])}; an SNV changes the base")
    reference = np.frombuffer(genome.bases_at(chrom, positions).encode("ascii"), dtype=np.uint8)
    differs = reference != alleles["ref"]
    if differs.any():
        rows = np.flatnonzero(differs)
        shown = ", ".join(
            f"{chrom[r]}:{positions[r] + 1} ref={chr(alleles['ref'][r])} genome={chr(reference[r])}" for r in rows[:3]
        )
        raise ValueError(
            f"ref differs from the genome at {len(rows)} of {len(positions)} variants ({shown}; positions shown "
            "1-based); pos must be 0-based (VCF POS - 1) and ref on the + strand"
        )
    return chrom_codes, positions, alleles["ref"], alleles["alt"]


def splice_intervals(annotation: Annotation) -> pd.DataFrame:
    """Splice donor, acceptor and splice-region intervals of every intron.

    Donor = first 2 intron bases at the intron's 5' end on the transcript's strand,
    acceptor = last 2; splice_region = intron bases 3..8 from either end and exon bases
    1..3 beside each junction (clipped to the exon).

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open), ``consequence``,
    ``transcript_id``.
    """
    introns = annotation.introns()
    a, b = introns["start"].to_numpy(np.int64), introns["end"].to_numpy(np.int64)
    minus = (introns["strand"] == "-").to_numpy()
    left_two = (a, np.minimum(a + 2, b))
    right_two = (np.maximum(b - 2, a), b)
    pieces = [
        ("splice_donor", np.where(minus, right_two[0], left_two[0]), np.where(minus, right_two[1], left_two[1])),
        ("splice_acceptor", np.where(minus, left_two[0], right_two[0]), np.where(minus, left_two[1], right_two[1])),
        ("splice_region", np.minimum(a + 2, b), np.minimum(a + 8, b)),
        ("splice_region", np.maximum(b - 8, a), np.maximum(b - 2, a)),
        ("splice_region", np.maximum(a - 3, introns["upstream_exon_start"].to_numpy(np.int64)), a),
        ("splice_region", b, np.minimum(b + 3, introns["downstream_exon_end"].to_numpy(np.int64))),
    ]
    tables = [
        pd.DataFrame(
            {
                "chrom": introns["chrom"].to_numpy(),
                "start": start,
                "end": end,
                "consequence": consequence,
                "transcript_id": introns["transcript_id"].to_numpy(),
            }
        )
        for consequence, start, end in pieces
    ]
    table = pd.concat(tables, ignore_index=True)
    return table[table["end"] > table["start"]].reset_index(drop=True)


def _non_coding_consequences(annotation, code_of, keys, chrom_sizes, promoter_length, downstream_length):
    """Per variant: severity of the most severe non-codon consequence and a transcript row (-1: none)."""
    regions = annotation.class_intervals(chrom_sizes, promoter_length, downstream_length)
    regions = regions[regions["region_class"] != "CDS"].rename(columns={"region_class": "consequence"})
    intervals = pd.concat([splice_intervals(annotation), regions], ignore_index=True)
    codes = intervals["chrom"].map(code_of).to_numpy(np.int64)
    starts = position_keys(codes, intervals["start"].to_numpy())
    ends = position_keys(codes, intervals["end"].to_numpy())
    rows = annotation.transcript_rows(intervals["transcript_id"])
    severity = np.full(len(keys), SEVERITY["intergenic"], dtype=np.int64)
    transcript_row = np.full(len(keys), -1, dtype=np.int64)
    consequence = intervals["consequence"].to_numpy()
    for name in reversed(CONSEQUENCES[:-1]):
        chosen = np.flatnonzero(consequence == name)
        if not len(chosen):
            continue
        hit = CoveringIntervals(starts[chosen], ends[chosen]).first_covering(keys)
        covered = hit >= 0
        severity[covered] = SEVERITY[name]
        transcript_row[covered] = rows[chosen[hit[covered]]]
    return severity, transcript_row


def _coding_consequences(annotation, genome, code_of, keys, alt):
    """Per variant: the most severe codon consequence over all CDS covering it."""
    n = len(keys)
    result = {
        "severity": np.full(n, len(CONSEQUENCES), dtype=np.int64),
        "transcript_row": np.full(n, -1, dtype=np.int64),
        "in_codon": np.zeros(n, dtype=bool),
        "codon_position": np.zeros(n, dtype=np.int64),
        "ref_codon": np.full(n, "", dtype=object),
        "alt_codon": np.full(n, "", dtype=object),
        "ref_aa": np.full(n, "", dtype=object),
        "alt_aa": np.full(n, "", dtype=object),
    }
    cds = annotation.cds_table
    if cds.empty:
        return result
    part_codes = cds["chrom"].map(code_of).to_numpy(np.int64)
    part_start, part_end = cds["start"].to_numpy(np.int64), cds["end"].to_numpy(np.int64)
    variant, part = CoveringIntervals(
        position_keys(part_codes, part_start), position_keys(part_codes, part_end)
    ).all_covering(keys)
    if not len(variant):
        return result

    transcript_row = annotation.transcript_rows(cds["transcript_id"])[part]
    minus = (cds["strand"].to_numpy() == "-")[part]
    position = split_position_keys(keys[variant])[1]
    offset = cds["cds_offset"].to_numpy(np.int64)[part] + np.where(
        minus, part_end[part] - 1 - position, position - part_start[part]
    )
    # Spliced CDS of the transcripts involved, laid end to end in one byte array.
    involved = np.unique(transcript_row)
    sequences = annotation.cds_sequences(genome, annotation.transcripts["transcript_id"].to_numpy()[involved])
    lengths = sequences.str.len().to_numpy(np.int64)
    base_of = np.full(len(annotation.transcripts), -1, dtype=np.int64)
    base_of[involved] = np.cumsum(lengths) - lengths
    length_of = np.zeros(len(annotation.transcripts), dtype=np.int64)
    length_of[involved] = lengths
    spliced = np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8)

    first_parts = cds[cds["rank"] == 0]
    skip_of = np.zeros(len(annotation.transcripts), dtype=np.int64)
    skip_of[annotation.transcript_rows(first_parts["transcript_id"])] = (
        first_parts["phase"].fillna(0).to_numpy(np.int64)
    )
    skip = skip_of[transcript_row]
    in_frame = offset - skip
    codon_start = skip + (in_frame // 3) * 3
    in_codon = (in_frame >= 0) & (codon_start + 3 <= length_of[transcript_row])

    codon_index = base_of[transcript_row][:, None] + np.where(in_codon, codon_start, 0)[:, None] + np.arange(3)
    ref_codon = spliced[np.minimum(codon_index, len(spliced) - 1)]
    codon_position = np.where(in_codon, in_frame % 3, 0)
    alt_base = np.where(minus, _COMPLEMENT_BYTE[alt[variant]], alt[variant])
    alt_codon = ref_codon.copy()
    alt_codon[np.arange(len(variant)), codon_position] = alt_base
    severity, ref_aa, alt_aa = _codon_severity(ref_codon, alt_codon, in_codon, codon_start)
    # Per variant keep the most severe pair (ties: first transcript in genome order).
    order = np.lexsort((transcript_row, severity, variant))
    chosen = order[np.unique(variant[order], return_index=True)[1]]
    target = variant[chosen]
    result["severity"][target] = severity[chosen]
    result["transcript_row"][target] = transcript_row[chosen]
    result["in_codon"][target] = in_codon[chosen]
    result["codon_position"][target] = codon_position[chosen] + 1
    result["ref_codon"][target] = _codon_text(ref_codon[chosen])
    result["alt_codon"][target] = _codon_text(alt_codon[chosen])
    result["ref_aa"][target] = ref_aa[chosen].view("S1").astype(str)
    result["alt_aa"][target] = alt_aa[chosen].view("S1").astype(str)
    return result


def _codon_severity(ref_codon: np.ndarray, alt_codon: np.ndarray, in_codon: np.ndarray, codon_start: np.ndarray):
    """Severity rank of each (variant, CDS part) pair from its codons, shape=(n, 3) uint8, and the
    ASCII amino acids; ``codon_start`` 0 marks the first codon (start_lost when it reads ATG)."""
    ref_aa, alt_aa = amino_acid_bytes(ref_codon), amino_acid_bytes(alt_codon)
    first_codon = in_codon & (codon_start == 0)
    ref_is_atg = (ref_codon == np.frombuffer(b"ATG", dtype=np.uint8)).all(axis=1)
    star = ord("*")
    severity = np.select(
        [
            ~in_codon,
            (ref_aa != star) & (alt_aa == star),
            (ref_aa == star) & (alt_aa != star),
            first_codon & ref_is_atg,
            ref_aa != alt_aa,
        ],
        [
            SEVERITY["coding_sequence"],
            SEVERITY["stop_gained"],
            SEVERITY["stop_lost"],
            SEVERITY["start_lost"],
            SEVERITY["missense"],
        ],
        default=SEVERITY["synonymous"],
    )
    return severity, ref_aa, alt_aa


def _codon_text(codons: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codons).view("S3").ravel().astype(str)
