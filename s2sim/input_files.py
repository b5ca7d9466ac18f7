"""Reading a file the user names (a spec, a report, a sweep space, GPU results): the one place
that turns the ways a read fails into a one-line error naming the file."""

from __future__ import annotations

from pathlib import Path

from s2sim.errors import S2SimError


def read_text(path: str | Path, label: str, error: type[S2SimError],
              missing: str = "no such file") -> str:
    """The UTF-8 text of ``path``, or ``error``: ``"<label>: <missing>"``, ``"<label>: is a
    directory, not a file"`` or ``"<label>: cannot read (<why>)"``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{label}: {missing}") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{label}: cannot read ({exc})") from None
