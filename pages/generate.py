"""Promoter design: sample promoters for control tags, check them with an independent oracle.

The generator is a small causal transformer trained on promoters of training genes (the
250 bp upstream of each transcript, chr20-chr23 held out) tagged by CAI tertiles, an
expression proxy. The k-mer oracle was fitted on real promoters only. A selected design's
predicted logo comes from the masked gLM chosen in the sidebar.

Session state: ``generate_designs`` holds the last design table (a DataFrame).
"""

import os

import numpy as np
import pandas as pd
import streamlit as st

import app_state
from glm_core.generation import (BUNDLED_GENERATOR, describe_designs, designs_fasta, generate_promoters,
                                 load_generator)
from glm_core.oracle import KmerOracle
from glm_core.promoters import promoter_table

DESIGNS_KEY = "generate_designs"
LOGO_MAX_BP = 50


@st.cache_resource(show_spinner="Loading the promoter generator…", max_entries=2)
def cached_generator(path: str, device: str | None):
    """The generator and its oracle, shared by every session (never mutate them)."""
    return load_generator(path, device=device), KmerOracle.load(path)


@st.cache_data(show_spinner="Collecting the natural promoters…", max_entries=4)
def cached_promoters(choice: app_state.GenomeChoice, upstream: int, _loaded) -> pd.DataFrame:
    return promoter_table(_loaded.annotation, _loaded.genome, upstream=upstream)


loaded = app_state.require_genome()
st.title("Promoter design")
try:
    generator, oracle = cached_generator(str(BUNDLED_GENERATOR), os.environ.get("GLM_EXPLORER_DEVICE") or None)
except app_state.USER_ERRORS as error:
    app_state.show_error(error)
    st.stop()
st.caption(
    f"**{generator.name}** writes promoters (the {generator.info.get('upstream', 250)} bp before the transcription "
    "start, 5'\u21923' on the gene's strand) for the tags you pick. The default tags are CAI tertiles of each gene's "
    "coding sequence against the ribosomal-protein genes: an **expression proxy**, not measured expression. The "
    "oracle, a logistic regression on 1\u20135-mer frequencies of real promoters (held-out AUROC "
    f"{oracle.metrics.get('heldout_auroc', float('nan')):.2f} for {oracle.labels[-1]} vs {oracle.labels[0]}), "
    "scores each design: log P(HIGH) \u2212 log P(LOW)."
)

families = generator.tag_tokens
with st.form("generate_form"):
    columns = st.columns(len(families) + 3)
    tags = []
    for column, (family, labels) in zip(columns, families.items()):
        labels = list(labels)
        label = column.selectbox(f"{family} tag", labels, index=len(labels) - 1, key=f"generate_tag_{family}")
        tags.append(label if family == "CAI" else f"{family}={label}")
    count = columns[-3].number_input("Designs", 1, 500, 10, key="generate_n")
    length = columns[-2].number_input("Length (bp)", 20, 300, int(generator.info.get("upstream", 250)),
                                      key="generate_length")
    seed = columns[-1].number_input("Seed", 0, 2**31 - 1, 0, key="generate_seed")
    left, middle, right = st.columns([1, 1, 2])
    temperature = left.slider("Temperature", 0.1, 2.0, 1.0, 0.05, key="generate_temperature")
    top_p = middle.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="generate_top_p")
    prefix = right.text_input("Fixed 5' prefix (optional, A/C/G/T)", "", key="generate_prefix")
    submitted = st.form_submit_button("Generate", type="primary")

promoters = cached_promoters(loaded.choice, int(generator.info.get("upstream", 250)), loaded)
training = promoters[~promoters["held_out"]].reset_index(drop=True)

if submitted:
    bar = st.progress(0.0, text="Sampling…")
    try:
        designs = generate_promoters(
            generator, tags, n=int(count), length=int(length), temperature=float(temperature),
            top_p=float(top_p) if top_p < 1 else None, seed=int(seed), prefix=prefix,
            progress=lambda done, total: bar.progress(done / total, text=f"Sampling: {done:,} of {total:,} bases"),
        )
        st.session_state[DESIGNS_KEY] = describe_designs(designs, oracle, training)
    except app_state.USER_ERRORS as error:
        app_state.show_error(error)
    bar.empty()

table = st.session_state.get(DESIGNS_KEY)
if table is None:
    st.info("Pick tags and press **Generate**.")
    st.stop()

st.subheader(f"{len(table)} designs ({table['tags'].iloc[0]})")
st.dataframe(
    table.drop(columns=["sequence"]), hide_index=True, key="generate_table",
    column_config={
        "oracle_score": st.column_config.NumberColumn("oracle score", format="%.2f",
                                                      help="log P(HIGH) - log P(LOW) from the k-mer oracle"),
        "gc": st.column_config.NumberColumn("GC", format="percent"),
        "nearest_identity": st.column_config.NumberColumn("identity to nearest training promoter", format="percent"),
        "shares_50mer": st.column_config.CheckboxColumn("shares a 50-mer with a training promoter"),
    },
)
downloads = st.columns(2)
downloads[0].download_button("Designs (FASTA)", designs_fasta(table), "designs.fasta", key="generate_fasta")
downloads[1].download_button("Table (TSV)", table.to_csv(sep="\t", index=False), "designs.tsv",
                             key="generate_tsv")

# --------------------------------------------------------------------------- one design

st.subheader("A design beside its nearest natural promoter")
chosen = st.selectbox("Design", table["design_id"].tolist(), key="generate_chosen")
row = table[table["design_id"] == chosen].iloc[0]
natural = training[training["name"] == row["nearest_gene"]].iloc[0]
st.code(f">{row['design_id']}\n{row['sequence']}\n>{natural['name']} ({natural['chrom']}, {natural['strand']}, "
        f"identity {row['nearest_identity']:.0%})\n{natural['sequence']}", language=None)

length = len(row["sequence"])
first, last = st.slider(
    "Logo range (1-based positions of the design; about 0.5 s a position on a CPU)", 1, length,
    (max(1, length - LOGO_MAX_BP + 1), length), key="generate_logo_range",
)
if st.button("Draw the predicted logo", key="generate_logo"):
    model = app_state.require_model()
    from glm_core.logo import logo_png
    from glm_core.scoring import probability_table

    try:
        images = []
        for label, sequence in ((row["design_id"], row["sequence"]), (natural["name"], natural["sequence"])):
            offset = len(sequence) - length  # natural promoters are aligned at the TSS (3' end)
            span = np.arange(first - 1 + offset, last + offset)
            span = span[span >= 0]
            if len(span) == 0:  # a short natural promoter has no bases this far upstream
                continue
            probabilities = model.sequence_site_probabilities(sequence, span)
            view = probability_table(label, int(span[0]), sequence[span[0]:span[-1] + 1], probabilities)
            images.append((label, logo_png(view)))
    except app_state.USER_ERRORS as error:
        app_state.show_error(error)
        st.stop()
    for column, (label, image) in zip(st.columns(2), images):
        column.caption(f"{label}: positions {first}\u2013{last} ({model.name})")
        column.image(image)
