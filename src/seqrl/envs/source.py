"""The environment source: a gymnasium vector env, the policy acting in it, its optimizer and
value baseline, one REINFORCE update per step and greedy validation episodes."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

import numpy as np
import torch

from seqrl.config import Config
from seqrl.curriculum import learning_rate
from seqrl.envs.collect import Episodes, play
from seqrl.envs.make import check_spaces, env_seed, make_vector
from seqrl.envs.policy import EnvPolicy, ValueNet
from seqrl.envs.reinforce import reinforce_update
from seqrl.train.device import grad_scaler
from seqrl.train.state import TrainState
from seqrl.train.step import sampling_generator
from seqrl.train.update import build_optimizer

log = logging.getLogger("seqrl")

EVAL_STEP = -1  # validation episodes are seeded as "step -1": the same start states every time


class EnvSource:
    """Builds the environment run of a validated Config (env.id set)."""

    reference = None  # no KL reference for environment runs

    def __init__(self, cfg: Config, device: torch.device,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        self.cfg, self.device = cfg, device
        self.obs_space, self.act_space = check_spaces(cfg)  # before any compute
        torch.manual_seed(cfg.run.seed)
        np.random.seed(cfg.run.seed)
        self.policy = EnvPolicy(cfg, self.obs_space, self.act_space).to(device)
        self.optimizer = build_optimizer(cfg.optim, self.policy.parameters())
        self.value_head: Optional[ValueNet] = None
        self.value_optimizer: Optional[torch.optim.Optimizer] = None
        if cfg.reinforce.baseline == "value":
            self.value_head = ValueNet(cfg, self.obs_space).to(device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=cfg.reinforce.value_lr)
        if init is not None:
            init(self.policy)
        self.scaler = grad_scaler(device, cfg.run.precision)
        self.envs = make_vector(cfg)
        self._eval_envs: Optional[Any] = None

    @property
    def name(self) -> str:
        return f"{str(self.cfg.env.id).replace('/', '-')}-{self.cfg.env.algo}"

    def close(self) -> None:
        for envs in (self.envs, self._eval_envs):
            if envs is not None:
                envs.close()

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None:
        """Environment steps are short: a stop signal is taken between updates."""

    def play(self, step: int, episodes: int, greedy: bool, envs: Any = None) -> Episodes:
        """`episodes` whole episodes seeded by (seed, step): sampled from the policy with the step's
        generator, or greedy (the most likely action)."""
        envs = self.envs if envs is None else envs
        n_env = envs.num_envs
        seeds = [env_seed(self.cfg.run.seed, step, i) for i in range(n_env)]
        if greedy:
            def act(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                a = self.policy.greedy(obs)
                return a, a
        else:
            generator = sampling_generator(self.cfg.run.seed, step)

            def act(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return self.policy.sample(obs, generator)
        return play(envs, act, self.obs_space, episodes, seeds, self.device, step, str(self.cfg.env.id),
                    keep_obs=not greedy)

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        started = time.perf_counter()
        lr = learning_rate(self.cfg.optim, step, True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.policy.train()
        m = reinforce_update(self.cfg, self.policy, self.optimizer, self.value_head, self.value_optimizer,
                             lambda: self.play(step, self.cfg.env.episodes_per_step, greedy=False), step, state,
                             self.scaler)
        elapsed = time.perf_counter() - started
        return {"lr": lr, **m, "step_time": elapsed, "seq_per_s": m["episodes"] / elapsed,
                "tok_per_s": m["env_steps"] / elapsed}

    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """env.eval_episodes greedy episodes, the same start states at every validation."""
        if self._eval_envs is None:
            self._eval_envs = make_vector(self.cfg)
        self.policy.eval()
        eps = self.play(EVAL_STEP, self.cfg.env.eval_episodes, greedy=True, envs=self._eval_envs)
        self.policy.train()
        returns = eps.returns()
        return {"return_mean": float(returns.mean()), "return_std": float(returns.std(unbiased=False)),
                "return_min": float(returns.min()), "return_max": float(returns.max()),
                "length_mean": float(eps.lengths.float().mean()), "episodes": int(returns.shape[0]),
                "samples": [{"episode": i, "return": float(r), "length": int(n)}
                            for i, (r, n) in enumerate(zip(returns, eps.lengths))][: self.cfg.run.eval_samples]}

    def headline(self, metrics: dict[str, Any]) -> float:
        """The mean greedy episode return."""
        return float(metrics["return_mean"])
