"""What the user chose (a genome's FASTA + annotation, a model folder) and where the app keeps files.

Choices are small frozen dataclasses so that they can key ``st.cache_*`` entries; each
carries file stamps ``(mtime_ns, size)`` so that an edited file or a retrained model reloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from glm_core.annotation import Annotation
from glm_core.devices import check_device
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MODELS_DIR, discover_models

DATA_DIR_ENV = "GLM_EXPLORER_DATA"
CACHE_DIR_ENV = "GLM_EXPLORER_CACHE"
DEVICE_ENV = "GLM_EXPLORER_DEVICE"
APP_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_LABEL = "Ustilago maydis (embedded)"


def file_stamp(path: str | Path) -> tuple[int, int]:
    """``(mtime_ns, size)`` of ``path``, or ``(0, 0)`` when it is missing (the loader then names it)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, APP_DIR / "data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV, APP_DIR / "cache")).expanduser()


def device() -> str | None:
    """The device ``GLM_EXPLORER_DEVICE`` asks for, or None for the automatic choice.

    Raises InputError (shown on the page) when this machine cannot run that device.
    """
    name = os.environ.get(DEVICE_ENV) or None
    check_device(name, DEVICE_ENV)
    return name


@dataclass(frozen=True)
class GenomeChoice:
    """A FASTA + annotation pair; ``*_stamp`` = (mtime_ns, size) so edited files reload."""

    label: str
    fasta: str
    annotation: str
    fasta_stamp: tuple[int, int]
    annotation_stamp: tuple[int, int]

    @classmethod
    def of(cls, label: str, fasta: str | Path, annotation: str | Path) -> "GenomeChoice":
        return cls(label, str(fasta), str(annotation), file_stamp(fasta), file_stamp(annotation))

    def is_embedded(self) -> bool:
        return (
            Path(self.fasta).resolve() == EMBEDDED_FASTA.resolve()
            and Path(self.annotation).resolve() == EMBEDDED_ANNOTATION.resolve()
        )


@dataclass(frozen=True)
class LoadedGenome:
    choice: GenomeChoice
    genome: Genome
    annotation: Annotation


def embedded_choice() -> GenomeChoice:
    return GenomeChoice.of(EMBEDDED_LABEL, EMBEDDED_FASTA, EMBEDDED_ANNOTATION)


@dataclass(frozen=True)
class ModelChoice:
    """A checkpoint folder; ``stamp`` = (mtime_ns, size) of its config so a retrained model reloads."""

    name: str
    path: str
    stamp: tuple[int, int]


def masked_model_choices() -> list[ModelChoice]:
    """Masked LMs: the bundled ones first, then those under ``<data dir>/models``."""
    found = discover_models(BUNDLED_MODELS_DIR, data_dir() / "models")
    found = found[found["kind"] == "masked"]
    return [ModelChoice(row.name, row.path, file_stamp(Path(row.path) / "config.json")) for row in found.itertuples()]
