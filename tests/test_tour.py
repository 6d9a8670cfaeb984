"""The guided tour: every stop opens on the embedded genome at the bases its text names, and
a click fills the target page's region box.

Facts checked: um04855's start codon reads ATG and um02353's stop codon TAA on their own
strands, um10700's first intron opens with GT, the promoter run upstream of um00811 is
ATTCGTGATTATTCACGATTCGTGACT (153-180 bp before its TSS), the repeat upstream of um04960
holds AATCACG four times; a tour button opens the logo page on the stop's gene part.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from glm_core.locus import resolve_locus
from glm_core.tour import TOUR
from ui import choices

ROOT = Path(__file__).resolve().parent.parent


def stop(title):
    return next(s for s in TOUR if s.title == title)


@pytest.mark.parametrize(
    "title, core, bases",
    [("A start codon", (20, 23), "ATG"), ("A stop codon", (20, 23), "TAA"), ("A splice donor", (10, 12), "GT")],
)
def test_gene_part_stops_read_the_named_bases(embedded_genome, embedded_annotation, title, core, bases):
    s = stop(title)
    locus = resolve_locus(s.query, embedded_genome, embedded_annotation, part=s.part, flank=s.flank)
    assert len(locus) == 2 * s.flank + len(bases)
    assert embedded_genome.fetch_region(locus.region)[core[0] : core[1]] == bases


def test_promoter_and_repeat_stops_hold_their_runs(embedded_genome, embedded_annotation):
    run = embedded_genome.fetch_region(
        resolve_locus(stop("A strongly predicted promoter run").query, embedded_genome).region
    )
    assert run[10:-10] == "ATTCGTGATTATTCACGATTCGTGACT"
    um00811 = resolve_locus("um00811", embedded_genome, embedded_annotation)
    assert um00811.strand == "+" and um00811.start - (2_424_114 + 10 + 27) == 153
    repeat = embedded_genome.fetch_region(
        resolve_locus(stop("A repeat the model copies").query, embedded_genome).region
    )
    assert repeat[10:-10].count("AATCACG") == 4


def test_a_tour_button_opens_the_logo_page_on_its_part(tmp_path, monkeypatch):
    monkeypatch.setenv(choices.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(choices.DATA_DIR_ENV, str(tmp_path / "data"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.button(key="overview_tour_2").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Predicted logo"
    assert at.text_input(key="logo_query").value == "um10700"
    assert at.selectbox(key="logo_part").value == "donor of intron 1"
    # The CPU default is the one-pass model, which scores the donor's 22 bp at once.
    assert any(c.value == "Scored by gpn-umaydis-onepass (one pass)." for c in at.caption)
    assert at.get("plotly_chart")  # the logo of the donor's 22 bp
