"""Model-card numbers of a one-pass site model beside its masked-LM teacher, on held-out chr20-chr23.

With the evaluation functions of :mod:`glm_core.evaluation` (any SiteModel):

* single-site accuracy and bits/base on the 15 % held-out sample (``sample_eval_positions``,
  seed 0), the positions of the teacher's single-site row; the teacher's figures are taken
  from its card unless ``--teacher-single-site`` scores them again;
* KL(teacher || student) per position (median, 90th percentile) on a random subset of those
  positions, the teacher scored exactly (each base masked alone, fwd/RC averaged);
* Pearson and Spearman correlation of the LLRs of every SNV at every CDS base of the 150
  held-out genes, student vs teacher, and the consequence AUROCs of both;
* information content at start codons and intron ends vs their flanks, both models;
* speed: every position of the whole embedded genome, both strands, with the one-pass model,
  and the teacher's positions/s on the CDS scoring, on the same device;
  ``--cpu-logo`` times a 200-bp logo on both strands instead (``site_probabilities``).

Usage::

    python -m bench.eval_onepass --model assets/models/gpn-umaydis-onepass --out runs/eval_onepass.json
    python -m bench.eval_onepass --model assets/models/gpn-umaydis-onepass --cpu-logo --device cpu
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


from bench import json_records
from glm_core.annotation import Annotation
from glm_core.evaluation import (
    HELD_OUT_CHROMS,
    cds_snv_llrs,
    consequence_summary,
    held_out_transcripts,
    motif_information,
    sample_eval_positions,
    site_model_metrics,
    site_probabilities_at,
)
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM, BUNDLED_MODELS_DIR, load_masked_lm
from glm_core.onepass import load_onepass_model
from glm_core.scoring import minus_strand, site_probabilities

BUNDLED_ONEPASS = BUNDLED_MODELS_DIR / "gpn-umaydis-onepass"
# The teacher's single-site row of its model card (same positions, bench/eval_mlm.py).
TEACHER_SINGLE_SITE = {"accuracy": 0.4691, "bits_per_base": 1.678, "source": "gpn-umaydis model card"}
LOGO_CHROM, LOGO_START = "chr20", 100_000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_cpu_logo(model, genome: Genome, repeats: int = 5) -> dict:
    """Seconds for a 200-bp logo on both strands (site_probabilities, + then -), median of ``repeats``."""
    times = []
    site_probabilities(model, genome, LOGO_CHROM, LOGO_START, LOGO_START + 200)  # warm-up
    for _ in range(repeats):
        began = time.perf_counter()
        site_probabilities(model, genome, LOGO_CHROM, LOGO_START, LOGO_START + 200, "+")
        site_probabilities(model, genome, LOGO_CHROM, LOGO_START, LOGO_START + 200, "-")
        times.append(time.perf_counter() - began)
    return {
        "logo_200bp_both_strands_s": round(statistics.median(times), 3),
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }


def time_whole_genome(model, genome: Genome) -> dict:
    """Every position of every sequence scored, plus and minus strand tables, one device."""
    first = genome.chroms[0]
    model.sequence_site_probabilities(genome.fetch(first, 0, min(200_000, genome.chrom_sizes[first])))  # warm-up
    sequences = {chrom: genome.fetch(chrom, 0, genome.chrom_sizes[chrom]) for chrom in genome.chroms}
    _sync(model.device)
    began = time.perf_counter()
    total = 0
    for sequence in sequences.values():
        plus = model.sequence_site_probabilities(sequence)
        minus_strand(plus)
        total += len(sequence)
    _sync(model.device)
    seconds = time.perf_counter() - began
    return {"positions": total, "seconds": round(seconds, 2), "positions_per_s": round(total / seconds)}


def _kl_and_llr(teacher_p: np.ndarray, student_p: np.ndarray, reference: np.ndarray) -> dict:
    log_t = np.log(np.clip(teacher_p, 1e-12, 1.0))
    log_s = np.log(np.clip(student_p, 1e-12, 1.0))
    kl = (teacher_p * (log_t - log_s)).sum(1)
    rows = np.arange(len(reference))
    alt = np.arange(4)[None, :] != reference[:, None]
    llr_t = (log_t - log_t[rows, reference][:, None])[alt]
    llr_s = (log_s - log_s[rows, reference][:, None])[alt]
    return {
        "n": int(len(kl)),
        "median_kl_nats": float(np.median(kl)),
        "p90_kl_nats": float(np.quantile(kl, 0.9)),
        "mean_kl_nats": float(kl.mean()),
        "llr_pearson": float(np.corrcoef(llr_t, llr_s)[0, 1]),
        "argmax_agreement": float(np.mean(teacher_p.argmax(1) == student_p.argmax(1))),
    }


def main(argv: list[str] | None = None) -> int:
    """The benchmark as one script: its measurements run in order and read top to bottom, so
    they stay in one function rather than being split across helpers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_ONEPASS)
    parser.add_argument("--teacher", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--n-genes", type=int, default=150)
    parser.add_argument("--kl-positions", type=int, default=40_000)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--teacher-single-site",
        action="store_true",
        help="score the teacher's single-site row again (~1 min on a GPU) instead of its card's",
    )
    parser.add_argument("--cpu-logo", action="store_true", help="only time a 200-bp logo on both strands")
    parser.add_argument("--no-genome-timing", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    genome = Genome(EMBEDDED_FASTA)
    student = load_onepass_model(args.model, device=args.device)
    if student.name in {"model", "teacher", "speed", "device"}:  # results are keyed by model name
        student.name = f"{student.name}-onepass"
    result = {
        "model": args.model.name,
        "device": str(student.device),
        "parameters": sum(p.numel() for p in student.model.parameters()),
        "receptive_field": student.context_flank,
    }
    if args.cpu_logo:
        result["speed"] = time_cpu_logo(student, genome)
        print(json.dumps(result, indent=2))
        if args.out:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        return 0

    def save() -> None:  # after every stage, so a run cut short keeps what it measured
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")

    began = time.perf_counter()
    annotation = Annotation.from_file(EMBEDDED_ANNOTATION)
    transcripts = held_out_transcripts(annotation, n_genes=args.n_genes, seed=0, chroms=HELD_OUT_CHROMS)
    teacher = load_masked_lm(args.teacher, device=args.device)
    result.update(teacher=args.teacher.name, n_genes=len(transcripts))

    sites = sample_eval_positions(genome, HELD_OUT_CHROMS, fraction=0.15)
    result["single_site"] = {
        student.name: site_model_metrics(student, genome, sites),
        teacher.name: (site_model_metrics(teacher, genome, sites) if args.teacher_single_site else TEACHER_SINGLE_SITE),
    }
    print("single site:", result["single_site"], flush=True)
    save()

    subset = sites.iloc[
        np.sort(np.random.default_rng(0).choice(len(sites), min(args.kl_positions, len(sites)), replace=False))
    ]
    reference = np.searchsorted(np.array(list("ACGT")), subset["ref"].to_numpy())
    result["kl_teacher_student"] = _kl_and_llr(
        site_probabilities_at(teacher, genome, subset), site_probabilities_at(student, genome, subset), reference
    )
    print("KL(teacher || student):", result["kl_teacher_student"], flush=True)
    save()

    tables = {}
    for name, model in ((student.name, student), (teacher.name, teacher)):
        started = time.perf_counter()
        snvs = cds_snv_llrs(model, genome, annotation, transcripts)
        _sync(model.device)
        seconds = time.perf_counter() - started
        tables[name] = snvs
        motifs = motif_information(model, genome, annotation, transcripts)
        result[name] = {
            "consequences": json_records(consequence_summary(snvs)),
            "motif_information": json_records(motifs),
            "n_cds_snvs": int(len(snvs)),
            "cds_seconds": round(seconds, 1),
            "cds_positions_per_s": round(len(snvs) / 3 / seconds),
        }
        print(name, f"{len(snvs):,} CDS SNVs in {seconds:.1f} s", flush=True)
        print(consequence_summary(snvs).to_string(index=False), flush=True)
        print(motifs.to_string(index=False), flush=True)
        save()
    keys = ["chrom", "pos", "alt"]
    merged = tables[student.name][keys + ["llr"]].merge(
        tables[teacher.name][keys + ["llr"]], on=keys, suffixes=("_student", "_teacher")
    )
    from scipy.stats import spearmanr

    result["cds_llr_correlation"] = {
        "n": int(len(merged)),
        "pearson": float(np.corrcoef(merged["llr_student"], merged["llr_teacher"])[0, 1]),
        "spearman": float(spearmanr(merged["llr_student"], merged["llr_teacher"]).statistic),
    }
    print("CDS LLR correlation:", result["cds_llr_correlation"], flush=True)
    save()
    if not args.no_genome_timing:
        result["speed"] = {
            "whole_genome": time_whole_genome(student, genome),
            "teacher_positions_per_s_on_cds": result[teacher.name]["cds_positions_per_s"],
        }
        result["speed"]["one_pass_vs_masked"] = round(
            result["speed"]["whole_genome"]["positions_per_s"] / result["speed"]["teacher_positions_per_s_on_cds"], 1
        )
        print("speed:", result["speed"], flush=True)
    if torch.cuda.is_available():
        result["gpu"] = torch.cuda.get_device_name()
    result["seconds"] = round(time.perf_counter() - began, 1)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
