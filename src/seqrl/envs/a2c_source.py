"""Advantage actor-critic (A2C) with GAE(lambda), as a source beside REINFORCE.

Each step plays env.episodes_per_step whole episodes (seeded by (seed, step, environment), like
REINFORCE's, so a resumed run is bit-exact), then one update of the actor and one of the critic:

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t)     (V after the last step: 0 when the episode
                                                   terminated, V(final obs) when a limit cut it)
    A_t     = sum_l (gamma lambda)^l delta_{t+l}  (GAE; lambda = 1: G_t - V(s_t), REINFORCE's
                                                   value baseline with the bootstrap)
    actor:  -sum_t A_t log pi(a_t | s_t) - entropy_coef H,   critic: (V(s_t) - (A_t + V(s_t)))^2

Settings: env.gae_lambda, env.gamma, env.standardize_returns (standardise A per batch), the value
function's reinforce.value_lr, reinforce.entropy_coef and reinforce.normalization; model.* is the
actor's network and the critic's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from seqrl.config import Config, ConfigError
from seqrl.envs.collect import Episodes
from seqrl.envs.episodes import EpisodeSource
from seqrl.envs.policy import ValueNet, encode
from seqrl.envs.reinforce import bootstraps, per_step
from seqrl.envs.reinforce_source import ReinforceSource
from seqrl.estimators import losses
from seqrl.estimators.advantages import standardize
from seqrl.estimators.returns import discount_weights, reward_to_go
from seqrl.train.device import autocast
from seqrl.train.distributed import World
from seqrl.train.state import TrainState
from seqrl.train.update import apply_update, set_learning_rate, update_baselines


def gae(rewards: Tensor, values: Tensor, last_values: Tensor, mask: Tensor, gamma: float,
        lam: float) -> Tensor:
    """GAE(lambda) advantages (N, T) of episodes: rewards and V(s_t) (N, T), `last_values` (N,)
    the value after each episode's last step (0 for a terminated episode), 0 where masked."""
    last = mask & (mask.long().cumsum(dim=1) == mask.sum(dim=1, keepdim=True))  # (N, T)
    following = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)  # V(s_{t+1}) inside
    following = torch.where(last, last_values.unsqueeze(1).expand_as(values), following)
    delta = torch.where(mask, rewards + gamma * following - values, torch.zeros_like(values))
    return reward_to_go(delta, mask, gamma * lam)


class A2CSource(ReinforceSource):
    """env.algo = a2c: REINFORCE's environments, policy, critic and validation; GAE advantages."""

    gradient_estimates = EpisodeSource.gradient_estimates  # no REINFORCE baselines to compare (config refuses)

    def __init__(self, cfg: Config, world: World, run_dir: Path, reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        if cfg.env.reset_on_reward:
            raise ConfigError("env.reset_on_reward: A2C bootstraps every step from the critic; use env.algo=reinforce")
        super().__init__(cfg, world, run_dir, reward_fn, init)
        if self.value_head is None:  # the critic is A2C's own, whatever reinforce.baseline says
            self.value_head = ValueNet(cfg, self.obs_space).to(self.device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=cfg.reinforce.value_lr)

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        lr = set_learning_rate(self.optimizer, self.cfg.optim, step)
        self.policy.train()
        eps = self.play(step, self.cfg.env.episodes_per_step, greedy=False)
        return {"mode": "a2c", "lr": lr, **self._update(eps, step, state)}

    def _update(self, eps: Episodes, step: int, state: TrainState) -> dict[str, Any]:
        cfg, rl, device = self.cfg, self.cfg.reinforce, self.device
        assert self.value_head is not None and self.value_optimizer is not None
        mask = eps.mask.to(device)
        obs = encode(eps.obs, self.policy.obs_space, device)  # (M, ...)
        with autocast(device, cfg.run.precision):
            scored = self.policy.score(obs, eps.actions.to(device))
            predicted = per_step(self.value_head(obs), mask)  # (N, T) V(s_t), grad into the critic only
            with torch.no_grad():
                final = self.value_head(encode(eps.final_obs, self.policy.obs_space, device)).float()
        rewards = eps.rewards.to(device) * cfg.env.reward_scale
        cut = eps.truncated.to(device) & bootstraps(cfg, True)  # env.bootstrap_truncated
        last_values = torch.where(cut, final, torch.zeros_like(final))  # (N,)
        adv = gae(rewards, predicted.detach().float(), last_values, mask, cfg.env.gamma, cfg.env.gae_lambda)
        targets = adv + predicted.detach()  # the lambda-returns the critic regresses on
        if cfg.env.standardize_returns:
            adv = standardize(adv, mask)
        if cfg.env.discount_weighting == "gamma_t":
            adv = adv * discount_weights(mask, cfg.env.gamma)
        n, n_steps = mask.shape[0], float(mask.sum())
        logp, entropy = per_step(scored.logprobs, mask), per_step(scored.entropy, mask)
        mean_entropy = losses.mean_entropy(entropy, mask, n_steps)
        loss = losses.reinforce_loss(logp, adv, mask, n, rl.normalization, n_steps) - rl.entropy_coef * mean_entropy
        v_loss = update_baselines(state, rl, float(targets[:, 0].mean()), predicted, targets, mask, n_steps,
                                  self.value_optimizer)
        m: dict[str, Any] = {}
        grad_norm = apply_update(loss, self.optimizer, list(self.policy.parameters()), cfg.optim.grad_clip, step, m,
                                 self.scaler)
        returns = eps.rewards.sum(dim=1)
        state.sequences += n
        state.tokens += int(n_steps)
        m.update(loss=loss.item(), value_loss=v_loss.item() if v_loss is not None else None, grad_norm=grad_norm,
                 reward_mean=float(returns.mean()), reward_std=float(returns.std(unbiased=False)),
                 entropy=mean_entropy.item(), length_mean=float(eps.lengths.float().mean()),
                 truncated=float(eps.truncated.float().mean()), episodes=n, env_steps=int(n_steps), sequences=n,
                 tokens=int(n_steps), env_steps_total=state.tokens,
                 episode_returns=[round(float(r), 6) for r in returns])
        return m
