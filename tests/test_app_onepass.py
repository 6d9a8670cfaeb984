"""The app with the bundled one-pass model, the CPU default, through AppTest.

Facts checked: the sidebar lists both bundled site models with their kinds and the one-pass
model's measured agreement with its teacher, and selects the one-pass model on a CPU; the
logo of um06164's start codon (chr22:69,124-69,126) scored by it says which kind scored and
puts the ATG's A highest; the "score exactly with the masked model" action shows a time
estimate from a rate measured here, and pressing it rescores the region with the masked LM;
the variant scan renders with the one-pass model. Rates are faked (``measure_rate`` patched)
so the estimate's arithmetic is checked exactly and no probe runs.
"""

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from glm_core import throughput
from ui import choices

ROOT = Path(__file__).resolve().parent.parent
MASKED_RATE, ONEPASS_RATE = 2.0, 5000.0


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(choices.DEVICE_ENV, "cpu")
    monkeypatch.setattr(
        throughput, "measure_rate", lambda model, **_: MASKED_RATE if model.kind == "masked" else ONEPASS_RATE
    )
    import streamlit as st

    st.cache_data.clear()  # rates measured by other tests of this process
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()


def test_selector_lists_both_bundled_models_with_their_kinds(app):
    selector = app.sidebar.selectbox(key="sidebar_model")
    options = list(selector.options)
    assert "gpn-umaydis (masked, one window per base)" in options
    assert "gpn-umaydis-onepass (one pass; LLR r = 0.95 with gpn-umaydis)" in options
    assert selector.value.name == "gpn-umaydis-onepass"  # the CPU default
    assert selector.value.kind == "one-pass" and selector.value.llr_pearson == pytest.approx(0.9535)


def test_logo_with_the_one_pass_model_and_the_exact_action(app, served):
    app.switch_page("pages/logo.py").run()
    app.text_input(key="logo_query").input("chr22:69,124-69,126").run()
    assert not app.exception and not app.error
    # 3 bp at the faked 5,000 positions/s take well under AUTO_SCORE_SECONDS: scored at once, no button.
    assert not any(b.key == "logo_score" for b in app.button)
    # 3 bp at the faked 2 positions/s: "about 2 s"; the estimate names the measured rate.
    exact = app.button(key="logo_exact")
    assert exact.label == "Score exactly with the masked model gpn-umaydis (about 2 s for 3 bp)"
    assert "at 2.0 positions/s measured here" in exact.help
    assert any(c.value == "Scored by gpn-umaydis-onepass (one pass)." for c in app.caption)
    button = next(b for b in app.get("download_button") if b.proto.id.endswith("logo_download_tsv"))
    tsv = pd.read_csv(io.BytesIO(served[button.proto.url]), sep="\t")
    assert "".join(tsv["ref"]) == "ATG"
    assert tsv["pA"].iloc[0] > 0.9  # the one-pass model is sure of the start codon's A

    app.button(key="logo_exact").click().run()  # one click scores with the masked model
    assert not app.exception and not app.error
    assert not any(b.key == "logo_score" for b in app.button)
    assert any(c.value == "Scored by gpn-umaydis (masked, one window per base)." for c in app.caption)
    assert app.button(key="logo_onepass").label == "Back to the one-pass model gpn-umaydis-onepass"


def test_variant_scan_with_the_one_pass_model(app):
    app.switch_page("pages/variants.py").run()
    app.text_input(key="variants_query").input("chr22:69,124-69,126").run()
    assert not app.exception and not app.error
    assert not any(b.key == "variants_score" for b in app.button)  # one pass, under a second: scored at once
    assert any(c.value == "Scored by gpn-umaydis-onepass (one pass)." for c in app.caption)
    assert app.get("plotly_chart")
