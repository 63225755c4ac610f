"""Building a run from its config: the registry's source, then the Trainer around it.

`make_trainer(cfg, run_dir)` is how a run starts, `resume(run_dir)` how it continues: load the
config, make the source (seqrl.kinds names its class), build the Trainer, load the checkpoint.
"""
from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from seqrl.config import Config, ConfigError, load_config
from seqrl.config.resume import check_overrides
from seqrl.kinds import KINDS, SEQUENCE, kind_of
from seqrl.train import checkpoint as ckpt
from seqrl.train.runtime import start
from seqrl.train.source import Source
from seqrl.train.trainer import Trainer


def source_class(cfg: Config) -> type:
    """The class of the source `cfg` runs (imported now: an environment needs gymnasium)."""
    module, _, name = KINDS[kind_of(cfg.env.id, cfg.env.algo)].source.partition(":")
    return getattr(importlib.import_module(module), name)


def make_source(cfg: Config, run_dir: Path, reward_fn: Optional[Callable[..., Any]] = None,
                initialise: bool = True) -> Source:
    """The source of `cfg` on this process's device. `reward_fn`, a Python callable, replaces
    task.reward (sequence runs); `initialise=False` skips run.init_from (resume loads its own)."""
    world = start(cfg)
    init = ckpt.init_loader(str(cfg.run.init_from)) if cfg.run.init_from and initialise else None
    return source_class(cfg)(cfg, world, run_dir, reward_fn, init)


def default_run_dir(cfg: Config) -> Path:
    """runs/<task>-<curriculum>-<time> for a sequence run, runs/<env id>-<algo>-<time> else."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kind = kind_of(cfg.env.id, cfg.env.algo)
    stem = f"{cfg.task.name}-{cfg.curriculum.kind}" if kind == SEQUENCE else f"{str(cfg.env.id).replace('/', '-')}-{kind}"
    return Path("runs") / f"{stem}-{stamp}"


def make_trainer(cfg: Config, run_dir: Optional[str | Path] = None,
                 reward_fn: Optional[Callable[..., Any]] = None) -> Trainer:
    """A Trainer for a new run of `cfg` in `run_dir` (default: run.dir, else runs/<name>-<time>).
    Pass `reward_fn` again to `resume`: a callable cannot be written into config.yaml."""
    path = Path(run_dir or cfg.run.dir or default_run_dir(cfg))
    return Trainer(cfg, make_source(cfg, path, reward_fn), path)


def resume(run_dir: str | Path, step: Optional[int] = None, reward_fn: Optional[Callable[..., Any]] = None,
           overrides: Sequence[str] = (), lock: bool = False) -> Trainer:
    """Rebuild a run from its directory and load its latest (or given) checkpoint. `overrides`
    (`key=value`) may change only the keys in config.resume.SAFE_ON_RESUME, e.g. optim.steps.
    `lock=True` takes the run directory before reading any checkpoint (to train on)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.yaml)")
    check_overrides(overrides)
    cfg = load_config(cfg_path, overrides)
    trainer = Trainer(cfg, make_source(cfg, run_dir, reward_fn, initialise=False), run_dir,
                      rewrite_config=bool(overrides))
    if lock:
        trainer.lock()
    trainer.load(step)
    return trainer


def resume_at(run_dir: str | Path, checkpoint: Optional[str] = None) -> Trainer:
    """A run at its latest checkpoint ('latest' or None), a step number, or 'best'
    (checkpoints/best.safetensors). A step that has no checkpoint is a FileNotFoundError listing
    the ones that exist."""
    if checkpoint in (None, "latest"):
        return resume(run_dir)
    if checkpoint == "best":
        trainer = resume(run_dir)
        best = trainer.checkpoint_dir / ckpt.BEST
        if not best.exists():
            raise FileNotFoundError(f"{run_dir} has no best checkpoint ({best})")
        trainer.load_file(best)
        return trainer
    if not str(checkpoint).isdigit():
        raise ConfigError(f"--checkpoint takes a step number, 'best' or 'latest', not {checkpoint!r}")
    step = int(checkpoint)
    found = [s for s, _ in ckpt.list_checkpoints(Path(run_dir) / "checkpoints")]
    if step not in found:
        have = ", ".join(str(s) for s in found) or "none"
        raise FileNotFoundError(f"{run_dir} has no checkpoint at step {step}; it has: {have} (and 'best', 'latest')")
    return resume(run_dir, step)
