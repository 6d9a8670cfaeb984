"""Tag-controlled promoter generation with a small decoder-only transformer (regLM-style).

Model and tokens
----------------
A ``LlamaForCausalLM`` over single nucleotides. The vocabulary is the special tokens
:data:`SPECIAL_TOKENS`, the bases ``A C G T`` and one token per tag (``<HIGH>`` in the default
CAI family, ``<family=label>`` for others, see :func:`glm_core.promoters.tag_token`). A
training example is ``<bos> <tag> ... <tag> A C G ... <eos>``, with the promoter written
5'->3' on the gene's strand and ending at the TSS; genome windows for pretraining get the
``<genome>`` tag instead. Sampling prompts with ``<bos>`` + tags (+ an optional fixed 5'
prefix) and lets :meth:`transformers.GenerationMixin.generate` add exactly the requested
number of bases: every non-nucleotide logit is masked, so only A/C/G/T can appear. With
classifier-free guidance the same bases are also scored after the untagged prompt
(``<bos>`` + prefix), which fine-tuning shows for a share of promoters
(``unconditional_fraction``), and the two predictions are extrapolated away from it.

Training (:func:`train_generator`) first pretrains on random windows of the training
chromosomes (both strands), then fine-tunes on tagged promoters of training genes, keeping
the step with the lowest loss on 5 % of those genes set aside; genes on the held-out
chromosomes are never seen. With a time limit, pretraining gets ``pretrain_time_share`` of
it and fine-tuning the rest, each with a learning rate that decays by its budget. The folder
it writes is a ``save_pretrained`` model with tokenizer, ``generation_config.json``,
``training_config.json``, ``tags.json`` and the independent k-mer oracle (``oracle.npz``,
``oracle.json``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .evaluation import HELD_OUT_CHROMS
from .genome import fasta_text
from .models import ASSETS_DIR, resolve_device
from .promoters import DEFAULT_FAMILY, DEFAULT_UPSTREAM, load_tag_table, tag_family_column, tag_token

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>", "<genome>")
NUCLEOTIDES = "ACGT"
BUNDLED_GENERATOR = ASSETS_DIR / "models" / "promoter-gen-umaydis"
Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------- tokenizer


def build_generator_tokenizer(tag_tokens):
    """Character-level tokenizer: special tokens, A C G T (either case), then ``tag_tokens``."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocabulary = [*SPECIAL_TOKENS, *NUCLEOTIDES, *tag_tokens]
    core = Tokenizer(WordLevel({token: i for i, token in enumerate(vocabulary)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"<[^<>]*>|."), behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<bos>",
                                        eos_token="<eos>", unk_token="<unk>", model_max_length=1 << 16)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<genome>", *tag_tokens]})
    return tokenizer


# --------------------------------------------------------------------------- loaded generator


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
        return [label if family == DEFAULT_FAMILY else f"{family}={label}"
                for family, labels in self.tag_tokens.items() for label in labels]

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
                raise KeyError(f"unknown tag {tag!r}; this generator knows: {', '.join(self.tags)}")
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
    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # Weights may be stored in float16 to keep the folder small; sampling runs in float32,
    # which every device supports.
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()
    info = json.loads((path / "tags.json").read_text())
    vocab = tokenizer.get_vocab()
    return PromoterGenerator(model, tokenizer, info["tag_tokens"], np.array([vocab[b] for b in NUCLEOTIDES]),
                             path.name, path, device, info)


# --------------------------------------------------------------------------- sampling

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

    def __init__(self, model: torch.nn.Module, unconditional_ids: torch.Tensor, prompt_length: int,
                 guidance_scale: float):
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
            new = torch.cat([self.unconditional_ids, input_ids[:, self.prompt_length:]], dim=1)
        else:
            new = input_ids[:, self.prompt_length + self.cached_bases:]
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
    for value in (generator.info.get(RECOMMENDED_GUIDANCE_KEY),
                  _folder_json(generator, "generation_config.json").get(RECOMMENDED_GUIDANCE_KEY)):
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
    return (f"{generator.name} was not trained on untagged promoters (its training_config.json {recorded}), so the "
            "untagged prediction that guidance pushes away from was never learnt and the tags' effect may come out "
            "distorted: check designs with the oracle, or retrain with glm-explore train-generator "
            "--unconditional-fraction 0.1 before relying on guidance.")


def _sampling_processors(generator: PromoterGenerator, on_step: Callable[[], None], *, temperature: float,
                         top_k: int | None, top_p: float | None, guidance: _ClassifierFreeGuidance | None) -> list:
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


def generate_promoters(generator: PromoterGenerator, tags, n: int = 10, length: int = DEFAULT_UPSTREAM, *,
                       temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                       guidance_scale: float = 1.0, seed: int = 0, prefix: str = "", batch_size: int = 64,
                       progress: Progress | None = None) -> pd.DataFrame:
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
    """
    from transformers import LogitsProcessorList

    prefix = prefix.strip().upper()
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
    tags = list(tags)
    if not tags:
        raise ValueError(f"give at least one tag; this generator knows: {', '.join(generator.tags)}")
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
                    generator.model, torch.tensor([unconditional_prompt] * size, device=generator.device),
                    len(prompt), guidance_scale)
            processors = _sampling_processors(generator, step, temperature=temperature, top_k=top_k, top_p=top_p,
                                              guidance=guidance)
            input_ids = torch.tensor([prompt] * size, device=generator.device)
            with torch.inference_mode():
                # temperature/top-k/top-p are in ``processors``; ``generate`` must not add its own
                out = generator.model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True,
                    temperature=1.0, top_k=0, top_p=1.0,
                    min_new_tokens=new, max_new_tokens=new, use_cache=True,
                    logits_processor=LogitsProcessorList(processors),
                    pad_token_id=generator.tokenizer.pad_token_id, eos_token_id=None,
                )
            for row in out[:, len(prompt):].cpu().numpy():
                sequences.append(prefix + "".join(id_to_base[int(i)] for i in row))
    return pd.DataFrame({"design_id": [f"design_{i + 1:05d}" for i in range(n)],
                         "tags": ",".join(generator.tag_names(tags)),
                         "guidance": float(guidance_scale),
                         "sequence": sequences})


# --------------------------------------------------------------------------- training


@dataclass
class GeneratorTrainingConfig:
    """Everything that defines a generator run; saved as ``training_config.json`` beside the weights."""

    output_dir: str
    fasta: str
    annotation: str
    tag_table: str | None = None
    tag_family: str | None = None  # None: CAI, or the value column's header of ``tag_table``
    n_bins: int = 3
    upstream: int = DEFAULT_UPSTREAM
    held_out_chroms: tuple[str, ...] = HELD_OUT_CHROMS
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 320
    pretrain_window: int = 250
    pretrain_steps: int = 600
    finetune_steps: int = 1200
    batch_size: int = 32
    learning_rate: float = 2e-3
    finetune_learning_rate: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    unconditional_fraction: float = 0.1
    pretrain_time_share: float = 0.6
    validation_fraction: float = 0.05
    seed: int = 0
    eval_every: int = 200
    time_limit_s: float | None = None
    device: str | None = None
    threads: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("unconditional_fraction", "validation_fraction", "pretrain_time_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 0 and below 1; got {getattr(self, name)}")


def _encode(sequences, vocab: dict) -> list[np.ndarray]:
    table = np.full(256, vocab["<unk>"], dtype=np.int64)
    for base in NUCLEOTIDES:
        table[ord(base)] = table[ord(base.lower())] = vocab[base]
    return [table[np.frombuffer(s.encode("ascii"), dtype=np.uint8)] for s in sequences]


def _batch(rows: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels with -100 at padding), each (B, L) int64."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    labels = np.where(mask == 1, ids, -100)
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)


def _genome_windows(genome, chroms, window: int, count: int, rng: np.random.Generator, vocab: dict, prompt: list[int]):
    """``count`` random windows of the given chromosomes (A/C/G/T only, random strand), tokenised."""
    from .genome import reverse_complement

    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.float64)
    rows = []
    while len(rows) < count:
        chrom = chroms[rng.choice(len(chroms), p=sizes / sizes.sum())]
        start = int(rng.integers(0, genome.chrom_sizes[chrom] - window))
        text = genome.fetch(chrom, start, start + window).upper()
        if set(text) - set(NUCLEOTIDES):
            continue
        if rng.random() < 0.5:
            text = reverse_complement(text)
        rows.append(np.concatenate([prompt, _encode([text], vocab)[0], [vocab["<eos>"]]]))
    return rows


def _promoter_rows(table: pd.DataFrame, families: list[str], vocab: dict) -> list[np.ndarray]:
    """``<bos> <tag>... bases <eos>`` per promoter; with no ``families`` the unconditional ``<bos> bases <eos>``."""
    encoded = _encode(table["sequence"], vocab)
    rows = []
    for (_, row), bases in zip(table.iterrows(), encoded):
        tags = [vocab[tag_token(f, row[f])] for f in families]
        rows.append(np.concatenate([[vocab["<bos>"]], tags, bases, [vocab["<eos>"]]]).astype(np.int64))
    return rows


def _prompt_token_mask(ids: torch.Tensor) -> torch.Tensor:
    """True at <bos>, <genome> and tag tokens: the prompt is given, never predicted."""
    first_tag = len(SPECIAL_TOKENS) + len(NUCLEOTIDES)
    return (ids < len(SPECIAL_TOKENS)) & (ids != SPECIAL_TOKENS.index("<eos>")) | (ids >= first_tag)


@torch.no_grad()
def _mean_loss(model, rows, pad_id, device, batch_size=64) -> float:
    """Mean next-token cross-entropy (nats) over the base and <eos> tokens of ``rows``."""
    model.eval()
    total, count = 0.0, 0
    for first in range(0, len(rows), batch_size):
        ids, mask, labels = (t.to(device) for t in _batch(rows[first:first + batch_size], pad_id))
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = labels[:, 1:].clone()
        target[_prompt_token_mask(ids[:, 1:])] = -100
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    model.train()
    return total / max(count, 1)


def tagged_promoters(config: GeneratorTrainingConfig, genome, annotation,
                     tag_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The promoter table of ``config`` with its tag family (CAI by default, else the tag table).

    ``tag_table`` is ``config.tag_table`` already read, for callers that need it too.
    """
    from .promoters import cai_tags, promoter_table, read_tag_table

    promoters = promoter_table(annotation, genome, upstream=config.upstream, held_out_chroms=config.held_out_chroms)
    if config.tag_table:
        table = tag_table if tag_table is not None else config.tag_table
        return read_tag_table(table, promoters, n_bins=config.n_bins, family=config.tag_family)
    return cai_tags(promoters, annotation, genome, n_bins=config.n_bins)


def train_generator(config: GeneratorTrainingConfig, log: Callable[[str], None] = print) -> dict:
    """Pretrain on genome windows, fine-tune on tagged training promoters, save model + oracle.

    Returns the metrics written to ``<output_dir>/training_metrics.json``: held-out
    promoter loss (bits/base) before and after fine-tuning, with the correct and a wrong tag,
    the oracle's held-out AUROC, steps and wall time.
    """
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from .annotation import Annotation
    from .genome import Genome
    from .oracle import fit_oracle, ordered_labels

    started = time.time()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = resolve_device(config.device)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    genome = Genome(config.fasta)
    annotation = Annotation.from_file(config.annotation)
    tag_table = load_tag_table(config.tag_table) if config.tag_table else None
    promoters = tagged_promoters(config, genome, annotation, tag_table)
    family = tag_family_column(tag_table, config.tag_family) if tag_table is not None else DEFAULT_FAMILY
    labels = ordered_labels(promoters.loc[~promoters["held_out"], family])
    log(f"{len(promoters):,} tagged promoters ({(~promoters['held_out']).sum():,} training, "
        f"{promoters['held_out'].sum():,} held out); {family} labels {labels}")

    oracle = fit_oracle(promoters, family, seed=config.seed)
    oracle.save(output)
    log(f"oracle: held-out AUROC {labels[-1]} vs {labels[0]} = {oracle.metrics.get('heldout_auroc', float('nan')):.3f}")

    tag_tokens = {family: {label: tag_token(family, label) for label in labels}}
    tokenizer = build_generator_tokenizer([t for f in tag_tokens.values() for t in f.values()])
    vocab = tokenizer.get_vocab()
    model_config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads, max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True, pad_token_id=vocab["<pad>"], bos_token_id=vocab["<bos>"],
        eos_token_id=vocab["<eos>"], rope_theta=10000.0,
    )
    model = LlamaForCausalLM(model_config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"LlamaForCausalLM, {n_params / 1e6:.2f} M parameters, on {device}")

    train_chroms = [c for c in genome.chroms if c not in config.held_out_chroms]
    train = promoters[~promoters["held_out"]].reset_index(drop=True)
    heldout = promoters[promoters["held_out"]].reset_index(drop=True)
    # Early stopping looks at training-chromosome genes set aside here, so the held-out
    # chromosomes stay unseen by every choice made in training.
    is_validation = rng.random(len(train)) < config.validation_fraction
    validation, train = train[is_validation].reset_index(drop=True), train[~is_validation].reset_index(drop=True)
    train_rows = _promoter_rows(train, [family], vocab)
    # Classifier-free guidance needs the same promoters without their tags.
    untagged_rows = _promoter_rows(train, [], vocab)
    validation_rows = _promoter_rows(validation, [family], vocab)
    heldout_rows = _promoter_rows(heldout, [family], vocab)
    # the same held-out promoters prompted with the opposite tag: a conditioning check
    flipped = heldout.assign(**{family: heldout[family].map(dict(zip(labels, labels[::-1])))})
    flipped_rows = _promoter_rows(flipped, [family], vocab)
    pad = vocab["<pad>"]
    bits = 1 / math.log(2)
    metrics = {"n_parameters": n_params, "family": family, "labels": labels, "oracle": oracle.metrics,
               "n_train_promoters": len(train), "n_validation_promoters": len(validation),
               "n_heldout_promoters": len(heldout)}
    best = {"loss": float("inf"), "step": 0, "state": None}

    def keep_if_best(step):
        loss = _mean_loss(model, validation_rows, pad, device)
        if loss < best["loss"]:
            best.update(loss=loss, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
        return loss

    def run_phase(name, steps, learning_rate, next_rows, budget_s=None, early_stopping=False):
        """Warm-up then cosine decay to 10 % over ``steps`` or, if sooner, over ``budget_s`` seconds."""
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=config.weight_decay,
                                      betas=(0.9, 0.95))
        model.train()
        phase_started = time.time()
        for step in range(1, steps + 1):
            elapsed = time.time() - phase_started
            progress = max(step / steps, elapsed / budget_s if budget_s else 0.0)
            scale = min(1.0, step / config.warmup_steps) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1))))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * scale
            ids, mask, labels_ = (t.to(device) for t in _batch(next_rows(), pad))
            labels_[_prompt_token_mask(ids)] = -100
            loss = model(input_ids=ids, attention_mask=mask, labels=labels_).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            out_of_time = budget_s is not None and time.time() - phase_started > budget_s
            if step % config.eval_every == 0 or step == steps or out_of_time:
                checked = keep_if_best(step) * bits if early_stopping else _mean_loss(
                    model, validation_rows, pad, device) * bits
                log(f"{name} step {step}/{steps}: train loss {loss.item() * bits:.3f} bits/token, "
                    f"validation promoters {checked:.3f} bits/token, {time.time() - started:.0f} s")
            if out_of_time:
                log(f"{name}: time budget reached at step {step}")
                return step
        return steps

    def remaining_s(share):
        """``share`` of the time left before the limit; None without a limit."""
        if not config.time_limit_s:
            return None
        return max(0.0, config.time_limit_s - (time.time() - started)) * share

    genome_prompt = [vocab["<bos>"], vocab["<genome>"]]
    done = run_phase("pretrain", config.pretrain_steps, config.learning_rate,
                     lambda: _genome_windows(genome, train_chroms, config.pretrain_window, config.batch_size, rng,
                                             vocab, genome_prompt), budget_s=remaining_s(config.pretrain_time_share))
    metrics["pretrain_steps"] = done
    metrics["heldout_bits_after_pretrain"] = _mean_loss(model, heldout_rows, pad, device) * bits

    def finetune_batch():
        picks = rng.integers(0, len(train_rows), config.batch_size)
        untagged = rng.random(config.batch_size) < config.unconditional_fraction
        return [untagged_rows[i] if drop else train_rows[i] for i, drop in zip(picks, untagged)]

    # the rest of the budget, less a margin for the final held-out losses and saving
    done = run_phase("finetune", config.finetune_steps, config.finetune_learning_rate, finetune_batch,
                     budget_s=remaining_s(0.95), early_stopping=True)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    metrics["finetune_steps"] = done
    metrics["best_finetune_step"] = best["step"]
    metrics["validation_bits"] = best["loss"] * bits
    metrics["heldout_bits"] = _mean_loss(model, heldout_rows, pad, device) * bits
    metrics["heldout_bits_opposite_tag"] = _mean_loss(model, flipped_rows, pad, device) * bits
    metrics["heldout_bits_untagged"] = _mean_loss(model, _promoter_rows(heldout, [], vocab), pad, device) * bits
    metrics["wall_s"] = time.time() - started

    model.eval()
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=config.upstream,
        min_new_tokens=config.upstream, bos_token_id=vocab["<bos>"], pad_token_id=pad, use_cache=True,
    )
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    (output / "tags.json").write_text(json.dumps({"tag_tokens": tag_tokens, "upstream": config.upstream,
                                                  "held_out_chroms": list(config.held_out_chroms)}, indent=2))
    (output / "training_config.json").write_text(json.dumps(asdict(config), indent=2))
    (output / "training_metrics.json").write_text(json.dumps(metrics, indent=2))
    log(f"saved to {output}: held-out promoter loss {metrics['heldout_bits']:.3f} bits/token with the true tag, "
        f"{metrics['heldout_bits_opposite_tag']:.3f} with the opposite tag")
    return metrics


# --------------------------------------------------------------------------- design metrics


def _code_matrix(sequences, width: int) -> np.ndarray:
    """Sequences right-aligned (at the TSS) in a (n, width) int8 matrix of 0..3 codes, -1 = no base."""
    from .genome import nucleotide_codes

    matrix = np.full((len(sequences), width), -1, dtype=np.int8)
    for i, sequence in enumerate(sequences):
        codes = nucleotide_codes(sequence[-width:])
        matrix[i, width - len(codes):] = codes
    return matrix


def nearest_identity(designs, references, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """For each design, the most similar reference and their identity.

    Identity is ungapped: sequences aligned at their 3' end (the TSS), identical positions
    over the design's length (a shorter reference counts its missing bases as mismatches).
    Pass the same list twice for pairwise identity among designs; a design is then never
    its own neighbour.

    Returns (index into ``references`` shape=(len(designs),), identity in [0, 1] shape=(len(designs),)).
    """
    designs, references = list(designs), list(references)
    width = max(len(s) for s in designs)
    left, right = _code_matrix(designs, width), _code_matrix(references, width)
    same = designs is references or designs == references
    lengths = np.array([len(s) for s in designs], dtype=np.float64)
    best = np.zeros(len(designs), dtype=np.int64)
    identity = np.zeros(len(designs))
    for first in range(0, len(designs), chunk):
        block = left[first:first + chunk]
        matches = ((block[:, None, :] == right[None, :, :]) & (block[:, None, :] >= 0)).sum(axis=2)
        if same:
            matches[np.arange(len(block)), np.arange(first, first + len(block))] = -1
        best[first:first + chunk] = matches.argmax(axis=1)
        identity[first:first + chunk] = matches.max(axis=1) / lengths[first:first + chunk]
    return best, identity


def shares_kmer(designs, references, k: int = 50) -> np.ndarray:
    """True where a design shares at least one exact k-mer (given strand) with any reference, shape=(len(designs),)."""
    seen = {hash(s[i:i + k]) for s in references for i in range(len(s) - k + 1)}
    return np.array([any(hash(s[i:i + k]) in seen for i in range(len(s) - k + 1)) for s in designs])


def gc_fraction(sequences) -> np.ndarray:
    """G+C over A/C/G/T bases per sequence, shape=(len(sequences),)."""
    return np.array([(s.count("G") + s.count("C")) / max(1, sum(s.count(b) for b in NUCLEOTIDES)) for s in sequences])


def describe_designs(designs: pd.DataFrame, oracle, training_promoters: pd.DataFrame, k: int = 50) -> pd.DataFrame:
    """Designs with ``oracle_score`` (and ``P(label)``), ``gc``, ``nearest_gene``, ``nearest_identity``
    and ``shares_50mer`` (against ``training_promoters``' ``sequence``); a new table."""
    table = designs.reset_index(drop=True).copy()
    if oracle is not None:
        table = pd.concat([table, oracle.predict_table(table["sequence"])], axis=1)
    table["gc"] = gc_fraction(table["sequence"])
    references = training_promoters["sequence"].tolist()
    nearest, identity = nearest_identity(table["sequence"].tolist(), references)
    table["nearest_gene"] = training_promoters["name"].to_numpy()[nearest]
    table["nearest_identity"] = identity
    table[f"shares_{k}mer"] = shares_kmer(table["sequence"], references, k)
    return table


def designs_fasta(table: pd.DataFrame, seed: int | None = None) -> str:
    """FASTA text of a design table (``design_id``, ``tags``, ``sequence`` [, ``guidance``, ``oracle_score``]);
    ``seed``, when given, is written in every header as the sampling seed."""
    records = {}
    seed_field = "" if seed is None else f" seed={seed}"
    for row in table.itertuples(index=False):
        guidance = f" guidance={row.guidance:g}" if hasattr(row, "guidance") else ""
        score = f" oracle_score={row.oracle_score:.3f}" if hasattr(row, "oracle_score") else ""
        records[f"{row.design_id} tags={row.tags}{guidance}{seed_field}{score}"] = row.sequence
    return fasta_text(records, width=80)
