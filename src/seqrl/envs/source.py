"""The environment source: a gymnasium vector env, the policy acting in it, its optimizer and
value baseline, one REINFORCE update per step and greedy validation episodes."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional, Sequence

import torch

from seqrl.config import Config
from seqrl.curriculum import learning_rate
from seqrl.envs.collect import Episodes, Transitions, play
from seqrl import seeds
from seqrl.envs.make import Environments, check_spaces
from seqrl.envs.policy import EnvPolicy, ValueNet
from seqrl.envs.reinforce import episode_objective, reinforce_update
from seqrl.estimators.diagnostics import flat_grad
from seqrl.train.device import grad_scaler
from seqrl.train.state import TrainState
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
        seeds.seed_global(cfg.run.seed)
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
        self.environments = Environments(cfg)

    def close(self) -> None:
        """Close the environments (a later play or validation makes new ones)."""
        self.environments.close()

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None:
        """Environment steps are short: a stop signal is taken between updates."""

    def act(self, obs: torch.Tensor, greedy: bool, generator: Optional[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the policy drew, what the environment receives) at observations (E, ...)."""
        if greedy:
            a = self.policy.greedy(obs)
            return a, a
        assert generator is not None
        return self.policy.sample(obs, generator)

    def play(self, step: int, episodes: int, greedy: bool, envs: Any = None) -> Episodes:
        """`episodes` whole episodes seeded by (seed, step), sampled with the step's generator or greedy."""
        return play_episodes(self, step, episodes, greedy, envs, keep_obs=not greedy)

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

    def evaluate(self) -> dict[str, Any]:
        return validate(self)

    def headline(self, metrics: dict[str, Any]) -> float:
        """The mean greedy episode return."""
        return float(metrics["return_mean"])


def play_episodes(source: Any, step: int, episodes: int, greedy: bool, envs: Any = None, keep_obs: bool = True,
                  observe: Optional[Callable[[Transitions], None]] = None,
                  generator: Optional[torch.Generator] = None) -> Episodes:
    """Whole episodes on `envs` (default the source's own), reset with seeds from (seed, step, index);
    the actions come from `source.act` with the step's sampling generator (or `generator`)."""
    cfg = source.cfg
    envs = source.environments.train if envs is None else envs
    resets = [seeds.env_reset(cfg.run.seed, step, i) for i in range(envs.num_envs)]
    if generator is None and not greedy:
        generator = seeds.sampling(cfg.run.seed, step)
    return play(envs, lambda obs: source.act(obs, greedy, generator), source.obs_space, episodes, resets,
                source.device, step, str(cfg.env.id), keep_obs=keep_obs, observe=observe)


@torch.no_grad()
def validate(source: Any) -> dict[str, Any]:
    """env.eval_episodes greedy episodes on their own environments, the same start states every time."""
    source.policy.eval()
    eps = play_episodes(source, EVAL_STEP, source.cfg.env.eval_episodes, True, source.environments.eval,
                        keep_obs=False)
    source.policy.train()
    returns = eps.returns()
    return {"return_mean": float(returns.mean()), "return_std": float(returns.std(unbiased=False)),
            "return_min": float(returns.min()), "return_max": float(returns.max()),
            "length_mean": float(eps.lengths.float().mean()), "episodes": int(returns.shape[0]),
            "samples": [{"episode": i, "return": float(r), "length": int(n)}
                        for i, (r, n) in enumerate(zip(returns, eps.lengths))][: source.cfg.run.eval_samples]}
