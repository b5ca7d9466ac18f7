"""Partitioning: split each EGRU layer into per-PE slices of output units.

A slice of units U holds, for U's three gates, the CSR rows of W and R (rows = inputs, columns =
the slice's 3|U| gate columns), the biases, thresholds, state and two parity accumulators (the
EGRU slice kind, ``firmware_py.kinds.egru_slice``). Slices are sized against the PE's data SRAM
*and* a cycle budget per time step at the chosen performance level (``budget``), using the
firmware's own cost model (``firmware_py.cost``).

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
from firmware_py.keys import MAX_SLICES, MAX_UNITS_PER_SLICE
from firmware_py.kinds import egru_slice as egru
from s2sim.compiler.ir import LayerStats, Network
from s2sim.compiler.strategies import resolve_strategy
from s2sim.errors import CompileError

__all__ = ["LayerView", "Budget", "Partition", "partition_network", "PARTITIONERS",
           "register_partitioner", "get_partitioner", "partition_by_units",
           "partition_interleaved"]


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
    """One EGRU layer as a partitioner sees it, with a footprint function for candidate slices
    (the EGRU slice kind's SRAM regions and cycle estimate, ``firmware_py.kinds.egru_slice``)."""

    index: int
    n_in: int
    hidden: int
    stats: LayerStats
    budget: Budget
    cost: CostModel
    n_slices: int | None = None  # slices asked for (a deployment of a given PE count), or None
    # source slices the offset table is sized for: the layer below's (input) and this layer's
    # own (recurrent) slice counts, at least the reserve (raised by partition_network when a
    # wide layer has more)
    src_in_slices: int = egru.RESERVED_SRC_SLICES
    src_rec_slices: int = egru.RESERVED_SRC_SLICES

    @property
    def in_activity(self) -> float:
        return self.budget.input_activity if self.index == 0 else self.budget.activity

    # -- per-unit linear costs (vectorised) ---------------------------------------------------
    def _fixed(self, rp_w: int, rp_r: int) -> tuple[int, int]:
        return egru.fixed_costs(self.cost, self.n_in, self.hidden, self.in_activity,
                                self.budget.activity, self.budget.align, rp_w, rp_r,
                                self.src_in_slices, self.src_rec_slices)

    def unit_costs(self) -> tuple[np.ndarray, np.ndarray]:
        """(bytes, cycles) each unit adds to a slice (float cycles: expectations)."""
        return egru.unit_costs(self.cost, self.stats.nnz_w_per_unit, self.stats.nnz_r_per_unit,
                               self.in_activity, self.budget.activity)

    def rowptr_sizes(self) -> tuple[int, int]:
        # Row pointers are uint16 whenever a slice cannot hold more than 65,535 nonzeros.
        rp = egru.rowptr_bytes(self.budget.bytes_available
                               // (egru.value_bytes(self.cost.precision)
                                  + self.cost.index_bytes))
        return rp, rp

    def footprint(self, units: np.ndarray, n_src_in: int | None = None,
                  n_src_rec: int | None = None) -> tuple[int, dict[str, int], int]:
        """(bytes, regions, estimated cycles per step) of a slice holding ``units``."""
        n_src_in = self.src_in_slices if n_src_in is None else n_src_in
        n_src_rec = self.src_rec_slices if n_src_rec is None else n_src_rec
        units = np.asarray(units, np.int64)
        st = self.stats
        nnz_w = int(st.nnz_w_per_unit[units].sum())
        nnz_r = int(st.nnz_r_per_unit[units].sum())
        regions = egru.slice_regions(self.n_in, self.hidden, len(units), nnz_w, nnz_r, n_src_in,
                                     n_src_rec, self.budget.align, self.cost.index_bytes,
                                     self.cost.precision)
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


def _balanced_exact(view: LayerView, n: int) -> list[np.ndarray]:
    """Exactly n contiguous ranges, balanced in bytes and cycles where the weights allow."""
    cand = _balanced(view, n)
    if len(cand) == n:
        return cand
    return [np.asarray(a, np.int64) for a in np.array_split(np.arange(view.hidden), n)]


def partition_by_units(view: LayerView) -> list[np.ndarray]:
    """Default: fewest contiguous slices that fit (or ``view.n_slices``), balanced in bytes and
    cycles."""
    if view.n_slices:
        return _balanced_exact(view, view.n_slices)
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
    """Unit u -> slice u mod n, fewest n that fits (or ``view.n_slices``)."""
    if view.n_slices:
        return [np.arange(k, view.hidden, view.n_slices, dtype=np.int64)
                for k in range(view.n_slices)]
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
    return resolve_strategy("partitioner", p, PARTITIONERS)


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


# -- the stage ----------------------------------------------------------------------------------

@dataclass
class Partition:
    """The partition stage's output: per layer, its view and the unit arrays of its slices."""

    partitioner: str
    views: list[LayerView]
    parts: list[list[np.ndarray]]  # parts[layer][slice] -> unit indices

    @property
    def n_slices(self) -> int:
        return sum(len(p) for p in self.parts)


def partition_network(network: Network, budget: Budget, cost: CostModel, partitioner, *,
                      pl: int, cycles_per_tick: int, slice_pes: int | None = None) -> Partition:
    """Split every layer into slices that fit a PE's budget; errors name the layer and slice.
    ``slice_pes``: spread the layers over exactly this many slices (a deployment of a given PE
    count), shared out so that the busiest slice's estimated cycles per step are smallest."""
    pname, pfn = get_partitioner(partitioner)
    views = [LayerView(index=i, n_in=layer.n_in, hidden=layer.hidden, stats=network.stats(i),
                       budget=budget, cost=cost) for i, layer in enumerate(network.layers)]
    if slice_pes is not None:
        for view, n in zip(views, allocate_slices(views, slice_pes), strict=True):
            view.n_slices = n
    parts = []
    for i, view in enumerate(views):
        if i:
            view.src_in_slices = max(view.src_in_slices, len(parts[-1]))
        while True:
            greedy = view.greedy_cuts()
            if not greedy:
                _raise_unit_too_large(view, f"L{i}")
            slices = [np.asarray(s, np.int64) for s in pfn(view)]
            if len(slices) <= view.src_rec_slices:
                break
            # more slices than the offset table was sized for: size it for them and cut again
            # (more table, smaller slices: the count only grows, so this ends)
            view.src_rec_slices = len(slices)
        check_partition(view, slices, f"L{i}")
        _check_slices_fit(view, slices, f"L{i}", len(greedy), pl, cycles_per_tick)
        parts.append(slices)
    return Partition(partitioner=pname, views=views, parts=parts)


def allocate_slices(views: list[LayerView], n: int) -> list[int]:
    """Slices per layer summing to ``n``: each layer starts at the fewest that fit, then each
    further slice goes to the layer with the largest slices (units per slice; ties: estimated
    cycles per step). The largest slice sets the burst every sender's window of the send
    schedule is sized for, and on the paper shape that schedule, not the handlers' work, is what
    sets the (auto) tick: splitting the largest slices shortens the step most."""
    counts = [len(v.greedy_cuts()) or 1 for v in views]
    if sum(counts) > n:
        per_layer = ", ".join(f"L{i}: {c}" for i, c in enumerate(counts))
        raise CompileError(f"{n} PEs for the EGRU slices: the layers need at least "
                           f"{sum(counts)} ({per_layer})")
    if n > sum(v.hidden for v in views):
        raise CompileError(f"{n} PEs for the EGRU slices: the layers have only "
                           f"{sum(v.hidden for v in views)} units")
    fixed = [v._fixed(*v.rowptr_sizes())[1] for v in views]
    demand = [v.unit_demand()[1] for v in views]

    def largest(i: int) -> tuple[int, float]:
        return -(-views[i].hidden // counts[i]), fixed[i] + demand[i] / counts[i]

    for _ in range(n - sum(counts)):
        open_ = [i for i, v in enumerate(views) if counts[i] < v.hidden]
        i = max(open_, key=lambda j: (largest(j), -j))
        counts[i] += 1
    return counts


def _raise_unit_too_large(view: LayerView, lname: str) -> None:
    ub, _ = view.unit_costs()
    u = int(np.argmax(ub))
    b, _, c = view.footprint(np.array([u]))
    raise CompileError(
        f"layer {lname} ({view.hidden} units): even a single unit (unit {u}) needs "
        f"{b} bytes / {c} cycles per step, a PE offers {view.budget.bytes_available} bytes / "
        f"{view.budget.cycles_available} cycles: no PE count fits this layer by output units")


def _check_slices_fit(view: LayerView, slices: list[np.ndarray], lname: str, need: int, pl: int,
                      cycles_per_tick: int) -> None:
    budget = view.budget
    for k, s in enumerate(slices):
        b, _, c = view.footprint(s)
        if b > budget.bytes_available or c > budget.cycles_available:
            raise CompileError(
                f"layer {lname} slice {k} ({len(s)} units): needs {b} bytes and ~{c} "
                f"cycles/step, a PE has {budget.bytes_available} bytes and "
                f"{budget.cycles_available} cycles (PL{pl}, "
                f"{100 * budget.cycles_available / cycles_per_tick:.0f}% of a tick); "
                f"smallest PE count that fits this layer: {need}")


def check_pe_count(part: Partition, max_pes: int, extra_slices: int) -> None:
    """Refuse a partition whose slices (+ ``extra_slices``: input source, readout) exceed
    ``max_pes``, naming the layer that would not fit if the PEs were shared out."""
    need = part.n_slices + extra_slices
    if need <= max_pes:
        return
    room = max_pes - extra_slices
    avail = part.views[0].budget.bytes_available
    # share the PEs there are in proportion to each layer's need; report the worst layer
    shares = [max(1, int(room * len(p) / (need - extra_slices))) for p in part.parts]
    worst = None
    for i, (view, share) in enumerate(zip(part.views, shares, strict=True)):
        if share >= len(part.parts[i]):
            continue
        edges = np.linspace(0, view.hidden, share + 1).astype(np.int64)
        for k in range(share):
            b, _, _ = view.footprint(np.arange(edges[k], edges[k + 1]))
            if worst is None or b - avail > worst[3] - avail:
                worst = (i, k, share, b)
    if worst is None:
        raise CompileError(f"network needs {need} PEs (slices + input + readout), "
                           f"--max-pes is {max_pes}")
    i, k, share, b = worst
    raise CompileError(
        f"network too large for {max_pes} PEs: layer L{i} ({part.views[i].hidden} units) on "
        f"{share} PEs needs {b} bytes in slice {k}, a PE has {avail} bytes available; smallest "
        f"PE count that fits: {need}")
