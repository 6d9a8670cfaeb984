"""The dependency map and the two-model comparison, run through app.py with Streamlit's AppTest.

Two tiny random GPN ConvNets (seeds 0 and 1) in the data directory keep this fast on a CPU.
Facts checked, for the 20 bp chr22:69,114-69,133:

* the logo page shows a measured estimate, then the dependency heat map: 20 x 20 cells on the
  locus axis, NaN diagonal, the same numbers glm_core computes for the same model; choosing a
  query base adds its substitution track (its three alternatives); the TSV download is the
  map with 1-based labels, the PNG/SVG downloads are images;
* with a second model chosen in the sidebar, the logo page stacks both logos with KL and
  delta P(ref) rows and shows the LLR scatter; its joined TSV has 60 SNV rows, 1-based; the
  variant page shows the same comparison for its scan.
"""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui import choices

ROOT = Path(__file__).resolve().parent.parent
CHROM, START, END = "chr22", 69_113, 69_133
QUERY = "chr22:69,114-69,133"


@pytest.fixture(scope="module")
def second_gpn_dir(tmp_path_factory):
    import torch

    from glm_core.training import MLMTrainingConfig, build_model, save_model_folder

    torch.manual_seed(1)
    config = MLMTrainingConfig(fasta="", output_dir="", hidden_size=32, num_hidden_layers=2, intermediate_size=64)
    folder = tmp_path_factory.mktemp("tiny-gpn-seed1")
    save_model_folder(build_model(config), folder)
    return folder


@pytest.fixture
def app(tmp_path, monkeypatch, tiny_gpn_dir, second_gpn_dir):
    models = tmp_path / "data" / "models"
    shutil.copytree(tiny_gpn_dir, models / "tiny-a")
    shutil.copytree(second_gpn_dir, models / "tiny-b")
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(choices.DEVICE_ENV, "cpu")

    def open_(compare_with: str | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        by_name = {choice.name: choice for choice in choices.masked_model_choices()}
        # Preset: AppTest keeps sidebar widgets only in the first run.
        at.session_state["sidebar_model"] = by_name["tiny-a"]
        if compare_with is not None:
            at.session_state["sidebar_compare_model"] = by_name[compare_with]
        at.run()
        assert not at.exception, at.exception
        return at

    return open_


def download(at, served, key: str) -> bytes:
    button = next(button for button in at.get("download_button") if button.proto.id.endswith(key))
    return served[button.proto.url]


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(values) -> np.ndarray:
    import base64

    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        shape = values.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(values, dtype=float)


def open_logo(at):
    at.switch_page("pages/logo.py").run()
    at.text_input(key="logo_query").input(QUERY).run()
    at.button(key="logo_score").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def test_dependency_map_renders_on_the_logo_page(app, served, embedded_genome, tiny_gpn_dir):
    at = open_logo(app())
    at.toggle(key="logo_dependency_on").set_value(True).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert any("measured on cpu: about" in caption.value for caption in at.caption)
    at.button(key="logo_dependency_compute").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])

    spec = next(s for s in charts(at) if any(t.get("name") == "dependency" for t in s["data"]))
    heat = next(t for t in spec["data"] if t.get("name") == "dependency")
    z = array(heat["z"]).astype(float)
    assert z.shape == (20, 20) and np.isnan(np.diag(z)).all()
    assert array(heat["x"]).tolist() == list(range(START + 1, END + 1))

    from glm_core.dependency import dependency_map
    from glm_core.models import load_masked_lm

    direct = dependency_map(load_masked_lm(tiny_gpn_dir, device="cpu"), embedded_genome, CHROM, START, END)
    np.testing.assert_allclose(z, direct.matrix, rtol=1e-4, atol=1e-6)

    tsv = pd.read_csv(io.BytesIO(download(at, served, "logo_dependency_download_tsv")), sep="\t", index_col=0)
    assert tsv.index[0] == f"{START + 1}{embedded_genome.fetch(CHROM, START, START + 1).upper()}"
    np.testing.assert_allclose(tsv.to_numpy(), direct.matrix, rtol=1e-4, atol=1e-6)
    assert download(at, served, "logo_dependency_download_png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in download(at, served, "logo_dependency_download_svg")[:500]

    at.selectbox(key="logo_dependency_query").select_index(5).run()  # the 5th base, 69,118
    assert not at.exception
    spec = next(s for s in charts(at) if any(t.get("name") == "dependency" for t in s["data"]))
    alternatives = {t["name"] for t in spec["data"] if t.get("name", "").count(">") == 1}
    reference = embedded_genome.fetch(CHROM, START + 4, START + 5).upper()
    assert alternatives == {f"{reference}>{b}" for b in "ACGT" if b != reference}


def test_comparison_with_a_second_model(app, served):
    at = open_logo(app(compare_with="tiny-b"))
    at.button(key="logo_compare_score").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    spec = next(s for s in charts(at) if "vs" in json.dumps(s["layout"].get("title", {})))
    titles = [a["title"]["text"] for k, a in spec["layout"].items() if k.startswith("yaxis") and "title" in a]
    assert titles[:4] == ["tiny-a (bits)", "tiny-b (bits)", "KL (bits)", "\u0394 P(ref)"]
    scatter = next(s for s in charts(at) if "Pearson" in json.dumps(s["layout"].get("title", {})))
    assert len(scatter["data"][1]["x"]) == 60 or array(scatter["data"][1]["x"]).size == 60
    joined = pd.read_csv(io.BytesIO(download(at, served, "logo_compare_download")), sep="\t")
    assert len(joined) == 60 and joined["pos"].between(START + 1, END).all()
    assert joined["kl_bits"].gt(0).all()  # two different random models

    at.switch_page("pages/variants.py").run()
    at.text_input(key="variants_query").input(QUERY).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    variants_joined = pd.read_csv(io.BytesIO(download(at, served, "variants_compare_download")), sep="\t")
    pd.testing.assert_frame_equal(variants_joined, joined)  # the same cached scores, plus strand
