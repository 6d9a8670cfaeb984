"""An independent oracle for designed promoters: logistic regression on k-mer frequencies.

The oracle never shares parameters or training code with the generator: it sees only the
1-5-mer frequencies of real training-gene promoters and predicts their tag. Its score for
a sequence is ``log P(top label) - log P(bottom label)`` (for CAI: HIGH vs LOW), so it can
check whether a design asked for HIGH looks like a real HIGH promoter.

It is stored as ``oracle.npz`` (coefficients, scaler) plus ``oracle.json`` (labels,
k-mer sizes, held-out metrics): no pickles. Prediction needs numpy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import nucleotide_codes
from .kmer import kmer_ids
from .kmer import kmer_names as single_k_names

DEFAULT_K = (1, 2, 3, 4, 5)
# The two files of a saved oracle: arrays (coefficients, scaler), then labels, k values and metrics.
ORACLE_ARRAYS, ORACLE_INFO = ORACLE_FILES = ("oracle.npz", "oracle.json")


def kmer_names(ks=DEFAULT_K) -> list[str]:
    """Column names of :func:`kmer_frequencies`, k by k, each in lexicographic A<C<G<T order."""
    return [name for k in ks for name in single_k_names(k)]


def kmer_frequencies(sequences, ks=DEFAULT_K) -> np.ndarray:
    """Frequencies of every k-mer (k in ``ks``) on the given strand, each k summing to 1.

    k-mers containing anything but A/C/G/T are skipped.

    Returns
    -------
    np.ndarray, shape=(len(sequences), sum(4**k for k in ks)), float32.
    """
    blocks = []
    codes_list = [nucleotide_codes(s) for s in sequences]
    for k in ks:
        block = np.zeros((len(codes_list), 4**k), dtype=np.float32)
        for row, codes in enumerate(codes_list):
            index, valid = kmer_ids(codes, k)
            counts = np.bincount(index[valid], minlength=4**k)
            if counts.sum():
                block[row] = counts / counts.sum()
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


@dataclass
class KmerOracle:
    """Multinomial logistic regression on standardised k-mer frequencies.

    Attributes
    ----------
    labels : tag labels in order, lowest first (for CAI: LOW, MID, HIGH).
    coef : shape=(len(labels), n_features); intercept : shape=(len(labels),).
    mean, scale : standardisation of the features, shape=(n_features,).
    metrics : held-out numbers written at fitting time (AUROC top vs bottom, counts, C).
    """

    family: str
    labels: list[str]
    ks: tuple[int, ...]
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    metrics: dict = field(default_factory=dict)

    def log_probabilities(self, sequences) -> np.ndarray:
        """log P(label | sequence), shape=(len(sequences), len(labels))."""
        features = (kmer_frequencies(sequences, self.ks) - self.mean) / self.scale
        logits = features @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # binary model: one column for the second label
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def score(self, sequences) -> np.ndarray:
        """``log P(top label) - log P(bottom label)``, shape=(len(sequences),); higher = more like the top tag."""
        log_p = self.log_probabilities(sequences)
        return log_p[:, -1] - log_p[:, 0]

    def predict_table(self, sequences) -> pd.DataFrame:
        """``oracle_score`` plus ``P(<label>)`` for every label, one row a sequence."""
        log_p = self.log_probabilities(sequences)
        table = pd.DataFrame(np.exp(log_p), columns=[f"P({label})" for label in self.labels])
        table.insert(0, "oracle_score", log_p[:, -1] - log_p[:, 0])
        return table

    def save(self, folder: str | Path) -> None:
        """Write ``oracle.npz`` and ``oracle.json`` into ``folder`` (created if missing), renamed in together."""
        import io

        from .outputs import atomic_paths

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = io.BytesIO()
        np.savez_compressed(
            arrays,
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
        )
        info = {"family": self.family, "labels": self.labels, "ks": list(self.ks), "metrics": self.metrics}
        with atomic_paths(folder / ORACLE_ARRAYS, folder / ORACLE_INFO) as (npz, text):
            npz.write_bytes(arrays.getvalue())
            text.write_text(json.dumps(info, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> "KmerOracle":
        folder = Path(folder)
        if not all((folder / name).is_file() for name in ORACLE_FILES):
            raise FileNotFoundError(
                f"no oracle in {folder} ({' + '.join(ORACLE_FILES)}); train one with glm-explore train-generator"
            )
        info = json.loads((folder / ORACLE_INFO).read_text())
        arrays = np.load(folder / ORACLE_ARRAYS)
        return cls(
            info["family"],
            list(info["labels"]),
            tuple(info["ks"]),
            arrays["coef"],
            arrays["intercept"],
            arrays["mean"],
            arrays["scale"],
            info.get("metrics", {}),
        )


def ordered_labels(labels) -> list[str]:
    """Labels lowest first: LOW < MID < HIGH and Q1 < Q2 ..., otherwise sorted."""
    rank = {"LOW": 0, "MID": 1, "HIGH": 2}
    present = sorted(set(labels))
    if set(present) <= set(rank):
        return sorted(present, key=rank.get)
    if all(label[:1] == "Q" and label[1:].isdigit() for label in present):
        return sorted(present, key=lambda label: int(label[1:]))
    return present


def fit_oracle(promoters: pd.DataFrame, family: str, ks=DEFAULT_K, c: float = 0.001, seed: int = 0) -> KmerOracle:
    """Fit the oracle on training-gene promoters (``held_out`` False) and measure it on held-out ones.

    ``c`` is the inverse L2 strength; 0.001 was the best of 0.001-0.1 in 5-fold
    cross-validation (log loss) on the training genes of the embedded genome.
    ``metrics['heldout_auroc']`` is the AUROC of :meth:`KmerOracle.score` for the top vs the
    bottom label on held-out genes only (for CAI: HIGH vs LOW).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    if family not in promoters:
        raise InputError(f"no tag column {family!r} in the promoter table; columns: {', '.join(promoters.columns)}")
    train = promoters[~promoters["held_out"]]
    test = promoters[promoters["held_out"]]
    labels = ordered_labels(train[family])
    if len(labels) < 2:
        raise ValueError(f"the oracle needs at least two {family} labels among training genes; got {labels}")
    features = kmer_frequencies(train["sequence"], ks)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    y = train[family].map({label: i for i, label in enumerate(labels)}).to_numpy()
    model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    model.fit((features - mean) / scale, y)
    oracle = KmerOracle(family, labels, tuple(ks), model.coef_, model.intercept_, mean, scale)
    ends = test[test[family].isin([labels[0], labels[-1]])]
    metrics = {
        "C": float(c),
        "n_train": int(len(train)),
        "n_heldout": int(len(test)),
        "n_train_top_bottom": int(train[family].isin([labels[0], labels[-1]]).sum()),
        "n_heldout_top_bottom": int(len(ends)),
    }
    if ends[family].nunique() == 2:
        metrics["heldout_auroc"] = float(roc_auc_score(ends[family] == labels[-1], oracle.score(ends["sequence"])))
    oracle.metrics = metrics
    return oracle
