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


# A 4-state chain for Q-learning: from s, action 1 moves right and 0 left (bounded at 0), as meant
# with probability 0.8, the other way otherwise; reaching state 3 ends the episode with reward 1,
# every other step costs 0.1.
CHAIN_STATES, CHAIN_SLIP, CHAIN_GAMMA = 4, 0.2, 0.9


def chain_next(s: int, a: int) -> list[tuple[float, int]]:
    right, left = min(s + 1, CHAIN_STATES - 1), max(s - 1, 0)
    meant, other = (right, left) if a == 1 else (left, right)
    return [(1 - CHAIN_SLIP, meant), (CHAIN_SLIP, other)]


def chain_reward(s2: int) -> float:
    return 1.0 if s2 == CHAIN_STATES - 1 else -0.1


class ChainMDP(gym.Env):
    observation_space = gym.spaces.Discrete(CHAIN_STATES)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action):
        probs, nexts = zip(*chain_next(self.s, int(action)))
        self.s = int(nexts[int(self.np_random.choice(2, p=probs))])
        return self.s, chain_reward(self.s), self.s == CHAIN_STATES - 1, False, {}


def chain_q_star(iterations: int = 500) -> np.ndarray:
    """Q* of the chain by value iteration, (states, actions); the terminal state's row is 0."""
    q = np.zeros((CHAIN_STATES, 2))
    for _ in range(iterations):
        v = q.max(axis=1)
        v[CHAIN_STATES - 1] = 0.0
        q = np.array([[sum(p * (chain_reward(s2) + CHAIN_GAMMA * v[s2]) for p, s2 in chain_next(s, a))
                       for a in range(2)] for s in range(CHAIN_STATES)])
        q[CHAIN_STATES - 1] = 0.0
    return q


gym.register("ChainMDP-v0", entry_point=ChainMDP)
