"""What every core kind provides, and the contexts the compiler and the engines hand it.

A core kind (input source, EGRU slice, readout; next: an int8 slice, a LIF population) is one
module of ``firmware_py.kinds`` holding everything about that kind of PE program:

- its SRAM regions and cycle estimate (what the compiler sizes slices and places them with),
- its keys and host protocol,
- its mean per-event handler time and worst tick handler (what the send schedule is sized with),
- its two models: the DES ``Program`` (``program``) and the analytic counts (``book_counts``),
  which the analytic engine books per PE and tick without simulating events.

The compiler and the engines loop over the kinds registered in ``firmware_py.kinds.KINDS``; they
know of no kind by name. Mappings are duck-typed here (``firmware_py`` sits below the compiler):
a mapping has ``slices``, ``placement``, ``routes``, ``schedule``, ``layer_slices(layer)``, ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from firmware_py.cost import CostModel

__all__ = ["CoreKind", "BuildContext", "AnalyticContext", "CONFIG_BYTES", "align_up"]

# Program constants every kind keeps in SRAM: key base, layer sizes, first tick, step counters
# (16 words).
CONFIG_BYTES = 64


def align_up(n: int, a: int) -> int:
    """``n`` bytes rounded up to the SRAM allocator's alignment ``a``."""
    return -(-int(n) // a) * a


def aligned(raw: dict[str, int], align: int) -> dict[str, int]:
    """Region sizes rounded up to the alignment; empty regions left out."""
    return {k: align_up(v, align) for k, v in raw.items() if v > 0}


@dataclass
class BuildContext:
    """What a kind needs to instantiate its DES program for one slice of a mapping."""

    mapping: object
    network: object
    spec: object
    cost: CostModel
    n_steps: int
    cache: dict = field(default_factory=dict)  # per-kind data shared by its slices (cores)
    # the run has checked the layers' CSR against W and R (s2sim.engine.common._prepared)
    csr_checked: bool = False

    def last_tick(self, s) -> int:
        return s.first_tick + self.n_steps - 1


@dataclass
class AnalyticContext:
    """What a kind needs to book its analytic counts: the oracle's activity and a ledger.

    ``book(pe_id, ticks, **counters)`` adds per-tick counts (arrays broadcast to ``ticks``;
    ticks outside the run are ignored) to the PE's row of the ledger's per-PE fields.
    """

    mapping: object
    network: object
    spec: object
    cost: CostModel
    xs: np.ndarray  # (T, n_in) input vectors of the run
    ys: list[np.ndarray]  # per layer (T, H): the oracle's outputs (events where nonzero)
    n_ticks: int
    pe: dict[str, np.ndarray]  # ledger field -> (n_pe, n_ticks) int64
    idx_of: dict[int, int]  # PE id -> row of the ledger arrays
    receivers: dict[str, set[str]]  # sender slice id -> ids of the slices its route reaches
    routed: set[str]  # sender slice ids that have a route
    cache: dict = field(default_factory=dict)  # per-kind data shared by the slices of a run
    # a long run is counted window by window (s2sim.engine.analytic): xs/ys are the steps
    # step0 .. step0 + n_steps - 1, the ledger's column 0 is tick step0, and the whole run has
    # run_steps steps (None: this window is the whole run)
    step0: int = 0
    run_steps: int | None = None
    # data that depends on the mapping only, shared by the windows of one run
    run_cache: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(self.xs.shape[0])

    @property
    def steps(self) -> np.ndarray:
        """Global step indices of this window (ticks are global too: ``book`` shifts them)."""
        return np.arange(self.step0, self.step0 + self.n_steps, dtype=np.int64)

    @property
    def irq(self) -> int:
        return self.cost.irq_cycles

    def book(self, pe_id: int, ticks: np.ndarray, **vals) -> None:
        i = self.idx_of[pe_id]
        ticks = np.asarray(ticks, np.int64) - self.step0  # window column of each global tick
        ok = (ticks >= 0) & (ticks < self.n_ticks)
        t = ticks[ok]
        distinct = t.size < 2 or bool((t[1:] > t[:-1]).all())  # ascending: plain fancy add
        for k, v in vals.items():
            v = np.broadcast_to(np.asarray(v, np.int64), ticks.shape)[ok]
            if distinct:
                self.pe[k][i, t] += v
            else:
                np.add.at(self.pe[k][i], t, v)


class CoreKind(ABC):
    """The interface of a core kind; each kind module defines one subclass and registers it."""

    name: str = "kind"

    @abstractmethod
    def idle_tick_cycles(self, cm: CostModel) -> int:
        """Handler cycles (irq excluded) of a tick outside the slice's step window."""

    @abstractmethod
    def schedule_costs(self, s, network, cm: CostModel, cache: dict) -> tuple[int, int]:
        """(mean handler cycles per received event, tick handler cycles with every unit firing),
        both without irq entry/exit: what the send schedule is sized with (``cache``: data the
        kind may share between the slices of one compile)."""

    @abstractmethod
    def program(self, ctx: BuildContext, s):
        """The DES Program of slice ``s`` (an ``s2sim.hw.runtime.Program``)."""

    @abstractmethod
    def book_counts(self, ctx: AnalyticContext, s) -> None:
        """Book what the slice's program does per tick into ``ctx`` (the analytic model)."""

    def book_idle_ticks(self, ctx: AnalyticContext, s, n_cols: int | None = None) -> None:
        """Ticks outside the slice's step window still take an interrupt (same for all kinds):
        the global ticks of the ledger's first ``n_cols`` columns (default: all) before the
        slice's first step or after its last."""
        run_steps = ctx.n_steps if ctx.run_steps is None else ctx.run_steps
        g = ctx.step0 + np.arange(ctx.n_ticks if n_cols is None else n_cols, dtype=np.int64)
        ticks = g[(g < s.first_tick) | (g >= s.first_tick + run_steps)]
        idle_c = self.idle_tick_cycles(ctx.cost) + ctx.irq
        ctx.book(ctx.mapping.placement[s.id], ticks, active_cycles=np.full(ticks.size, idle_c),
                 handlers=1)
