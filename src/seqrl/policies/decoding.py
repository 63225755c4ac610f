"""Batched autoregressive decoding over any StepModel: sampling, greedy, teacher-forced scoring."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from seqrl.policies.protocol import Scored, State, StepModel
from seqrl.rollout import Rollout
from seqrl.vocab import BOS, EOS, PAD


def repeat_state(state: State, k: int) -> State:
    """Repeat every row k times (row i -> rows i*k .. i*k+k-1)."""
    if k == 1:
        return state
    return {name: t.repeat_interleave(k, dim=0) for name, t in state.items()}


def decode(
    model: StepModel,
    state: State,
    k: int,
    max_len: int,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: Optional[torch.Generator] = None,
    forced: Optional[Tensor] = None,
    forced_len: Optional[Tensor] = None,
) -> Rollout:
    """Decode k sequences per input row of `state`, all rows in one tensor program.

    forced (N, F) / forced_len (N,): row i takes forced[i, t] for t < forced_len[i] instead of
    sampling (MIXER's cross-entropy prefix). Decoding stops once every row has emitted EOS.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    state = repeat_state(state, k)
    n = next(iter(state.values())).shape[0]
    device = next(iter(state.values())).device
    prev = torch.full((n,), BOS, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    tokens, logprobs, masks, forced_flags = [], [], [], []
    for t in range(max_len):
        logits, _, state = model.step(state, prev)  # (N, V)
        logp = F.log_softmax(logits.float() / temperature, dim=-1)
        if greedy:
            tok = logp.argmax(dim=-1)
        else:
            tok = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        is_forced = torch.zeros(n, dtype=torch.bool, device=device)
        if forced is not None and forced_len is not None and t < forced.shape[1]:
            is_forced = t < forced_len
            tok = torch.where(is_forced, forced[:, t], tok)
        alive = ~done
        tok = torch.where(alive, tok, torch.full_like(tok, PAD))
        lp = logp.gather(1, tok.unsqueeze(1)).squeeze(1)
        tokens.append(tok)
        logprobs.append(torch.where(alive, lp, torch.zeros_like(lp)))
        masks.append(alive)
        forced_flags.append(is_forced & alive)
        done = done | (tok == EOS)
        prev = tok
        if bool(done.all()):
            break
    return Rollout(
        tokens=torch.stack(tokens, dim=1),
        logprobs=torch.stack(logprobs, dim=1),
        mask=torch.stack(masks, dim=1),
        forced=torch.stack(forced_flags, dim=1),
        k=k,
    )


def shift_right(tokens: Tensor) -> Tensor:
    """(N, T) targets -> (N, T) decoder inputs [BOS, y_1 .. y_{T-1}]."""
    bos = torch.full_like(tokens[:, :1], BOS)
    return torch.cat([bos, tokens[:, :-1]], dim=1)


def score(
    model: StepModel, state: State, tokens: Tensor, mask: Tensor, temperature: float = 1.0
) -> Scored:
    """Teacher-forced log-probs, entropies and features of `tokens` (N, T); rows of `state` are N."""
    logits, features = model.teacher(state, shift_right(tokens))  # (N, T, V), (N, T, H)
    logp_all = F.log_softmax(logits.float() / temperature, dim=-1)
    safe = torch.where(mask, tokens, torch.zeros_like(tokens))
    logp = logp_all.gather(2, safe.unsqueeze(2)).squeeze(2)
    entropy = -(logp_all.exp() * logp_all).sum(dim=-1)
    zero = torch.zeros_like(logp)
    return Scored(
        logprobs=torch.where(mask, logp, zero),
        entropy=torch.where(mask, entropy, zero),
        features=features,
    )
