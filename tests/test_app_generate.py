"""The promoter-design page, run through app.py with Streamlit's AppTest on CPU.

Uses the bundled generator (assets/models/promoter-gen-umaydis). Facts checked: the page
names CAI as an expression proxy; three designs of 30 bp come back as a table with
oracle scores, GC in [0, 1] and nearest-promoter identity; the FASTA download holds
exactly those sequences (A/C/G/T only); the same seed gives the same designs; a predicted
logo is drawn for a 3-bp range of a design and its nearest natural promoter.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import app_state
from glm_core.generation import BUNDLED_GENERATOR

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/generate.py"

pytestmark = pytest.mark.skipif(not (BUNDLED_GENERATOR / "config.json").is_file(),
                                reason="the bundled promoter generator is missing")


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.setenv(app_state.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(app_state.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("GLM_EXPLORER_DEVICE", "cpu")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _generate(at, n=3, length=30, seed=0):
    at.number_input(key="generate_n").set_value(n)
    at.number_input(key="generate_length").set_value(length)
    at.number_input(key="generate_seed").set_value(seed)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at.session_state["generate_designs"]


def test_page_generates_scores_and_draws_a_logo(page):
    at = page
    assert "expression proxy" in at.caption[0].value
    assert at.selectbox(key="generate_tag_CAI").value == "HIGH"
    table = _generate(at)
    assert len(table) == 3 and (table["tags"] == "HIGH").all()
    assert all(len(s) == 30 and set(s) <= set("ACGT") for s in table["sequence"])
    assert table["gc"].between(0, 1).all() and table["nearest_identity"].between(0, 1).all()
    assert table["oracle_score"].notna().all()
    assert len(at.dataframe) >= 1

    again = _generate(at)
    assert again["sequence"].tolist() == table["sequence"].tolist()

    at.slider(key="generate_logo_range").set_value((28, 30))
    at.button(key="generate_logo").click().run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 2
