"""DVFS: performance levels, the one cycles -> picoseconds conversion, switch cost, residency.

Time inside the simulator is an integer number of picoseconds. Converting ``cycles`` at
``frequency_hz`` to time is ``ceil(cycles * 1e12 / f)`` and happens only here, with exact integer
arithmetic (the frequency is rounded to whole hertz, the ratio 1e12/f reduced by its gcd), so the
same inputs give the same picoseconds on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np

from s2sim.errors import S2SimError

PS_PER_S = 10**12


def seconds_to_ps(seconds: float) -> int:
    """Seconds -> integer picoseconds (rounded to nearest)."""
    return int(round(float(seconds) * PS_PER_S))


@lru_cache(maxsize=64)
def ps_per_cycle_ratio(frequency_hz: float) -> tuple[int, int]:
    """Picoseconds per cycle, 1e12 / f, as a reduced fraction ``(num, den)`` of integers (the
    exact-integer form of ``cycles_to_ps`` that the event loop's batch timing kernel uses)."""
    f = int(round(float(frequency_hz)))
    if f <= 0:
        raise S2SimError(f"frequency {frequency_hz!r} Hz must be a positive number of hertz")
    g = math.gcd(PS_PER_S, f)
    return PS_PER_S // g, f // g


@numba.njit(cache=True, nogil=True)
def _ceil_ratio(c, num, den, out):  # pragma: no cover - compiled
    """``out = ceil(c * num / den)`` (as ``-((-c * num) // den)``) in one pass, or False
    (nothing written) when ``max |c| * num`` reaches 2**62 (int64 could overflow)."""
    hi = 0
    for i in range(c.shape[0]):
        x = abs(c[i])
        if x > hi:
            hi = x
    if hi >= ((1 << 62) + num - 1) // num:  # hi * num >= 2**62
        return False
    for i in range(c.shape[0]):
        out[i] = -((-c[i] * num) // den)
    return True


def cycles_to_ps(cycles, frequency_hz: float):
    """``ceil(cycles * 1e12 / f)`` picoseconds; ``cycles`` an int or an integer numpy array.

    The one place where cycles become time (docs/design.md, "Conventions"). Scalars return a
    Python ``int``; arrays return ``int64`` arrays. Large arrays fall back to exact Python
    integers when ``cycles * num`` could overflow int64.
    """
    num, den = ps_per_cycle_ratio(frequency_hz)
    if isinstance(cycles, np.ndarray):
        c = cycles.astype(np.int64, copy=False)
        if c.size == 0:
            return np.zeros(c.shape, dtype=np.int64)
        out = np.empty(c.shape, dtype=np.int64)
        if _ceil_ratio(c.reshape(-1), num, den, out.reshape(-1)):
            return out
        return np.array([-((-int(x) * num) // den) for x in c.ravel()], dtype=np.int64).reshape(
            c.shape
        )
    c = int(cycles)
    return -((-c * num) // den)


def ps_to_cycles(ps: int, frequency_hz: float) -> int:
    """Whole cycles that fit in ``ps`` picoseconds at ``frequency_hz`` (floor)."""
    num, den = ps_per_cycle_ratio(frequency_hz)
    return (int(ps) * den) // num


@dataclass(frozen=True)
class PerformanceLevelTable:
    """The PLs of a spec as plain numbers (for the hot paths)."""

    frequency_hz: tuple[float, ...]
    voltage_v: tuple[float, ...]
    names: tuple[str, ...]
    switch_ps: int
    switch_energy_j: float

    @classmethod
    def from_spec(cls, spec) -> PerformanceLevelTable:
        pls = spec.performance_levels
        return cls(
            frequency_hz=tuple(float(pl.frequency_hz.value) for pl in pls),
            voltage_v=tuple(float(pl.voltage_v.value) for pl in pls),
            names=tuple(pl.name for pl in pls),
            switch_ps=seconds_to_ps(spec.timing.pl_switch_s.value),
            switch_energy_j=float(spec.power.pl_switch_energy_j.value),
        )

    def __len__(self) -> int:
        return len(self.frequency_hz)

    def check(self, pl: int, who: str) -> int:
        """``pl`` as an int if it names a level, else a one-line error naming ``who``."""
        n = len(self.frequency_hz)
        if isinstance(pl, bool) or not isinstance(pl, int | np.integer) or not 0 <= pl < n:
            raise S2SimError(f"{who}: performance level {pl!r} does not exist (levels 0..{n - 1})")
        return int(pl)


class Residency:
    """Time each PE spends at each PL while powered (picoseconds), and switch counts.

    A PE's PL is recorded from the time it is set; ``close(t)`` books every PE up to ``t``.
    """

    def __init__(self, n_pes: int, n_pls: int):
        self.ps = np.zeros((n_pes, n_pls), dtype=np.int64)
        self.switches = np.zeros(n_pes, dtype=np.int64)
        self._pl = np.full(n_pes, -1, dtype=np.int64)
        self._since = np.zeros(n_pes, dtype=np.int64)

    def power_on(self, index: int, pl: int, t_ps: int) -> None:
        self._pl[index] = pl
        self._since[index] = t_ps

    def switch(self, index: int, pl: int, t_ps: int) -> None:
        """Book the old PL up to ``t_ps`` (the end of the switch) and continue at ``pl``."""
        old = self._pl[index]
        if old >= 0:
            self.ps[index, old] += t_ps - self._since[index]
        self._pl[index] = pl
        self._since[index] = t_ps
        self.switches[index] += 1

    def close(self, t_ps: int) -> None:
        on = self._pl >= 0
        idx = np.nonzero(on)[0]
        np.add.at(self.ps, (idx, self._pl[idx]), t_ps - self._since[idx])
        self._since[idx] = t_ps
