"""Shared fixtures and markers for the gLM Explorer test suite.

* ``HF_HUB_OFFLINE=1`` is set at import, before any test module imports transformers or
  huggingface_hub, so no test can reach for a hub.
* ``embedded_genome`` / ``embedded_annotation``: the bundled U. maydis genome (36 sequences,
  19.7 Mb) and its annotation, opened once per test session. They are shared: never mutate.
* Tests marked ``gpu`` are skipped where CUDA is not available.
* The repository root is put on ``sys.path`` so that tests can import the app-side module
  ``app_state`` (the ``glm_core`` package is installed).
"""

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def embedded_genome():
    from glm_core.genome import EMBEDDED_FASTA, Genome

    return Genome(EMBEDDED_FASTA)


@pytest.fixture(scope="session")
def embedded_annotation():
    from glm_core.annotation import Annotation
    from glm_core.genome import EMBEDDED_ANNOTATION

    return Annotation.from_file(EMBEDDED_ANNOTATION)


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch  # only imported when some test needs to know

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False here")
    for item in gpu_items:
        item.add_marker(skip)
