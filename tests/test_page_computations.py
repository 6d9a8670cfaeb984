"""Computations the pages used to do themselves, now in glm_core and shared with the CLI.

Facts checked: the region-scan download is the SNV table with 1-based positions, lowest LLR
first, byte for byte; design logos align a design and a longer natural promoter at the TSS
(their 3' ends) and leave out a promoter too short to reach the range; an embedding map
written to parquet carries its windows, nearest genes and embeddings back unchanged and
names its model (folder on device), genome and UMAP settings.
"""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from glm_core import embedding
from glm_core.design_logos import aligned_logo_tables
from glm_core.embedding_map import embedding_map, model_label
from glm_core.errors import InputError
from glm_core.region_scan import region_scan_table, region_scan_tsv


def test_region_scan_tsv_is_one_based_and_sorted_by_llr():
    snvs = pd.DataFrame(
        {
            "chrom": ["chrT"] * 3,
            "pos": [0, 0, 1],
            "ref": ["G", "G", "C"],
            "alt": ["A", "T", "A"],
            "llr": [-0.5, -2.25, 0.125],
        }
    )
    assert region_scan_table(snvs)["pos"].tolist() == [1, 1, 2]
    assert region_scan_tsv(snvs) == (
        "chrom\tpos\tref\talt\tllr\nchrT\t1\tG\tT\t-2.25\nchrT\t1\tG\tA\t-0.5\nchrT\t2\tC\tA\t0.125\n"
    )
    assert snvs["pos"].tolist() == [0, 0, 1]  # the input is not changed


class ReferenceModel:
    """A toy masked LM that is sure of the reference base at every position it is asked about."""

    def sequence_site_probabilities(self, sequence, positions):
        probabilities = np.zeros((len(positions), 4))
        probabilities[np.arange(len(positions)), ["ACGT".index(sequence[p]) for p in positions]] = 1.0
        return probabilities


def test_design_logos_are_aligned_at_the_tss():
    design, natural, short = "ACGTACGTAC", "TTTTTGGACGTACGTAC", "AC"
    tables = aligned_logo_tables(
        ReferenceModel(), {"design": design, "natural": natural, "short": short}, first=8, last=10, length=10
    )
    assert tables["design"]["pos"].tolist() == [7, 8, 9] and "".join(tables["design"]["ref"]) == "TAC"
    assert tables["natural"]["pos"].tolist() == [14, 15, 16] and "".join(tables["natural"]["ref"]) == "TAC"
    assert tables["short"]["pos"].tolist() == [0, 1]  # its 2 bases face design positions 9 and 10
    np.testing.assert_allclose(tables["design"]["ic"], 2.0, atol=1e-6)  # one base with P = 1: 2 bits
    upstream = aligned_logo_tables(ReferenceModel(), {"design": design, "short": short}, first=1, last=3, length=10)
    assert list(upstream) == ["design"]  # the short promoter does not reach 8-10 bp upstream of the TSS
    with pytest.raises(InputError, match="must lie within 1-10"):
        aligned_logo_tables(ReferenceModel(), {"design": design}, first=0, last=3, length=10)


def test_embedding_map_round_trips_through_parquet(tiny_genome, tiny_annotation, tmp_path):
    model = SimpleNamespace(path=tmp_path / "tiny-model", name="tiny", device="cpu", context=64)
    windows = pd.DataFrame(
        {"chrom": ["chrT", "chrT"], "start": [40, 300], "end": [60, 320], "region_class": ["CDS", "intron"]}
    )
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    bundle = embedding_map(model, tiny_genome, tiny_annotation, windows, vectors, "tiny genome")
    assert bundle.model == model_label(model) == f"{tmp_path / 'tiny-model'} on cpu"
    assert bundle.spectrum.shape == (2, 256) and np.allclose(bundle.spectrum.sum(axis=1), 1.0)
    out = tmp_path / "map.parquet"
    table = bundle.write(out, np.array([[1.0, 2.0], [3.0, 4.0]]), umap={"n_neighbors": 5})
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, table)
    np.testing.assert_array_equal(embedding.embedding_matrix(back), vectors)
    assert back["nearest_gene"].tolist() == bundle.genes["nearest_gene"].tolist()
    notes = json.loads(pq.read_schema(out).metadata[b"glm_explorer"])
    assert (notes["model"], notes["genome"], notes["context"], notes["umap"]) == (
        bundle.model,
        "tiny genome",
        64,
        {"n_neighbors": 5},
    )
    assert "sample" not in notes
