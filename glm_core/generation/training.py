"""Training a promoter generator: genome-window pretraining, then tagged fine-tuning with early stopping."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..annotation import Annotation
from ..evaluation import HELD_OUT_CHROMS
from ..genome import NUCLEOTIDES, Genome, reverse_complement
from ..models import resolve_device
from ..oracle import fit_oracle, ordered_labels
from ..outputs import atomic_files_in
from ..promoters import (
    DEFAULT_FAMILY,
    DEFAULT_UPSTREAM,
    cai_tags,
    load_tag_table,
    promoter_table,
    read_tag_table,
    tag_family_column,
    tag_token,
)
from .tokens import SPECIAL_TOKENS, build_generator_tokenizer, encode_bases

BITS_PER_NAT = 1 / math.log(2)


@dataclass
class GeneratorTrainingConfig:
    """Everything that defines a generator run; saved as ``training_config.json`` beside the weights."""

    output_dir: str
    fasta: str
    annotation: str
    tag_table: str | None = None
    tag_family: str | None = None  # None: CAI, or the value column's header of ``tag_table``
    n_bins: int = 3
    upstream: int = DEFAULT_UPSTREAM
    held_out_chroms: tuple[str, ...] = HELD_OUT_CHROMS
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 320
    pretrain_window: int = 250
    pretrain_steps: int = 600
    finetune_steps: int = 1200
    batch_size: int = 32
    learning_rate: float = 2e-3
    finetune_learning_rate: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    unconditional_fraction: float = 0.1
    pretrain_time_share: float = 0.6
    validation_fraction: float = 0.05
    seed: int = 0
    eval_every: int = 200
    time_limit_s: float | None = None
    device: str | None = None
    threads: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("unconditional_fraction", "validation_fraction", "pretrain_time_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 0 and below 1; got {getattr(self, name)}")


def _batch(rows: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels with -100 at padding), each (B, L) int64."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    labels = np.where(mask == 1, ids, -100)
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)


def _genome_windows(genome, chroms, window: int, count: int, rng: np.random.Generator, vocab: dict, prompt: list[int]):
    """``count`` random windows of the given chromosomes (A/C/G/T only, random strand), tokenised."""
    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.float64)
    rows = []
    while len(rows) < count:
        chrom = chroms[rng.choice(len(chroms), p=sizes / sizes.sum())]
        start = int(rng.integers(0, genome.chrom_sizes[chrom] - window))
        text = genome.fetch(chrom, start, start + window).upper()
        if set(text) - set(NUCLEOTIDES):
            continue
        if rng.random() < 0.5:
            text = reverse_complement(text)
        rows.append(np.concatenate([prompt, encode_bases([text], vocab)[0], [vocab["<eos>"]]]))
    return rows


def _promoter_rows(table: pd.DataFrame, families: list[str], vocab: dict) -> list[np.ndarray]:
    """``<bos> <tag>... bases <eos>`` per promoter; with no ``families`` the unconditional ``<bos> bases <eos>``."""
    encoded = encode_bases(table["sequence"], vocab)
    rows = []
    for (_, row), bases in zip(table.iterrows(), encoded):
        tags = [vocab[tag_token(f, row[f])] for f in families]
        rows.append(np.concatenate([[vocab["<bos>"]], tags, bases, [vocab["<eos>"]]]).astype(np.int64))
    return rows


def _prompt_token_mask(ids: torch.Tensor) -> torch.Tensor:
    """True at <bos>, <genome> and tag tokens: the prompt is given, never predicted."""
    first_tag = len(SPECIAL_TOKENS) + len(NUCLEOTIDES)
    return (ids < len(SPECIAL_TOKENS)) & (ids != SPECIAL_TOKENS.index("<eos>")) | (ids >= first_tag)


@torch.no_grad()
def _mean_loss(model, rows, pad_id, device, batch_size=64) -> float:
    """Mean next-token cross-entropy (nats) over the base and <eos> tokens of ``rows``."""
    model.eval()
    total, count = 0.0, 0
    for first in range(0, len(rows), batch_size):
        ids, mask, labels = (t.to(device) for t in _batch(rows[first : first + batch_size], pad_id))
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = labels[:, 1:].clone()
        target[_prompt_token_mask(ids[:, 1:])] = -100
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="sum"
        )
        total += float(loss)
        count += int((target != -100).sum())
    model.train()
    return total / max(count, 1)


def tagged_promoters(
    config: GeneratorTrainingConfig, genome, annotation, tag_table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The promoter table of ``config`` with its tag family (CAI by default, else the tag table).

    ``tag_table`` is ``config.tag_table`` already read, for callers that need it too.
    """
    promoters = promoter_table(annotation, genome, upstream=config.upstream, held_out_chroms=config.held_out_chroms)
    if config.tag_table:
        table = tag_table if tag_table is not None else config.tag_table
        return read_tag_table(table, promoters, n_bins=config.n_bins, family=config.tag_family)
    return cai_tags(promoters, annotation, genome, n_bins=config.n_bins)


def train_generator(config: GeneratorTrainingConfig, log: Callable[[str], None] = print) -> dict:
    """Pretrain on genome windows, fine-tune on tagged training promoters, save model + oracle.

    The steps: :func:`_tagged_training_promoters` (and the oracle), :func:`_new_generator`,
    :func:`_training_examples`, the two :class:`_Phases` (pretraining, then fine-tuning with
    early stopping), the held-out losses and :func:`_save_generator`.

    Returns the metrics written to ``<output_dir>/training_metrics.json``: held-out
    promoter loss (bits/base) before and after fine-tuning, with the correct and a wrong tag,
    the oracle's held-out AUROC, steps and wall time.
    """
    started = time.time()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = resolve_device(config.device)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    genome = Genome(config.fasta)
    promoters, family, labels = _tagged_training_promoters(config, genome, log)
    oracle = fit_oracle(promoters, family, seed=config.seed)
    oracle.save(output)
    log(f"oracle: held-out AUROC {labels[-1]} vs {labels[0]} = {oracle.metrics.get('heldout_auroc', float('nan')):.3f}")

    tag_tokens = {family: {label: tag_token(family, label) for label in labels}}
    tokenizer = build_generator_tokenizer([t for f in tag_tokens.values() for t in f.values()])
    vocab = tokenizer.get_vocab()
    model = _new_generator(config, vocab, device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"LlamaForCausalLM, {n_params / 1e6:.2f} M parameters, on {device}")

    examples = _training_examples(promoters, family, labels, vocab, rng, config.validation_fraction)
    metrics = {
        "n_parameters": n_params,
        "family": family,
        "labels": labels,
        "oracle": oracle.metrics,
        "n_train_promoters": examples["n_train"],
        "n_validation_promoters": examples["n_validation"],
        "n_heldout_promoters": examples["n_heldout"],
    }
    phases = _Phases(model, config, device, vocab["<pad>"], examples["validation"], started, log)
    train_chroms = [c for c in genome.chroms if c not in config.held_out_chroms]
    genome_prompt = [vocab["<bos>"], vocab["<genome>"]]
    metrics["pretrain_steps"] = phases.run(
        "pretrain",
        config.pretrain_steps,
        config.learning_rate,
        lambda: _genome_windows(
            genome, train_chroms, config.pretrain_window, config.batch_size, rng, vocab, genome_prompt
        ),
        budget_s=phases.remaining_s(config.pretrain_time_share),
    )
    metrics["heldout_bits_after_pretrain"] = phases.bits(examples["heldout"])

    def finetune_batch():
        picks = rng.integers(0, len(examples["train"]), config.batch_size)
        untagged = rng.random(config.batch_size) < config.unconditional_fraction
        return [examples["untagged"][i] if drop else examples["train"][i] for i, drop in zip(picks, untagged)]

    # the rest of the budget, less a margin for the final held-out losses and saving
    metrics["finetune_steps"] = phases.run(
        "finetune",
        config.finetune_steps,
        config.finetune_learning_rate,
        finetune_batch,
        budget_s=phases.remaining_s(0.95),
        early_stopping=True,
    )
    phases.restore_best()
    metrics["best_finetune_step"] = phases.best["step"]
    metrics["validation_bits"] = phases.best["loss"] * BITS_PER_NAT
    metrics["heldout_bits"] = phases.bits(examples["heldout"])
    metrics["heldout_bits_opposite_tag"] = phases.bits(examples["heldout_opposite_tag"])
    metrics["heldout_bits_untagged"] = phases.bits(examples["heldout_untagged"])
    metrics["wall_s"] = time.time() - started

    _save_generator(output, model, tokenizer, tag_tokens, config, metrics)
    log(
        f"saved to {output}: held-out promoter loss {metrics['heldout_bits']:.3f} bits/token with the true tag, "
        f"{metrics['heldout_bits_opposite_tag']:.3f} with the opposite tag"
    )
    return metrics


def _tagged_training_promoters(config: GeneratorTrainingConfig, genome, log) -> tuple[pd.DataFrame, str, list]:
    """The tagged promoter table, its tag family and the family's labels, lowest first."""
    annotation = Annotation.from_file(config.annotation)
    tag_table = load_tag_table(config.tag_table) if config.tag_table else None
    promoters = tagged_promoters(config, genome, annotation, tag_table)
    family = tag_family_column(tag_table, config.tag_family) if tag_table is not None else DEFAULT_FAMILY
    labels = ordered_labels(promoters.loc[~promoters["held_out"], family])
    log(
        f"{len(promoters):,} tagged promoters ({(~promoters['held_out']).sum():,} training, "
        f"{promoters['held_out'].sum():,} held out); {family} labels {labels}"
    )
    return promoters, family, labels


def _new_generator(config: GeneratorTrainingConfig, vocab: dict, device: torch.device):
    """A freshly initialised ``LlamaForCausalLM`` over ``vocab`` (weights drawn from torch's global seed)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    model_config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<bos>"],
        eos_token_id=vocab["<eos>"],
        rope_theta=10000.0,
    )
    return LlamaForCausalLM(model_config).to(device)


def _training_examples(
    promoters: pd.DataFrame,
    family: str,
    labels: list,
    vocab: dict,
    rng: np.random.Generator,
    validation_fraction: float,
) -> dict:
    """Token rows of every promoter set training needs, and their sizes.

    Keys: ``train`` (tagged), ``untagged`` (the same promoters without tags, for guidance),
    ``validation`` (training-chromosome genes set aside for early stopping, so the held-out
    chromosomes stay unseen by every choice made in training), ``heldout``,
    ``heldout_opposite_tag`` (a conditioning check), ``heldout_untagged``; ``n_train``,
    ``n_validation``, ``n_heldout``.
    """
    train = promoters[~promoters["held_out"]].reset_index(drop=True)
    heldout = promoters[promoters["held_out"]].reset_index(drop=True)
    is_validation = rng.random(len(train)) < validation_fraction
    validation, train = train[is_validation].reset_index(drop=True), train[~is_validation].reset_index(drop=True)
    flipped = heldout.assign(**{family: heldout[family].map(dict(zip(labels, labels[::-1])))})
    return {
        "train": _promoter_rows(train, [family], vocab),
        "untagged": _promoter_rows(train, [], vocab),
        "validation": _promoter_rows(validation, [family], vocab),
        "heldout": _promoter_rows(heldout, [family], vocab),
        "heldout_opposite_tag": _promoter_rows(flipped, [family], vocab),
        "heldout_untagged": _promoter_rows(heldout, [], vocab),
        "n_train": len(train),
        "n_validation": len(validation),
        "n_heldout": len(heldout),
    }


class _Phases:
    """Runs training phases on one model, tracking the best validation loss for early stopping."""

    def __init__(
        self,
        model,
        config: GeneratorTrainingConfig,
        device: torch.device,
        pad: int,
        validation_rows,
        started: float,
        log,
    ):
        self.model, self.config, self.device, self.pad = model, config, device, pad
        self.validation_rows, self.started, self.log = validation_rows, started, log
        self.best = {"loss": float("inf"), "step": 0, "state": None}

    def bits(self, rows) -> float:
        """Mean loss over ``rows`` in bits per token."""
        return _mean_loss(self.model, rows, self.pad, self.device) * BITS_PER_NAT

    def remaining_s(self, share: float) -> float | None:
        """``share`` of the time left before the limit; None without a limit."""
        if not self.config.time_limit_s:
            return None
        return max(0.0, self.config.time_limit_s - (time.time() - self.started)) * share

    def keep_if_best(self, step: int) -> float:
        loss = _mean_loss(self.model, self.validation_rows, self.pad, self.device)
        if loss < self.best["loss"]:
            state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best.update(loss=loss, step=step, state=state)
        return loss

    def restore_best(self) -> None:
        if self.best["state"] is not None:
            self.model.load_state_dict(self.best["state"])

    def run(self, name, steps, learning_rate, next_rows, budget_s=None, early_stopping=False) -> int:
        """Warm-up then cosine decay to 10 % over ``steps`` or, if sooner, over ``budget_s`` seconds;
        returns the steps taken."""
        model, config = self.model, self.config
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.95)
        )
        model.train()
        phase_started = time.time()
        for step in range(1, steps + 1):
            elapsed = time.time() - phase_started
            progress = max(step / steps, elapsed / budget_s if budget_s else 0.0)
            warmup = min(1.0, step / config.warmup_steps)
            scale = warmup * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1))))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * scale
            ids, mask, labels = (t.to(self.device) for t in _batch(next_rows(), self.pad))
            labels[_prompt_token_mask(ids)] = -100
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            out_of_time = budget_s is not None and time.time() - phase_started > budget_s
            if step % config.eval_every == 0 or step == steps or out_of_time:
                checked = self.keep_if_best(step) * BITS_PER_NAT if early_stopping else self.bits(self.validation_rows)
                self.log(
                    f"{name} step {step}/{steps}: train loss {loss.item() * BITS_PER_NAT:.3f} bits/token, "
                    f"validation promoters {checked:.3f} bits/token, {time.time() - self.started:.0f} s"
                )
            if out_of_time:
                self.log(f"{name}: time budget reached at step {step}")
                return step
        return steps


def _save_generator(
    output: Path, model, tokenizer, tag_tokens: dict, config: GeneratorTrainingConfig, metrics: dict
) -> None:
    """The generator folder: weights, tokenizer, generation config, tags, training config and metrics."""
    from transformers import GenerationConfig

    vocab = tokenizer.get_vocab()
    model.eval()
    model.generation_config = GenerationConfig(
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        max_new_tokens=config.upstream,
        min_new_tokens=config.upstream,
        bos_token_id=vocab["<bos>"],
        pad_token_id=vocab["<pad>"],
        use_cache=True,
    )
    with atomic_files_in(output) as staging:  # a kill while saving leaves the folder as it was
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "tags.json").write_text(
            json.dumps(
                {
                    "tag_tokens": tag_tokens,
                    "upstream": config.upstream,
                    "held_out_chroms": list(config.held_out_chroms),
                },
                indent=2,
            )
        )
        (staging / "training_config.json").write_text(json.dumps(asdict(config), indent=2))
        (staging / "training_metrics.json").write_text(json.dumps(metrics, indent=2))
