"""The "compared with a second model" section of the logo and variant pages.

The second model is chosen in the sidebar (:func:`ui.session.compare_model`). Its scores come
from the same cache as the first model's (:func:`ui.region_picker.scored_region_probabilities`,
one click the first time), the comparison from :mod:`glm_core.model_comparison`, the figures
from :mod:`glm_core.plots.comparison_figures`. Widget keys start with ``<page>_compare_``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from glm_core import logo
from glm_core.genome import Region
from glm_core.model_comparison import compare_probabilities, joined_tsv
from glm_core.plots.comparison_figures import comparison_locus_figure, llr_scatter_figure
from glm_core.plots.locus_tracks import MAX_SEQUENCE_BP
from ui import cache, region_picker
from ui.choices import LoadedGenome
from ui.session import USER_ERRORS, show_error

# Logos get logomaker letters up to this many bp (as on the logo page); wider ones are bars.
LETTERS_MAX_BP = 200


def render_comparison(
    prefix: str, model, second, loaded: LoadedGenome, region: Region, strand: str, probabilities: np.ndarray
) -> None:
    """Both models' logos on one axis with the KL and delta P(ref) tracks, the LLR scatter,
    and the joined table, for ``region`` (0-based half-open) read on ``strand``."""
    genome, annotation = loaded.genome, loaded.annotation
    st.subheader(f"Compared with {second.name}")
    st.caption(
        f"Model 1 is {model.name}, model 2 {second.name}. KL = KL(model 1 \u2016 model 2) in bits, model 1's "
        "distribution as the reference; \u0394 P(ref) = P(ref) under model 2 \u2212 under model 1."
    )
    other = region_picker.scored_region_probabilities(f"{prefix}_compare", second, loaded, region, strand)
    if other is None:
        return
    try:
        comparison = compare_probabilities(
            genome,
            region.chrom,
            region.start,
            region.end,
            strand,
            probabilities,
            other,
            str(model.name),
            str(second.name),
        )
        table_1 = logo.position_table(genome, region.chrom, region.start, region.end, strand, probabilities)
        table_2 = logo.position_table(genome, region.chrom, region.start, region.end, strand, other)
        images = (
            (cache.logo_image(table_1), cache.logo_image(table_2)) if len(region) <= LETTERS_MAX_BP else (None, None)
        )
        features = annotation.region_features(region.chrom, region.start, region.end)
        sequence = genome.fetch(region.chrom, region.start, region.end) if len(region) <= MAX_SEQUENCE_BP else None
        figure = comparison_locus_figure(
            comparison, table_1, table_2, features, annotation.transcripts, logo_images=images, sequence=sequence
        )
    except USER_ERRORS as error:
        show_error(error)
        return
    st.plotly_chart(figure, config={"scrollZoom": True, "displaylogo": False}, key=f"{prefix}_compare_chart")
    summary = comparison.summary()
    columns = st.columns(4)
    columns[0].metric("Mean KL (bits)", f"{summary['mean_kl_bits']:.4f}")
    columns[1].metric("Mean |\u0394 P(ref)|", f"{summary['mean_abs_delta_p_ref']:.4f}")
    columns[2].metric("LLR Pearson", f"{summary['pearson']:.3f}")
    columns[3].metric("LLR Spearman", f"{summary['spearman']:.3f}")
    st.plotly_chart(llr_scatter_figure(comparison), config={"displaylogo": False}, key=f"{prefix}_compare_scatter")
    st.download_button(
        "Joined table of both models (TSV)",
        joined_tsv(comparison),
        file_name=f"compare_{region.chrom}_{region.start + 1}-{region.end}_{model.name}_{second.name}.tsv",
        mime="text/tab-separated-values",
        key=f"{prefix}_compare_download",
        help="one row per SNV: chrom, pos (1-based), strand, ref, alt, llr_1, llr_2, then pA_1..pT_1, p_ref_1, "
        "pA_2..pT_2, p_ref_2, kl_bits, delta_p_ref; _1 is the sidebar's model, _2 the comparison model",
    )
