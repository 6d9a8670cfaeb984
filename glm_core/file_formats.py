"""Telling genome file formats apart from their content, not their name.

Biologists' files are often named for the tool that wrote them rather than for their
format: a JGI gene catalogue in GTF/GFF2 syntax is called ``.gff``, a Prokka GFF3 carries
the genome after a ``##FASTA`` line, a plain text file keeps a ``.gz`` name after being
unpacked. :func:`sniff_format` reads the first lines of a file (decompressed when it is
gzip) and names its format; every reader in ``glm_core`` (:class:`glm_core.genome.Genome`,
:func:`glm_core.gff.read_annotation`) calls it, so they agree on what a file is.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path

from .errors import InputError

FASTA = "fasta"
GFF3 = "gff3"
GTF = "gtf"
GFF2 = "gff2"  # GTF-like syntax without gene_id/transcript_id (JGI: name, transcriptId, proteinId)
EMPTY = "empty"  # nothing but blank lines
UNKNOWN = "unknown"
ANNOTATION_FORMATS = (GFF3, GTF, GFF2)

_SNIFF_LINES = 200
_GTF_STYLE = re.compile(r'^\s*[^\s";=]+\s+("[^"]*"|[^;\s"]+)\s*(;|$)')
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def is_gzip(path: str | Path) -> bool:
    """Whether the file starts with the gzip magic bytes (plain and BGZF files alike)."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def is_bgzf(path: str | Path) -> bool:
    """Whether the file is block-gzip (bgzip): gzip with the ``BC`` extra field in its first header."""
    with open(path, "rb") as handle:
        header = handle.read(18)
    return header[:2] == b"\x1f\x8b" and len(header) >= 4 and bool(header[3] & 0x04) and header[12:14] == b"BC"


def has_bgzf_eof(path: str | Path) -> bool:
    """Whether a BGZF file ends with the empty EOF block bgzip always writes (absent: the file was cut)."""
    path = Path(path)
    size = path.stat().st_size
    if size < len(_BGZF_EOF):
        return False
    with open(path, "rb") as handle:
        handle.seek(size - len(_BGZF_EOF))
        return handle.read() == _BGZF_EOF


_OTHER_COMPRESSION = {b"BZh": "bzip2", b"PK\x03\x04": "zip", b"\xfd7zXZ": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


def other_compression(path: str | Path) -> str | None:
    """``bzip2``, ``zip``, ``xz`` or ``zstd`` when the file is compressed in a way the readers cannot read."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    return next((name for prefix, name in _OTHER_COMPRESSION.items() if magic.startswith(prefix)), None)


def open_text(path: str | Path):
    """The file as text (UTF-8, undecodable bytes replaced), decompressed if it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def head_lines(path: str | Path, limit: int = _SNIFF_LINES) -> list[str]:
    """Up to ``limit`` first lines (without line ends); a damaged gzip stream ends the list early.

    Raises :class:`~glm_core.errors.InputError` when a gzip file is damaged before its first
    line, which would otherwise read as an empty file.
    """
    lines: list[str] = []
    try:
        with open_text(path) as handle:
            for text in handle:
                lines.append(text.rstrip("\r\n"))
                if len(lines) >= limit:
                    break
    except (EOFError, OSError, zlib.error, io.UnsupportedOperation) as error:
        if not lines and is_gzip(path):
            raise InputError(
                f"{path}: the file starts as gzip but its compressed data are damaged before the first line "
                f"({error}); copy or download it again"
            ) from error
    return lines


def sniff_format(path: str | Path) -> str:
    """The format of a genome file from its first lines: ``fasta``, ``gff3``, ``gtf``, ``gff2``,
    ``empty`` or ``unknown``.

    * ``fasta``: the first non-blank line starts with ``>``;
    * ``gff3``: a ``##gff-version 3`` line, or ``key=value`` attributes (column 9);
    * ``gtf``: ``key "value";`` attributes carrying ``gene_id`` or ``transcript_id``;
    * ``gff2``: the same syntax without them, e.g. JGI's ``name "..."; transcriptId 123``;
    * a tab-separated file whose attribute columns are all ``.`` is ``gtf`` when named
      ``.gtf``, else ``gff3``.

    A GFF3 with a ``##FASTA`` section is ``gff3``; see :func:`glm_core.gff.fasta_section_line`.
    Works on plain and gzip files alike.
    """
    path = Path(path)
    if other_compression(path):
        return UNKNOWN
    lines = head_lines(path)
    content = [line for line in lines if line.strip()]
    if not content:
        return EMPTY
    if content[0].startswith(">"):
        return FASTA
    declared_gff3 = any(line.lower().startswith("##gff-version 3") for line in content if line.startswith("##"))
    attributes = [fields[8].strip() for fields in _feature_fields(content) if fields[8].strip() not in ("", ".")]
    if declared_gff3:
        return GFF3
    if attributes:
        return _attribute_syntax(attributes)
    if _feature_fields(content) or all(line.startswith("#") for line in content):
        suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
        return GTF if suffixes and suffixes[-1] == ".gtf" else GFF3
    return UNKNOWN


def _feature_fields(lines: list[str]) -> list[list[str]]:
    rows = []
    for line in lines:
        if line.startswith("#") or line.startswith(">"):
            continue
        fields = line.split("\t")
        if len(fields) == 9:
            rows.append(fields)
    return rows


def _attribute_syntax(attributes: list[str]) -> str:
    """``gff3``, ``gtf`` or ``gff2`` from non-empty column-9 texts."""
    first = attributes[0]
    if not _GTF_STYLE.match(first) or "=" in first.split(";")[0]:
        return GFF3
    keys = {match.group(1) for text in attributes for match in re.finditer(r'(?:^|;)\s*([^\s";]+)\s', text)}
    return GTF if keys & {"gene_id", "transcript_id"} else GFF2
