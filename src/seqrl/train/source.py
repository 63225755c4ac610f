"""What the Trainer drives: a source of rollouts with its policy and one training step.

A sequence task (train.sequences.SequenceSource) and a gymnasium environment
(envs.source.EnvSource) plug into the same loop, run directory, checkpoints and resume.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence

import torch

from seqrl.config import Config
from seqrl.train.distributed import World
from seqrl.train.state import TrainState


class Source(Protocol):
    """The modules a checkpoint holds (train.snapshot reads them by these names) and the steps."""

    policy: torch.nn.Module
    optimizer: torch.optim.Optimizer
    value_head: Optional[torch.nn.Module]
    value_optimizer: Optional[torch.optim.Optimizer]
    reference: Optional[Any]  # train.reference.FrozenReference
    scaler: Optional[Any]  # torch.amp.GradScaler

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        """One update; its metrics (a metrics.jsonl row: `mode`, `reward_mean`, `sequences`, ...)."""

    def gradient_estimates(self, step: int, state: TrainState, baselines: Sequence[str],
                           repeats: int) -> Optional[dict[str, list[torch.Tensor]]]:
        """run.diagnostics: `repeats` flat gradient estimates of `step`'s loss per baseline, on the
        step's inputs with fresh samples shared by the baselines, nothing updated (None: the step
        samples nothing)."""

    def evaluate(self) -> dict[str, Any]:
        """A validation: metrics and a few samples."""

    def headline(self, metrics: dict[str, Any]) -> float:
        """The number run.stop_at and the best checkpoint track."""

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None: ...

    def close(self) -> None: ...


def build_source(cfg: Config, device: torch.device, world: World, run_dir: Path,
                 reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> Source:
    """An environment when env.id is set, else the sequence task."""
    if cfg.env.id is not None:
        if reward_fn is not None:
            from seqrl.config import ConfigError

            raise ConfigError("reward_fn: an environment run's reward is the environment's own")
        if world.distributed:
            from seqrl.config import ConfigError

            raise ConfigError("env.id: environment runs train in one process (torchrun is for sequence runs)")
        if cfg.env.algo != "reinforce":
            from seqrl.envs.value_source import ValueSource

            return ValueSource(cfg, device, init)
        from seqrl.envs.source import EnvSource

        return EnvSource(cfg, device, init)
    from seqrl.sequences.source import SequenceSource

    return SequenceSource(cfg, device, world, run_dir, reward_fn, init)
