"""Embedding maps of genomic windows: sample windows by region class, embed them with a
masked gLM, compare the embeddings with k-mer spectra by kNN, and project them with UMAP.

Coordinates
-----------
Window tables are **0-based, half-open** (``start <= i < end``), with columns ``chrom,
start, end, region_class`` (plus documented extras). Users see 1-based inclusive regions
(:func:`glm_core.genome.format_region`).

Embedding a window
------------------
Each window is centred in a ``context``-bp stretch of its chromosome (the model's context,
512 bp for the bundled model); at a chromosome end the stretch is shifted inward so that it
stays on the chromosome, and it is padded only when the whole chromosome is shorter than
the context. The stretch runs through the model **unmasked**, forward and
reverse-complemented, in one batch. On each strand the last hidden layer is averaged over
the window's own positions (on the reverse complement those are positions
``context - end .. context - start - 1`` of the stretch, counted from its reverse-complemented
start) and the two strand means are averaged. A window and its reverse complement therefore
get the same embedding, up to float rounding, as the k-mer spectrum (counted on both
strands) does. On CUDA the forward runs under bf16 autocast; results are float32.

Comparator
----------
:func:`kmer_spectrum` gives normalised 4-mer frequencies of the window itself, and
:func:`knn_macro_f1` scores how well a k-nearest-neighbour classifier recovers the region
class from either representation on held-out windows. The gLM sees up to ``context`` bp
around a window, the spectrum only the window: the comparison asks what the model's
contextual embedding adds over the window's composition.

Caching
-------
:func:`cached_window_embeddings` keeps embeddings as parquet files under a cache folder,
keyed by the model folder (and its weights' mtime and size), the genome file (likewise),
the context, the precision and the exact windows, so reopening a map costs a file read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from .annotation import Annotation
from .region_classes import REGION_CLASSES
from .genome import Genome, is_gzip, nucleotide_codes
from .kmer import kmer_ids, kmer_names, reverse_complement_kmer_ids
from .models import MaskedLM, default_batch_size
from .scoring import complement_ids

Progress = Callable[[int, int], None]

WINDOW_COLUMNS = ["chrom", "start", "end", "region_class"]
# Class given to BED intervals without a name column.
UNLABELLED = "unlabelled"
EMBEDDING_PREFIX = "emb_"
UMAP_COLUMNS = ["umap_x", "umap_y"]
UMAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")
CACHE_FORMAT = 1
_METADATA_KEY = b"glm_explorer"

__all__ = [
    "WINDOW_COLUMNS",
    "UNLABELLED",
    "UMAP_METRICS",
    "sample_windows",
    "windows_from_bed",
    "embedding_contexts",
    "window_embeddings",
    "estimate_seconds_per_window",
    "kmer_spectrum",
    "kmer_names",
    "knn_macro_f1",
    "umap_projection",
    "nearest_gene",
    "embedding_cache_key",
    "cached_embeddings",
    "cached_window_embeddings",
    "embedding_table",
    "embedding_matrix",
    "write_embedding_table",
]


# ---------------------------------------------------------------------------- windows
def sample_windows(
    annotation: Annotation,
    chrom_sizes: dict[str, int],
    n_windows: int = 2000,
    window_length: int = 100,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    *,
    chroms: Iterable[str] | None = None,
    promoter_length: int = 500,
    downstream_length: int = 500,
) -> pd.DataFrame:
    """Windows stratified by region class: equal numbers per class, non-overlapping.

    The genome is tiled with :meth:`Annotation.region_classes`. Every class gets
    ``n_windows // len(classes)`` windows (the first ``n_windows % len(classes)`` classes one
    more). Windows lie fully inside one interval of their class: each interval of length
    ``l`` holds ``l // window_length`` non-overlapping slots at a random offset, and slots are
    drawn without replacement, uniformly over the class's slots. A class with too few slots
    is topped up with windows centred on its intervals that are shorter than a window
    (``inside`` False: only the centre part is of that class); a class that still falls
    short keeps fewer windows (the others are not enlarged, to keep classes balanced).
    Each class draws from its own generator, seeded by ``seed`` and the class name, so a
    class's windows do not depend on which other classes are asked for.

    Parameters
    ----------
    chrom_sizes : sequence name -> length; every annotated chromosome must be present.
    n_windows : total windows wanted.
    window_length : bp per window.
    classes : region classes to sample (names from :data:`REGION_CLASSES`); None: every
        class that has bases in this genome (the embedded annotation has no UTRs).
    chroms : only sample on these sequences (e.g. held-out chromosomes); None: all.

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open), ``region_class``
    (str) and ``inside`` (bool), sorted by ``chrom_sizes`` order then start.
    """
    n_windows, window_length = int(n_windows), int(window_length)
    if n_windows < 1 or window_length < 1:
        raise ValueError(f"n_windows and window_length must be >= 1; got {n_windows} and {window_length}")
    tiles = annotation.region_classes(chrom_sizes, promoter_length, downstream_length)
    if chroms is not None:
        chroms = list(chroms)
        unknown = [chrom for chrom in chroms if chrom not in chrom_sizes]
        if unknown:
            raise KeyError(f"chromosomes {unknown} are not in this genome; it has {', '.join(list(chrom_sizes)[:30])}")
        tiles = tiles[tiles["chrom"].isin(chroms)]
    labels = tiles["region_class"].astype(str).to_numpy()
    present = [name for name in REGION_CLASSES if name in set(labels)]
    if classes is None:
        classes = present
    else:
        classes = list(dict.fromkeys(str(name) for name in classes))
        unknown = [name for name in classes if name not in REGION_CLASSES]
        if unknown:
            raise ValueError(f"unknown region classes {unknown}; choose from {', '.join(REGION_CLASSES)}")
        absent = [name for name in classes if name not in present]
        if absent:
            raise ValueError(
                f"this annotation has no {', '.join(absent)} bases{' on the chosen sequences' if chroms else ''}; "
                f"classes present: {', '.join(present)}"
            )
    if not classes:
        raise ValueError("no region classes to sample; pass at least one class present in the annotation")
    if n_windows < len(classes):
        raise ValueError(f"n_windows={n_windows} is fewer than the {len(classes)} classes asked for; ask for more")
    sizes = tiles["chrom"].map(chrom_sizes).to_numpy(np.int64)
    frames = []
    for index, name in enumerate(classes):
        need = n_windows // len(classes) + (index < n_windows % len(classes))
        chosen = labels == name
        chrom = tiles["chrom"].to_numpy()[chosen]
        start = tiles["start"].to_numpy(np.int64)[chosen]
        length = tiles["end"].to_numpy(np.int64)[chosen] - start
        size = sizes[chosen]
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        slots = length // window_length
        phase = rng.integers(0, length - slots * window_length + 1)
        cumulative = np.cumsum(slots)
        total = int(cumulative[-1]) if len(cumulative) else 0
        pick = np.sort(rng.choice(total, size=min(need, total), replace=False)) if total else np.zeros(0, np.int64)
        which = np.searchsorted(cumulative, pick, side="right")
        starts = start[which] + phase[which] + (pick - (cumulative - slots)[which]) * window_length
        frames.append(
            pd.DataFrame({"chrom": chrom[which], "start": starts, "region_class": name, "inside": True})
        )
        if len(pick) < need:
            short = np.flatnonzero((slots == 0) & (size >= window_length))
            extra = rng.choice(short, size=min(need - len(pick), len(short)), replace=False)
            centred = (2 * start[extra] + length[extra] - window_length) // 2
            frames.append(
                pd.DataFrame(
                    {
                        "chrom": chrom[extra],
                        "start": np.clip(centred, 0, size[extra] - window_length),
                        "region_class": name,
                        "inside": False,
                    }
                )
            )
    windows = pd.concat(frames, ignore_index=True)
    windows["start"] = windows["start"].astype(np.int64)
    windows["end"] = windows["start"] + window_length
    order = {chrom: i for i, chrom in enumerate(chrom_sizes)}
    windows = windows.assign(_order=windows["chrom"].map(order)).sort_values(["_order", "start"], kind="stable")
    windows["chrom"] = windows["chrom"].astype(str)
    return windows[["chrom", "start", "end", "region_class", "inside"]].reset_index(drop=True)


def windows_from_bed(path: str | Path) -> pd.DataFrame:
    """Windows from a BED file (plain or gzip): chrom, start, end and, optionally, the class.

    BED is 0-based half-open. The 4th (name) column is the window's class; lines with no
    name or ``.`` get :data:`UNLABELLED`. Empty lines and ``#``, ``track`` and ``browser``
    lines are skipped; columns are tab-separated (or, when a line has no tab, whitespace).

    Returns
    -------
    pd.DataFrame with columns ``chrom, start, end`` (0-based half-open, int64) and
    ``region_class`` (str), in file order.

    Raises
    ------
    FileNotFoundError for a missing file; ValueError naming the file and line for a line
    with fewer than 3 columns, non-integer coordinates or not ``0 <= start < end``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BED file not found: {path}")
    rows = []
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rt", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 3:
                raise ValueError(
                    f"{path}, line {number}: a BED line needs chrom, start and end (tab-separated); got {line[:80]!r}"
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: start and end must be whole numbers (BED, 0-based half-open); "
                    f"got {fields[1]!r} and {fields[2]!r}"
                ) from None
            if not 0 <= start < end:
                raise ValueError(
                    f"{path}, line {number}: BED intervals need 0 <= start < end (0-based half-open); "
                    f"got start={start}, end={end}"
                )
            name = fields[3].strip() if len(fields) > 3 else ""
            rows.append((fields[0].strip(), start, end, name if name not in ("", ".") else UNLABELLED))
    if not rows:
        raise ValueError(f"{path}: no intervals found; a BED file has lines 'chrom<TAB>start<TAB>end<TAB>class'")
    table = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    return table.astype({"start": np.int64, "end": np.int64})


def embedding_contexts(windows: pd.DataFrame, chrom_sizes: dict[str, int], context: int = 512) -> pd.DataFrame:
    """The stretch of genome each window is embedded in (see the module docstring).

    Parameters
    ----------
    windows : ``chrom, start, end`` (0-based half-open), at most ``context`` bp each.

    Returns
    -------
    pd.DataFrame: a copy of ``windows`` with ``context_start`` and ``context_end`` (0-based
    half-open; ``context`` bp unless the chromosome is shorter).
    """
    chroms = windows["chrom"].astype(str).to_numpy()
    start = windows["start"].to_numpy(np.int64)
    end = windows["end"].to_numpy(np.int64)
    unknown = sorted(set(chroms) - set(chrom_sizes))
    if unknown:
        row = int(np.flatnonzero(chroms == unknown[0])[0])
        shown = ", ".join(list(chrom_sizes)[:12]) + (" ..." if len(chrom_sizes) > 12 else "")
        raise KeyError(
            f"window {row + 1} is on {unknown[0]!r}, which this genome does not have "
            f"({len(unknown)} unknown sequence names); it has {len(chrom_sizes)}: {shown}"
        )
    sizes = np.array([chrom_sizes[chrom] for chrom in chroms], dtype=np.int64)
    bad = np.flatnonzero((start < 0) | (end <= start) | (end > sizes))
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"window {row + 1}, {chroms[row]}:{start[row] + 1:,}-{end[row]:,} (1-based), is empty or runs outside "
            f"{chroms[row]}, whose valid range is 1-{sizes[row]:,} ({len(bad)} window{'s' if len(bad) > 1 else ''} "
            "like this); check that the windows belong to this genome assembly"
        )
    too_long = np.flatnonzero(end - start > context)
    if len(too_long):
        row = int(too_long[0])
        raise ValueError(
            f"window {row + 1}, {chroms[row]}:{start[row] + 1:,}-{end[row]:,}, is {end[row] - start[row]:,} bp, longer "
            f"than the model's {context}-bp context ({len(too_long)} window{'s' if len(too_long) > 1 else ''} like "
            f"this); use windows of at most {context} bp"
        )
    context_start = np.clip((start + end - context) // 2, 0, np.maximum(sizes - context, 0))
    return windows.assign(context_start=context_start, context_end=np.minimum(context_start + context, sizes))


# ---------------------------------------------------------------------------- embeddings
def _last_hidden_state(model: MaskedLM, ids: torch.Tensor) -> torch.Tensor:
    """Last hidden layer, shape=(batch, length, hidden)."""
    net = model.model
    if hasattr(net, "cls") and hasattr(net, "model"):  # GPN: the encoder without the MLM head
        return net.model(input_ids=ids).last_hidden_state
    return net(input_ids=ids, output_hidden_states=True).hidden_states[-1]


def _strand_means(
    model: MaskedLM, ids: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean last hidden state over positions ``lo <= i < hi`` of each row of ``ids``, forward
    and on the reverse complement (where the same bases sit at ``L - hi .. L - lo - 1``).

    Returns two float32 tensors of shape=(batch, hidden).
    """
    device = model.device
    length = ids.shape[1]
    reverse = complement_ids(model)[ids].flip(1)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        hidden = _last_hidden_state(model, torch.cat([ids, reverse]))
    with torch.inference_mode():
        hidden = hidden.float()
        positions = torch.arange(length, device=device)
        inside = ((positions >= lo[:, None]) & (positions < hi[:, None])).float()
        weights = inside / inside.sum(dim=1, keepdim=True)
        forward, backward = hidden.chunk(2)
        return (
            torch.einsum("bl,bld->bd", weights, forward),
            torch.einsum("bl,bld->bd", weights.flip(1), backward),
        )


def window_embeddings(
    model: MaskedLM,
    genome: Genome,
    windows: pd.DataFrame,
    context: int | None = None,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Mean last-layer embedding of each window, forward and reverse complement averaged.

    Parameters
    ----------
    model : a loaded masked LM (:func:`glm_core.models.load_masked_lm`); never modified.
    windows : ``chrom, start, end`` (0-based half-open), each at most ``context`` bp; other
        columns are ignored.
    context : bp of sequence the model sees around each window; None: ``model.context``
        (512 for the bundled model).
    batch_size : windows per forward pass (each pass also runs their reverse complements);
        the result does not depend on it beyond float rounding.
    progress : called as ``progress(windows_done, windows_total)`` after each batch.

    Returns
    -------
    np.ndarray, shape=(len(windows), hidden), float32, in the row order of ``windows``.
    """
    context = int(context or model.context)
    table = embedding_contexts(windows, genome.chrom_sizes, context)
    total = len(table)
    device = model.device
    batch_size = int(batch_size or default_batch_size(device, context))
    chroms = table["chrom"].astype(str).to_numpy()
    context_start = table["context_start"].to_numpy(np.int64)
    context_end = table["context_end"].to_numpy(np.int64)
    offsets = np.stack([table["start"].to_numpy(np.int64), table["end"].to_numpy(np.int64)], axis=1)
    offsets -= context_start[:, None]
    out: np.ndarray | None = None
    for first in range(0, total, batch_size):
        rows = range(first, min(first + batch_size, total))
        ids = np.full((len(rows), context), model.pad_id, dtype=np.int64)
        for j, row in enumerate(rows):
            sequence = genome.fetch(chroms[row], int(context_start[row]), int(context_end[row]))
            ids[j, : len(sequence)] = model.encode(sequence)
        bounds = torch.from_numpy(offsets[first : first + len(rows)]).to(device)
        forward, backward = _strand_means(model, torch.from_numpy(ids).to(device), bounds[:, 0], bounds[:, 1])
        averaged = ((forward + backward) / 2).cpu().numpy()
        if out is None:
            out = np.empty((total, averaged.shape[1]), dtype=np.float32)
        out[first : first + len(rows)] = averaged
        if progress is not None:
            progress(first + len(rows), total)
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out


def estimate_seconds_per_window(
    model: MaskedLM, context: int | None = None, *, batch_size: int | None = None, n_windows: int | None = None
) -> float:
    """Seconds :func:`window_embeddings` spends on one window on ``model.device`` (timed).

    Times one batch of ``n_windows`` random windows (both strands). By default that is 4
    windows on a CPU, timed once (about 3 s for the bundled model on two cores; the first
    pass costs little extra there), and a batch of up to 256 on a GPU, timed after a warm-up
    pass, since small batches there would mostly time kernel launches. The CPU batch is
    smaller than :func:`window_embeddings` uses, so the estimate errs on the slow side.
    """
    context = int(context or model.context)
    on_cpu = model.device.type == "cpu"
    if n_windows is None:
        n_windows = 4 if on_cpu else min(256, batch_size or default_batch_size(model.device, context))
    n_windows = max(1, int(n_windows))
    rng = np.random.default_rng(0)
    ids = torch.from_numpy(model.nucleotide_ids[rng.integers(0, 4, size=(n_windows, context))]).to(model.device)
    lo = torch.full((n_windows,), max(0, context // 2 - 50), device=model.device)
    hi = torch.clamp(lo + 100, max=context)
    timings = []
    for _ in range(1 if on_cpu else 2):  # on a GPU the first pass warms up (kernel selection, allocations)
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)
        began = time.perf_counter()
        forward, _ = _strand_means(model, ids, lo, hi)
        forward.cpu()
        timings.append(time.perf_counter() - began)
    return timings[-1] / n_windows


# ---------------------------------------------------------------------------- k-mer spectrum
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


# ---------------------------------------------------------------------------- evaluation
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


# ---------------------------------------------------------------------------- cache
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
    partial = path.with_name(path.name + ".part")
    table = embedding_table(windows[["chrom", "start", "end"]], embeddings)
    write_embedding_table(
        table,
        partial,
        {"model": str(model.path), "genome": str(genome.path), "context": int(context or model.context)},
    )
    partial.replace(path)
    return embeddings


# ---------------------------------------------------------------------------- tables
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
