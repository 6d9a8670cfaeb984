"""Do gLM window embeddings know the region class? kNN macro-F1 against 4-mer spectra.

Samples windows (default 2,000, the same number per region class, non-overlapping) on the
embedded genome, embeds them with a masked LM (default: the bundled GPN, on the GPU when
there is one) exactly as the app's embedding page does, and scores a 15-nearest-neighbour
classifier of the region class on held-out windows, with standardised features, for:

* ``glm``: the gLM embedding (mean last hidden layer over the window, fwd/RC averaged);
* ``kmer4_window``: the window's 4-mer spectrum (both strands), the page's comparator;
* ``kmer4_context``: the 4-mer spectrum of the whole stretch the gLM sees (its context,
  512 bp), to tell the model's knowledge from the plain composition of a larger stretch;
* ``glm_shuffled_labels``: the gLM embedding with the labels permuted (chance level).

Two splits:

* ``random``: a stratified 30 % of windows held out, repeated over ``--splits`` seeds.
  Neighbouring windows share context, which can flatter the context-reading gLM.
* ``by_chromosome``: whole chromosomes held out (stratified group k-fold, about 1/3 of the
  windows), so no held-out window shares sequence with a training window.

Usage::

    python -m bench.eval_embeddings --out runs/embeddings.json            # GPU: under a minute
    python -m bench.eval_embeddings --n-windows 60 --out /tmp/smoke.json  # CPU smoke check, about a minute
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from glm_core import embedding
from glm_core.annotation import Annotation
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM, load_masked_lm


def scores(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int, splits: int) -> dict:
    """Macro-F1 over ``splits`` random stratified splits (mean, sd, values) and the chromosome split."""
    values = [embedding.knn_macro_f1(features, labels, k=k, seed=seed) for seed in range(splits)]
    result = {"random_mean": float(np.mean(values)), "random_sd": float(np.std(values)), "random": values}
    try:
        result["by_chromosome"] = embedding.knn_macro_f1(features, labels, k=k, groups=groups)
    except ValueError as error:
        result["by_chromosome"] = None
        result["by_chromosome_error"] = str(error)
    return result


def main(argv: list[str] | None = None) -> int:
    """The benchmark as one script: its measurements run in order and read top to bottom, so
    they stay in one function rather than being split across helpers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM, help="save_pretrained folder (default: bundled)")
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    parser.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    parser.add_argument("--n-windows", type=int, default=2000)
    parser.add_argument("--window-length", type=int, default=100)
    parser.add_argument("--classes", nargs="+", default=None, help="region classes (default: all present)")
    parser.add_argument("--chroms", nargs="+", default=None, help="sample only on these sequences (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--k", type=int, default=15, help="neighbours of the kNN classifier")
    parser.add_argument("--splits", type=int, default=5, help="random splits to average")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: the best available)")
    parser.add_argument("--save-embeddings", type=Path, default=None, help="also write the windows table (parquet)")
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    genome = Genome(args.fasta)
    annotation = Annotation.from_file(args.annotation)
    windows = embedding.sample_windows(
        annotation, genome.chrom_sizes, args.n_windows, args.window_length, args.classes, args.seed, chroms=args.chroms
    )
    labels = windows["region_class"].to_numpy()
    groups = windows["chrom"].to_numpy()
    model = load_masked_lm(args.model, device=args.device)
    device_name = str(model.device)
    if model.device.type == "cuda":
        import torch

        device_name = f"{model.device} ({torch.cuda.get_device_name(model.device)})"
    print(
        f"{len(windows):,} windows of {args.window_length} bp "
        f"({', '.join(f'{name} {count}' for name, count in windows['region_class'].value_counts().items())}) "
        f"on {windows['chrom'].nunique()} sequences; {model.name} on {device_name}",
        flush=True,
    )

    began = time.perf_counter()
    vectors = embedding.window_embeddings(model, genome, windows, batch_size=args.batch_size)  # ends on the CPU
    embed_seconds = time.perf_counter() - began
    contexts = embedding.embedding_contexts(windows, genome.chrom_sizes, model.context)
    context_windows = contexts[["chrom", "context_start", "context_end"]].set_axis(["chrom", "start", "end"], axis=1)
    representations = {
        "glm": vectors,
        "kmer4_window": embedding.kmer_spectrum(genome, windows, k=4),
        "kmer4_context": embedding.kmer_spectrum(genome, context_windows, k=4),
    }
    results = {
        name: scores(features, labels, groups, args.k, args.splits) for name, features in representations.items()
    }
    shuffled = np.random.default_rng(args.seed).permutation(labels)
    results["glm_shuffled_labels"] = scores(vectors, shuffled, groups, args.k, args.splits)

    print(f"embedded in {embed_seconds:.1f} s ({len(windows) / embed_seconds:,.1f} windows/s)")
    print(f"{'representation':<22} {'random split (mean ± sd)':>26} {'by chromosome':>14}")
    for name, result in results.items():
        by_chrom = "n/a" if result["by_chromosome"] is None else f"{result['by_chromosome']:.3f}"
        print(f"{name:<22} {result['random_mean']:>18.3f} ± {result['random_sd']:.3f} {by_chrom:>14}")

    report = {
        "model": str(args.model),
        "fasta": str(args.fasta),
        "device": device_name,
        "n_windows": int(len(windows)),
        "windows_per_class": {str(k): int(v) for k, v in windows["region_class"].value_counts().items()},
        "windows_fully_inside_class": int(windows["inside"].sum()),
        "window_length": args.window_length,
        "context": model.context,
        "hidden_size": int(vectors.shape[1]),
        "seed": args.seed,
        "k": args.k,
        "test_fraction": 0.3,
        "splits": args.splits,
        "chance_macro_f1_approx": 1 / windows["region_class"].nunique(),
        "embed_seconds": round(embed_seconds, 2),
        "macro_f1": results,
        "python": platform.python_version(),
    }
    if args.save_embeddings:
        args.save_embeddings.parent.mkdir(parents=True, exist_ok=True)
        table = embedding.embedding_table(windows, vectors, genes=embedding.nearest_gene(annotation, windows))
        embedding.write_embedding_table(table, args.save_embeddings, {"model": str(args.model)})
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
