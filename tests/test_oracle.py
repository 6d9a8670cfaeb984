"""glm_core.oracle: the k-mer oracle's files.

Fact checked: the bundled generator's oracle saved to a new folder and read back scores a
promoter exactly as before, and saving leaves only its two files (no temporary names).
"""

import numpy as np

from glm_core.generation import BUNDLED_GENERATOR
from glm_core.oracle import ORACLE_FILES, KmerOracle


def test_saved_oracle_scores_the_same(tmp_path):
    oracle = KmerOracle.load(BUNDLED_GENERATOR)
    oracle.save(tmp_path / "copy")
    again = KmerOracle.load(tmp_path / "copy")
    sequences = ["ACGTTGCATATAAAGGC" * 10, "GGGCCCATG" * 20]
    np.testing.assert_array_equal(again.score(sequences), oracle.score(sequences))
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == sorted(ORACLE_FILES)
