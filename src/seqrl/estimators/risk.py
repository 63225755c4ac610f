"""Sequence-level risk over a candidate set (minimum risk training), as pure functions.

For each input x with a candidate set U(x) (k samples, the beam's hypotheses, or both; repeated
candidates count once), the policy's sequence probabilities are renormalised over the set with a
sharpness alpha,

    Q(u) = p(u|x)^alpha / sum_{u' in U} p(u'|x)^alpha,

and the loss is the expected cost under Q, here minus the expected reward, averaged over inputs:

    L = -(1/B) sum_x sum_{u in U(x)} Q(u) R(u).

Its gradient is a REINFORCE estimate with weights and a baseline from the set itself:

    dL/dtheta = -(alpha/B) sum_x sum_u Q(u) (R(u) - E_Q[R]) d log p(u|x)/dtheta.

Relation to REINFORCE with a leave-one-out baseline: as alpha -> 0, Q is uniform over the k
candidates and the gradient tends to alpha * (k-1)/k times the RLOO gradient of the same samples
(the group mean includes the sample itself). With alpha > 0 the candidates the policy already
prefers weigh more, and beam candidates (which are not samples of p) can enter the set: the
estimate is no longer an unbiased estimate of the gradient of E_p[R], but the gradient of a
different, deterministic objective of the set (Shen et al. 2016, "Minimum Risk Training for
Neural Machine Translation"; Edunov et al. 2018, "Classical Structured Prediction Losses for
Sequence to Sequence Learning"). When U(x) is every sequence and alpha = 1, Q = p and L is
exactly -E_p[R] (tested against enumeration).
"""
from __future__ import annotations

import torch
from torch import Tensor

OBJECTIVES = {
    "reinforce": "the score-function estimate: sum_t (G_t - b_t) grad log p(y_t), under reinforce.baseline",
    "risk": "minimum risk training: minus the expected reward under p^alpha renormalised over each input's "
            "candidates (samples, beam hypotheses or both); REINFORCE weighted by Q with the set's mean as baseline",
}


def first_occurrences(tokens: Tensor, mask: Tensor, k: int) -> Tensor:
    """(N,) True for the first row of each distinct sequence within its group of k rows.

    tokens, mask (N, T) with N = B * k; rows are compared on their masked tokens only, so two rows
    with the same output and different padding are one candidate. An empty row (mask all False)
    is never a candidate.
    """
    n, t = tokens.shape
    if n % k:
        raise ValueError(f"{n} rows are not a multiple of k={k}")
    filled = torch.where(mask, tokens + 1, torch.zeros_like(tokens)).view(-1, k, t)  # 0 = padding
    same = (filled.unsqueeze(2) == filled.unsqueeze(1)).all(dim=3)  # (B, k, k): row i equals row j
    earlier = torch.ones(k, k, dtype=torch.bool, device=tokens.device).tril(diagonal=-1)  # j < i
    repeated = (same & earlier).any(dim=2)  # (B, k): an earlier row of the group is the same
    return (~repeated).view(-1) & mask.any(dim=1)


def candidate_weights(seq_logprobs: Tensor, keep: Tensor, k: int, alpha: float) -> Tensor:
    """Q (N,): softmax of alpha * log p over the kept rows of each group of k; 0 elsewhere, and 0
    for a group with no kept row. seq_logprobs (N,) may carry gradients."""
    scores = (alpha * seq_logprobs).view(-1, k)
    kept = keep.view(-1, k)
    scores = scores.masked_fill(~kept, float("-inf"))
    any_kept = kept.any(dim=1, keepdim=True)
    q = torch.softmax(torch.where(any_kept, scores, torch.zeros_like(scores)), dim=1)
    return torch.where(kept & any_kept, q, torch.zeros_like(q)).view(-1)


def risk_loss(seq_logprobs: Tensor, rewards: Tensor, keep: Tensor, k: int, alpha: float,
              num_inputs: float) -> tuple[Tensor, Tensor]:
    """(loss, Q): minus the expected reward under Q, summed over groups and divided by
    `num_inputs` (the whole batch's count of inputs with a candidate, in data-parallel runs).
    rewards (N,) are detached; rows outside `keep` (repeats, invalid rewards, empty rows) do not
    count."""
    q = candidate_weights(seq_logprobs, keep, k, alpha)
    r = torch.where(keep, rewards.detach(), torch.zeros_like(rewards))
    return -(q * r).sum() / max(num_inputs, 1.0), q


def expected_reward(q: Tensor, rewards: Tensor, keep: Tensor, k: int) -> Tensor:
    """(B,) E_Q[R] of each group (detached): the baseline the risk gradient subtracts."""
    r = torch.where(keep, rewards, torch.zeros_like(rewards))
    return (q.detach() * r).view(-1, k).sum(dim=1)
