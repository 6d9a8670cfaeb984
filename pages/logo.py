"""Predicted logo at a locus: what the model expects at each base, and where it is sure; below it
the nucleotide dependency map of the zoomed range and, with a second model chosen in the
sidebar, both models side by side.

Letters are scaled by probability x information content (2 - entropy bits), as in GPN's
logo tracks. The locus opens where the overview page left it; the scores are cached per
model, genome, region and strand. When ``glm-explore score-genome`` has scored this genome with
the sidebar's model (a folder under ``<data dir>/scores`` or ``<cache>/scores``), the logo is
read from its bigWigs, and IC and LLR rows from its tracks and SNV table join the figure.
"""

import streamlit as st

from glm_core import logo, tracks
from glm_core.genome import format_region
from glm_core.plots.locus_tracks import MAX_SEQUENCE_BP
from glm_core.plots.logo_figures import logo_locus_figure, precomputed_score_tracks
from ui import cache, precomputed, region_picker, session
from ui.comparison_section import render_comparison
from ui.dependency_section import render_dependency_section

CHART_CONFIG = {"scrollZoom": True, "displaylogo": False}
# Views up to this many bp get logomaker letters in the interactive figure (about 10 ms a
# letter to draw); wider views show each base as a coloured bar of the same height.
LETTERS_MAX_BP = 200

loaded = session.require_genome()
model = session.require_model()
genome, annotation = loaded.genome, loaded.annotation

st.title("Predicted logo")
st.caption(
    f"{model.name} predicts each base from its context without seeing that base. A letter's height is its "
    "probability times the position's information content (2 \u2212 entropy, in bits): tall stacks mark bases "
    "the model is sure of, whether or not the reference agrees."
)

region, title = region_picker.choose_scoring_region(loaded, "logo")
if region is None:
    st.stop()
strand = region_picker.strand_choice("logo", region)
scores = precomputed.region_scores("logo", model, loaded, region, strand)
if scores.probabilities is None:
    st.stop()
model, probabilities = scores.model, scores.probabilities
position_scores, calibrated = None, False
if scores.precomputed is not None:
    position_scores = cache.precomputed_position_scores(scores.precomputed, region.chrom, region.start, region.end)
    calibrated = bool(position_scores["cllr_mean"].notna().any()) and st.toggle(
        "Calibrated LLR (cLLR) in the LLR track",
        key="logo_calibrated",
        help="cLLR = LLR minus the mean LLR of neutral SNVs with the same 5-mer context and alternative base.",
    )
try:
    table = logo.position_table(genome, region.chrom, region.start, region.end, strand, probabilities)
except session.USER_ERRORS as error:
    session.show_error(error)
    st.stop()

# --------------------------------------------------------------------------- view

settings = st.columns([3, 1, 1])
first, last = region.start + 1, region.end
if len(region) > 1:
    first, last = settings[0].slider(
        "Zoom (1-based positions)",
        min_value=region.start + 1,
        max_value=region.end,
        value=(region.start + 1, region.end),
        key=f"logo_zoom_{region.chrom}_{region.start}_{region.end}",
    )
min_ic = settings[1].number_input(
    "Motif: IC at least (bits)", min_value=0.1, max_value=2.0, value=logo.DEFAULT_MIN_IC, step=0.1, key="logo_min_ic"
)
min_length = settings[2].number_input(
    "Motif: at least (bp)", min_value=1, max_value=50, value=logo.DEFAULT_MIN_LENGTH, step=1, key="logo_min_length"
)
view = table[(table["pos"] >= first - 1) & (table["pos"] <= last - 1)].reset_index(drop=True)
motifs = logo.candidate_motifs(view, min_ic=min_ic, min_length=int(min_length))
view_start, view_end = first - 1, last
features = annotation.region_features(region.chrom, view_start, view_end)
view_title = f"{title}, " if title else ""
view_title += f"{format_region(region.chrom, view_start, view_end)} ({strand})"

extra_tracks = []
if position_scores is not None:
    in_view = position_scores[(position_scores["pos"] >= view_start) & (position_scores["pos"] < view_end)]
    extra_tracks = precomputed_score_tracks(in_view, calibrated=calibrated)
try:
    image = cache.logo_image(view) if len(view) <= LETTERS_MAX_BP else None
    figure = logo_locus_figure(
        view,
        features,
        annotation.transcripts,
        motifs=motifs,
        logo_image=image,
        sequence=genome.fetch(region.chrom, view_start, view_end) if len(view) <= MAX_SEQUENCE_BP else None,
        title=view_title,
        extra_tracks=extra_tracks,
    )
except session.USER_ERRORS as error:
    session.show_error(error)
    st.stop()
st.plotly_chart(figure, config=CHART_CONFIG, key="logo_chart")
if position_scores is not None:
    score = "cLLR" if calibrated else "LLR"
    st.caption(
        f"Under the logo, from the score-genome folder: information content (bits, ic.bw) and the mean (line) and "
        f"minimum (triangles) {score} of the three SNVs at each base (snvs.tsv.gz): how unexpected a change of "
        "the base is on average and at worst; the same on either strand."
    )
st.caption(
    (
        "Letters drawn with logomaker. "
        if image is not None
        else f"Zoom to {LETTERS_MAX_BP} bp or fewer for letters; here each base is a bar of its letter's height. "
    )
    + f"Shaded: candidate motifs, runs of at least {int(min_length)} positions with IC \u2265 {min_ic:g} bits "
    "(consensus above: upper case where the top base has P \u2265 0.5). "
    + ("The axis is reversed: the minus strand reads 5'\u21923' left to right." if strand == "-" else "")
)

if len(motifs):
    shown = motifs.assign(
        location=[format_region(c, s, e) for c, s, e in zip(motifs["chrom"], motifs["start"], motifs["end"])]
    )[["location", "strand", "length", "mean_ic", "consensus", "reference"]]
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "mean_ic": st.column_config.NumberColumn("mean IC (bits)", format="%.2f"),
        },
    )

# --------------------------------------------------------------------------- downloads

st.subheader("Figure for print and downloads")
stem = f"{region.chrom}_{view_start + 1}-{view_end}_{strand.replace('+', 'plus').replace('-', 'minus')}_{model.name}"
columns = st.columns(4)
if len(view) <= logo.MAX_RENDER_BP:
    try:
        png, svg = cache.publication_images(view, features, motifs, view_title)
    except session.USER_ERRORS as error:
        session.show_error(error)
    else:
        st.image(
            png,
            width=min(1100, 160 + 14 * len(view)),
            caption="Logo, P(ref), entropy and gene models of the zoomed range (PNG 300 dpi, or SVG)",
        )
        columns[0].download_button(
            "Logo PNG", png, file_name=f"logo_{stem}.png", mime="image/png", key="logo_download_png"
        )
        columns[1].download_button(
            "Logo SVG", svg, file_name=f"logo_{stem}.svg", mime="image/svg+xml", key="logo_download_svg"
        )
else:
    st.info(f"Zoom to {logo.MAX_RENDER_BP} bp or fewer for the figure for print (PNG and SVG).")
region_stem = f"{region.chrom}_{region.start + 1}-{region.end}_{strand.replace('+', 'plus').replace('-', 'minus')}"
columns[2].download_button(
    "Per-position TSV",
    tracks.position_tsv(table),
    file_name=f"logo_{region_stem}_{model.name}.tsv",
    mime="text/tab-separated-values",
    key="logo_download_tsv",
    help="chrom, pos (1-based), ref, pA, pC, pG, pT, entropy, ic, strand, p_ref for the whole region",
)
columns[3].download_button(
    "IC bedGraph",
    tracks.bedgraph_text(table, "ic", name=f"IC {model.name}"),
    file_name=f"ic_{region.chrom}_{region.start + 1}-{region.end}_{model.name}.bedgraph",
    mime="text/plain",
    key="logo_download_bedgraph",
    help="information content per base, 0-based half-open intervals (BED convention)",
)

# --------------------------------------------------------------------------- dependency map and a second model

render_dependency_section(model, loaded, region, strand, view, features, image)
second = session.compare_model()
if second is not None:
    render_comparison("logo", model, second, loaded, region, strand, probabilities)
