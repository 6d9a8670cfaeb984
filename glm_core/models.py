"""Masked genomic language models: loading Hugging Face checkpoints and running them.

Checkpoints are ``save_pretrained`` folders (``config.json``, ``model.safetensors``,
tokenizer files). GPN models load through the ``gpn`` package, which registers its
classes with ``transformers`` so that ``AutoModelForMaskedLM`` needs no remote code.
Any other single-nucleotide masked LM loads the same way when its architecture ships
with ``transformers``; checkpoints that need their own Python code are refused unless
the caller passes ``trust_remote_code=True``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .genome import NUCLEOTIDES
from .scoring import COMPLEMENT_COLUMNS, Progress, default_batch_size, masked_site_probabilities

__all__ = [
    "BUNDLED_MLM",
    "BUNDLED_ONEPASS",
    "MaskedLM",
    "build_tokenizer",
    "complement_token_table",
    "default_batch_size",
    "discover_models",
    "encoder_and_head",
    "load_masked_lm",
    "default_site_model_path",
    "load_site_model",
    "site_model_kind",
    "teacher_agreement",
    "resolve_device",
    "trust_remote_code_from_env",
]

SPECIAL_TOKENS = ("[PAD]", "[MASK]", "[UNK]")
GPN_VOCABULARY = (*SPECIAL_TOKENS, "a", "c", "g", "t")

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
BUNDLED_MODELS_DIR = ASSETS_DIR / "models"
BUNDLED_MLM = BUNDLED_MODELS_DIR / "gpn-umaydis"
BUNDLED_ONEPASS = BUNDLED_MODELS_DIR / "gpn-umaydis-onepass"

ONEPASS_MODEL_TYPE = "glm-onepass"  # glm_core.onepass.MODEL_TYPE, named here so discovery needs no torch model code
AGREEMENT_FILE = "agreement.json"
KIND_LABELS = {"masked": "masked, one window per base", "one-pass": "one pass", "causal": "causal (generation)"}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` -> CUDA when available, else Apple MPS, else CPU; strings pass through."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build_tokenizer():
    """A character-level tokenizer with GPN's vocabulary: [PAD] [MASK] [UNK] a c g t.

    Upper- and lower-case bases map to the same token (soft-masking is carried
    separately as a loss weight); anything else becomes [UNK].
    """
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(WordLevel({token: i for i, token in enumerate(GPN_VOCABULARY)}, unk_token="[UNK]"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", mask_token="[MASK]", unk_token="[UNK]", model_max_length=1 << 20
    )


def complement_token_table(nucleotide_ids: np.ndarray, vocab_size: int, device: torch.device) -> torch.Tensor:
    """Token id -> id of the complementary base (A<->T, C<->G); special tokens map to themselves.

    ``nucleotide_ids``: token ids of A, C, G, T, shape=(4,). Returns int64, shape=(vocab_size,).
    """
    table = np.arange(vocab_size)
    table[nucleotide_ids] = np.asarray(nucleotide_ids)[COMPLEMENT_COLUMNS]
    return torch.from_numpy(table).to(device)


def encoder_and_head(net: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """GPN's encoder (``.model``) and MLM head (``.cls``) of a ``GPNForMaskedLM``, for training
    that runs the head only at the masked positions."""
    return net.model, net.cls


@dataclass
class MaskedLM:
    """A loaded masked LM and what is needed to feed it raw DNA; a ``SiteModel`` of kind "masked".

    This wrapper is the one place that knows the layout of the ``transformers`` model (GPN's
    encoder ``.model`` and MLM head ``.cls``); other modules call :meth:`nucleotide_log_probs`,
    :meth:`hidden_states` and :meth:`reverse_complement_ids`.

    Attributes
    ----------
    model : the ``transformers`` model, in eval mode, on ``device``.
    nucleotide_ids : token ids of A, C, G, T, shape=(4,).
    mask_id, pad_id : token ids of [MASK] and [PAD].
    byte_to_id : lookup table, shape=(256,), from an ASCII byte to its token id.
    vocab_size : number of token ids the model's input accepts.
    context : bases of context each scored position sees (window length).
    """

    model: torch.nn.Module
    nucleotide_ids: np.ndarray
    mask_id: int
    pad_id: int
    byte_to_id: np.ndarray
    name: str
    vocab_size: int
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    context: int = 512

    kind = "masked"

    @property
    def context_flank(self) -> int:
        return self.context // 2

    def encode(self, sequence: str) -> np.ndarray:
        """DNA text -> token ids, shape=(len(sequence),), dtype=int64."""
        return self.byte_to_id[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]

    @property
    def complement_ids(self) -> torch.Tensor:
        """Token id -> id of the complementary base, on ``device``, shape=(vocab_size,)."""
        return complement_token_table(self.nucleotide_ids, self.vocab_size, self.device)

    def reverse_complement_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Token windows, shape=(batch, length) -> their reverse complements, same shape."""
        return self.complement_ids[ids].flip(1)

    def nucleotide_log_probs(self, windows: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """log P over A,C,G,T at the given offsets of each window, float32.

        ``windows``: token ids, shape=(batch, length). ``offsets``: 0-based, shape=(batch,)
        for one offset a window -> returns shape=(batch, 4); or shape=(batch, k) for k
        offsets a window (e.g. several bases masked at once) -> returns shape=(batch, k, 4).
        """
        net = self.model
        nucleotide_ids = torch.as_tensor(self.nucleotide_ids, device=windows.device)
        if offsets.ndim == 1:
            rows = torch.arange(len(windows), device=windows.device)
            if hasattr(net, "cls") and hasattr(net, "model"):
                # GPN: run the MLM head only where a base was masked, not on all 512 positions.
                logits = net.cls(net.model(input_ids=windows).last_hidden_state[rows, offsets])
            else:
                logits = net(input_ids=windows).logits[rows, offsets]
            return torch.log_softmax(logits[:, nucleotide_ids].float(), dim=-1)
        if hasattr(net, "cls") and hasattr(net, "model"):
            hidden = net.model(input_ids=windows).last_hidden_state
            logits = net.cls(torch.gather(hidden, 1, offsets[..., None].expand(-1, -1, hidden.shape[-1])))
        else:
            logits = net(input_ids=windows).logits
            logits = torch.gather(logits, 1, offsets[..., None].expand(-1, -1, logits.shape[-1]))
        return torch.log_softmax(logits[..., nucleotide_ids].float(), dim=-1)

    def hidden_states(self, ids: torch.Tensor) -> torch.Tensor:
        """Last hidden layer for token windows ``ids`` (batch, length), shape=(batch, length, hidden)."""
        net = self.model
        if hasattr(net, "cls") and hasattr(net, "model"):  # GPN: the encoder without the MLM head
            return net.model(input_ids=ids).last_hidden_state
        return net(input_ids=ids, output_hidden_states=True).hidden_states[-1]

    def sequence_site_probabilities(
        self, sequence: str, positions: np.ndarray, *, batch_size: int | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """The ``SiteModel`` method: :func:`glm_core.scoring.masked_site_probabilities` of this model."""
        return masked_site_probabilities(self, sequence, positions, batch_size=batch_size, progress=progress)


def _lookup_from_tokenizer(tokenizer) -> tuple[np.ndarray, np.ndarray, int, int]:
    vocab = tokenizer.get_vocab()

    def token_id(base: str) -> int:
        for candidate in (base.lower(), base.upper()):
            if candidate in vocab:
                return vocab[candidate]
        raise ValueError(
            f"the tokenizer has no single-nucleotide token for {base!r}; only single-nucleotide "
            "masked LMs (vocabulary with a, c, g, t) are supported"
        )

    nucleotide_ids = np.array([token_id(base) for base in NUCLEOTIDES], dtype=np.int64)
    if tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer defines no mask token; this checkpoint is not a masked LM")
    unknown = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.mask_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else unknown
    byte_to_id = np.full(256, unknown, dtype=np.int64)
    for base, token in zip(NUCLEOTIDES, nucleotide_ids):
        byte_to_id[ord(base)] = byte_to_id[ord(base.lower())] = token
    return nucleotide_ids, byte_to_id, int(tokenizer.mask_token_id), int(pad)


@contextlib.contextmanager
def library_prints_silenced():
    """Swallow what model code prints to stdout while a model is built (gpn prints its
    ``dilation_schedule=[...]``) and transformers' weight-loading bar, so command output and
    the app's logs carry only our lines."""
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # the "Loading weights" bar of from_pretrained
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


def load_masked_lm(
    path: str | Path,
    device: str | torch.device | None = None,
    *,
    trust_remote_code: bool = False,
    context: int = 512,
) -> MaskedLM:
    """Load a masked LM from a local ``save_pretrained`` folder.

    Raises ``FileNotFoundError`` for a missing folder or weights, and ``ValueError`` for
    a checkpoint that needs remote code (unless ``trust_remote_code``), that has only
    pickled weights, or whose tokenizer is not single-nucleotide; ``InputError`` for a
    config.json that is not JSON, damaged weights, and a checkpoint that is not a masked
    LM (another architecture, or weights of the MLM head missing, which transformers would
    fill with random numbers).
    """
    import gpn
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    folder = Path(path)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} is not a model folder: it has no config.json (save_pretrained writes one)")
    config = read_model_json(config_path)
    _check_masked_architecture(folder, config)
    if config.get("auto_map") and not trust_remote_code:
        raise ValueError(
            f"{folder} needs its own Python code (config.json has auto_map: {sorted(config['auto_map'])}). "
            "Running it executes that code, so it is refused by default; if you trust its author, enable "
            "trust_remote_code in the configuration (GLM_EXPLORER_TRUST_REMOTE_CODE=1)."
        )
    if not list(folder.glob("*.safetensors")):
        raise FileNotFoundError(
            f"{folder} has no .safetensors weights; convert pickled weights with "
            "model.save_pretrained(folder, safe_serialization=True) and try again"
        )
    check_weight_files(folder)
    gpn.register_auto_classes("gpn")
    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    with library_prints_silenced():
        model, loading = AutoModelForMaskedLM.from_pretrained(
            folder, use_safetensors=True, trust_remote_code=trust_remote_code, output_loading_info=True
        )
    if loading["missing_keys"]:
        missing = sorted(loading["missing_keys"])
        raise InputError(
            f"{folder} lacks {len(missing)} weights of a masked-LM model ({', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}), which would be random numbers: it is not a masked LM "
            "(e.g. a classification model). Use a masked-LM checkpoint (architectures ending in ForMaskedLM)"
        )
    # fp16 storage keeps the bundled checkpoint small; compute in fp32 (bf16 autocast on CUDA).
    model = model.float().to(device).eval()
    nucleotide_ids, byte_to_id, mask_id, pad_id = _lookup_from_tokenizer(tokenizer)
    return MaskedLM(
        model=model,
        nucleotide_ids=nucleotide_ids,
        mask_id=mask_id,
        pad_id=pad_id,
        byte_to_id=byte_to_id,
        name=folder.name,
        vocab_size=max(len(tokenizer), int(model.config.vocab_size)),
        path=folder,
        device=device,
        context=context,
    )


def read_model_json(path: Path) -> dict:
    """A model folder's JSON file (config.json, tags.json) as a dict; InputError naming the file, line
    and column when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            "restore it from where the model came from, or save the model again"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; a model folder's {path.name} is JSON") from None


def _check_masked_architecture(folder: Path, config: dict) -> None:
    """Refuse a config whose declared architectures are not masked LMs (a generator, a classifier)."""
    architectures = list(config.get("architectures") or [])
    if architectures and not any("MaskedLM" in name for name in architectures):
        kind = "a causal LM (a sequence generator)" if any("CausalLM" in a for a in architectures) else "no masked LM"
        raise InputError(
            f"{folder} is a {', '.join(architectures)} checkpoint, {kind}; this needs a masked LM "
            f"(architectures ending in ForMaskedLM), such as {BUNDLED_MLM.name}"
        )


def check_weight_files(folder: Path) -> None:
    """Open every .safetensors header so that a damaged file is named before anything loads."""
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as weights:
                weights.keys()
        except Exception as error:  # safetensors raises its own SafetensorError
            raise InputError(
                f"{path} is damaged or incomplete ({str(error).splitlines()[0]}); copy or download the model again"
            ) from None


def trust_remote_code_from_env() -> bool:
    """The user's explicit opt-in to run a checkpoint's own code (off unless set to 1/true/yes)."""
    return os.environ.get("GLM_EXPLORER_TRUST_REMOTE_CODE", "").strip().lower() in {"1", "true", "yes"}


def site_model_kind(config: dict) -> str:
    """``"one-pass"``, ``"masked"`` or ``"causal"`` from a checkpoint's config.json contents."""
    if config.get("model_type") == ONEPASS_MODEL_TYPE:
        return "one-pass"
    return "causal" if "CausalLM" in " ".join(config.get("architectures") or []) else "masked"


def teacher_agreement(folder: str | Path) -> dict | None:
    """A one-pass model's measured agreement with the masked LM it was distilled from, or None.

    Read from ``agreement.json`` in the model folder (written by :mod:`glm_core.distill` and
    ``bench/eval_onepass.py``): keys ``teacher`` and any of ``llr_pearson``, ``accuracy``,
    ``bits_per_base``, ``teacher_accuracy``, ``teacher_bits_per_base``, ``median_kl_nats``,
    ``held_out`` (what was measured on).
    """
    path = Path(folder) / AGREEMENT_FILE
    if not path.is_file():
        return None
    try:
        agreement = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return agreement if isinstance(agreement, dict) else None


def default_site_model_path(device: str | torch.device | None = None, *, exact: bool = False) -> Path:
    """The bundled model that scores regions by default on ``device``: the one-pass model on a
    CPU (interactive there; the masked LM needs ~1 s a base), the masked LM on a GPU or with
    ``exact`` (or when no one-pass model is bundled)."""
    if exact or resolve_device(device).type != "cpu" or not (BUNDLED_ONEPASS / "config.json").is_file():
        return BUNDLED_MLM
    return BUNDLED_ONEPASS


def load_site_model(path: str | Path, device: str | torch.device | None = None, *, trust_remote_code: bool = False):
    """Any site model folder -> a :class:`~glm_core.scoring.SiteModel`, by config.json's ``model_type``.

    ``glm-onepass`` -> :func:`glm_core.onepass.load_onepass_model`; anything else goes to
    :func:`load_masked_lm`, which refuses (with a message naming the problem) a folder without
    config.json or with a damaged one, a causal LM, and remote code unless ``trust_remote_code``.
    """
    folder = Path(path)
    try:
        kind = site_model_kind(json.loads((folder / "config.json").read_text()))
    except (OSError, ValueError):
        kind = "masked"  # load_masked_lm names what is wrong with the folder
    if kind == "one-pass":
        from .onepass import load_onepass_model

        return load_onepass_model(folder, device=device)
    return load_masked_lm(folder, device=device, trust_remote_code=trust_remote_code)


def discover_models(*folders: str | Path) -> pd.DataFrame:
    """Checkpoint folders found in ``folders`` and one level below.

    Returns a DataFrame with columns ``name``, ``path``, ``model_type`` (from config.json),
    ``kind`` (``masked``, ``one-pass`` or ``causal``), ``label`` (the kind in words, for
    selectors), ``teacher`` and ``llr_pearson`` (a one-pass model's measured agreement with its
    teacher, from :func:`teacher_agreement`; None otherwise).
    """
    rows = []
    for folder in folders or (BUNDLED_MODELS_DIR,):
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
            config_path = candidate / "config.json"
            if not config_path.is_file():
                continue
            try:
                config = json.loads(config_path.read_text())
            except json.JSONDecodeError:
                continue
            kind = site_model_kind(config)
            agreement = teacher_agreement(candidate) if kind == "one-pass" else None
            rows.append(
                {
                    "name": candidate.name,
                    "path": str(candidate),
                    "model_type": config.get("model_type", ""),
                    "kind": kind,
                    "label": KIND_LABELS[kind],
                    "teacher": (agreement or {}).get("teacher"),
                    "llr_pearson": (agreement or {}).get("llr_pearson"),
                }
            )
    columns = ["name", "path", "model_type", "kind", "label", "teacher", "llr_pearson"]
    return pd.DataFrame(rows, columns=columns)
