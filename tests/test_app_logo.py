"""The logo page, run through app.py with Streamlit's AppTest on the bundled model.

Facts checked: the page opens at the locus the overview page chose; the start codon of
um06164 (chr22:69,124-69,126, +) +/- 10 bp is 23 positions, drawn as a logomaker image on
the logo row of a figure whose x axis is the locus; the ATG stands out (P(A) at 69,124 is
the highest P(ref) of the window); the TSV download is 1-based and the bedGraph 0-based,
and both carry the numbers glm_core computes for the same probabilities; PNG and SVG
downloads are valid images; the minus strand reverses the axis and reads CAT; a region over
the page's limit is refused with a message. 46 positions are scored with the bundled model
(23 by the page, 23 directly for comparison).

With a score-genome folder of the tiny genome and a tiny GPN under ``<data>/scores``, the
logo and variant pages score nothing: the logo's probabilities are the folder's bigWig
values (the minus strand's P(A) its P(T)), IC and LLR rows (ic.bw; mean and minimum LLR of
each base's three SNVs, cLLR with the switch) join the figure, the variant page's SNVs carry
the SNV table's LLRs and cLLRs, and without the folder the pages ask to score again.
"""

import io
import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui import choices, region_picker, session
from glm_core import logo
from glm_core.tracks import bedgraph_text
from glm_core.genome import Region

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CHROM, START, END = "chr22", 69_113, 69_136  # ATG at [69123, 69126), +/- 10 bp


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    # These tests check the exact masked LM's numbers; tests/test_app_onepass.py covers the CPU default.
    at.session_state["sidebar_model"] = next(c for c in choices.site_model_choices() if c.name == "gpn-umaydis")
    return at.run()


def download(at, served, key: str) -> bytes:
    button = next(button for button in at.get("download_button") if button.proto.id.endswith(key))
    return served[button.proto.url]


def logo_chart(at) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    logos = [
        s
        for s in specs
        if any(a.get("title", {}).get("text") == "logo (bits)" for k, a in s["layout"].items() if k.startswith("yaxis"))
    ]
    assert len(logos) == 1
    return logos[0]


def open_start_codon(at):
    at.switch_page("pages/logo.py").run()
    at.text_input(key="logo_query").input("um06164").run()
    at.number_input(key="logo_flank").set_value(10).run()
    assert not at.exception, at.exception
    return at


def test_page_opens_at_the_overview_locus(app):
    app.text_input(key="overview_locus_query").input("um06164").run()
    app.switch_page("pages/logo.py").run()
    assert not app.exception
    assert app.text_input(key="logo_query").value == "mRNA:um06164"
    # Default: the start codon +/- 20 bp; nothing is scored before the button is pressed.
    assert app.button(key="logo_score").label == "Score 43 positions with gpn-umaydis"
    assert app.session_state[session.LOCUS_KEY] == Region(CHROM, 69_103, 69_146, "+")
    assert not app.get("plotly_chart")


def test_logo_of_a_start_codon_with_downloads(app, served, embedded_genome):
    at = open_start_codon(app)
    at.button(key="logo_score").click().run()
    assert not at.exception and not at.error

    spec = logo_chart(at)
    assert spec["layout"]["xaxis"]["range"] == [START + 0.5, END + 0.5]
    images = spec["layout"]["images"]
    assert len(images) == 1 and images[0]["source"].startswith("data:image/png;base64,")
    assert (images[0]["x"], images[0]["sizex"], images[0]["sizey"]) == (START + 0.5, END - START, 2)
    assert at.get("image"), "the figure for print is shown"

    tsv = pd.read_csv(io.BytesIO(download(at, served, "logo_download_tsv")), sep="\t")
    assert tsv["pos"].tolist() == list(range(START + 1, END + 1))
    assert "".join(tsv["ref"]) == embedded_genome.fetch(CHROM, START, END).upper()
    np.testing.assert_allclose(tsv[["pA", "pC", "pG", "pT"]].sum(axis=1), 1, atol=1e-5)
    atg = tsv.set_index("pos").loc[[69_124, 69_125, 69_126]]
    assert "".join(atg["ref"]) == "ATG" and tsv["p_ref"].idxmax() == tsv.index[tsv["pos"] == 69_124][0]

    bedgraph = download(at, served, "logo_download_bedgraph").decode()
    rows = pd.read_csv(io.StringIO(bedgraph), sep="\t", skiprows=1, header=None, names=["chrom", "start", "end", "ic"])
    assert rows["start"].tolist() == list(range(START, END))  # 0-based, BED convention
    np.testing.assert_allclose(rows["ic"], tsv["ic"], rtol=1e-5)

    # The page's numbers are glm_core's numbers for the same region and model.
    from glm_core.models import BUNDLED_MLM, load_masked_lm
    from glm_core.scoring import site_probabilities

    model = load_masked_lm(BUNDLED_MLM, device="cpu")
    direct = logo.position_table(
        embedded_genome, CHROM, START, END, "+", site_probabilities(model, embedded_genome, CHROM, START, END, "+")
    )
    assert bedgraph.splitlines()[1:] == bedgraph_text(direct).splitlines()[1:]

    assert download(at, served, "logo_download_png")[:8] == b"\x89PNG\r\n\x1a\n"
    svg = download(at, served, "logo_download_svg")
    assert ElementTree.fromstring(svg).tag.endswith("svg")

    # The minus strand comes from the cache: the axis is reversed and the ATG reads CAT.
    strand_key = f"logo_strand_{CHROM}_{START}_{END}"
    at.radio(key=strand_key).set_value("-").run()
    assert not at.exception and not at.get("button")  # no second scoring
    spec = logo_chart(at)
    assert spec["layout"]["xaxis"]["range"] == [END + 0.5, START + 0.5]
    minus = pd.read_csv(io.BytesIO(download(at, served, "logo_download_tsv")), sep="\t")
    assert "".join(minus.set_index("pos").loc[[69_126, 69_125, 69_124], "ref"]) == "CAT"


def test_region_over_the_limit_is_refused(app):
    app.switch_page("pages/logo.py").run()
    app.text_input(key="logo_query").input("chr22:1-5,000").run()
    assert not app.exception
    assert len(app.error) == 1 and f"at most {region_picker.MAX_SCORED_BP:,} bp" in app.error[0].value
    assert not app.get("button")


@pytest.mark.parametrize("text", ["chr22:69,124-69,126", "22 69124 69126", "chr22 69,124 69,126 +"])
def test_the_logo_box_reads_coordinates_as_the_command_line_does(app, text):
    # The same three bases `glm-explore scan "22 69124 69126"` scores: the ATG of um06164.
    app.switch_page("pages/logo.py").run()
    app.text_input(key="logo_query").input(text).run()
    assert not app.exception and not app.error
    assert app.button(key="logo_score").label == "Score 3 positions with gpn-umaydis"
    assert app.session_state[session.LOCUS_KEY] == Region(CHROM, 69_123, 69_126, "+")
    assert all(box.key != "logo_part" for box in app.selectbox)  # gene parts are offered for genes only


# --------------------------------------------------------------------------- precomputed scores


@pytest.fixture
def scored_folder(tmp_path, monkeypatch, tiny_gpn_dir, tiny_annotation):
    """A data directory with the tiny genome, a tiny GPN under models/ and its score-genome folder
    under scores/ (what ``glm-explore score-genome --out-dir data/scores/tiny`` writes)."""
    return score_into_data_dir(tmp_path, monkeypatch, tiny_gpn_dir, tiny_annotation)


def score_into_data_dir(tmp_path, monkeypatch, tiny_gpn_dir, tiny_annotation, regions: str | None = None):
    """The data directory of :func:`scored_folder`, the run restricted to a BED's ``regions`` if given."""
    import shutil

    from glm_core.genome import Genome
    from glm_core.genome_scores import GenomeScoreSettings, score_genome
    from glm_core.models import load_masked_lm

    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    shutil.copy(DATA / "tiny.fa", data / "tiny.fa")
    shutil.copy(DATA / "tiny.gff3", data / "tiny.gff3")
    shutil.copytree(tiny_gpn_dir, data / "models" / "tiny-gpn")
    model_folder = data / "models" / "tiny-gpn"
    bed = None
    if regions is not None:
        bed = tmp_path / "regions.bed"
        bed.write_text(regions)
    score_genome(
        load_masked_lm(model_folder, device="cpu"),
        Genome(data / "tiny.fa", cache_dir=tmp_path / "genome-cache"),
        tiny_annotation,
        data / "scores" / "tiny",
        model_folder=model_folder,
        settings=GenomeScoreSettings(chunk_size=200, regions=bed),
    )
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(data))
    return data / "scores" / "tiny"


def chart_with_axis(at, title: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        axes = {key: a.get("title", {}).get("text") for key, a in spec["layout"].items() if key.startswith("yaxis")}
        if title in axes.values():
            return spec
    raise AssertionError(f"no chart with a y axis titled {title!r}")


def trace_on_axis(spec: dict, title: str, name: str) -> dict:
    axis = next(key for key, a in spec["layout"].items() if key.startswith("yaxis") and a["title"]["text"] == title)
    y = "y" + axis.removeprefix("yaxis")
    return next(t for t in spec["data"] if t.get("yaxis", "y") == y and t.get("name") == name)


def test_pages_read_precomputed_scores_when_a_folder_exists(scored_folder, served):
    import shutil

    import pyBigWig
    from test_app_variants import array

    from glm_core.genome_hub import PrecomputedScores

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["sidebar_genome_source"] = "Data directory"
    at.session_state["sidebar_model"] = next(c for c in choices.site_model_choices() if c.name == "tiny-gpn")
    at.run()
    at.switch_page("pages/logo.py").run()
    at.text_input(key="logo_query").input("chrT:5-60").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert not any(button.key == "logo_score" for button in at.button)  # nothing to score: read
    captions = [caption.value for caption in at.caption]
    assert any(
        "Read from tiny-gpn (masked), precomputed with glm-explore score-genome" in c and str(scored_folder) in c
        for c in captions
    )

    # The logo's probabilities are the folder's bigWig values (6 digits in the TSV).
    tsv = pd.read_csv(io.BytesIO(download(at, served, "logo_download_tsv")), sep="\t")
    for base in "ACGT":
        handle = pyBigWig.open(str(scored_folder / f"p{base}.bw"))
        np.testing.assert_allclose(tsv[f"p{base}"], handle.values("chrT", 4, 60), rtol=1e-5)
        handle.close()

    # IC and LLR rows under the logo: the ic.bw values and the mean / minimum of the 3 SNVs' LLRs.
    found = PrecomputedScores(scored_folder, json.loads((scored_folder / "manifest.json").read_text()))
    expected = found.position_scores("chrT", 4, 60)
    spec = chart_with_axis(at, "IC (bits)")
    assert chart_with_axis(at, "logo (bits)") is not None
    ic = trace_on_axis(spec, "IC (bits)", "IC")
    np.testing.assert_array_equal(array(ic["x"]), np.arange(5, 61))
    np.testing.assert_allclose(array(ic["y"]), found.track("ic", "chrT", 4, 60))
    np.testing.assert_allclose(array(trace_on_axis(spec, "LLR mean, min", "mean LLR")["y"]), expected["llr_mean"])
    np.testing.assert_allclose(array(trace_on_axis(spec, "LLR mean, min", "min LLR")["y"]), expected["llr_min"])
    snvs = found.snvs("chrT", 9, 10)
    assert expected.set_index("pos").loc[9, "llr_min"] == snvs["llr"].min()

    # The calibrated switch puts the cLLRs in that row.
    at.toggle(key="logo_calibrated").set_value(True).run()
    spec = chart_with_axis(at, "cLLR mean, min")
    np.testing.assert_allclose(array(trace_on_axis(spec, "cLLR mean, min", "mean cLLR")["y"]), expected["cllr_mean"])

    # The minus strand is the same folder read off the plus strand: P(A) on - is P(T) on +.
    at.radio(key="logo_strand_chrT_4_60").set_value("-").run()
    assert not at.exception and not any(button.key == "logo_score" for button in at.button)
    minus = pd.read_csv(io.BytesIO(download(at, served, "logo_download_tsv")), sep="\t")
    np.testing.assert_allclose(minus["pA"], tsv["pT"], rtol=1e-6)

    # The variant page reads the same folder: its SNVs carry the SNV table's LLRs and cLLRs.
    at.switch_page("pages/variants.py").run()
    at.text_input(key="variants_query").input("chrT:5-60").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert not any(button.key == "variants_score" for button in at.button)
    assert any("precomputed with glm-explore score-genome" in caption.value for caption in at.caption)
    scan = pd.read_csv(io.BytesIO(download(at, served, "variants_download_scan")), sep="\t")
    table = found.snvs("chrT", 4, 60).assign(pos=lambda t: t["pos"] + 1).set_index(["pos", "alt"])
    joined = scan.set_index(["pos", "alt"]).join(table[["llr", "cllr"]], rsuffix="_folder")
    assert len(joined) == 3 * 56
    np.testing.assert_allclose(joined["llr"], joined["llr_folder"], atol=2e-4)  # the table has 4 decimals
    np.testing.assert_allclose(joined["cllr"], joined["cllr_folder"], atol=2e-4)

    # Without the folder the pages score on demand again, and say nothing of precomputed scores.
    shutil.rmtree(scored_folder)
    at.switch_page("pages/logo.py").run()
    assert not at.exception
    assert any(button.key == "logo_score" for button in at.button)
    assert not any("precomputed" in caption.value for caption in at.caption)


def test_a_folder_of_other_regions_is_not_read(tmp_path, monkeypatch, tiny_gpn_dir, tiny_annotation):
    folder = score_into_data_dir(tmp_path, monkeypatch, tiny_gpn_dir, tiny_annotation, regions="chrT\t100\t200\n")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["sidebar_genome_source"] = "Data directory"
    at.session_state["sidebar_model"] = next(c for c in choices.site_model_choices() if c.name == "tiny-gpn")
    at.run()
    at.switch_page("pages/logo.py").run()
    at.text_input(key="logo_query").input("chrT:5-60").run()  # outside chrT:101-200
    assert not at.exception and not at.error, (at.exception, at.error)
    assert any(button.key == "logo_score" for button in at.button)  # scored here, not read as uniform
    assert any(f"{folder} (glm-explore score-genome --regions) does not cover" in c.value for c in at.caption)
    at.text_input(key="logo_query").input("chrT:121-160").run()  # inside: read from the folder
    assert not any(button.key == "logo_score" for button in at.button)
    assert any("precomputed with glm-explore score-genome" in c.value for c in at.caption)
