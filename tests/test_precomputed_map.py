"""glm_core.precomputed_map: the embedding map shipped with a model opens without the model
running, and only while the weights it was computed with are unchanged.

Facts checked: the shipped file holds exactly the page's default sample (patched down to 60
windows to stay fast) and the embeddings ``window_embeddings`` gives; a changed weights file
makes it unusable; the embedding page draws it with no "Embed" button and says it is shipped.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from glm_core import embedding, precomputed_map
from glm_core.models import BUNDLED_MLM, load_masked_lm
from ui import choices

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory, tiny_gpn_dir, embedded_genome, embedded_annotation):
    """A copy of the tiny model with a shipped map of a 60-window default sample."""
    folder = tmp_path_factory.mktemp("shipped") / "tiny"
    shutil.copytree(tiny_gpn_dir, folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(precomputed_map.DEFAULT_SAMPLE, "n_windows", 60)
        model = load_masked_lm(folder, device="cpu")
        precomputed_map.write_precomputed_map(model, embedded_genome, embedded_annotation)
        windows = precomputed_map.default_windows(embedded_annotation, embedded_genome.chrom_sizes, model.context)
    return folder, model, windows


def test_the_shipped_map_is_the_default_sample_and_its_embeddings(shipped_model, embedded_genome):
    folder, model, windows = shipped_model
    shipped = precomputed_map.read_precomputed_map(folder)
    assert shipped is not None and len(shipped.windows) == 60
    assert shipped.matches(windows, embedded_genome.chrom_sizes)
    assert not shipped.matches(windows.iloc[::-1], embedded_genome.chrom_sizes)
    assert not shipped.matches(windows, {"other": 1_000})
    # Stored in half precision: 11 significant bits.
    np.testing.assert_allclose(
        shipped.embeddings, embedding.window_embeddings(model, embedded_genome, windows), rtol=2e-3, atol=1e-3
    )
    assert shipped.projection.shape == (60, 2) and shipped.umap == precomputed_map.DEFAULT_UMAP
    assert shipped.metadata["weights_key"] == precomputed_map.weights_key(folder)


def test_changed_weights_make_the_shipped_map_unusable(shipped_model, tmp_path):
    folder, _, _ = shipped_model
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    weights = next(changed.glob("*.safetensors"))
    content = bytearray(weights.read_bytes())
    content[-1] ^= 1
    weights.write_bytes(bytes(content))
    assert precomputed_map.read_precomputed_map(changed) is None
    (folder.parent / "empty").mkdir()
    assert precomputed_map.read_precomputed_map(folder.parent / "empty") is None


def test_the_page_opens_the_shipped_map_without_embedding(shipped_model, tmp_path, monkeypatch):
    folder, _, _ = shipped_model
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("GLM_EXPLORER_DEVICE", "cpu")
    shutil.copytree(folder, tmp_path / "data" / "models" / "tiny")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["sidebar_model"] = next(c for c in choices.masked_model_choices() if c.name == "tiny")
    at.run()
    at.switch_page("pages/embeddings.py").run()
    at.number_input(key="embeddings_n").set_value(60).run()
    assert not at.exception, at.exception
    assert not any(button.key == "embeddings_run" for button in at.button)  # nothing to embed
    assert any("Precomputed map shipped with tiny" in caption.value for caption in at.caption)
    assert at.session_state["embeddings_result"].embeddings.shape == (60, 32)


@pytest.mark.skipif(
    not (BUNDLED_MLM / precomputed_map.PRECOMPUTED_MAP_FILE).is_file(),
    reason="the bundled model ships no embedding map",
)
def test_the_bundled_models_map_opens_at_once_on_the_embedded_genome(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("GLM_EXPLORER_DEVICE", "cpu")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/embeddings.py").run()  # the default: 2,000 windows, every class, seed 0
    assert not at.exception, at.exception
    assert not any(button.key == "embeddings_run" for button in at.button)
    assert any("Precomputed map shipped with gpn-umaydis" in caption.value for caption in at.caption)
    result = at.session_state["embeddings_result"]
    assert result.embeddings.shape == (2000, 256)
    assert {metric.label for metric in at.metric} == {"gLM embedding, macro-F1", "4-mer spectrum, macro-F1"}
