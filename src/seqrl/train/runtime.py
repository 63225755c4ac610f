"""Where a run computes, set up before its source is built: the device, the data-parallel world,
the torch threads, and the checks that must fail before any compute."""
from __future__ import annotations

import torch

from seqrl.config import Config, ConfigError
from seqrl.run.trackers import check_installed, parse_trackers
from seqrl.train.device import resolve_device
from seqrl.train.distributed import World, init_world


def start(cfg: Config) -> World:
    """The process's World (rank, size, device) for `cfg`; ConfigError for what cannot run here."""
    device = resolve_device(cfg.run.device)
    world = init_world(cfg.run.dist_timeout, device)
    missing = check_installed(parse_trackers(cfg.run.trackers)) if world.is_main else None
    if missing:
        raise ConfigError(missing)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    if cfg.run.diagnostics.every and world.distributed:
        raise ConfigError("run.diagnostics.every: diagnostics measure in one process; set it to 0 under torchrun")
    return world
