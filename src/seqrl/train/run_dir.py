"""The run directory as one object: taken by one process at a time, made ready for (re)training.

`RunDirectory(path).take()` creates the directory if needed and takes its lock (`run.lock`);
`prepare(...)` checks that nothing in it is in the way, clears what a killed writer left behind,
moves damaged checkpoints out of the series, writes `config.yaml` and cuts the logs back to the
step being resumed. Every file-system failure becomes one `RunError` naming the path.
"""
from __future__ import annotations

import logging
from pathlib import Path

from seqrl.config import Config, ConfigError, save_config
from seqrl.run import jsonl
from seqrl.run.errors import RunError
from seqrl.run.lock import RunLock
from seqrl.train import checkpoint as ckpt

log = logging.getLogger("seqrl")


def _must_be_directory(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(20, "exists and is not a directory", str(path))


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self._lock = RunLock(self.path)

    @property
    def taken(self) -> bool:
        return self._lock.held

    def take(self) -> None:
        """Create the directory if missing and lock it for this process (RunDirBusy otherwise)."""
        if self._lock.held:
            return
        try:
            _must_be_directory(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
            for where in (self.path, self.checkpoints):  # a killed writer's temporary files; we hold the lock
                ckpt.remove_temporary(where)
        except OSError as err:
            raise RunError(f"cannot use run directory {self.path}: {err.strerror or err}") from None

    def release(self) -> None:
        self._lock.release()

    def prepare(self, cfg: Config, step: int, damaged: list[Path], write_config: bool) -> None:
        """Ready the directory to train from `step` (0: a new run). Call after take()."""
        if step == 0 and ckpt.list_checkpoints(self.checkpoints):
            raise ConfigError(f"{self.path} already holds a run with checkpoints; resume it with "
                              f"`seqrl train --resume {self.path}` or choose another run directory")
        try:
            _must_be_directory(self.checkpoints)
            self.checkpoints.mkdir(exist_ok=True)
            ckpt.remove_temporary(self.checkpoints)  # a killed writer's; nobody else writes here
            for path in damaged:  # out of the series, kept for inspection
                path.rename(path.with_name(path.name + ".corrupt"))
                log.warning("renamed the damaged checkpoint %s to %s.corrupt", path, path.name)
            if step == 0 or write_config:
                save_config(cfg, self.path / "config.yaml")
            # A resumed run forgets whatever the interrupted process logged after its checkpoint.
            jsonl.truncate_after(self.path / "metrics.jsonl", step)
            jsonl.truncate_after(self.path / "eval.jsonl", step)
            jsonl.truncate_after(self.path / "diagnostics.jsonl", step - 1)  # measured before step `step` trains
        except OSError as err:
            raise RunError(f"cannot write to the run directory: {err.filename or self.path}: "
                           f"{err.strerror or err}") from None
