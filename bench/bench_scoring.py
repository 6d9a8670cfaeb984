"""Speed of per-position scoring: the glm_core engine vs. a plain reference path.

* engine: :func:`glm_core.scoring.site_probabilities` (each position masked in its own
  512-bp window, forward + reverse complement in one batch, bf16 autocast on CUDA, the
  MLM head only at the masked position, adaptive batch size);
* reference: what GPN's ``run_vep`` does by default: one Hugging Face forward per masked
  window, fp32, batch 8, forward and reverse-complement windows as separate passes.

Both score the same held-out positions on the same device in one run; the script checks
that their probabilities agree, then prints and writes (``--out``) positions/s, the
ratio, and the end-to-end time of a 200-bp logo on both strands.

Usage::

    python -m bench.bench_scoring --out runs/bench_scoring.json            # GPU if present
    python -m bench.bench_scoring --device cpu --logo-only                 # the CPU logo time
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from glm_core.genome import EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM, load_masked_lm
from glm_core.scoring import average_strands, site_probabilities, window_starts

CHROM, START = "chr20", 100_000


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        began = time.perf_counter()
        function()
        synchronize(device)
        seconds.append(time.perf_counter() - began)
    return seconds


@torch.inference_mode()
def reference_probabilities(model, sequence: str, positions: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """One full HF forward per masked window, fp32, ``batch_size`` windows a pass."""
    context = model.context
    ids = model.encode(sequence)
    starts = window_starts(positions, len(sequence), context)
    complement = model.complement_ids.cpu().numpy()
    out = np.empty((len(positions), 4))
    for first in range(0, len(positions), batch_size):
        chunk = slice(first, first + batch_size)
        windows = np.stack([ids[s:s + context] for s in starts[chunk]])
        offsets = positions[chunk] - starts[chunk]
        windows[np.arange(len(windows)), offsets] = model.mask_id
        log_probs = []
        for batch, where in ((windows, offsets), (complement[windows][:, ::-1].copy(), context - 1 - offsets)):
            logits = model.model(input_ids=torch.from_numpy(batch).to(model.device)).logits
            picked = logits[torch.arange(len(batch)), torch.from_numpy(where).to(model.device)]
            log_probs.append(torch.log_softmax(picked[:, torch.as_tensor(model.nucleotide_ids)].float(), -1).cpu())
        forward, backward = log_probs
        out[chunk] = average_strands(forward, backward).numpy()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--device", default=None)
    parser.add_argument("--positions", type=int, default=20_000, help="positions the engine scores")
    parser.add_argument("--reference-positions", type=int, default=2_000, help="positions the reference scores")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--logo-only", action="store_true", help="only time the 200-bp two-strand logo")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    model = load_masked_lm(args.model, device=args.device)
    genome = Genome(EMBEDDED_FASTA)
    device = model.device
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": args.model.name,
        "parameters": sum(p.numel() for p in model.model.parameters()),
        "context": model.context,
    }

    def logo():
        site_probabilities(model, genome, CHROM, START, START + 200, "+")
        site_probabilities(model, genome, CHROM, START, START + 200, "-")

    logo()  # warm-up: cuDNN picks its kernels, the allocator fills
    logo_seconds = timed(logo, device, args.repeats)
    report["logo_200bp_both_strands_s"] = statistics.median(logo_seconds)
    print(f"200-bp logo, both strands: median {report['logo_200bp_both_strands_s']:.3f} s over {args.repeats}")

    if not args.logo_only:
        flank = model.context_flank
        sequence = genome.fetch(CHROM, START - flank, START + args.positions + flank)
        positions = np.arange(flank, flank + args.positions)
        engine = lambda: model.sequence_site_probabilities(sequence, positions)  # noqa: E731
        engine_probs = engine()
        engine_s = statistics.median(timed(engine, device, args.repeats))
        subset = positions[: args.reference_positions]
        reference = lambda: reference_probabilities(model, sequence, subset)  # noqa: E731
        reference_probs = reference()
        reference_s = statistics.median(timed(reference, device, max(1, args.repeats // 2)))
        difference = float(np.abs(reference_probs - engine_probs[: len(subset)]).max())
        report.update(
            engine_positions_per_s=args.positions / engine_s,
            reference_positions_per_s=len(subset) / reference_s,
            max_abs_probability_difference=difference,
        )
        report["speedup"] = report["engine_positions_per_s"] / report["reference_positions_per_s"]
        # Each scored position costs two masked windows (forward and reverse complement).
        flop_bound = 2 * report["parameters"] * model.context * 2
        report["engine_tflops_effective"] = report["engine_positions_per_s"] * flop_bound / 1e12
        print(
            f"engine {report['engine_positions_per_s']:,.0f} positions/s, reference "
            f"{report['reference_positions_per_s']:,.0f} positions/s, ratio {report['speedup']:.1f}x, "
            f"{report['engine_tflops_effective']:.0f} TFLOP/s effective; max |p diff| {difference:.4f}"
        )
        if difference > 0.05:
            raise SystemExit(f"engine and reference disagree by {difference:.3f}: not a valid comparison")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
