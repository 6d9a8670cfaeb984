"""glm_core.vcf: reading VCF text with line numbers, splitting alleles, writing scored VCFs.

tests/data/variants.vcf is hand-made on the embedded U. maydis genome (see
tests/test_variants.py for what each record is). Facts checked: POS becomes 0-based ``pos``
and a multi-allelic record becomes one row per ALT; gzip and bgzip input read like the
plain file; bad text names its line; the scored VCF has one ALT per record, cuts
``Number=A/R`` values and genotypes to the allele kept and declares its GLM_* fields; a
scored VCF read back gives the same alleles (round trip). Scores come from a tiny randomly
initialised GPN (fast; the numbers mean nothing biologically).
"""

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glm_core import variants
from glm_core.errors import InputError
from glm_core.outputs import write_text
from glm_core.vcf import read_vcf, scored_vcf_text, vcf_alleles

DATA = Path(__file__).resolve().parent / "data"
VCF = DATA / "variants.vcf"
# GLM_STATUS of each allele of variants.vcf, in file order (multi_allelic gives two).
STATUSES_IN_FILE = [
    "scored",
    "scored",
    "scored",
    "scored",
    "indel",
    "ref_mismatch",
    "unknown_chromosome",
    "symbolic",
    "scored",
]


@pytest.fixture(scope="module")
def scored(tiny_gpn, embedded_genome, embedded_annotation):
    return variants.score_vcf(tiny_gpn, embedded_genome, embedded_annotation, read_vcf(VCF))


def parse_vcf_text(text: str) -> tuple[list[str], pd.DataFrame]:
    lines = text.splitlines()
    meta = [line for line in lines if line.startswith("##")]
    body = "\n".join(line for line in lines if not line.startswith("##"))
    return meta, pd.read_csv(io.StringIO(body), sep="\t", dtype=str)


def info_of(field: str) -> dict[str, str]:
    return dict(entry.split("=", 1) if "=" in entry else (entry, True) for entry in field.split(";"))


# --------------------------------------------------------------------------- reading


def test_alleles_are_one_row_per_alt_with_0_based_positions():
    vcf = read_vcf(VCF)
    assert len(vcf) == 8 and vcf.lines == list(range(8, 16))  # 7 header lines before the records
    assert vcf.info_numbers == {"AF": "A", "DP": "1"} and vcf.format_numbers == {"GT": "1", "AD": "R"}
    alleles = vcf_alleles(vcf)
    assert list(alleles.columns) == ["record", "line", "chrom", "pos", "id", "ref", "alt", "allele", "n_alts"]
    multi = alleles[alleles["id"] == "multi_allelic"]
    assert multi[["record", "line", "pos", "alt", "allele", "n_alts"]].values.tolist() == [
        [1, 9, 71_247, "T", 1, 2],  # POS 71,248 is pos 71,247 (0-based)
        [1, 9, 71_247, "G", 2, 2],
    ]
    assert alleles["chrom"].tolist()[3] == "22"  # as written in the file; aliases are resolved later
    assert len(alleles) == 9


@pytest.mark.parametrize("compress", ["gzip", "bgzip"])
def test_gzipped_vcf_reads_like_the_plain_file(tmp_path, compress):
    import pysam

    plain = read_vcf(VCF)
    if compress == "gzip":
        data = gzip.compress(VCF.read_bytes())
    else:
        path = write_text(VCF.read_text(), tmp_path / "v.vcf.gz")
        data = path.read_bytes()
        assert data[:4] == b"\x1f\x8b\x08\x04"  # BGZF: gzip with the extra field set
        with pysam.VariantFile(str(path)) as handle:  # htslib reads what write_text wrote
            assert sum(1 for _ in handle) == 8
    packed = read_vcf(data, name=f"v.vcf.gz ({compress})")
    assert packed.records == plain.records and packed.lines == plain.lines


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr22\t5\t.\tA\tG\t.\t.\t.\n", r"line 1: a record before the #CHROM header line"),
        ("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22 5 . A G . . .\n", r"line 2: 1 tab-separated field"),
        ("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t5x\t.\tA\tG\t.\t.\t.\n", r"line 2: POS '5x'"),
        ("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t5\t.\t1\tG\t.\t.\t.\n", r"line 2: REF '1'"),
        ("##fileformat=VCFv4.2\n", r"no #CHROM header line"),
    ],
)
def test_unreadable_vcf_text_names_the_line(text, message):
    with pytest.raises(InputError, match=message):
        read_vcf(text.encode(), name="test.vcf")


def test_corrupt_gzip_and_non_text_are_input_errors():
    with pytest.raises(InputError, match=r"v\.vcf\.gz: the gzip data are truncated or corrupt"):
        read_vcf(gzip.compress(VCF.read_bytes())[:60], name="v.vcf.gz")
    with pytest.raises(InputError, match=r"bin\.vcf, line 2: not UTF-8 text"):
        read_vcf(b"##fileformat=VCFv4.2\n\xff\xfe\n", name="bin.vcf")


def test_missing_vcf_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="VCF file not found"):
        read_vcf(tmp_path / "absent.vcf")


# --------------------------------------------------------------------------- writing


def test_scored_vcf_splits_multi_allelic_records_and_declares_its_fields(scored):
    text = scored_vcf_text(read_vcf(VCF), scored, model_name="tiny", genome_name="umaydis")
    meta, records = parse_vcf_text(text)
    assert meta[0] == "##fileformat=VCFv4.2"
    for key in ("GLM_LLR", "GLM_LLR_PCT", "GLM_CSQ", "GLM_GENE", "GLM_STATUS"):
        assert sum(line.startswith(f"##INFO=<ID={key},Number=A,") for line in meta) == 1
    assert "##glm_explorer_model=tiny" in meta
    assert len(records) == 9 and records["ALT"].str.contains(",").sum() == 0  # one ALT per record
    info = [info_of(field) for field in records["INFO"]]
    assert [entry["GLM_STATUS"] for entry in info] == STATUSES_IN_FILE
    # The multi-allelic record: AF (Number=A) and AD (Number=R) are cut per allele; GT recoded.
    split = records[records["ID"] == "multi_allelic"]
    assert [info_of(field)["AF"] for field in split["INFO"]] == ["0.1", "0.2"]
    assert split["sample1"].tolist() == ["1/.:0,12", "./1:0,15"]
    assert [info_of(field)["GLM_CSQ"] for field in split["INFO"]] == ["stop_gained", "missense"]
    # Unscored records keep their fields and get only GLM_STATUS.
    indel = info_of(records.set_index("ID").at["insertion", "INFO"])
    assert indel == {"DP": "30", "GLM_STATUS": "indel"}
    llrs = [float(entry["GLM_LLR"]) for entry in info if "GLM_LLR" in entry]
    np.testing.assert_allclose(llrs, scored["llr"].dropna(), atol=5e-5)


def test_scoring_a_scored_vcf_replaces_its_glm_fields(tiny_gpn, embedded_genome, embedded_annotation, scored):
    first = scored_vcf_text(read_vcf(VCF), scored)
    again = read_vcf(first.encode(), name="scored.vcf")
    second = scored_vcf_text(again, variants.score_vcf(tiny_gpn, embedded_genome, embedded_annotation, again))
    assert second.count("##INFO=<ID=GLM_LLR,") == 1 and second.count("GLM_STATUS=") == 9
    assert parse_vcf_text(second)[1]["INFO"].tolist() == parse_vcf_text(first)[1]["INFO"].tolist()


def test_vcf_without_records_writes_its_header(tiny_gpn, embedded_genome, embedded_annotation):
    vcf = read_vcf(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    table = variants.score_vcf(tiny_gpn, embedded_genome, embedded_annotation, vcf)
    assert len(table) == 0
    text = scored_vcf_text(vcf, table)
    assert text.splitlines()[-1].startswith("#CHROM") and "##INFO=<ID=GLM_STATUS," in text


def test_a_table_of_another_vcf_is_refused(scored):
    other = read_vcf(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t5\t.\tA\tG\t.\t.\t.\n", name="other.vcf")
    with pytest.raises(ValueError, match="the scored table does not belong to other.vcf"):
        scored_vcf_text(other, scored)


@pytest.mark.parametrize("name", ["scored.vcf", "scored.vcf.gz"])
def test_read_write_read_round_trip_keeps_every_allele(scored, tmp_path, name):
    """Reading the written file back gives the input's alleles, one record each, in order,
    with every record's other columns (QUAL, FILTER, the FORMAT keys) unchanged."""
    original = read_vcf(VCF)
    path = write_text(scored_vcf_text(original, scored), tmp_path / name)
    back = read_vcf(path)
    assert back.header == original.header and len(back) == 9
    alleles, back_alleles = vcf_alleles(original), vcf_alleles(back)
    columns = ["chrom", "pos", "id", "ref", "alt"]
    pd.testing.assert_frame_equal(back_alleles[columns], alleles[columns])
    assert (back_alleles["n_alts"] == 1).all()
    kept = [fields[:4] + fields[5:7] + fields[8:9] for fields in back.records]
    assert kept == [
        original.records[row][:4] + original.records[row][5:7] + original.records[row][8:9] for row in alleles["record"]
    ]
    assert back.info_numbers["GLM_LLR"] == "A" and back.info_numbers["AF"] == "A"
    data = path.read_bytes()
    text = gzip.decompress(data).decode() if name.endswith(".gz") else data.decode()
    assert text == scored_vcf_text(original, scored)  # the bytes written are the text, nothing else
