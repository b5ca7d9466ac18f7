"""Partitioning: split each EGRU layer into per-PE slices of output units.

A slice of units U holds, for U's three gates, the CSR rows of W and R (rows = inputs, columns =
the slice's 3|U| gate columns), the biases, thresholds, state and two parity accumulators (see
``slice_regions``). Slices are sized against the PE's data SRAM *and* a cycle budget per time
step at the chosen performance level (``budget``), using the firmware's own cost model
(``firmware_py.cost``).

Built-in partitioners (``PARTITIONERS``):
- ``by_units`` (default): contiguous unit ranges; finds the fewest slices that fit, then balances
  bytes and cycles across that many slices.
- ``interleaved``: unit u goes to slice u mod n, with the fewest n that fits; spreads correlated
  activity of neighbouring units over PEs (better load balance per step, same PE count or one
  more).
Users plug in their own with ``register_partitioner(name, fn)`` or by passing a callable:
``fn(view: LayerView) -> list[np.ndarray]`` returning disjoint unit-index arrays that cover the
layer. Whatever comes back is checked (coverage, disjointness, SRAM fit) by the compiler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware_py.cost import CostModel
from s2sim.compiler.ir import LayerStats
from s2sim.compiler.keys import MAX_SLICES, MAX_UNITS_PER_SLICE
from s2sim.errors import CompileError

__all__ = ["LayerView", "Budget", "slice_regions", "PARTITIONERS", "register_partitioner",
           "get_partitioner", "partition_by_units", "partition_interleaved", "CONFIG_BYTES"]

CONFIG_BYTES = 64  # program constants: key base, layer sizes, first tick, counters (16 words)
RESERVED_SRC_SLICES = 64  # slice-offset table entries reserved per source while sizing


def _align(n: int, a: int) -> int:
    return -(-int(n) // a) * a


def _rowptr_bytes(nnz: int) -> int:
    return 2 if nnz <= 0xFFFF else 4


def slice_regions(n_in: int, hidden: int, n_units: int, nnz_w: int, nnz_r: int,
                  n_src_in: int, n_src_rec: int, align: int) -> dict[str, int]:
    """SRAM regions (name -> bytes, aligned) of an EGRU slice program."""
    raw = {
        "w_rowptr": (n_in + 1) * _rowptr_bytes(nnz_w),
        "w_cols": nnz_w * 2,  # uint16 local gate column (3 * units < 65,536)
        "w_vals": nnz_w * 4,  # float32
        "r_rowptr": (hidden + 1) * _rowptr_bytes(nnz_r),
        "r_cols": nnz_r * 2,
        "r_vals": nnz_r * 4,
        "bias": 6 * n_units * 4,  # b_x and b_r for z, r, g
        "theta": n_units * 4,
        "state": n_units * 4,  # c
        "acc": 2 * 6 * n_units * 4,  # two parities x (Wx, Rh) x 3 gates, float32
        "src_offsets": (n_src_in + n_src_rec + 2) * 2,  # uint16 row offset per source slice
        "config": CONFIG_BYTES,
    }
    return {k: _align(v, align) for k, v in raw.items() if v > 0}


@dataclass
class Budget:
    """What one PE offers a slice: data bytes and cycles per time step."""

    bytes_available: int
    cycles_available: int
    align: int
    activity: float  # expected fraction of units firing per step (EGRU sources)
    input_activity: float  # expected fraction of nonzero inputs from the input source


@dataclass
class LayerView:
    """One EGRU layer as a partitioner sees it, with a footprint function for candidate slices."""

    index: int
    n_in: int
    hidden: int
    stats: LayerStats
    budget: Budget
    cost: CostModel

    @property
    def in_activity(self) -> float:
        return self.budget.input_activity if self.index == 0 else self.budget.activity

    # -- per-unit linear costs (vectorised) ---------------------------------------------------
    def _fixed(self, rp_w: int, rp_r: int) -> tuple[int, int]:
        a = self.budget.align
        n_regions = 12
        fixed_bytes = ((self.n_in + 1) * rp_w + (self.hidden + 1) * rp_r
                       + (2 * RESERVED_SRC_SLICES + 2) * 2 + CONFIG_BYTES + n_regions * (a - 1))
        cm = self.cost
        ev = cm.c("slice_event") + cm.irq_cycles
        fixed_cycles = (cm.c("slice_tick") + int(np.ceil(self.in_activity * self.n_in)) * ev
                        + int(np.ceil(self.budget.activity * self.hidden)) * ev)
        return fixed_bytes, fixed_cycles

    def unit_costs(self) -> tuple[np.ndarray, np.ndarray]:
        """(bytes, cycles) each unit adds to a slice (float cycles: expectations)."""
        st, cm = self.stats, self.cost
        unit_bytes = 6 * (st.nnz_w_per_unit + st.nnz_r_per_unit) + (6 + 1 + 1 + 12) * 4
        unit_cycles = (cm.c("slice_unit") + self.budget.activity * cm.c("slice_fire")
                       + cm.c("slice_nnz") * (self.in_activity * st.nnz_w_per_unit
                                              + self.budget.activity * st.nnz_r_per_unit))
        return unit_bytes.astype(np.int64), unit_cycles

    def rowptr_sizes(self) -> tuple[int, int]:
        # Row pointers are uint16 whenever a slice cannot hold more than 65,535 nonzeros.
        rp = _rowptr_bytes(self.budget.bytes_available // 6)
        return rp, rp

    def footprint(self, units: np.ndarray, n_src_in: int = RESERVED_SRC_SLICES,
                  n_src_rec: int = RESERVED_SRC_SLICES) -> tuple[int, dict[str, int], int]:
        """(bytes, regions, estimated cycles per step) of a slice holding ``units``."""
        units = np.asarray(units, np.int64)
        st = self.stats
        nnz_w = int(st.nnz_w_per_unit[units].sum())
        nnz_r = int(st.nnz_r_per_unit[units].sum())
        regions = slice_regions(self.n_in, self.hidden, len(units), nnz_w, nnz_r, n_src_in,
                                n_src_rec, self.budget.align)
        _, fixed_cycles = self._fixed(2, 2)
        _, unit_cycles = self.unit_costs()
        cycles = int(np.ceil(fixed_cycles + unit_cycles[units].sum()))
        return sum(regions.values()), regions, cycles

    def fits(self, units) -> bool:
        b, _, c = self.footprint(units)
        return (b <= self.budget.bytes_available and c <= self.budget.cycles_available
                and len(units) <= MAX_UNITS_PER_SLICE)

    def greedy_cuts(self) -> list[np.ndarray]:
        """Contiguous ranges, each as long as the budgets allow (fewest slices)."""
        ub, uc = self.unit_costs()
        fb, fc = self._fixed(*self.rowptr_sizes())
        cap_b = self.budget.bytes_available - fb
        cap_c = self.budget.cycles_available - fc
        if cap_b < ub.max(initial=0) or cap_c < uc.max(initial=0):
            return []  # not even one unit fits: the caller reports it
        out, start, H = [], 0, self.hidden
        cb = np.concatenate([[0], np.cumsum(ub)])
        cc = np.concatenate([[0.0], np.cumsum(uc)])
        while start < H:
            end_b = np.searchsorted(cb, cb[start] + cap_b, side="right") - 1
            end_c = np.searchsorted(cc, cc[start] + cap_c, side="right") - 1
            end = max(start + 1, min(end_b, end_c, start + MAX_UNITS_PER_SLICE, H))
            out.append(np.arange(start, end, dtype=np.int64))
            start = end
        return out

    def unit_demand(self) -> tuple[int, int]:
        """(bytes, cycles) the whole layer needs beyond per-slice fixed costs — for errors."""
        ub, uc = self.unit_costs()
        return int(ub.sum()), int(np.ceil(uc.sum()))


def _balanced(view: LayerView, n: int) -> list[np.ndarray]:
    """n contiguous ranges with equal shares of max(bytes share, cycles share)."""
    ub, uc = view.unit_costs()
    w = ub / max(ub.sum(), 1) + uc / max(uc.sum(), 1e-9)
    cw = np.cumsum(w)
    targets = cw[-1] * np.arange(1, n) / n
    cuts = np.searchsorted(cw, targets, side="left") + 1
    cuts = np.clip(cuts, 1, view.hidden - 1) if view.hidden > 1 else cuts[:0]
    edges = np.unique(np.concatenate([[0], cuts, [view.hidden]]))
    return [np.arange(a, b, dtype=np.int64) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def partition_by_units(view: LayerView) -> list[np.ndarray]:
    """Default: fewest contiguous slices that fit, balanced in bytes and cycles."""
    greedy = view.greedy_cuts()
    if not greedy:
        return [np.arange(view.hidden, dtype=np.int64)]  # fails the check with a clear error
    n = len(greedy)
    for m in range(n, min(n + 3, view.hidden) + 1):
        cand = _balanced(view, m)
        if len(cand) == m and all(view.fits(u) for u in cand):
            return cand
    return greedy


def partition_interleaved(view: LayerView) -> list[np.ndarray]:
    """Unit u -> slice u mod n, fewest n that fits."""
    greedy = view.greedy_cuts()
    if not greedy:
        return [np.arange(view.hidden, dtype=np.int64)]
    n = len(greedy)
    H = view.hidden
    for m in range(n, min(2 * n + 4, H) + 1):
        cand = [np.arange(k, H, m, dtype=np.int64) for k in range(m)]
        if all(view.fits(u) for u in cand):
            return cand
    return greedy


Partitioner = Callable[[LayerView], list[np.ndarray]]
PARTITIONERS: dict[str, Partitioner] = {
    "by_units": partition_by_units,
    "interleaved": partition_interleaved,
}


def register_partitioner(name: str, fn: Partitioner) -> None:
    PARTITIONERS[name] = fn


def get_partitioner(p) -> tuple[str, Partitioner]:
    if callable(p):
        return getattr(p, "__name__", "user"), p
    if p not in PARTITIONERS:
        raise CompileError(f"partitioner {p!r} unknown: choose one of {', '.join(PARTITIONERS)} "
                           "or pass a function")
    return p, PARTITIONERS[p]


def check_partition(view: LayerView, slices: list[np.ndarray], layer_name: str) -> None:
    """Every unit in exactly one slice, slice count within the key layout."""
    if not slices:
        raise CompileError(f"layer {layer_name}: partitioner returned no slices")
    if len(slices) > MAX_SLICES:
        raise CompileError(f"layer {layer_name}: {len(slices)} slices, key layout allows "
                           f"{MAX_SLICES} per layer")
    allu = np.concatenate([np.asarray(s, np.int64) for s in slices])
    if allu.size != view.hidden or not np.array_equal(np.sort(allu), np.arange(view.hidden)):
        raise CompileError(f"layer {layer_name}: partition must cover units 0..{view.hidden - 1} "
                           f"exactly once (got {allu.size} entries, "
                           f"{np.unique(allu).size} distinct)")
    for k, s in enumerate(slices):
        if len(s) == 0:
            raise CompileError(f"layer {layer_name}: slice {k} is empty")
        if len(s) > MAX_UNITS_PER_SLICE:
            raise CompileError(f"layer {layer_name}: slice {k} has {len(s)} units, key layout "
                               f"allows {MAX_UNITS_PER_SLICE}")
