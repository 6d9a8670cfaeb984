"""Build the embedding map that ships with a model: ``<model>/embedding_map.parquet``.

Embeds the embedding page's default sample (2,000 windows of 100 bp, every region class of
the embedded genome, seed 0) with the model, projects it with the page's default UMAP
settings and writes windows, embeddings and UMAP coordinates, keyed to the digest of the
model's weights (:mod:`glm_core.precomputed_map`). The page then opens this map at once on
a CPU, for as long as the weights stay the same.

Usage (a GPU embeds the 2,000 windows in seconds; a 2-core CPU needs about half an hour)::

    python -m bench.build_embedding_map --model assets/models/gpn-umaydis
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from glm_core.annotation import Annotation
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA, Genome
from glm_core.models import BUNDLED_MLM, load_masked_lm
from glm_core.precomputed_map import read_precomputed_map, write_precomputed_map


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BUNDLED_MLM, help="a masked LM save_pretrained folder")
    parser.add_argument("--fasta", type=Path, default=EMBEDDED_FASTA)
    parser.add_argument("--annotation", type=Path, default=EMBEDDED_ANNOTATION)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    model = load_masked_lm(args.model, device=args.device)
    genome, annotation = Genome(args.fasta), Annotation.from_file(args.annotation)
    path = write_precomputed_map(model, genome, annotation)
    shipped = read_precomputed_map(args.model)
    assert shipped is not None, "the map just written does not read back with the model's weights"
    print(
        f"wrote {len(shipped.windows):,} windows x {shipped.embeddings.shape[1]} dimensions to {path} "
        f"({path.stat().st_size / 1e6:.1f} MB; {model.name} on {model.device}, "
        f"{time.perf_counter() - began:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
