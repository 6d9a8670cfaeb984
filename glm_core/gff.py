"""GFF3 and GTF files: reading gene annotations into the feature table.

Coordinates
-----------
GFF3 and GTF files are 1-based inclusive. The feature table :func:`read_annotation`
returns is **0-based half-open** (``start <= i < end``), like :mod:`glm_core.genome`; a
feature on file line ``chr01  .  CDS  11  20`` becomes ``start=10, end=20``.

The table holds one row per feature line (per parent, for features with several);
:class:`glm_core.annotation.Annotation` builds transcripts, exons and CDS from it. Every
line is checked here, where the file enters (column count, coordinates, strand, phase,
score), and a problem raises :class:`glm_core.errors.InputError` naming the file and line,
so the code downstream can trust the table.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import numpy as np
import pandas as pd

from .errors import InputError
from . import file_formats
from .file_formats import open_text, sniff_format

FEATURE_COLUMNS = [
    "chrom",
    "source",
    "feature",
    "start",
    "end",
    "score",
    "strand",
    "phase",
    "id",
    "parent",
    "name",
    "description",
    "gene_id",
    "line",
]
RAW_COLUMNS = ["chrom", "source", "feature", "start", "end", "score", "strand", "phase", "attributes"]

TRANSCRIPT_TYPES = frozenset(
    {
        "mrna",
        "transcript",
        "primary_transcript",
        "ncrna",
        "nc_rna",
        "lnc_rna",
        "lncrna",
        "rrna",
        "trna",
        "snrna",
        "snorna",
        "mirna",
        "pseudogenic_transcript",
        "unconfirmed_transcript",
    }
)
CDS_TYPES = frozenset({"cds", "stop_codon"})
UTR_TYPES = frozenset({"five_prime_utr", "three_prime_utr", "utr", "5utr", "3utr", "utr5", "utr3"})
PART_TYPES = frozenset({"exon", "start_codon"}) | CDS_TYPES | UTR_TYPES

_DESCRIPTION_KEYS = ("description", "Note", "product", "note")
_GTF_ATTRIBUTE = re.compile(r'\s*([^\s";]+)\s+(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))\s*;?')


def read_annotation(path: str | Path, format: str | None = None) -> pd.DataFrame:
    """Read a GFF3, GTF or GFF2 file (plain or gzip) into one row a feature.

    Reading stops at a ``##FASTA`` section (GFF3 with embedded sequences, as Prokka
    writes). Comment and blank lines are skipped.

    Parameters
    ----------
    path : the annotation file, optionally gzip; its name does not matter.
    format : ``"gff3"``, ``"gtf"``, ``"gff2"`` or None to tell from the content with
        :func:`glm_core.file_formats.sniff_format` (``key=value`` attributes are GFF3,
        ``key "value";`` with ``gene_id``/``transcript_id`` GTF, without them GFF2 as in JGI
        gene catalogues: ``name "..."; transcriptId N; proteinId N``).

    Returns
    -------
    pd.DataFrame with columns

    * ``chrom``, ``source``, ``feature`` : as in the file;
    * ``start``, ``end`` : int64, **0-based half-open** (file start - 1, file end);
    * ``score`` : float, NaN for ``.``;
    * ``strand`` : ``+``, ``-`` or ``.``;
    * ``phase`` : Int64 0/1/2, NA for ``.``;
    * ``id`` : GFF3 ``ID``; GTF ``transcript_id`` on transcript lines, ``gene_id`` on gene lines;
    * ``parent`` : first GFF3 ``Parent``; GTF ``gene_id`` for transcripts, ``transcript_id`` for
      exons, CDS and the like; GFF2 (JGI) the ``transcriptId`` of the line, or of the other
      lines with its ``name`` (CDS and codon lines carry only ``proteinId``). A feature with
      several parents (an exon shared by two transcripts) appears once per parent, with the
      same ``line``;
    * ``name`` : GFF3 ``Name`` (else ``gene_name``), GTF ``gene_name`` (else ``transcript_name``),
      GFF2 ``name``;
    * ``description`` : GFF3 ``description``, ``Note`` or ``product``, URL-decoded (``+`` and
      ``%20`` become spaces);
    * ``gene_id`` : the ``gene_id`` attribute where present (always in GTF; GFF2: ``name``), else NA;
    * ``line`` : 1-based line number in the (decompressed) file.

    Raises
    ------
    FileNotFoundError if the file is missing; InputError (a ValueError) naming the file and
    line for a wrong column count, non-integer coordinates, end < start, a strand other than
    ``+ - .``, ``.`` strand on a transcript part, a phase other than ``0 1 2 .``, one ``ID``
    on two sequences; InputError for a FASTA or unknown file and for a file without features.

    Most of its length is the documented table contract; the work is in named steps.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    if format is None:
        format = _sniffed_annotation_format(path)
    if format not in file_formats.ANNOTATION_FORMATS:
        raise InputError(f"format must be 'gff3', 'gtf', 'gff2' or None (detect); got {format!r}")
    rows, line_numbers, lines_read = _feature_lines(path)
    if not rows:
        raise InputError(
            f"{path}: no annotation features in its {lines_read:,} lines (only comments or blank lines"
            f"{' before ##FASTA' if fasta_section_line(path) else ''}); choose the file with the genes, "
            "or open the FASTA without an annotation"
        )

    raw = pd.DataFrame(rows, columns=RAW_COLUMNS)
    line = np.asarray(line_numbers, dtype=np.int64)
    fail = _LineCheck(path, line)
    start, end = _coordinates(raw, fail)
    strand, feature_type = _strands(raw, fail)
    phase = _phases(raw, fail)
    score = _scores(raw, fail)
    table = pd.DataFrame(
        {
            "chrom": raw["chrom"],
            "source": raw["source"],
            "feature": raw["feature"],
            "start": start - 1,
            "end": end,
            "score": score,
            "strand": strand,
            "phase": phase,
            **_attribute_columns(raw["attributes"], feature_type, format),
            "line": line,
        }
    )
    if format == file_formats.GFF2:
        table = _gff2_transcripts(table, feature_type)
    _check_ids_on_one_sequence(table, path)
    # Several parents: one row each, so that shared exons belong to every transcript.
    table = table.explode("parent", ignore_index=True)
    for column in ("chrom", "source", "feature", "strand", "id", "parent", "name", "description", "gene_id"):
        table[column] = table[column].astype("str")
    return table[FEATURE_COLUMNS]


def empty_feature_table() -> pd.DataFrame:
    """A feature table with :data:`FEATURE_COLUMNS` and no rows (a genome without annotation)."""
    return pd.DataFrame({column: pd.Series(dtype=_empty_dtype(column)) for column in FEATURE_COLUMNS})


def feature_counts(features: pd.DataFrame) -> pd.Series:
    """Lines per feature type (file order of first appearance), e.g. ``{"CDS": 28000, "exon": 28000}``."""
    lines = features.drop_duplicates("line") if "line" in features else features
    return lines["feature"].value_counts(sort=False).rename("lines")


def describe_counts(counts: pd.Series, limit: int = 8) -> str:
    """``"28,000 CDS, 27,990 exon, ..."`` for messages."""
    shown = [f"{int(n):,} {feature}" for feature, n in counts.sort_values(ascending=False).head(limit).items()]
    return ", ".join(shown) + (f" and {len(counts) - limit} more types" if len(counts) > limit else "")


def fasta_section_line(path: str | Path) -> int | None:
    """1-based line of the ``##FASTA`` line (or of a ``>`` header ending the features) in a GFF3; None if none."""
    with open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            if text.startswith("##FASTA") or text.startswith(">"):
                return number
    return None


def write_fasta_section(path: str | Path, target: str | Path) -> int:
    """Copy the sequences after a GFF3's ``##FASTA`` line to ``target`` (written atomically).

    Returns the number of lines before the first copied one, so that line ``n`` of ``target``
    is line ``n + offset`` of ``path``. Raises InputError if the file has no FASTA section.
    """
    path, target = Path(path), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    offset = None
    opener = gzip.open if file_formats.is_gzip(path) else open
    with opener(path, "rb") as source, open(partial, "wb") as copy:
        for number, text in enumerate(source):
            if text.startswith(b"##FASTA") or text.startswith(b">"):
                offset = number + 1 if text.startswith(b"##FASTA") else number
                if text.startswith(b">"):
                    copy.write(text)
                break
        while offset is not None and (chunk := source.read(1 << 20)):
            copy.write(chunk)
    if offset is None:
        partial.unlink()
        raise InputError(
            f"{path}: no ##FASTA section, so this annotation holds no sequences; choose the FASTA file as the genome"
        )
    partial.replace(target)
    return offset


def _sniffed_annotation_format(path: Path) -> str:
    """The annotation format of ``path`` from its content; InputError for FASTA and unknown files."""
    kind = sniff_format(path)
    if kind in file_formats.ANNOTATION_FORMATS:
        return kind
    if file_formats.other_compression(path):
        raise InputError(
            f"{path} is compressed with {file_formats.other_compression(path)}; decompress it, or recompress it "
            "with gzip or bgzip"
        )
    if kind == file_formats.EMPTY:
        raise InputError(f"{path}: the file is empty; choose the annotation (GFF3, GTF or GFF2) of this genome")
    if kind == file_formats.FASTA:
        raise InputError(
            f"{path} is a FASTA file (it starts with '>'), not an annotation; choose it as the genome, "
            "and a GFF3/GTF file as the annotation (or none)"
        )
    first = next((line for line in file_formats.head_lines(path, 20) if line.strip()), "")
    raise InputError(
        f"{path}: not a GFF3, GTF or GFF2 annotation (it starts with {first[:60]!r}); annotation lines "
        "have 9 tab-separated columns: seqid source type start end score strand phase attributes"
    )


def _check_ids_on_one_sequence(table: pd.DataFrame, path: Path) -> None:
    """A GFF3 ID names one feature; the lines of a multi-line feature (a CDS in parts) share a sequence."""
    with_id = table.loc[table["id"].notna(), ["id", "chrom", "line"]]
    sequences = with_id.groupby("id", sort=False)["chrom"].nunique()
    clashing = sequences.index[sequences > 1]
    if len(clashing):
        rows = with_id[with_id["id"] == clashing[0]].drop_duplicates("chrom")
        first, second = rows.iloc[0], rows.iloc[1]
        raise InputError(
            f"{path}, lines {first['line']} and {second['line']}: ID {clashing[0]!r} is used on {first['chrom']} "
            f"and on {second['chrom']} ({len(clashing)} IDs used on several sequences); an ID names one "
            "feature, so give each its own ID (reading on would merge them and lose one)"
        )


class _LineCheck:
    """Raises InputError for the first file line where a check fails, saying how many more fail."""

    def __init__(self, path: Path, line: np.ndarray):
        self.path, self.line = path, line

    def __call__(self, mask: np.ndarray, problem: Callable[[int], str], fix: str) -> None:
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            count = int(mask.sum())
            more = f" ({count - 1} more lines like it)" if count > 1 else ""
            raise InputError(f"{self.path}, line {self.line[first]}: {problem(first)}{more}; {fix}")


def _coordinates(raw: pd.DataFrame, fail: _LineCheck) -> tuple[np.ndarray, np.ndarray]:
    """Columns 4 and 5 as int64, 1-based inclusive as in the file, checked."""
    start = pd.to_numeric(raw["start"], errors="coerce")
    end = pd.to_numeric(raw["end"], errors="coerce")
    bad_start = start.isna().to_numpy() | (start.to_numpy() % 1 != 0)
    fail(bad_start, lambda i: f"start {raw['start'][i]!r} is not an integer", "column 4 must be a 1-based position")
    bad_end = end.isna().to_numpy() | (end.to_numpy() % 1 != 0)
    fail(bad_end, lambda i: f"end {raw['end'][i]!r} is not an integer", "column 5 must be a 1-based position")
    start, end = start.to_numpy(np.int64), end.to_numpy(np.int64)
    fail(start < 1, lambda i: f"start {start[i]} is below 1", "GFF/GTF positions are 1-based")
    fail(
        end < start,
        lambda i: f"end {end[i]} is before start {start[i]}",
        "columns 4 and 5 must satisfy start <= end (1-based inclusive)",
    )
    return start, end


def _strands(raw: pd.DataFrame, fail: _LineCheck) -> tuple[np.ndarray, np.ndarray]:
    """Column 7 (``+ - .``; transcripts and their parts need ``+`` or ``-``) and the lower-case feature types."""
    strand = raw["strand"].to_numpy(dtype=object)
    fail(
        ~np.isin(strand, ["+", "-", "."]),
        lambda i: f"strand {strand[i]!r} is not one of + - .",
        "use + or -, or '.' for features without a strand",
    )
    feature_type = raw["feature"].str.lower().to_numpy(dtype=object)
    stranded_type = np.isin(feature_type, list(TRANSCRIPT_TYPES | PART_TYPES))
    fail(
        stranded_type & (strand == "."),
        lambda i: f"{raw['feature'][i]} has strand '.'",
        "transcripts, exons and CDS need a strand: set column 7 to + or -",
    )
    return strand, feature_type


def _phases(raw: pd.DataFrame, fail: _LineCheck) -> pd.arrays.IntegerArray:
    """Column 8 as Int64 0/1/2, NA for ``.``."""
    phase_text = raw["phase"].to_numpy(dtype=object)
    fail(
        ~np.isin(phase_text, [".", "0", "1", "2"]),
        lambda i: f"phase {phase_text[i]!r} is not one of 0 1 2 .",
        "column 8 is the number of bases to skip to the first codon (0, 1 or 2), or '.'",
    )
    return pd.array(np.where(phase_text == ".", None, phase_text), dtype="Int64")


def _scores(raw: pd.DataFrame, fail: _LineCheck) -> pd.Series:
    """Column 6 as float, NaN for ``.``."""
    score = pd.to_numeric(raw["score"].replace(".", np.nan), errors="coerce")
    fail(
        score.isna().to_numpy() & (raw["score"] != ".").to_numpy(),
        lambda i: f"score {raw['score'][i]!r} is not a number",
        "column 6 must be a number or '.'",
    )
    return score.astype(float)


def _attribute_columns(attributes: pd.Series, feature_type: np.ndarray, format: str) -> dict[str, list]:
    """Column 9 parsed into the ``id, parent, name, description, gene_id`` columns (``parent`` a list).

    GFF2 adds ``_transcript`` and ``_protein`` (its ``transcriptId``/``proteinId``), which
    :func:`_gff2_transcripts` turns into parents.
    """
    parse = {"gtf": _gtf_attributes, "gff2": _gff2_attributes}.get(format, _gff3_attributes)
    parsed = [parse(text, feature) for text, feature in zip(attributes, feature_type)]
    columns = ["id", "parent", "name", "description", "gene_id"]
    if format == "gff2":
        columns += ["_transcript", "_protein"]
    return {column: [fields[i] for fields in parsed] for i, column in enumerate(columns)}


def _gff2_transcripts(table: pd.DataFrame, feature_type: np.ndarray) -> pd.DataFrame:
    """Parents of GFF2 (JGI) lines: a transcript per ``transcriptId``, grouped by gene ``name``.

    JGI puts ``transcriptId`` on exon lines and only ``proteinId`` on CDS and codon lines, all
    sharing the model's ``name``. A line without ``transcriptId`` joins the one transcript of its
    name; where a name has several, the transcript whose ID equals its ``proteinId``; failing
    both, a transcript named after the gene.
    """
    table = table.copy()
    known = table.loc[table["_transcript"].notna(), ["gene_id", "_transcript"]].drop_duplicates()
    per_gene = known.groupby("gene_id", sort=False)["_transcript"]
    only = per_gene.first()[per_gene.nunique() == 1]
    transcript = table["_transcript"].copy()
    missing = transcript.isna() & table["gene_id"].notna()
    transcript[missing] = table.loc[missing, "gene_id"].map(only)
    pairs = set(zip(known["gene_id"], known["_transcript"]))
    by_protein = [
        protein if (gene, protein) in pairs else None for gene, protein in zip(table["gene_id"], table["_protein"])
    ]
    still = transcript.isna() & table["gene_id"].notna()
    transcript[still] = pd.Series(by_protein, index=table.index, dtype=object)[still]
    still = transcript.isna() & table["gene_id"].notna()
    transcript[still] = table.loc[still, "gene_id"]
    is_transcript_line = np.isin(feature_type, list(TRANSCRIPT_TYPES))
    table["id"] = np.where(is_transcript_line, transcript, None)
    table["parent"] = [
        [gene] if is_line else [parent]
        for gene, parent, is_line in zip(table["gene_id"], transcript, is_transcript_line)
    ]
    return table.drop(columns=["_transcript", "_protein"])


def _feature_lines(path: Path) -> tuple[list[list[str]], list[int], int]:
    """The 9 tab-separated fields of every feature line, its 1-based line number, and the lines read.

    Stops at a ``##FASTA`` section or a FASTA header; skips blank and ``#`` lines.
    """
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    number = 0
    with open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            if text.startswith("##FASTA") or text.startswith(">"):
                break
            text = text.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split("\t")
            if len(fields) != 9:
                raise InputError(
                    f"{path}, line {number}: expected 9 tab-separated columns, found {len(fields)} "
                    f"({text[:60]!r}); GFF3/GTF columns must be separated by tabs, with '.' for empty ones"
                )
            rows.append(fields)
            line_numbers.append(number)
    return rows, line_numbers, number


def _empty_dtype(column: str):
    """The dtype a column of :data:`FEATURE_COLUMNS` has, for the table of a file without features."""
    return {"start": "int64", "end": "int64", "line": "int64", "score": float, "phase": "Int64"}.get(column, "str")


def _gff3_attributes(text: str, feature_type: str):
    """``(id, [parents], name, description, gene_id)`` from a GFF3 column 9."""
    values: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.strip().partition("=")
        if sep:
            values[key] = value
    parents = [unquote(p) for p in values["Parent"].split(",")] if "Parent" in values else [None]
    description = next((values[k] for k in _DESCRIPTION_KEYS if k in values), None)
    name = values.get("Name", values.get("gene_name"))
    return (
        unquote(values["ID"]) if "ID" in values else None,
        parents,
        unquote(name) if name is not None else None,
        # '+' for spaces is URL form encoding, which the embedded annotation's Note uses.
        unquote_plus(description).strip() if description is not None else None,
        unquote(values["gene_id"]) if "gene_id" in values else None,
    )


def _gtf_attributes(text: str, feature_type: str):
    """``(id, [parent], name, description, gene_id)`` from a GTF column 9."""
    values: dict[str, str] = {}
    for match in _GTF_ATTRIBUTE.finditer(text):
        key = match.group(1)
        if key not in values:
            values[key] = match.group(2) if match.group(2) is not None else match.group(3)
    gene_id, transcript_id = values.get("gene_id"), values.get("transcript_id")
    if feature_type == "gene":
        identifier, parent = gene_id, None
    elif feature_type in TRANSCRIPT_TYPES:
        identifier, parent = transcript_id, gene_id
    else:
        identifier, parent = None, transcript_id or gene_id
    description = next((values[k] for k in _DESCRIPTION_KEYS if k in values), None)
    return identifier, [parent], values.get("gene_name", values.get("transcript_name")), description, gene_id


def _key_value_pairs(text: str) -> dict[str, str]:
    """``key "value"; key value;`` (GTF/GFF2 column 9) as a dict; the first of repeated keys wins."""
    values: dict[str, str] = {}
    for match in _GTF_ATTRIBUTE.finditer(text):
        values.setdefault(match.group(1), match.group(2) if match.group(2) is not None else match.group(3))
    return values


def _gff2_attributes(text: str, feature_type: str):
    """``(id, [parent], name, description, gene_id, transcript, protein)`` from a GFF2 (JGI) column 9.

    The gene is ``gene_id``, else ``name``; ``id`` and ``parent`` are set by :func:`_gff2_transcripts`.
    """
    values = _key_value_pairs(text)
    name = values.get("name", values.get("gene_name"))
    gene = values.get("gene_id", name)
    transcript = values.get("transcript_id", values.get("transcriptId"))
    protein = values.get("protein_id", values.get("proteinId"))
    description = next((values[k] for k in _DESCRIPTION_KEYS if k in values), None)
    return None, [None], name, description, gene, transcript, protein
