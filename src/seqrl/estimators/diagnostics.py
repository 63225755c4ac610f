"""How noisy is a gradient estimator? Statistics of M estimates g_1..g_M of the same gradient
(same parameters, same inputs, fresh samples), from their Gram matrix so that no (M, P) copy in
float64 is ever made:

- total_variance: tr Cov[g], the unbiased sample variance summed over parameters
  = (sum_i |g_i|^2 - M |g_bar|^2) / (M - 1);
- snr: |g_bar| / sqrt(total_variance), the norm of the mean against the spread of one estimate
  (how many single-estimate standard deviations the signal is long);
- cosine: the mean over i of cos(g_i, g_bar), how well one estimate points where the mean does;
- mean_norm: |g_bar|.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

CHUNK = 1 << 20  # parameters per float64 block of the Gram matrix


def flat_grad(loss: Tensor, params: Sequence[Tensor], retain_graph: bool = False) -> Tensor:
    """d loss / d params as one flat float32 vector on the CPU (zeros where a parameter is unused)."""
    grads = torch.autograd.grad(loss, list(params), retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).detach().float().flatten().cpu()
                      for g, p in zip(grads, params)])


def gram(estimates: Sequence[Tensor]) -> Tensor:
    """(M, M) float64 inner products of M flat estimates."""
    g = torch.stack(list(estimates))  # (M, P)
    out = torch.zeros(g.shape[0], g.shape[0], dtype=torch.float64)
    for lo in range(0, g.shape[1], CHUNK):
        block = g[:, lo : lo + CHUNK].double()
        out += block @ block.T
    return out


def gradient_spread(estimates: Sequence[Tensor]) -> dict[str, float]:
    """total_variance, snr, cosine and mean_norm of M >= 2 flat gradient estimates."""
    m = len(estimates)
    if m < 2:
        raise ValueError(f"gradient_spread needs at least 2 estimates, got {m}")
    k = gram(estimates)
    sq_norms = k.diagonal()  # |g_i|^2
    mean_sq = float(k.sum()) / m ** 2  # |g_bar|^2
    total_variance = max((float(sq_norms.sum()) - m * mean_sq) / (m - 1), 0.0)
    mean_norm = math.sqrt(max(mean_sq, 0.0))
    dots = k.sum(dim=1) / m  # g_i . g_bar
    denom = sq_norms.sqrt() * mean_norm
    cos = torch.where(denom > 0, dots / denom.clamp_min(1e-300), torch.zeros_like(dots))
    return {"total_variance": total_variance,
            "snr": mean_norm / math.sqrt(total_variance) if total_variance > 0 else math.inf,
            "cosine": float(cos.mean()), "mean_norm": mean_norm, "estimates": m}
