"""Environment policies: sampling follows the distribution, the Gaussian heads' log-probabilities
are the densities of the actions the environment receives, and the value baseline is isolated."""
from __future__ import annotations

from pathlib import Path

import pytest

gym = pytest.importorskip("gymnasium")

import numpy as np
import torch

from seqrl.config import load_config
from seqrl.envs.policy import EnvPolicy, ValueNet
from seqrl.envs.reinforce import reinforce_update
from seqrl.envs.reinforce_source import ReinforceSource
from seqrl.train.distributed import World
from seqrl.train.state import TrainState


def _policy(act_space, continuous="clip"):
    cfg = load_config(None, ["env.id=CartPole-v1", f"env.continuous={continuous}", "model.hidden_dim=8"])
    return EnvPolicy(cfg, gym.spaces.Box(-1.0, 1.0, (3,), np.float32), act_space)


def test_categorical_sampling_draws_each_action_with_its_probability():
    torch.manual_seed(0)
    policy = _policy(gym.spaces.Discrete(4))
    obs = torch.randn(1, 3).expand(40_000, 3)
    actions, to_env = policy.sample(obs, torch.Generator().manual_seed(1))
    assert torch.equal(actions, to_env)
    freq = torch.bincount(actions, minlength=4).float() / actions.numel()
    assert torch.allclose(freq, policy.distribution(obs[:1]).probs[0], atol=0.01)


def test_tanh_squashed_log_probability_is_the_density_of_the_squashed_action():
    """Numerically: P(a in [x, x + h]) / h of the squashed sample matches exp(log_prob)."""
    torch.manual_seed(0)
    space = gym.spaces.Box(np.array([-2.0], np.float32), np.array([4.0], np.float32))
    policy = _policy(space, continuous="tanh")
    obs = torch.randn(1, 3).expand(400_000, 3)
    raw, to_env = policy.sample(obs, torch.Generator().manual_seed(2))
    assert float(to_env.min()) >= -2.0 and float(to_env.max()) <= 4.0
    for lo in (-1.0, 0.5, 2.0):
        h = 0.1
        share = float(((to_env >= lo) & (to_env < lo + h)).float().mean())
        x = torch.tensor([[lo + h / 2]])
        u = torch.atanh((x - (-2.0)) / 3.0 - 1.0)  # the raw draw that squashes to x
        density = float(policy.score(obs[:1], u).logprobs.exp().detach())
        assert share / h == pytest.approx(density, rel=0.06), lo


def test_clipped_gaussian_actions_stay_in_bounds_and_keep_the_raw_log_probability():
    torch.manual_seed(0)
    space = gym.spaces.Box(-0.1, 0.1, (2,), np.float32)
    policy = _policy(space)
    obs = torch.randn(500, 3)
    raw, to_env = policy.sample(obs, torch.Generator().manual_seed(3))
    assert to_env.abs().max() <= 0.1 + 1e-7 and raw.abs().max() > 0.1
    want = torch.distributions.Normal(policy.head(policy.torso(obs)), policy.log_std.exp()).log_prob(raw).sum(1)
    assert torch.allclose(policy.score(obs, raw).logprobs, want, atol=1e-5)


def test_the_value_baseline_and_the_policy_never_train_each_other(tmp_path):
    """After one update, the value network's gradient is exactly that of its own squared error
    (the policy loss, whose advantage holds V(s) detached, added nothing to it), and the policy
    has a gradient of its own (the networks share no weights)."""
    cfg = load_config(None, ["env.id=CartPole-v1", "env.num_envs=2", "env.episodes_per_step=4", "run.threads=1",
                             "reinforce.baseline=value", "model.hidden_dim=8", "optim.grad_clip=0"])
    source = ReinforceSource(cfg, World(), Path("."))
    value_before = [p.detach().clone() for p in source.value_head.parameters()]
    policy_sgd = torch.optim.SGD(source.policy.parameters(), lr=0.0)
    value_sgd = torch.optim.SGD(source.value_head.parameters(), lr=0.1)
    eps_seen = []

    def collect():
        eps_seen.append(source.play(0, 4, greedy=False))
        return eps_seen[-1]

    reinforce_update(cfg, source.policy, policy_sgd, source.value_head, value_sgd, collect, 0, TrainState())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in source.policy.parameters())
    # the value network's gradient is its own loss's alone: recompute it from the same episodes
    from seqrl.envs.policy import encode
    from seqrl.envs.reinforce import episode_returns, per_step
    from seqrl.estimators.losses import value_loss

    eps = eps_seen[0]
    fresh = ValueNet(cfg, source.obs_space)
    fresh.load_state_dict(dict(zip(fresh.state_dict(), value_before)))
    obs = encode(eps.obs, source.obs_space, torch.device("cpu"))
    with torch.no_grad():
        final = fresh(encode(eps.final_obs, source.obs_space, torch.device("cpu")))
    returns = episode_returns(cfg, eps, final)
    loss = value_loss(per_step(fresh(obs), eps.mask), returns, eps.mask, float(eps.mask.sum()))
    loss.backward()
    for got, want in zip(source.value_head.parameters(), fresh.parameters()):
        assert torch.allclose(got.grad, want.grad, atol=1e-6)
    source.close()
