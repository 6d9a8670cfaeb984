"""The 2-D map of embeddings (UMAP) and the nearest gene of each window, for hover text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..annotation import Annotation

UMAP_COLUMNS = ["umap_x", "umap_y"]
UMAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")


def umap_projection(
    embeddings: np.ndarray,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    seed: int = 0,
    *,
    standardize: bool = True,
) -> np.ndarray:
    """2-D UMAP of the rows of ``embeddings`` (umap-learn), the same for the same seed.

    ``random_state=seed`` makes umap-learn run single-threaded and deterministic. With
    ``standardize`` each feature is scaled to mean 0, variance 1 first (as for
    :func:`knn_macro_f1`). ``n_neighbors`` is capped at ``n - 1``.

    Returns
    -------
    np.ndarray, shape=(n, 2), float32.
    """
    import warnings

    features = np.asarray(embeddings, dtype=np.float32)
    if features.ndim != 2 or len(features) < 4:
        raise ValueError(f"UMAP needs at least 4 rows of shape (n, features); got shape {features.shape}")
    if metric not in UMAP_METRICS:
        raise ValueError(f"unknown UMAP metric {metric!r}; choose from {', '.join(UMAP_METRICS)}")
    if int(n_neighbors) < 2 or not 0.0 <= float(min_dist) <= 1.0:
        raise ValueError(f"need n_neighbors >= 2 and 0 <= min_dist <= 1; got {n_neighbors} and {min_dist}")
    if standardize:
        spread = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    import umap

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(int(n_neighbors), len(features) - 1),
        min_dist=float(min_dist),
        metric=metric,
        random_state=int(seed),
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(n_jobs|spectral initialisation|Graph is not fully).*")
        return reducer.fit_transform(features).astype(np.float32)


def nearest_gene(annotation: Annotation, windows: pd.DataFrame) -> pd.DataFrame:
    """The transcript nearest to each window, for hover text.

    Distance is the number of bases between the window and the transcript (0 when they
    overlap or touch); ties go to the transcript that starts first.

    Returns
    -------
    pd.DataFrame, index of ``windows``, with ``nearest_gene`` (the transcript's name, else
    its gene ID; "" on sequences without genes), ``transcript_id`` and ``gene_distance``
    (bp, nullable Int64).
    """
    transcripts = annotation.transcripts
    name = transcripts["name"].fillna("").astype(str)
    name = name.where(name != "", transcripts["gene_id"].fillna(transcripts["transcript_id"]).astype(str))
    gene_name = np.full(len(windows), "", dtype=object)
    transcript_id = np.full(len(windows), "", dtype=object)
    distance = np.full(len(windows), -1, dtype=np.int64)
    chroms = windows["chrom"].astype(str).to_numpy()
    w_start = windows["start"].to_numpy(np.int64)
    w_end = windows["end"].to_numpy(np.int64)
    for chrom in pd.unique(chroms):
        on = transcripts["chrom"].to_numpy() == chrom
        if not on.any():
            continue
        order = np.flatnonzero(on)[np.argsort(transcripts["start"].to_numpy()[on], kind="stable")]
        t_start = transcripts["start"].to_numpy(np.int64)[order]
        t_end = transcripts["end"].to_numpy(np.int64)[order]
        rows = np.flatnonzero(chroms == chrom)
        for first in range(0, len(rows), 2048):
            chunk = rows[first : first + 2048]
            gap = np.maximum(
                0, np.maximum(t_start[None, :] - w_end[chunk, None], w_start[chunk, None] - t_end[None, :])
            )
            best = gap.argmin(axis=1)
            gene_name[chunk] = name.to_numpy()[order[best]]
            transcript_id[chunk] = transcripts["transcript_id"].to_numpy()[order[best]]
            distance[chunk] = gap[np.arange(len(chunk)), best]
    return pd.DataFrame(
        {
            "nearest_gene": gene_name,
            "transcript_id": transcript_id,
            "gene_distance": pd.Series(distance, index=windows.index, dtype="Int64").mask(distance < 0),
        },
        index=windows.index,
    ).astype({"nearest_gene": str, "transcript_id": str})
