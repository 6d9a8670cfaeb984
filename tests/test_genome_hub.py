"""Reading a score-genome folder back: per-position IC and LLR summaries, both strands' probabilities.

Facts checked with the neighbour toy model (P = 0.1 + 0.3 per matching neighbour) on the tiny
genome: chrT:9 (1-based) is a C between two A, so P(A) = 0.7 and the other three 0.1; its SNVs
have LLRs log 7, 0, 0 (mean log(7)/3, min 0) and its IC is 2 - H(0.7, 0.1, 0.1, 0.1) bits. The
minus strand is the plus strand reversed and complemented.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from toy_models import NeighbourModel

from glm_core.genome import Genome
from glm_core.genome_hub import POSITION_SCORE_COLUMNS, position_scores, precomputed_scores
from glm_core.genome_scores import GenomeScoreSettings, score_genome
from glm_core.scoring import minus_strand

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def scored(tmp_path_factory, tiny_annotation):
    folder = tmp_path_factory.mktemp("hub")
    shutil.copy(DATA / "tiny.fa", folder / "tiny.fa")
    genome = Genome(folder / "tiny.fa")
    score_genome(
        NeighbourModel(), genome, tiny_annotation, folder / "out", settings=GenomeScoreSettings(chunk_size=100)
    )
    return genome, precomputed_scores(folder / "out", genome, NeighbourModel())


def test_position_scores_summarise_the_three_snvs_of_each_base(scored):
    genome, found = scored
    assert genome.fetch("chrT", 7, 10) == "ACA"
    table = found.position_scores("chrT", 6, 12)
    assert table.columns.tolist() == POSITION_SCORE_COLUMNS
    assert table["pos"].tolist() == list(range(6, 12)) and (table["n_snvs"] == 3).all()
    row = table.set_index("pos").loc[8]
    assert row["llr_mean"] == pytest.approx(np.log(7) / 3, abs=1e-4)
    assert row["llr_min"] == pytest.approx(0.0, abs=1e-4)
    p = np.array([0.7, 0.1, 0.1, 0.1])
    assert row["ic"] == pytest.approx(2 + (p * np.log2(p)).sum(), rel=1e-5)
    snvs = found.snvs("chrT", 8, 9)
    assert row["cllr_mean"] == pytest.approx(snvs["cllr"].mean()) and row["cllr_min"] == snvs["cllr"].min()


def test_a_base_without_snvs_has_no_llr():
    snvs = pd.DataFrame({"pos": [10, 10, 10, 12], "llr": [-1.0, -2.0, 0.0, 5.0], "cllr": [np.nan] * 4})
    table = position_scores(snvs, np.array([1.0, np.nan]), "chrX", 10, 12)
    assert table["n_snvs"].tolist() == [3, 0]
    assert table["llr_mean"].iloc[0] == pytest.approx(-1.0) and table["llr_min"].iloc[0] == -2.0
    assert np.isnan(table["llr_mean"].iloc[1]) and table["cllr_mean"].isna().all()
    with pytest.raises(ValueError, match="ic has 1 values for chrX:11-12"):
        position_scores(snvs, np.array([1.0]), "chrX", 10, 12)


def test_minus_strand_probabilities_are_the_plus_strand_reverse_complemented(scored):
    _, found = scored
    plus = found.probabilities("chrT", 20, 30)
    np.testing.assert_array_equal(found.probabilities("chrT", 20, 30, "-"), minus_strand(plus))
    np.testing.assert_array_equal(found.probabilities("chrT", 20, 30, "-")[-1], plus[0][::-1])


def test_the_hub_opens_at_the_first_scored_gene_and_names_the_embedded_organism(tiny_annotation):
    from glm_core.genome import EMBEDDED_FASTA
    from glm_core.genome_hub import default_position, hub_files

    sizes = {"chrT": 420, "chrU": 50}
    chunks = pd.DataFrame({"chrom": ["chrT", "chrU"], "start": [0, 0], "end": [100, 50]})
    assert default_position(chunks, sizes, tiny_annotation) == "chrT:1-360"  # alpha1, chrT:41-160, +- 200 bp
    later = pd.DataFrame({"chrom": ["chrT"], "start": [330], "end": [420]})
    assert default_position(later, sizes, tiny_annotation) == "chrT:151-420"  # gammaRNA, chrT:351-390
    assert default_position(chunks, sizes, None) == "chrT:1-100"
    manifest = {"genome": "umaydis.fa.gz", "genome_path": str(EMBEDDED_FASTA), "model": "gpn-umaydis"}
    genomes = hub_files(manifest, "chr01:1-1000")["genomes.txt"].splitlines()
    assert genomes[:4] == ["genome umaydis", "trackDb trackDb.txt", "twoBitPath genome.2bit", "organism U. maydis"]
    assert "scientificName Ustilago maydis" in genomes and genomes[-1] == "defaultPos chr01:1-1000"


def test_a_run_over_regions_covers_only_them_and_says_so(tmp_path, tiny_annotation):
    shutil.copy(DATA / "tiny.fa", tmp_path / "tiny.fa")
    genome = Genome(tmp_path / "tiny.fa")
    (tmp_path / "r.bed").write_text("chrT\t100\t200\n")
    settings = GenomeScoreSettings(chunk_size=100, regions=tmp_path / "r.bed")
    score_genome(NeighbourModel(), genome, tiny_annotation, tmp_path / "out", settings=settings)
    found = precomputed_scores(tmp_path / "out", genome, NeighbourModel())
    assert not found.whole_genome
    assert found.covers(genome, "chrT", 100, 200) and found.covers(genome, "chrT", 150, 160)
    assert not found.covers(genome, "chrT", 90, 110)  # ten bases before the region
    assert not found.covers(genome, "chrU", 0, 10)  # a sequence the run did not score
    assert found.background().describe().startswith("the scored regions only: every SNV of the regions")


def test_a_whole_genome_run_covers_every_base(scored):
    genome, found = scored
    assert found.whole_genome
    assert all(found.covers(genome, chrom, 0, size) for chrom, size in genome.chrom_sizes.items())
    assert found.background().describe().startswith("genome-wide: every possible SNV")
