"""Config -> the objects a run needs: task data, policy, reward functions."""
from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Any, Callable, Optional

from torch import nn

from seqrl.config.schema import Config, ModelConfig
from seqrl.config.validate import ConfigError
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq
from seqrl.policies.transformer import TransformerConfig, TransformerLM, TransformerSeq2Seq
from seqrl.rewards.deadline import TimedReward
from seqrl.rewards.pool import PooledReward
from seqrl.rewards.sequence import exact_match
from seqrl.tasks import Task, TaskData, make_task
from seqrl.tasks.text import TextTask

POLICIES = {
    "gru": "GRU encoder-decoder with attention",
    "lstm": "LSTM encoder-decoder with attention",
    "transformer": "Transformer encoder-decoder with a key/value cache",
    "transformer_lm": "decoder-only Transformer (prompt -> completion) with a key/value cache",
}


def build_task(cfg: Config) -> Task:
    options: dict[str, Any] = {}
    try:
        task = make_task(cfg.task.name)
    except ValueError as err:
        raise ConfigError(f"task.name: {err}") from None
    if "base" in {f.name for f in dataclasses.fields(task)}:  # type: ignore[arg-type]
        options["base"] = cfg.task.symbols
        task = make_task(cfg.task.name, **options)
    return task


def build_data(cfg: Config, task: Task) -> TaskData:
    try:
        return _task_data(cfg, task)
    except ValueError as err:
        raise ConfigError(f"task (lengths, val_size, holdout): {err}") from None


def _task_data(cfg: Config, task: Task) -> TaskData:
    t = cfg.task
    return TaskData(task, cfg.run.seed, t.train_min_len, t.train_max_len, t.val_min_len, t.val_max_len,
                    t.val_size, t.holdout)


def build_network(cfg: ModelConfig, vocab_size: int, max_positions: int,
                  src_vocab_size: int | None = None) -> nn.Module:
    """src_vocab_size: a separate source vocabulary (encoder-decoder models only)."""
    if src_vocab_size is not None and cfg.kind == "transformer_lm":
        raise ConfigError("data.shared_vocab=false needs an encoder-decoder model (model.kind gru, lstm or "
                          "transformer): a decoder-only model reads source and target as one sequence")
    if cfg.kind in ("gru", "lstm"):
        return RNNSeq2Seq(RNNConfig(vocab_size, cfg.kind, cfg.embed_dim, cfg.hidden_dim, cfg.layers, cfg.dropout,
                                    src_vocab_size))
    tcfg = TransformerConfig(vocab_size, cfg.hidden_dim, cfg.heads, cfg.layers, cfg.encoder_layers,
                             cfg.ff_dim, cfg.dropout, max_positions, src_vocab_size)
    return TransformerSeq2Seq(tcfg) if cfg.kind == "transformer" else TransformerLM(tcfg)


def build_policy(cfg: Config, vocab_size: int, max_positions: int,
                 src_vocab_size: int | None = None) -> AutoregressivePolicy:
    return AutoregressivePolicy(build_network(cfg.model, vocab_size, max_positions, src_vocab_size))


def load_callable(spec: str, key: str) -> Callable[..., Any]:
    """'package.module:function' -> the function, or ConfigError naming `key`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{key}: {spec!r} must look like 'module:function'")
    if os.getcwd() not in sys.path and "" not in sys.path:  # a module beside the user, as `python -m` finds it
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{key}: cannot import module {module_name!r}: {err}") from None
    except BaseException as err:  # noqa: BLE001 - the module's own code failed (or called sys.exit)
        if isinstance(err, KeyboardInterrupt):
            raise
        what = f"sys.exit({err.code!r})" if isinstance(err, SystemExit) else f"{type(err).__name__}: {err}"
        raise ConfigError(f"{key}: importing module {module_name!r} for {spec!r} failed: {what}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"{key}: {module_name!r} has no callable {attr!r}")
    return fn


def build_reward(cfg: Config, task: Task) -> Callable[..., Any]:
    """The training reward named by task.reward (per-token when task.per_token)."""
    if cfg.task.per_token:
        return task.token_reward
    if cfg.task.reward == "task" or task.name == "text":  # a text task wraps its own text reward
        return task.reward
    if cfg.task.reward == "exact_match":
        if not task.has_reference:
            raise ConfigError(f"task.reward: 'exact_match' needs references; task {task.name!r} has none")
        return exact_match
    return load_callable(cfg.task.reward, "task.reward")


def check_compatible(cfg: Config, task: Task) -> None:
    """Cross-checks between the config and the task, before any compute."""
    if not task.has_reference and cfg.curriculum.kind != "reinforce":
        raise ConfigError(
            f"curriculum.kind: {cfg.curriculum.kind!r} trains on reference answers, which task "
            f"{task.name!r} does not have; use curriculum.kind=reinforce")
    if not task.has_reference and cfg.reinforce.xent_coef > 0:
        raise ConfigError(f"reinforce.xent_coef: the cross-entropy term trains on reference answers, which task "
                          f"{task.name!r} does not have; set it to 0")


POOL_TIMEOUT = 300.0  # task.reward_timeout=null, in workers and in the training process alike


def training_reward(cfg: Config, task: Task, reward_fn: Optional[Callable[..., Any]] = None
                    ) -> tuple[Task, Callable[..., Any], list[PooledReward]]:
    """The training reward: `reward_fn` or task.reward, in worker processes when
    task.reward_workers > 0, under task.reward_timeout. Text rewards score detokenized strings,
    so for text the string reward inside the task is replaced (and pooled); the task decodes ids
    before calling it. Returns the task (replaced for text), the reward and the pools to close."""
    pools: list[PooledReward] = []

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        t = cfg.task
        timeout = POOL_TIMEOUT if t.reward_timeout is None else (t.reward_timeout or None)
        if t.reward_workers == 0:
            return TimedReward(fn, timeout) if timeout else fn
        try:
            pools.append(PooledReward(fn, t.reward_workers, cfg.reinforce.samples_per_input, timeout))
        except ValueError as err:
            raise ConfigError(f"task.reward_workers: {err}") from None
        return pools[-1]

    if isinstance(task, TextTask):
        task = dataclasses.replace(task, reward_fn=guarded(reward_fn if reward_fn is not None else task.reward_fn))
        return task, task.reward, pools
    return task, guarded(reward_fn if reward_fn is not None else build_reward(cfg, task)), pools
