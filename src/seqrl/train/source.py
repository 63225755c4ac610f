"""What the Trainer drives: a source of rollouts with its modules and one training step.

Each kind of run is a source (seqrl.kinds names them; seqrl.sources builds them): the sequence
wing's SequenceSource, the environment wing's REINFORCE, A2C, Q-learning and DQN sources. The
run machinery (loop, run directory, checkpoints, resume, diagnostics) sees only this protocol.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence

import torch

from seqrl.train.distributed import World
from seqrl.train.state import TrainState

ExtraState = tuple[dict[str, torch.Tensor], dict[str, Any]]


@dataclass
class Holdings:
    """What a checkpoint holds of a source, by the names the checkpoint stores them under.

    modules: e.g. policy, value, reference; optimizers: e.g. optim, value_optim (each optimizer's
    moments and settings); scaler: the fp16 GradScaler; `save_extra`/`load_extra`: anything else
    (tensors and JSON metadata), e.g. DQN's target network and replay buffer."""

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    scaler: Optional[Any] = None
    save_extra: Optional[Callable[[], ExtraState]] = None
    load_extra: Optional[Callable[[dict[str, torch.Tensor], dict[str, Any]], None]] = None


class Source(Protocol):
    """A kind of run, as the Trainer sees it."""

    world: World  # the process's rank, the world size and the device

    def holdings(self) -> Holdings:
        """Everything a checkpoint must hold to resume this source bit-exact."""

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        """One update; its metrics (a metrics.jsonl row). Every row has `mode`, `sequences` and
        `tokens` (sequences / episodes and tokens / environment steps trained on): the loop adds
        step_time and the throughputs from them."""

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
