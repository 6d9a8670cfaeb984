"""glm_core.plots: figure builders of the locus browser, on the 1-based axis users see.

Facts checked: only overlapping transcripts are put in separate lanes; um10944's CDS
(chr01:2,632-4,026, 0-based [2631, 4026)) is drawn from x = 2631.5 over 1,395 bases; extra
rows share the gene models' x axis; the sequence-row and locus-size limits are enforced with
messages naming them; no plotting module imports Streamlit.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from glm_core.plots.locus_tracks import (
    MAX_LOCUS_BP,
    MAX_SEQUENCE_BP,
    Track,
    base_positions,
    locus_figure,
    pack_lanes,
    sequence_track,
)

ROOT = Path(__file__).resolve().parent.parent


def test_plots_module_does_not_import_streamlit():
    code = "import sys, glm_core.plots; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_pack_lanes_separates_only_overlapping_transcripts():
    transcripts = pd.DataFrame({"start": [0, 50, 120, 130], "end": [100, 110, 200, 140]})
    lanes = pack_lanes(transcripts)
    assert lanes.tolist() == [0, 1, 0, 1]  # [0,100) and [50,110) overlap; [120,200) fits after lane 0


def test_locus_figure_draws_intervals_on_one_based_axis(embedded_annotation, embedded_genome):
    start, end = 2631, 4026  # um10944, 0-based half-open
    features = embedded_annotation.region_features("chr01", start, end)
    figure = locus_figure(
        "chr01",
        start,
        end,
        features,
        embedded_annotation.transcripts,
        sequence=embedded_genome.fetch("chr01", start, end),
    )
    assert tuple(figure.layout.xaxis.range) == (2631.5, 4026.5)
    cds = next(t for t in figure.data if t.type == "bar" and "CDS" in t.hovertext[0] and "um10944" in t.hovertext[0])
    index = ["um10944" in text for text in cds.hovertext].index(True)
    assert cds.base[index] == 2631.5 and cds.x[index] == 1395  # covers bases 2,632..4,026
    assert figure.layout.title.text == "chr01:2,632-4,026"


def test_locus_figure_accepts_extra_rows_on_the_shared_axis(embedded_annotation):
    start, end = 2631, 4026
    scores = Track("score", [go.Scatter(x=base_positions(start, end), y=[0.0] * (end - start))], height=80)
    figure = locus_figure(
        "chr01", start, end, embedded_annotation.region_features("chr01", start, end), extra_tracks=[scores]
    )
    assert figure.layout.yaxis.title.text == "score" and figure.layout.yaxis2.title.text == "genes"
    assert figure.layout.xaxis.matches == "x2"  # the rows zoom together


def test_sequence_row_and_window_limits_are_enforced():
    with pytest.raises(ValueError, match="at most 10,000 bp"):
        sequence_track("A" * (MAX_SEQUENCE_BP + 1), "chr01", 0)
    with pytest.raises(ValueError, match="at most 2,000,000 bp"):
        locus_figure("chr01", 0, MAX_LOCUS_BP + 1, pd.DataFrame(columns=["transcript_id", "feature"]))
    with pytest.raises(ValueError, match="has 100"):
        locus_figure("chr01", 0, 100, pd.DataFrame(columns=["transcript_id", "feature"]), sequence="ACGT")


def test_the_package_re_exports_the_figure_builders():
    from glm_core import plots
    from glm_core.plots import genome_figures, locus_tracks, logo_figures

    assert plots.locus_figure is locus_tracks.locus_figure and plots.pack_lanes is locus_tracks.pack_lanes
    assert plots.logo_locus_figure is logo_figures.logo_locus_figure
    assert plots.embedding_map_figure is genome_figures.embedding_map_figure


def test_gene_model_track_of_the_tiny_genome(tiny_annotation):
    from glm_core.plots.locus_tracks import gene_model_track

    # alpha1 (+) and beta2 (-) do not overlap: one lane; exon and CDS boxes, arrows of both strands, labels.
    features = tiny_annotation.region_features("chrT", 0, 420)
    track = gene_model_track(features, 0, 420, tiny_annotation.transcripts)
    bars = [trace for trace in track.traces if trace.type == "bar"]
    assert [len(bar.x) for bar in bars] == [6, 4]  # 6 exons (2 + 2 + 2), 4 CDS pieces
    assert {tuple(bar.y) for bar in bars} == {(0,) * 6, (0,) * 4}
    symbols = {trace.marker.symbol for trace in track.traces if trace.type == "scatter" and trace.mode == "markers"}
    assert symbols == {"triangle-right", "triangle-left"}
    labels = next(t for t in track.traces if t.type == "scatter" and t.mode == "text")
    assert list(labels.text) == ["alpha1 (+)", "beta2 (-)", "gammaRNA (+)"]
    assert gene_model_track(features.head(0), 0, 420).traces[0].text == ("no annotated transcripts in this region",)


def test_precomputed_rows_sit_under_the_logo_on_either_strand(tiny_genome, tiny_annotation):
    import numpy as np

    from glm_core import logo
    from glm_core.genome_hub import position_scores
    from glm_core.plots.logo_figures import logo_locus_figure, precomputed_score_tracks

    start, end = 40, 50
    snvs = pd.DataFrame(
        {"pos": np.repeat(np.arange(start, end), 3), "llr": np.tile([-3.0, -1.0, 1.0], 10), "cllr": np.nan}
    )
    scores = position_scores(snvs, np.linspace(0, 1.8, 10), "chrT", start, end)
    for strand in "+-":
        probabilities = np.full((end - start, 4), 0.25)
        table = logo.position_table(tiny_genome, "chrT", start, end, strand, probabilities)
        features = tiny_annotation.region_features("chrT", start, end)
        figure = logo_locus_figure(table, features, extra_tracks=precomputed_score_tracks(scores))
        titles = [figure.layout[f"yaxis{i if i > 1 else ''}"].title.text for i in range(1, 7)]
        assert titles[:3] == ["logo (bits)", "IC (bits)", "LLR mean, min"]
        ic, low, mean = (trace for trace in figure.data if trace.name in ("IC", "min LLR", "mean LLR"))
        assert list(ic.x) == list(range(start + 1, end + 1)) and ic.y[-1] == pytest.approx(1.8)
        assert set(mean.y) == {-1.0} and set(low.y) == {-3.0}
        assert "minimum LLR of the 3 SNVs" in low.hovertemplate
        expected_range = [start + 0.5, end + 0.5] if strand == "+" else [end + 0.5, start + 0.5]
        assert list(figure.layout.xaxis.range) == expected_range
    assert precomputed_score_tracks(scores, calibrated=True)[1].name == "cLLR mean, min"
