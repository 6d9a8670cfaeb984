"""Genome-wide scores: every position of a genome (or of chosen regions) scored with a site model.

``glm-explore score-genome`` runs :func:`score_genome`, which writes into an output folder:

* ``pA.bw``, ``pC.bw``, ``pG.bw``, ``pT.bw`` (P(base | context)), ``ic.bw`` (information
  content, bits) and ``p_ref.bw`` (P(reference base)): bigWig, one value per A/C/G/T base
  (0-based half-open one-base entries; N bases have no value);
* ``hub.txt``, ``genomes.txt``, ``trackDb.txt``: a UCSC assembly hub (see :mod:`glm_core.genome_hub`)
  whose sequence is ``genome.2bit`` (:mod:`glm_core.twobit`), and ``igv_session.xml`` for IGV;
* ``snvs.tsv.gz`` + ``snvs.tsv.gz.tbi``: every possible SNV, bgzip, tabix-indexed, columns
  :data:`SNV_COLUMNS` (``pos`` **1-based** as in VCF; ``llr`` natural log; ``cllr`` the
  calibrated LLR, :mod:`glm_core.calibration`; ``consequence`` and ``gene`` from
  :func:`glm_core.consequence.annotate_snvs`, empty without an annotation);
* ``calibration.tsv`` (the neutral table used for ``cllr``) and ``calibration.<proxy>.tsv``
  for each proxy that had sites; ``llr_background.npz`` (:mod:`glm_core.backgrounds`);
* ``manifest.json`` (:data:`MANIFEST`), written last: an output folder without one is not
  finished.

Work is split into chunks of ``chunk_size`` bases (:func:`plan_chunks`) kept in a
:class:`~glm_core.chunked_job.ChunkedJob` beside ``manifest.json``: each chunk is saved
atomically, a rerun with the same inputs reuses every chunk already saved, and a kill leaves
only whole chunks and ``*.incomplete-*`` temporaries. Under ``torchrun`` each process takes
the chunks ``i`` with ``i % world == rank``; rank 0 waits for the others and merges.
Two passes: the first scores and annotates each chunk (probabilities, SNVs, neutral-site
sums); the calibration table is the sum over all chunks; the second writes each chunk's
rows of the SNV table (compressed) with cLLRs; then rank 0 writes the files.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .calibration import NEUTRAL_PROXIES, ContextSums, NeutralTable, calibrate_codes, read_neutral_table
from .chunked_job import ChunkedJob, file_fingerprint
from .consequence import CONSEQUENCES, annotate_snvs
from .errors import InputError
from .genome import NUCLEOTIDES, Genome, nucleotide_codes
from .genome_hub import MANIFEST, write_outputs
from .processes import Processes
from .scoring import every_snv, site_probabilities

SNV_COLUMNS = ["chrom", "pos", "ref", "alt", "llr", "cllr", "consequence", "gene"]
TRACK_NAMES = ("pA", "pC", "pG", "pT", "ic", "p_ref")
DEFAULT_CHUNK_SIZE = 1_000_000
# Proxy used for cLLR when both have sites; see docs/BENCHMARKS.md for the comparison.
DEFAULT_PROXY = "fourfold"
# Below this many neutral SNVs a computed table is too noisy; the model's shipped table is used.
MIN_NEUTRAL_SNVS = 50_000
SNV_DTYPE = np.dtype(
    [
        ("pos", "<i8"),
        ("alt", "i1"),
        ("llr", "<f4"),
        ("consequence", "i1"),
        ("gene", "<i4"),
        ("context", "<i2"),
        ("neutral", "i1"),
    ]
)


def _default_onepass() -> Path:
    from .models import BUNDLED_MODELS_DIR

    return BUNDLED_MODELS_DIR / "gpn-umaydis-onepass"


DEFAULT_ONEPASS = _default_onepass()


@dataclass
class GenomeScoreSettings:
    """What a score-genome run depends on besides the genome, annotation and model."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    regions: Path | None = None
    calibration: Path | None = None
    proxy: str = DEFAULT_PROXY
    batch_size: int | None = None


def plan_chunks(chrom_sizes: dict[str, int], regions: pd.DataFrame | None, chunk_size: int) -> pd.DataFrame:
    """The chunks of a run: ``chrom, start, end`` (0-based half-open), in genome order.

    ``regions`` (``chrom, start, end``, e.g. from :func:`glm_core.bed.windows_from_bed`) are
    sorted, overlaps merged, then cut into pieces of at most ``chunk_size``; without regions
    every chromosome is cut.
    """
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be at least 1; got {chunk_size}")
    if regions is None:
        regions = pd.DataFrame({"chrom": list(chrom_sizes), "start": 0, "end": list(chrom_sizes.values())})
    unknown = sorted(set(regions["chrom"]) - set(chrom_sizes))
    if unknown:
        raise InputError(
            f"regions on {unknown[:5]} are not in the genome (it has {', '.join(list(chrom_sizes)[:10])} ...)"
        )
    rows = []
    order = {chrom: i for i, chrom in enumerate(chrom_sizes)}
    regions = regions.assign(order=regions["chrom"].map(order)).sort_values(["order", "start", "end"])
    for chrom, part in regions.groupby("order", sort=True):
        name = list(chrom_sizes)[chrom]
        merged: list[list[int]] = []
        for start, end in zip(part["start"].to_numpy(), part["end"].to_numpy()):
            end = min(int(end), chrom_sizes[name])
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            elif start < end:
                merged.append([int(start), end])
        for start, end in merged:
            for first in range(start, end, chunk_size):
                rows.append((name, first, min(first + chunk_size, end)))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


# --------------------------------------------------------------------------- chunks


def far_from_genes(annotation, chroms: np.ndarray, positions: np.ndarray, distance: int) -> np.ndarray:
    """True where a 0-based position lies more than ``distance`` bases from every annotated transcript."""
    out = np.ones(len(positions), dtype=bool)
    transcripts = annotation.transcripts
    for chrom in pd.unique(chroms):
        rows = np.flatnonzero(chroms == chrom)
        on_chrom = transcripts[transcripts["chrom"] == chrom]
        if len(on_chrom) == 0:
            continue
        lo = on_chrom["start"].to_numpy(np.int64) - distance
        hi = on_chrom["end"].to_numpy(np.int64) + distance
        # a position is near a gene when some padded span [lo, hi) holds it: spans started minus spans ended
        started = np.searchsorted(np.sort(lo), positions[rows], side="right")
        ended = np.searchsorted(np.sort(hi), positions[rows], side="right")
        out[rows] = started == ended
    return out


def snv_records(
    genome: Genome,
    annotation,
    chroms: np.ndarray,
    positions: np.ndarray,
    probabilities: np.ndarray,
    gene_codes: pd.Index,
) -> np.ndarray:
    """Every possible SNV of scored positions as :data:`SNV_DTYPE` records, three per A/C/G/T position.

    ``chroms``, ``positions`` (0-based), shape=(n,); ``probabilities`` shape=(n, 4). Adds the
    consequence and gene codes (``gene_codes`` indexes gene names; -1 for none), the 5-mer
    context code and the neutral-proxy bits (1 = intergenic_far, 2 = fourfold).
    """
    from .calibration import INTERGENIC_DISTANCE

    chroms = np.asarray(chroms, dtype=object)
    positions = np.asarray(positions, dtype=np.int64)
    offsets = np.arange(-2, 3)
    windows = positions[:, None] + offsets[None, :]
    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.int64)
    inside = ((windows >= 0) & (windows < sizes[:, None])).all(axis=1)
    clipped = np.clip(windows, 0, sizes[:, None] - 1)
    bases = nucleotide_codes(genome.bases_at(np.repeat(chroms, 5), clipped.ravel())).astype(np.int64).reshape(-1, 5)
    reference = bases[:, 2]
    contexts = np.where(inside & (bases >= 0).all(axis=1), bases @ (4 ** np.arange(4, -1, -1)), -1)
    snvs = every_snv(chroms, positions, reference, probabilities)
    snv_rows = np.repeat(np.flatnonzero(reference >= 0), 3)
    out = np.zeros(len(snvs), dtype=SNV_DTYPE)
    out["consequence"], out["gene"] = -1, -1
    out["pos"] = snvs["pos"].to_numpy()
    out["alt"] = nucleotide_codes("".join(snvs["alt"]))
    out["llr"] = snvs["llr"].to_numpy()
    out["context"] = contexts[snv_rows]
    if annotation is None or len(snvs) == 0:
        return out
    snvs = annotate_snvs(annotation, genome, snvs)
    out["consequence"] = snvs["consequence"].cat.codes.to_numpy()
    out["gene"] = gene_codes.get_indexer(snvs["gene"].fillna("").to_numpy())
    far = far_from_genes(annotation, chroms, positions, INTERGENIC_DISTANCE)[snv_rows]
    third = (snvs["codon_position"] == 3).fillna(False).to_numpy()
    synonymous_third = (snvs["consequence"] == "synonymous").to_numpy() & third
    # a fourfold site: all three SNVs of the position synonymous at a third codon position
    per_position = np.bincount(snv_rows, weights=synonymous_third, minlength=len(positions))
    out["neutral"] = np.where(far, 1, 0) | np.where(per_position[snv_rows] == 3, 2, 0)
    return out


def score_chunk(
    model,
    genome: Genome,
    annotation,
    chrom: str,
    start: int,
    end: int,
    gene_codes: pd.Index,
    batch_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 of one chunk: probabilities, shape=(end - start, 4) float32, and its SNVs (:data:`SNV_DTYPE`)."""
    probabilities = site_probabilities(model, genome, chrom, start, end, batch_size=batch_size).astype(np.float32)
    positions = np.arange(start, end)
    chroms = np.full(len(positions), chrom, dtype=object)
    return probabilities, snv_records(genome, annotation, chroms, positions, probabilities, gene_codes)


def neutral_sums(snvs: np.ndarray) -> np.ndarray:
    """Per-proxy :class:`ContextSums` of a chunk's SNVs, shape=(len(NEUTRAL_PROXIES), 2, 4096)."""
    parts = []
    for bit, _proxy in enumerate(NEUTRAL_PROXIES):
        member = (snvs["neutral"] & (1 << bit)) > 0
        parts.append(
            ContextSums()
            .add(snvs["context"][member], snvs["alt"][member], snvs["llr"][member].astype(np.float64))
            .as_array()
        )
    return np.stack(parts)


def snv_text(chrom: str, snvs: np.ndarray, cllr: np.ndarray, reference: np.ndarray, gene_names: np.ndarray) -> str:
    """TSV rows (no header) of a chunk's SNVs; ``pos`` 1-based, scores to 4 decimals."""
    bases = np.array(list(NUCLEOTIDES))
    consequences = np.array([*CONSEQUENCES, ""], dtype=object)
    genes = np.append(gene_names.astype(object), "")
    frame = pd.DataFrame(
        {
            "chrom": chrom,
            "pos": snvs["pos"] + 1,
            "ref": bases[reference],
            "alt": bases[snvs["alt"]],
            "llr": np.round(snvs["llr"].astype(np.float64), 4),
            "cllr": np.round(cllr, 4),
            "consequence": consequences[snvs["consequence"]],
            "gene": genes[snvs["gene"]],
        }
    )
    return frame.to_csv(sep="\t", index=False, header=False, lineterminator="\n", na_rep="NA")


def _bgzf_bytes(text: str, scratch: Path) -> np.ndarray:
    """``text`` BGZF-compressed (blocks that concatenate into one bgzip file), as a uint8 array."""
    import pysam

    with pysam.BGZFile(str(scratch), "wb") as handle:
        handle.write(text.encode())
    data = np.fromfile(scratch, dtype=np.uint8)
    scratch.unlink()
    return data


# --------------------------------------------------------------------------- the run


def genome_sha256(genome: Genome) -> str:
    """sha256 of the genome's file (what a manifest and a background are matched by)."""
    return file_fingerprint(genome.path)["sha256"]


def weights_sha256(model_folder: Path | None) -> str | None:
    """sha256 of a model folder's ``model.safetensors`` (None for a model without a folder)."""
    if model_folder is None or not (Path(model_folder) / "model.safetensors").is_file():
        return None
    return file_fingerprint(Path(model_folder) / "model.safetensors")["sha256"]


def job_key(
    genome: Genome, annotation_path, model, model_folder, chunks: pd.DataFrame, settings: GenomeScoreSettings
) -> dict:
    """Everything the chunks depend on: input fingerprints, model, chunk plan, settings."""
    return {
        "command": "score-genome",
        "fasta": genome_sha256(genome),
        "annotation": (file_fingerprint(annotation_path) or {}).get("sha256") if annotation_path else None,
        "model": getattr(model, "name", str(model)),
        "weights": weights_sha256(model_folder),
        "chunks": pd.util.hash_pandas_object(chunks, index=False).sum().item(),
        "calibration": (file_fingerprint(settings.calibration) or {}).get("sha256") if settings.calibration else None,
        "proxy": settings.proxy,
    }


def _choose_table(
    sums: dict[str, ContextSums], settings: GenomeScoreSettings, model, model_name: str
) -> tuple[NeutralTable | None, dict[str, NeutralTable], str]:
    """The neutral table cLLRs use, every computed one, and a sentence saying which and why."""
    from .calibration import model_neutral_table

    computed = {proxy: s.table(proxy, model_name) for proxy, s in sums.items() if s.count.sum() > 0}
    if settings.calibration is not None:
        return read_neutral_table(settings.calibration), computed, f"from {settings.calibration}"
    chosen = sums.get(settings.proxy)
    if chosen is not None and chosen.count.sum() >= MIN_NEUTRAL_SNVS:
        return (
            computed[settings.proxy],
            computed,
            f"computed here from {int(chosen.count.sum()):,} {settings.proxy} SNVs",
        )
    shipped = model_neutral_table(model)
    if shipped is not None:
        return shipped, computed, f"shipped with the model (proxy {shipped.proxy}); too few neutral SNVs here"
    if settings.proxy in computed:
        return (
            computed[settings.proxy],
            computed,
            (f"computed here from only {int(chosen.count.sum()):,} {settings.proxy} SNVs (noisy)"),
        )
    return None, computed, "none: no annotation to find neutral sites and no table shipped with the model"


def _versions() -> dict:
    import torch

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "torch": torch.__version__,
    }
    for name in ("pysam", "pyBigWig", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    return versions


def _key_sha256(key: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _finished_manifest(out_dir: Path, key: dict) -> dict | None:
    """The manifest of a finished run of exactly this job in ``out_dir``, or None."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("job_key_sha256") == _key_sha256(key) else None


def score_genome(
    model,
    genome: Genome,
    annotation,
    out_dir: str | Path,
    *,
    model_folder: Path | None = None,
    annotation_path: Path | None = None,
    settings: GenomeScoreSettings | None = None,
    processes: Processes | None = None,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> dict | None:
    """Score every position of ``genome`` (or ``settings.regions``) and write ``out_dir`` (module docstring).

    ``processes`` shards the chunks (one process when None); ``progress(bases_done,
    bases_total)`` follows this process's shard. Returns the manifest on rank 0, None elsewhere.
    Phases: plan the chunks, open (or resume) the job, score this process's shard, build the
    neutral table from every shard, write the SNV text of this shard, and on rank 0 merge.
    """
    from .bed import windows_from_bed

    settings = settings or GenomeScoreSettings()
    if settings.proxy not in NEUTRAL_PROXIES:
        raise InputError(f"--neutral-proxy must be one of {', '.join(NEUTRAL_PROXIES)}; got {settings.proxy!r}")
    rank, world = (processes.rank, processes.world) if processes else (0, 1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    regions = windows_from_bed(settings.regions) if settings.regions else None
    chunks = plan_chunks(genome.chrom_sizes, regions, settings.chunk_size)
    if len(chunks) == 0:
        raise InputError("no bases to score: the regions are empty")
    began = time.perf_counter()
    key = job_key(genome, annotation_path, model, model_folder, chunks, settings)
    finished = _finished_manifest(out_dir, key)
    if finished is not None:
        log(f"{out_dir} already holds this run's outputs ({MANIFEST}); nothing to do")
        return finished if rank == 0 else None
    job = _open_job(out_dir, key, rank, processes)
    gene_names = (
        np.array(sorted(set(annotation.transcripts["name"].dropna()))) if annotation is not None else np.array([])
    )
    mine = [i for i in range(len(chunks)) if i % world == rank]
    total = _score_shard(job, model, genome, annotation, chunks, mine, pd.Index(gene_names), settings, progress, log)
    scored_s = time.perf_counter() - began
    if processes:
        processes.barrier()
    table, tables, calibration_note = _neutral_tables(job, len(chunks), settings, model)
    _write_snv_texts(job, genome, chunks, mine, table, gene_names, rank)
    if processes:
        processes.barrier()
    if rank != 0:
        return None
    log(f"scored {total:,} bases in {scored_s:.1f} s on this process; merging {len(chunks)} chunks")
    manifest = _manifest(model, model_folder, genome, annotation_path, key, settings, calibration_note, chunks, world)
    write_outputs(
        out_dir, job, chunks, genome, table, tables, manifest, gene_names, began=began, annotation=annotation, log=log
    )
    job.finish()
    return manifest


def _open_job(out_dir: Path, key: dict, rank: int, processes: Processes | None) -> ChunkedJob:
    """The run's chunk job, opened by rank 0 first (which removes an older run's manifest)."""
    if processes:
        processes.barrier()  # every rank has read the old manifest before rank 0 removes it
    job = None
    if rank == 0:
        # An earlier, different run's manifest would make a half-rewritten folder look finished.
        (out_dir / MANIFEST).unlink(missing_ok=True)
        job = ChunkedJob.open(out_dir / MANIFEST, key)
    if processes:
        processes.barrier()  # rank 0 has opened (or emptied) the job folder
    return job if job is not None else ChunkedJob.open(out_dir / MANIFEST, key)


def _score_shard(job, model, genome, annotation, chunks, mine, gene_codes, settings, progress, log) -> int:
    """Score this process's chunks not saved yet; returns the bases of its shard."""
    total = int((chunks["end"] - chunks["start"]).to_numpy()[mine].sum())
    done = 0
    saved = [i for i in mine if job.has(f"p{i}") and job.has(f"s{i}") and job.has(f"n{i}")]
    if saved:
        log(f"resuming: {len(saved)} of {len(mine)} chunks of this process already saved")
    for i in mine:
        chrom, start, end = chunks.iloc[i]
        if i not in saved:
            probabilities, snvs = score_chunk(
                model, genome, annotation, chrom, int(start), int(end), gene_codes, settings.batch_size
            )
            job.chunk(f"s{i}", lambda snvs=snvs: snvs)
            job.chunk(f"n{i}", lambda snvs=snvs: neutral_sums(snvs))
            job.chunk(f"p{i}", lambda probabilities=probabilities: probabilities)  # saved last: marks the chunk done
        done += int(end - start)
        if progress is not None:
            progress(done, total)
    return total


def _neutral_tables(job, n_chunks: int, settings, model):
    """The neutral tables summed over every chunk (all shards) and the one chosen for cLLR."""
    sums = {proxy: ContextSums() for proxy in NEUTRAL_PROXIES}
    for i in range(n_chunks):
        part = job.chunk(f"n{i}", lambda: (_ for _ in ()).throw(RuntimeError(f"chunk {i} is missing")))
        for index, proxy in enumerate(NEUTRAL_PROXIES):
            sums[proxy] = sums[proxy] + ContextSums.from_array(part[index])
    return _choose_table(sums, settings, model, getattr(model, "name", ""))


def _write_snv_texts(job, genome, chunks, mine, table, gene_names, rank: int) -> None:
    """Each of this process's chunks as bgzip-compressed SNV rows (with cLLR), saved in the job."""
    lookup = table.lookup() if table is not None else None
    scratch = job.folder / f"scratch-{rank}.bgz"
    for i in mine:
        chrom, start, end = chunks.iloc[i]

        def rows(i=i, chrom=chrom, start=int(start), end=int(end)) -> np.ndarray:
            snvs = job.chunk(f"s{i}", lambda: None)
            reference = nucleotide_codes(genome.fetch(chrom, start, end))[snvs["pos"] - start]
            cllr = (
                calibrate_codes(snvs["context"].astype(np.int64), snvs["alt"].astype(np.int64), snvs["llr"], lookup)
                if lookup is not None
                else np.full(len(snvs), np.nan)
            )
            return _bgzf_bytes(snv_text(chrom, snvs, cllr, reference, gene_names), scratch)

        job.chunk(f"t{i}", rows)


def _manifest(model, model_folder, genome, annotation_path, key, settings, calibration_note, chunks, world) -> dict:
    """What the run depended on and how it ran, written beside its outputs."""
    return {
        "model": getattr(model, "name", ""),
        "model_kind": getattr(model, "kind", ""),
        "model_folder": str(model_folder) if model_folder else None,
        "weights_sha256": key["weights"],
        "genome": genome.path.name,
        "genome_path": str(genome.path.resolve()),
        "genome_sha256": key["fasta"],
        "annotation": str(annotation_path) if annotation_path else None,
        "annotation_sha256": key["annotation"],
        "settings": {
            "chunk_size": settings.chunk_size,
            "regions": str(settings.regions) if settings.regions else None,
            "neutral_proxy": settings.proxy,
            "batch_size": settings.batch_size,
        },
        "calibration": calibration_note,
        "n_chunks": len(chunks),
        "bases": int((chunks["end"] - chunks["start"]).sum()),
        "processes": world,
        "device": str(getattr(model, "device", "")),
        "versions": _versions(),
        "command": " ".join(sys.argv),
        "job_key_sha256": _key_sha256(key),
    }
