"""Advantages A_t = G_t - b for every baseline, as one pure function."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from seqrl.estimators import baselines as B


def compute_advantages(
    kind: str,
    returns: Tensor,
    mask: Tensor,
    valid: Tensor,
    k: int,
    *,
    ema: float = 0.0,
    greedy_returns: Optional[Tensor] = None,
    predicted: Optional[Tensor] = None,
    use_std: bool = True,
    eps: float = 1e-4,
) -> tuple[Tensor, Tensor]:
    """Advantages (N, T) and the baseline (N, T) subtracted, 0 outside `mask` and invalid rows.

    returns (N, T): return-to-go G_t (a sequence reward R gives G_t = R at every t when gamma = 1).
    Sequence-level baselines (ema, self_critical, rloo, grpo) are computed from G_0, the whole
    sequence's return, and subtracted at every step; `value` predicts G_t per step.
    """
    g0 = returns[:, 0]  # (N,)
    scale = torch.ones_like(g0)
    if kind == "none":
        base = torch.zeros_like(g0)
    elif kind == "ema":
        base = torch.full_like(g0, float(ema))
    elif kind == "self_critical":
        if greedy_returns is None:
            raise ValueError("self_critical baseline needs greedy_returns")
        base = B.self_critical(greedy_returns, k)
    elif kind == "rloo":
        base = B.leave_one_out(g0, valid, k)
    elif kind == "grpo":
        base = B.group_mean(g0, valid, k)
        if use_std:
            scale = B.group_std(g0, valid, k) + eps
    elif kind == "value":
        if predicted is None:
            raise ValueError("value baseline needs predicted values")
        baseline = predicted.detach()
    else:
        raise ValueError(f"unknown baseline {kind!r}; choose from {sorted(B.BASELINES)}")
    if kind != "value":
        baseline = base.unsqueeze(1).expand_as(returns)
    adv = (returns - baseline) / scale.unsqueeze(1)
    keep = mask & valid.unsqueeze(1)
    zero = torch.zeros_like(adv)
    return torch.where(keep, adv, zero), torch.where(keep, baseline, zero)


def standardize(adv: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Advantages (N, T) shifted and scaled to mean 0, std 1 over the masked entries (the classic
    agents' per-batch normalisation); 0 outside `mask`."""
    count = mask.sum().clamp(min=1)
    mean = torch.where(mask, adv, torch.zeros_like(adv)).sum() / count
    var = torch.where(mask, (adv - mean) ** 2, torch.zeros_like(adv)).sum() / count
    return torch.where(mask, (adv - mean) / (var.sqrt() + eps), torch.zeros_like(adv))
