"""Windows of the genome sampled by region class, for embedding maps.

Window tables are 0-based half-open: columns ``chrom, start, end, region_class`` (plus
documented extras).
"""

from __future__ import annotations

import zlib
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..annotation import Annotation
from ..region_classes import REGION_CLASSES
from ..errors import InputError


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
            shown = ", ".join(list(chrom_sizes)[:30])
            raise InputError(f"chromosomes {unknown} are not in this genome; it has {shown}")
        tiles = tiles[tiles["chrom"].isin(chroms)]
    labels = tiles["region_class"].astype(str).to_numpy()
    classes = _classes_to_sample(classes, labels, on_chosen_chroms=bool(chroms))
    if n_windows < len(classes):
        raise ValueError(f"n_windows={n_windows} is fewer than the {len(classes)} classes asked for; ask for more")
    sizes = tiles["chrom"].map(chrom_sizes).to_numpy(np.int64)
    frames = []
    for index, name in enumerate(classes):
        need = n_windows // len(classes) + (index < n_windows % len(classes))
        chosen = labels == name
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        frames.extend(
            _class_windows(
                name,
                tiles["chrom"].to_numpy()[chosen],
                tiles["start"].to_numpy(np.int64)[chosen],
                tiles["end"].to_numpy(np.int64)[chosen],
                sizes[chosen],
                need,
                window_length,
                rng,
            )
        )
    windows = pd.concat(frames, ignore_index=True)
    windows["start"] = windows["start"].astype(np.int64)
    windows["end"] = windows["start"] + window_length
    order = {chrom: i for i, chrom in enumerate(chrom_sizes)}
    windows = windows.assign(_order=windows["chrom"].map(order)).sort_values(["_order", "start"], kind="stable")
    windows["chrom"] = windows["chrom"].astype(str)
    return windows[["chrom", "start", "end", "region_class", "inside"]].reset_index(drop=True)


def _classes_to_sample(classes: Sequence[str] | None, labels: np.ndarray, on_chosen_chroms: bool) -> list[str]:
    """The requested classes, checked against the classes present in ``labels`` (all present when None)."""
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
            where = " on the chosen sequences" if on_chosen_chroms else ""
            raise ValueError(
                f"this annotation has no {', '.join(absent)} bases{where}; classes present: {', '.join(present)}"
            )
    if not classes:
        raise ValueError("no region classes to sample; pass at least one class present in the annotation")
    return classes


def _class_windows(
    name: str,
    chrom: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    size: np.ndarray,
    need: int,
    window_length: int,
    rng: np.random.Generator,
) -> list[pd.DataFrame]:
    """Up to ``need`` windows of one class from its intervals ``[start, end)`` on ``chrom`` (chromosome
    lengths ``size``): whole-window slots first, then windows centred on shorter intervals."""
    length = end - start
    slots = length // window_length
    phase = rng.integers(0, length - slots * window_length + 1)
    cumulative = np.cumsum(slots)
    total = int(cumulative[-1]) if len(cumulative) else 0
    pick = np.sort(rng.choice(total, size=min(need, total), replace=False)) if total else np.zeros(0, np.int64)
    which = np.searchsorted(cumulative, pick, side="right")
    starts = start[which] + phase[which] + (pick - (cumulative - slots)[which]) * window_length
    frames = [pd.DataFrame({"chrom": chrom[which], "start": starts, "region_class": name, "inside": True})]
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
    return frames
