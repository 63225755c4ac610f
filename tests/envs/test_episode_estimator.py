"""The episodic REINFORCE update: its returns against hand-written loops, and its gradient against
the exact gradient of the expected return of a tiny MDP, by enumeration."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("gymnasium")

import torch
from hypothesis import given, settings, strategies as st

from seqrl.config import load_config
from seqrl.envs.collect import Episodes
from seqrl.envs.reinforce import bootstrap_truncated, episode_returns, reinforce_update
from seqrl.envs.reinforce_source import ReinforceSource
from seqrl.train.distributed import World
from seqrl.estimators.advantages import standardize
from seqrl.estimators.returns import reward_to_go
from seqrl.train.state import TrainState
from tests.envs.tiny_mdp import exact_return


def _loop_returns(rewards: list[float], gamma: float, reset_on_reward: bool) -> list[float]:
    """The classic agent's discount_rewards, one episode at a time."""
    out, running = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        if reset_on_reward and rewards[t] != 0:
            running = 0.0
        running = running * gamma + rewards[t]
        out[t] = running
    return out


episodes = st.lists(st.lists(st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5]), min_size=1, max_size=9), min_size=1,
                    max_size=5)


@settings(max_examples=60, deadline=None)
@given(episodes, st.sampled_from([1.0, 0.99, 0.5, 0.0]), st.booleans())
def test_returns_match_the_classic_loop(rows: list[list[float]], gamma: float, reset: bool) -> None:
    t = max(map(len, rows))
    mask = torch.tensor([[i < len(r) for i in range(t)] for r in rows])
    rewards = torch.tensor([r + [0.0] * (t - len(r)) for r in rows])
    cut = (rewards != 0) & mask if reset else None
    got = reward_to_go(rewards, mask, gamma, cut)
    for row, r in zip(got, rows):
        assert row[: len(r)].tolist() == pytest.approx(_loop_returns(r, gamma, reset), abs=1e-5)
        assert (row[len(r):] == 0).all()


def test_a_truncated_episode_is_bootstrapped_on_its_last_step_only() -> None:
    mask = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])
    rewards = torch.ones(3, 3) * mask
    truncated = torch.tensor([True, False, True])
    final = torch.tensor([10.0, 20.0, 30.0])
    out = bootstrap_truncated(rewards, mask, truncated, final, 0.5)
    assert out.tolist() == [[1.0, 1.0, 6.0], [1.0, 1.0, 0.0], [16.0, 0.0, 0.0]]


def test_episode_returns_bootstrap_only_with_a_value_baseline() -> None:
    cfg = load_config(None, ["env.id=CartPole-v1", "env.gamma=1.0"])
    eps = Episodes(obs=torch.zeros(2, 4), actions=torch.zeros(2, dtype=torch.long), rewards=torch.ones(1, 2),
                   mask=torch.ones(1, 2, dtype=torch.bool), truncated=torch.tensor([True]),
                   final_obs=torch.zeros(1, 4))
    assert episode_returns(cfg, eps, None)[0].tolist() == [2.0, 1.0]  # the texts: the return ends at the cut
    assert episode_returns(cfg, eps, torch.tensor([5.0]))[0].tolist() == [7.0, 6.0]


def test_standardize_gives_mean_zero_std_one_over_the_mask() -> None:
    adv = torch.tensor([[1.0, 2.0, 99.0], [3.0, 4.0, 5.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = standardize(adv, mask)
    assert float(out[mask].mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(out[mask].std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    assert out[0, 2] == 0


@pytest.mark.parametrize("baseline", ["none", "ema", "value"])
def test_the_update_follows_the_exact_gradient_of_the_expected_return(baseline: str, tmp_path) -> None:
    """SGD with lr 1 and no clipping moves the weights by minus the estimated gradient of -J; over
    6,000 episodes its direction matches the exact gradient of J (by enumeration)."""
    import tests.envs.tiny_mdp  # noqa: F401 - registers TinyMDP-v0

    cfg = load_config(None, ["env.id=TinyMDP-v0", "env.gamma=1.0", "env.num_envs=8", "env.episodes_per_step=6000",
                             f"reinforce.baseline={baseline}", "model.layers=1", "model.hidden_dim=8",
                             "optim.grad_clip=0", "run.threads=1", "reinforce.value_lr=0.05"])
    source = ReinforceSource(cfg, World(), Path("."))
    policy = source.policy
    eye = torch.eye(2)

    def exact_grad() -> list[torch.Tensor]:
        policy.zero_grad()
        exact_return(policy.distribution(eye).probs).backward()
        return [p.grad.clone() for p in policy.parameters()]

    want = exact_grad()
    before = [p.detach().clone() for p in policy.parameters()]
    sgd = torch.optim.SGD(policy.parameters(), lr=1.0)
    state = TrainState(ema=0.4, ema_initialised=True)
    reinforce_update(cfg, policy, sgd, source.value_head, source.value_optimizer,
                     lambda: source.play(0, 6000, greedy=False), 0, state)
    got = [p.detach() - b for b, p in zip(before, policy.parameters())]  # the step along -grad(-J) = grad J
    flat_got, flat_want = torch.cat([g.flatten() for g in got]), torch.cat([w.flatten() for w in want])
    cosine = torch.nn.functional.cosine_similarity(flat_got, flat_want, dim=0)
    assert cosine > 0.97, (cosine, flat_got.norm(), flat_want.norm())
    assert flat_got.norm() == pytest.approx(float(flat_want.norm()), rel=0.15)
    source.close()


def test_reward_scale_multiplies_every_return():
    eps = Episodes(obs=torch.zeros(3, 4), actions=torch.zeros(3, dtype=torch.long),
                   rewards=torch.tensor([[1.0, -2.0, 4.0]]), mask=torch.ones(1, 3, dtype=torch.bool),
                   truncated=torch.tensor([False]), final_obs=torch.zeros(1, 4))
    plain = episode_returns(load_config(None, ["env.id=CartPole-v1", "env.gamma=0.5"]), eps, None)
    scaled = episode_returns(load_config(None, ["env.id=CartPole-v1", "env.gamma=0.5", "env.reward_scale=0.1"]),
                             eps, None)
    assert plain[0].tolist() == [1.0, 0.0, 4.0] and torch.allclose(scaled, 0.1 * plain)


def test_the_pong_frame_keeps_paddles_and_ball_and_erases_the_background():
    import numpy as np

    from seqrl.envs.pong import BACKGROUND, pong_frame

    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[..., 0] = BACKGROUND[0]
    frame[35:195:2, ::2, 0][10, 20] = 236  # the ball, inside the play field
    frame[20, 30, 0] = 236  # the score area, cropped away
    out = pong_frame(frame)
    assert out.shape == (80, 80) and out.dtype == np.int8
    assert out[10, 20] == 1 and out.sum() == 1
    frame[..., 0] = BACKGROUND[1]
    assert pong_frame(frame).sum() == 0


def _relative_error_of_one_update(weighting: str, gamma: float, seed: int = 0) -> float:
    """|estimated - exact| / |exact| for the gradient of E[sum_t gamma^t r_t] on TinyMDP (6,000 episodes)."""
    import tests.envs.tiny_mdp  # noqa: F401 - registers TinyMDP-v0

    cfg = load_config(None, ["env.id=TinyMDP-v0", f"env.gamma={gamma}", "env.num_envs=8", "env.episodes_per_step=6000",
                             "reinforce.baseline=none", f"env.discount_weighting={weighting}", "model.layers=1",
                             "model.hidden_dim=8", "optim.grad_clip=0", "run.threads=1", f"run.seed={seed}"])
    source = ReinforceSource(cfg, World(), Path("."))
    policy = source.policy
    policy.zero_grad()
    exact_return(policy.distribution(torch.eye(2)).probs, gamma).backward()
    want = torch.cat([p.grad.flatten().clone() for p in policy.parameters()])
    before = [p.detach().clone() for p in policy.parameters()]
    sgd = torch.optim.SGD(policy.parameters(), lr=1.0)
    reinforce_update(cfg, policy, sgd, None, None, lambda: source.play(0, 6000, greedy=False), 0, TrainState())
    got = torch.cat([(p.detach() - b).flatten() for b, p in zip(before, policy.parameters())])
    source.close()
    return float((got - want).norm() / want.norm())


def test_gamma_t_weighting_is_the_gradient_of_the_discounted_objective():
    """gamma = 0.3: with gamma^t weights the estimate matches the exact discounted gradient (by
    enumeration); the usual estimator (no weights) is off by a margin well beyond the noise."""
    weighted = _relative_error_of_one_update("gamma_t", 0.3)
    usual = _relative_error_of_one_update("none", 0.3)
    assert weighted < 0.15, weighted
    assert usual > 2 * weighted and usual > 0.2, (usual, weighted)


def test_discount_weights_are_gamma_to_the_step():
    from seqrl.estimators.returns import discount_weights

    mask = torch.tensor([[True, True, True], [True, False, False]])
    assert discount_weights(mask, 0.5).tolist() == [[1.0, 0.5, 0.25], [1.0, 0.0, 0.0]]


def test_the_truncation_bootstrap_is_its_own_key():
    from seqrl.config import ConfigError
    from seqrl.envs.reinforce import bootstraps

    base = ["env.id=CartPole-v1"]
    assert bootstraps(load_config(None, base), True)  # null: a value function and gamma < 1
    assert not bootstraps(load_config(None, base + ["env.gamma=1.0"]), True)  # no finite target with gamma 1
    assert not bootstraps(load_config(None, base + ["reinforce.baseline=none"]), False)
    assert not bootstraps(load_config(None, base + ["env.bootstrap_truncated=false"]), True)
    with pytest.raises(ConfigError, match="env.bootstrap_truncated=true with env.gamma=1"):
        load_config(None, base + ["env.bootstrap_truncated=true", "env.gamma=1.0"])
    with pytest.raises(ConfigError, match="env.bootstrap_truncated=true needs a value function"):
        load_config(None, base + ["env.bootstrap_truncated=true", "reinforce.baseline=ema"])


def test_bootstrap_false_ends_a_truncated_return_at_the_cut_whatever_the_baseline(tmp_path):
    """The same truncated episodes, the value baseline: with the bootstrap off the returns are the
    plain discounted sums, so the baseline changes only the variance, not the target."""
    from seqrl.envs.reinforce import episode_objective

    cfg = load_config(None, ["env.id=CartPole-v1", "env.max_episode_steps=5", "env.num_envs=2",
                             "env.episodes_per_step=4", "env.bootstrap_truncated=false", "run.threads=1"])
    source = ReinforceSource(cfg, World(), Path("."))
    eps = source.play(0, 4, greedy=False)
    assert bool(eps.truncated.any())
    with_value = episode_objective(cfg, source.policy, source.value_head, eps, "value", 0.0).returns
    plain = episode_returns(cfg, eps, None)
    assert torch.equal(with_value, plain)
    on = load_config(None, ["env.id=CartPole-v1", "env.max_episode_steps=5", "env.num_envs=2",
                            "env.episodes_per_step=4", "run.threads=1"])
    assert not torch.equal(episode_objective(on, source.policy, source.value_head, eps, "value", 0.0).returns, plain)
    source.close()
