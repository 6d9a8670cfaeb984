"""Held-out evaluation of site models: accuracy, bits per base and biology checks.

Every function takes any :class:`~glm_core.scoring.SiteModel` (a masked gLM, the k-mer
baseline), so the models are compared by the same code.

Split
-----
:data:`HELD_OUT_CHROMS` (chr20-chr23 of the embedded *U. maydis* genome) are held out;
every other sequence is for training (:func:`training_chroms`).

Conventions
-----------
Position tables have columns ``chrom`` and ``pos`` (0-based); probabilities are over
A, C, G, T in that column order, for the plus strand; LLRs are natural logarithms,
``log P(alt) - log P(ref)``. Long functions take ``progress(done, total)``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from .consequence import annotate_snvs
from .errors import InputError
from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .scoring import Progress, SiteModel, every_snv, information_content, site_probabilities_at

if TYPE_CHECKING:
    from .annotation import Annotation

HELD_OUT_CHROMS: tuple[str, ...] = ("chr20", "chr21", "chr22", "chr23")
# Motif flanks: positions this many bases (inclusive) from the nearest motif base.
DEFAULT_FLANK = (10, 30)
# Consequence comparisons: (label, damaging classes); the negatives are always synonymous.
AUROC_COMPARISONS = (
    ("stop_gained vs synonymous", ("stop_gained",)),
    ("missense vs synonymous", ("missense",)),
    ("stop_gained+missense vs synonymous", ("stop_gained", "missense")),
)

__all__ = [
    "HELD_OUT_CHROMS",
    "training_chroms",
    "sample_eval_positions",
    "site_model_metrics",
    "held_out_transcripts",
    "motif_positions",
    "motif_information",
    "cds_snv_llrs",
    "consequence_summary",
]


# ---------------------------------------------------------------------------- split
def training_chroms(chrom_sizes: dict[str, int] | Iterable[str]) -> list[str]:
    """Every sequence name that is not in :data:`HELD_OUT_CHROMS`, in the genome's order."""
    return [chrom for chrom in chrom_sizes if chrom not in HELD_OUT_CHROMS]


def _check_chroms(genome: Genome, chroms: Iterable[str]) -> list[str]:
    chroms = list(chroms)
    missing = [chrom for chrom in chroms if chrom not in genome.chrom_sizes]
    if missing:
        raise InputError(
            f"chromosomes {missing} are not in {genome.path.name} (it has {', '.join(list(genome.chrom_sizes)[:30])}); "
            "pass the held-out sequence names of this genome as chroms"
        )
    return chroms


def sample_eval_positions(
    genome: Genome, chroms: Iterable[str] = HELD_OUT_CHROMS, fraction: float = 0.15, seed: int = 0
) -> pd.DataFrame:
    """A fixed random sample of positions whose reference base is A, C, G or T.

    On each chromosome ``round(fraction * n_acgt)`` positions are drawn without
    replacement by a generator seeded from ``seed`` and the chromosome name, so a
    chromosome's sample does not depend on which other chromosomes are asked for.

    Returns
    -------
    DataFrame with columns ``chrom``, ``pos`` (0-based), ``ref`` (upper-case base),
    sorted by the order of ``chroms`` then position.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    frames = []
    for chrom in _check_chroms(genome, chroms):
        codes = nucleotide_codes(genome.fetch(chrom, 0, genome.chrom_sizes[chrom]))
        acgt = np.flatnonzero(codes >= 0)
        rng = np.random.default_rng([seed, zlib.crc32(chrom.encode())])
        chosen = np.sort(rng.choice(acgt, size=int(round(fraction * len(acgt))), replace=False))
        frames.append(pd.DataFrame({"chrom": chrom, "pos": chosen, "ref": np.array(list(NUCLEOTIDES))[codes[chosen]]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["chrom", "pos", "ref"])


# ---------------------------------------------------------------------------- scoring
def site_model_metrics(
    model: SiteModel,
    genome: Genome,
    positions: pd.DataFrame,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Held-out accuracy and cross-entropy of a site model.

    Parameters
    ----------
    positions : DataFrame with ``chrom``, ``pos`` (0-based), e.g. from :func:`sample_eval_positions`;
        rows whose reference base is not A/C/G/T are dropped.

    Returns
    -------
    dict with ``accuracy`` (argmax equals the reference base), ``bits_per_base``
    (mean ``-log2 P(ref)``, P clipped at 1e-12) and ``n`` (positions scored).
    """
    reference = _reference_codes(genome, positions)
    keep = reference >= 0
    positions, reference = positions.loc[keep], reference[keep]
    probabilities = site_probabilities_at(model, genome, positions, batch_size=batch_size, progress=progress)
    p_ref = probabilities[np.arange(len(reference)), reference]
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == reference)) if len(reference) else float("nan"),
        "bits_per_base": float(np.mean(-np.log2(np.clip(p_ref, 1e-12, 1.0)))) if len(reference) else float("nan"),
        "n": int(len(reference)),
    }


def _reference_codes(genome: Genome, positions: pd.DataFrame) -> np.ndarray:
    """Plus-strand reference codes (0..3, -1 for non-ACGT) of a ``chrom, pos`` table, shape=(n,)."""
    bases = genome.bases_at(positions["chrom"].to_numpy(), positions["pos"].to_numpy(dtype=np.int64))
    return nucleotide_codes(bases).astype(np.int64)


# ---------------------------------------------------------------------------- genes
def held_out_transcripts(
    annotation: Annotation, n_genes: int | None = 150, seed: int = 0, chroms: Iterable[str] = HELD_OUT_CHROMS
) -> list[str]:
    """A fixed sample of protein-coding transcripts, one per gene, on ``chroms``.

    For each gene the transcript with the longest CDS is taken (ties: smallest id);
    ``n_genes`` of those genes are drawn with ``numpy.random.default_rng(seed)`` (all
    when ``n_genes`` is None or at least their number). Returned in genome order.
    """
    table = annotation.transcripts
    chroms = set(chroms)
    coding = table[table["chrom"].isin(chroms) & table["cds_start"].notna() & table["cds_end"].notna()].copy()
    if coding.empty:
        raise ValueError(
            f"no protein-coding transcripts on {sorted(chroms)}; check that the annotation matches the genome"
        )
    coding["cds_length"] = coding["cds_end"] - coding["cds_start"]
    coding = coding.sort_values(["gene_id", "cds_length", "transcript_id"], ascending=[True, False, True])
    per_gene = coding.drop_duplicates("gene_id", keep="first").sort_values("gene_id")
    if n_genes is not None and n_genes < len(per_gene):
        rng = np.random.default_rng(seed)
        per_gene = per_gene.iloc[np.sort(rng.choice(len(per_gene), size=int(n_genes), replace=False))]
    per_gene = per_gene.sort_values(["chrom", "start", "transcript_id"])
    return per_gene["transcript_id"].tolist()


def _resolve_transcripts(annotation: Annotation, transcripts, n_genes: int | None, seed: int) -> list[str]:
    if transcripts is None:
        return held_out_transcripts(annotation, n_genes=n_genes, seed=seed)
    transcripts = list(transcripts)
    known = set(annotation.transcripts["transcript_id"])
    unknown = [tid for tid in transcripts if tid not in known]
    if unknown:
        raise InputError(f"transcripts {unknown[:5]} are not in the annotation ({len(unknown)} unknown)")
    return transcripts


# ---------------------------------------------------------------------------- motifs
def motif_positions(
    genome: Genome, annotation: Annotation, transcripts: Sequence[str], flank: tuple[int, int] = DEFAULT_FLANK
) -> pd.DataFrame:
    """Positions of annotated start codons and canonical splice sites, and of their flanks.

    * ``start_codon``: the 3 bases of the CDS's first codon, when it reads ATG on the
      transcript's strand and lies in one CDS segment.
    * ``splice_donor`` / ``splice_acceptor``: the first 2 (GT) and last 2 (AG) bases of
      each intron between consecutive exons, when the intron reads GT...AG.
    * flanks: positions ``flank[0]..flank[1]`` bases (inclusive) from the nearest motif
      base, on both sides, inside the chromosome, excluding every motif base.

    Returns
    -------
    DataFrame with columns ``motif``, ``where`` (``site``/``flank``), ``chrom``, ``pos``
    (0-based, plus strand), ``transcript_id``, one row per distinct
    (motif, where, chrom, pos).
    """
    near, far = flank
    if not 0 < near <= far:
        raise ValueError(f"flank must be (near, far) with 0 < near <= far bases; got {flank}")
    sites = []  # (motif, chrom, start, end, transcript_id), genomic 0-based half-open
    for tid in transcripts:
        cds = annotation.cds(tid)
        row = annotation.transcripts.loc[annotation.transcripts["transcript_id"] == tid].iloc[0]
        chrom, strand = row["chrom"], row["strand"]
        if len(cds):
            first = cds.iloc[0]
            start = int(first["start"]) if strand == "+" else int(first["end"]) - 3
            whole_codon = int(first["end"]) - int(first["start"]) >= 3
            if whole_codon and genome.fetch(chrom, start, start + 3, strand).upper() == "ATG":
                sites.append(("start_codon", chrom, start, start + 3, tid))
        exons = annotation.exons(tid)
        for upstream, downstream in zip(exons.iloc[:-1].itertuples(), exons.iloc[1:].itertuples()):
            if strand == "+":
                intron_start, intron_end = int(upstream.end), int(downstream.start)
            else:
                intron_start, intron_end = int(downstream.end), int(upstream.start)
            if intron_end - intron_start < 4:
                continue
            intron = genome.fetch(chrom, intron_start, intron_end, strand).upper()
            if not (intron.startswith("GT") and intron.endswith("AG")):
                continue
            if strand == "+":
                donor, acceptor = intron_start, intron_end - 2
            else:
                donor, acceptor = intron_end - 2, intron_start
            sites.append(("splice_donor", chrom, donor, donor + 2, tid))
            sites.append(("splice_acceptor", chrom, acceptor, acceptor + 2, tid))
    columns = ["motif", "where", "chrom", "pos", "transcript_id"]
    if not sites:
        return pd.DataFrame(columns=columns)
    rows = []
    for motif, chrom, start, end, tid in sites:
        rows.extend((motif, "site", chrom, p, tid) for p in range(start, end))
        length = genome.chrom_sizes[chrom]
        left = range(max(0, start - far), max(0, start - near + 1))
        right = range(min(length, end - 1 + near), min(length, end + far))
        rows.extend((motif, "flank", chrom, p, tid) for p in [*left, *right])
    table = pd.DataFrame(rows, columns=columns)
    site_keys = set(zip(table.loc[table["where"] == "site", "chrom"], table.loc[table["where"] == "site", "pos"]))
    is_flank = table["where"] == "flank"
    on_site = np.array([key in site_keys for key in zip(table["chrom"], table["pos"])])
    table = table[~(is_flank & on_site)]
    return table.drop_duplicates(["motif", "where", "chrom", "pos"]).reset_index(drop=True)


def motif_information(
    model: SiteModel,
    genome: Genome,
    annotation: Annotation,
    transcripts: Sequence[str] | None = None,
    *,
    flank: tuple[int, int] = DEFAULT_FLANK,
    n_genes: int | None = 150,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Mean information content at start codons and splice sites versus their flanks.

    A model that has learnt gene structure is more certain (higher IC) at the ATG of
    start codons and at the GT/AG ends of introns than 10-30 bp away. Information content
    does not depend on the strand the probabilities are read on, so positions are scored
    on the plus strand.

    Parameters
    ----------
    transcripts : transcript ids to use; None takes :func:`held_out_transcripts` with
        ``n_genes`` and ``seed``.
    flank : (near, far) distance range in bases of the flank positions (see :func:`motif_positions`).

    Returns
    -------
    DataFrame with columns ``motif`` (start_codon, splice_donor, splice_acceptor),
    ``where`` (site, flank), ``mean_ic`` (bits), ``mean_p_ref`` (mean probability of the
    reference base), ``n`` (positions), ``n_sites`` (motif instances).
    """
    transcripts = _resolve_transcripts(annotation, transcripts, n_genes, seed)
    positions = motif_positions(genome, annotation, transcripts, flank=flank)
    columns = ["motif", "where", "mean_ic", "mean_p_ref", "n", "n_sites"]
    if positions.empty:
        return pd.DataFrame(columns=columns)
    unique = positions[["chrom", "pos"]].drop_duplicates().reset_index(drop=True)
    probabilities = site_probabilities_at(model, genome, unique, batch_size=batch_size, progress=progress)
    reference = _reference_codes(genome, unique)
    unique["ic"] = information_content(probabilities)
    unique["p_ref"] = np.where(reference >= 0, probabilities[np.arange(len(unique)), np.maximum(reference, 0)], np.nan)
    scored = positions.merge(unique, on=["chrom", "pos"], how="left")
    motif_length = {"start_codon": 3, "splice_donor": 2, "splice_acceptor": 2}
    rows = []
    for motif in ("start_codon", "splice_donor", "splice_acceptor"):
        n_sites = int((scored["motif"].eq(motif) & scored["where"].eq("site")).sum()) // motif_length[motif]
        for where in ("site", "flank"):
            group = scored[(scored["motif"] == motif) & (scored["where"] == where)]
            rows.append(
                {
                    "motif": motif,
                    "where": where,
                    "mean_ic": float(group["ic"].mean()) if len(group) else float("nan"),
                    "mean_p_ref": float(group["p_ref"].mean()) if len(group) else float("nan"),
                    "n": int(len(group)),
                    "n_sites": n_sites,
                }
            )
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- consequences
def cds_snv_llrs(
    model: SiteModel,
    genome: Genome,
    annotation: Annotation,
    transcripts: Sequence[str] | None = None,
    *,
    n_genes: int | None = 150,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Every SNV at every CDS base of ``transcripts``, with its LLR and predicted consequence.

    Parameters
    ----------
    transcripts : transcript ids; None takes :func:`held_out_transcripts` with ``n_genes`` and ``seed``.

    Returns
    -------
    DataFrame with columns ``chrom``, ``pos`` (0-based), ``ref``, ``alt`` (plus-strand
    bases), ``llr`` (natural log, fwd/RC averaged by the model) and the columns that
    :func:`glm_core.consequence.annotate_snvs` adds (``consequence``, ``transcript_id``,
    ``gene``, ``codon_position`` ...). Positions whose reference is not A/C/G/T are left out.
    """
    transcripts = _resolve_transcripts(annotation, transcripts, n_genes, seed)
    segments = [annotation.cds(tid)[["chrom", "start", "end"]] for tid in transcripts]
    segments = [segment for segment in segments if len(segment)]
    if not segments:
        raise ValueError(f"the {len(transcripts)} transcripts given have no CDS")
    cds = pd.concat(segments, ignore_index=True)
    positions = pd.DataFrame(
        {
            "chrom": np.repeat(cds["chrom"].to_numpy(), (cds["end"] - cds["start"]).to_numpy()),
            "pos": np.concatenate([np.arange(s, e) for s, e in zip(cds["start"], cds["end"])]),
        }
    ).drop_duplicates(ignore_index=True)
    reference = _reference_codes(genome, positions)
    keep = reference >= 0
    positions, reference = positions.loc[keep].reset_index(drop=True), reference[keep]
    probabilities = site_probabilities_at(model, genome, positions, batch_size=batch_size, progress=progress)
    variants = every_snv(positions["chrom"].to_numpy(), positions["pos"].to_numpy(), reference, probabilities)
    return annotate_snvs(annotation, genome, variants)


def consequence_summary(snvs: pd.DataFrame) -> pd.DataFrame:
    """AUROCs of damaging classes against synonymous SNVs, and the mean LLR of each class.

    A lower LLR should mean more damaging, so ``-llr`` is the score and the damaging
    class is the positive label (:func:`sklearn.metrics.roc_auc_score`); 0.5 is chance.

    Parameters
    ----------
    snvs : DataFrame with ``llr`` and ``consequence``, e.g. from :func:`cds_snv_llrs`.

    Returns
    -------
    DataFrame with columns ``metric`` (``auroc`` or ``mean_llr``), ``label`` (comparison
    or consequence), ``value``, ``n`` (SNVs of the damaging class(es) / of the consequence)
    and ``n_negative`` (synonymous SNVs, AUROC rows only). An AUROC is NaN when either
    class is empty.
    """
    from sklearn.metrics import roc_auc_score

    snvs = snvs[snvs["llr"].notna() & snvs["consequence"].notna()].assign(
        consequence=lambda table: table["consequence"].astype(str)
    )
    negative = snvs.loc[snvs["consequence"] == "synonymous", "llr"].to_numpy()
    rows = []
    for label, classes in AUROC_COMPARISONS:
        positive = snvs.loc[snvs["consequence"].isin(classes), "llr"].to_numpy()
        if len(positive) and len(negative):
            labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
            value = float(roc_auc_score(labels, -np.concatenate([positive, negative])))
        else:
            value = float("nan")
        rows.append(
            {"metric": "auroc", "label": label, "value": value, "n": len(positive), "n_negative": len(negative)}
        )
    means = snvs.groupby("consequence")["llr"].agg(["mean", "size"]).sort_values("mean")
    for consequence, stats in means.iterrows():
        rows.append(
            {
                "metric": "mean_llr",
                "label": consequence,
                "value": float(stats["mean"]),
                "n": int(stats["size"]),
                "n_negative": None,
            }
        )
    table = pd.DataFrame(rows, columns=["metric", "label", "value", "n", "n_negative"])
    table["n"] = table["n"].astype("int64")
    table["n_negative"] = table["n_negative"].astype("Int64")
    return table
