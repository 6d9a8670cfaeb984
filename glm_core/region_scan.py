"""The saturation scan of a region as the table users download.

:func:`region_scan_tsv` writes the SNV table of :func:`glm_core.variants.region_snvs` (one
row per possible SNV, 0-based ``pos``) as tab-separated text with ``pos`` 1-based, most
damaging (lowest LLR) first: the variant page's "All SNVs of the region" download.
"""

from __future__ import annotations

import pandas as pd


def region_scan_table(snvs: pd.DataFrame) -> pd.DataFrame:
    """``snvs`` with ``pos`` 1-based, sorted by ``llr`` (lowest first); a new table."""
    return snvs.assign(pos=snvs["pos"] + 1).sort_values("llr")


def region_scan_tsv(snvs: pd.DataFrame) -> str:
    """Tab-separated text of :func:`region_scan_table`, floats to 6 significant digits, ``\\n`` line ends."""
    return region_scan_table(snvs).to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")
