"""Live curves where users watch them: every metrics and validation row, mirrored to TensorBoard,
Weights & Biases or MLflow, with the run's config as hyper-parameters.

`run.trackers` is "auto" (TensorBoard when the `tensorboard` package is installed, else nothing),
"none", or a comma-separated list of "tensorboard", "wandb", "mlflow". A tracker named explicitly
but not installed is a config error naming the extra. The JSON-lines files stay the record of a
run; trackers are a view of them. On resume, TensorBoard hides the events logged after the
checkpoint (`purge_step`), as the JSON-lines files are cut back.
"""
from __future__ import annotations

import importlib.util
import math
import numbers
from pathlib import Path
from typing import Any, Optional, Protocol, Sequence

from seqrl.extras import MissingExtra, install_hint, require
from seqrl.run.errors import RunError
from seqrl.run.nested import flatten

KNOWN = ("tensorboard", "wandb", "mlflow")


class Tracker(Protocol):
    def log(self, section: str, step: int, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def parse_trackers(spec: str) -> tuple[str, ...]:
    """'auto' | 'none' | 'tensorboard,mlflow' -> the names (auto resolves to what is installed);
    ValueError for an unknown name."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if names in (["none"], []):
        return ()
    if names == ["auto"]:
        return ("tensorboard",) if importlib.util.find_spec("tensorboard") is not None else ()
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise ValueError(f"unknown tracker(s) {unknown}; use auto, none, or a comma-separated list of {', '.join(KNOWN)}")
    return tuple(dict.fromkeys(names))


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a row (booleans, strings, lists and None left out)."""
    return {k: float(v) for k, v in row.items()
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))}


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """`section.key` -> value, as the trackers' hyper-parameter tables take them (None as text)."""
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flatten(config).items()}


class TensorBoardTracker:
    """Scalars as `train/<key>` and `validation/<key>` in RUN_DIR/tensorboard; the config as hparams."""

    def __init__(self, run_dir: Path, config: dict[str, Any], start_step: int) -> None:
        require("tensorboard", "tensorboard", "run.trackers=tensorboard")
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        # Rows up to start_step belong to the checkpoint resumed from; later ones were lost with the process.
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step + 1 if start_step else None)
        if start_step == 0:
            for summary in hparams(flat_config(config), {}):
                self.writer.file_writer.add_summary(summary)

    def log(self, section: str, step: int, row: dict[str, Any]) -> None:
        for key, value in scalars(row).items():
            self.writer.add_scalar(f"{section}/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    """One W&B run per run directory (its id is the directory's name, resumed on resume)."""

    def __init__(self, run_dir: Path, config: dict[str, Any], start_step: int) -> None:
        wandb = require("wandb", "wandb", "run.trackers=wandb")
        self.run = wandb.init(dir=str(run_dir), name=run_dir.name, id=_run_id(run_dir), resume="allow",
                              config=flat_config(config))

    def log(self, section: str, step: int, row: dict[str, Any]) -> None:
        self.run.log({f"{section}/{k}": v for k, v in scalars(row).items()}, step=step)

    def close(self) -> None:
        self.run.finish()


class MlflowTracker:
    """One MLflow run per run directory, in the tracking server or store MLflow is set up with."""

    def __init__(self, run_dir: Path, config: dict[str, Any], start_step: int) -> None:
        self.mlflow = require("mlflow", "mlflow", "run.trackers=mlflow")
        tag = {"seqrl.run_dir": str(run_dir.resolve())}
        found = self.mlflow.search_runs(filter_string=f"tags.`seqrl.run_dir` = '{tag['seqrl.run_dir']}'",
                                        output_format="list", max_results=1)
        run_id = found[0].info.run_id if found else None
        self.run = self.mlflow.start_run(run_id=run_id, run_name=None if run_id else run_dir.name, tags=tag)
        if run_id is None:
            self.mlflow.log_params({k: str(v)[:500] for k, v in flat_config(config).items()})

    def log(self, section: str, step: int, row: dict[str, Any]) -> None:
        self.mlflow.log_metrics({f"{section}/{k}": v for k, v in scalars(row).items()}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


def _run_id(run_dir: Path) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in run_dir.resolve().name)[:64]


TRACKERS = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker, "mlflow": MlflowTracker}
EXTRAS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_installed(names: Sequence[str]) -> Optional[str]:
    """A message for the first named tracker that is not installed, else None."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            return f"run.trackers: {name} is not installed: {install_hint(EXTRAS[name])}"
    return None


class Trackers:
    """Every configured tracker behind one log/close (rank 0 only)."""

    def __init__(self, names: Sequence[str], run_dir: Path, config: dict[str, Any], start_step: int) -> None:
        self.items: list[Tracker] = []
        for name in names:  # before the first step: a tracker that cannot start is one line, not a traceback
            try:
                self.items.append(TRACKERS[name](run_dir, config, start_step))
            except MissingExtra:
                raise
            except Exception as err:  # noqa: BLE001 - the tracker's own errors (a server, a login)
                self.close()
                first = (str(err).splitlines() or [""])[0][:300]
                raise RunError(f"run.trackers: {name} could not start ({type(err).__name__}: {first})") from None

    def log(self, section: str, step: int, row: dict[str, Any]) -> None:
        for tracker in self.items:
            tracker.log(section, step, row)

    def close(self) -> None:
        """Close every tracker, even when one fails; then RunError naming the first failure."""
        failures = []
        for tracker in self.items:
            try:
                tracker.close()
            except Exception as err:  # noqa: BLE001 - a disk, a server: the others still close
                failures.append(f"{type(tracker).__name__}: {type(err).__name__}: {err}")
        self.items = []
        if failures:
            raise RunError(f"run.trackers: closing failed ({'; '.join(failures)[:300]})")
