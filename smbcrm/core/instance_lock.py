"""One program at a time per shop file: an OS lock on a file beside it, freed if the holder dies."""

from __future__ import annotations

import os
import sys
from pathlib import Path


class AlreadyLocked(Exception):
    pass


class InstanceLock:
    """An exclusive, non-blocking lock on PATH.lock, held until release() or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = Path(str(path) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            raise AlreadyLocked(str(self.path)) from error
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if sys.platform == "win32":
            import msvcrt

            try:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            except OSError:
                pass
        # The file stays: unlinking it would let a waiting opener lock an orphaned inode.
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None
