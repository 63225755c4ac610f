"""A two-state, two-step MDP with a known transition table, as a gymnasium environment, and its
exact expected return as a differentiable function of the policy's action probabilities."""
from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import torch

START = (0.7, 0.3)  # P(s0)
# P[s][a] = probabilities of the next state; R[s][a][s'] = reward of that transition
P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.6, 0.4]]])
R = np.array([[[1.0, -1.0], [0.0, 2.0]], [[-2.0, 0.5], [1.5, 0.0]]])
HORIZON = 2


class TinyMDP(gym.Env):
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.s = 0, int(self.np_random.choice(2, p=START))
        return self.s, {}

    def step(self, action):
        nxt = int(self.np_random.choice(2, p=P[self.s, int(action)]))
        reward = float(R[self.s, int(action), nxt])
        self.s, self.t = nxt, self.t + 1
        return self.s, reward, self.t >= HORIZON, False, {}


def exact_return(probs: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """E[sum_t gamma^t r_t] by enumerating every trajectory; probs (2 states, 2 actions) = pi(a | s)."""
    total = probs.new_zeros(())
    for s0, a0, s1, a1, s2 in itertools.product(range(2), repeat=5):
        p = START[s0] * probs[s0, a0] * P[s0, a0, s1] * probs[s1, a1] * P[s1, a1, s2]
        total = total + p * (R[s0, a0, s1] + gamma * R[s1, a1, s2])
    return total


gym.register("TinyMDP-v0", entry_point=TinyMDP)
