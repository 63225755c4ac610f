"""Trainer: the loop, the run directory, validation and checkpoints of any source of rollouts.

It receives its source (seqrl.sources builds one from a config: `seqrl.make_trainer`) and never
asks which kind of run it drives: it times the source's step, computes throughput from the counts
the step returns, validates, and saves what the source says it holds (`Source.holdings`).
"""
from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any, Optional

from seqrl.config import Config
from seqrl.run import jsonl
from seqrl.run.errors import CheckpointError, RunError
from seqrl.run.trackers import Trackers, parse_trackers
from seqrl.run.progress import ProgressBar, step_summary
from seqrl.run.signals import trap_stop_signals
from seqrl.train import checkpoint as ckpt
from seqrl.train import diagnostics
from seqrl.train.snapshot import restore, snapshot
from seqrl.train.source import Source
from seqrl.train.run_dir import RunDirectory
from seqrl.train.state import TrainState

log = logging.getLogger("seqrl")


class Trainer:
    """Drives `source` under `cfg`: `fit()` trains, `evaluate()` validates, `load()` resumes."""

    def __init__(self, cfg: Config, source: Source, run_dir: str | Path, *, rewrite_config: bool = False) -> None:
        """`rewrite_config`: a resumed run whose (safe) overrides changed config.yaml."""
        self.cfg = cfg
        self.source = source
        self.world = source.world
        self.device = self.world.device
        self.run_dir = Path(run_dir)
        self.directory = RunDirectory(self.run_dir)
        self.damaged: list[Path] = []  # newer checkpoints that failed verification on resume
        self._rewrite_config = rewrite_config
        self.tracker_names = parse_trackers(cfg.run.trackers)
        self.trackers: Optional[Trackers] = None  # opened by fit() on rank 0
        self.state = TrainState()
        self._stop_checkpoint: Optional[Path] = None  # written when a stop signal ended fit()

    # -- run directory -----------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.directory.checkpoints

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
                if not path.exists():  # a dangling symlink (or a file removed meanwhile): try the one before
                    raise CheckpointError(f"{path}: points to nothing (a dangling link, or removed)")
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
        Raises CheckpointError for a damaged file, ConfigError when it belongs to another config.
        A run that run.stop_at stopped trains on when it is resumed with run.stop_at lifted (null)
        or raised above its best validation score."""
        self.state = restore(self.source.holdings(), self.cfg, path)
        stop_at = self.cfg.run.stop_at
        if self.state.stopped_early and (stop_at is None or self.state.best_exact < stop_at):
            self.state.stopped_early = False
        return self.state.step

    def save(self, path: Optional[Path] = None) -> Optional[Path]:
        """Write a checkpoint (rank 0 only in data-parallel runs); returns its path."""
        if not self.world.is_main:
            return None
        tensors, meta = snapshot(self.source.holdings(), self.state, self.cfg)
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
    def evaluate(self) -> dict[str, Any]:
        """The source's validation (e.g. greedy decoding and the task's metrics, greedy episodes)."""
        return self.source.evaluate()

    # -- training ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """The run has reached optim.steps, run.stop_at or run.time_limit."""
        return self.finish_reason() is not None

    def finish_reason(self) -> Optional[str]:
        """Why the run trains no further (None: it does): what was reached, as a user reads it."""
        limit, s = self.cfg.run.time_limit, self.state
        if s.stopped_early:
            return (f"run.stop_at={self.cfg.run.stop_at} was reached (best validation {s.best_exact:.4g} at step "
                    f"{s.best_step})")
        if limit is not None and s.seconds >= limit:
            return f"run.time_limit={limit} s was used ({s.seconds:.1f} s of training)"
        if s.step >= self.cfg.optim.steps:
            return f"optim.steps={self.cfg.optim.steps} was reached"
        return None

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
        appends nothing, leaves its files (config.yaml included) as they are and returns its last
        summary."""
        try:
            if self.finished and self.world.is_main:
                self.lock()
                last = [r for r in jsonl.read(self.run_dir / "summary.jsonl") if r.get("step") == self.state.step]
                if last:
                    log.warning("%s already finished at step %d: %s; nothing to do", self.run_dir, self.state.step,
                                self.finish_reason())
                    return last[-1]
            self._prepare_dir()
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
            self.trackers = Trackers(self.tracker_names, self.run_dir, cfg.used(), self.state.step)
        trained = False
        try:
            with ProgressBar(cfg.optim.steps, self.state.step, cfg.run.progress and self.world.is_main) as bar:
                self._loop(bar, stop, interrupted)
                if self.state.step < cfg.optim.steps and not interrupted:
                    bar.finish(f"stopped: {self.finish_reason()}")
            trained = True
        finally:
            restore()
            self.source.on_stop_signal(None)
            self._close_trackers(first_error=not trained)
        if interrupted:
            saved = f"saved {self._stop_checkpoint}" if self._stop_checkpoint else "the last checkpoint is kept"
            raise KeyboardInterrupt(f"interrupted at step {self.state.step}; {saved}")
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
                self._stop_checkpoint = self.save()
                return
            step = self.state.step
            if self.world.is_main and diagnostics.due(cfg, step):
                self._diagnose(step)
            began = time.perf_counter()
            m = self.source.train_step(step, self.state)
            elapsed = time.perf_counter() - began
            m.update(step_time=elapsed, seq_per_s=m["sequences"] / elapsed, tok_per_s=m["tokens"] / elapsed)
            self.state.step = step + 1
            self.state.seconds += elapsed
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

    def _close_trackers(self, first_error: bool) -> None:
        """Close the trackers; when training already failed, a failure to close them (the same full
        disk, say) is a warning, never the error the user sees instead of the first one."""
        trackers, self.trackers = self.trackers, None
        if trackers is None:
            return
        try:
            trackers.close()
        except RunError as err:
            if not first_error:
                raise
            log.warning("%s (after the error below)", err)

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
