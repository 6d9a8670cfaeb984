"""Evaluate a promoter generator against its independent k-mer oracle and real promoters.

    .venv/bin/python -m bench.eval_generator --n 200 --guidance 1 2 3 --out runs/eval_generator.json
    .venv/bin/python -m bench.eval_generator --n 200 --guidance 1 3 --pll 30 --device cuda   # + masked-gLM check

For every guidance scale in ``--guidance`` (classifier-free tag guidance, 1 = off) and every tag
of the generator's family, sample ``--n`` designs (250 bp by default) and report:

* control: oracle scores (log P(HIGH) - log P(LOW)) of designs per requested tag beside real
  held-out promoters (chr20-chr23) of each tag; the bar is a generated HIGH-LOW gap of at
  least 70 % of the real held-out HIGH-LOW gap;
* novelty: the fraction of designs sharing a >= 50-mer with any training promoter (bar < 5 %),
  identity to the nearest training promoter and among designs of the same tag (ungapped,
  aligned at the TSS), per tag and over all tags;
* realism: GC, the Jensen-Shannon distance of 4-mer spectra to real held-out promoters (with
  training vs held-out real promoters as the reference level), and the 5-mers most enriched
  in real training HIGH vs LOW promoters with their enrichment in designed HIGH vs LOW.

``--pll N`` adds the masked-gLM pseudo-log-likelihood (mean log2 P(base | rest), every position
masked in turn, forward and reverse-complement averaged; bundled GPN by default) of N designs
per tag and guidance scale, N real held-out promoters per tag and their dinucleotide-shuffled
copies. It runs two 512-bp windows per position: seconds on a GPU, about 100 s per 250-bp
sequence on 2 CPU cores (``--pll-positions`` scores a random subset of positions instead).

Prints a table; the JSON report goes to ``--out`` (and to stdout when there is no ``--out``).
Each entry of ``runs`` has the layout of the single-run report of earlier versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from glm_core.annotation import Annotation
from glm_core.generation import (
    BUNDLED_GENERATOR,
    GeneratorTrainingConfig,
    gc_fraction,
    generate_promoters,
    load_generator,
    nearest_identity,
    recommended_guidance,
    shares_kmer,
    tagged_promoters,
    unconditional_training_fraction,
)
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM
from glm_core.oracle import KmerOracle, kmer_frequencies, kmer_names
from glm_core.pseudo_likelihood import sequence_pseudo_log_likelihood
from glm_core.shuffle import dinucleotide_shuffle

CONTROL_BAR = 0.7
NOVELTY_BAR = 0.05


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
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(np.mean(values)),
        "sd": float(np.std(values)),
        "q10": float(np.quantile(values, 0.1)),
        "median": float(np.median(values)),
        "q90": float(np.quantile(values, 0.9)),
        "n": int(len(values)),
    }


class Reference:
    """Everything about the real promoters that every guidance scale is compared with, computed once."""

    def __init__(self, promoters, oracle: KmerOracle):
        family, self.labels = oracle.family, oracle.labels
        self.top, self.bottom = self.labels[-1], self.labels[0]
        train = promoters[~promoters["held_out"]]
        self.heldout = promoters[promoters["held_out"]]
        self.training_sequences = train["sequence"].tolist()
        self.heldout_sequences = self.heldout["sequence"].tolist()
        self.real = {
            label: self.heldout.loc[self.heldout[family] == label, "sequence"].tolist() for label in self.labels
        }
        real_train = {label: train.loc[train[family] == label, "sequence"].tolist() for label in self.labels}
        self.scores = {label: oracle.score(self.real[label]) for label in self.labels}
        self.gap = float(self.scores[self.top].mean() - self.scores[self.bottom].mean())
        self.spectrum4 = spectrum(self.heldout_sequences, 4)
        self.spectrum4_by_label = {label: spectrum(self.real[label], 4) for label in self.labels}
        self.training_js = js_distance(spectrum(self.training_sequences, 4), self.spectrum4)
        self.gc = {label: float(gc_fraction(self.real[label]).mean()) for label in self.labels}
        _, self.nearest_training = nearest_identity(self.heldout_sequences, self.training_sequences)
        self.enrichment_training = log2_enrichment(real_train[self.top], real_train[self.bottom])
        self.enrichment_heldout = log2_enrichment(self.real[self.top], self.real[self.bottom])


def evaluate_designs(designs: dict, reference: Reference, oracle: KmerOracle) -> dict:
    """The control, novelty and realism report of one set of designs ({label: sequences})."""
    labels, top, bottom = reference.labels, reference.top, reference.bottom
    scores = {label: oracle.score(designs[label]) for label in labels}
    report = {
        "oracle_score": {
            "designed": {label: summary(scores[label]) for label in labels},
            "real_heldout": {label: summary(reference.scores[label]) for label in labels},
        }
    }
    generated_gap = float(scores[top].mean() - scores[bottom].mean())
    ratio = generated_gap / reference.gap if reference.gap else float("nan")
    report["control"] = {
        "generated_gap": generated_gap,
        "real_heldout_gap": reference.gap,
        "ratio": ratio,
        "bar": CONTROL_BAR,
        "met": bool(reference.gap and ratio >= CONTROL_BAR),
    }

    everything = [s for label in labels for s in designs[label]]
    shared, nearest, within, per_tag = {}, {}, {}, {}
    for label in labels:
        shared[label] = shares_kmer(designs[label], reference.training_sequences, k=50)
        _, nearest[label] = nearest_identity(designs[label], reference.training_sequences)
        _, within[label] = nearest_identity(designs[label], designs[label])
        per_tag[label] = {
            "fraction_sharing_50mer": float(shared[label].mean()),
            "nearest_training_identity": summary(nearest[label]),
            "nearest_design_identity_same_tag": summary(within[label]),
        }
    shared_all = float(np.concatenate(list(shared.values())).mean())
    report["novelty"] = {
        "fraction_sharing_50mer": shared_all,
        "bar": NOVELTY_BAR,
        "met": bool(shared_all < NOVELTY_BAR),
        "nearest_training_identity": summary(np.concatenate(list(nearest.values()))),
        "real_heldout_nearest_training_identity": summary(reference.nearest_training),
        "nearest_design_identity_same_tag": summary(np.concatenate(list(within.values()))),
        "per_tag": per_tag,
    }

    report["realism"] = {
        "gc": {
            "designed": {label: float(gc_fraction(designs[label]).mean()) for label in labels},
            "real_heldout": reference.gc,
        },
        "kmer4_js_distance_to_real_heldout": {
            "designed": js_distance(spectrum(everything, 4), reference.spectrum4),
            "real_training": reference.training_js,
            **{
                f"designed_{label}_vs_real_{label}": js_distance(
                    spectrum(designs[label], 4), reference.spectrum4_by_label[label]
                )
                for label in labels
            },
        },
    }
    names = np.array(kmer_names((5,)))
    designed_enrichment = log2_enrichment(designs[top], designs[bottom])
    order = np.argsort(reference.enrichment_training)[::-1][:10]
    report["realism"][f"top_5mers_real_training_{top.lower()}_vs_{bottom.lower()}"] = [
        {
            "kmer": str(names[i]),
            "log2_real_training": float(reference.enrichment_training[i]),
            "log2_real_heldout": float(reference.enrichment_heldout[i]),
            "log2_designed": float(designed_enrichment[i]),
        }
        for i in order
    ]
    report["realism"]["5mer_enrichment_pearson"] = {
        "designed_vs_real_training": float(np.corrcoef(reference.enrichment_training, designed_enrichment)[0, 1]),
        "real_heldout_vs_real_training": float(
            np.corrcoef(reference.enrichment_training, reference.enrichment_heldout)[0, 1]
        ),
    }
    return report


def _nearest_training_mean(run: dict, label: str) -> float:
    return run["novelty"]["per_tag"][label]["nearest_training_identity"]["mean"]


def pll_report(designs_by_scale: dict, reference: Reference, args, log) -> dict:
    """Masked-gLM pseudo-log-likelihood of designs, real held-out promoters and their dinucleotide shuffles."""
    from glm_core.models import load_masked_lm

    model = load_masked_lm(args.pll_model, device=args.pll_device or args.device)
    rng = np.random.default_rng(args.seed)
    groups = {}
    for label in reference.labels:
        # the TSS-proximal --length bases of promoters at least that long: every group is scored
        # with the same amount of context
        long_enough = [s[-args.length :] for s in reference.real[label] if len(s) >= args.length]
        if not long_enough:
            raise SystemExit(f"no held-out {label} promoter is {args.length} bp or longer; lower --length")
        picks = np.sort(rng.choice(len(long_enough), min(args.pll, len(long_enough)), replace=False))
        real = [long_enough[i] for i in picks]
        groups[("real_heldout", label, None)] = real
        groups[("shuffled_real_heldout", label, None)] = [dinucleotide_shuffle(s, rng) for s in real]
        for scale in args.pll_guidance:
            groups[("designed", label, scale)] = designs_by_scale[scale][label][: args.pll]
    began = time.time()
    rows = []
    for (kind, label, scale), sequences in groups.items():
        started = time.time()
        values = sequence_pseudo_log_likelihood(
            model, sequences, positions_per_sequence=args.pll_positions, seed=args.seed
        )
        rows.append(
            {"group": kind, "tag": label, "guidance": scale, **summary(values), "seconds": time.time() - started}
        )
        log(
            f"PLL {kind} {label}{'' if scale is None else f' guidance {scale:g}'}: "
            f"{np.mean(values):.4f} bits/base ({len(sequences)} sequences, {time.time() - started:.0f} s)"
        )
    table = {(row["group"], row["tag"], row["guidance"]): row for row in rows}
    recovered = {}
    for label in reference.labels:
        real = table[("real_heldout", label, None)]["mean"]
        shuffled = table[("shuffled_real_heldout", label, None)]["mean"]
        for scale in args.pll_guidance:
            designed = table[("designed", label, scale)]["mean"]
            recovered[f"{label}@{scale:g}"] = (designed - shuffled) / (real - shuffled) if real != shuffled else None
    return {
        "model": str(args.pll_model),
        "device": str(model.device),
        "n_per_group": args.pll,
        "positions_per_sequence": args.pll_positions or "all",
        "groups": rows,
        "fraction_of_real_over_shuffled_gap_recovered": recovered,
        "interpretation": pll_interpretation(table, reference.labels, args.pll_guidance),
        "seconds": time.time() - began,
    }


def pll_interpretation(table: dict, labels, scales) -> str:
    """One paragraph: how far designs sit between dinucleotide-shuffled and real promoters."""
    real = np.mean([table[("real_heldout", label, None)]["mean"] for label in labels])
    shuffled = np.mean([table[("shuffled_real_heldout", label, None)]["mean"] for label in labels])
    spread = np.mean([table[("real_heldout", label, None)]["sd"] for label in labels])
    n = table[("real_heldout", labels[0], None)]["n"]
    text = (
        f"Real held-out promoters score {real:.3f} bits/base and their dinucleotide shuffles {shuffled:.3f} "
        f"({real - shuffled:+.3f}). "
    )
    if abs(real - shuffled) < 2 * spread / np.sqrt(max(n, 1)):
        return text + (
            "The masked gLM hardly separates real promoters from shuffles of the same dinucleotide "
            "composition at this sample size, so this check says little about the designs."
        )
    text += "The masked gLM sees more in real promoters than their dinucleotide composition. "
    parts = []
    for scale in scales:
        designed = np.mean([table[("designed", label, scale)]["mean"] for label in labels])
        parts.append(
            f"at guidance {scale:g} designs score {designed:.3f} "
            f"({(designed - shuffled) / (real - shuffled):.0%} of the way from shuffled to real)"
        )
    joined = "; ".join(parts)
    return text + joined[0].upper() + joined[1:] + "."


def print_table(report: dict, out=sys.stdout) -> None:
    labels = report["labels"]
    first = report["runs"][0]
    real_scores = first["oracle_score"]["real_heldout"]
    fraction = report["unconditional_fraction"]
    print(
        f"{report['model']}: {report['n_per_tag']} designs per tag, {report['length']} bp, temperature "
        f"{report['temperature']:g}, top-p {report['top_p'] or 'off'}, seed {report['seed']}, {report['device']}; "
        f"unconditional training fraction: {'not recorded' if fraction is None else fraction}",
        file=out,
    )
    print(
        "real held-out promoters, oracle score mean (sd): "
        + ", ".join(
            f"{label} {real_scores[label]['mean']:+.2f} ({real_scores[label]['sd']:.2f}, n={real_scores[label]['n']})"
            for label in labels
        )
        + f"; {labels[-1]}-{labels[0]} gap {first['control']['real_heldout_gap']:.2f}; "
        f"nearest-training identity {first['novelty']['real_heldout_nearest_training_identity']['mean']:.3f}; "
        f"4-mer JS training vs held out {first['realism']['kmer4_js_distance_to_real_heldout']['real_training']:.3f}",
        file=out,
    )
    print(file=out)
    header = (
        f"{'guidance':>8}  {'tag':<6} {'oracle designed':>16} {'oracle real':>13} {'GC des':>7} {'GC real':>7} "
        f"{'JS4 vs real':>11} {'ident. train':>12} {'ident. design':>13} {'50-mer':>7}"
    )
    print(header, file=out)
    for run in report["runs"]:
        for label in labels:
            designed = run["oracle_score"]["designed"][label]
            real = run["oracle_score"]["real_heldout"][label]
            novelty = run["novelty"]["per_tag"][label]
            print(
                f"{run['guidance']:>8g}  {label:<6} {designed['mean']:>+8.2f} ({designed['sd']:.2f}) "
                f"{real['mean']:>+6.2f} ({real['sd']:.2f}) {run['realism']['gc']['designed'][label]:>7.1%} "
                f"{run['realism']['gc']['real_heldout'][label]:>7.1%} "
                f"{run['realism']['kmer4_js_distance_to_real_heldout'][f'designed_{label}_vs_real_{label}']:>11.3f} "
                f"{_nearest_training_mean(run, label):>12.3f} "
                f"{novelty['nearest_design_identity_same_tag']['mean']:>13.3f} "
                f"{novelty['fraction_sharing_50mer']:>7.1%}",
                file=out,
            )
    print(file=out)
    print(
        f"{'guidance':>8}  {'gap':>6} {'ratio':>6} {'bar 0.7':>8} {'JS4 all':>8} {'5-mer r':>8} "
        f"{'50-mer <5%':>10} {'sampling s':>10}",
        file=out,
    )
    for run in report["runs"]:
        control, realism = run["control"], run["realism"]
        print(
            f"{run['guidance']:>8g}  {control['generated_gap']:>6.2f} {control['ratio']:>6.2f} "
            f"{'met' if control['met'] else 'not met':>8} "
            f"{realism['kmer4_js_distance_to_real_heldout']['designed']:>8.3f} "
            f"{realism['5mer_enrichment_pearson']['designed_vs_real_training']:>8.2f} "
            f"{'met' if run['novelty']['met'] else 'not met':>10} {run['sampling_s']:>10.1f}",
            file=out,
        )
    print(
        f"(5-mer r of real held-out vs training: "
        f"{first['realism']['5mer_enrichment_pearson']['real_heldout_vs_real_training']:.2f})",
        file=out,
    )
    pll = report["masked_glm_pll"]
    if isinstance(pll, dict):
        print(file=out)
        print(
            f"masked-gLM pseudo-log-likelihood, bits/base ({Path(pll['model']).name} on {pll['device']}, "
            f"{pll['n_per_group']} sequences per group, positions: {pll['positions_per_sequence']})",
            file=out,
        )
        for row in pll["groups"]:
            name = row["group"] + ("" if row["guidance"] is None else f", guidance {row['guidance']:g}")
            print(f"  {row['tag']:<6} {name:<32} {row['mean']:>8.4f} \u00b1 {row['sd']:.4f}  (n={row['n']})", file=out)
        print(f"  {pll['interpretation']}", file=out)
    print(f"\nwall time {report['wall_s']:.0f} s", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_GENERATOR)
    parser.add_argument("--n", type=int, default=200, help="designs per tag and guidance scale")
    parser.add_argument("--length", type=int, default=250)
    parser.add_argument(
        "--guidance",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="W",
        help="classifier-free guidance scales to sweep (1 = off)",
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    parser.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    parser.add_argument(
        "--pll",
        type=int,
        nargs="?",
        const=30,
        default=0,
        metavar="N",
        help="masked-gLM pseudo-log-likelihood of N sequences per group (30 if N is left out)",
    )
    parser.add_argument("--pll-model", type=Path, default=BUNDLED_MLM, help="masked LM for --pll")
    parser.add_argument(
        "--pll-guidance",
        type=float,
        nargs="+",
        default=None,
        metavar="W",
        help="guidance scales whose designs --pll scores (default: every --guidance value)",
    )
    parser.add_argument(
        "--pll-positions",
        type=int,
        default=None,
        metavar="K",
        help="score K random positions per sequence instead of all (an estimate; for CPUs)",
    )
    parser.add_argument("--pll-device", default=None, help="device of the masked LM (default: --device)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.pll_guidance = args.guidance if args.pll_guidance is None else args.pll_guidance
    missing = sorted(set(args.pll_guidance) - set(args.guidance))
    if args.pll and missing:
        parser.error(f"--pll-guidance {missing} must also be in --guidance")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.time()
    generator = load_generator(args.model, device=args.device)
    oracle = KmerOracle.load(args.model)
    trained = json.loads((args.model / "training_config.json").read_text())
    config = GeneratorTrainingConfig(**{**trained, "held_out_chroms": tuple(trained["held_out_chroms"])})
    config.fasta, config.annotation = str(args.fasta), str(args.annotation)
    promoters = tagged_promoters(config, Genome(args.fasta), Annotation.from_file(args.annotation))
    reference = Reference(promoters, oracle)
    family, labels = oracle.family, oracle.labels
    log(f"real promoters ready in {time.time() - started:.0f} s")

    report = {
        "model": str(args.model),
        "labels": labels,
        "n_per_tag": args.n,
        "length": args.length,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "device": str(generator.device),
        "guidance_scales": args.guidance,
        "unconditional_fraction": unconditional_training_fraction(generator),
        "recommended_guidance": recommended_guidance(generator),
        "oracle_heldout_auroc": oracle.metrics.get("heldout_auroc"),
        "runs": [],
    }
    designs_by_scale = {}
    for scale in args.guidance:
        designs, sampling_s = {}, 0.0
        for label in labels:
            tag = label if family == "CAI" else f"{family}={label}"
            began = time.time()
            designs[label] = generate_promoters(
                generator,
                [tag],
                n=args.n,
                length=args.length,
                temperature=args.temperature,
                top_p=args.top_p,
                guidance_scale=scale,
                seed=args.seed,
                batch_size=args.batch_size,
            )["sequence"].tolist()
            sampling_s += time.time() - began
            log(f"guidance {scale:g}: sampled {args.n} x {label} in {time.time() - began:.1f} s")
        designs_by_scale[scale] = designs
        began = time.time()
        report["runs"].append(
            {"guidance": scale, "sampling_s": sampling_s, **evaluate_designs(designs, reference, oracle)}
        )
        log(f"guidance {scale:g}: metrics in {time.time() - began:.1f} s")
    report["masked_glm_pll"] = (
        pll_report(designs_by_scale, reference, args, log) if args.pll else "not computed (pass --pll N)"
    )
    report["wall_s"] = time.time() - started
    print_table(report)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"JSON report: {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
