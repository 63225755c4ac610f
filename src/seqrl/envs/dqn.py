"""DQN: a Q-network on the policy torsos, a replay buffer held as tensors (saved with every
checkpoint, no pickle), n-step transitions, a target network (periodic copies or Polyak
averaging), the Huber or squared TD loss, optionally double DQN."""
from __future__ import annotations

from collections import deque
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from seqrl.config import Config
from seqrl.envs.collect import Transitions
from seqrl.envs.policy import obs_shape, torso
from seqrl.envs.qlearning import td_target


class QNetwork(nn.Module):
    """Q(s, .) (M, A) from observations (M, ...): model.kind's torso and a linear head."""

    def __init__(self, cfg: Config, obs_space: Any, n_actions: int) -> None:
        super().__init__()
        self.torso, width = torso(cfg, obs_shape(obs_space))
        self.head = nn.Linear(width, n_actions)

    def forward(self, obs: Tensor) -> Tensor:
        return self.head(self.torso(obs)).float()


class NStep:
    """One-step transitions of E environments, as they are played, turned into n-step ones:
    (s_t, a_t, r_t + gamma r_t+1 + ... + gamma^(m-1) r_t+m-1, s_t+m, terminated, m), with m = n, or
    fewer for the last steps of an episode (then s_t+m is its final observation, and `terminated`
    says whether it has a value to bootstrap from: a time-limit cut has). n = 1 gives the one-step
    transitions themselves, in the same order. Only whole episodes are played per training step,
    so the windows are empty between steps and nothing of them needs a checkpoint."""

    def __init__(self, n: int, gamma: float, num_envs: int) -> None:
        self.n, self.gamma = n, gamma
        self.windows: list[deque[tuple[np.ndarray, Any, float]]] = [deque() for _ in range(num_envs)]

    def push(self, tr: Transitions) -> tuple[np.ndarray, ...]:
        """The n-step transitions completed by this vector step, of the active environments:
        (obs (K, ...), actions (K,), rewards (K,) float32, next_obs (K, ...), terminated (K,), steps (K,))."""
        out: list[tuple[Any, ...]] = []
        for i in np.flatnonzero(tr.active):
            window = self.windows[i]
            window.append((tr.obs[i], tr.actions[i], float(tr.rewards[i])))
            if len(window) == self.n or tr.ended[i]:
                while window:  # the full window's head; at an episode's end, every shorter window after it
                    ret = sum(self.gamma ** k * r for k, (_, _, r) in enumerate(window))
                    head = window.popleft()
                    out.append((head[0], head[1], ret, tr.next_obs[i], bool(tr.terminated[i]), len(window) + 1))
                    if not tr.ended[i]:
                        break
        if not out:
            return (tr.obs[:0], tr.actions[:0], np.zeros(0, np.float32), tr.next_obs[:0], np.zeros(0, bool),
                    np.zeros(0, np.int64))
        obs, actions, rewards, next_obs, terminated, steps = zip(*out)
        return (np.stack(obs), np.asarray(actions), np.asarray(rewards, dtype=np.float32), np.stack(next_obs),
                np.asarray(terminated, dtype=bool), np.asarray(steps, dtype=np.int64))


class ReplayBuffer:
    """A ring of the last `size` transitions; observations kept in the environment's dtype; `steps`
    is each transition's n (its bootstrap is discounted by gamma ** steps)."""

    def __init__(self, size: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype) -> None:
        self.size, self.count, self.pos = size, 0, 0
        self.obs = torch.zeros((size, *obs_shape), dtype=obs_dtype)
        self.next_obs = torch.zeros((size, *obs_shape), dtype=obs_dtype)
        self.actions = torch.zeros(size, dtype=torch.long)
        self.rewards = torch.zeros(size)
        self.terminated = torch.zeros(size, dtype=torch.bool)
        self.steps = torch.ones(size, dtype=torch.long)

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, steps: Union[np.ndarray, None] = None) -> None:
        """Append k transitions (one vector step) after the newest, overwriting the oldest."""
        k = len(actions)
        if k == 0:
            return
        keep = slice(max(k - self.size, 0), k)  # more than the ring holds: only the newest fit
        idx = (self.pos + torch.arange(max(k - self.size, 0), k)) % self.size
        self.obs[idx] = torch.as_tensor(np.asarray(obs)[keep], dtype=self.obs.dtype)
        self.next_obs[idx] = torch.as_tensor(np.asarray(next_obs)[keep], dtype=self.obs.dtype)
        self.actions[idx] = torch.as_tensor(np.asarray(actions)[keep], dtype=torch.long)
        self.rewards[idx] = torch.as_tensor(np.asarray(rewards)[keep], dtype=torch.float32)
        self.terminated[idx] = torch.as_tensor(np.asarray(terminated)[keep], dtype=torch.bool)
        self.steps[idx] = 1 if steps is None else torch.as_tensor(np.asarray(steps)[keep], dtype=torch.long)
        self.pos = (self.pos + k) % self.size
        self.count = min(self.count + k, self.size)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        idx = torch.randint(self.count, (n,), generator=generator)
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.terminated[idx],
                self.steps[idx])

    def state(self) -> tuple[dict[str, Tensor], dict[str, int]]:
        """The filled part as tensors, and the ring's position."""
        n = self.count
        return ({"obs": self.obs[:n], "next_obs": self.next_obs[:n], "actions": self.actions[:n],
                 "rewards": self.rewards[:n], "terminated": self.terminated[:n], "steps": self.steps[:n]},
                {"count": self.count, "pos": self.pos, "size": self.size})

    def load(self, tensors: dict[str, Tensor], meta: dict[str, int]) -> None:
        if meta["size"] != self.size:
            raise ValueError(f"the replay buffer holds {meta['size']} transitions, this run's q.buffer_size "
                             f"is {self.size}")
        n, pos = meta["count"], meta["pos"]
        if not (isinstance(n, int) and isinstance(pos, int) and 0 <= n <= self.size and 0 <= pos < self.size
                and (n == self.size or pos == n)):
            raise ValueError(f"the replay buffer's count {n!r} and position {pos!r} are impossible for its size "
                             f"{self.size} (0 <= count <= size, 0 <= position < size, position = count until full)")
        tensors = {"steps": torch.ones(n, dtype=torch.long), **tensors}  # runs before n-step DQN: all one-step
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "steps"):
            if tuple(tensors[name].shape[:1]) != (n,):
                raise ValueError(f"the replay buffer's {name} holds {tuple(tensors[name].shape)}, not {n} transitions")
            getattr(self, name)[:n] = tensors[name]
        if n and int(self.actions[:n].min()) < 0:
            raise ValueError("the replay buffer holds negative actions")
        if n and int(self.steps[:n].min()) < 1:
            raise ValueError("the replay buffer holds transitions of fewer than one step")
        self.count, self.pos = n, pos


def dqn_loss(online: QNetwork, target: QNetwork, batch: tuple[Tensor, ...], gamma: float, double: bool,
             loss: str) -> tuple[Tensor, Tensor]:
    """The TD loss of a minibatch (obs, actions, rewards, next_obs, terminated on the networks'
    device; steps on the CPU), each bootstrap discounted by gamma ** steps (n-step transitions);
    returns (loss, mean |TD error|)."""
    obs, actions, rewards, next_obs, terminated, steps = batch
    q = online(obs).gather(1, actions.unsqueeze(1)).squeeze(1)  # (M,)
    with torch.no_grad():
        next_q = target(next_obs)  # (M, A)
        if double:  # the online network picks the action, the target network values it
            best = online(next_obs).argmax(dim=1, keepdim=True)
            next_v = next_q.gather(1, best).squeeze(1)
        else:
            next_v = next_q.max(dim=1).values
        y = td_target(rewards, next_v, terminated, discount(gamma, steps).to(rewards.device))
    err = q - y
    value = nn.functional.smooth_l1_loss(q, y) if loss == "huber" else (err ** 2).mean()
    return value, err.abs().mean().detach()


def discount(gamma: float, steps: Tensor) -> Tensor:
    """gamma ** steps (M,) as float32, computed in float64 on the CPU (every device has it there)."""
    return torch.pow(torch.tensor(gamma, dtype=torch.float64), steps.cpu().double()).float()


@torch.no_grad()
def polyak(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- tau * online + (1 - tau) * target (tau = 1: a copy), all tensors in one call each."""
    mine = list(target.parameters())
    torch._foreach_mul_(mine, 1.0 - tau)
    torch._foreach_add_(mine, list(online.parameters()), alpha=tau)
