"""Nucleotide dependency maps: how substituting one base changes a model's prediction at another.

Definition
----------
This implements the nucleotide dependency of Tomaz da Silva et al. (2024, "Nucleotide
dependency analysis of DNA language models reveals genomic functional elements"). For a
region of ``L`` bases, each *query* base ``i`` is replaced by each of its three
alternatives ``b``, every *target* base ``j`` of the region is scored again, and

    dependency(i, j) = max over b != ref_i, over n in {A, C, G, T} of
                       | logit P_b(x_j = n) - logit P(x_j = n) |,     logit p = log(p / (1 - p))

with ``P`` the prediction on the reference sequence and ``P_b`` the prediction with base
``i`` replaced by ``b`` (natural logarithms). Probabilities are clipped to
``[LOG_ODDS_CLIP, 1 - LOG_ODDS_CLIP]`` before taking log-odds, so that a float32 probability
of exactly 0 or 1 gives a finite change. The diagonal is NaN: a site model never sees the
base it predicts, so ``dependency(i, i)`` is undefined (the paper masks it too). Rows of
query bases that are not A/C/G/T (``N``) are NaN.

Predictions are those of the site-model contract (:class:`glm_core.scoring.SiteModel`):
forward and reverse-complement averaged, as for logos. Because the maximum over the four
bases does not change when the bases are complemented, the map of the minus strand is the
plus-strand map read in the other direction, and the map of a reverse-complemented sequence
is the mirrored map (both checked in ``tests/test_dependency.py``).

Orientation and coordinates
---------------------------
Rows are query bases ``i``, columns target bases ``j``, both in the region's 5'->3' order on
its strand (descending genomic positions for ``-``), as in a logo's position table.
``DependencyMap.positions`` holds their 0-based genomic positions; files write them 1-based.

Cost and limits
---------------
A map scores ``3 L`` variant sequences. A base only changes predictions within the model's
``context_flank`` of it, so when the fetched sequence holds the full flank on both sides
only those targets are scored again (the others are copied from the reference, exactly);
near a sequence end, where windows are clipped, every target is scored again. With full
flanks the variant sequences are also laid end to end, up to :data:`PACKED_SEQUENCES` in one
scoring call (exact, since no target sees past its own copy). A masked
model pays for each scored target, a one-pass model for the bases each substitution reaches
(its substitution method, below; without one, for each whole sequence). Regions are limited
to :data:`MAX_GPU_BP` on a GPU, :data:`MAX_CPU_BP` on a CPU, and for masked models on a CPU
to what :data:`CPU_TIME_BUDGET_S` allows by the estimate of :func:`estimate_dependency_seconds`
(a small probe timed on the current device, then extrapolated).

Models may offer faster methods, used when present (duck typing), in this order:

* ``substitution_site_probabilities(sequence, substitutions, positions, *, batch_size=None,
  progress=None)``, substitutions shape=(n, 2) of (position, base code), returning
  shape=(n, len(positions), 4): the one-pass model
  (:meth:`glm_core.onepass.OnePassSiteModel.substitution_site_probabilities`) reuses its
  reference streams and recomputes only what each substitution reaches: a 200-bp map takes
  8.9 s instead of 75 s on a 2-core CPU (``docs/BENCHMARKS.md``);
* ``sequences_site_probabilities(sequences, positions, *, batch_size=None, progress=None)``
  returning shape=(len(sequences), len(positions), 4).

Never imports Streamlit.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import NUCLEOTIDES, Genome, nucleotide_codes, reverse_complement

Progress = Callable[[int, int], None]

MAX_GPU_BP = 500
MAX_CPU_BP = 200
# A masked model on a CPU may run a map only when its measured estimate stays under this.
CPU_TIME_BUDGET_S = 300.0
LOG_ODDS_CLIP = 1e-6
# Positions of the timing probe (the per-position cost is the slope between 1 and this many).
# A GPU scores windows in large batches, so its probe must fill batches to measure throughput.
PROBE_POSITIONS = 8
PROBE_POSITIONS_GPU = 1_024
# Variant sequences laid end to end in one scoring call: at most this many, of at most this many bp.
PACKED_SEQUENCES = 64
PACKED_BP = 200_000

_COMPLEMENT_CODES = np.array([3, 2, 1, 0], dtype=np.int8)


# --------------------------------------------------------------------------- model properties (duck typed)


def model_kind(model) -> str:
    """``"masked"``, ``"one-pass"`` or ``"k-mer"``: the model's ``kind``, else guessed (k-mer or masked)."""
    kind = getattr(model, "kind", None)
    if kind:
        return str(kind)
    from .kmer import KmerModel

    return "k-mer" if isinstance(model, KmerModel) else "masked"


def model_device_type(model) -> str:
    """``"cuda"``, ``"mps"`` or ``"cpu"``: where the model runs (models without a device run on the CPU)."""
    device = getattr(model, "device", None)
    return getattr(device, "type", None) or (str(device) if device is not None else "cpu")


# --------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class DependencyMap:
    """A dependency map of a region and everything it was computed from.

    Attributes
    ----------
    chrom, start, end, strand : the region, 0-based half-open, and the strand read.
    model_name : the site model's name.
    positions : shape=(L,), int64, 0-based genomic positions in 5'->3' order on ``strand``.
    reference : the L bases on ``strand`` (upper case), in the same order.
    reference_probabilities : shape=(L, 4), P over A, C, G, T (bases of ``strand``) at each target.
    alternatives : shape=(L, 3), int8 codes 0..3 (A..T on ``strand``) of the three substitutions
        at each query base, in A, C, G, T order; -1 where the reference is not A/C/G/T.
    variant_probabilities : shape=(L, 3, L, 4), float32: [i, a, j] is P at target ``j`` with query
        ``i`` replaced by ``alternatives[i, a]``; NaN where that query has no alternatives.
    matrix : shape=(L, L), float64: dependency(i, j) (rows query, columns target); NaN diagonal.
    """

    chrom: str
    start: int
    end: int
    strand: str
    model_name: str
    positions: np.ndarray
    reference: str
    reference_probabilities: np.ndarray
    alternatives: np.ndarray
    variant_probabilities: np.ndarray
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    def log_odds_change(self) -> np.ndarray:
        """Signed ``logit P_b - logit P`` for every query, substitution, target and base, shape=(L, 3, L, 4)."""
        return log_odds(self.variant_probabilities) - log_odds(self.reference_probabilities)[None, None]

    def substitution_effect(self, query: int) -> pd.DataFrame:
        """The effect of each substitution of query row ``query`` (0..L-1) along the region.

        Returns a table with one row per (substitution, target): ``alt`` (base on ``strand``),
        ``target`` (row 0..L-1), ``pos`` (0-based genomic), ``target_ref``, ``max_abs_change``
        (max over the four bases of |log-odds change|: the map's value for this substitution),
        ``ref_change`` (signed log-odds change of the target's reference base; positive = the
        model finds the reference more likely after the substitution). The query's own row
        is NaN.
        """
        if not 0 <= query < len(self):
            raise InputError(f"query row must be in 0..{len(self) - 1} for this {len(self)}-bp map; got {query}")
        change = self.log_odds_change()[query]  # (3, L, 4)
        target_codes = nucleotide_codes(self.reference)
        rows = []
        for a, alt_code in enumerate(self.alternatives[query]):
            if alt_code < 0:
                continue
            per_target = change[a]
            ref_change = np.where(
                target_codes >= 0, per_target[np.arange(len(self)), np.maximum(target_codes, 0)], np.nan
            )
            max_abs = np.abs(per_target).max(axis=1)
            max_abs[query] = ref_change[query] = np.nan
            rows.append(
                pd.DataFrame(
                    {
                        "alt": NUCLEOTIDES[alt_code],
                        "target": np.arange(len(self)),
                        "pos": self.positions,
                        "target_ref": list(self.reference),
                        "max_abs_change": max_abs,
                        "ref_change": ref_change,
                    }
                )
            )
        columns = ["alt", "target", "pos", "target_ref", "max_abs_change", "ref_change"]
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)

    def long_table(self) -> pd.DataFrame:
        """One row per (query, target): ``query_pos, query_ref, target_pos, target_ref, dependency``.

        Positions 0-based genomic; bases on ``strand``; the diagonal is left out.
        """
        n = len(self)
        query, target = np.nonzero(~np.eye(n, dtype=bool))
        bases = np.array(list(self.reference))
        return pd.DataFrame(
            {
                "chrom": self.chrom,
                "strand": self.strand,
                "query_pos": self.positions[query],
                "query_ref": bases[query],
                "target_pos": self.positions[target],
                "target_ref": bases[target],
                "dependency": self.matrix[query, target],
            }
        )


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` (natural log) after clipping ``p`` to ``[LOG_ODDS_CLIP, 1 - LOG_ODDS_CLIP]``."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), LOG_ODDS_CLIP, 1.0 - LOG_ODDS_CLIP)
    return np.log(p) - np.log1p(-p)


def dependency_matrix(reference_probabilities: np.ndarray, variant_probabilities: np.ndarray) -> np.ndarray:
    """dependency(i, j) from the reference and variant predictions (see the module docstring).

    Parameters
    ----------
    reference_probabilities : shape=(L, 4).
    variant_probabilities : shape=(L, 3, L, 4); NaN entries (queries without alternatives) give NaN rows.

    Returns shape=(L, L), float64, NaN on the diagonal.
    """
    change = np.abs(log_odds(variant_probabilities) - log_odds(reference_probabilities)[None, None])
    with np.errstate(invalid="ignore"):
        matrix = change.max(axis=(1, 3))  # NaN propagates for queries without alternatives
    np.fill_diagonal(matrix, np.nan)
    return matrix


def _alternatives(codes: np.ndarray) -> np.ndarray:
    """The three other bases of each code, in A, C, G, T order, shape=(n, 3); -1 rows for non-ACGT."""
    out = np.full((len(codes), 3), -1, dtype=np.int8)
    for row, code in enumerate(codes):
        if code >= 0:
            out[row] = [b for b in range(4) if b != code]
    return out


def _substituted(sequence: str, at: int, code: int) -> str:
    return sequence[:at] + NUCLEOTIDES[code] + sequence[at + 1 :]


def _targets(query: int, first: int, last: int, reach: int | None) -> np.ndarray:
    """Sequence positions of targets scored again for a substitution at ``query`` (itself excluded)."""
    if reach is None:
        targets = np.arange(first, last)
    else:
        targets = np.arange(max(first, query - reach), min(last, query + reach + 1))
    return targets[targets != query]


def sequence_dependency(
    model,
    sequence: str,
    first: int,
    last: int,
    *,
    full_flanks: bool = False,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference and variant predictions for the region ``[first, last)`` of ``sequence`` (its plus strand).

    Parameters
    ----------
    model : a site model (:class:`glm_core.scoring.SiteModel`).
    sequence : DNA including whatever context the model should see.
    first, last : the region, 0-based half-open positions in ``sequence``.
    full_flanks : ``sequence`` holds at least ``model.context_flank`` bases on both sides of
        the region, so only targets within that flank of a query are scored again.
    progress : called as ``progress(variant_sequences_done, variant_sequences_total)``.

    Returns
    -------
    (reference_probabilities shape=(L, 4), alternatives shape=(L, 3) int8,
    variant_probabilities shape=(L, 3, L, 4) float32), as in :class:`DependencyMap`.
    """
    if not 0 <= first < last <= len(sequence):
        raise InputError(f"the region must satisfy 0 <= first < last <= {len(sequence)}; got {first}..{last}")
    length = last - first
    region = np.arange(first, last)
    reference = np.asarray(model.sequence_site_probabilities(sequence, region, batch_size=batch_size), dtype=np.float32)
    alternatives = _alternatives(nucleotide_codes(sequence[first:last]))
    variants = np.full((length, 3, length, 4), np.nan, dtype=np.float32)
    queries = [(row, a) for row in range(length) for a in range(3) if alternatives[row, a] >= 0]
    substituted = getattr(model, "substitution_site_probabilities", None)
    if substituted is not None:  # it scores every target of every query itself
        _score_substitutions(
            substituted, sequence, first, last, queries, alternatives, variants, reference, batch_size, progress
        )
        return reference, alternatives, variants
    for row, _ in queries:
        variants[row] = reference[None]  # targets out of reach keep the reference prediction
    reach = int(model.context_flank) if full_flanks else None
    batched = getattr(model, "sequences_site_probabilities", None)
    if batched is not None:
        _score_batched(batched, sequence, first, last, queries, alternatives, variants, batch_size, progress)
        return reference, alternatives, variants
    if full_flanks:
        _score_packed(model, sequence, first, last, queries, alternatives, variants, reach, batch_size, progress)
        return reference, alternatives, variants
    for done, (row, a) in enumerate(queries, start=1):
        query = first + row
        targets = _targets(query, first, last, reach)
        if len(targets):
            mutated = _substituted(sequence, query, int(alternatives[row, a]))
            variants[row, a, targets - first] = model.sequence_site_probabilities(
                mutated, targets, batch_size=batch_size
            )
        if progress is not None:
            progress(done, len(queries))
    return reference, alternatives, variants


def _score_substitutions(
    substituted, sequence, first, last, queries, alternatives, variants, reference, batch_size, progress
) -> None:
    """Every variant through the model's own substitution method (exact for any flank)."""
    if not queries:
        return
    rows = np.array([row for row, _ in queries])
    substitutions = np.stack([first + rows, [alternatives[row, a] for row, a in queries]], axis=1)
    scored = substituted(sequence, substitutions, np.arange(first, last), batch_size=batch_size, progress=progress)
    for k, (row, a) in enumerate(queries):
        variants[row, a] = scored[k]
        variants[row, a, row] = reference[row]  # the query's own prediction never sees the substitution


def _packed_per_call(sequence_length: int) -> int:
    """Variant sequences :func:`_score_packed` lays end to end in one scoring call."""
    return int(np.clip(PACKED_BP // sequence_length, 1, PACKED_SEQUENCES))


def _score_packed(model, sequence, first, last, queries, alternatives, variants, reach, batch_size, progress) -> None:
    """Score many variant sequences in one call, laid end to end.

    Exact when ``sequence`` holds the model's whole flank on both sides of the region: a
    target then sees only bases of its own copy (``context_flank`` is all a model sees), so
    neighbouring copies change nothing. One long call gives a one-pass model full batches
    (2.5x faster on a 2-core CPU) and a masked model on a GPU large batches of windows.
    """
    per_call = _packed_per_call(len(sequence))
    for begin in range(0, len(queries), per_call):
        part = queries[begin : begin + per_call]
        targets = [_targets(first + row, first, last, reach) for row, _ in part]
        packed = "".join(_substituted(sequence, first + row, int(alternatives[row, a])) for row, a in part)
        positions = np.concatenate([t + k * len(sequence) for k, t in enumerate(targets)])
        step = None
        if progress is not None:

            def step(done: int, total: int, begin: int = begin, n: int = len(part)) -> None:
                progress(begin + int(n * done / max(total, 1)), len(queries))

        scored = model.sequence_site_probabilities(packed, positions, batch_size=batch_size, progress=step)
        offsets = np.cumsum([0, *map(len, targets)])
        for k, (row, a) in enumerate(part):
            variants[row, a, targets[k] - first] = scored[offsets[k] : offsets[k + 1]]
        if progress is not None:
            progress(begin + len(part), len(queries))


def _score_batched(batched, sequence, first, last, queries, alternatives, variants, batch_size, progress) -> None:
    """Every target of every variant sequence through the model's own many-sequence method."""
    region = np.arange(first, last)
    chunk = 64
    for begin in range(0, len(queries), chunk):
        part = queries[begin : begin + chunk]
        sequences = [_substituted(sequence, first + row, int(alternatives[row, a])) for row, a in part]
        scored = np.asarray(batched(sequences, region, batch_size=batch_size), dtype=np.float32)
        for (row, a), probabilities in zip(part, scored):
            keep = np.arange(len(region)) != row
            variants[row, a, keep] = probabilities[keep]
        if progress is not None:
            progress(min(begin + chunk, len(queries)), len(queries))


def _fetch(genome: Genome, chrom: str, start: int, end: int, flank: int) -> tuple[str, int, bool]:
    """The region plus up to ``flank`` bases each side; its offset in that text; whether both flanks are whole."""
    fetch_start = max(0, start - flank)
    fetch_end = min(genome.chrom_sizes[chrom], end + flank)
    full = start - fetch_start == flank and fetch_end - end == flank
    return genome.fetch(chrom, fetch_start, fetch_end), start - fetch_start, full


def dependency_map(
    model,
    genome: Genome,
    chrom: str,
    start: int,
    end: int,
    strand: str = "+",
    *,
    check_limits: bool = True,
    estimate: "DependencyEstimate | None" = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> DependencyMap:
    """The nucleotide dependency map of ``[start, end)`` (0-based half-open) of ``chrom``.

    Parameters
    ----------
    model : a site model (:class:`glm_core.scoring.SiteModel`), fwd/RC averaged.
    strand : ``+`` or ``-``: rows and columns run 5'->3' on that strand and bases are that
        strand's. The minus-strand map is the plus-strand map reversed (exact for fwd/RC
        averaged predictions), so it costs the same.
    check_limits : refuse regions over :func:`check_dependency_region`'s limit (InputError).
    estimate : a time estimate already measured for this region (spares a second probe).
    progress : called as ``progress(variant_sequences_done, variant_sequences_total)``.

    Returns a :class:`DependencyMap`; see the module docstring for the definition.
    """
    if strand not in ("+", "-"):
        raise InputError(f"strand must be '+' or '-'; got {strand!r}")
    genome.check_interval(chrom, start, end)
    if check_limits:
        check_dependency_region(model, genome, chrom, start, end, estimate=estimate)
    sequence, offset, full = _fetch(genome, chrom, start, end, int(model.context_flank))
    reference, alternatives, variants = sequence_dependency(
        model, sequence, offset, offset + end - start, full_flanks=full, batch_size=batch_size, progress=progress
    )
    plus = DependencyMap(
        chrom=chrom,
        start=start,
        end=end,
        strand="+",
        model_name=str(model.name),
        positions=np.arange(start, end, dtype=np.int64),
        reference=genome.fetch(chrom, start, end).upper(),
        reference_probabilities=reference,
        alternatives=alternatives,
        variant_probabilities=variants,
        matrix=dependency_matrix(reference, variants),
    )
    return minus_strand_map(plus) if strand == "-" else plus


def minus_strand_map(plus: DependencyMap) -> DependencyMap:
    """The plus-strand map read on the minus strand, 5'->3': rows and columns reversed, bases
    complemented, the three substitutions of each query kept in A, C, G, T order.

    Exact for fwd/RC-averaged predictions, so the second strand of a map costs nothing.
    """
    if plus.strand != "+":
        raise InputError(f"minus_strand_map takes a plus-strand map; got strand {plus.strand!r}")
    complement_columns = [3, 2, 1, 0]
    reference = plus.reference_probabilities[::-1][:, complement_columns].copy()
    flipped = np.where(plus.alternatives >= 0, _COMPLEMENT_CODES[np.maximum(plus.alternatives, 0)], -1)[::-1]
    variants = plus.variant_probabilities[::-1][:, :, ::-1][..., complement_columns]
    order = np.argsort(np.where(flipped >= 0, flipped, 9), axis=1, kind="stable")
    alternatives = np.take_along_axis(flipped, order, axis=1).astype(np.int8)
    variants = np.ascontiguousarray(np.take_along_axis(variants, order[:, :, None, None], axis=1))
    return DependencyMap(
        chrom=plus.chrom,
        start=plus.start,
        end=plus.end,
        strand="-",
        model_name=plus.model_name,
        positions=plus.positions[::-1].copy(),
        reference=reverse_complement(plus.reference),
        reference_probabilities=reference,
        alternatives=alternatives,
        variant_probabilities=variants,
        matrix=dependency_matrix(reference, variants),
    )


# --------------------------------------------------------------------------- estimate and limits


@dataclass(frozen=True)
class DependencyEstimate:
    """A measured time estimate for one map.

    Attributes
    ----------
    seconds : predicted wall time of :func:`dependency_map` on this device.
    n_sequences : variant sequences to score (3 per A/C/G/T base).
    n_positions : target positions scored in all, reference included.
    seconds_per_call, seconds_per_position : the probe's fit ``t = per_call + per_position * n``.
    device : where it was measured (``cuda``, ``cpu`` ...).
    """

    seconds: float
    n_sequences: int
    n_positions: int
    seconds_per_call: float
    seconds_per_position: float
    device: str


def _timed(function) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def estimate_dependency_seconds(model, genome: Genome, chrom: str, start: int, end: int) -> DependencyEstimate:
    """Time a small probe on the current device and extrapolate to the map of ``[start, end)``.

    A masked model pays for each scored position: the probe scores the region's sequence at
    1 and at up to :data:`PROBE_POSITIONS` positions (:data:`PROBE_POSITIONS_GPU` of the fetched
    sequence on a GPU, whose batches a few positions do not fill) and fits ``t = per_call + per_position *
    n``, summed over the reference and every variant's targets. Other models pay for each
    sequence: the probe times one call over all the region's targets and, where variants are
    packed (:func:`_score_packed`), one packed call of up to 8 copies, and multiplies by the
    calls the map makes. A model with ``substitution_site_probabilities`` pays for each batch
    of substitutions: the probe times one batch at the region's middle (each such call also
    scores the reference once, so the estimate errs a little high). Each timing is the faster
    of two, after a warm-up call, so that a busy neighbour on a shared CPU inflates it less.
    """
    genome.check_interval(chrom, start, end)
    sequence, offset, full = _fetch(genome, chrom, start, end, int(model.context_flank))
    length = end - start
    region = np.arange(offset, offset + length)
    codes = nucleotide_codes(sequence[offset : offset + length])
    reach = int(model.context_flank) if full else None
    n_targets = [
        len(_targets(offset + row, offset, offset + length, reach)) for row in range(length) if codes[row] >= 0
    ]
    n_sequences = 3 * len(n_targets)
    n_positions = length + 3 * int(sum(n_targets))

    def best_of_two(positions: np.ndarray, text: str = sequence) -> float:
        return min(_timed(lambda: model.sequence_site_probabilities(text, positions)) for _ in range(2))

    model.sequence_site_probabilities(sequence, region[:1])  # warm-up: first-call costs stay out of the fit
    substituted = getattr(model, "substitution_site_probabilities", None)
    if substituted is not None and n_sequences:
        per_call, per_position = best_of_two(region), 0.0
        # A batch of substitutions at the middle costs what the average batch does: each copy
        # recomputes from its query to the region's ends, (L - q) + q bases over both streams.
        batch = min(n_sequences, int(getattr(model, "substitution_batch_size", 48)))
        bases = np.flatnonzero(codes >= 0)
        middle = offset + bases[len(bases) // 2]
        probe = np.stack([np.full(batch, middle), [(codes[middle - offset] + 1 + k % 3) % 4 for k in range(batch)]], 1)
        per_batch = min(_timed(lambda: substituted(sequence, probe, region)) for _ in range(2))
        seconds = per_call + per_batch * -(-n_sequences // batch)
    elif model_kind(model) == "masked":
        if model_device_type(model) == "cuda":  # any positions of the fetched text cost the same
            probe = np.arange(min(len(sequence), PROBE_POSITIONS_GPU))
        else:
            probe = region[: max(2, min(length, PROBE_POSITIONS))]
        one, many = best_of_two(probe[:1]), best_of_two(probe)
        per_position = max((many - one) / max(len(probe) - 1, 1), 0.0)
        per_call = max(one - per_position, 0.0)
        # Packed variants (full flanks) share scoring calls, as _score_packed lays them out.
        per_packed_call = _packed_per_call(len(sequence)) if full else 1
        n_calls = 1 + -(-n_sequences // per_packed_call)
        seconds = n_calls * per_call + n_positions * per_position
    else:
        per_call, per_position = best_of_two(region), 0.0
        seconds = per_call * (n_sequences + 1)
        if full and n_sequences > 1:
            copies = min(8, n_sequences)
            packed = np.concatenate([region + k * len(sequence) for k in range(copies)])
            per_copy = best_of_two(packed, sequence * copies) / copies
            seconds = per_call + per_copy * n_sequences
    return DependencyEstimate(
        float(seconds), n_sequences, n_positions, per_call, per_position, model_device_type(model)
    )


def dependency_limit_bp(model, estimate: DependencyEstimate | None = None) -> tuple[int, str]:
    """The largest region this model may map here, and why, as ``(bp, reason)``.

    A GPU: :data:`MAX_GPU_BP`. A CPU: :data:`MAX_CPU_BP`; for a masked model also no more
    than its measured estimate fits in :data:`CPU_TIME_BUDGET_S` (needs ``estimate``).
    """
    device = model_device_type(model)
    if device == "cuda":
        return MAX_GPU_BP, f"{MAX_GPU_BP:,} bp on a GPU"
    if model_kind(model) != "masked" or estimate is None:
        return MAX_CPU_BP, f"{MAX_CPU_BP:,} bp on a {device.upper()}"
    # A masked model's context covers any region up to MAX_CPU_BP: every other target is scored again.
    fits = 0
    for length in range(1, MAX_CPU_BP + 1):
        n_positions = length + 3 * length * (length - 1)
        seconds = (3 * length + 1) * estimate.seconds_per_call + n_positions * estimate.seconds_per_position
        if seconds > CPU_TIME_BUDGET_S:
            break
        fits = length
    return fits, (
        f"{fits:,} bp for the masked model {model_name(model)} on this {device.upper()} (estimated to stay under "
        f"{CPU_TIME_BUDGET_S:.0f} s at {estimate.seconds_per_position * 1e3:.0f} ms a position)"
    )


def model_name(model) -> str:
    return str(getattr(model, "name", type(model).__name__))


def check_dependency_region(
    model, genome: Genome, chrom: str, start: int, end: int, *, estimate: DependencyEstimate | None = None
) -> DependencyEstimate | None:
    """Raise InputError when ``[start, end)`` is over the map limit for this model and device.

    A masked model on a CPU needs a measured estimate: pass one, or one is measured here
    (only when the region is within :data:`MAX_CPU_BP` at all). Returns the estimate used.
    """
    length = end - start
    device = model_device_type(model)
    hard_limit = MAX_GPU_BP if device == "cuda" else MAX_CPU_BP
    if length > hard_limit:
        _refuse(model, chrom, start, end, dependency_limit_bp(model)[1])
    if device != "cuda" and model_kind(model) == "masked":
        estimate = estimate or estimate_dependency_seconds(model, genome, chrom, start, end)
        if estimate.seconds > CPU_TIME_BUDGET_S:
            _refuse(
                model,
                chrom,
                start,
                end,
                dependency_limit_bp(model, estimate)[1],
                f" (estimated {estimate.seconds:,.0f} s)",
            )
    return estimate


def _refuse(model, chrom: str, start: int, end: int, limit: str, detail: str = "") -> None:
    """InputError naming the limit and only the ways out that would lift it for this model here."""
    ways = ["a smaller region"]
    if model_kind(model) == "masked" and model_device_type(model) != "cuda":
        ways.append("a one-pass model")
    if model_device_type(model) != "cuda":
        ways.append("a GPU (GLM_EXPLORER_DEVICE=cuda)")
    choose = ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + " or " + ways[-1]
    raise InputError(
        f"{chrom}:{start + 1:,}-{end:,} is {end - start:,} bp{detail}; a dependency map covers at most {limit}. "
        f"Choose {choose}."
    )


# --------------------------------------------------------------------------- files


def matrix_tsv(dependency: DependencyMap) -> str:
    """The map as a square tab-separated matrix: a header row and first column of 1-based positions.

    Rows are query bases, columns target bases, in 5'->3' order on the map's strand; the
    first column header is ``query\\target``; the diagonal is empty (NaN).
    """
    labels = [f"{pos + 1}{base}" for pos, base in zip(dependency.positions, dependency.reference)]
    frame = pd.DataFrame(dependency.matrix, index=labels, columns=labels)
    frame.index.name = "query\\target"
    return frame.to_csv(sep="\t", float_format="%.6g", lineterminator="\n")


def matrix_npz(dependency: DependencyMap) -> bytes:
    """The map and its inputs as a compressed ``.npz``.

    Arrays: ``matrix`` (L, L), ``positions`` (L,) **1-based** genomic, ``reference`` (str),
    ``reference_probabilities`` (L, 4), ``alternatives`` (L, 3, codes 0..3 = A..T),
    ``variant_probabilities`` (L, 3, L, 4), and ``chrom``, ``strand``, ``model_name``.
    """
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        matrix=dependency.matrix,
        positions=dependency.positions + 1,
        reference=np.array(dependency.reference),
        reference_probabilities=dependency.reference_probabilities,
        alternatives=dependency.alternatives,
        variant_probabilities=dependency.variant_probabilities,
        chrom=np.array(dependency.chrom),
        strand=np.array(dependency.strand),
        model_name=np.array(dependency.model_name),
    )
    return buffer.getvalue()


DEPENDENCY_SUFFIXES = (".tsv", ".npz", ".png", ".svg")


def dependency_file_bytes(dependency: DependencyMap, suffix: str) -> bytes:
    """The map in the format of ``suffix`` (one of :data:`DEPENDENCY_SUFFIXES`)."""
    suffix = suffix.lower()
    if suffix == ".tsv":
        return matrix_tsv(dependency).encode("utf-8")
    if suffix == ".npz":
        return matrix_npz(dependency)
    if suffix in (".png", ".svg"):
        from .plots.dependency_figures import dependency_image

        return dependency_image(dependency, suffix.lstrip("."))
    raise InputError(f"a dependency map is written as {', '.join(DEPENDENCY_SUFFIXES)}; got {suffix!r}")
