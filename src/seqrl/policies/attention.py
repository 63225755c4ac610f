"""Pre-LayerNorm transformer blocks (nanoGPT style) with keys/values exposed for caching.

Attention takes its keys and values as arguments instead of computing them from its input, so a
caller can cache self-attention keys/values across decoding steps and precompute cross-attention
keys/values of an encoder memory once. Masks are boolean, True where a query may attend.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KV = tuple[Tensor, Tensor]  # keys, values: (N, heads, L, head_dim) each


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with separately computed keys and values."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        self.heads = heads
        self.head_dim = d_model // heads
        self.dropout = dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def _split(self, x: Tensor) -> Tensor:
        """(N, T, D) -> (N, heads, T, head_dim)."""
        n, t, _ = x.shape
        return x.view(n, t, self.heads, self.head_dim).transpose(1, 2)

    def keys_values(self, x: Tensor) -> KV:
        """(N, L, D) -> keys, values (N, heads, L, head_dim)."""
        k, v = self.key_value(x).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        """x (N, T, D) attends over k, v (N, heads, L, head_dim); mask broadcasts to (N, 1, T, L)."""
        q = self._split(self.query(x))  # (N, heads, T, head_dim)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (N, heads, T, hd)
        n, _, t, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(n, t, -1))  # (N, T, D)


class Block(nn.Module):
    """Pre-LN block: self-attention (+ optional cross-attention) and a GELU MLP, all residual."""

    def __init__(self, d_model: int, heads: int, ff_dim: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.ln_self = nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, heads, dropout)
        self.ln_cross: Optional[nn.LayerNorm] = nn.LayerNorm(d_model) if cross else None
        self.cross_attn: Optional[Attention] = Attention(d_model, heads, dropout) if cross else None
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_dim), nn.GELU(), nn.Linear(ff_dim, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        past: Optional[KV] = None,
        cross: Optional[KV] = None,
        cross_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, KV]:
        """x (N, T, D); mask (N, 1, T, L + T) over [past, new] keys -> (N, T, D), all self keys/values.

        past: cached self-attention keys/values (N, heads, L, head_dim), new ones are appended.
        cross / cross_mask: precomputed memory keys/values (N, heads, S, head_dim), (N, 1, 1, S).
        """
        h = self.ln_self(x)
        k, v = self.self_attn.keys_values(h)  # (N, heads, T, head_dim)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (N, heads, L + T, head_dim)
            v = torch.cat([past[1], v], dim=2)
        x = x + self.drop(self.self_attn(h, k, v, mask))
        if self.cross_attn is not None and self.ln_cross is not None:
            if cross is None or cross_mask is None:
                raise ValueError("a cross-attention block needs memory keys/values and a mask")
            x = x + self.drop(self.cross_attn(self.ln_cross(x), cross[0], cross[1], cross_mask))
        x = x + self.drop(self.ff(self.ln_ff(x)))
        return x, (k, v)


def self_attention_mask(past: Tensor, new: Tensor, causal: bool = True) -> Tensor:
    """Key validity of cached (N, L) and new (N, T) positions -> (N, 1, T, L + T) bool mask.

    A new query attends to valid cached keys and to valid new keys at or before it (all of them
    if not causal). Every query also attends to itself, so a padded query never has an all-masked
    row (which would make NaNs that leak through the cache); padded keys are never attended by
    other queries, so real outputs are unaffected.
    """
    n, t = new.shape
    eye = torch.eye(t, dtype=torch.bool, device=new.device)  # (T, T)
    within = new.unsqueeze(1).expand(n, t, t)  # (N, T, T): query i, key j
    if causal:
        within = within & torch.ones(t, t, dtype=torch.bool, device=new.device).tril()
    within = within | eye
    cached = past.unsqueeze(1).expand(n, t, past.shape[1])  # (N, T, L)
    return torch.cat([cached, within], dim=2).unsqueeze(1)  # (N, 1, T, L + T)


def init_weights(module: nn.Module, layers: int) -> None:
    """nanoGPT init: N(0, 0.02) weights, zero biases, residual projections scaled by depth."""
    residual_std = 0.02 / math.sqrt(2 * max(layers, 1))
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=0.02)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, std=0.02)
    for sub in module.modules():
        if isinstance(sub, Attention):
            nn.init.normal_(sub.proj.weight, std=residual_std)
        elif isinstance(sub, Block):
            last = sub.ff[-1]
            assert isinstance(last, nn.Linear)
            nn.init.normal_(last.weight, std=residual_std)
