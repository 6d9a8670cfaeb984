"""The promoter-design page, run through app.py with Streamlit's AppTest on CPU.

Uses the bundled generator (assets/models/promoter-gen-umaydis). Facts checked: the page
names CAI as an expression proxy; three designs of 30 bp come back as a table with
oracle scores, GC in [0, 1] and nearest-promoter identity; the FASTA download holds
exactly those sequences (A/C/G/T only); the same seed gives the same designs; a predicted
logo is drawn for a 3-bp range of a design and its nearest natural promoter. Tag guidance
starts at the model folder's recommendation, reaches the designs, and warns exactly when the
bundled model records no training without tags. "Your own tags": an uploaded table is
joined to the genes, counted and checked with the oracle, with the training command shown;
bad uploads give a message, never a traceback.
"""

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui import choices
from glm_core.generation import BUNDLED_GENERATOR, RECOMMENDED_GUIDANCE_KEY

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/generate.py"

pytestmark = pytest.mark.skipif(
    not (BUNDLED_GENERATOR / "config.json").is_file(), reason="the bundled promoter generator is missing"
)


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
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


def test_tag_guidance_reaches_the_designs_and_warns_for_models_without_untagged_training(page):
    at = page
    tags_json = json.loads((BUNDLED_GENERATOR / "tags.json").read_text())
    recommended = float(tags_json.get(RECOMMENDED_GUIDANCE_KEY, 1.0))
    assert at.slider(key="generate_guidance").value == pytest.approx(min(max(recommended, 1.0), 5.0))
    at.slider(key="generate_guidance").set_value(2.5)
    table = _generate(at, n=2, length=24)
    assert (table["guidance"] == 2.5).all() and len(table) == 2
    assert "guidance 2.5" in at.subheader[0].value
    training_config = BUNDLED_GENERATOR / "training_config.json"
    trained_without_tags = json.loads(training_config.read_text()).get("unconditional_fraction")
    warnings = [w.value for w in at.warning if "untagged promoters" in w.value]
    assert len(warnings) == (0 if trained_without_tags else 1)


def _tag_upload(embedded_annotation, embedded_genome):
    """A TSV of 300 training and 120 held-out genes; the value grows with the promoter's C+T share."""
    from glm_core.promoters import promoter_table

    promoters = promoter_table(embedded_annotation, embedded_genome).drop_duplicates("name")
    chosen = pd.concat([promoters[~promoters["held_out"]].iloc[:300], promoters[promoters["held_out"]].iloc[:120]])
    # C+T share of 250 bp moves in steps of 0.004; + i * 1e-6 breaks ties without reordering
    pyrimidines = chosen["sequence"].map(lambda s: (s.count("C") + s.count("T")) / len(s)) + [
        i * 1e-6 for i in range(len(chosen))
    ]
    lines = ["gene_name\tlog_tpm"] + [f"{n}\t{v:.6f}" for n, v in zip(chosen["name"], pyrimidines)]
    return ("\n".join(lines) + "\nnot_a_gene\t1.0\n").encode(), chosen


def test_own_tag_table_is_checked_with_the_oracle(page, embedded_annotation, embedded_genome):
    at = page
    content, chosen = _tag_upload(embedded_annotation, embedded_genome)
    at.file_uploader(key="generate_tag_table").upload("my_tags.tsv", content, "text/tab-separated-values").run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["IDs matched"] == f"{len(chosen)} of {len(chosen) + 1}"
    assert metrics["Promoters tagged"] == str(len(chosen))
    auroc = float(metrics["Oracle AUROC, held out (HIGH vs LOW)"])
    assert 0.8 < auroc <= 1.0  # C+T share is a k-mer feature, so the oracle reads it well
    counts = at.dataframe[0].value
    assert counts["label"].tolist() == ["LOW", "MID", "HIGH"]
    assert counts["training"].tolist() == [100, 100, 100] and counts["held_out"].sum() == 120  # training tertiles
    assert any("1 of 421 IDs match no gene" in info.value for info in at.info)
    command = shlex.split(at.code[0].value)
    assert command[:3] == ["glm-explore", "train-generator", "--tag-table"]
    assert Path(command[3]).read_bytes() == content  # the saved upload, readable by the command
    assert command[4:8] == ["--tag-family", "log_tpm", "--bins", "3"]
    assert command[9].endswith("promoter-gen-log_tpm") and "--fasta" not in command

    at.number_input(key="generate_tag_bins").set_value(2).run()
    counts = at.dataframe[0].value
    assert counts["label"].tolist() == ["LOW", "HIGH"] and counts["training"].tolist() == [150, 150]


@pytest.mark.parametrize(
    "name, make_content, message",
    [
        ("junk.csv", lambda names: bytes(range(256)) * 4, "could not be read as a CSV or TSV table"),
        ("strangers.csv", lambda names: b"gene,value\nfoo1,1\nfoo2,2\n", "none of the 2 IDs in the tag table"),
        (
            "words.csv",
            lambda names: ("gene,value\n" + "".join(f"{n},text{i}\n" for i, n in enumerate(names))).encode(),
            "different labels",
        ),
    ],
)
def test_bad_tag_tables_show_a_message(page, embedded_annotation, name, make_content, message):
    at = page
    content = make_content(embedded_annotation.transcripts["name"].iloc[:100].tolist())
    at.file_uploader(key="generate_tag_table").upload(name, content, "text/csv").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"{name} cannot be used:") and message in errors[0]
    assert not at.code
