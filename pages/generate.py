"""Promoter design: sample promoters for control tags, check them with an independent oracle.

The generator is a small causal transformer trained on promoters of training genes (the
250 bp upstream of each transcript, chr20-chr23 held out) tagged by CAI tertiles, an
expression proxy. The k-mer oracle was fitted on real promoters only. A selected design's
predicted logo comes from the masked gLM chosen in the sidebar. Tag guidance (classifier-free
guidance) strengthens what the tags change; "Your own tags" checks an uploaded table of
per-gene values or labels with the same oracle and prints the command that trains a
generator on it.

Session state: ``generate_designs`` holds the last design table (a DataFrame). Widget keys
start with ``generate_``.
"""

import hashlib

import numpy as np
import streamlit as st

from glm_core.custom_tags import train_generator_command
from glm_core.design_logos import aligned_logo_tables
from glm_core.generation import (
    BUNDLED_GENERATOR,
    describe_designs,
    designs_fasta,
    generate_promoters,
    guidance_warning,
    recommended_guidance,
)
from ui import cache, session
from ui.choices import LoadedGenome, data_dir, device
from ui.sidebar import save_upload

DESIGNS_KEY = "generate_designs"
LOGO_MAX_BP = 50
GUIDANCE_RANGE = (1.0, 5.0)
GUIDANCE_HELP = (
    "Classifier-free guidance: each base is drawn from log P(base | tags) + (w \u2212 1) \u00b7 "
    "[log P(base | tags) \u2212 log P(base | no tags)], pushing designs away from what the model writes without "
    "tags. Stronger guidance = designs carry the tag's signature more strongly, at some cost of diversity and "
    "naturalness; 1 = off. It needs a generator trained with untagged promoters (unconditional_fraction > 0)."
)


def render_own_tags(loaded: LoadedGenome, promoters, upstream: int) -> None:
    """The "Your own tags" expander: upload, tag counts, the oracle's AUROC and the training command."""
    with st.expander("Your own tags"):
        st.markdown(
            "Tags can come from your own data: a CSV or TSV file whose first column holds gene IDs, transcript IDs "
            "or gene names and whose second column holds a number per gene (binned into quantiles of the training "
            "genes, e.g. LOW / MID / HIGH) or a label. The k-mer oracle is fitted on your tags here, to show "
            "whether promoter sequence carries them, and the command below trains a generator on them."
        )
        upload_column, bins_column = st.columns([3, 1])
        upload = upload_column.file_uploader(
            "Tag table (CSV or TSV with a header line)", type=["csv", "tsv", "txt"], key="generate_tag_table"
        )
        n_bins = int(bins_column.number_input("Quantile bins for numbers", 2, 10, 3, key="generate_tag_bins"))
        if upload is None:
            return
        content = upload.getvalue()
        try:
            summary = cache.tag_summary(
                hashlib.sha256(content).hexdigest(), upload.name, n_bins, loaded.choice, upstream, content, promoters
            )
        except session.USER_ERRORS as error:
            session.show_error(error, prefix=f"{upload.name} cannot be used: ")
            return
        auroc = summary.heldout_auroc
        kind = f"numbers in {n_bins} quantile bins" if summary.kind == "numeric" else "labels"
        metrics = st.columns(3)
        metrics[0].metric("IDs matched", f"{summary.n_ids_matched:,} of {summary.n_ids:,}")
        metrics[1].metric("Promoters tagged", f"{summary.n_promoters:,}")
        metrics[2].metric(
            f"Oracle AUROC, held out ({summary.counts['label'].iloc[-1]} vs {summary.counts['label'].iloc[0]})",
            "n/a" if auroc is None else f"{auroc:.3f}",
        )
        st.caption(
            f"Tag family **{summary.family}** ({kind}); promoters per tag on training and held-out "
            "chromosomes. An AUROC near 0.5 means promoter sequence barely tells the tags apart, and a "
            "generator will have little to learn."
        )
        st.dataframe(summary.counts, hide_index=True, key="generate_tag_counts")
        for note in summary.notes:
            st.info(note)
        saved = save_upload(upload.name, content)
        output_dir = data_dir() / "models" / f"promoter-gen-{summary.family}"
        genome_files = (
            {}
            if loaded.choice.is_embedded()
            else {"fasta": loaded.choice.fasta, "annotation": loaded.choice.annotation}
        )
        st.markdown("Train a generator (and its oracle) on these tags:")
        st.code(
            train_generator_command(saved, summary.family, n_bins, output_dir, **genome_files),
            language="bash",
            wrap_lines=True,
        )


loaded = session.require_genome()
st.title("Promoter design")
try:
    generator, oracle = cache.load_generator(str(BUNDLED_GENERATOR), device())
except session.USER_ERRORS as error:
    session.show_error(error)
    st.stop()
session.show_model_genome_note(BUNDLED_GENERATOR, generator.name, loaded)
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
        tags.append(f"{family}={label}")  # the generator shows a default-family tag by its label alone
    count = columns[-3].number_input("Designs", 1, 500, 10, key="generate_n")
    length = columns[-2].number_input(
        "Length (bp)", 20, 300, int(generator.info.get("upstream", 250)), key="generate_length"
    )
    seed = columns[-1].number_input("Seed", 0, 2**31 - 1, 0, key="generate_seed")
    left, middle, guidance_column, right = st.columns([1, 1, 1, 2])
    temperature = left.slider("Temperature", 0.1, 2.0, 1.0, 0.05, key="generate_temperature")
    top_p = middle.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="generate_top_p")
    guidance = guidance_column.slider(
        "Tag guidance",
        *GUIDANCE_RANGE,
        float(np.clip(recommended_guidance(generator), *GUIDANCE_RANGE)),
        0.25,
        key="generate_guidance",
        help=GUIDANCE_HELP,
    )
    prefix = right.text_input("Fixed 5' prefix (optional, A/C/G/T)", "", key="generate_prefix")
    submitted = st.form_submit_button("Generate", type="primary")

warning = guidance_warning(generator, float(guidance))
if warning:
    st.warning(warning)

upstream = int(generator.info.get("upstream", 250))
promoters = cache.natural_promoters(loaded.choice, upstream, loaded)
training = promoters[~promoters["held_out"]].reset_index(drop=True)
render_own_tags(loaded, promoters, upstream)

if submitted:
    bar = st.progress(0.0, text="Sampling…")
    try:
        designs = generate_promoters(
            generator,
            tags,
            n=int(count),
            length=int(length),
            temperature=float(temperature),
            top_p=float(top_p) if top_p < 1 else None,
            guidance_scale=float(guidance),
            seed=int(seed),
            prefix=prefix,
            progress=lambda done, total: bar.progress(done / total, text=f"Sampling: {done:,} of {total:,} bases"),
        )
        st.session_state[DESIGNS_KEY] = describe_designs(designs, oracle, training)
    except session.USER_ERRORS as error:
        session.show_error(error)
    bar.empty()

table = st.session_state.get(DESIGNS_KEY)
if table is None:
    st.info("Pick tags and press **Generate**.")
    st.stop()

guided = f", guidance {table['guidance'].iloc[0]:g}" if "guidance" in table else ""
st.subheader(f"{len(table)} designs ({table['tags'].iloc[0]}{guided})")
st.dataframe(
    table.drop(columns=["sequence"]),
    hide_index=True,
    key="generate_table",
    column_config={
        "guidance": st.column_config.NumberColumn("guidance", format="%.2f", help=GUIDANCE_HELP),
        "oracle_score": st.column_config.NumberColumn(
            "oracle score", format="%.2f", help="log P(HIGH) - log P(LOW) from the k-mer oracle"
        ),
        "gc": st.column_config.NumberColumn("GC", format="percent"),
        "nearest_identity": st.column_config.NumberColumn("identity to nearest training promoter", format="percent"),
        "shares_50mer": st.column_config.CheckboxColumn("shares a 50-mer with a training promoter"),
    },
)
downloads = st.columns(2)
downloads[0].download_button("Designs (FASTA)", designs_fasta(table), "designs.fasta", key="generate_fasta")
downloads[1].download_button("Table (TSV)", table.to_csv(sep="\t", index=False), "designs.tsv", key="generate_tsv")

# --------------------------------------------------------------------------- one design

st.subheader("A design beside its nearest natural promoter")
chosen = st.selectbox("Design", table["design_id"].tolist(), key="generate_chosen")
row = table[table["design_id"] == chosen].iloc[0]
natural = training[training["name"] == row["nearest_gene"]].iloc[0]
st.code(
    f">{row['design_id']}\n{row['sequence']}\n>{natural['name']} ({natural['chrom']}, {natural['strand']}, "
    f"identity {row['nearest_identity']:.0%})\n{natural['sequence']}",
    language=None,
)

length = len(row["sequence"])
first, last = st.slider(
    "Logo range (1-based positions of the design; about 0.5 s a position on a CPU)",
    1,
    length,
    (max(1, length - LOGO_MAX_BP + 1), length),
    key="generate_logo_range",
)
if st.button("Draw the predicted logo", key="generate_logo"):
    model = session.require_model()
    try:
        tables = aligned_logo_tables(
            model, {row["design_id"]: row["sequence"], natural["name"]: natural["sequence"]}, first, last, length
        )
        images = [(label, cache.logo_image(view)) for label, view in tables.items()]
    except session.USER_ERRORS as error:
        session.show_error(error)
        st.stop()
    for column, (label, image) in zip(st.columns(2), images):
        column.caption(f"{label}: positions {first}\u2013{last} ({model.name})")
        column.image(image)
