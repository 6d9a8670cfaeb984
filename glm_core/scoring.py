"""Where a model meets DNA: the site-model contract and the primitives built on it.

The contract
------------
A *site model* is anything that satisfies :class:`SiteModel`: a ``name``, a ``kind``
(``"masked"``, ``"one-pass"`` or ``"k-mer"``), a ``context_flank`` and one method,
``sequence_site_probabilities(sequence, positions, *, batch_size=None, progress=None)``,
returning P(base | context) over A, C, G, T, shape=(len(positions), 4), forward and
reverse-complement averaged. The masked LM (:class:`glm_core.models.MaskedLM`), the k-mer
baseline (:class:`glm_core.kmer.KmerModel`) and any one-pass model plug in here; logos,
scans, VCF scoring, evaluation and benchmarks reach a model only through the primitives
below, so a new model needs no other module to change.

The primitives
--------------
* :func:`site_probabilities`: a contiguous region ``[start, end)`` of a chromosome.
* :func:`site_probabilities_at`: scattered positions (a ``chrom, pos`` table).
* :func:`every_snv`: every possible SNV of scored positions, with its LLR.
* :func:`average_strands`: the one forward / reverse-complement average.
* :func:`masked_site_probabilities`: a masked LM's ``sequence_site_probabilities``: each
  position masked alone in its own window, forward and reverse-complement windows run in
  large batches, so speed work lands in one place.

Conventions: positions inside ``glm_core`` tables are 0-based (column ``pos``); files
and the UI add 1. Probabilities are over A, C, G, T in that column order; LLRs are
natural logarithms, ``log P(alt) - log P(ref)``, as in GPN. Long functions take
``progress(done, total)``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .genome import NUCLEOTIDES, Genome, nucleotide_codes

if TYPE_CHECKING:
    from .models import MaskedLM

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called by long computations after each step."""

SITE_MODEL_KINDS = ("masked", "one-pass", "k-mer")

# Reversing the A,C,G,T column order complements each column (A<->T, C<->G).
COMPLEMENT_COLUMNS = np.array([3, 2, 1, 0])

# On CUDA, regions of at least this many positions run a compiled encoder (compiling costs
# tens of seconds once a process and batch shape, which shorter regions would not win back).
COMPILE_MIN_POSITIONS = 32_768

# Scattered positions closer than this (plus the model's context) share one fetched sequence.
JOIN_GAP = 10_000


class SiteModel(Protocol):
    """THE contract of a model that predicts a base from its context.

    Attributes
    ----------
    name : shown to users and written into outputs.
    kind : one of :data:`SITE_MODEL_KINDS`: ``"masked"`` (one forward pass per scored
        position, e.g. GPN), ``"one-pass"`` (every position of a window from one pass),
        ``"k-mer"`` (counts).
    context_flank : bases either side of a position that the model can see; the primitives
        fetch this much genome around what they score (clipped at chromosome ends).
    """

    name: str
    kind: str
    context_flank: int

    def sequence_site_probabilities(
        self, sequence: str, positions: np.ndarray, *, batch_size: int | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """P(base | rest) over A,C,G,T for 0-based ``positions`` of ``sequence``, fwd/RC averaged.

        ``batch_size`` bounds memory only: results must not depend on it. ``progress`` is
        called as ``progress(positions_done, positions_total)``.

        Returns shape=(len(positions), 4); rows sum to 1.
        """


def default_batch_size(device: torch.device, context: int) -> int:
    """Windows a forward batch holds: big on a GPU (scaled to its free memory), small on CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # Inference activations of a hidden-256..512 convnet stay under ~4 kB per base in bf16.
        per_window = context * 4096
        return int(np.clip(free * 0.5 // per_window, 64, 4096))
    if device.type == "mps":
        return 64
    return 16


def average_strands(forward: torch.Tensor, reverse: torch.Tensor, *, log: bool = False) -> torch.Tensor:
    """The forward / reverse-complement average of log-probabilities over A, C, G, T.

    Parameters
    ----------
    forward : log P of the plus-strand bases, shape=(..., 4).
    reverse : log P read on the reverse complement at the same positions (rows already
        aligned to ``forward``), columns the minus-strand bases A, C, G, T, shape=(..., 4).
    log : return log-probabilities instead of probabilities.

    Returns the renormalised mean, shape=(..., 4), plus-strand columns. LLRs taken from it
    equal the mean of the forward and reverse-complement LLRs, as GPN computes them.
    """
    mean = (forward + reverse[..., COMPLEMENT_COLUMNS]) / 2
    return torch.log_softmax(mean, dim=-1) if log else torch.softmax(mean, dim=-1)


def window_log_probs(
    net: torch.nn.Module, windows: torch.Tensor, nucleotide_ids: torch.Tensor, complement: torch.Tensor | None = None
) -> torch.Tensor:
    """log P over A,C,G,T at every position of token windows, from one pass of a masked LM.

    For held-out metrics during training, where the network is a bare ``transformers``
    masked LM (``net(input_ids=...).logits``) rather than a :class:`~glm_core.models.MaskedLM`.

    Parameters
    ----------
    windows : token ids, shape=(batch, length), already masked where they are to be scored.
    nucleotide_ids : token ids of A, C, G, T, shape=(4,).
    complement : token id -> complementary id (:func:`glm_core.models.complement_token_table`);
        when given, the reverse-complement windows are run too and :func:`average_strands` taken.

    Returns float32, shape=(batch, length, 4).
    """
    log_p = torch.log_softmax(net(input_ids=windows).logits[..., nucleotide_ids].float(), -1)
    if complement is None:
        return log_p
    reverse = torch.log_softmax(net(input_ids=complement[windows].flip(1)).logits[..., nucleotide_ids].float(), -1)
    return average_strands(log_p, reverse.flip(1), log=True)


def window_starts(positions: np.ndarray, sequence_length: int, context: int) -> np.ndarray:
    """Start of the ``context``-long window each 0-based position is scored in: centred on it
    where the sequence allows, clipped at its ends; shape=(len(positions),)."""
    return np.clip(positions - context // 2, 0, max(sequence_length - context, 0))


class _MaskedScorer(torch.nn.Module):
    """log P over A,C,G,T at one masked offset a window, as one module that ``torch.compile``
    can trace whole (the encoder, the gather of the masked positions and the MLM head)."""

    def __init__(self, model: MaskedLM):
        super().__init__()
        self.net = model.model
        self.register_buffer("nucleotide_ids", torch.as_tensor(model.nucleotide_ids, device=model.device))

    def forward(self, windows: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(windows.shape[0], device=windows.device)
        on_cuda = windows.device.type == "cuda"
        with torch.autocast(windows.device.type, dtype=torch.bfloat16, enabled=on_cuda):
            if hasattr(self.net, "cls") and hasattr(self.net, "model"):
                logits = self.net.cls(self.net.model(input_ids=windows).last_hidden_state[rows, offsets])
            else:
                logits = self.net(input_ids=windows).logits[rows, offsets]
        return torch.log_softmax(logits[:, self.nucleotide_ids].float(), dim=-1)


def compiled_scorer(model: MaskedLM) -> torch.nn.Module:
    """The model's compiled :class:`_MaskedScorer`, built once a process (static shapes, so
    inductor specialises on the one batch shape :func:`masked_site_probabilities` feeds it)."""
    scorer = getattr(model, "_compiled_scorer", None)
    if scorer is None:
        scorer = torch.compile(_MaskedScorer(model).eval(), dynamic=False)
        model._compiled_scorer = scorer
    return scorer


def use_compiled_path(device: torch.device, n_positions: int) -> bool:
    """The automatic choice: CUDA only (CPU outputs stay those of the eager path, bit for bit),
    regions of :data:`COMPILE_MIN_POSITIONS` or more, and not disabled by
    ``GLM_EXPLORER_COMPILE=0``."""
    if device.type != "cuda" or n_positions < COMPILE_MIN_POSITIONS:
        return False
    return os.environ.get("GLM_EXPLORER_COMPILE", "1").strip().lower() not in {"0", "false", "no"}


def masked_site_probabilities(
    model: MaskedLM,
    sequence: str,
    positions: np.ndarray | None = None,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    compiled: bool | None = None,
) -> np.ndarray:
    """P(x_i | x_-i) over A,C,G,T, each position masked alone in its own window.

    Parameters
    ----------
    sequence : DNA, including whatever flanking context should be visible.
    positions : 0-based positions in ``sequence`` to score; all of them when None.
    batch_size : windows per forward pass (each pass runs it forward and reverse-complemented).
    compiled : run the ``torch.compile``-d encoder (CUDA only; every batch padded to
        ``batch_size`` so it compiles once). None chooses by :func:`use_compiled_path`.

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
    if compiled is None:
        compiled = use_compiled_path(device, len(positions))
    elif compiled and device.type != "cuda":
        raise InputError(f"the compiled masked path runs on CUDA only; this model is on {device.type}")
    ids = model.encode(sequence)
    if len(ids) < context:
        ids = np.concatenate([ids, np.full(context - len(ids), model.pad_id, dtype=ids.dtype)])
    starts = window_starts(positions, len(sequence), context)
    ids_on_device = torch.from_numpy(ids).to(device)
    all_windows = ids_on_device.unfold(0, context, 1)
    batch_size = batch_size or default_batch_size(device, context)
    scorer = compiled_scorer(model) if compiled else None
    use_bf16 = device.type == "cuda"
    out = np.empty((len(positions), 4), dtype=np.float32)
    for first in range(0, len(positions), batch_size):
        chunk = slice(first, first + batch_size)
        chunk_starts, chunk_offsets = starts[chunk], positions[chunk] - starts[chunk]
        n = len(chunk_starts)
        if scorer is not None and n < batch_size:  # pad to the one compiled shape; padding rows are dropped
            chunk_starts = np.resize(chunk_starts, batch_size)
            chunk_offsets = np.resize(chunk_offsets, batch_size)
        start_t = torch.from_numpy(chunk_starts).to(device)
        offsets = torch.from_numpy(chunk_offsets).to(device)
        windows = all_windows[start_t].clone()
        windows[torch.arange(len(windows), device=device), offsets] = model.mask_id
        reverse = model.reverse_complement_ids(windows)
        both_windows, both_offsets = torch.cat([windows, reverse]), torch.cat([offsets, context - 1 - offsets])
        with torch.inference_mode():
            if scorer is not None:
                log_probs = scorer(both_windows, both_offsets)
            else:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    log_probs = model.nucleotide_log_probs(both_windows, both_offsets)
        forward, backward = log_probs.chunk(2)
        averaged = average_strands(forward, backward)
        out[chunk] = averaged[:n].cpu().numpy()
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


def _spans(sorted_positions: np.ndarray, flank: int, max_span: int) -> list[tuple[int, int]]:
    """Split sorted positions into runs fetched together: a new run starts after a gap of more
    than ``2 * flank + JOIN_GAP`` bases, or where a run would span more than ``max_span``.

    Returns (first, last) index pairs, half-open, into ``sorted_positions``.
    """
    breaks = np.flatnonzero(np.diff(sorted_positions) > 2 * flank + JOIN_GAP) + 1
    spans = []
    for run in np.split(np.arange(len(sorted_positions)), breaks):
        first = run[0]
        while first <= run[-1]:
            last = first + np.searchsorted(sorted_positions[first : run[-1] + 1], sorted_positions[first] + max_span)
            spans.append((first, last))
            first = last
    return spans


def site_probabilities_at(
    model: SiteModel,
    genome: Genome,
    positions: pd.DataFrame,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    max_span: int = 1_000_000,
) -> np.ndarray:
    """P(base | context) at scattered genomic positions, plus strand.

    Positions are grouped into runs; each run is fetched once with
    ``model.context_flank`` bases either side (clipped at the chromosome ends) and
    passed to ``model.sequence_site_probabilities``.

    Parameters
    ----------
    positions : DataFrame with ``chrom`` and ``pos`` (0-based); other columns are ignored.
    max_span : longest stretch of genome fetched for one call.

    Returns
    -------
    np.ndarray, shape=(len(positions), 4), columns A, C, G, T, in the row order of ``positions``.
    """
    out = np.empty((len(positions), 4), dtype=np.float64)
    if len(positions) == 0:
        return out
    flank = int(model.context_flank)
    total = len(positions)
    done = 0
    chroms = positions["chrom"].to_numpy()
    pos = positions["pos"].to_numpy(dtype=np.int64)
    for chrom in pd.unique(chroms):
        rows = np.flatnonzero(chroms == chrom)
        order = rows[np.argsort(pos[rows], kind="stable")]
        chrom_pos = pos[order]
        length = genome.chrom_sizes.get(chrom)
        if length is None:
            raise InputError(f"chromosome {chrom!r} of the positions table is not in {genome.path.name}")
        if chrom_pos[0] < 0 or chrom_pos[-1] >= length:
            raise ValueError(
                f"positions on {chrom} must lie in 0..{length - 1} (0-based); got {chrom_pos[0]}..{chrom_pos[-1]}"
            )
        for first, last in _spans(chrom_pos, flank, max_span):
            start = max(0, int(chrom_pos[first]) - flank)
            end = min(length, int(chrom_pos[last - 1]) + flank + 1)
            sequence = genome.fetch(chrom, start, end)
            inner = None
            if progress is not None:
                offset = done

                def inner(step_done: int, _step_total: int, offset: int = offset) -> None:
                    progress(offset + step_done, total)

            out[order[first:last]] = model.sequence_site_probabilities(
                sequence, chrom_pos[first:last] - start, batch_size=batch_size, progress=inner
            )
            done += int(last - first)
            if progress is not None:
                progress(done, total)
    return out


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


def every_snv(chroms, positions, reference_codes: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """Every possible SNV at scored positions, with its LLR: three rows per A/C/G/T position.

    Parameters
    ----------
    chroms : chromosome of each position, a name or shape=(n,).
    positions : 0-based positions, shape=(n,).
    reference_codes : plus-strand reference codes 0..3 (A..T), -1 where not A/C/G/T, shape=(n,).
    probabilities : plus-strand predictions, shape=(n, 4), columns A, C, G, T.

    Returns
    -------
    DataFrame with columns chrom, pos (0-based), ref, alt (plus-strand bases), llr (natural
    log), position by position and alt in A, C, G, T order; positions whose reference is not
    A/C/G/T are left out.
    """
    codes = np.asarray(reference_codes)
    llr = snv_llr(probabilities, codes)
    rows, alts = np.nonzero((codes[:, None] >= 0) & (np.arange(4)[None, :] != codes[:, None]))
    bases = np.array(list(NUCLEOTIDES))
    chroms = chroms if isinstance(chroms, str) else np.asarray(chroms)[rows]
    return pd.DataFrame(
        {
            "chrom": chroms,
            "pos": np.asarray(positions)[rows],
            "ref": bases[codes[rows]],
            "alt": bases[alts],
            "llr": llr[rows, alts],
        }
    )


def snv_table(chrom: str, start: int, reference: str, probabilities: np.ndarray) -> pd.DataFrame:
    """Every possible SNV of a plus-strand interval starting at 0-based ``start``, with its LLR.

    :func:`every_snv` of the interval: columns chrom, pos (0-based), ref, alt (plus-strand
    bases), llr (natural log); positions whose reference is not A/C/G/T are left out.
    """
    return every_snv(chrom, np.arange(start, start + len(reference)), nucleotide_codes(reference), probabilities)
