"""Value-based learning, the contrast the texts draw with REINFORCE: epsilon-greedy acting, the TD
target, and tabular Q-learning, as pure functions and one small module holding the table."""
from __future__ import annotations

from typing import Union

import numpy as np
import torch
from torch import Tensor, nn

from seqrl.config import Config


def epsilon(cfg: Config, env_steps: int) -> float:
    """Linear schedule from q.epsilon_start to q.epsilon_end over q.exploration_steps env steps."""
    q = cfg.q
    frac = min(1.0, env_steps / q.exploration_steps)
    return q.epsilon_start + frac * (q.epsilon_end - q.epsilon_start)


def epsilon_greedy(q_values: Tensor, eps: float, generator: torch.Generator) -> Tensor:
    """(E, A) Q-values -> (E,) actions: uniform with probability eps, else the argmax (the lowest
    index among ties). The draws come from `generator` (CPU), two per row whatever eps is, so the
    stream does not depend on the schedule."""
    n, a = q_values.shape
    explore = torch.rand(n, generator=generator) < eps
    random_action = torch.randint(a, (n,), generator=generator)
    greedy = q_values.argmax(dim=1).cpu()
    return torch.where(explore, random_action, greedy).to(q_values.device)


def td_target(rewards: Tensor, next_values: Tensor, terminated: Tensor, gamma: Union[float, Tensor]) -> Tensor:
    """r + gamma * V(s') for transitions that did not terminate, r where they did; (N,). `gamma` may
    be (N,): each transition's own discount (gamma ** n for n-step ones)."""
    return rewards + gamma * torch.where(terminated, torch.zeros_like(next_values), next_values)


class QTable(nn.Module):
    """Q(s, a) for Discrete observations; `forward` takes one-hot states (E, S) like every policy."""

    def __init__(self, n_states: int, n_actions: int, init: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("q", torch.full((n_states, n_actions), float(init), dtype=torch.float64))

    def forward(self, onehot: Tensor) -> Tensor:
        """Q(s, .) (E, A) where the states come from; the table itself stays on the CPU."""
        return self.q[onehot.argmax(dim=1).cpu()].to(onehot.device)

    def update(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_states: np.ndarray,
               terminated: np.ndarray, alpha: float, gamma: float) -> float:
        """Q(s, a) += alpha (r + gamma max_a' Q(s', a') [not terminated] - Q(s, a)), one transition
        after another (two environments in the same state see each other's update); returns the
        mean |TD error|."""
        table = self.q.numpy()  # the buffer's own memory (CPU): updated in place
        errors = []
        for s, a, r, s2, done in zip(states, actions, rewards, next_states, terminated):
            target = float(r) + (0.0 if done else gamma * table[int(s2)].max())
            error = target - table[int(s), int(a)]
            table[int(s), int(a)] += alpha * error
            errors.append(abs(error))
        return float(np.mean(errors)) if errors else 0.0
