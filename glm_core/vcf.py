"""VCF files: reading with line numbers, splitting records into alleles, writing scored VCFs.

Coordinates
-----------
VCF ``POS`` is 1-based; the allele table of :func:`vcf_alleles` holds ``pos`` 0-based
(``POS - 1``), as everywhere in ``glm_core``. Alleles are on the ``+`` strand.

Reading
-------
VCF text is read and written by the small parser in this module; pysam is used only to
write BGZF-compressed ``.vcf.gz`` output (:func:`glm_core.outputs.write_text`). pysam
(htslib 1.x) does not fit the parsing side: (1) for a malformed record it raises
``OSError("unable to parse next record")``, naming neither the line nor the field, and
records whose CHROM or INFO keys the header does not declare (common in hand-made files)
only produce warnings on stderr; (2) it re-serialises every record it writes, so fields the
user did not ask to change can change form; (3) splitting multi-allelic records needs
per-field handling of ``Number=A/R/G`` values that pysam leaves to the caller anyway. The
parser here keeps every record's text, checks the columns, ``POS`` and ``REF``, and raises
:class:`glm_core.errors.InputError` naming the file and line of anything it cannot read.
Plain and gzip/bgzip input are accepted.

Writing
-------
Output records are split to one ALT allele each (like ``bcftools norm -m-``): INFO and
FORMAT values declared ``Number=A``, ``R`` or ``G`` in the header are cut to the allele
kept; in genotypes the kept allele becomes 1 and any other ALT allele becomes missing
(``.``), since the sample carries neither REF nor this ALT there. Six INFO fields are
added (with their header lines): ``GLM_LLR``, ``GLM_CLLR`` (where a neutral table exists),
``GLM_LLR_PCT`` (genome-wide, where a background exists), ``GLM_CSQ``, ``GLM_GENE`` for
scored SNVs, and ``GLM_STATUS`` on every record, saying ``scored`` or why not (see
:data:`STATUSES`). Nothing is dropped: indels, symbolic alleles, records on unknown
chromosomes and records whose REF disagrees with the genome are written back, marked.
The scores themselves come from :func:`glm_core.variants.score_vcf`.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import InputError

# GLM_STATUS values, and what each means; glm_core.variants.variant_status assigns them.
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
VCF_FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
GLM_INFO = {
    "GLM_LLR": (
        "A",
        "Float",
        (
            "log P(ALT) - log P(REF), natural log, at the masked position; forward and "
            "reverse-complement predictions averaged; negative = ALT less likely than REF under the model"
        ),
    ),
    "GLM_CLLR": (
        "A",
        "Float",
        (
            "Calibrated LLR: GLM_LLR minus the mean LLR of neutral SNVs (four-fold degenerate sites) with the same "
            "5-mer context and ALT; 0 = as expected for a neutral change here (see ##glm_explorer_calibration)"
        ),
    ),
    "GLM_LLR_PCT": (
        "A",
        "Float",
        (
            "Genome-wide percentile (0-100) of GLM_LLR: the share of the genome's possible SNVs scoring at most this "
            "(background in ##glm_explorer_llr_background; absent when none exists for this genome and model)"
        ),
    ),
    "GLM_CSQ": ("A", "String", "Most severe predicted consequence of the SNV over all annotated transcripts"),
    "GLM_GENE": ("A", "String", "Gene (transcript name) giving GLM_CSQ"),
    "GLM_STATUS": (
        "A",
        "String",
        "scored, or why the allele was not scored: " + ", ".join(name for name in STATUSES if name != "scored"),
    ),
}
# REF and ALT sequences: IUPAC nucleotide codes, either case.
IUPAC_BASES = re.compile(r"^[ACGTUNRYSWKMBDHVacgtunryswkmbdhv]+$")


# --------------------------------------------------------------------------- reading


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
    info_numbers, format_numbers : the ``Number`` (``A``, ``R``, ``G``, ``1``, ``.`` ...) the
        header declares for each INFO / FORMAT key.
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
            raise InputError(
                f"{source}: the gzip data are truncated or corrupt ({error}); compress it again"
            ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"{source}, line {line}: not UTF-8 text; is this a VCF file?") from error


def read_vcf(source: str | Path | bytes, name: str | None = None) -> Vcf:
    """Read a VCF (plain, gzip or bgzip) from a path or from bytes.

    Parameters
    ----------
    source : a path, or the file's bytes (e.g. an upload).
    name : what to call the file in messages (defaults to the path, or "the VCF").

    Raises
    ------
    FileNotFoundError for a missing path; InputError (a ValueError), naming the line, for text that is not
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
                raise InputError(f"{label}, line {number}: a '##' meta line after the #CHROM header line")
            meta.append(line)
            continue
        if line.startswith("#"):
            header = line.split("\t")
            if [column.upper() for column in header[:8]] != VCF_FIXED_COLUMNS:
                raise InputError(
                    f"{label}, line {number}: the header line must start with the tab-separated columns "
                    f"{' '.join(VCF_FIXED_COLUMNS)}; got {line[:80]!r}"
                )
            continue
        if header is None:
            raise InputError(
                f"{label}, line {number}: a record before the #CHROM header line; a VCF needs the line "
                f"'{chr(9).join(VCF_FIXED_COLUMNS)}' before its records"
            )
        fields = line.split("\t")
        if len(fields) < 8:
            raise InputError(
                f"{label}, line {number}: {len(fields)} tab-separated field(s); a VCF record has at least 8 "
                "(CHROM POS ID REF ALT QUAL FILTER INFO), separated by tabs, not spaces"
            )
        if len(fields) != len(header):
            raise InputError(
                f"{label}, line {number}: {len(fields)} fields, but the #CHROM line names {len(header)} columns"
            )
        if not fields[1].isdigit():
            raise InputError(f"{label}, line {number}: POS {fields[1]!r} is not a whole number (1-based position)")
        if not IUPAC_BASES.match(fields[3]):
            raise InputError(f"{label}, line {number}: REF {fields[3]!r} is not a sequence of bases")
        records.append(fields)
        lines.append(number)
    if header is None:
        raise InputError(f"{label}: no #CHROM header line found; is this a VCF file?")
    info_numbers, format_numbers = _declared_numbers(meta)
    return Vcf(label, meta, header, records, lines, info_numbers, format_numbers)


def _declared_numbers(meta: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The ``Number`` of every ``##INFO`` and ``##FORMAT`` line, by ID (``.`` where not given)."""
    info_numbers: dict[str, str] = {}
    format_numbers: dict[str, str] = {}
    for line in meta:
        match = _META_ID.match(line)
        if match:
            values = _meta_fields(match.group(2))
            if "ID" in values:
                (info_numbers if match.group(1) == "INFO" else format_numbers)[values["ID"]] = values.get("Number", ".")
    return info_numbers, format_numbers


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


# --------------------------------------------------------------------------- writing


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
    recoded = [part if part in ("/", "|", ".", "0") else ("1" if part == str(allele) else ".") for part in parts]
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
    return ":".join(out + values[len(keys) :])


def _glm_info(row) -> list[str]:
    entries = []
    if row.status == "scored":
        entries.append(f"GLM_LLR={row.llr:.4f}")
        cllr = getattr(row, "cllr", float("nan"))
        if cllr == cllr:
            entries.append(f"GLM_CLLR={cllr:.4f}")
        percentile = getattr(row, "llr_percentile_genome", float("nan"))
        if percentile == percentile:
            entries.append(f"GLM_LLR_PCT={percentile:.2f}")
        if isinstance(row.consequence, str):
            entries.append(f"GLM_CSQ={_info_value(row.consequence)}")
        if isinstance(row.gene, str) and row.gene:
            entries.append(f"GLM_GENE={_info_value(row.gene)}")
    entries.append(f"GLM_STATUS={row.status}")
    return entries


def scored_vcf_text(
    vcf: Vcf, scored: pd.DataFrame, model_name: str | None = None, genome_name: str | None = None
) -> str:
    """The input VCF with one record per ALT allele and the GLM_* INFO fields added.

    Parameters
    ----------
    vcf : the file that was scored.
    scored : :func:`glm_core.variants.score_vcf` of ``vcf`` (one row per ALT allele, ``record`` and ``allele``
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
        and not line.startswith(
            (
                "##glm_explorer_model=",
                "##glm_explorer_genome=",
                "##glm_explorer_llr_background=",
                "##glm_explorer_calibration=",
            )
        )
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
    added.append(f"##glm_explorer_llr_background={scored.attrs.get('llr_background', 'none')}")
    calibrated = "cllr" in scored.columns
    added.append(
        "##glm_explorer_calibration="
        + (
            "neutral-site table shipped with the model (GLM_CLLR)"
            if calibrated
            else "none: no neutral table for this genome and model"
        )
    )
    last_info = max((i for i, line in enumerate(meta) if line.startswith("##INFO=")), default=len(meta) - 1)
    meta = meta[: last_info + 1] + added + meta[last_info + 1 :]
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
