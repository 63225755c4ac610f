"""Episodic REINFORCE as a source: a gymnasium vector env, the policy acting in it, its optimizer
and value baseline, one REINFORCE update on whole episodes per step, greedy validation."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from seqrl import seeds
from seqrl.config import Config
from seqrl.envs.episodes import EpisodeSource, play_episodes
from seqrl.envs.policy import EnvPolicy, ValueNet
from seqrl.envs.reinforce import episode_objective, reinforce_update
from seqrl.estimators.diagnostics import flat_grad
from seqrl.train.device import grad_scaler
from seqrl.train.distributed import World
from seqrl.train.source import Holdings
from seqrl.train.state import TrainState
from seqrl.train.update import build_optimizer, set_learning_rate


log = logging.getLogger("seqrl")

SMALL_BATCH = 8  # env.standardize_returns below this many episodes per step: a warning


class ReinforceSource(EpisodeSource):
    """env.algo = reinforce: the score-function estimator on whole episodes."""

    keep_obs = True  # the update scores the sampled episodes' observations

    def __init__(self, cfg: Config, world: World, run_dir: Path, reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        # env.reset_on_reward: every point restarts the return, so even a few episodes (Pong's 21-point
        # games) hold many independent returns to standardise over
        if cfg.env.standardize_returns and cfg.env.episodes_per_step < SMALL_BATCH and not cfg.env.reset_on_reward:
            log.warning("env.standardize_returns with env.episodes_per_step=%d: standardising the advantages of "
                        "so few episodes shrinks the gradient (measured: its length x0.62 at 2 episodes per step, "
                        "within 2%% from 16); use %d or more episodes per step, or turn it off",
                        cfg.env.episodes_per_step, SMALL_BATCH)
        self._start(cfg, world, reward_fn)
        self.policy = EnvPolicy(cfg, self.obs_space, self.act_space).to(self.device)
        self.optimizer = build_optimizer(cfg.optim, self.policy.parameters())
        self.value_head: Optional[ValueNet] = None
        self.value_optimizer: Optional[torch.optim.Optimizer] = None
        if cfg.reinforce.baseline == "value":
            self.value_head = ValueNet(cfg, self.obs_space).to(self.device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=cfg.reinforce.value_lr)
        if init is not None:
            init(self.policy)
        self.scaler = grad_scaler(self.device, cfg.run.precision)

    def holdings(self) -> Holdings:
        modules: dict[str, torch.nn.Module] = {"policy": self.policy}
        optimizers = {"optim": self.optimizer}
        if self.value_head is not None and self.value_optimizer is not None:
            modules["value"], optimizers["value_optim"] = self.value_head, self.value_optimizer
        return Holdings(modules, optimizers, self.scaler)

    def act(self, obs: torch.Tensor, greedy: bool, generator: Optional[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the policy drew, what the environment receives) at observations (E, ...)."""
        if greedy:
            a = self.policy.greedy(obs)
            return a, a
        assert generator is not None
        return self.policy.sample(obs, generator)

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        lr = set_learning_rate(self.optimizer, self.cfg.optim, step)
        self.policy.train()
        m = reinforce_update(self.cfg, self.policy, self.optimizer, self.value_head, self.value_optimizer,
                             lambda: self.play(step, self.cfg.env.episodes_per_step, greedy=False), step, state,
                             self.scaler)
        return {"lr": lr, **m}

    def gradient_estimates(self, step: int, state: TrainState, baselines: Sequence[str],
                           repeats: int) -> dict[str, list[torch.Tensor]]:
        """`repeats` flat gradients of `step`'s loss per baseline (run.diagnostics): episodes from
        the step's own start states with fresh actions, each batch shared by every baseline."""
        params = [q for q in self.policy.parameters() if q.requires_grad]
        self.policy.train()
        out: dict[str, list[torch.Tensor]] = {b: [] for b in baselines}
        for r in range(repeats):
            eps = play_episodes(self, step, self.cfg.env.episodes_per_step, False,
                                generator=seeds.diagnostic(self.cfg.run.seed, step, r))
            for b in baselines:
                o = episode_objective(self.cfg, self.policy, self.value_head, eps, b, state.ema)
                out[b].append(flat_grad(o.loss, params))
        return out
