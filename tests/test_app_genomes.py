"""A biologist's own genome through the app's path: data-directory files in the shapes real
files come in, the name mapping confirmed in the sidebar, a genome switch that leaves no stale
locus, and the note that the model was trained on another genome.

Facts checked: a Prokka GFF3 with ``##FASTA`` is sequences and annotation at once (2 contigs,
4 genes); a JGI GTF named ``.gff`` is 2 genes, not 9 feature lines; Debian's U. maydis pair
(``Umaydis:chr01:1:+:900`` vs ``chr01``) opens once the proposed mapping is confirmed; a bare
FASTA opens with "no annotation"; the bundled model's note appears on a genome it was not
trained on and not on the embedded one; on a bare FASTA the logo page scores typed coordinates and a
scored VCF reads "no_annotation".
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from test_genome_files import debian_pair, jgi_gff, prokka_gff3, random_sequence
from glm_core.genome import fasta_text
from ui import choices, session, sidebar

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def start(source: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if source is not None:
        at.session_state["sidebar_genome_source"] = source
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_prokka_gff3_with_fasta_is_offered_as_its_own_annotation(data):
    path, _ = prokka_gff3(data)
    at = start("Data directory")
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="sidebar_data_fasta").value == path
    assert at.sidebar.selectbox(key=sidebar.ANNOTATION_KEY).value == path
    assert metrics(at) == {"Sequences": "2", "Total length": "0.00 Mb", "Genes": "4", "Transcripts": "4"}


def test_jgi_gtf_named_gff_is_grouped_into_genes(data):
    jgi_gff(data)
    at = start("Data directory")
    assert not at.exception and not at.error
    assert (metrics(at)["Genes"], metrics(at)["Transcripts"]) == ("2", "2")
    at.text_input(key="overview_locus_query").input("fgenesh1").run()
    assert at.session_state[session.LOCUS_TRANSCRIPT_KEY] == "9370"


def test_prefixed_fasta_names_open_once_the_proposed_mapping_is_confirmed(data):
    debian_pair(data)
    at = start("Data directory")
    assert at.session_state[session.GENOME_KEY] is None  # refused until confirmed
    table = next(df.value for df in at.sidebar.dataframe)
    assert table["FASTA"].tolist() == ["Umaydis:chr01:1:+:900", "Umaydis:chr02:1:+:600"]
    at = start("Data directory", **{sidebar.APPLY_MAPPING_KEY: True})
    assert not at.exception and not at.main.error
    assert at.session_state[session.GENOME_KEY].aliases == "auto"
    assert metrics(at)["Genes"] == "2"
    assert any("sequence names mapped" in w.value for w in at.sidebar.warning)
    at.text_input(key="overview_locus_query").input("um00002").run()
    assert at.session_state[session.LOCUS_KEY].chrom == "Umaydis:chr02:1:+:600"


def test_bare_fasta_opens_without_annotation(data):
    (data / "bare.fa").write_text(fasta_text({"seq1": random_sequence(3000, 8)}))
    at = start("Data directory")
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key=sidebar.ANNOTATION_KEY).value == sidebar.NO_ANNOTATION
    assert metrics(at)["Genes"] == "no annotation"
    at.text_input(key="overview_locus_query").input("some gene").run()
    assert "no annotation" in at.error[0].value
    at.text_input(key="overview_locus_query").input("seq1:101-200").run()
    assert not at.error and at.session_state[session.LOCUS_KEY].start == 100


def test_switching_genome_clears_the_locus_and_the_query_boxes(data):
    (data / "bare.fa").write_text(fasta_text({"seq1": random_sequence(3000, 8)}))
    at = start()
    at.text_input(key="overview_locus_query").input("chr01:2,632-2,700").run()
    at.switch_page("pages/logo.py").run()
    assert at.text_input(key="logo_query").value == "chr01:2,632-2,700 (+)"
    # The sidebar's choice of another genome, set directly: AppTest in Streamlit 1.67 runs the
    # sidebar of an st.navigation app only on the first run, so its widgets cannot be changed.
    at.session_state[session.GENOME_KEY] = choices.GenomeChoice.of("bare", data / "bare.fa")
    at.run()
    assert not at.exception and not at.error  # no red "unknown chromosome 'chr01'"
    assert at.session_state[session.LOCUS_KEY] is None
    assert at.text_input(key="logo_query").value == ""
    at.switch_page("pages/overview.py").run()
    assert not at.error and at.text_input(key="overview_locus_query").value == ""


def test_model_views_note_a_model_of_another_genome(data):
    (data / "bare.fa").write_text(fasta_text({"seq1": random_sequence(3000, 8)}))
    at = start("Data directory")
    at.switch_page("pages/logo.py").run()
    assert not at.exception
    notes = [w.value for w in at.main.warning if "model of another genome" in w.value]
    assert len(notes) == 1 and "Ustilago maydis" in notes[0]
    code = " ".join(c.value for c in at.main.code)
    assert "glm-explore train-mlm --fasta" in code and "glm-explore distill --teacher runs/mlm/best" in code
    embedded = start()
    embedded.switch_page("pages/logo.py").run()
    assert not any("model of another genome" in w.value for w in embedded.main.warning)


def test_a_bare_fasta_gets_logos_and_vcf_scores_with_no_annotation(data, tiny_gpn_dir, served):
    import io
    import shutil

    import pandas as pd

    sequence = random_sequence(3000, 8)
    (data / "bare.fa").write_text(fasta_text({"seq1": sequence}))
    shutil.copytree(tiny_gpn_dir, data / "models" / "tiny")
    tiny = next(choice for choice in choices.masked_model_choices() if choice.name == "tiny")
    at = start("Data directory", sidebar_model=tiny)
    at.switch_page("pages/logo.py").run()
    at.text_input(key="logo_query").input("seq1:101-104").run()
    at.button(key="logo_score").click().run()
    assert not at.exception and not at.error
    button = next(b for b in at.get("download_button") if b.proto.id.endswith("logo_download_tsv"))
    logo_table = pd.read_csv(io.BytesIO(served[button.proto.url]), sep="\t")
    assert "".join(logo_table["ref"]) == sequence[100:104]  # 1-based 101-104 of the bare FASTA
    at.switch_page("pages/variants.py").run()
    base = sequence[1000]
    alt = "C" if base != "C" else "T"
    at.text_area(key="variants_vcf_text").input(
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nseq1\t1001\t.\t{base}\t{alt}\t.\t.\t.\n"
    ).run()
    at.button(key="variants_vcf_score").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Scored SNVs"] == "1"
    button = next(b for b in at.get("download_button") if b.proto.id.endswith("variants_download_tsv"))
    table = pd.read_csv(io.BytesIO(served[button.proto.url]), sep="\t")
    assert table["consequence"].tolist() == ["no_annotation"] and table["status"].tolist() == ["scored"]


def test_an_upload_that_is_not_a_genome_is_named_by_its_upload_name(data):
    from glm_core.errors import user_message
    from glm_core.genome_files import open_genome_files

    saved = {("file-1", "my notes.txt"): sidebar.save_upload("my notes.txt", b"my notes, not a genome\n")}
    with pytest.raises(ValueError) as error:
        open_genome_files(saved[("file-1", "my notes.txt")])
    assert str(data.parent / "cache") in user_message(error.value)  # the copy the server reads
    message = sidebar.upload_names(user_message(error.value), saved)
    assert message == "my notes.txt, line 1: a FASTA file must start with '>name'; got 'my notes, not a genome'"
