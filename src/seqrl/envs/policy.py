"""Policies that act in gymnasium environments: a torso (MLP for vectors, the Atari CNN for images)
and a head, Categorical for Discrete actions or Gaussian for Box actions; plus the learned
state-value function of the `value` baseline (its own network, so no gradient reaches the policy).

Sampling takes a CPU generator (seeded by (seed, step)), so a step's actions are a pure function of
the step, on any device.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from seqrl.config import Config


class Scored(NamedTuple):
    """log-probabilities (M,) of given actions, the policy's entropy (M,) at those observations."""

    logprobs: Tensor
    entropy: Tensor


def _activation(name: str) -> nn.Module:
    return nn.Tanh() if name == "tanh" else nn.ReLU()


def torso(cfg: Config, obs_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    """The feature extractor and its width. mlp: flatten, model.layers x (Linear(hidden_dim),
    activation). cnn: the Atari DQN torso (32x8/4, 64x4/2, 64x3/1) then Linear(hidden_dim)."""
    m, act = cfg.model, cfg.model.activation
    if m.kind == "cnn":
        channels = obs_shape[0] if len(obs_shape) == 3 else 1
        conv = nn.Sequential(nn.Conv2d(channels, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
                             nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            flat = conv(torch.zeros(1, channels, *obs_shape[-2:])).shape[1]
        return nn.Sequential(_Images(), conv, nn.Linear(flat, m.hidden_dim), _activation(act)), m.hidden_dim
    layers: list[nn.Module] = [nn.Flatten()]
    width = int(np.prod(obs_shape))
    for _ in range(m.layers):
        layers += [nn.Linear(width, m.hidden_dim), _activation(act)]
        width = m.hidden_dim
    return nn.Sequential(*layers), width


class _Images(nn.Module):
    """(M, H, W) -> (M, 1, H, W); (M, C, H, W) unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1) if x.dim() == 3 else x


def encode(obs: Any, space: Any, device: torch.device) -> Tensor:
    """Observations of a batch as float32 on `device`: one-hot for a Discrete space (M, n)."""
    x = torch.as_tensor(np.asarray(obs), device=device)
    if space.shape == ():  # Discrete
        return nn.functional.one_hot(x.long(), int(space.n)).float()
    return x.float()


def obs_shape(space: Any) -> tuple[int, ...]:
    """The shape a policy sees: (n,) for a Discrete space (one-hot), else the Box's shape."""
    return (int(space.n),) if space.shape == () else tuple(space.shape)


class EnvPolicy(nn.Module):
    """pi(a | s). Discrete: logits over actions. Box: a Gaussian with a learned state-independent
    log-std; env.continuous=clip samples N(mu, sigma) and the environment receives it clipped to
    the bounds (the log-prob is the unclipped sample's), tanh squashes it into the bounds (the
    log-prob carries the tanh Jacobian)."""

    def __init__(self, cfg: Config, obs_space: Any, act_space: Any) -> None:
        super().__init__()
        self.obs_space, self.act_space = obs_space, act_space
        self.discrete = act_space.shape == ()
        self.squash = cfg.env.continuous == "tanh"
        self.torso, width = torso(cfg, obs_shape(obs_space))
        if self.discrete:
            self.head = nn.Linear(width, int(act_space.n))
        else:
            dim = int(np.prod(act_space.shape))
            self.head = nn.Linear(width, dim)
            self.log_std = nn.Parameter(torch.zeros(dim))
            low, high = (torch.as_tensor(b, dtype=torch.float32).reshape(-1) for b in (act_space.low, act_space.high))
            self.register_buffer("low", low, persistent=False)
            self.register_buffer("high", high, persistent=False)
        self.feature_dim = width

    def distribution(self, obs: Tensor) -> torch.distributions.Distribution:
        out = self.head(self.torso(obs)).float()  # the distribution in float32 under autocast too
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Normal(out, self.log_std.float().exp().expand_as(out))

    @torch.no_grad()
    def sample(self, obs: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(actions the policy drew, the environment's actions): (M,) ints, or (M, D) floats (raw
        Gaussian draws, and the clipped or squashed ones the environment receives)."""
        dist = self.distribution(obs)
        if self.discrete:
            u = torch.rand(obs.shape[0], 1, dtype=torch.float64, generator=generator).to(obs.device)
            cdf = dist.probs.double().cumsum(dim=1)
            action = (cdf < u * cdf[:, -1:]).sum(dim=1).clamp(max=cdf.shape[1] - 1)  # inverse CDF
            return action, action
        noise = torch.randn(dist.mean.shape, generator=generator).to(obs.device)
        raw = dist.mean + dist.stddev * noise
        return raw, self.to_env(raw)

    @torch.no_grad()
    def greedy(self, obs: Tensor) -> Tensor:
        """The most likely action (the mode), as the environment receives it."""
        dist = self.distribution(obs)
        return dist.probs.argmax(dim=1) if self.discrete else self.to_env(dist.mean)

    def to_env(self, raw: Tensor) -> Tensor:
        if self.squash:
            return self.low + (torch.tanh(raw) + 1) * 0.5 * (self.high - self.low)
        return torch.maximum(torch.minimum(raw, self.high), self.low)

    def score(self, obs: Tensor, actions: Tensor) -> Scored:
        """log pi(a | s) (M,) with grad, and the entropy (M,) (Gaussian: of the unsquashed draw)."""
        dist = self.distribution(obs)
        if self.discrete:
            return Scored(dist.log_prob(actions), dist.entropy())
        logp = dist.log_prob(actions).sum(dim=1)
        if self.squash:  # change of variables through a = low + (tanh(x) + 1) (high - low) / 2
            scale = torch.log((self.high - self.low) * 0.5).sum()
            logp = logp - (2 * (math.log(2) - actions - nn.functional.softplus(-2 * actions))).sum(dim=1) - scale
        return Scored(logp, dist.entropy().sum(dim=1))


class ValueNet(nn.Module):
    """V(s): the policy's torso architecture with its own weights and a scalar head, fitted to the
    returns by squared error; the advantage uses it detached, so neither network trains the other."""

    def __init__(self, cfg: Config, obs_space: Any) -> None:
        super().__init__()
        self.torso, width = torso(cfg, obs_shape(obs_space))
        self.head = nn.Linear(width, 1)

    def forward(self, obs: Tensor) -> Tensor:
        """(M, ...) -> (M,)"""
        return self.head(self.torso(obs)).squeeze(-1).float()
