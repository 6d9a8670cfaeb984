"""glm_core.genome_files: the files biologists have open through one path, with the right counts.

Fixtures are generated here, small and in the shapes of real files: a Prokka GFF3 with
``##FASTA`` (prokaryote CDS lines with their own IDs), a JGI gene catalogue in GFF2 syntax
named ``.gff`` (``name``/``transcriptId``/``proteinId``, exon, CDS and codon lines), Debian's
U. maydis pair (FASTA headers ``Umaydis:chr01:1:+:2476500``, GFF ``chr01``) and a bare FASTA.
"""

import hashlib
import random

import pytest

from glm_core.errors import InputError
from glm_core.genome import fasta_text
from glm_core.genome_files import find_genome_files, format_report, genome_report, open_genome_files


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_sequence(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


def prokka_gff3(tmp_path):
    contigs = {"contig000001": random_sequence(3000, 1), "contig000002": random_sequence(1200, 2)}
    lines = ["##gff-version 3", "##sequence-region contig000001 1 3000", "##sequence-region contig000002 1 1200"]
    for i, (contig, start, end, strand) in enumerate(
        [("contig000001", 101, 700, "+"), ("contig000001", 901, 1500, "-"), ("contig000002", 11, 310, "+")], 1
    ):
        lines.append(
            f"{contig}\tProdigal:002006\tCDS\t{start}\t{end}\t.\t{strand}\t0\tID=PROKKA_{i:05d};"
            f"locus_tag=PROKKA_{i:05d};product=hypothetical protein {i}"
        )
    lines.append("contig000002\tAragorn:001002\ttRNA\t401\t476\t.\t+\t.\tID=PROKKA_00004;product=tRNA-Leu(cag)")
    path = tmp_path / "PROKKA_01012026.gff"
    path.write_text("\n".join(lines) + "\n##FASTA\n" + fasta_text(contigs))
    return path, contigs


def test_prokka_gff3_with_fasta_is_genome_and_annotation(tmp_path):
    path, contigs = prokka_gff3(tmp_path)
    before = sha256(path)
    files = open_genome_files(path, cache_dir=tmp_path / "cache")
    assert files.genome.chrom_sizes == {"contig000001": 3000, "contig000002": 1200}
    assert files.genome.fetch("contig000002", 0, 60) == contigs["contig000002"][:60]
    assert files.annotation_path == path and files.genome.source_format == "gff3"
    assert len(files.annotation.transcripts) == 4
    assert files.annotation.search("tRNA-Leu")["transcript_id"].tolist() == ["PROKKA_00004"]
    # Nothing is written beside the user's file; the sequences were copied into the cache.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PROKKA_01012026.gff", "cache"]
    assert sha256(path) == before


def jgi_gff(tmp_path):
    name1, name2 = "fgenesh1_pg.C_scaffold_1000001", "estExt_Genewise1.C_20002"
    rows = [
        ("scaffold_1", "exon", 101, 200, "+", ".", f'name "{name1}"; transcriptId 9370'),
        ("scaffold_1", "CDS", 131, 200, "+", "0", f'name "{name1}"; proteinId 9370; exonNumber 1'),
        ("scaffold_1", "start_codon", 131, 133, "+", "0", f'name "{name1}"'),
        ("scaffold_1", "exon", 301, 400, "+", ".", f'name "{name1}"; transcriptId 9370'),
        ("scaffold_1", "CDS", 301, 360, "+", "2", f'name "{name1}"; proteinId 9370; exonNumber 2'),
        ("scaffold_1", "stop_codon", 358, 360, "+", "0", f'name "{name1}"'),
        ("scaffold_2", "exon", 50, 190, "-", ".", f'name "{name2}"; transcriptId 51234'),
        ("scaffold_2", "CDS", 60, 180, "-", "0", f'name "{name2}"; proteinId 51233; exonNumber 1'),
        ("scaffold_2", "start_codon", 178, 180, "-", "0", f'name "{name2}"'),
    ]
    path = tmp_path / "Genecatalog_genes_20110808.gff"  # JGI names GFF2 files .gff
    path.write_text("".join(f"{c}\tJGI\t{f}\t{s}\t{e}\t.\t{st}\t{ph}\t{a}\n" for c, f, s, e, st, ph, a in rows))
    fasta = tmp_path / "assembly.fasta"
    fasta.write_text(fasta_text({"scaffold_1": random_sequence(500, 3), "scaffold_2": random_sequence(300, 4)}))
    return fasta, path


def test_jgi_gff2_groups_lines_into_named_genes_and_transcripts(tmp_path):
    fasta, path = jgi_gff(tmp_path)
    files = open_genome_files(fasta, path, cache_dir=tmp_path / "cache")
    transcripts = files.annotation.transcripts
    # 9 feature lines are 2 genes with one transcript each, not 9 "genes".
    assert transcripts["transcript_id"].tolist() == ["9370", "51234"]
    assert transcripts["name"].tolist() == ["fgenesh1_pg.C_scaffold_1000001", "estExt_Genewise1.C_20002"]
    assert transcripts["n_exons"].tolist() == [2, 1]
    assert (transcripts["cds_start"].tolist(), transcripts["cds_end"].tolist()) == ([130, 59], [360, 180])
    assert transcripts["description"].tolist() == ["", ""]  # no "nan"
    assert files.annotation.search("fgenesh1")["transcript_id"].tolist() == ["9370"]
    report = genome_report(fasta, path, cache_dir=tmp_path / "cache")
    assert (report.genes, report.transcripts) == (2, 2)
    assert report.feature_counts == {"exon": 3, "CDS": 3, "start_codon": 2, "stop_codon": 1}


def test_lines_that_name_no_transcript_are_refused_with_counts(tmp_path):
    path = tmp_path / "flat.gff"
    path.write_text(
        "".join(
            f'chr1\tsrc\t{kind}\t{10 * i + 1}\t{10 * i + 9}\t.\t+\t.\tnote "x"\n'
            for i, kind in enumerate(["exon", "CDS", "exon", "CDS", "stop_codon"])
        )
    )
    with pytest.raises(
        InputError,
        match=r"flat\.gff, line 1: 5 of 5 exon/CDS/codon lines \(2 exon, 2 CDS, "
        r"1 stop_codon\) name no transcript.*cannot be grouped",
    ):
        open_genome_files(*jgi_gff(tmp_path)[:1], path, cache_dir=tmp_path / "cache")


def debian_pair(tmp_path):
    sequences = {"chr01": random_sequence(900, 5), "chr02": random_sequence(600, 6)}
    fasta = tmp_path / "Umaydis.fa"
    fasta.write_text(
        fasta_text({f"Umaydis:{name}:1:+:{len(sequence)}": sequence for name, sequence in sequences.items()})
    )
    gff = tmp_path / "Umaydis.gff3"
    gff.write_text(
        "##gff-version 3\n"
        "chr01\tdebian\tgene\t101\t400\t.\t+\t.\tID=um00001;Name=um00001\n"
        "chr01\tdebian\tmRNA\t101\t400\t.\t+\t.\tID=mRNA:um00001;Parent=um00001\n"
        "chr01\tdebian\tCDS\t101\t400\t.\t+\t0\tParent=mRNA:um00001\n"
        "chr02\tdebian\tgene\t51\t200\t.\t-\t.\tID=um00002;Name=um00002\n"
        "chr02\tdebian\tmRNA\t51\t200\t.\t-\t.\tID=mRNA:um00002;Parent=um00002\n"
        "chr02\tdebian\tCDS\t51\t200\t.\t-\t0\tParent=mRNA:um00002\n"
    )
    return fasta, gff, sequences


def test_debian_prefixed_headers_are_mapped_to_the_annotation_names(tmp_path):
    fasta, gff, sequences = debian_pair(tmp_path)
    hashes = {p: sha256(p) for p in (fasta, gff)}
    files = open_genome_files(fasta, gff, cache_dir=tmp_path / "cache")
    assert files.name_mapping.renames == {"chr01": "Umaydis:chr01:1:+:900", "chr02": "Umaydis:chr02:1:+:600"}
    assert files.annotation.transcripts["chrom"].tolist() == ["Umaydis:chr01:1:+:900", "Umaydis:chr02:1:+:600"]
    assert files.annotation.cds_sequence(files.genome, "mRNA:um00001") == sequences["chr01"][100:400]
    with pytest.raises(InputError, match="are not in the FASTA.*try aliases='auto'"):
        open_genome_files(fasta, gff, aliases=None, cache_dir=tmp_path / "cache")
    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("# annotation\tFASTA\nchr01\tUmaydis:chr01:1:+:900\nUmaydis:chr02:1:+:600\tchr02\n")
    by_file = open_genome_files(fasta, gff, aliases=aliases, cache_dir=tmp_path / "cache")
    assert by_file.name_mapping.renames == files.name_mapping.renames
    report = genome_report(fasta, gff, cache_dir=tmp_path / "cache")
    assert report.name_mapping["rule"].tolist() == ["FASTA ':'-field 2"] * 2
    text = format_report(report)
    assert "chr01 -> Umaydis:chr01:1:+:900   [FASTA ':'-field 2]" in text
    assert "Sequences:   2, 1,500 bp in total" in text and "Genes:       2" in text
    assert {p: sha256(p) for p in (fasta, gff)} == hashes


def test_bare_fasta_opens_with_an_empty_annotation(tmp_path):
    fasta = tmp_path / "bare.fa"
    fasta.write_text(fasta_text({"seq1": random_sequence(250, 7)}))
    files = open_genome_files(fasta, cache_dir=tmp_path / "cache")
    assert files.annotation.is_empty and files.annotation.transcripts.empty
    assert files.annotation.search("anything").empty
    totals = files.annotation.region_class_totals(files.genome.chrom_sizes).set_index("region_class")
    assert totals.loc["intergenic", "bases"] == 250 and totals["bases"].sum() == 250
    report = genome_report(fasta, cache_dir=tmp_path / "cache")
    assert (report.genes, report.transcripts, report.feature_counts, report.total_length) == (0, 0, {}, 250)
    assert "Annotation:  none" in format_report(report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.fa", "cache"]


def test_data_folder_files_are_told_apart_by_content_and_links_out_are_left_out(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    prokka, _ = prokka_gff3(folder)
    fasta, jgi = jgi_gff(folder)
    (folder / "assembly.fasta.fai").write_text("scaffold_1\t500\t12\t60\t61\n")
    (folder / "notes.txt").write_text("read me\n")
    outside = tmp_path / "secret.fa"
    outside.write_text(">s\nACGT\n")
    (folder / "link.fa").symlink_to(outside)
    found = find_genome_files(folder)
    assert [p.name for p in found["path"]] == [jgi.name, prokka.name, fasta.name]
    assert found["format"].tolist() == ["gff2", "gff3", "fasta"]
    assert found["sequences"].tolist() == [False, True, True]
    assert found["annotation"].tolist() == [True, True, False]


def test_other_compression_is_named(tmp_path):
    import bz2

    path = tmp_path / "genome.fa.bz2"
    path.write_bytes(bz2.compress(b">a\nACGT\n"))
    with pytest.raises(InputError, match=r"genome\.fa\.bz2 is compressed with bzip2.*bgzip"):
        open_genome_files(path, cache_dir=tmp_path / "cache")


def test_a_bad_base_in_a_gff3_fasta_section_is_named_by_its_line_in_the_gff3(tmp_path):
    path = tmp_path / "prokka.gff"
    path.write_text("##gff-version 3\nc1\tP\tCDS\t1\t9\t.\t+\t0\tID=x\n##FASTA\n>c1\nACGTACGT\nACGJ\n")
    with pytest.raises(InputError, match=r"prokka\.gff, line 6: characters 'J' are not nucleotides"):
        open_genome_files(path, cache_dir=tmp_path / "cache")
