"""AutoregressivePolicy: any StepModel network becomes a Policy."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from seqrl.policies import decoding
from seqrl.policies.beam import beam_search
from seqrl.policies.protocol import Scored, StepModel
from seqrl.rollout import Batch, Rollout


class AutoregressivePolicy(nn.Module):
    """Wraps a StepModel network with batched sampling, greedy decoding and scoring."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        if not isinstance(network, StepModel):
            raise TypeError(f"{type(network).__name__} does not implement StepModel")
        self.network = network

    @property
    def vocab_size(self) -> int:
        return self.network.vocab_size

    @property
    def feature_dim(self) -> int:
        return self.network.feature_dim

    @torch.no_grad()
    def sample(
        self,
        inputs: Batch,
        k: int,
        max_len: int,
        temperature: float = 1.0,
        generator: Optional[torch.Generator] = None,
        forced: Optional[Tensor] = None,
        forced_len: Optional[Tensor] = None,
        rows: Optional[tuple[int, int]] = None,
    ) -> Rollout:
        """k samples per input; forced/forced_len are per input (B, F)/(B,) and repeated k times.
        rows=(offset, total): these B*k rows are a data-parallel shard of `total` rows."""
        rollout, _ = self._sample(inputs, k, max_len, temperature, generator, forced, forced_len, rows, False, False)
        return rollout

    def sample_scored(
        self,
        inputs: Batch,
        k: int,
        max_len: int,
        temperature: float = 1.0,
        generator: Optional[torch.Generator] = None,
        forced: Optional[Tensor] = None,
        forced_len: Optional[Tensor] = None,
        entropy_grad: bool = True,
    ) -> tuple[Rollout, Scored]:
        """`sample`, and the samples' Scored from the same pass, with gradients (no second,
        teacher-forced pass). Row for row the draws equal `sample`'s."""
        rollout, scored = self._sample(inputs, k, max_len, temperature, generator, forced, forced_len, None, True,
                                       entropy_grad)
        assert scored is not None
        return rollout, scored

    def _sample(self, inputs: Batch, k: int, max_len: int, temperature: float, generator: Optional[torch.Generator],
                forced: Optional[Tensor], forced_len: Optional[Tensor], rows: Optional[tuple[int, int]],
                track: bool, entropy_grad: bool) -> tuple[Rollout, Optional[Scored]]:
        state = self.network.encode(inputs.src, inputs.src_mask)
        if forced is not None and forced_len is not None:
            forced = forced.repeat_interleave(k, dim=0)
            forced_len = forced_len.repeat_interleave(k, dim=0)
        return decoding.decode_scored(self.network, state, k, max_len, temperature, False, generator, forced,
                                      forced_len, rows, track, entropy_grad)

    @torch.no_grad()
    def greedy(self, inputs: Batch, max_len: int, forced: Optional[Tensor] = None,
               forced_len: Optional[Tensor] = None) -> Rollout:
        """Argmax decoding, optionally continuing a forced prefix (B, F) / (B,)."""
        state = self.network.encode(inputs.src, inputs.src_mask)
        return decoding.decode(self.network, state, 1, max_len, greedy=True, forced=forced, forced_len=forced_len)

    @torch.no_grad()
    def beam(self, inputs: Batch, max_len: int, width: int, length_penalty: float = 1.0,
             return_all: bool = False) -> Rollout:
        """Best hypothesis per input by beam search (GNMT length penalty alpha; see policies.beam);
        return_all: all `width` finished hypotheses per input, best first (k = width)."""
        state = self.network.encode(inputs.src, inputs.src_mask)
        return beam_search(self.network, state, width, max_len, length_penalty, return_all)

    def score(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0,
              entropy_grad: bool = True) -> Scored:
        """Teacher-forced scores of tokens (B*k, T) for inputs (B, S); k = rows per input.
        entropy_grad=False: the entropy is for logging only and carries no graph."""
        k = tokens.shape[0] // inputs.size
        state = decoding.repeat_state(self.network.encode(inputs.src, inputs.src_mask), k)
        return decoding.score(self.network, state, tokens, mask, temperature, entropy_grad)

    def forward(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0,
                entropy_grad: bool = True) -> Scored:
        """= score(); the call DistributedDataParallel wraps."""
        return self.score(inputs, tokens, mask, temperature, entropy_grad)

    def log_prob(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        """(B*k, T) teacher-forced log-probabilities of tokens, 0 where masked."""
        return self.score(inputs, tokens, mask, temperature).logprobs
