"""Variant effect scores from a masked model: saturation scans of a region and VCF scoring.

Scores
------
The score of an SNV is GPN's log-likelihood ratio ``LLR = log P(alt) - log P(ref)``
(natural log) at the masked position, with the forward and reverse-complement
predictions averaged (:func:`glm_core.scoring.masked_site_probabilities`). Negative
means the model finds the alternative allele less likely than the reference. Both the
region scan and VCF scoring call the same primitive, so one SNV gets the same LLR
either way.

A *percentile* says where an LLR falls in a background distribution: the percentage of
background SNVs whose LLR is at most this one (so 1 means "among the lowest 1 %").
:func:`region_snvs` uses every possible SNV of the scanned region as background;
:func:`score_variants` uses every possible SNV at the positions it scored. When a
genome-wide background is available (a sample of LLRs, see :func:`read_llr_background`)
a second column ``llr_percentile_genome`` is added.

Coordinates
-----------
``pos`` is 0-based inside this module, as everywhere in ``glm_core``; VCF ``POS`` and the
TSV files written here are 1-based. Alleles are on the ``+`` strand.

VCF input and output
--------------------
VCF text is read and written by the small parser in this module; pysam is used only to
write BGZF-compressed ``.vcf.gz`` output. pysam (htslib 1.x) does not fit the parsing
side: (1) for a malformed record it raises ``OSError("unable to parse next record")``,
naming neither the line nor the field, and records whose CHROM or INFO keys the header
does not declare (common in hand-made files) only produce warnings on stderr; (2) it
re-serialises every record it writes, so fields the user did not ask to change can change
form; (3) splitting multi-allelic records needs per-field handling of ``Number=A/R/G``
values that pysam leaves to the caller anyway. The parser here keeps every record's text,
checks the columns, ``POS`` and ``REF``, and raises ``ValueError`` naming the file and
line of anything it cannot read. Plain and gzip/bgzip input are accepted.

Output records are split to one ALT allele each (like ``bcftools norm -m-``): INFO and
FORMAT values declared ``Number=A``, ``R`` or ``G`` in the header are cut to the allele
kept; in genotypes the kept allele becomes 1 and any other ALT allele becomes missing
(``.``), since the sample carries neither REF nor this ALT there. Five INFO fields are
added (with their header lines): ``GLM_LLR``, ``GLM_LLR_PCT``, ``GLM_CSQ``, ``GLM_GENE`` for
scored SNVs, and ``GLM_STATUS`` on every record, saying ``scored`` or why not (see
:data:`STATUSES`). Nothing is dropped: indels, symbolic alleles, records on unknown
chromosomes and records whose REF disagrees with the genome are written back, marked.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .consequence import CONSEQUENCES, annotate_snvs
from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .scoring import Progress, every_snv, site_probabilities_at, snv_table

# GLM_STATUS values, and what each means.
STATUSES = {
    "scored": "an SNV of the reference genome, scored",
    "unknown_chromosome": "the chromosome is not in the genome, under its name or an alias",
    "ambiguous_chromosome": "the chromosome name matches several genome sequences once aliases are allowed",
    "outside_chromosome": "the position lies outside the chromosome",
    "ref_mismatch": "REF differs from the genome at this position",
    "no_alt": "the record has no ALT allele",
    "spanning_deletion": "ALT is '*' (an overlapping deletion)",
    "symbolic": "ALT is a symbolic allele or breakend, not a sequence",
    "indel": "REF and ALT differ in length",
    "mnv": "a multi-base substitution (only single-base changes are scored)",
    "non_acgt": "REF or ALT holds a base other than A, C, G, T",
    "alt_equals_ref": "ALT is the same as REF",
}
CONSEQUENCE_COLUMNS = [
    "consequence", "transcript_id", "gene", "codon_position", "ref_codon", "alt_codon", "ref_aa", "alt_aa",
]
VCF_FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
GLM_INFO = {
    "GLM_LLR": ("A", "Float", (
        "log P(ALT) - log P(REF), natural log, at the masked position; forward and "
        "reverse-complement predictions averaged; negative = ALT less likely than REF under the model"
    )),
    "GLM_LLR_PCT": ("A", "Float", (
        "Percentile (0-100) of GLM_LLR among every possible SNV at the positions scored in this file"
    )),
    "GLM_CSQ": ("A", "String", "Most severe predicted consequence of the SNV over all annotated transcripts"),
    "GLM_GENE": ("A", "String", "Gene (transcript name) giving GLM_CSQ"),
    "GLM_STATUS": ("A", "String", "scored, or why the allele was not scored: "
                   + ", ".join(name for name in STATUSES if name != "scored")),
}
MODEL_BACKGROUND_FILES = ("llr_background.npy", "llr_background.tsv")
IUPAC_BASES = re.compile(r"^[ACGTUNRYSWKMBDHVacgtunryswkmbdhv]+$")


# --------------------------------------------------------------------------- percentiles


def llr_percentile(values, background) -> np.ndarray:
    """Percentage of ``background`` LLRs that are <= each value (0..100; NaN for NaN values).

    Parameters
    ----------
    values : LLRs to place, shape=(n,).
    background : LLRs of the reference distribution (NaNs ignored), any shape.
    """
    values = np.asarray(values, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64).ravel()
    background = np.sort(background[~np.isnan(background)])
    out = np.full(values.shape, np.nan)
    if len(background) == 0:
        return out
    finite = ~np.isnan(values)
    out[finite] = np.searchsorted(background, values[finite], side="right") / len(background) * 100.0
    return out


def model_llr_background(model) -> np.ndarray | None:
    """The genome-wide LLR sample shipped with a model, if any: ``llr_background.npy`` (or a
    ``scan`` TSV named ``llr_background.tsv``) in the model's folder; None when there is none."""
    folder = getattr(model, "path", None)
    if folder is None:
        return None
    for name in MODEL_BACKGROUND_FILES:
        if (Path(folder) / name).is_file():
            return read_llr_background(Path(folder) / name)
    return None


def read_llr_background(path: str | Path) -> np.ndarray:
    """LLRs of a background SNV sample, from ``.npy`` (any array of LLRs) or from a TSV that
    ``glm-explore scan`` wrote (its ``llr_A`` ... ``llr_T`` columns, reference column left out).

    Returns a 1-d float64 array without NaNs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LLR background file not found: {path}")
    if path.suffix.lower() == ".npy":
        values = np.load(path, allow_pickle=False).astype(np.float64).ravel()
    else:
        table = pd.read_csv(path, sep="\t", comment="#")
        columns = [f"llr_{base}" for base in NUCLEOTIDES]
        if not set(columns) <= set(table.columns) or "ref" not in table.columns:
            raise ValueError(
                f"{path} has no columns ref and {', '.join(columns)}; write one with "
                "`glm-explore scan CHR:START-END --out FILE.tsv`, or give a .npy array of LLRs"
            )
        llr = table[columns].to_numpy(dtype=np.float64)
        is_ref = table["ref"].astype(str).str.upper().to_numpy()[:, None] == np.array(list(NUCLEOTIDES))[None, :]
        values = llr[~is_ref]
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError(f"{path} holds no LLR values")
    return values


# --------------------------------------------------------------------------- region scan


def _with_consequences(annotation, genome: Genome, snvs: pd.DataFrame) -> pd.DataFrame:
    """``snvs`` (chrom, pos, ref, alt on genome sequence names) plus the consequence columns."""
    if annotation is not None and len(snvs):
        return annotate_snvs(annotation, genome, snvs)
    out = snvs.copy()
    out["consequence"] = pd.Categorical([None] * len(out), categories=CONSEQUENCES, ordered=True)
    for column in CONSEQUENCE_COLUMNS[1:]:
        dtype = "Int64" if column == "codon_position" else "str"
        out[column] = pd.Series([pd.NA] * len(out), index=out.index, dtype=dtype)
    return out


def region_snvs(
    genome: Genome,
    annotation,
    chrom: str,
    start: int,
    end: int,
    probabilities: np.ndarray,
    *,
    background: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every possible SNV of ``[start, end)`` (0-based half-open) with its LLR and consequence.

    Parameters
    ----------
    annotation : :class:`glm_core.annotation.Annotation` of the genome, or None (no consequences).
    probabilities : plus-strand predictions of the region, shape=(end - start, 4), columns
        A, C, G, T, as ``site_probabilities(model, genome, chrom, start, end, "+")`` returns.
    background : optional genome-wide LLR sample for ``llr_percentile_genome``.

    Returns
    -------
    pd.DataFrame, three rows per A/C/G/T position: ``chrom, pos`` (0-based), ``ref, alt``
    (plus strand), ``llr``, ``llr_percentile`` (among all SNVs of the region)
    [, ``llr_percentile_genome``], and the columns of
    :func:`glm_core.consequence.annotate_snvs` (``consequence, transcript_id, gene,
    codon_position, ref_codon, alt_codon, ref_aa, alt_aa``).
    """
    genome.check_interval(chrom, start, end)
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (end - start, 4):
        raise ValueError(
            f"probabilities have shape {probabilities.shape}; {chrom}:{start + 1:,}-{end:,} needs ({end - start}, 4)"
        )
    snvs = snv_table(chrom, start, genome.fetch(chrom, start, end), probabilities)
    snvs["llr_percentile"] = llr_percentile(snvs["llr"], snvs["llr"])
    if background is not None:
        snvs["llr_percentile_genome"] = llr_percentile(snvs["llr"], background)
    return _with_consequences(annotation, genome, snvs)


def consequence_llr_summary(snvs: pd.DataFrame) -> pd.DataFrame:
    """LLR distribution per consequence, most severe first.

    Returns columns ``consequence, n, mean_llr, median_llr, q25_llr, q75_llr``; only
    consequences with at least one SNV.
    """
    known = snvs[snvs["consequence"].notna() & snvs["llr"].notna()]
    grouped = known.groupby("consequence", observed=True)["llr"]
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "mean_llr": grouped.mean(),
            "median_llr": grouped.median(),
            "q25_llr": grouped.quantile(0.25),
            "q75_llr": grouped.quantile(0.75),
        }
    ).reset_index()
    table["consequence"] = table["consequence"].astype(str)
    return table[table["n"] > 0].reset_index(drop=True)


# --------------------------------------------------------------------------- chromosome names


def _alias_key(name: str) -> str:
    key = str(name).strip().lower()
    for prefix in ("chromosome", "chrom", "chr"):
        if key.startswith(prefix):
            key = key[len(prefix):].lstrip("_-")
            break
    if key.isdigit():
        key = str(int(key))
    return "mt" if key in ("m", "mt") else key


def resolve_chromosomes(names, chrom_sizes: dict[str, int]) -> pd.DataFrame:
    """Match variant-file chromosome names to genome sequence names.

    An exact name wins; otherwise names match when they agree after dropping a leading
    ``chr``/``chrom``/``chromosome`` and leading zeros of a number, with ``M`` = ``MT``:
    ``1``, ``chr1``, ``01`` and ``chr01`` all match one another.

    Returns
    -------
    pd.DataFrame with columns ``vcf_chrom``, ``genome_chrom`` (None unless matched) and
    ``match``: ``exact``, ``alias``, ``ambiguous`` (several genome names fit) or ``unknown``.
    """
    by_key: dict[str, list[str]] = {}
    for chrom in chrom_sizes:
        key = _alias_key(chrom)
        if key:
            by_key.setdefault(key, []).append(chrom)
    rows = []
    for name in pd.unique(pd.Series(list(names), dtype=object)):
        if name in chrom_sizes:
            rows.append((name, name, "exact"))
            continue
        candidates = by_key.get(_alias_key(name), []) if _alias_key(name) else []
        if len(candidates) == 1:
            rows.append((name, candidates[0], "alias"))
        else:
            rows.append((name, None, "ambiguous" if candidates else "unknown"))
    return pd.DataFrame(
        {
            "vcf_chrom": pd.Series([row[0] for row in rows], dtype=object),
            "genome_chrom": pd.Series([row[1] for row in rows], dtype=object),
            "match": [row[2] for row in rows],
        }
    )


# --------------------------------------------------------------------------- reading VCF


@dataclass
class Vcf:
    """A VCF held in memory as text.

    Attributes
    ----------
    source : the file name (or a label for uploaded bytes), used in messages.
    meta : the ``##`` header lines, in order, without line ends.
    header : the fields of the ``#CHROM`` line.
    records : the tab-separated fields of each data line.
    lines : the 1-based line number of each record in the file.
    """

    source: str
    meta: list[str]
    header: list[str]
    records: list[list[str]]
    lines: list[int]
    info_numbers: dict[str, str] = field(default_factory=dict)
    format_numbers: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


_META_ID = re.compile(r"^##(INFO|FORMAT)=<(.*)>\s*$")


def _meta_fields(body: str) -> dict[str, str]:
    """``ID=DP,Number=1,Type=Integer,Description="a, b"`` -> dict (quoted values may hold commas)."""
    return {key: value.strip('"') for key, value in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,]*)', body)}


def _decoded(data: bytes, source: str) -> str:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{source}: the gzip data are truncated or corrupt ({error}); compress it again") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"{source}, line {line}: not UTF-8 text; is this a VCF file?") from error


def read_vcf(source: str | Path | bytes, name: str | None = None) -> Vcf:
    """Read a VCF (plain, gzip or bgzip) from a path or from bytes.

    Parameters
    ----------
    source : a path, or the file's bytes (e.g. an upload).
    name : what to call the file in messages (defaults to the path, or "the VCF").

    Raises
    ------
    FileNotFoundError for a missing path; ValueError, naming the line, for text that is not
    a VCF: no ``#CHROM`` header line, a record with too few tab-separated fields, a POS that
    is not a whole number, or a REF that is not a sequence of bases.
    """
    if isinstance(source, (bytes, bytearray)):
        label = name or "the VCF"
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"VCF file not found: {path}")
        label = name or str(path)
        data = path.read_bytes()
    text = _decoded(data, label)
    meta: list[str] = []
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("##"):
            if header is not None:
                raise ValueError(f"{label}, line {number}: a '##' meta line after the #CHROM header line")
            meta.append(line)
            continue
        if line.startswith("#"):
            header = line.split("\t")
            if [column.upper() for column in header[:8]] != VCF_FIXED_COLUMNS:
                raise ValueError(
                    f"{label}, line {number}: the header line must start with the tab-separated columns "
                    f"{' '.join(VCF_FIXED_COLUMNS)}; got {line[:80]!r}"
                )
            continue
        if header is None:
            raise ValueError(
                f"{label}, line {number}: a record before the #CHROM header line; a VCF needs the line "
                f"'{chr(9).join(VCF_FIXED_COLUMNS)}' before its records"
            )
        fields = line.split("\t")
        if len(fields) < 8:
            raise ValueError(
                f"{label}, line {number}: {len(fields)} tab-separated field(s); a VCF record has at least 8 "
                "(CHROM POS ID REF ALT QUAL FILTER INFO), separated by tabs, not spaces"
            )
        if len(fields) != len(header):
            raise ValueError(
                f"{label}, line {number}: {len(fields)} fields, but the #CHROM line names {len(header)} columns"
            )
        if not fields[1].isdigit():
            raise ValueError(f"{label}, line {number}: POS {fields[1]!r} is not a whole number (1-based position)")
        if not IUPAC_BASES.match(fields[3]):
            raise ValueError(f"{label}, line {number}: REF {fields[3]!r} is not a sequence of bases")
        records.append(fields)
        lines.append(number)
    if header is None:
        raise ValueError(f"{label}: no #CHROM header line found; is this a VCF file?")
    info_numbers, format_numbers = {}, {}
    for line in meta:
        match = _META_ID.match(line)
        if match:
            values = _meta_fields(match.group(2))
            if "ID" in values:
                (info_numbers if match.group(1) == "INFO" else format_numbers)[values["ID"]] = values.get("Number", ".")
    return Vcf(label, meta, header, records, lines, info_numbers, format_numbers)


def vcf_alleles(vcf: Vcf) -> pd.DataFrame:
    """One row per ALT allele of each record (multi-allelic records split).

    Returns
    -------
    pd.DataFrame with columns ``record`` (0-based record number), ``line`` (1-based line in the
    file), ``chrom`` (as written in the VCF), ``pos`` (0-based: POS - 1), ``id``, ``ref``,
    ``alt``, ``allele`` (1-based index of the ALT; 0 for a record whose ALT is ``.``), ``n_alts``.
    """
    rows = []
    for record, (fields, line) in enumerate(zip(vcf.records, vcf.lines)):
        alts = [] if fields[4] in (".", "") else fields[4].split(",")
        base = (record, line, fields[0], int(fields[1]) - 1, fields[2], fields[3])
        if not alts:
            rows.append((*base, ".", 0, 0))
        for allele, alt in enumerate(alts, start=1):
            rows.append((*base, alt, allele, len(alts)))
    columns = ["record", "line", "chrom", "pos", "id", "ref", "alt", "allele", "n_alts"]
    return pd.DataFrame(rows, columns=columns).astype({"record": "int64", "line": "int64", "pos": "int64"})


# --------------------------------------------------------------------------- scoring


def _allele_status(ref: str, alt: str) -> tuple[str, str]:
    """Status and reason of an allele on a known chromosome whose REF matches the genome."""
    if alt in (".", ""):
        return "no_alt", "ALT is '.', no alternative allele"
    if alt == "*":
        return "spanning_deletion", "ALT '*' stands for an overlapping deletion"
    if alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic", f"ALT {alt} is a symbolic allele or breakend"
    if not IUPAC_BASES.match(alt):
        return "symbolic", f"ALT {alt!r} is not a sequence of bases"
    if len(ref) != len(alt):
        return "indel", f"REF {ref} and ALT {alt} differ in length (an indel); only SNVs are scored"
    if len(ref) > 1:
        return "mnv", f"{ref}>{alt} changes {len(ref)} bases; only single-base changes are scored"
    if ref.upper() not in NUCLEOTIDES or alt.upper() not in NUCLEOTIDES:
        return "non_acgt", f"{ref}>{alt} involves a base other than A, C, G, T"
    if ref.upper() == alt.upper():
        return "alt_equals_ref", f"ALT {alt} is the same as REF"
    return "scored", ""


def _genome_refs(genome: Genome, alleles: pd.DataFrame) -> list[str | None]:
    """The genome's upper-case bases under each allele's REF (``genome_chrom``, 0-based ``pos``);
    None where the chromosome is unknown or REF runs outside it."""
    known = alleles["genome_chrom"].notna().to_numpy()
    lengths = alleles["ref"].str.len().to_numpy(np.int64)
    pos = alleles["pos"].to_numpy(np.int64)
    chroms = alleles["genome_chrom"].to_numpy()
    sizes = np.array([genome.chrom_sizes.get(c, 0) if ok else 0 for c, ok in zip(chroms, known)], dtype=np.int64)
    inside = known & (pos >= 0) & (pos + lengths <= sizes)
    rows = np.flatnonzero(inside)
    ends = np.cumsum(lengths[rows])
    offsets = np.arange(ends[-1] if len(rows) else 0) - np.repeat(ends - lengths[rows], lengths[rows])
    bases = genome.bases_at(np.repeat(chroms[rows], lengths[rows]), np.repeat(pos[rows], lengths[rows]) + offsets)
    refs: list[str | None] = [None] * len(alleles)
    for row, end, length in zip(rows, ends, lengths[rows]):
        refs[row] = bases[end - length : end]
    return refs


def variant_status(genome: Genome, alleles: pd.DataFrame) -> pd.DataFrame:
    """Decide which alleles can be scored, without running a model.

    Parameters
    ----------
    alleles : columns ``chrom`` (as in the VCF), ``pos`` (0-based), ``ref``, ``alt``, as
        :func:`vcf_alleles` returns.

    Returns
    -------
    A new DataFrame: ``alleles`` plus ``genome_chrom`` (the genome's name, None if unknown),
    ``chrom_match`` (see :func:`resolve_chromosomes`), ``status`` (a key of :data:`STATUSES`)
    and ``reason`` (a sentence; empty when scored). Checks run in this order: chromosome,
    position, REF against the genome (flagged per record, whatever the ALT), then the ALT.
    """
    out = alleles.copy()
    names = resolve_chromosomes(out["chrom"], genome.chrom_sizes).set_index("vcf_chrom")
    out["genome_chrom"] = out["chrom"].map(names["genome_chrom"]).astype(object)
    out["chrom_match"] = out["chrom"].map(names["match"])
    genome_ref = _genome_refs(genome, out)
    status, reason = [], []
    for chrom, genome_chrom, match, pos, ref, alt, genome_bases in zip(
        out["chrom"], out["genome_chrom"], out["chrom_match"], out["pos"], out["ref"], out["alt"], genome_ref
    ):
        if match == "unknown":
            shown = ", ".join(list(genome.chrom_sizes)[:8])
            status.append("unknown_chromosome")
            more = " ..." if len(genome.chrom_sizes) > 8 else ""
            reason.append(f"chromosome {chrom!r} is not in the genome ({shown}{more})")
            continue
        if match == "ambiguous":
            status.append("ambiguous_chromosome")
            reason.append(f"chromosome {chrom!r} matches several genome sequences; rename it to one of them")
            continue
        if genome_bases is None:
            size = genome.chrom_sizes[genome_chrom]
            status.append("outside_chromosome")
            reason.append(f"POS {pos + 1:,} with REF of {len(ref)} bp lies outside {genome_chrom} (1-{size:,})")
            continue
        if genome_bases != ref.upper():
            status.append("ref_mismatch")
            reason.append(
                f"REF {ref} differs from the genome's {genome_bases} at {genome_chrom}:{pos + 1:,}; "
                "check the genome build and that POS is 1-based"
            )
            continue
        allele_status, allele_reason = _allele_status(ref, alt)
        status.append(allele_status)
        reason.append(allele_reason)
    out["status"] = status
    out["reason"] = reason
    return out


def score_variants(
    model,
    genome: Genome,
    annotation,
    alleles: pd.DataFrame,
    *,
    background: np.ndarray | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """LLR, percentile and consequence of every scorable SNV among ``alleles``.

    Positions are scored with :func:`glm_core.scoring.site_probabilities_at`, which groups
    nearby positions so that they share one fetched sequence and one batched model call;
    several alleles at one position share its prediction.

    Parameters
    ----------
    model : a site model (:class:`glm_core.models.MaskedLM`, the k-mer baseline ...).
    annotation : the genome's annotation, or None (consequence columns left empty).
    alleles : as :func:`vcf_alleles` returns (``chrom, pos`` 0-based, ``ref, alt``; other
        columns kept).
    background : optional genome-wide LLR sample for ``llr_percentile_genome``.

    Returns
    -------
    A new DataFrame: the columns of :func:`variant_status` plus ``llr``, ``llr_percentile``
    (among every possible SNV at the scored positions) [, ``llr_percentile_genome``],
    ``p_ref``, ``p_alt`` and the consequence columns; NaN/NA where not scored.
    """
    table = variant_status(genome, alleles).reset_index(drop=True)
    scored = np.flatnonzero((table["status"] == "scored").to_numpy())
    for column in ("llr", "llr_percentile", "p_ref", "p_alt"):
        table[column] = np.nan
    if background is not None:
        table["llr_percentile_genome"] = np.nan
    snvs = pd.DataFrame(
        {
            "chrom": table["genome_chrom"].to_numpy()[scored].astype(str),
            "pos": table["pos"].to_numpy()[scored].astype(np.int64),
            "ref": table["ref"].str.upper().to_numpy()[scored],
            "alt": table["alt"].str.upper().to_numpy()[scored],
        }
    )
    if len(snvs):
        positions = snvs[["chrom", "pos"]].drop_duplicates(ignore_index=True)
        probabilities = site_probabilities_at(model, genome, positions, batch_size=batch_size, progress=progress)
        row_of = pd.Series(np.arange(len(positions)), index=pd.MultiIndex.from_frame(positions))
        rows = row_of.reindex(pd.MultiIndex.from_frame(snvs[["chrom", "pos"]])).to_numpy()
        ref_codes = nucleotide_codes("".join(snvs["ref"]))
        alt_codes = nucleotide_codes("".join(snvs["alt"]))
        p = probabilities[rows]
        log_p = np.log(np.clip(p, 1e-12, 1.0))
        index = np.arange(len(snvs))
        llr = log_p[index, alt_codes] - log_p[index, ref_codes]
        position_refs = snvs.drop_duplicates(["chrom", "pos"]).set_index(["chrom", "pos"])["ref"]
        position_refs = position_refs.reindex(pd.MultiIndex.from_frame(positions))
        background_snvs = every_snv(
            positions["chrom"].to_numpy(), positions["pos"].to_numpy(), nucleotide_codes("".join(position_refs)),
            probabilities,
        )
        table.loc[scored, "llr"] = llr
        table.loc[scored, "p_ref"] = p[index, ref_codes]
        table.loc[scored, "p_alt"] = p[index, alt_codes]
        table.loc[scored, "llr_percentile"] = llr_percentile(llr, background_snvs["llr"])
        if background is not None:
            table.loc[scored, "llr_percentile_genome"] = llr_percentile(llr, background)
    consequences = _with_consequences(annotation, genome, snvs)
    for column in CONSEQUENCE_COLUMNS:
        values = consequences[column]
        if column == "consequence":
            full = pd.Categorical([None] * len(table), categories=values.cat.categories, ordered=True)
            full[scored] = values.to_numpy()
            table[column] = full
        else:
            full = pd.Series([pd.NA] * len(table), dtype=values.dtype)
            full.iloc[scored] = values.to_numpy()
            table[column] = full
    return table


def score_vcf(
    model,
    genome: Genome,
    annotation,
    vcf: Vcf,
    *,
    background: np.ndarray | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """:func:`vcf_alleles` then :func:`score_variants`; one row per ALT allele of ``vcf``."""
    return score_variants(
        model, genome, annotation, vcf_alleles(vcf), background=background, batch_size=batch_size, progress=progress
    )


def status_counts(scored: pd.DataFrame) -> pd.DataFrame:
    """Alleles per status: columns ``status, n, meaning``, most frequent first."""
    counts = scored["status"].value_counts()
    return pd.DataFrame({"status": counts.index, "n": counts.to_numpy(), "meaning": [STATUSES[s] for s in counts.index]})


def chromosome_report(scored: pd.DataFrame) -> pd.DataFrame:
    """How each chromosome name of the VCF was matched: ``vcf_chrom, genome_chrom, match, n_alleles``."""
    report = scored.groupby(["chrom", "chrom_match"], sort=False, dropna=False).agg(
        genome_chrom=("genome_chrom", "first"), n_alleles=("status", "size")
    )
    report = report.reset_index().rename(columns={"chrom": "vcf_chrom", "chrom_match": "match"})
    return report[["vcf_chrom", "genome_chrom", "match", "n_alleles"]]


# --------------------------------------------------------------------------- writing


TSV_ORDER = [
    "line", "chrom", "pos", "id", "ref", "alt", "genome_chrom", "status", "reason", "llr", "llr_percentile",
    "llr_percentile_genome", "p_ref", "p_alt", *CONSEQUENCE_COLUMNS,
]


def scored_tsv(scored: pd.DataFrame) -> str:
    """Tab-separated text of a scored allele table, one row per ALT allele, ``pos`` 1-based.

    Columns: line (in the input VCF), chrom (as in the VCF), pos, id, ref, alt, genome_chrom,
    status, reason, llr, llr_percentile [, llr_percentile_genome], p_ref, p_alt, consequence,
    transcript_id, gene, codon_position, ref_codon, alt_codon, ref_aa, alt_aa.
    """
    columns = [column for column in TSV_ORDER if column in scored.columns]
    out = scored[columns].copy()
    out["pos"] = out["pos"] + 1
    return out.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n", na_rep="")


def _info_value(text) -> str:
    """Percent-encode the characters VCF forbids in INFO values."""
    text = str(text)
    for char, code in (("%", "%25"), (";", "%3B"), ("=", "%3D"), (",", "%2C"), (" ", "%20"), ("\t", "%09")):
        text = text.replace(char, code)
    return text


def _genotype_index(j: int, k: int) -> int:
    """Index of unordered diploid genotype j/k (j <= k) in VCF's Number=G order."""
    return k * (k + 1) // 2 + j


def _subset_values(values: list[str], number: str, allele: int, n_alts: int) -> list[str]:
    """Cut a Number=A/R/G list to REF and ALT ``allele`` (1-based); other Numbers unchanged."""
    n_alleles = n_alts + 1
    if number == "A" and len(values) == n_alts:
        return [values[allele - 1]]
    if number == "R" and len(values) == n_alleles:
        return [values[0], values[allele]]
    if number == "G":
        if len(values) == n_alleles:  # haploid
            return [values[0], values[allele]]
        if len(values) == n_alleles * (n_alleles + 1) // 2:  # diploid
            return [values[_genotype_index(j, k)] for j, k in ((0, 0), (0, allele), (allele, allele))]
        return ["."]
    return values


def _split_info(info: str, allele: int, n_alts: int, numbers: dict[str, str]) -> list[str]:
    entries = [] if info in (".", "") else info.split(";")
    kept = []
    for entry in entries:
        key, has_value, value = entry.partition("=")
        if key in GLM_INFO or not entry:
            continue
        if has_value and n_alts > 1 and numbers.get(key) in ("A", "R", "G"):
            value = ",".join(_subset_values(value.split(","), numbers[key], allele, n_alts))
        kept.append(f"{key}={value}" if has_value else key)
    return kept


def _split_genotype(gt: str, allele: int) -> str:
    parts = re.split(r"([/|])", gt)
    recoded = [
        part if part in ("/", "|", ".", "0") else ("1" if part == str(allele) else ".") for part in parts
    ]
    return "".join(recoded)


def _split_sample(sample: str, keys: list[str], allele: int, n_alts: int, numbers: dict[str, str]) -> str:
    values = sample.split(":")
    out = []
    for key, value in zip(keys, values):
        if key == "GT":
            value = _split_genotype(value, allele)
        elif numbers.get(key) in ("A", "R", "G") and value != ".":
            value = ",".join(_subset_values(value.split(","), numbers[key], allele, n_alts))
        out.append(value)
    return ":".join(out + values[len(keys):])


def _glm_info(row) -> list[str]:
    entries = []
    if row.status == "scored":
        entries.append(f"GLM_LLR={row.llr:.4f}")
        entries.append(f"GLM_LLR_PCT={row.llr_percentile:.2f}")
        if isinstance(row.consequence, str):
            entries.append(f"GLM_CSQ={_info_value(row.consequence)}")
        if isinstance(row.gene, str) and row.gene:
            entries.append(f"GLM_GENE={_info_value(row.gene)}")
    entries.append(f"GLM_STATUS={row.status}")
    return entries


def scored_vcf_text(vcf: Vcf, scored: pd.DataFrame, model_name: str | None = None, genome_name: str | None = None) -> str:
    """The input VCF with one record per ALT allele and the GLM_* INFO fields added.

    Parameters
    ----------
    vcf : the file that was scored.
    scored : :func:`score_vcf` of ``vcf`` (one row per ALT allele, ``record`` and ``allele``
        columns intact).
    model_name, genome_name : written as ``##glm_explorer_model`` / ``##glm_explorer_genome``.
    """
    expected = vcf_alleles(vcf)[["record", "allele"]]
    if len(scored) != len(expected) or not (scored[["record", "allele"]].to_numpy() == expected.to_numpy()).all():
        raise ValueError(f"the scored table does not belong to {vcf.source}: score that VCF with score_vcf first")
    meta = [
        line
        for line in vcf.meta
        if not any(line.startswith(f"##INFO=<ID={key},") for key in GLM_INFO)
        and not line.startswith(("##glm_explorer_model=", "##glm_explorer_genome="))
    ]
    if not meta or not meta[0].startswith("##fileformat="):
        meta.insert(0, "##fileformat=VCFv4.2")
    added = [
        f'##INFO=<ID={key},Number={number},Type={kind},Description="{description}">'
        for key, (number, kind, description) in GLM_INFO.items()
    ]
    if model_name:
        added.append(f"##glm_explorer_model={model_name}")
    if genome_name:
        added.append(f"##glm_explorer_genome={genome_name}")
    last_info = max((i for i, line in enumerate(meta) if line.startswith("##INFO=")), default=len(meta) - 1)
    meta = meta[: last_info + 1] + added + meta[last_info + 1:]
    out = [*meta, "\t".join(vcf.header)]
    for row in scored.itertuples(index=False):
        fields = vcf.records[row.record]
        n_alts = int(row.n_alts)
        record = list(fields)
        if n_alts > 1:
            record[4] = row.alt
        info = _split_info(fields[7], max(int(row.allele), 1), n_alts, vcf.info_numbers) + _glm_info(row)
        record[7] = ";".join(info)
        if n_alts > 1 and len(fields) > 9:
            keys = fields[8].split(":")
            record[9:] = [
                _split_sample(sample, keys, int(row.allele), n_alts, vcf.format_numbers) for sample in fields[9:]
            ]
        out.append("\t".join(record))
    return "\n".join(out) + "\n"


def tsv_path_beside(vcf_path: str | Path) -> Path:
    """``out.vcf.gz`` or ``out.vcf`` -> ``out.tsv`` in the same folder."""
    path = Path(vcf_path)
    name = path.name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".gz"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".tsv")


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text``; BGZF-compressed (bgzip, tabix-ready) when ``path`` ends in ``.gz``/``.bgz``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {path} does not exist; create it first")
    if path.suffix.lower() in (".gz", ".bgz"):
        import pysam

        with pysam.BGZFile(str(path), "wb") as handle:
            handle.write(text.encode("utf-8"))
    else:
        path.write_text(text)
    return path
