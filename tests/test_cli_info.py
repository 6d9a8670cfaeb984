"""`glm-explore info` and the genome options every command shares: the same readers as the app.

Facts checked: info prints the Prokka GFF3's 2 contigs (4,200 bp), 4 genes and its features by
type; the Debian pair's name mapping and what is left unmatched with ``--aliases none``; a bare
FASTA's "no annotation"; ``scan --fasta`` takes a GFF3 with ``##FASTA`` and a promoter part
(the 50 bp before a plus-strand CDS at 101, 1-based) and prints one line, without gpn's
``dilation_schedule`` or weight-loading bars; ``embed --umap`` with 3 windows is refused
before any model is loaded.
"""

import pandas as pd

from test_genome_files import debian_pair, jgi_gff, prokka_gff3, random_sequence
from glm_core.cli import main
from glm_core.genome import fasta_text


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


def test_info_of_a_prokka_gff3_with_fasta(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GLM_EXPLORER_CACHE", str(tmp_path / "cache"))
    path, _ = prokka_gff3(tmp_path)
    assert run_cli("info", "--fasta", path) == 0
    assert capsys.readouterr().out == (
        f"FASTA:       {path}\n"
        "Sequences:   2, 4,200 bp in total\n"
        "  contig000001                            3,000 bp\n"
        "  contig000002                            1,200 bp\n"
        f"Annotation:  {path}\n"
        "Genes:       4\n"
        "Transcripts: 4\n"
        "Features:    3 CDS, 1 tRNA\n"
    )


def test_info_of_a_jgi_gtf_counts_genes_not_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GLM_EXPLORER_CACHE", str(tmp_path / "cache"))
    fasta, gff = jgi_gff(tmp_path)
    assert run_cli("info", "--fasta", fasta, "--annotation", gff) == 0
    out = capsys.readouterr().out
    assert "Genes:       2\nTranscripts: 2\nFeatures:    3 exon, 3 CDS, 2 start_codon, 1 stop_codon\n" in out


def test_info_shows_the_name_mapping_and_what_none_leaves(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GLM_EXPLORER_CACHE", str(tmp_path / "cache"))
    fasta, gff, _ = debian_pair(tmp_path)
    assert run_cli("info", "--fasta", fasta, "--annotation", gff) == 0
    out = capsys.readouterr().out
    assert "chr01 -> Umaydis:chr01:1:+:900   [FASTA ':'-field 2]" in out and "Genes:       2" in out
    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("chr01\tUmaydis:chr01:1:+:900\nchr02\tUmaydis:chr02:1:+:600\n")
    assert run_cli("info", "--fasta", fasta, "--annotation", gff, "--aliases", aliases) == 0
    assert "chr02 -> Umaydis:chr02:1:+:600   [aliases file]" in capsys.readouterr().out
    assert run_cli("info", "--fasta", fasta, "--annotation", gff, "--aliases", "none") == 0
    out = capsys.readouterr().out
    assert "chr01 -> (not in the FASTA)   [unmatched]" in out
    assert "Warning: 2 of 2 chromosomes in " in out and "Umaydis.gff3 are not in the FASTA" in out


def test_info_of_a_bare_fasta(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GLM_EXPLORER_CACHE", str(tmp_path / "cache"))
    fasta = tmp_path / "bare.fa"
    fasta.write_text(fasta_text({"seq1": random_sequence(250, 7)}))
    assert run_cli("info", "--fasta", fasta) == 0
    out = capsys.readouterr().out
    assert "Sequences:   1, 250 bp in total" in out and "Annotation:  none (consequences read 'no annotation')" in out


def test_scan_takes_a_gff3_with_fasta_and_a_promoter_part(tmp_path, tiny_gpn_dir, capsys, monkeypatch):
    monkeypatch.setenv("GLM_EXPLORER_CACHE", str(tmp_path / "cache"))
    path, contigs = prokka_gff3(tmp_path)
    out = tmp_path / "promoter.tsv"
    argv = [
        "scan",
        "PROKKA_00001",
        "--fasta",
        path,
        "--part",
        "promoter",
        "--upstream",
        50,
        "--model",
        tiny_gpn_dir,
        "--device",
        "cpu",
        "--out",
        out,
    ]
    assert run_cli(*argv) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("wrote 50 positions of contig000001:51-100 (+)")
    assert "dilation_schedule" not in printed.out + printed.err and "Loading weights" not in printed.err
    table = pd.read_csv(out, sep="\t")
    assert table["pos"].tolist() == list(range(51, 101))  # 50 bp before the CDS at 101-700 (+), 1-based
    assert "".join(table["ref"]) == contigs["contig000001"][50:100]
    assert run_cli(*argv[:5], "exon-2", *argv[6:]) == 2
    assert "unknown --part 'exon-2'" in capsys.readouterr().err


def test_embed_umap_with_too_few_windows_is_refused_before_embedding(tmp_path, capsys, monkeypatch):
    import glm_core.models

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(glm_core.models, "load_masked_lm", no_model)
    assert run_cli("embed", "--sample", 3, "--umap", "--out", tmp_path / "w.parquet") == 2
    assert "--umap needs at least 4 windows" in capsys.readouterr().err
    bed = tmp_path / "w.bed"
    bed.write_text("chr01\t0\t100\tCDS\nchr01\t200\t300\tintron\n")
    assert run_cli("embed", "--bed", bed, "--umap", "--out", tmp_path / "w.parquet") == 2
    assert "--umap needs at least 4 windows; got 2" in capsys.readouterr().err
