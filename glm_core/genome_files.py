"""Opening a genome the way the app and the CLI do: FASTA, optional annotation, name mapping.

:func:`open_genome_files` is the one path from a user's files to a :class:`Genome` and an
:class:`Annotation` whose sequence names agree: a GFF3 with a ``##FASTA`` section serves as
both, a FASTA without annotation gets :meth:`Annotation.empty`, and annotation sequence
names that differ from the FASTA's by a systematic pattern are mapped
(:func:`glm_core.chrom_names.propose_name_mapping`) or taken from an aliases file.
:func:`genome_report` and :func:`format_report` give what ``glm-explore info`` prints and
the overview page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .annotation import Annotation
from .chrom_names import NameMapping, propose_name_mapping, read_aliases, rename_sequences
from .errors import InputError
from .file_formats import ANNOTATION_FORMATS, FASTA, GFF3, sniff_format
from .genome import Genome
from .gff import fasta_section_line, feature_counts, read_annotation

_INDEX_SUFFIXES = (".fai", ".gzi", ".tbi", ".csi", ".part")


@dataclass
class GenomeFiles:
    """A genome and its annotation with agreeing sequence names.

    Attributes
    ----------
    genome : the :class:`Genome`.
    annotation : the :class:`Annotation` (``is_empty`` when there is none), names mapped.
    annotation_path : the file it came from (the FASTA itself for a GFF3 with ``##FASTA``), or None.
    name_mapping : the :class:`NameMapping` applied (None without annotation).
    warnings : sentences for the user.
    """

    genome: Genome
    annotation: Annotation
    annotation_path: Path | None
    name_mapping: NameMapping | None
    warnings: list[str] = field(default_factory=list)


def open_genome_files(
    fasta: str | Path,
    annotation: str | Path | None = None,
    aliases: str | Path | None = "auto",
    cache_dir: str | Path | None = None,
    strict: bool = True,
) -> GenomeFiles:
    """Open ``fasta`` (FASTA, or GFF3 with ``##FASTA``) and its annotation.

    Parameters
    ----------
    fasta : the genome file; a GFF3 with sequences is its own annotation when ``annotation`` is None.
    annotation : a GFF3/GTF/GFF2 file, or None for none.
    aliases : ``"auto"`` to map differing sequence names by a systematic pattern, a path to a
        two-column aliases file, or None to use the names as they are.
    cache_dir : passed to :class:`Genome`.
    strict : raise InputError when annotation sequences stay unmatched or features run past
        their sequence (the app and scoring commands); False records a warning instead (``info``).
    """
    genome = Genome(fasta, cache_dir=cache_dir)
    warnings = list(genome.warnings)
    if annotation is None and genome.source_format == GFF3:
        annotation = fasta
    if annotation is None:
        return GenomeFiles(genome, Annotation.empty(), None, None, warnings)
    annotation = Path(annotation)
    features = read_annotation(annotation)
    names = pd.unique(features["chrom"])
    if aliases is None:
        mapping = NameMapping(
            pd.DataFrame(
                {
                    "annotation_name": pd.Series(names, dtype=object),
                    "fasta_name": pd.Series([n if n in genome.chrom_sizes else None for n in names], dtype=object),
                    "rule": ["same name" if n in genome.chrom_sizes else "unmatched" for n in names],
                }
            ),
            tuple(genome.chrom_sizes),
        )
    elif str(aliases) == "auto":
        mapping = propose_name_mapping(genome.chrom_sizes, names)
    else:
        mapping = read_aliases(aliases, genome.chrom_sizes, names)
    if mapping.renames:
        features = rename_sequences(features, mapping.renames)
        warnings.append(f"sequence names mapped: {mapping.describe()}")
    loaded = Annotation(features, source=str(annotation))
    try:
        loaded.check_sequence_ids(genome.chrom_sizes)
    except InputError as error:
        if strict:
            hint = "" if aliases is not None else " (try aliases='auto' or an aliases file)"
            raise InputError(f"{error}{hint}") from error
        warnings.append(str(error))
    return GenomeFiles(genome, loaded, annotation, mapping, warnings)


def find_genome_files(folder: str | Path) -> pd.DataFrame:
    """Genome files in a data folder (recursively), told apart by content rather than name.

    Hidden files, index files (``.fai``, ``.gzi`` ...) and links that lead out of ``folder``
    are left out, so a link to a system file is neither listed nor opened.

    Returns
    -------
    pd.DataFrame with columns ``path`` (Path), ``format`` (see
    :func:`glm_core.file_formats.sniff_format`), ``sequences`` (bool: usable as the genome:
    FASTA, or GFF3 with ``##FASTA``) and ``annotation`` (bool: GFF3, GTF or GFF2), sorted by path.
    """
    folder = Path(folder).resolve()
    rows = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.name.lower().endswith(_INDEX_SUFFIXES):
            continue
        if not path.resolve().is_relative_to(folder) or not path.is_file():
            continue
        try:
            kind = sniff_format(path)
        except InputError:  # a damaged .gz: opening it by name says what is wrong
            continue
        if kind not in (FASTA, *ANNOTATION_FORMATS):
            continue
        sequences = kind == FASTA or (kind == GFF3 and fasta_section_line(path) is not None)
        rows.append((path, kind, sequences, kind in ANNOTATION_FORMATS))
    return pd.DataFrame(rows, columns=["path", "format", "sequences", "annotation"])


@dataclass
class GenomeReport:
    """What the overview shows about a genome and its annotation.

    Attributes
    ----------
    fasta, annotation : the files (annotation None without one).
    sequences : pd.DataFrame with columns ``chrom``, ``length`` (bp), in file order.
    total_length : bp over all sequences.
    genes, transcripts : counts (0 without annotation).
    feature_counts : lines per feature type, e.g. ``{"CDS": 12, "exon": 12}``.
    name_mapping : pd.DataFrame ``annotation_name, fasta_name, rule`` of renamed names (may be empty).
    warnings : sentences for the user.
    """

    fasta: Path
    annotation: Path | None
    sequences: pd.DataFrame
    total_length: int
    genes: int
    transcripts: int
    feature_counts: dict[str, int]
    name_mapping: pd.DataFrame
    warnings: list[str]


def genome_report(
    fasta: str | Path,
    annotation: str | Path | None = None,
    aliases: str | Path | None = "auto",
    cache_dir: str | Path | None = None,
) -> GenomeReport:
    """:class:`GenomeReport` of the files, opened through :func:`open_genome_files` (not strict:
    unmatched names become warnings, so ``info`` shows what it found)."""
    files = open_genome_files(fasta, annotation, aliases=aliases, cache_dir=cache_dir, strict=False)
    sizes = files.genome.chrom_sizes
    transcripts = files.annotation.transcripts
    renamed = pd.DataFrame(columns=["annotation_name", "fasta_name", "rule"])
    if files.name_mapping is not None:
        table = files.name_mapping.table
        renamed = table[table["fasta_name"].ne(table["annotation_name"])].reset_index(drop=True)
    return GenomeReport(
        fasta=Path(fasta),
        annotation=files.annotation_path,
        sequences=pd.DataFrame({"chrom": list(sizes), "length": list(sizes.values())}),
        total_length=int(sum(sizes.values())),
        genes=int(transcripts["gene_id"].nunique()),
        transcripts=len(transcripts),
        feature_counts={k: int(v) for k, v in feature_counts(files.annotation.features).items()},
        name_mapping=renamed,
        warnings=files.warnings,
    )


def format_report(report: GenomeReport, max_sequences: int = 20) -> str:
    """Plain-text rendering of a :class:`GenomeReport` for the terminal."""
    lines = [
        f"FASTA:       {report.fasta}",
        f"Sequences:   {len(report.sequences):,}, {report.total_length:,} bp in total",
    ]
    for row in report.sequences.head(max_sequences).itertuples(index=False):
        lines.append(f"  {row.chrom:<30} {row.length:>14,} bp")
    if len(report.sequences) > max_sequences:
        lines.append(f"  ... and {len(report.sequences) - max_sequences:,} more")
    if report.annotation is None:
        lines.append("Annotation:  none (consequences read 'no annotation')")
    else:
        lines.append(f"Annotation:  {report.annotation}")
        lines.append(f"Genes:       {report.genes:,}")
        lines.append(f"Transcripts: {report.transcripts:,}")
        lines.append("Features:    " + ", ".join(f"{n:,} {kind}" for kind, n in report.feature_counts.items()))
    if len(report.name_mapping):
        lines.append(f"Name mapping ({len(report.name_mapping)} annotation names):")
        for row in report.name_mapping.head(max_sequences).itertuples(index=False):
            target = row.fasta_name if row.fasta_name is not None else "(not in the FASTA)"
            lines.append(f"  {row.annotation_name} -> {target}   [{row.rule}]")
    for warning in report.warnings:
        lines.append(f"Warning: {warning}")
    return "\n".join(lines) + "\n"
