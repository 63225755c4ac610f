"""One process per run directory: an exclusive lock on the run directory itself.

`RunLock(run_dir).acquire()` takes a non-blocking `flock` on an open descriptor of the directory
(deleting or replacing any file in it cannot admit a second writer) and writes the holder's pid
and host into `<run_dir>/.lock` for others to read; a second process is refused with `RunDirBusy`,
naming the holder (from that file, or, if it was deleted, from the kernel's table of locks). The
kernel drops the lock when the holder exits, however it exits (SIGKILL included), so a stale lock
file never blocks a resume. Network file systems that do not implement flock get no protection.
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
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK_NAME
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock or raise RunDirBusy; OSError when the directory cannot be used."""
        if self._fd is not None or fcntl is None:
            return
        fd = os.open(self.dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirBusy(f"{self.dir} is in use by {self.holder()}; wait for it to end or "
                                 f"stop it first (one process per run directory)") from None
            raise
        self._fd = fd
        try:
            self.path.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # who holds it, for the others
        except OSError:
            self.release()
            raise

    def holder(self) -> str:
        """'process PID on HOST', as written by the holder, else as the kernel's lock table says."""
        try:
            pid, host = self.path.read_text().split()[:2]
            return f"process {pid} on {host}"
        except (OSError, ValueError):
            pid = _flock_holder(self.dir)
            return f"process {pid} on {socket.gethostname()}" if pid else "another process"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _flock_holder(path: Path) -> Optional[int]:
    """The pid holding a flock on `path` (Linux /proc/locks), or None."""
    try:
        st = os.stat(path)
        want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if "FLOCK" in parts and len(parts) >= 6 and parts[5] == want:
                    return int(parts[4])
    except (OSError, ValueError):
        pass
    return None
