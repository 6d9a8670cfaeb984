"""Evaluate a promoter generator against its independent k-mer oracle and real promoters.

    .venv/bin/python bench/eval_generator.py --n 200 --out runs/eval_generator.json

For every tag of the generator's family, sample ``--n`` designs (250 bp by default) and report:

* control: oracle scores (log P(HIGH) - log P(LOW)) of designs per requested tag beside real
  held-out promoters (chr20-chr23) of each tag; the bar is a generated HIGH-LOW gap of at
  least 70 % of the real held-out HIGH-LOW gap;
* novelty: the fraction of designs sharing a >= 50-mer with any training promoter (bar < 5 %),
  identity to the nearest training promoter and among designs of the same tag (ungapped,
  aligned at the TSS);
* realism: GC, the Jensen-Shannon distance of 4-mer spectra to real held-out promoters (with
  training vs held-out real promoters as the reference level), and the 5-mers most enriched
  in real training HIGH vs LOW promoters with their enrichment in designed HIGH vs LOW.

The masked-gLM pseudo-log-likelihood comparison is not computed here (too slow on a CPU).
Prints JSON; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glm_core.annotation import Annotation  # noqa: E402
from glm_core.generation import (BUNDLED_GENERATOR, GeneratorTrainingConfig, gc_fraction,  # noqa: E402
                                 generate_promoters, load_generator, nearest_identity, shares_kmer,
                                 tagged_promoters)
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome  # noqa: E402
from glm_core.oracle import KmerOracle, kmer_frequencies  # noqa: E402


def spectrum(sequences, k: int) -> np.ndarray:
    """Pooled k-mer distribution of many sequences (mean of per-sequence frequencies)."""
    return kmer_frequencies(list(sequences), ks=(k,)).mean(axis=0)


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two distributions."""
    m = (p + q) / 2

    def kl(a, b):
        keep = a > 0
        return float((a[keep] * np.log2(a[keep] / b[keep])).sum())

    return float(np.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2)))


def log2_enrichment(high, low, k: int = 5, pseudocount: float = 1e-4) -> np.ndarray:
    return np.log2((spectrum(high, k) + pseudocount) / (spectrum(low, k) + pseudocount))


def summary(values: np.ndarray) -> dict:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values)), "q10": float(np.quantile(values, 0.1)),
            "median": float(np.median(values)), "q90": float(np.quantile(values, 0.9)), "n": int(len(values))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_GENERATOR)
    parser.add_argument("--n", type=int, default=200, help="designs per tag")
    parser.add_argument("--length", type=int, default=250)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    parser.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    started = time.time()
    generator = load_generator(args.model, device=args.device)
    oracle = KmerOracle.load(args.model)
    trained = json.loads((args.model / "training_config.json").read_text())
    config = GeneratorTrainingConfig(**{**trained, "held_out_chroms": tuple(trained["held_out_chroms"])})
    config.fasta, config.annotation = str(args.fasta), str(args.annotation)
    promoters = tagged_promoters(config, Genome(args.fasta), Annotation.from_file(args.annotation))
    family, labels = oracle.family, oracle.labels
    train = promoters[~promoters["held_out"]]
    heldout = promoters[promoters["held_out"]]
    real = {label: heldout.loc[heldout[family] == label, "sequence"].tolist() for label in labels}
    real_train = {label: train.loc[train[family] == label, "sequence"].tolist() for label in labels}

    designs, sampling_s = {}, 0.0
    for label in labels:
        tag = label if family == "CAI" else f"{family}={label}"
        began = time.time()
        designs[label] = generate_promoters(generator, [tag], n=args.n, length=args.length,
                                            temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                                            batch_size=args.batch_size)["sequence"].tolist()
        sampling_s += time.time() - began
        print(f"sampled {args.n} x {label} in {time.time() - began:.1f} s", file=sys.stderr)

    top, bottom = labels[-1], labels[0]
    report = {"model": str(args.model), "n_per_tag": args.n, "length": args.length, "temperature": args.temperature,
              "top_p": args.top_p, "seed": args.seed, "device": str(generator.device),
              "oracle_heldout_auroc": oracle.metrics.get("heldout_auroc"), "sampling_s": sampling_s}
    scores = {label: oracle.score(designs[label]) for label in labels}
    real_scores = {label: oracle.score(real[label]) for label in labels}
    report["oracle_score"] = {"designed": {label: summary(scores[label]) for label in labels},
                              "real_heldout": {label: summary(real_scores[label]) for label in labels}}
    generated_gap = float(scores[top].mean() - scores[bottom].mean())
    real_gap = float(real_scores[top].mean() - real_scores[bottom].mean())
    report["control"] = {"generated_gap": generated_gap, "real_heldout_gap": real_gap,
                         "ratio": generated_gap / real_gap if real_gap else float("nan"),
                         "bar": 0.7, "met": bool(real_gap and generated_gap / real_gap >= 0.7)}

    training_sequences = train["sequence"].tolist()
    everything = [s for label in labels for s in designs[label]]
    shared = shares_kmer(everything, training_sequences, k=50)
    _, nearest = nearest_identity(everything, training_sequences)
    within = np.concatenate([nearest_identity(designs[label], designs[label])[1] for label in labels])
    # reference level: real held-out promoters against training promoters
    _, real_nearest = nearest_identity(heldout["sequence"].tolist(), training_sequences)
    report["novelty"] = {"fraction_sharing_50mer": float(shared.mean()), "bar": 0.05, "met": bool(shared.mean() < 0.05),
                         "nearest_training_identity": summary(nearest),
                         "real_heldout_nearest_training_identity": summary(real_nearest),
                         "nearest_design_identity_same_tag": summary(within)}

    heldout_all = heldout["sequence"].tolist()
    report["realism"] = {
        "gc": {"designed": {label: float(gc_fraction(designs[label]).mean()) for label in labels},
               "real_heldout": {label: float(gc_fraction(real[label]).mean()) for label in labels}},
        "kmer4_js_distance_to_real_heldout": {
            "designed": js_distance(spectrum(everything, 4), spectrum(heldout_all, 4)),
            "real_training": js_distance(spectrum(training_sequences, 4), spectrum(heldout_all, 4)),
            **{f"designed_{label}_vs_real_{label}": js_distance(spectrum(designs[label], 4), spectrum(real[label], 4))
               for label in labels},
        },
    }
    from glm_core.oracle import kmer_names

    names = np.array(kmer_names((5,)))
    real_enrichment = log2_enrichment(real_train[top], real_train[bottom])
    designed_enrichment = log2_enrichment(designs[top], designs[bottom])
    heldout_enrichment = log2_enrichment(real[top], real[bottom])
    order = np.argsort(real_enrichment)[::-1][:10]
    report["realism"]["top_5mers_real_training_high_vs_low"] = [
        {"kmer": str(names[i]), "log2_real_training": float(real_enrichment[i]),
         "log2_real_heldout": float(heldout_enrichment[i]), "log2_designed": float(designed_enrichment[i])}
        for i in order]
    report["realism"]["5mer_enrichment_pearson"] = {
        "designed_vs_real_training": float(np.corrcoef(real_enrichment, designed_enrichment)[0, 1]),
        "real_heldout_vs_real_training": float(np.corrcoef(real_enrichment, heldout_enrichment)[0, 1]),
    }
    report["masked_glm_pll"] = "not computed (CPU run); see the model card"
    report["wall_s"] = time.time() - started
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
