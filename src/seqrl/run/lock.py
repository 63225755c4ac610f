"""One process per run directory: an exclusive lock on `<run_dir>/.lock`.

`RunLock(run_dir).acquire()` takes a non-blocking `flock` on the file and writes the holder's pid
and host into it; a second process is refused with `RunDirBusy`, naming that holder. The kernel
drops the lock when the holder exits, however it exits (SIGKILL included), so a stale lock file
never blocks a resume. Network file systems that do not implement flock get no protection.
"""
from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Optional

from seqrl.run.errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, as documented
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class RunDirBusy(RunError):
    """Another process holds the run directory."""


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock or raise RunDirBusy; OSError when the directory cannot be written."""
        if self._fd is not None or fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirBusy(f"{self.path.parent} is in use by {self.holder()}; wait for it to end or "
                                 f"stop it first (one process per run directory)") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._fd = fd

    def holder(self) -> str:
        """'process PID on HOST', as written by the holder."""
        try:
            pid, host = self.path.read_text().split()[:2]
            return f"process {pid} on {host}"
        except (OSError, ValueError):
            return "another process"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
