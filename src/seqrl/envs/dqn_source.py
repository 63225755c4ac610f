"""DQN as a source: a Q-network, its target network and replay buffer; whole episodes are played
per training step (envs.value_step) and minibatch updates run as they play. The target network
and the buffer are in every checkpoint, so a resumed run is bit-exact."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from seqrl import seeds
from seqrl.config import Config
from seqrl.envs.collect import Transitions
from seqrl.envs.episodes import EpisodeSource
from seqrl.envs.dqn import NStep, QNetwork, ReplayBuffer, dqn_loss, polyak
from seqrl.envs.policy import encode
from seqrl.envs.value_step import EpsilonGreedy, discrete_actions, value_step
from seqrl.train.distributed import World
from seqrl.train.source import ExtraState, Holdings
from seqrl.train.state import TrainState
from seqrl.train.update import apply_update, build_optimizer, set_learning_rate


class DQNSource(EpisodeSource):
    """env.algo = dqn."""

    def __init__(self, cfg: Config, world: World, run_dir: Path, reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        self._start(cfg, world, reward_fn)
        n_actions = discrete_actions(cfg, self.act_space)
        self.policy = QNetwork(cfg, self.obs_space, n_actions).to(self.device)
        self.optimizer = build_optimizer(cfg.optim, self.policy.parameters())
        dtype = torch.from_numpy(np.zeros(0, dtype=self.obs_space.dtype)).dtype
        self.buffer = ReplayBuffer(cfg.q.buffer_size, tuple(self.obs_space.shape), dtype)
        if init is not None:
            init(self.policy)
        self.target = copy.deepcopy(self.policy).requires_grad_(False)
        self.act = EpsilonGreedy(cfg, self.policy)

    def holdings(self) -> Holdings:
        return Holdings({"policy": self.policy}, {"optim": self.optimizer}, save_extra=self._save_extra,
                        load_extra=self._load_extra)

    def _save_extra(self) -> ExtraState:
        tensors, meta = self.buffer.state()
        out = {f"buffer.{k}": v for k, v in tensors.items()}
        out.update({f"target.{k}": v for k, v in self.target.state_dict().items()})
        return out, {"buffer": meta}

    def _load_extra(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.buffer.load({k[len("buffer."):]: v for k, v in tensors.items() if k.startswith("buffer.")}, meta["buffer"])
        self.target.load_state_dict({k[len("target."):]: v for k, v in tensors.items() if k.startswith("target.")})

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        q = self.cfg.q
        lr = set_learning_rate(self.optimizer, self.cfg.optim, step)
        generator = seeds.minibatch(self.cfg.run.seed, step)
        m: dict[str, Any] = {"mode": "dqn", "lr": lr}
        counts = {"updates": 0, "td": 0.0, "loss": 0.0}
        n_step = NStep(q.n_step, self.cfg.env.gamma, self.cfg.env.num_envs)

        def learn(tr: Transitions, before: int, after: int) -> None:
            self.buffer.add(*n_step.push(tr))
            if after >= q.learning_starts and after // q.train_every > before // q.train_every:
                for _ in range(q.gradient_steps):
                    self._update(generator, step, m, counts)
            if q.tau >= 1.0 and after // q.target_update > before // q.target_update:
                self.target.load_state_dict(self.policy.state_dict())

        return value_step(self, self.act, step, state, learn, m, counts, True)

    def _update(self, generator: torch.Generator, step: int, m: dict[str, Any], counts: dict[str, Any]) -> None:
        """One minibatch update (and a Polyak step of the target when q.tau < 1)."""
        q = self.cfg.q
        obs, actions, rewards, next_obs, terminated, steps = self.buffer.sample(self.cfg.optim.batch_size, generator)
        batch = (encode(obs, self.obs_space, self.device), actions.to(self.device), rewards.to(self.device),
                 encode(next_obs, self.obs_space, self.device), terminated.to(self.device), steps)
        loss, td = dqn_loss(self.policy, self.target, batch, self.cfg.env.gamma, q.double, q.loss)
        apply_update(loss, self.optimizer, list(self.policy.parameters()), self.cfg.optim.grad_clip, step, m)
        if q.tau < 1.0:
            polyak(self.target, self.policy, q.tau)
        counts["updates"] += 1
        counts["td"] += float(td)
        counts["loss"] += float(loss.detach())
