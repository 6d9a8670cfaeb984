"""Checks around promoter design with own tag tables.

Facts checked: a tag table is joined, binned on training genes only, counted and its
oracle measured on held-out genes; bad tables fail with a message that names the problem;
the training command quotes its paths. (Shuffles and pseudo-log-likelihood: test_shuffle.py,
test_pseudo_likelihood.py.)
"""

import shlex
import numpy as np
import pandas as pd
import pytest

from glm_core.custom_tags import summarize_tag_table, train_generator_command
from glm_core.promoters import load_tag_table

# --------------------------------------------------------------------------- own tag tables


def _promoters(seed=0):
    """90 promoters (60 training, 30 held out); the value of a gene grows with its TATAAA count."""
    rng = np.random.default_rng(seed)
    rows, values = [], []
    for i in range(90):
        bases = list(rng.choice(list("ACGT"), 150))
        motifs = i % 4
        for start in range(motifs):
            bases[10 + 35 * start : 16 + 35 * start] = list("TATAAA")
        rows.append(
            {
                "transcript_id": f"mRNA:t{i:03d}",
                "gene_id": f"gene:g{i:03d}",
                "name": f"um{i:05d}",
                "chrom": "chr20" if i >= 60 else "chr01",
                "start": 0,
                "end": 150,
                "strand": "+",
                "length": 150,
                "held_out": i >= 60,
                "sequence": "".join(bases),
            }
        )
        values.append(motifs + rng.normal(0, 0.1))
    return pd.DataFrame(rows), np.array(values)


def test_numeric_tags_are_binned_counted_and_read_by_the_oracle():
    promoters, values = _promoters()
    lines = ["gene\texpression level"] + [f"um{i:05d}\t{v:.4f}" for i, v in enumerate(values)] + ["nope\t3.0"]
    table = load_tag_table("\n".join(lines).encode(), "tags.tsv")
    summary = summarize_tag_table(table, promoters, n_bins=3)
    assert summary.family == "expression_level" and summary.kind == "numeric"
    assert (summary.n_ids, summary.n_ids_matched, summary.n_promoters) == (91, 90, 90)
    assert summary.counts["label"].tolist() == ["LOW", "MID", "HIGH"]
    assert summary.counts["training"].tolist() == [20, 20, 20]  # tertiles of the 60 training genes
    assert summary.counts["held_out"].sum() == 30
    assert (summary.counts["min_value"].to_numpy()[1:] > summary.counts["max_value"].to_numpy()[:-1]).all()
    assert summary.oracle.metrics["n_train"] == 60 and summary.oracle.metrics["n_heldout"] == 30
    assert summary.heldout_auroc > 0.9  # the motif count sets the value, and the oracle sees the motif
    assert any("1 of 91 IDs match no gene" in note for note in summary.notes)
    assert any("few training promoters" in note for note in summary.notes)


def test_label_tags_use_the_labels_as_given():
    promoters, values = _promoters()
    table = pd.DataFrame({"transcript": promoters["transcript_id"], "state": np.where(values > 1.5, "on", "off")})
    summary = summarize_tag_table(table, promoters, family="switch")
    assert summary.family == "switch" and summary.kind == "labels"
    assert summary.counts["label"].tolist() == ["off", "on"]
    assert summary.counts["training"].tolist() == [30, 30] and summary.counts["held_out"].tolist() == [16, 14]
    assert "min_value" not in summary.counts


def test_matched_ids_without_a_value_are_counted_under_any_id_form():
    promoters, values = _promoters()
    # IDs given as gene names and as prefixed gene IDs; every seventh value left empty
    ids = [f"um{i:05d}" if i % 2 else f"gene:g{i:03d}" for i in range(len(values))]
    levels = [np.nan if i % 7 == 0 else v for i, v in enumerate(values)]
    summary = summarize_tag_table(pd.DataFrame({"gene": ids, "level": levels}), promoters)
    assert summary.n_ids_matched == 90 and summary.n_promoters == 77
    assert "13 matched IDs have no number" in summary.notes[0]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "tags.csv is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "could not be read as a CSV or TSV table"),
        (b"gene\num00001\num00002\n", "tags.csv has 1 column"),
        (b"gene,value\nfoo1,1\nfoo2,2\n", "none of the 2 IDs in the tag table"),
        ("gene,value\n" + "\n".join(f"um{i:05d},word{i}" for i in range(90)), "holds 90 different labels"),
        ("gene,value\n" + "\n".join(f"um{i:05d},{'x' if i < 60 else 'y'}" for i in range(90)), "carry 1 label"),
        ("gene,value\n" + "\n".join(f"um{i:05d}," for i in range(90)), "has no values"),
        ("gene,length\n" + "\n".join(f"um{i:05d},{i}" for i in range(90)), "a column the promoter table already has"),
    ],
)
def test_bad_tag_tables_say_what_is_wrong(content, message):
    promoters, _ = _promoters()
    content = content.encode() if isinstance(content, str) else content
    with pytest.raises(ValueError, match=message):
        summarize_tag_table(load_tag_table(content, "tags.csv"), promoters)


def test_train_generator_command_quotes_paths():
    command = train_generator_command(
        "/data/my tags.tsv", "expression_level", 3, "/models/gen", fasta="/g/x.fa", annotation="/g/x.gff3"
    )
    assert shlex.split(command) == [
        "glm-explore",
        "train-generator",
        "--tag-table",
        "/data/my tags.tsv",
        "--tag-family",
        "expression_level",
        "--bins",
        "3",
        "--output-dir",
        "/models/gen",
        "--fasta",
        "/g/x.fa",
        "--annotation",
        "/g/x.gff3",
    ]
    assert "--fasta" not in train_generator_command("t.tsv", "f", 4, "out")
