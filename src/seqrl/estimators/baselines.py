"""Baselines as pure functions of rewards. Each returns a per-sequence baseline (N,).

Rows are grouped by input: row i belongs to input i // k. `valid` (N,) is False for samples whose
reward is "not applicable" (None) or was skipped; they never enter another sample's baseline.

Unbiasedness: a baseline keeps the REINFORCE gradient unbiased when it does not depend on the
sample it is subtracted from: a constant, an average of *earlier* batches (EMA), the reward of
the greedy decode (self-critical), the mean of the *other* k-1 samples (leave-one-out), or a
function of the decoding state before the token is drawn (the learned per-step regressor).
Group normalisation subtracts a mean that *includes* the sample, which scales the expected
gradient by (k-1)/k, and divides by the group's std, which changes the objective (see README).
"""
from __future__ import annotations

import torch
from torch import Tensor

BASELINES = {
    "none": "no baseline: the raw return weights the log-likelihood",
    "ema": "exponential moving average of the mean reward of earlier batches",
    "value": "learned per-step linear regressor on the decoder state (MIXER), squared error, stop-gradient",
    "self_critical": "reward of the policy's own greedy decode of the same input (SCST)",
    "rloo": "leave-one-out: mean reward of the other k-1 samples of the same input (RLOO)",
    "grpo": "group-normalised: (r - group mean) / group std, std optional (GRPO-style)",
}


def _grouped(values: Tensor, valid: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(N,) values and mask -> (B, k) values with invalid entries zeroed, and (B, k) float mask."""
    if values.shape[0] % k:
        raise ValueError(f"{values.shape[0]} rows are not a multiple of k={k}")
    v = torch.where(valid, values, torch.zeros_like(values)).view(-1, k)
    return v, valid.view(-1, k).to(values.dtype)


def leave_one_out(values: Tensor, valid: Tensor, k: int) -> Tensor:
    """Mean of the other valid samples of the same input; 0 where a sample has no valid peer."""
    v, m = _grouped(values, valid, k)
    others = m.sum(dim=1, keepdim=True) - m  # (B, k)
    loo = (v.sum(dim=1, keepdim=True) - v) / others.clamp(min=1)
    return torch.where(others > 0, loo, torch.zeros_like(loo)).view(-1)


def group_mean(values: Tensor, valid: Tensor, k: int) -> Tensor:
    """Mean over the valid samples of each input, the sample itself included, broadcast to (N,)."""
    v, m = _grouped(values, valid, k)
    mean = v.sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True).clamp(min=1)
    return mean.expand_as(v).reshape(-1)


def group_std(values: Tensor, valid: Tensor, k: int) -> Tensor:
    """Population std over the valid samples of each input, broadcast to (N,)."""
    v, m = _grouped(values, valid, k)
    count = m.sum(dim=1, keepdim=True).clamp(min=1)
    mean = v.sum(dim=1, keepdim=True) / count
    var = (torch.where(m > 0, v - mean, torch.zeros_like(v)) ** 2).sum(dim=1, keepdim=True) / count
    return var.sqrt().expand_as(v).reshape(-1)


def self_critical(greedy_values: Tensor, k: int) -> Tensor:
    """Greedy decode's reward (B,) as the baseline of each of its k samples -> (N,)."""
    return greedy_values.repeat_interleave(k)


def ema_update(current: float, batch_mean: float, decay: float, initialised: bool) -> float:
    """Next EMA value; the first observed batch initialises it."""
    if not initialised:
        return batch_mean
    return decay * current + (1.0 - decay) * batch_mean
