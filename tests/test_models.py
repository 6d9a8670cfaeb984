"""Loading masked LMs and the scoring primitive: probabilities, strand symmetry, LLRs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from glm_core.genome import nucleotide_codes
from glm_core.models import BUNDLED_MLM, discover_models, load_masked_lm
from glm_core.scoring import probability_table, site_probabilities, snv_llr, snv_table


@pytest.fixture(scope="module")
def bundled():
    return load_masked_lm(BUNDLED_MLM, device="cpu")


def test_no_glm_core_module_imports_streamlit():
    import pkgutil

    import glm_core

    modules = [f"glm_core.{m.name}" for m in pkgutil.iter_modules(glm_core.__path__)]
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; print('streamlit' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) >= 10 and result.stdout.strip() == "False"


def test_bundled_model_loads_as_gpn(bundled):
    assert bundled.model.config.model_type == "GPN"
    assert bundled.context == 512
    assert sum(p.numel() for p in bundled.model.parameters()) > 10_000_000
    assert list(bundled.encode("ACGTNacgt")) == [3, 4, 5, 6, 2, 3, 4, 5, 6]


def test_probabilities_sum_to_one_and_strands_mirror(bundled, embedded_genome):
    plus = site_probabilities(bundled, embedded_genome, "chr20", 50_000, 50_006, "+")
    minus = site_probabilities(bundled, embedded_genome, "chr20", 50_000, 50_006, "-")
    assert plus.shape == (6, 4)
    np.testing.assert_allclose(plus.sum(axis=1), 1.0, atol=1e-5)
    # the minus strand read 5'->3' is the plus strand reversed, with A<->T and C<->G
    np.testing.assert_allclose(minus, plus[::-1, ::-1], atol=1e-6)


def test_results_do_not_depend_on_batch_size(bundled, embedded_genome):
    one = site_probabilities(bundled, embedded_genome, "chr21", 10_000, 10_005, batch_size=1)
    many = site_probabilities(bundled, embedded_genome, "chr21", 10_000, 10_005, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_chromosome_ends_are_scored(bundled, embedded_genome):
    last = embedded_genome.chrom_sizes["chr22"]
    both_ends = np.vstack(
        [
            site_probabilities(bundled, embedded_genome, "chr22", 0, 2),
            site_probabilities(bundled, embedded_genome, "chr22", last - 2, last),
        ]
    )
    np.testing.assert_allclose(both_ends.sum(axis=1), 1.0, atol=1e-5)


def test_start_codon_of_held_out_gene_is_predicted(bundled, embedded_genome, embedded_annotation):
    # um05803 (chr20, plus strand) is held out from training; its ATG is predicted well above chance.
    cds = embedded_annotation.cds("mRNA:um05803")
    start = int(cds.iloc[0]["start"])
    assert embedded_genome.fetch("chr20", start, start + 3) == "ATG"
    probabilities = site_probabilities(bundled, embedded_genome, "chr20", start, start + 3)
    p_ref = probabilities[np.arange(3), nucleotide_codes("ATG")]
    assert (p_ref > 0.4).all(), p_ref


def test_llr_of_reference_is_zero_and_sign_follows_probability():
    probabilities = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.1, 0.1, 0.1, 0.7]])
    llr = snv_llr(probabilities, nucleotide_codes("ACN"))
    assert llr[0, 0] == 0 and llr[1, 1] == 0
    assert (llr[0, 1:] < 0).all()  # moving away from a confident reference costs likelihood
    np.testing.assert_allclose(llr[0, 1], np.log(0.1 / 0.7))
    assert np.isnan(llr[2]).all()  # no reference base, no LLR


def test_tables_have_documented_columns():
    probabilities = np.full((3, 4), 0.25)
    table = probability_table("chr01", 99, "ACN", probabilities)
    assert list(table.columns) == ["chrom", "pos", "ref", "pA", "pC", "pG", "pT", "p_ref", "entropy", "ic"]
    np.testing.assert_allclose(table["ic"], 0.0, atol=1e-9)
    snvs = snv_table("chr01", 99, "ACN", probabilities)
    assert len(snvs) == 6 and set(snvs["pos"]) == {99, 100}
    assert not (snvs["ref"] == snvs["alt"]).any()


def test_tiny_random_checkpoint_loads_from_a_folder(tiny_gpn_dir, embedded_genome):
    model = load_masked_lm(tiny_gpn_dir, device="cpu")
    probabilities = site_probabilities(model, embedded_genome, "chr01", 1_000, 1_010)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    found = discover_models(tiny_gpn_dir.parent)
    assert tiny_gpn_dir.name in set(found["name"])


def test_remote_code_is_refused_by_default(tiny_gpn_dir, tmp_path):
    folder = tmp_path / "remote"
    folder.mkdir()
    for item in tiny_gpn_dir.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForMaskedLM": "modeling_custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_masked_lm(folder, device="cpu")


def test_missing_or_pickled_checkpoints_get_clear_errors(tiny_gpn_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_masked_lm(tmp_path, device="cpu")
    (tmp_path / "config.json").write_text((tiny_gpn_dir / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="safetensors"):
        load_masked_lm(tmp_path, device="cpu")


def test_the_wrapper_exposes_what_scoring_and_embeddings_need(tiny_gpn):
    import torch

    complement = tiny_gpn.complement_ids
    a, c, g, t = (int(i) for i in tiny_gpn.nucleotide_ids)
    assert (int(complement[a]), int(complement[c]), int(complement[g]), int(complement[t])) == (t, g, c, a)
    assert int(complement[tiny_gpn.mask_id]) == tiny_gpn.mask_id
    ids = torch.from_numpy(tiny_gpn.encode("ACGTTGCAAC")).reshape(1, -1)
    assert tiny_gpn.reverse_complement_ids(ids).tolist() == [tiny_gpn.encode("GTTGCAACGT").tolist()]
    assert torch.equal(tiny_gpn.reverse_complement_ids(tiny_gpn.reverse_complement_ids(ids)), ids)
    with torch.inference_mode():
        log_probs = tiny_gpn.nucleotide_log_probs(ids.repeat(3, 1), torch.tensor([0, 4, 9]))
        hidden = tiny_gpn.hidden_states(ids)
    assert log_probs.shape == (3, 4) and torch.allclose(log_probs.exp().sum(-1), torch.ones(3))
    assert hidden.shape == (1, 10, tiny_gpn.model.config.hidden_size)
