"""Genome overview: what the selected genome holds, and a locus view of its gene models.

The locus chosen here (a gene, or a typed region, read by ``glm_core.locus.resolve_locus``)
is stored with ``ui.session.set_locus`` so that every other page opens at the same place.
"""

import streamlit as st

from glm_core.plots.genome_figures import region_class_figure
from glm_core.plots.locus_tracks import MAX_SEQUENCE_BP, locus_figure
from ui import cache, region_picker, session, tour

QUERY_KEY = "overview_locus_query"
CHART_CONFIG = {"scrollZoom": True, "displaylogo": False}

loaded = session.require_genome()
genome, annotation = loaded.genome, loaded.annotation

st.title("Genome overview")

# --------------------------------------------------------------------------- summary

summary = cache.genome_summary(loaded.choice)
longest = summary.loc[summary["length"].idxmax()]
columns = st.columns(4)
columns[0].metric("Sequences", f"{len(summary):,}")
columns[1].metric("Total length", f"{summary['length'].sum() / 1e6:,.2f} Mb")
no_annotation = annotation.is_empty
columns[2].metric("Genes", "no annotation" if no_annotation else f"{annotation.transcripts['gene_id'].nunique():,}")
columns[3].metric("Transcripts", "no annotation" if no_annotation else f"{len(annotation.transcripts):,}")
st.markdown(
    f"**{loaded.choice.label}**: {len(summary)} sequences, the longest **{longest['chrom']}** "
    f"({longest['length']:,} bp); GC {summary['gc'].mul(summary['length']).sum() / summary['length'].sum():.1%}."
)

left, right = st.columns(2)
with left:
    st.subheader("Sequences")
    st.dataframe(
        summary,
        hide_index=True,
        height=320,
        column_config={
            "chrom": "sequence",
            "length": st.column_config.NumberColumn("length (bp)", format="localized"),
            "gc": st.column_config.NumberColumn("GC", format="percent"),
            "n_count": st.column_config.NumberColumn("N and other non-ACGT", format="localized"),
        },
    )
with right:
    st.subheader("Bases per region class")
    totals = cache.region_class_totals(loaded.choice)
    st.plotly_chart(region_class_figure(totals), config={"displayModeBar": False}, key="overview_region_classes")
    with st.expander("Table and definitions"):
        st.dataframe(
            totals,
            hide_index=True,
            column_config={
                "bases": st.column_config.NumberColumn("bases", format="localized"),
                "fraction": st.column_config.NumberColumn("fraction", format="percent"),
            },
        )
        st.caption(
            "Each base counts once, in the first class that covers it: CDS, 5' UTR, 3' UTR, "
            "non-coding exon, intron, promoter (500 bp before a transcript), downstream "
            "(500 bp after it), else intergenic."
        )

# --------------------------------------------------------------------------- locus

if loaded.choice.is_embedded():
    tour.render_tour()

st.header("Locus")
if loaded.choice.is_embedded():
    gene_example, region_example = "um10944", "chr01:2,632-4,026"
else:
    gene_example, region_example = None, f"{summary['chrom'].iloc[0]}:1,001-2,000"
if no_annotation:
    st.info(
        "No annotation: no gene track and no gene search. Type a region; logos, scans, embeddings and VCF "
        "scoring work without one (consequences read 'no annotation')."
    )
query_column, flank_column = st.columns([4, 1])
placeholder = f"{gene_example}, phosphatase, {region_example}" if gene_example else f"gene ID or name, {region_example}"
if no_annotation:
    placeholder = region_example
query = region_picker.query_input(QUERY_KEY, placeholder, column=query_column)
flank = flank_column.number_input(
    "Flank around a gene (bp)", min_value=0, max_value=50_000, value=500, step=100, key="overview_flank"
)

query_ok = True
title = None
if query.strip():
    chosen = region_picker.pick_locus(query, loaded, "overview_hit", flank=int(flank), show_matches=True)
    query_ok = chosen is not None
    if chosen is not None:
        session.set_locus(chosen.region, chosen.transcript_id)
        if chosen.is_gene:
            title = f"{chosen.name} ({chosen.strand}), {chosen}"

locus = session.get_locus()
if query_ok and locus is not None:
    try:
        features = annotation.region_features(locus.chrom, locus.start, locus.end)
        sequence = genome.fetch(locus.chrom, locus.start, locus.end) if len(locus) <= MAX_SEQUENCE_BP else None
        figure = locus_figure(
            locus.chrom, locus.start, locus.end, features, annotation.transcripts, sequence=sequence, title=title
        )
    except session.USER_ERRORS as error:
        session.show_error(error)
    else:
        st.plotly_chart(figure, config=CHART_CONFIG, key="overview_locus_chart")
        if sequence is None:
            st.caption(
                f"The sequence row appears for regions up to {MAX_SEQUENCE_BP:,} bp; this one is {len(locus):,} bp."
            )
        else:
            st.caption(
                "Drag to zoom (or scroll); double-click to zoom out. The bases are lettered once about "
                "250 bp or fewer are in view; hover a gene for its ID and description."
            )
elif locus is None and query_ok:
    for_example = f" (for example {gene_example})" if gene_example else " by ID, name or description words"
    if no_annotation:
        st.info(f"Type a region (for example {region_example}).")
    else:
        st.info(f"Search for a gene{for_example} or type a region (for example {region_example}).")
