"""Where commands write: the one check of an output path, and the bundle writer of a folder.

Every command that writes checks its output before it starts working (``output_file`` /
``output_folder``), so that a bad ``--out`` is one line at once, not a traceback after a long
run: not empty, a file is not an existing folder, nothing on the way is a regular file, and the
place can be written (probed by creating a temporary file there, which also catches ``/proc``
and read-only mounts even for root).

A folder of several files (a bench report: JSON, CSVs, plots) is written as a bundle
(``write_bundle``): into a temporary sibling folder, then renamed into place, so that an
interrupted write leaves the previous folder whole (or no folder), never the previous
``report.json`` next to the new run's CSVs. Replacing a folder replaces all of it, so an existing
folder is only accepted when it is empty or is an earlier output (holds ``marker``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from s2sim.errors import S2SimError


class OutputError(S2SimError):
    """An output path cannot be written (names the option and the path)."""


def _name(option: str, path) -> str:
    return f"{option} {str(path)!r}" if option else repr(str(path))


def _probe_writable(folder: Path, option: str, path) -> None:
    """The nearest existing folder at or above ``folder`` must be a folder we can create in."""
    p = folder
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise OutputError(f"{_name(option, path)}: {p} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".s2sim-probe.", dir=p)
    except OSError as exc:
        raise OutputError(f"{_name(option, path)}: cannot write in {p} "
                          f"({exc.strerror or exc.__class__.__name__})") from None
    os.close(fd)
    os.unlink(probe)


def output_file(path, option: str = "--out") -> Path:
    """``path`` as a file to (re)write, checked; raises OutputError (one line) otherwise."""
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise OutputError(f"{_name(option, text)}: empty path; give a file name")
    p = Path(text)
    if p.is_dir() or str(text).endswith(os.sep):
        raise OutputError(f"{_name(option, text)}: is a folder; give a file name")
    if p.exists() and not p.is_file():
        raise OutputError(f"{_name(option, text)}: exists and is not a regular file")
    _probe_writable(p.parent, option, text)
    return p


def output_folder(path, option: str = "--out", marker: str | None = None) -> Path:
    """``path`` as a folder to (re)write whole, checked. An existing folder must be empty or hold
    ``marker`` (an earlier output of the same kind), since a bundle write replaces it."""
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise OutputError(f"{_name(option, text)}: empty path; give a folder name")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{_name(option, text)}: exists and is not a folder")
    here = Path.cwd().resolve()
    if p.exists() and (p.resolve() == here or p.resolve() in here.parents):
        raise OutputError(f"{_name(option, text)}: is the current folder or above it; give a "
                          "folder of its own")
    if p.is_dir() and marker is not None and any(p.iterdir()) and not (p / marker).is_file():
        raise OutputError(f"{_name(option, text)}: folder holds files but no {marker} (not an "
                          "earlier output, and it would be replaced whole); choose a new folder")
    _probe_writable(p.parent if not p.exists() else p, option, text)
    return p


def write_bundle(out: Path, write_into: Callable[[Path], None]) -> Path:
    """Write a folder as one unit: ``write_into(tmp)`` fills a temporary sibling of ``out``, which
    then replaces ``out``. Any exception (Ctrl-C included) leaves ``out`` as it was."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"output folder {out}: cannot create ({exc.strerror})") from None
    old: list[Path] = []
    try:
        write_into(tmp)
        if out.exists():
            old.append(Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old",
                                             dir=out.parent)))
            os.rename(out, old[0] / "previous")
        os.rename(tmp, out)
    except OSError as exc:
        _undo(out, tmp, old)
        raise OutputError(f"output folder {out}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        _undo(out, tmp, old)
        raise
    for o in old:
        shutil.rmtree(o, ignore_errors=True)
    return out


def _undo(out: Path, tmp: Path, old: list[Path]) -> None:
    """After a failed bundle write: the previous folder back in place, the temporaries gone."""
    if old and (old[0] / "previous").exists() and not out.exists():
        os.rename(old[0] / "previous", out)
    shutil.rmtree(tmp, ignore_errors=True)
    for o in old:
        shutil.rmtree(o, ignore_errors=True)
