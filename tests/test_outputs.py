"""glm_core.outputs: every file is written whole or not at all.

Facts checked: a write that raises part-way leaves the previous file byte-identical (same
SHA-256) and no temporary file behind, for plain text, bgzip and a writer given a file
name; a missing folder is refused before anything is written; a successful write replaces
the file in one rename, keeping the old file's permissions.
"""

import gzip
import hashlib
import os
import stat

import pytest

from glm_core import outputs
from glm_core.outputs import atomic_path, atomic_write, write_text


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_atomic_write_writes_text_as_utf8_and_bytes_as_given(tmp_path):
    assert atomic_write(tmp_path / "a.txt", "µ\tx\n").read_bytes() == "µ\tx\n".encode("utf-8")
    assert atomic_write(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_writer_that_raises_midway_leaves_the_previous_file(tmp_path):
    path = atomic_write(tmp_path / "out.vcf", "##fileformat=VCFv4.2\nold\n")
    before = sha256(path)
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(path) as temporary:
            assert temporary.parent == tmp_path and ".incomplete-" in temporary.name
            temporary.write_text("half a new fi")
            raise RuntimeError("disk on fire")
    assert sha256(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.vcf"]


def test_failed_rename_leaves_the_previous_file(tmp_path, monkeypatch):
    path = atomic_write(tmp_path / "out.tsv", "a\tb\n1\t2\n")
    before = sha256(path)

    def no_rename(source, target):
        raise OSError("rename refused")

    monkeypatch.setattr(outputs.os, "replace", no_rename)
    with pytest.raises(OSError, match="rename refused"):
        atomic_write(path, "new content\n")
    assert sha256(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.tsv"]


def test_bgzip_write_that_fails_leaves_the_previous_file(tmp_path, monkeypatch):
    import pysam

    path = write_text("##fileformat=VCFv4.2\n", tmp_path / "out.vcf.gz")
    assert gzip.decompress(path.read_bytes()) == b"##fileformat=VCFv4.2\n"
    before = sha256(path)

    real = pysam.BGZFile

    class FullDisk:
        """Writes the first half of the data, then fails like a full disk."""

        def __init__(self, name, mode):
            self.handle = real(name, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise OSError("no space left on device")

    monkeypatch.setattr(pysam, "BGZFile", FullDisk)
    with pytest.raises(OSError, match="no space left"):
        write_text("##fileformat=VCFv4.2\nnew\n", path)
    assert sha256(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.vcf.gz"]


def test_missing_folder_is_refused_before_writing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder of .*absent/x\.tsv does not exist; create it first"):
        atomic_write(tmp_path / "absent" / "x.tsv", "x")
    assert list(tmp_path.iterdir()) == []


def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_mode(tmp_path):
    fresh = atomic_write(tmp_path / "fresh.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # as open(path, "w") gives
    kept = atomic_write(tmp_path / "kept.txt", "x")
    kept.chmod(0o640)
    atomic_write(kept, "y")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "y"


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    from glm_core.outputs import atomic_folder

    target = tmp_path / "latest"
    with atomic_folder(target) as folder:
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"old weights")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_folder(target) as folder:
            (folder / "config.json").write_text('{"new": 1}')
            raise RuntimeError("killed while saving")
    assert (target / "model.safetensors").read_bytes() == b"old weights"
    assert [p.name for p in tmp_path.iterdir()] == ["latest"]
    with atomic_folder(target) as folder:
        (folder / "model.safetensors").write_bytes(b"new weights")
    assert [p.name for p in target.iterdir()] == ["model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["latest"]


def test_files_staged_in_a_folder_arrive_together_or_not_at_all(tmp_path):
    from glm_core.outputs import atomic_files_in

    (tmp_path / "oracle.json").write_text("kept")
    (tmp_path / "config.json").write_text("old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_files_in(tmp_path) as staging:
            (staging / "config.json").write_text("new")
            raise RuntimeError("killed while saving")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "oracle.json"]
    assert (tmp_path / "config.json").read_text() == "old"
    with atomic_files_in(tmp_path) as staging:
        (staging / "config.json").write_text("new")
        (staging / "model.safetensors").write_bytes(b"w")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "oracle.json"]
    assert (tmp_path / "config.json").read_text() == "new"
