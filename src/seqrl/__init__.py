"""seqrl: REINFORCE for sequence generators on rewards you cannot differentiate.

The public names are imported on first use, so `import seqrl.rewards.text` (in a reward worker
process, say) does not pay for PyTorch and the trainer.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "AutoregressivePolicy": "seqrl.policies.base",
    "Batch": "seqrl.rollout",
    "Config": "seqrl.config",
    "ConfigError": "seqrl.config",
    "Policy": "seqrl.policies.protocol",
    "Rollout": "seqrl.rollout",
    "StepModel": "seqrl.policies.protocol",
    "Trainer": "seqrl.train.trainer",
    "load_config": "seqrl.config",
    "make_trainer": "seqrl.sources",
    "resume": "seqrl.sources",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seqrl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
