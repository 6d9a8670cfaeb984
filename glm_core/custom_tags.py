"""Bring-your-own tags: check a table of per-gene values or labels before training a generator on it.

The steps are those of ``glm-explore train-generator --tag-table``: the table is read and
joined to the promoters by :func:`glm_core.promoters.read_tag_table` (gene, transcript or
gene-name IDs in the first column; numbers, binned into quantiles of the training genes, or
labels in the second), then the independent k-mer oracle is fitted on the tags
(:func:`glm_core.oracle.fit_oracle`). The oracle's held-out AUROC says whether promoter
sequence carries the tag at all; a generator trained on tags that the oracle cannot read
cannot be checked either.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .oracle import KmerOracle, fit_oracle, ordered_labels
from .promoters import PROMOTER_COLUMNS, TAG_TABLE_HELP, matching_ids, read_tag_table, tag_family_column

# More labels than this is a column of free text or IDs, not tags.
MAX_LABELS = 20
# Labels with fewer training promoters than this teach a generator little.
FEW_PROMOTERS = 50


@dataclass
class TagTableSummary:
    """What a tag table gives: matches, tag counts and the oracle fitted on the tags.

    Attributes
    ----------
    family : the tag family's column name (as ``train-generator --tag-family`` takes it).
    kind : ``numeric`` (values binned into quantiles) or ``labels``.
    n_ids, n_ids_matched : distinct IDs in the table; those that match a gene, transcript or gene name.
    n_promoters : promoters that got a tag (one per transcript, training and held out).
    counts : one row a label, lowest first: ``label, training, held_out`` (promoters) and, for
        numeric tags, ``min_value, max_value``.
    oracle : the k-mer oracle fitted on the training genes' tags.
    notes : things worth knowing before training (few promoters for a label, dropped values...).
    """

    family: str
    kind: str
    n_ids: int
    n_ids_matched: int
    n_promoters: int
    counts: pd.DataFrame
    oracle: KmerOracle
    notes: list[str] = field(default_factory=list)

    @property
    def heldout_auroc(self) -> float | None:
        """Oracle AUROC for the top vs the bottom label on held-out genes; None without both there."""
        value = self.oracle.metrics.get("heldout_auroc")
        return None if value is None else float(value)


def summarize_tag_table(
    table: pd.DataFrame, promoters: pd.DataFrame, n_bins: int = 3, family: str | None = None, seed: int = 0
) -> TagTableSummary:
    """Join a tag table to ``promoters``, count the tags and fit the k-mer oracle on them.

    Parameters
    ----------
    table : first column gene/transcript IDs or gene names, second column numbers or labels.
    promoters : :func:`glm_core.promoters.promoter_table` (``held_out`` marks held-out genes).
    n_bins : quantile bins for numeric values (edges from training genes only).
    family : tag family name; default: the second column's header.

    Raises ValueError with a message for the user when no ID matches, no matched gene has a
    value, the values are neither numbers nor a few labels, or the training genes carry
    fewer than two labels.
    """
    family_column = tag_family_column(table, family)
    ids = table.iloc[:, 0].astype(str).str.strip()
    value_header = str(table.columns[1])
    if family_column in PROMOTER_COLUMNS or family_column.removesuffix("_value") in PROMOTER_COLUMNS:
        raise ValueError(
            f"the tag family would be called {family_column!r}, a column the promoter table already "
            "has; rename the second column (or give another family name)"
        )
    if table.iloc[:, 1].isna().all():
        raise ValueError(f"the column {value_header!r} has no values; {TAG_TABLE_HELP}")
    tagged = read_tag_table(table, promoters, n_bins=n_bins, family=family_column)
    kind = "numeric" if f"{family_column}_value" in tagged.columns else "labels"
    matched_ids = matching_ids(ids, promoters)
    if tagged.empty:
        raise ValueError(
            f"{len(matched_ids):,} IDs match a gene, but none of them has a value in the column "
            f"{value_header!r}; fill in the second column"
        )
    labels = ordered_labels(tagged[family_column])
    if len(labels) > MAX_LABELS:
        examples = ", ".join(map(repr, labels[:4]))
        raise ValueError(
            f"the column {value_header!r} holds {len(labels):,} different labels (e.g. {examples}); "
            f"give numbers (binned into {n_bins} quantiles) or at most {MAX_LABELS} labels"
        )
    training = tagged[~tagged["held_out"]]
    if training[family_column].nunique() < 2:
        raise ValueError(
            f"the training genes (those not on the held-out chromosomes) carry "
            f"{training[family_column].nunique()} label(s) of {value_header!r}; tags need at least two"
        )
    oracle = fit_oracle(tagged, family_column, seed=seed)

    counts = pd.DataFrame({"label": labels})
    counts["training"] = counts["label"].map(training[family_column].value_counts()).fillna(0).astype("int64")
    counts["held_out"] = (
        counts["label"].map(tagged.loc[tagged["held_out"], family_column].value_counts()).fillna(0).astype("int64")
    )
    if kind == "numeric":
        values = tagged.groupby(family_column)[f"{family_column}_value"]
        counts["min_value"] = counts["label"].map(values.min()).astype(float)
        counts["max_value"] = counts["label"].map(values.max()).astype(float)

    notes = []
    unmatched = len(set(ids)) - len(matched_ids)
    if unmatched:
        notes.append(f"{unmatched:,} of {len(set(ids)):,} IDs match no gene, transcript or gene name.")
    without_value = len(matched_ids - matching_ids(ids, tagged))
    if without_value:
        what = "number" if kind == "numeric" else "label"
        notes.append(
            f"{without_value:,} matched IDs have no {what} (or no promoter of 50 bp or more) and are left out."
        )
    few = counts.loc[counts["training"] < FEW_PROMOTERS, "label"].tolist()
    if few:
        notes.append(
            f"few training promoters (< {FEW_PROMOTERS}) for {', '.join(few)}: a generator learns little "
            "about these tags."
        )
    if oracle.metrics.get("heldout_auroc") is None:
        notes.append(
            f"no held-out genes carry both {labels[0]} and {labels[-1]}, so the oracle's held-out AUROC "
            "cannot be measured and designs cannot be checked against real held-out promoters."
        )
    return TagTableSummary(family_column, kind, len(set(ids)), len(matched_ids), len(tagged), counts, oracle, notes)


def train_generator_command(
    tag_table: str | Path,
    family: str,
    n_bins: int,
    output_dir: str | Path,
    fasta: str | Path | None = None,
    annotation: str | Path | None = None,
) -> str:
    """The ``glm-explore train-generator`` command line for a tag table (``fasta``/``annotation``
    only when they are not the embedded genome's)."""
    words = [
        "glm-explore",
        "train-generator",
        "--tag-table",
        str(tag_table),
        "--tag-family",
        family,
        "--bins",
        str(int(n_bins)),
        "--output-dir",
        str(output_dir),
    ]
    if fasta is not None:
        words += ["--fasta", str(fasta)]
    if annotation is not None:
        words += ["--annotation", str(annotation)]
    return " ".join(shlex.quote(word) for word in words)
