"""Bad inputs a careful user or an attacker might give: each gets one clear message, no user file changes.

Every case runs the real entry point (``glm_core.cli.main``, the sidebar's loaders) on
fixtures generated here, and checks the kind of message (one ``error:`` line naming the
file or value, exit status 2, no traceback) and that every user file has the same SHA-256
before and after. Cases that must fail *before* expensive work pass a model folder that
does not exist: the expected message, not "model not found", proves the order.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from glm_core.cli import main
from glm_core.outputs import INCOMPLETE_MARK

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NO_MODEL = "/nonexistent/model-folder"  # reached only if the check under test were skipped
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(capsys, *argv) -> tuple[int, str]:
    """Exit status and stderr of ``glm-explore argv``; asserts that no traceback was printed."""
    try:
        status = main([str(arg) for arg in argv])
    except SystemExit as exit_:  # argparse
        status = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def user_files(tmp_path):
    """A user's folder: a VCF, a BED and a FASTA copy, plus a previous scored pair."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "calls.vcf").write_bytes((DATA / "variants.vcf").read_bytes())
    (folder / "windows.bed").write_text("chr22\t69093\t69193\tpromoter\n")
    (folder / "old.vcf").write_text("##fileformat=VCFv4.2\n# a previous, complete result\n")
    (folder / "old.tsv").write_text("line\tchrom\n# the TSV of that result\n")
    return folder


# --------------------------------------------------------------------------- outputs that are inputs


@pytest.mark.parametrize(
    "argv, what",
    [
        (["score-vcf", "{u}/calls.vcf", "--out", "{u}/calls.vcf"], "--out {u}/calls.vcf is the input file"),
        (["score-vcf", "{u}/calls.vcf", "--out", "{u}/new.vcf", "--tsv", "{u}/calls.vcf"], "is the input file"),
        (["score-vcf", "{u}/calls.vcf", "--out", "{u}/link.vcf"], "is the input file {u}/calls.vcf"),
        (["score-vcf", "{u}/calls.vcf", "--out", "{u}/same.vcf", "--tsv", "{u}/same.vcf"], "are the same file"),
        (["scan", "chr22:1-10", "--fasta", "{u}/calls.vcf", "--out", "{u}/track.tsv"], "is the input file"),
        (["embed", "--bed", "{u}/windows.bed", "--out", "{u}/windows.bed"], "is the input file"),
        (["score-vcf", "{u}/calls.vcf", "--out", "{u}"], "is a folder"),
        (["generate", "--tag", "HIGH", "--model", "{u}", "--out", "{u}/calls.vcf"], "is the input file"),
    ],
)
def test_an_output_that_is_an_input_is_refused(argv, what, user_files, capsys):
    (user_files / "link.vcf").symlink_to(user_files / "calls.vcf")
    (user_files / "track.tsv").symlink_to(user_files / "calls.vcf")
    before = digests(user_files)
    argv = [arg.replace("{u}", str(user_files)) for arg in argv]
    status, err = run_cli(capsys, *argv, "--model", NO_MODEL) if "--model" not in argv else run_cli(capsys, *argv)
    assert status == 2 and what.replace("{u}", str(user_files)) in error_line(err)
    assert digests(user_files) == before


def test_a_training_folder_that_holds_the_input_or_is_a_file_is_refused(user_files, capsys):
    fasta = user_files / "genome.fa"
    fasta.write_text(">chr1\nACGT\n")
    before = digests(user_files)
    status, err = run_cli(capsys, "train-mlm", "--fasta", fasta, "--output-dir", user_files)
    assert status == 2 and f"contains the input {fasta}" in error_line(err)
    status, err = run_cli(capsys, "train-mlm", "--fasta", fasta, "--output-dir", user_files / "calls.vcf")
    assert status == 2 and "is a file, not a folder" in error_line(err)
    status, err = run_cli(capsys, "train-generator", "--output-dir", user_files / "old.vcf")
    assert status == 2 and "is a file, not a folder" in error_line(err)
    assert digests(user_files) == before


# --------------------------------------------------------------------------- checked before the work


def test_output_folder_checked_before_the_model_loads(user_files, capsys):
    for argv in (
        ["scan", "chr22:1-10", "--out", user_files / "missing" / "x.tsv"],
        ["generate", "--tag", "HIGH", "--out", user_files / "missing" / "x.fa"],
        ["embed", "--bed", user_files / "windows.bed", "--out", user_files / "missing" / "x.parquet"],
    ):
        status, err = run_cli(capsys, *argv, "--model", NO_MODEL)
        assert status == 2 and "does not exist; create it first" in error_line(err), argv


@pytest.mark.parametrize(
    "bed, message",
    [
        ("chr22\t69093\t99999999\tx\n", "runs outside chr22"),
        ("chrNope\t0\t100\tx\n", "'chrNope', which this genome does not have"),
        ("chr22\t0\t5000\tx\n", "longer than the model's 512-bp context"),
    ],
)
def test_bed_windows_checked_before_the_model_loads(bed, message, tmp_path, capsys):
    path = tmp_path / "w.bed"
    path.write_text(bed)
    status, err = run_cli(capsys, "embed", "--bed", path, "--model", NO_MODEL, "--out", tmp_path / "o.parquet")
    line = error_line(err)
    assert status == 2 and str(path) in line and message in line


@pytest.mark.parametrize(
    "device, message",
    [("tpu", "is not a device; use cuda, mps or cpu"), ("cuda", "no usable CUDA GPU"), ("cuda:7", "CUDA")],
)
def test_an_unavailable_device_is_named(device, message, tmp_path, capsys):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for command in (
        ["scan", "chr22:1-10", "--out", tmp_path / "x.tsv"],
        ["score-vcf", DATA / "variants.vcf", "--out", tmp_path / "x.vcf"],
        ["generate", "--tag", "HIGH", "--out", tmp_path / "x.fa"],
        ["train-mlm", "--output-dir", tmp_path / "run"],
    ):
        status, err = run_cli(capsys, *command, "--device", device)
        assert status == 2 and f"--device {device}" in error_line(err) and message in error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_the_app_names_an_unavailable_device_variable(monkeypatch):
    from glm_core.errors import InputError
    from ui import choices

    monkeypatch.setenv(choices.DEVICE_ENV, "tpu")
    with pytest.raises(InputError, match="GLM_EXPLORER_DEVICE tpu is not a device; use cuda, mps or cpu"):
        choices.device()
    monkeypatch.setenv(choices.DEVICE_ENV, "cpu")
    assert choices.device() == "cpu"


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--tag", "HIGH", "--out", "x.fa"],
        ["scan", "chr22:1-9", "--out", "x.tsv"],
        ["embed", "--sample", "4", "--out", "x.parquet"],
    ],
)
@pytest.mark.parametrize("value", ["0", "-3"])
def test_batch_size_below_one_is_refused_by_the_parser(command, value, capsys):
    status, err = run_cli(capsys, *command, "--batch-size", value)
    assert status == 2 and "--batch-size: must be at least 1" in err


def test_unwritable_output_folder(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    status, err = run_cli(capsys, "scan", "chr22:1-10", "--model", NO_MODEL, "--out", folder / "x.tsv")
    assert status == 2 and "permission denied" in error_line(err)


def test_an_os_error_is_one_line(tmp_path, capsys, monkeypatch):
    import glm_core.genome

    def unreadable(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "genome.fa"))

    monkeypatch.setattr(glm_core.genome.Genome, "__init__", unreadable)
    status, err = run_cli(capsys, "scan", "chr22:1-10", "--out", tmp_path / "x.tsv")
    assert status == 2 and "Permission denied" in error_line(err) and "genome.fa" in error_line(err)


# --------------------------------------------------------------------------- atomic, paired outputs


def test_a_failure_between_the_vcf_and_its_tsv_keeps_the_old_pair(user_files, tiny_gpn_dir, capsys, monkeypatch):
    import glm_core.variants

    def broken_tsv(_scored):
        raise RuntimeError("the disk filled up")

    before = digests(user_files)
    monkeypatch.setattr(glm_core.variants, "scored_tsv", broken_tsv)
    with pytest.raises(RuntimeError, match="disk filled"):
        main(
            [
                "score-vcf",
                str(user_files / "calls.vcf"),
                "--model",
                str(tiny_gpn_dir),
                "--device",
                "cpu",
                "--out",
                str(user_files / "old.vcf"),
                "--tsv",
                str(user_files / "old.tsv"),
            ]
        )
    after = {name: digest for name, digest in digests(user_files).items() if not name.startswith(".old.vcf.job/")}
    assert after == before  # the saved chunks wait in .old.vcf.job/ for a rerun
    assert not [p for p in user_files.iterdir() if INCOMPLETE_MARK in p.name]


def test_a_bgzip_vcf_ends_with_its_eof_block(user_files, tiny_gpn_dir, capsys):
    out = user_files / "scored.vcf.gz"
    status, _ = run_cli(
        capsys, "score-vcf", user_files / "calls.vcf", "--model", tiny_gpn_dir, "--device", "cpu", "--out", out
    )
    assert status == 0 and out.read_bytes().endswith(BGZF_EOF)
    assert gzip.decompress(out.read_bytes()).decode().startswith("##fileformat=VCF")


def test_sigkill_while_writing_keeps_the_previous_vcf(tmp_path):
    target = tmp_path / "scored.vcf"
    target.write_text("##fileformat=VCFv4.2\n# the previous, complete file\n")
    before = digests(tmp_path)
    writer = textwrap.dedent(f"""
        import sys, time
        from glm_core.outputs import atomic_path
        with atomic_path({str(target)!r}) as temporary:
            with open(temporary, "w") as handle:
                handle.write("##fileformat=VCFv4.2\\n" + "chr1\\t1\\t.\\tA\\tG\\t.\\t.\\t.\\n" * 50000)
                handle.flush()
                print("half written", flush=True)
                time.sleep(60)
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert child.stdout.readline().strip() == "half written"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
    assert digests(tmp_path).get("scored.vcf") == before["scored.vcf"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "scored.vcf"]
    assert len(leftovers) == 1 and leftovers[0].startswith("scored.vcf" + INCOMPLETE_MARK)


# --------------------------------------------------------------------------- the app's loaders


@pytest.mark.parametrize("length", [200, 251, 253, 255])
def test_upload_names_up_to_the_filesystem_limit_are_saved(length, tmp_path, monkeypatch):
    from ui import choices, sidebar

    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path))
    name = "g" * (length - len(".fa.gz")) + ".fa.gz"
    saved = sidebar.save_upload(name, b"\x1f\x8b fake")
    assert saved.read_bytes() == b"\x1f\x8b fake" and saved.name.endswith(".fa.gz")
    assert len(saved.name.encode()) <= sidebar.MAX_UPLOAD_NAME
    other = sidebar.save_upload("h" + name[1:], b"\x1f\x8b fake")
    assert other.name != saved.name  # two long names that differ stay apart


def test_a_data_directory_link_to_a_system_file_is_not_offered(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from glm_core.genome_files import find_genome_files
    from ui import choices

    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:secret first line\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "genome.fa").symlink_to(secret)
    (data / "genes.gff3").symlink_to(secret)
    (data / "inside.fa").write_text(">chr1\nACGT\n")
    (data / "alias.fa").symlink_to(data / "inside.fa")  # a link that stays inside is fine
    found = find_genome_files(data)  # what the sidebar offers
    assert [p.name for p in found.loc[found["sequences"], "path"]] == ["alias.fa", "inside.fa"]
    assert not found["annotation"].any()
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(data))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["sidebar_genome_source"] = "Data directory"
    at.run()
    assert not at.exception
    shown = " ".join(
        str(element.value) for kind in ("error", "info", "caption", "markdown") for element in at.get(kind)
    )
    assert "secret first line" not in shown and "root:x" not in shown


def test_a_model_folder_linked_from_outside_the_data_directory_is_not_offered(tiny_gpn_dir, tmp_path, monkeypatch):
    from ui import choices

    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / "elsewhere").symlink_to(tiny_gpn_dir)
    copy_folder(tiny_gpn_dir, data / "models" / "own")
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(data))
    offered = [choice.name for choice in choices.masked_model_choices()]
    assert "own" in offered and "elsewhere" not in offered


# --------------------------------------------------------------------------- server defaults


def test_server_defaults_are_safe():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["maxUploadSize"] == 100  # MB; the README states the same
    assert config["server"]["fileWatcherType"] == "none"
    assert config["client"]["showErrorDetails"] == "none"
    assert "100 MB" in (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "HOST ?= localhost" in makefile and "--server.address $(HOST)" in makefile
    dockerfile = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    users = [words[1] for words in dockerfile if words[0] == "USER"]
    assert users and users[-1] not in ("root", "0")


# --------------------------------------------------------------------------- checkpoints and models


class _PlantedPayload:
    """Unpickling this runs ``open(marker, 'w')``: what a malicious checkpoint.pt would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def tiny_training_args(fasta, output_dir) -> list:
    return [
        "train-mlm",
        "--fasta",
        fasta,
        "--output-dir",
        output_dir,
        "--held-out",
        "chr2",
        "--context",
        "64",
        "--hidden-size",
        "16",
        "--layers",
        "1",
        "--batch-size",
        "4",
        "--max-steps",
        "2",
        "--warmup-steps",
        "1",
        "--eval-every",
        "2",
        "--eval-windows",
        "2",
        "--checkpoint-every",
        "2",
        "--device",
        "cpu",
    ]


@pytest.fixture
def small_fasta(tmp_path):
    import random

    rng = random.Random(0)
    fasta = tmp_path / "input" / "small.fa"
    fasta.parent.mkdir()
    fasta.write_text("".join(f">chr{i}\n{''.join(rng.choice('ACGT') for _ in range(3000))}\n" for i in (1, 2)))
    return fasta


def test_a_planted_pickle_checkpoint_is_not_run(small_fasta, tmp_path, capsys):
    import torch

    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "the-pickle-ran"
    torch.save({"step": 1, "payload": _PlantedPayload(str(marker))}, run / "checkpoint.pt")
    before = digests(run)
    status, err = run_cli(capsys, *tiny_training_args(small_fasta, run))
    assert status == 2 and "is not a plain-tensor checkpoint and is not loaded" in error_line(err)
    assert not marker.exists()
    assert digests(run) == before


def test_training_resumes_from_safetensors_and_json_only(small_fasta, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(capsys, *tiny_training_args(small_fasta, run))[0] == 0
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.bin"))
    argv = tiny_training_args(small_fasta, run)
    argv[argv.index("--max-steps") + 1] = "4"
    status = main([str(arg) for arg in argv])
    out = capsys.readouterr().out
    assert status == 0 and "resumed from step 2" in out


def test_a_damaged_checkpoint_is_named(small_fasta, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(capsys, *tiny_training_args(small_fasta, run))[0] == 0
    weights = run / "checkpoint" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    status, err = run_cli(capsys, *tiny_training_args(small_fasta, run))
    assert status == 2 and "a .safetensors file is damaged" in error_line(err) and str(run / "checkpoint") in err


def test_holding_out_every_chromosome_is_refused(small_fasta, tmp_path, capsys):
    argv = tiny_training_args(small_fasta, tmp_path / "run")
    argv[argv.index("--held-out") + 1 : argv.index("--held-out") + 2] = ["chr1", "chr2"]
    status, err = run_cli(capsys, *argv)
    assert status == 2 and "--held-out names every sequence" in error_line(err)


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """A single-nucleotide BERT sequence classifier: loads as a masked LM only with a random head."""
    from transformers import BertConfig, BertForSequenceClassification

    from glm_core.models import build_tokenizer

    folder = tmp_path_factory.mktemp("classifier")
    config = BertConfig(
        vocab_size=7,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=600,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    return folder


def copy_folder(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_a_classifier_checkpoint_is_not_taken_for_a_masked_lm(classifier_dir, tmp_path, capsys):
    import json

    status, err = run_cli(capsys, "scan", "chr22:69,094-69,193", "--model", classifier_dir, "--out", tmp_path / "x.tsv")
    assert status == 2 and "BertForSequenceClassification checkpoint, no masked LM" in error_line(err)
    # the same weights with the architecture removed from config.json: the missing head gives it away
    unlabelled = copy_folder(classifier_dir, tmp_path / "unlabelled")
    config = json.loads((unlabelled / "config.json").read_text())
    del config["architectures"]
    (unlabelled / "config.json").write_text(json.dumps(config))
    status, err = run_cli(capsys, "scan", "chr22:69,094-69,193", "--model", unlabelled, "--out", tmp_path / "x.tsv")
    assert status == 2 and "weights of a masked-LM model (cls.predictions" in error_line(err)
    assert "which would be random numbers" in error_line(err)
    assert not (tmp_path / "x.tsv").exists()


def test_a_generator_is_not_taken_for_a_masked_lm(tmp_path, capsys):
    from glm_core.generation import BUNDLED_GENERATOR

    status, err = run_cli(capsys, "scan", "chr22:1-10", "--model", BUNDLED_GENERATOR, "--out", tmp_path / "x.tsv")
    assert status == 2 and "a causal LM (a sequence generator)" in error_line(err)


def test_damaged_weights_and_config_are_named(tiny_gpn_dir, tmp_path, capsys):
    broken = copy_folder(tiny_gpn_dir, tmp_path / "broken")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 2])
    status, err = run_cli(capsys, "scan", "chr22:1-10", "--model", broken, "--out", tmp_path / "x.tsv")
    assert status == 2 and f"{weights} is damaged or incomplete" in error_line(err)
    bad_json = copy_folder(tiny_gpn_dir, tmp_path / "bad-json")
    (bad_json / "config.json").write_text('{"model_type": "ConvNet",\n "hidden_size": 32,,}')
    status, err = run_cli(capsys, "scan", "chr22:1-10", "--model", bad_json, "--out", tmp_path / "x.tsv")
    assert status == 2 and f"{bad_json / 'config.json'} is not valid JSON" in error_line(err)
    assert "line 2, column" in error_line(err)


def test_a_pickle_only_generator_is_refused_unread(tmp_path, capsys):
    from glm_core.generation import BUNDLED_GENERATOR

    folder = copy_folder(BUNDLED_GENERATOR, tmp_path / "pickled")
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    marker = tmp_path / "the-pickle-ran"
    import torch

    torch.save({"payload": _PlantedPayload(str(marker))}, folder / "pytorch_model.bin")
    status, err = run_cli(capsys, "generate", "--tag", "HIGH", "--model", folder, "--out", tmp_path / "d.fa")
    assert status == 2 and "no .safetensors weights (only pickled pytorch_model.bin)" in error_line(err)
    assert not marker.exists() and not (tmp_path / "d.fa").exists()


def test_generate_refuses_a_zero_batch_size_in_the_library_too():
    from glm_core.generation import generate_promoters, load_generator

    with pytest.raises(ValueError, match="batch_size .* must be a whole number >= 1; got 0"):
        generate_promoters(load_generator(device="cpu"), ["HIGH"], n=2, length=20, batch_size=0)
