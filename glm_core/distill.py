"""Distilling a masked LM into a one-pass site model (:mod:`glm_core.onepass`).

The teacher's exact single-site distributions (each base masked alone in its own window,
fwd/RC averaged) cost two 512-bp forward passes per base, over an hour for an 18 Mb genome
on one GPU. The targets used here are cheaper: windows of the teacher's context tile each
training chromosome at a stride of half a window, and in each window one base every
``target_spacing`` bases of its central half is masked at once (``phase`` picks which), so one
forward/RC pair labels ``context / 2 / target_spacing`` bases, each with at least a quarter
window of context on either side. Phases are visited in bit-reversed order and windows in
random order, and labelling stops at ``target_time_limit_s``, so a short budget still labels
bases spread over the whole genome. :func:`target_agreement` measures on held-out sequence how
far these targets are from the exact ones.

The student is trained on the training chromosomes only (the split of
:mod:`glm_core.evaluation`, as the teacher was): loss = ``kl_weight`` x KL(teacher || student)
at labelled bases + ``ce_weight`` x cross-entropy of the true base at every scored base.
Windows of ``window`` bases are drawn uniformly; the first and last ``receptive_field // 2``
bases of a window are not scored, so most scored bases see most of their context. The model
with the lowest held-out bits/base at the periodic evaluations is kept. Everything saved is
safetensors or JSON.
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

from .errors import InputError
from .evaluation import HELD_OUT_CHROMS, sample_eval_positions, site_model_metrics
from .genome import EMBEDDED_FASTA, Genome, nucleotide_codes
from .genome_fingerprint import genome_fingerprint
from .models import AGREEMENT_FILE, MaskedLM, load_masked_lm, resolve_device
from .onepass import OnePassConfig, OnePassForSiteProbabilities, OnePassSiteModel
from .scoring import average_strands, masked_site_probabilities
from .training import encode_genome, learning_rate_at, save_model_folder, valid_window_starts


@dataclass
class DistillationConfig:
    """Everything that defines a distillation run; saved beside the model as JSON."""

    teacher: str
    output_dir: str
    fasta: str = str(EMBEDDED_FASTA)
    held_out_chroms: tuple[str, ...] = HELD_OUT_CHROMS
    # student shape (see OnePassConfig)
    hidden_size: int = 256
    intermediate_size: int = 512
    first_kernel_size: int = 9
    kernel_size: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1, 2, 4, 8)
    head_size: int = 512
    dropout: float = 0.1
    # teacher targets
    target_spacing: int = 32
    target_time_limit_s: float | None = 90.0
    target_max_phases: int | None = None
    teacher_batch_size: int = 512
    agreement_windows: int = 512
    # held-out positions where the best student's LLRs are compared with the teacher's
    # (agreement.json; 0 skips it). None: 4,000 on a GPU, 64 elsewhere (one masked window a base).
    teacher_agreement_positions: int | None = None
    # optimisation
    window: int = 2048
    batch_size: int = 64
    learning_rate: float = 2e-3
    min_learning_rate_ratio: float = 0.05
    weight_decay: float = 0.05
    warmup_steps: int = 300
    max_steps: int = 20_000
    time_limit_s: float | None = None
    kl_weight: float = 1.0
    ce_weight: float = 0.5
    eval_every: int = 500
    eval_fraction: float = 0.02
    seed: int = 0
    compile: bool = False
    device: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.target_spacing < 1:
            raise InputError(f"target_spacing must be at least 1 base; got {self.target_spacing}")
        receptive_field = self.first_kernel_size + (self.kernel_size - 1) * sum(self.dilations)
        if self.window <= 2 * (receptive_field // 2):
            raise InputError(
                f"window {self.window} is too short for a receptive field of {receptive_field} bases; "
                f"use at least {2 * receptive_field} bases"
            )


def _bit_reversed(n: int) -> list[int]:
    """0..n-1 ordered so that every prefix is spread evenly (0, n/2, n/4, 3n/4, ... for powers of 2)."""
    bits = max(1, math.ceil(math.log2(max(n, 2))))
    order = sorted(range(1 << bits), key=lambda v: int(f"{v:0{bits}b}"[::-1], 2))
    return [v for v in order if v < n]


def _masked_window_log_probs(teacher: MaskedLM, windows: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Fwd/RC-averaged log P over A,C,G,T at ``offsets`` (K,) masked at once in every window (B, L): (B, K, 4)."""
    context = windows.shape[1]
    masked = windows.clone()
    masked[:, offsets] = teacher.mask_id
    reverse = teacher.reverse_complement_ids(masked)
    forward_at = offsets.expand(len(windows), -1)
    use_bf16 = windows.device.type == "cuda"
    with torch.inference_mode(), torch.autocast(windows.device.type, dtype=torch.bfloat16, enabled=use_bf16):
        log_p = teacher.nucleotide_log_probs(
            torch.cat([masked, reverse]), torch.cat([forward_at, context - 1 - forward_at])
        )
    forward, backward = log_p.chunk(2)
    return average_strands(forward, backward, log=True)


def _target_windows(chrom_starts: np.ndarray, context: int) -> np.ndarray:
    """Window starts tiling each chromosome at a stride of context/2 (so central halves tile it)."""
    starts = []
    for begin, end in zip(chrom_starts[:-1], chrom_starts[1:]):
        if end - begin >= context:
            starts.append(np.arange(begin, end - context + 1, context // 2))
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def teacher_targets(
    teacher: MaskedLM,
    sequence_ids: np.ndarray,
    chrom_starts: np.ndarray,
    *,
    spacing: int,
    time_limit_s: float | None,
    max_phases: int | None = None,
    batch_size: int = 512,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Strided-mask teacher targets over sequences laid end to end (see the module docstring).

    Parameters
    ----------
    sequence_ids : teacher token ids, shape=(total,), from ``teacher.encode`` of each sequence.
    chrom_starts : offset of each sequence and the total at the end, shape=(n + 1,).

    Returns
    -------
    (log_probs float16 (total, 4) on the teacher's device, zero where unlabelled; labelled
    bool (total,); summary dict with ``labelled``, ``phases_done``, ``seconds``, ``labels_per_s``).
    """
    device = teacher.device
    context = teacher.context
    offsets_in_half = np.arange(0, context // 2, spacing)
    window_starts = _target_windows(chrom_starts, context)
    ids = torch.from_numpy(sequence_ids.astype(np.int64)).to(device)
    log_probs = torch.zeros((len(sequence_ids), 4), dtype=torch.float16, device=device)
    labelled = torch.zeros(len(sequence_ids), dtype=torch.bool, device=device)
    rng = np.random.default_rng(seed)
    span = torch.arange(context, device=device)
    phases = _bit_reversed(spacing)[: max_phases or spacing]
    started = time.perf_counter()
    phases_done = 0.0
    for phase in phases:
        offsets = torch.from_numpy(context // 4 + phase + offsets_in_half).to(device)
        order = rng.permutation(len(window_starts))
        for first in range(0, len(order), batch_size):
            if time_limit_s is not None and time.perf_counter() - started > time_limit_s:
                break
            starts = torch.from_numpy(window_starts[order[first : first + batch_size]]).to(device)
            windows = ids[starts[:, None] + span]
            where = (starts[:, None] + offsets).reshape(-1)
            log_probs[where] = _masked_window_log_probs(teacher, windows, offsets).reshape(-1, 4).half()
            labelled[where] = True
            phases_done += len(starts) / len(order)
        else:
            continue
        break
    seconds = time.perf_counter() - started
    count = int(labelled.sum())
    summary = {
        "labelled": count,
        "fraction_labelled": count / max(1, len(sequence_ids)),
        "phases_done": round(phases_done, 3),
        "seconds": round(seconds, 1),
        "labels_per_s": round(count / max(seconds, 1e-9)),
    }
    log(
        f"teacher targets: {count:,} bases labelled ({summary['fraction_labelled']:.1%}), "
        f"{phases_done:.2f} of {spacing} phases in {seconds:.1f} s ({summary['labels_per_s']:,} bases/s)"
    )
    return log_probs, labelled, summary


def target_agreement(
    teacher: MaskedLM, genome: Genome, chroms: tuple[str, ...], *, spacing: int, n_windows: int = 512, seed: int = 0
) -> dict:
    """How close strided-mask targets are to exact single-site ones, on ``n_windows`` windows of ``chroms``.

    Returns a dict with ``n`` (bases compared), ``median_kl`` / ``p90_kl`` (KL(exact || strided),
    nats), ``llr_pearson`` (of the 3 alternative-base LLRs at each base) and ``agreement``
    (fraction with the same argmax).
    """
    chroms = [c for c in chroms if c in genome.chrom_sizes]
    exact, strided = [], []
    rng = np.random.default_rng(seed)
    context = teacher.context
    per_chrom = max(1, n_windows // max(1, len(chroms)))
    for chrom in chroms:
        sequence = genome.fetch(chrom, 0, genome.chrom_sizes[chrom])
        if len(sequence) < context:
            continue
        ids = teacher.encode(sequence)
        n_starts = len(sequence) - context + 1
        starts = np.sort(rng.choice(n_starts, size=per_chrom, replace=n_starts < per_chrom))
        phase = int(rng.integers(spacing))
        offsets = context // 4 + phase + np.arange(0, context // 2, spacing)
        windows = torch.from_numpy(ids[starts[:, None] + np.arange(context)]).to(teacher.device)
        fast = _masked_window_log_probs(teacher, windows, torch.from_numpy(offsets).to(teacher.device))
        positions = (starts[:, None] + offsets).reshape(-1)
        keep = nucleotide_codes(sequence)[positions] >= 0
        strided.append(fast.reshape(-1, 4).cpu().numpy()[keep])
        exact.append(np.log(np.clip(masked_site_probabilities(teacher, sequence, positions[keep]), 1e-12, 1)))
    exact_lp, strided_lp = np.concatenate(exact).astype(np.float64), np.concatenate(strided).astype(np.float64)
    kl = (np.exp(exact_lp) * (exact_lp - strided_lp)).sum(1)
    reference = exact_lp.argmax(1)  # LLRs against the likeliest base (the genome's base is not needed)
    llr_exact = exact_lp - exact_lp[np.arange(len(reference)), reference][:, None]
    llr_strided = strided_lp - strided_lp[np.arange(len(reference)), reference][:, None]
    alt = np.arange(4)[None, :] != reference[:, None]
    return {
        "n": int(len(kl)),
        "spacing": spacing,
        "median_kl": float(np.median(kl)),
        "p90_kl": float(np.quantile(kl, 0.9)),
        "llr_pearson": float(np.corrcoef(llr_exact[alt], llr_strided[alt])[0, 1]),
        "agreement": float(np.mean(exact_lp.argmax(1) == strided_lp.argmax(1))),
    }


def build_student(config: DistillationConfig) -> OnePassForSiteProbabilities:
    return OnePassForSiteProbabilities(
        OnePassConfig(
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            first_kernel_size=config.first_kernel_size,
            kernel_size=config.kernel_size,
            dilations=tuple(config.dilations),
            head_size=config.head_size,
            dropout=config.dropout,
        )
    )


def _distillation_loss(student, inputs, codes, teacher_log_probs, labelled, margin: int, config) -> tuple:
    """(loss, kl, ce) of one batch; inputs (B, W) token ids, codes (B, W) base 0..3 or -1."""
    log_q = student(input_ids=inputs).logits  # float32 (B, W, 4)
    scored = torch.zeros_like(codes, dtype=torch.bool)
    scored[:, margin : codes.shape[1] - margin] = True
    true_base = scored & (codes >= 0)
    ce = -log_q[true_base].gather(1, codes[true_base][:, None]).mean()
    with_target = scored & labelled
    if with_target.any():
        target = teacher_log_probs[with_target].float()
        kl = (target.exp() * (target - log_q[with_target])).sum(-1).mean()
    else:
        kl = torch.zeros((), device=log_q.device)
    return config.kl_weight * kl + config.ce_weight * ce, kl, ce


def distill(config: DistillationConfig, log: Callable[[str], None] = print) -> dict:
    """Label with the teacher, train the student, keep the best; returns the run's summary.

    ``output_dir`` ends as a ``save_pretrained`` folder of the best student (fp32),
    with ``training_config.json`` and ``training_metrics.json`` beside the weights.
    """
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    genome = Genome(config.fasta)
    missing = [c for c in config.held_out_chroms if c not in genome.chrom_sizes]
    if missing:
        raise InputError(f"held-out chromosomes {missing} are not in {config.fasta}; choose from {genome.chroms}")
    train_chroms = [c for c in genome.chroms if c not in config.held_out_chroms]
    student_ids, _soft, chrom_starts = encode_genome(genome, train_chroms)
    teacher = load_masked_lm(config.teacher, device=device)
    summary = {"device": str(device), "train_bases": int(len(student_ids)), "train_chroms": len(train_chroms)}
    log(f"training on {len(student_ids):,} bases of {len(train_chroms)} sequences; held out {config.held_out_chroms}")

    summary["target_agreement"] = target_agreement(
        teacher,
        genome,
        config.held_out_chroms,
        spacing=config.target_spacing,
        n_windows=config.agreement_windows,
        seed=config.seed,
    )
    log(f"strided targets vs exact single-site on held-out: {summary['target_agreement']}")
    teacher_ids = np.concatenate([teacher.encode(genome.fetch(c, 0, genome.chrom_sizes[c])) for c in train_chroms])
    targets, labelled, summary["targets"] = teacher_targets(
        teacher,
        teacher_ids,
        chrom_starts,
        spacing=config.target_spacing,
        time_limit_s=config.target_time_limit_s,
        max_phases=config.target_max_phases,
        batch_size=config.teacher_batch_size,
        seed=config.seed,
        log=log,
    )
    del teacher, teacher_ids
    if device.type == "cuda":
        torch.cuda.empty_cache()

    student = build_student(config).to(device)
    student.config.training_genome = genome_fingerprint(genome)  # written into every saved config.json
    n_params = sum(p.numel() for p in student.parameters())
    summary["parameters"] = n_params
    log(
        f"student: {n_params / 1e6:.2f} M parameters, receptive field {student.config.receptive_field} bases "
        f"each side, {device}"
    )
    history = _train_student(student, config, device, genome, student_ids, chrom_starts, targets, labelled, log)
    summary["history"] = history
    best = min(history, key=lambda row: row["bits_per_base"]) if history else None
    summary["best"] = best
    (out / "training_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    (out / "training_metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    n_agreement = config.teacher_agreement_positions
    if n_agreement is None:
        n_agreement = 4_000 if device.type == "cuda" else 64
    if n_agreement > 0 and best is not None:
        agreement = measure_teacher_agreement(out, config, genome, device, n_agreement)
        agreement.update(accuracy=round(best["accuracy"], 4), bits_per_base=round(best["bits_per_base"], 4))
        (out / AGREEMENT_FILE).write_text(json.dumps(agreement, indent=2) + "\n")
        log(
            f"agreement with the teacher on {agreement['n']:,} held-out positions: LLR Pearson "
            f"{agreement['llr_pearson']:.3f}, median KL {agreement['median_kl_nats']:.4f} nats"
        )
    return summary


def measure_teacher_agreement(
    folder: Path, config: DistillationConfig, genome: Genome, device: torch.device, n_positions: int
) -> dict:
    """The saved student in ``folder`` against its teacher at ``n_positions`` random held-out bases.

    Returns the ``agreement.json`` fields read by :func:`glm_core.models.teacher_agreement`:
    ``teacher`` (its folder name), ``held_out``, ``n``, ``llr_pearson`` (the three
    alternative-base LLRs log P(alt) - log P(ref) at each base, student vs teacher) and
    ``median_kl_nats`` (KL(teacher || student) per base).
    """
    from .onepass import load_onepass_model
    from .scoring import site_probabilities_at

    sites = sample_eval_positions(genome, config.held_out_chroms, fraction=config.eval_fraction, seed=config.seed + 1)
    rng = np.random.default_rng(config.seed)
    sites = sites.iloc[np.sort(rng.choice(len(sites), size=min(n_positions, len(sites)), replace=False))]
    teacher = load_masked_lm(config.teacher, device=device)
    teacher_p = site_probabilities_at(teacher, genome, sites)
    student_p = site_probabilities_at(load_onepass_model(folder, device=device), genome, sites)
    log_t, log_s = np.log(np.clip(teacher_p, 1e-12, 1)), np.log(np.clip(student_p, 1e-12, 1))
    reference = nucleotide_codes("".join(sites["ref"]))
    rows = np.arange(len(reference))
    alt = np.arange(4)[None, :] != reference[:, None]
    llr_t = (log_t - log_t[rows, reference][:, None])[alt]
    llr_s = (log_s - log_s[rows, reference][:, None])[alt]
    return {
        "teacher": Path(config.teacher).name,
        "held_out": ", ".join(config.held_out_chroms),
        "n": int(len(reference)),
        "llr_pearson": round(float(np.corrcoef(llr_t, llr_s)[0, 1]), 4),
        "median_kl_nats": round(float(np.median((teacher_p * (log_t - log_s)).sum(1))), 4),
    }


def _train_student(student, config, device, genome, student_ids, chrom_starts, targets, labelled, log) -> list[dict]:
    """The optimisation loop; saves the best model (held-out bits/base) to ``output_dir`` at each evaluation.

    Longer than most functions here because the loop, its schedule and its evaluation share state.
    """
    out = Path(config.output_dir)
    code_of_token = np.full(256, -1, dtype=np.int64)
    code_of_token[student.config.base_token_ids] = np.arange(4)
    codes = torch.from_numpy(code_of_token[student_ids]).to(device)
    ids = torch.from_numpy(student_ids.astype(np.int64)).to(device)
    starts = torch.from_numpy(valid_window_starts(chrom_starts, config.window)).to(device)
    span = torch.arange(config.window, device=device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    margin = student.config.receptive_field // 2
    eval_positions = sample_eval_positions(
        genome, config.held_out_chroms, fraction=config.eval_fraction, seed=config.seed + 1
    )
    decay = [p for p in student.parameters() if p.ndim >= 2]
    no_decay = [p for p in student.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(0.9, 0.98),
        fused=device.type == "cuda",
    )
    # Only the network is compiled: its shapes are fixed, the loss's masked selections are not.
    network = torch.compile(student) if config.compile and device.type == "cuda" else student
    history, best_bits, step = [], float("inf"), 0

    def evaluate():
        nonlocal best_bits
        student.eval()
        wrapped = OnePassSiteModel(student, name=out.name, device=device)
        metrics = site_model_metrics(wrapped, genome, eval_positions)
        student.train()
        metrics.update(step=step, elapsed_s=round(time.time() - started, 1))
        history.append(metrics)
        if metrics["bits_per_base"] < best_bits:
            best_bits = metrics["bits_per_base"]
            save_model_folder(student, out)
        log(
            f"step {step}: held-out accuracy {metrics['accuracy']:.4f}, {metrics['bits_per_base']:.4f} bits/base "
            f"({metrics['n']:,} bases)"
        )

    started = time.time()
    student.train()
    window_start, window_steps = time.time(), 0
    while step < config.max_steps:
        elapsed = time.time() - started
        if config.time_limit_s is not None and elapsed > config.time_limit_s:
            log(f"time limit reached at step {step}")
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config, elapsed)
        pick = torch.randint(len(starts), (config.batch_size,), device=device, generator=generator)
        index = starts[pick, None] + span
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss, kl, ce = _distillation_loss(
                network, ids[index], codes[index], targets[index], labelled[index], margin, config
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        step += 1
        window_steps += 1
        if step % 100 == 0 or step == 1:
            rate = window_steps / max(time.time() - window_start, 1e-9)
            log(
                f"step {step}: loss {loss.item():.4f} (KL {kl.item():.4f}, CE {ce.item() / math.log(2):.4f} bits), "
                f"lr {optimizer.param_groups[0]['lr']:.2e}, {rate:.2f} steps/s"
            )
            window_start, window_steps = time.time(), 0
        if step % config.eval_every == 0:
            evaluate()
    if not history or history[-1]["step"] != step:
        evaluate()
    return history


def export_student(folder: str | Path, target: str | Path, model_card: str | None = None) -> None:
    """Copy a trained student into a shippable folder: fp16 safetensors, tokenizer, config, card."""
    import shutil

    from .onepass import load_onepass_model

    folder, target = Path(folder), Path(target)
    loaded = load_onepass_model(folder, device="cpu")
    if target.exists():
        shutil.rmtree(target)
    save_model_folder(loaded.model, target, half=True)
    for extra in ("training_config.json", AGREEMENT_FILE):
        if (folder / extra).is_file():
            shutil.copy(folder / extra, target / extra)
    if model_card:
        (target / "README.md").write_text(model_card)
