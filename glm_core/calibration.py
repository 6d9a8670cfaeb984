"""Calibrated LLRs: the raw LLR less the mean LLR of neutral sites with the same context and alt.

GPN-Star's recipe, adapted to a genome without conservation scores. A site model's raw LLR
mixes what matters (the change breaks something) with what does not (some 5-mers mutate
to some bases easily, as codon usage and mutational bias make them common). The neutral
table holds, for each pentanucleotide context (the reference base with two bases each side)
and alternative base, the mean LLR of SNVs at *neutral* sites, where selection is weak;
``cLLR = LLR - neutral mean of its context and alt``. A cLLR near 0 means "as expected for a
neutral change in this context"; negative means less likely than that.

Neutral proxies (:data:`NEUTRAL_PROXIES`; chosen per genome by :func:`glm_core.genome_scores`):

* ``intergenic_far``: bases more than ``INTERGENIC_DISTANCE`` (1 kb) from any annotated
  transcript;
* ``fourfold``: third codon positions of four-fold degenerate codons (every change there is
  synonymous), as in GPN-Star's coding-region control.

Strand folding
--------------
The bundled site models average forward and reverse-complement predictions, so the LLR of
context ``x`` with alt ``a`` equals that of the reverse-complemented context with the
complemented alt. The table is folded onto the 512 contexts whose centre base is A or C
(a 5-mer is never its own reverse complement, since its centre base would have to be),
giving **512 contexts x 3 alts = 1,536 cells**; an unfolded table would have 1024 x 3.

Context codes
-------------
A 5-mer ``b0 b1 b2 b3 b4`` (``b2`` the reference) is coded ``sum(code(b_i) * 4**(4 - i))``
with A=0, C=1, G=2, T=3 (0..1023); contexts touching a sequence end or a non-ACGT base have
code -1 and are neither counted nor calibrated (their cLLR is NaN).

Files: ``calibration.tsv`` (one row per cell: ``context, alt, n, mean_llr``; ``#`` comment
lines say the proxy and model), small enough to ship beside each bundled model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import NUCLEOTIDES, nucleotide_codes
from .outputs import atomic_write

NEUTRAL_PROXIES = ("intergenic_far", "fourfold")
INTERGENIC_DISTANCE = 1_000
CALIBRATION_FILE = "calibration.tsv"
N_CONTEXTS = 4**5
# Cells with fewer neutral SNVs than this fall back to the mean over the 3-mer (ref +-1) cell.
MIN_CELL_COUNT = 20
_BASES = np.array(list(NUCLEOTIDES))
_POWERS = 4 ** np.arange(4, -1, -1)


def context_codes(sequence_codes: np.ndarray) -> np.ndarray:
    """5-mer context code of every position of a sequence, shape=(n,), -1 near ends and non-ACGT.

    ``sequence_codes`` are :func:`glm_core.genome.nucleotide_codes` (-1 for non-ACGT).
    """
    codes = np.asarray(sequence_codes, dtype=np.int64)
    n = len(codes)
    out = np.full(n, -1, dtype=np.int64)
    if n < 5:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(codes, 5)
    valid = (windows >= 0).all(axis=1)
    out[2 : n - 2] = np.where(valid, windows @ _POWERS, -1)
    return out


def fold(context: np.ndarray, alt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold (context code, alt code) onto contexts with centre A or C (reverse complement else).

    Returns (folded context 0..1023 with centre A/C, folded alt 0..3); -1 contexts stay -1.
    """
    context = np.asarray(context, dtype=np.int64)
    alt = np.asarray(alt, dtype=np.int64)
    digits = (context[:, None] // _POWERS[None, :]) % 4
    reverse = ((3 - digits[:, ::-1]) * _POWERS[None, :]).sum(axis=1)
    flip = digits[:, 2] >= 2
    folded = np.where(flip, reverse, context)
    folded_alt = np.where(flip, 3 - alt, alt)
    invalid = context < 0
    return np.where(invalid, -1, folded), np.where(invalid, -1, folded_alt)


def context_text(code: int) -> str:
    """The 5-mer of a context code, e.g. 27 -> ``AACGT``."""
    return "".join(_BASES[(int(code) // _POWERS) % 4])


def _cell(folded_context: np.ndarray, folded_alt: np.ndarray) -> np.ndarray:
    return folded_context * 4 + folded_alt


@dataclass
class ContextSums:
    """Running sums of LLR per (folded context, alt): the state a chunked job adds up.

    ``total`` and ``count`` have shape=(1024 * 4,), indexed ``context * 4 + alt`` (cells of
    unfolded or impossible combinations stay 0).
    """

    total: np.ndarray = field(default_factory=lambda: np.zeros(N_CONTEXTS * 4))
    count: np.ndarray = field(default_factory=lambda: np.zeros(N_CONTEXTS * 4))

    def add(self, context: np.ndarray, alt: np.ndarray, llr: np.ndarray) -> "ContextSums":
        """Add SNVs (context code, alt code 0..3, LLR), shape=(n,) each; NaN LLRs and -1 contexts skipped."""
        folded, folded_alt = fold(context, alt)
        keep = (folded >= 0) & ~np.isnan(llr)
        cells = _cell(folded[keep], folded_alt[keep])
        self.total += np.bincount(cells, weights=np.asarray(llr)[keep], minlength=N_CONTEXTS * 4)
        self.count += np.bincount(cells, minlength=N_CONTEXTS * 4)
        return self

    def __add__(self, other: "ContextSums") -> "ContextSums":
        return ContextSums(self.total + other.total, self.count + other.count)

    def as_array(self) -> np.ndarray:
        """shape=(2, 4096): totals then counts, for saving in a chunk."""
        return np.stack([self.total, self.count])

    @classmethod
    def from_array(cls, array: np.ndarray) -> "ContextSums":
        return cls(np.asarray(array[0], dtype=np.float64), np.asarray(array[1], dtype=np.float64))

    def table(self, proxy: str = "", model: str = "") -> "NeutralTable":
        """The :class:`NeutralTable` of these sums (sparse cells smoothed, see :func:`neutral_table`)."""
        return _table_from_sums(self.total, self.count, proxy, model)


@dataclass
class NeutralTable:
    """Mean neutral LLR per folded 5-mer context and alt.

    ``cells``: DataFrame with one row per folded cell (512 contexts x 3 alts = 1,536 rows):
    ``context`` (5-mer text, centre A or C), ``alt``, ``n`` (neutral SNVs), ``mean_llr``
    (natural log; the 3-mer, else 1-mer, mean where ``n < MIN_CELL_COUNT``). ``proxy`` and ``model`` name
    where it came from.
    """

    cells: pd.DataFrame
    proxy: str = ""
    model: str = ""

    def lookup(self) -> np.ndarray:
        """Mean LLR indexed by ``folded context * 4 + alt``, shape=(4096,), NaN where undefined."""
        out = np.full(N_CONTEXTS * 4, np.nan)
        codes = np.array([int((nucleotide_codes(c).astype(np.int64) * _POWERS).sum()) for c in self.cells["context"]])
        alts = nucleotide_codes("".join(self.cells["alt"])).astype(np.int64)
        out[_cell(codes, alts)] = self.cells["mean_llr"].to_numpy(dtype=np.float64)
        return out


def _table_from_sums(total: np.ndarray, count: np.ndarray, proxy: str, model: str) -> NeutralTable:
    contexts = np.arange(N_CONTEXTS)
    centre = (contexts // 16) % 4
    rows = []
    total, count = total.reshape(N_CONTEXTS, 4), count.reshape(N_CONTEXTS, 4)
    # 3-mer fallback: pool the 16 contexts sharing the bases at -1, 0, +1.
    trimer = (contexts // 4) % 64
    trimer_total = np.zeros((64, 4))
    trimer_count = np.zeros((64, 4))
    np.add.at(trimer_total, trimer, total)
    np.add.at(trimer_count, trimer, count)
    # last resort: every context with the same centre base (a 1-mer cell)
    centre_total = np.zeros((4, 4))
    centre_count = np.zeros((4, 4))
    np.add.at(centre_total, centre, total)
    np.add.at(centre_count, centre, count)
    for context in contexts[centre <= 1]:
        for alt in range(4):
            if alt == centre[context]:
                continue
            n = count[context, alt]
            pooled = [
                (total[context, alt], n),
                (trimer_total[trimer[context], alt], trimer_count[trimer[context], alt]),
                (centre_total[centre[context], alt], centre_count[centre[context], alt]),
            ]
            usable = [(t, c) for t, c in pooled if c >= MIN_CELL_COUNT] or [(t, c) for t, c in pooled if c > 0]
            mean = usable[0][0] / usable[0][1] if usable else np.nan
            rows.append((context_text(context), NUCLEOTIDES[alt], int(n), mean))
    cells = pd.DataFrame(rows, columns=["context", "alt", "n", "mean_llr"])
    return NeutralTable(cells, proxy, model)


def snv_contexts(sequence: str, positions: np.ndarray) -> np.ndarray:
    """Context codes of 0-based ``positions`` in ``sequence`` (plus strand), shape=(n,)."""
    return context_codes(nucleotide_codes(sequence))[np.asarray(positions, dtype=np.int64)]


def neutral_table(
    snvs: pd.DataFrame, neutral: np.ndarray | None = None, *, proxy: str = "", model: str = ""
) -> NeutralTable:
    """The neutral table of SNVs: mean LLR per folded 5-mer context and alt.

    Parameters
    ----------
    snvs : DataFrame with ``context`` (5-mer text centred on the reference, plus strand, or a
        context code 0..1023), ``alt`` (plus-strand base) and ``llr``.
    neutral : boolean mask of the rows at neutral sites, shape=(len(snvs),); all rows when None.

    Returns a :class:`NeutralTable` of 1,536 cells.
    """
    missing = {"context", "alt", "llr"} - set(snvs.columns)
    if missing:
        raise InputError(f"the SNV table lacks columns {sorted(missing)}; it needs context, alt, llr")
    rows = snvs if neutral is None else snvs[np.asarray(neutral, dtype=bool)]
    sums = ContextSums().add(_context_column(rows["context"]), _alt_codes(rows["alt"]), rows["llr"].to_numpy(float))
    return sums.table(proxy, model)


def _context_column(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(np.int64)
    text = column.astype(str).str.upper()
    codes = np.full(len(text), -1, dtype=np.int64)
    ok = text.str.fullmatch("[ACGT]{5}").to_numpy()
    if ok.any():
        matrix = nucleotide_codes("".join(text[ok])).astype(np.int64).reshape(-1, 5)
        codes[ok] = matrix @ _POWERS
    return codes


def _alt_codes(column: pd.Series) -> np.ndarray:
    return nucleotide_codes("".join(column.astype(str).str.upper())).astype(np.int64)


def calibrate_codes(
    context: np.ndarray, alt: np.ndarray, llr: np.ndarray, table: NeutralTable | np.ndarray
) -> np.ndarray:
    """cLLR from context codes, alt codes 0..3 and LLRs, shape=(n,); NaN where no context."""
    lookup = table.lookup() if isinstance(table, NeutralTable) else table
    folded, folded_alt = fold(context, alt)
    mean = np.where(folded >= 0, lookup[np.maximum(_cell(folded, folded_alt), 0)], np.nan)
    return np.asarray(llr, dtype=np.float64) - mean


def calibrate(llr_table: pd.DataFrame, table: NeutralTable) -> np.ndarray:
    """cLLR = LLR - neutral mean of the SNV's context and alt, for each row of ``llr_table``.

    ``llr_table`` has ``context`` (5-mer text or code, plus strand, centred on the
    reference), ``alt`` and ``llr``, as for :func:`neutral_table`. Returns shape=(n,) float64,
    NaN where the context is unknown (sequence ends, non-ACGT bases).
    """
    return calibrate_codes(
        _context_column(llr_table["context"]), _alt_codes(llr_table["alt"]), llr_table["llr"].to_numpy(float), table
    )


def calibrate_snvs(snvs: pd.DataFrame, genome, table: NeutralTable) -> np.ndarray:
    """cLLR of SNVs given by ``chrom, pos`` (0-based), ``alt`` and ``llr`` on ``genome``; shape=(n,)."""
    out = np.full(len(snvs), np.nan)
    if len(snvs) == 0:
        return out
    chroms = snvs["chrom"].astype(str).to_numpy()
    pos = snvs["pos"].to_numpy(np.int64)
    offsets = np.arange(-2, 3)
    windows = pos[:, None] + offsets[None, :]
    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.int64)
    inside = (windows >= 0).all(axis=1) & (windows < sizes[:, None]).all(axis=1)
    rows = np.flatnonzero(inside)
    if len(rows):
        bases = genome.bases_at(np.repeat(chroms[rows], 5), windows[rows].ravel())
        matrix = nucleotide_codes(bases).astype(np.int64).reshape(-1, 5)
        context = np.where((matrix >= 0).all(axis=1), matrix @ _POWERS, -1)
        out[rows] = calibrate_codes(
            context, _alt_codes(snvs["alt"].iloc[rows]), snvs["llr"].to_numpy(float)[rows], table
        )
    return out


def write_neutral_table(table: NeutralTable, path: str | Path) -> Path:
    """Write ``calibration.tsv`` atomically: ``#`` lines (proxy, model, folding), then the cells."""
    header = (
        f"# neutral-site LLR table (glm_core.calibration); proxy: {table.proxy or 'unspecified'}; "
        f"model: {table.model or 'unspecified'}\n"
        "# strand-folded: 512 contexts (centre A or C) x 3 alts; mean_llr natural log; "
        f"cells with n < {MIN_CELL_COUNT} hold the 3-mer (else 1-mer) mean\n"
    )
    return atomic_write(path, header + table.cells.to_csv(sep="\t", index=False, float_format="%.6g"))


def read_neutral_table(path: str | Path) -> NeutralTable:
    """Read a table :func:`write_neutral_table` wrote."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"calibration table not found: {path}; run `glm-explore score-genome` to make one")
    proxy = model = ""
    with open(path) as handle:
        first = handle.readline()
    if "proxy:" in first:
        proxy = first.split("proxy:")[1].split(";")[0].strip()
        model = first.split("model:")[1].strip() if "model:" in first else ""
    cells = pd.read_csv(path, sep="\t", comment="#", dtype={"context": str, "alt": str})
    if list(cells.columns) != ["context", "alt", "n", "mean_llr"] or len(cells) != 1536:
        raise InputError(f"{path} is not a calibration table (context, alt, n, mean_llr; 1,536 rows)")
    return NeutralTable(cells, proxy, model)


def model_neutral_table(model) -> NeutralTable | None:
    """The ``calibration.tsv`` shipped in a model's folder, or None."""
    folder = getattr(model, "path", None)
    if folder is None or not (Path(folder) / CALIBRATION_FILE).is_file():
        return None
    return read_neutral_table(Path(folder) / CALIBRATION_FILE)


# --------------------------------------------------------------------------- evaluation


def _auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a damaging SNV scores lower than a synonymous one), ties half; NaN for an empty class."""
    from scipy.stats import rankdata

    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    ranks = rankdata(-np.concatenate([positive, negative]))
    return float(
        (ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative))
    )


def stratified_auroc(snvs: pd.DataFrame, score: str, damaging: str = "missense") -> tuple[float, int]:
    """AUROC of ``damaging`` vs synonymous SNVs within codon-position x substitution strata.

    A stratum is the codon position (1..3) and the substitution on the transcript's strand
    (e.g. ``C>T``). The AUROC of each stratum holding both classes is weighted by its number
    of (damaging, synonymous) pairs, so a score that only knows codon position or substitution
    type gets 0.5. Returns (AUROC, number of strata used).
    """
    table = snvs[snvs["consequence"].astype(str).isin([damaging, "synonymous"]) & snvs[score].notna()]
    position = table["codon_position"].astype(int).to_numpy()
    ref = np.array([codon[p - 1] for codon, p in zip(table["ref_codon"], position)])
    alt = np.array([codon[p - 1] for codon, p in zip(table["alt_codon"], position)])
    strata = pd.Series(position.astype(str)) + ":" + ref + ">" + alt
    total, weight, used = 0.0, 0.0, 0
    is_damaging = (table["consequence"].astype(str) == damaging).to_numpy()
    values = table[score].to_numpy(float)
    for _name, rows in strata.groupby(strata.to_numpy()).indices.items():
        positive, negative = values[rows][is_damaging[rows]], values[rows][~is_damaging[rows]]
        if len(positive) and len(negative):
            pairs = len(positive) * len(negative)
            total += _auroc(positive, negative) * pairs
            weight += pairs
            used += 1
    return (total / weight if weight else float("nan")), used


def calibration_aurocs(snvs: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """Raw vs calibrated comparisons on annotated CDS SNVs (e.g. :func:`glm_core.evaluation.cds_snv_llrs`).

    For each score column (``llr``, ``cllr`` ...): AUROC stop gained vs synonymous, missense vs
    synonymous, and missense vs synonymous within codon-position x substitution strata
    (:func:`stratified_auroc`); lower score = more damaging. Columns ``score, comparison,
    auroc, n_positive, n_negative``.
    """
    consequence = snvs["consequence"].astype(str)
    rows = []
    for score in scores:
        valid = snvs[score].notna().to_numpy()
        negative = snvs.loc[valid & (consequence == "synonymous").to_numpy(), score].to_numpy(float)
        for damaging in ("stop_gained", "missense"):
            positive = snvs.loc[valid & (consequence == damaging).to_numpy(), score].to_numpy(float)
            rows.append((score, f"{damaging} vs synonymous", _auroc(positive, negative), len(positive), len(negative)))
        value, strata = stratified_auroc(snvs, score)
        rows.append(
            (
                score,
                f"missense vs synonymous within {strata} codon-position x substitution strata",
                value,
                int((valid & (consequence == "missense").to_numpy()).sum()),
                len(negative),
            )
        )
    return pd.DataFrame(rows, columns=["score", "comparison", "auroc", "n_positive", "n_negative"])
