"""Per-position predictions of masked models, and the SNV log-likelihood ratios built on them.

One primitive, :func:`masked_site_probabilities`, masks each requested position in its
own context window and runs forward and reverse-complement windows through the model
in large batches. Logos, LLR scans, VCF scoring, tracks and benchmarks all call it, so
speed work lands in one place.

Conventions: positions inside ``glm_core`` tables are 0-based (column ``pos``); files
and the UI add 1. Probabilities are over A, C, G, T in that column order; LLRs are
natural logarithms, ``log P(alt) - log P(ref)``, as in GPN.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import pandas as pd
import torch

from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .models import MaskedLM, default_batch_size

Progress = Callable[[int, int], None]

# Reversing the A,C,G,T column order complements each column (A<->T, C<->G).
COMPLEMENT_COLUMNS = np.array([3, 2, 1, 0])


class SiteModel(Protocol):
    """Anything that predicts a base from its context: a masked LM, the k-mer baseline."""

    name: str
    context_flank: int

    def sequence_site_probabilities(
        self, sequence: str, positions: np.ndarray, *, batch_size: int | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """P(base | rest) over A,C,G,T for 0-based ``positions`` of ``sequence``, fwd/RC averaged.

        Returns shape=(len(positions), 4); rows sum to 1.
        """


def _window_starts(positions: np.ndarray, sequence_length: int, context: int) -> np.ndarray:
    """Window starts that centre each position where the sequence allows (clipped at its ends)."""
    return np.clip(positions - context // 2, 0, max(sequence_length - context, 0))


def complement_ids(model: MaskedLM) -> torch.Tensor:
    """Token id -> id of the complementary base (special tokens map to themselves)."""
    table = np.arange(model.vocab_size)
    table[model.nucleotide_ids] = model.nucleotide_ids[COMPLEMENT_COLUMNS]
    return torch.from_numpy(table).to(model.device)


def _nucleotide_log_probs(model: MaskedLM, windows: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """log P over A,C,G,T at one masked offset per window, shape=(n, 4), float32."""
    net = model.model
    rows = torch.arange(len(windows), device=windows.device)
    if hasattr(net, "cls") and hasattr(net, "model"):
        # GPN: run the MLM head only where a base was masked, not on all 512 positions.
        hidden = net.model(input_ids=windows).last_hidden_state[rows, offsets]
        logits = net.cls(hidden)
    else:
        logits = net(input_ids=windows).logits[rows, offsets]
    nucleotide_ids = torch.as_tensor(model.nucleotide_ids, device=windows.device)
    return torch.log_softmax(logits[:, nucleotide_ids].float(), dim=-1)


def masked_site_probabilities(
    model: MaskedLM,
    sequence: str,
    positions: np.ndarray | None = None,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """P(x_i | x_-i) over A,C,G,T, each position masked alone in its own window.

    Parameters
    ----------
    sequence : DNA, including whatever flanking context should be visible.
    positions : 0-based positions in ``sequence`` to score; all of them when None.
    batch_size : windows per forward pass (each pass runs it forward and reverse-complemented).

    Returns
    -------
    np.ndarray, shape=(len(positions), 4), float32: the forward and reverse-complement
    log-probabilities averaged, then renormalised. LLRs taken from these equal the mean of
    the forward and reverse-complement LLRs, as GPN computes them.
    """
    positions = np.arange(len(sequence)) if positions is None else np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if positions.min() < 0 or positions.max() >= len(sequence):
        raise ValueError(f"positions must lie in 0..{len(sequence) - 1}; got {positions.min()}..{positions.max()}")
    context = model.context
    device = model.device
    ids = model.encode(sequence)
    if len(ids) < context:
        ids = np.concatenate([ids, np.full(context - len(ids), model.pad_id, dtype=ids.dtype)])
    starts = _window_starts(positions, len(sequence), context)
    ids_on_device = torch.from_numpy(ids).to(device)
    all_windows = ids_on_device.unfold(0, context, 1)
    complement = complement_ids(model)
    batch_size = batch_size or default_batch_size(device, context)
    use_bf16 = device.type == "cuda"
    out = np.empty((len(positions), 4), dtype=np.float32)
    for first in range(0, len(positions), batch_size):
        chunk = slice(first, first + batch_size)
        start_t = torch.from_numpy(starts[chunk]).to(device)
        offsets = torch.from_numpy(positions[chunk] - starts[chunk]).to(device)
        windows = all_windows[start_t].clone()
        windows[torch.arange(len(windows), device=device), offsets] = model.mask_id
        reverse = complement[windows].flip(1)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            log_probs = _nucleotide_log_probs(
                model, torch.cat([windows, reverse]), torch.cat([offsets, context - 1 - offsets])
            )
        forward, backward = log_probs.chunk(2)
        averaged = torch.softmax((forward + backward[:, COMPLEMENT_COLUMNS]) / 2, dim=-1)
        out[chunk] = averaged.cpu().numpy()
        if progress is not None:
            progress(min(first + batch_size, len(positions)), len(positions))
    return out


def minus_strand(probabilities: np.ndarray) -> np.ndarray:
    """Plus-strand rows -> the minus strand read 5'->3': rows reversed, A<->T and C<->G.

    Exact for fwd/RC-averaged predictions, so the second strand of a region costs nothing.
    """
    return probabilities[::-1, COMPLEMENT_COLUMNS].copy()


def site_probabilities(
    model: SiteModel,
    genome: Genome,
    chrom: str,
    start: int,
    end: int,
    strand: str = "+",
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Per-position base probabilities for ``[start, end)`` (0-based half-open) of ``chrom``.

    Each position sees up to ``model.context_flank`` bases either side (fewer at the
    chromosome ends, where the window is clipped, then padded). For ``strand='-'`` the
    rows run 5'->3' on the minus strand and the columns are the minus-strand bases, so
    the result equals the complemented, reversed plus-strand result.

    Returns shape=(end - start, 4), columns A, C, G, T.
    """
    genome.check_interval(chrom, start, end)
    flank = model.context_flank
    fetch_start = max(0, start - flank)
    fetch_end = min(genome.chrom_sizes[chrom], end + flank)
    sequence = genome.fetch(chrom, fetch_start, fetch_end)
    positions = np.arange(start - fetch_start, end - fetch_start)
    probabilities = model.sequence_site_probabilities(sequence, positions, batch_size=batch_size, progress=progress)
    return minus_strand(probabilities) if strand == "-" else probabilities


def entropy_bits(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy of each row in bits, shape=(n,)."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log2(p)).sum(axis=-1)


def information_content(probabilities: np.ndarray) -> np.ndarray:
    """2 - entropy (bits): 2 for a certain base, 0 for a uniform guess."""
    return 2.0 - entropy_bits(probabilities)


def snv_llr(probabilities: np.ndarray, reference_codes: np.ndarray) -> np.ndarray:
    """``log P(alt) - log P(ref)`` for every base at every position, natural log.

    Parameters
    ----------
    probabilities : shape=(n, 4), columns A, C, G, T.
    reference_codes : shape=(n,), 0..3 for A..T, -1 where the reference is not A/C/G/T.

    Returns shape=(n, 4): 0 in the reference column, NaN on rows without a reference base.
    """
    log_p = np.log(np.clip(probabilities, 1e-12, 1.0))
    reference_codes = np.asarray(reference_codes)
    valid = reference_codes >= 0
    llr = np.full(log_p.shape, np.nan, dtype=np.float64)
    rows = np.flatnonzero(valid)
    llr[rows] = log_p[rows] - log_p[rows, reference_codes[rows]][:, None]
    return llr


def probability_table(chrom: str, start: int, reference: str, probabilities: np.ndarray) -> pd.DataFrame:
    """Per-position table for a plus-strand interval starting at 0-based ``start``.

    Columns: chrom, pos (0-based), ref, pA, pC, pG, pT, p_ref (NaN for N), entropy, ic (bits).
    """
    codes = nucleotide_codes(reference)
    p_ref = np.where(codes >= 0, probabilities[np.arange(len(codes)), np.maximum(codes, 0)], np.nan)
    table = pd.DataFrame(
        {
            "chrom": chrom,
            "pos": np.arange(start, start + len(reference)),
            "ref": list(reference.upper()),
        }
    )
    for column, base in enumerate(NUCLEOTIDES):
        table[f"p{base}"] = probabilities[:, column]
    table["p_ref"] = p_ref
    table["entropy"] = entropy_bits(probabilities)
    table["ic"] = 2.0 - table["entropy"]
    return table


def snv_table(chrom: str, start: int, reference: str, probabilities: np.ndarray) -> pd.DataFrame:
    """Every possible SNV of a plus-strand interval with its LLR.

    Columns: chrom, pos (0-based), ref, alt (plus-strand bases), llr (natural log).
    Positions whose reference is not A/C/G/T are left out.
    """
    codes = nucleotide_codes(reference)
    llr = snv_llr(probabilities, codes)
    rows, alts = np.nonzero((codes[:, None] >= 0) & (np.arange(4)[None, :] != codes[:, None]))
    bases = np.array(list(NUCLEOTIDES))
    return pd.DataFrame(
        {
            "chrom": chrom,
            "pos": start + rows,
            "ref": bases[codes[rows]],
            "alt": bases[alts],
            "llr": llr[rows, alts],
        }
    )
