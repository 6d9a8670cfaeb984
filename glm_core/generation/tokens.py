"""The generator's vocabulary: special tokens, the four bases, one token per tag."""

from __future__ import annotations

import numpy as np

from ..genome import NUCLEOTIDES

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>", "<genome>")


def build_generator_tokenizer(tag_tokens):
    """Character-level tokenizer: special tokens, A C G T (either case), then ``tag_tokens``."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocabulary = [*SPECIAL_TOKENS, *NUCLEOTIDES, *tag_tokens]
    core = Tokenizer(WordLevel({token: i for i, token in enumerate(vocabulary)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"<[^<>]*>|."), behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        model_max_length=1 << 16,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<genome>", *tag_tokens]})
    return tokenizer


def encode_bases(sequences, vocab: dict) -> list[np.ndarray]:
    """DNA strings -> token ids of their bases (either case; anything else ``<unk>``), one int64 array each."""
    table = np.full(256, vocab["<unk>"], dtype=np.int64)
    for base in NUCLEOTIDES:
        table[ord(base)] = table[ord(base.lower())] = vocab[base]
    return [table[np.frombuffer(s.encode("ascii"), dtype=np.uint8)] for s in sequences]
