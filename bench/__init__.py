"""Benchmarks and model-card evaluations of gLM Explorer.

Run each script as a module from the repository root, e.g.::

    python -m bench.eval_mlm --model assets/models/gpn-umaydis --out runs/eval_mlm.json

The scripts use only public names of ``glm_core`` and of this package.
"""

from __future__ import annotations

import numpy as np


def json_records(table) -> list[dict]:
    """DataFrame -> JSON-ready records (NA -> null, numpy scalars -> Python)."""
    out = []
    for record in table.astype(object).where(table.notna(), None).to_dict(orient="records"):
        out.append({key: value.item() if isinstance(value, np.generic) else value for key, value in record.items()})
    return out
