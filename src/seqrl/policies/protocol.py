"""What a sequence policy is, and what a network must implement to become one.

A network implements `StepModel` (encode once, then advance one token or a whole
teacher-forced sequence); `seqrl.policies.base.AutoregressivePolicy` turns any
StepModel into a `Policy` with batched sampling, greedy decoding and scoring.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Protocol, runtime_checkable

import torch
from torch import Tensor

from seqrl.rollout import Batch, Rollout

# Decoding state: every tensor batch-first, so rows can be repeated or selected generically.
State = dict[str, Tensor]


class Scored(NamedTuple):
    """Teacher-forced scores of given tokens, with gradients.

    logprobs: (N, T) log p(token_t | prefix) under the tempered distribution, 0 where masked
    entropy:  (N, T) entropy of the tempered next-token distribution, 0 where masked
    features: (N, T, H) decoder state that produced each token (input to learned baselines)
    """

    logprobs: Tensor
    entropy: Tensor
    features: Tensor


@runtime_checkable
class StepModel(Protocol):
    """The network side of a policy.

    The first decoding step receives BOS as the previous token. Optional members: `specials`
    (`seqrl.vocab.Specials`, for networks with their own PAD/BOS/EOS ids),
    `start(state) -> (N,)` (a per-row first input, e.g. a causal LM's last prompt token) and
    `static_state: frozenset[str]` (names of state tensors that `encode` sets and `step` passes
    through unchanged, such as encoder memory: equal on every beam of an input, so beam search
    need not reorder them).
    """

    vocab_size: int
    feature_dim: int

    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        """(B, S) source -> state ready to predict the first target token."""
        ...

    def step(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor, State]:
        """prev (N,) -> logits (N, V), features (N, H), next state."""
        ...

    def teacher(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor]:
        """prev (N, T) = [BOS, y_1 .. y_{T-1}] -> logits (N, T, V), features (N, T, H)."""
        ...


@runtime_checkable
class Policy(Protocol):
    """A stochastic sequence generator: what the estimators and trainer need."""

    def sample(
        self,
        inputs: Batch,
        k: int,
        max_len: int,
        temperature: float = 1.0,
        generator: Optional[torch.Generator] = None,
        forced: Optional[Tensor] = None,
        forced_len: Optional[Tensor] = None,
    ) -> Rollout:
        ...

    def greedy(self, inputs: Batch, max_len: int, forced: Optional[Tensor] = None,
               forced_len: Optional[Tensor] = None) -> Rollout:
        ...

    def score(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0) -> Scored:
        ...

    def log_prob(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        ...
