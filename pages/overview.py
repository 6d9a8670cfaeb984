"""Genome overview: what the selected genome holds, and a locus view of its gene models.

The locus chosen here (a gene, or a typed region) is stored with ``app_state.set_locus`` so
that every other page opens at the same place.
"""

import re

import streamlit as st

import app_state
from glm_core import plots
from glm_core.genome import Region, format_region, parse_region

QUERY_KEY = "overview_locus_query"
# "chr01:1,000-2,000" is a region; "um10944", "mRNA:um10944" or "phosphatase" are searches.
REGION_LIKE = re.compile(r"^\s*[^\s:]+\s*:\s*[\d,_]")
CHART_CONFIG = {"scrollZoom": True, "displaylogo": False}

loaded = app_state.require_genome()
genome, annotation = loaded.genome, loaded.annotation

st.title("Genome overview")

# --------------------------------------------------------------------------- summary

summary = app_state.genome_summary(loaded.choice)
longest = summary.loc[summary["length"].idxmax()]
columns = st.columns(4)
columns[0].metric("Sequences", f"{len(summary):,}")
columns[1].metric("Total length", f"{summary['length'].sum() / 1e6:,.2f} Mb")
columns[2].metric("Genes", f"{annotation.transcripts['gene_id'].nunique():,}")
columns[3].metric("Transcripts", f"{len(annotation.transcripts):,}")
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
    totals = app_state.region_class_totals(loaded.choice)
    st.plotly_chart(plots.region_class_figure(totals), config={"displayModeBar": False}, key="overview_region_classes")
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

st.header("Locus")
locus = app_state.get_locus()
if QUERY_KEY not in st.session_state and locus is not None:
    # Reopen at the locus another page (or an earlier visit) left behind.
    transcript_id = st.session_state.get(app_state.LOCUS_TRANSCRIPT_KEY)
    st.session_state[QUERY_KEY] = transcript_id or f"{locus} ({locus.strand})"

query_column, flank_column = st.columns([4, 1])
query = query_column.text_input(
    "Gene name, ID or description words, or a region chrom:start-end (1-based, inclusive)",
    key=QUERY_KEY,
    placeholder="um10944, phosphatase, chr01:2,632-4,026",
)
flank = flank_column.number_input(
    "Flank around a gene (bp)", min_value=0, max_value=50_000, value=500, step=100, key="overview_flank"
)

query_ok = True
title = None
if query.strip() and REGION_LIKE.match(query):
    try:
        region = parse_region(query)
        genome.check_interval(region.chrom, region.start, region.end)
    except (ValueError, KeyError) as error:
        app_state.show_error(error)
        query_ok = False
    else:
        app_state.set_locus(region)
elif query.strip():
    hits = annotation.search(query, limit=50)
    if hits.empty:
        st.warning(
            f"No transcript matches {query.strip()!r}. Search by gene ID (um10944), name, or words of "
            "the description, or type a region such as chr01:2,632-4,026."
        )
        query_ok = False
    else:
        hits = hits.set_index("transcript_id", drop=False)
        shown = hits.assign(
            location=[format_region(c, s, e) for c, s, e in zip(hits["chrom"], hits["start"], hits["end"])]
        )[["name", "transcript_id", "description", "location", "strand", "n_exons"]]
        st.dataframe(shown, hide_index=True, height=min(38 + 35 * len(shown), 250))
        transcript_id = st.selectbox(
            f"{len(hits)} match{'es' if len(hits) > 1 else ''}{' (the first 50)' if len(hits) == 50 else ''}; show",
            hits.index.tolist(),
            format_func=lambda tid: f"{hits.at[tid, 'name']}: {hits.at[tid, 'description']} "
            f"({shown.at[tid, 'location']}, {hits.at[tid, 'strand']})",
            key="overview_hit",
        )
        hit = hits.loc[transcript_id]
        size = genome.chrom_sizes[hit["chrom"]]
        region = Region(hit["chrom"], max(0, int(hit["start"]) - flank), min(size, int(hit["end"]) + flank), hit["strand"])
        app_state.set_locus(region, transcript_id)
        title = f"{hit['name']} ({hit['strand']}), {format_region(region.chrom, region.start, region.end)}"

locus = app_state.get_locus()
if query_ok and locus is not None:
    try:
        features = annotation.region_features(locus.chrom, locus.start, locus.end)
        sequence = genome.fetch(locus.chrom, locus.start, locus.end) if len(locus) <= plots.MAX_SEQUENCE_BP else None
        figure = plots.locus_figure(
            locus.chrom, locus.start, locus.end, features, annotation.transcripts, sequence=sequence, title=title
        )
    except (ValueError, KeyError) as error:
        app_state.show_error(error)
    else:
        st.plotly_chart(figure, config=CHART_CONFIG, key="overview_locus_chart")
        if sequence is None:
            st.caption(
                f"The sequence row appears for regions up to {plots.MAX_SEQUENCE_BP:,} bp; this one is {len(locus):,} bp."
            )
        else:
            st.caption(
                "Drag to zoom (or scroll); double-click to zoom out. The bases are lettered once about "
                "250 bp or fewer are in view; hover a gene for its ID and description."
            )
elif locus is None and query_ok:
    st.info("Search for a gene (for example um10944) or type a region (for example chr01:2,632-4,026).")
