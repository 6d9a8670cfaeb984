"""Embedding tables: one row per window with ``emb_*`` columns, their parquet files and the disk cache.

The cache keeps embeddings as parquet files under a cache folder, keyed by the model folder
(and its weights' mtime and size), the genome file (likewise), the context, the precision
and the exact windows, so reopening a map costs a file read.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..genome import Genome
from ..models import MaskedLM
from ..outputs import atomic_path
from ..scoring import Progress
from .forward import window_embeddings
from .projection import UMAP_COLUMNS

EMBEDDING_PREFIX = "emb_"
CACHE_FORMAT = 1
_METADATA_KEY = b"glm_explorer"


def _file_stamp(path: Path) -> list:
    stat = path.stat()
    return [path.name, stat.st_mtime_ns, stat.st_size]


def embedding_cache_key(model: MaskedLM, genome: Genome, windows: pd.DataFrame, context: int | None = None) -> str:
    """Hex digest naming the embeddings of ``windows`` by this model on this genome.

    Built from the model folder and the mtime and size of its ``config.json`` and
    ``*.safetensors`` files, the genome file's path, mtime and size, the context, the
    precision (bf16 autocast on CUDA, else float32) and the windows' chrom/start/end.
    """
    if model.path is None:
        raise ValueError(f"model {model.name!r} has no folder, so its embeddings cannot be cached by file")
    folder = Path(model.path).resolve()
    model_files = sorted([folder / "config.json", *folder.glob("*.safetensors")])
    coordinates = windows[["chrom", "start", "end"]].astype({"chrom": str, "start": np.int64, "end": np.int64})
    hashed = pd.util.hash_pandas_object(coordinates, index=False).to_numpy()
    key = {
        "format": CACHE_FORMAT,
        "model": str(folder),
        "model_files": [_file_stamp(path) for path in model_files if path.is_file()],
        "genome": str(Path(genome.path).resolve()),
        "genome_file": _file_stamp(Path(genome.path)),
        "context": int(context or model.context),
        "precision": "bfloat16-autocast" if model.device.type == "cuda" else "float32",
        "windows": hashlib.sha256(hashed.tobytes()).hexdigest(),
        "n_windows": len(windows),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"window-embeddings-{key}.parquet"


def cached_embeddings(
    model: MaskedLM, genome: Genome, windows: pd.DataFrame, cache_dir: str | Path, context: int | None = None
) -> np.ndarray | None:
    """The cached embeddings of ``windows`` (see :func:`cached_window_embeddings`), or None.

    A file that cannot be read or whose windows differ from ``windows`` counts as missing.
    """
    if model.path is None:
        return None
    path = _cache_path(cache_dir, embedding_cache_key(model, genome, windows, context))
    if not path.is_file():
        return None
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError):
        return None
    same = (
        len(table) == len(windows)
        and np.array_equal(table["chrom"].astype(str).to_numpy(object), windows["chrom"].astype(str).to_numpy(object))
        and all(
            np.array_equal(table[column].to_numpy(np.int64), windows[column].to_numpy(np.int64))
            for column in ("start", "end")
        )
    )
    return embedding_matrix(table) if same else None


def cached_window_embeddings(
    model: MaskedLM,
    genome: Genome,
    windows: pd.DataFrame,
    cache_dir: str | Path,
    context: int | None = None,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """:func:`window_embeddings`, read from or written to a parquet file under ``cache_dir``.

    The file is named by :func:`embedding_cache_key` and holds ``chrom, start, end`` and
    the embedding columns; it is written to a temporary name first, so an interrupted run
    leaves no half file. A model without a folder is run every time.

    Returns
    -------
    np.ndarray, shape=(len(windows), hidden), float32.
    """
    found = cached_embeddings(model, genome, windows, cache_dir, context)
    if found is not None:
        if progress is not None:
            progress(len(windows), len(windows))
        return found
    embeddings = window_embeddings(model, genome, windows, context, batch_size=batch_size, progress=progress)
    if model.path is None:
        return embeddings
    path = _cache_path(cache_dir, embedding_cache_key(model, genome, windows, context))
    path.parent.mkdir(parents=True, exist_ok=True)
    table = embedding_table(windows[["chrom", "start", "end"]], embeddings)
    with atomic_path(path) as partial:
        write_embedding_table(
            table,
            partial,
            {"model": str(model.path), "genome": str(genome.path), "context": int(context or model.context)},
        )
    return embeddings


def embedding_table(
    windows: pd.DataFrame,
    embeddings: np.ndarray,
    projection: np.ndarray | None = None,
    genes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per window: its columns, optional gene and UMAP columns, then the embedding.

    Parameters
    ----------
    windows : ``chrom, start, end`` (0-based half-open) and any other columns, kept as they are.
    embeddings : shape=(len(windows), hidden); columns ``emb_000, emb_001, ...``.
    projection : shape=(len(windows), 2); columns ``umap_x, umap_y``.
    genes : from :func:`nearest_gene`; its columns are added.

    Returns
    -------
    pd.DataFrame (a new table; ``windows`` is not modified), index 0..n-1.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if len(embeddings) != len(windows):
        raise ValueError(f"{len(embeddings)} embeddings for {len(windows)} windows; they must match row for row")
    pieces = [windows.reset_index(drop=True)]
    if genes is not None:
        pieces.append(genes.reset_index(drop=True))
    if projection is not None:
        pieces.append(pd.DataFrame(np.asarray(projection, dtype=np.float32), columns=UMAP_COLUMNS))
    width = max(3, len(str(embeddings.shape[1] - 1))) if embeddings.ndim == 2 else 3
    names = [f"{EMBEDDING_PREFIX}{i:0{width}d}" for i in range(embeddings.shape[1] if embeddings.ndim == 2 else 0)]
    pieces.append(pd.DataFrame(embeddings.reshape(len(windows), -1), columns=names))
    return pd.concat(pieces, axis=1)


def embedding_matrix(table: pd.DataFrame) -> np.ndarray:
    """The ``emb_*`` columns of an :func:`embedding_table` as shape=(n, hidden) float32."""
    columns = [column for column in table.columns if str(column).startswith(EMBEDDING_PREFIX)]
    if not columns:
        raise ValueError(f"the table has no {EMBEDDING_PREFIX}* columns; is it an embedding table?")
    return table[columns].to_numpy(np.float32)


def write_embedding_table(table: pd.DataFrame, target: str | Path | io.IOBase, metadata: dict | None = None) -> None:
    """Write an :func:`embedding_table` as parquet to a path or a binary file object.

    The file's key-value metadata ``glm_explorer`` holds JSON with ``coordinates``
    ("0-based half-open") and the entries of ``metadata`` (model, genome, settings).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    notes = {"coordinates": "chrom, start, end are 0-based half-open (BED)", **(metadata or {})}
    arrow = arrow.replace_schema_metadata(
        {**(arrow.schema.metadata or {}), _METADATA_KEY: json.dumps(notes, default=str).encode()}
    )
    pq.write_table(arrow, target if not isinstance(target, Path) else str(target))
