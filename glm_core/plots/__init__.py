"""Plotly figures of gLM Explorer, one module a kind of figure:

* :mod:`glm_core.plots.locus_tracks`: the locus browser, stacked :class:`Track` rows on one
  shared genomic x axis (gene models, the sequence row, :func:`locus_figure`);
* :mod:`glm_core.plots.logo_figures`: predicted logos and variant-effect scans on that axis,
  and the LLR-by-consequence summaries;
* :mod:`glm_core.plots.genome_figures`: whole-genome figures (bases per region class, the
  embedding map).

Every table passed in is 0-based half-open; every x axis is the 1-based position users see
(see :mod:`glm_core.plots.locus_tracks`). No module here imports Streamlit. The names below
are re-exported so that ``from glm_core.plots import pack_lanes`` keeps working.
"""

from .genome_figures import embedding_map_figure, region_class_figure
from .locus_tracks import (
    BASE_COLOURS,
    MAX_LOCUS_BP,
    MAX_SEQUENCE_BP,
    Track,
    base_positions,
    gene_model_track,
    locus_figure,
    pack_lanes,
    sequence_track,
    tracks_figure,
)
from .logo_figures import (
    codon_position_llr_figure,
    consequence_llr_figure,
    logo_locus_figure,
    logo_track,
    saturation_track,
    value_track,
    variant_scan_figure,
)

__all__ = [
    "BASE_COLOURS",
    "MAX_LOCUS_BP",
    "MAX_SEQUENCE_BP",
    "Track",
    "base_positions",
    "codon_position_llr_figure",
    "consequence_llr_figure",
    "embedding_map_figure",
    "gene_model_track",
    "locus_figure",
    "logo_locus_figure",
    "logo_track",
    "pack_lanes",
    "region_class_figure",
    "saturation_track",
    "sequence_track",
    "tracks_figure",
    "value_track",
    "variant_scan_figure",
]
