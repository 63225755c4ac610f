"""seqrl: REINFORCE for sequence generators on rewards you cannot differentiate."""
from seqrl.config import Config, ConfigError, load_config
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.protocol import Policy, StepModel
from seqrl.rollout import Batch, Rollout
from seqrl.train.trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "AutoregressivePolicy", "Batch", "Config", "ConfigError", "Policy", "Rollout", "StepModel",
    "Trainer", "load_config", "__version__",
]
