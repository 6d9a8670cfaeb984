"""``train-generator`` and ``generate``: tag-conditioned promoter design."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..genome import EMBEDDED_FASTA
from .common import _check_device, _positive_int


def _cmd_train_generator(args: argparse.Namespace) -> int:
    from ..generation import GeneratorTrainingConfig, train_generator
    from ..outputs import check_output_dir

    _check_device(args.device)
    check_output_dir(args.output_dir, [args.fasta, args.annotation, args.tag_table])
    config = GeneratorTrainingConfig(
        output_dir=str(args.output_dir),
        fasta=str(args.fasta),
        annotation=str(args.annotation),
        tag_table=str(args.tag_table) if args.tag_table else None,
        tag_family=args.tag_family,
        n_bins=args.bins,
        upstream=args.upstream,
        held_out_chroms=tuple(args.held_out),
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden_size,
        pretrain_steps=args.pretrain_steps,
        finetune_steps=args.finetune_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        finetune_learning_rate=args.finetune_learning_rate,
        unconditional_fraction=args.unconditional_fraction,
        seed=args.seed,
        eval_every=args.eval_every,
        time_limit_s=args.time_limit,
        device=args.device,
        threads=args.threads,
    )
    metrics = train_generator(config, log=lambda line: print(line, flush=True))
    print(
        f"held-out promoters {metrics['heldout_bits']:.3f} bits/token (opposite tag "
        f"{metrics['heldout_bits_opposite_tag']:.3f}); oracle held-out AUROC "
        f"{metrics['oracle'].get('heldout_auroc', float('nan')):.3f}; model in {args.output_dir}"
    )
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from ..generation import designs_fasta, generate_promoters, guidance_warning, load_generator, recommended_guidance
    from ..oracle import KmerOracle
    from ..outputs import atomic_write, check_outputs

    _check_device(args.device)
    check_outputs([args.out], [args.model])
    generator = load_generator(args.model, device=args.device)
    generator.tag_ids(args.tag)  # unknown tags fail before any sampling
    guidance = recommended_guidance(generator) if args.guidance is None else args.guidance
    warning = guidance_warning(generator, guidance)
    if warning:
        print(f"glm-explore generate: warning: {warning}", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=args.n * (args.length - len(args.prefix)), desc="sampling", unit="base", file=sys.stderr)
    designs = generate_promoters(
        generator,
        args.tag,
        n=args.n,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        guidance_scale=guidance,
        seed=args.seed,
        prefix=args.prefix,
        batch_size=args.batch_size,
        progress=lambda done, total: bar.update(done - bar.n),
    )
    bar.close()
    try:
        designs["oracle_score"] = KmerOracle.load(args.model).score(designs["sequence"])
    except FileNotFoundError:
        pass
    atomic_write(args.out, designs_fasta(designs, seed=args.seed))
    print(
        f"wrote {len(designs):,} designs of {args.length} bp ({', '.join(args.tag)}, guidance {guidance:g}) "
        f"to {args.out}"
    )
    return 0


def add_generation_parsers(commands) -> None:
    from ..generation import BUNDLED_GENERATOR
    from ..genome import EMBEDDED_ANNOTATION

    train = commands.add_parser(
        "train-generator", help="train a tag-conditioned promoter generator (and its k-mer oracle)"
    )
    train.add_argument("--output-dir", type=Path, required=True)
    train.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    train.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    train.add_argument(
        "--tag-table",
        type=Path,
        default=None,
        help="CSV/TSV: gene ID, value or label (default: CAI tertiles against ribosomal-protein genes)",
    )
    train.add_argument("--tag-family", default=None, help="name of the tag family (default: the value column's header)")
    train.add_argument("--bins", type=int, default=3, help="quantile bins for numeric tag values")
    train.add_argument("--upstream", type=int, default=250, help="promoter length upstream of the TSS (bp)")
    train.add_argument("--held-out", nargs="+", default=["chr20", "chr21", "chr22", "chr23"])
    train.add_argument("--hidden-size", type=int, default=128)
    train.add_argument("--layers", type=int, default=4)
    train.add_argument("--heads", type=int, default=4)
    train.add_argument("--pretrain-steps", type=int, default=600)
    train.add_argument("--finetune-steps", type=int, default=1200)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=float, default=2e-3, help="peak learning rate of pretraining")
    train.add_argument("--finetune-learning-rate", type=float, default=1e-3)
    train.add_argument(
        "--unconditional-fraction",
        type=float,
        default=0.1,
        help="share of fine-tuning promoters shown without tags (for classifier-free guidance)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--eval-every", type=int, default=200)
    train.add_argument("--time-limit", type=float, default=None, help="seconds; stop training and save after this")
    train.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    train.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    train.set_defaults(handler=_cmd_train_generator)

    generate = commands.add_parser("generate", help="sample promoters for control tags, as FASTA")
    generate.add_argument("--tag", nargs="+", required=True, help="tags, e.g. HIGH (one per tag family)")
    generate.add_argument("-n", type=_positive_int, default=10, help="number of designs")
    generate.add_argument("--length", type=int, default=250, help="bases per design, prefix included")
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument("--top-k", type=int, default=None)
    generate.add_argument("--top-p", type=float, default=None)
    generate.add_argument(
        "--guidance",
        type=float,
        default=None,
        metavar="W",
        help="classifier-free tag guidance: 1 = off, > 1 = designs carry the tags' signature "
        "more strongly (needs a generator trained with --unconditional-fraction > 0; "
        "default: the model folder's recommended_guidance, else 1)",
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--prefix", default="", help="fixed 5' bases every design starts with")
    generate.add_argument("--batch-size", type=_positive_int, default=64)
    generate.add_argument("--model", type=Path, default=BUNDLED_GENERATOR, help="a train-generator output folder")
    generate.add_argument("--device", default=None)
    generate.add_argument("--out", type=Path, required=True, help="FASTA file to write")
    generate.set_defaults(handler=_cmd_generate)
