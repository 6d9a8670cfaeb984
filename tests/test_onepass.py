"""The one-pass blind-spot site model: exact blind spot, strand symmetry, chunking, loading."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel

from glm_core.errors import InputError
from glm_core.genome import nucleotide_codes
from glm_core.models import BUNDLED_MLM, BUNDLED_MODELS_DIR, build_tokenizer
from glm_core.onepass import (
    MODEL_TYPE,
    OnePassConfig,
    OnePassForSiteProbabilities,
    OnePassSiteModel,
    load_onepass_model,
)
from glm_core.scoring import site_probabilities

BUNDLED_ONEPASS = BUNDLED_MODELS_DIR / "gpn-umaydis-onepass"
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@pytest.fixture(scope="module")
def random_model():
    """Random weights, float64, eval mode: receptive field 5 + 2 * (1 + 2 + 4) = 19 bases each side."""
    torch.manual_seed(0)
    config = OnePassConfig(
        hidden_size=16,
        intermediate_size=32,
        first_kernel_size=5,
        kernel_size=3,
        dilations=(1, 2, 4),
        head_size=16,
        dropout=0.0,
    )
    return OnePassForSiteProbabilities(config).double().eval()


def _random_sequence(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


def _log_probs(model, sequence: str) -> np.ndarray:
    ids = torch.from_numpy(OnePassSiteModel(model, "random").encode(sequence))[None]
    with torch.no_grad():
        return model(input_ids=ids).logits[0].numpy()


def test_prediction_at_i_never_depends_on_the_base_at_i(random_model):
    assert random_model.config.receptive_field == 19
    sequence = _random_sequence(200, seed=1)
    before = _log_probs(random_model, sequence)
    for i in (0, 57, 100, 199):
        for base in "ACGTN":
            changed = _log_probs(random_model, sequence[:i] + base + sequence[i + 1 :])
            assert np.array_equal(changed[i], before[i])  # exact, in float64
            moved = np.flatnonzero(np.abs(changed - before).max(axis=1) > 0)
            if base != sequence[i]:
                # Every neighbour within the receptive field (and nothing beyond it) sees the change.
                expected = [p for p in range(i - 19, i + 20) if p != i and 0 <= p < 200]
                assert moved.tolist() == expected


def test_reverse_complement_gives_the_mirrored_complemented_table(random_model):
    wrapped = OnePassSiteModel(random_model, "random")
    sequence = _random_sequence(300, seed=2)
    plus = wrapped.sequence_site_probabilities(sequence)
    minus = wrapped.sequence_site_probabilities(sequence.translate(COMPLEMENT)[::-1])
    np.testing.assert_allclose(minus[::-1, ::-1], plus, atol=1e-6)
    np.testing.assert_allclose(plus.sum(axis=1), 1.0, atol=1e-6)


def test_chunked_scoring_equals_one_pass(random_model):
    sequence = _random_sequence(2_000, seed=3)
    whole = OnePassSiteModel(random_model, "random", chunk_length=100_000).sequence_site_probabilities(sequence)
    chunked = OnePassSiteModel(random_model, "random", chunk_length=37)
    np.testing.assert_allclose(chunked.sequence_site_probabilities(sequence, batch_size=3), whole, atol=1e-6)
    positions = np.array([1_999, 0, 512, 513, 40, 1_000])  # scattered, unsorted
    np.testing.assert_allclose(
        chunked.sequence_site_probabilities(sequence, positions, batch_size=1), whole[positions], atol=1e-6
    )


def test_substitution_scoring_equals_scoring_each_substituted_sequence(random_model):
    # An N in the middle, substitutions at both ends, beside the N and far from the positions
    # asked for, so the reused reference streams, the cropping and the batching are all tried.
    sequence = _random_sequence(300, seed=5)
    sequence = sequence[:150] + "N" + sequence[151:]
    model = OnePassSiteModel(random_model, "random")
    at = [0, 1, 100, 149, 150, 151, 170, 230, 299]
    substitutions = np.array([(q, code) for q in at for code in range(4)])
    positions = np.array([120, 99, 100, 101, 150, 200, 160, 140])  # unsorted, around the N
    scored = model.substitution_site_probabilities(sequence, substitutions, positions, batch_size=5)
    assert scored.shape == (len(substitutions), len(positions), 4)
    reference = model.sequence_site_probabilities(sequence, positions)
    moved = 0
    for row, (q, code) in enumerate(substitutions):
        substituted = sequence[:q] + "ACGT"[code] + sequence[q + 1 :]
        expected = model.sequence_site_probabilities(substituted, positions)
        np.testing.assert_allclose(scored[row], expected, atol=1e-6)
        moved += not np.allclose(expected, reference, atol=1e-6)
    # Substitutions within the receptive field (19) of a position asked for move it; the others do not.
    # Each such q moves them with its three other bases, or with all four where it is the N.
    near = [q for q in at if np.abs(positions - q).min() <= 19]
    assert moved == sum(4 if sequence[q] == "N" else 3 for q in near) == 16
    with pytest.raises(InputError, match="codes 0..3"):
        model.substitution_site_probabilities(sequence, np.array([[5, 4]]), positions)
    with pytest.raises(InputError, match="substitution positions"):
        model.substitution_site_probabilities(sequence, np.array([[300, 1]]), positions)


def test_save_pretrained_round_trip_needs_no_remote_code(random_model, tmp_path):
    random_model.save_pretrained(tmp_path, safe_serialization=True)
    build_tokenizer().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE and "auto_map" not in config
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    reloaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=False).double().eval()
    assert isinstance(reloaded, OnePassForSiteProbabilities)
    sequence = _random_sequence(120, seed=4)
    np.testing.assert_array_equal(_log_probs(reloaded, sequence), _log_probs(random_model, sequence))
    loaded = load_onepass_model(tmp_path, device="cpu")
    assert loaded.kind == "one-pass" and loaded.context_flank == 19 and loaded.name == tmp_path.name


def test_loader_refuses_masked_lms_pickles_and_remote_code(random_model, tmp_path):
    with pytest.raises(InputError, match="'GPN' model, not a one-pass site model"):
        load_onepass_model(BUNDLED_MLM)
    random_model.config.save_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InputError, match="no model.safetensors; only safetensors"):
        load_onepass_model(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Model"}}))
    with pytest.raises(InputError, match="auto_map"):
        load_onepass_model(tmp_path)
    with pytest.raises(InputError, match="no config.json"):
        load_onepass_model(tmp_path / "missing")


@pytest.fixture(scope="module")
def bundled_onepass():
    return load_onepass_model(BUNDLED_ONEPASS, device="cpu")


def test_bundled_model_fits_the_asset_budget(bundled_onepass):
    assert (BUNDLED_ONEPASS / "model.safetensors").stat().st_size <= 13_000_000
    assert bundled_onepass.context_flank == 321
    assert (BUNDLED_ONEPASS / "README.md").is_file()


def test_bundled_model_predicts_the_start_codon_of_a_held_out_gene(
    bundled_onepass, embedded_genome, embedded_annotation
):
    # um05803 (chr20, plus strand) is held out from training, as for the teacher (tests/test_models.py).
    cds = embedded_annotation.cds("mRNA:um05803")
    start = int(cds.iloc[0]["start"])
    assert embedded_genome.fetch("chr20", start, start + 3) == "ATG"
    probabilities = site_probabilities(bundled_onepass, embedded_genome, "chr20", start, start + 3)
    p_ref = probabilities[np.arange(3), nucleotide_codes("ATG")]
    assert (p_ref > 0.4).all(), p_ref
    minus = site_probabilities(bundled_onepass, embedded_genome, "chr20", start, start + 3, "-")
    np.testing.assert_allclose(minus, probabilities[::-1, ::-1], atol=1e-6)
