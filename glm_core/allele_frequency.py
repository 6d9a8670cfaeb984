"""Allele frequency vs score: how LLR and cLLR change from rare to common variants.

Selection keeps damaging alleles rare, so in a population VCF the mean score of rare SNVs
should lie below that of common ones (the "AF vs score" figure of genomic-LM reviews). When
a VCF carries allele frequencies, :func:`allele_frequencies` reads them per ALT allele, from
``INFO/AF`` (Number=A: one value per ALT) or else ``AC / AN``; :func:`frequency_summary` bins
the scored SNVs by frequency (:data:`AF_BINS`, rare -> common) and gives, per bin and score,
the count, mean and a normal 95 % confidence interval of the mean (mean +- 1.96 SE).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .vcf import Vcf

# Right-open bins of allele frequency (the last one closed at 1), rare -> common.
AF_BINS = (0.0, 0.001, 0.01, 0.05, 0.2, 0.5, 1.0)
AF_LABELS = ("<0.1%", "0.1-1%", "1-5%", "5-20%", "20-50%", ">=50%")
SUMMARY_COLUMNS = ["af_bin", "score", "n", "mean", "ci_low", "ci_high"]


def _info_fields(info: str) -> dict[str, str]:
    fields = {}
    for entry in info.split(";"):
        key, _, value = entry.partition("=")
        fields[key] = value
    return fields


def _number(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def allele_frequencies(vcf: Vcf, alleles: pd.DataFrame) -> np.ndarray:
    """The frequency of each ALT allele, shape=(len(alleles),); NaN where the VCF gives none.

    ``alleles`` has ``record`` (0-based) and ``allele`` (1-based ALT index), as
    :func:`glm_core.vcf.vcf_alleles` and :func:`glm_core.variants.score_vcf` return.
    ``INFO/AF`` is used when present (the value of that ALT), else ``AC / AN``.
    """
    out = np.full(len(alleles), np.nan)
    for row, (record, allele) in enumerate(zip(alleles["record"].to_numpy(), alleles["allele"].to_numpy())):
        if allele < 1:
            continue
        fields = _info_fields(vcf.records[record][7])
        if "AF" in fields:
            values = fields["AF"].split(",")
            out[row] = _number(values[allele - 1]) if allele <= len(values) else np.nan
        elif "AC" in fields and "AN" in fields:
            counts = fields["AC"].split(",")
            number = _number(fields["AN"])
            count = _number(counts[allele - 1]) if allele <= len(counts) else np.nan
            out[row] = count / number if number > 0 else np.nan
    return out


def frequency_summary(scored: pd.DataFrame, frequencies: np.ndarray, scores=("llr", "cllr")) -> pd.DataFrame:
    """Count, mean and 95 % CI of each score per allele-frequency bin, rare -> common.

    Parameters
    ----------
    scored : a scored allele table (``status``, the score columns).
    frequencies : allele frequency per row of ``scored`` (0..1; NaN: not used).
    scores : score columns to summarise (those missing from ``scored`` are skipped).

    Returns columns :data:`SUMMARY_COLUMNS`; ``af_bin`` an ordered categorical of
    :data:`AF_LABELS`; bins without SNVs have n = 0 and NaN statistics; one SNV gives a NaN CI.
    """
    frequencies = np.asarray(frequencies, dtype=np.float64)
    usable = (scored["status"] == "scored").to_numpy() & ~np.isnan(frequencies)
    usable &= (frequencies >= 0) & (frequencies <= 1)
    bins = np.clip(np.searchsorted(AF_BINS, frequencies, side="right") - 1, 0, len(AF_LABELS) - 1)
    rows = []
    for score in [s for s in scores if s in scored.columns]:
        values = scored[score].to_numpy(dtype=np.float64)
        for index, label in enumerate(AF_LABELS):
            member = values[usable & (bins == index) & ~np.isnan(values)]
            n = len(member)
            mean = float(member.mean()) if n else float("nan")
            half = 1.96 * float(member.std(ddof=1)) / np.sqrt(n) if n > 1 else float("nan")
            rows.append((label, score, n, mean, mean - half, mean + half))
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    table["af_bin"] = pd.Categorical(table["af_bin"], categories=AF_LABELS, ordered=True)
    return table


def frequency_figure(summary: pd.DataFrame):
    """Plotly figure: mean score (with its 95 % CI) per frequency bin, one line per score."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for score, part in summary[summary["n"] > 0].groupby("score", sort=False):
        figure.add_trace(
            go.Scatter(
                x=part["af_bin"].astype(str),
                y=part["mean"],
                mode="lines+markers",
                name=score,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": part["ci_high"] - part["mean"],
                    "arrayminus": part["mean"] - part["ci_low"],
                },
                customdata=part["n"],
                hovertemplate="%{x}: mean %{y:.3f} (n=%{customdata})<extra></extra>",
            )
        )
    figure.update_layout(
        xaxis_title="allele frequency (rare -> common)",
        yaxis_title="mean score (natural log)",
        height=320,
        margin={"l": 50, "r": 10, "t": 20, "b": 50},
    )
    return figure
