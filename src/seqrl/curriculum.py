"""Schedules from cross-entropy to REINFORCE, as pure functions of the step.

Because every schedule is a function of (config, step, seed) alone, resuming a run needs no
schedule state: step k of a resumed run makes exactly the choice the uninterrupted run made.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from seqrl import seeds
from seqrl.config.schema import CurriculumConfig, OptimConfig

CURRICULA = {
    "xent": "cross-entropy (teacher forcing) only",
    "reinforce": "REINFORCE only, from the first step (tasks without references)",
    "warmup": "cross-entropy for warmup_steps, then REINFORCE",
    "mixer": "MIXER: cross-entropy on the first s target tokens, REINFORCE on the rest; "
             "s starts at the full length and falls by mixer_delta every mixer_every steps to 0 "
             "(mixer_anchor=end: REINFORCE on the last full-s tokens of every reference)",
    "alternate": "cross-entropy for warmup_steps, then each step is REINFORCE with probability p, "
                 "p rising linearly from p0 to 1 over span steps",
}


class StepPlan(NamedTuple):
    """What one training step does.

    reinforce: False = a pure cross-entropy step on the references.
    prefix:    number of reference tokens (EOS included) trained by cross-entropy before
               sampling starts; 0 = pure REINFORCE. Only meaningful when reinforce is True.
    suffix:    MIXER anchored at the end: each reference is forced except its last `suffix`
               tokens (EOS included), which are sampled; 0 = not used.
    """

    reinforce: bool
    prefix: int
    suffix: int = 0


def mixer_boundary(step: int, full: int, delta: int, every: int) -> int:
    """MIXER's s(step): `full` for the first `every` steps, then `delta` fewer per stage, down to 0."""
    return max(0, full - delta * (step // every))


def reinforce_probability(step: int, warmup: int, p0: float, span: int) -> float:
    """0 during warm-up, then linear from p0 to 1 over `span` steps."""
    if step < warmup:
        return 0.0
    return min(1.0, p0 + (1.0 - p0) * (step - warmup) / span)


def plan(cfg: CurriculumConfig, step: int, seed: int, full_length: int) -> StepPlan:
    """The step's plan; `full_length` is the longest reference in tokens, EOS included."""
    if cfg.kind == "xent":
        return StepPlan(False, 0)
    if cfg.kind == "reinforce":
        return StepPlan(True, 0)
    if cfg.kind == "warmup":
        return StepPlan(step >= cfg.warmup_steps, 0)
    if cfg.kind == "mixer":
        s = mixer_boundary(step, full_length, cfg.mixer_delta, cfg.mixer_every)
        if cfg.mixer_anchor == "end":
            return StepPlan(s < full_length, 0, full_length - s) if s > 0 else StepPlan(True, 0)
        return StepPlan(s < full_length, s)
    if cfg.kind == "alternate":
        p = reinforce_probability(step, cfg.warmup_steps, cfg.p0, cfg.span)
        return StepPlan(seeds.alternate_draw(seed, step) < p, 0)
    raise ValueError(f"curriculum.kind: unknown {cfg.kind!r}; choose from {sorted(CURRICULA)}")


def learning_rate(cfg: OptimConfig, step: int, reinforce: bool) -> float:
    """Learning rate at `step`: linear warm-up, then constant / linear / cosine decay to 0."""
    peak = cfg.rl_lr if (reinforce and cfg.rl_lr is not None) else cfg.lr
    if step < cfg.lr_warmup:
        return peak * (step + 1) / cfg.lr_warmup
    if cfg.lr_decay == "constant":
        return peak
    frac = min(1.0, (step - cfg.lr_warmup) / max(1, cfg.steps - cfg.lr_warmup))
    if cfg.lr_decay == "linear":
        return peak * (1.0 - frac)
    return peak * 0.5 * (1.0 + math.cos(math.pi * frac))
