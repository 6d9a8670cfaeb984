"""Training a GPN ConvNet masked LM on a FASTA file.

The whole training genome lives on the device as token ids; every batch is cut,
reverse-complemented and masked there, so the GPU never waits on a data loader.

* windows of ``context`` bases drawn uniformly from the training chromosomes, each
  reverse-complemented with probability 1/2;
* 15 % of the A/C/G/T positions are chosen; of those 80 % become [MASK], 10 % a random
  base and 10 % stay (BERT's recipe, the [MASK] share is configurable); the loss is taken
  at the chosen positions only;
* soft-masked (lower-case, repeat) bases weigh ``soft_mask_weight`` in the loss;
* chromosomes named in ``held_out_chroms`` are never trained on; validation tiles them
  with fixed windows and fixed masks, so every evaluation sees the same positions;
* checkpoints (model, optimiser, step, random state) let a run continue where it stopped,
  and the best validation model is kept as a ``save_pretrained`` folder;
* under ``torchrun`` every process trains on its own GPU (data parallel): the batch is split
  across them, gradients are averaged, and only the first process evaluates, saves and logs.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .evaluation import HELD_OUT_CHROMS
from .genome import Genome
from .genome_fingerprint import genome_fingerprint
from .outputs import atomic_folder, atomic_write
from .processes import Processes
from .resume_state import ResumeState, read_resume_state, save_resume_state
from .models import (
    GPN_VOCABULARY,
    build_tokenizer,
    complement_token_table,
    encoder_and_head,
    library_prints_silenced,
)
from .scoring import window_log_probs

_BASE_IDS = np.array([GPN_VOCABULARY.index(b) for b in "acgt"])
_MASK_ID = GPN_VOCABULARY.index("[MASK]")
_UNK_ID = GPN_VOCABULARY.index("[UNK]")


@dataclass
class MLMTrainingConfig:
    """Everything that defines a training run; saved beside the checkpoints as JSON."""

    fasta: str
    output_dir: str
    held_out_chroms: tuple[str, ...] = HELD_OUT_CHROMS
    context: int = 512
    hidden_size: int = 256
    num_hidden_layers: int = 16
    intermediate_size: int = 1024
    hidden_dropout_prob: float = 0.0
    batch_size: int = 256
    learning_rate: float = 1.5e-3
    min_learning_rate_ratio: float = 0.05
    weight_decay: float = 0.01
    warmup_steps: int = 500
    max_steps: int = 8000
    mask_fraction: float = 0.15
    mask_token_fraction: float = 0.8
    soft_mask_weight: float = 0.1
    seed: int = 0
    eval_every: int = 500
    eval_windows: int = 1024
    checkpoint_every: int = 1000
    time_limit_s: float | None = None
    compile: bool = False
    device: str | None = None
    resume_weights: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("mask_fraction", "mask_token_fraction", "soft_mask_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1; got {getattr(self, name)}")


def encode_genome(genome: Genome, chroms: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids and soft-mask flags of ``chroms`` laid end to end.

    Returns (ids uint8 shape=(total,), soft_masked bool shape=(total,), chrom_starts int64
    shape=(len(chroms) + 1,) with the offset of each chromosome and the total at the end).
    """
    byte_to_id = np.full(256, _UNK_ID, dtype=np.uint8)
    for base, token in zip("acgt", _BASE_IDS):
        byte_to_id[ord(base)] = byte_to_id[ord(base.upper())] = token
    pieces, masks, offsets = [], [], [0]
    for chrom in chroms:
        raw = np.frombuffer(genome.fetch(chrom, 0, genome.chrom_sizes[chrom]).encode("ascii"), dtype=np.uint8)
        pieces.append(byte_to_id[raw])
        masks.append(raw >= ord("a"))
        offsets.append(offsets[-1] + len(raw))
    return np.concatenate(pieces), np.concatenate(masks), np.array(offsets, dtype=np.int64)


def gpn_complement_table(device: torch.device) -> torch.Tensor:
    """GPN token id -> id of the complementary base (special tokens map to themselves)."""
    return complement_token_table(_BASE_IDS, len(GPN_VOCABULARY), device)


def valid_window_starts(chrom_starts: np.ndarray, context: int) -> np.ndarray:
    """Starts of windows that lie inside one chromosome, shape=(n,), int64."""
    ranges = [
        np.arange(begin, end - context + 1)
        for begin, end in zip(chrom_starts[:-1], chrom_starts[1:])
        if end - begin >= context
    ]
    if not ranges:
        raise ValueError(f"no sequence is at least {context} bp long; lower the context")
    return np.concatenate(ranges)


class DeviceGenomeSampler:
    """Cuts, reverse-complements and masks training batches on the device."""

    def __init__(
        self,
        ids: np.ndarray,
        soft_masked: np.ndarray,
        starts: np.ndarray,
        config: MLMTrainingConfig,
        device: torch.device,
        generator: torch.Generator,
    ):
        self.ids = torch.from_numpy(ids).to(device)
        self.soft_masked = torch.from_numpy(soft_masked).to(device)
        self.starts = torch.from_numpy(starts).to(device)
        self.offsets = torch.arange(config.context, device=device)
        self.complement = gpn_complement_table(device)
        self.base_ids = torch.as_tensor(_BASE_IDS, device=device)
        self.config = config
        self.generator = generator

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input_ids int64 (B, L), labels int64 (B, L) with -100 where unscored, weights float (B, L))."""
        g, device = self.generator, self.ids.device
        pick = torch.randint(len(self.starts), (batch_size,), device=device, generator=g)
        index = self.starts[pick, None] + self.offsets
        tokens = self.ids[index].long()
        weights = torch.where(self.soft_masked[index], self.config.soft_mask_weight, 1.0)
        flip = torch.rand(batch_size, device=device, generator=g) < 0.5
        tokens = torch.where(flip[:, None], self.complement[tokens].flip(1), tokens)
        weights = torch.where(flip[:, None], weights.flip(1), weights)
        return mask_tokens(
            tokens, weights, self.config.mask_fraction, self.base_ids, g, self.config.mask_token_fraction
        )


def mask_tokens(
    tokens: torch.Tensor,
    weights: torch.Tensor,
    fraction: float,
    base_ids: torch.Tensor,
    generator: torch.Generator | None,
    mask_token_fraction: float = 0.8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT masking of a ``fraction`` of the A/C/G/T positions.

    Of the chosen positions, ``mask_token_fraction`` become [MASK] (BERT: 0.8) and the rest
    are split evenly between a random base and the unchanged base.
    """
    is_base = (tokens >= base_ids.min()) & (tokens <= base_ids.max())
    roll = torch.rand(tokens.shape, device=tokens.device, generator=generator)
    chosen = is_base & (roll < fraction)
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    action = roll / fraction  # uniform in [0, 1) among chosen positions
    random_bases = base_ids[torch.randint(4, tokens.shape, device=tokens.device, generator=generator)]
    random_until = mask_token_fraction + (1 - mask_token_fraction) / 2
    inputs = torch.where(chosen & (action < mask_token_fraction), torch.full_like(tokens, _MASK_ID), tokens)
    inputs = torch.where(chosen & (action >= mask_token_fraction) & (action < random_until), random_bases, inputs)
    return inputs, labels, torch.where(chosen, weights, 0.0)


def heldout_eval_set(
    genome: Genome,
    chroms: tuple[str, ...],
    context: int,
    fraction: float = 0.15,
    max_windows: int | None = None,
    seed: int = 1234,
    mask_token_fraction: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out chromosomes tiled by non-overlapping windows with 15 % of bases chosen for scoring.

    By default every chosen base is replaced by [MASK]. ``mask_token_fraction=0.8`` corrupts
    them as training does (80 % [MASK], 10 % random base, 10 % unchanged), which is what a
    Hugging Face Trainer's evaluation loss measures; one in ten scored bases is then visible,
    so that protocol reads higher than all-[MASK] and is kept only for comparison with
    numbers measured that way.

    Returns (input_ids (W, L), labels (W, L) with -100 where not evaluated), on the CPU.
    The same seed gives the same windows and the same chosen positions under either
    protocol, so runs are comparable.
    """
    ids, _, chrom_starts = encode_genome(genome, [c for c in chroms if c in genome.chrom_sizes])
    starts = np.concatenate(
        [np.arange(begin, end - context + 1, context) for begin, end in zip(chrom_starts[:-1], chrom_starts[1:])]
    )
    if max_windows is not None and len(starts) > max_windows:
        starts = np.sort(np.random.default_rng(seed).choice(starts, max_windows, replace=False))
    tokens = torch.from_numpy(ids[starts[:, None] + np.arange(context)].astype(np.int64))
    inputs, labels, _ = mask_tokens(
        tokens,
        torch.ones(tokens.shape),
        fraction,
        torch.as_tensor(_BASE_IDS),
        torch.Generator().manual_seed(seed),
        mask_token_fraction,
    )
    return inputs, labels


@torch.inference_mode()
def masked_lm_metrics(
    model,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    batch_size: int = 256,
    reverse_complement: bool = True,
) -> dict:
    """Accuracy and bits/base at the masked positions, softmax over A/C/G/T only.

    With ``reverse_complement`` the forward and reverse-complement log-probabilities are
    averaged (:func:`glm_core.scoring.average_strands`, as the app scores); otherwise the
    forward pass alone counts. ``model`` is the bare ``transformers`` masked LM (``.model``
    of a :class:`~glm_core.models.MaskedLM`).
    """
    base_ids = torch.as_tensor(_BASE_IDS, device=device)
    complement = gpn_complement_table(device) if reverse_complement else None
    correct = total = 0
    nats = 0.0
    for first in range(0, len(inputs), batch_size):
        x = inputs[first : first + batch_size].to(device)
        y = labels[first : first + batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            log_p = window_log_probs(model, x, base_ids, complement)
        chosen = y != -100
        target = torch.searchsorted(base_ids, y[chosen])
        scored = log_p[chosen]
        correct += (scored.argmax(-1) == target).sum().item()
        nats -= scored.gather(1, target[:, None]).sum().item()
        total += int(chosen.sum())
    return {"accuracy": correct / total, "bits_per_base": nats / total / math.log(2), "n_masked": total}


def build_model(config: MLMTrainingConfig):
    import gpn
    from gpn.model import GPNConfig, GPNForMaskedLM

    gpn.register_auto_classes("gpn")
    model_config = GPNConfig(
        vocab_size=len(GPN_VOCABULARY),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.hidden_dropout_prob,
        pad_token_id=GPN_VOCABULARY.index("[PAD]"),
    )
    with library_prints_silenced():
        return GPNForMaskedLM(model_config)


def learning_rate_at(step: int, config: MLMTrainingConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to ``min_learning_rate_ratio`` of the peak.

    The decay ends at ``max_steps`` or, when a ``time_limit_s`` is set, at the time limit,
    whichever comes first, so a run cut by its time budget still ends at a low rate.
    """
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    if config.time_limit_s:
        progress = max(progress, min(1.0, elapsed_s / config.time_limit_s))
    floor = config.min_learning_rate_ratio
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_model_folder(model, folder: Path, *, half: bool = False) -> None:
    """``save_pretrained`` folder with safetensors weights and the tokenizer files."""
    folder.mkdir(parents=True, exist_ok=True)
    to_save = model
    if half:
        import copy

        to_save = copy.deepcopy(model).half()
    to_save.save_pretrained(folder, safe_serialization=True)
    build_tokenizer().save_pretrained(folder)


class _MaskedLMLoss(torch.nn.Module):
    """Encoder and MLM head in one forward, so data parallelism sees every parameter used.

    The head runs only at the chosen positions; their number varies from batch to batch,
    which is why only the encoder (fixed shapes) is compiled.
    """

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=inputs).last_hidden_state
        chosen = labels != -100
        logits = self.head(hidden[chosen]).float()
        target_weights = weights[chosen]
        losses = F.cross_entropy(logits, labels[chosen], reduction="none")
        return (losses * target_weights).sum() / target_weights.sum()


def train_mlm(config: MLMTrainingConfig, log: Callable[[str], None] = print) -> dict:
    """Train (or continue training) a GPN ConvNet; returns the last metrics.

    Stops at ``max_steps`` or after ``time_limit_s`` seconds, whichever is first, and
    leaves ``output_dir/checkpoint/`` (safetensors + JSON) to continue from and ``output_dir/best`` (the
    model with the lowest held-out loss so far). Launched by ``torchrun`` with several
    processes, ``batch_size`` windows a step are split evenly across them.
    """
    processes = Processes(config.device)
    try:
        metrics = _train_mlm(config, log if processes.first else (lambda line: None), processes)
        # Leave together: a process that destroys its group while the other still uses it aborts in gloo.
        processes.barrier()
        return metrics
    finally:
        processes.close()


def _training_data(config: MLMTrainingConfig, device: torch.device, processes: Processes, log):
    """The training sampler (with its generator) and the fixed held-out evaluation set."""
    genome = Genome(config.fasta)
    missing = [c for c in config.held_out_chroms if c not in genome.chrom_sizes]
    if missing:
        raise ValueError(f"held-out chromosomes {missing} are not in {config.fasta}; choose from {genome.chroms}")
    train_chroms = [c for c in genome.chroms if c not in config.held_out_chroms]
    if not train_chroms:
        raise InputError(
            f"--held-out names every sequence of {config.fasta} ({len(genome.chroms)}), which leaves "
            "nothing to train on; hold out only some of them"
        )
    ids, soft_masked, chrom_starts = encode_genome(genome, train_chroms)
    # Each process draws its own windows; process 0 draws what a single-process run would.
    generator = torch.Generator(device=device).manual_seed(config.seed + processes.rank)
    sampler = DeviceGenomeSampler(
        ids, soft_masked, valid_window_starts(chrom_starts, config.context), config, device, generator
    )
    eval_inputs, eval_labels = heldout_eval_set(
        genome, config.held_out_chroms, config.context, max_windows=config.eval_windows
    )
    log(
        f"training on {len(ids):,} bases of {len(train_chroms)} sequences; held out {config.held_out_chroms} "
        f"({int((eval_labels != -100).sum()):,} masked bases in {len(eval_inputs)} validation windows)"
    )
    if processes.world > 1:
        log(f"{processes.world} processes, {config.batch_size // processes.world} windows each a step")
    return sampler, generator, eval_inputs, eval_labels


def _optimizer(model, config: MLMTrainingConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(0.9, 0.98),
        eps=1e-8,
        fused=device.type == "cuda",
    )


def _resume(
    config: MLMTrainingConfig,
    model,
    optimizer,
    generator: torch.Generator,
    processes: Processes,
    saved: ResumeState | None,
    log,
) -> tuple[int, float, list, int | None]:
    """Restore the saved state (:mod:`glm_core.resume_state`), or weights without optimiser
    state; returns (step, best_loss, history, rewarm_from), the last None unless the
    learning rate must warm up again."""
    if saved is not None:
        saved.restore(model, optimizer, generator if processes.first else None)
        if not processes.first:  # only the first process's random state is saved
            generator.manual_seed(config.seed + processes.rank + 7919 * saved.step)
        log(f"resumed from step {saved.step} (best held-out loss so far {saved.best_loss:.4f} nats)")
        return saved.step, saved.best_loss, saved.history, None
    if config.resume_weights:
        # Weights without optimiser state (e.g. copied off a machine that was given back):
        # the Adam moments restart, so the learning rate warms up again over a short ramp.
        from safetensors.torch import load_file

        weights_dir = Path(config.resume_weights)
        model.load_state_dict(load_file(weights_dir / "model.safetensors"), strict=False)
        state = json.loads((weights_dir / "trainer_state.json").read_text())
        log(f"continued from weights at step {state['step']}; optimiser state restarts")
        return state["step"], state["best_loss"], state["history"], state["step"]
    return 0, float("inf"), [], None


def _optimizer_step(model, step_loss, optimizer, batch, device: torch.device) -> torch.Tensor:
    """One AdamW step on a batch (input_ids, labels, weights), gradients clipped to norm 1; returns the loss."""
    inputs, labels, weights = batch
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss = step_loss(inputs, labels, weights)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss


def _save_checkpoint(
    out: Path, model, optimizer, generator: torch.Generator, step: int, best_loss: float, history: list
) -> None:
    """``checkpoint/`` to continue from (:mod:`glm_core.resume_state`, no pickles) and the
    ``latest`` model folder, each replaced whole."""
    save_resume_state(out, model, optimizer, generator, step, best_loss, history)
    with atomic_folder(out / "latest") as latest:
        save_model_folder(model, latest)
        (latest / "trainer_state.json").write_text(
            json.dumps({"step": step, "best_loss": best_loss, "history": history})
        )


def _train_mlm(config: MLMTrainingConfig, log: Callable[[str], None], processes: Processes) -> dict:
    """The training loop; its steps are :func:`_training_data`, :func:`_optimizer`,
    :func:`_resume`, then :func:`_optimizer_step` a batch with evaluation and
    :func:`_save_checkpoint` between. It stays one function (about 90 lines) because the loop's
    state (step, clock, best loss, processes) is shared by every step and reads best in one place."""
    if config.batch_size % processes.world:
        raise ValueError(
            f"a batch of {config.batch_size} windows does not split evenly across "
            f"{processes.world} processes; choose a multiple of {processes.world}"
        )
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = processes.device
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    saved = read_resume_state(out)  # a damaged or unsafe checkpoint is refused before any work
    sampler, generator, eval_inputs, eval_labels = _training_data(config, device, processes, log)
    model = build_model(config).to(device)
    # Every saved config.json (latest, best, the export) names the genome the model learnt.
    model.config.training_genome = genome_fingerprint(Genome(config.fasta))
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = _optimizer(model, config, device)
    step, best_loss, history, rewarm_from = _resume(config, model, optimizer, generator, processes, saved, log)
    if processes.first:
        atomic_write(out / "training_config.json", json.dumps(asdict(config), indent=2))
    log(f"{n_params / 1e6:.2f} M parameters on {device}")

    encoder, head = encoder_and_head(model)
    step_loss = _MaskedLMLoss(torch.compile(encoder) if config.compile else encoder, head)
    if processes.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step_loss = DistributedDataParallel(step_loss, device_ids=[device] if device.type == "cuda" else None)
    local_batch = config.batch_size // processes.world

    def save_checkpoint():
        if processes.first:
            _save_checkpoint(out, model, optimizer, generator, step, best_loss, history)

    def evaluate():
        nonlocal best_loss
        if not processes.first:
            return None
        model.eval()
        metrics = masked_lm_metrics(model, eval_inputs, eval_labels, device, reverse_complement=False)
        model.train()
        metrics.update(step=step, elapsed_s=round(time.time() - started, 1))
        history.append(metrics)
        loss = metrics["bits_per_base"] * math.log(2)
        if loss < best_loss:
            best_loss = loss
            with atomic_folder(out / "best") as best:
                save_model_folder(model, best)
        log(f"step {step}: held-out accuracy {metrics['accuracy']:.4f}, {metrics['bits_per_base']:.4f} bits/base")
        return metrics

    started = time.time()
    model.train()
    window_steps, window_start = 0, time.time()
    while step < config.max_steps:
        # the slowest clock decides, so every process sets the same rate and stops together
        elapsed = processes.max(time.time() - started)
        if config.time_limit_s is not None and elapsed > config.time_limit_s:
            log(f"time limit reached at step {step}")
            break
        ramp = 1.0 if rewarm_from is None else min(1.0, (step - rewarm_from + 1) / 200)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config, elapsed) * ramp
        loss = _optimizer_step(model, step_loss, optimizer, sampler.batch(local_batch), device)
        step += 1
        window_steps += 1
        if step % 200 == 0:
            rate = window_steps / (time.time() - window_start)
            log(f"step {step}: loss {loss.item():.4f}, lr {optimizer.param_groups[0]['lr']:.2e}, {rate:.2f} steps/s")
            window_steps, window_start = 0, time.time()
        if step % config.eval_every == 0:
            evaluate()
            processes.barrier()
        if step % config.checkpoint_every == 0:
            save_checkpoint()
            processes.barrier()
    metrics = history[-1] if history and history[-1]["step"] == step else evaluate()
    save_checkpoint()
    processes.check_replicas_agree(model)
    if processes.world > 1:
        log("data-parallel replicas agree")
    return processes.from_first(metrics)
