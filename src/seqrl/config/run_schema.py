"""The run section: run directory, logging, checkpoints, devices, trackers and the estimator
diagnostics (run.diagnostics)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional

from seqrl.config.fields import meta

DEVICE_SPEC = r"^(auto|cpu|mps|cuda(:\d+)?)$"  # run.device


DIAGNOSTIC_BASELINES = ("none", "ema", "value", "self_critical", "rloo", "grpo")


@dataclass(frozen=True)
class DiagnosticsConfig:
    every: int = meta("every N steps (those that sample), re-estimate the step's gradient run.diagnostics.repeats "
                      "times on the same inputs with fresh samples and log its total variance, signal-to-noise ratio and the "
                      "cosine of single estimates with their mean to RUN_DIR/diagnostics.jsonl (0 = off); the "
                      "training numbers do not change", 0, 10**8, 0)
    repeats: int = meta("gradient estimates per measurement (memory: this many copies of the gradient)", 2, 10**4, 8)
    baselines: str = meta("baselines measured on the same samples: 'run' (the run's own), 'all' (every one this run "
                          "can compute) or a comma-separated list of none, ema, value, self_critical, rloo, grpo",
                          default="run")

    def __post_init__(self) -> None:
        if self.baselines in ("run", "all"):
            return
        names = [b.strip() for b in self.baselines.split(",")]
        bad = [b for b in names if b not in DIAGNOSTIC_BASELINES]
        if bad:
            what = f"{self.baselines!r} has an empty name" if "" in bad else f"{bad[0]!r} is not a baseline"
            raise ValueError(f"run.diagnostics.baselines: {what}; use run, all or a comma-separated list of "
                             f"{', '.join(DIAGNOSTIC_BASELINES)}")


@dataclass(frozen=True)
class RunConfig:
    seed: int = meta("seed of every random stream", 0, 2**31 - 1, 0)
    dir: Optional[str] = meta("run directory; null = runs/<task>-<curriculum>-<time>", default=None)
    log_every: int = meta("steps between metric lines", 1, 10**8, 10)
    eval_every: int = meta("steps between greedy validations", 1, 10**8, 100)
    checkpoint_every: int = meta("steps between checkpoints", 1, 10**8, 100)
    keep_checkpoints: int = meta("checkpoints kept on disk", 1, 1000, 2)
    eval_samples: int = meta("sample outputs shown per validation", 0, 1000, 4)
    stop_at: Optional[float] = meta(
        "stop once the validation headline reaches this (exact match or success rate in [0, 1]; "
        "corpus BLEU in [0, 100] for text; the mean greedy episode return for environments)", -1e9, 1e9, None)
    init_from: Optional[str] = meta(
        "start the policy from a checkpoint file, or from a run directory's best validation "
        "checkpoint (else its latest); optimizer, step and RNG start fresh, text runs reuse its "
        "tokenizer", default=None)
    on_bad_reward: Literal["raise", "skip"] = meta(
        "a reward that raises or is NaN/inf: stop with an error, or skip the sample and count it",
        default="raise")
    progress: bool = meta("show a live progress bar", default=True)
    time_limit: Optional[float] = meta(
        "stop (with a checkpoint and the final validation) once training has run this many seconds; the "
        "step reached depends on the machine, so results are only reproducible by step", 0.0, 1e9, None)
    dist_timeout: float = meta(
        "torchrun runs: seconds a rank waits for the others in a collective before the run fails "
        "(covers rank 0's validations)", 1.0, 1e6, 1800.0)
    threads: Optional[int] = meta(
        "torch intra-op threads; small sequence models run fastest on 1 (null = torch's default)", 1, 1024, 1)
    device: str = meta("where the run computes: auto (CUDA when available, else CPU), cpu, cuda, cuda:N, mps",
                       default="auto")
    precision: Literal["fp32", "bf16", "fp16"] = meta(
        "fp32, or autocast to bf16/fp16 around forward passes (fp16 with a gradient scaler); log-probabilities, "
        "advantages and losses stay float32", default="fp32")
    trackers: str = meta(
        "live curves: 'auto' (TensorBoard in RUN_DIR/tensorboard when installed), 'none', or a comma-separated "
        "list of tensorboard, wandb, mlflow; every metrics and validation row is mirrored", default="auto")
    diagnostics: DiagnosticsConfig = meta("how noisy the gradient estimate is (off by default)",
                                          factory=DiagnosticsConfig)

    def __post_init__(self) -> None:
        from seqrl.run.trackers import parse_trackers

        if not re.match(DEVICE_SPEC, self.device):
            raise ValueError(f"run.device: {self.device!r} is not one of auto, cpu, cuda, cuda:N, mps")

        try:
            parse_trackers(self.trackers)
        except ValueError as err:
            raise ValueError(f"run.trackers: {err}") from None
