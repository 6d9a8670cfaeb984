"""Which genome a model was trained on, and whether the loaded genome is that one.

A model folder's ``config.json`` carries ``training_genome`` (written by
:func:`record_training_genome` at training or distillation time)::

    "training_genome": {"name": "umaydis.fa.gz", "sequences": 36, "total_length": 19702792,
                        "fingerprint": "<16 hex>", "content_sha256": "<16 hex>"}

``fingerprint`` is a digest of the sequence names and lengths in file order: it is read off
the FASTA index, so comparing the loaded genome with a model's takes no time even for a
large genome. ``content_sha256`` digests the bases themselves (upper case, so soft-masking
does not count); it is computed once per file version and kept in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .genome import Genome

TRAINING_GENOME_KEY = "training_genome"
_DIGEST_CHARACTERS = 16
_CHUNK_BP = 4 << 20


def sequence_fingerprint(chrom_sizes: dict[str, int]) -> str:
    """Digest of ``name<TAB>length`` lines of every sequence, in order (16 hex characters)."""
    digest = hashlib.sha256()
    for name, length in chrom_sizes.items():
        digest.update(f"{name}\t{int(length)}\n".encode())
    return digest.hexdigest()[:_DIGEST_CHARACTERS]


def content_digest(genome: Genome, cache_dir: str | Path | None = None) -> str:
    """Digest of every sequence's bases (upper case), in order; cached per file version.

    The cache file sits under ``<cache>/genome-fingerprints/`` and is named after the
    file's path, size and modification time, so an edited FASTA is digested again.
    """
    from .fasta_index import default_cache_dir

    stat = genome.path.stat()
    key = hashlib.sha256(f"{genome.path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    cached = Path(cache_dir or default_cache_dir()) / "genome-fingerprints" / f"{key}.txt"
    if cached.is_file():
        return cached.read_text().strip()
    digest = hashlib.sha256()
    for name, length in genome.chrom_sizes.items():
        digest.update(f">{name}\n".encode())
        for start in range(0, length, _CHUNK_BP):
            digest.update(genome.fetch(name, start, min(length, start + _CHUNK_BP)).upper().encode())
    value = digest.hexdigest()[:_DIGEST_CHARACTERS]
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    partial.write_text(value + "\n")
    partial.replace(cached)
    return value


def genome_fingerprint(genome: Genome, name: str | None = None, with_content: bool = True) -> dict:
    """The ``training_genome`` record of ``genome`` (see the module notes); ``name`` defaults to the file name."""
    sizes = genome.chrom_sizes
    record = {
        "name": name or genome.path.name,
        "sequences": len(sizes),
        "total_length": int(sum(sizes.values())),
        "fingerprint": sequence_fingerprint(sizes),
    }
    if with_content:
        record["content_sha256"] = content_digest(genome)
    return record


def record_training_genome(model_folder: str | Path, genome: Genome, name: str | None = None) -> dict:
    """Add ``training_genome`` to ``model_folder/config.json`` (weights untouched); returns the record."""
    path = Path(model_folder) / "config.json"
    config = json.loads(path.read_text())
    config[TRAINING_GENOME_KEY] = genome_fingerprint(genome, name)
    partial = path.with_name(f"config.json.{os.getpid()}.part")
    partial.write_text(json.dumps(config, indent=2) + "\n")
    partial.replace(path)
    return config[TRAINING_GENOME_KEY]


def training_genome(model_folder: str | Path) -> dict | None:
    """The ``training_genome`` record of a model folder, or None when its config has none."""
    try:
        config = json.loads((Path(model_folder) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    record = config.get(TRAINING_GENOME_KEY)
    return record if isinstance(record, dict) and "fingerprint" in record else None


def is_training_genome(model_folder: str | Path, chrom_sizes: dict[str, int]) -> bool | None:
    """True when the genome with ``chrom_sizes`` is the model's training genome (same names and
    lengths), False when it is another, None when the model does not say what it was trained on."""
    record = training_genome(model_folder)
    if record is None:
        return None
    return record["fingerprint"] == sequence_fingerprint(chrom_sizes)


# Measured in docs/BENCHMARKS.md: train-mlm stage 1 on the 19.7-Mb U. maydis genome, 840 s on
# one H100 (held-out accuracy 0.433); the one-pass distillation, 300 s on one H200.
TRAIN_MLM_GPU_S_PER_MB = 840 / 19.7
DISTILL_GPU_S = 300


def held_out_suggestion(chrom_sizes: dict[str, int], fraction: float = 0.1) -> list[str]:
    """The last sequences of the genome that together hold at least ``fraction`` of its bases
    (at least one, never all): a held-out set for ``train-mlm --held-out``."""
    names = list(chrom_sizes)
    total, chosen, held = sum(chrom_sizes.values()), [], 0
    for name in reversed(names[1:]):
        if held >= fraction * total:
            break
        chosen.append(name)
        held += chrom_sizes[name]
    return list(reversed(chosen)) or names[-1:]


def training_commands(fasta: str | Path, chrom_sizes: dict[str, int]) -> tuple[str, str]:
    """``(commands, expected GPU time)`` that train a masked LM on this genome, then its one-pass student."""
    held_out = " ".join(held_out_suggestion(chrom_sizes))
    commands = (
        f"glm-explore train-mlm --fasta {fasta} --held-out {held_out} --output-dir runs/mlm\n"
        f"glm-explore distill --teacher runs/mlm/best --fasta {fasta} --held-out {held_out} --output-dir runs/onepass"
    )
    megabases = sum(chrom_sizes.values()) / 1e6
    minutes = max(1, round(TRAIN_MLM_GPU_S_PER_MB * megabases / 60))
    expected = (
        f"about {minutes} min on one H100 for the masked LM ({megabases:,.1f} Mb; 14 min for the 19.7-Mb "
        f"U. maydis genome, docs/BENCHMARKS.md), then about {DISTILL_GPU_S // 60} min for the one-pass model"
    )
    return commands, expected


def other_genome_note(model_name: str, record: dict) -> str:
    """One sentence for a model view when the loaded genome is not the model's training genome."""
    return (
        f"Predictions come from a model of another genome: {model_name} was trained on {record['name']} "
        f"({record['sequences']:,} sequences, {record['total_length'] / 1e6:,.1f} Mb), not on the genome "
        "loaded here, so its probabilities may be flat or misleading for this genome."
    )
