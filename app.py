"""gLM Explorer: the Streamlit entry point. It only routes; pages live in pages/.

Run with ``streamlit run app.py`` (or ``make run``). To add a page, add one ``st.Page``
line to ``PAGES``; pages read the shared genome and locus through ``ui.session``.
"""

import streamlit as st

from ui.session import mark_router_ran
from ui.sidebar import render_sidebar

st.set_page_config(page_title="gLM Explorer", page_icon=":material/genetics:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Genome overview", icon=":material/travel_explore:", default=True),
    st.Page("pages/embeddings.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/logo.py", title="Predicted logo", icon=":material/bar_chart:"),
    st.Page("pages/variants.py", title="Variant effects", icon=":material/difference:"),
    st.Page("pages/generate.py", title="Promoter design", icon=":material/edit_note:"),
]

navigation = st.navigation(PAGES)
mark_router_ran()
render_sidebar()
navigation.run()
