"""Genome-wide LLR backgrounds: quantile tables of every possible SNV's score, shipped small.

A background is computed once per genome and model by ``glm-explore score-genome`` (from all
~59 M possible SNVs of the embedded genome with a one-pass model, or from a random sample of
positions for a slow masked model) and stored as quantiles, not scores: for the score
(``llr`` and, where calibrated, ``cllr``) and each group (``all`` SNVs, then each consequence
class of :data:`glm_core.consequence.CONSEQUENCES` present), :data:`N_QUANTILES` quantiles at
levels 0, 0.1, ..., 100 %. A percentile read from it says the share of the genome's SNVs
(of that group) whose score is at most the given one, to about 0.1 %.

File: ``llr_background.npz`` in a model folder or a score-genome ``--out-dir``; arrays
``groups`` (str), ``llr`` and ``cllr`` (float32, shape=(len(groups), 1001); NaN rows for
empty groups), ``counts`` (int64, SNVs per group), and ``meta`` (a JSON string: model,
weights hash, genome name and hash, how the SNVs were chosen).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .outputs import atomic_path

N_QUANTILES = 1001
BACKGROUND_FILE = "llr_background.npz"
# meta["sampling"] of a background from a score-genome run restricted to --regions.
REGIONS_SAMPLING = "every SNV of the regions"
LEVELS = np.linspace(0.0, 100.0, N_QUANTILES)


@dataclass
class LlrBackground:
    """Quantile tables of a genome-wide LLR (and cLLR) distribution, overall and per consequence.

    ``quantiles[score]`` has shape=(len(groups), N_QUANTILES); ``groups[0]`` is ``"all"``.
    """

    groups: list[str]
    quantiles: dict[str, np.ndarray]
    counts: np.ndarray
    meta: dict = field(default_factory=dict)

    def describe(self) -> str:
        """One line for a VCF header or the UI: what the percentiles rank against."""
        meta = self.meta
        how = meta.get("sampling", "every possible SNV")
        scope = "the scored regions only" if how == REGIONS_SAMPLING else "genome-wide"
        return (
            f"{scope}: {how} of {meta.get('genome', 'the genome')} scored with {meta.get('model', 'the model')} "
            f"({int(self.counts[0]):,} SNVs)"
        )

    def percentile(self, values, score: str = "llr", group: str = "all") -> np.ndarray:
        """Percentage (0..100) of the background's SNVs in ``group`` whose ``score`` is <= each value.

        Interpolated between quantiles; NaN for NaN values or a group the background lacks.
        """
        values = np.asarray(values, dtype=np.float64)
        if score not in self.quantiles or group not in self.groups:
            return np.full(values.shape, np.nan)
        return quantile_percentile(values, self.quantiles[score][self.groups.index(group)])

    def matches(self, genome_sha256: str | None, weights_sha256: str | None) -> bool:
        """Whether this background was computed on this genome and these weights (None: not checked)."""
        meta = self.meta
        return all(
            given is None or meta.get(key) in (None, given)
            for key, given in (("genome_sha256", genome_sha256), ("weights_sha256", weights_sha256))
        )


def quantile_percentile(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Percentile of each value against one row of quantiles (levels :data:`LEVELS`), shape of ``values``.

    Where several quantiles are equal (a score shared by many SNVs) a value equal to them
    gets the highest level, as "share of SNVs at most this score" asks.
    """
    values = np.asarray(values, dtype=np.float64)
    quantiles = np.asarray(quantiles, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if np.isnan(quantiles).all():
        return out
    levels = np.linspace(0.0, 100.0, len(quantiles))
    # keep the last level of each run of equal quantiles
    keep = np.append(np.diff(quantiles) > 0, True)
    xs, ys = quantiles[keep], levels[keep]
    finite = ~np.isnan(values)
    out[finite] = np.interp(values[finite], xs, ys, left=0.0, right=100.0)
    out[finite & (values < xs[0])] = 0.0
    return out


def background_from_scores(
    scores: dict[str, np.ndarray], consequence: np.ndarray | None, groups: list[str], meta: dict | None = None
) -> LlrBackground:
    """Quantile tables from SNV scores.

    Parameters
    ----------
    scores : ``{"llr": shape=(n,), "cllr": shape=(n,)}`` (NaNs ignored; ``cllr`` optional).
    consequence : integer code of each SNV's group in ``groups[1:]`` (0 = ``groups[1]``), -1
        for none, shape=(n,); None for a genome-wide table only.
    groups : names of the consequence codes (``"all"`` is put first).
    """
    names = ["all", *groups] if consequence is not None else ["all"]
    quantiles, counts = {}, np.zeros(len(names), dtype=np.int64)
    for score, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        table = np.full((len(names), N_QUANTILES), np.nan, dtype=np.float32)
        for row, name in enumerate(names):
            member = ~np.isnan(values)
            if row > 0:
                member &= consequence == row - 1
            if member.any():
                table[row] = np.quantile(values[member], LEVELS / 100.0)
            if score == "llr":
                counts[row] = int(member.sum())
        quantiles[score] = table
    return LlrBackground(names, quantiles, counts, dict(meta or {}))


def write_background(background: LlrBackground, path: str | Path) -> Path:
    """Save as ``.npz`` atomically (the arrays in the module docstring)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        groups=np.array(background.groups),
        counts=background.counts,
        meta=np.array(json.dumps(background.meta)),
        **background.quantiles,
    )
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_bytes(buffer.getvalue())
    return path


def read_background(path: str | Path) -> LlrBackground:
    """Read a background :func:`write_background` wrote."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"LLR background not found: {path}; `glm-explore score-genome` writes one")
    with np.load(path, allow_pickle=False) as data:
        if "groups" not in data or "llr" not in data:
            raise InputError(f"{path} is not an LLR background (it lacks the groups and llr quantile arrays)")
        quantiles = {score: data[score] for score in ("llr", "cllr") if score in data}
        return LlrBackground([str(g) for g in data["groups"]], quantiles, data["counts"], json.loads(str(data["meta"])))


def model_background(model) -> LlrBackground | None:
    """The ``llr_background.npz`` shipped in a model's folder, or None."""
    folder = getattr(model, "path", None)
    if folder is None or not (Path(folder) / BACKGROUND_FILE).is_file():
        return None
    return read_background(Path(folder) / BACKGROUND_FILE)
