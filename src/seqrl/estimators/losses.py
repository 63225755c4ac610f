"""Losses as pure functions of (N, T) tensors with boolean masks."""
from __future__ import annotations

import torch
from torch import Tensor

NORMALIZATIONS = ("sequence", "token")


def _masked_sum(x: Tensor, mask: Tensor) -> Tensor:
    return torch.where(mask, x, torch.zeros_like(x)).sum()


def reinforce_loss(
    logprobs: Tensor, advantages: Tensor, mask: Tensor, num_sequences: float, normalization: str = "sequence",
    num_tokens: float | None = None,
) -> Tensor:
    """Surrogate -sum_t A_t log p(y_t) whose gradient is the REINFORCE estimate.

    logprobs (N, T) with grad; advantages (N, T) (detached here); mask (N, T) selects the tokens
    trained by REINFORCE. "sequence": summed over tokens, averaged over `num_sequences` (the texts'
    estimator); "token": averaged over `num_tokens` (default: the selected tokens; data-parallel
    training passes the counts of the whole batch).
    """
    total = _masked_sum(-advantages.detach() * logprobs, mask)
    if normalization == "sequence":
        return total / max(num_sequences, 1)
    if normalization == "token":
        return total / (max(num_tokens, 1.0) if num_tokens is not None else mask.sum().clamp(min=1))
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def _count(mask: Tensor, count: float | None) -> Tensor | float:
    return max(count, 1.0) if count is not None else mask.sum().clamp(min=1)


def token_xent(logprobs: Tensor, mask: Tensor, count: float | None = None) -> Tensor:
    """Mean negative log-likelihood over the masked tokens (teacher forcing); `count` replaces the
    number of masked tokens as the denominator (the whole batch's, in data-parallel training)."""
    return -_masked_sum(logprobs, mask) / _count(mask, count)


def mean_entropy(entropy: Tensor, mask: Tensor, count: float | None = None) -> Tensor:
    """Mean per-token entropy over masked tokens; subtract coef * this from the loss as a bonus."""
    return _masked_sum(entropy, mask) / _count(mask, count)


def value_loss(predicted: Tensor, target: Tensor, mask: Tensor, count: float | None = None) -> Tensor:
    """Mean squared error of the learned baseline over masked tokens; target is detached."""
    return _masked_sum((predicted - target.detach()) ** 2, mask) / _count(mask, count)
