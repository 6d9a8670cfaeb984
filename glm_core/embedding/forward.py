"""Embedding windows with a masked LM: the context each window sees and the forward pass.

See :mod:`glm_core.embedding` for how a window is placed in its context and how the two
strands are averaged. The model is reached only through the
:class:`~glm_core.models.MaskedLM` wrapper (``hidden_states``, ``reverse_complement_ids``).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..genome import Genome
from ..models import MaskedLM
from ..scoring import Progress, default_batch_size


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
        raise InputError(
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


def _strand_means(
    model: MaskedLM, ids: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean last hidden state over positions ``lo <= i < hi`` of each row of ``ids``, forward
    and on the reverse complement (where the same bases sit at ``L - hi .. L - lo - 1``).

    Returns two float32 tensors of shape=(batch, hidden).
    """
    device = model.device
    length = ids.shape[1]
    reverse = model.reverse_complement_ids(ids)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        hidden = model.hidden_states(torch.cat([ids, reverse]))
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
