"""Gene annotations (GFF3 or GTF): transcripts, exons, CDS, region classes and search.

Coordinate conventions
----------------------
GFF3 and GTF files are 1-based inclusive. Every table this module returns is
**0-based half-open** (``start <= i < end``), like :mod:`glm_core.genome`; a feature on
file line ``chr01  .  CDS  11  20`` becomes ``start=10, end=20``.

Transcript model
----------------
A *transcript* is any feature that is the parent of an exon, CDS, UTR or start/stop
codon, plus any feature of a transcript type (``mRNA``, ``transcript``, ``ncRNA`` ...)
even without children. GTF files need no ``transcript`` lines: a transcript is then
assembled from the features that carry its ``transcript_id``.

* CDS = the ``CDS`` lines, plus ``stop_codon`` bases they do not already hold (GTF
  leaves the stop codon out of ``CDS``; GFF3 includes it). Pieces that abut are joined;
  CDS lines that overlap stay apart, since an overlap of a base or two encodes a
  frameshift and the spliced CDS reads those bases twice.
* Exons = ``exon`` features; where a transcript has none (the embedded U. maydis
  annotation has only mRNA and CDS lines), they are derived from its CDS and UTR
  features, joined where they touch, and the first and last exon are stretched to the
  transcript's own start and end, which are exonic by definition.
* The reading frame comes from the cumulative CDS length in transcription order; of the
  GFF phases only the first one (at the 5' end of the CDS) is used, to skip the bases of
  an incomplete first codon.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, unquote_plus

import numpy as np
import pandas as pd
from Bio.Seq import translate

from glm_core.genome import is_gzip, reverse_complement

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

TRANSCRIPT_COLUMNS = [
    "transcript_id",
    "gene_id",
    "name",
    "description",
    "chrom",
    "start",
    "end",
    "strand",
    "cds_start",
    "cds_end",
    "n_exons",
]

# Highest priority first: where classes overlap, a base gets the first one listed.
# ``non_coding_exon`` covers exons of transcripts without CDS (none in the embedded genome).
REGION_CLASSES = [
    "CDS",
    "five_prime_UTR",
    "three_prime_UTR",
    "non_coding_exon",
    "intron",
    "promoter",
    "downstream",
    "intergenic",
]

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
# Coordinates of different chromosomes share one sorted int64 axis: chromosome code in
# the high bits, position in the low 40 bits (1.1e12, longer than any chromosome).
_POSITION_BITS = 40


# --------------------------------------------------------------------------- reading


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
    FileNotFoundError if the file is missing; ValueError naming the file and line for a
    wrong column count, non-integer coordinates, end < start, a strand other than
    ``+ - .``, ``.`` strand on a transcript part, or a phase other than ``0 1 2 .``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows, line_numbers = _feature_lines(path)
    if format is None:
        format = _detect_format(path, rows)
    if format not in ("gff3", "gtf"):
        raise ValueError(f"format must be 'gff3', 'gtf' or None (detect); got {format!r}")
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype=_empty_dtype(column)) for column in FEATURE_COLUMNS})

    raw = pd.DataFrame(
        rows, columns=["chrom", "source", "feature", "start", "end", "score", "strand", "phase", "attributes"]
    )
    line = np.asarray(line_numbers, dtype=np.int64)

    def fail(mask: np.ndarray, problem: Callable[[int], str], fix: str) -> None:
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            count = int(mask.sum())
            more = f" ({count - 1} more lines like it)" if count > 1 else ""
            raise ValueError(f"{path}, line {line[first]}: {problem(first)}{more}; {fix}")

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

    phase_text = raw["phase"].to_numpy(dtype=object)
    fail(
        ~np.isin(phase_text, [".", "0", "1", "2"]),
        lambda i: f"phase {phase_text[i]!r} is not one of 0 1 2 .",
        "column 8 is the number of bases to skip to the first codon (0, 1 or 2), or '.'",
    )
    phase = pd.array(np.where(phase_text == ".", None, phase_text), dtype="Int64")

    score = pd.to_numeric(raw["score"].replace(".", np.nan), errors="coerce")
    fail(
        score.isna().to_numpy() & (raw["score"] != ".").to_numpy(),
        lambda i: f"score {raw['score'][i]!r} is not a number",
        "column 6 must be a number or '.'",
    )

    parse = _gtf_attributes if format == "gtf" else _gff3_attributes
    attributes = [parse(text, feature) for text, feature in zip(raw["attributes"], feature_type)]
    table = pd.DataFrame(
        {
            "chrom": raw["chrom"],
            "source": raw["source"],
            "feature": raw["feature"],
            "start": start - 1,
            "end": end,
            "score": score.astype(float),
            "strand": strand,
            "phase": phase,
            "id": [a[0] for a in attributes],
            "parent": [a[1] for a in attributes],
            "name": [a[2] for a in attributes],
            "description": [a[3] for a in attributes],
            "gene_id": [a[4] for a in attributes],
            "line": line,
        }
    )
    # Several parents: one row each, so that shared exons belong to every transcript.
    table = table.explode("parent", ignore_index=True)
    for column in ("chrom", "source", "feature", "strand", "id", "parent", "name", "description", "gene_id"):
        table[column] = table[column].astype("str")
    return table


def _feature_lines(path: Path) -> tuple[list[list[str]], list[int]]:
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
                raise ValueError(
                    f"{path}, line {number}: expected 9 tab-separated columns, found {len(fields)} "
                    f"({text[:60]!r}); GFF3/GTF columns must be separated by tabs, with '.' for empty ones"
                )
            rows.append(fields)
            line_numbers.append(number)
    return rows, line_numbers


def _detect_format(path: Path, rows: list[list[str]]) -> str:
    for fields in rows[:100]:
        attributes = fields[8].strip()
        if attributes in ("", "."):
            continue
        return "gtf" if _GTF_ATTRIBUTE.match(attributes) and "=" not in attributes.split(";")[0] else "gff3"
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return "gtf" if suffixes and suffixes[-1] == ".gtf" else "gff3"


def _empty_dtype(column: str):
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


# --------------------------------------------------------------------------- intervals


def position_keys(chrom_codes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """One sortable int64 per (chromosome code, 0-based position), for searches across chromosomes."""
    return (np.asarray(chrom_codes, dtype=np.int64) << _POSITION_BITS) | np.asarray(positions, dtype=np.int64)


def split_position_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`position_keys`: (chromosome codes, 0-based positions)."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> _POSITION_BITS, keys & ((1 << _POSITION_BITS) - 1)


class CoveringIntervals:
    """Which intervals cover given points, vectorised with binary search.

    Parameters
    ----------
    starts, ends : int64 arrays, shape=(n,), half-open ``[start, end)`` (any sortable keys,
        for example :func:`position_keys`). Intervals may overlap and nest.
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        self.order = np.argsort(starts, kind="stable")
        self.starts, self.ends = starts[self.order], ends[self.order]
        self.reach = np.maximum.accumulate(self.ends) if len(self.ends) else self.ends
        # The interval reaching furthest among the first i is the last one that set a new reach.
        record = self.ends == self.reach
        self.reach_owner = np.maximum.accumulate(np.where(record, np.arange(len(self.ends)), -1))

    def first_covering(self, points: np.ndarray) -> np.ndarray:
        """Index (into the constructor's arrays) of one interval covering each point, -1 where none.

        Returns
        -------
        np.ndarray, shape=(len(points),), int64
        """
        points = np.asarray(points, dtype=np.int64)
        if not len(self.starts):
            return np.full(len(points), -1, dtype=np.int64)
        last_started = np.searchsorted(self.starts, points, side="right") - 1
        clipped = np.maximum(last_started, 0)
        covered = (last_started >= 0) & (self.reach[clipped] > points)
        return np.where(covered, self.order[self.reach_owner[clipped]], -1)

    def all_covering(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, interval) pair with the interval covering the point.

        Returns
        -------
        point_index, interval_index : int64 arrays of equal length (indices into ``points``
        and into the constructor's arrays), ordered by point.
        """
        points = np.asarray(points, dtype=np.int64)
        if not len(self.starts):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        first = np.searchsorted(self.reach, points, side="right")  # earlier ones all end <= point
        stop = np.searchsorted(self.starts, points, side="right")
        counts = np.maximum(stop - first, 0)
        point_index = np.repeat(np.arange(len(points)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        candidate = np.repeat(first, counts) + offsets
        keep = self.ends[candidate] > points[point_index]
        return point_index[keep], self.order[candidate[keep]]


def _merge_per_group(table: pd.DataFrame, group: str, join: str, keep: dict[str, str] | None = None) -> pd.DataFrame:
    """Join intervals within each ``group``.

    ``join="union"`` merges overlapping and touching intervals; ``join="abutting"`` merges
    only intervals where one ends exactly where the next starts, leaving overlaps apart.
    """
    if table.empty:
        return table.reset_index(drop=True)
    table = table.sort_values([group, "start", "end"], kind="stable").reset_index(drop=True)
    first_in_group = table[group].ne(table[group].shift(1))
    if join == "union":
        previous_reach = table.groupby(group, sort=False)["end"].cummax().shift(1)
        separate = table["start"] > previous_reach
    else:
        separate = table["start"] != table["end"].shift(1)
    block = (first_in_group | separate).cumsum()
    aggregations = {group: "first", "start": "min", "end": "max", **(keep or {})}
    return table.groupby(block, sort=False).agg(aggregations).reset_index(drop=True)


# --------------------------------------------------------------------------- annotation


def _with_gene_fields(transcripts: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Fill gene_id, name and description from the parent gene; name falls back to the bare ID."""
    transcripts = transcripts.copy()
    own_id = pd.Series(transcripts.index, index=transcripts.index)
    transcripts["gene_id"] = transcripts["parent"].fillna(transcripts["gene_id"]).fillna(own_id)
    gene = genes.reindex(transcripts["gene_id"]).set_index(transcripts.index)
    transcripts["name"] = transcripts["name"].fillna(gene["name"])
    transcripts["description"] = transcripts["description"].fillna(gene["description"])
    shown_id = own_id.where(~transcripts["gene_id"].isin(genes.index), transcripts["gene_id"])
    # "mRNA:um10944" -> "um10944": the type prefix says nothing a user searches for.
    transcripts["name"] = transcripts["name"].fillna(shown_id.str.replace(r"^[A-Za-z_]+:", "", regex=True))
    return transcripts


def _cds_parts(parts: pd.DataFrame) -> pd.DataFrame:
    """CDS lines per transcript plus stop_codon bases outside them (GTF), abutting pieces joined.

    Overlapping CDS lines of one transcript stay apart: annotations overlap them by a base
    or two to encode a frameshift (um15079 in the embedded genome), and the spliced CDS must
    then read those bases twice. ``phase`` is taken from each part's 5' piece.
    """
    columns = ["transcript_id", "start", "end", "phase", "strand"]
    cds_lines = parts.loc[parts["type"] == "cds", columns].drop_duplicates(["transcript_id", "start", "end"])
    stops = parts.loc[parts["type"] == "stop_codon", columns].reset_index(drop=True)
    if len(stops):
        pairs = stops.reset_index().merge(
            cds_lines[["transcript_id", "start", "end"]], on="transcript_id", suffixes=("", "_cds")
        )
        inside = (pairs["start_cds"] <= pairs["start"]) & (pairs["end"] <= pairs["end_cds"])
        stops = stops.drop(index=pairs.loc[inside, "index"].unique())
    pieces = pd.concat([cds_lines, stops], ignore_index=True)
    cds = _merge_per_group(pieces, "transcript_id", join="abutting", keep={"phase": "first", "strand": "first"})
    minus = (cds["strand"] == "-").to_numpy()
    if minus.any():
        right_piece_phase = (
            pieces.sort_values("end", kind="stable")
            .drop_duplicates(["transcript_id", "end"], keep="last")
            .set_index(["transcript_id", "end"])["phase"]
        )
        keys = pd.MultiIndex.from_frame(cds.loc[minus, ["transcript_id", "end"]])
        cds.loc[minus, "phase"] = right_piece_phase.reindex(keys).to_numpy()
    return cds


def _exon_parts(parts: pd.DataFrame, transcripts: pd.DataFrame) -> pd.DataFrame:
    """Exon lines merged per transcript; where a transcript has none, exons derived from CDS and UTRs."""
    annotated = parts.loc[parts["type"] == "exon", ["transcript_id", "start", "end"]]
    lacking = transcripts.loc[
        ~transcripts["transcript_id"].isin(annotated["transcript_id"]), ["transcript_id", "start", "end"]
    ]
    derived = _merge_per_group(
        parts.loc[
            parts["type"].isin(CDS_TYPES | UTR_TYPES) & parts["transcript_id"].isin(lacking["transcript_id"]),
            ["transcript_id", "start", "end"],
        ],
        "transcript_id",
        join="union",
    )
    if len(derived):
        # A transcript's own start and end are exonic: stretch its outer derived exons to them.
        bounds = lacking.set_index("transcript_id").loc[derived["transcript_id"]]
        outermost_left = derived.groupby("transcript_id")["start"].transform("min") == derived["start"]
        outermost_right = derived.groupby("transcript_id")["end"].transform("max") == derived["end"]
        derived.loc[outermost_left.to_numpy(), "start"] = bounds["start"].to_numpy()[outermost_left.to_numpy()]
        derived.loc[outermost_right.to_numpy(), "end"] = bounds["end"].to_numpy()[outermost_right.to_numpy()]
    single_exon = lacking[~lacking["transcript_id"].isin(derived["transcript_id"])]
    return pd.concat(
        [_merge_per_group(annotated, "transcript_id", join="union"), derived, single_exon], ignore_index=True
    )


class Annotation:
    """Transcripts with their exons and CDS, built from :func:`read_annotation`'s table.

    Parameters
    ----------
    features : the table :func:`read_annotation` returns.
    source : where it came from, for error messages.

    Attributes
    ----------
    features : the input table.
    transcripts : pd.DataFrame, one row a transcript, columns :data:`TRANSCRIPT_COLUMNS`:
        ``transcript_id``, ``gene_id`` (the transcript's parent, else its ``gene_id``
        attribute, else the transcript id), ``name`` (Name of transcript or gene, else the id
        without a ``type:`` prefix, e.g. ``um10944``), ``description``, ``chrom``, ``start``,
        ``end``, ``strand``, ``cds_start``, ``cds_end`` (Int64, genomic, NA if non-coding),
        ``n_exons``. Coordinates 0-based half-open, sorted by chromosome (file order) and start.
    exon_table, cds_table : every exon / CDS part, columns ``transcript_id, chrom, start, end,
        strand, rank`` (0 = 5'-most on the transcript's strand); ``cds_table`` adds ``phase``
        (as in the file) and ``cds_offset`` (bases of CDS before this part in transcription order).
    """

    def __init__(self, features: pd.DataFrame, source: str = "annotation table"):
        self.features = features
        self.source = str(source)
        self._build(features)

    @classmethod
    def from_file(cls, path: str | Path, format: str | None = None) -> "Annotation":
        """Read a GFF3/GTF file (plain or gzip); see :func:`read_annotation`."""
        return cls(read_annotation(path, format=format), source=str(path))

    # ------------------------------------------------------------------ construction

    def _build(self, features: pd.DataFrame) -> None:
        table = features.copy()
        table["type"] = table["feature"].str.lower()
        is_part = table["type"].isin(PART_TYPES).to_numpy()
        parts = table[is_part].reset_index(drop=True)
        # A CDS or exon with no Parent stands for itself (e.g. prokaryote-style CDS lines).
        orphan_id = parts["feature"] + ":line" + parts["line"].astype(str)
        parts["transcript_id"] = parts["parent"].fillna(parts["id"]).fillna(orphan_id)
        is_transcript_row = ~is_part & (
            table["id"].isin(parts["transcript_id"]).to_numpy() | table["type"].isin(TRANSCRIPT_TYPES).to_numpy()
        )
        genes = table[table["id"].notna().to_numpy() & ~is_part & ~is_transcript_row].drop_duplicates("id")

        transcripts = self._transcript_rows(table[is_transcript_row & table["id"].notna().to_numpy()], parts)
        self._check_parts_agree(parts, transcripts)
        transcripts = _with_gene_fields(transcripts, genes.set_index("id"))
        chrom_order = {chrom: i for i, chrom in enumerate(pd.unique(table["chrom"]))}
        transcripts = (
            transcripts.reset_index()
            .assign(_chrom_code=lambda t: t["chrom"].map(chrom_order))
            .sort_values(["_chrom_code", "start", "end", "transcript_id"], kind="stable")
            .reset_index(drop=True)
        )
        text = ["transcript_id", "gene_id", "name", "description", "chrom", "strand"]
        self.transcripts = transcripts[TRANSCRIPT_COLUMNS[:8]].astype({column: "str" for column in text})
        self._row_of = pd.Series(np.arange(len(transcripts)), index=transcripts["transcript_id"].to_numpy())

        parts["strand"] = self.transcripts["strand"].to_numpy()[self.transcript_rows(parts["transcript_id"])]
        self.cds_table = self._in_transcription_order(_cds_parts(parts))
        length = self.cds_table["end"] - self.cds_table["start"]
        self.cds_table["cds_offset"] = (length.groupby(self.cds_table["transcript_id"]).cumsum() - length).astype(
            "int64"
        )
        self.exon_table = self._in_transcription_order(_exon_parts(parts, self.transcripts))

        cds_span = self.cds_table.groupby("transcript_id").agg(cds_start=("start", "min"), cds_end=("end", "max"))
        ids = self.transcripts["transcript_id"]
        self.transcripts = self.transcripts.assign(
            cds_start=pd.array(cds_span["cds_start"].reindex(ids).to_numpy(), dtype="Int64"),
            cds_end=pd.array(cds_span["cds_end"].reindex(ids).to_numpy(), dtype="Int64"),
            n_exons=self.exon_table.groupby("transcript_id").size().reindex(ids).fillna(0).to_numpy(np.int64),
        )[TRANSCRIPT_COLUMNS]
        # Both part tables are sorted by transcript row, so each transcript's parts are one slice.
        every_row = np.arange(len(self.transcripts) + 1)
        self._exon_bounds = np.searchsorted(self.transcript_rows(self.exon_table["transcript_id"]), every_row)
        self._cds_bounds = np.searchsorted(self.transcript_rows(self.cds_table["transcript_id"]), every_row)

    @staticmethod
    def _transcript_rows(listed_rows: pd.DataFrame, parts: pd.DataFrame) -> pd.DataFrame:
        """One row a transcript, indexed by transcript_id: its own line(s) where present, else its parts."""
        fields = dict(
            chrom=("chrom", "first"),
            strand=("strand", "first"),
            start=("start", "min"),
            end=("end", "max"),
            parent=("parent", "first"),
            name=("name", "first"),
            description=("description", "first"),
            gene_id=("gene_id", "first"),
        )
        listed = listed_rows.groupby("id", sort=False).agg(**fields).rename_axis("transcript_id")
        from_parts = parts.assign(parent=np.nan).groupby("transcript_id", sort=False).agg(**fields)
        transcripts = listed.combine_first(from_parts) if len(listed) else from_parts
        # A transcript spans all its parts even where its own line says less.
        span = from_parts.reindex(transcripts.index)
        transcripts["start"] = np.fmin(transcripts["start"], span["start"]).astype("int64")
        transcripts["end"] = np.fmax(transcripts["end"], span["end"]).astype("int64")
        return transcripts

    def _check_parts_agree(self, parts: pd.DataFrame, transcripts: pd.DataFrame) -> None:
        expected = transcripts.loc[parts["transcript_id"], ["chrom", "strand"]].to_numpy()
        disagree = (parts["chrom"].to_numpy() != expected[:, 0]) | (parts["strand"].to_numpy() != expected[:, 1])
        if disagree.any():
            row = parts.iloc[int(np.flatnonzero(disagree)[0])]
            owner = transcripts.loc[row["transcript_id"]]
            raise ValueError(
                f"{self.source}, line {row['line']}: {row['feature']} of {row['transcript_id']} lies on "
                f"{row['chrom']} strand {row['strand']}, but the transcript is on {owner['chrom']} strand "
                f"{owner['strand']}; a transcript's parts must share its chromosome and strand"
            )

    def _in_transcription_order(self, parts: pd.DataFrame) -> pd.DataFrame:
        """Parts sorted by transcript (genome order), then 5'->3' on its strand, with ``rank``."""
        columns = ["transcript_id", "chrom", "start", "end", "strand", "rank"] + (["phase"] if "phase" in parts else [])
        rows = self.transcript_rows(parts["transcript_id"])
        strand = self.transcripts["strand"].to_numpy()[rows]
        parts = parts.assign(
            chrom=self.transcripts["chrom"].to_numpy()[rows],
            strand=strand,
            _row=rows,
            _order=np.where(strand == "-", -parts["start"].to_numpy(), parts["start"].to_numpy()),
        )
        parts = parts.sort_values(["_row", "_order"], kind="stable").reset_index(drop=True)
        parts["rank"] = parts.groupby("_row", sort=False).cumcount().astype("int64")
        parts = parts.astype(
            {"start": "int64", "end": "int64", "transcript_id": "str", "chrom": "str", "strand": "str"}
        )
        if "phase" in parts:
            parts["phase"] = parts["phase"].astype("Int64")
        return parts[columns]

    # ------------------------------------------------------------------ lookups

    def _row(self, transcript_id: str) -> int:
        if transcript_id not in self._row_of.index:
            hits = self.search(transcript_id, limit=5)["transcript_id"].tolist()
            hint = (
                f"; did you mean {', '.join(hits)}?" if hits else "; search() finds transcripts by name or description"
            )
            raise KeyError(f"no transcript {transcript_id!r} in {self.source}{hint}")
        return int(self._row_of[transcript_id])

    def transcript_rows(self, transcript_ids) -> np.ndarray:
        """Row numbers in :attr:`transcripts` of the given IDs, -1 for unknown ones.

        Returns
        -------
        np.ndarray, shape=(len(transcript_ids),), int64
        """
        return self._row_of.reindex(np.asarray(transcript_ids, dtype=object)).fillna(-1).to_numpy(np.int64)

    def exons(self, transcript_id: str) -> pd.DataFrame:
        """Exons of one transcript in transcription order (5'->3' on its strand).

        Returns
        -------
        pd.DataFrame with columns ``chrom, start, end`` (0-based half-open).
        """
        row = self._row(transcript_id)
        rows = self.exon_table.iloc[self._exon_bounds[row] : self._exon_bounds[row + 1]]
        return rows[["chrom", "start", "end"]].reset_index(drop=True)

    def cds(self, transcript_id: str) -> pd.DataFrame:
        """CDS parts of one transcript in transcription order; empty for non-coding ones.

        Returns
        -------
        pd.DataFrame with columns ``chrom, start, end`` (0-based half-open) and ``phase``
        (Int64, as annotated).
        """
        row = self._row(transcript_id)
        rows = self.cds_table.iloc[self._cds_bounds[row] : self._cds_bounds[row + 1]]
        return rows[["chrom", "start", "end", "phase"]].reset_index(drop=True)

    def cds_sequence(self, genome, transcript_id: str) -> str:
        """The spliced CDS on the transcript's strand, upper case, 5'->3'.

        Parameters
        ----------
        genome : a :class:`glm_core.genome.Genome` (anything with ``fetch(chrom, start, end, strand)``).

        Includes the bases of an incomplete first codon (see :meth:`first_codon_offset`).
        """
        self._row(transcript_id)
        sequence = self.cds_sequences(genome, [transcript_id]).iloc[0]
        if not sequence:
            raise ValueError(f"{transcript_id} has no CDS (a non-coding transcript); choose a coding one")
        return sequence

    def cds_sequences(self, genome, transcript_ids=None) -> pd.Series:
        """Spliced CDS of many transcripts (all by default), as :meth:`cds_sequence`.

        Returns
        -------
        pd.Series of str indexed by transcript_id; ``""`` for non-coding transcripts.
        """
        ids = self.transcripts["transcript_id"] if transcript_ids is None else pd.Index(transcript_ids)
        for transcript_id in ids:
            self._row(transcript_id)
        rows = self._row_of.reindex(ids).to_numpy()
        strands = self.transcripts["strand"].to_numpy()[rows]
        chroms = self.cds_table["chrom"].to_numpy()
        starts, ends = self.cds_table["start"].to_numpy(), self.cds_table["end"].to_numpy()
        sequences = []
        for row, strand in zip(rows, strands):
            first, stop = self._cds_bounds[row], self._cds_bounds[row + 1]
            plus = "".join(
                genome.fetch(chroms[i], int(starts[i]), int(ends[i]))
                for i in sorted(range(first, stop), key=starts.__getitem__)
            )
            sequences.append((reverse_complement(plus) if strand == "-" else plus).upper())
        return pd.Series(sequences, index=np.asarray(ids), dtype=object, name="cds_sequence")

    def first_codon_offset(self, transcript_id: str) -> int:
        """Bases before the first complete codon: the phase of the 5'-most CDS part (0 if ``.``)."""
        phase = self.cds(transcript_id)["phase"]
        return 0 if phase.empty or pd.isna(phase.iloc[0]) else int(phase.iloc[0])

    def protein_sequence(self, genome, transcript_id: str) -> str:
        """Translation of the CDS with Biopython's standard genetic code; stops appear as ``*``.

        The bases of an incomplete first codon are skipped and trailing bases that do not
        fill a codon are dropped; the reading frame otherwise follows the spliced sequence.
        """
        coding = self.cds_sequence(genome, transcript_id)[self.first_codon_offset(transcript_id) :]
        return translate(coding[: len(coding) - len(coding) % 3], table="Standard")

    def search(self, query: str, limit: int = 50) -> pd.DataFrame:
        """Transcripts whose ID, gene ID, name or description contains every word of ``query``.

        Case-insensitive. Ranked: exact ID or name match, then ID/name prefix, then ID/name
        containing the query, then the whole query in the description, then all its words
        anywhere; ties in genome order.

        Returns
        -------
        pd.DataFrame, the matching rows of :attr:`transcripts` (at most ``limit``).
        """
        text = (query or "").strip().lower()
        if not text:
            return self.transcripts.head(0)
        table = self.transcripts
        identifiers = [table[c].fillna("").str.lower() for c in ("transcript_id", "gene_id", "name")]
        description = table["description"].fillna("").str.lower()
        everything = identifiers[0] + " " + identifiers[1] + " " + identifiers[2] + " " + description
        all_words = np.logical_and.reduce([everything.str.contains(w, regex=False).to_numpy() for w in text.split()])
        exact = np.logical_or.reduce([(c == text).to_numpy() for c in identifiers])
        exact |= np.logical_or.reduce(
            [(c.str.replace(r"^[a-z_]+:", "", regex=True) == text).to_numpy() for c in identifiers]
        )
        prefix = np.logical_or.reduce([c.str.startswith(text).to_numpy() for c in identifiers])
        inside = np.logical_or.reduce([c.str.contains(text, regex=False).to_numpy() for c in identifiers])
        phrase = description.str.contains(text, regex=False).to_numpy()
        rank = np.select([exact, prefix, inside, phrase, all_words], [0, 1, 2, 3, 4], default=-1)
        hits = np.flatnonzero(rank >= 0)
        hits = hits[np.argsort(rank[hits], kind="stable")][:limit]
        return table.iloc[hits].reset_index(drop=True)

    def region_features(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        """Transcripts, exons and CDS overlapping ``[start, end)`` (0-based half-open), for gene tracks.

        Returns
        -------
        pd.DataFrame with columns ``transcript_id, name, feature`` (``transcript``, ``exon`` or
        ``CDS``), ``chrom, start, end, strand``; whole features (not clipped to the window),
        ordered by transcript start.
        """
        columns = ["transcript_id", "name", "feature", "chrom", "start", "end", "strand"]
        table = self.transcripts
        hit = table[(table["chrom"] == chrom) & (table["start"] < end) & (table["end"] > start)]
        names = hit.set_index("transcript_id")["name"]
        pieces = [hit.assign(feature="transcript")[columns]]
        for feature, parts in (("exon", self.exon_table), ("CDS", self.cds_table)):
            chosen = parts[
                parts["transcript_id"].isin(hit["transcript_id"]) & (parts["start"] < end) & (parts["end"] > start)
            ]
            pieces.append(
                chosen.assign(feature=feature, name=names.reindex(chosen["transcript_id"]).to_numpy())[columns]
            )
        result = pd.concat(pieces, ignore_index=True)
        order = result["transcript_id"].map(pd.Series(np.arange(len(hit)), index=hit["transcript_id"].to_numpy()))
        kind = result["feature"].map({"transcript": 0, "exon": 1, "CDS": 2})
        result = result.assign(_order=order, _kind=kind).sort_values(["_order", "_kind", "start"], kind="stable")
        return result.drop(columns=["_order", "_kind"]).reset_index(drop=True)

    # ------------------------------------------------------------------ genome-wide

    def check_sequence_ids(self, chrom_sizes: dict[str, int]) -> None:
        """Raise ValueError unless every annotated chromosome is in the FASTA and features fit in it.

        Parameters
        ----------
        chrom_sizes : sequence name -> length, e.g. :attr:`glm_core.genome.Genome.chrom_sizes`.
        """
        annotated = list(pd.unique(self.features["chrom"]))
        missing = [c for c in annotated if c not in chrom_sizes]
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(annotated)} chromosomes in {self.source} are not in the FASTA: "
                f"{_shown(missing)}. The FASTA has {len(chrom_sizes)}: {_shown(list(chrom_sizes))}. "
                "Use the annotation made for this genome assembly, or rename the sequences so that "
                "both files use the same names (e.g. '1' versus 'chr1')."
            )
        lengths = self.features["chrom"].map(chrom_sizes).to_numpy()
        beyond = self.features["end"].to_numpy() > lengths
        if beyond.any():
            row = self.features.iloc[int(np.flatnonzero(beyond)[0])]
            raise ValueError(
                f"{self.source}, line {row['line']}: {row['feature']} ends at {row['end']:,} but {row['chrom']} "
                f"has {chrom_sizes[row['chrom']]:,} bp ({int(beyond.sum())} features run past their chromosome); "
                "the annotation belongs to another assembly"
            )

    def class_intervals(
        self, chrom_sizes: dict[str, int] | None = None, promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """Every transcript's CDS, UTR, non-coding exon, intron, promoter and downstream intervals.

        Intervals of different transcripts and classes may overlap; :meth:`region_classes`
        resolves that. UTRs are the exonic parts outside ``[cds_start, cds_end)``, 5' or 3'
        by strand; promoter = ``promoter_length`` bp before the transcript's 5' end, downstream =
        ``downstream_length`` bp after its 3' end, both clipped to the chromosome
        (``chrom_sizes``, or only at 0 when None).

        Returns
        -------
        pd.DataFrame with columns ``chrom, start, end`` (0-based half-open), ``region_class``
        (one of :data:`REGION_CLASSES` other than ``intergenic``) and ``transcript_id``.
        """
        t = self.transcripts
        strand_minus = (t["strand"] == "-").to_numpy()
        pieces = []

        def add(chrom, start, end, region_class, transcript_id):
            start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
            keep = end > start
            pieces.append(
                pd.DataFrame(
                    {
                        "chrom": np.asarray(chrom, dtype=object)[keep],
                        "start": start[keep],
                        "end": end[keep],
                        "region_class": region_class
                        if isinstance(region_class, str)
                        else np.asarray(region_class)[keep],
                        "transcript_id": np.asarray(transcript_id, dtype=object)[keep],
                    }
                )
            )

        c = self.cds_table
        add(c["chrom"], c["start"], c["end"], "CDS", c["transcript_id"])

        e = self.exon_table
        info = t.set_index("transcript_id").loc[e["transcript_id"]]
        coding = info["cds_start"].notna().to_numpy()
        cds_start = info["cds_start"].fillna(0).to_numpy(np.int64)
        cds_end = info["cds_end"].fillna(0).to_numpy(np.int64)
        e_start, e_end = e["start"].to_numpy(np.int64), e["end"].to_numpy(np.int64)
        minus = (e["strand"] == "-").to_numpy()
        left_class = np.where(minus, "three_prime_UTR", "five_prime_UTR")
        right_class = np.where(minus, "five_prime_UTR", "three_prime_UTR")
        add(
            e["chrom"][coding],
            e_start[coding],
            np.minimum(e_end, cds_start)[coding],
            left_class[coding],
            e["transcript_id"][coding],
        )
        add(
            e["chrom"][coding],
            np.maximum(e_start, cds_end)[coding],
            e_end[coding],
            right_class[coding],
            e["transcript_id"][coding],
        )
        add(e["chrom"][~coding], e_start[~coding], e_end[~coding], "non_coding_exon", e["transcript_id"][~coding])

        introns = self.introns()
        add(introns["chrom"], introns["start"], introns["end"], "intron", introns["transcript_id"])

        t_start, t_end = t["start"].to_numpy(np.int64), t["end"].to_numpy(np.int64)
        if chrom_sizes is None:
            limit = np.full(len(t), np.iinfo(np.int64).max >> 24)
        else:
            limit = t["chrom"].map(chrom_sizes).fillna(np.iinfo(np.int64).max >> 24).to_numpy(np.int64)
        upstream = (np.maximum(t_start - promoter_length, 0), t_start)
        upstream_minus = (t_end, np.minimum(t_end + promoter_length, limit))
        add(
            t["chrom"],
            np.where(strand_minus, upstream_minus[0], upstream[0]),
            np.where(strand_minus, upstream_minus[1], upstream[1]),
            "promoter",
            t["transcript_id"],
        )
        after = (t_end, np.minimum(t_end + downstream_length, limit))
        after_minus = (np.maximum(t_start - downstream_length, 0), t_start)
        add(
            t["chrom"],
            np.where(strand_minus, after_minus[0], after[0]),
            np.where(strand_minus, after_minus[1], after[1]),
            "downstream",
            t["transcript_id"],
        )
        return pd.concat(pieces, ignore_index=True)

    def introns(self) -> pd.DataFrame:
        """Gaps between consecutive exons of each transcript.

        Returns
        -------
        pd.DataFrame with columns ``transcript_id, chrom, start, end`` (0-based half-open),
        ``strand``, and ``upstream_exon_start, downstream_exon_end`` (genomic, the exons to the
        left and right of the intron, for splice-region clipping).
        """
        e = self.exon_table.sort_values(["transcript_id", "start"], kind="stable")
        same = e["transcript_id"].to_numpy()[1:] == e["transcript_id"].to_numpy()[:-1]
        left, right = e.iloc[:-1][same], e.iloc[1:][same]
        introns = pd.DataFrame(
            {
                "transcript_id": left["transcript_id"].to_numpy(),
                "chrom": left["chrom"].to_numpy(),
                "start": left["end"].to_numpy(np.int64),
                "end": right["start"].to_numpy(np.int64),
                "strand": left["strand"].to_numpy(),
                "upstream_exon_start": left["start"].to_numpy(np.int64),
                "downstream_exon_end": right["end"].to_numpy(np.int64),
            }
        )
        return introns[introns["end"] > introns["start"]].reset_index(drop=True)

    def region_classes(
        self, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """Tile every chromosome of ``chrom_sizes`` exactly once with region classes.

        Where classes overlap, the one listed first in :data:`REGION_CLASSES` wins (CDS >
        five_prime_UTR > three_prime_UTR > non_coding_exon > intron > promoter > downstream >
        intergenic). Adjacent intervals of the same class are merged.

        Parameters
        ----------
        chrom_sizes : sequence name -> length; every annotated chromosome must be present.
        promoter_length, downstream_length : bp before the 5' end / after the 3' end.

        Returns
        -------
        pd.DataFrame with columns ``chrom, start, end`` (0-based half-open) and ``region_class``,
        in ``chrom_sizes`` order then by start; lengths on a chromosome sum to its size.
        """
        self.check_sequence_ids(chrom_sizes)
        chroms = list(chrom_sizes)
        code_of = {chrom: i for i, chrom in enumerate(chroms)}
        sizes = np.array([chrom_sizes[c] for c in chroms], dtype=np.int64)
        intervals = self.class_intervals(chrom_sizes, promoter_length, downstream_length)
        codes = intervals["chrom"].map(code_of).to_numpy(np.int64)
        starts = position_keys(codes, intervals["start"].to_numpy())
        ends = position_keys(codes, intervals["end"].to_numpy())
        chrom_codes = np.arange(len(chroms))
        boundaries = np.unique(
            np.concatenate([position_keys(chrom_codes, 0 * sizes), position_keys(chrom_codes, sizes), starts, ends])
        )
        segment_start, segment_end = boundaries[:-1], boundaries[1:]
        same_chrom = (segment_start >> _POSITION_BITS) == (segment_end >> _POSITION_BITS)
        segment_start, segment_end = segment_start[same_chrom], segment_end[same_chrom]
        # Segments between boundaries are covered uniformly, so testing their first base suffices.
        label = np.full(len(segment_start), len(REGION_CLASSES) - 1, dtype=np.int64)
        classes = intervals["region_class"].to_numpy()
        for priority in range(len(REGION_CLASSES) - 2, -1, -1):
            chosen = classes == REGION_CLASSES[priority]
            covered = CoveringIntervals(starts[chosen], ends[chosen]).first_covering(segment_start) >= 0
            label[covered] = priority
        segment_chrom = segment_start >> _POSITION_BITS
        new_run = np.ones(len(label), dtype=bool)
        new_run[1:] = (label[1:] != label[:-1]) | (segment_chrom[1:] != segment_chrom[:-1])
        run_first = np.flatnonzero(new_run)
        run_last = np.append(run_first[1:], len(label)) - 1
        mask = (1 << _POSITION_BITS) - 1
        return pd.DataFrame(
            {
                "chrom": pd.array(np.asarray(chroms, dtype=object)[segment_chrom[run_first]], dtype="str"),
                "start": segment_start[run_first] & mask,
                "end": segment_end[run_last] & mask,
                "region_class": pd.Categorical.from_codes(label[run_first], categories=REGION_CLASSES),
            }
        )

    def region_class_totals(
        self, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """Bases per region class over the whole genome (see :meth:`region_classes`).

        Returns
        -------
        pd.DataFrame with columns ``region_class`` (all of :data:`REGION_CLASSES`, in priority
        order), ``bases`` (int64) and ``fraction`` (of the genome).
        """
        tiles = self.region_classes(chrom_sizes, promoter_length, downstream_length)
        bases = (tiles["end"] - tiles["start"]).groupby(tiles["region_class"], observed=False).sum()
        bases = bases.reindex(REGION_CLASSES, fill_value=0).astype("int64")
        total = sum(chrom_sizes.values())
        return pd.DataFrame(
            {"region_class": REGION_CLASSES, "bases": bases.to_numpy(), "fraction": bases.to_numpy() / total}
        )


def _shown(names: list[str], limit: int = 10) -> str:
    return ", ".join(map(str, names[:limit])) + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")
