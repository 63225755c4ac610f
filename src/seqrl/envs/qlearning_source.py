"""Tabular Q-learning as a source: a Q-table over Discrete observations and actions, updated on
every transition as whole episodes are played (envs.value_step); the table is the checkpoint's
policy."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import torch

from seqrl.config import Config, ConfigError
from seqrl.envs.collect import Transitions
from seqrl.envs.episodes import EpisodeSource
from seqrl.envs.qlearning import QTable
from seqrl.envs.value_step import EpsilonGreedy, discrete_actions, value_step
from seqrl.train.distributed import World
from seqrl.train.source import Holdings
from seqrl.train.state import TrainState
from seqrl.train.update import set_learning_rate


class QLearningSource(EpisodeSource):
    """env.algo = q_learning."""

    def __init__(self, cfg: Config, world: World, run_dir: Path, reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        self._start(cfg, world, reward_fn)
        n_actions = discrete_actions(cfg, self.act_space)
        if self.obs_space.shape != ():
            raise ConfigError(f"env.algo=q_learning keeps a table over Discrete observations; {cfg.env.id} "
                              f"observes {self.obs_space}: use env.algo=dqn")
        self.policy = QTable(int(self.obs_space.n), n_actions, cfg.q.init)
        if init is not None:
            init(self.policy)
        self.act = EpsilonGreedy(cfg, self.policy)

    def holdings(self) -> Holdings:
        return Holdings({"policy": self.policy})  # the table; epsilon follows TrainState.tokens

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        cfg = self.cfg
        lr = set_learning_rate(None, cfg.optim, step)
        counts = {"updates": 0, "td": 0.0, "loss": 0.0}

        def learn(tr: Transitions, before: int, after: int) -> None:
            keep = tr.active
            counts["td"] += self.policy.update(tr.obs[keep], tr.actions[keep], tr.rewards[keep], tr.next_obs[keep],
                                               tr.terminated[keep], lr, cfg.env.gamma)
            counts["updates"] += 1

        return value_step(self, self.act, step, state, learn, {"mode": "q_learning", "lr": lr}, counts, False)
