"""Scoring speed measured on the device at hand, and time estimates built from it.

Estimates shown to users (the app's pages, the CLI) come from a short probe of the model on
its current device, never from constants: the same masked LM scores ~1 position/s on a
2-core CPU and ~4,500 on an H200, and a one-pass model 100-1,000x more. A probe scores a
seeded random sequence through the model's own ``sequence_site_probabilities``, so it times
exactly what a page or command will run (both strands, batching, padding).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .errors import InputError

__all__ = ["describe_estimate", "estimate_seconds", "format_duration", "measure_rate", "probe_positions"]


def probe_positions(model) -> int:
    """Positions a probe scores: enough to time a batch, short enough to stay a few seconds
    even for a masked LM on a laptop CPU (one 512-bp window a position)."""
    device = getattr(model, "device", torch.device("cpu"))
    if getattr(model, "kind", "") == "masked":
        return 8 if device.type == "cpu" else 1024
    return 4096


def _synchronize(device) -> None:
    if getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize(device)


def measure_rate(model, *, positions: int | None = None, warm_up: bool | None = None, seed: int = 0) -> float:
    """Positions a second that ``model.sequence_site_probabilities`` scores on its device.

    Parameters
    ----------
    model : a :class:`~glm_core.scoring.SiteModel`.
    positions : positions the timed call scores (default :func:`probe_positions`).
    warm_up : run a small call first so one-off costs (cuDNN kernel choice, allocator) are not
        timed; default on for GPUs, off on a CPU, where they are small and a call is slow.

    Returns positions/s (> 0).
    """
    n = int(positions or probe_positions(model))
    if n < 1:
        raise InputError(f"a rate probe needs at least one position; got {n}")
    device = getattr(model, "device", torch.device("cpu"))
    flank = int(model.context_flank)
    rng = np.random.default_rng(seed)
    sequence = "".join(rng.choice(list("ACGT"), size=n + 2 * flank))
    scored = np.arange(flank, flank + n)
    if warm_up if warm_up is not None else device.type != "cpu":
        model.sequence_site_probabilities(sequence, scored[: min(n, 64)])
    _synchronize(device)
    began = time.perf_counter()
    model.sequence_site_probabilities(sequence, scored)
    _synchronize(device)
    return n / max(time.perf_counter() - began, 1e-9)


def estimate_seconds(n_positions: int, rate: float, *, strands: int = 1) -> float:
    """Seconds to score ``n_positions`` (times ``strands`` calls) at ``rate`` positions/s."""
    if rate <= 0:
        raise InputError(f"a rate must be positive positions/s; got {rate}")
    return n_positions * strands / rate


def format_duration(seconds: float) -> str:
    """'under 1 s', '12 s', '3 min', '1.5 h': rounded for a reader, not a log."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_rate(rate: float) -> str:
    """Positions/s with sensible precision: '1.3', '11', '4,545', '826,011'."""
    return f"{rate:.1f}" if rate < 10 else f"{rate:,.0f}"


def describe_estimate(n_positions: int, rate: float, *, strands: int = 1, where: str = "here") -> str:
    """E.g. 'about 3 min for 2,000 bp at 11 positions/s measured here'."""
    seconds = estimate_seconds(n_positions, rate, strands=strands)
    both = " (both strands)" if strands == 2 else ""
    duration = format_duration(seconds)
    return (
        f"{'' if seconds < 1 else 'about '}{duration} for {n_positions:,} bp{both} "
        f"at {format_rate(rate)} positions/s measured {where}"
    )
