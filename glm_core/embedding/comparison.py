"""How well embeddings separate region classes, beside the k-mer-spectrum comparator."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..genome import Genome, nucleotide_codes
from ..kmer import kmer_ids, reverse_complement_kmer_ids


def kmer_spectrum(genome: Genome, windows: pd.DataFrame, k: int = 4) -> np.ndarray:
    """Normalised k-mer frequencies of each window, counted on both strands.

    Every k-mer of the window's plus strand is counted together with the k-mer of its
    reverse complement at the same place, so a window and its reverse complement get the
    same spectrum, like :func:`window_embeddings`. All ``4 ** k`` columns are kept (a
    k-mer and its reverse complement hold the same value). K-mers holding anything but
    A/C/G/T are skipped; a window without a single countable k-mer gets a row of zeros.

    Parameters
    ----------
    windows : ``chrom, start, end`` (0-based half-open).

    Returns
    -------
    np.ndarray, shape=(len(windows), 4 ** k), float32, columns in :func:`kmer_names` order,
    rows summing to 1 (or 0).
    """
    if not 1 <= int(k) <= 8:
        raise ValueError(f"k must be in 1..8 (the spectrum has 4**k columns); got k={k}")
    k = int(k)
    reverse = reverse_complement_kmer_ids(k)
    out = np.zeros((len(windows), 4**k), dtype=np.float32)
    chroms = windows["chrom"].astype(str).to_numpy()
    starts = windows["start"].to_numpy(np.int64)
    ends = windows["end"].to_numpy(np.int64)
    for row in range(len(windows)):
        codes = nucleotide_codes(genome.fetch(chroms[row], int(starts[row]), int(ends[row])))
        kmers, valid = kmer_ids(codes, k)
        counts = np.bincount(kmers[valid], minlength=4**k)
        counts = counts + counts[reverse]
        if counts.sum():
            out[row] = counts / counts.sum()
    return out


def knn_macro_f1(
    embeddings: np.ndarray,
    labels: Sequence,
    k: int = 15,
    test_fraction: float = 0.3,
    seed: int = 0,
    *,
    groups: Sequence | None = None,
) -> float:
    """Macro-F1 of a k-nearest-neighbour classifier of the labels on held-out rows.

    Features are standardised (mean 0, variance 1, fitted on the training rows), then a
    Euclidean kNN (``k`` neighbours, at most the number of training rows) is fitted. The
    held-out rows are a stratified random ``test_fraction`` of all rows, or, with
    ``groups`` (e.g. the chromosome of each window), whole groups: the first fold of a
    stratified group k-fold with ``round(1 / test_fraction)`` folds, so that no group has
    rows on both sides. The F1 is averaged over the classes present among the held-out
    rows. Chance is about ``1 / n_classes`` for balanced classes.

    Parameters
    ----------
    embeddings : shape=(n, features).
    labels : shape=(n,), the class of each row.

    Raises
    ------
    ValueError with fewer than two classes, a class with fewer than two rows, or too few
    rows for a held-out set that holds every class.
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need embeddings of shape (n, features) and n labels; got {features.shape} and {len(labels)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"kNN macro-F1 needs at least two classes; all {len(labels)} windows are {classes.tolist()}")
    if counts.min() < 2:
        raise ValueError(
            f"classes {classes[counts < 2].tolist()} have a single window; kNN macro-F1 needs at least two "
            "a class (one to train on, one to test); sample more windows"
        )
    rows = np.arange(len(labels))
    if groups is None:
        n_test = math.ceil(test_fraction * len(labels))
        if n_test < len(classes) or len(labels) - n_test < len(classes):
            raise ValueError(
                f"{len(labels)} windows are too few for a held-out set of {test_fraction:.0%} that holds each of "
                f"the {len(classes)} classes; sample more windows"
            )
        train, test = train_test_split(rows, test_size=test_fraction, stratify=labels, random_state=seed)
    else:
        groups = np.asarray(groups)
        n_splits = max(2, round(1 / test_fraction))
        if len(np.unique(groups)) < n_splits:
            raise ValueError(f"a grouped split into {n_splits} folds needs at least {n_splits} groups")
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train, test = next(splitter.split(features, labels, groups))
    classifier = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=min(int(k), len(train))))
    classifier.fit(features[train], labels[train])
    predicted = classifier.predict(features[test])
    return float(f1_score(labels[test], predicted, labels=np.unique(labels[test]), average="macro", zero_division=0))
