"""Tag-controlled sampling (glm_core/generation.py) and the k-mer oracle (glm_core/oracle.py).

Facts checked: a fixed seed gives the same designs; designs hold only A/C/G/T, exactly the
requested length, and start with a requested prefix; unknown tags fail with the known
ones named; the oracle is fitted on training genes only and its AUROC is measured on
held-out genes only; the oracle survives a save/load round trip unchanged; nearest
identity and shared k-mers agree with hand counts.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from glm_core.generation import (build_generator_tokenizer, generate_promoters, load_generator, nearest_identity,
                                 shares_kmer)
from glm_core.oracle import KmerOracle, fit_oracle, kmer_frequencies


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory):
    """A randomly initialised 2-layer LlamaForCausalLM saved as a generator folder, then loaded."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("generator")
    tags = {"CAI": {"LOW": "<LOW>", "MID": "<MID>", "HIGH": "<HIGH>"}}
    tokenizer = build_generator_tokenizer(list(tags["CAI"].values()))
    vocab = tokenizer.get_vocab()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=128, pad_token_id=vocab["<pad>"],
                                         bos_token_id=vocab["<bos>"], eos_token_id=vocab["<eos>"]))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "tags.json").write_text(json.dumps({"tag_tokens": tags, "upstream": 60}))
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
    designs = generate_promoters(tiny_generator, ["LOW"], n=3, length=30, prefix="acgtac", top_p=0.9, top_k=3,
                                 temperature=0.7, progress=lambda done, total: seen.append((done, total)))
    assert all(s.startswith("ACGTAC") and len(s) == 30 and set(s) <= set("ACGT") for s in designs["sequence"])
    assert seen[-1] == (3 * 24, 3 * 24)


def test_bad_requests_name_the_problem(tiny_generator):
    with pytest.raises(KeyError, match="unknown tag 'VERY_HIGH'.*LOW, MID, HIGH"):
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
                    bases[start:start + 6] = list("TATAAA")
            rows.append({"name": f"g{held_out:d}{i}", "held_out": held_out, "CAI": label,
                         "sequence": "".join(bases)})
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
    assert main(["generate", "--model", str(tiny_generator.path), "--tag", "LOW", "-n", "3", "--length", "25",
                 "--device", "cpu", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert [line.split()[0] for line in lines[::2]] == [">design_00001", ">design_00002", ">design_00003"]
    assert all(len(line) == 25 and set(line) <= set("ACGT") for line in lines[1::2])
    assert main(["generate", "--model", str(tiny_generator.path), "--tag", "SKY", "--out", str(out)]) == 2
    assert "unknown tag 'SKY'" in capsys.readouterr().err
