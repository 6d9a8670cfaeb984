"""Embedding map: genomic windows embedded by the selected gLM, projected with UMAP.

Windows are sampled evenly across region classes (or read from an uploaded BED file),
embedded with :func:`glm_core.embedding.cached_window_embeddings` (kept on disk under the
cache folder, so a map opens again at once), projected with UMAP and coloured by class.
Beside the map, a kNN classifier's macro-F1 on held-out windows compares the gLM
embeddings with the 4-mer spectra of the same windows. Clicking a point opens its window
in the locus view of the overview page.

Session state
-------------
``RESULT_KEY = "embeddings_result"``
    :class:`glm_core.embedding_map.EmbeddingMap` or None: the last embedded windows of this
    session (windows 0-based half-open, embeddings, 4-mer spectra, nearest genes), with the
    model and genome that made them.
``OWNER_KEY = "embeddings_result_owner"``
    (genome choice, model label) of that result, so that a result of another genome or
    model is ignored.

Widgets use keys starting with ``embeddings_``.
"""

import io

import streamlit as st

from glm_core import embedding
from glm_core.embedding_map import embedding_map, model_label
from glm_core.errors import user_message
from glm_core.genome import Region
from glm_core.plots.genome_figures import embedding_map_figure
from ui import cache, session
from ui.choices import cache_dir
from ui.sidebar import save_upload

RESULT_KEY = "embeddings_result"
OWNER_KEY = "embeddings_result_owner"
MAP_KEY = "embeddings_map"
SOURCES = ("Sample by region class", "Upload a BED file")
KNN_NEIGHBOURS = 15
OVERVIEW_PAGE = "pages/overview.py"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


loaded = session.require_genome()
genome, annotation = loaded.genome, loaded.annotation
model = session.require_masked_model()  # hidden states: only masked LMs have window embeddings
model_id = model_label(model)
owner = (loaded.choice, model_id)
cache_folder = cache_dir() / "embeddings"

st.title("Embedding map")
if model.name != getattr(st.session_state.get(session.MODEL_KEY), "name", model.name):
    st.info(
        f"Embeddings come from a masked LM's hidden states; the one-pass model has none, so this page uses "
        f"{model.name} (masked, one window per base)."
    )
st.caption(
    f"Each point is a genomic window. **{model.name}** reads it centred in {model.context} bp of sequence, "
    "unmasked, on both strands; its last hidden layer, averaged over the window's bases, is the window's "
    "embedding. UMAP draws the embeddings in 2-D; windows that the model represents alike lie close together."
)

# --------------------------------------------------------------------------- settings

windows_column, map_column = st.columns(2)
with windows_column:
    st.subheader("Windows")
    source = st.radio("Windows from", SOURCES, horizontal=True, key="embeddings_source")
    windows = None
    try:
        if source == SOURCES[0]:
            if annotation.is_empty:
                st.info(
                    "No annotation: every window is intergenic. Upload a BED file to colour windows by classes "
                    "of your own."
                )
            totals = cache.region_class_totals(loaded.choice)
            present = totals.loc[totals["bases"] > 0, "region_class"].tolist()
            left, middle, right = st.columns(3)
            n_windows = left.number_input(
                "Number of windows", min_value=20, max_value=50_000, value=2000, step=100, key="embeddings_n"
            )
            window_length = middle.number_input(
                "Window length (bp)",
                min_value=10,
                max_value=model.context,
                value=min(100, model.context),
                step=10,
                key="embeddings_length",
            )
            seed = right.number_input("Sampling seed", min_value=0, value=0, step=1, key="embeddings_seed")
            classes = st.multiselect("Region classes", present, default=present, key="embeddings_classes")
            if classes:
                windows = cache.sampled_windows(
                    loaded.choice, int(n_windows), int(window_length), tuple(classes), int(seed)
                )
            else:
                st.info("Choose at least one region class.")
        else:
            upload = st.file_uploader(
                "BED file: chrom, start, end (0-based half-open) and the class in the name column",
                type=["bed", "txt", "gz"],
                key="embeddings_bed",
            )
            if upload is None:
                st.info(f"Upload a BED file of windows up to {model.context} bp; the name column colours the map.")
            else:
                windows = embedding.windows_from_bed(save_upload(upload.name, upload.getvalue()))
                embedding.embedding_contexts(windows, genome.chrom_sizes, model.context)  # checks every window
    except session.USER_ERRORS as error:
        session.show_error(error)
        windows = None

with map_column:
    st.subheader("Map")
    left, middle = st.columns(2)
    n_neighbors = left.slider("UMAP neighbours", min_value=2, max_value=200, value=15, key="embeddings_neighbors")
    min_dist = middle.slider(
        "UMAP min_dist", min_value=0.0, max_value=0.99, value=0.1, step=0.01, key="embeddings_min_dist"
    )
    left, middle = st.columns(2)
    metric = left.selectbox("UMAP metric", embedding.UMAP_METRICS, key="embeddings_metric")
    umap_seed = middle.number_input("UMAP seed", min_value=0, value=0, step=1, key="embeddings_umap_seed")

# --------------------------------------------------------------------------- embedding

result = st.session_state.get(RESULT_KEY)
if result is not None and st.session_state.get(OWNER_KEY) != owner:
    result = None  # embedded by another model or on another genome
current = (
    result is not None
    and windows is not None
    and result.windows[embedding.WINDOW_COLUMNS].equals(windows[embedding.WINDOW_COLUMNS])
)


def keep(found):
    kept = embedding_map(model, genome, annotation, windows, found, loaded.choice.label)
    st.session_state[RESULT_KEY], st.session_state[OWNER_KEY] = kept, owner
    return kept


shipped = cache.shipped_map(model)  # the default sample, embedded once on a GPU and shipped with the model
if windows is not None and not current:
    try:
        if shipped is not None and shipped.matches(windows, genome.chrom_sizes):
            found = shipped.embeddings
        else:
            found = embedding.cached_embeddings(model, genome, windows, cache_folder)
    except session.USER_ERRORS as error:
        session.show_error(error)
        found = None
    if found is not None:
        result, current = keep(found), True
    else:
        per_window = cache.seconds_per_window(model_id, model)
        st.caption(
            f"About **{duration(per_window * len(windows))}** for {len(windows):,} windows on "
            f"**{model.device}** ({per_window:.3g} s a window, timed here; two {model.context}-bp forward passes "
            "each). On a CPU, try a few hundred windows first; a GPU embeds thousands in seconds. "
            "Embeddings are kept on disk, so a map opens again at once."
        )
        if st.button(f"Embed {len(windows):,} windows", type="primary", key="embeddings_run"):
            bar = st.progress(0.0, text="Embedding windows…")

            def progress(done: int, total: int) -> None:
                bar.progress(done / total, text=f"Embedded {done:,} of {total:,} windows")

            try:
                found = embedding.cached_window_embeddings(model, genome, windows, cache_folder, progress=progress)
            except session.USER_ERRORS as error:
                session.show_error(error)
            else:
                result, current = keep(found), True
            bar.empty()

# --------------------------------------------------------------------------- map

if result is None:
    st.stop()
if not current:
    st.info(
        f"The map below shows the last windows embedded ({len(result.windows):,}); "
        "press the button above to map the current choice."
    )
umap_settings = {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric, "seed": int(umap_seed)}
try:
    if shipped is not None and shipped.umap == umap_settings and shipped.matches(result.windows, genome.chrom_sizes):
        coordinates = shipped.projection
        st.caption(f"Precomputed map shipped with {model.name} (embedded on {shipped.metadata.get('device')}).")
    else:
        coordinates = cache.projection(result.embeddings, int(n_neighbors), float(min_dist), metric, int(umap_seed))
except session.USER_ERRORS as error:
    session.show_error(error)
    st.stop()
table = result.table(coordinates)
figure = embedding_map_figure(table)

map_area, scores_area = st.columns([3, 1])
with map_area:
    event = st.plotly_chart(
        figure, on_select="rerun", selection_mode="points", key=MAP_KEY, config={"displaylogo": False}
    )
    st.caption("Hover a point for its window (1-based, inclusive) and nearest gene; click it to open the locus view.")
points = event.selection.points if event is not None else []
if points:
    point = points[0]
    row = int(figure.data[point["curve_number"]].customdata[point["point_index"]][0])
    chosen = table.iloc[row]
    session.set_locus(Region(str(chosen["chrom"]), int(chosen["start"]), int(chosen["end"])))
    st.switch_page(OVERVIEW_PAGE)

with scores_area:
    st.subheader("Class from neighbours")
    labels = tuple(result.windows["region_class"].astype(str))
    too_small = embedding.classes_too_small(labels)
    try:
        if too_small:
            shown = ", ".join(f"{name}: {n}" for name, n in too_small.items())
            raise ValueError(
                f"fewer than {embedding.MIN_WINDOWS_PER_CLASS} windows in {len(too_small)} class(es) ({shown}); on so "
                "few held-out windows a macro-F1 swings by chance, even below the chance level. Sample at least "
                f"{embedding.MIN_WINDOWS_PER_CLASS} windows a class."
            )
        scores = cache.knn_scores(result.embeddings, result.spectrum, labels, KNN_NEIGHBOURS)
    except ValueError as error:
        st.info(f"No kNN score: {user_message(error)}")
    else:
        for name, value in zip(scores["representation"], scores["macro-F1"]):
            st.metric(f"{name}, macro-F1", f"{value:.3f}")
        n_classes = len(set(labels))
        st.caption(
            f"{KNN_NEIGHBOURS}-nearest-neighbour classification of the region class on a stratified 30 % of the "
            f"windows held out, features standardised; chance is about {1 / n_classes:.2f} "
            f"({n_classes} classes). The gLM sees {model.context} bp around each window, the 4-mer spectrum "
            "(both strands) only the window; nearby windows share context, which can flatter the gLM."
        )

# --------------------------------------------------------------------------- download

buffer = io.BytesIO()
result.write(
    buffer,
    coordinates,
    umap={"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric, "seed": int(umap_seed)},
)
st.download_button(
    "Download windows, classes, UMAP and embeddings (parquet)",
    buffer.getvalue(),
    file_name="embedding-map.parquet",
    mime="application/vnd.apache.parquet",
    key="embeddings_download",
)
st.caption(
    "Columns: chrom, start, end (0-based half-open, as in BED), region_class, nearest_gene, umap_x, umap_y, "
    f"then emb_000… ({result.embeddings.shape[1]} values a window)."
)
