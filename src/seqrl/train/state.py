"""TrainState: every counter a run needs to resume exactly (models and optimizers aside)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class TrainState:
    step: int = 0  # completed optimisation steps
    ema: float = 0.0  # moving-average baseline
    ema_initialised: bool = False
    skipped_rewards: int = 0  # samples skipped because their reward was unusable
    sequences: int = 0  # sequences sampled so far
    tokens: int = 0  # tokens generated so far
    best_exact: float = -1.0  # best validation headline (exact match, success rate or BLEU)
    best_step: int = -1  # the step of checkpoints/best.safetensors
    stopped_early: bool = False
    seconds: float = 0.0  # wall seconds of training so far (steps, validations, checkpoints), over resumes
    reference_step: int = -1  # the step whose policy the KL reference copied (-1: not yet)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainState":
        # checkpoints written before reference_step existed took their reference at the start
        return cls(**{"reference_step": 0, **data})
