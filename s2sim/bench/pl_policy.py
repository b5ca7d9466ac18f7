"""Automatic per-PE performance levels: the lowest PL that finishes each step before its deadline.

SpiNNaker2 lets every PE change its own supply voltage and clock (DVFS) at run time; the chip
paper reports 0.741 J instead of 1.023 J (−28 %) on a DVS-gesture SNN when each PE picks its
performance level (PL) from its workload (CP in shared/docs/spinnaker2.md). This module is that
policy for the step-synchronous EGRU programs, plus the timeline that scores a schedule of PLs
(energy, deadline misses) so that it can be compared with fixed PLs on the same work.

Model of one PE (all times integer picoseconds, cycles -> time only via s2sim.hw.dvfs):

* Step ``t`` is released at ``t · step_ps`` (the tick / the frame arrival) and has its deadline at
  ``(t + 1) · step_ps``. Its work is ``work_cycles[t]`` cycles (PL-independent: the Cortex-M4F
  has no caches and zero-wait-state SRAM, so cycles do not change with the clock).
* Work starts at ``max(release, end of the previous step)`` — an overrun delays the next step.
* Changing PL costs ``spec.timing.pl_switch_s`` during which the PE computes nothing, and
  ``spec.power.pl_switch_energy_j``. A switch for step ``t`` happens when step ``t``'s work is
  known: at ``max(release, previous end)``, so it delays step ``t``'s work.
* A step misses its deadline when its work ends after the deadline.
* Energy: the PE draws ``pe_sleep_power_w`` of its current PL all the time it is powered (asleep
  or busy), plus ``pe_active_energy_j_per_cycle`` of its PL for every busy cycle, plus the switch
  energy (the spec's per-PE model, derived from the published whole-chip measurements).

Policies (``choose_levels``):

* ``queued``: at each release the PE knows the work queued for the step (the packets in its
  queue, priced by the firmware cost model) and picks the lowest PL whose finish time — switch
  included — meets the deadline. A PE whose worst-case step (``worst_case_cycles``: the work with
  every input and unit active) could not survive a switch back to the highest PL is *guarded*:
  it stays at the highest PL, because leaving it could turn a step the highest PL meets into a
  miss. With that rule the policy never misses a deadline that the fixed highest PL meets (the
  property the tests check).
* ``predicted``: the PL for step ``t`` is chosen in advance from the last ``window`` steps'
  work times ``1 + margin``; if the queued work then turns out not to fit, the PE switches up at
  the release (costing a switch). It needs no knowledge of the step's work up front but can
  miss deadlines; the misses are counted, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2sim.errors import S2SimError
from s2sim.hw.dvfs import PerformanceLevelTable, cycles_to_ps

__all__ = ["PLCosts", "Schedule", "choose_levels", "simulate", "fixed_levels", "POLICIES"]

POLICIES = ("queued", "predicted")


@dataclass(frozen=True)
class PLCosts:
    """Per-PL numbers of the spec the policy and the timeline need."""

    table: PerformanceLevelTable
    sleep_power_w: tuple[float, ...]
    active_energy_j_per_cycle: tuple[float, ...]

    @classmethod
    def from_spec(cls, spec) -> PLCosts:
        return cls(
            table=PerformanceLevelTable.from_spec(spec),
            sleep_power_w=tuple(float(p.pe_sleep_power_w.value) for p in spec.performance_levels),
            active_energy_j_per_cycle=tuple(
                float(p.pe_active_energy_j_per_cycle.value) for p in spec.performance_levels),
        )

    @property
    def n_levels(self) -> int:
        return len(self.table)

    @property
    def highest(self) -> int:
        """The fastest PL (levels need not be listed in frequency order)."""
        return int(np.argmax(self.table.frequency_hz))

    def by_speed(self) -> list[int]:
        """PL indices from slowest to fastest (ties: lower energy per cycle first)."""
        return sorted(range(self.n_levels),
                      key=lambda p: (self.table.frequency_hz[p], self.active_energy_j_per_cycle[p]))


@dataclass
class Schedule:
    """A PL per PE per step and what it cost on the timeline (arrays are (n_pe, T))."""

    levels: np.ndarray  # int64 PL index per PE and step
    start_ps: np.ndarray
    end_ps: np.ndarray
    missed: np.ndarray  # bool: work ended after the step's deadline
    switches: np.ndarray  # (n_pe,) int64 PL changes (not counting the initial level)
    residency_ps: np.ndarray  # (n_pe, n_levels) time powered at each PL
    duration_ps: int  # the run's span: T · step_ps, or later if the last step overran
    active_energy_j: float
    sleep_energy_j: float
    switch_energy_j: float
    guarded: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (n_pe,) bool

    @property
    def energy_j(self) -> float:
        return self.active_energy_j + self.sleep_energy_j + self.switch_energy_j

    @property
    def misses(self) -> int:
        return int(self.missed.sum())

    def summary(self) -> dict:
        return {
            "energy_j": self.energy_j,
            "active_energy_j": self.active_energy_j,
            "sleep_energy_j": self.sleep_energy_j,
            "switch_energy_j": self.switch_energy_j,
            "deadline_misses": self.misses,
            "pe_steps": int(self.missed.size),
            "switches": int(self.switches.sum()),
            "duration_ps": int(self.duration_ps),
            "residency_fraction": [
                float(v) for v in self.residency_ps.sum(axis=0)
                / max(1, int(self.residency_ps.sum()))],
            "guarded_pes": int(self.guarded.sum()) if self.guarded.size else 0,
        }


def _check(work_cycles, step_ps: int) -> np.ndarray:
    w = np.asarray(work_cycles)
    if w.ndim != 2:
        raise S2SimError(f"work_cycles must be (n_pe, steps), got shape {w.shape}")
    if w.size and (not np.issubdtype(w.dtype, np.integer) or w.min() < 0):
        raise S2SimError("work_cycles must be non-negative integer cycles")
    if int(step_ps) <= 0:
        raise S2SimError(f"step period {step_ps} ps must be > 0")
    return w.astype(np.int64)


def _durations(w: np.ndarray, costs: PLCosts) -> np.ndarray:
    """(n_levels, n_pe, T) ps of the work at each PL."""
    return np.stack([cycles_to_ps(w, f) for f in costs.table.frequency_hz])


def fixed_levels(work_cycles, level: int) -> np.ndarray:
    w = np.asarray(work_cycles)
    return np.full(w.shape, int(level), dtype=np.int64)


def choose_levels(work_cycles, costs: PLCosts, step_ps: int, policy: str = "queued", *,
                  worst_case_cycles=None, initial_level: int | None = None,
                  window: int = 3, margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """PL per PE per step by the automatic policy; returns (levels (n_pe, T), guarded (n_pe,)).

    ``worst_case_cycles`` (n_pe,): the most work a step can bring each PE; defaults to the
    largest step in ``work_cycles`` (exact for a replay of a recorded run)."""
    if policy not in POLICIES:
        raise S2SimError(f"PL policy {policy!r} unknown: choose one of {', '.join(POLICIES)}")
    w = _check(work_cycles, step_ps)
    n_pe, T = w.shape
    step_ps = int(step_ps)
    dur = _durations(w, costs)
    order = costs.by_speed()
    hi = costs.highest
    sw = costs.table.switch_ps
    wc = w.max(axis=1) if worst_case_cycles is None else np.asarray(worst_case_cycles, np.int64)
    if wc.shape != (n_pe,):
        raise S2SimError(f"worst_case_cycles must have one entry per PE ({n_pe}), got {wc.shape}")
    # A PE is guarded when a worst-case step run at the highest PL right after a switch to it
    # would overrun: only staying at the highest PL keeps every step the fixed PL meets.
    guarded = cycles_to_ps(wc, costs.table.frequency_hz[hi]) + sw > step_ps
    levels = np.empty((n_pe, T), dtype=np.int64)
    init = hi if initial_level is None else costs.table.check(initial_level, "initial PL")
    for i in range(n_pe):
        if guarded[i]:
            levels[i] = hi
            continue
        cur = init
        prev_end = 0
        for t in range(T):
            release = t * step_ps
            deadline = release + step_ps
            ready = max(release, prev_end)
            if policy == "queued":
                candidates = order
            else:  # predicted: plan from recent work, then correct once the queue is seen
                lo = max(0, t - window)
                pred = int(np.ceil((w[i, lo:t].max() if t > lo else w[i, 0]) * (1 + margin)))
                planned = hi
                for p in order:
                    if cycles_to_ps(pred, costs.table.frequency_hz[p]) + sw <= step_ps:
                        planned = p
                        break
                fits = ready + (sw if planned != cur else 0) + dur[planned, i, t] <= deadline
                candidates = [planned] if fits else [
                    p for p in order if costs.table.frequency_hz[p] >= costs.table.frequency_hz[
                        planned]]
            chosen = hi
            for p in candidates:
                if ready + (sw if p != cur else 0) + dur[p, i, t] <= deadline:
                    chosen = p
                    break
            levels[i, t] = chosen
            prev_end = ready + (sw if chosen != cur else 0) + int(dur[chosen, i, t])
            cur = chosen
    return levels, guarded


def simulate(work_cycles, levels, costs: PLCosts, step_ps: int, *,
             initial_level: int | None = None, guarded=None) -> Schedule:
    """Play a schedule of PLs on the timeline: start/end of every step, misses, energy."""
    w = _check(work_cycles, step_ps)
    lv = np.asarray(levels, dtype=np.int64)
    if lv.shape != w.shape:
        raise S2SimError(f"levels shape {lv.shape} differs from work shape {w.shape}")
    n_pe, T = w.shape
    step_ps = int(step_ps)
    dur = _durations(w, costs)
    sw = costs.table.switch_ps
    start = np.zeros((n_pe, T), np.int64)
    end = np.zeros((n_pe, T), np.int64)
    switches = np.zeros(n_pe, np.int64)
    # residency booked per PE: (level, from_ps) segments
    seg_level: list[list[int]] = []
    seg_time: list[list[int]] = []
    for i in range(n_pe):
        cur = int(lv[i, 0]) if initial_level is None else int(initial_level)
        prev_end = 0
        levs, times = [cur], [0]
        for t in range(T):
            release = t * step_ps
            ready = max(release, prev_end)
            p = int(lv[i, t])
            if p != cur:
                ready += sw
                switches[i] += 1
                levs.append(p)
                times.append(ready)  # the new level applies from the end of the switch
                cur = p
            start[i, t] = ready
            end[i, t] = ready + int(dur[p, i, t])
            prev_end = int(end[i, t])
        seg_level.append(levs)
        seg_time.append(times)
    deadlines = (np.arange(T, dtype=np.int64) + 1) * step_ps
    missed = end > deadlines[None, :]
    duration = max(T * step_ps, int(end.max()) if end.size else 0)
    residency = np.zeros((n_pe, costs.n_levels), np.int64)
    for i in range(n_pe):
        times = [*seg_time[i], duration]
        for k, p in enumerate(seg_level[i]):
            residency[i, p] += times[k + 1] - times[k]
    sleep_j = float(sum(residency[:, p].sum() * 1e-12 * costs.sleep_power_w[p]
                        for p in range(costs.n_levels)))
    active_j = 0.0
    for p in range(costs.n_levels):
        active_j += float(w[lv == p].sum()) * costs.active_energy_j_per_cycle[p]
    switch_j = float(switches.sum()) * costs.table.switch_energy_j
    return Schedule(levels=lv, start_ps=start, end_ps=end, missed=missed, switches=switches,
                    residency_ps=residency, duration_ps=duration, active_energy_j=active_j,
                    sleep_energy_j=sleep_j, switch_energy_j=switch_j,
                    guarded=np.zeros(n_pe, bool) if guarded is None else np.asarray(guarded))


def compare(work_cycles, costs: PLCosts, step_ps: int, policy: str = "queued",
            worst_case_cycles=None) -> dict[str, Schedule]:
    """Fixed PL per level and the automatic policy on the same work: {name: Schedule}."""
    out = {}
    for p in costs.by_speed():
        out[f"fixed {costs.table.names[p]}"] = simulate(
            work_cycles, fixed_levels(work_cycles, p), costs, step_ps)
    levels, guarded = choose_levels(work_cycles, costs, step_ps, policy,
                                    worst_case_cycles=worst_case_cycles)
    out[f"auto ({policy})"] = simulate(work_cycles, levels, costs, step_ps,
                                       initial_level=costs.highest, guarded=guarded)
    return out
