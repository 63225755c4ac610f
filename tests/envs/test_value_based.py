"""Q-learning and DQN, the value-based contrast: Q-learning converges to Q* of a known MDP, both
resume exactly (the replay buffer is in the checkpoint), and bad set-ups are config errors."""
from __future__ import annotations

import pytest

pytest.importorskip("gymnasium")

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.config import ConfigError, load_config
from seqrl.envs.collect import Transitions
from seqrl.envs.dqn import NStep, ReplayBuffer, dqn_loss, polyak
from seqrl.envs.qlearning import epsilon, epsilon_greedy, td_target
from seqrl.run import jsonl
from seqrl.train import checkpoint as ckpt
from seqrl.sources import make_trainer
from tests.conftest import full_and_resumed, logged_rows
from tests.envs.tiny_mdp import CHAIN_GAMMA, chain_q_star

QUIET = ["run.progress=false", "run.trackers=none", "run.threads=1", "run.log_every=1"]


_metrics = logged_rows


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 9), steps=st.lists(st.integers(0, 12), max_size=8))
def test_the_replay_ring_keeps_the_newest_transitions_in_order(size, steps):
    buf, written = ReplayBuffer(size, (2,), torch.float32), []
    for k in steps:  # one vector step of k environments: transition ids 0, 1, 2, ...
        ids = np.arange(len(written), len(written) + k)
        written.extend(ids.tolist())
        buf.add(np.stack([ids, -ids], 1).reshape(k, 2), ids, ids * 0.5, np.stack([ids, ids], 1).reshape(k, 2),
                ids % 2 == 0)
    assert buf.count == min(len(written), size) and buf.pos == len(written) % size
    for slot in range(buf.count):  # slot j holds the newest transition written there, as a one-by-one ring would
        tid = max(t for t in written if t % size == slot)
        assert buf.actions[slot] == tid and buf.obs[slot].tolist() == [tid, -tid] and buf.rewards[slot] == tid * 0.5
        assert bool(buf.terminated[slot]) == (tid % 2 == 0)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 5), gamma=st.sampled_from([0.5, 0.9, 1.0]),
       envs=st.lists(st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1, max_size=3), min_size=1,
                     max_size=3),
       seed=st.integers(0, 10**6))
def test_n_step_transitions_are_the_discounted_sums_of_each_episodes_next_n_rewards(n, gamma, envs, seed):
    """E environments play their episodes (length, terminated or time-limit cut) side by side, the
    finished ones idling inactive; every step of every episode comes out once as an n-step transition."""
    rng = np.random.default_rng(seed)
    ends = [np.cumsum([length for length, _ in eps]) for eps in envs]  # per environment: the env steps at which its episodes end
    rewards = [rng.normal(size=int(e[-1])).round(3) for e in ends]
    acc, got = NStep(n, gamma, len(envs)), []
    for k in range(max(int(e[-1]) for e in ends)):  # vector step k: env i's own step k
        active = np.array([k < e[-1] for e in ends])
        ended = np.array([a and k + 1 in e for a, e in zip(active, ends)])
        term = np.array([a and bool(d) and envs[i][list(ends[i]).index(k + 1)][1]
                         for i, (a, d) in enumerate(zip(active, ended))])
        tr = Transitions(obs=np.array([[i, 2 * k] for i in range(len(envs))], dtype=np.float32),
                         actions=np.array([k] * len(envs)),
                         rewards=np.array([r[k] if k < len(r) else np.nan for r in rewards], dtype=np.float32),
                         next_obs=np.array([[i, 2 * k + 1] for i in range(len(envs))], dtype=np.float32),
                         terminated=term, ended=ended, active=active)
        got.extend(zip(*acc.push(tr)))
    want = []
    for i, eps in enumerate(envs):
        start = 0
        for (length, term), end in zip(eps, ends[i]):
            for t in range(start, int(end)):
                m = min(n, int(end) - t)
                ret = sum(gamma ** j * float(np.float32(rewards[i][t + j])) for j in range(m))
                want.append((i, t, float(np.float32(ret)), 2 * (t + m - 1) + 1, term and t + m == end, m))
            start = int(end)
    assert sorted((int(o[0]), int(o[1]) // 2, float(r), int(no[1]), bool(d), int(m))
                  for o, a, r, no, d, m in got) == sorted(want)
    assert all(len(w) == 0 for w in acc.windows)  # whole episodes: nothing is left for the next training step
    assert all(int(a) == int(o[1]) // 2 for o, a, *_ in got)  # each transition keeps its first step's action


def test_one_step_transitions_pass_through_unchanged_and_n_step_ones_discount_by_gamma_to_the_n():
    tr = Transitions(obs=np.array([[0.0], [1.0], [2.0]]), actions=np.array([1, 0, 1]),
                     rewards=np.array([0.5, 1.5, 2.5], dtype=np.float32), next_obs=np.array([[3.0], [4.0], [5.0]]),
                     terminated=np.array([False, True, False]), ended=np.array([False, True, True]),
                     active=np.array([True, True, False]))
    obs, actions, rewards, next_obs, terminated, steps = NStep(1, 0.9, 3).push(tr)
    assert obs.tolist() == [[0.0], [1.0]] and actions.tolist() == [1, 0] and rewards.tolist() == [0.5, 1.5]
    assert next_obs.tolist() == [[3.0], [4.0]] and terminated.tolist() == [False, True] and steps.tolist() == [1, 1]
    online = target = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        online.weight.fill_(1.0)  # Q(s) = s for the one action
    batch = (torch.tensor([[0.0]]), torch.tensor([0]), torch.tensor([1.0]), torch.tensor([[10.0]]),
             torch.tensor([False]), torch.tensor([3]))
    loss, _ = dqn_loss(online, target, batch, 0.5, double=False, loss="mse")
    assert float(loss.detach()) == pytest.approx((0.0 - (1.0 + 0.5 ** 3 * 10.0)) ** 2)


def test_a_replay_buffer_saved_before_n_step_dqn_loads_as_one_step_transitions():
    old = ReplayBuffer(4, (1,), torch.float32)
    old.add(np.zeros((3, 1)), np.array([0, 1, 0]), np.ones(3), np.ones((3, 1)), np.zeros(3, bool), np.array([2, 2, 1]))
    tensors, meta = old.state()
    assert tensors["steps"].tolist() == [2, 2, 1]
    del tensors["steps"]  # what a checkpoint of an earlier seqrl holds
    new = ReplayBuffer(4, (1,), torch.float32)
    new.load(tensors, meta)
    assert new.steps[:3].tolist() == [1, 1, 1] and new.count == 3
    tensors["steps"] = torch.tensor([1, 0, 1])
    with pytest.raises(ValueError, match="fewer than one step"):
        new.load(tensors, meta)


def test_q_learning_converges_to_the_value_iteration_q_star(tmp_path):
    import tests.envs.tiny_mdp  # noqa: F401 - registers ChainMDP-v0

    cfg = load_config(None, QUIET + ["env.id=ChainMDP-v0", "env.algo=q_learning", f"env.gamma={CHAIN_GAMMA}",
                                     "q.epsilon_start=1.0", "q.epsilon_end=1.0", "optim.lr=0.05",
                                     "optim.lr_decay=linear", "env.num_envs=2", "env.episodes_per_step=50",
                                     "optim.steps=60", "run.eval_every=60", "env.eval_episodes=2"])
    trainer = make_trainer(cfg, tmp_path / "run")
    trainer.fit()
    learned = trainer.source.policy.q.numpy()
    assert np.abs(learned[:3] - chain_q_star()[:3]).max() < 0.05, (learned, chain_q_star())


def test_the_schedule_and_the_targets_are_the_textbook_ones():
    cfg = load_config(None, ["env.id=CartPole-v1", "env.algo=dqn", "q.epsilon_start=1.0", "q.epsilon_end=0.1",
                             "q.exploration_steps=100"])
    assert [epsilon(cfg, s) for s in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    y = td_target(torch.tensor([1.0, 1.0]), torch.tensor([5.0, 5.0]), torch.tensor([False, True]), 0.9)
    assert y.tolist() == pytest.approx([5.5, 1.0])
    q = torch.tensor([[0.0, 2.0, 1.0]] * 4000)
    actions = epsilon_greedy(q, 0.3, torch.Generator().manual_seed(0))
    share_greedy = float((actions == 1).float().mean())
    assert share_greedy == pytest.approx(0.7 + 0.3 / 3, abs=0.03)


def test_double_dqn_values_the_online_networks_choice_with_the_target_network():
    online, target = torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))  # online prefers action 1 at next_obs
        target.weight.copy_(torch.tensor([[5.0, 0.0], [0.0, 1.0]]))  # target prefers action 0
    batch = (torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.tensor([0.0]), torch.tensor([[1.0, 1.0]]),
             torch.tensor([False]), torch.tensor([1]))
    plain, _ = dqn_loss(online, target, batch, 1.0, double=False, loss="mse")
    double, _ = dqn_loss(online, target, batch, 1.0, double=True, loss="mse")
    assert float(plain.detach()) == pytest.approx((1.0 - 5.0) ** 2)  # max of the target: 5
    assert float(double.detach()) == pytest.approx((1.0 - 1.0) ** 2)  # the target's value of action 1: 1
    polyak(target, online, 0.25)
    assert target.weight.flatten().tolist() == pytest.approx([4.0, 0.0, 0.0, 1.25])


@pytest.mark.parametrize("algo,extra", [
    ("dqn", ["env.id=CartPole-v1", "q.learning_starts=50", "q.target_update=40", "q.buffer_size=300",
             "model.hidden_dim=16"]),
    ("dqn", ["env.id=CartPole-v1", "q.learning_starts=50", "q.tau=0.1", "q.double=true", "q.buffer_size=5000",
             "model.hidden_dim=16", "q.train_every=2", "q.gradient_steps=2"]),
    ("dqn", ["env.id=CartPole-v1", "q.learning_starts=50", "q.tau=0.1", "q.n_step=3", "q.buffer_size=5000",
             "model.hidden_dim=16"]),
    ("q_learning", ["env.id=FrozenLake-v1", "optim.lr=0.1"])])
def test_an_interrupted_value_based_run_resumes_bit_identical(tmp_path, monkeypatch, algo, extra):
    cfg = load_config(None, QUIET + extra + [f"env.algo={algo}", "env.num_envs=2", "env.episodes_per_step=4",
                                             "optim.steps=6", "run.checkpoint_every=3", "run.eval_every=3",
                                             "env.eval_episodes=2"])
    full, resumed = full_and_resumed(cfg, tmp_path, monkeypatch, 5)
    assert resumed.state.step == 3
    if algo == "dqn":
        assert resumed.source.buffer.count == min(resumed.state.tokens, cfg.q.buffer_size) > 0  # the buffer came back
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(tmp_path / "full") == _metrics(tmp_path / "stopped")
    if algo == "dqn":
        tensors, _ = ckpt.load_checkpoint(ckpt.list_checkpoints(tmp_path / "full" / "checkpoints")[-1][1])
        assert any(k.startswith("extra.buffer.") for k in tensors) and any(k.startswith("extra.target.") for k in tensors)


def test_value_based_set_ups_that_cannot_work_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="q_learning keeps a table over Discrete observations"):
        make_trainer(load_config(None, QUIET + ["env.id=CartPole-v1", "env.algo=q_learning"]), tmp_path / "a")
    with pytest.raises(ConfigError, match="Q-learning and DQN need Discrete actions"):
        make_trainer(load_config(None, QUIET + ["env.id=Pendulum-v1", "env.algo=dqn"]), tmp_path / "b")
    with pytest.raises(ConfigError, match="q.n_step=3: n-step returns are DQN's"):
        load_config(None, ["env.id=FrozenLake-v1", "env.algo=q_learning", "q.n_step=3"])
    with pytest.raises(ConfigError, match="q.n_step"):
        load_config(None, ["env.id=CartPole-v1", "env.algo=dqn", "q.n_step=0"])
    with pytest.raises(ConfigError, match="q.epsilon_end"):
        load_config(None, ["env.id=CartPole-v1", "env.algo=dqn", "q.epsilon_start=0.1", "q.epsilon_end=0.5"])


def test_plot_puts_reinforce_and_dqn_on_one_figure_against_environment_steps(tmp_path):
    from seqrl.cli import main

    base = QUIET + ["env.id=CartPole-v1", "env.num_envs=2", "env.episodes_per_step=2", "optim.steps=2",
                    "run.eval_every=1", "env.eval_episodes=1"]
    for name, algo in (("reinforce", "reinforce"), ("dqn", "dqn")):
        assert main(["train", *base, f"env.algo={algo}", "q.learning_starts=10", "--run-dir", str(tmp_path / name)]) == 0
    rows = list(jsonl.read(tmp_path / "dqn" / "metrics.jsonl"))
    assert rows[-1]["env_steps_total"] == sum(r["env_steps"] for r in rows) > 0
    out = tmp_path / "both.png"
    assert main(["plot", str(tmp_path / "reinforce"), str(tmp_path / "dqn"), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["train", "optim.steps=1", "run.progress=false", "run.eval_every=1", "task.val_size=8",
                 "--run-dir", str(tmp_path / "seq")]) == 0
    assert main(["plot", str(tmp_path / "seq"), str(tmp_path / "dqn"), "-o", str(tmp_path / "mixed.png")]) == 2
