"""The query box of every page that shows a place in the genome, and the score button.

What a user types is read by :func:`glm_core.locus.resolve_locus`, the same reader the
command line uses, so a page accepts exactly what ``glm-explore scan`` accepts. The box opens
at the shared locus (:func:`ui.session.locus_query`) and a chosen place becomes the shared
locus again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from glm_core.errors import user_message
from glm_core.genome import Region, format_region
from glm_core.locus import (
    DEFAULT_PROMOTER_BP,
    GENE_PARTS,
    PROMOTER,
    WHOLE_GENE,
    Locus,
    NoMatchingGene,
    gene_parts,
    is_coordinate_query,
    resolve_locus,
)
from glm_core.models import KIND_LABELS
from glm_core.throughput import describe_estimate
from ui import cache
from ui.choices import LoadedGenome
from ui.session import SCORED_KEY, USER_ERRORS, load_choice, locus_query, masked_choice, set_locus, show_error

# A one-pass region that scores within this many seconds (measured rate) needs no button.
AUTO_SCORE_SECONDS = 2.0

QUERY_LABEL = "Gene name, ID or description words, or a region chrom:start-end (1-based, inclusive)"
# Largest region a page scores at once: with a masked LM two windows per position (minutes
# on a 2-core CPU, as the page's measured estimate says), well under a second on a GPU.
MAX_SCORED_BP = 2_000
# Requests to score a region exactly with the masked LM instead of the one-pass model: (page, what).
EXACT_KEY = "exact_scoring"


def query_input(key: str, placeholder: str, column=st) -> str:
    """A text box for a locus query that opens at the shared locus the first time it is shown."""
    if key not in st.session_state and locus_query() is not None:
        st.session_state[key] = locus_query()  # reopen where another page (or an earlier visit) left off
    return column.text_input(QUERY_LABEL, key=key, placeholder=placeholder)


def _match_label(matches: pd.DataFrame, transcript_id: str) -> str:
    hit = matches.loc[transcript_id]
    return (
        f"{hit['name']}: {hit['description']} ({format_region(hit['chrom'], hit['start'], hit['end'])}, "
        f"{hit['strand']})"
    )


def pick_locus(
    query: str,
    loaded: LoadedGenome,
    hit_key: str,
    part: str = WHOLE_GENE,
    flank: int = 0,
    show_matches: bool = False,
    upstream: int = DEFAULT_PROMOTER_BP,
) -> Locus | None:
    """The locus ``query`` names, with a choice among several matching transcripts.

    Shows a warning when no transcript matches, an error for other bad input, and returns
    None then. ``show_matches`` adds a table of the matching transcripts above the choice.
    """
    genome, annotation = loaded.genome, loaded.annotation
    try:
        locus = resolve_locus(query, genome, annotation, part=part, flank=flank, upstream=upstream)
    except NoMatchingGene as error:
        st.warning(user_message(error))
        return None
    except USER_ERRORS as error:
        show_error(error)
        return None
    if len(locus.matches) > 1 or (show_matches and locus.is_gene):
        matches = locus.matches.set_index("transcript_id", drop=False)
        if show_matches:
            shown = matches.assign(
                location=[format_region(c, s, e) for c, s, e in zip(matches["chrom"], matches["start"], matches["end"])]
            )
            shown = shown[["name", "transcript_id", "description", "location", "strand", "n_exons"]]
            st.dataframe(shown, hide_index=True, height=min(38 + 35 * len(shown), 250))
        n = len(matches)
        chosen = st.selectbox(
            f"{n} match{'es' if n > 1 else ''}{' (the first 50)' if n == 50 else ''}; show",
            matches.index.tolist(),
            format_func=lambda tid: _match_label(matches, tid),
            key=hit_key,
        )
        if chosen != locus.transcript_id:
            try:
                locus = resolve_locus(
                    query, genome, annotation, part=part, flank=flank, transcript_id=chosen, upstream=upstream
                )
            except USER_ERRORS as error:  # e.g. an intron this transcript does not have
                show_error(error)
                return None
    return locus


def _parts_of_query(query: str, loaded: LoadedGenome, hit_key: str) -> list[str]:
    """The gene parts to offer for the transcript the query (and the choice among its hits) names:
    :data:`GENE_PARTS` plus its splice sites; :data:`GENE_PARTS` when it names none yet."""
    try:
        hit = resolve_locus(query, loaded.genome, loaded.annotation)
        chosen = st.session_state.get(hit_key)
        transcript_id = chosen if chosen in set(hit.matches.get("transcript_id", ())) else hit.transcript_id
        return gene_parts(loaded.annotation, transcript_id)
    except USER_ERRORS:
        return list(GENE_PARTS)


def choose_scoring_region(
    loaded: LoadedGenome, prefix: str, max_bp: int = MAX_SCORED_BP, default_flank: int = 20
) -> tuple[Region | None, str | None]:
    """Widgets to pick a region to score: a gene (one of its parts, :func:`glm_core.locus.gene_parts`:
    start codon, whole span, CDS, stop codon, promoter of a chosen length, TSS, a splice site;
    plus a flank) or typed coordinates. Opens at the shared locus and stores the choice there.

    Returns ``(region, title)``, or ``(None, None)`` after showing why there is none.
    """
    query_column, part_column, flank_column = st.columns([4, 2, 1])
    gene, region = (
        ("um06164", "chr22:69,114-69,136")
        if loaded.choice.is_embedded()
        else (None, f"{next(iter(loaded.genome.chrom_sizes), 'chr01')}:1,001-1,020")
    )
    placeholder = f"{gene}, exoribonuclease, {region}" if gene else f"gene ID or name, {region}"
    if loaded.annotation.is_empty:
        placeholder = region
    query = query_input(f"{prefix}_query", placeholder, column=query_column)
    if not query.strip():
        if loaded.annotation.is_empty:
            st.info(f"Type a region (for example {region}); this genome has no annotation, so no gene search.")
            return None, None
        for_example = f" (for example {gene})" if gene else " by ID, name or description words"
        st.info(f"Search for a gene{for_example} or type a region (for example {region}).")
        return None, None
    part, flank, upstream = WHOLE_GENE, 0, DEFAULT_PROMOTER_BP
    if not is_coordinate_query(query, loaded.genome) and not loaded.annotation.is_empty:
        parts = _parts_of_query(query, loaded, f"{prefix}_hit")
        part = part_column.selectbox("Part of the gene", parts, key=f"{prefix}_part")
        if part == PROMOTER:
            upstream = int(
                part_column.number_input(
                    "Promoter length (bp before the TSS)",
                    min_value=1,
                    max_value=max_bp,
                    value=DEFAULT_PROMOTER_BP,
                    step=50,
                    key=f"{prefix}_upstream",
                )
            )
        flank = int(
            flank_column.number_input(
                "Flank (bp)", min_value=0, max_value=max_bp, value=default_flank, step=10, key=f"{prefix}_flank"
            )
        )
    locus = pick_locus(query, loaded, f"{prefix}_hit", part=part, flank=flank, upstream=upstream)
    if locus is None:
        return None, None
    if len(locus) > max_bp:
        st.error(
            f"{locus} is {len(locus):,} bp; this page scores at most {max_bp:,} bp at a time. Choose the start "
            "or stop codon of a gene, a smaller flank, or type a smaller region."
        )
        return None, None
    set_locus(locus.region, locus.transcript_id)
    return locus.region, locus.title()


def strand_choice(prefix: str, region: Region) -> str:
    """A +/- toggle that starts at the region's strand (and again whenever the region changes)."""
    key = f"{prefix}_strand_{region.chrom}_{region.start}_{region.end}"
    return st.radio(
        "Strand (read 5'\u21923')", ["+", "-"], index=0 if region.strand == "+" else 1, horizontal=True, key=key
    )


def model_words(model) -> str:
    """'gpn-umaydis-onepass (one pass)': which model, and which kind, scored a result."""
    return f"{model.name} ({KIND_LABELS.get(model.kind, model.kind)})"


def exact_model_choice(prefix: str, model, n_positions: int, what) -> object:
    """The model that scores ``what`` (a region or a file) on a page: the sidebar's, or, once the
    user presses "Score exactly with the masked model", the masked LM.

    Shown only when the sidebar's model is one-pass and a masked LM exists: the button carries
    the masked LM's time estimate for ``n_positions``, from a rate measured on this device.
    """
    if model.kind != "one-pass":
        return model
    choice = masked_choice()
    if choice is None:
        return model
    requested = st.session_state.setdefault(EXACT_KEY, set())
    key = (prefix, what)
    if key in requested:
        masked = load_choice(choice)
        if st.button(f"Back to the one-pass model {model.name}", key=f"{prefix}_onepass"):
            requested.discard(key)
            st.rerun()
        return masked
    masked = load_choice(choice)
    estimate = describe_estimate(n_positions, cache.site_rate(cache.model_key(masked), masked))
    if st.button(
        f"Score exactly with the masked model {masked.name} ({estimate.split(' at ')[0]})",
        key=f"{prefix}_exact",
        help=f"{masked.name} masks each base in its own window: {estimate}.",
    ):
        requested.add(key)
        st.rerun()
    return model


def scored_region_probabilities(prefix: str, model, loaded: LoadedGenome, region: Region, strand: str):
    """Probabilities of ``region`` on ``strand`` for a page, once the user has asked for them.

    A one-pass model whose measured rate scores the region within :data:`AUTO_SCORE_SECONDS`
    scores it at once, so a CPU view answers as the user types. Otherwise, the first time, a
    button says how many positions will be scored and how long that takes (a rate measured on
    this device, :func:`ui.cache.site_rate`); after that (in this session) the cached result
    comes back at once. Returns None while not yet asked.
    """
    model_id = cache.model_key(model)
    key = (model_id, loaded.choice, region.chrom, region.start, region.end)
    asked = st.session_state.setdefault(SCORED_KEY, set())
    if (prefix, (region.chrom, region.start, region.end)) in st.session_state.get(EXACT_KEY, set()):
        asked.add(key)  # "Score exactly with the masked model" was the request: no second button
    if key not in asked:
        n = len(region)
        rate = cache.site_rate(model_id, model)
        if model.kind != "one-pass" or n / rate > AUTO_SCORE_SECONDS:
            slot = st.empty()
            if not slot.button(f"Score {n:,} positions with {model.name}", key=f"{prefix}_score", type="primary"):
                how = (
                    f"Each position is masked in its own {model.context}-bp window, forward and "
                    f"reverse-complemented ({2 * n:,} windows)"
                    if model.kind == "masked"
                    else "Every position from one pass of the one-pass model, both strands"
                )
                st.caption(f"{how}; on {model.device}: {describe_estimate(n, rate)}.")
                return None
            slot.empty()
        asked.add(key)
    return cache.region_probabilities(
        model_id, loaded.choice, region.chrom, region.start, region.end, strand, model, loaded.genome
    )
