"""The variant page, run through app.py with Streamlit's AppTest on the bundled model.

Facts checked, around the start codon of um06164 (chr22:69,124-69,126, +) +/- 10 bp:

* the heat map has one column per base (23) and one row per base A, C, G, T, with the
  reference cell blank and every other cell an LLR; changes of the ATG are start_lost;
* the per-consequence and codon-position plots are drawn;
* a pasted VCF (SNV, multi-allelic, indel, REF mismatch, unknown chromosome, a ``22`` alias)
  gets one outcome per allele; its scored VCF and TSV downloads parse, declare the GLM_*
  INFO fields, and give each SNV the LLR the heat map shows; a gzipped upload of the same
  records gives the same table;
* with the cLLR switch on, every SNV's shown LLR (table, heat map, TSV) is its cLLR;
* a VCF with INFO/AF, and one with AC/AN, gets the allele-frequency section: six SNVs in the
  bins <0.1 % (2), 0.1-1 % (1), 1-5 % (1), 5-20 % (0), 20-50 % (1), >=50 % (1), each bin's
  mean and 95 % CI those of its SNVs' LLRs.

23 positions are scored with the bundled model (the VCF's SNVs lie inside the scanned window,
and their positions are scored again for the VCF: 3 more).
"""

import base64
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui import choices

ROOT = Path(__file__).resolve().parent.parent
CHROM, START, END = "chr22", 69_113, 69_136
VCF_TEXT = (
    "##fileformat=VCFv4.2\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr22\t69124\tatg_a\tA\tG\t.\t.\t.\n"  # ATG -> GTG: start_lost
    "22\t69126\tatg_g\tG\tA,C\t.\t.\t.\n"  # ATG -> ATA, ATC: start_lost (alias 22 -> chr22)
    "chr22\t69127\tcodon2\tG\tT\t.\t.\t.\n"  # GGT -> TGT: Gly -> Cys, missense
    "chr22\t69129\tins\tT\tTA\t.\t.\t.\n"
    "chr22\t69125\tmismatch\tA\tG\t.\t.\t.\n"  # the genome has T
    "chrUn\t5\tunknown\tA\tG\t.\t.\t.\n"
)
EXPECTED_STATUS = ["scored", "scored", "scored", "scored", "indel", "ref_mismatch", "unknown_chromosome"]


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    # These tests check the exact masked LM's numbers; tests/test_app_onepass.py covers the CPU default.
    at.session_state["sidebar_model"] = next(c for c in choices.site_model_choices() if c.name == "gpn-umaydis")
    at.run()
    at.switch_page("pages/variants.py").run()
    assert not at.exception, at.exception
    return at


def download(at, served, key: str) -> bytes:
    button = next(button for button in at.get("download_button") if button.proto.id.endswith(key))
    return served[button.proto.url]


def scan(at):
    at.text_input(key="variants_query").input("um06164").run()
    at.number_input(key="variants_flank").set_value(10).run()
    if at.get("button") and any(b.key == "variants_score" for b in at.button):
        at.button(key="variants_score").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def array(values) -> np.ndarray:
    """A plotly array: numpy input is written as base64 ``{"dtype", "bdata", "shape"}``."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        shape = values.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(values)


def chart(at, title: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        text = json.dumps(spec["layout"].get("title", {})) + json.dumps(
            [a.get("title", {}) for k, a in spec["layout"].items() if k.startswith("yaxis")]
        )
        if title in text:
            return spec
    raise AssertionError(f"no chart titled {title!r}")


def test_saturation_scan_of_a_start_codon(page, served, embedded_genome):
    at = scan(page)
    heat = next(t for t in chart(at, "alt allele")["data"] if t["type"] == "heatmap" and t.get("name") == "LLR")
    z = array(heat["z"]).astype(float)
    assert z.shape == (4, END - START) and heat["y"] == ["A", "C", "G", "T"]
    reference = embedded_genome.fetch(CHROM, START, END).upper()
    blank = np.isnan(z)
    assert blank.sum() == END - START and all(blank["ACGT".index(base), i] for i, base in enumerate(reference))
    assert heat["zmid"] == 0 and heat["zmin"] == -heat["zmax"]  # diverging scale centred at 0
    atg_a_to_g = heat["text"][2][69_123 - START]
    assert atg_a_to_g.startswith("chr22:69,124 A>G") and "start_lost in um06164" in atg_a_to_g

    violins = {t["name"] for t in chart(at, "LLR by predicted consequence")["data"] if t["type"] == "violin"}
    assert {"start_lost", "missense", "synonymous"} <= violins
    boxes = chart(at, "LLR by codon position")["data"]
    assert {t["name"] for t in boxes if t["type"] == "box"} >= {"missense", "start_lost"}

    snvs = pd.read_csv(io.BytesIO(download(at, served, "variants_download_scan")), sep="\t")
    assert len(snvs) == 3 * (END - START) and snvs["pos"].between(START + 1, END).all()  # 1-based
    assert snvs["llr_percentile"].between(0, 100).all()
    np.testing.assert_allclose(np.sort(snvs["llr"]), np.sort(z[~blank]), atol=1e-5)  # TSV: 6 digits


def test_pasted_vcf_is_scored_and_downloads_parse(page, served):
    at = scan(page)
    scanned = pd.read_csv(io.BytesIO(download(at, served, "variants_download_scan")), sep="\t")
    at.text_area(key="variants_vcf_text").input(VCF_TEXT).run()
    at.button(key="variants_vcf_score").click().run()
    assert not at.exception and not at.error
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics == {"Alleles": "7", "Scored SNVs": "4", "Not scored": "3"}
    assert any("differs from the genome" in warning.value for warning in at.warning)

    table = pd.read_csv(io.BytesIO(download(at, served, "variants_download_tsv")), sep="\t", dtype={"chrom": str})
    assert table["status"].tolist() == EXPECTED_STATUS
    assert table["consequence"].fillna("").tolist()[:4] == ["start_lost", "start_lost", "start_lost", "missense"]
    assert table.loc[1, "genome_chrom"] == "chr22" and table.loc[1, "chrom"] == "22"  # alias resolved, name kept

    vcf = download(at, served, "variants_download_vcf").decode()
    meta = [line for line in vcf.splitlines() if line.startswith("##")]
    for key in ("GLM_LLR", "GLM_CSQ", "GLM_GENE", "GLM_STATUS"):
        assert any(line.startswith(f"##INFO=<ID={key},") for line in meta)
    records = [line.split("\t") for line in vcf.splitlines() if not line.startswith("#")]
    assert [r[4] for r in records] == ["G", "A", "C", "T", "TA", "G", "G"]  # the multi-allelic record split
    info = [dict(item.split("=") for item in r[7].split(";")) for r in records]
    assert [entry["GLM_STATUS"] for entry in info] == EXPECTED_STATUS
    assert info[0]["GLM_GENE"] == "um06164" and info[0]["GLM_CSQ"] == "start_lost"

    # The same SNV has the same LLR in the VCF as in the region scan.
    scan_llr = scanned.set_index(["pos", "alt"])["llr"]
    for record, entry in zip(records[:4], info[:4]):
        assert float(entry["GLM_LLR"]) == pytest.approx(scan_llr[(int(record[1]), record[4])], abs=1e-4)

    # A gzipped upload of the same records gives the same table.
    at.text_area(key="variants_vcf_text").input("").run()
    at.file_uploader(key="variants_vcf_upload").set_value(
        ("calls.vcf.gz", gzip.compress(VCF_TEXT.encode()), "application/gzip")
    ).run()
    at.button(key="variants_vcf_score").click().run()
    assert not at.exception
    uploaded = pd.read_csv(io.BytesIO(download(at, served, "variants_download_tsv")), sep="\t", dtype={"chrom": str})
    pd.testing.assert_frame_equal(uploaded, table)


def test_unreadable_vcf_shows_the_line(page):
    page.text_area(key="variants_vcf_text").input(
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t12x\t.\tA\tG\t.\t.\t.\n"
    ).run()
    assert not page.exception
    assert len(page.error) == 1 and "pasted VCF, line 2: POS '12x' is not a whole number" in page.error[0].value


def test_calibrated_switch_shows_the_cllr_in_place_of_the_llr(page, served):
    at = scan(page)
    raw = pd.read_csv(io.BytesIO(download(at, served, "variants_download_scan")), sep="\t").set_index(["pos", "alt"])
    assert (raw["llr"] - raw["cllr"]).abs().max() > 0.01  # the bundled model's neutral table moves the scores
    at.toggle(key="variants_calibrated").set_value(True).run()
    assert not at.exception and not at.error
    shown = pd.read_csv(io.BytesIO(download(at, served, "variants_download_scan")), sep="\t").set_index(["pos", "alt"])
    shown = shown.loc[raw.index]
    np.testing.assert_allclose(shown["llr"], raw["cllr"], atol=1e-5)  # each row's LLR is now its cLLR
    table = next(frame.value for frame in at.dataframe if {"llr", "cllr", "alt"} <= set(frame.value.columns))
    np.testing.assert_allclose(table["llr"], table["cllr"])
    heat = next(t for t in chart(at, "alt allele")["data"] if t["type"] == "heatmap" and t.get("name") == "LLR")
    z = array(heat["z"]).astype(float)
    np.testing.assert_allclose(np.sort(z[~np.isnan(z)]), np.sort(raw["cllr"]), atol=1e-5)


# Six SNVs of the scanned window: two rare (< 0.1 %), one at 0.5 %, one at 3 %, one at 30 %, one at 60 %.
FREQUENCY_OFFSETS = [0, 1, 2, 3, 4, 5]
FREQUENCIES = [0.0005, 0.0008, 0.005, 0.03, 0.3, 0.6]
EXPECTED_BINS = {"<0.1%": 2, "0.1-1%": 1, "1-5%": 1, "5-20%": 0, "20-50%": 1, ">=50%": 1}


def frequency_vcf(genome, info: list[str]) -> str:
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for offset, field in zip(FREQUENCY_OFFSETS, info):
        ref = genome.fetch(CHROM, START + offset, START + offset + 1).upper()
        alt = "C" if ref != "C" else "T"
        lines.append(f"{CHROM}\t{START + offset + 1}\t.\t{ref}\t{alt}\t.\t.\t{field}")
    return "\n".join(lines) + "\n"


def frequency_table(at) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "af_bin" in frame.value.columns)


@pytest.mark.parametrize("source", ["AF", "AC/AN"])
def test_allele_frequency_section_bins_the_scored_snvs(page, served, embedded_genome, source):
    if source == "AF":
        text = frequency_vcf(embedded_genome, [f"AF={f}" for f in FREQUENCIES])
        page.text_area(key="variants_vcf_text").input(text).run()
    else:
        text = frequency_vcf(embedded_genome, [f"AC={round(f * 10_000)};AN=10000" for f in FREQUENCIES])
        page.file_uploader(key="variants_vcf_upload").set_value(("cohort.vcf", text.encode(), "text/plain")).run()
    page.button(key="variants_vcf_score").click().run()
    assert not page.exception and not page.error, (page.exception, page.error)
    assert any(header.value == "Scores by allele frequency" for header in page.subheader)
    summary = frequency_table(page)
    llr = summary[summary["score"] == "llr"].set_index("af_bin")
    assert {str(k): int(v) for k, v in llr["n"].items()} == EXPECTED_BINS
    assert set(summary["score"]) == {"llr", "cllr"}
    scored = pd.read_csv(io.BytesIO(download(page, served, "variants_download_tsv")), sep="\t")
    assert llr.loc["<0.1%", "mean"] == pytest.approx(scored["llr"].iloc[:2].mean(), abs=1e-5)
    assert llr.loc[">=50%", "mean"] == pytest.approx(scored["llr"].iloc[5], abs=1e-5)
    assert np.isnan(llr.loc["5-20%", "mean"]) and np.isnan(llr.loc[">=50%", "ci_low"])  # one SNV: no CI
    spread = 1.96 * scored["llr"].iloc[:2].std(ddof=1) / np.sqrt(2)
    assert llr.loc["<0.1%", "ci_high"] == pytest.approx(llr.loc["<0.1%", "mean"] + spread, abs=1e-5)
