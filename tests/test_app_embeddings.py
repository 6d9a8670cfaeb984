"""The embedding-map page, run through app.py with Streamlit's AppTest on CPU.

A tiny randomly initialised GPN (hidden 32, 2 layers), put in the data folder's ``models/``
and chosen in the sidebar, keeps the page fast; the facts checked do not depend on the
weights: 60 windows sampled as 12 per class over the embedded genome's five classes, one
map trace per class, hover regions 1-based inclusive, a kNN macro-F1 in [0, 1] for both
representations, a parquet download holding every window, an instant reopen from the disk
cache, and a clicked point opening its window in the overview's locus view.
"""

import json
import shutil
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from ui import choices, session
from glm_core.genome import Region, format_region

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/embeddings.py"
CLASSES = {"CDS", "intron", "promoter", "downstream", "intergenic"}


@pytest.fixture
def open_page(tmp_path, monkeypatch, tiny_gpn_dir):
    """Open the embedding page on the embedded genome with the tiny model, caches in tmp_path."""
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("GLM_EXPLORER_DEVICE", "cpu")
    shutil.copytree(tiny_gpn_dir, tmp_path / "data" / "models" / "tiny")

    def open_(n_windows: int = 60) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        tiny = next(choice for choice in choices.masked_model_choices() if choice.name == "tiny")
        at.session_state["sidebar_model"] = tiny  # preset: AppTest keeps sidebar widgets only in the first run
        at.run()
        at.switch_page(PAGE).run()
        assert not at.exception, at.exception
        at.number_input(key="embeddings_n").set_value(n_windows).run()
        assert not at.exception, at.exception
        return at

    return open_


def map_spec(at) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    maps = [spec for spec in specs if spec["layout"].get("xaxis", {}).get("title", {}).get("text") == "UMAP 1"]
    assert len(maps) == 1, f"expected one embedding map, found {len(maps)}"
    return maps[0]


def select_point(at, curve_number: int, point_index: int) -> AppTest:
    """Rerun as if the user had clicked one point of the map.

    AppTest has no plotly selection API, so the chart's widget state (the JSON the browser
    sends on a click) is added to the states of the next run.
    """
    chart = next(chart for chart in at.get("plotly_chart") if chart.proto.id)
    selection = {
        "selection": {
            "points": [{"curve_number": curve_number, "point_number": point_index, "point_index": point_index}],
            "point_indices": [point_index],
            "box": [],
            "lasso": [],
        }
    }
    state = WidgetState(id=chart.proto.id, string_value=json.dumps(selection))
    tree = at._tree
    collect = tree.get_widget_states

    def with_selection():
        states = collect()
        states.widgets.append(state)
        return states

    tree.get_widget_states = with_selection
    return at.run()


def test_page_embeds_a_small_sample_and_draws_the_map(open_page, tmp_path):
    at = open_page(60)
    assert at.title[0].value == "Embedding map"
    assert any("for 60 windows on **cpu**" in caption.value for caption in at.caption)
    at.button(key="embeddings_run").click().run()
    assert not at.exception, at.exception
    assert not at.error

    spec = map_spec(at)
    assert len(spec["data"]) == 5
    assert {trace["name"] for trace in spec["data"]} == {f"{name} (12)" for name in CLASSES}
    result = at.session_state["embeddings_result"]
    windows = result.windows
    assert len(windows) == 60 and result.embeddings.shape == (60, 32)
    first = windows.iloc[int(spec["data"][0]["customdata"][0][0])]
    assert spec["data"][0]["customdata"][0][1] == format_region(first["chrom"], first["start"], first["end"])
    assert spec["data"][0]["name"].startswith(first["region_class"])

    scores = {metric.label: float(metric.value) for metric in at.metric}
    assert set(scores) == {"gLM embedding, macro-F1", "4-mer spectrum, macro-F1"}
    assert all(0.0 <= value <= 1.0 for value in scores.values())

    download = at.get("download_button")[0]
    assert "parquet" in download.proto.label
    assert len(list((tmp_path / "cache" / "embeddings").glob("window-embeddings-*.parquet"))) == 1


def test_reopening_in_a_new_session_reads_the_disk_cache(open_page):
    first = open_page(60)
    first.button(key="embeddings_run").click().run()
    embeddings = first.session_state["embeddings_result"].embeddings
    again = open_page(60)  # a new session: nothing in session state, the file on disk
    assert not again.exception, again.exception
    assert not any(button.key == "embeddings_run" for button in again.button)  # nothing left to embed
    assert len(map_spec(again)["data"]) == 5
    assert (again.session_state["embeddings_result"].embeddings == embeddings).all()


def test_clicking_a_point_opens_its_window_in_the_locus_view(open_page):
    at = open_page(60)
    at.button(key="embeddings_run").click().run()
    spec = map_spec(at)
    row = int(spec["data"][2]["customdata"][3][0])
    window = at.session_state["embeddings_result"].windows.iloc[row]
    select_point(at, curve_number=2, point_index=3)
    assert not at.exception, at.exception
    assert at.session_state[session.LOCUS_KEY] == Region(window["chrom"], int(window["start"]), int(window["end"]))
    assert at.title[0].value == "Genome overview"
    locus_charts = [
        chart for chart in at.get("plotly_chart") if "genes" in json.dumps(json.loads(chart.proto.spec)["layout"])
    ]
    assert len(locus_charts) == 1


def upload_bed(at, text: str) -> AppTest:
    at.radio(key="embeddings_source").set_value("Upload a BED file").run()
    at.file_uploader(key="embeddings_bed").upload("windows.bed", text.encode(), "text/plain").run()
    assert not at.exception, at.exception
    return at


def test_uploaded_bed_windows_are_mapped_by_their_name_column(open_page):
    at = open_page()
    # 8 windows of each of two made-up classes: around um10944 (chr01:2,632-4,026) and in chr02.
    lines = [f"chr01\t{2700 + 100 * i}\t{2780 + 100 * i}\tgene_body" for i in range(8)]
    lines += [f"chr02\t{50_000 + 1000 * i}\t{50_080 + 1000 * i}\telsewhere" for i in range(8)]
    upload_bed(at, "\n".join(lines) + "\n")
    at.button(key="embeddings_run").click().run()
    assert not at.exception, at.exception
    assert not at.error
    spec = map_spec(at)
    assert {trace["name"] for trace in spec["data"]} == {"gene_body (8)", "elsewhere (8)"}
    assert any("um10944 (overlaps)" in str(point[2]) for trace in spec["data"] for point in trace["customdata"])
    # 8 windows a class is below the minimum of 10: no macro-F1 number, and the reason.
    assert not any("macro-F1" in metric.label for metric in at.metric)
    assert any("fewer than 10 windows in 2 class(es) (gene_body: 8, elsewhere: 8)" in info.value for info in at.info)


def test_a_bad_bed_line_is_shown_as_an_error(open_page):
    at = upload_bed(open_page(), "chr01\t100\t200\tok\nchr01\t300\t250\tbad\n")
    assert len(at.error) == 1 and "line 2: BED intervals need 0 <= start < end" in at.error[0].value
    assert not any(button.key == "embeddings_run" for button in at.button)
