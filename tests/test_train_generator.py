"""A tiny end-to-end generator training run with the user's own tag table, on the CPU.

Facts checked: the tag family is named after the table's value column; every promoter the
table names is used once, split into training, validation and held-out chromosomes; the
saved folder loads again and generates promoters of the asked length under the new tags.
"""

import json

import numpy as np

from glm_core.generation import GeneratorTrainingConfig, generate_promoters, load_generator, train_generator
from glm_core.genome import EMBEDDED_ANNOTATION, EMBEDDED_FASTA
from glm_core.promoters import promoter_table


def test_generator_trained_on_an_own_tag_table_saves_loads_and_generates(
    tmp_path, embedded_genome, embedded_annotation
):
    promoters = promoter_table(embedded_annotation, embedded_genome)
    tagged = promoters.iloc[::10]
    gc = tagged["sequence"].str.upper().str.count("[GC]") / tagged["length"]
    table = tmp_path / "my tags.tsv"
    states = np.where(gc > gc.median(), "open", "closed")
    table.write_text(
        "gene\tpromoter state\n"
        + "".join(f"{transcript}\t{state}\n" for transcript, state in zip(tagged["transcript_id"], states))
    )

    output = tmp_path / "generator"
    metrics = train_generator(
        GeneratorTrainingConfig(
            output_dir=str(output),
            fasta=str(EMBEDDED_FASTA),
            annotation=str(EMBEDDED_ANNOTATION),
            tag_table=str(table),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            pretrain_steps=2,
            finetune_steps=2,
            batch_size=4,
            warmup_steps=1,
            eval_every=1,
            device="cpu",
        ),
        log=lambda line: None,
    )

    assert metrics["family"] == "promoter_state" and metrics["labels"] == ["closed", "open"]
    used = metrics["n_train_promoters"] + metrics["n_validation_promoters"] + metrics["n_heldout_promoters"]
    assert used == len(tagged)
    assert metrics["n_heldout_promoters"] == int(tagged["held_out"].sum()) > 0
    tags = json.loads((output / "tags.json").read_text())
    assert set(tags["tag_tokens"]) == {"promoter_state"}
    assert set(tags["tag_tokens"]["promoter_state"]) == {"closed", "open"}

    generator = load_generator(output, device="cpu")
    designs = generate_promoters(generator, ["open"], n=3, length=40, seed=1)
    assert len(designs) == 3
    assert all(len(s) == 40 and set(s) <= set("ACGT") for s in designs["sequence"])
    assert np.isfinite(metrics["heldout_bits"])
