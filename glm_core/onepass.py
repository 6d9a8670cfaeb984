"""One-pass site models: P(x_i | x_-i) for every position of a sequence in one forward pass.

A blind-spot network. One causal stream of dilated convolutions reads a strand 5'->3'; its
first layer is shifted by one base, so its output at i has seen only x_<i. Run on the
sequence it gives the left context of every position; run on the reverse complement (and
flipped back) the right context, x_>i. A small head fuses the two per position into logits
over A, C, G, T. Nothing at i ever reaches the prediction at i, exactly, whatever the weights.

Strand symmetry as in :func:`glm_core.scoring.masked_site_probabilities`: the head also reads
(right, left), which is the reverse-complement pass of the same sequence (the stream is
shared by both strands, so that pass costs no extra convolution), and the two log-probability
tables are averaged after complementing the second, then renormalised.

The model is a Hugging Face model (``model_type`` ``glm-onepass``) whose classes register with
``transformers`` from this module, so ``AutoModel.from_pretrained`` needs no remote code.
:class:`OnePassSiteModel` wraps a loaded model as a :class:`~glm_core.scoring.SiteModel`.

Conventions: positions are 0-based; probability columns are A, C, G, T; token ids are GPN's
(``[PAD] [MASK] [UNK] a c g t``, :func:`glm_core.models.build_tokenizer`), and every token that
is not a base (padding, N) reads as a zero vector, as the sequence ends do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput

from .errors import InputError
from .models import GPN_VOCABULARY, resolve_device
from .scoring import Progress, average_strands

MODEL_TYPE = "glm-onepass"
_BASE_TOKEN_IDS = tuple(GPN_VOCABULARY.index(base) for base in "acgt")


class OnePassConfig(PretrainedConfig):
    """Shape of a one-pass blind-spot network.

    ``dilations`` lists one dilation per residual block of the causal stream; the receptive
    field (bases of context each side that can reach a prediction) is
    ``first_kernel_size + (kernel_size - 1) * sum(dilations)``.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = len(GPN_VOCABULARY),
        base_token_ids: tuple[int, int, int, int] = _BASE_TOKEN_IDS,
        hidden_size: int = 256,
        intermediate_size: int = 512,
        first_kernel_size: int = 9,
        kernel_size: int = 5,
        dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1, 2, 4, 8),
        head_size: int = 512,
        dropout: float = 0.1,
        layer_norm_eps: float = 1e-5,
        pad_token_id: int = GPN_VOCABULARY.index("[PAD]"),
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.base_token_ids = list(base_token_ids)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.first_kernel_size = first_kernel_size
        self.kernel_size = kernel_size
        self.dilations = list(dilations)
        self.head_size = head_size
        self.dropout = dropout
        self.layer_norm_eps = layer_norm_eps
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    @property
    def receptive_field(self) -> int:
        """Bases on each side of a position that its prediction can depend on."""
        return self.first_kernel_size + (self.kernel_size - 1) * sum(self.dilations)


class _CausalBlock(nn.Module):
    """Pre-norm residual block: a causal dilated convolution, then a position-wise MLP.

    Layer norm runs over channels at each position, so it cannot leak across positions.
    """

    def __init__(self, config: OnePassConfig, dilation: int):
        super().__init__()
        hidden = config.hidden_size
        self.left_pad = (config.kernel_size - 1) * dilation
        self.conv_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.conv = nn.Conv1d(hidden, hidden, config.kernel_size, dilation=dilation)
        self.mlp_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, config.intermediate_size), nn.GELU(), nn.Linear(config.intermediate_size, hidden)
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, L, C)
        return self.advance(h, F.pad(self.conv_norm(h).transpose(1, 2), (self.left_pad, 0)))

    def advance(self, h: torch.Tensor, conv_input: torch.Tensor) -> torch.Tensor:
        """The block's output at the L positions of ``h`` (B, L, C), given ``conv_input`` (B, C,
        left_pad + L): ``conv_norm`` of the block input over those positions and the ``left_pad``
        before them (zeros before the sequence start)."""
        h = h + self.dropout(F.gelu(self.conv(conv_input)).transpose(1, 2))
        return h + self.dropout(self.mlp(self.mlp_norm(h)))


class CausalStream(nn.Module):
    """Features at i from x_<i only: a shifted first convolution, then causal dilated blocks."""

    def __init__(self, config: OnePassConfig):
        super().__init__()
        self.first_kernel_size = config.first_kernel_size
        self.first = nn.Conv1d(4, config.hidden_size, config.first_kernel_size)
        self.blocks = nn.ModuleList(_CausalBlock(config, d) for d in config.dilations)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        """one_hot: (B, L, 4) -> (B, L, hidden); output i reads one_hot[:, i-k..i-1]."""
        x = F.pad(one_hot.transpose(1, 2), (self.first_kernel_size, 0))
        h = self.first(x)[..., :-1].transpose(1, 2)  # drop the last output: output t sees x[t-k .. t-1]
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def reference_states(self, one_hot: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """What :meth:`substituted_features` reuses of an unchanged sequence.

        one_hot: (L, 4). Returns the features (L, hidden), as :meth:`forward`, and each
        block's normalised convolution input, (left_pad + L, hidden) with the zero padding
        before the sequence start included.
        """
        x = F.pad(one_hot.T[None], (self.first_kernel_size, 0))
        h = self.first(x)[..., :-1].transpose(1, 2)
        conv_inputs = []
        for block in self.blocks:
            conv_input = F.pad(block.conv_norm(h).transpose(1, 2), (block.left_pad, 0))
            conv_inputs.append(conv_input[0].T)
            h = block.advance(h, conv_input)
        return self.norm(h)[0], conv_inputs

    def substituted_features(
        self,
        one_hot: torch.Tensor,
        conv_inputs: list[torch.Tensor],
        at: torch.Tensor,
        alt_one_hot: torch.Tensor,
        begin: int,
        end: int,
    ) -> torch.Tensor:
        """Features at positions ``[begin, end)`` of B copies of a sequence, copy b with base
        ``at[b]`` replaced by ``alt_one_hot[b]``; shape=(B, end - begin, hidden).

        A substitution at q changes every layer only at positions > q (the stream is causal and
        its first layer is shifted), so with ``begin <= min(at) + 1`` every position before
        ``begin`` keeps its reference value in every copy; each layer is computed over
        ``[begin, end)`` alone, reading the reference ``conv_inputs`` (from
        :meth:`reference_states`) for the positions its convolution looks back on. Costs
        ``end - begin`` positions a copy instead of the whole sequence, and gives the same
        features as :meth:`forward` on each substituted sequence (to float rounding).
        """
        if begin > int(at.min()) + 1:
            raise ValueError(f"begin={begin} must be at most min(at) + 1 = {int(at.min()) + 1}")
        k = self.first_kernel_size
        copies = len(at)
        padded = F.pad(one_hot, (0, 0, k, 0))  # padded[u + k] is base u
        window = padded[begin : end - 1 + k].expand(copies, -1, -1).clone()  # bases begin-k .. end-2
        local = at - begin + k
        inside = (local >= 0) & (local < window.shape[1])
        window[torch.arange(copies, device=at.device)[inside], local[inside]] = alt_one_hot[inside].to(window.dtype)
        h = self.first(window.transpose(1, 2)).transpose(1, 2)  # outputs at begin .. end-1
        for block, reference in zip(self.blocks, conv_inputs):
            context = reference[begin : begin + block.left_pad].T.expand(copies, -1, -1)
            conv_input = torch.cat([context, block.conv_norm(h).transpose(1, 2)], dim=2)
            h = block.advance(h, conv_input)
        return self.norm(h)


class OnePassPreTrainedModel(PreTrainedModel):
    config_class = OnePassConfig
    base_model_prefix = "onepass"
    main_input_name = "input_ids"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class OnePassForSiteProbabilities(OnePassPreTrainedModel):
    """Blind-spot network; ``forward(input_ids).logits`` are fwd/RC-averaged log P over A,C,G,T, (B, L, 4)."""

    def __init__(self, config: OnePassConfig):
        super().__init__(config)
        self.stream = CausalStream(config)
        hidden = config.hidden_size
        self.head = nn.Sequential(
            nn.Linear(2 * hidden, config.head_size),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_size, config.head_size),
            nn.GELU(),
            nn.Linear(config.head_size, 4),
        )
        self.post_init()

    def one_hot(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, L) -> (B, L, 4) in the weights' dtype; non-bases are zero vectors."""
        # Built per call rather than kept as a buffer: from_pretrained leaves non-persistent buffers unset.
        weight = self.stream.first.weight
        lookup = torch.zeros(self.config.vocab_size, 4, dtype=weight.dtype, device=weight.device)
        lookup[list(self.config.base_token_ids), torch.arange(4, device=weight.device)] = 1.0
        return lookup[input_ids]

    def left_features(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Features of x_<i at each i, (B, L, hidden)."""
        return self.stream(self.one_hot(input_ids))

    def right_features(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Features of x_>i at each i, (B, L, hidden): the stream read on the reverse complement."""
        # Reversing the A,C,G,T channels complements them.
        return self.stream(self.one_hot(input_ids).flip(1).flip(2)).flip(1)

    def fuse(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Strand-averaged log P over A,C,G,T, (B, L, 4), float32."""
        forward = torch.log_softmax(self.head(torch.cat([left, right], -1)).float(), -1)
        # (right, left) is what the reverse-complement pass sees at the mirrored position.
        reverse = torch.log_softmax(self.head(torch.cat([right, left], -1)).float(), -1)
        return average_strands(forward, reverse, log=True)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **kwargs) -> MaskedLMOutput:
        """``labels``: (B, L) base index 0..3, -100 where unscored; the loss is their cross-entropy."""
        one_hot = self.one_hot(input_ids)
        both = self.stream(torch.cat([one_hot, one_hot.flip(1).flip(2)]))
        left, right = both[: len(input_ids)], both[len(input_ids) :].flip(1)
        log_probs = self.fuse(left, right)
        loss = None
        if labels is not None:
            loss = F.nll_loss(log_probs.reshape(-1, 4), labels.reshape(-1), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=log_probs)


def register_auto_classes() -> None:
    """Make ``AutoConfig`` / ``AutoModel`` know ``glm-onepass`` (idempotent)."""
    try:
        AutoConfig.register(MODEL_TYPE, OnePassConfig)
    except ValueError:  # already registered
        pass
    try:
        AutoModel.register(OnePassConfig, OnePassForSiteProbabilities)
    except ValueError:
        pass


register_auto_classes()


def default_chunk_length(device: torch.device) -> int:
    """Positions a chunk scores: long on a GPU (few launches), short on a CPU (little memory)."""
    return 16_384 if device.type == "cuda" else 4_096


@dataclass
class OnePassSiteModel:
    """A loaded one-pass model as a :class:`~glm_core.scoring.SiteModel`.

    Long sequences are scored in chunks of ``chunk_length`` positions; each chunk's streams
    read ``receptive_field`` extra bases on the side they look at, so chunking cannot change
    a result (beyond float rounding).
    """

    model: OnePassForSiteProbabilities
    name: str
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    chunk_length: int | None = None
    kind: str = "one-pass"

    def __post_init__(self):
        self.byte_to_id = np.full(256, GPN_VOCABULARY.index("[UNK]"), dtype=np.int64)
        for base, token in zip("ACGT", self.model.config.base_token_ids):
            self.byte_to_id[ord(base)] = self.byte_to_id[ord(base.lower())] = token
        self.pad_id = int(self.model.config.pad_token_id)
        if self.chunk_length is None:
            self.chunk_length = default_chunk_length(self.device)

    @property
    def context_flank(self) -> int:
        return self.model.config.receptive_field

    def encode(self, sequence: str) -> np.ndarray:
        """DNA text -> token ids, shape=(len(sequence),), int64."""
        return self.byte_to_id[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]

    def sequence_site_probabilities(
        self,
        sequence: str,
        positions: np.ndarray | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """P(x_i | x_-i) over A,C,G,T at 0-based ``positions`` of ``sequence`` (all when None).

        ``batch_size`` is chunks per forward pass. Returns shape=(len(positions), 4), float32,
        rows summing to 1, fwd/RC averaged.
        """
        positions = np.arange(len(sequence)) if positions is None else np.asarray(positions, dtype=np.int64)
        if len(positions) == 0:
            return np.zeros((0, 4), dtype=np.float32)
        if positions.min() < 0 or positions.max() >= len(sequence):
            raise InputError(
                f"positions must lie in 0..{len(sequence) - 1} of the sequence; "
                f"got {positions.min()}..{positions.max()}"
            )
        first, last = int(positions.min()), int(positions.max()) + 1
        length = min(self.chunk_length, last - first)
        chunk_of = (positions - first) // length
        by_chunk = np.argsort(chunk_of, kind="stable")
        chunks, chunk_begins = np.unique(chunk_of[by_chunk], return_index=True)
        chunk_ends = np.append(chunk_begins[1:], len(positions))
        flank = self.context_flank
        ids = np.full(len(sequence) + 2 * flank + length, self.pad_id, dtype=np.int64)
        ids[flank : flank + len(sequence)] = self.encode(sequence)
        batch_size = batch_size or (64 if self.device.type == "cuda" else 4)
        out = np.empty((len(positions), 4), dtype=np.float32)
        done = 0
        for begin in range(0, len(chunks), batch_size):
            batch = slice(begin, begin + batch_size)
            starts = first + chunks[batch] * length  # sequence coordinate of each chunk's first scored position
            # ids[flank + p] is sequence position p; a chunk's window spans [start - flank, start + length + flank).
            windows = np.stack([ids[s : s + length + 2 * flank] for s in starts])
            table = self._chunk_probabilities(torch.from_numpy(windows).to(self.device), length, flank)
            for row, (lo, hi) in enumerate(zip(chunk_begins[batch], chunk_ends[batch])):
                members = by_chunk[lo:hi]
                out[members] = table[row, positions[members] - starts[row]]
                done += len(members)
            if progress is not None:
                progress(done, len(positions))
        return out

    @property
    def substitution_batch_size(self) -> int:
        """Substituted copies scored together by :meth:`substitution_site_probabilities`."""
        return 256 if self.device.type == "cuda" else 48

    def substitution_site_probabilities(
        self,
        sequence: str,
        substitutions: np.ndarray,
        positions: np.ndarray,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """P over A,C,G,T at ``positions`` of ``sequence`` with each single-base substitution applied alone.

        Parameters
        ----------
        substitutions : shape=(n, 2), int: 0-based position in ``sequence`` and the new base's
            code (0..3 = A, C, G, T, plus strand).
        positions : 0-based positions in ``sequence`` to predict in every substituted copy.
        batch_size : copies per forward pass (default :attr:`substitution_batch_size`).
        progress : called as ``progress(substitutions_done, n)``.

        Returns shape=(n, len(positions), 4), float32, fwd/RC averaged: row k equals
        ``sequence_site_probabilities`` of the sequence with substitution k applied (to float
        rounding). The reference streams are computed once; each copy recomputes only the
        positions its substitution reaches (:meth:`CausalStream.substituted_features`), so a
        copy costs the distance from its substitution to the farthest position asked for
        (at most the receptive field), not a whole window.
        """
        substitutions = np.asarray(substitutions, dtype=np.int64).reshape(-1, 2)
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(substitutions), len(positions), 4), dtype=np.float32)
        if len(substitutions) == 0 or len(positions) == 0:
            return out
        at, codes = substitutions[:, 0], substitutions[:, 1]
        for name, values in (("positions", positions), ("substitution positions", at)):
            if values.min() < 0 or values.max() >= len(sequence):
                raise InputError(
                    f"{name} must lie in 0..{len(sequence) - 1} of the sequence; got {values.min()}..{values.max()}"
                )
        if codes.min() < 0 or codes.max() > 3:
            raise InputError(f"substituted bases are codes 0..3 (A, C, G, T); got {codes.min()}..{codes.max()}")
        # Only bases within the receptive field of a substitution or a predicted position matter.
        reach = self.context_flank
        lo = max(0, int(min(positions.min(), at.min())) - reach)
        hi = min(len(sequence), int(max(positions.max(), at.max())) + reach + 1)
        length = hi - lo
        positions, at = positions - lo, at - lo
        net, stream = self.model, self.model.stream
        batch_size = batch_size or self.substitution_batch_size
        order = np.argsort(at, kind="stable")
        use_bf16 = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            one_hot = net.one_hot(torch.from_numpy(self.encode(sequence[lo:hi])).to(self.device))
            alternatives = torch.eye(4, dtype=one_hot.dtype, device=self.device)
            # The right stream is the stream read on the reverse complement, in its own coordinates.
            # Per strand: its one-hot, the reference features at the targets, the reference
            # convolution inputs, the targets in its coordinates, and whether it is flipped.
            strands = []
            for strand_one_hot, flip in ((one_hot, False), (one_hot.flip(0).flip(1), True)):
                features, conv_inputs = stream.reference_states(strand_one_hot)
                targets = length - 1 - positions if flip else positions
                reference = features[torch.from_numpy(targets).to(self.device)]
                strands.append((strand_one_hot, reference, conv_inputs, targets, flip))
            for begin in range(0, len(order), batch_size):
                members = order[begin : begin + batch_size]
                sides = []
                for strand_one_hot, reference, conv_inputs, targets, flip in strands:
                    where = length - 1 - at[members] if flip else at[members]
                    alt = alternatives[torch.from_numpy(3 - codes[members] if flip else codes[members])]
                    side = reference.expand(len(members), -1, -1).clone()
                    first, last = (
                        int(where.min()) + 1,
                        min(length, int(where.max()) + reach + 1, int(targets.max()) + 1),
                    )
                    if first < last:
                        changed = stream.substituted_features(
                            strand_one_hot, conv_inputs, torch.from_numpy(where).to(self.device), alt, first, last
                        )
                        inside = np.flatnonzero((targets >= first) & (targets < last))
                        side[:, torch.from_numpy(inside).to(self.device)] = changed[
                            :, torch.from_numpy(targets[inside] - first).to(self.device)
                        ].to(side.dtype)
                    sides.append(side)
                out[members] = net.fuse(*sides).exp().float().cpu().numpy()
                if progress is not None:
                    progress(min(begin + batch_size, len(order)), len(order))
        return out

    def _chunk_probabilities(self, windows: torch.Tensor, length: int, flank: int) -> np.ndarray:
        """windows (B, length + 2 flank) -> probabilities (B, length, 4) of the central positions."""
        net = self.model
        use_bf16 = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            left = net.left_features(windows[:, : length + flank])[:, flank:]
            right = net.right_features(windows[:, flank:])[:, :length]
            probabilities = net.fuse(left, right).exp()
        return probabilities.float().cpu().numpy()


def load_onepass_model(path: str | Path, device: str | torch.device | None = None) -> OnePassSiteModel:
    """Load a one-pass site model from a local ``save_pretrained`` folder (safetensors only).

    Raises :class:`~glm_core.errors.InputError` when the folder is not a one-pass model
    (no config.json, another ``model_type``, remote code) or has no safetensors weights.
    """
    folder = Path(path)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError(f"{folder} is not a model folder: it has no config.json (save_pretrained writes one)")
    config = json.loads(config_path.read_text())
    if config.get("model_type") != MODEL_TYPE:
        raise InputError(
            f"{folder} holds a {config.get('model_type')!r} model, not a one-pass site model ({MODEL_TYPE!r}); "
            "load masked LMs with glm_core.models.load_masked_lm"
        )
    if config.get("auto_map"):
        raise InputError(f"{folder} asks for its own Python code (auto_map in config.json); one-pass models need none")
    if not (folder / "model.safetensors").is_file():
        raise InputError(
            f"{folder} has no model.safetensors; only safetensors weights are loaded (never pickles): "
            "save with model.save_pretrained(folder, safe_serialization=True)"
        )
    register_auto_classes()
    device = resolve_device(device)
    model = AutoModel.from_pretrained(folder, use_safetensors=True, trust_remote_code=False)
    # fp16 storage keeps the shipped folder small; compute in fp32 (bf16 autocast on CUDA).
    model = model.float().to(device).eval()
    return OnePassSiteModel(model=model, name=folder.name, path=folder, device=device)
