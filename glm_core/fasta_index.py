"""Indexing a user's FASTA for random access: whole-file checks, and every derived file in the cache.

:class:`glm_core.genome.Genome` reads sequences through pyfaidx, which needs a ``.fai``
index (and a ``.gzi`` for bgzip files) and cannot seek in plain gzip. Here a FASTA is made
readable without writing anything beside the user's file:

* plain text and bgzip files are read in place; a plain-gzip file is decompressed, and the
  sequences of a GFF3 with a ``##FASTA`` section (Prokka) are copied out, into
  ``<cache>/fasta-plain/<sha256 of the file>/``, so two files never share a copy and an
  older file of the same name is never overwritten or read instead;
* the index is built here, into ``<cache>/fasta-index/<sha256 of the path>/``, while the
  whole (decompressed) file is checked: valid characters on every line (the first bad
  byte is named by line, column and byte offset), equal line lengths within a record,
  complete records (a file that stops mid-line, a bgzip file without its end-of-file
  block and an empty last record are refused as cut off), unique names;
* the index is rebuilt whenever the file's size or modification time differ from those it
  was built for, so an edited FASTA is never read through a stale index; an index the user
  keeps beside the file is compared with the fresh one and only reported when it is stale
  (:attr:`PreparedFasta.warnings`), never used or changed.

Byte offsets in the index are those of the decompressed text, as samtools writes them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import file_formats
from .errors import InputError

SEQUENCE_CHARACTERS = "ACGTUNRYSWKMBDHV-*"  # IUPAC codes, gap and stop, either case
_VALID_BYTE = np.zeros(256, dtype=bool)
for _character in SEQUENCE_CHARACTERS:
    _VALID_BYTE[ord(_character)] = _VALID_BYTE[ord(_character.lower())] = True
_CHUNK = 8 << 20
_MANIFEST_VERSION = 1


@dataclass(frozen=True)
class PreparedFasta:
    """What pyfaidx opens for a user's FASTA.

    Attributes
    ----------
    readable : the FASTA text pyfaidx reads (the user's file, or a copy in the cache).
    fai, gzi : index files in the cache (``gzi`` None unless ``readable`` is bgzip).
    line_offset : lines of the user's file before line 1 of ``readable`` (a GFF3's features).
    source_format : ``fasta`` or ``gff3`` (sequences after ``##FASTA``).
    compression : ``none``, ``gzip`` or ``bgzf``.
    warnings : sentences for the user (a stale index beside the file, a misleading name).
    """

    readable: Path
    fai: Path
    gzi: Path | None
    line_offset: int = 0
    source_format: str = file_formats.FASTA
    compression: str = "none"
    warnings: tuple[str, ...] = field(default_factory=tuple)


def default_cache_dir() -> Path:
    """``$GLM_EXPLORER_CACHE``, else ``cache/`` in the repository (the folder the app uses)."""
    default = Path(__file__).resolve().parent.parent / "cache"
    return Path(os.environ.get("GLM_EXPLORER_CACHE", default)).expanduser()


def prepare_fasta(path: str | Path, cache_dir: str | Path | None = None) -> PreparedFasta:
    """Check ``path`` and build its index in the cache (once per file version); see the module notes.

    Raises
    ------
    FileNotFoundError for a missing file; InputError naming the file, line and fix for
    anything that is not a complete, well-formed FASTA (or GFF3 with a ``##FASTA`` section).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA file not found: {path}")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "fasta-index" / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:20]
    stat = path.stat()
    cached = _cached(folder, stat)
    if cached is not None:
        return cached
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        prepared = _build(path, root, building, folder)
        manifest = {
            "version": _MANIFEST_VERSION,
            "source": str(path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "readable": str(prepared.readable),
            "line_offset": prepared.line_offset,
            "source_format": prepared.source_format,
            "compression": prepared.compression,
            "warnings": list(prepared.warnings),
            "gzi": prepared.gzi is not None,
        }
        (building / "manifest.json").write_text(json.dumps(manifest, indent=1))
        finished_meanwhile = _cached(folder, stat)
        if finished_meanwhile is not None:  # another process (or session) indexed the same version first
            return finished_meanwhile
        shutil.rmtree(folder, ignore_errors=True)  # an index of an older version of the file
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            building.rename(folder)
        except OSError:
            pass  # the other process won the race after all; its index is the same
        return _cached(folder, stat) or prepared
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _cached(folder: Path, stat: os.stat_result) -> PreparedFasta | None:
    """The index in ``folder`` if it was built for a file of this size and modification time."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if (
        manifest.get("version") != _MANIFEST_VERSION
        or manifest.get("size") != stat.st_size
        or manifest.get("mtime_ns") != stat.st_mtime_ns
    ):
        return None
    readable = Path(manifest["readable"])
    gzi = folder / "index.gzi" if manifest["gzi"] else None
    if not readable.exists() or not (folder / "index.fai").is_file() or (gzi is not None and not gzi.is_file()):
        return None
    return PreparedFasta(
        readable,
        folder / "index.fai",
        gzi,
        manifest["line_offset"],
        manifest["source_format"],
        manifest["compression"],
        tuple(manifest["warnings"]),
    )


def _build(path: Path, root: Path, building: Path, folder: Path) -> PreparedFasta:
    """Readable copy (if needed), whole-file scan and index files, all under ``building`` first."""
    warnings: list[str] = []
    compression = "bgzf" if file_formats.is_bgzf(path) else "gzip" if file_formats.is_gzip(path) else "none"
    source_format = _source_format(path)
    line_offset = 0
    if source_format == file_formats.GFF3:
        from .gff import write_fasta_section

        copy = building / (path.name.split(".")[0] + ".fa")
        line_offset = write_fasta_section(path, copy)
        text = copy
    elif compression == "gzip":
        copy = building / (path.name[: -len(".gz")] if path.name.lower().endswith(".gz") else path.name + ".fa")
        _decompress(path, copy)
        text = copy
    else:
        text = path
    if compression == "bgzf" and not file_formats.has_bgzf_eof(path):
        raise InputError(
            f"{path}: the bgzip file lacks its end-of-file block, so it was cut short (an interrupted copy or "
            "download); copy or download it again"
        )
    if compression == "none" and path.name.lower().endswith((".gz", ".bgz")):
        warnings.append(f"{path.name} is named .gz but is not compressed; it was read as plain text")
    compressed = text is path and compression == "bgzf"
    entries = scan_fasta(text, display_name=path, line_offset=line_offset, compressed=compressed)
    fai_text = "".join("\t".join(map(str, entry)) + "\n" for entry in entries)
    (building / "index.fai").write_text(fai_text)
    gzi = None
    if text is path and compression == "bgzf":
        (building / "index.gzi").write_bytes(_gzi_bytes(path))
        gzi = folder / "index.gzi"
    warnings += _stale_user_index(path, fai_text, building / "index.gzi" if gzi else None)

    if text is not path:  # a copy: into the content-keyed folder, shared by identical files
        digest = _sha256(path)
        final = root / "fasta-plain" / digest / text.name
        if not final.is_file():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(text, final)
        readable = final
    elif compression == "bgzf" and not path.name.lower().endswith((".gz", ".bgz")):
        readable = _link(path, folder, building, "sequences.fa.gz")  # pyfaidx knows bgzip by the name
    elif compression == "none" and path.name.lower().endswith((".gz", ".bgz", ".bz2", ".zip")):
        readable = _link(path, folder, building, "sequences.fa")
    else:
        readable = path.resolve()
    return PreparedFasta(readable, folder / "index.fai", gzi, line_offset, source_format, compression, tuple(warnings))


def _link(path: Path, folder: Path, building: Path, name: str) -> Path:
    (building / name).symlink_to(path.resolve())
    return folder / name


def _source_format(path: Path) -> str:
    """``fasta`` or ``gff3`` (with sequences); InputError for annotations and other files."""
    packed = file_formats.other_compression(path)
    if packed:
        raise InputError(
            f"{path} is compressed with {packed}, which cannot be read in place; decompress it, then compress it "
            "with bgzip (or leave it uncompressed)"
        )
    kind = file_formats.sniff_format(path)
    if kind == file_formats.FASTA:
        return kind
    if kind == file_formats.GFF3:
        from .gff import fasta_section_line

        if fasta_section_line(path) is not None:
            return kind
        raise InputError(
            f"{path} is a GFF3 annotation without a ##FASTA section, so it holds no sequences; choose it as the "
            "annotation and the genome's FASTA file as the genome"
        )
    if kind in file_formats.ANNOTATION_FORMATS:
        raise InputError(
            f"{path} is a {kind.upper()} annotation, not a FASTA file; choose it as the annotation and the genome's "
            "FASTA file as the genome"
        )
    if kind == file_formats.EMPTY:
        raise InputError(f"{path}: the file is empty; a FASTA file starts with a '>name' line")
    first = next(iter(file_formats.head_lines(path, 1)), "")
    raise InputError(f"{path}, line 1: a FASTA file must start with '>name'; got {first[:40]!r}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:20]


def _decompress(path: Path, target: Path) -> None:
    try:
        with gzip.open(path, "rb") as source, open(target, "wb") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
    except (EOFError, OSError, zlib.error) as error:
        raise _gzip_error(path, error) from error


def _gzip_error(path: Path, error: Exception) -> InputError:
    return InputError(
        f"{path}, line {lines_before_gzip_error(path) + 1:,}: the compressed data break off there "
        f"({error}); the file is truncated or corrupt: download or copy it again"
    )


def _gzi_bytes(path: Path) -> bytes:
    """The htslib ``.gzi`` of a bgzip file: block count, then (compressed, uncompressed) offsets."""
    from Bio import bgzf

    with open(path, "rb") as handle:
        blocks = [(start, data_start) for start, _, data_start, _ in bgzf.BgzfBlocks(handle)]
    blocks = blocks[1:-1]  # htslib leaves out the first block (0, 0) and the empty EOF block
    return struct.pack("<Q", len(blocks)) + b"".join(struct.pack("<QQ", c, u) for c, u in blocks)


def _stale_user_index(path: Path, fai_text: str, gzi: Path | None) -> list[str]:
    """A warning for an index beside the user's file that does not describe it (never used)."""
    warnings = []
    beside = Path(f"{path}.fai")
    try:
        stale_fai = beside.is_file() and beside.read_text() != fai_text
    except (OSError, UnicodeDecodeError):
        stale_fai = True
    if stale_fai:
        warnings.append(
            f"{beside.name} beside the FASTA does not match it (the FASTA changed after the index was built); "
            "a fresh index in the cache is used instead, and tools that read the old one will get wrong bases"
        )
    beside_gzi = Path(f"{path}.gzi")
    if gzi is not None and beside_gzi.is_file() and beside_gzi.read_bytes() != gzi.read_bytes():
        warnings.append(f"{beside_gzi.name} beside the FASTA does not match it; a fresh one in the cache is used")
    return warnings


def lines_before_gzip_error(path: Path) -> int:
    """How many whole lines of a damaged gzip file decompress before the damage."""
    complete = 0
    decompressor = zlib.decompressobj(wbits=31)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 16):
            while chunk:
                try:
                    complete += decompressor.decompress(chunk).count(b"\n")
                except zlib.error:
                    return complete
                # A gzip file may hold several members one after another.
                chunk = decompressor.unused_data if decompressor.eof else b""
                if decompressor.eof:
                    decompressor = zlib.decompressobj(wbits=31)
    return complete


# --------------------------------------------------------------------------- the whole-file scan


class _Scan:
    """State of :func:`scan_fasta` across chunks: records so far and the current record's lines."""

    def __init__(self, display_name: Path, line_offset: int):
        self.display, self.line_offset = display_name, line_offset
        self.entries: list[list] = []  # name, length, offset, line bases, line width
        self.header_lines: dict[str, int] = {}
        self.short_line: int | None = None  # first line shorter than the record's first line

    def fail(self, line: int, problem: str) -> InputError:
        return InputError(f"{self.display}, line {line + self.line_offset:,}: {problem}")

    def header(self, text: bytes, line: int, sequence_offset: int) -> None:
        try:
            words = text[1:].decode("utf-8").split()
        except UnicodeDecodeError as error:
            raise self.fail(line, f"the header is not UTF-8 text ({error}); rename the sequence in plain ASCII")
        if not words:
            raise self.fail(line, "a header '>' without a sequence name; write '>name' (a description may follow)")
        name = words[0]
        if name in self.header_lines:
            raise self.fail(
                line,
                f"sequence name {name!r} appears a second time (first on line "
                f"{self.header_lines[name] + self.line_offset:,}); every record needs its own name",
            )
        self.header_lines[name] = line
        self.entries.append([name, 0, sequence_offset, 0, 0])
        self.short_line = None

    def sequence_lines(self, lengths: np.ndarray, widths: np.ndarray, first_line: int) -> None:
        """Lines of the current record: ``lengths`` bases, ``widths`` bytes with the line end."""
        if not len(lengths):
            return
        entry = self.entries[-1]
        nonblank = lengths > 0
        if self.short_line is not None and nonblank.any():
            raise self._ragged(self.short_line, first_line + int(np.flatnonzero(nonblank)[0]))
        if entry[3] == 0:
            first_bases = np.flatnonzero(nonblank)
            if not len(first_bases):
                self.short_line = first_line if self.short_line is None else self.short_line
                return
            if first_bases[0] > 0:
                raise self._ragged(first_line, first_line + int(first_bases[0]))
            entry[3], entry[4] = int(lengths[0]), int(widths[0])
        if entry[3]:
            longer = np.flatnonzero(lengths > entry[3])
            if len(longer):
                raise self.fail(
                    first_line + int(longer[0]),
                    f"not a readable FASTA file: this line of {entry[0]!r} has {lengths[longer[0]]} bases, more than "
                    f"the {entry[3]} of its first line; re-wrap the sequences to one width (e.g. seqkit seq -w 60)",
                )
            short = np.flatnonzero(lengths < entry[3])
            if len(short):
                later = np.flatnonzero(nonblank[short[0] + 1 :])
                if len(later):
                    raise self._ragged(first_line + int(short[0]), first_line + int(short[0]) + 1 + int(later[0]))
                self.short_line = first_line + int(short[0])
            full = lengths == entry[3]
            mixed = np.flatnonzero(full & (widths != entry[4]))
            if len(mixed):
                raise self.fail(
                    first_line + int(mixed[0]),
                    f"not a readable FASTA file: line endings change within {entry[0]!r} (Windows and Unix mixed); "
                    "convert the file with dos2unix",
                )
        entry[1] += int(lengths.sum())

    def _ragged(self, short: int, following: int) -> InputError:
        name = self.entries[-1][0]
        return self.fail(
            short,
            f"not a readable FASTA file: this line of {name!r} is shorter than the lines before it (or blank), but "
            f"line {following + self.line_offset:,} continues the sequence; all lines of a record but the last "
            "must have the same length: re-wrap it (e.g. seqkit seq -w 60) or remove blank lines",
        )


def scan_fasta(
    path: Path, display_name: Path | None = None, line_offset: int = 0, compressed: bool = False
) -> list[tuple[str, int, int, int, int]]:
    """Check a whole FASTA file and return its ``.fai`` rows.

    Parameters
    ----------
    path : FASTA text, or bgzip when ``compressed``.
    display_name : the file named in messages (the user's file when ``path`` is a copy).
    line_offset : added to line numbers in messages (lines of the user's file before ``path``'s).

    Returns
    -------
    ``(name, length, offset, line_bases, line_width)`` per record, in file order: the ``.fai``
    columns, offsets in bytes of the (decompressed) text.

    Raises
    ------
    InputError naming the line (and for a bad character the column and byte offset) of the
    first problem: text before the first header, a character that is not a nucleotide code
    (non-ASCII included), ragged or blank lines inside a record, a nameless or repeated
    header, an empty record, or a file that stops in the middle of a line (cut off).
    """
    display = display_name or path
    scan = _Scan(display, line_offset)
    line, offset, carry = 1, 0, b""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                block = carry + chunk
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    carry = block
                    continue
                if offset == 0:
                    _check_first_byte(scan, block)
                line = _scan_block(scan, block[:cut], line, offset)
                offset += cut
                carry = block[cut:]
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _gzip_error(Path(display), error) from error
    if carry.strip():
        if offset == 0:
            _check_first_byte(scan, carry)
        _end_mid_line(scan, line)
    empty = [entry[0] for entry in scan.entries if entry[1] == 0]
    if not scan.entries:
        raise scan.fail(1, "no sequences found; is this a FASTA file?")
    if empty:
        raise scan.fail(
            scan.header_lines[empty[0]],
            f"sequence {empty[0]!r} has no bases ({len(empty)} empty records); the file may be truncated, "
            "otherwise remove the empty records",
        )
    return [tuple(entry) for entry in scan.entries]


def _check_first_byte(scan: _Scan, block: bytes) -> None:
    if block[:1] != b">":
        first = block.split(b"\n", 1)[0].decode("utf-8", "replace")
        raise scan.fail(1, f"a FASTA file must start with '>name'; got {first[:40]!r}")


def _end_mid_line(scan: _Scan, line: int) -> None:
    name = scan.entries[-1][0] if scan.entries else "?"
    raise scan.fail(
        line,
        f"the file ends in the middle of this line (no line break after its last character), so the record "
        f"{name!r} looks cut off; copy or download the file again (if it is complete, end it with a line break)",
    )


def _scan_block(scan: _Scan, block: bytes, line: int, offset: int) -> int:
    """Check one run of whole lines (``block`` ends with a newline) starting at file ``line`` and byte ``offset``."""
    data = np.frombuffer(block, dtype=np.uint8)
    newline = np.flatnonzero(data == 10)
    starts = np.concatenate([[0], newline[:-1] + 1])
    has_cr = (newline > starts) & (data[np.maximum(newline - 1, 0)] == 13)
    content_end = newline - has_cr
    lengths = content_end - starts
    widths = newline + 1 - starts
    is_header = data[starts] == ord(">")
    bad = ~_VALID_BYTE[data] & ~np.repeat(is_header, widths)
    bad[newline] = False
    bad[content_end[has_cr]] = False
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(newline, first))
        text = data[starts[row] : content_end[row]]
        characters = list(dict.fromkeys(int(b) for b in text[~_VALID_BYTE[text]]))
        shown = "".join(chr(b) if b < 128 else f"\\x{b:02x}" for b in characters)
        kind = " (non-ASCII: the file may be in another encoding or not a FASTA file)" if max(characters) >= 128 else ""
        raise scan.fail(
            line + row,
            f"characters '{shown}' are not nucleotides{kind}; the first is at column {first - starts[row] + 1} "
            f"(byte {offset + first:,} of the file); fix or remove it",
        )
    headers = np.flatnonzero(is_header)
    bounds = np.concatenate([headers, [len(starts)]])
    scan.sequence_lines(lengths[: bounds[0]], widths[: bounds[0]], line)
    for i, header in enumerate(headers):
        scan.header(block[starts[header] : content_end[header]], line + int(header), offset + int(newline[header]) + 1)
        rows = slice(header + 1, bounds[i + 1])
        scan.sequence_lines(lengths[rows], widths[rows], line + int(header) + 1)
    return line + len(starts)
