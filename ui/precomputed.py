"""Region scores for the logo and variant pages: read from a score-genome folder when one exists
for the genome and the sidebar's model, scored on demand otherwise.

The folder is found by :func:`ui.cache.precomputed_scores` (``<data dir>/scores`` or
``<cache>/scores``, matched by genome and weights hashes). "Score exactly with the masked
model" (:func:`ui.region_picker.exact_model_choice`) still scores with the masked LM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from glm_core.genome import Region
from ui import cache, region_picker
from ui.choices import LoadedGenome


@dataclass
class RegionScores:
    """What a page shows for a region: ``probabilities`` (shape=(len(region), 4), A, C, G, T of the
    strand asked for, 5'->3'; None while the user has not asked), the model they belong to, and
    the score-genome folder they were read from (None when scored here)."""

    probabilities: np.ndarray | None
    model: object
    precomputed: object = None


def region_scores(prefix: str, model, loaded: LoadedGenome, region: Region, strand: str) -> RegionScores:
    """The probabilities of ``region`` (0-based half-open) on ``strand`` and a caption saying where
    they come from: the score-genome folder of ``model`` and this genome when one exists and the
    user did not ask for the exact masked model, else :func:`ui.region_picker.scored_region_probabilities`."""
    scoring = region_picker.exact_model_choice(prefix, model, len(region), (region.chrom, region.start, region.end))
    found = cache.precomputed_scores(model, loaded) if scoring is model else None
    if found is not None and not found.covers(loaded.genome, region.chrom, region.start, region.end):
        st.caption(f"{found.folder} (glm-explore score-genome --regions) does not cover this region; scored here.")
        found = None
    if found is not None:
        probabilities = found.probabilities(region.chrom, region.start, region.end, strand)
        st.caption(f"Read from {found.describe()}; nothing scored here.")
        return RegionScores(probabilities, scoring, found)
    probabilities = region_picker.scored_region_probabilities(prefix, scoring, loaded, region, strand)
    if probabilities is not None:
        st.caption(f"Scored by {region_picker.model_words(scoring)}.")
    return RegionScores(probabilities, scoring, None)
