"""Chromosome-name aliases: matching the names of a variant or track file to a genome's.

Files made for one assembly often name its sequences differently (``1``, ``chr1``,
``chr01``, ``chromosome_1``). :func:`resolve_chromosomes` matches such names to the
sequence names of a :class:`glm_core.genome.Genome` (its ``chrom_sizes``), exactly where
possible and through an alias key otherwise, and says how each name was matched.
"""

from __future__ import annotations

import pandas as pd

ALIAS_PREFIXES = ("chromosome", "chrom", "chr")


def alias_key(name: str) -> str:
    """The form two names must share to be aliases of each other.

    Lower case, without a leading ``chromosome``/``chrom``/``chr`` (and a ``_`` or ``-``
    after it), a number without leading zeros, and ``m`` written ``mt``:
    ``alias_key("chr01") == alias_key("1") == "1"``, ``alias_key("chrM") == "mt"``.
    """
    key = str(name).strip().lower()
    for prefix in ALIAS_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):].lstrip("_-")
            break
    if key.isdigit():
        key = str(int(key))
    return "mt" if key in ("m", "mt") else key


def resolve_chromosomes(names, chrom_sizes: dict[str, int]) -> pd.DataFrame:
    """Match variant-file chromosome names to genome sequence names.

    An exact name wins; otherwise names match when they agree after dropping a leading
    ``chr``/``chrom``/``chromosome`` and leading zeros of a number, with ``M`` = ``MT``:
    ``1``, ``chr1``, ``01`` and ``chr01`` all match one another.

    Returns
    -------
    pd.DataFrame with columns ``vcf_chrom``, ``genome_chrom`` (None unless matched) and
    ``match``: ``exact``, ``alias``, ``ambiguous`` (several genome names fit) or ``unknown``.
    """
    by_key: dict[str, list[str]] = {}
    for chrom in chrom_sizes:
        key = alias_key(chrom)
        if key:
            by_key.setdefault(key, []).append(chrom)
    rows = []
    for name in pd.unique(pd.Series(list(names), dtype=object)):
        if name in chrom_sizes:
            rows.append((name, name, "exact"))
            continue
        candidates = by_key.get(alias_key(name), []) if alias_key(name) else []
        if len(candidates) == 1:
            rows.append((name, candidates[0], "alias"))
        else:
            rows.append((name, None, "ambiguous" if candidates else "unknown"))
    return pd.DataFrame(
        {
            "vcf_chrom": pd.Series([row[0] for row in rows], dtype=object),
            "genome_chrom": pd.Series([row[1] for row in rows], dtype=object),
            "match": [row[2] for row in rows],
        }
    )
