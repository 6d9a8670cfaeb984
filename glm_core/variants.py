"""Variant effect scores from a masked model: saturation scans of a region and VCF scoring.

Scores
------
The score of an SNV is GPN's log-likelihood ratio ``LLR = log P(alt) - log P(ref)``
(natural log) at the masked position, with the forward and reverse-complement
predictions averaged (:func:`glm_core.scoring.masked_site_probabilities`). Negative
means the model finds the alternative allele less likely than the reference. Both the
region scan and VCF scoring call the same primitive, so one SNV gets the same LLR
either way.

A *percentile* says where an LLR falls in a background distribution: the percentage of
background SNVs whose LLR is at most this one (so 1 means "among the lowest 1 %").
:func:`region_snvs` uses every possible SNV of the scanned region as background;
:func:`score_variants` uses every possible SNV at the positions it scored. When a
genome-wide background is available (:func:`model_llr_background`: the quantile tables
``glm-explore score-genome`` writes, :mod:`glm_core.backgrounds`, or an older LLR sample) a
column ``llr_percentile_genome`` is added; that is the percentile VCF output writes as
``GLM_LLR_PCT``. With a neutral table (:func:`model_calibration`, :mod:`glm_core.calibration`)
a ``cllr`` column (calibrated LLR) and, with both, ``cllr_percentile_genome`` are added.

Coordinates
-----------
``pos`` is 0-based inside this module, as everywhere in ``glm_core``; VCF ``POS`` and the
TSV files written here are 1-based. Alleles are on the ``+`` strand.

VCF files
---------
Reading, allele splitting and the scored-VCF writer live in :mod:`glm_core.vcf`;
chromosome-name aliases in :mod:`glm_core.chrom_names`. Every VCF record is kept: alleles
that cannot be scored get a ``status`` (see :data:`STATUSES`) saying why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .chrom_names import resolve_chromosomes
from .consequence import CONSEQUENCE_COLUMNS, CONSEQUENCES, annotate_snvs
from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .scoring import Progress, every_snv, site_probabilities_at, snv_table
from .vcf import IUPAC_BASES, STATUSES, Vcf, vcf_alleles

MODEL_BACKGROUND_FILES = ("llr_background.npy", "llr_background.tsv")


# --------------------------------------------------------------------------- percentiles


def llr_percentile(values, background) -> np.ndarray:
    """Percentage of ``background`` LLRs that are <= each value (0..100; NaN for NaN values).

    Parameters
    ----------
    values : LLRs to place, shape=(n,).
    background : LLRs of the reference distribution (NaNs ignored), any shape.
    """
    values = np.asarray(values, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64).ravel()
    background = np.sort(background[~np.isnan(background)])
    out = np.full(values.shape, np.nan)
    if len(background) == 0:
        return out
    finite = ~np.isnan(values)
    out[finite] = np.searchsorted(background, values[finite], side="right") / len(background) * 100.0
    return out


def model_llr_background(model, genome: Genome | None = None):
    """The genome-wide LLR background shipped with a model, if any.

    ``llr_background.npz`` (quantile tables, :class:`glm_core.backgrounds.LlrBackground`,
    written by ``glm-explore score-genome``) in the model's folder, used only when it was
    computed on ``genome`` (matched by file hash; not checked when ``genome`` is None); else an
    older LLR sample (``llr_background.npy``, or a ``scan`` TSV ``llr_background.tsv``);
    None when there is none.
    """
    from .backgrounds import model_background

    background = model_background(model)
    if background is not None:
        if genome is None or background.matches(_genome_sha256(genome), None):
            return background
        return None
    folder = getattr(model, "path", None)
    if folder is None:
        return None
    for name in MODEL_BACKGROUND_FILES:
        if (Path(folder) / name).is_file():
            return read_llr_background(Path(folder) / name)
    return None


def _genome_sha256(genome: Genome) -> str:
    from .chunked_job import file_fingerprint

    return file_fingerprint(genome.path)["sha256"]


def model_calibration(model, genome: Genome | None = None):
    """The neutral table (``calibration.tsv``) shipped with a model, for cLLRs, if any.

    Used only with the genome its background was computed on (the table is a property of the
    model *and* the genome): None for another genome, or when the model ships none.
    """
    from .backgrounds import model_background
    from .calibration import model_neutral_table

    table = model_neutral_table(model)
    if table is None or genome is None:
        return table
    background = model_background(model)
    return table if background is None or background.matches(_genome_sha256(genome), None) else None


def genome_percentiles(values, background, score: str = "llr") -> np.ndarray:
    """Percentiles of ``values`` against a genome-wide background: quantile tables or an LLR sample."""
    from .backgrounds import LlrBackground

    if isinstance(background, LlrBackground):
        return background.percentile(values, score)
    return llr_percentile(values, background) if score == "llr" else np.full(np.shape(values), np.nan)


def background_description(background) -> str:
    """What ``llr_percentile_genome`` ranks against, in one line (for VCF headers and the UI)."""
    from .backgrounds import LlrBackground

    if background is None:
        return "none: no genome-wide background exists for this genome and model (run glm-explore score-genome)"
    if isinstance(background, LlrBackground):
        return background.describe()
    return f"a genome-wide sample of {len(background):,} SNV LLRs shipped with the model"


def read_llr_background(path: str | Path) -> np.ndarray:
    """LLRs of a background SNV sample, from ``.npy`` (any array of LLRs) or from a TSV that
    ``glm-explore scan`` wrote (its ``llr_A`` ... ``llr_T`` columns, reference column left out).

    Returns a 1-d float64 array without NaNs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LLR background file not found: {path}")
    if path.suffix.lower() == ".npy":
        values = np.load(path, allow_pickle=False).astype(np.float64).ravel()
    else:
        table = pd.read_csv(path, sep="\t", comment="#")
        columns = [f"llr_{base}" for base in NUCLEOTIDES]
        if not set(columns) <= set(table.columns) or "ref" not in table.columns:
            raise ValueError(
                f"{path} has no columns ref and {', '.join(columns)}; write one with "
                "`glm-explore scan CHR:START-END --out FILE.tsv`, or give a .npy array of LLRs"
            )
        llr = table[columns].to_numpy(dtype=np.float64)
        is_ref = table["ref"].astype(str).str.upper().to_numpy()[:, None] == np.array(list(NUCLEOTIDES))[None, :]
        values = llr[~is_ref]
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError(f"{path} holds no LLR values")
    return values


# --------------------------------------------------------------------------- region scan


def _with_consequences(annotation, genome: Genome, snvs: pd.DataFrame) -> pd.DataFrame:
    """``snvs`` (chrom, pos, ref, alt on genome sequence names) plus the consequence columns."""
    if annotation is not None and len(snvs):
        return annotate_snvs(annotation, genome, snvs)
    out = snvs.copy()
    out["consequence"] = pd.Categorical([None] * len(out), categories=CONSEQUENCES, ordered=True)
    for column in CONSEQUENCE_COLUMNS[1:]:
        dtype = "Int64" if column == "codon_position" else "str"
        out[column] = pd.Series([pd.NA] * len(out), index=out.index, dtype=dtype)
    return out


def region_snvs(
    genome: Genome,
    annotation,
    chrom: str,
    start: int,
    end: int,
    probabilities: np.ndarray,
    *,
    background=None,
    calibration=None,
) -> pd.DataFrame:
    """Every possible SNV of ``[start, end)`` (0-based half-open) with its LLR and consequence.

    Parameters
    ----------
    annotation : :class:`glm_core.annotation.Annotation` of the genome, or None (no consequences).
    probabilities : plus-strand predictions of the region, shape=(end - start, 4), columns
        A, C, G, T, as ``site_probabilities(model, genome, chrom, start, end, "+")`` returns.
    background : optional genome-wide background (:func:`model_llr_background`) for
        ``llr_percentile_genome`` (and ``cllr_percentile_genome``).
    calibration : optional neutral table (:func:`model_calibration`) for ``cllr``.

    Returns
    -------
    pd.DataFrame, three rows per A/C/G/T position: ``chrom, pos`` (0-based), ``ref, alt``
    (plus strand), ``llr``, ``llr_percentile`` (among all SNVs of the region)
    [, ``cllr``] [, ``llr_percentile_genome``, ``cllr_percentile_genome``], and the columns of
    :func:`glm_core.consequence.annotate_snvs` (``consequence, transcript_id, gene,
    codon_position, ref_codon, alt_codon, ref_aa, alt_aa``).
    """
    genome.check_interval(chrom, start, end)
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (end - start, 4):
        raise ValueError(
            f"probabilities have shape {probabilities.shape}; {chrom}:{start + 1:,}-{end:,} needs ({end - start}, 4)"
        )
    snvs = snv_table(chrom, start, genome.fetch(chrom, start, end), probabilities)
    snvs["llr_percentile"] = llr_percentile(snvs["llr"], snvs["llr"])
    _add_genome_scores(snvs, genome, background, calibration)
    return _with_consequences(annotation, genome, snvs)


def _add_genome_scores(snvs: pd.DataFrame, genome: Genome, background, calibration) -> None:
    """``cllr`` and the genome-wide percentile columns, in place (rows with an ``llr``)."""
    from .calibration import calibrate_snvs

    if calibration is not None:
        snvs["cllr"] = calibrate_snvs(snvs, genome, calibration) if len(snvs) else np.zeros(0)
    if background is not None:
        snvs["llr_percentile_genome"] = genome_percentiles(snvs["llr"], background)
        if "cllr" in snvs.columns:
            snvs["cllr_percentile_genome"] = genome_percentiles(snvs["cllr"], background, "cllr")


def consequence_llr_summary(snvs: pd.DataFrame) -> pd.DataFrame:
    """LLR distribution per consequence, most severe first.

    Returns columns ``consequence, n, mean_llr, median_llr, q25_llr, q75_llr``; only
    consequences with at least one SNV.
    """
    known = snvs[snvs["consequence"].notna() & snvs["llr"].notna()]
    grouped = known.groupby("consequence", observed=True)["llr"]
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "mean_llr": grouped.mean(),
            "median_llr": grouped.median(),
            "q25_llr": grouped.quantile(0.25),
            "q75_llr": grouped.quantile(0.75),
        }
    ).reset_index()
    table["consequence"] = table["consequence"].astype(str)
    return table[table["n"] > 0].reset_index(drop=True)


# --------------------------------------------------------------------------- scoring


def _allele_status(ref: str, alt: str) -> tuple[str, str]:
    """Status and reason of an allele on a known chromosome whose REF matches the genome."""
    if alt in (".", ""):
        return "no_alt", "ALT is '.', no alternative allele"
    if alt == "*":
        return "spanning_deletion", "ALT '*' stands for an overlapping deletion"
    if alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic", f"ALT {alt} is a symbolic allele or breakend"
    if not IUPAC_BASES.match(alt):
        return "symbolic", f"ALT {alt!r} is not a sequence of bases"
    if len(ref) != len(alt):
        return "indel", f"REF {ref} and ALT {alt} differ in length (an indel); only SNVs are scored"
    if len(ref) > 1:
        return "mnv", f"{ref}>{alt} changes {len(ref)} bases; only single-base changes are scored"
    if ref.upper() not in NUCLEOTIDES or alt.upper() not in NUCLEOTIDES:
        return "non_acgt", f"{ref}>{alt} involves a base other than A, C, G, T"
    if ref.upper() == alt.upper():
        return "alt_equals_ref", f"ALT {alt} is the same as REF"
    return "scored", ""


def _genome_refs(genome: Genome, alleles: pd.DataFrame) -> list[str | None]:
    """The genome's upper-case bases under each allele's REF (``genome_chrom``, 0-based ``pos``);
    None where the chromosome is unknown or REF runs outside it."""
    known = alleles["genome_chrom"].notna().to_numpy()
    lengths = alleles["ref"].str.len().to_numpy(np.int64)
    pos = alleles["pos"].to_numpy(np.int64)
    chroms = alleles["genome_chrom"].to_numpy()
    sizes = np.array([genome.chrom_sizes.get(c, 0) if ok else 0 for c, ok in zip(chroms, known)], dtype=np.int64)
    inside = known & (pos >= 0) & (pos + lengths <= sizes)
    rows = np.flatnonzero(inside)
    ends = np.cumsum(lengths[rows])
    offsets = np.arange(ends[-1] if len(rows) else 0) - np.repeat(ends - lengths[rows], lengths[rows])
    bases = genome.bases_at(np.repeat(chroms[rows], lengths[rows]), np.repeat(pos[rows], lengths[rows]) + offsets)
    refs: list[str | None] = [None] * len(alleles)
    for row, end, length in zip(rows, ends, lengths[rows]):
        refs[row] = bases[end - length : end]
    return refs


def variant_status(genome: Genome, alleles: pd.DataFrame) -> pd.DataFrame:
    """Decide which alleles can be scored, without running a model.

    Parameters
    ----------
    alleles : columns ``chrom`` (as in the VCF), ``pos`` (0-based), ``ref``, ``alt``, as
        :func:`vcf_alleles` returns.

    Returns
    -------
    A new DataFrame: ``alleles`` plus ``genome_chrom`` (the genome's name, None if unknown),
    ``chrom_match`` (see :func:`resolve_chromosomes`), ``status`` (a key of :data:`STATUSES`)
    and ``reason`` (a sentence; empty when scored). Checks run in this order: chromosome,
    position, REF against the genome (flagged per record, whatever the ALT), then the ALT.
    """
    out = alleles.copy()
    names = resolve_chromosomes(out["chrom"], genome.chrom_sizes).set_index("vcf_chrom")
    out["genome_chrom"] = out["chrom"].map(names["genome_chrom"]).astype(object)
    out["chrom_match"] = out["chrom"].map(names["match"])
    genome_ref = _genome_refs(genome, out)
    status, reason = [], []
    for chrom, genome_chrom, match, pos, ref, alt, genome_bases in zip(
        out["chrom"], out["genome_chrom"], out["chrom_match"], out["pos"], out["ref"], out["alt"], genome_ref
    ):
        if match == "unknown":
            shown = ", ".join(list(genome.chrom_sizes)[:8])
            status.append("unknown_chromosome")
            more = " ..." if len(genome.chrom_sizes) > 8 else ""
            reason.append(f"chromosome {chrom!r} is not in the genome ({shown}{more})")
            continue
        if match == "ambiguous":
            status.append("ambiguous_chromosome")
            reason.append(f"chromosome {chrom!r} matches several genome sequences; rename it to one of them")
            continue
        if genome_bases is None:
            size = genome.chrom_sizes[genome_chrom]
            status.append("outside_chromosome")
            reason.append(f"POS {pos + 1:,} with REF of {len(ref)} bp lies outside {genome_chrom} (1-{size:,})")
            continue
        if genome_bases != ref.upper():
            status.append("ref_mismatch")
            reason.append(
                f"REF {ref} differs from the genome's {genome_bases} at {genome_chrom}:{pos + 1:,}; "
                "check the genome build and that POS is 1-based"
            )
            continue
        allele_status, allele_reason = _allele_status(ref, alt)
        status.append(allele_status)
        reason.append(allele_reason)
    out["status"] = status
    out["reason"] = reason
    return out


def score_variants(
    model,
    genome: Genome,
    annotation,
    alleles: pd.DataFrame,
    *,
    background=None,
    calibration=None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """LLR, percentile and consequence of every scorable SNV among ``alleles``.

    Positions are scored with :func:`glm_core.scoring.site_probabilities_at`, which groups
    nearby positions so that they share one fetched sequence and one batched model call;
    several alleles at one position share its prediction.

    Parameters
    ----------
    model : a site model (:class:`glm_core.models.MaskedLM`, the k-mer baseline ...).
    annotation : the genome's annotation, or None (consequence columns left empty).
    alleles : as :func:`vcf_alleles` returns (``chrom, pos`` 0-based, ``ref, alt``; other
        columns kept).
    background : optional genome-wide background (:func:`model_llr_background`) for
        ``llr_percentile_genome`` [and ``cllr_percentile_genome``].
    calibration : optional neutral table (:func:`model_calibration`) for ``cllr``.

    Returns
    -------
    A new DataFrame: the columns of :func:`variant_status` plus ``llr``, ``llr_percentile``
    (among every possible SNV at the scored positions) [, ``cllr``]
    [, ``llr_percentile_genome``, ``cllr_percentile_genome``], ``p_ref``, ``p_alt`` and the
    consequence columns; NaN/NA where not scored. ``attrs["llr_background"]`` says what the
    genome-wide percentiles rank against (:func:`background_description`).

    Most of its length is its documented output columns; the steps run once each, in order.
    """
    table = variant_status(genome, alleles).reset_index(drop=True)
    scored = np.flatnonzero((table["status"] == "scored").to_numpy())
    for column in ("llr", "llr_percentile", "p_ref", "p_alt"):
        table[column] = np.nan
    snvs = pd.DataFrame(
        {
            "chrom": table["genome_chrom"].to_numpy()[scored].astype(str),
            "pos": table["pos"].to_numpy()[scored].astype(np.int64),
            "ref": table["ref"].str.upper().to_numpy()[scored],
            "alt": table["alt"].str.upper().to_numpy()[scored],
        }
    )
    if len(snvs):
        positions = snvs[["chrom", "pos"]].drop_duplicates(ignore_index=True)
        probabilities = site_probabilities_at(model, genome, positions, batch_size=batch_size, progress=progress)
        row_of = pd.Series(np.arange(len(positions)), index=pd.MultiIndex.from_frame(positions))
        rows = row_of.reindex(pd.MultiIndex.from_frame(snvs[["chrom", "pos"]])).to_numpy()
        ref_codes = nucleotide_codes("".join(snvs["ref"]))
        alt_codes = nucleotide_codes("".join(snvs["alt"]))
        p = probabilities[rows]
        log_p = np.log(np.clip(p, 1e-12, 1.0))
        index = np.arange(len(snvs))
        llr = log_p[index, alt_codes] - log_p[index, ref_codes]
        position_refs = snvs.drop_duplicates(["chrom", "pos"]).set_index(["chrom", "pos"])["ref"]
        position_refs = position_refs.reindex(pd.MultiIndex.from_frame(positions))
        background_snvs = every_snv(
            positions["chrom"].to_numpy(),
            positions["pos"].to_numpy(),
            nucleotide_codes("".join(position_refs)),
            probabilities,
        )
        table.loc[scored, "llr"] = llr
        table.loc[scored, "p_ref"] = p[index, ref_codes]
        table.loc[scored, "p_alt"] = p[index, alt_codes]
        table.loc[scored, "llr_percentile"] = llr_percentile(llr, background_snvs["llr"])
    genome_scores = snvs.assign(llr=table["llr"].to_numpy()[scored])
    _add_genome_scores(genome_scores, genome, background, calibration)
    for column in ("cllr", "llr_percentile_genome", "cllr_percentile_genome"):
        if column in genome_scores.columns:
            table[column] = np.nan
            table.loc[scored, column] = genome_scores[column].to_numpy()
    consequences = _with_consequences(annotation, genome, snvs)
    for column in CONSEQUENCE_COLUMNS:
        values = consequences[column]
        if column == "consequence":
            full = pd.Categorical([None] * len(table), categories=values.cat.categories, ordered=True)
            full[scored] = values.to_numpy()
            table[column] = full
        else:
            full = pd.Series([pd.NA] * len(table), dtype=values.dtype)
            full.iloc[scored] = values.to_numpy()
            table[column] = full
    table.attrs["llr_background"] = background_description(background)
    return table


def score_vcf(
    model,
    genome: Genome,
    annotation,
    vcf: Vcf,
    *,
    background=None,
    calibration=None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """:func:`vcf_alleles` then :func:`score_variants`; one row per ALT allele of ``vcf``."""
    return score_variants(
        model,
        genome,
        annotation,
        vcf_alleles(vcf),
        background=background,
        calibration=calibration,
        batch_size=batch_size,
        progress=progress,
    )


def status_counts(scored: pd.DataFrame) -> pd.DataFrame:
    """Alleles per status: columns ``status, n, meaning``, most frequent first."""
    counts = scored["status"].value_counts()
    meanings = [STATUSES[status] for status in counts.index]
    return pd.DataFrame({"status": counts.index, "n": counts.to_numpy(), "meaning": meanings})


def chromosome_report(scored: pd.DataFrame) -> pd.DataFrame:
    """How each chromosome name of the VCF was matched: ``vcf_chrom, genome_chrom, match, n_alleles``."""
    report = scored.groupby(["chrom", "chrom_match"], sort=False, dropna=False).agg(
        genome_chrom=("genome_chrom", "first"), n_alleles=("status", "size")
    )
    report = report.reset_index().rename(columns={"chrom": "vcf_chrom", "chrom_match": "match"})
    return report[["vcf_chrom", "genome_chrom", "match", "n_alleles"]]


# --------------------------------------------------------------------------- writing


TSV_ORDER = [
    "line",
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "genome_chrom",
    "status",
    "reason",
    "llr",
    "cllr",
    "llr_percentile",
    "llr_percentile_genome",
    "cllr_percentile_genome",
    "p_ref",
    "p_alt",
    *CONSEQUENCE_COLUMNS,
]


def scored_tsv(scored: pd.DataFrame) -> str:
    """Tab-separated text of a scored allele table, one row per ALT allele, ``pos`` 1-based.

    Columns: line (in the input VCF), chrom (as in the VCF), pos, id, ref, alt, genome_chrom,
    status, reason, llr [, cllr], llr_percentile [, llr_percentile_genome, cllr_percentile_genome], p_ref,
    p_alt, consequence,
    transcript_id, gene, codon_position, ref_codon, alt_codon, ref_aa, alt_aa.
    """
    columns = [column for column in TSV_ORDER if column in scored.columns]
    out = scored[columns].copy()
    out["pos"] = out["pos"] + 1
    return out.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n", na_rep="")
