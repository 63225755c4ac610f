"""One REINFORCE update on whole episodes, through the estimator core's pure functions.

collect episodes -> (N, T) rewards -> returns (discounted, cut at rewards when asked, truncated
episodes bootstrapped from the value baseline) -> baseline -> advantages -> REINFORCE loss with
entropy bonus -> one update; the value baseline is fitted to the same returns beside it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from seqrl.config import Config
from seqrl.envs.collect import Episodes
from seqrl.envs.policy import EnvPolicy, ValueNet, encode
from seqrl.estimators import losses
from seqrl.estimators.advantages import compute_advantages, standardize
from seqrl.estimators.returns import discount_weights, reward_to_go
from seqrl.train.device import autocast
from seqrl.train.state import TrainState
from seqrl.train.update import apply_update, update_baselines


def bootstrap_truncated(rewards: Tensor, mask: Tensor, truncated: Tensor, final_values: Tensor,
                        gamma: float) -> Tensor:
    """(N, T) rewards with gamma * V(s_final) added to the last step of every truncated episode: a
    time limit cut it, so its return goes on beyond the last step (terminated episodes add 0)."""
    last = mask & (mask.long().cumsum(dim=1) == mask.sum(dim=1, keepdim=True))  # (N, T)
    extra = torch.where(truncated, gamma * final_values, torch.zeros_like(final_values))  # (N,)
    return rewards + torch.where(last, extra.unsqueeze(1), torch.zeros_like(rewards))


def bootstraps(cfg: Config, has_value: bool) -> bool:
    """Whether a truncated episode's return goes on as gamma * V(last state) (env.bootstrap_truncated;
    null: when a value function is trained and env.gamma < 1)."""
    chosen = cfg.env.bootstrap_truncated
    return (has_value and cfg.env.gamma < 1) if chosen is None else chosen


def episode_returns(cfg: Config, eps: Episodes, final_values: Optional[Tensor]) -> Tensor:
    """G_t (N, T) of the episodes: rewards scaled, truncated episodes bootstrapped with
    `final_values` (None: their return ends at the cut, as the texts' agents treat them), the
    return restarted at every non-zero reward when env.reset_on_reward."""
    e = cfg.env
    rewards = eps.rewards * e.reward_scale
    if final_values is not None:
        rewards = bootstrap_truncated(rewards, eps.mask, eps.truncated, final_values, e.gamma)
    cut = (eps.rewards != 0) & eps.mask if e.reset_on_reward else None
    return reward_to_go(rewards, eps.mask, e.gamma, cut)


def per_step(values: Tensor, mask: Tensor) -> Tensor:
    """(M,) per-step values in (episode, t) order -> (N, T), 0 where masked; keeps the graph."""
    return torch.zeros(mask.shape, dtype=values.dtype, device=values.device).masked_scatter(mask, values)


@dataclass
class EpisodeLoss:
    """The REINFORCE objective of a batch of episodes under one baseline (tensors (N, T))."""

    loss: Tensor  # REINFORCE - entropy bonus (grad into the policy)
    returns: Tensor
    baseline: Tensor
    predicted: Optional[Tensor]  # V(s_t) with grad into the value net (value baseline)
    mask: Tensor
    entropy: Tensor  # mean entropy (with grad)


def episode_objective(cfg: Config, policy: EnvPolicy, value: Optional[ValueNet], eps: Episodes, baseline: str,
                      ema: float) -> EpisodeLoss:
    """Score the episodes' actions and build the loss under `baseline` (no side effects)."""
    rl, device = cfg.reinforce, next(policy.parameters()).device
    mask = eps.mask.to(device)
    obs = encode(eps.obs, policy.obs_space, device)  # (M, ...)
    with autocast(device, cfg.run.precision):
        scored = policy.score(obs, eps.actions.to(device))
        predicted = final_values = None
        if value is not None:
            predicted = per_step(value(obs), mask)  # (N, T) V(s_t), with grad into the value net only
            if bootstraps(cfg, True):
                with torch.no_grad():
                    final_values = value(encode(eps.final_obs, policy.obs_space, device))
    logp, entropy = per_step(scored.logprobs, mask), per_step(scored.entropy, mask)  # (N, T)
    eps = eps._replace(rewards=eps.rewards.to(device), mask=mask, truncated=eps.truncated.to(device))
    returns = episode_returns(cfg, eps, final_values)  # (N, T)
    n = mask.shape[0]
    valid = torch.ones(n, dtype=torch.bool, device=device)
    adv, base = compute_advantages(baseline, returns, mask, valid, 1, ema=ema, predicted=predicted)
    if cfg.env.standardize_returns:
        adv = standardize(adv, mask)
    if cfg.env.discount_weighting == "gamma_t":
        adv = adv * discount_weights(mask, cfg.env.gamma)
    n_steps = float(mask.sum())
    loss = losses.reinforce_loss(logp, adv, mask, n, rl.normalization, n_steps)
    mean_entropy = losses.mean_entropy(entropy, mask, n_steps)
    return EpisodeLoss(loss - rl.entropy_coef * mean_entropy, returns, base, predicted, mask, mean_entropy)


def reinforce_update(cfg: Config, policy: EnvPolicy, optimizer: torch.optim.Optimizer,
                     value: Optional[ValueNet], value_optimizer: Optional[torch.optim.Optimizer],
                     collect: Callable[[], Episodes], step: int, state: TrainState,
                     scaler: Optional[Any] = None) -> dict[str, Any]:
    """Collect `env.episodes_per_step` episodes and update once; returns the step's metrics."""
    rl = cfg.reinforce
    m: dict[str, Any] = {"mode": "reinforce"}
    clock = time.perf_counter()
    eps = collect()
    m["time_sample"] = time.perf_counter() - clock
    o = episode_objective(cfg, policy, value, eps, rl.baseline, state.ema)
    mask, returns, n = o.mask, o.returns, o.mask.shape[0]
    n_steps = float(mask.sum())
    g0 = float(returns[:, 0].mean())
    v_loss = update_baselines(state, rl, g0, o.predicted, returns, mask, n_steps, value_optimizer)
    if v_loss is not None:
        m["value_loss"] = v_loss.item()
    grad_norm = apply_update(o.loss, optimizer, list(policy.parameters()), cfg.optim.grad_clip, step, m, scaler)
    episode_returns_ = eps.rewards.sum(dim=1)
    state.sequences += n
    state.tokens += int(n_steps)
    m.update(loss=o.loss.item(), grad_norm=grad_norm, reward_mean=float(episode_returns_.mean()),
             reward_std=float(episode_returns_.std(unbiased=False)), return_mean=g0,
             entropy=o.entropy.item(), baseline_error=float(((returns - o.baseline) ** 2)[mask].mean()),
             length_mean=float(eps.lengths.float().mean()), truncated=float(eps.truncated.float().mean()),
             episodes=n, env_steps=int(n_steps), sequences=n, tokens=int(n_steps),
             env_steps_total=state.tokens,  # every environment step trained on so far
             episode_returns=[round(float(r), 6) for r in episode_returns_])  # in (environment, episode) order
    return m
