"""What Q-learning and DQN share as sources of the same Trainer: acting epsilon-greedily on a
Q-function, and a training step that plays whole episodes (seeded by (seed, step, environment),
like REINFORCE's) and learns from every transition as it is played. Each algorithm is its own
source (envs.qlearning_source, envs.dqn_source) and passes its `learn` to `value_step`."""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from seqrl.config import Config, ConfigError
from seqrl.envs.collect import Episodes, Transitions
from seqrl.envs.episodes import play_episodes
from seqrl.envs.qlearning import epsilon, epsilon_greedy
from seqrl.train.state import TrainState

# learn(transitions kept, environment steps before them, environment steps after them)
Learn = Callable[[Transitions, int, int], None]


def discrete_actions(cfg: Config, act_space: Any) -> int:
    """The number of actions; ConfigError when the action space is not Discrete."""
    if act_space.shape != ():
        raise ConfigError(f"env.algo={cfg.env.algo}: {cfg.env.id} has continuous actions ({act_space}); "
                          "Q-learning and DQN need Discrete actions")
    return int(act_space.n)


class EpsilonGreedy:
    """The acting half of a value-based source: `q(obs)` (E, A) -> greedy or epsilon-greedy actions."""

    def __init__(self, cfg: Config, q: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.cfg, self.q = cfg, q
        self.epsilon = cfg.q.epsilon_end  # what `seqrl sample` explores with; training sets it per step

    def __call__(self, obs: torch.Tensor, greedy: bool, generator: Optional[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.q(obs)
        if greedy:
            a = q.argmax(dim=1)
            return a, a
        assert generator is not None
        a = epsilon_greedy(q, self.epsilon, generator)
        return a, a


def value_step(source: Any, acting: EpsilonGreedy, step: int, state: TrainState, learn: Learn,
               m: dict[str, Any], counts: dict[str, float], has_loss: bool) -> dict[str, Any]:
    """Play env.episodes_per_step episodes, calling `learn` on every vector step's transitions
    (it adds to counts: updates, td, loss); TrainState.tokens counts the environment steps so far
    (epsilon and the target copies follow it). Returns the step's metrics row."""
    cfg = source.cfg

    def observe(tr: Transitions) -> None:
        before = state.tokens
        state.tokens += int(tr.active.sum())
        acting.epsilon = epsilon(cfg, state.tokens)
        learn(tr, before, state.tokens)

    acting.epsilon = epsilon(cfg, state.tokens)
    m["epsilon"] = acting.epsilon
    eps: Episodes = play_episodes(source, step, cfg.env.episodes_per_step, False, keep_obs=False, observe=observe)
    returns = eps.returns()
    n, steps, updates = int(returns.shape[0]), int(eps.lengths.sum()), int(counts["updates"])
    state.sequences += n
    m.update(reward_mean=float(returns.mean()), reward_std=float(returns.std(unbiased=False)),
             length_mean=float(eps.lengths.float().mean()), episodes=n, env_steps=steps,
             env_steps_total=state.tokens, updates=updates, td_error=counts["td"] / max(updates, 1),
             loss=counts["loss"] / max(updates, 1) if has_loss else None, sequences=n, tokens=steps,
             episode_returns=[round(float(r), 6) for r in returns])
    return m
