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
from .genome import is_gzip

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
    """Read a GFF3 or GTF file (plain or gzip) into one row a feature.

    Reading stops at a ``##FASTA`` section (GFF3 with embedded sequences). Comment and
    blank lines are skipped.

    Parameters
    ----------
    path : the ``.gff3``/``.gff``/``.gtf`` file, optionally ``.gz``.
    format : ``"gff3"``, ``"gtf"`` or None to tell from the attribute syntax
        (``key=value`` is GFF3, ``key "value";`` is GTF).

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
      exons, CDS and the like. A feature with several parents (an exon shared by two
      transcripts) appears once per parent, with the same ``line``;
    * ``name`` : GFF3 ``Name`` (else ``gene_name``), GTF ``gene_name`` (else ``transcript_name``);
    * ``description`` : GFF3 ``description``, ``Note`` or ``product``, URL-decoded (``+`` and
      ``%20`` become spaces);
    * ``gene_id`` : the ``gene_id`` attribute where present (always in GTF), else NA;
    * ``line`` : 1-based line number in the (decompressed) file.

    Raises
    ------
    FileNotFoundError if the file is missing; InputError (a ValueError) naming the file and
    line for a wrong column count, non-integer coordinates, end < start, a strand other than
    ``+ - .``, ``.`` strand on a transcript part, or a phase other than ``0 1 2 .``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows, line_numbers = _feature_lines(path)
    if format is None:
        format = _detect_format(path, rows)
    if format not in ("gff3", "gtf"):
        raise InputError(f"format must be 'gff3', 'gtf' or None (detect); got {format!r}")
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype=_empty_dtype(column)) for column in FEATURE_COLUMNS})

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
    # Several parents: one row each, so that shared exons belong to every transcript.
    table = table.explode("parent", ignore_index=True)
    for column in ("chrom", "source", "feature", "strand", "id", "parent", "name", "description", "gene_id"):
        table[column] = table[column].astype("str")
    return table


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
    """Column 9 parsed into the ``id, parent, name, description, gene_id`` columns (``parent`` a list)."""
    parse = _gtf_attributes if format == "gtf" else _gff3_attributes
    parsed = [parse(text, feature) for text, feature in zip(attributes, feature_type)]
    return {
        column: [fields[i] for fields in parsed]
        for i, column in enumerate(("id", "parent", "name", "description", "gene_id"))
    }


def _feature_lines(path: Path) -> tuple[list[list[str]], list[int]]:
    """The 9 tab-separated fields of every feature line, and its 1-based line number.

    Stops at a ``##FASTA`` section or a FASTA header; skips blank and ``#`` lines.
    """
    opener = gzip.open if is_gzip(path) else open
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
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
    return rows, line_numbers


def _detect_format(path: Path, rows: list[list[str]]) -> str:
    """``gtf`` or ``gff3`` from the first non-empty attribute column (``key "value";`` is GTF),
    else from the file extension."""
    for fields in rows[:100]:
        attributes = fields[8].strip()
        if attributes in ("", "."):
            continue
        return "gtf" if _GTF_ATTRIBUTE.match(attributes) and "=" not in attributes.split(";")[0] else "gff3"
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return "gtf" if suffixes and suffixes[-1] == ".gtf" else "gff3"


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
