"""Sampling promoters from a generator: nucleotides only, optional classifier-free guidance."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..genome import NUCLEOTIDES
from ..promoters import DEFAULT_UPSTREAM
from ..scoring import Progress
from .loading import PromoterGenerator

# Key under which a model folder's tags.json (or generation_config.json) recommends a guidance scale.
RECOMMENDED_GUIDANCE_KEY = "recommended_guidance"


class _NucleotidesOnly:
    """LogitsProcessor: -inf for every token that is not A/C/G/T; reports progress per step."""

    def __init__(self, vocab_size: int, nucleotide_ids: np.ndarray, on_step: Callable[[], None] | None = None):
        self.blocked = torch.ones(vocab_size, dtype=torch.bool)
        self.blocked[torch.as_tensor(nucleotide_ids)] = False
        self.on_step = on_step

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.on_step is not None:
            self.on_step()
        blocked = self.blocked.to(scores.device)[: scores.shape[-1]]
        return scores.masked_fill(blocked, float("-inf"))


def _cache_keyword(model: torch.nn.Module) -> str:
    """The forward argument that takes a KV cache: ``cache`` in newer transformers, ``past_key_values`` before.

    Both releases accept unknown keywords silently, so passing the wrong one would run the
    unconditional branch without its context instead of failing.
    """
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class _ClassifierFreeGuidance:
    """LogitsProcessor: next-token log-probabilities ``uncond + w * (cond - uncond)``.

    ``cond`` are the scores ``generate`` computed for the tagged prompt; ``uncond`` come from
    the same rows prompted without tags (``unconditional_ids``: ``<bos>`` + prefix, one row
    per design). The untagged branch keeps its own ``DynamicCache`` and shows the model only
    what it has not seen yet: the untagged prompt at the first step, then one new base per
    step for all rows at once.
    """

    def __init__(
        self, model: torch.nn.Module, unconditional_ids: torch.Tensor, prompt_length: int, guidance_scale: float
    ):
        self.model = model
        self.unconditional_ids = unconditional_ids
        self.prompt_length = prompt_length
        self.guidance_scale = guidance_scale
        self.cache_keyword = _cache_keyword(model)
        self.cache = None
        self.cached_bases = 0
        self.last_log_probs = None

    def unconditional_log_probs(self, input_ids: torch.Tensor) -> torch.Tensor:
        """log P(next token | <bos> + prefix + bases so far), shape=(rows, vocab), float32."""
        from transformers import DynamicCache

        sampled = input_ids.shape[1] - self.prompt_length
        if self.cache is None or sampled < self.cached_bases:  # first step, or a new run on this processor
            self.cache, self.cached_bases = DynamicCache(config=self.model.config), 0
            new = torch.cat([self.unconditional_ids, input_ids[:, self.prompt_length :]], dim=1)
        else:
            new = input_ids[:, self.prompt_length + self.cached_bases :]
        if new.shape[1]:
            logits = self.model(input_ids=new, use_cache=True, **{self.cache_keyword: self.cache}).logits[:, -1]
            self.last_log_probs = torch.log_softmax(logits.float(), dim=-1)
            self.cached_bases = sampled
        return self.last_log_probs

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        conditional = torch.log_softmax(scores.float(), dim=-1)
        unconditional = self.unconditional_log_probs(input_ids).to(conditional.device)
        guided = unconditional + self.guidance_scale * (conditional - unconditional)
        # a token both branches rule out gives -inf - -inf = NaN: keep it ruled out
        return torch.where(torch.isnan(guided), float("-inf"), guided)


def _folder_json(generator: PromoterGenerator, name: str) -> dict:
    """A JSON file of the generator's folder as a dict; {} where there is no folder or file."""
    if generator.path is None or not (Path(generator.path) / name).is_file():
        return {}
    return json.loads((Path(generator.path) / name).read_text())


def unconditional_training_fraction(generator: PromoterGenerator) -> float | None:
    """Share of fine-tuning promoters the generator saw without tags (``training_config.json``).

    None where the folder does not record it (generators trained before tag-free examples
    were added): such a model never learnt the unconditional prompt that guidance needs.
    """
    value = _folder_json(generator, "training_config.json").get("unconditional_fraction")
    return None if value is None else float(value)


def recommended_guidance(generator: PromoterGenerator) -> float:
    """The guidance scale the model folder recommends: ``tags.json``, else ``generation_config.json``,
    under :data:`RECOMMENDED_GUIDANCE_KEY`; 1.0 (no guidance) where neither holds one."""
    for value in (
        generator.info.get(RECOMMENDED_GUIDANCE_KEY),
        _folder_json(generator, "generation_config.json").get(RECOMMENDED_GUIDANCE_KEY),
    ):
        if value is not None:
            return float(value)
    return 1.0


def guidance_warning(generator: PromoterGenerator, guidance_scale: float) -> str | None:
    """Why guidance at ``guidance_scale`` may mislead with this generator, or None when it is fine."""
    if guidance_scale == 1:
        return None
    fraction = unconditional_training_fraction(generator)
    if fraction:
        return None
    recorded = "records unconditional_fraction = 0" if fraction == 0 else "does not record unconditional_fraction"
    return (
        f"{generator.name} was not trained on untagged promoters (its training_config.json {recorded}), so the "
        "untagged prediction that guidance pushes away from was never learnt and the tags' effect may come out "
        "distorted: check designs with the oracle, or retrain with glm-explore train-generator "
        "--unconditional-fraction 0.1 before relying on guidance."
    )


def _sampling_processors(
    generator: PromoterGenerator,
    on_step: Callable[[], None],
    *,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    guidance: _ClassifierFreeGuidance | None,
) -> list:
    """Guidance, then nucleotides only, then temperature, top-k and top-p: built here rather than by
    ``generate`` so that the order is the same in every transformers release."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    processors = [] if guidance is None else [guidance]
    processors.append(_NucleotidesOnly(generator.model.config.vocab_size, generator.nucleotide_ids, on_step))
    if temperature != 1:
        processors.append(TemperatureLogitsWarper(float(temperature)))
    if top_k:
        processors.append(TopKLogitsWarper(top_k=int(top_k)))
    if top_p is not None and top_p < 1:
        processors.append(TopPLogitsWarper(top_p=float(top_p)))
    return processors


def _check_request(
    generator: PromoterGenerator,
    tags: list,
    n: int,
    length: int,
    prefix: str,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    guidance_scale: float,
    batch_size: int = 1,
) -> None:
    """Raise ``ValueError`` naming the first argument of :func:`generate_promoters` out of range."""
    if set(prefix) - set(NUCLEOTIDES):
        bad = "".join(sorted(set(prefix) - set(NUCLEOTIDES)))
        raise ValueError(f"the prefix may hold only A, C, G, T; got {bad!r}")
    if not 1 <= n <= 100_000:
        raise ValueError(f"n must be between 1 and 100,000; got {n}")
    max_length = generator.model.config.max_position_embeddings - 2 - len(generator.tag_tokens)
    if not len(prefix) < length <= max_length:
        raise ValueError(f"length must satisfy len(prefix)={len(prefix)} < length <= {max_length}; got {length}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1]; got {top_p}")
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be >= 1 (or None/0 for off); got {top_k}")
    if not (math.isfinite(guidance_scale) and guidance_scale >= 0):
        raise ValueError(f"guidance_scale must be a number >= 0 (1 = no guidance); got {guidance_scale}")
    if not tags:
        raise ValueError(f"give at least one tag; this generator knows: {', '.join(generator.tags)}")
    if batch_size < 1:
        raise ValueError(f"batch_size (designs sampled together) must be a whole number >= 1; got {batch_size!r}")


def generate_promoters(
    generator: PromoterGenerator,
    tags,
    n: int = 10,
    length: int = DEFAULT_UPSTREAM,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    guidance_scale: float = 1.0,
    seed: int = 0,
    prefix: str = "",
    batch_size: int = 64,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Sample ``n`` promoters of exactly ``length`` bases conditioned on ``tags``.

    Parameters
    ----------
    tags : tag names, at most one per family (``["HIGH"]``; see :meth:`PromoterGenerator.tag_ids`).
    length : bases per design, including ``prefix``.
    temperature, top_k, top_p : sampling controls (top_k/top_p None = off), applied after guidance.
    guidance_scale : classifier-free guidance weight w; 1 = off (plain conditional sampling).
        Otherwise each base is drawn from ``uncond + w * (cond - uncond)``, the log-probabilities
        of the tagged prompt (``<bos>`` + tags + prefix) and of the untagged one (``<bos>`` +
        prefix) for the same bases so far: w > 1 strengthens what the tags change. Guidance needs
        a generator fine-tuned with ``unconditional_fraction > 0`` (see :func:`guidance_warning`);
        it costs a second forward pass per base.
    seed : the same seed, batch size and device give the same designs (the global torch
        random state is restored afterwards).
    prefix : fixed 5' bases every design starts with (A/C/G/T).
    progress : ``progress(done, total)`` with sampled bases so far over ``n * new bases``.

    Returns
    -------
    pd.DataFrame with columns ``design_id, tags, guidance, sequence`` (upper case, 5'->3',
    ending at the TSS; ``guidance`` is ``guidance_scale``).

    Its length is its parameter list and docstring; the work is in the helpers it calls.
    """
    from transformers import LogitsProcessorList

    prefix = prefix.strip().upper()
    tags = list(tags)
    _check_request(generator, tags, n, length, prefix, temperature, top_k, top_p, guidance_scale, batch_size)
    prefix_ids = [int(generator.nucleotide_ids[NUCLEOTIDES.index(b)]) for b in prefix]
    prompt = [generator.tokenizer.bos_token_id, *generator.tag_ids(tags), *prefix_ids]
    unconditional_prompt = [generator.tokenizer.bos_token_id, *prefix_ids]
    new = length - len(prefix)
    done, total = 0, n * new
    id_to_base = {int(i): b for i, b in zip(generator.nucleotide_ids, NUCLEOTIDES)}
    sequences = []
    with torch.random.fork_rng(devices=[generator.device] if generator.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for first in range(0, n, batch_size):
            size = min(batch_size, n - first)

            def step(size=size):
                nonlocal done
                done = min(total, done + size)
                if progress is not None:
                    progress(done, total)

            guidance = None
            if guidance_scale != 1:
                guidance = _ClassifierFreeGuidance(
                    generator.model,
                    torch.tensor([unconditional_prompt] * size, device=generator.device),
                    len(prompt),
                    guidance_scale,
                )
            processors = _sampling_processors(
                generator, step, temperature=temperature, top_k=top_k, top_p=top_p, guidance=guidance
            )
            input_ids = torch.tensor([prompt] * size, device=generator.device)
            with torch.inference_mode():
                # temperature/top-k/top-p are in ``processors``; ``generate`` must not add its own
                out = generator.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    do_sample=True,
                    temperature=1.0,
                    top_k=0,
                    top_p=1.0,
                    min_new_tokens=new,
                    max_new_tokens=new,
                    use_cache=True,
                    logits_processor=LogitsProcessorList(processors),
                    pad_token_id=generator.tokenizer.pad_token_id,
                    eos_token_id=None,
                )
            for row in out[:, len(prompt) :].cpu().numpy():
                sequences.append(prefix + "".join(id_to_base[int(i)] for i in row))
    return pd.DataFrame(
        {
            "design_id": [f"design_{i + 1:05d}" for i in range(n)],
            "tags": ",".join(generator.tag_names(tags)),
            "guidance": float(guidance_scale),
            "sequence": sequences,
        }
    )
