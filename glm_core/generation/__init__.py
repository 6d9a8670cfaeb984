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

Modules
-------
* :mod:`~glm_core.generation.tokens`: the vocabulary and tokenizer.
* :mod:`~glm_core.generation.loading`: :class:`PromoterGenerator` and :func:`load_generator`.
* :mod:`~glm_core.generation.sampling`: :func:`generate_promoters` with classifier-free guidance.
* :mod:`~glm_core.generation.training`: :func:`train_generator` and its configuration.
* :mod:`~glm_core.generation.designs`: metrics of designed promoters and their FASTA text.
"""

from .designs import describe_designs, designs_fasta, gc_fraction, nearest_identity, shares_kmer
from .loading import BUNDLED_GENERATOR, PromoterGenerator, load_generator
from .sampling import (
    RECOMMENDED_GUIDANCE_KEY,
    generate_promoters,
    guidance_warning,
    recommended_guidance,
    unconditional_training_fraction,
)
from .tokens import SPECIAL_TOKENS, build_generator_tokenizer
from .training import GeneratorTrainingConfig, tagged_promoters, train_generator

__all__ = [
    "BUNDLED_GENERATOR",
    "GeneratorTrainingConfig",
    "PromoterGenerator",
    "RECOMMENDED_GUIDANCE_KEY",
    "SPECIAL_TOKENS",
    "build_generator_tokenizer",
    "describe_designs",
    "designs_fasta",
    "gc_fraction",
    "generate_promoters",
    "guidance_warning",
    "load_generator",
    "nearest_identity",
    "recommended_guidance",
    "shares_kmer",
    "tagged_promoters",
    "train_generator",
    "unconditional_training_fraction",
]
