"""What the user chose (a genome's FASTA, its annotation if any, a model folder) and where the app keeps files.

Choices are small frozen dataclasses so that they can key ``st.cache_*`` entries; each
carries file stamps ``(mtime_ns, size)`` so that an edited file or a retrained model reloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from glm_core.annotation import Annotation
from glm_core.chrom_names import NameMapping
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
    """A genome file (FASTA, or GFF3 with ``##FASTA``) and its annotation (None for none).

    ``aliases`` says how annotation sequence names are matched to the FASTA's (as in
    :func:`glm_core.genome_files.open_genome_files`): None = as they are, ``"auto"`` = the
    proposed mapping the user confirmed, or the path of a two-column aliases file.
    ``*_stamp`` = (mtime_ns, size) so that edited files reload.
    """

    label: str
    fasta: str
    annotation: str | None
    fasta_stamp: tuple[int, int]
    annotation_stamp: tuple[int, int]
    aliases: str | None = None
    aliases_stamp: tuple[int, int] = (0, 0)

    @classmethod
    def of(
        cls, label: str, fasta: str | Path, annotation: str | Path | None = None, aliases: str | Path | None = None
    ) -> "GenomeChoice":
        return cls(
            label,
            str(fasta),
            None if annotation is None else str(annotation),
            file_stamp(fasta),
            (0, 0) if annotation is None else file_stamp(annotation),
            None if aliases is None else str(aliases),
            (0, 0) if aliases in (None, "auto") else file_stamp(aliases),
        )

    def is_embedded(self) -> bool:
        """True for the embedded U. maydis genome with its own annotation (the text about it applies)."""
        return (
            self.annotation is not None
            and Path(self.fasta).resolve() == EMBEDDED_FASTA.resolve()
            and Path(self.annotation).resolve() == EMBEDDED_ANNOTATION.resolve()
        )

    def with_aliases(self, aliases: str | Path | None) -> "GenomeChoice":
        return GenomeChoice.of(self.label, self.fasta, self.annotation, aliases)


@dataclass(frozen=True)
class LoadedGenome:
    """An opened :class:`GenomeChoice` (see :class:`glm_core.genome_files.GenomeFiles`):
    ``annotation.is_empty`` without one; ``warnings`` are sentences for the user."""

    choice: GenomeChoice
    genome: Genome
    annotation: Annotation
    warnings: tuple[str, ...] = ()
    name_mapping: NameMapping | None = None


def embedded_choice() -> GenomeChoice:
    return GenomeChoice.of(EMBEDDED_LABEL, EMBEDDED_FASTA, EMBEDDED_ANNOTATION)


@dataclass(frozen=True)
class ModelChoice:
    """A checkpoint folder; ``stamp`` = (mtime_ns, size) of its config so a retrained model reloads.

    ``kind`` is ``masked`` or ``one-pass``; for a one-pass model ``teacher`` and ``llr_pearson``
    give its measured agreement with the masked LM it was distilled from (None if not measured).
    """

    name: str
    path: str
    stamp: tuple[int, int]
    kind: str = "masked"
    teacher: str | None = None
    llr_pearson: float | None = None

    def label(self) -> str:
        """How the selector names it, e.g. 'gpn-umaydis-onepass (one pass; LLR r = 0.95 with gpn-umaydis)'."""
        if self.kind != "one-pass":
            return f"{self.name} (masked, one window per base)"
        if self.llr_pearson is None:
            return f"{self.name} (one pass; agreement with its teacher not measured)"
        return f"{self.name} (one pass; LLR r = {self.llr_pearson:.2f} with {self.teacher or 'its teacher'})"


def site_model_choices() -> list[ModelChoice]:
    """Site models (masked LMs and one-pass models): the bundled ones first, then those under
    ``<data dir>/models``. A model folder reached through a link that leaves its folder is not offered."""
    roots = (BUNDLED_MODELS_DIR.resolve(), data_dir().resolve())
    found = discover_models(BUNDLED_MODELS_DIR, data_dir() / "models")
    found = found[found["kind"].isin(["masked", "one-pass"])]
    return [
        ModelChoice(
            row.name,
            row.path,
            file_stamp(Path(row.path) / "config.json"),
            row.kind,
            row.teacher if isinstance(row.teacher, str) else None,
            float(row.llr_pearson) if row.llr_pearson is not None and row.llr_pearson == row.llr_pearson else None,
        )
        for row in found.itertuples()
        # A model folder reached through a link that leaves its folder is not offered.
        if any(Path(row.path).resolve().is_relative_to(root) for root in roots)
    ]


def masked_model_choices() -> list[ModelChoice]:
    """Masked LMs only (what the embedding map needs): the bundled ones first."""
    return [choice for choice in site_model_choices() if choice.kind == "masked"]
