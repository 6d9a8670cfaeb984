"""One loader and one discovery for every site model, measured rates, and the CUDA-only compiled path.

Facts checked: ``load_site_model`` returns a one-pass model for the bundled one-pass folder
and a masked LM for GPN folders, and refuses a folder without config.json; ``discover_models``
labels both bundled models by kind and reads the one-pass model's agreement with its teacher
(LLR Pearson 0.9535 with gpn-umaydis, docs/results/eval_onepass.json); a rate-based estimate
of a model ten times slower is ten times longer; the compiled path is never chosen on a CPU
and the default path there is bit-identical to the eager one; padding the last batch to one
shape (what the compiled path does) changes no result; ``glm-explore scan`` scores with the
one-pass model by default on a CPU, with the masked LM under ``--exact``, and ``embed``
refuses a one-pass model.
"""

import time

import numpy as np
import pandas as pd
import pytest

from glm_core import scoring, throughput
from glm_core.cli import main
from glm_core.errors import InputError
from glm_core.models import (
    BUNDLED_MLM,
    BUNDLED_MODELS_DIR,
    BUNDLED_ONEPASS,
    default_site_model_path,
    discover_models,
    load_site_model,
)


@pytest.fixture(scope="module")
def onepass():
    return load_site_model(BUNDLED_ONEPASS, device="cpu")


def test_load_site_model_dispatches_on_model_type(onepass, tiny_gpn_dir, tmp_path):
    assert onepass.kind == "one-pass" and onepass.name == "gpn-umaydis-onepass"
    masked = load_site_model(tiny_gpn_dir, device="cpu")
    assert masked.kind == "masked" and masked.context == 512
    with pytest.raises((InputError, FileNotFoundError), match="config.json"):
        load_site_model(tmp_path)


def test_discover_models_labels_kinds_and_teacher_agreement():
    found = discover_models(BUNDLED_MODELS_DIR).set_index("name")
    assert found.loc["gpn-umaydis", "kind"] == "masked"
    assert found.loc["gpn-umaydis", "label"] == "masked, one window per base"
    assert found.loc["gpn-umaydis-onepass", "kind"] == "one-pass"
    assert found.loc["gpn-umaydis-onepass", "label"] == "one pass"
    assert found.loc["gpn-umaydis-onepass", "teacher"] == "gpn-umaydis"
    assert found.loc["gpn-umaydis-onepass", "llr_pearson"] == pytest.approx(0.9535)
    assert found.loc["promoter-gen-umaydis", "kind"] == "causal"


def test_default_model_is_one_pass_on_cpu_and_masked_when_exact():
    assert default_site_model_path("cpu") == BUNDLED_ONEPASS
    assert default_site_model_path("cpu", exact=True) == BUNDLED_MLM


class SleepyModel:
    """A fake site model that takes ``seconds_per_position`` a position."""

    kind, name, context_flank = "masked", "sleepy", 4

    def __init__(self, seconds_per_position: float):
        self.seconds_per_position = seconds_per_position

    def sequence_site_probabilities(self, sequence, positions, *, batch_size=None, progress=None):
        time.sleep(self.seconds_per_position * len(positions))
        return np.full((len(positions), 4), 0.25)


def test_estimates_come_from_the_measured_rate():
    fast = throughput.measure_rate(SleepyModel(0.001), positions=40)
    slow = throughput.measure_rate(SleepyModel(0.01), positions=40)
    assert 300 < fast <= 1000 and 30 < slow <= 100
    ratio = throughput.estimate_seconds(2000, slow) / throughput.estimate_seconds(2000, fast)
    assert 5 < ratio < 12  # ten times slower (sleep granularity aside)
    assert throughput.estimate_seconds(2000, 10.0) == 200.0
    assert throughput.describe_estimate(2000, 11.0) == "about 3 min for 2,000 bp at 11 positions/s measured here"
    assert throughput.describe_estimate(100, 636.0) == "under 1 s for 100 bp at 636 positions/s measured here"


def test_compiled_path_is_never_used_on_cpu(tiny_gpn_dir, monkeypatch):
    import torch

    model = load_site_model(tiny_gpn_dir, device="cpu")
    assert not scoring.use_compiled_path(torch.device("cpu"), 10**7)
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), size=700))
    positions = np.arange(300, 340)
    monkeypatch.setattr(scoring, "COMPILE_MIN_POSITIONS", 1)
    default = scoring.masked_site_probabilities(model, sequence, positions, batch_size=16)
    eager = scoring.masked_site_probabilities(model, sequence, positions, batch_size=16, compiled=False)
    assert np.array_equal(default, eager)  # bit-identical
    with pytest.raises(InputError, match="CUDA only"):
        scoring.masked_site_probabilities(model, sequence, positions, compiled=True)


def test_padding_to_one_batch_shape_changes_no_result(tiny_gpn_dir, monkeypatch):
    model = load_site_model(tiny_gpn_dir, device="cpu")
    rng = np.random.default_rng(1)
    sequence = "".join(rng.choice(list("ACGT"), size=700))
    positions = np.arange(300, 320)  # 20 positions, batches of 8: the last one padded from 4 to 8
    eager = scoring.masked_site_probabilities(model, sequence, positions, batch_size=8)
    # The compiled path's module and padding, run uncompiled on the CPU.
    monkeypatch.setattr(scoring, "compiled_scorer", lambda m: scoring._MaskedScorer(m).eval())
    monkeypatch.setattr(scoring, "use_compiled_path", lambda device, n: True)
    padded = scoring.masked_site_probabilities(model, sequence, positions, batch_size=8)
    np.testing.assert_allclose(padded, eager, atol=1e-6)


def test_cli_scan_with_either_model(tmp_path, capsys):
    onepass_out, exact_out = tmp_path / "onepass.tsv", tmp_path / "exact.tsv"
    assert main(["scan", "chr22:69,124-69,126", "--out", str(onepass_out), "--device", "cpu"]) == 0
    assert "gpn-umaydis-onepass, one-pass, on cpu" in capsys.readouterr().out
    assert main(["scan", "chr22:69,124-69,126", "--out", str(exact_out), "--device", "cpu", "--exact"]) == 0
    assert "gpn-umaydis, masked, on cpu" in capsys.readouterr().out
    fast, exact = pd.read_csv(onepass_out, sep="\t"), pd.read_csv(exact_out, sep="\t")
    assert "".join(fast["ref"]) == "".join(exact["ref"]) == "ATG"
    assert fast["pA"].iloc[0] > 0.9 and exact["pA"].iloc[0] > 0.9  # both are sure of the start codon's A


def test_cli_embed_refuses_a_one_pass_model(tmp_path, capsys):
    status = main(["embed", "--sample", "4", "--out", str(tmp_path / "e.parquet"), "--model", str(BUNDLED_ONEPASS)])
    assert status == 2
    assert "one-pass model: it has no per-window hidden states" in capsys.readouterr().err
