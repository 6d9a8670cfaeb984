"""The files of a score-genome output folder: merged tracks, SNV table, track hub, IGV session, manifest.

:func:`write_outputs` is the merge step of :func:`glm_core.genome_scores.score_genome` (rank 0,
once every chunk is saved); :func:`precomputed_scores` finds such a folder again for a genome
and model, so pages can read tracks and SNV scores instead of computing them.

Track hub (UCSC): ``hub.txt`` -> ``genomes.txt`` -> ``trackDb.txt``. The four probability
tracks sit in a ``multiWig`` container with ``aggregate stacked``, coloured as GPN's logos
(A green, C blue, G orange, T red); information content and P(ref) are tracks of their own.
No genome here is a UCSC assembly, so the hub is an *assembly hub*: the folder holds the
sequence as ``genome.2bit`` (:mod:`glm_core.twobit`), and ``genomes.txt`` is a full assembly
stanza (``genome``, ``trackDb``, ``twoBitPath``, ``organism``, ``scientificName``,
``description``, ``defaultPos`` at the first gene scored). Serve the folder over HTTP(S) and
give UCSC the URL of ``hub.txt`` (My Data > Track Hubs). ``igv_session.xml`` opens the same
tracks in IGV (2.17 or later reads .2bit) with ``genome.2bit`` as its genome, both named
relative to the folder, so the folder can be moved or served as a whole.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from .backgrounds import (
    BACKGROUND_FILE,
    REGIONS_SAMPLING,
    LlrBackground,
    background_from_scores,
    read_background,
    write_background,
)
from .calibration import CALIBRATION_FILE, NeutralTable, calibrate_codes, write_neutral_table
from .consequence import CONSEQUENCES
from .genome import Genome, nucleotide_codes
from .outputs import atomic_path, atomic_write
from .scoring import information_content
from .twobit import write_twobit

MANIFEST = "manifest.json"
SNV_TABLE = "snvs.tsv.gz"
TWOBIT_FILE = "genome.2bit"  # the genome sequence, for the assembly hub and IGV
SNV_HEADER = "#chrom\tpos\tref\talt\tllr\tcllr\tconsequence\tgene\n"
TRACKS = {  # file stem: (label, colour as r,g,b)
    "pA": ("P(A)", "16,150,72"),
    "pC": ("P(C)", "37,92,153"),
    "pG": ("P(G)", "247,179,43"),
    "pT": ("P(T)", "214,40,57"),
    "ic": ("information content (bits)", "60,60,60"),
    "p_ref": ("P(reference base)", "90,90,160"),
}


def _track_values(probabilities: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    values = {f"p{base}": probabilities[:, i] for i, base in enumerate("ACGT")}
    values["ic"] = information_content(probabilities).astype(np.float32)
    values["p_ref"] = np.where(
        reference >= 0, probabilities[np.arange(len(reference)), np.maximum(reference, 0)], np.nan
    )
    return values


def write_bigwigs(out_dir: Path, job, chunks: pd.DataFrame, genome: Genome) -> list[Path]:
    """The six per-base bigWigs from the saved probability chunks; values only at A/C/G/T bases."""
    import pyBigWig

    paths = [out_dir / f"{name}.bw" for name in TRACKS]
    contexts = [atomic_path(path) for path in paths]
    temporaries = [context.__enter__() for context in contexts]
    writers = [pyBigWig.open(str(t), "w") for t in temporaries]
    try:
        header = [(chrom, int(size)) for chrom, size in genome.chrom_sizes.items()]
        for writer in writers:
            writer.addHeader(header, maxZooms=10)
        for i, (chrom, start, end) in enumerate(chunks.itertuples(index=False)):
            probabilities = job.chunk(f"p{i}", lambda: None).astype(np.float64)
            reference = nucleotide_codes(genome.fetch(chrom, int(start), int(end)))
            values = _track_values(probabilities, reference)
            valid = np.concatenate([[False], reference >= 0, [False]])
            edges = np.flatnonzero(np.diff(valid.astype(np.int8)))
            for run_start, run_end in zip(edges[::2], edges[1::2]):
                for writer, name in zip(writers, TRACKS):
                    writer.addEntries(
                        chrom,
                        int(start) + int(run_start),
                        span=1,
                        step=1,
                        values=values[name][run_start:run_end].astype(np.float64),
                    )
    except BaseException as error:
        for writer in writers:
            writer.close()
        for context in contexts:
            context.__exit__(type(error), error, error.__traceback__)
        raise
    for writer in writers:
        writer.close()
    for context in contexts:
        context.__exit__(None, None, None)
    return paths


def write_snv_table(out_dir: Path, job, chunks: pd.DataFrame) -> Path:
    """Concatenate the chunks' BGZF rows under a header into ``snvs.tsv.gz`` and tabix-index it."""
    import pysam

    path = out_dir / SNV_TABLE
    with atomic_path(path) as temporary:
        with pysam.BGZFile(str(temporary), "wb") as handle:
            handle.write(SNV_HEADER.encode())
        with open(temporary, "ab") as handle:
            # BGZF blocks concatenate; drop the empty EOF block each part ends with but the last
            eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
            handle.seek(0, 2)
            handle.truncate(handle.tell() - len(eof))
            for i in range(len(chunks)):
                data = job.chunk(f"t{i}", lambda: None).tobytes()
                handle.write(data[: -len(eof)] if data.endswith(eof) else data)
            handle.write(eof)
        pysam.tabix_index(str(temporary), seq_col=0, start_col=1, end_col=1, meta_char="#", zerobased=False, force=True)
        index = Path(f"{temporary}.tbi")
    index.replace(Path(f"{path}.tbi"))
    return path


def background_from_records(snvs: np.ndarray, cllr: np.ndarray | None, meta: dict) -> LlrBackground:
    """Quantile tables of SNV records (:data:`glm_core.genome_scores.SNV_DTYPE`) and their cLLRs."""
    scores = {"llr": snvs["llr"].astype(np.float64)}
    if cllr is not None:
        scores["cllr"] = cllr
    consequence = snvs["consequence"].astype(np.int64)
    annotated = bool((consequence >= 0).any())
    return background_from_scores(
        scores, consequence if annotated else None, list(CONSEQUENCES) if annotated else [], meta
    )


def _background(job, chunks: pd.DataFrame, lookup: np.ndarray | None, meta: dict) -> LlrBackground:
    parts = [job.chunk(f"s{i}", lambda: None) for i in range(len(chunks))]
    snvs = np.concatenate(parts)
    cllr = None
    if lookup is not None:
        cllr = calibrate_codes(snvs["context"].astype(np.int64), snvs["alt"].astype(np.int64), snvs["llr"], lookup)
    return background_from_records(snvs, cllr, meta)


def default_position(chunks: pd.DataFrame, chrom_sizes: dict[str, int], annotation=None, flank: int = 200) -> str:
    """Where a browser opens, 1-based inclusive ``chrom:start-end``: the first gene (genome order)
    that overlaps a scored chunk, ``flank`` bp either side within its sequence; else the first
    chunk's first 10 kb.

    ``chunks`` has ``chrom, start, end`` (0-based half-open) in genome order; ``annotation``
    an :class:`glm_core.annotation.Annotation` or None.
    """
    genes = annotation.transcripts if annotation is not None else None
    if genes is not None and len(genes):
        for chrom, start, end in chunks.itertuples(index=False):
            overlapping = genes[(genes["chrom"] == chrom) & (genes["start"] < end) & (genes["end"] > start)]
            if len(overlapping):
                gene = overlapping.sort_values(["start", "end"]).iloc[0]
                first = max(0, int(gene["start"]) - flank)
                return f"{chrom}:{first + 1}-{min(int(chrom_sizes[chrom]), int(gene['end']) + flank)}"
    chrom, start, end = chunks.iloc[0]
    return f"{chrom}:{int(start) + 1}-{min(int(end), int(start) + 10_000)}"


def _assembly_words(manifest: dict) -> tuple[str, str, str]:
    """``organism``, ``scientificName`` and ``description`` of the genome for genomes.txt; for a
    genome other than the embedded one only its file name is known."""
    from .genome import EMBEDDED_FASTA

    if Path(manifest["genome_path"]).resolve() == EMBEDDED_FASTA.resolve():
        return (
            "U. maydis",
            "Ustilago maydis",
            "Ustilago maydis, the genome embedded in gLM Explorer (36 sequences, 19.7 Mb)",
        )
    name = Path(manifest["genome"]).name.split(".")[0]
    return name, name, f"{manifest['genome']} (FASTA given to glm-explore score-genome)"


def hub_files(manifest: dict, position: str) -> dict[str, str]:
    """Text of hub.txt, genomes.txt (an assembly hub stanza whose sequence is
    :data:`TWOBIT_FILE`; the browser opens at ``position``, 1-based ``chrom:start-end``) and
    trackDb.txt for an output folder."""
    genome = Path(manifest["genome"]).name.split(".")[0]
    model = manifest["model"]
    hub = (
        f"hub glm_{genome}_{model}\nshortLabel {model} on {genome}\n"
        f"longLabel gLM Explorer: {model} predictions at every base of {manifest['genome']}\n"
        "genomesFile genomes.txt\nemail none\ndescriptionUrl none\n"
    )
    organism, scientific_name, description = _assembly_words(manifest)
    genomes = (
        f"genome {genome}\ntrackDb trackDb.txt\ntwoBitPath {TWOBIT_FILE}\norganism {organism}\n"
        f"scientificName {scientific_name}\ndescription {description}\ndefaultPos {position}\n"
    )
    stanzas = [
        "track logo\ncontainer multiWig\naggregate stacked\nshowSubtrackColorOnUi on\ntype bigWig 0 1\n"
        f"shortLabel {model} logo\nlongLabel P(A), P(C), P(G), P(T) stacked (GPN's four-letter logo)\n"
        "visibility full\nmaxHeightPixels 100:40:8\nviewLimits 0:1\nalwaysZero on\npriority 1\n"
    ]
    for name in ("pA", "pC", "pG", "pT"):
        label, colour = TRACKS[name]
        stanzas.append(
            f"    track {name}\n    parent logo\n    bigDataUrl {name}.bw\n    type bigWig 0 1\n"
            f"    shortLabel {label}\n    longLabel {model} {label}\n    color {colour}\n"
        )
    for priority, name in enumerate(("ic", "p_ref"), start=2):
        label, colour = TRACKS[name]
        limits = "0:2" if name == "ic" else "0:1"
        stanzas.append(
            f"track {name}\nbigDataUrl {name}.bw\ntype bigWig\nshortLabel {name}\n"
            f"longLabel {model} {label}\ncolor {colour}\nvisibility full\nviewLimits {limits}\n"
            f"autoScale off\nalwaysZero on\npriority {priority}\n"
        )
    return {"hub.txt": hub, "genomes.txt": genomes, "trackDb.txt": "\n".join(stanzas)}


def igv_session(manifest: dict, locus: str) -> str:
    """IGV session XML: :data:`TWOBIT_FILE` as genome, the four probability tracks, IC and P(ref)
    (paths relative to the folder, which IGV resolves against the session file)."""
    resources = "".join(f"    <Resource path={quoteattr(name + '.bw')}/>\n" for name in TRACKS)
    tracks = "".join(
        f'    <Track attributeKey={quoteattr(name + ".bw")} autoScale="false" color="{colour}" '
        f'id={quoteattr(name + ".bw")} name={quoteattr(label)} renderer="BAR_CHART">\n'
        f'      <DataRange baseline="0.0" maximum="{2.0 if name == "ic" else 1.0}" minimum="0.0" type="LINEAR"/>\n'
        "    </Track>\n"
        for name, (label, colour) in TRACKS.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<Session genome={quoteattr(TWOBIT_FILE)} locus={quoteattr(locus)} version="8">\n'
        f"  <Resources>\n{resources}    <Resource path={quoteattr(SNV_TABLE)}/>\n  </Resources>\n"
        f'  <Panel name="DataPanel">\n{tracks}  </Panel>\n</Session>\n'
    )


def write_outputs(
    out_dir: Path,
    job,
    chunks: pd.DataFrame,
    genome: Genome,
    table: NeutralTable | None,
    tables: dict[str, NeutralTable],
    manifest: dict,
    gene_names: np.ndarray,
    *,
    began: float,
    annotation=None,
    log=lambda line: None,
) -> None:
    """The merge: every file of the output folder, ``manifest.json`` last."""
    steps = {}
    clock = time.perf_counter()
    write_twobit(genome, out_dir / TWOBIT_FILE)
    steps["twobit_s"] = round(time.perf_counter() - clock, 2)
    log(f"wrote {TWOBIT_FILE}, the sequence of the assembly hub ({steps['twobit_s']} s)")
    clock = time.perf_counter()
    write_snv_table(out_dir, job, chunks)
    steps["snv_table_s"] = round(time.perf_counter() - clock, 2)
    log(f"wrote {SNV_TABLE} and its tabix index ({steps['snv_table_s']} s)")
    clock = time.perf_counter()
    write_bigwigs(out_dir, job, chunks, genome)
    steps["bigwigs_s"] = round(time.perf_counter() - clock, 2)
    log(f"wrote {len(TRACKS)} bigWigs ({steps['bigwigs_s']} s)")
    for proxy, computed in tables.items():
        write_neutral_table(computed, out_dir / f"calibration.{proxy}.tsv")
    if table is not None:
        write_neutral_table(table, out_dir / CALIBRATION_FILE)
    meta = {key: manifest[key] for key in ("model", "weights_sha256", "genome", "genome_sha256")}
    meta["sampling"] = "every possible SNV" if manifest["settings"]["regions"] is None else REGIONS_SAMPLING
    meta["calibration"] = manifest["calibration"]
    clock = time.perf_counter()
    background = _background(job, chunks, table.lookup() if table is not None else None, meta)
    write_background(background, out_dir / BACKGROUND_FILE)
    steps["background_s"] = round(time.perf_counter() - clock, 2)
    locus = default_position(chunks, genome.chrom_sizes, annotation)
    for name, text in hub_files(manifest, locus).items():
        atomic_write(out_dir / name, text)
    atomic_write(out_dir / "igv_session.xml", igv_session(manifest, locus))
    manifest["n_snvs"] = int(background.counts[0])
    manifest["steps"] = steps
    manifest["wall_s"] = round(time.perf_counter() - began, 2)
    manifest["files"] = sorted(p.name for p in out_dir.iterdir() if p.is_file() and p.name != MANIFEST)
    atomic_write(out_dir / MANIFEST, json.dumps(manifest, indent=1) + "\n")


# --------------------------------------------------------------------------- reading back


@dataclass
class PrecomputedScores:
    """A finished score-genome folder that matches a genome and model."""

    folder: Path
    manifest: dict

    def track(self, name: str, chrom: str, start: int, end: int) -> np.ndarray:
        """Per-base values of bigWig ``name`` (one of TRACKS) over ``[start, end)``, NaN where none."""
        import pyBigWig

        handle = pyBigWig.open(str(self.folder / f"{name}.bw"))
        try:
            return np.asarray(handle.values(chrom, int(start), int(end), numpy=True), dtype=np.float64)
        finally:
            handle.close()

    def snvs(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        """SNV rows of ``[start, end)`` (0-based half-open): columns of the table, ``pos`` 0-based here."""
        import pysam

        with pysam.TabixFile(str(self.folder / SNV_TABLE)) as handle:
            rows = [line.split("\t") for line in handle.fetch(chrom, int(start), int(end))]
        table = pd.DataFrame(rows, columns=SNV_HEADER.lstrip("#").split())
        table["pos"] = table["pos"].astype(np.int64) - 1
        for column in ("llr", "cllr"):
            table[column] = pd.to_numeric(table[column], errors="coerce")
        return table

    def probabilities(self, chrom: str, start: int, end: int, strand: str = "+") -> np.ndarray:
        """P(A), P(C), P(G), P(T) over ``[start, end)`` (0-based half-open), shape=(end - start, 4),
        from the four bigWigs (stored as float32); rows without values (N bases) are uniform.

        The bigWigs hold the plus strand (forward and reverse-complement predictions averaged);
        ``strand='-'`` reads it off them as :func:`glm_core.scoring.minus_strand` does for a
        scored region: rows reversed, columns complemented (5'->3' on the minus strand).
        """
        from .scoring import minus_strand

        table = np.stack([self.track(name, chrom, start, end) for name in ("pA", "pC", "pG", "pT")], axis=1)
        table[np.isnan(table).any(axis=1)] = 0.25
        return minus_strand(table) if strand == "-" else table

    @property
    def whole_genome(self) -> bool:
        """Whether the run scored every sequence (no ``--regions``)."""
        return self.manifest.get("settings", {}).get("regions") is None

    def covers(self, genome: Genome, chrom: str, start: int, end: int) -> bool:
        """Whether every A/C/G/T base of ``[start, end)`` (0-based half-open) has scores here; a run
        with ``--regions`` holds only its regions, and elsewhere the pages must score themselves."""
        import pyBigWig

        handle = pyBigWig.open(str(self.folder / "pA.bw"))
        try:
            if chrom not in handle.chroms():
                return False
            values = np.asarray(handle.values(chrom, int(start), int(end), numpy=True))
        finally:
            handle.close()
        return not bool((np.isnan(values) & (nucleotide_codes(genome.fetch(chrom, start, end)) >= 0)).any())

    def position_scores(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        """Information content and per-position LLR summaries of ``[start, end)`` (0-based half-open):
        :func:`position_scores` of the folder's ``ic.bw`` and SNV table."""
        return position_scores(self.snvs(chrom, start, end), self.track("ic", chrom, start, end), chrom, start, end)

    def background(self) -> LlrBackground | None:
        path = self.folder / BACKGROUND_FILE
        return read_background(path) if path.is_file() else None

    def calibration(self) -> NeutralTable | None:
        """The neutral table the folder's ``cllr`` column was computed with, or None without one."""
        from .calibration import read_neutral_table

        path = self.folder / CALIBRATION_FILE
        return read_neutral_table(path) if path.is_file() else None

    def describe(self) -> str:
        """Where the scores come from, in one line for a page: model, kind, folder, command."""
        kind = self.manifest.get("model_kind") or "site model"
        return (
            f"{self.manifest.get('model', 'the model')} ({kind}), precomputed with glm-explore score-genome "
            f"in {self.folder}"
        )


POSITION_SCORE_COLUMNS = ["chrom", "pos", "ic", "n_snvs", "llr_mean", "llr_min", "cllr_mean", "cllr_min"]


def position_scores(snvs: pd.DataFrame, ic: np.ndarray, chrom: str, start: int, end: int) -> pd.DataFrame:
    """One row a base of ``[start, end)`` (0-based half-open) summarising its SNVs.

    Parameters
    ----------
    snvs : SNV rows of the region as :meth:`PrecomputedScores.snvs` returns them (``pos``
        0-based, ``llr``, ``cllr``); positions outside the region are ignored.
    ic : information content (bits) of each base, shape=(end - start,), NaN at N bases.

    Returns
    -------
    pd.DataFrame with :data:`POSITION_SCORE_COLUMNS`, in genomic order: ``pos`` 0-based;
    ``ic`` bits; ``n_snvs`` the SNVs scored there (3 at an A/C/G/T base, 0 at N);
    ``llr_mean`` / ``llr_min`` the mean and minimum LLR (natural log) of those SNVs, i.e. how
    unexpected a change of that base is on average and at worst; ``cllr_mean`` /
    ``cllr_min`` the same for the calibrated LLR. NaN where a base has no SNV (or no cLLR).
    The summaries do not depend on the strand a region is read on.
    """
    ic = np.asarray(ic, dtype=np.float64)
    if len(ic) != end - start:
        raise ValueError(f"ic has {len(ic)} values for {chrom}:{start + 1}-{end} ({end - start} bases)")
    table = pd.DataFrame({"chrom": chrom, "pos": np.arange(start, end, dtype=np.int64), "ic": ic})
    inside = snvs[(snvs["pos"] >= start) & (snvs["pos"] < end)]
    grouped = inside.groupby("pos")
    summary = pd.DataFrame(
        {
            "n_snvs": grouped.size(),
            "llr_mean": grouped["llr"].mean(),
            "llr_min": grouped["llr"].min(),
            "cllr_mean": grouped["cllr"].mean(),
            "cllr_min": grouped["cllr"].min(),
        }
    )
    table = table.join(summary, on="pos")
    table["n_snvs"] = table["n_snvs"].fillna(0).astype(np.int64)
    return table[POSITION_SCORE_COLUMNS]


def precomputed_scores(out_dir: str | Path, genome: Genome, model) -> PrecomputedScores | None:
    """The finished score-genome folder under ``out_dir`` (itself or one level down) for ``genome`` and ``model``.

    Matched by the manifest's genome hash (of ``genome.path``) and weights hash (of
    ``model.path/model.safetensors``); None when no folder matches, and then pages compute
    on demand.
    """
    from .chunked_job import file_fingerprint

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    genome_hash = file_fingerprint(genome.path)["sha256"]
    folder = getattr(model, "path", None)
    weights = Path(folder) / "model.safetensors" if folder is not None else None
    weights_hash = file_fingerprint(weights)["sha256"] if weights is not None and weights.is_file() else None
    candidates = [out_dir, *sorted(p for p in out_dir.iterdir() if p.is_dir())]
    for candidate in candidates:
        path = candidate / MANIFEST
        if not path.is_file():
            continue
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("genome_sha256") == genome_hash and manifest.get("weights_sha256") == weights_hash:
            return PrecomputedScores(candidate, manifest)
    return None
