"""Dependency-map and two-model figures (glm_core.plots.dependency_figures, comparison_figures).

Facts checked, on a k-mer model (k=2) around the start codon of um06164 (chr22:69,114-69,136):
the heat map's cells are the map in genomic order on the locus axis, and a clickable cell
carries its [query, target] rows; on the minus strand the x axis is reversed and the 5' query
(the highest position) is at the top; the substitution track has the query's three
alternatives and peaks where the map's row does; the print heat map is a PNG/SVG; the
comparison figure stacks both logos, KL and delta P(ref) above the gene models, and the
scatter's title carries the correlations.
"""

import numpy as np
import pytest

from glm_core import logo
from glm_core.dependency import dependency_map
from glm_core.kmer import KmerModel
from glm_core.model_comparison import compare_models
from glm_core.plots.comparison_figures import comparison_locus_figure, llr_scatter_figure
from glm_core.plots.dependency_figures import dependency_figure, dependency_image

CHROM, START, END = "chr22", 69_113, 69_136


@pytest.fixture(scope="module")
def models(embedded_genome):
    return KmerModel.fit(embedded_genome, ["chr22"], k=2), KmerModel.fit(embedded_genome, ["chr22"], k=1)


def figure_of(model, genome, annotation, strand, query=None):
    result = dependency_map(model, genome, CHROM, START, END, strand)
    table = logo.position_table(genome, CHROM, START, END, strand, result.reference_probabilities)
    features = annotation.region_features(CHROM, START, END)
    return result, dependency_figure(result, table, features, query=query)


def test_heat_map_cells_are_the_map_on_the_locus_axis(models, embedded_genome, embedded_annotation):
    result, figure = figure_of(models[0], embedded_genome, embedded_annotation, "+", query=6)
    heat = next(t for t in figure.data if t.name == "dependency")
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), result.matrix, equal_nan=True)
    cells = next(t for t in figure.data if t.name == "cells")
    assert np.asarray(cells.customdata)[1].tolist() == [0, 1]
    assert (cells.x[1], cells.y[1]) == (START + 2, START + 1)
    alternatives = [t for t in figure.data if ">" in (t.name or "")]
    ref = result.reference[6]
    assert {t.name for t in alternatives} == {f"{ref}>{b}" for b in "ACGT" if b != ref}
    peak = max(np.nanmax(np.asarray(t.y, dtype=float)) for t in alternatives)
    assert peak == pytest.approx(np.nanmax(result.matrix[6]))


def test_minus_strand_reverses_both_axes(models, embedded_genome, embedded_annotation):
    result, figure = figure_of(models[0], embedded_genome, embedded_annotation, "-")
    assert list(figure.layout.xaxis.range) == [END + 0.5, START + 0.5]
    heat_axis = figure.layout[f"yaxis{len([k for k in figure.layout.to_plotly_json() if k.startswith('yaxis')])}"]
    assert list(heat_axis.range) == [START + 0.5, END + 0.5]  # the top is END: the minus strand's 5' end
    assert dependency_image(result, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in dependency_image(result, "svg")[:500]


def test_comparison_figure_rows_and_scatter(models, embedded_genome, embedded_annotation):
    comparison = compare_models(*models, embedded_genome, CHROM, START, END)
    tables = [
        logo.position_table(
            embedded_genome, CHROM, START, END, "+", comparison.positions[[f"p{b}_{n}" for b in "ACGT"]].to_numpy()
        )
        for n in (1, 2)
    ]
    figure = comparison_locus_figure(comparison, *tables, embedded_annotation.region_features(CHROM, START, END))
    titles = [figure.layout[k].title.text for k in sorted(figure.layout.to_plotly_json()) if k.startswith("yaxis")]
    assert titles[:4] == ["k-mer (k=2) (bits)", "k-mer (k=1) (bits)", "KL (bits)", "\u0394 P(ref)"]
    scatter = llr_scatter_figure(comparison)
    assert f"Pearson {comparison.pearson:.3f}" in scatter.layout.title.text
    assert len(scatter.data[1].x) == 3 * (END - START)
