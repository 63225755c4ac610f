"""The value-based contrast as a source of the same Trainer: tabular Q-learning and DQN play whole
episodes per training step (seeded by (seed, step, environment), like REINFORCE's) and update as
they play. What carries from step to step is in the checkpoint: the Q-table or the networks, the
optimizer, DQN's target network and replay buffer, and the step counters of TrainState (the
environment steps so far set epsilon and the target copies)."""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Optional

import numpy as np
import torch

from seqrl import seeds
from seqrl.config import Config, ConfigError
from seqrl.curriculum import learning_rate
from seqrl.envs.collect import Episodes, Transitions
from seqrl.envs.dqn import QNetwork, ReplayBuffer, dqn_loss, polyak
from seqrl.envs.make import Environments, check_spaces
from seqrl.envs.policy import encode
from seqrl.envs.qlearning import QTable, epsilon, epsilon_greedy
from seqrl.envs.source import play_episodes, validate
from seqrl.train.state import TrainState
from seqrl.train.update import apply_update, build_optimizer


class ValueSource:
    """env.algo = q_learning or dqn."""

    reference = None
    value_head = None
    value_optimizer = None
    scaler = None

    def __init__(self, cfg: Config, device: torch.device,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        self.cfg, self.device, self.algo = cfg, device, cfg.env.algo
        self.obs_space, self.act_space = check_spaces(cfg)
        if self.act_space.shape != ():
            raise ConfigError(f"env.algo={self.algo} needs Discrete actions; {cfg.env.id} has {self.act_space}")
        n_actions = int(self.act_space.n)
        seeds.seed_global(cfg.run.seed)
        self.optimizer: Optional[torch.optim.Optimizer] = None
        if self.algo == "q_learning":
            if self.obs_space.shape != ():
                raise ConfigError(f"env.algo=q_learning keeps a table over Discrete observations; {cfg.env.id} "
                                  f"observes {self.obs_space}: use env.algo=dqn")
            self.policy: torch.nn.Module = QTable(int(self.obs_space.n), n_actions, cfg.q.init)
        else:
            self.policy = QNetwork(cfg, self.obs_space, n_actions).to(device)
            self.optimizer = build_optimizer(cfg.optim, self.policy.parameters())
            dtype = torch.from_numpy(np.zeros(0, dtype=self.obs_space.dtype)).dtype
            self.buffer = ReplayBuffer(cfg.q.buffer_size, tuple(self.obs_space.shape), dtype)
        if init is not None:
            init(self.policy)
        if self.algo == "dqn":
            self.target = copy.deepcopy(self.policy).requires_grad_(False)
        self.environments = Environments(cfg)
        self._epsilon = cfg.q.epsilon_end  # what `seqrl sample` explores with; training sets it per step

    def close(self) -> None:
        """Close the environments (a later play or validation makes new ones)."""
        self.environments.close()

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None:
        """Taken between training steps."""

    def act(self, obs: torch.Tensor, greedy: bool, generator: Optional[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.policy(obs)
        if greedy:
            a = q.argmax(dim=1)
            return a, a
        assert generator is not None
        a = epsilon_greedy(q, self._epsilon, generator)
        return a, a

    def play(self, step: int, episodes: int, greedy: bool, envs: Any = None,
             observe: Optional[Callable[[Transitions], None]] = None) -> Episodes:
        return play_episodes(self, step, episodes, greedy, envs, keep_obs=False, observe=observe)

    # -- checkpoint: what DQN carries besides the online network and its optimizer ----------
    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        if self.algo != "dqn":
            return {}, {}
        tensors, meta = self.buffer.state()
        out = {f"buffer.{k}": v for k, v in tensors.items()}
        out.update({f"target.{k}": v for k, v in self.target.state_dict().items()})
        return out, {"buffer": meta}

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        if self.algo != "dqn":
            return
        self.buffer.load({k[len("buffer."):]: v for k, v in tensors.items() if k.startswith("buffer.")}, meta["buffer"])
        self.target.load_state_dict({k[len("target."):]: v for k, v in tensors.items() if k.startswith("target.")})

    # -- training ----------------------------------------------------------------------------
    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        cfg, q = self.cfg, self.cfg.q
        started = time.perf_counter()
        lr = learning_rate(cfg.optim, step, True)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        generator = seeds.minibatch(cfg.run.seed, step)
        m: dict[str, Any] = {"mode": self.algo, "lr": lr}
        counts = {"updates": 0, "td": 0.0, "loss": 0.0}

        def observe(tr: Transitions) -> None:
            keep = tr.active
            before = state.tokens
            state.tokens += int(keep.sum())
            self._epsilon = epsilon(cfg, state.tokens)
            if self.algo == "q_learning":
                counts["td"] += self.policy.update(tr.obs[keep], tr.actions[keep], tr.rewards[keep], tr.next_obs[keep],
                                                   tr.terminated[keep], lr, cfg.env.gamma)
                counts["updates"] += 1
                return
            self.buffer.add(tr.obs[keep], tr.actions[keep], tr.rewards[keep], tr.next_obs[keep], tr.terminated[keep])
            if state.tokens >= q.learning_starts and state.tokens // q.train_every > before // q.train_every:
                for _ in range(q.gradient_steps):
                    self._update(generator, step, m, counts)
            if q.tau >= 1.0 and state.tokens // q.target_update > before // q.target_update:
                self.target.load_state_dict(self.policy.state_dict())

        self._epsilon = epsilon(cfg, state.tokens)
        m["epsilon"] = self._epsilon
        eps = self.play(step, cfg.env.episodes_per_step, greedy=False, observe=observe)
        returns = eps.returns()
        n, steps = int(returns.shape[0]), int(eps.lengths.sum())
        state.sequences += n
        elapsed = time.perf_counter() - started
        m.update(reward_mean=float(returns.mean()), reward_std=float(returns.std(unbiased=False)),
                 length_mean=float(eps.lengths.float().mean()), episodes=n, env_steps=steps,
                 env_steps_total=state.tokens, updates=counts["updates"],
                 td_error=counts["td"] / max(counts["updates"], 1),
                 loss=counts["loss"] / max(counts["updates"], 1) if self.algo == "dqn" else None,
                 sequences=n, tokens=steps, step_time=elapsed, seq_per_s=n / elapsed, tok_per_s=steps / elapsed,
                 episode_returns=[round(float(r), 6) for r in returns])
        return m

    def _update(self, generator: torch.Generator, step: int, m: dict[str, Any], counts: dict[str, Any]) -> None:
        """One DQN minibatch update (and a Polyak step of the target when q.tau < 1)."""
        q = self.cfg.q
        obs, actions, rewards, next_obs, terminated = self.buffer.sample(self.cfg.optim.batch_size, generator)
        batch = (encode(obs, self.obs_space, self.device), actions.to(self.device), rewards.to(self.device),
                 encode(next_obs, self.obs_space, self.device), terminated.to(self.device))
        loss, td = dqn_loss(self.policy, self.target, batch, self.cfg.env.gamma, q.double, q.loss)
        apply_update(loss, self.optimizer, list(self.policy.parameters()), self.cfg.optim.grad_clip, step, m)
        if q.tau < 1.0:
            polyak(self.target, self.policy, q.tau)
        counts["updates"] += 1
        counts["td"] += float(td)
        counts["loss"] += float(loss.detach())

    def gradient_estimates(self, step: int, state: TrainState, baselines: Any, repeats: int) -> None:
        """Q-learning and DQN follow no REINFORCE gradient (the config refuses run.diagnostics)."""
        return None

    def evaluate(self) -> dict[str, Any]:
        return validate(self)

    def headline(self, metrics: dict[str, Any]) -> float:
        return float(metrics["return_mean"])
