"""Trainer: owns the run directory, the objects of a run, evaluation and checkpoints."""
from __future__ import annotations

import logging
import resource
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from seqrl.config import Config, ConfigError, load_config, to_dict
from seqrl.config.resume import check_overrides
from seqrl.curriculum import plan as curriculum_plan
from seqrl.estimators.value_head import ValueHead
from seqrl.rollout import strip
from seqrl.run import jsonl
from seqrl.run.errors import CheckpointError, RunError
from seqrl.run.trackers import Trackers, check_installed, parse_trackers
from seqrl.run.progress import ProgressBar, step_summary
from seqrl.run.signals import trap_stop_signals
from seqrl.tasks import collate
from seqrl.tasks.base import example_columns
from seqrl.train import checkpoint as ckpt
from seqrl.train.build import build_data, build_policy, build_task, check_compatible, training_reward
from seqrl.train.build_text import build_text
from seqrl.train.device import grad_scaler, resolve_device
from seqrl.train.distributed import init_world, step_seed
from seqrl.train.reference import make_reference
from seqrl.train.snapshot import restore, snapshot
from seqrl.train.run_dir import RunDirectory
from seqrl.train.state import TrainState
from seqrl.vocab import specials_of
from seqrl.train.step import StepContext, train_step

log = logging.getLogger("seqrl")


def default_run_dir(cfg: Config) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.task.name}-{cfg.curriculum.kind}-{stamp}"


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
        if cfg.optim.batch_size < self.world.size:
            raise ConfigError(f"optim.batch_size ({cfg.optim.batch_size}) must be at least the number of "
                              f"processes ({self.world.size}): each rank takes a share of the inputs")
        self.run_dir = Path(run_dir or cfg.run.dir or default_run_dir(cfg))
        self.directory = RunDirectory(self.run_dir)
        self.damaged: list[Path] = []  # newer checkpoints that failed verification on resume
        self._rewrite_config = False  # --resume with (safe) overrides: config.yaml is rewritten
        if cfg.task.name == "text":
            self.task, self.data = build_text(cfg, self.run_dir)
            check_compatible(cfg, self.task)
        else:
            self.task = build_task(cfg)
            check_compatible(cfg, self.task)
            self.data = build_data(cfg, self.task)
        self.task, self.reward_fn, self._pools = training_reward(cfg, self.task, reward_fn)
        self.tracker_names = parse_trackers(cfg.run.trackers)
        missing = check_installed(self.tracker_names) if self.world.is_main else None
        if missing:
            raise ConfigError(missing)
        self.trackers: Optional[Trackers] = None  # opened by fit() on rank 0
        cur = cfg.curriculum
        if cur.kind in ("warmup", "alternate") and cur.warmup_steps >= cfg.optim.steps:
            log.warning("no REINFORCE step will run: curriculum.warmup_steps (%d) >= optim.steps (%d), so this run "
                        "trains with cross-entropy only (curriculum.kind=xent says so explicitly)",
                        cur.warmup_steps, cfg.optim.steps)
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        longest = max(cfg.task.train_max_len, cfg.task.val_max_len)
        self.max_len = cfg.reinforce.max_len or self.task.max_target_len(longest) + 1
        self.full_length = self.task.max_target_len(cfg.task.train_max_len) + 1  # EOS included
        torch.manual_seed(cfg.run.seed)
        np.random.seed(cfg.run.seed)
        src_len = max(len(e.source) for e in self.data.validation) + 2 * longest + 8
        if cfg.task.name == "text":
            src_len = max(src_len, cfg.data.max_tokens + 8)
        if cfg.model.kind == "hf":
            from seqrl.train.build_hf import build_hf_run_policy

            self.policy = build_hf_run_policy(cfg, self.task, self.data, self.max_len)
        else:
            self.policy = build_policy(cfg, self.task.vocab.size, src_len + self.max_len + 8,
                                       getattr(self.task, "source_vocab_size", None))
        self.policy.to(self.device)  # built (and seeded) on the CPU, so every device starts from the same weights
        self.optimizer = torch.optim.AdamW([p for p in self.policy.parameters() if p.requires_grad], lr=cfg.optim.lr,
                                           weight_decay=cfg.optim.weight_decay)
        self.value_head: Optional[ValueHead] = None
        self.value_optimizer: Optional[torch.optim.Optimizer] = None
        if cfg.reinforce.baseline == "value":
            self.value_head = ValueHead(self.policy.feature_dim, cfg.reinforce.value_hidden).to(self.device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=cfg.reinforce.value_lr)
        self.state = TrainState()
        if cfg.run.init_from and initialise:
            self._load_init(cfg.run.init_from)
        # The KL reference: a copy of the policy, taken again at the first REINFORCE step (resume
        # loads its saved weights and the step it was taken at).
        self.reference = make_reference(self.policy) if cfg.reinforce.kl_coef > 0 else None
        scorer = None
        if self.world.distributed:  # DDP broadcasts rank 0's weights now and all-reduces gradients
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            scorer = DistributedDataParallel(self.policy, device_ids=ids, find_unused_parameters=True)
        self.scaler = grad_scaler(self.device, cfg.run.precision)
        self.ctx = StepContext(cfg, self.task, self.policy, self.optimizer, self.reward_fn, self.max_len,
                               self.value_head, self.value_optimizer, self.reference, self.world, scorer, self.scaler)

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

    def _load_init(self, init_from: str) -> None:
        """run.init_from: the policy's weights only, from another run's checkpoint."""
        try:
            path, _ = ckpt.resolve_init(init_from)
            tensors, _ = ckpt.load_checkpoint(path)
            ckpt.load_module("policy", self.policy, tensors)
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
    @torch.no_grad()
    def decode(self, examples: list, beam: Optional[int] = None, length_penalty: float = 1.0,
               batch_size: int = 256) -> list[list[int]]:
        """Greedy (or beam-search) outputs of `examples` in order, EOS and padding stripped."""
        was_training = self.policy.training
        self.policy.eval()
        outputs: list[list[int]] = []
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i : i + batch_size], specials_of(self.task)).to(self.device)
            rollout = (self.policy.beam(batch, self.max_len, beam, length_penalty) if beam
                       else self.policy.greedy(batch, self.max_len))
            outputs.extend(strip(rollout.tokens, rollout.mask, rollout.eos))
        self.policy.train(was_training)
        return outputs

    def evaluate(self, examples: Optional[list] = None, batch_size: int = 256,
                 beam: Optional[int] = None, length_penalty: float = 1.0) -> dict[str, Any]:
        """Greedy (or beam-search) decoding on the validation set: the task's metrics and a few samples."""
        examples = list(self.data.validation if examples is None else examples)
        outputs = self.decode(examples, beam, length_penalty, batch_size)
        sources = [list(e.source) for e in examples]
        refs = [list(e.target) if e.target is not None else None for e in examples]
        extra = example_columns(examples) or {}
        metrics = dict(self.task.metrics(outputs, refs, sources, **extra))
        render = self.task.vocab.render
        render_source = getattr(self.task, "render_source", render)  # text with its own source vocabulary
        metrics["samples"] = [
            {"source": render_source(s), "reference": render(r) if r is not None else None, "output": render(o)}
            for s, r, o in list(zip(sources, refs, outputs))[: self.cfg.run.eval_samples]
        ]
        return metrics

    def headline(self, metrics: dict[str, Any]) -> float:
        """The number `run.stop_at` and the best checkpoint track: exact match, success rate for
        reference-free tasks, corpus BLEU for text."""
        for key in ("exact_match", "success_rate", "bleu", "reward"):
            if key in metrics:
                return float(metrics[key])
        raise KeyError(f"task {self.task.name!r} reports none of exact_match, success_rate, reward")

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
        for pool in self._pools:
            pool.close()
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
        for pool in self._pools:  # a stop signal also ends a wait on stuck reward workers
            pool.should_stop = lambda: bool(interrupted)
        if self.world.is_main:
            self.trackers = Trackers(self.tracker_names, self.run_dir, to_dict(cfg), self.state.step)
        try:
            with ProgressBar(cfg.optim.steps, self.state.step, cfg.run.progress and self.world.is_main) as bar:
                self._loop(bar, stop, interrupted)
        finally:
            restore()
            for pool in self._pools:
                pool.should_stop = None
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
            began = time.perf_counter()
            examples = self.data.train_batch(step, cfg.optim.batch_size)
            if self.world.distributed:  # this rank's share; dropout draws a (seed, step, rank) stream
                torch.manual_seed(step_seed(cfg.run.seed, step, self.world.rank))
                lo, hi = self.world.shard(len(examples))
                examples = examples[lo:hi]
            p = curriculum_plan(cfg.curriculum, step, cfg.run.seed, self.full_length)
            if p.reinforce and self.reference is not None and self.state.reference_step < 0:
                self.reference.capture(self.policy)  # the KL reference: the policy REINFORCE starts from
                self.state.reference_step = step
            batch = collate(examples, specials_of(self.task)).to(self.device)
            m = train_step(self.ctx, examples, batch, p, step, self.state)
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

    def _validate(self, bar: ProgressBar) -> bool:
        metrics = self.evaluate()
        row = {"step": self.state.step, "seconds": round(self.state.seconds, 3), **metrics}  # seconds before this validation
        jsonl.append(self.run_dir / "eval.jsonl", row)
        if self.trackers is not None:
            self.trackers.log("validation", self.state.step, row)
        score = self.headline(metrics)
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
