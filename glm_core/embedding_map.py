"""An embedding map as one bundle: windows, their gLM embeddings, 4-mer spectra and nearest
genes, tied to the model and genome that made them, and the parquet file it is saved as.

The embedding page and ``glm-explore embed`` build it with :func:`embedding_map` and save it
with :meth:`EmbeddingMap.write`, so both write the same columns and the same metadata.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import embedding


def model_label(model) -> str:
    """``<model folder> on <device>``: names the model of a map in its file and in the app's session."""
    return f"{model.path or model.name} on {model.device}"


@dataclass(frozen=True, eq=False)
class EmbeddingMap:
    """Embedded windows and what goes with them.

    Attributes
    ----------
    model : :func:`model_label` of the model that embedded them.
    genome : a label of the genome (a file name, or the app's genome label).
    context : bp of sequence the model read around each window.
    windows : ``chrom, start, end`` (0-based half-open) and ``region_class`` (or a BED name).
    embeddings : shape=(len(windows), hidden), float32.
    spectrum : shape=(len(windows), 4**4) 4-mer spectra of both strands, or None.
    genes : :func:`glm_core.embedding.nearest_gene` of the windows, or None without an annotation.
    """

    model: str
    genome: str
    context: int
    windows: pd.DataFrame
    embeddings: np.ndarray
    spectrum: np.ndarray | None = None
    genes: pd.DataFrame | None = None

    def table(self, projection: np.ndarray | None = None) -> pd.DataFrame:
        """:func:`glm_core.embedding.embedding_table` of the windows, with UMAP columns when given."""
        return embedding.embedding_table(self.windows, self.embeddings, projection, self.genes)

    def settings(self, *, sample: dict | None = None, umap: dict | None = None) -> dict:
        """The metadata of the map's file: model, genome, context, and the sampling and UMAP settings used."""
        notes = {"model": self.model, "genome": self.genome, "context": self.context}
        if sample is not None:
            notes["sample"] = sample
        if umap is not None:
            notes["umap"] = umap
        return notes

    def write(
        self,
        target: str | Path | io.IOBase,
        projection: np.ndarray | None = None,
        *,
        sample: dict | None = None,
        umap: dict | None = None,
    ) -> pd.DataFrame:
        """Write the map as parquet (:func:`glm_core.embedding.write_embedding_table`); returns the table written."""
        table = self.table(projection)
        embedding.write_embedding_table(table, target, self.settings(sample=sample, umap=umap))
        return table


def embedding_map(
    model,
    genome,
    annotation,
    windows: pd.DataFrame,
    embeddings: np.ndarray,
    genome_label: str,
    with_spectrum: bool = True,
) -> EmbeddingMap:
    """Bundle ``embeddings`` of ``windows`` with their 4-mer spectra (if asked) and nearest genes
    (if there is an annotation)."""
    return EmbeddingMap(
        model=model_label(model),
        genome=genome_label,
        context=model.context,
        windows=windows,
        embeddings=embeddings,
        spectrum=embedding.kmer_spectrum(genome, windows) if with_spectrum else None,
        genes=embedding.nearest_gene(annotation, windows) if annotation is not None else None,
    )
