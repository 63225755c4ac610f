"""DiCE, the "infinitely differentiable Monte-Carlo estimator" (Foerster et al. 2018), as pure
functions: the magic box and the objective whose derivatives of every order are unbiased
estimates of the derivatives of an expected cost."""
from __future__ import annotations

import torch
from torch import Tensor


def magic_box(x: Tensor) -> Tensor:
    """exp(x - stop_gradient(x)): evaluates to 1, and d/dθ magic_box(x) = magic_box(x) dx/dθ."""
    return torch.exp(x - x.detach())


def dice_objective(costs: Tensor, dependencies: Tensor, logps: Tensor, baselines: Tensor) -> Tensor:
    """sum_c mean(magic_box(S_c) c) + sum_w mean((1 - magic_box(log p_w)) b_w).

    costs and dependencies: (C, *S), cost c and S_c, the summed log-probabilities of the
    score-function nodes it depends on; logps and baselines: (W, *S), node w's log-probability
    and its baseline b_w (detached; W may be 0). The value is the summed mean cost; the gradient
    of any order is the score-function estimate of it, each node weighted only by the costs that
    depend on it, minus its baseline (Mao et al. 2019).
    """
    total = (magic_box(dependencies) * costs).flatten(1).mean(dim=1).sum()
    if logps.shape[0]:
        total = total + ((1.0 - magic_box(logps)) * baselines.detach()).flatten(1).mean(dim=1).sum()
    return total
