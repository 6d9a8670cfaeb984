"""glm_core.chunked_job and the commands built on it: an interrupted job continues where it stopped.

Facts checked: chunks of a job are saved and read back instead of being computed again;
another key starts over; the job folder is gone once the output is written. For `scan`,
`score-vcf` and `embed`, a run interrupted after some chunks and then run again writes
output byte-identical to an uninterrupted run, and the rerun computes only the chunks the
first run had not saved. A tiny randomly initialised GPN keeps this fast.
"""

import numpy as np
import pytest

from glm_core import embedding
from glm_core.chunked_job import ChunkedJob, ResumableSiteModel, file_fingerprint, job_folder
from glm_core.cli import main
from glm_core.models import MaskedLM


class Interrupt(Exception):
    pass


def test_saved_chunks_are_read_back_and_another_key_starts_over(tmp_path):
    out = tmp_path / "result.npy"
    calls = []

    def compute(first, last):
        calls.append(first)
        if first == 6:
            raise Interrupt
        return np.arange(first, last) ** 2

    job = ChunkedJob.open(out, {"n": 10})
    with pytest.raises(Interrupt):
        job.map(10, 3, compute)
    assert calls == [0, 3, 6] and sorted(job.computed) == ["0", "1"]
    calls.clear()
    values = ChunkedJob.open(out, {"n": 10}).map(10, 3, lambda a, b: (calls.append(a), np.arange(a, b) ** 2)[1])
    assert calls == [6, 9]  # chunks 0 and 1 came from disk
    np.testing.assert_array_equal(values, np.arange(10) ** 2)
    calls.clear()
    job = ChunkedJob.open(out, {"n": 10, "setting": "changed"})
    job.map(10, 3, lambda a, b: (calls.append(a), np.arange(a, b))[1])
    assert calls == [0, 3, 6, 9]
    job.finish()
    assert not job_folder(out).exists() and list(tmp_path.iterdir()) == []


def test_a_fingerprint_changes_with_the_content(tmp_path):
    path = tmp_path / "a.vcf"
    path.write_text("one\n")
    before = file_fingerprint(path)
    path.write_text("two\n")
    assert file_fingerprint(path)["sha256"] != before["sha256"]


def test_resumable_site_model_gives_the_model_numbers(tiny_gpn, tmp_path):
    sequence = "ACGTTGCAAC" * 40
    positions = np.arange(5, 395, 3)
    direct = tiny_gpn.sequence_site_probabilities(sequence, positions, batch_size=4)
    job = ChunkedJob.open(tmp_path / "out.tsv", {"k": 1})
    chunked = ResumableSiteModel(tiny_gpn, job, chunk_batches=2).sequence_site_probabilities(
        sequence, positions, batch_size=4
    )
    np.testing.assert_array_equal(chunked, direct)
    assert len(job.computed) == -(-len(positions) // 8)


def interrupt_after(monkeypatch, target, attribute, n_calls):
    """Make ``target.attribute`` raise on call ``n_calls + 1``; returns the list of calls made."""
    original = getattr(target, attribute)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        if n_calls is not None and len(calls) > n_calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(target, attribute, counted)
    return calls


@pytest.mark.parametrize(
    "command, output_name, target, attribute",
    [
        (["scan", "chr22:69,094-69,193"], "scan.tsv", MaskedLM, "sequence_site_probabilities"),
        (["score-vcf", "{vcf}"], "scored.vcf.gz", MaskedLM, "sequence_site_probabilities"),
        (["embed", "--sample", "40", "--window-length", "50"], "map.parquet", embedding, "window_embeddings"),
    ],
)
def test_an_interrupted_command_continues_and_writes_the_same_bytes(
    command, output_name, target, attribute, tiny_gpn_dir, embedded_genome, tmp_path, monkeypatch
):
    vcf = tmp_path / "snvs.vcf"
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for pos in range(69_100, 69_400, 10):  # 30 SNVs, 1-based
        ref = embedded_genome.fetch("chr22", pos - 1, pos).upper()
        lines.append(f"chr22\t{pos}\t.\t{ref}\t{'C' if ref != 'C' else 'G'}\t.\t.\t.")
    vcf.write_text("\n".join(lines) + "\n")
    command = [arg.replace("{vcf}", str(vcf)) for arg in command]
    settings = ["--model", str(tiny_gpn_dir), "--device", "cpu", "--batch-size", "1"]
    (tmp_path / "whole").mkdir()
    (tmp_path / "resumed").mkdir()
    whole, resumed = tmp_path / "whole" / output_name, tmp_path / "resumed" / output_name
    with monkeypatch.context() as patch:
        calls = interrupt_after(patch, target, attribute, None)
        assert main([*command, *settings, "--out", str(whole)]) == 0
    total = len(calls)
    assert total >= 3, "the test needs a job of several chunks"
    with monkeypatch.context() as patch:
        interrupt_after(patch, target, attribute, 2)
        assert main([*command, *settings, "--out", str(resumed)]) == 130
    assert not resumed.exists() and job_folder(resumed).is_dir()
    with monkeypatch.context() as patch:
        calls = interrupt_after(patch, target, attribute, None)
        assert main([*command, *settings, "--out", str(resumed)]) == 0
    assert len(calls) == total - 2  # the two saved chunks were not computed again
    assert resumed.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in resumed.parent.iterdir()) == sorted(p.name for p in whole.parent.iterdir())
