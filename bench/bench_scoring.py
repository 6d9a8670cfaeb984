"""Speed of per-position scoring: masked engine (eager, compiled), one-pass model, reference path.

* engine: :func:`glm_core.scoring.site_probabilities` (each position masked in its own
  512-bp window, forward + reverse complement in one batch, bf16 autocast on CUDA, the
  MLM head only at the masked position, adaptive batch size), run eager;
* compiled (CUDA only): the same engine with the ``torch.compile``-d encoder and every batch
  padded to one shape (``masked_site_probabilities(compiled=True)``); checked against eager
  (max |p diff|, LLR Pearson);
* one-pass: the bundled one-pass model (``--onepass-model``), every position from one pass;
* reference: what GPN's ``run_vep`` does by default: one Hugging Face forward per masked
  window, fp32, batch 8, forward and reverse-complement windows as separate passes.

All score the same held-out positions on the same device in one run; the script prints and
writes (``--out``, rewritten after each stage) positions/s, ratios, the end-to-end time of a
200-bp logo on both strands for each model, and (``--whole-genome``, default on CUDA) every
position of the embedded genome on both strands with the one-pass model.

Usage::

    python -m bench.bench_scoring --out runs/bench_scoring.json            # GPU if present
    python -m bench.bench_scoring --device cpu --logo-only                 # the CPU logo times
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
from glm_core.models import BUNDLED_MLM, BUNDLED_ONEPASS, load_masked_lm
from glm_core.onepass import load_onepass_model
from glm_core.scoring import average_strands, masked_site_probabilities, site_probabilities, window_starts

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
        windows = np.stack([ids[s : s + context] for s in starts[chunk]])
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


def llr_pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of every alternative's log-ratio log p(alt) - log p(most likely in a), two tables."""
    log_a, log_b = np.log(np.clip(a, 1e-12, 1)), np.log(np.clip(b, 1e-12, 1))
    rows, ref = np.arange(len(a)), a.argmax(1)
    alt = np.arange(4)[None, :] != ref[:, None]
    return float(np.corrcoef((log_a - log_a[rows, ref][:, None])[alt], (log_b - log_b[rows, ref][:, None])[alt])[0, 1])


def logo_seconds(score, device, repeats: int) -> float:
    """Median seconds of ``score(strand)`` for '+' then '-' (a 200-bp logo on both strands)."""

    def both():
        score("+")
        score("-")

    both()  # warm-up: cuDNN picks its kernels, the allocator fills (and a compiled path compiles)
    return statistics.median(timed(both, device, repeats))


def main(argv: list[str] | None = None) -> int:
    """The benchmark as one script: its measurements run in order and read top to bottom, so
    they stay in one function rather than being split across helpers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM)
    parser.add_argument("--onepass-model", type=Path, default=BUNDLED_ONEPASS, help="'' to skip the one-pass rows")
    parser.add_argument("--device", default=None)
    parser.add_argument("--positions", type=int, default=20_000, help="positions the engine scores")
    parser.add_argument("--reference-positions", type=int, default=2_000, help="positions the reference scores")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--logo-length", type=int, default=200, help="bases of the timed logo (200 in reports)")
    parser.add_argument("--logo-only", action="store_true", help="only time the 200-bp two-strand logos")
    parser.add_argument("--no-compiled", action="store_true", help="skip the compiled masked path (CUDA only anyway)")
    parser.add_argument(
        "--whole-genome",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time the whole genome with the one-pass model (default: on CUDA)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    model = load_masked_lm(args.model, device=args.device)
    onepass = load_onepass_model(args.onepass_model, device=model.device) if str(args.onepass_model) else None
    genome = Genome(EMBEDDED_FASTA)
    device = model.device
    use_compiled = device.type == "cuda" and not args.no_compiled
    report = {
        "logo_length": args.logo_length,
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": args.model.name,
        "onepass_model": onepass.name if onepass else None,
        "parameters": sum(p.numel() for p in model.model.parameters()),
        "context": model.context,
    }

    def save() -> None:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2))

    def region(strand: str, site_model) -> None:
        site_probabilities(site_model, genome, CHROM, START, START + args.logo_length, strand)

    report["logo_200bp_both_strands_s"] = logo_seconds(lambda strand: region(strand, model), device, args.repeats)
    print(f"200-bp logo, both strands, masked eager: median {report['logo_200bp_both_strands_s']:.3f} s")
    if onepass is not None:
        report["onepass_logo_200bp_both_strands_s"] = logo_seconds(
            lambda strand: region(strand, onepass), device, args.repeats
        )
        print(f"200-bp logo, both strands, one-pass: median {report['onepass_logo_200bp_both_strands_s']:.3f} s")
    save()

    if not args.logo_only:
        flank = model.context_flank
        sequence = genome.fetch(CHROM, START - flank, START + args.positions + flank)
        positions = np.arange(flank, flank + args.positions)
        engine = lambda: masked_site_probabilities(model, sequence, positions, compiled=False)  # noqa: E731
        engine_probs = engine()
        engine_s = statistics.median(timed(engine, device, args.repeats))
        report["engine_positions_per_s"] = args.positions / engine_s
        print(f"masked eager {report['engine_positions_per_s']:,.0f} positions/s")
        save()
        if use_compiled:
            compiled = lambda: masked_site_probabilities(model, sequence, positions, compiled=True)  # noqa: E731
            began = time.perf_counter()
            compiled_probs = compiled()  # compiles once (one padded batch shape)
            synchronize(device)
            report["compile_and_first_call_s"] = time.perf_counter() - began
            compiled_s = statistics.median(timed(compiled, device, args.repeats))
            report.update(
                compiled_positions_per_s=args.positions / compiled_s,
                compiled_vs_eager=engine_s / compiled_s,
                compiled_max_abs_probability_difference=float(np.abs(compiled_probs - engine_probs).max()),
                compiled_llr_pearson_vs_eager=llr_pearson(engine_probs, compiled_probs),
            )
            report["compiled_logo_200bp_both_strands_s"] = logo_seconds(
                lambda strand: masked_site_probabilities(
                    model,
                    genome.fetch(CHROM, START - flank, START + args.logo_length + flank),
                    np.arange(flank, flank + args.logo_length),
                    compiled=True,
                ),
                device,
                args.repeats,
            )
            print(
                f"masked compiled {report['compiled_positions_per_s']:,.0f} positions/s "
                f"({report['compiled_vs_eager']:.2f}x eager; compile + first call "
                f"{report['compile_and_first_call_s']:.0f} s); max |p diff| vs eager "
                f"{report['compiled_max_abs_probability_difference']:.4f}, LLR Pearson "
                f"{report['compiled_llr_pearson_vs_eager']:.5f}; 200-bp logo padded to one batch "
                f"{report['compiled_logo_200bp_both_strands_s']:.3f} s"
            )
            save()
        if onepass is not None:
            one = lambda: onepass.sequence_site_probabilities(sequence, positions)  # noqa: E731
            one()
            onepass_s = statistics.median(timed(one, device, args.repeats))
            report["onepass_positions_per_s"] = args.positions / onepass_s
            report["onepass_vs_masked_eager"] = report["onepass_positions_per_s"] / report["engine_positions_per_s"]
            if "compiled_positions_per_s" in report:
                report["onepass_vs_masked_compiled"] = (
                    report["onepass_positions_per_s"] / report["compiled_positions_per_s"]
                )
            print(
                f"one-pass {report['onepass_positions_per_s']:,.0f} positions/s "
                f"({report['onepass_vs_masked_eager']:.0f}x masked eager)"
            )
            save()
        subset = positions[: args.reference_positions]
        reference = lambda: reference_probabilities(model, sequence, subset)  # noqa: E731
        reference_probs = reference()
        reference_s = statistics.median(timed(reference, device, max(1, args.repeats // 2)))
        difference = float(np.abs(reference_probs - engine_probs[: len(subset)]).max())
        report.update(
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
        save()
        if difference > 0.05:
            raise SystemExit(f"engine and reference disagree by {difference:.3f}: not a valid comparison")
    whole_genome = device.type == "cuda" if args.whole_genome is None else args.whole_genome
    if onepass is not None and whole_genome and not args.logo_only:
        from bench.eval_onepass import time_whole_genome

        report["onepass_whole_genome_both_strands"] = time_whole_genome(onepass, genome)
        print(f"whole genome, both strands, one-pass: {report['onepass_whole_genome_both_strands']}")
    save()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
