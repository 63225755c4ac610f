"""DiCE, the "infinitely differentiable Monte-Carlo estimator" (Foerster et al. 2018), as pure
functions: the magic box and the objective whose derivatives of every order are unbiased
estimates of the derivatives of an expected cost."""
from __future__ import annotations

import torch
from torch import Tensor


def magic_box(x: Tensor) -> Tensor:
    """exp(x - stop_gradient(x)): evaluates to 1, and d/dθ magic_box(x) = magic_box(x) dx/dθ."""
    return torch.exp(x - x.detach())


def dice_objective(costs: list[Tensor], dependencies: list[Tensor], logps: list[Tensor],
                   baselines: list[Tensor]) -> Tensor:
    """sum_c magic_box(S_c) c + sum_w (1 - magic_box(log p_w)) b_w, elementwise, then the mean.

    costs[i] and dependencies[i] (S_c: the summed log-probabilities of the score-function nodes
    cost i depends on) share a shape; logps[j] and baselines[j] (b_w, detached) share one. The
    value is the mean cost; the gradient of any order is the score-function estimate of it, each
    node weighted only by the costs that depend on it, minus its baseline (Mao et al. 2019).
    """
    total = sum(((magic_box(s) * c).mean() for s, c in zip(dependencies, costs)), torch.zeros(()))
    for logp, b in zip(logps, baselines):
        total = total + ((1.0 - magic_box(logp)) * b.detach()).mean()
    return total
