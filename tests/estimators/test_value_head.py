"""Gradient isolation: the regressor's loss never reaches the policy, the policy loss never the regressor."""
import torch

from seqrl.estimators import losses
from seqrl.estimators.advantages import compute_advantages
from seqrl.estimators.returns import reward_to_go, terminal_rewards
from seqrl.estimators.value_head import ValueHead
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq
from seqrl.rollout import Batch, pad_sequences


def _setup():
    torch.manual_seed(0)
    policy = AutoregressivePolicy(RNNSeq2Seq(RNNConfig(vocab_size=7, embed_dim=8, hidden_dim=8)))
    head = ValueHead(policy.feature_dim)
    src, m = pad_sequences([[3, 4], [5, 6, 3]])
    batch = Batch(src, m)
    rollout = policy.sample(batch, 3, 5, generator=torch.Generator().manual_seed(0))
    scored = policy.score(batch, rollout.tokens, rollout.mask)
    returns = reward_to_go(terminal_rewards(torch.rand(6), rollout.mask), rollout.mask)
    predicted = head(scored.features)
    return policy, head, rollout, scored, returns, predicted


def test_value_loss_gives_no_gradient_to_policy():
    policy, head, rollout, scored, returns, predicted = _setup()
    losses.value_loss(predicted, returns, rollout.mask).backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in policy.parameters())
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in head.parameters())


def test_policy_loss_gives_no_gradient_to_value_head():
    policy, head, rollout, scored, returns, predicted = _setup()
    valid = torch.ones(6, dtype=torch.bool)
    adv, _ = compute_advantages("value", returns, rollout.mask, valid, 3, predicted=predicted)
    losses.reinforce_loss(scored.logprobs, adv, rollout.mask, 6).backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in head.parameters())
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in policy.parameters())


def test_regressor_learns_the_mean_return():
    torch.manual_seed(0)
    head = ValueHead(4)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    feats = torch.randn(64, 3, 4)
    target = torch.full((64, 3), 0.7)
    mask = torch.ones(64, 3, dtype=torch.bool)
    for _ in range(300):
        opt.zero_grad()
        losses.value_loss(head(feats), target, mask).backward()
        opt.step()
    assert losses.value_loss(head(feats), target, mask).item() < 1e-3
