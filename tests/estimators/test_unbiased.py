"""Estimators against exact enumeration.

A tiny GRU policy over 4 content tokens plus EOS (PAD and BOS exist but are never output) with
at most 3 tokens has 85 possible sequences,
so the expected reward J = sum_y p(y) R(y) and its exact gradient are computable. The mean
REINFORCE gradient over many samples must match it for every baseline that theory says is
unbiased; group normalisation must show the (k-1)/k shrinkage and, with the std, at least the
right direction.
"""
from __future__ import annotations

import itertools

import pytest
import torch

from seqrl.estimators import losses
from seqrl.estimators.advantages import compute_advantages
from seqrl.estimators.returns import reward_to_go, terminal_rewards
from seqrl.estimators.value_head import ValueHead
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq
from seqrl.rewards.checked import evaluate_token_rewards
from seqrl.rewards.sequence import partial_credit_one, partial_credit_tokens
from seqrl.rollout import Batch, pad_sequences, strip
from seqrl.vocab import BOS, EOS, PAD

V, L = 7, 3
COPIES = 40000  # identical inputs per batch: the estimator is averaged over COPIES * k samples


def all_sequences() -> list[list[int]]:
    """Every row the sampler can produce: EOS-terminated before the budget, or any full row."""
    body_tokens = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    seqs = [list(body) + [EOS] for n in range(1, L) for body in itertools.product(body_tokens, repeat=n - 1)]
    seqs += [list(body) + [last] for body in itertools.product(body_tokens, repeat=L - 1)
             for last in body_tokens + [EOS]]
    return seqs


def _codes(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, T) rows -> (N, T) integer code of each prefix y_1..y_t (unique per prefix)."""
    digits = torch.where(mask, tokens + 1, torch.zeros_like(tokens))
    powers = (V + 1) ** torch.arange(tokens.shape[1])
    return (digits * powers).cumsum(dim=1)


SEQ_TABLE = torch.rand((V + 1) ** (L + 1), generator=torch.Generator().manual_seed(11))
TOKEN_TABLE = torch.rand((V + 1) ** (L + 1), generator=torch.Generator().manual_seed(12)) - 0.5


@pytest.fixture(scope="module")
def policy() -> AutoregressivePolicy:
    torch.manual_seed(0)
    return AutoregressivePolicy(RNNSeq2Seq(RNNConfig(vocab_size=V, embed_dim=8, hidden_dim=8)))


def _inputs(n: int) -> Batch:
    src, mask = pad_sequences([[3, 4, 3]] * n)
    return Batch(src, mask)


def _params(policy):
    return [p for p in policy.parameters()]


def _flat_grad(loss, policy) -> torch.Tensor:
    grads = torch.autograd.grad(loss, _params(policy), allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, _params(policy))])


def _rewards(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A fixed random reward for every whole sequence, (N,)."""
    return SEQ_TABLE[_codes(tokens, mask)[:, -1]]


def _token_rewards(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A fixed random reward for every prefix, placed on its last token, (N, T)."""
    return torch.where(mask, TOKEN_TABLE[_codes(tokens, mask)], torch.zeros(mask.shape))


def exact_gradient(policy, per_token: bool = False) -> torch.Tensor:
    seqs = all_sequences()
    tokens, mask = pad_sequences(seqs)
    lp = policy.score(_inputs(1), tokens, mask).logprobs.sum(dim=1)  # (M,)
    assert torch.allclose(lp.exp().sum(), torch.tensor(1.0), atol=1e-5), "enumeration must cover every sequence"
    r = _token_rewards(tokens, mask).sum(dim=1) if per_token else _rewards(tokens, mask)
    return _flat_grad((lp.exp() * r).sum(), policy)


def estimated_gradient(policy, baseline: str, k: int, per_token: bool = False, **kw) -> torch.Tensor:
    inputs = _inputs(COPIES)
    rollout = policy.sample(inputs, k, L, generator=torch.Generator().manual_seed(1))
    mask = rollout.mask
    scored = policy.score(inputs, rollout.tokens, mask)
    tok_r = _token_rewards(rollout.tokens, mask) if per_token else terminal_rewards(_rewards(rollout.tokens, mask), mask)
    returns = reward_to_go(tok_r, mask, 1.0)
    valid = torch.ones(mask.shape[0], dtype=torch.bool)
    if baseline == "value":
        kw["predicted"] = kw.pop("head")(scored.features)
    adv, _ = compute_advantages(baseline, returns, mask, valid, k, **kw)
    loss = losses.reinforce_loss(scored.logprobs, adv, mask, mask.shape[0])
    return -_flat_grad(loss, policy)  # minimising the loss ascends J


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("baseline,k,extra", [
    ("none", 2, {}),
    ("ema", 2, {"ema": 0.45}),
    ("rloo", 4, {}),
    ("self_critical", 2, {}),
    ("value", 2, {}),
])
def test_unbiased_baselines_match_exact_gradient(policy, baseline, k, extra):
    exact = exact_gradient(policy)
    kw = dict(extra)
    if baseline == "self_critical":
        greedy = policy.greedy(_inputs(COPIES), L)
        kw["greedy_returns"] = _rewards(greedy.tokens, greedy.mask)
    if baseline == "value":
        torch.manual_seed(3)
        kw["head"] = ValueHead(policy.feature_dim)
    est = estimated_gradient(policy, baseline, k, **kw)
    assert rel_err(est, exact) < 0.12, f"{baseline}: relative error {rel_err(est, exact):.3f}"


def test_per_token_reward_to_go_is_unbiased(policy):
    exact = exact_gradient(policy, per_token=True)
    est = estimated_gradient(policy, "none", 2, per_token=True)
    assert rel_err(est, exact) < 0.12


def test_group_mean_scales_gradient_by_k_minus_one_over_k(policy):
    exact = exact_gradient(policy)
    k = 2
    est = estimated_gradient(policy, "grpo", k, use_std=False)
    assert rel_err(est, exact * (k - 1) / k) < 0.12
    # and the unscaled gradient is clearly off: the test can tell the two apart
    assert rel_err(est, exact) > 0.3


def test_group_std_keeps_ascent_direction(policy):
    exact = exact_gradient(policy)
    est = estimated_gradient(policy, "grpo", 4, use_std=True)
    cosine = float(torch.nn.functional.cosine_similarity(est, exact, dim=0))
    assert cosine > 0.8, cosine


def test_biased_baseline_is_detected(policy):
    """A baseline built from the sample's own reward is biased: the check must notice."""
    exact = exact_gradient(policy)
    inputs = _inputs(COPIES)
    rollout = policy.sample(inputs, 2, L, generator=torch.Generator().manual_seed(1))
    scored = policy.score(inputs, rollout.tokens, rollout.mask)
    r = _rewards(rollout.tokens, rollout.mask)
    adv = (r - 0.5 * r).unsqueeze(1).expand_as(scored.logprobs)  # baseline = half the own reward
    est = -_flat_grad(losses.reinforce_loss(scored.logprobs, adv, rollout.mask, r.shape[0]), policy)
    assert rel_err(est, exact) > 0.3


REFERENCE = [3]  # [3] EOS scores 1, [3, x] EOS 0.5: the choice to stop after 3 is what the split must credit


def _builtin_token_rewards(fn, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, T) per-token rewards of a built-in-style per-token reward, aligned as in training."""
    completions = strip(tokens, mask, EOS)
    refs = [REFERENCE] * len(completions)
    return evaluate_token_rewards(fn, completions, refs, completions, None, step=0, width=tokens.shape[1]).values


def _noncausal_partial_credit(completions, references, sources, **columns):
    """The old split: each match earns 1/max(len(completion), len(reference)), EOS nothing. The
    sum is right, but an early token's reward depends on the tokens after it."""
    out = []
    for c, r in zip(completions, references):
        d = max(len(c), len(r))
        out.append([1.0 / d if t < len(r) and x == r[t] else 0.0 for t, x in enumerate(c)] + [0.0] if d else [1.0])
    return out


@pytest.mark.parametrize("fn, unbiased", [(partial_credit_tokens, True), (_noncausal_partial_credit, False)])
def test_builtin_per_token_partial_credit_is_unbiased_with_reward_to_go(policy, fn, unbiased):
    seqs = all_sequences()
    tokens, mask = pad_sequences(seqs)
    lp = policy.score(_inputs(1), tokens, mask).logprobs.sum(dim=1)  # (M,)
    r = torch.tensor([partial_credit_one(c, REFERENCE) for c in strip(tokens, mask, EOS)])
    exact = _flat_grad((lp.exp() * r).sum(), policy)
    assert torch.allclose(_builtin_token_rewards(fn, tokens, mask).sum(dim=1), r, atol=1e-6)  # same sums
    inputs = _inputs(COPIES // 4)  # the per-sample Python reward is the slow part; 0.03 vs 0.34 error still
    rollout = policy.sample(inputs, 2, L, generator=torch.Generator().manual_seed(1))
    scored = policy.score(inputs, rollout.tokens, rollout.mask)
    returns = reward_to_go(_builtin_token_rewards(fn, rollout.tokens, rollout.mask), rollout.mask, 1.0)
    adv, _ = compute_advantages("none", returns, rollout.mask, torch.ones(returns.shape[0], dtype=torch.bool), 2)
    est = -_flat_grad(losses.reinforce_loss(scored.logprobs, adv, rollout.mask, returns.shape[0]), policy)
    if unbiased:
        assert rel_err(est, exact) < 0.12, rel_err(est, exact)
    else:  # the check can tell: the non-causal split is off (0.34 here, the causal one 0.03)
        assert rel_err(est, exact) > 0.2, rel_err(est, exact)
