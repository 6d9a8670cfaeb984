"""Atomic file outputs: a file is either written whole or not changed at all.

Every file ``glm_core`` writes for a user (VCF, TSV, bedGraph, bigWig) goes through
:func:`atomic_path`: the data go to a temporary file in the target's folder, named
``<name>.incomplete-<random>`` so that a killed job leaves a file whose name says what it
is; that file is flushed and fsynced, then renamed over the target in one step. On any
error the temporary file is removed and an existing target keeps its old bytes.

The new file gets the permissions an ordinary ``open(path, "w")`` would give it: the
target's own mode where it already exists, else ``0o666`` less the umask.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

INCOMPLETE_MARK = ".incomplete-"
BGZF_SUFFIXES = (".gz", ".bgz")


def _check_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {path} does not exist; create it first")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every system can open a folder, which is harmless."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block succeeds.

    For writers that need a file name (pyBigWig, pysam's BGZF): the temporary file exists,
    empty, when the block starts. When the block exits normally the file is fsynced and
    renamed over ``path``; when it raises, the file is removed and ``path`` is untouched.

    Raises
    ------
    FileNotFoundError if the folder of ``path`` does not exist.
    """
    path = Path(path)
    _check_folder(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
    while True:
        temporary = path.with_name(f"{path.name}{INCOMPLETE_MARK}{secrets.token_hex(4)}")
        try:
            # 0o666 less the umask, as open() gives, without touching the process-wide umask.
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically (see :func:`atomic_path`); returns ``path``."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` atomically; BGZF-compressed (bgzip, tabix-ready) when ``path`` ends in ``.gz``/``.bgz``."""
    path = Path(path)
    if path.suffix.lower() not in BGZF_SUFFIXES:
        return atomic_write(path, text)
    import pysam

    with atomic_path(path) as temporary:
        with pysam.BGZFile(str(temporary), "wb") as handle:
            handle.write(text.encode("utf-8"))
    return path
