"""Masked-LM training: masking recipe, held-out split, resumable runs, save_pretrained output."""

import json

import numpy as np
import pytest
import torch

from glm_core.genome_fingerprint import is_training_genome
from glm_core.models import GPN_VOCABULARY, load_masked_lm
from glm_core.training import (
    MLMTrainingConfig,
    heldout_eval_set,
    learning_rate_at,
    mask_tokens,
    train_mlm,
    valid_window_starts,
)

BASE_IDS = torch.tensor([GPN_VOCABULARY.index(b) for b in "acgt"])
MASK_ID = GPN_VOCABULARY.index("[MASK]")


def test_masking_follows_the_80_10_10_recipe_on_bases_only():
    generator = torch.Generator().manual_seed(0)
    tokens = BASE_IDS[torch.randint(4, (64, 512), generator=generator)]
    tokens[:, :10] = GPN_VOCABULARY.index("[UNK]")  # N bases are never chosen
    inputs, labels, weights = mask_tokens(tokens, torch.ones(tokens.shape), 0.15, BASE_IDS, generator)
    chosen = labels != -100
    assert not chosen[:, :10].any()
    assert abs(chosen[:, 10:].float().mean().item() - 0.15) < 0.01
    masked = (inputs == MASK_ID)[chosen].float().mean().item()
    unchanged = (inputs == tokens)[chosen].float().mean().item()
    assert abs(masked - 0.8) < 0.02
    assert 0.1 < unchanged < 0.15  # 10 % kept plus random replacements that drew the same base
    assert torch.equal(labels[chosen], tokens[chosen])
    assert (weights[~chosen] == 0).all()
    mask_only, labels, _ = mask_tokens(tokens, torch.ones(tokens.shape), 0.15, BASE_IDS, generator, 1.0)
    assert ((mask_only == MASK_ID) == (labels != -100)).all()


def test_windows_never_cross_chromosomes():
    starts = valid_window_starts(np.array([0, 1000, 1300, 3000]), 512)
    assert starts.min() == 0 and starts.max() == 3000 - 512
    assert not ((starts > 1000 - 512) & (starts < 1300)).any()


def test_learning_rate_warms_up_then_decays_to_the_floor():
    config = MLMTrainingConfig(fasta="", output_dir="", learning_rate=1e-3, warmup_steps=10, max_steps=100)
    assert learning_rate_at(0, config) == pytest.approx(1e-4)
    assert learning_rate_at(10, config) == pytest.approx(1e-3)
    assert learning_rate_at(100, config) == pytest.approx(1e-3 * config.min_learning_rate_ratio)
    timed = MLMTrainingConfig(fasta="", output_dir="", warmup_steps=10, max_steps=10_000, time_limit_s=60)
    floor = timed.learning_rate * timed.min_learning_rate_ratio
    assert learning_rate_at(20, timed, elapsed_s=60) == pytest.approx(floor)


def test_held_out_set_is_deterministic_and_only_held_out(embedded_genome):
    first = heldout_eval_set(embedded_genome, ("chr23",), 512, max_windows=8)
    second = heldout_eval_set(embedded_genome, ("chr23",), 512, max_windows=8)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    scored = (first[1] != -100).float().mean().item()
    assert 0.12 < scored < 0.18
    chosen = first[1] != -100
    assert (first[0][chosen] == MASK_ID).all() and not (first[0][~chosen] == MASK_ID).any()


def test_trainer_style_held_out_set_scores_the_same_bases_and_shows_a_tenth_of_them(embedded_genome):
    all_masked = heldout_eval_set(embedded_genome, ("chr23",), 512, max_windows=64)
    corrupted = heldout_eval_set(embedded_genome, ("chr23",), 512, max_windows=64, mask_token_fraction=0.8)
    assert torch.equal(all_masked[1], corrupted[1])
    chosen = corrupted[1] != -100
    shown = corrupted[0][chosen]
    assert (shown == MASK_ID).float().mean().item() == pytest.approx(0.8, abs=0.02)
    # the unchanged tenth plus the quarter of the random tenth that lands on the true base
    assert (shown == corrupted[1][chosen]).float().mean().item() == pytest.approx(0.125, abs=0.015)
    assert torch.equal(all_masked[0][~chosen], corrupted[0][~chosen])


def test_tiny_run_trains_resumes_and_saves_a_loadable_model(tmp_path, embedded_genome):
    config = MLMTrainingConfig(
        fasta=str(embedded_genome.path),
        output_dir=str(tmp_path / "run"),
        hidden_size=32,
        num_hidden_layers=2,
        intermediate_size=64,
        batch_size=8,
        max_steps=6,
        warmup_steps=2,
        eval_every=3,
        eval_windows=4,
        checkpoint_every=3,
        device="cpu",
    )
    first = train_mlm(config, log=lambda line: None)
    assert first["step"] == 6
    config.max_steps = 9
    lines = []
    second = train_mlm(config, log=lines.append)
    assert any("resumed from step 6" in line for line in lines)
    assert second["step"] == 9
    saved = json.loads((tmp_path / "run" / "training_config.json").read_text())
    assert saved["held_out_chroms"] == ["chr20", "chr21", "chr22", "chr23"]
    model = load_masked_lm(tmp_path / "run" / "best", device="cpu")
    assert model.model.config.hidden_size == 32
    # The saved config names the genome it was trained on (36 sequences of U. maydis).
    record = json.loads((tmp_path / "run" / "best" / "config.json").read_text())["training_genome"]
    assert (record["name"], record["sequences"], record["total_length"]) == ("umaydis.fa.gz", 36, 19_702_792)
    assert is_training_genome(tmp_path / "run" / "best", embedded_genome.chrom_sizes)


def test_eval_mlm_scores_trainer_style_corruption_above_all_mask(tmp_path):
    from glm_core.cli import main
    from glm_core.models import BUNDLED_MLM

    out = tmp_path / "metrics.json"
    assert (
        main(
            [
                "eval-mlm",
                "--model",
                str(BUNDLED_MLM),
                "--held-out",
                "chr23",
                "--max-windows",
                "16",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    all_masked, trainer_style = report["forward"], report["trainer_style_80_10_10_forward"]
    assert all_masked["n_masked"] == trainer_style["n_masked"] > 1000
    # a tenth of the scored bases stay visible, so the trainer-style protocol reads higher
    assert 0.35 < all_masked["accuracy"] < trainer_style["accuracy"]
    assert trainer_style["bits_per_base"] < all_masked["bits_per_base"] < 2.0


def test_two_process_data_parallel_run_keeps_replicas_in_step(tmp_path):
    import os
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "glm_core.cli",
        "train-mlm",
        "--output-dir",
        str(tmp_path / "run"),
        "--device",
        "cpu",
        "--hidden-size",
        "32",
        "--layers",
        "2",
        "--batch-size",
        "8",
        "--max-steps",
        "4",
        "--warmup-steps",
        "2",
        "--eval-every",
        "2",
        "--eval-windows",
        "4",
        "--checkpoint-every",
        "2",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 processes, 4 windows each a step" in done.stdout
    assert "data-parallel replicas agree" in done.stdout
    assert done.stdout.count("last held-out accuracy") == 1  # one process reports
    assert json.loads((tmp_path / "run" / "latest" / "trainer_state.json").read_text())["step"] == 4
    assert load_masked_lm(tmp_path / "run" / "best", device="cpu").model.config.hidden_size == 32
