"""A2C (env.algo=a2c): GAE(lambda) against its definitions, exact resume, and that it learns."""
from __future__ import annotations

import pytest

pytest.importorskip("gymnasium")

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.config import ConfigError, load_config
from seqrl.envs.a2c_source import gae
from seqrl.estimators.returns import reward_to_go
from seqrl.sources import make_trainer
from tests.conftest import full_and_resumed, logged_rows

CARTPOLE = ["env.id=CartPole-v1", "env.algo=a2c", "env.num_envs=4", "env.episodes_per_step=8", "run.progress=false",
            "run.threads=1", "run.log_every=1", "run.trackers=none", "env.eval_episodes=4"]


def _episodes(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n, t = len(lengths), max(lengths)
    mask = torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    rewards = torch.where(mask, torch.randn(n, t, generator=g), torch.zeros(n, t))
    values = torch.where(mask, torch.randn(n, t, generator=g), torch.zeros(n, t))
    last = torch.randn(n, generator=g)
    return rewards, values, last, mask


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4), seed=st.integers(0, 1000),
       gamma=st.floats(0.5, 1.0), lam=st.floats(0.0, 1.0))
def test_gae_is_the_discounted_sum_of_td_errors(lengths, seed, gamma, lam):
    rewards, values, last, mask = _episodes(lengths, seed)
    adv = gae(rewards, values, last, mask, gamma, lam)
    for i, n in enumerate(lengths):  # the textbook loop, one episode at a time
        following = torch.cat([values[i, 1:n], last[i : i + 1]])
        delta = rewards[i, :n] + gamma * following - values[i, :n]
        running, want = 0.0, torch.zeros(n)
        for t in range(n - 1, -1, -1):
            running = float(delta[t]) + gamma * lam * running
            want[t] = running
        assert torch.allclose(adv[i, :n], want, atol=1e-5)
        assert torch.all(adv[i, n:] == 0)


def test_gae_with_lambda_one_is_the_bootstrapped_return_minus_the_value():
    rewards, values, last, mask = _episodes([5, 3, 6], 3)
    bootstrapped = rewards.clone()
    for i, n in enumerate([5, 3, 6]):
        bootstrapped[i, n - 1] += 0.9 * last[i]
    want = torch.where(mask, reward_to_go(bootstrapped, mask, 0.9) - values, torch.zeros_like(values))
    assert torch.allclose(gae(rewards, values, last, mask, 0.9, 1.0), want, atol=1e-5)


def test_an_interrupted_a2c_run_resumes_bit_identical(tmp_path, monkeypatch):
    cfg = load_config(None, CARTPOLE + ["optim.steps=6", "run.checkpoint_every=3", "run.eval_every=3",
                                        "env.gae_lambda=0.9", "env.max_episode_steps=20"])
    full, resumed = full_and_resumed(cfg, tmp_path, monkeypatch, 5)
    assert resumed.state.step == 3
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    va, vb = full.source.value_head.state_dict(), resumed.source.value_head.state_dict()
    assert all(torch.equal(va[k], vb[k]) for k in va)
    rows = logged_rows(tmp_path / "full")
    assert rows == logged_rows(tmp_path / "stopped") and all(r["mode"] == "a2c" for r in rows)
    assert any(r["truncated"] > 0 for r in rows)  # the bootstrapped path ran


def test_a2c_learns_cartpole_within_seconds(tmp_path):
    cfg = load_config(None, CARTPOLE + ["optim.steps=40", "optim.lr=0.01", "env.num_envs=8", "env.episodes_per_step=16",
                                        "run.eval_every=40", "env.eval_episodes=8"])
    summary = make_trainer(cfg, tmp_path / "run").fit()
    rows = logged_rows(tmp_path / "run")
    assert rows[0]["reward_mean"] < 40
    assert summary["return_mean"] > 150, [r["reward_mean"] for r in rows]


def test_a2c_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ConfigError, match="env.reset_on_reward"):
        make_trainer(load_config(None, CARTPOLE + ["env.reset_on_reward=true"]), tmp_path / "a")
    with pytest.raises(ConfigError, match="run.diagnostics.every: env.algo=a2c"):
        load_config(None, CARTPOLE + ["run.diagnostics.every=5"])
