"""Distillation of a masked LM into a one-pass model: targets, a tiny CPU run, the saved folder."""

import json

import numpy as np
import pytest
import torch

from glm_core.genome import Genome
from glm_core.genome_fingerprint import sequence_fingerprint
from glm_core.distill import DistillationConfig, _bit_reversed, distill, export_student, teacher_targets
from glm_core.onepass import load_onepass_model


@pytest.fixture(scope="module")
def periodic_fasta(tmp_path_factory):
    # Three sequences of a noisy period-7 repeat: learnable from context in a few steps.
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("periodic")
    path = folder / "periodic.fa"
    records = []
    for name in ("chrA", "chrB", "chrH"):
        bases = np.array(list("ACGGTCA" * 600))
        noise = rng.random(len(bases)) < 0.1
        bases[noise] = rng.choice(list("ACGT"), noise.sum())
        records.append(f">{name}\n{''.join(bases)}\n")
    path.write_text("".join(records))
    return path


def test_bit_reversed_order_spreads_every_prefix():
    assert _bit_reversed(8) == [0, 4, 2, 6, 1, 5, 3, 7]
    assert sorted(_bit_reversed(32)) == list(range(32))
    assert _bit_reversed(32)[:2] == [0, 16]


def test_teacher_targets_label_one_base_per_spacing_of_each_central_half(tiny_gpn):
    # 2 sequences of 1,024 bases; windows of 512 at stride 256 (3 a sequence), 8 bases a window at spacing 32.
    rng = np.random.default_rng(1)
    ids = tiny_gpn.encode("".join(rng.choice(list("ACGT"), 2048)))
    log_probs, labelled, summary = teacher_targets(
        tiny_gpn, ids, np.array([0, 1024, 2048]), spacing=32, time_limit_s=None, max_phases=1, log=lambda line: None
    )
    assert summary["labelled"] == 2 * 3 * 8
    where = np.flatnonzero(labelled.numpy())
    assert (where % 1024 - 128).min() == 0 and ((where % 1024 - 128) % 32 == 0).all()
    np.testing.assert_allclose(log_probs[labelled].float().exp().sum(-1).numpy(), 1.0, atol=2e-3)
    assert (log_probs[~labelled] == 0).all()


def test_tiny_distillation_lowers_the_loss_and_saves_a_loadable_folder(tiny_gpn_dir, periodic_fasta, tmp_path):
    torch.manual_seed(0)
    config = DistillationConfig(
        teacher=str(tiny_gpn_dir),
        output_dir=str(tmp_path / "student"),
        fasta=str(periodic_fasta),
        held_out_chroms=("chrH",),
        hidden_size=16,
        intermediate_size=32,
        dilations=(1, 2),
        head_size=16,
        dropout=0.0,
        target_spacing=64,
        target_time_limit_s=None,
        agreement_windows=4,
        window=128,
        batch_size=8,
        learning_rate=5e-3,
        warmup_steps=5,
        max_steps=60,
        eval_every=30,
        eval_fraction=0.5,
        device="cpu",
    )
    summary = distill(config, log=lambda line: None)
    first, last = summary["history"][0], summary["history"][-1]
    assert last["step"] == 60 and summary["targets"]["phases_done"] == 64
    # Held-out bits/base falls from the uniform 2 bits as the period is learnt.
    assert last["bits_per_base"] < 1.9 and last["bits_per_base"] <= first["bits_per_base"]
    assert summary["target_agreement"]["n"] > 0
    folder = tmp_path / "student"
    assert json.loads((folder / "config.json").read_text())["model_type"] == "glm-onepass"
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    model = load_onepass_model(folder, device="cpu")
    assert model.kind == "one-pass" and model.context_flank == 9 + 4 * 3
    exported = tmp_path / "exported"
    export_student(folder, exported, model_card="# card\n")
    half = load_onepass_model(exported, device="cpu")
    sequence = "ACGGTCA" * 30
    np.testing.assert_allclose(
        half.sequence_site_probabilities(sequence), model.sequence_site_probabilities(sequence), atol=2e-3
    )
    assert (exported / "README.md").read_text() == "# card\n"
    assert (exported / "training_config.json").is_file()
    # The exported student still names the genome it learnt (written once, kept by save_pretrained).
    record = json.loads((exported / "config.json").read_text())["training_genome"]
    assert record["name"] == periodic_fasta.name and record["fingerprint"] == sequence_fingerprint(
        Genome(periodic_fasta).chrom_sizes
    )

    # The run measures its own agreement with the teacher; discovery shows it beside the kind.
    from glm_core.models import discover_models

    agreement = json.loads((exported / "agreement.json").read_text())
    assert agreement["teacher"] == tiny_gpn_dir.name and agreement["n"] == 64
    assert -1 <= agreement["llr_pearson"] <= 1 and agreement["accuracy"] == round(summary["best"]["accuracy"], 4)
    found = discover_models(exported).iloc[0]
    assert found["kind"] == "one-pass" and found["llr_pearson"] == agreement["llr_pearson"]


def test_distill_subcommand_trains_and_reports_a_missing_held_out_chromosome(
    tiny_gpn_dir, periodic_fasta, tmp_path, capsys
):
    from glm_core.cli import main

    common = ["distill", "--teacher", str(tiny_gpn_dir), "--fasta", str(periodic_fasta), "--device", "cpu"]
    assert main([*common, "--output-dir", str(tmp_path / "bad"), "--held-out", "chr20"]) == 2
    assert "held-out chromosomes ['chr20'] are not in" in capsys.readouterr().err
    out = tmp_path / "onepass"
    assert (
        main(
            [
                *common,
                "--output-dir",
                str(out),
                "--held-out",
                "chrH",
                "--target-time-limit",
                "0",
                "--agreement-windows",
                "2",
                "--window",
                "700",
                "--batch-size",
                "2",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
            ]
        )
        == 0
    )
    assert f"one-pass model in {out}" in capsys.readouterr().out
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["targets"]["phases_done"] == 32 and metrics["best"]["step"] == 2
    assert load_onepass_model(out, device="cpu").context_flank == 321


def test_config_refuses_a_window_shorter_than_the_receptive_field():
    with pytest.raises(ValueError, match="window 300 is too short for a receptive field of 321 bases"):
        DistillationConfig(teacher="t", output_dir="o", window=300)
