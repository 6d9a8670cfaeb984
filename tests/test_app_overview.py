"""The overview page, run through app.py with Streamlit's AppTest, and the figures behind it.

Facts checked: the embedded U. maydis genome has 36 sequences, chr01 of 2,476,500 bp and
6,787 genes; um10944 lies at chr01:2,632-4,026 (+); a typed region is 1-based inclusive and
the sequence row shows exactly its bases; bad input gives an st.error, never a traceback.
"""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import choices, session, sidebar
from glm_core.genome import Region

ROOT = Path(__file__).resolve().parent.parent
QUERY = "overview_locus_query"
GENOME_BP = 19_702_792  # the embedded genome's 36 sequences together


@pytest.fixture
def start_app(tmp_path, monkeypatch):
    """Start the app with uploads and caches in a temporary folder, optionally on a genome source.

    The source is preset in session state rather than clicked: with st.navigation, AppTest in
    Streamlit 1.67 keeps the sidebar's elements only in the first run's element tree.
    """
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))

    def start(source: str | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        if source is not None:
            at.session_state["sidebar_genome_source"] = source
        return at.run()

    return start


@pytest.fixture
def app(start_app):
    """The app on its landing page with the embedded genome."""
    return start_app()


def plotly_specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(values) -> np.ndarray:
    """A plotly array, which Plotly 6 writes as base64 ``{"dtype", "bdata"}`` for numpy input."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def has_gene_row(spec: dict) -> bool:
    axes = [axis for key, axis in spec["layout"].items() if key.startswith("yaxis")]
    return any(axis.get("title", {}).get("text") == "genes" for axis in axes)


def locus_spec(at) -> dict:
    """The locus figure: the one chart with a gene-model row."""
    specs = [spec for spec in plotly_specs(at) if has_gene_row(spec)]
    assert len(specs) == 1, f"expected one locus chart, found {len(specs)}"
    return specs[0]


def search(at, text: str):
    at.text_input(key=QUERY).input(text).run()
    assert not at.exception, at.exception
    return at


# --------------------------------------------------------------------------- landing page


def test_landing_page_summarises_the_embedded_genome(app):
    assert not app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Sequences"] == "36"
    assert metrics["Total length"] == "19.70 Mb"
    assert metrics["Genes"] == "6,787"
    assert any("chr01" in md.value and "2,476,500 bp" in md.value for md in app.markdown)
    sequences = app.dataframe[0].value
    assert len(sequences) == 36
    assert sequences.set_index("chrom").at["chr01", "length"] == 2_476_500
    assert app.session_state[session.GENOME_KEY] == choices.embedded_choice()
    assert not app.error


def test_region_classes_tile_the_whole_genome(app):
    totals = next(df.value for df in app.dataframe if "region_class" in df.value.columns)
    assert totals["bases"].sum() == GENOME_BP  # every base in exactly one class
    # The embedded annotation has no UTRs, so no base can be a UTR.
    assert totals.set_index("region_class").loc[["five_prime_UTR", "three_prime_UTR"], "bases"].sum() == 0


# --------------------------------------------------------------------------- locus view


def test_gene_id_search_shows_the_gene_model(app):
    search(app, "um10944")
    results = app.dataframe[-1].value
    assert results["name"].iloc[0] == "um10944"
    assert results["location"].iloc[0] == "chr01:2,632-4,026"
    spec = locus_spec(app)
    hover = " ".join(str(text) for trace in spec["data"] for text in trace.get("hovertext", []))
    assert "um10944" in hover and "protein phosphatase methylesterase 1" in hover
    # Default flank 500 bp around the 0-based half-open span [2631, 4026), on the gene's strand.
    assert app.session_state[session.LOCUS_KEY] == Region("chr01", 2131, 4526, "+")
    assert app.session_state[session.LOCUS_TRANSCRIPT_KEY] == "mRNA:um10944"
    assert spec["layout"]["xaxis"]["range"] == [2131.5, 4526.5]


def test_description_words_find_the_gene(app):
    search(app, "phosphatase methylesterase")
    assert "um10944" in app.dataframe[-1].value["name"].tolist()
    assert not app.error


def test_typed_region_shows_exactly_its_bases(app, embedded_genome):
    search(app, "chr01:2,632-2,700")
    assert app.session_state[session.LOCUS_KEY] == Region("chr01", 2631, 2700, "+")
    assert app.session_state[session.LOCUS_TRANSCRIPT_KEY] is None
    spec = locus_spec(app)
    cells = next(trace for trace in spec["data"] if trace["type"] == "heatmap" and "texttemplate" not in trace)
    assert "".join(cells["text"][0]) == embedded_genome.fetch("chr01", 2631, 2700)
    positions = array(cells["x"])
    assert (positions[0], positions[-1], len(positions)) == (2632, 2700, 69)  # 1-based, inclusive


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr01:5000-100", "the end >= the start"),
        ("chr99:1-100", "unknown chromosome 'chr99'"),
        ("chr01:1-3,000,000", "valid range is 1-2,476,500"),
    ],
)
def test_bad_region_shows_an_error_not_a_traceback(app, text, message):
    search(app, text)
    assert len(app.error) == 1 and message in app.error[0].value
    assert not any(has_gene_row(spec) for spec in plotly_specs(app))


def test_search_without_hits_says_how_to_search(app):
    search(app, "no such gene anywhere")
    assert "No transcript matches" in app.warning[0].value
    assert not app.error


# --------------------------------------------------------------------------- other genomes


def write_pair(folder: Path, fasta_names=("seqA", "seqB"), gff_chrom="seqA") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    fasta = folder / "tiny.fa"
    fasta.write_text("".join(f">{name}\n{'ACGTTGCA' * 50}\n" for name in fasta_names))
    gff = folder / "tiny.gff3"
    gff.write_text(
        "##gff-version 3\n"
        f"{gff_chrom}\tt\tgene\t11\t100\t.\t+\t.\tID=geneX;Name=tinyX;Note=a+tiny+test+gene\n"
        f"{gff_chrom}\tt\tmRNA\t11\t100\t.\t+\t.\tID=txX;Parent=geneX\n"
        f"{gff_chrom}\tt\texon\t11\t40\t.\t+\t.\tParent=txX\n"
        f"{gff_chrom}\tt\texon\t61\t100\t.\t+\t.\tParent=txX\n"
        f"{gff_chrom}\tt\tCDS\t11\t40\t.\t+\t0\tParent=txX\n"
        f"{gff_chrom}\tt\tCDS\t61\t100\t.\t+\t0\tParent=txX\n"
    )
    return fasta, gff


def test_data_directory_pair_is_offered_and_loaded(start_app, tmp_path):
    write_pair(tmp_path / "data")
    app = start_app("Data directory")
    assert not app.exception and not app.error
    chosen = [app.sidebar.selectbox(key=key).value.name for key in ("sidebar_data_fasta", "sidebar_data_annotation")]
    assert chosen == ["tiny.fa", "tiny.gff3"]
    assert {metric.label: metric.value for metric in app.metric}["Sequences"] == "2"
    search(app, "tinyX")
    assert app.session_state[session.LOCUS_KEY] == Region("seqA", 0, 400, "+")  # 500 bp flank, clipped
    hover = " ".join(str(t) for trace in locus_spec(app)["data"] for t in trace.get("hovertext", []))
    assert "a tiny test gene" in hover


def test_pair_with_other_sequence_names_shows_an_error_listing_both_sets(start_app, tmp_path):
    write_pair(tmp_path / "data", fasta_names=("seqA", "seqB"), gff_chrom="chrX")
    app = start_app("Data directory")
    assert not app.exception
    assert len(app.error) == 2  # a short note in the sidebar, the full message on the page
    message = app.main.error[0].value
    assert "chrX" in message and "seqA, seqB" in message
    assert app.session_state[session.GENOME_KEY] is None
    assert not app.metric  # the page stopped before its summary


def test_uploads_are_copied_into_the_cache_and_never_overwrite(tmp_path, monkeypatch):
    # (AppTest in Streamlit 1.67 cannot upload into a sidebar under st.navigation; the browser
    # test covers the widget, this covers where the files go.)
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path))
    first = sidebar.save_upload("genome.fa", b">a\nACGT\n")
    second = sidebar.save_upload("genome.fa", b">b\nTTTT\n")
    again = sidebar.save_upload("../genome.fa", b">a\nACGT\n")
    assert first != second and first == again
    assert first.read_bytes() == b">a\nACGT\n" and second.read_bytes() == b">b\nTTTT\n"
    assert tmp_path in first.parents


# --------------------------------------------------------------------------- the query grammar shared with the CLI


@pytest.mark.parametrize(
    "text",
    [
        "chr01:2,632-4,026",
        "chr01 2632 4026",
        "1:2,632-4,026",
        "chr1 2,632 4,026 (-)",
        "um10944",
        "mRNA:um10944",
        "chr23",
    ],
)
def test_the_locus_box_reads_what_the_command_line_reads(app, embedded_genome, embedded_annotation, text):
    # glm-explore scan reads its region with resolve_locus; the page must land on the same interval
    # (a gene with the page's default 500-bp flank).
    from glm_core.locus import resolve_locus

    search(app, text)
    assert not app.error
    expected = resolve_locus(text, embedded_genome, embedded_annotation, flank=500)
    assert app.session_state[session.LOCUS_KEY] == expected.region
    assert app.session_state[session.LOCUS_TRANSCRIPT_KEY] == expected.transcript_id
    if text.startswith(("chr01", "1:", "chr1 ")):
        assert expected.region == Region("chr01", 2631, 4026, "-" if "(-)" in text else "+")


def test_a_locus_from_another_page_reopens_with_its_strand(start_app):
    at = start_app()
    search(at, "chr01:2,632-2,700 (-)")
    at.switch_page("pages/logo.py").run()
    assert at.text_input(key="logo_query").value == "chr01:2,632-2,700 (-)"
    assert at.session_state[session.LOCUS_KEY] == Region("chr01", 2631, 2700, "-")
