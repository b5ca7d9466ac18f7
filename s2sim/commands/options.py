"""Command-line options shared by several commands: the one parser of ``--tick-s``.

``--tick-s`` takes seconds (finite, > 0), ``auto`` (the compiler's choice: the shortest whole
microsecond that holds the busiest PE's estimated work plus headroom and the send schedule) or
``spec`` (the spec's tick period). ``s2sim compile``, ``s2sim run`` and ``s2sim bench lm`` default
to ``auto``; ``s2sim bench gesture`` to ``spec`` (its recorded figures are at the spec's tick).
"""

from __future__ import annotations

import argparse
import math

AUTO = "auto"
SPEC = "spec"


def parse_tick(text: str) -> float | str:
    """argparse type of ``--tick-s``: ``auto``, ``spec`` or seconds (finite, > 0)."""
    if text in (AUTO, SPEC):
        return text
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds, 'auto' or 'spec'") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number of seconds > 0")
    return v


def tick_period_s(tick: float | str | None) -> float | str | None:
    """The ``tick_period_s`` for ``compile_network``: None (the spec's) for ``spec``/None."""
    return None if tick in (SPEC, None) else tick


def add_tick_argument(p: argparse.ArgumentParser, default: str = AUTO, why: str = "") -> None:
    p.add_argument("--tick-s", type=parse_tick, default=default,
                   help="tick (time step) period: seconds, 'auto' (the shortest whole "
                        "microsecond that holds the busiest PE's estimated work + headroom and "
                        f"the send schedule) or 'spec' (the spec's); default {default}{why}")
