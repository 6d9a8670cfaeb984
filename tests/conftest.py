"""Shared fixtures and markers for the gLM Explorer test suite.

* ``HF_HUB_OFFLINE=1`` is set at import, before any test module imports transformers or
  huggingface_hub, so no test can reach for a hub.
* ``embedded_genome`` / ``embedded_annotation``: the bundled U. maydis genome (36 sequences,
  19.7 Mb) and its annotation, opened once per test session. They are shared: never mutate.
* ``tiny_annotation`` / ``tiny_genome``: the hand-made two-gene test genome in ``tests/data``.
* ``tiny_gpn_dir`` / ``tiny_gpn``: a randomly initialised GPN ConvNet (hidden 32, 2 layers,
  seed 0) as a ``save_pretrained`` folder and loaded on the CPU, for tests of plumbing
  rather than predictions.
* ``served``: the bytes behind every download button and image of an AppTest run, by URL.
* Tests marked ``gpu`` are skipped where CUDA is not available.
* The repository root is put on ``sys.path`` so that tests can import the app-side package
  ``ui`` (the ``glm_core`` package is installed).
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


DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def tiny_annotation():
    from glm_core.annotation import Annotation

    return Annotation.from_file(DATA / "tiny.gff3")


@pytest.fixture(scope="session")
def tiny_genome(tmp_path_factory):
    import shutil

    from glm_core.genome import Genome

    # A copy, so that the .fai index pyfaidx writes lands outside the repository.
    folder = tmp_path_factory.mktemp("tiny_genome")
    shutil.copy(DATA / "tiny.fa", folder / "tiny.fa")
    return Genome(folder / "tiny.fa")


@pytest.fixture(scope="session")
def tiny_gpn_dir(tmp_path_factory):
    import torch

    from glm_core.training import MLMTrainingConfig, build_model, save_model_folder

    torch.manual_seed(0)
    config = MLMTrainingConfig(fasta="", output_dir="", hidden_size=32, num_hidden_layers=2, intermediate_size=64)
    folder = tmp_path_factory.mktemp("tiny-gpn")
    save_model_folder(build_model(config), folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpn(tiny_gpn_dir):
    from glm_core.models import load_masked_lm

    return load_masked_lm(tiny_gpn_dir, device="cpu")


@pytest.fixture
def served(monkeypatch):
    """Bytes behind every download button and image of an AppTest run, by URL.

    AppTest keeps media in a MemoryMediaFileStorage it creates per run; this records what is
    stored so that a test can parse what a user would download.
    """
    import streamlit.testing.v1.app_test as app_test_module
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}

    class RecordingStorage(MemoryMediaFileStorage):
        def load_and_get_id(self, *args, **kwargs):
            file_id = super().load_and_get_id(*args, **kwargs)
            files[self.get_url(file_id)] = self._files_by_id[file_id].content
            return file_id

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)
    return files


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
