"""score-genome: chunks and resume, two processes under torchrun, the tabix SNV table, tracks and hub."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toy_models import NeighbourModel

from glm_core.genome import Genome
from glm_core.genome_hub import MANIFEST, TRACKS, precomputed_scores
from glm_core.genome_scores import GenomeScoreSettings, genome_sha256, plan_chunks, score_genome

DATA = Path(__file__).parent / "data"
COMPARED = [
    "snvs.tsv.gz",
    "snvs.tsv.gz.tbi",
    *[f"{name}.bw" for name in TRACKS],
    "calibration.tsv",
    "llr_background.npz",
    "trackDb.txt",
    "hub.txt",
    "genomes.txt",
    "genome.2bit",
]


class Interrupting(NeighbourModel):
    """The neighbour model, stopping the run (as Ctrl-C would) at its ``stop_at``-th call."""

    def __init__(self, stop_at=None):
        self.calls = 0
        self.stop_at = stop_at

    def sequence_site_probabilities(self, sequence, positions, **kwargs):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().sequence_site_probabilities(sequence, positions, **kwargs)


@pytest.fixture
def genome_copy(tmp_path):
    shutil.copy(DATA / "tiny.fa", tmp_path / "tiny.fa")
    return Genome(tmp_path / "tiny.fa")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in COMPARED}


def test_chunks_cover_the_regions_once_in_genome_order():
    import pandas as pd

    sizes = {"chrT": 420, "chrU": 50}
    regions = pd.DataFrame({"chrom": ["chrU", "chrT", "chrT"], "start": [10, 100, 150], "end": [20, 200, 260]})
    chunks = plan_chunks(sizes, regions, 60)
    assert chunks.values.tolist() == [["chrT", 100, 160], ["chrT", 160, 220], ["chrT", 220, 260], ["chrU", 10, 20]]
    assert (plan_chunks(sizes, None, 1000)["end"] - plan_chunks(sizes, None, 1000)["start"]).sum() == 470


def test_interrupted_run_resumes_without_redoing_chunks_and_matches_a_clean_run(tmp_path, genome_copy, tiny_annotation):
    settings = GenomeScoreSettings(chunk_size=100)
    clean = tmp_path / "clean"
    score_genome(NeighbourModel(), genome_copy, tiny_annotation, clean, settings=settings)

    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        score_genome(Interrupting(stop_at=3), genome_copy, tiny_annotation, resumed, settings=settings)
    # nothing looks finished: no manifest, no SNV table, only whole chunks in the job folder
    assert not (resumed / MANIFEST).exists() and not (resumed / "snvs.tsv.gz").exists()
    saved = sorted(p.name for p in (resumed / ".manifest.json.job").glob("chunk-p*.npy"))
    assert saved == ["chunk-p0.npy", "chunk-p1.npy"]

    rerun = Interrupting()
    manifest = score_genome(rerun, genome_copy, tiny_annotation, resumed, settings=settings)
    assert rerun.calls == 4  # 6 chunks, 2 already done
    assert _bytes(resumed) == _bytes(clean)
    assert manifest["n_snvs"] == 3 * 470 and not (resumed / ".manifest.json.job").exists()
    assert json.loads((resumed / MANIFEST).read_text())["genome_sha256"] == genome_sha256(genome_copy)


def test_snv_table_round_trips_through_tabix_with_exact_llrs(tmp_path, genome_copy, tiny_annotation):
    import pysam

    score_genome(
        NeighbourModel(), genome_copy, tiny_annotation, tmp_path / "out", settings=GenomeScoreSettings(chunk_size=150)
    )
    sequence = genome_copy.fetch("chrT", 0, 420)
    with pysam.TabixFile(str(tmp_path / "out" / "snvs.tsv.gz")) as table:
        assert table.header[0].split("\t") == ["#chrom", "pos", "ref", "alt", "llr", "cllr", "consequence", "gene"]
        rows = [line.split("\t") for line in table.fetch("chrT", 99, 100)]  # 1-based position 100
    assert [row[1] for row in rows] == ["100"] * 3
    ref, left, right = sequence[99], sequence[98], sequence[100]
    assert {row[2] for row in rows} == {ref} and sorted(row[3] for row in rows) == sorted(set("ACGT") - {ref})
    expected_p = {base: 0.1 + 0.3 * (base == left) + 0.3 * (base == right) for base in "ACGT"}
    for row in rows:
        assert float(row[4]) == pytest.approx(np.log(expected_p[row[3]] / expected_p[ref]), abs=1e-4)
        assert row[6] != "" and row[7] == "alpha1"  # inside geneA


def test_bigwigs_hold_the_probabilities_and_the_hub_has_its_stanzas(tmp_path, genome_copy, tiny_annotation):
    import pyBigWig

    out = tmp_path / "out"
    score_genome(NeighbourModel(), genome_copy, tiny_annotation, out, settings=GenomeScoreSettings(chunk_size=100))
    expected = NeighbourModel().sequence_site_probabilities(genome_copy.fetch("chrU", 0, 50), np.arange(50))
    for column, name in enumerate(["pA", "pC", "pG", "pT"]):
        handle = pyBigWig.open(str(out / f"{name}.bw"))
        assert handle.chroms() == {"chrT": 420, "chrU": 50}
        np.testing.assert_allclose(handle.values("chrU", 0, 50), expected[:, column], rtol=1e-6)
        handle.close()
    ic = pyBigWig.open(str(out / "ic.bw"))
    p = expected[0]
    assert ic.values("chrU", 0, 1)[0] == pytest.approx(2 + (p * np.log2(p)).sum(), rel=1e-5)
    ic.close()
    track_db = (out / "trackDb.txt").read_text()
    assert "container multiWig" in track_db and "aggregate stacked" in track_db
    for name, colour in [("pA", "16,150,72"), ("pC", "37,92,153"), ("pG", "247,179,43"), ("pT", "214,40,57")]:
        assert f"    track {name}\n    parent logo\n    bigDataUrl {name}.bw" in track_db
        assert f"color {colour}" in track_db
    assert "genomesFile genomes.txt" in (out / "hub.txt").read_text()
    # An assembly hub stanza: the tiny genome's first gene, alpha1, is chrT:41-160 (+- 200 bp, inside chrT)
    assert (out / "genomes.txt").read_text() == (
        "genome tiny\ntrackDb trackDb.txt\ntwoBitPath genome.2bit\norganism tiny\nscientificName tiny\n"
        "description tiny.fa (FASTA given to glm-explore score-genome)\ndefaultPos chrT:1-360\n"
    )
    session = (out / "igv_session.xml").read_text()
    assert '<Resource path="pA.bw"/>' in session and '<Session genome="genome.2bit" locus="chrT:1-360"' in session


def test_the_folder_holds_the_genome_as_2bit_and_a_finished_rerun_leaves_it(tmp_path, genome_copy, tiny_annotation):
    twobitreader = pytest.importorskip("twobitreader")
    out = tmp_path / "out"
    settings = GenomeScoreSettings(chunk_size=100)
    manifest = score_genome(NeighbourModel(), genome_copy, tiny_annotation, out, settings=settings)
    assert "genome.2bit" in manifest["files"] and "twobit_s" in manifest["steps"]
    with twobitreader.TwoBitFile(str(out / "genome.2bit")) as handle:
        assert {name: str(handle[name]) for name in handle.sequence_sizes()} == {
            name: genome_copy.fetch(name, 0, size) for name, size in genome_copy.chrom_sizes.items()
        }
    stamp = (out / "genome.2bit").stat().st_mtime_ns
    score_genome(NeighbourModel(), genome_copy, tiny_annotation, out, settings=settings)
    assert (out / "genome.2bit").stat().st_mtime_ns == stamp


def test_precomputed_scores_are_found_only_for_the_same_genome_and_weights(tmp_path, genome_copy, tiny_annotation):
    out = tmp_path / "data" / "scores"
    model = NeighbourModel()
    score_genome(model, genome_copy, tiny_annotation, out, settings=GenomeScoreSettings())
    found = precomputed_scores(tmp_path / "data", genome_copy, model)
    assert found is not None and found.folder == out
    assert len(found.snvs("chrT", 40, 42)) == 6
    expected = model.sequence_site_probabilities(genome_copy.fetch("chrT", 0, 420), np.arange(10, 20))
    np.testing.assert_allclose(found.probabilities("chrT", 10, 20), expected, rtol=1e-6)
    other = tmp_path / "other.fa"
    other.write_text(">chrT\n" + "ACGT" * 105 + "\n>chrU\n" + "A" * 50 + "\n")
    assert precomputed_scores(tmp_path / "data", Genome(other), model) is None


def score_genome_command(tmp_path: Path, model_dir: Path, chunk_size: int) -> tuple[list[str], dict]:
    """``-m glm_core.cli score-genome`` arguments (all but ``--out-dir``) on a copy of the tiny
    genome in ``tmp_path``, and the environment to run them in (one thread, offline)."""
    shutil.copy(DATA / "tiny.fa", tmp_path / "tiny.fa")
    arguments = ["-m", "glm_core.cli", "score-genome", "--fasta", str(tmp_path / "tiny.fa")]
    arguments += ["--annotation", str(DATA / "tiny.gff3"), "--model", str(model_dir)]
    arguments += ["--chunk-size", str(chunk_size), "--device", "cpu"]
    return arguments, {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def test_two_processes_under_torchrun_write_what_one_process_writes(tmp_path, tiny_gpn_dir):
    common, environment = score_genome_command(tmp_path, tiny_gpn_dir, chunk_size=80)
    one = subprocess.run(
        [sys.executable, *common, "--out-dir", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            *common,
            "--out-dir",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("wrote ") == 1  # rank 0 reports
    assert json.loads((tmp_path / "two" / MANIFEST).read_text())["processes"] == 2
    assert _bytes(tmp_path / "two") == _bytes(tmp_path / "one")


def test_sigkill_mid_run_leaves_nothing_finished_and_a_rerun_matches_a_clean_run(tmp_path, tiny_gpn_dir):
    import signal
    import time

    arguments, environment = score_genome_command(tmp_path, tiny_gpn_dir, chunk_size=20)
    common = [sys.executable, *arguments]
    clean = subprocess.run(
        [*common, "--out-dir", str(tmp_path / "clean")], capture_output=True, text=True, env=environment, timeout=300
    )
    assert clean.returncode == 0, clean.stderr[-2000:]

    out = tmp_path / "killed"
    process = subprocess.Popen(
        [*common, "--out-dir", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
    )
    marker = out / ".manifest.json.job" / "chunk-p3.npy"
    deadline = time.monotonic() + 240
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert marker.exists()
    assert not (out / MANIFEST).exists() and not (out / "snvs.tsv.gz").exists()
    saved = sorted((out / ".manifest.json.job").glob("chunk-p*.npy"))
    assert 4 <= len(saved) < 24  # 470 bases in chunks of 20: 24 chunks

    rerun = subprocess.run(
        [*common, "--out-dir", str(out)], capture_output=True, text=True, env=environment, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming: " in rerun.stderr and " of 24 chunks of this process already saved" in rerun.stderr
    assert _bytes(out) == _bytes(tmp_path / "clean")
    again = subprocess.run(
        [*common, "--out-dir", str(out)], capture_output=True, text=True, env=environment, timeout=300
    )
    assert again.returncode == 0 and "nothing to do" in again.stderr
