"""What a resumed run may change: the config stored in a checkpoint against the one resuming it.

A resumed run continues the experiment its checkpoint belongs to, so every key must match
except the ones in `SAFE_ON_RESUME`: they change how long the run goes on, how often it logs,
validates and checkpoints, how rewards are computed and on which device, never what the next
step computes (a device rounds differently: a run moved between devices is not bit-identical to
one that stayed).
Change them explicitly with `seqrl train --resume RUN_DIR optim.steps=2000` (or
`seqrl.resume(run_dir, overrides=[...])`); any other difference is refused, listing the keys.
"""
from __future__ import annotations

from typing import Any, Iterable

from seqrl.config.validate import ConfigError
from seqrl.run.nested import flatten

SAFE_ON_RESUME = frozenset({
    "optim.steps", "run.dir", "run.log_every", "run.eval_every", "run.checkpoint_every",
    "run.keep_checkpoints", "run.eval_samples", "run.progress", "run.time_limit", "run.stop_at",
    "run.dist_timeout", "run.init_from", "run.trackers", "run.device", "task.reward_workers", "task.reward_timeout",
    "run.diagnostics.every", "run.diagnostics.repeats", "run.diagnostics.baselines",  # measurements, not training
})


def check_overrides(overrides: Iterable[str]) -> None:
    """Overrides given with --resume must name safe keys only."""
    unsafe = sorted({item.split("=", 1)[0].strip() for item in overrides} - SAFE_ON_RESUME)
    if unsafe:
        raise ConfigError(f"--resume can change only {', '.join(sorted(SAFE_ON_RESUME))}; not {', '.join(unsafe)} "
                          "(start a new run, e.g. with run.init_from, to change the experiment)")


def check_resume(stored: dict[str, Any], current: dict[str, Any], where: str) -> list[tuple[str, Any, Any]]:
    """Refuse unsafe differences between a checkpoint's config and the resuming one; returns the
    safe ones (to be reported). A key the checkpoint's config lacks (added to seqrl after it was
    written) is no difference when the resuming config holds its default: that is what the older
    version ran with. Only the keys the resuming run reads are compared (Config.used: checkpoints
    written before config.yaml held only those have every key)."""
    from seqrl.config.schema import Config
    from seqrl.config.validate import to_dict

    reads = flatten(current)
    had = {k: v for k, v in flatten(stored).items() if k in reads}  # older checkpoints kept every key
    defaults = flatten(to_dict(Config()))
    found = [(k, had.get(k), new) for k, new in sorted(reads.items()) if had.get(k) != new]
    found = [c for c in found if c[0] in had or c[0] not in defaults or c[2] != defaults[c[0]]]
    unsafe = [c for c in found if c[0] not in SAFE_ON_RESUME]
    if unsafe:
        listed = "; ".join(f"{k}: {_short(a)} -> {_short(b)}" for k, a, b in unsafe)
        raise ConfigError(f"{where}: the config differs from the one this checkpoint was trained with ({listed}); "
                          "a resumed run continues the same experiment (only "
                          f"{', '.join(sorted(SAFE_ON_RESUME))} may change: `seqrl train --resume RUN_DIR key=value`)")
    return [c for c in found if c[0] in SAFE_ON_RESUME]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
