"""Gene annotations: transcripts, exons, CDS, translation and search.

Coordinate conventions
----------------------
Every table this module returns is **0-based half-open** (``start <= i < end``), like
:mod:`glm_core.genome`. The GFF3/GTF files themselves (1-based inclusive) are read by
:mod:`glm_core.gff`; region classes (CDS, UTR, intron, promoter ...) are computed by
:mod:`glm_core.region_classes`.

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

from pathlib import Path

import numpy as np
import pandas as pd

from . import region_classes as _region_classes
from .errors import InputError
from .genetic_code import translate
from .genome import reverse_complement
from .gff import (
    CDS_TYPES,
    PART_TYPES,
    TRANSCRIPT_TYPES,
    UTR_TYPES,
    describe_counts,
    empty_feature_table,
    feature_counts,
    read_annotation,
)
from .intervals import merge_per_group

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
    # Files without descriptions (GTF, JGI) get "" rather than NaN, which pages would print as "nan".
    transcripts["description"] = transcripts["description"].fillna("")
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
    cds = merge_per_group(pieces, "transcript_id", join="abutting", keep={"phase": "first", "strand": "first"})
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
    derived = merge_per_group(
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
        [merge_per_group(annotated, "transcript_id", join="union"), derived, single_exon], ignore_index=True
    )


def _single_cds_genes(parts: pd.DataFrame) -> pd.Series:
    """Transcript IDs for CDS lines without Parent or ID in a file of bare CDS lines (prokaryotes).

    Where a file has no exon or codon lines, each bare CDS line is one gene, named
    ``CDS:line<N>``, as prokaryote annotations mean it; in a file with exons the same lines
    would be pieces of unknown transcripts, so they stay unassigned (and are refused).
    """
    bare = parts["parent"].isna() & parts["id"].isna()
    if not bare.any() or not parts["type"].eq("cds").all():
        return pd.Series(np.nan, index=parts.index, dtype=object)
    return (parts["feature"] + ":line" + parts["line"].astype(str)).where(bare)


class Annotation:
    """Transcripts with their exons and CDS, built from :func:`glm_core.gff.read_annotation`'s table.

    Parameters
    ----------
    features : the table :func:`glm_core.gff.read_annotation` returns.
    source : where it came from, for error messages.

    Attributes
    ----------
    features : the input table.
    transcripts : pd.DataFrame, one row a transcript, columns :data:`TRANSCRIPT_COLUMNS`:
        ``transcript_id``, ``gene_id`` (the transcript's parent, else its ``gene_id``
        attribute, else the transcript id), ``name`` (Name of transcript or gene, else the id
        without a ``type:`` prefix, e.g. ``um10944``), ``description`` (``""`` where the file has
        none), ``chrom``, ``start``,
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
        """Read a GFF3/GTF/GFF2 file (plain or gzip); see :func:`glm_core.gff.read_annotation`."""
        return cls(read_annotation(path, format=format), source=str(path))

    @classmethod
    def empty(cls, source: str = "no annotation") -> "Annotation":
        """An annotation without transcripts, for a FASTA opened on its own.

        Every table has its columns and no rows: :meth:`search` finds nothing,
        :meth:`region_classes` calls every base ``intergenic`` and :attr:`is_empty` is True,
        which is how callers tell "no annotation" from "no gene here".
        """
        return cls(empty_feature_table(), source=source)

    @property
    def is_empty(self) -> bool:
        """True when there is no annotation at all (see :meth:`empty`)."""
        return self.features.empty

    # ------------------------------------------------------------------ construction

    def _build(self, features: pd.DataFrame) -> None:
        table = features.copy()
        table["type"] = table["feature"].str.lower()
        is_part = table["type"].isin(PART_TYPES).to_numpy()
        parts = table[is_part].reset_index(drop=True)
        # A CDS or exon with no Parent but its own ID stands for itself (prokaryote-style CDS lines).
        parts["transcript_id"] = parts["parent"].fillna(parts["id"])
        parts["transcript_id"] = parts["transcript_id"].fillna(_single_cds_genes(parts))
        self._check_groupable(table, parts)
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

    def _check_groupable(self, table: pd.DataFrame, parts: pd.DataFrame) -> None:
        """Refuse a file whose parts cannot be grouped into transcripts, rather than read one gene a line."""
        if table.empty:
            return
        orphans = parts[parts["transcript_id"].isna()]
        found = describe_counts(feature_counts(table))
        if len(orphans):
            first = orphans.iloc[0]
            raise InputError(
                f"{self.source}, line {first['line']}: {len(orphans):,} of {len(parts):,} exon/CDS/codon lines "
                f"({describe_counts(feature_counts(orphans))}) name no transcript (no Parent or ID in GFF3, no "
                f"transcript_id or gene_id in GTF, no name or transcriptId in GFF2), so they cannot be grouped "
                f"into genes; the file has {found}. Use the annotation as the annotation tool wrote it "
                "(GFF3 with ID/Parent, or GTF)"
            )
        has_transcripts = len(parts) or table["feature"].str.lower().isin(TRANSCRIPT_TYPES).any()
        if not has_transcripts:
            raise InputError(
                f"{self.source}: no transcripts, exons or CDS among its features ({found}); gene models need "
                "mRNA/transcript, exon or CDS lines. Choose the gene annotation of this genome, or open the "
                "FASTA without one"
            )

    def _check_parts_agree(self, parts: pd.DataFrame, transcripts: pd.DataFrame) -> None:
        expected = transcripts.loc[parts["transcript_id"], ["chrom", "strand"]].to_numpy()
        disagree = (parts["chrom"].to_numpy() != expected[:, 0]) | (parts["strand"].to_numpy() != expected[:, 1])
        if disagree.any():
            row = parts.iloc[int(np.flatnonzero(disagree)[0])]
            owner = transcripts.loc[row["transcript_id"]]
            raise InputError(
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
            raise InputError(f"no transcript {transcript_id!r} in {self.source}{hint}")
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
            raise InputError(f"{transcript_id} has no CDS (a non-coding transcript); choose a coding one")
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
        """Translation of the CDS with the standard genetic code (:mod:`glm_core.genetic_code`); stops appear as ``*``.

        The bases of an incomplete first codon are skipped and trailing bases that do not
        fill a codon are dropped; the reading frame otherwise follows the spliced sequence.
        """
        coding = self.cds_sequence(genome, transcript_id)[self.first_codon_offset(transcript_id) :]
        return translate(coding[: len(coding) - len(coding) % 3])

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
        """Raise InputError unless every annotated chromosome is in the FASTA and features fit in it.

        Parameters
        ----------
        chrom_sizes : sequence name -> length, e.g. :attr:`glm_core.genome.Genome.chrom_sizes`.
        """
        annotated = list(pd.unique(self.features["chrom"]))
        missing = [c for c in annotated if c not in chrom_sizes]
        if missing:
            raise InputError(
                f"{len(missing)} of {len(annotated)} chromosomes in {self.source} are not in the FASTA: "
                f"{_shown(missing)}. The FASTA has {len(chrom_sizes)}: {_shown(list(chrom_sizes))}. "
                "Use the annotation made for this genome assembly, or rename the sequences so that "
                "both files use the same names (e.g. '1' versus 'chr1')."
            )
        lengths = self.features["chrom"].map(chrom_sizes).to_numpy()
        beyond = self.features["end"].to_numpy() > lengths
        if beyond.any():
            row = self.features.iloc[int(np.flatnonzero(beyond)[0])]
            raise InputError(
                f"{self.source}, line {row['line']}: {row['feature']} ends at {row['end']:,} but {row['chrom']} "
                f"has {chrom_sizes[row['chrom']]:,} bp ({int(beyond.sum())} features run past their chromosome); "
                "the annotation belongs to another assembly"
            )

    # ------------------------------------------------------------------ region classes (glm_core.region_classes)

    def class_intervals(
        self, chrom_sizes: dict[str, int] | None = None, promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """:func:`glm_core.region_classes.class_intervals` of this annotation."""
        return _region_classes.class_intervals(self, chrom_sizes, promoter_length, downstream_length)

    def introns(self) -> pd.DataFrame:
        """:func:`glm_core.region_classes.introns` of this annotation."""
        return _region_classes.introns(self)

    def region_classes(
        self, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """:func:`glm_core.region_classes.region_classes` of this annotation."""
        return _region_classes.region_classes(self, chrom_sizes, promoter_length, downstream_length)

    def region_class_totals(
        self, chrom_sizes: dict[str, int], promoter_length: int = 500, downstream_length: int = 500
    ) -> pd.DataFrame:
        """:func:`glm_core.region_classes.region_class_totals` of this annotation."""
        return _region_classes.region_class_totals(self, chrom_sizes, promoter_length, downstream_length)


def _shown(names: list[str], limit: int = 10) -> str:
    return ", ".join(map(str, names[:limit])) + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")
