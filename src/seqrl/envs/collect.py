"""Playing whole episodes on a vector env into the `(N, T)` layout of the estimator core.

Each environment plays a fixed quota of whole episodes per call (the quotas sum to the episodes
asked for), so which episodes enter a batch does not depend on their length: the first N to
finish would favour short ones. An environment that has played its quota idles (its steps are
discarded) until the others finish theirs. Every call starts by resetting each environment
with its own seed, so a call is a pure function of (seeds, policy weights, generator).
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

from seqrl.envs.policy import encode
from seqrl.run.alarm import alarm
from seqrl.run.errors import RunError
from seqrl.run.signals import interruptible


class EnvFailure(RunError):
    """An environment raised, or returned a NaN/inf observation or reward; names the step, the
    environment index and the episode."""


class Episodes(NamedTuple):
    """N whole episodes, T = the longest. Steps are stored flat in (episode, t) order, which is the
    order `mask` selects them in: `torch.zeros(N, T).masked_scatter(mask, per_step)` lays any (M,)
    per-step quantity out as (N, T)."""

    obs: Tensor  # (M, *obs) observations the actions were taken at, in the environment's dtype
    actions: Tensor  # (M,) or (M, D): what the policy drew
    rewards: Tensor  # (N, T) float32, 0 where masked
    mask: Tensor  # (N, T) bool: the steps of each episode
    truncated: Tensor  # (N,) bool: cut by a time limit (not terminated)
    final_obs: Tensor  # (N, *obs) the observation after each episode's last step

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(dim=1)

    def returns(self) -> Tensor:
        """(N,) undiscounted episode returns."""
        return self.rewards.sum(dim=1)


@dataclass
class _Episode:
    obs: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    truncated: bool = False
    final_obs: Any = None


def quotas(episodes: int, num_envs: int) -> list[int]:
    """Episodes per environment: as even as possible, the first ones taking the remainder."""
    base, extra = divmod(episodes, num_envs)
    return [base + (i < extra) for i in range(num_envs)]


class Transitions(NamedTuple):
    """One vector step, for learners that update as they play (Q-learning, DQN)."""

    obs: np.ndarray  # (E, ...) before the step
    actions: np.ndarray  # (E,)
    rewards: np.ndarray  # (E,)
    next_obs: np.ndarray  # (E, ...) after it (a finished episode's last observation, not the reset one)
    terminated: np.ndarray  # (E,) bool: no value beyond this step (time-limit cuts are not terminations)
    ended: np.ndarray  # (E,) bool: the episode ended at this step (terminated or cut by a time limit)
    active: np.ndarray  # (E,) bool: environments still playing their quota (the others' steps are not kept)


def play(envs: Any, act: Callable[[Tensor], tuple[Tensor, Tensor]], space: Any, episodes: int, seeds: list[int],
         device: torch.device, step: int, env_id: str, keep_obs: bool = True,
         observe: Optional[Callable[[Transitions], None]] = None, step_timeout: float = 0.0) -> Episodes:
    """Play `episodes` whole episodes. `act(obs (E, ...)) -> (drawn, for the environment)`;
    `observe(transitions)` after every vector step (online learners); a vector step (or reset)
    that outlives `step_timeout` seconds (0: no limit) stops the run with an EnvFailure."""
    n_env = len(seeds)
    quota = quotas(episodes, n_env)
    done: list[list[_Episode]] = [[] for _ in range(n_env)]
    current = [_Episode() for _ in range(n_env)]
    limit = step_timeout

    def vector_step(actions: np.ndarray) -> Any:
        if limit > 0 and hasattr(envs, "step_wait"):  # async: the workers are waited for, then terminated
            envs.step_async(actions)
            return envs.step_wait(timeout=limit)
        with alarm(limit, "step() of the environments"):
            return envs.step(actions)

    def vector_reset() -> Any:
        with alarm(limit if not hasattr(envs, "step_wait") else 0, "reset() of the environments"):
            return envs.reset(seed=seeds)

    obs, _ = _guard(vector_reset, step, env_id, done, envs)
    _check_finite(obs, None, step, env_id, done, quota)
    while any(len(d) < q for d, q in zip(done, quota)):
        with torch.no_grad():
            drawn, to_env = act(encode(obs, space, device))
        to_env_np = to_env.cpu().numpy()
        nxt, reward, term, trunc, info = _guard(lambda: vector_step(to_env_np), step, env_id, done, envs)
        _check_finite(nxt, reward, step, env_id, done, quota)
        drawn = drawn.cpu()
        if observe is not None:
            after = np.array(nxt, copy=True)
            for i in np.flatnonzero(np.logical_or(term, trunc)):
                if "final_obs" in info:
                    after[i] = info["final_obs"][i]
            active = np.array([len(d) < q for d, q in zip(done, quota)])
            observe(Transitions(np.asarray(obs), to_env_np, np.asarray(reward, dtype=np.float32), after,
                                np.asarray(term, dtype=bool), np.logical_or(term, trunc), active))
        for i in range(n_env):
            if len(done[i]) >= quota[i]:
                continue  # this environment has played its quota: its steps are not kept
            ep = current[i]
            if keep_obs:
                ep.obs.append(obs[i])
            ep.actions.append(drawn[i])
            ep.rewards.append(float(reward[i]))
            if term[i] or trunc[i]:
                ep.truncated = bool(trunc[i]) and not bool(term[i])
                ep.final_obs = info["final_obs"][i] if "final_obs" in info else nxt[i]
                done[i].append(ep)
                current[i] = _Episode()
        obs = nxt
    return _stack([e for eps in done for e in eps], keep_obs)


def _stack(eps: list[_Episode], keep_obs: bool) -> Episodes:
    lengths = [len(e.rewards) for e in eps]
    n, t = len(eps), max(lengths)
    mask = torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (N, T)
    rewards = torch.zeros(n, t)
    rewards[mask] = torch.tensor([r for e in eps for r in e.rewards], dtype=torch.float32)
    obs = torch.as_tensor(np.stack([o for e in eps for o in e.obs])) if keep_obs else torch.zeros(0)
    return Episodes(obs=obs, actions=torch.stack([a for e in eps for a in e.actions]), rewards=rewards,
                    mask=mask, truncated=torch.tensor([e.truncated for e in eps]),
                    final_obs=torch.as_tensor(np.stack([np.asarray(e.final_obs) for e in eps])))


def _where(done: list[list[_Episode]], i: int) -> str:
    return f"environment {i}, episode {len(done[i]) + 1} of that environment"


def _guard(call: Callable[[], Any], step: int, env_id: str, done: list[list[_Episode]], envs: Any = None) -> Any:
    """`call()`, with any error of the environments as one EnvFailure naming the step and, where
    known, the environment (async workers: from gymnasium's report, which is kept off stderr)."""
    reports: list[str] = []
    try:
        with _worker_reports(reports), interruptible():
            return call()
    except EnvFailure:
        raise
    except Exception as err:  # noqa: BLE001 - any error of user or third-party environment code
        index = getattr(err, "env_index", None)
        found = [int(m.group(1)) for r in reports for m in [re.search(r"Worker-(\d+)", r)] if m]
        index = found[-1] if index is None and found else index
        where = _where(done, index) if index is not None else "one of the environments"
        if hasattr(envs, "step_wait"):
            _end_workers(envs)
        text = str(err) or type(err).__name__
        raise EnvFailure(f"step {step}: {env_id} raised {type(err).__name__}: {text[:300]} ({where}); "
                         "stopping (the last checkpoint is kept)") from err


def _end_workers(envs: Any) -> None:
    """After a failure, end an async vector env's workers at once: SIGKILL (a stuck worker may
    ignore SIGTERM: it inherits the run's stop-signal handler), then close without waiting on
    them, so no worker outlives the run and none prints its own traceback."""
    for process in getattr(envs, "processes", []):
        if process.is_alive():
            process.kill()
    for process in getattr(envs, "processes", []):
        process.join(timeout=5)
    try:
        with _worker_reports([]):
            envs.close(terminate=True)
    except Exception:  # noqa: BLE001 - closing what failed must not hide why it failed
        pass


@contextlib.contextmanager
def _worker_reports(reports: list[str]) -> Iterator[None]:
    """Collect what gymnasium's async vector env logs about a failed worker (its index and
    traceback) instead of printing it: the run reports the failure in one line."""
    try:
        import gymnasium.logger as glog
    except ImportError:
        yield
        return
    original = glog.error
    glog.error = lambda msg, *args: reports.append(str(msg))
    try:
        yield
    finally:
        glog.error = original


def _check_finite(obs: Any, reward: Optional[Any], step: int, env_id: str, done: list[list[_Episode]],
                  quota: list[int]) -> None:
    """Name the first environment whose observation or reward is NaN/inf."""
    for what, values in (("observation", obs), ("reward", reward)):
        if values is None:
            continue
        arr = np.asarray(values)
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
        for i in np.flatnonzero(bad):
            if len(done[i]) < quota[i]:
                raise EnvFailure(f"step {step}: {env_id} returned a non-finite {what} ({_where(done, int(i))}); "
                                 "stopping (the last checkpoint is kept)")
