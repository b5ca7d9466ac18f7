"""Limits on the numbers a command takes: argparse ``type=`` validators and the run-size check.

Every count, time, seed and probability a command accepts is validated where it enters (the
argument parser): it must parse, be finite and lie in its range, so that a bad value is one line
(``s2sim run: error: argument --seed: -1: must be >= 0``), never a traceback deep in numpy or a
silently wrong run (``--ppl-tokens -5`` scoring all but the last 5 tokens).

``check_run_size`` estimates, before a run starts, the memory its per-tick ledger needs
(ticks x the chip's PEs x the ledger's per-PE fields x 8 bytes) and the time it takes (steps x
PEs used at an engine's rough speed): a run that cannot fit in this machine's memory is refused,
one that will take long says so on stderr, and one whose simulated time overflows the int64
picosecond clock is refused.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from s2sim.errors import S2SimError

SEED_MAX = 2**32 - 1  # numpy's SeedSequence takes any non-negative int; 32 bits is plenty
COUNT_MAX = 10**12  # above any run the machine could hold; the run-size check refines it


def _number(text: str, kind: type, what: str):
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not {what}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number")
    return v


def int_in(lo: int, hi: int | None = None, what: str = "a whole number") -> Callable[[str], int]:
    """argparse type: a whole number in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""

    def parse(text: str) -> int:
        v = _number(text, int, what)
        if v < lo:
            raise argparse.ArgumentTypeError(f"{v}: must be >= {lo}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"{v}: must be <= {hi}")
        return v

    parse.__name__ = f"int_in_{lo}_{hi}"
    return parse


def float_in(lo: float, hi: float | None = None, lo_open: bool = False,
             what: str = "a number") -> Callable[[str], float]:
    """argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""

    def parse(text: str) -> float:
        v = _number(text, float, what)
        if v < lo or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(f"{text}: must be {'>' if lo_open else '>='} {lo:g}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"{text}: must be <= {hi:g}")
        return v

    parse.__name__ = f"float_in_{lo}_{hi}"
    return parse


count = int_in(1, COUNT_MAX, "a whole number")  # steps, tokens, samples, ticks: >= 1
nonneg_count = int_in(0, COUNT_MAX, "a whole number")  # counts where 0 means "none"
seed = int_in(0, SEED_MAX, "a whole-number seed")
level = int_in(0, 63, "a performance level")  # checked against the spec's PLs by the compiler
pe_count = int_in(1, 1 << 20, "a whole number of PEs")
probability = float_in(0.0, 1.0, lo_open=True, what="a fraction")  # e.g. --activity: (0, 1]
tolerance = float_in(0.0, None, what="a relative tolerance")  # e.g. --rtol: >= 0


# -- how big a run is --------------------------------------------------------------------------

INT64_MAX = 2**63 - 1
# rough engine speeds in PE-steps per second of wall time (one PE busy for one step), measured
# on the shipped small model on one core; only used to warn that a run will be long
PE_STEPS_PER_S = {"functional": 200_000, "analytic": 15_000, "des": 1_500}
LONG_RUN_S = 120.0  # say how long a run will take when it is above this


def available_memory_bytes() -> int | None:
    """Memory this machine can give a new allocation (MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimated_run_bytes(n_steps: int, engine: str, chip_pes: int, values_per_step: int,
                        tick_columns: int | None = None) -> int:
    """Bytes a run holds at its peak: the per-tick ledger (timed engines; the analytic
    engine's binned to ``tick_columns``, ``run_mapping``'s) and the per-step arrays (inputs,
    per-layer outputs, the oracle's copy)."""
    from s2sim.hw.ledger import NOC_FIELDS, PE_FIELDS

    # inputs, per-layer outputs and the oracle's copy, plus the result's per-step arrays
    # (latency, packets, hops, events, effective MACs, input events, ...: ~8 int64)
    per_step = 4 * values_per_step * 3 + 8 * 8
    ledger = 8 * (chip_pes * len(PE_FIELDS) + len(NOC_FIELDS))  # per tick held at once
    if engine == "functional":
        return int(n_steps) * per_step
    if engine == "analytic":  # window by window, its ledger binned (s2sim.engine.analytic)
        from s2sim.engine.analytic import MAX_COLUMNS, WINDOW_STEPS

        cols = MAX_COLUMNS if tick_columns is None else int(tick_columns) or int(n_steps) + 8
        held = min(int(n_steps), WINDOW_STEPS) + min(cols, int(n_steps) + 8)
        return int(n_steps) * per_step + held * ledger
    return int(n_steps) * (per_step + ledger)


def _human(n: float, unit: str) -> str:
    for scale, prefix in ((2**40, "Ti"), (2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:.0f} {unit}"


def check_run_size(n_steps: int, engine: str, *, spec=None, pes_used: int | None = None,
                   values_per_step: int = 0, tick_period_ps: int | None = None,
                   what: str = "steps", tick_columns: int | None = None) -> None:
    """Refuse a run that cannot fit in memory or whose simulated time overflows; warn (stderr,
    one line) when it will take longer than ``LONG_RUN_S``. ``spec``: the chip (default: the
    bundled one), for its PE count; ``pes_used``: the mapping's PEs, for the time estimate."""
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec()
    chip_pes = len(spec.pe_ids())
    need = estimated_run_bytes(n_steps, engine, chip_pes, values_per_step, tick_columns)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise S2SimError(f"{n_steps} {what} on the {engine} engine need ~{_human(need, 'B')} of "
                         f"memory (per-tick counts of {chip_pes} PEs), this machine has "
                         f"{_human(have, 'B')} available: run fewer {what}")
    if tick_period_ps and engine != "functional" and (n_steps + 8) * tick_period_ps > INT64_MAX:
        raise S2SimError(f"{n_steps} {what} at a {tick_period_ps / 1e12:g} s tick: the simulated "
                         "time overflows the 64-bit picosecond clock; shorten the tick or the run")
    if pes_used:
        est_s = n_steps * pes_used / PE_STEPS_PER_S.get(engine, PE_STEPS_PER_S["des"])
        if est_s > LONG_RUN_S:
            print(f"s2sim: note: {n_steps} {what} on {pes_used} PEs with the {engine} engine "
                  f"will take roughly {est_s / 60:.0f} min (Ctrl-C to stop)", file=sys.stderr,
                  flush=True)
