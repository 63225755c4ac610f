"""Sequence-level risk (estimators.risk) against enumeration and its closed-form gradient."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.estimators import losses, risk
from seqrl.estimators.advantages import compute_advantages
from seqrl.rollout import Rollout, merge_groups, pad_sequences
from tests.estimators.test_unbiased import _flat_grad, _inputs, _rewards, all_sequences, exact_gradient, policy  # noqa: F401


def test_full_candidate_set_with_alpha_one_is_the_exact_expected_reward(policy):  # noqa: F811
    """Every sequence as the one input's candidate set and alpha = 1: Q = p, and the risk and its
    gradient are exactly -E_p[R] and -grad E_p[R] (85 sequences, enumerated)."""
    tokens, mask = pad_sequences(all_sequences())
    lp = policy.score(_inputs(1), tokens, mask).logprobs.sum(dim=1)  # (M,)
    r = _rewards(tokens, mask)
    keep = torch.ones(len(r), dtype=torch.bool)
    loss, q = risk.risk_loss(lp, r, keep, len(r), 1.0, 1.0)
    assert torch.allclose(q, lp.exp().detach(), atol=1e-6)
    assert loss.item() == pytest.approx(-(lp.exp() * r).sum().item(), abs=1e-6)
    grad = _flat_grad(loss, policy)
    exact = exact_gradient(policy)
    assert torch.allclose(-grad, exact, atol=1e-6, rtol=1e-4)


def test_subset_renormalises_and_sharpness_changes_the_objective(policy):  # noqa: F811
    """On a candidate subset, Q is p renormalised over it (alpha = 1) and flattens as alpha falls."""
    tokens, mask = pad_sequences(all_sequences()[:6])
    lp = policy.score(_inputs(1), tokens, mask).logprobs.sum(dim=1).detach()
    keep = torch.ones(6, dtype=torch.bool)
    q1 = risk.candidate_weights(lp, keep, 6, 1.0)
    assert torch.allclose(q1, lp.exp() / lp.exp().sum(), atol=1e-6)
    q_small = risk.candidate_weights(lp, keep, 6, 1e-4)
    assert torch.allclose(q_small, torch.full((6,), 1 / 6), atol=1e-4)
    assert float((q1 - q_small).abs().max()) > 1e-3  # the test can tell them apart


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(2, 5), st.floats(0.01, 3.0), st.integers(0, 2**31 - 1))
def test_gradient_is_reinforce_weighted_by_q_with_the_set_mean_as_baseline(b, k, alpha, seed):
    """dL/dlog p(u) = -(alpha/B) Q(u) (R(u) - E_Q[R]) on the kept rows, 0 on the others."""
    g = torch.Generator().manual_seed(seed)
    lp = (-5 * torch.rand(b * k, generator=g, dtype=torch.float64)).requires_grad_()
    r = torch.rand(b * k, generator=g, dtype=torch.float64)
    keep = torch.rand(b * k, generator=g) < 0.7
    n_inputs = float(keep.view(b, k).any(dim=1).sum())
    loss, q = risk.risk_loss(lp, r, keep, k, alpha, n_inputs)
    (grad,) = torch.autograd.grad(loss, lp)
    mean = risk.expected_reward(q, r, keep, k).repeat_interleave(k)
    expected = torch.where(keep, -alpha / max(n_inputs, 1.0) * q.detach() * (r - mean), torch.zeros_like(r))
    assert torch.allclose(grad, expected, atol=1e-12)
    sums = q.detach().view(b, k).sum(dim=1)
    has = keep.view(b, k).any(dim=1)
    assert torch.allclose(sums[has], torch.ones_like(sums[has])) and bool((sums[~has] == 0).all())


def test_vanishing_alpha_is_rloo_scaled_by_alpha_times_k_minus_one_over_k():
    g = torch.Generator().manual_seed(0)
    b, k, alpha = 3, 4, 1e-6
    lp = (-3 * torch.rand(b * k, generator=g, dtype=torch.float64)).requires_grad_()
    r = torch.rand(b * k, generator=g, dtype=torch.float64)
    keep = torch.ones(b * k, dtype=torch.bool)
    loss, _ = risk.risk_loss(lp, r, keep, k, alpha, b)
    (g_risk,) = torch.autograd.grad(loss, lp)
    mask = torch.ones(b * k, 1, dtype=torch.bool)
    adv, _ = compute_advantages("rloo", r.unsqueeze(1), mask, keep, k)
    (g_rloo,) = torch.autograd.grad(losses.reinforce_loss(lp.unsqueeze(1), adv, mask, b * k), lp)
    assert torch.allclose(g_risk / alpha, g_rloo * (k - 1) / k, rtol=1e-4, atol=1e-10)


def test_repeated_candidates_count_once_and_empty_rows_never():
    rows = [[3, 2], [3, 2], [5, 4, 2], [3, 2]]  # group 0: a repeat; group 1: distinct
    tokens, mask = pad_sequences(rows)
    assert not mask[1, 2]
    tokens[1, 2] = 9  # other padding behind the same output: still the same candidate
    assert risk.first_occurrences(tokens, mask, 2).tolist() == [True, False, True, True]
    mask[3] = False  # an empty row (an unfilled beam slot) is no candidate
    assert risk.first_occurrences(tokens, mask, 2).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="not a multiple"):
        risk.first_occurrences(tokens, mask, 3)


def test_merge_groups_keeps_each_inputs_rows_together():
    def rollout(rows: list[list[int]], k: int) -> Rollout:
        t, m = pad_sequences(rows)
        return Rollout(tokens=t, logprobs=torch.zeros(t.shape), mask=m, forced=torch.zeros_like(m), k=k)

    a = rollout([[1], [2], [3], [4]], 2)  # inputs 0: 1, 2; 1: 3, 4
    b = rollout([[5, 5, 5], [6]], 1)  # input 0: 5 5 5; input 1: 6
    out = merge_groups(a, b)
    assert out.k == 3 and out.tokens.shape == (6, 3)
    firsts = [row[m].tolist() for row, m in zip(out.tokens, out.mask)]
    assert firsts == [[1], [2], [5, 5, 5], [3], [4], [6]]
    with pytest.raises(ValueError, match="inputs do not match"):
        merge_groups(a, rollout([[1]], 1))


def test_the_config_offers_exactly_the_listed_objectives():
    import dataclasses
    import typing

    from seqrl.config.schema import ReinforceConfig

    field = next(f for f in dataclasses.fields(ReinforceConfig) if f.name == "objective")
    assert set(typing.get_args(typing.get_type_hints(ReinforceConfig)[field.name])) == set(risk.OBJECTIVES)
