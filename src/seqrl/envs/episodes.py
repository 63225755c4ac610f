"""What every environment source shares: whole episodes seeded by (seed, step, environment) and
acted by the source's policy, and greedy validation episodes on their own environments."""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from seqrl import seeds
from seqrl.config import Config, ConfigError
from seqrl.envs.collect import Episodes, Transitions, play
from seqrl.envs.make import Environments, check_spaces
from seqrl.train.distributed import World

EVAL_STEP = -1  # validation episodes are seeded as "step -1": the same start states every time


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
                source.device, step, str(cfg.env.id), keep_obs=keep_obs, observe=observe,
                step_timeout=cfg.env.step_timeout)


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


class EpisodeSource:
    """What the environment sources (REINFORCE, A2C, Q-learning, DQN) share: the checks and the
    spaces before any compute, the environments, playing and validating whole episodes. Each
    source calls `_start` first in its constructor, then builds its own networks; `keep_obs`:
    whether sampled episodes keep their observations (a policy-gradient update scores them)."""

    keep_obs = False

    def _start(self, cfg: Config, world: World, reward_fn: Optional[Callable[..., Any]]) -> None:
        if reward_fn is not None:
            raise ConfigError("reward_fn: an environment run's reward is the environment's own")
        if world.distributed:
            raise ConfigError("env.id: environment runs train in one process (torchrun is for sequence runs)")
        self.cfg, self.world, self.device = cfg, world, world.device
        self.obs_space, self.act_space = check_spaces(cfg)  # before any compute
        seeds.seed_global(cfg.run.seed)
        self.environments = Environments(cfg)

    def close(self) -> None:
        """Close the environments (a later play or validation makes new ones)."""
        self.environments.close()

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None:
        """Environment steps are short: a stop signal is taken between updates."""

    def play(self, step: int, episodes: int, greedy: bool, envs: Any = None) -> Episodes:
        """`episodes` whole episodes seeded by (seed, step), sampled with the step's generator or greedy."""
        return play_episodes(self, step, episodes, greedy, envs, keep_obs=self.keep_obs and not greedy)

    def gradient_estimates(self, step: int, state: Any, baselines: Any, repeats: int) -> Any:
        """run.diagnostics compares REINFORCE's baselines; other algorithms have none (the config
        refuses run.diagnostics for them)."""
        return None

    def evaluate(self) -> dict[str, Any]:
        return validate(self)

    def headline(self, metrics: dict[str, Any]) -> float:
        """The number run.stop_at and the best checkpoint track: the mean greedy episode return."""
        return float(metrics["return_mean"])
