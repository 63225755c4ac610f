"""Trainer: owns the run directory, the loop, validation and checkpoints of any source of
rollouts (a sequence task: train.sequences; an environment: envs.source)."""
from __future__ import annotations

import logging
import resource
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from seqrl.config import Config, ConfigError, load_config, to_dict
from seqrl.config.resume import check_overrides
from seqrl.run import jsonl
from seqrl.run.errors import CheckpointError, RunError
from seqrl.run.trackers import Trackers, check_installed, parse_trackers
from seqrl.run.progress import ProgressBar, step_summary
from seqrl.run.signals import trap_stop_signals
from seqrl.train import checkpoint as ckpt
from seqrl.train import diagnostics
from seqrl.train.device import resolve_device
from seqrl.train.distributed import init_world
from seqrl.train.snapshot import restore, snapshot
from seqrl.train.source import Source, build_source
from seqrl.train.run_dir import RunDirectory
from seqrl.train.state import TrainState

log = logging.getLogger("seqrl")


def default_run_dir(cfg: Config) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = (f"{cfg.task.name}-{cfg.curriculum.kind}" if cfg.env.id is None
            else f"{cfg.env.id.replace('/', '-')}-{cfg.env.algo}")
    return Path("runs") / f"{stem}-{stamp}"


class Trainer:
    """Builds everything from a validated Config; `fit()` trains, `evaluate()` validates."""

    def __init__(self, cfg: Config, run_dir: Optional[str | Path] = None,
                 reward_fn: Optional[Callable[..., Any]] = None, *, initialise: bool = True) -> None:
        """`reward_fn`, a Python callable, replaces the reward named by task.reward (pass it
        again to `resume`: a callable cannot be written into config.yaml). `initialise=False`
        skips run.init_from (resume loads its own checkpoint instead)."""
        self.cfg = cfg
        self.device = resolve_device(cfg.run.device)
        self.world = init_world(cfg.run.dist_timeout, self.device)
        self.run_dir = Path(run_dir or cfg.run.dir or default_run_dir(cfg))
        self.directory = RunDirectory(self.run_dir)
        self.damaged: list[Path] = []  # newer checkpoints that failed verification on resume
        self._rewrite_config = False  # --resume with (safe) overrides: config.yaml is rewritten
        self.tracker_names = parse_trackers(cfg.run.trackers)
        missing = check_installed(self.tracker_names) if self.world.is_main else None
        if missing:
            raise ConfigError(missing)
        self.trackers: Optional[Trackers] = None  # opened by fit() on rank 0
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        init = self._load_init if cfg.run.init_from and initialise else None
        if cfg.run.diagnostics.every and self.world.distributed:
            raise ConfigError("run.diagnostics.every: diagnostics measure in one process; set it to 0 under torchrun")
        self.source: Source = build_source(cfg, self.device, self.world, self.run_dir, reward_fn, init)
        self.state = TrainState()

    def __getattr__(self, name: str) -> Any:
        """What the source built is the trainer's too: policy, optimizer, value_head, reference,
        scaler; for sequences task, data, max_len, decode, ...; for environments envs, spaces."""
        source = self.__dict__.get("source")
        if source is None:
            raise AttributeError(name)
        return getattr(source, name)

    # -- run directory -----------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.directory.checkpoints

    @classmethod
    def resume(cls, run_dir: str | Path, step: Optional[int] = None,
               reward_fn: Optional[Callable[..., Any]] = None, overrides: Sequence[str] = (),
               lock: bool = False) -> "Trainer":
        """Rebuild a run from its directory and load its latest (or given) checkpoint. `overrides`
        (`key=value`) may change only the keys in config.resume.SAFE_ON_RESUME, e.g. optim.steps.
        `lock=True` takes the run directory before reading any checkpoint (to train on)."""
        run_dir = Path(run_dir)
        cfg_path = run_dir / "config.yaml"
        if not cfg_path.is_file():
            raise ConfigError(f"{run_dir} is not a run directory (no config.yaml)")
        check_overrides(overrides)
        trainer = cls(load_config(cfg_path, overrides), run_dir, reward_fn, initialise=False)
        trainer._rewrite_config = bool(overrides)
        if lock:
            trainer.lock()
        trainer.load(step)
        return trainer

    def load(self, step: Optional[int] = None) -> int:
        """Load the latest checkpoint that verifies (or the one at `step`); returns the step loaded.
        A newer checkpoint that fails verification is reported, skipped and remembered in
        `damaged` (fit() renames it to *.corrupt); the one before it is still on disk."""
        found = ckpt.list_checkpoints(self.checkpoint_dir)
        if step is not None:
            found = [(s, p) for s, p in found if s == step]
        if not found:
            raise FileNotFoundError(f"no checkpoint{'' if step is None else f' at step {step}'} in {self.checkpoint_dir}")
        if step is not None:
            return self.load_file(found[-1][1])
        problems: list[str] = []
        for _, path in reversed(found):
            try:
                loaded = self.load_file(path)
            except CheckpointError as err:
                log.warning("skipping a damaged checkpoint: %s", err)
                problems.append(str(err))
                self.damaged.append(path)
                continue
            if problems:
                log.warning("resuming from %s, the newest checkpoint that verifies (step %d)", path, loaded)
            return loaded
        raise CheckpointError(f"no checkpoint in {self.checkpoint_dir} verifies: {'; '.join(problems)}")

    def load_file(self, path: Path) -> int:
        """Load one checkpoint file (e.g. checkpoints/best.safetensors); returns its step.
        Raises CheckpointError for a damaged file, ConfigError when it belongs to another config."""
        self.state = restore(self, path)
        return self.state.step

    def _load_init(self, policy: torch.nn.Module) -> None:
        """run.init_from: the policy's weights only, from another run's checkpoint."""
        init_from = str(self.cfg.run.init_from)
        try:
            path, _ = ckpt.resolve_init(init_from)
            tensors, _ = ckpt.load_checkpoint(path)
            ckpt.load_module("policy", policy, tensors)
        except (FileNotFoundError, CheckpointError) as err:
            raise ConfigError(f"run.init_from: {err}") from None
        except RuntimeError as err:  # shape mismatch: show the first offending tensor
            first = next((ln.strip() for ln in str(err).splitlines() if "mismatch" in ln or "Missing" in ln), str(err))
            raise ConfigError(f"run.init_from: cannot start from {init_from}, its weights do not fit "
                              f"this run's model section: {first}") from None
        log.info("policy initialised from %s", path)

    def save(self, path: Optional[Path] = None) -> Optional[Path]:
        """Write a checkpoint (rank 0 only in data-parallel runs); returns its path."""
        if not self.world.is_main:
            return None
        tensors, meta = snapshot(self)
        series = path is None  # else e.g. the best checkpoint: outside the pruned step-N series
        path = ckpt.checkpoint_path(self.checkpoint_dir, self.state.step) if path is None else path
        try:
            ckpt.save_checkpoint(path, tensors, meta)
        except OSError as err:
            found = ckpt.list_checkpoints(self.checkpoint_dir)
            kept = f"the previous checkpoint {found[-1][1]} is intact" if found else "no earlier checkpoint exists"
            raise RunError(f"cannot write checkpoint {path}: {err.strerror or err}; {kept}") from None
        if series:
            ckpt.prune_checkpoints(self.checkpoint_dir, self.cfg.run.keep_checkpoints)
        return path

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The source's validation: greedy decoding and the task's metrics for sequences, greedy
        episodes for an environment."""
        return self.source.evaluate(*args, **kwargs)

    # -- training ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """The run has reached optim.steps, run.stop_at or run.time_limit."""
        limit = self.cfg.run.time_limit
        return (self.state.step >= self.cfg.optim.steps or self.state.stopped_early
                or (limit is not None and self.state.seconds >= limit))

    def lock(self) -> None:
        """Take the run directory (created if missing) for this process: a second process is
        refused with RunDirBusy naming this one. fit() calls it; the CLI calls it first thing."""
        if self.world.is_main:
            self.directory.take()

    def release(self) -> None:
        """Let go of the run directory and stop reward workers (fit() does this when it ends)."""
        self.source.close()
        self.directory.release()

    def _prepare_dir(self) -> None:
        if self.world.is_main:
            self.lock()
            self.directory.prepare(self.cfg, self.state.step, self.damaged, self._rewrite_config)
            self.damaged = []

    def fit(self) -> dict[str, Any]:
        """Train until optim.steps (or run.stop_at); returns the final summary. A finished run
        appends nothing and returns its last summary."""
        try:
            self._prepare_dir()
            if self.finished and self.world.is_main:
                last = [r for r in jsonl.read(self.run_dir / "summary.jsonl") if r.get("step") == self.state.step]
                if last:
                    log.warning("%s already finished at step %d; nothing to do", self.run_dir, self.state.step)
                    return last[-1]
            return self._fit()
        finally:
            self.release()

    def _fit(self) -> dict[str, Any]:
        cfg = self.cfg
        started = time.perf_counter()
        stop = self.state.stopped_early
        interrupted: list[int] = []
        restore = trap_stop_signals(interrupted)
        self.source.on_stop_signal(lambda: bool(interrupted))
        if self.world.is_main:
            self.trackers = Trackers(self.tracker_names, self.run_dir, to_dict(cfg), self.state.step)
        try:
            with ProgressBar(cfg.optim.steps, self.state.step, cfg.run.progress and self.world.is_main) as bar:
                self._loop(bar, stop, interrupted)
        finally:
            restore()
            self.source.on_stop_signal(None)
            if self.trackers is not None:
                self.trackers.close()
                self.trackers = None
        if interrupted:
            raise KeyboardInterrupt(f"interrupted at step {self.state.step}; checkpoint saved")
        summary = {"run_dir": str(self.run_dir), "step": self.state.step,
                   "fit_wall_seconds": time.perf_counter() - started,  # this fit() call, everything included
                   "train_seconds": self.state.seconds,  # training over every resume, as metrics' `seconds`
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if not self.world.is_main:  # rank 0 validates and writes the summary
            return {**summary, "rank": self.world.rank}
        summary.update(self.evaluate())
        summary.pop("samples", None)
        jsonl.append(self.run_dir / "summary.jsonl", summary)
        return summary

    def _loop(self, bar: ProgressBar, stop: bool, interrupted: list[int]) -> None:
        cfg = self.cfg
        if cfg.run.time_limit is not None and self.state.seconds >= cfg.run.time_limit:
            return  # a resumed run that had already used its time
        signal_steps = [0, 0]  # REINFORCE steps in this logging window, and those with a usable reward
        while self.state.step < cfg.optim.steps and not stop:
            if interrupted:  # a signal arrived: checkpoint between steps, where state is consistent
                self.save()
                return
            step = self.state.step
            if self.world.is_main and diagnostics.due(cfg, step):
                self._diagnose(step)
            began = time.perf_counter()
            m = self.source.train_step(step, self.state)
            self.state.step = step + 1
            self.state.seconds += time.perf_counter() - began
            if m["mode"] == "reinforce":
                signal_steps[0] += 1
                signal_steps[1] += m.get("reward_mean") is not None
            if self.world.is_main and (self.state.step % cfg.run.log_every == 0 or self.state.step == cfg.optim.steps):
                row = {"step": self.state.step, "seconds": round(self.state.seconds, 3), **m}  # training seconds so far
                jsonl.append(self.run_dir / "metrics.jsonl", row)
                if self.trackers is not None:
                    self.trackers.log("train", self.state.step, row)
                if signal_steps[0] and not signal_steps[1]:
                    _warn(bar, f"steps {self.state.step - signal_steps[0] + 1}..{self.state.step}: every reward was "
                               "None (not applicable), so REINFORCE had no learning signal; check task.reward")
                signal_steps = [0, 0]
            if self.state.step % cfg.run.eval_every == 0 or self.state.step == cfg.optim.steps:
                began = time.perf_counter()
                stop = self._validate(bar) if self.world.is_main else False
                self.state.seconds += time.perf_counter() - began
            out_of_time = cfg.run.time_limit is not None and self.state.seconds >= cfg.run.time_limit
            if out_of_time:
                bar.log(f"run.time_limit={cfg.run.time_limit} s reached at step {self.state.step}")
                stop = True
            if self.world.distributed:  # every rank stops together (rank 0 decides validation stops)
                stop = self.world.total(float(stop) + float(bool(interrupted))) > 0
            if self.state.step % cfg.run.checkpoint_every == 0 or stop or self.state.step == cfg.optim.steps:
                self.save()
            bar.update(self.state.step, step_summary(m))

    def _diagnose(self, step: int) -> None:
        """run.diagnostics: the gradient's spread at this step (not counted as training time)."""
        row = diagnostics.measure(self.source, self.cfg, step, self.state, self.device)
        if row is None:
            return
        jsonl.append(self.run_dir / diagnostics.FILE, row)
        if self.trackers is not None:
            self.trackers.log("diagnostics", step, diagnostics.flat(row))

    def _validate(self, bar: ProgressBar) -> bool:
        metrics = self.evaluate()
        row = {"step": self.state.step, "seconds": round(self.state.seconds, 3), **metrics}  # seconds before this validation
        jsonl.append(self.run_dir / "eval.jsonl", row)
        if self.trackers is not None:
            self.trackers.log("validation", self.state.step, row)
        score = self.source.headline(metrics)
        if score > self.state.best_exact:
            self.state.best_exact, self.state.best_step = score, self.state.step
            self.save(self.checkpoint_dir / ckpt.BEST)
        shown = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
        bar.log(f"step {self.state.step} validation {shown}")
        if self.cfg.run.stop_at is not None and score >= self.cfg.run.stop_at:
            self.state.stopped_early = True
            bar.log(f"reached run.stop_at={self.cfg.run.stop_at} at step {self.state.step}")
            return True
        return False


def _warn(bar: ProgressBar, text: str) -> None:
    """A warning: above the live bar when there is one, else through logging (stderr by default)."""
    if bar.enabled:
        bar.log(f"warning: {text}")
    else:
        log.warning(text)
