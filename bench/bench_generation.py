"""Sampling speed of the promoter generator.

    .venv/bin/python -m bench.bench_generation --device cuda     # batched throughput on a GPU
    .venv/bin/python -m bench.bench_generation --device cpu      # also here: 10 designs on the CPU
    .venv/bin/python -m bench.bench_generation --guidance 1 3    # unguided and guided sampling

Reports, as JSON on stdout: tokens/s for batched sampling (``--batch-size`` designs of
``--length`` bases at once, KV cache on, median of ``--repeats`` after one warm-up; target on
one H100: >= 10,000 tokens/s at batch 64) and the wall time for ``--designs`` designs of
250 bp in one call (the app's default request), once per ``--guidance`` scale: classifier-free
guidance runs a second, untagged forward pass per base, so expect about twice the time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from glm_core.generation import BUNDLED_GENERATOR, generate_promoters, load_generator


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_GENERATOR)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--designs", type=int, default=10, help="designs for the single-request timing")
    parser.add_argument("--tag", default="HIGH")
    parser.add_argument(
        "--guidance", type=float, nargs="+", default=[1.0], metavar="W", help="guidance scales to time (1 = off)"
    )
    parser.add_argument("--skip-batched", action="store_true", help="only time the single request")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    generator = load_generator(args.model, device=args.device)
    device = generator.device
    report = {
        "model": str(args.model),
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "length": args.length,
        "n_parameters": sum(p.numel() for p in generator.model.parameters()),
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)

    def timed(n: int, seed: int, guidance: float) -> float:
        _synchronise(device)
        began = time.perf_counter()
        designs = generate_promoters(
            generator,
            [args.tag],
            n=n,
            length=args.length,
            seed=seed,
            batch_size=args.batch_size,
            guidance_scale=guidance,
        )
        _synchronise(device)
        assert len(designs) == n and all(len(s) == args.length for s in designs["sequence"])
        return time.perf_counter() - began

    timed(min(args.designs, 4), seed=123, guidance=args.guidance[-1])  # warm-up
    runs = []
    for guidance in args.guidance:
        run = {
            "guidance": guidance,
            "single_request": {"designs": args.designs, "seconds": timed(args.designs, seed=0, guidance=guidance)},
        }
        if not args.skip_batched:
            times = [timed(args.batch_size, seed=i, guidance=guidance) for i in range(args.repeats)]
            run["batched"] = {
                "batch_size": args.batch_size,
                "seconds": times,
                "tokens_per_s": args.batch_size * args.length / statistics.median(times),
                "target_tokens_per_s_h100": 10_000,
            }
        runs.append(run)
    # the unguided run keeps the report's earlier top-level layout
    report.update({key: value for key, value in runs[0].items() if key != "guidance"})
    report["runs"] = runs
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
