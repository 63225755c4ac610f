import torch

from seqrl.estimators import baselines as B
from seqrl.estimators import losses
from seqrl.estimators.advantages import compute_advantages
from seqrl.estimators.returns import reward_to_go, terminal_rewards


def naive_reward_to_go(r, mask, gamma):
    out = torch.zeros_like(r)
    for i in range(r.shape[0]):
        for t in range(r.shape[1]):
            if mask[i, t]:
                out[i, t] = sum(gamma ** (u - t) * r[i, u] for u in range(t, r.shape[1]) if mask[i, u])
    return out


def test_reward_to_go_matches_naive_loop():
    torch.manual_seed(0)
    r = torch.randn(5, 7)
    mask = torch.arange(7).unsqueeze(0) < torch.tensor([7, 3, 1, 5, 6]).unsqueeze(1)
    for gamma in (1.0, 0.9, 0.0):
        assert torch.allclose(reward_to_go(r, mask, gamma), naive_reward_to_go(r, mask, gamma), atol=1e-6)


def test_terminal_reward_sits_on_last_token_and_discounts_back():
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    tr = terminal_rewards(torch.tensor([2.0, 5.0]), mask)
    assert tr.tolist() == [[0, 0, 2, 0], [5, 0, 0, 0]]
    g = reward_to_go(tr, mask, 0.5)
    assert g.tolist() == [[0.5, 1.0, 2.0, 0.0], [5.0, 0, 0, 0]]


def test_leave_one_out_matches_loop_and_ignores_invalid():
    values = torch.tensor([1.0, 2.0, 3.0, 10.0, 4.0, 6.0])
    valid = torch.tensor([True, True, True, False, True, True])
    loo = B.leave_one_out(values, valid, 3)
    assert torch.allclose(loo, torch.tensor([2.5, 2.0, 1.5, 5.0, 6.0, 4.0]))
    lonely = B.leave_one_out(torch.tensor([3.0, 1.0]), torch.tensor([True, False]), 2)
    assert lonely[0] == 0.0


def test_group_mean_and_std():
    values = torch.tensor([1.0, 3.0, 2.0, 2.0])
    valid = torch.ones(4, dtype=torch.bool)
    assert B.group_mean(values, valid, 2).tolist() == [2.0, 2.0, 2.0, 2.0]
    assert B.group_std(values, valid, 2).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_grpo_advantages_are_normalised_per_group():
    returns = torch.tensor([[1.0], [3.0], [5.0], [5.0]])
    mask = torch.ones(4, 1, dtype=torch.bool)
    adv, _ = compute_advantages("grpo", returns, mask, mask[:, 0], 2, eps=0.0 + 1e-12)
    assert torch.allclose(adv[:2, 0], torch.tensor([-1.0, 1.0]))
    assert adv[2:].abs().max() == 0  # equal rewards give no signal


def test_self_critical_and_ema_baselines():
    returns = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    valid = torch.tensor([True, True])
    adv, base = compute_advantages("self_critical", returns, mask, valid, 2, greedy_returns=torch.tensor([0.25]))
    assert adv.tolist() == [[0.75, 0.75], [-0.25, 0.0]]
    adv, _ = compute_advantages("ema", returns, mask, valid, 1, ema=0.5)
    assert adv.tolist() == [[0.5, 0.5], [-0.5, 0.0]]
    assert B.ema_update(0.0, 1.0, 0.9, initialised=False) == 1.0
    assert abs(B.ema_update(1.0, 0.0, 0.9, initialised=True) - 0.9) < 1e-12


def test_invalid_rows_get_no_advantage():
    returns = torch.tensor([[1.0], [3.0]])
    mask = torch.ones(2, 1, dtype=torch.bool)
    adv, _ = compute_advantages("none", returns, mask, torch.tensor([True, False]), 1)
    assert adv.tolist() == [[1.0], [0.0]]


def test_reinforce_loss_gradient_is_advantage_weighted_score():
    logits = torch.zeros(2, 3, requires_grad=True)
    lp = torch.log_softmax(logits, dim=-1)[:, :2]  # pretend log-probs of 2 tokens
    adv = torch.tensor([[1.0, 1.0], [-2.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    loss = losses.reinforce_loss(lp, adv, mask, num_sequences=2)
    expected = -(lp[0, 0] + lp[0, 1] - 2 * lp[1, 0]) / 2
    assert torch.allclose(loss, expected)
    token = losses.reinforce_loss(lp, adv, mask, 2, "token")
    assert torch.allclose(token, -(lp[0, 0] + lp[0, 1] - 2 * lp[1, 0]) / 3)


def test_masked_positions_never_leak_nan():
    lp = torch.tensor([[-1.0, float("nan")]])
    mask = torch.tensor([[True, False]])
    assert torch.isfinite(losses.token_xent(lp, mask))
    assert torch.isfinite(losses.reinforce_loss(lp, torch.ones(1, 2), mask, 1))
