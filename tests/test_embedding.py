"""Window embeddings: stratified sampling, BED input, strand and batch invariance, the k-mer
comparator, kNN separability, UMAP determinism, the on-disk cache and the ``embed`` command.

Facts checked: sampled windows lie inside one interval of their class and never overlap;
the embedding of a window equals that of its reverse complement (fwd/RC averaging); a
window's 4-mer spectrum counts both strands (AAAAA -> AAAA and TTTT, half each); kNN on
well-separated clusters scores 1.0 and on random labels about chance; um10944 spans
chr01:2,632-4,026, so a window 4 bp past its end has it as nearest gene.
Most model tests use a tiny randomly initialised GPN (hidden 32, 2 layers) to stay fast on
CPU; one test runs the bundled model on four windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from glm_core import cli, embedding
from glm_core.region_classes import REGION_CLASSES
from glm_core.embedding import forward as embedding_forward
from glm_core.errors import InputError
from glm_core.genome import Genome, fasta_text, reverse_complement
from glm_core.models import BUNDLED_MLM, load_masked_lm

ROOT = Path(__file__).resolve().parent.parent
BASES = np.array(list("ACGT"))


def write_fasta(path: Path, records: dict[str, str]) -> Genome:
    path.write_text(fasta_text(records))
    return Genome(path)


@pytest.fixture(scope="module")
def mirrored_genome(tmp_path_factory):
    """chrA: 3 kb of random DNA; chrB: its reverse complement; chrS: 300 bp, shorter than a context."""
    rng = np.random.default_rng(3)
    forward = "".join(BASES[rng.integers(0, 4, 3000)])
    short = "".join(BASES[rng.integers(0, 4, 300)])
    path = tmp_path_factory.mktemp("genome") / "mirrored.fa"
    return write_fasta(path, {"chrA": forward, "chrB": reverse_complement(forward), "chrS": short})


def mirrored(windows: pd.DataFrame, length: int) -> pd.DataFrame:
    """The same bases on the reverse-complement sequence: [s, e) -> [L - e, L - s) on chrB."""
    return pd.DataFrame({"chrom": "chrB", "start": length - windows["end"], "end": length - windows["start"]})


# --------------------------------------------------------------------------- sampling


@pytest.fixture(scope="module")
def sampled(embedded_annotation, embedded_genome):
    return embedding.sample_windows(embedded_annotation, embedded_genome.chrom_sizes, n_windows=1000, seed=1)


def test_sampled_windows_are_balanced_inside_their_class_and_disjoint(sampled, embedded_annotation, embedded_genome):
    # The embedded annotation has no UTRs and no non-coding transcripts: five classes, 200 each.
    assert sampled["region_class"].value_counts().to_dict() == {
        name: 200 for name in ("CDS", "intron", "promoter", "downstream", "intergenic")
    }
    assert sampled["inside"].all() and ((sampled["end"] - sampled["start"]) == 100).all()
    tiles = embedded_annotation.region_classes(embedded_genome.chrom_sizes)
    for chrom, group in sampled.groupby("chrom"):
        on = tiles[tiles["chrom"] == chrom]
        tile = np.searchsorted(on["end"].to_numpy(), group["start"].to_numpy(), side="right")
        assert (on["start"].to_numpy()[tile] <= group["start"].to_numpy()).all()
        assert (group["end"].to_numpy() <= on["end"].to_numpy()[tile]).all()
        assert (on["region_class"].astype(str).to_numpy()[tile] == group["region_class"].to_numpy()).all()
        ordered = group.sort_values("start")
        assert (ordered["start"].to_numpy()[1:] >= ordered["end"].to_numpy()[:-1]).all()


def test_sampling_is_deterministic_and_each_class_independent(sampled, embedded_annotation, embedded_genome):
    sizes = embedded_genome.chrom_sizes
    pd.testing.assert_frame_equal(sampled, embedding.sample_windows(embedded_annotation, sizes, 1000, seed=1))
    other_seed = embedding.sample_windows(embedded_annotation, sizes, 1000, seed=2)
    assert not sampled[["chrom", "start"]].equals(other_seed[["chrom", "start"]])
    # Asking for CDS alone, with the same number per class, gives the same CDS windows.
    cds_only = embedding.sample_windows(embedded_annotation, sizes, 200, classes=["CDS"], seed=1)
    pd.testing.assert_frame_equal(cds_only, sampled[sampled["region_class"] == "CDS"].reset_index(drop=True))


def test_short_classes_are_topped_up_with_centred_windows(embedded_annotation, embedded_genome):
    # Held-out introns hold too few whole 100-bp slots for 400 windows.
    windows = embedding.sample_windows(
        embedded_annotation,
        embedded_genome.chrom_sizes,
        2000,
        classes=["intron", "CDS"],
        chroms=["chr20", "chr21", "chr22", "chr23"],
    )
    introns = windows[windows["region_class"] == "intron"]
    assert windows["chrom"].isin(["chr20", "chr21", "chr22", "chr23"]).all()
    assert (windows["region_class"] == "CDS").sum() == 1000
    assert 0 < (~introns["inside"]).sum() and introns["inside"].sum() > 0 and len(introns) < 1000


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"classes": ["five_prime_UTR"]}, ValueError, "no five_prime_UTR bases"),
        ({"classes": ["exon"]}, ValueError, "unknown region classes \\['exon'\\]"),
        ({"n_windows": 3}, ValueError, "fewer than the 5 classes"),
        ({"chroms": ["chr99"]}, InputError, "chr99"),
    ],
)
def test_bad_sampling_requests_say_what_to_change(embedded_annotation, embedded_genome, kwargs, error, message):
    with pytest.raises(error, match=message):
        embedding.sample_windows(embedded_annotation, embedded_genome.chrom_sizes, **{"n_windows": 100, **kwargs})


def test_contexts_centre_windows_and_stay_on_the_chromosome(embedded_genome):
    # chr01 has 2,476,500 bp.
    windows = pd.DataFrame(
        {"chrom": ["chr01", "chr01", "chr01"], "start": [0, 5000, 2_476_400], "end": [100, 5100, 2_476_500]}
    )
    contexts = embedding.embedding_contexts(windows, embedded_genome.chrom_sizes, 512)
    assert contexts["context_start"].tolist() == [0, 4794, 2_475_988]
    assert (contexts["context_end"] - contexts["context_start"]).tolist() == [512, 512, 512]
    with pytest.raises(ValueError, match="window 2, chr01:5,001-5,600, is 600 bp, longer than the model's 512-bp"):
        embedding.embedding_contexts(windows.iloc[:2].assign(end=[100, 5600]), embedded_genome.chrom_sizes, 512)
    with pytest.raises(ValueError, match="window 3, .* whose valid range is 1-2,476,500"):
        embedding.embedding_contexts(windows.assign(end=windows["end"] + 1000), embedded_genome.chrom_sizes, 512)
    with pytest.raises(InputError, match="'chr99'"):
        embedding.embedding_contexts(windows.assign(chrom="chr99"), embedded_genome.chrom_sizes, 512)


# --------------------------------------------------------------------------- embeddings


MIRROR_WINDOWS = pd.DataFrame(
    {"chrom": "chrA", "start": [0, 40, 1000, 1450, 2900, 2500], "end": [100, 140, 1100, 1550, 3000, 2600]}
)


def test_embedding_shape_and_batch_size_invariance(tiny_gpn, mirrored_genome):
    windows = pd.concat(
        [MIRROR_WINDOWS, pd.DataFrame({"chrom": ["chrS"], "start": [100], "end": [200]})], ignore_index=True
    )
    seen = []
    one = embedding.window_embeddings(
        tiny_gpn, mirrored_genome, windows, batch_size=1, progress=lambda done, total: seen.append((done, total))
    )
    assert one.shape == (7, 32) and one.dtype == np.float32 and np.isfinite(one).all()
    assert seen[-1] == (7, 7) and len(seen) == 7
    for batch_size in (3, None):
        batched = embedding.window_embeddings(tiny_gpn, mirrored_genome, windows, batch_size=batch_size)
        np.testing.assert_allclose(batched, one, rtol=1e-5, atol=1e-6)
    # Distinct windows get distinct embeddings.
    assert np.abs(one[0] - one[2]).max() > 1e-3


def test_embedding_equals_that_of_the_reverse_complement(tiny_gpn, mirrored_genome):
    length = mirrored_genome.chrom_sizes["chrA"]
    forward = embedding.window_embeddings(tiny_gpn, mirrored_genome, MIRROR_WINDOWS)
    reverse = embedding.window_embeddings(tiny_gpn, mirrored_genome, mirrored(MIRROR_WINDOWS, length))
    np.testing.assert_allclose(reverse, forward, rtol=1e-4, atol=1e-5)
    # The random model is not strand-symmetric by itself: one strand alone differs.
    ids = torch.from_numpy(np.stack([tiny_gpn.encode(mirrored_genome.fetch("chrA", 1294, 1806))]))
    lo, hi = torch.tensor([156]), torch.tensor([256])
    one_strand, other_strand = embedding_forward._strand_means(tiny_gpn, ids, lo, hi)
    assert torch.abs(one_strand - other_strand).max() > 1e-3


def test_bundled_model_embeddings_are_strand_symmetric(tmp_path, embedded_genome):
    """The real 15 M-parameter model on four windows (about 5 s on two CPU cores)."""
    model = load_masked_lm(BUNDLED_MLM, device="cpu")
    segment = embedded_genome.fetch("chr01", 2000, 3200)  # the start of um10944 and its promoter
    genome = write_fasta(tmp_path / "segment.fa", {"chrA": segment, "chrB": reverse_complement(segment)})
    windows = pd.DataFrame({"chrom": "chrA", "start": [300, 700], "end": [400, 800]})
    both = embedding.window_embeddings(
        model, genome, pd.concat([windows, mirrored(windows, len(segment))], ignore_index=True)
    )
    assert both.shape == (4, 256)
    np.testing.assert_allclose(both[2:], both[:2], rtol=1e-3, atol=1e-4)


# --------------------------------------------------------------------------- comparator and metrics


def test_kmer_spectrum_counts_both_strands(tmp_path):
    genome = write_fasta(tmp_path / "k.fa", {"chrK": "AAAAACGTNACGTTT", "chrR": reverse_complement("AAAAACGTNACGTTT")})
    names = embedding.kmer_names(4)
    windows = pd.DataFrame({"chrom": ["chrK", "chrK", "chrK", "chrR"], "start": [0, 0, 7, 0], "end": [5, 15, 12, 15]})
    spectrum = embedding.kmer_spectrum(genome, windows, k=4)
    assert spectrum.shape == (4, 256) and names[:2] == ["AAAA", "AAAC"] and names[-1] == "TTTT"
    # AAAAA holds AAAA twice; its minus strand TTTT twice.
    assert spectrum[0, names.index("AAAA")] == spectrum[0, names.index("TTTT")] == 0.5
    # A window of only the N and 4 bases around it: no 4-mer without the N.
    assert spectrum[2].sum() == 0.0
    np.testing.assert_allclose(spectrum[1].sum(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(spectrum[1], spectrum[3])  # a sequence and its reverse complement


def clusters(n_per_class: int, n_classes: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, 16)) * 10
    labels = np.repeat([f"class{i}" for i in range(n_classes)], n_per_class)
    points = centres[np.repeat(np.arange(n_classes), n_per_class)] + rng.normal(size=(len(labels), 16)) * spread
    return points, labels


def test_knn_macro_f1_is_one_for_separated_clusters_and_chance_for_random_labels():
    points, labels = clusters(100, 4, spread=0.5)
    assert embedding.knn_macro_f1(points, labels) == 1.0
    groups = np.tile(np.arange(10), 40)
    assert embedding.knn_macro_f1(points, labels, groups=groups) == 1.0
    shuffled = np.random.default_rng(1).permutation(labels)
    scores = [embedding.knn_macro_f1(points, shuffled, seed=seed) for seed in range(5)]
    assert 0.1 < np.mean(scores) < 0.4  # chance: 1/4


@pytest.mark.parametrize(
    "labels, message",
    [(["a"] * 10, "at least two classes"), (["a"] * 9 + ["b"], "\\['b'\\] have a single window")],
)
def test_knn_refuses_what_it_cannot_score(labels, message):
    with pytest.raises(ValueError, match=message):
        embedding.knn_macro_f1(np.zeros((10, 3)), labels)


def test_umap_is_deterministic_for_a_seed_and_keeps_clusters_apart():
    points, labels = clusters(20, 3, spread=0.5)
    first = embedding.umap_projection(points, n_neighbors=10, seed=4)
    again = embedding.umap_projection(points, n_neighbors=10, seed=4)
    assert first.shape == (60, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert embedding.knn_macro_f1(first, labels, k=5) == 1.0
    with pytest.raises(ValueError, match="unknown UMAP metric 'hamming'"):
        embedding.umap_projection(points, metric="hamming")


def test_nearest_gene_names_the_closest_transcript(embedded_annotation):
    # um10944: chr01:2,632-4,026 (+); um10945 starts at chr01:4,217.
    windows = pd.DataFrame(
        {"chrom": ["chr01", "chr01", "chr01"], "start": [3000, 4030, 4100], "end": [3100, 4080, 4150]}, index=[7, 8, 9]
    )
    genes = embedding.nearest_gene(embedded_annotation, windows)
    assert genes.index.tolist() == [7, 8, 9]
    assert genes["nearest_gene"].tolist() == ["um10944", "um10944", "um10945"]
    assert genes["gene_distance"].tolist() == [0, 4, 66]


# --------------------------------------------------------------------------- cache and files


def test_cache_returns_the_same_embeddings_without_running_the_model(tiny_gpn, mirrored_genome, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    computed = embedding.cached_window_embeddings(tiny_gpn, mirrored_genome, MIRROR_WINDOWS, cache)
    assert len(list(cache.glob("*.parquet"))) == 1 and not list(cache.glob("*.part"))

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran although the embeddings were cached")

    monkeypatch.setattr(embedding, "window_embeddings", no_model)
    again = embedding.cached_window_embeddings(tiny_gpn, mirrored_genome, MIRROR_WINDOWS, cache)
    np.testing.assert_array_equal(again, computed)
    # Other windows, or rewritten weights, are other keys.
    key = embedding.embedding_cache_key(tiny_gpn, mirrored_genome, MIRROR_WINDOWS)
    assert embedding.embedding_cache_key(tiny_gpn, mirrored_genome, MIRROR_WINDOWS.iloc[1:]) != key
    assert embedding.cached_embeddings(tiny_gpn, mirrored_genome, MIRROR_WINDOWS.iloc[1:], cache) is None
    weights = next(Path(tiny_gpn.path).glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert embedding.embedding_cache_key(tiny_gpn, mirrored_genome, MIRROR_WINDOWS) != key
    finally:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_embedding_table_round_trips_through_parquet(tmp_path):
    windows = pd.DataFrame({"chrom": ["c1", "c2"], "start": [0, 10], "end": [5, 20], "region_class": ["CDS", "intron"]})
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    table = embedding.embedding_table(windows, vectors, projection=np.array([[1, 2], [3, 4]]))
    assert table.columns.tolist() == [*windows.columns, "umap_x", "umap_y", "emb_000", "emb_001", "emb_002"]
    path = tmp_path / "map.parquet"
    embedding.write_embedding_table(table, path, {"model": "tiny"})
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, table)
    np.testing.assert_array_equal(embedding.embedding_matrix(back), vectors)
    notes = pq.read_schema(path).metadata[b"glm_explorer"].decode()
    assert "0-based half-open" in notes and '"model": "tiny"' in notes


def test_core_never_imports_streamlit():
    code = "import sys, glm_core.embedding; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --------------------------------------------------------------------------- command line


def test_embed_command_writes_the_bed_windows_embeddings(tiny_gpn, mirrored_genome, tmp_path, capsys):
    bed = tmp_path / "w.bed"
    bed.write_text("chrA\t0\t100\tedge\nchrA\t1000\t1100\tmiddle\nchrB\t2900\t3000\tedge\n")
    out = tmp_path / "emb.parquet"
    status = cli.main(
        [
            "embed",
            "--bed",
            str(bed),
            "--fasta",
            str(mirrored_genome.path),
            "--model",
            str(tiny_gpn.path),
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    table = pd.read_parquet(out)
    assert table[["chrom", "start", "end", "region_class"]].equals(embedding.windows_from_bed(bed))
    expected = embedding.window_embeddings(tiny_gpn, mirrored_genome, embedding.windows_from_bed(bed))
    np.testing.assert_allclose(embedding.embedding_matrix(table), expected, rtol=1e-5, atol=1e-6)
    # chrB:2900-3000 is the reverse complement of chrA:0-100.
    np.testing.assert_allclose(embedding.embedding_matrix(table)[2], expected[0], rtol=1e-4, atol=1e-5)
    assert "umap_x" not in table.columns and "wrote 3 windows" in capsys.readouterr().out


def test_embed_command_samples_by_class_and_adds_umap(tmp_path, capsys, tiny_gpn_dir):
    model = tiny_gpn_dir
    out = tmp_path / "sampled.parquet"
    status = cli.main(
        [
            "embed",
            "--sample",
            "25",
            "--window-length",
            "50",
            "--model",
            str(model),
            "--device",
            "cpu",
            "--umap",
            "--n-neighbors",
            "5",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    table = pd.read_parquet(out)
    assert len(table) == 25 and table["region_class"].value_counts().tolist() == [5] * 5
    assert {"umap_x", "umap_y", "nearest_gene"} <= set(table.columns) and table["umap_x"].notna().all()
    assert set(table["region_class"]) <= set(REGION_CLASSES)


def test_embed_command_reports_bad_input_in_one_line(tmp_path, capsys):
    bed = tmp_path / "bad.bed"
    bed.write_text("chr01\t100\t50\tx\n")
    assert cli.main(["embed", "--bed", str(bed), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "line 1: BED intervals need 0 <= start < end" in capsys.readouterr().err


def test_classes_below_the_minimum_are_named_with_their_counts():
    from glm_core.embedding import MIN_WINDOWS_PER_CLASS, classes_too_small

    labels = ["CDS"] * 12 + ["intron"] * 9 + ["promoter"] * 10
    assert MIN_WINDOWS_PER_CLASS == 10
    assert classes_too_small(labels) == {"intron": 9}
    assert classes_too_small(labels, minimum=13) == {"CDS": 12, "intron": 9, "promoter": 10}
