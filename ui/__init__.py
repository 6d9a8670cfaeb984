"""The app side of gLM Explorer: the only code importing both Streamlit and ``glm_core``,
besides the pages themselves. One module a concern:

* :mod:`ui.choices`: what the user picked (a genome's files, a model folder) and where the
  app keeps files (``GLM_EXPLORER_DATA``, ``GLM_EXPLORER_CACHE``);
* :mod:`ui.cache`: ``st.cache_resource`` for opened genome files
  (:func:`glm_core.genome_files.open_genome_files`) and models, and ``st.cache_data`` for
  results; cached objects are shared by every session, never mutate them;
* :mod:`ui.session`: the session-state keys, the shared locus (reset when the genome
  changes), ``require_genome`` / ``require_model`` (with the note when a model was trained on
  another genome) and the one way a page shows a user error;
* :mod:`ui.sidebar`: the genome and model selectors, uploads and the sequence-name mapping;
* :mod:`ui.region_picker`: the query box every page uses (read by
  :func:`glm_core.locus.resolve_locus`), its gene parts, and the score button of the logo and
  variant pages;
* :mod:`ui.tour`: the overview page's guided tour of the embedded genome.

Environment
-----------
``GLM_EXPLORER_DATA``: folder offered in the sidebar for genome files, told apart by
content: FASTA, GFF3 (with or without ``##FASTA``), GTF/GFF2 (default ``./data``);
checkpoint folders in its ``models/`` subfolder join the bundled models in the model
selector. ``GLM_EXPLORER_DEVICE``: ``cuda``, ``mps`` or ``cpu`` to override the automatic
choice. ``GLM_EXPLORER_TRUST_REMOTE_CODE=1``: allow checkpoints that ship their own Python
code (off by default). ``GLM_EXPLORER_CACHE``: where uploads, FASTA indexes and
decompressed FASTA copies go (default ``./cache``).
"""
