"""Two site models at one region: where they disagree, base by base and SNV by SNV.

For a region read on one strand, both models' per-position distributions over A, C, G, T
(:func:`glm_core.scoring.site_probabilities`, fwd/RC averaged) are set side by side with

* ``kl_bits``: the Kullback-Leibler divergence KL(model 1 || model 2) = sum_n p1(n)
  log2(p1(n) / p2(n)) in bits, model 1 being the reference distribution (the model chosen
  first, the sidebar's); probabilities are clipped at 1e-12 so that it stays finite;
* ``delta_p_ref``: P2(ref) - P1(ref) (positive: model 2 is surer of the reference base);
* every SNV's LLR, ``log P(alt) - log P(ref)`` (natural log), under both models, and the
  Pearson and Spearman correlations of those LLRs over the region.

Tables are 0-based (``pos``) in the region's 5'->3' order on its strand, as logo position
tables are; :func:`joined_tsv` writes the joined table with ``pos`` 1-based.

Never imports Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import NUCLEOTIDES, Genome
from .logo import LLR_COLUMNS, PROBABILITY_COLUMNS, position_table

KL_CLIP = 1e-12
# Columns of ModelComparison.positions (0-based pos) and of the joined table.
POSITION_COLUMNS = [
    "chrom",
    "pos",
    "strand",
    "ref",
    *[f"{column}_1" for column in PROBABILITY_COLUMNS],
    "p_ref_1",
    *[f"{column}_2" for column in PROBABILITY_COLUMNS],
    "p_ref_2",
    "kl_bits",
    "delta_p_ref",
]
SNV_COLUMNS = ["chrom", "pos", "strand", "ref", "alt", "llr_1", "llr_2"]


def kl_divergence_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) of each row in bits; ``p``, ``q`` shape=(n, 4), rows summing to 1. Returns shape=(n,)."""
    p = np.clip(np.asarray(p, dtype=np.float64), KL_CLIP, 1.0)
    q = np.clip(np.asarray(q, dtype=np.float64), KL_CLIP, 1.0)
    return np.maximum((p * (np.log2(p) - np.log2(q))).sum(axis=1), 0.0)


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlation of the finite pairs; NaN when fewer than 3 or a side is constant."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    pearson = float(np.corrcoef(x, y)[0, 1])
    rank_x = pd.Series(x).rank().to_numpy()
    rank_y = pd.Series(y).rank().to_numpy()
    spearman = float(np.corrcoef(rank_x, rank_y)[0, 1])
    return pearson, spearman


@dataclass(frozen=True)
class ModelComparison:
    """Two models' predictions at one region.

    Attributes
    ----------
    chrom, start, end, strand : the region (0-based half-open) and the strand read.
    name_1, name_2 : the models' names (model 1 is the reference of the KL divergence).
    positions : one row per base, columns :data:`POSITION_COLUMNS` (``pos`` 0-based, bases and
        probabilities on ``strand``; ``_1``/``_2`` name the model).
    snvs : one row per SNV of an A/C/G/T base, columns :data:`SNV_COLUMNS`.
    pearson, spearman : correlation of ``llr_1`` and ``llr_2`` over ``snvs``.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name_1: str
    name_2: str
    positions: pd.DataFrame
    snvs: pd.DataFrame
    pearson: float
    spearman: float

    def joined_table(self) -> pd.DataFrame:
        """One row per SNV with its position's columns: :data:`SNV_COLUMNS` then the rest of
        :data:`POSITION_COLUMNS` (``pos`` 0-based)."""
        extra = [column for column in POSITION_COLUMNS if column not in ("chrom", "strand", "ref")]
        return self.snvs.merge(self.positions[extra], on="pos", how="left", validate="many_to_one")

    def summary(self) -> dict:
        """Numbers for one line of text: names, mean and max KL (bits), mean |delta P(ref)|, correlations."""
        return {
            "model_1": self.name_1,
            "model_2": self.name_2,
            "n_positions": len(self.positions),
            "n_snvs": len(self.snvs),
            "mean_kl_bits": float(self.positions["kl_bits"].mean()),
            "max_kl_bits": float(self.positions["kl_bits"].max()),
            "mean_abs_delta_p_ref": float(self.positions["delta_p_ref"].abs().mean()),
            "pearson": self.pearson,
            "spearman": self.spearman,
        }


def compare_probabilities(
    genome: Genome,
    chrom: str,
    start: int,
    end: int,
    strand: str,
    probabilities_1: np.ndarray,
    probabilities_2: np.ndarray,
    name_1: str,
    name_2: str,
) -> ModelComparison:
    """Compare two models' predictions of ``[start, end)`` (0-based half-open) on ``strand``.

    ``probabilities_1`` and ``probabilities_2`` have shape=(end - start, 4), columns A, C,
    G, T of ``strand``, in its 5'->3' order, as ``site_probabilities(model, genome, chrom,
    start, end, strand)`` returns them.
    """
    first = position_table(genome, chrom, start, end, strand, probabilities_1, with_llr=True)
    second = position_table(genome, chrom, start, end, strand, probabilities_2, with_llr=True)
    positions = first[["chrom", "pos", "strand", "ref"]].copy()
    for suffix, table in (("_1", first), ("_2", second)):
        for column in [*PROBABILITY_COLUMNS, "p_ref"]:
            positions[column + suffix] = table[column].to_numpy()
    positions["kl_bits"] = kl_divergence_bits(
        first[PROBABILITY_COLUMNS].to_numpy(), second[PROBABILITY_COLUMNS].to_numpy()
    )
    positions["delta_p_ref"] = positions["p_ref_2"] - positions["p_ref_1"]
    snvs = _snv_pairs(first, second)
    pearson, spearman = _correlations(snvs["llr_1"].to_numpy(), snvs["llr_2"].to_numpy())
    return ModelComparison(
        chrom, start, end, strand, name_1, name_2, positions[POSITION_COLUMNS], snvs, pearson, spearman
    )


def _snv_pairs(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    llr_1 = first[LLR_COLUMNS].to_numpy()
    llr_2 = second[LLR_COLUMNS].to_numpy()
    codes = pd.Categorical(first["ref"], categories=list(NUCLEOTIDES)).codes
    rows, alts = np.nonzero((codes[:, None] >= 0) & (np.arange(4)[None, :] != codes[:, None]))
    return pd.DataFrame(
        {
            "chrom": first["chrom"].to_numpy()[rows],
            "pos": first["pos"].to_numpy()[rows],
            "strand": first["strand"].to_numpy()[rows],
            "ref": first["ref"].to_numpy()[rows],
            "alt": np.array(list(NUCLEOTIDES))[alts],
            "llr_1": llr_1[rows, alts],
            "llr_2": llr_2[rows, alts],
        }
    )


def compare_models(
    model_1,
    model_2,
    genome: Genome,
    chrom: str,
    start: int,
    end: int,
    strand: str = "+",
    *,
    batch_size: int | None = None,
    progress=None,
) -> ModelComparison:
    """Score ``[start, end)`` (0-based half-open) with two site models and compare them.

    ``progress(done, total)`` counts positions over both models (``2 * (end - start)``).
    """
    from .scoring import site_probabilities

    if strand not in ("+", "-"):
        raise InputError(f"strand must be '+' or '-'; got {strand!r}")
    length = end - start
    probabilities = []
    for index, model in enumerate((model_1, model_2)):
        step = None
        if progress is not None:

            def step(done: int, total: int, offset: int = index * length) -> None:
                progress(offset + done, 2 * length)

        probabilities.append(
            site_probabilities(model, genome, chrom, start, end, strand, batch_size=batch_size, progress=step)
        )
    return compare_probabilities(
        genome, chrom, start, end, strand, *probabilities, str(model_1.name), str(model_2.name)
    )


def joined_tsv(comparison: ModelComparison) -> str:
    """Tab-separated joined table (:meth:`ModelComparison.joined_table`), ``pos`` 1-based, sorted
    by genomic position then alt, floats to 6 significant digits; ``_1`` is ``name_1``."""
    table = comparison.joined_table().sort_values(["pos", "alt"], kind="stable")
    table = table.assign(pos=table["pos"] + 1)
    return table.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")
