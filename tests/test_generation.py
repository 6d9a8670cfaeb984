"""Tag-controlled sampling (glm_core/generation.py) and the k-mer oracle (glm_core/oracle.py).

Facts checked: a fixed seed gives the same designs; designs hold only A/C/G/T, exactly the
requested length, and start with a requested prefix; unknown tags fail with the known
ones named; the oracle is fitted on training genes only and its AUROC is measured on
held-out genes only; the oracle survives a save/load round trip unchanged; nearest
identity and shared k-mers agree with hand counts. Classifier-free guidance: the guided
log-probabilities at several steps equal ``uncond + w * (cond - uncond)`` computed by full
forward passes without a cache, a guided run is reproducible and guidance 1 is plain
sampling; models that were not trained without tags are flagged.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from glm_core import generation
from glm_core.errors import InputError
from glm_core.generation import (
    build_generator_tokenizer,
    designs_fasta,
    generate_promoters,
    guidance_warning,
    load_generator,
    nearest_identity,
    recommended_guidance,
    shares_kmer,
    unconditional_training_fraction,
)
from glm_core.oracle import KmerOracle, fit_oracle, kmer_frequencies


def _save_tiny_generator(folder, initializer_range=0.02, tags_extra=None, training_config=None):
    """A randomly initialised 2-layer LlamaForCausalLM (seed 0) saved as a generator folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tags = {"CAI": {"LOW": "<LOW>", "MID": "<MID>", "HIGH": "<HIGH>"}}
    tokenizer = build_generator_tokenizer(list(tags["CAI"].values()))
    vocab = tokenizer.get_vocab()
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=vocab["<pad>"],
            bos_token_id=vocab["<bos>"],
            eos_token_id=vocab["<eos>"],
            initializer_range=initializer_range,
        )
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "tags.json").write_text(json.dumps({"tag_tokens": tags, "upstream": 60, **(tags_extra or {})}))
    if training_config is not None:
        (folder / "training_config.json").write_text(json.dumps(training_config))
    return folder


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory):
    """A randomly initialised 2-layer LlamaForCausalLM saved as a generator folder, then loaded."""
    return load_generator(_save_tiny_generator(tmp_path_factory.mktemp("generator")), device="cpu")


@pytest.fixture(scope="module")
def contrasty_generator(tmp_path_factory):
    """Like ``tiny_generator`` with 10x larger initial weights, so that the tag moves the predictions a lot."""
    folder = _save_tiny_generator(tmp_path_factory.mktemp("contrasty"), initializer_range=0.2)
    return load_generator(folder, device="cpu")


def test_tokenizer_reads_tags_and_bases_as_single_tokens(tiny_generator):
    tokens = tiny_generator.tokenizer.tokenize("<HIGH>ACGT")
    assert tokens == ["<HIGH>", "A", "C", "G", "T"]


def test_fixed_seed_is_reproducible_and_only_acgt_of_the_requested_length(tiny_generator):
    first = generate_promoters(tiny_generator, ["HIGH"], n=5, length=40, seed=7, batch_size=4)
    again = generate_promoters(tiny_generator, ["<HIGH>"], n=5, length=40, seed=7, batch_size=4)
    other = generate_promoters(tiny_generator, ["HIGH"], n=5, length=40, seed=8, batch_size=4)
    pd.testing.assert_frame_equal(first, again)
    assert first["sequence"].tolist() != other["sequence"].tolist()
    assert all(len(s) == 40 and set(s) <= set("ACGT") for s in first["sequence"])
    assert first["design_id"].is_unique and (first["tags"] == "HIGH").all()


def test_prefix_top_p_and_progress(tiny_generator):
    seen = []
    designs = generate_promoters(
        tiny_generator,
        ["LOW"],
        n=3,
        length=30,
        prefix="acgtac",
        top_p=0.9,
        top_k=3,
        temperature=0.7,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert all(s.startswith("ACGTAC") and len(s) == 30 and set(s) <= set("ACGT") for s in designs["sequence"])
    assert seen[-1] == (3 * 24, 3 * 24)


def test_bad_requests_name_the_problem(tiny_generator):
    with pytest.raises(InputError, match="unknown tag 'VERY_HIGH'.*LOW, MID, HIGH"):
        generate_promoters(tiny_generator, ["VERY_HIGH"], n=1, length=20)
    with pytest.raises(ValueError, match="one per family"):
        generate_promoters(tiny_generator, ["HIGH", "LOW"], n=1, length=20)
    with pytest.raises(ValueError, match="prefix may hold only"):
        generate_promoters(tiny_generator, ["HIGH"], n=1, length=20, prefix="ACNN")
    with pytest.raises(ValueError, match="length must satisfy"):
        generate_promoters(tiny_generator, ["HIGH"], n=1, length=1000)


def _synthetic_promoters(seed=0):
    """Training genes: HIGH promoters rich in the motif TATAAA; held-out genes: the reverse."""
    rng = np.random.default_rng(seed)
    rows = []
    for held_out in (False, True):
        for i in range(60 if not held_out else 30):
            label = ["LOW", "MID", "HIGH"][i % 3]
            bases = list(rng.choice(list("ACGT"), 120))
            motif_rich = (label == "HIGH") != held_out
            if motif_rich:
                for start in (10, 50, 90):
                    bases[start : start + 6] = list("TATAAA")
            rows.append({"name": f"g{held_out:d}{i}", "held_out": held_out, "CAI": label, "sequence": "".join(bases)})
    return pd.DataFrame(rows)


def test_oracle_auroc_is_measured_on_held_out_genes_only(tmp_path):
    from sklearn.metrics import roc_auc_score

    promoters = _synthetic_promoters()
    oracle = fit_oracle(promoters, "CAI", ks=(1, 2, 3), c=1.0)
    assert oracle.labels == ["LOW", "MID", "HIGH"]
    test = promoters[promoters["held_out"] & promoters["CAI"].isin(["LOW", "HIGH"])]
    assert oracle.metrics["n_train"] == 60 and oracle.metrics["n_heldout_top_bottom"] == len(test) == 20
    expected = roc_auc_score(test["CAI"] == "HIGH", oracle.score(test["sequence"]))
    assert oracle.metrics["heldout_auroc"] == pytest.approx(expected)
    # the held-out genes here invert the training signal, so a held-out AUROC is far below 0.5
    assert oracle.metrics["heldout_auroc"] < 0.3
    train = promoters[~promoters["held_out"] & promoters["CAI"].isin(["LOW", "HIGH"])]
    assert roc_auc_score(train["CAI"] == "HIGH", oracle.score(train["sequence"])) > 0.9
    # held-out labels do not touch the fitted weights
    relabelled = promoters.assign(CAI=np.where(promoters["held_out"], "LOW", promoters["CAI"]))
    assert np.allclose(fit_oracle(relabelled, "CAI", ks=(1, 2, 3), c=1.0).coef, oracle.coef)
    # save/load round trip: same scores
    oracle.save(tmp_path)
    assert np.allclose(KmerOracle.load(tmp_path).score(test["sequence"]), oracle.score(test["sequence"]), atol=1e-4)


def test_kmer_frequencies_sum_to_one_per_k():
    features = kmer_frequencies(["ACGTNACGT"], ks=(1, 2))
    assert features.shape == (1, 4 + 16)
    assert features[0, :4].tolist() == [0.25, 0.25, 0.25, 0.25]
    assert features[0, 4:].sum() == pytest.approx(1.0)  # AC, CG, GT twice each; N-containing pairs skipped


def test_nearest_identity_and_shared_kmers_by_hand():
    references = ["AAAAAAAAAA", "ACGTACGTAC", "CCCC"]
    best, identity = nearest_identity(["ACGTACGTAA", "GGGGGGCCCC"], references)
    assert best.tolist() == [1, 2] and identity.tolist() == [0.9, 0.4]  # aligned at the 3' end
    _, among = nearest_identity(["ACGT", "ACGA", "TTTT"], ["ACGT", "ACGA", "TTTT"])
    assert among.tolist() == [0.75, 0.75, 0.25]  # never its own neighbour
    assert shares_kmer(["GGACGTACGG", "GGGGGGGGGG"], references, k=6).tolist() == [True, False]


def test_cli_generate_writes_fasta_and_rejects_unknown_tags(tiny_generator, tmp_path, capsys):
    from glm_core.cli import main

    out = tmp_path / "designs.fasta"
    assert (
        main(
            [
                "generate",
                "--model",
                str(tiny_generator.path),
                "--tag",
                "LOW",
                "-n",
                "3",
                "--length",
                "25",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert [line.split()[0] for line in lines[::2]] == [">design_00001", ">design_00002", ">design_00003"]
    assert all(len(line) == 25 and set(line) <= set("ACGT") for line in lines[1::2])
    assert main(["generate", "--model", str(tiny_generator.path), "--tag", "SKY", "--out", str(out)]) == 2
    assert "unknown tag 'SKY'" in capsys.readouterr().err


# --------------------------------------------------------------------------- classifier-free guidance


def _direct_log_probs(model, ids):
    """log-softmax of the last position's logits from one full forward pass, no cache."""
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=ids).logits[:, -1].float(), dim=-1)


def test_guided_log_probabilities_match_full_forward_passes(contrasty_generator, monkeypatch):
    generator, scale = contrasty_generator, 2.5
    recorded = []
    original = generation.sampling._ClassifierFreeGuidance.__call__

    def recording(self, input_ids, scores):
        guided = original(self, input_ids, scores)
        recorded.append((input_ids.clone(), guided.clone()))
        return guided

    monkeypatch.setattr(generation.sampling._ClassifierFreeGuidance, "__call__", recording)
    designs = generate_promoters(
        generator, ["HIGH"], n=3, length=20, prefix="ACG", guidance_scale=scale, seed=3, batch_size=3
    )
    assert len(recorded) == 17  # one call per sampled base
    bos, high = generator.tokenizer.bos_token_id, generator.tag_ids(["HIGH"])[0]
    bases = torch.as_tensor(generator.nucleotide_ids)
    for step in (0, 1, 9, 16):
        input_ids, guided = recorded[step]
        assert input_ids.shape == (3, 2 + 3 + step)
        assert (input_ids[:, 0] == bos).all() and (input_ids[:, 1] == high).all()
        untagged = torch.cat([input_ids[:, :1], input_ids[:, 2:]], dim=1)
        conditional = _direct_log_probs(generator.model, input_ids)
        unconditional = _direct_log_probs(generator.model, untagged)
        expected = unconditional + scale * (conditional - unconditional)
        torch.testing.assert_close(guided[:, bases], expected[:, bases], rtol=1e-4, atol=1e-4)
        # the check has teeth: guidance moves the distribution, and an unconditional branch
        # that lost its context (only the newest token) would give other numbers
        assert (guided[:, bases] - conditional[:, bases]).abs().max() > 0.05
        if step > 0:
            lost = _direct_log_probs(generator.model, input_ids[:, -1:])
            wrong = lost + scale * (conditional - lost)
            assert (wrong[:, bases] - expected[:, bases]).abs().max() > 0.05
    # what was recorded is what came out: the last input plus the last sampled base
    last_ids = recorded[-1][0][:, 5:].numpy()
    id_to_base = dict(zip(generator.nucleotide_ids.tolist(), "ACGT"))
    assert ["ACG" + "".join(id_to_base[i] for i in row) for row in last_ids] == [s[:-1] for s in designs["sequence"]]


def test_guided_sampling_is_reproducible_and_guidance_one_is_plain_sampling(contrasty_generator):
    guided = generate_promoters(
        contrasty_generator, ["LOW"], n=6, length=30, guidance_scale=3.0, seed=5, batch_size=4, top_k=3, temperature=0.8
    )
    again = generate_promoters(
        contrasty_generator, ["LOW"], n=6, length=30, guidance_scale=3.0, seed=5, batch_size=4, top_k=3, temperature=0.8
    )
    plain = generate_promoters(
        contrasty_generator, ["LOW"], n=6, length=30, seed=5, batch_size=4, top_k=3, temperature=0.8
    )
    off = generate_promoters(
        contrasty_generator, ["LOW"], n=6, length=30, guidance_scale=1.0, seed=5, batch_size=4, top_k=3, temperature=0.8
    )
    pd.testing.assert_frame_equal(guided, again)
    pd.testing.assert_frame_equal(plain, off)
    assert guided["sequence"].tolist() != plain["sequence"].tolist()
    assert (guided["guidance"] == 3.0).all() and (plain["guidance"] == 1.0).all()
    assert all(len(s) == 30 and set(s) <= set("ACGT") for s in guided["sequence"])
    assert designs_fasta(guided).splitlines()[0] == ">design_00001 tags=LOW guidance=3"
    with pytest.raises(ValueError, match="guidance_scale must be a number >= 0"):
        generate_promoters(contrasty_generator, ["LOW"], n=1, length=20, guidance_scale=-1)


def test_guidance_needs_unconditional_training(tmp_path):
    old = load_generator(_save_tiny_generator(tmp_path / "old"), device="cpu")
    assert unconditional_training_fraction(old) is None and recommended_guidance(old) == 1.0
    assert guidance_warning(old, 1.0) is None
    assert "does not record unconditional_fraction" in guidance_warning(old, 2.0)
    zero = load_generator(
        _save_tiny_generator(tmp_path / "zero", training_config={"unconditional_fraction": 0.0}), device="cpu"
    )
    assert "records unconditional_fraction = 0" in guidance_warning(zero, 2.0)
    new = load_generator(
        _save_tiny_generator(
            tmp_path / "new", tags_extra={"recommended_guidance": 2.5}, training_config={"unconditional_fraction": 0.1}
        ),
        device="cpu",
    )
    assert unconditional_training_fraction(new) == 0.1 and recommended_guidance(new) == 2.5
    assert guidance_warning(new, 2.5) is None
    # generation_config.json is the second place a recommendation may live
    folder = _save_tiny_generator(tmp_path / "gen-config")
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, "recommended_guidance": 1.5}))
    assert recommended_guidance(load_generator(folder, device="cpu")) == 1.5


def test_cli_generate_with_guidance_warns_for_a_model_without_untagged_training(tiny_generator, tmp_path, capsys):
    from glm_core.cli import main

    out = tmp_path / "guided.fasta"
    assert (
        main(
            [
                "generate",
                "--model",
                str(tiny_generator.path),
                "--tag",
                "HIGH",
                "-n",
                "2",
                "--length",
                "25",
                "--guidance",
                "2",
                "--seed",
                "4",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].startswith(">design_00001 tags=HIGH guidance=2 seed=4")
    assert all(len(line) == 25 and set(line) <= set("ACGT") for line in lines[1::2])
    captured = capsys.readouterr()
    assert "warning" in captured.err and "not trained on untagged promoters" in captured.err
    assert "guidance 2" in captured.out
    expected = generate_promoters(tiny_generator, ["HIGH"], n=2, length=25, guidance_scale=2.0, seed=4)
    assert lines[1::2] == expected["sequence"].tolist()


def test_prompt_tokens_are_never_training_targets(tiny_generator):
    from glm_core.generation.training import _prompt_token_mask

    vocab = tiny_generator.tokenizer.get_vocab()
    row = ["<bos>", "<HIGH>", "A", "C", "G", "T", "<eos>"]
    untagged = ["<bos>", "<genome>", "A", "<eos>"]
    assert _prompt_token_mask(torch.tensor([vocab[t] for t in row])).tolist() == [True, True] + [False] * 5
    assert _prompt_token_mask(torch.tensor([vocab[t] for t in untagged])).tolist() == [True, True, False, False]
