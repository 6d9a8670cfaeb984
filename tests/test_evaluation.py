"""Held-out evaluation: the split, position samples, baseline numbers and biology metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from Bio.Seq import translate
from toy_models import FixedRowModel

from glm_core.annotation import Annotation
from glm_core.errors import InputError
from glm_core.evaluation import (
    HELD_OUT_CHROMS,
    cds_snv_llrs,
    consequence_summary,
    held_out_transcripts,
    motif_information,
    motif_positions,
    sample_eval_positions,
    site_model_metrics,
    training_chroms,
)
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome, nucleotide_codes, reverse_complement
from glm_core.kmer import KmerModel
from glm_core.scoring import information_content, site_probabilities_at

BASES = np.array(list("ACGT"))
SENSE_CODONS = [c for c in ("".join(t) for t in itertools.product("ACGT", repeat=3)) if translate(c) != "*"]


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def genome():
    return Genome(EMBEDDED_FASTA)


@pytest.fixture(scope="module")
def annotation():
    return Annotation.from_file(EMBEDDED_ANNOTATION)


@pytest.fixture(scope="module")
def kmer4(genome):
    return KmerModel.fit(genome, training_chroms(genome.chrom_sizes), k=4)


def _gene_segment(rng: np.random.Generator) -> str:
    """500 bp, 5'->3' on the gene's strand: 50 bp UTR, 60 bp CDS (ATG + 19 codons),
    an 80 bp GT...AG intron, 60 bp CDS (19 codons + TAA), 250 bp UTR."""
    codons = rng.choice(SENSE_CODONS, size=38)
    cds1 = "ATG" + "".join(codons[:19])
    cds2 = "".join(codons[19:]) + "TAA"
    intron = "GT" + "".join(rng.choice(list("ACT"), size=76)) + "AG"
    return "".join(rng.choice(BASES, size=50)) + cds1 + intron + cds2 + "".join(rng.choice(BASES, size=250))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """chr20 (held out) with geneA on + at [100, 600) and geneB on - at [1000, 1500); chr01 (training) with geneC.

    Sites, 0-based half-open, plus-strand coordinates:
    geneA start codon [150, 153), donor [210, 212), acceptor [288, 290);
    geneB start codon [1447, 1450), donor [1388, 1390), acceptor [1310, 1312).
    """
    rng = np.random.default_rng(3)
    chr20 = list("".join(rng.choice(BASES, size=2000)))
    chr20[100:600] = _gene_segment(rng)
    chr20[1000:1500] = reverse_complement(_gene_segment(rng))
    chr01 = list("".join(rng.choice(BASES, size=1000)))
    chr01[100:600] = _gene_segment(rng)
    folder = tmp_path_factory.mktemp("synthetic")
    with open(folder / "genome.fa", "w") as handle:
        for name, sequence in (("chr01", chr01), ("chr20", chr20)):
            handle.write(f">{name}\n{''.join(sequence)}\n")
    gff = [
        "##gff-version 3",
        "chr20\ttest\tmRNA\t101\t600\t.\t+\t.\tID=mRNA:geneA",
        "chr20\ttest\tCDS\t151\t210\t.\t+\t0\tParent=mRNA:geneA",
        "chr20\ttest\tCDS\t291\t350\t.\t+\t0\tParent=mRNA:geneA",
        "chr20\ttest\tmRNA\t1001\t1500\t.\t-\t.\tID=mRNA:geneB",
        "chr20\ttest\tCDS\t1391\t1450\t.\t-\t0\tParent=mRNA:geneB",
        "chr20\ttest\tCDS\t1251\t1310\t.\t-\t0\tParent=mRNA:geneB",
        "chr01\ttest\tmRNA\t101\t600\t.\t+\t.\tID=mRNA:geneC",
        "chr01\ttest\tCDS\t151\t210\t.\t+\t0\tParent=mRNA:geneC",
        "chr01\ttest\tCDS\t291\t350\t.\t+\t0\tParent=mRNA:geneC",
    ]
    (folder / "genes.gff3").write_text("\n".join(gff) + "\n")
    return Genome(folder / "genome.fa"), Annotation.from_file(folder / "genes.gff3")


class PeekingModel:
    """Certain of the true base where it is G or T, uniform where it is A or C (IC 2 or 0 bits)."""

    name = "peeking"
    context_flank = 2

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        codes = nucleotide_codes(sequence)[positions]
        out = np.full((len(positions), 4), 0.25)
        certain = codes >= 2
        out[certain] = 0.0
        out[np.flatnonzero(certain), codes[certain]] = 1.0
        return out


# ---------------------------------------------------------------------------- split and samples
def test_split_matches_the_reference_sizes(genome):
    train = training_chroms(genome.chrom_sizes)
    assert not set(train) & set(HELD_OUT_CHROMS) and len(train) == len(genome.chrom_sizes) - 4
    # SCIENCE.md: 1.74 Mb held out, 17.96 Mb for training.
    assert round(sum(genome.chrom_sizes[c] for c in HELD_OUT_CHROMS) / 1e6, 2) == 1.74
    assert round(sum(genome.chrom_sizes[c] for c in train) / 1e6, 2) == 17.96


def test_sample_eval_positions_is_deterministic_and_held_out(genome):
    first = sample_eval_positions(genome)
    pd.testing.assert_frame_equal(first, sample_eval_positions(genome))
    assert set(first["chrom"]) == set(HELD_OUT_CHROMS)
    assert not first.duplicated(["chrom", "pos"]).any()
    chr23 = genome.fetch("chr23", 0, genome.chrom_sizes["chr23"])
    on23 = first[first["chrom"] == "chr23"]
    assert len(on23) == round(0.15 * int((nucleotide_codes(chr23) >= 0).sum()))
    assert "".join(on23["ref"]) == "".join(chr23[p] for p in on23["pos"]).upper()
    # A chromosome's sample does not depend on which others are requested.
    alone = sample_eval_positions(genome, ["chr23"])
    np.testing.assert_array_equal(alone["pos"], on23["pos"])
    assert not sample_eval_positions(genome, seed=1)["pos"].equals(first["pos"])
    with pytest.raises(InputError, match="chr99"):
        sample_eval_positions(genome, ["chr99"])


# ---------------------------------------------------------------------------- accuracy and bits
def test_kmer_baseline_reproduces_reference_numbers(genome, kmer4):
    """SCIENCE.md: k=4, add-1/2, both strands -> 0.368 accuracy, 1.887 bits on 15 % of held-out positions."""
    positions = sample_eval_positions(genome)
    metrics = site_model_metrics(kmer4, genome, positions)
    assert metrics["n"] == len(positions)
    assert metrics["accuracy"] == pytest.approx(0.368, abs=0.003)
    assert metrics["bits_per_base"] == pytest.approx(1.887, abs=0.005)


def test_unigram_is_about_two_bits(genome):
    unigram = KmerModel.fit(genome, training_chroms(genome.chrom_sizes), k=0)
    metrics = site_model_metrics(unigram, genome, sample_eval_positions(genome, ["chr23"]))
    assert metrics["bits_per_base"] == pytest.approx(1.99, abs=0.01)


def test_scattered_positions_match_whole_sequence_scoring(genome, kmer4):
    rng = np.random.default_rng(0)
    positions = pd.DataFrame(
        {
            "chrom": ["chr22"] * 300 + ["chr21"] * 200,
            "pos": np.concatenate(
                [rng.integers(0, genome.chrom_sizes["chr22"], 300), rng.integers(0, genome.chrom_sizes["chr21"], 200)]
            ),
        }
    ).sample(frac=1, random_state=0)  # any row order
    calls = []
    probabilities = site_probabilities_at(kmer4, genome, positions, progress=lambda d, t: calls.append((d, t)))
    for chrom in ("chr21", "chr22"):
        whole = kmer4.sequence_site_probabilities(genome.fetch(chrom, 0, genome.chrom_sizes[chrom]))
        rows = (positions["chrom"] == chrom).to_numpy()
        np.testing.assert_array_equal(probabilities[rows], whole[positions["pos"].to_numpy()[rows]])
    assert calls[-1] == (500, 500)


# ---------------------------------------------------------------------------- information content
def test_information_content_bounds():
    rows = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0]])
    np.testing.assert_allclose(information_content(rows), [2.0, 0.0, 1.0], atol=1e-9)


def test_held_out_transcripts(annotation):
    chosen = held_out_transcripts(annotation)
    assert chosen == held_out_transcripts(annotation) and len(chosen) == 150
    table = annotation.transcripts.set_index("transcript_id").loc[chosen]
    assert set(table["chrom"]) <= set(HELD_OUT_CHROMS)
    assert table["gene_id"].is_unique and table["cds_start"].notna().all()
    everything = held_out_transcripts(annotation, n_genes=None)
    assert set(chosen) < set(everything) and len(everything) == 595  # all coding genes on chr20-23


def test_motif_positions_on_both_strands(synthetic):
    genome, annotation = synthetic
    table = motif_positions(genome, annotation, ["mRNA:geneA", "mRNA:geneB"], flank=(10, 30))
    sites = table[table["where"] == "site"]
    expected = {
        "start_codon": [150, 151, 152, 1447, 1448, 1449],
        "splice_donor": [210, 211, 1388, 1389],
        "splice_acceptor": [288, 289, 1310, 1311],
    }
    for motif, positions in expected.items():
        assert sorted(sites.loc[sites["motif"] == motif, "pos"]) == positions
    chr20 = genome.fetch("chr20", 0, 2000)
    assert chr20[150:153] == "ATG" and reverse_complement(chr20[1447:1450]) == "ATG"
    assert chr20[210:212] + chr20[288:290] == "GTAG"
    assert reverse_complement(chr20[1388:1390]) + reverse_complement(chr20[1310:1312]) == "GTAG"
    start_flank = table[(table["motif"] == "start_codon") & (table["where"] == "flank") & (table["pos"] < 600)]
    assert sorted(start_flank["pos"]) == [*range(120, 141), *range(162, 183)]  # 10..30 bp from ATG


def test_motif_information_uses_the_right_positions(synthetic):
    """With a model of IC 2 at G/T and 0 at A/C, mean IC = 2 x (fraction of G/T on the plus strand)."""
    genome, annotation = synthetic
    result = motif_information(PeekingModel(), genome, annotation, ["mRNA:geneA", "mRNA:geneB"])
    result = result.set_index(["motif", "where"])
    # + gene ATG: A,T,G -> 0,2,2; - gene ATG reads CAT on plus -> 0,0,2; (4 + 2) / 6 = 1.
    assert result.loc[("start_codon", "site"), "mean_ic"] == pytest.approx(1.0)
    # donor GT (2,2) and AC on plus (0,0) -> 1; acceptor AG (0,2) and CT on plus (0,2) -> 1.
    assert result.loc[("splice_donor", "site"), "mean_ic"] == pytest.approx(1.0)
    assert result.loc[("splice_acceptor", "site"), "mean_ic"] == pytest.approx(1.0)
    assert result.loc[("start_codon", "site"), "n"] == 6 and result.loc[("start_codon", "site"), "n_sites"] == 2
    chr20 = genome.fetch("chr20", 0, 2000)
    flank = [*range(120, 141), *range(162, 183), *range(1417, 1438), *range(1459, 1480)]
    expected = 2 * np.mean([chr20[p] in "GT" for p in flank])
    assert result.loc[("start_codon", "flank"), "mean_ic"] == pytest.approx(expected)


# ---------------------------------------------------------------------------- consequences
def _expected_consequences(genome, annotation, transcript_id):
    """(chrom, pos, alt) -> stop_gained / missense / synonymous by translating codons directly."""
    strand = annotation.transcripts.set_index("transcript_id").loc[transcript_id, "strand"]
    cds = annotation.cds(transcript_id)
    genomic = np.concatenate(
        [np.arange(s, e) if strand == "+" else np.arange(e - 1, s - 1, -1) for s, e in zip(cds["start"], cds["end"])]
    )
    sequence = annotation.cds_sequence(genome, transcript_id)
    complement = dict(zip("ACGT", "TGCA"))
    expected = {}
    for offset, pos in enumerate(genomic):
        codon_start = offset - offset % 3
        codon = sequence[codon_start : codon_start + 3]
        for alt in "ACGT":
            if alt == sequence[offset]:
                continue
            mutant = codon[: offset % 3] + alt + codon[offset % 3 + 1 :]
            before, after = translate(codon), translate(mutant)
            if codon_start == 0 or (before == "*" and after != "*"):  # start_lost, stop_lost
                continue
            if after == "*" and before != "*":
                kind = "stop_gained"
            else:  # stop -> stop (TAA -> TAG) counts as synonymous
                kind = "synonymous" if after == before else "missense"
            expected[("chr20", int(pos), alt if strand == "+" else complement[alt])] = kind
    return expected


def _mann_whitney_auroc(positive, negative):
    """P(score_pos > score_neg) + 1/2 P(tie), by counting every pair."""
    positive, negative = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((positive > negative) + 0.5 * (positive == negative)))


def test_consequence_summary_aurocs_with_known_llrs(synthetic):
    genome, annotation = synthetic
    # No two (ref, alt) pairs share a probability ratio, so LLR ties mean the same base change.
    row = np.array([0.05, 0.15, 0.3, 0.5])
    result = consequence_summary(cds_snv_llrs(FixedRowModel(row), genome, annotation, n_genes=None))
    expected = {}
    for transcript in ("mRNA:geneA", "mRNA:geneB"):
        expected.update(_expected_consequences(genome, annotation, transcript))
    chr20 = genome.fetch("chr20", 0, 2000)
    llr = {key: np.log(row["ACGT".index(key[2])]) - np.log(row["ACGT".index(chr20[key[1]])]) for key in expected}
    scores = {
        kind: [-llr[key] for key, found in expected.items() if found == kind]
        for kind in ("stop_gained", "missense", "synonymous")
    }
    assert len(scores["stop_gained"]) > 0 and len(scores["synonymous"]) > 0
    auroc = result[result["metric"] == "auroc"].set_index("label")
    assert auroc.loc["stop_gained vs synonymous", "value"] == pytest.approx(
        _mann_whitney_auroc(scores["stop_gained"], scores["synonymous"])
    )
    assert auroc.loc["missense vs synonymous", "value"] == pytest.approx(
        _mann_whitney_auroc(scores["missense"], scores["synonymous"])
    )
    assert auroc.loc["stop_gained+missense vs synonymous", "value"] == pytest.approx(
        _mann_whitney_auroc(scores["stop_gained"] + scores["missense"], scores["synonymous"])
    )
    assert auroc.loc["missense vs synonymous", "n"] == len(scores["missense"])
    assert auroc.loc["missense vs synonymous", "n_negative"] == len(scores["synonymous"])
    means = result[result["metric"] == "mean_llr"].set_index("label")
    assert means.loc["synonymous", "value"] == pytest.approx(-np.mean(scores["synonymous"]))


def test_uninformative_model_has_chance_auroc(synthetic):
    genome, annotation = synthetic
    result = consequence_summary(cds_snv_llrs(FixedRowModel([0.25] * 4), genome, annotation, n_genes=None))
    np.testing.assert_allclose(result.loc[result["metric"] == "auroc", "value"], 0.5)
