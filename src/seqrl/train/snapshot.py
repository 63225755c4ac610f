"""What a checkpoint holds of a run, and putting it back.

`snapshot(holdings, state, cfg)` gathers the tensors (the source's modules and optimizer moments,
RNG states, and what a source adds through `Holdings.save_extra`: DQN's target network and replay
buffer) and the JSON metadata (TrainState, optimizer settings, RNG states that are not tensors,
the config, the fp16 loss scale). `restore(holdings, cfg, path)` verifies the file
(`checkpoint.load_checkpoint`), refuses a checkpoint of another config (`config.resume.check_resume`)
and puts every piece back; any structural mismatch is a CheckpointError naming the file. Neither
knows the Trainer or the kind of run: the source says what it holds (train.source.Holdings).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from seqrl.config import Config
from seqrl.config.resume import check_resume
from seqrl.run.errors import CheckpointError
from seqrl.train import checkpoint as ckpt
from seqrl.train.source import Holdings
from seqrl.train.state import TrainState

log = logging.getLogger("seqrl")


def snapshot(h: Holdings, state: TrainState, cfg: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of the run's whole state."""
    rng_t, rng_m = ckpt.rng_snapshot()
    tensors: dict[str, Any] = dict(rng_t)
    meta: dict[str, Any] = {"state": state.to_json(), "rng": rng_m, "config": cfg.used()}
    for name, module in h.modules.items():
        tensors.update(ckpt.module_tensors(name, module))
    for name, optimizer in h.optimizers.items():
        opt_t, meta[name] = ckpt.optimizer_flat(name, optimizer)
        tensors.update(opt_t)
    if h.save_extra is not None:  # e.g. DQN's target network and replay buffer
        extra_t, meta["extra"] = h.save_extra()
        tensors.update({f"extra.{k}": v for k, v in extra_t.items()})
    if h.scaler is not None:
        meta["scaler"] = h.scaler.state_dict()
    return tensors, meta


def restore(h: Holdings, cfg: Config, path: Path) -> TrainState:
    """Load `path` into the source's modules, optimizers and RNGs; returns the saved TrainState.
    Raises CheckpointError for a damaged file, ConfigError when it belongs to another config."""
    tensors, meta = ckpt.load_checkpoint(path)
    if isinstance(meta.get("config"), dict):
        for key, old, new in check_resume(meta["config"], cfg.used(), str(path)):
            log.info("resumed with %s changed from %r to %r", key, old, new)
    try:
        state = TrainState.from_json(meta["state"])
        named = ckpt.step_of(path)
        if named is not None and named != state.step:
            raise ValueError(f"its name says step {named} but it holds step {state.step}")
        for name, module in h.modules.items():
            ckpt.load_module(name, module, tensors)
        for name, optimizer in h.optimizers.items():
            ckpt.load_optimizer(name, optimizer, tensors, meta[name])
        if h.load_extra is not None:
            h.load_extra({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}, meta["extra"])
        ckpt.restore_rng(tensors, meta["rng"])
        if h.scaler is not None and "scaler" in meta:
            h.scaler.load_state_dict(meta["scaler"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        first = (str(err).splitlines() or [""])[0][:300]
        raise CheckpointError(f"{path}: does not fit this run ({type(err).__name__}: {first})") from None
    return state
