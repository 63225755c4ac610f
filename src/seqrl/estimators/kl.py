"""Per-token estimators of KL(policy || reference) from tokens sampled by the policy
(Schulman's k1 and k3), as pure functions of (N, T) log-probabilities.

With r = p_ref(y_t) / p(y_t) at a sampled token: k1 = -log r (unbiased, can be negative; used as
a per-token reward penalty), k3 = r - 1 - log r (unbiased, always >= 0, lower variance; used as
a differentiable loss term, as in GRPO). Both have expectation KL(p || p_ref) per token.
"""
from __future__ import annotations

import torch
from torch import Tensor

ESTIMATORS = ("k1", "k3")


def kl_estimate(logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor, estimator: str) -> Tensor:
    """(N, T) per-token KL estimates, 0 where masked; differentiable through `logprobs`."""
    log_ratio = ref_logprobs - logprobs  # log r
    if estimator == "k1":
        value = -log_ratio
    elif estimator == "k3":
        value = torch.exp(log_ratio) - 1.0 - log_ratio
    else:
        raise ValueError(f"KL estimator must be one of {ESTIMATORS}, got {estimator!r}")
    return torch.where(mask, value, torch.zeros_like(value))
