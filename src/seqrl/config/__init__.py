"""One frozen, validated configuration for a run."""
from seqrl.config.schema import (
    Config,
    CurriculumConfig,
    DataConfig,
    EnvConfig,
    ModelConfig,
    OptimConfig,
    QConfig,
    ReinforceConfig,
    RunConfig,
    TaskConfig,
)
from seqrl.config.validate import ConfigError, from_dict, to_dict
from seqrl.config.io import apply_overrides, load_config, save_config

__all__ = [
    "Config", "CurriculumConfig", "DataConfig", "EnvConfig", "ModelConfig", "OptimConfig", "QConfig", "ReinforceConfig", "RunConfig",
    "TaskConfig", "ConfigError", "from_dict", "to_dict", "apply_overrides", "load_config",
    "save_config",
]
