"""Resumable batch jobs: a long computation saved in chunks beside its output until it is written.

A batch command (``score-vcf``, ``scan``, ``embed``; ``score-genome`` later) opens a
:class:`ChunkedJob` for its output path with a *key*: a JSON-able dict of everything its
result depends on (input file fingerprints from :func:`file_fingerprint`, the model, the
settings). The work is split into numbered or named chunks; each chunk is one numpy array
saved atomically (:func:`glm_core.outputs.atomic_path`) in the job folder. When the same
command runs again with the same key, chunks already saved are read back instead of being
computed; a different key (an edited input, another model or setting) empties the folder
and starts over. Once the command has written its output, :meth:`ChunkedJob.finish`
removes the folder; the output itself is written atomically by the command.

Layout: ``<output folder>/.<output name>.job/`` holding ``job.json`` (the key and its
hash) and ``chunk-<name>.npy`` files. A job folder left behind means the output is not
written yet; rerunning the command continues it, deleting the folder throws the work away.

Typical use::

    job = ChunkedJob.open(out_path, {"command": "embed", "fasta": file_fingerprint(fasta), ...})
    vectors = job.map(len(windows), chunk_size, lambda a, b: embed(windows.iloc[a:b]))
    write_output(vectors, out_path)   # atomically
    job.finish()

For site models (anything with ``sequence_site_probabilities``), :class:`ResumableSiteModel`
wraps the model so that every call is split into chunks of the job; code that takes a site
model (``site_probabilities``, ``score_vcf``) becomes resumable without changing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .outputs import atomic_path

Progress = Callable[[int, int], None]
KEY_FILE = "job.json"
JOB_SUFFIX = ".job"
FULL_HASH_LIMIT = 256 * 1024 * 1024  # bytes; bigger files are fingerprinted by size, mtime and samples
SAMPLE_BYTES = 1 << 20


def job_folder(output: str | Path) -> Path:
    """The job folder of ``output``: ``<folder>/.<name>.job``."""
    output = Path(output)
    return output.with_name(f".{output.name}{JOB_SUFFIX}")


def file_fingerprint(path: str | Path | None) -> dict | None:
    """What identifies a file's content for a job key: real path, size, mtime and a sha256.

    Files up to 256 MB are hashed whole; bigger ones (a large genome) by their first and
    last megabyte, with size and mtime catching other edits. A folder (a model) is the
    fingerprints of its files, one level deep. None stays None.
    """
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        return {p.name: file_fingerprint(p) for p in sorted(path.iterdir()) if p.is_file()}
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if stat.st_size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(SAMPLE_BYTES), b""):
                digest.update(block)
        else:
            digest.update(handle.read(SAMPLE_BYTES))
            handle.seek(-SAMPLE_BYTES, os.SEEK_END)
            digest.update(handle.read(SAMPLE_BYTES))
    return {
        "path": os.path.realpath(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": digest.hexdigest(),
    }


def _key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


class ChunkedJob:
    """Chunks of one command's result, kept in the output's job folder until :meth:`finish`.

    Attributes
    ----------
    folder : the job folder.
    computed, reused : names of the chunks computed and read back by this process (for
        progress reports and tests).
    """

    def __init__(self, folder: Path, key_hash: str):
        self.folder = folder
        self.key_hash = key_hash
        self.computed: list[str] = []
        self.reused: list[str] = []

    @classmethod
    def open(cls, output: str | Path, key: dict) -> "ChunkedJob":
        """The job for ``output`` under ``key``: continued when the folder holds the same key, else new.

        Raises ``FileNotFoundError`` when the output's folder does not exist.
        """
        folder = job_folder(output)
        if not folder.parent.is_dir():
            raise FileNotFoundError(f"the folder of {output} does not exist; create it first")
        key_hash = _key_hash(key)
        if folder.is_dir():
            try:
                saved = json.loads((folder / KEY_FILE).read_text())
            except (OSError, ValueError):
                saved = {}
            if saved.get("hash") != key_hash:
                shutil.rmtree(folder)
        if not folder.is_dir():
            folder.mkdir()
            with atomic_path(folder / KEY_FILE) as temporary:
                temporary.write_text(json.dumps({"hash": key_hash, "key": key}, indent=1, default=str))
        return cls(folder, key_hash)

    def _chunk_path(self, name: str) -> Path:
        return self.folder / f"chunk-{name}.npy"

    def has(self, name: str | int) -> bool:
        return self._chunk_path(str(name)).is_file()

    def chunk(self, name: str | int, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The saved array of chunk ``name``, or ``compute()``'s, saved atomically first."""
        name = str(name)
        path = self._chunk_path(name)
        if path.is_file():
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                path.unlink()  # a damaged chunk is computed again
            else:
                self.reused.append(name)
                return array
        array = np.asarray(compute())
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        with atomic_path(path) as temporary:
            temporary.write_bytes(buffer.getvalue())
        self.computed.append(name)
        return array

    def map(
        self,
        n_items: int,
        chunk_size: int,
        compute: Callable[[int, int], np.ndarray],
        *,
        progress: Progress | None = None,
        prefix: str = "",
    ) -> np.ndarray:
        """``compute(first, last)`` for items ``[first, last)`` in chunks of ``chunk_size``, concatenated.

        Chunk ``i`` covers items ``[i * chunk_size, (i + 1) * chunk_size)``; the arrays are
        joined along their first axis. ``progress(items_done, n_items)`` follows each chunk.
        """
        chunk_size = max(1, int(chunk_size))
        parts = []
        for first in range(0, n_items, chunk_size):
            last = min(first + chunk_size, n_items)
            parts.append(self.chunk(f"{prefix}{first // chunk_size}", lambda: compute(first, last)))
            if progress is not None:
                progress(last, n_items)
        return np.concatenate(parts) if parts else np.zeros((0,))

    def finish(self) -> None:
        """Remove the job folder; call after the output is written."""
        shutil.rmtree(self.folder, ignore_errors=True)


class ResumableSiteModel:
    """A site model whose predictions are saved in chunks of a :class:`ChunkedJob`.

    ``sequence_site_probabilities(sequence, positions)`` splits ``positions`` into chunks of
    ``chunk_positions`` (a multiple of the batch size, so the model sees the same batches as
    without chunking and gives the same numbers); each chunk is named by a hash of the
    sequence and its positions, so a rerun finds it whatever order the calls come in. Any
    other attribute (``name``, ``device``, ``path`` ...) is the wrapped model's.
    """

    def __init__(self, model, job: ChunkedJob, chunk_batches: int = 8):
        self.model = model
        self.job = job
        self.chunk_batches = chunk_batches

    def __getattr__(self, name):
        model = self.__dict__.get("model")
        if model is None:
            raise AttributeError(name)
        return getattr(model, name)

    def _batch_size(self, batch_size: int | None) -> int:
        if batch_size:
            return int(batch_size)
        device, context = getattr(self.model, "device", None), getattr(self.model, "context", None)
        if device is None or context is None:
            return 256
        from .models import default_batch_size

        return default_batch_size(device, context)

    def sequence_site_probabilities(
        self, sequence: str, positions: np.ndarray, *, batch_size: int | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """As the wrapped model's, shape=(len(positions), 4); chunks saved in the job."""
        positions = np.asarray(positions, dtype=np.int64)
        batch_size = self._batch_size(batch_size)
        chunk = batch_size * self.chunk_batches
        sequence_digest = hashlib.blake2b(sequence.encode(), digest_size=16)
        parts = []
        for first in range(0, len(positions), chunk):
            part = positions[first : first + chunk]
            digest = sequence_digest.copy()
            digest.update(part.tobytes())
            parts.append(
                self.job.chunk(
                    f"sites-{digest.hexdigest()}",
                    lambda part=part: self.model.sequence_site_probabilities(sequence, part, batch_size=batch_size),
                )
            )
            if progress is not None:
                progress(first + len(part), len(positions))
        return np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.float32)
