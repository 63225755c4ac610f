"""Returns as pure functions of per-token rewards: reward-to-go with discount."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def terminal_rewards(rewards: Tensor, mask: Tensor) -> Tensor:
    """Place each sequence reward (N,) on the row's last unmasked token -> (N, T)."""
    last = (mask.long().cumsum(dim=1) == mask.sum(dim=1, keepdim=True)) & mask  # (N, T)
    return torch.where(last, rewards.unsqueeze(1).to(torch.float32), torch.zeros(mask.shape, device=mask.device))


def reward_to_go(token_rewards: Tensor, mask: Tensor, gamma: float = 1.0, cut: Optional[Tensor] = None) -> Tensor:
    """G_t = sum_{u >= t} gamma^(u - t) r_u over unmasked tokens; (N, T) -> (N, T), 0 where masked.

    cut (N, T) bool: the return stops after step t where cut[t] (G_t = r_t, what follows belongs to
    another game): the classic Pong agent restarts its return at every point scored."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    r = torch.where(mask, token_rewards, torch.zeros_like(token_rewards))
    out = torch.zeros_like(r)
    running = torch.zeros_like(r[:, 0])
    for t in range(r.shape[1] - 1, -1, -1):
        carried = gamma * running
        if cut is not None:
            carried = torch.where(cut[:, t], torch.zeros_like(carried), carried)
        running = r[:, t] + carried
        out[:, t] = running
    return torch.where(mask, out, torch.zeros_like(out))


def discount_weights(mask: Tensor, gamma: float) -> Tensor:
    """gamma^t at step t of each row (N, T), 0 where masked. Weighting each step's score-function
    term by it turns the usual estimator (reward-to-go alone: the gradient of the undiscounted
    visitation) into an unbiased estimator of the gradient of the discounted objective
    E[sum_t gamma^t r_t]."""
    t = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32)
    w = (gamma ** t).unsqueeze(0).expand(mask.shape)
    return torch.where(mask, w, torch.zeros_like(w))
