"""Atomic file writes: a reader sees the previous file or the complete new one, never a torn one.

The bytes go to a temporary file in the same folder (same file system, so ``os.replace`` is an
atomic rename), are flushed and fsync'ed, then renamed over the target. An exception or Ctrl-C
anywhere before the rename removes the temporary file and leaves the old target untouched.

The one atomic writer of the project. It lives here, at the bottom of the dependency order,
because models/egru depends on nothing of s2sim while s2sim depends on models/egru: from here
both can use it (s2sim.atomic re-exports it). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # includes KeyboardInterrupt: never leave a half-written temp behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))
