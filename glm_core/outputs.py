"""Atomic file outputs: a file is either written whole or not changed at all.

Every file ``glm_core`` writes for a user (VCF, TSV, bedGraph, bigWig) goes through
:func:`atomic_path`: the data go to a temporary file in the target's folder, named
``<name>.incomplete-<random>`` so that a killed job leaves a file whose name says what it
is; that file is flushed and fsynced, then renamed over the target in one step. On any
error the temporary file is removed and an existing target keeps its old bytes.

The new file gets the permissions an ordinary ``open(path, "w")`` would give it: the
target's own mode where it already exists, else ``0o666`` less the umask.

Paired outputs (a VCF and its TSV) go through :func:`atomic_paths` / :func:`write_texts`:
every file is written and fsynced under its temporary name first, then all are renamed one
right after the other, so a kill during the work leaves the old pair and nothing a user
could mistake for a result. Before any work, commands call :func:`check_outputs` (or
:func:`check_output_dir`), which refuse an output that is one of the command's inputs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

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


def _new_temporary(path: Path) -> Path:
    while True:
        temporary = path.with_name(f"{path.name}{INCOMPLETE_MARK}{secrets.token_hex(4)}")
        try:
            # 0o666 less the umask, as open() gives, without touching the process-wide umask.
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temporary
        except FileExistsError:
            continue


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_paths(*paths: str | Path) -> Iterator[list[Path]]:
    """Temporary paths beside each of ``paths``; all renamed into place when the block succeeds.

    As :func:`atomic_path` for several files that belong together: all are fsynced first,
    then renamed in the order given with nothing in between, so the old set stays whole
    until the block has finished; on an error every temporary file is removed.
    """
    paths = [Path(path) for path in paths]
    for path in paths:
        _check_folder(path)
    modes = [stat.S_IMODE(path.stat().st_mode) if path.is_file() else None for path in paths]
    temporaries: list[Path] = []
    try:
        for path in paths:
            temporaries.append(_new_temporary(path))
        yield list(temporaries)
        for temporary, mode in zip(temporaries, modes):
            _fsync_file(temporary)
            if mode is not None:
                os.chmod(temporary, mode)
        for temporary, path in zip(temporaries, paths):
            os.replace(temporary, path)
    except BaseException:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        raise
    for folder in {path.parent for path in paths}:
        _fsync_folder(folder)


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
    with atomic_paths(path) as (temporary,):
        yield temporary


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A new temporary folder beside ``path`` to fill; it replaces ``path`` when the block succeeds.

    For outputs that are folders (a ``save_pretrained`` model): files written in the block
    are fsynced, then the old folder (if any) is moved aside, the new one renamed into
    place and the old one removed. A kill leaves the old folder, or (between the two
    renames) the new one under its temporary name, ``<name>.incomplete-<random>``; on an
    error the temporary folder is removed.
    """
    import shutil

    path = Path(path)
    _check_folder(path)
    temporary = path.with_name(f"{path.name}{INCOMPLETE_MARK}{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        yield temporary
        for member in temporary.rglob("*"):
            if member.is_file():
                _fsync_file(member)
        replaced = None
        if path.exists():
            replaced = path.with_name(f"{path.name}.replaced-{secrets.token_hex(4)}")
            os.replace(path, replaced)
        os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync_folder(path.parent)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


@contextlib.contextmanager
def atomic_files_in(folder: str | Path) -> Iterator[Path]:
    """A staging folder inside ``folder``; its files are moved into ``folder`` when the block succeeds.

    For writers that fill a folder that holds other files too (``save_pretrained`` into a
    training output folder): every file is written in the staging folder, fsynced, then
    renamed into ``folder`` one after the other, replacing files of the same name. A kill
    during the writing leaves ``folder`` as it was (plus a ``.incomplete-`` staging folder).
    """
    import shutil

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging{INCOMPLETE_MARK}{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        yield staging
        files = [member for member in sorted(staging.rglob("*")) if member.is_file()]
        for member in files:
            _fsync_file(member)
        for member in files:
            target = folder / member.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(member, target)
        _fsync_folder(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically (see :func:`atomic_path`); returns ``path``."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
    return path


def _write_text_to(text: str, temporary: Path, path: Path) -> None:
    payload = text.encode("utf-8")
    if path.suffix.lower() not in BGZF_SUFFIXES:
        with open(temporary, "wb") as handle:
            handle.write(payload)
        return
    import pysam

    with pysam.BGZFile(str(temporary), "wb") as handle:  # closing writes the BGZF EOF block
        handle.write(payload)


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` atomically; BGZF-compressed (bgzip, tabix-ready) when ``path`` ends in ``.gz``/``.bgz``."""
    return write_texts({path: text})[0]


def write_texts(texts: dict[str | Path, str]) -> list[Path]:
    """Write several files that belong together (``{path: text}``) with :func:`atomic_paths`.

    Each is BGZF-compressed when its name ends in ``.gz``/``.bgz``, as :func:`write_text`.
    Returns the paths.
    """
    paths = [Path(path) for path in texts]
    with atomic_paths(*paths) as temporaries:
        for text, temporary, path in zip(texts.values(), temporaries, paths):
            _write_text_to(text, temporary, path)
    return paths


def _real(path: str | Path) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


def _input_files(inputs) -> dict[str, str]:
    """Real path -> path as given, for each input file; a folder input stands for its files."""
    found = {}
    for given in inputs:
        if given is None:
            continue
        given = Path(given)
        members = sorted(p for p in given.iterdir() if p.is_file()) if given.is_dir() else [given]
        for member in members:
            found[_real(member)] = str(member)
    return found


def check_outputs(outputs, inputs=(), *, option: str = "--out") -> None:
    """Refuse, before any work, outputs that cannot be written or would overwrite an input.

    Parameters
    ----------
    outputs : the files the command will write.
    inputs : its input files and folders (None entries are skipped); an output whose real
        path (links resolved) is an input file, or a file in an input folder, is refused.

    Raises
    ------
    InputError naming the path and saying what to do.
    """
    inputs = _input_files(inputs)
    seen: dict[str, str] = {}
    for output in outputs:
        real = _real(output)
        if real in inputs:
            raise InputError(
                f"{option} {output} is the input file {inputs[real]}; writing it would destroy the input. "
                "Choose another output name"
            )
        if real in seen:
            raise InputError(f"{output} and {seen[real]} are the same file; give each output its own name")
        seen[real] = str(output)
        if os.path.isdir(real):
            raise InputError(f"{option} {output} is a folder; give a file name inside it")
        folder = os.path.dirname(real)
        if not os.path.isdir(folder):
            raise InputError(f"the folder of {output} does not exist; create it first")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"cannot write to the folder of {output} ({folder}): permission denied")


def check_output_dir(folder: str | Path, inputs=(), *, option: str = "--output-dir") -> None:
    """Refuse an output folder that is a file, cannot be created or written, or holds an input.

    The folder may not exist yet (the command creates it); its nearest existing parent must
    then be writable. Raises InputError.
    """
    folder = Path(folder)
    real = Path(_real(folder))
    if real.exists() and not real.is_dir():
        raise InputError(f"{option} {folder} is a file, not a folder; give a folder (it is created if missing)")
    for path, given in _input_files(inputs).items():
        if Path(path).is_relative_to(real):
            raise InputError(
                f"{option} {folder} contains the input {given}; outputs written there could replace it. "
                "Use a separate output folder"
            )
    existing = real
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {folder}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {option} {folder} ({existing}): permission denied")
