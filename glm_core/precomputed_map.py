"""The embedding map that ships with a model: its default sample embedded once on a GPU.

A model folder may hold ``embedding_map.parquet`` (:data:`PRECOMPUTED_MAP_FILE`): the
windows of the embedding page's default sample (:data:`DEFAULT_SAMPLE`: 2,000 windows of
100 bp, every region class of the model's training genome, seed 0), their embeddings and
their UMAP coordinates for :data:`DEFAULT_UMAP`, written by :func:`write_precomputed_map`
(``python -m bench.build_embedding_map``). Its metadata carry the digest of the weights it
was computed with (:func:`weights_key`); :func:`read_precomputed_map` returns None when the
weights have changed since, so a retrained model never shows an old map. The page uses the
file only when its windows are exactly the ones it would embed.

Coordinates: ``chrom, start, end`` 0-based half-open, as in every window table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import embedding
from .embedding_map import embedding_map
from .genome_fingerprint import genome_fingerprint, sequence_fingerprint
from .outputs import atomic_path

PRECOMPUTED_MAP_FILE = "embedding_map.parquet"
DEFAULT_SAMPLE = {"n_windows": 2000, "window_length": 100, "seed": 0}
DEFAULT_UMAP = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "seed": 0}
_METADATA_KEY = b"glm_explorer"


def weights_key(model_folder: str | Path) -> str:
    """Digest (16 hex characters) of the ``*.safetensors`` files of a model folder, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_folder).glob("*.safetensors")):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(8 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class PrecomputedMap:
    """A shipped map: ``windows`` (``chrom, start, end, region_class``), ``embeddings``
    shape=(n, hidden) float32, ``projection`` shape=(n, 2) for ``umap`` settings, ``metadata``."""

    windows: pd.DataFrame
    embeddings: np.ndarray
    projection: np.ndarray
    umap: dict
    metadata: dict

    def matches(self, windows: pd.DataFrame, chrom_sizes: dict[str, int]) -> bool:
        """True when ``windows`` are exactly this map's windows, in order, on the genome it was made on."""
        made_on = self.metadata.get("genome_fingerprint", {}).get("fingerprint")
        if made_on != sequence_fingerprint(chrom_sizes) or len(windows) != len(self.windows):
            return False
        same = [
            np.array_equal(windows[column].to_numpy(kind), self.windows[column].to_numpy(kind))
            for column, kind in (("chrom", str), ("start", np.int64), ("end", np.int64), ("region_class", str))
        ]
        return all(same)


def default_classes(annotation, chrom_sizes: dict[str, int]) -> list[str]:
    """The region classes the page samples by default: every class with at least one base."""
    totals = annotation.region_class_totals(chrom_sizes)
    return totals.loc[totals["bases"] > 0, "region_class"].tolist()


def default_windows(annotation, chrom_sizes: dict[str, int], context: int) -> pd.DataFrame:
    """The embedding page's default sample (:data:`DEFAULT_SAMPLE`), windows no longer than ``context``."""
    return embedding.sample_windows(
        annotation,
        chrom_sizes,
        DEFAULT_SAMPLE["n_windows"],
        min(DEFAULT_SAMPLE["window_length"], context),
        default_classes(annotation, chrom_sizes),
        DEFAULT_SAMPLE["seed"],
    )


def write_precomputed_map(
    model, genome, annotation, target: str | Path | None = None, progress=None, *, vectors=None, device=None
) -> Path:
    """Embed the default sample with ``model``, project it with :data:`DEFAULT_UMAP` and write
    ``<model folder>/embedding_map.parquet`` (or ``target``); returns the path written.

    ``vectors`` (shape=(n, hidden)) are embeddings of the default sample computed elsewhere
    (on a GPU machine, with ``device`` naming it) so that only the UMAP runs here.
    """
    windows = default_windows(annotation, genome.chrom_sizes, model.context)
    if vectors is None:
        vectors = embedding.window_embeddings(model, genome, windows, progress=progress)
    elif len(vectors) != len(windows):
        raise ValueError(f"{len(vectors)} embeddings for the {len(windows)} windows of the default sample")
    umap = DEFAULT_UMAP
    projection = embedding.umap_projection(vectors, umap["n_neighbors"], umap["min_dist"], umap["metric"], umap["seed"])
    bundle = embedding_map(model, genome, annotation, windows, vectors, genome.path.name, with_spectrum=False)
    target = Path(target) if target is not None else Path(model.path) / PRECOMPUTED_MAP_FILE
    sample = {**DEFAULT_SAMPLE, "classes": default_classes(annotation, genome.chrom_sizes)}
    table = bundle.table(projection)
    # Half precision keeps the shipped file small (1 MB, not 3); the page's kNN scores and
    # map are computed from these values, so they are what it shows.
    embedding_columns = [column for column in table.columns if str(column).startswith(embedding.EMBEDDING_PREFIX)]
    table[embedding_columns] = table[embedding_columns].astype(np.float16)
    notes = bundle.settings(sample=sample, umap=umap)
    notes.update(
        weights_key=weights_key(model.path),
        genome_fingerprint=genome_fingerprint(genome),
        device=str(device or model.device),
    )
    with atomic_path(target) as partial:
        embedding.write_embedding_table(table, partial, notes)
    return target


def read_precomputed_map(model_folder: str | Path) -> PrecomputedMap | None:
    """The shipped map of a model folder, or None when there is none or the weights have changed."""
    import pyarrow.parquet as pq

    path = Path(model_folder) / PRECOMPUTED_MAP_FILE
    if not path.is_file():
        return None
    try:
        arrow = pq.read_table(path)
        metadata = json.loads((arrow.schema.metadata or {}).get(_METADATA_KEY, b"{}"))
    except (OSError, ValueError):
        return None
    if metadata.get("weights_key") != weights_key(model_folder):
        return None
    table = arrow.to_pandas()
    return PrecomputedMap(
        windows=table[embedding.WINDOW_COLUMNS].reset_index(drop=True),
        embeddings=embedding.embedding_matrix(table),
        projection=table[embedding.UMAP_COLUMNS].to_numpy(np.float32),
        umap=dict(metadata.get("umap", {})),
        metadata=metadata,
    )
