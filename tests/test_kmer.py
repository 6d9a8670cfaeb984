"""Bidirectional k-mer baseline: normalisation, strand symmetry, a planted motif, back-off, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glm_core.errors import InputError
from glm_core.genome import Genome, fasta_text, nucleotide_codes, reverse_complement
from glm_core.kmer import KmerModel, reverse_complement_kmer_ids

BASES = np.array(list("ACGT"))
MOTIF = "GATTACAGC"  # 9 bases: 4 of context (GATT), the centre A, 4 of context (CAGC)


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(BASES[rng.integers(0, 4, length)])


def planted_sequence(rng: np.random.Generator, length: int, copies: int) -> tuple[str, np.ndarray]:
    """Random DNA with ``copies`` non-overlapping MOTIFs; returns it and the motif centres."""
    sequence = np.array(list(random_dna(rng, length)))
    slots = rng.choice(length // 20 - 1, size=copies, replace=False) * 20 + 5
    for start in slots:
        sequence[start : start + len(MOTIF)] = list(MOTIF)
    return "".join(sequence), np.sort(slots + len(MOTIF) // 2)


def write_fasta(path: Path, records: dict[str, str]) -> Genome:
    path.write_text(fasta_text(records))
    return Genome(path)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(7)
    train, _ = planted_sequence(rng, 200_000, 2_000)
    test, centres = planted_sequence(rng, 50_000, 500)
    # An N-run in training: windows touching it must not be counted.
    train = train[:1000] + "N" * 50 + train[1050:]
    genome = write_fasta(tmp_path_factory.mktemp("planted") / "planted.fa", {"train": train, "test": test})
    return genome, KmerModel.fit(genome, ["train"], k=4), test, centres


def test_probabilities_are_distributions(planted):
    genome, model, test, _ = planted
    probabilities = model.sequence_site_probabilities(test)
    assert probabilities.shape == (len(test), 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert (probabilities > 0).all()  # add-1/2 smoothing never gives zero


def test_counts_cover_both_strands_and_skip_n(planted):
    genome, model, _, _ = planted
    # k=4 windows are 9 bp; 200,000 bases minus the 50-base N-run (which kills 8 more
    # windows at each end of it), read on two strands.
    valid_windows = (200_000 - 8) - (50 + 8)
    assert model.counts[4].sum() == 2 * valid_windows
    assert model.counts[0].sum() == 2 * (200_000 - 50)
    # Every window's reverse complement was counted too: n[c, b] == n[rc(c), comp(b)].
    for j in range(model.k + 1):
        np.testing.assert_array_equal(model.counts[j], model.counts[j][reverse_complement_kmer_ids(2 * j)][:, ::-1])
    unigram = model.counts[0][0]
    assert unigram[0] == unigram[3] and unigram[1] == unigram[2]  # A = T, C = G


def test_reverse_complement_context_ids_are_an_involution():
    for j in range(4):
        rc = reverse_complement_kmer_ids(2 * j)
        np.testing.assert_array_equal(rc[rc], np.arange(4 ** (2 * j)))
    # context AC|GG (left AC, right GG) -> reverse complement CC|GT
    ids = {"ACGG": 0b00_01_10_10, "CCGT": 0b01_01_10_11}
    assert reverse_complement_kmer_ids(4)[ids["ACGG"]] == ids["CCGT"]


def test_reverse_complement_symmetry(planted):
    """P(b | seq)[i] equals the complemented P(. | rc(seq))[n - 1 - i], exactly."""
    _, model, test, _ = planted
    piece = test[1000:3000] + "NN" + test[3000:4000]
    forward = model.sequence_site_probabilities(piece)
    backward = model.sequence_site_probabilities(reverse_complement(piece))
    np.testing.assert_array_equal(forward, backward[::-1, ::-1])


def test_planted_motif_is_predicted(planted):
    """GATT[A]CAGC: the centre base is fully determined by its 4+4 context."""
    _, model, test, centres = planted
    probabilities = model.sequence_site_probabilities(test, centres)
    codes = nucleotide_codes(test)
    assert (codes[centres] == 0).all()  # the motif centre is A
    assert np.mean(probabilities.argmax(axis=1) == 0) == 1.0
    assert probabilities[:, 0].min() > 0.99
    # Away from motifs the sequence is random: accuracy near 1/4, not 1.
    background = np.arange(len(test))[np.all(np.abs(np.arange(len(test))[:, None] - centres[None, :]) > 10, axis=1)]
    accuracy = np.mean(model.sequence_site_probabilities(test, background).argmax(axis=1) == codes[background])
    assert accuracy < 0.35


def test_backoff_to_shorter_symmetric_context(planted):
    _, model, _, _ = planted
    unigram = model.context_probabilities(0)[0]
    # An N right beside the position: no context at all -> unigram.
    sequence = "ACGTAC" + "N" + "G" + "TTGCA"
    np.testing.assert_array_equal(model.sequence_site_probabilities(sequence, [7])[0], unigram)
    # The first base of a sequence has no left context -> unigram; the third has j = 2.
    sequence = "GATTACAGCTTT"
    probabilities = model.sequence_site_probabilities(sequence, [0, 2, 5])
    np.testing.assert_array_equal(probabilities[0], unigram)
    context_ga_ta = int("".join(str("ACGT".index(b)) for b in "GATA"), 4)
    np.testing.assert_array_equal(probabilities[1], model.context_probabilities(2)[context_ga_ta])
    full = int("".join(str("ACGT".index(b)) for b in "ATTAAGCT"), 4)
    np.testing.assert_array_equal(probabilities[2], model.context_probabilities(4)[full])


def test_jeffreys_smoothing(planted):
    _, model, _, _ = planted
    counts = model.counts[4][123]
    np.testing.assert_allclose(model.context_probabilities(4)[123], (counts + 0.5) / (counts.sum() + 2))


def test_batch_size_does_not_change_results(planted):
    _, model, test, _ = planted
    positions = np.arange(0, len(test), 7)
    calls = []
    small = model.sequence_site_probabilities(
        test, positions, batch_size=100, progress=lambda done, total: calls.append((done, total))
    )
    np.testing.assert_array_equal(small, model.sequence_site_probabilities(test, positions))
    assert calls[-1] == (len(positions), len(positions))


def test_save_load_round_trip(planted, tmp_path):
    _, model, test, _ = planted
    path = model.save(tmp_path / "kmer4.npz")
    loaded = KmerModel.load(path)
    assert loaded.k == 4 and loaded.context_flank == 4 and loaded.training_chroms == ("train",)
    np.testing.assert_array_equal(loaded.sequence_site_probabilities(test), model.sequence_site_probabilities(test))
    assert path.stat().st_size < 2_000_000


def test_bad_input_is_reported(planted, tmp_path):
    genome, model, test, _ = planted
    with pytest.raises(ValueError, match=r"positions must lie in 0\.\.9"):
        model.sequence_site_probabilities("ACGTACGTAC", [10])
    with pytest.raises(InputError, match="chrX"):
        KmerModel.fit(genome, ["chrX"])
    with pytest.raises(ValueError, match="k .* must be in 0..6"):
        KmerModel.fit(genome, ["train"], k=9)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        KmerModel.load(tmp_path / "missing.npz")
    (tmp_path / "other.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a k-mer model"):
        KmerModel.load(tmp_path / "other.npz")
