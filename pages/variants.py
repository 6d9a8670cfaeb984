"""Variant effects: the LLR of every possible SNV in a region, and scores for a VCF.

LLR = log P(alt) - log P(ref) at the masked position (natural log); negative means the
model finds the alternative less likely than the reference. Consequences come from the
genome's annotation. When ``glm-explore score-genome`` has scored this genome with the
sidebar's model, the region scan reads its probabilities, background and neutral table from
that folder (:mod:`ui.precomputed`).
"""

import hashlib

import streamlit as st

from glm_core import evaluation, variants
from glm_core.plots.logo_figures import codon_position_llr_figure, consequence_llr_figure, variant_scan_figure
from glm_core.region_scan import region_scan_table, region_scan_tsv
from ui import cache, precomputed, region_picker, session
from ui.comparison_section import render_comparison
from glm_core.vcf import read_vcf, scored_vcf_text

CHART_CONFIG = {"scrollZoom": True, "displaylogo": False}
PASTE_EXAMPLE = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t71241\t.\tC\tA\t.\t.\t."

loaded = session.require_genome()
model = session.require_model()
genome, annotation = loaded.genome, loaded.annotation
if not loaded.choice.is_embedded():  # the example names a base of this genome, not of U. maydis
    first = next(iter(genome.chrom_sizes))
    base = genome.fetch(first, 0, 1).upper()
    PASTE_EXAMPLE = PASTE_EXAMPLE.splitlines()[0] + f"\n{first}\t1\t.\t{base}\t{'C' if base != 'C' else 'T'}\t.\t.\t."

st.title("Variant effects")
st.caption(
    f"LLR = log P(alt) \u2212 log P(ref) from {region_picker.model_words(model)}, each position predicted without "
    "seeing its base, forward and reverse-complement predictions averaged. Negative: the model finds the "
    "alternative allele less likely."
)
scan_tab, vcf_tab = st.tabs(["Saturation scan of a region", "Score a VCF"])

# --------------------------------------------------------------------------- region scan


background, calibration = cache.score_tables(model, loaded)
calibrated = calibration is not None and st.toggle(
    "Calibrated LLR (cLLR)",
    key="variants_calibrated",
    help="cLLR = LLR minus the mean LLR of neutral SNVs (four-fold degenerate sites) with the same 5-mer context "
    "and alternative base; it removes what context and codon usage alone predict.",
)
st.caption("Genome-wide percentiles: " + variants.background_description(background) + ".")
if calibration is None:
    st.caption(
        "No neutral-site table exists for this genome and model, so no cLLR; `glm-explore score-genome` computes one."
    )


def _shown_scores(table):
    """The table with cLLR in the LLR columns when the calibrated switch is on."""
    if not calibrated or "cllr" not in table.columns:
        return table
    shown = table.assign(llr=table["cllr"])
    if "cllr_percentile_genome" in table.columns:
        shown["llr_percentile_genome"] = table["cllr_percentile_genome"]
    return shown


def _frequency_section(vcf, scored) -> None:
    """Mean LLR and cLLR by allele-frequency bin with 95 % CIs, when the VCF carries AF or AC/AN."""
    from glm_core.allele_frequency import allele_frequencies, frequency_figure, frequency_summary

    frequencies = allele_frequencies(vcf, scored)
    if (frequencies != frequencies).all():
        return
    summary = frequency_summary(scored, frequencies)
    st.subheader("Scores by allele frequency")
    st.caption(
        "Mean score of the scored SNVs per allele-frequency bin (INFO/AF, else AC/AN), rare to common, "
        "with a normal 95 % confidence interval of the mean. Damaging alleles are kept rare by selection, "
        "so a useful score is lower in the rare bins."
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(frequency_figure(summary), config={"displaylogo": False}, key="variants_af_chart")
    right.dataframe(summary, hide_index=True)


with scan_tab:
    region, title = region_picker.choose_scoring_region(loaded, "variants")
    scores = precomputed.region_scores("variants", model, loaded, region, "+") if region is not None else None
    probabilities = scores.probabilities if scores is not None else None
    if probabilities is not None:
        scan_model = scores.model
        # Backgrounds and calibration belong to the model that scored (the exact path may differ).
        scan_background, scan_calibration = cache.score_tables(scan_model, loaded)
        try:
            snvs = _shown_scores(
                variants.region_snvs(
                    genome,
                    annotation,
                    region.chrom,
                    region.start,
                    region.end,
                    probabilities,
                    background=scan_background,
                    calibration=scan_calibration,
                )
            )
            features = annotation.region_features(region.chrom, region.start, region.end)
            figure = variant_scan_figure(
                snvs,
                region.chrom,
                region.start,
                region.end,
                features,
                annotation.transcripts,
                sequence=genome.fetch(region.chrom, region.start, region.end),
                title=f"{title}, LLR of every SNV" if title else None,
            )
        except session.USER_ERRORS as error:
            session.show_error(error)
        else:
            st.plotly_chart(figure, config=CHART_CONFIG, key="variants_scan_chart")
            st.caption(
                "Rows: the alternative base on the + strand; the reference base's cell is left grey. Red: the model "
                "prefers the reference; blue: the alternative. Hover a cell for the variant, its LLR, its percentile "
                f"among the {len(snvs):,} SNVs of this region and its consequence."
            )
            left, right = st.columns(2)
            left.plotly_chart(
                consequence_llr_figure(snvs), config={"displaylogo": False}, key="variants_consequence_chart"
            )
            right.plotly_chart(
                codon_position_llr_figure(snvs), config={"displaylogo": False}, key="variants_codon_chart"
            )
            held_out_figures = (
                " For the bundled gpn-umaydis model on 150 held-out genes (chr20\u2013chr23, 736,758 CDS SNVs; see "
                "its model card) the raw LLR separates stop-gained from synonymous SNVs at an AUROC of 0.947 but "
                "missense from synonymous only at 0.467 (0.5 = chance; mean LLR \u22124.19 stop-gained, \u22120.75 "
                "synonymous, \u22120.61 missense)."
                if loaded.choice.is_embedded()
                else ""  # figures about U. maydis only
            )
            st.markdown(
                "Read these plots with care. Stop-gained SNVs should score far below synonymous ones. Synonymous "
                "SNVs often score *below* missense ones: a model that has learnt the genome's codon usage finds a "
                "change to a rarely used synonymous codon unlikely although the protein is unchanged."
                f"{held_out_figures} The tables below give the numbers for this region and model."
            )
            summary_column, auroc_column = st.columns([3, 2])
            summary_column.dataframe(
                variants.consequence_llr_summary(snvs),
                hide_index=True,
                column_config={
                    c: st.column_config.NumberColumn(format="%.3f")
                    for c in ("mean_llr", "median_llr", "q25_llr", "q75_llr")
                },
            )
            aurocs = evaluation.consequence_summary(snvs)
            auroc_column.dataframe(
                aurocs[aurocs["metric"] == "auroc"][["label", "value", "n", "n_negative"]].rename(
                    columns={"label": "AUROC (lower LLR = damaging)", "value": "AUROC"}
                ),
                hide_index=True,
            )
            shown = region_scan_table(snvs)
            st.dataframe(
                shown,
                hide_index=True,
                height=320,
                key="variants_scan_table",
                column_config={
                    "pos": st.column_config.NumberColumn("pos (1-based)", format="%d"),
                    "llr": st.column_config.NumberColumn("LLR", format="%.3f"),
                    "llr_percentile": st.column_config.NumberColumn(
                        f"percentile among the region's {len(snvs):,} SNVs", format="%.1f"
                    ),
                },
            )
            st.download_button(
                "All SNVs of the region (TSV)",
                region_scan_tsv(snvs),
                file_name=f"snvs_{region.chrom}_{region.start + 1}-{region.end}_{scan_model.name}.tsv",
                mime="text/tab-separated-values",
                key="variants_download_scan",
            )
            second = session.compare_model()
            if second is not None:
                render_comparison("variants", model, second, loaded, region, "+", probabilities)

# --------------------------------------------------------------------------- VCF

with vcf_tab:
    st.markdown(
        "Upload a VCF (plain or gzipped) or paste its lines. Every SNV gets its LLR, consequence and gene; "
        "multi-allelic records are split into one record per ALT allele; indels, symbolic alleles, records on "
        "unknown chromosomes and records whose REF disagrees with the genome are kept and marked in GLM_STATUS. "
        "Chromosome names such as `1`, `chr1` or `chr01` are matched to the genome's when that is unambiguous."
    )
    upload = st.file_uploader("VCF file", type=["vcf", "gz", "bgz"], key="variants_vcf_upload")
    pasted = st.text_area(
        "or paste VCF lines (tab-separated, with the #CHROM header line)",
        key="variants_vcf_text",
        placeholder=PASTE_EXAMPLE,
        height=150,
    )
    data, name = None, None
    if upload is not None:
        data, name = upload.getvalue(), upload.name
    elif pasted.strip():
        data, name = pasted.encode("utf-8"), "pasted VCF"
    if data is not None:
        try:
            vcf = read_vcf(data, name=name)
        except session.USER_ERRORS as error:
            session.show_error(error)
        else:
            digest = hashlib.sha256(data).hexdigest()
            st.caption(f"{name}: {len(vcf):,} records.")
            vcf_model = region_picker.exact_model_choice("variants_vcf", model, len(vcf), digest)
            # Content digests of the VCFs this session asked to score (the table comes from the cache).
            requested = st.session_state.setdefault("variants_vcf_scored", set())
            if digest not in requested and st.button(
                f"Score {name} with {vcf_model.name}", type="primary", key="variants_vcf_score"
            ):
                requested.add(digest)
            if digest in requested:
                scored = cache.scored_vcf(cache.model_key(vcf_model), loaded.choice, digest, vcf_model, loaded, vcf)
                scored.attrs["llr_background"] = variants.background_description(
                    cache.score_tables(vcf_model, loaded)[0]
                )
                st.caption(f"Scored by {region_picker.model_words(vcf_model)}.")
                counts = variants.status_counts(scored)
                columns = st.columns(3)
                columns[0].metric("Alleles", f"{len(scored):,}")
                columns[1].metric("Scored SNVs", f"{int((scored['status'] == 'scored').sum()):,}")
                columns[2].metric("Not scored", f"{int((scored['status'] != 'scored').sum()):,}")
                left, right = st.columns(2)
                left.dataframe(counts, hide_index=True)
                right.dataframe(variants.chromosome_report(scored), hide_index=True)
                if (scored["status"] == "ref_mismatch").any():
                    st.warning(
                        f"{int((scored['status'] == 'ref_mismatch').sum())} allele(s) have a REF that differs from "
                        "the genome; they are not scored. Check the genome build and that POS is 1-based."
                    )
                table = scored.assign(pos=scored["pos"] + 1)
                st.dataframe(
                    table,
                    hide_index=True,
                    height=360,
                    key="variants_vcf_table",
                    column_config={
                        "pos": st.column_config.NumberColumn("pos (1-based)", format="%d"),
                        "llr": st.column_config.NumberColumn("LLR", format="%.3f"),
                        "llr_percentile": st.column_config.NumberColumn(
                            "percentile", format="%.1f", help="among all SNVs at the scored positions"
                        ),
                    },
                )
                _frequency_section(vcf, scored)
                stem = name.removesuffix(".gz").removesuffix(".bgz").removesuffix(".vcf").replace(" ", "_")
                download_columns = st.columns(2)
                download_columns[0].download_button(
                    "Scored VCF",
                    scored_vcf_text(vcf, scored, vcf_model.name, loaded.choice.label),
                    file_name=f"{stem}.{vcf_model.name}.vcf",
                    mime="text/vcf",
                    key="variants_download_vcf",
                )
                download_columns[1].download_button(
                    "Scored TSV",
                    variants.scored_tsv(scored),
                    file_name=f"{stem}.{vcf_model.name}.tsv",
                    mime="text/tab-separated-values",
                    key="variants_download_tsv",
                )
                n_positions = scored.loc[scored["status"] == "scored", ["genome_chrom", "pos"]].drop_duplicates()
                st.caption(
                    f"{len(n_positions):,} positions scored; llr_percentile places each LLR among the "
                    f"{3 * len(n_positions):,} possible SNVs at those positions"
                    + (
                        f" (so few that a percentile moves in steps of {100 / max(1, 3 * len(n_positions)):.0f} points)"
                        if 3 * len(n_positions) < 100
                        else ""
                    )
                    + (
                        "; llr_percentile_genome (GLM_LLR_PCT in the VCF) against "
                        f"{scored.attrs.get('llr_background', 'a genome-wide background')}."
                        if "llr_percentile_genome" in scored.columns
                        else "; no genome-wide background exists for this genome and model, so GLM_LLR_PCT is left out."
                    )
                )
