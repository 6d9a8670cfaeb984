"""Promoter sets and their control tags: upstream sequences, codon adaptation, quantile bins.

Conventions
-----------
* Coordinates are 0-based half-open (``start <= i < end``), as everywhere in ``glm_core``.
* A promoter is the sequence upstream of a transcript's start, written 5'->3' on the
  gene's strand, so its last base sits right before the transcription start site (TSS).
  Upstream regions are trimmed at chromosome ends and where another transcript (either
  strand) overlaps them; promoters shorter than ``min_length`` are dropped.
* Genes on :data:`glm_core.evaluation.HELD_OUT_CHROMS` (chr20-chr23) carry
  ``held_out=True``; nothing trained on promoters may see them.

Tags
----
A *tag family* is one column of labels per gene (e.g. ``CAI`` with ``LOW, MID, HIGH``).
Numeric values are binned into quantiles whose edges are taken from the training genes
only (:func:`quantile_labels`); categorical labels are used as given. The default family
is the codon adaptation index (CAI, Sharp & Li 1987) of each CDS against the cytoplasmic
ribosomal-protein genes, an expression proxy: highly expressed genes use the codons that
ribosomal-protein genes prefer.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .evaluation import HELD_OUT_CHROMS
from .genetic_code import GENETIC_CODE

DEFAULT_UPSTREAM = 250
DEFAULT_MIN_LENGTH = 50
DEFAULT_FAMILY = "CAI"
TAG_TABLE_HELP = "it needs a header line and two columns: gene ID, then a number or a label"
RIBOSOMAL_PATTERN = r"\b(?:40S|60S) ribosomal protein"
PROMOTER_COLUMNS = [
    "transcript_id",
    "gene_id",
    "name",
    "chrom",
    "start",
    "end",
    "strand",
    "length",
    "held_out",
    "sequence",
]

# Standard genetic code, codon -> amino acid (one letter, '*' for stop).
# Amino acids with one codon (Met, Trp) and stops carry no codon-usage information.
_UNINFORMATIVE = {"M", "W", "*"}
_LABEL_SAFE = re.compile(r"[^A-Za-z0-9_.+-]")


# --------------------------------------------------------------------------- promoter set


def promoter_table(
    annotation,
    genome,
    upstream: int = DEFAULT_UPSTREAM,
    min_length: int = DEFAULT_MIN_LENGTH,
    held_out_chroms=HELD_OUT_CHROMS,
) -> pd.DataFrame:
    """One promoter per transcript: the ``upstream`` bases before its start, strand-aware.

    Parameters
    ----------
    annotation : :class:`glm_core.annotation.Annotation`.
    genome : :class:`glm_core.genome.Genome` with the annotation's sequence names.
    upstream : bases upstream of the transcript start (before trimming).
    min_length : promoters shorter than this after trimming are dropped.

    Returns
    -------
    pd.DataFrame with :data:`PROMOTER_COLUMNS`: ``chrom, start, end`` of the promoter
    (0-based half-open, genomic), ``strand`` of the gene, ``length`` (bp after trimming),
    ``held_out`` (bool) and ``sequence`` (upper case, 5'->3' on the gene's strand, ending
    at the TSS).
    """
    if upstream < 1 or min_length < 1:
        raise ValueError(f"upstream and min_length must be >= 1; got upstream={upstream}, min_length={min_length}")
    transcripts = annotation.transcripts
    rows = []
    for chrom, group in transcripts.groupby("chrom", sort=False):
        if chrom not in genome.chrom_sizes:
            raise InputError(f"{chrom!r} from the annotation is not in the FASTA; choose the matching genome")
        size = genome.chrom_sizes[chrom]
        starts, ends = group["start"].to_numpy(np.int64), group["end"].to_numpy(np.int64)
        for i, row in enumerate(group.itertuples(index=False)):
            others = np.arange(len(group)) != i
            if row.strand == "+":
                lo, hi = max(0, row.start - upstream), row.start
                left = others & (starts < hi) & (ends > lo)
                if left.any():
                    lo = max(lo, int(ends[left].max()))
            else:
                lo, hi = row.end, min(size, row.end + upstream)
                right = others & (starts < hi) & (ends > lo)
                if right.any():
                    hi = min(hi, int(starts[right].min()))
            if hi - lo < min_length:
                continue
            rows.append(
                (
                    row.transcript_id,
                    row.gene_id,
                    row.name,
                    chrom,
                    lo,
                    hi,
                    row.strand,
                    hi - lo,
                    chrom in held_out_chroms,
                    genome.fetch(chrom, lo, hi, row.strand).upper(),
                )
            )
    table = pd.DataFrame(rows, columns=PROMOTER_COLUMNS)
    return table.astype({"start": "int64", "end": "int64", "length": "int64", "held_out": "bool"})


# --------------------------------------------------------------------------- codon adaptation


def codon_counts(cds_sequences, offsets=None) -> pd.Series:
    """Sense-codon counts over many CDS read in frame from ``offsets`` (default 0).

    Returns pd.Series indexed by the 64 codons (``AAA`` ... ``TTT``), int64; codons with
    anything but A/C/G/T are skipped.
    """
    counts = dict.fromkeys(sorted(GENETIC_CODE), 0)
    offsets = [0] * len(cds_sequences) if offsets is None else offsets
    for sequence, offset in zip(cds_sequences, offsets):
        sequence = sequence.upper()
        for i in range(int(offset), len(sequence) - 2, 3):
            codon = sequence[i : i + 3]
            if codon in counts:
                counts[codon] += 1
    return pd.Series(counts, dtype="int64")


def relative_adaptiveness(reference_counts: pd.Series, pseudocount: float = 0.5) -> pd.Series:
    """Sharp & Li's w: each codon's count over the count of its family's most used codon.

    Codons never seen in the reference set get ``pseudocount`` in place of 0 (so that no w
    is 0). Met, Trp and stop codons are left out (NaN): they carry no choice.

    Returns pd.Series indexed by codon, float64 in (0, 1] or NaN.
    """
    counts = reference_counts.astype(float).where(reference_counts > 0, pseudocount)
    amino = pd.Series(GENETIC_CODE).reindex(counts.index)
    weights = counts / counts.groupby(amino).transform("max")
    return weights.where(~amino.isin(_UNINFORMATIVE))


def codon_adaptation_index(sequence: str, weights: pd.Series, offset: int = 0) -> float:
    """CAI = geometric mean of w over the informative codons of one CDS (NaN if it has none)."""
    return codon_adaptation_indices([sequence], weights, [offset])[0]


def codon_adaptation_indices(sequences, weights: pd.Series, offsets=None) -> np.ndarray:
    """:func:`codon_adaptation_index` of many CDS; returns shape=(len(sequences),), float64."""
    log_w = {codon: float(np.log(w)) for codon, w in weights.dropna().items()}
    offsets = [0] * len(sequences) if offsets is None else offsets
    values = np.full(len(sequences), np.nan)
    for n, (sequence, offset) in enumerate(zip(sequences, offsets)):
        sequence = sequence.upper()
        logs = [log_w[c] for c in (sequence[i : i + 3] for i in range(int(offset), len(sequence) - 2, 3)) if c in log_w]
        if logs:
            values[n] = np.exp(np.mean(logs))
    return values


def ribosomal_protein_transcripts(annotation, pattern: str = RIBOSOMAL_PATTERN) -> list[str]:
    """Transcripts whose description says "40S/60S ribosomal protein" (case-insensitive),
    mitochondrial ones excluded: the reference set of highly expressed genes for CAI."""
    description = annotation.transcripts["description"].fillna("")
    chosen = description.str.contains(pattern, case=False, regex=True) & ~description.str.contains(
        "mitochond", case=False
    )
    coding = annotation.transcripts["cds_start"].notna()
    return annotation.transcripts.loc[chosen & coding, "transcript_id"].tolist()


def cai_table(annotation, genome, reference_ids=None) -> pd.DataFrame:
    """CAI of every coding transcript against the ribosomal-protein genes.

    Returns pd.DataFrame with columns ``transcript_id, gene_id, cai`` (float in (0, 1]) and
    ``reference`` (True for the reference genes).
    """
    reference_ids = ribosomal_protein_transcripts(annotation) if reference_ids is None else list(reference_ids)
    if len(reference_ids) < 5:
        raise ValueError(
            f"CAI needs a reference set of highly expressed genes; found {len(reference_ids)} transcripts described "
            "as '40S/60S ribosomal protein'. Supply your own tags with a tag table instead."
        )
    coding = annotation.transcripts[annotation.transcripts["cds_start"].notna()]
    sequences = annotation.cds_sequences(genome, coding["transcript_id"])
    first = annotation.cds_table[annotation.cds_table["rank"] == 0].set_index("transcript_id")["phase"]
    offsets = first.reindex(sequences.index).fillna(0).astype(int)
    weights = relative_adaptiveness(codon_counts(sequences[reference_ids], offsets[reference_ids]))
    values = codon_adaptation_indices(sequences.tolist(), weights, offsets.tolist())
    return pd.DataFrame(
        {
            "transcript_id": sequences.index.to_numpy(),
            "gene_id": coding["gene_id"].to_numpy(),
            "cai": values,
            "reference": sequences.index.isin(reference_ids),
        }
    )


# --------------------------------------------------------------------------- tags


def quantile_labels(n_bins: int) -> list[str]:
    """Names of ``n_bins`` quantile bins, lowest first: LOW/HIGH, LOW/MID/HIGH, else Q1..Qn."""
    if n_bins < 2:
        raise ValueError(f"quantile binning needs at least 2 bins; got {n_bins}")
    return {2: ["LOW", "HIGH"], 3: ["LOW", "MID", "HIGH"]}.get(n_bins, [f"Q{i + 1}" for i in range(n_bins)])


def bin_values(values: pd.Series, training: pd.Series, n_bins: int = 3) -> tuple[pd.Series, np.ndarray]:
    """Quantile bins of numeric ``values``, with edges from the rows where ``training`` is True.

    Returns (labels pd.Series of str, NaN where the value is missing; inner bin edges,
    shape=(n_bins - 1,)).
    """
    names = quantile_labels(n_bins)
    numeric = pd.to_numeric(values, errors="coerce")
    reference = numeric[training.to_numpy(bool) & numeric.notna().to_numpy()]
    if len(reference) < n_bins:
        raise ValueError(f"{len(reference)} training genes have a value; {n_bins} bins need more")
    edges = np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1])
    codes = np.searchsorted(edges, numeric.to_numpy(float), side="right")
    labels = pd.Series(np.asarray(names, dtype=object)[np.minimum(codes, n_bins - 1)], index=values.index)
    return labels.where(numeric.notna()), edges


def tag_token(family: str, label: str) -> str:
    """The generator token of a tag: ``<HIGH>`` in the default CAI family, ``<family=label>`` otherwise."""
    return f"<{label}>" if family == DEFAULT_FAMILY else f"<{family}={label}>"


def cai_tags(promoters: pd.DataFrame, annotation, genome, n_bins: int = 3) -> pd.DataFrame:
    """The default tag family: CAI tertiles (LOW, MID, HIGH) of each promoter's gene.

    Bin edges come from training genes only. Returns a copy of ``promoters`` with columns
    ``CAI_value`` (float) and ``CAI`` (label); promoters of non-coding genes are dropped.
    """
    cai = cai_table(annotation, genome).set_index("transcript_id")["cai"]
    return add_tags(
        promoters, cai.reindex(promoters["transcript_id"]).set_axis(promoters.index), DEFAULT_FAMILY, n_bins
    )


def add_tags(promoters: pd.DataFrame, values: pd.Series, family: str, n_bins: int = 3) -> pd.DataFrame:
    """Add a tag family to ``promoters`` (a copy; rows without a tag are dropped).

    ``values`` is aligned with ``promoters``' index: numbers are binned into ``n_bins``
    quantiles of the training genes (column ``<family>_value`` keeps the numbers); anything
    else is taken as labels (letters, digits, ``_.+-``; other characters become ``_``).
    """
    family = _safe(family)
    table = promoters.copy()
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() >= max(1, 0.9 * values.notna().sum()):
        labels, _ = bin_values(numeric, ~table["held_out"], n_bins)
        table[f"{family}_value"] = numeric.to_numpy()
    else:
        labels = values.astype("string").str.strip().map(_safe, na_action="ignore").astype(object)
    table[family] = labels.to_numpy()
    return table[table[family].notna()].reset_index(drop=True)


def read_tag_table(path_or_table, promoters: pd.DataFrame, n_bins: int = 3, family: str | None = None) -> pd.DataFrame:
    """Bring-your-own tags: a table with a gene column and one value or label column.

    Parameters
    ----------
    path_or_table : a CSV/TSV path (separator sniffed) or a DataFrame. The first column holds
        gene, transcript or gene-name IDs (matched against ``promoters``' ``gene_id``,
        ``transcript_id`` and ``name``, with or without a ``type:`` prefix); the second
        holds numbers (binned into ``n_bins`` quantiles of the training genes) or labels.
    family : name of the tag family; default: the second column's header.

    Returns ``promoters`` (a copy) with the family's column(s), untagged rows dropped.
    """
    table = load_tag_table(path_or_table)
    ids = table.iloc[:, 0].astype(str).str.strip()
    values = pd.Series(table.iloc[:, 1].to_numpy(), index=ids.to_numpy())
    values = values[~values.index.duplicated()]
    matched = None
    for keys in _promoter_id_keys(promoters):
        hit = values.reindex(keys.to_numpy())
        matched = hit if matched is None else matched.where(matched.notna(), hit.to_numpy())
    if matched is None or matched.notna().sum() == 0:
        raise ValueError(
            f"none of the {len(ids):,} IDs in the tag table (e.g. {', '.join(ids[:3])}) match a gene, transcript or "
            f"gene name of the annotation (e.g. {', '.join(promoters['name'][:3])}); check the first column"
        )
    return add_tags(
        promoters, pd.Series(matched.to_numpy(), index=promoters.index), family or str(table.columns[1]), n_bins
    )


def _promoter_id_keys(promoters: pd.DataFrame):
    """The ID columns a tag table may name, in the order they are tried: gene, transcript, gene
    name, each as written and without its ``type:`` prefix (``gene:um00001`` -> ``um00001``)."""
    for column in ("gene_id", "transcript_id", "name"):
        keys = promoters[column].astype(str)
        yield keys
        yield keys.str.replace(r"^[^:]+:", "", regex=True)


def matching_ids(ids, promoters: pd.DataFrame) -> set[str]:
    """The ``ids`` that :func:`read_tag_table` can join to a row of ``promoters``."""
    return set(ids) & set().union(*(set(keys) for keys in _promoter_id_keys(promoters)))


def load_tag_table(source, name: str | None = None) -> pd.DataFrame:
    """A tag table as a DataFrame, from a DataFrame, a CSV/TSV path or a file's bytes.

    Files are UTF-8 text, comma-, tab-, semicolon- or bar-separated (sniffed), with ``#``
    comment lines skipped. Raises FileNotFoundError for a missing path and ValueError, naming
    the table (``name``, else the path), when it is empty, cannot be read as CSV/TSV, or has
    under two columns or no rows.
    """
    if isinstance(source, pd.DataFrame):
        table, name = source, name or "the tag table"
    else:
        if isinstance(source, bytes):
            content, name = source, name or "the tag table"
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"tag table not found: {path}")
            content, name = path.read_bytes(), name or str(path)
        if not content.strip():
            raise ValueError(f"{name} is empty; {TAG_TABLE_HELP}")
        try:
            text = content.decode("utf-8-sig")
            table = pd.read_csv(io.StringIO(text), sep=_sniff_delimiter(text), comment="#")
        except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise ValueError(f"{name} could not be read as a CSV or TSV table ({error}); {TAG_TABLE_HELP}") from None
    if table.shape[1] < 2 or table.empty:
        raise ValueError(
            f"{name} has {table.shape[1]} column(s) and {len(table)} row(s) under its header; {TAG_TABLE_HELP}"
        )
    return table


def _sniff_delimiter(text: str) -> str:
    """The table's separator among comma, tab, semicolon and bar; a comma for one column.

    Left to itself, csv.Sniffer takes any letter common to every line as the separator
    (``gene`` / ``um00001`` -> ``e``), which turns a one-column file into nonsense columns.
    """
    sample = "\n".join(line for line in text.splitlines()[:200] if not line.startswith("#"))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def tag_family_column(path_or_table, family: str | None = None) -> str:
    """The column :func:`read_tag_table` gives the family: ``family``, else the table's second header."""
    return _safe(family or str(load_tag_table(path_or_table).columns[1]))


def _safe(label: str) -> str:
    return _LABEL_SAFE.sub("_", str(label)) or "_"
