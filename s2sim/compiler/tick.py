"""Tick stage: ``tick_period_s='auto'`` — the estimate: a tick (whole microseconds) whose cycles
hold the busiest PE's estimated work (+ headroom) and the whole send schedule at the assumed
activity, shorter or longer than the spec's. It is the fixed point reached from the partition
made at the spec's tick, not the shortest tick any partition holds, and it is sized from
worst-case estimates; the tick a practitioner would run at — the shortest at which given inputs
run cleanly, plus a margin — is ``s2sim.engine.tick.choose_tick`` (``--tick-s auto`` on the
CLI; this estimate is ``--tick-s estimate``)."""

from __future__ import annotations

import math
import time

from s2sim.errors import CompileError

__all__ = ["compile_auto_tick", "parse_tick", "AUTO_TICK_GROWTH"]

# A tick that re-partitioned or whose schedule grew is retried this much longer.
AUTO_TICK_GROWTH = 1.05
# Tries at a doubled tick when the spec's tick is too short for any partition (a slow PL).
FIRST_ESTIMATE_TRIES = 6
# Tries to converge on a tick that holds the work and the schedule, 5 % longer each: 24 reach
# 3.2x the first estimate (a dense decoder table's schedule needs ~1.4x; 8 tries did not reach it).
CONVERGE_TRIES = 24


def parse_tick(value) -> float | str | None:
    """``None`` (the spec's tick), ``'auto'`` or seconds > 0 (finite)."""
    if value is None or value == "auto":
        return value
    if isinstance(value, str):
        raise CompileError(f"tick_period_s {value!r}: seconds or 'auto'")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise CompileError(f"tick period {value} s: must be > 0 and finite")
    return v


def compile_auto_tick(compile_fn, network, **kw):
    """Compile at the auto tick; ``compile_fn`` is ``compile_network`` (passed in so the
    pipeline and this stage don't import each other)."""
    t0 = time.perf_counter()
    first = _first_estimate(compile_fn, network, kw)
    need = first.required_cycles_per_tick
    last_exc = None
    for _ in range(CONVERGE_TRIES):
        tick_s = math.ceil(need / first.frequency_hz * 1e6) / 1e6
        try:
            m = compile_fn(network, tick_period_s=tick_s, **kw)
        except CompileError as exc:  # a shorter tick re-partitioned, or the schedule grew
            last_exc = exc
            need = int(need * AUTO_TICK_GROWTH) + 1
            continue
        if m.required_cycles_per_tick <= m.cycles_per_tick:
            m.compile_s = time.perf_counter() - t0
            return m
        need = max(int(need * AUTO_TICK_GROWTH) + 1, m.required_cycles_per_tick)
    raise CompileError(f"tick_period_s='auto': no tick found that holds the work and the send "
                       f"schedule (last: {last_exc})")


def _first_estimate(compile_fn, network, kw):
    """A compile without the schedule check at the spec's tick; where the slices' cycle budget
    at that tick needs more PEs than there are (a slow PL, a busy model), from a longer tick."""
    tick_try, exc0 = None, None
    for _ in range(FIRST_ESTIMATE_TRIES):
        try:
            return compile_fn(network, tick_period_s=tick_try, **{**kw, "check_schedule": False})
        except CompileError as exc:
            exc0 = exc
            tick_try = 2 * (tick_try or _spec_tick_s(kw))
    raise exc0


def _spec_tick_s(kw) -> float:
    spec = kw.get("spec")
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec(kw.get("spec_path"), kw.get("spec_overrides") or None)
    return float(spec.timing.tick_period_s.value)
