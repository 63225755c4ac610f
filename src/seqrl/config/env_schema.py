"""The environment sections: env (a gymnasium environment, for episode runs) and q (Q-learning
and DQN)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from seqrl.config.fields import meta
from seqrl.kinds import ENV_ALGOS


@dataclass(frozen=True)
class EnvConfig:
    id: Optional[str] = meta("a gymnasium environment id (e.g. CartPole-v1, ALE/Pong-v5): an episode run instead of a "
                             "sequence task (needs `pip install -e '.[envs]'`)", default=None)
    kwargs: dict = meta("keyword arguments of gymnasium.make, e.g. {is_slippery: false}", factory=dict)
    eval_kwargs: dict = meta(
        "keyword arguments of gymnasium.make for the validation environments (and --video), over env.kwargs: "
        "e.g. {repeat_action_probability: 0.25}, ALE v5's sticky actions, so that greedy validation games "
        "differ and the score means something", factory=dict)
    algo: Literal[ENV_ALGOS] = meta(  # type: ignore[valid-type]  # the registry's names (seqrl.kinds)
        "the algorithm (seqrl list shows each): reinforce (the score-function estimator on whole episodes), or "
        "the value-based contrast: q_learning (tabular; Discrete observations and actions) or dqn (a Q-network, "
        "replay buffer, target network; see the q section)", default="reinforce")
    num_envs: int = meta("environments stepped side by side (a gymnasium vector env)", 1, 4096, 8)
    vectorization: Literal["sync", "async"] = meta(
        "sync: every environment in this process; async: one subprocess each (slow environments)", default="sync")
    max_episode_steps: Optional[int] = meta(
        "truncate episodes at this many steps (null: the environment's own limit)", 1, 10**9, None)
    gamma: float = meta("discount of the return", 0.0, 1.0, 0.99)
    gae_lambda: float = meta(
        "a2c: lambda of the GAE advantages (1: the discounted return minus V(s), SB3's A2C default and the better "
        "one on CartPole; 0: the one-step TD error)", 0.0, 1.0, 1.0)
    bootstrap_truncated: Optional[bool] = meta(
        "reinforce/a2c: a time-limited episode's return goes on as gamma * V(last state) (true), ends at the cut "
        "(false), or null: bootstrap when a value function is trained (reinforce.baseline=value, a2c) and "
        "env.gamma < 1. With gamma = 1 the bootstrap has no finite target (refused)", default=None)
    discount_weighting: Literal["none", "gamma_t"] = meta(
        "reinforce/a2c: none weights step t's log-probability by its discounted reward-to-go (the texts' and "
        "the usual agents' estimator: biased for the discounted objective when gamma < 1); gamma_t also by "
        "gamma^t (unbiased for E[sum_t gamma^t r_t], smaller steps late in long episodes)", default="none")
    standardize_returns: bool = meta(
        "reinforce: standardise the advantages of each batch to mean 0, std 1 (the classic agents' trick)",
        default=False)
    reset_on_reward: bool = meta(
        "reinforce: restart the discounted return at every non-zero reward (Pong: each point is its own game)",
        default=False)
    reward_scale: float = meta("multiply every reward by this before returns are computed", 1e-9, 1e9, 1.0)
    continuous: Literal["clip", "tanh"] = meta(
        "continuous actions: a Gaussian sample clipped to the action bounds (log-prob of the unclipped sample), "
        "or squashed by tanh and scaled to them (log-prob with the tanh correction)", default="clip")
    preprocess: Literal["none", "pong"] = meta(
        "observation pre-processing: pong = the classic agent's (crop, 80x80, background erased, binary, "
        "difference of consecutive frames)", default="none")
    frame_stack: int = meta("stack this many consecutive observations (gymnasium's FrameStackObservation)",
                            1, 64, 1)
    grayscale: bool = meta("RGB image observations to grayscale (gymnasium's GrayscaleObservation)", default=False)
    reward_clip: Optional[float] = meta("clip every reward to [-c, c] (gymnasium's ClipReward; null: off)",
                                        1e-9, 1e9, None)
    step_timeout: float = meta(
        "seconds one step (or reset) of the vector environment may take before the run stops with an error "
        "naming it (0: no limit). Async workers are terminated at the limit; in-process (sync) environments "
        "are interrupted by a timer, which stops Python code only", 0.0, 1e7, 60.0)
    eval_episodes: int = meta("greedy episodes of every validation", 1, 10**6, 20)
    episodes_per_step: int = meta(
        "whole episodes played per training step, split evenly over the environments (reinforce: one update "
        "on them; q_learning/dqn: they update as they play)", 1, 10**6, 16)

    def __post_init__(self) -> None:
        for key, given in (("env.kwargs", self.kwargs), ("env.eval_kwargs", self.eval_kwargs)):
            if not all(isinstance(k, str) for k in given):
                raise ValueError(f"{key}: keys must be strings, got {list(given)!r:.200}")


@dataclass(frozen=True)
class QConfig:
    epsilon_start: float = meta("epsilon-greedy: exploration rate at the first environment step", 0.0, 1.0, 1.0)
    epsilon_end: float = meta("epsilon-greedy: exploration rate after exploration_steps", 0.0, 1.0, 0.05)
    exploration_steps: int = meta("environment steps over which epsilon falls linearly", 1, 10**10, 10_000)
    init: float = meta("q_learning: initial value of every Q(s, a)", -1e6, 1e6, 0.0)
    train_every: int = meta("dqn: environment steps between bursts of q.gradient_steps updates (counted over "
                            "training steps; q_learning updates on every transition)", 1, 10**6, 1)
    gradient_steps: int = meta("dqn: minibatch updates each time it trains", 1, 10**4, 1)
    buffer_size: int = meta("dqn: transitions the replay buffer holds (saved with every checkpoint)",
                            1, 10**8, 50_000)
    learning_starts: int = meta("dqn: environment steps played before the first update", 0, 10**9, 1_000)
    target_update: int = meta("dqn: environment steps between copies to the target network (tau = 1)",
                              1, 10**9, 500)
    tau: float = meta("dqn: 1 = copy the target network every target_update steps; < 1 = Polyak averaging "
                      "target <- tau * online + (1 - tau) * target after every update", 0.0, 1.0, 1.0)
    n_step: int = meta("dqn: n-step returns: each replayed transition carries the discounted sum of the next n "
                       "rewards and bootstraps from the state n steps on (fewer at an episode's end); 1 = one-step "
                       "DQN", 1, 1000, 1)
    double: bool = meta("dqn: double DQN (the online network picks the next action, the target values it)",
                        default=False)
    loss: Literal["huber", "mse"] = meta("dqn: TD-error loss", default="huber")

    def __post_init__(self) -> None:
        if self.tau <= 0:
            raise ValueError(f"q.tau={self.tau}: the target network would never move; use 0 < tau <= 1 "
                             "(1: copy every q.target_update steps)")
