"""run.diagnostics: how noisy is this run's gradient estimate, under each baseline?

Every `run.diagnostics.every` steps, before the step trains, the source re-estimates that step's
gradient `repeats` times on the step's own inputs (a sequence run's batch, an environment run's
reset seeds) with fresh samples, and, on each set of samples, under every baseline measured, so
the baselines are compared on identical data. estimators.diagnostics reduces each baseline's
estimates to total variance, SNR and cosine; one row per measurement goes to
RUN_DIR/diagnostics.jsonl (and the trackers). Nothing is updated: the estimates draw from their
own random streams (a pure function of seed, step and repeat), the global RNG is restored, no
optimizer steps, so a run measures the same numbers with or without diagnostics.
"""
from __future__ import annotations

import math
import time
from typing import Any, Optional

import torch

from seqrl.config import Config
from seqrl.estimators.diagnostics import gradient_spread
from seqrl.train.device import autocast
from seqrl.train.state import TrainState

FILE = "diagnostics.jsonl"


def due(cfg: Config, step: int) -> bool:
    every = cfg.run.diagnostics.every
    return every > 0 and step % every == 0


def measure(source: Any, cfg: Config, step: int, state: TrainState, device: torch.device) -> Optional[dict[str, Any]]:
    """One diagnostics row for the parameters after `step` steps (None on a cross-entropy step:
    nothing is sampled there)."""
    d = cfg.run.diagnostics
    baselines = cfg.diagnostic_baselines()
    started = time.perf_counter()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), autocast(device, cfg.run.precision):
        estimates = source.gradient_estimates(step, state, baselines, d.repeats)
    if estimates is None:
        return None
    spreads = {b: _finite(gradient_spread(g)) for b, g in estimates.items()}
    return {"step": step, "repeats": d.repeats, "baselines": spreads,
            "seconds": round(time.perf_counter() - started, 3)}


def _finite(row: dict[str, float]) -> dict[str, Any]:
    """JSON has no inf: a zero-variance estimate's SNR is written as null."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """{"baselines": {"rloo": {"snr": 2}}} -> {"rloo/snr": 2} for the trackers."""
    out = {f"{b}/{k}": v for b, spread in row["baselines"].items() for k, v in spread.items()}
    out["seconds"] = row["seconds"]
    return out
