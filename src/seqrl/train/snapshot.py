"""What a checkpoint holds of a run, and putting it back.

`snapshot(trainer)` gathers the tensors (policy, optimizer moments, learned baseline and its
optimizer, KL reference, RNG states, and what a source adds through `extra_state()`: DQN's
target network and replay buffer) and the JSON metadata (TrainState, optimizer settings, RNG
states that are not tensors, the config, the fp16 loss scale). `restore(trainer, path)` verifies
the file (`checkpoint.load_checkpoint`), refuses a checkpoint of another config
(`config.resume.check_resume`) and puts every piece back; any structural mismatch is a
CheckpointError naming the file.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqrl.config import to_dict
from seqrl.config.resume import check_resume
from seqrl.run.errors import CheckpointError
from seqrl.train import checkpoint as ckpt
from seqrl.train.state import TrainState

if TYPE_CHECKING:
    from seqrl.train.trainer import Trainer

log = logging.getLogger("seqrl")


def snapshot(t: "Trainer") -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of the run's whole state."""
    tensors = ckpt.module_tensors("policy", t.policy)
    rng_t, rng_m = ckpt.rng_snapshot()
    if t.reference is not None and t.reference.module is not None:
        tensors.update(ckpt.module_tensors("reference", t.reference.module))
    tensors.update(rng_t)
    meta: dict[str, Any] = {"state": t.state.to_json(), "rng": rng_m, "config": to_dict(t.cfg)}
    if t.optimizer is not None:  # tabular Q-learning has none
        opt_t, opt_m = ckpt.optimizer_flat("optim", t.optimizer)
        tensors.update(opt_t)
        meta["optim"] = opt_m
    extra = getattr(t.source, "extra_state", None)  # e.g. DQN's target network and replay buffer
    if extra is not None:
        extra_t, extra_m = extra()
        tensors.update({f"extra.{k}": v for k, v in extra_t.items()})
        meta["extra"] = extra_m
    if t.scaler is not None:
        meta["scaler"] = t.scaler.state_dict()
    if t.value_head is not None and t.value_optimizer is not None:
        tensors.update(ckpt.module_tensors("value", t.value_head))
        v_t, v_m = ckpt.optimizer_flat("value_optim", t.value_optimizer)
        tensors.update(v_t)
        meta["value_optim"] = v_m
    return tensors, meta


def restore(t: "Trainer", path: Path) -> TrainState:
    """Load `path` into the trainer's modules, optimizers and RNGs; returns the saved TrainState.
    Raises CheckpointError for a damaged file, ConfigError when it belongs to another config."""
    tensors, meta = ckpt.load_checkpoint(path)
    if isinstance(meta.get("config"), dict):
        for key, old, new in check_resume(meta["config"], to_dict(t.cfg), str(path)):
            log.info("resumed with %s changed from %r to %r", key, old, new)
    try:
        state = TrainState.from_json(meta["state"])
        named = ckpt.step_of(path)
        if named is not None and named != state.step:
            raise ValueError(f"its name says step {named} but it holds step {state.step}")
        ckpt.load_module("policy", t.policy, tensors)
        if t.optimizer is not None:
            ckpt.load_optimizer("optim", t.optimizer, tensors, meta["optim"])
        load_extra = getattr(t.source, "load_extra_state", None)
        if load_extra is not None:
            load_extra({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}, meta["extra"])
        if t.value_head is not None and t.value_optimizer is not None:
            ckpt.load_module("value", t.value_head, tensors)
            ckpt.load_optimizer("value_optim", t.value_optimizer, tensors, meta["value_optim"])
        if t.reference is not None and t.reference.module is not None:
            ckpt.load_module("reference", t.reference.module, tensors)
        ckpt.restore_rng(tensors, meta["rng"])
        if t.scaler is not None and "scaler" in meta:
            t.scaler.load_state_dict(meta["scaler"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        first = (str(err).splitlines() or [""])[0][:300]
        raise CheckpointError(f"{path}: does not fit this run ({type(err).__name__}: {first})") from None
    return state
