"""A trained promoter generator loaded from its folder, and how its tags are named."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..genome import NUCLEOTIDES
from ..models import ASSETS_DIR, check_weight_files, read_model_json, resolve_device
from ..promoters import DEFAULT_FAMILY

BUNDLED_GENERATOR = ASSETS_DIR / "models" / "promoter-gen-umaydis"


@dataclass
class PromoterGenerator:
    """A loaded generator and what is needed to prompt it.

    Attributes
    ----------
    model : ``LlamaForCausalLM`` in eval mode on ``device``.
    tag_tokens : {family: {label: token}} of the tags it was trained with.
    nucleotide_ids : token ids of A, C, G, T, shape=(4,).
    """

    model: torch.nn.Module
    tokenizer: object
    tag_tokens: dict
    nucleotide_ids: np.ndarray
    name: str
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    info: dict = field(default_factory=dict)

    @property
    def tags(self) -> list[str]:
        """Every tag as users write it: ``HIGH`` in the default family, ``family=label`` otherwise."""
        return [
            label if family == DEFAULT_FAMILY else f"{family}={label}"
            for family, labels in self.tag_tokens.items()
            for label in labels
        ]

    def tag_ids(self, tags) -> list[int]:
        """Token ids of ``tags`` (``HIGH``, ``<HIGH>``, ``CAI=HIGH`` or ``family=label``), one a family at most."""
        vocab = self.tokenizer.get_vocab()
        return [vocab[self.tag_tokens[family][label]] for family, label in self.resolve_tags(tags)]

    def tag_names(self, tags) -> list[str]:
        """``tags`` as users see them: ``HIGH`` in the default family, ``family=label`` otherwise."""
        return [label if family == DEFAULT_FAMILY else f"{family}={label}" for family, label in self.resolve_tags(tags)]

    def resolve_tags(self, tags) -> list[tuple[str, str]]:
        """(family, label) of each tag; KeyError naming the known tags for an unknown one."""
        resolved, families = [], []
        for tag in tags:
            text = str(tag).strip().strip("<>")
            family, _, label = text.rpartition("=")
            family = family or DEFAULT_FAMILY
            token = self.tag_tokens.get(family, {}).get(label)
            if token is None:
                # a bare label of a non-default family is fine when it is unambiguous
                owners = [f for f, labels in self.tag_tokens.items() if label in labels]
                if "=" not in text and len(owners) == 1:
                    family, token = owners[0], self.tag_tokens[owners[0]][label]
            if token is None:
                raise InputError(f"unknown tag {tag!r}; this generator knows: {', '.join(self.tags)}")
            if family in families:
                raise ValueError(f"two tags of the family {family!r} in {list(tags)}; give at most one per family")
            families.append(family)
            resolved.append((family, label))
        return resolved


def load_generator(path: str | Path = BUNDLED_GENERATOR, device: str | torch.device | None = None) -> PromoterGenerator:
    """Load a generator folder written by :func:`train_generator` (safetensors, no remote code)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file() or not (path / "tags.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a promoter generator folder (config.json + tags.json); "
            "train one with glm-explore train-generator"
        )
    read_model_json(path / "config.json")
    info = read_model_json(path / "tags.json")
    if not list(path.glob("*.safetensors")):
        pickled = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl"))
        raise InputError(
            f"{path} has no .safetensors weights{' (only pickled ' + ', '.join(pickled) + ')' if pickled else ''}; "
            "pickled weights are never loaded, since unpickling can run code. Convert them where you trust them "
            "with model.save_pretrained(folder, safe_serialization=True)"
        )
    check_weight_files(path)
    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # Weights may be stored in float16 to keep the folder small; sampling runs in float32,
    # which every device supports.
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True).to(device).eval()
    vocab = tokenizer.get_vocab()
    return PromoterGenerator(
        model, tokenizer, info["tag_tokens"], np.array([vocab[b] for b in NUCLEOTIDES]), path.name, path, device, info
    )
