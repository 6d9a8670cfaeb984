"""Embedding maps of genomic windows: sample windows by region class, embed them with a
masked gLM, compare the embeddings with k-mer spectra by kNN, and project them with UMAP.

Coordinates
-----------
Window tables are **0-based, half-open** (``start <= i < end``), with columns ``chrom,
start, end, region_class`` (plus documented extras). Users see 1-based inclusive regions
(:func:`glm_core.genome.format_region`).

Embedding a window
------------------
Each window is centred in a ``context``-bp stretch of its chromosome (the model's context,
512 bp for the bundled model); at a chromosome end the stretch is shifted inward so that it
stays on the chromosome, and it is padded only when the whole chromosome is shorter than
the context. The stretch runs through the model **unmasked**, forward and
reverse-complemented, in one batch. On each strand the last hidden layer is averaged over
the window's own positions (on the reverse complement those are positions
``context - end .. context - start - 1`` of the stretch, counted from its reverse-complemented
start) and the two strand means are averaged. A window and its reverse complement therefore
get the same embedding, up to float rounding, as the k-mer spectrum (counted on both
strands) does. On CUDA the forward runs under bf16 autocast; results are float32.

Comparator
----------
:func:`kmer_spectrum` gives normalised 4-mer frequencies of the window itself, and
:func:`knn_macro_f1` scores how well a k-nearest-neighbour classifier recovers the region
class from either representation on held-out windows. The gLM sees up to ``context`` bp
around a window, the spectrum only the window: the comparison asks what the model's
contextual embedding adds over the window's composition.

Caching
-------
:func:`cached_window_embeddings` keeps embeddings as parquet files under a cache folder,
keyed by the model folder (and its weights' mtime and size), the genome file (likewise),
the context, the precision and the exact windows, so reopening a map costs a file read.

Modules
-------
* :mod:`~glm_core.embedding.windows`: windows sampled by region class.
* :mod:`~glm_core.embedding.forward`: the context around each window and the forward pass.
* :mod:`~glm_core.embedding.comparison`: k-mer spectra and kNN separability.
* :mod:`~glm_core.embedding.projection`: UMAP and the nearest gene of each window.
* :mod:`~glm_core.embedding.store`: the embedding table, its parquet file and the disk cache.
* BED windows are read by :func:`glm_core.bed.windows_from_bed`.
"""

from ..bed import UNLABELLED, WINDOW_COLUMNS, windows_from_bed
from ..kmer import kmer_names
from .comparison import kmer_spectrum, knn_macro_f1
from .forward import embedding_contexts, estimate_seconds_per_window, window_embeddings
from .projection import UMAP_COLUMNS, UMAP_METRICS, nearest_gene, umap_projection
from .store import (
    EMBEDDING_PREFIX,
    cached_embeddings,
    cached_window_embeddings,
    embedding_cache_key,
    embedding_matrix,
    embedding_table,
    write_embedding_table,
)
from .windows import sample_windows

__all__ = [
    "WINDOW_COLUMNS",
    "UNLABELLED",
    "UMAP_METRICS",
    "UMAP_COLUMNS",
    "EMBEDDING_PREFIX",
    "sample_windows",
    "windows_from_bed",
    "embedding_contexts",
    "window_embeddings",
    "estimate_seconds_per_window",
    "kmer_spectrum",
    "kmer_names",
    "knn_macro_f1",
    "umap_projection",
    "nearest_gene",
    "embedding_cache_key",
    "cached_embeddings",
    "cached_window_embeddings",
    "embedding_table",
    "embedding_matrix",
    "write_embedding_table",
]
