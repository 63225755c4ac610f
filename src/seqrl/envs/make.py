"""Building gymnasium environments from `env.*`: the id checked before compute (with a "did you
mean" from gymnasium's registry), Atari ids registered (ale-py), wrappers from gymnasium itself.

Seeds: every reset is seeded from (run seed, step, environment index) by `seqrl.seeds.env_reset`, so an
episode depends on nothing but the step that plays it; a resumed run replays the same episodes.
"""
from __future__ import annotations

import difflib
import numbers
from typing import Any, Callable

import numpy as np

from seqrl.config import Config, ConfigError
from seqrl.extras import require


CNN_MIN_SIDE = 36  # the smallest image the Atari torso (8x8/4, 4x4/2, 3x3/1) takes


def gym() -> Any:
    """gymnasium, with the Atari ids registered when ale-py is installed (ale-py ships the ROMs;
    without `register_envs` the ALE/... ids are silently missing)."""
    gymnasium = require("gymnasium", "envs", "an environment run (env.id)")
    try:
        import ale_py
    except ImportError:
        return gymnasium
    gymnasium.register_envs(ale_py)
    return gymnasium


def check_env_id(env_id: str) -> None:
    """A ConfigError naming env.id, with the closest registered ids, when gymnasium lacks it."""
    gymnasium = gym()
    if env_id in gymnasium.registry:
        return
    ids = list(gymnasium.registry)
    close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    atari = "" if env_id.split("/")[0] != "ALE" else " (Atari ids need ale-py: pip install -e '.[envs]')"
    raise ConfigError(f"env.id: {env_id!r} is not a registered gymnasium environment{hint}{atari}")


def _indexed(env: Any, index: int) -> Any:
    """Errors raised by this environment's reset/step carry its index (`err.env_index`), so the run
    can name the environment that failed (sync vector envs; async ones re-raise a copy without it)."""
    reset, step = env.reset, env.step

    def named(call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except Exception as err:
                err.env_index = index  # type: ignore[attr-defined]
                raise
        return run

    def checked_step(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        reward = out[1]
        if not (isinstance(reward, numbers.Real) or (isinstance(reward, np.ndarray) and reward.size == 1
                                                     and np.issubdtype(reward.dtype, np.number))):
            raise TypeError(f"step() returned a reward of type {type(reward).__name__} ({reward!r:.40}); "
                            "a reward must be a number")
        return out

    env.reset, env.step = named(reset), named(checked_step)
    return env


def _wrapped(key: str, wrap: Callable[[], Any]) -> Any:
    """A wrapper that refuses the environment's observations becomes a ConfigError naming `key`."""
    try:
        return wrap()
    except (ValueError, AssertionError) as err:
        raise ConfigError(f"{key}: {err}") from None


def make_one(cfg: Config, render: bool = False, index: int = 0, evaluation: bool = False) -> Callable[[], Any]:
    """A thunk that builds one wrapped environment (what gymnasium's vector envs take);
    evaluation=True: a validation environment, env.eval_kwargs over env.kwargs."""
    env_cfg = cfg.env

    def thunk() -> Any:
        gymnasium = gym()
        kwargs: dict[str, Any] = {**env_cfg.kwargs, **(env_cfg.eval_kwargs if evaluation else {})}
        if env_cfg.max_episode_steps is not None:
            kwargs["max_episode_steps"] = env_cfg.max_episode_steps
        if render:
            kwargs["render_mode"] = "rgb_array"
        key = "env.eval_kwargs" if evaluation and env_cfg.eval_kwargs else "env.kwargs"
        try:
            env = gymnasium.make(env_cfg.id, **kwargs)
        except TypeError as err:  # an option the environment does not take
            raise ConfigError(f"{key}: {env_cfg.id} refused them ({err})") from None
        except Exception as err:  # noqa: BLE001 - a missing dependency, a bad option value, ...
            where = "env.id" if key == "env.kwargs" else key
            raise ConfigError(f"{where}: gymnasium cannot make {env_cfg.id} with {key}={kwargs}: "
                              f"{type(err).__name__}: {str(err)[:300]}") from None
        if env_cfg.grayscale:
            env = _wrapped("env.grayscale", lambda: gymnasium.wrappers.GrayscaleObservation(env))
        if env_cfg.reward_clip is not None:
            env = gymnasium.wrappers.ClipReward(env, -env_cfg.reward_clip, env_cfg.reward_clip)
        if env_cfg.preprocess == "pong":
            from seqrl.envs.pong import PongFrames

            env = _wrapped("env.preprocess=pong", lambda: PongFrames(env))
        if env_cfg.frame_stack > 1:
            env = gymnasium.wrappers.FrameStackObservation(env, env_cfg.frame_stack)
        return _indexed(env, index)

    return thunk


def make_vector(cfg: Config, evaluation: bool = False) -> Any:
    """`env.num_envs` environments as one gymnasium vector env; autoreset in the same step, so the
    observation after a finished episode is the next episode's first (the last one is in
    info["final_obs"]). evaluation=True: validation environments (env.eval_kwargs)."""
    gymnasium = gym()
    mode = gymnasium.vector.AutoresetMode.SAME_STEP
    fns = [make_one(cfg, index=i, evaluation=evaluation) for i in range(cfg.env.num_envs)]
    if cfg.env.vectorization == "async":
        return gymnasium.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    return gymnasium.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def check_spaces(cfg: Config) -> tuple[Any, Any]:
    """(observation space, action space) of env.id, refused before compute when no policy serves
    them: actions Discrete or Box, observations Box (mlp: flat vectors; cnn: images)."""
    check_env_id(str(cfg.env.id))
    env = make_one(cfg)()
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    if cfg.env.eval_kwargs:  # the validation environments' options, refused before compute too
        make_one(cfg, evaluation=True)().close()
    gymnasium = gym()
    spaces = gymnasium.spaces
    if not isinstance(act_space, (spaces.Discrete, spaces.Box)):
        raise ConfigError(f"env.id: {cfg.env.id}'s action space {act_space} is neither Discrete (a Categorical "
                          "policy) nor Box (a Gaussian policy)")
    if not isinstance(obs_space, (spaces.Discrete, spaces.Box)):
        raise ConfigError(f"env.id: {cfg.env.id}'s observation space {obs_space} is not a Box or Discrete space")
    shape = tuple(obs_space.shape)  # () for Discrete: one-hot encoded for the policy (FrozenLake, Taxi, ...)
    if cfg.model.kind == "cnn" and (len(shape) not in (2, 3) or min(shape[-2:]) < CNN_MIN_SIDE):
        raise ConfigError(f"model.kind=cnn needs image observations (H, W) or (C, H, W) of at least "
                          f"{CNN_MIN_SIDE}x{CNN_MIN_SIDE} pixels; {cfg.env.id} gives {obs_space}: use model.kind=mlp")
    return obs_space, act_space


class Environments:
    """A run's training and validation vector envs, made when first used (again after close())."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._train: Any = None
        self._eval: Any = None

    @property
    def train(self) -> Any:
        if self._train is None:
            self._train = make_vector(self.cfg)
        return self._train

    @property
    def eval(self) -> Any:
        """Validation episodes play on their own environments."""
        if self._eval is None:
            self._eval = make_vector(self.cfg, evaluation=True)
        return self._eval

    def close(self) -> None:
        for envs in (self._train, self._eval):
            if envs is not None:
                envs.close()
        self._train = self._eval = None
