"""``train-mlm``, ``eval-mlm`` and ``distill``: training and evaluating site models."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..evaluation import HELD_OUT_CHROMS
from ..genome import EMBEDDED_FASTA
from .common import _check_device, _config_kind, _positive_int


def _cmd_train_mlm(args: argparse.Namespace) -> int:
    from ..outputs import check_output_dir
    from ..training import MLMTrainingConfig, train_mlm

    _check_device(args.device)
    check_output_dir(args.output_dir, [args.fasta])

    config = MLMTrainingConfig(
        fasta=str(args.fasta),
        output_dir=str(args.output_dir),
        held_out_chroms=tuple(args.held_out),
        context=args.context,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        hidden_dropout_prob=args.dropout,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        mask_token_fraction=args.mask_token_fraction,
        warmup_steps=args.warmup_steps,
        max_steps=args.max_steps,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_windows=args.eval_windows,
        checkpoint_every=args.checkpoint_every,
        time_limit_s=args.time_limit,
        compile=args.compile,
        device=args.device,
        resume_weights=str(args.resume_weights) if args.resume_weights else None,
    )
    metrics = train_mlm(config, log=lambda line: print(line, flush=True))
    if os.environ.get("RANK", "0") == "0":  # one summary line under torchrun
        print(
            f"last held-out accuracy {metrics['accuracy']:.4f}, {metrics['bits_per_base']:.4f} bits/base; "
            f"best model in {Path(args.output_dir) / 'best'}"
        )
    return 0


def _cmd_eval_mlm(args: argparse.Namespace) -> int:
    import json

    from ..genome import Genome
    from ..models import load_masked_lm, load_site_model
    from ..outputs import atomic_write, check_outputs
    from ..training import heldout_eval_set, masked_lm_metrics

    _check_device(args.device)
    if args.out:
        check_outputs([args.out], [args.model, args.fasta])
    if _config_kind(args.model) == "one-pass":  # nothing to mask: score held-out positions as the model card does
        from ..evaluation import sample_eval_positions, site_model_metrics

        model = load_site_model(args.model, device=args.device)
        genome = Genome(args.fasta)
        sites = sample_eval_positions(genome, tuple(args.held_out), fraction=args.site_fraction)
        report = {
            "model": str(args.model),
            "kind": model.kind,
            "held_out": args.held_out,
            "single_site": site_model_metrics(model, genome, sites),
        }
        print(
            f"single site ({model.kind}): accuracy {report['single_site']['accuracy']:.4f}, "
            f"{report['single_site']['bits_per_base']:.4f} bits/base ({report['single_site']['n']:,} positions)"
        )
        if args.out:
            atomic_write(args.out, json.dumps(report, indent=2))
        return 0
    model = load_masked_lm(args.model, device=args.device)
    genome = Genome(args.fasta)
    held_out = tuple(args.held_out)
    inputs, labels = heldout_eval_set(genome, held_out, model.context, max_windows=args.max_windows)
    corrupted, _ = heldout_eval_set(
        genome, held_out, model.context, max_windows=args.max_windows, mask_token_fraction=0.8
    )
    report = {"model": str(args.model), "held_out": args.held_out, "mask_fraction": 0.15}
    rows = (
        ("forward", inputs, False),
        ("forward_reverse_averaged", inputs, True),
        ("trainer_style_80_10_10_forward", corrupted, False),
    )
    for name, windows, both_strands in rows:
        report[name] = masked_lm_metrics(model.model, windows, labels, model.device, reverse_complement=both_strands)
        print(
            f"{name}: accuracy {report[name]['accuracy']:.4f}, {report[name]['bits_per_base']:.4f} bits/base "
            f"({report[name]['n_masked']:,} masked bases)"
        )
    if args.out:
        atomic_write(args.out, json.dumps(report, indent=2))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from ..distill import DistillationConfig, distill

    config = DistillationConfig(
        teacher=str(args.teacher),
        output_dir=str(args.output_dir),
        fasta=str(args.fasta),
        held_out_chroms=tuple(args.held_out),
        hidden_size=args.hidden_size,
        dropout=args.dropout,
        target_spacing=args.target_spacing,
        target_time_limit_s=args.target_time_limit if args.target_time_limit > 0 else None,
        agreement_windows=args.agreement_windows,
        window=args.window,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        max_steps=args.max_steps,
        time_limit_s=args.time_limit,
        kl_weight=args.kl_weight,
        ce_weight=args.ce_weight,
        eval_every=args.eval_every,
        seed=args.seed,
        compile=args.compile,
        device=args.device,
    )
    summary = distill(config, log=lambda line: print(line, flush=True))
    best = summary["best"]
    print(
        f"best held-out accuracy {best['accuracy']:.4f}, {best['bits_per_base']:.4f} bits/base at step "
        f"{best['step']}; one-pass model in {args.output_dir}"
    )
    return 0


def add_distill_parser(commands) -> None:
    distill = commands.add_parser(
        "distill",
        help="train a one-pass site model from a masked LM (distillation)",
        description="Labels the training chromosomes with the teacher (one base in every --target-spacing "
        "masked at once in each window's central half, fwd/RC averaged), then trains a blind-spot "
        "one-pass model on KL to those targets plus cross-entropy on the true base. The held-out "
        "chromosomes are never trained on; the best held-out model is saved as a save_pretrained folder.",
    )
    distill.add_argument("--teacher", type=Path, required=True, help="a masked LM save_pretrained folder")
    distill.add_argument("--output-dir", type=Path, required=True, help="the one-pass model is saved here")
    distill.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    distill.add_argument("--held-out", nargs="+", default=list(HELD_OUT_CHROMS))
    distill.add_argument("--hidden-size", type=int, default=256)
    distill.add_argument("--dropout", type=float, default=0.1)
    distill.add_argument("--target-spacing", type=int, default=32, help="bases between bases masked together")
    distill.add_argument(
        "--target-time-limit",
        type=float,
        default=90.0,
        help="seconds of teacher labelling (bases spread over the genome); 0 or less: all phases",
    )
    distill.add_argument(
        "--agreement-windows",
        type=int,
        default=512,
        help="held-out windows on which the cheap targets are compared with exact single-site ones",
    )
    distill.add_argument("--window", type=int, default=2048, help="bases per training window")
    distill.add_argument("--batch-size", type=int, default=64, help="windows a step")
    distill.add_argument("--learning-rate", type=float, default=2e-3)
    distill.add_argument("--warmup-steps", type=int, default=300)
    distill.add_argument("--max-steps", type=int, default=20_000)
    distill.add_argument("--time-limit", type=float, default=None, help="seconds of training; the schedule ends there")
    distill.add_argument("--kl-weight", type=float, default=1.0)
    distill.add_argument("--ce-weight", type=float, default=0.5)
    distill.add_argument("--eval-every", type=int, default=500)
    distill.add_argument("--seed", type=int, default=0)
    distill.add_argument("--compile", action="store_true", help="torch.compile the student (CUDA)")
    distill.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    distill.set_defaults(handler=_cmd_distill)


def add_training_parsers(commands) -> None:
    """``train-mlm`` and ``eval-mlm``."""
    train = commands.add_parser("train-mlm", help="train a GPN ConvNet masked LM on a FASTA file")
    train.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    train.add_argument("--output-dir", type=Path, required=True, help="checkpoints and the best model go here")
    train.add_argument(
        "--held-out", nargs="+", default=list(HELD_OUT_CHROMS), help="chromosomes kept out of training for validation"
    )
    train.add_argument("--context", type=int, default=512)
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--layers", type=int, default=16)
    train.add_argument("--intermediate-size", type=int, default=None, help="default: 4 x hidden size")
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=256,
        help="windows a step; under torchrun split evenly across the processes",
    )
    train.add_argument("--learning-rate", type=float, default=1.5e-3)
    train.add_argument(
        "--mask-token-fraction",
        type=float,
        default=0.8,
        help="share of the chosen positions shown as [MASK]; the rest split evenly between "
        "a random base and the true base (BERT: 0.8)",
    )
    train.add_argument("--warmup-steps", type=int, default=500)
    train.add_argument("--max-steps", type=int, default=8000)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--eval-every", type=int, default=500)
    train.add_argument("--eval-windows", type=int, default=1024)
    train.add_argument("--checkpoint-every", type=int, default=1000)
    train.add_argument("--time-limit", type=float, default=None, help="seconds; stop and checkpoint after this")
    train.add_argument("--compile", action="store_true", help="torch.compile the encoder (CUDA)")
    train.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    train.add_argument(
        "--resume-weights",
        type=Path,
        default=None,
        help="continue from a 'latest' weights folder when the output folder has no checkpoint",
    )
    train.set_defaults(handler=_cmd_train_mlm)

    evaluate = commands.add_parser(
        "eval-mlm",
        help="held-out accuracy and bits/base of a masked LM (or a one-pass model)",
        description="Masked LM: scores 15 %% of the bases of every held-out 512-bp window, all replaced by [MASK] "
        "(forward, and forward/reverse-complement averaged), and once more corrupted 80/10/10 "
        "as in training (forward), which is how a Hugging Face Trainer's evaluation measures. "
        "One-pass model: single-site accuracy and bits/base at a fixed random sample of held-out "
        "positions (--site-fraction), as its model card reports them.",
    )
    evaluate.add_argument("--model", type=Path, required=True, help="a save_pretrained folder, masked or one-pass")
    evaluate.add_argument(
        "--site-fraction",
        type=float,
        default=0.15,
        help="one-pass models: share of the held-out A/C/G/T positions scored (default 0.15)",
    )
    evaluate.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    evaluate.add_argument("--held-out", nargs="+", default=list(HELD_OUT_CHROMS))
    evaluate.add_argument(
        "--max-windows", type=int, default=None, help="evaluate a random subset of the non-overlapping held-out windows"
    )
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--out", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.set_defaults(handler=_cmd_eval_mlm)
