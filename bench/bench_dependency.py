"""Time nucleotide dependency maps (glm_core.dependency) per model, device and region length.

For each model and length the script measures the time estimate the app shows before a map
(:func:`glm_core.dependency.estimate_dependency_seconds`: a small probe, extrapolated), then
the map itself (:func:`glm_core.dependency.dependency_map`, limits off), on a held-out
region starting at chr20:100,001 of the embedded genome, and writes one JSON record each:
wall seconds, and process CPU seconds (on a shared CPU the wall time depends on the neighbours).

Models: ``--model`` (a masked LM folder; default the bundled gpn-umaydis) and, with
``--onepass-model``, a one-pass model folder (loaded with ``glm_core.onepass`` when that
module is present); ``--kmer K`` adds a k-mer baseline fitted on chr01. ``--whole-sequences`` also times each
one-pass model with every variant sequence scored whole (the path of models without
``substitution_site_probabilities``), side by side in the same run; ``--repeats N`` times each
map N times and records the median.

Usage::

    python -m bench.bench_dependency --lengths 100 200 --out runs/bench_dependency.json      # GPU if present
    python -m bench.bench_dependency --device cpu --lengths 20 --out runs/bench_dependency_cpu.json
    python -m bench.bench_dependency --device cpu --no-masked --onepass-model assets/models/gpn-umaydis-onepass \
        --whole-sequences --lengths 100 200 --repeats 3 --out docs/results/bench_dependency_onepass_cpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from glm_core.dependency import dependency_map, estimate_dependency_seconds, model_device_type, model_kind
from glm_core.genome import EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM, load_masked_lm

CHROM, START = "chr20", 100_000


def _models(args: argparse.Namespace, genome: Genome) -> list:
    models = []
    if not args.no_masked:
        models.append(load_masked_lm(args.model, device=args.device))
    if args.onepass_model is not None:
        from glm_core.onepass import load_onepass_model  # the one-pass site model, where present

        models.append(load_onepass_model(args.onepass_model, device=args.device))
    if args.kmer is not None:
        from glm_core.kmer import KmerModel

        models.append(KmerModel.fit(genome, ["chr01"], k=args.kmer))
    return models


class WholeSequences:
    """A model seen without its substitution method, so each variant sequence is scored whole."""

    def __init__(self, model):
        self.model = model
        self.name = f"{model.name} (whole sequences)"

    def __getattr__(self, name):
        if name == "substitution_site_probabilities":
            raise AttributeError(name)
        return getattr(self.model, name)


def _device_name(model) -> str:
    device = getattr(model, "device", None)
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or 'cpu'} ({torch.get_num_threads()} threads)"


def time_map(model, genome: Genome, length: int, repeats: int = 1) -> dict:
    """One estimate and ``repeats`` maps of ``length`` bp; seconds of each (median of the maps)."""
    end = START + length
    began = time.perf_counter()
    estimate = estimate_dependency_seconds(model, genome, CHROM, START, end)
    probe_seconds = time.perf_counter() - began
    walls, cpus = [], []
    for _ in range(repeats):
        if model_device_type(model) == "cuda":
            torch.cuda.synchronize()
        began, cpu_began = time.perf_counter(), time.process_time()
        result = dependency_map(model, genome, CHROM, START, end, check_limits=False)
        if model_device_type(model) == "cuda":
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - began)
        # On a shared CPU, wall time depends on the neighbours; process CPU time over threads does not.
        cpus.append(time.process_time() - cpu_began)
    seconds, cpu_seconds = statistics.median(walls), statistics.median(cpus)
    return {
        "model": str(model.name),
        "kind": model_kind(model),
        "device": model_device_type(model),
        "device_name": _device_name(model),
        "region": f"{CHROM}:{START + 1}-{end}",
        "length_bp": length,
        "seconds": round(seconds, 3),
        "repeats_seconds": [round(t, 3) for t in walls],
        "cpu_seconds": round(cpu_seconds, 3),
        "torch_threads": torch.get_num_threads(),
        "estimated_seconds": round(estimate.seconds, 3),
        "probe_seconds": round(probe_seconds, 3),
        "variant_sequences": estimate.n_sequences,
        "scored_positions": estimate.n_positions,
        "positions_per_second": round(estimate.n_positions / seconds, 1) if seconds > 0 else None,
        "max_dependency": float(np.nanmax(result.matrix)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM, help="masked LM folder")
    parser.add_argument("--no-masked", action="store_true", help="leave the masked LM out")
    parser.add_argument("--onepass-model", type=Path, default=None, help="one-pass model folder")
    parser.add_argument("--kmer", type=int, default=None, metavar="K", help="add a k-mer baseline (fitted on chr01)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 200], help="region lengths (bp)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (a list of records)")
    parser.add_argument(
        "--whole-sequences", action="store_true", help="also time one-pass models scoring each variant sequence whole"
    )
    parser.add_argument("--repeats", type=int, default=1, help="maps timed per model and length (median recorded)")
    args = parser.parse_args(argv)
    genome = Genome(EMBEDDED_FASTA)
    records = []
    models = _models(args, genome)
    if args.whole_sequences:
        models += [WholeSequences(m) for m in models if hasattr(m, "substitution_site_probabilities")]
    for model in models:
        for length in args.lengths:
            record = time_map(model, genome, length, args.repeats)
            records.append(record)
            print(
                f"{record['model']} ({record['kind']}) on {record['device_name']}: {length} bp in "
                f"{record['seconds']:.2f} s (estimated {record['estimated_seconds']:.2f} s, "
                f"{record['scored_positions']:,} positions)",
                flush=True,
            )
            if args.out is not None:  # rewritten after each record, so a killed run keeps what it measured
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
