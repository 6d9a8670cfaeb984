"""bench/ is a package of scripts run as ``python -m bench.<name>``: every script imports
without path changes, and the export step ships a model that predicts as the original does."""

import importlib

import numpy as np
import pandas as pd
import pytest

from bench import json_records
from glm_core.models import load_masked_lm

SCRIPTS = [
    "bench_generation",
    "bench_scoring",
    "eval_baselines",
    "eval_embeddings",
    "eval_generator",
    "eval_mlm",
    "export_mlm",
]


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_imports_and_has_a_main(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.main)
    assert "python -m bench." in module.__doc__


def test_json_records_turn_missing_values_into_none_and_numpy_into_python():
    table = pd.DataFrame({"n": np.array([1, 2], dtype=np.int64), "x": [0.5, np.nan], "s": ["a", None]})
    records = json_records(table)
    assert records == [{"n": 1, "x": 0.5, "s": "a"}, {"n": 2, "x": None, "s": None}]
    assert type(records[0]["n"]) is int


def test_exported_model_is_fp16_and_predicts_as_the_original(tiny_gpn_dir, tiny_gpn, tmp_path):
    from bench.export_mlm import main

    target = tmp_path / "shipped"
    (tmp_path / "card.md").write_text("# tiny\n")
    assert main([str(tiny_gpn_dir), str(target), "--model-card", str(tmp_path / "card.md")]) == 0
    assert (target / "README.md").read_text() == "# tiny\n"
    shipped = load_masked_lm(target, device="cpu")
    sequence = "ACGTTGCAACGTAGCTAGGATCCA"
    np.testing.assert_allclose(
        shipped.sequence_site_probabilities(sequence, np.arange(5)),
        tiny_gpn.sequence_site_probabilities(sequence, np.arange(5)),
        atol=2e-3,
    )
    from safetensors import safe_open

    with safe_open(str(target / "model.safetensors"), "pt") as weights:
        assert {str(weights.get_tensor(key).dtype) for key in weights.keys()} == {"torch.float16"}
