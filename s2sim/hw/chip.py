"""``Chip``: the simulated SpiNNaker2 chip on SimPy (PEs, router, NoC, DVFS, ledger).

    chip = Chip(spec)                       # all PEs off until loaded
    chip.load(pe_id, program, pl=0)         # allocates SRAM, powers the PE on
    chip.router.add(key, mask, pes={...})   # first match wins
    chip.inject(time_ps, keys, payloads)    # host -> chip through the Ethernet bridge
    result = chip.run(ticks=N)              # -> ChipRun; deterministic, integer picoseconds
    price(result.counts, spec)              # -> EnergyReport

``Chip`` is the set-up API: it checks what users pass and hands it to its ``EventLoop``
(event_loop.py), which runs the PEs' programs through the firmware API (runtime.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2sim.errors import S2SimError
from s2sim.hw.dvfs import PerformanceLevelTable
from s2sim.hw.energy import EnergyReport, price
from s2sim.hw.event_loop import EventLoop
from s2sim.hw.ledger import Counts
from s2sim.hw.noc import Noc
from s2sim.hw.router import RoutingTable
from s2sim.hw.runtime import PE, Program, payload_block
from s2sim.hw.sram import pe_label


@dataclass
class ChipRun:
    """What one ``chip.run`` produced: counts (price them with ``energy()``), host output, a
    summary. (An engine's run of a whole Mapping is ``s2sim.engine.RunResult``.)"""

    counts: Counts
    host_rx: list[tuple[int, int, int, object]]   # (time_ps, pe_id, nbytes, payload), by time
    link_tx: list[tuple[int, int, int]]           # (time_ps, chip_link, key), by time
    spec: object = field(repr=False)

    def energy(self, spec=None) -> EnergyReport:
        """Price the counts with ``spec`` (default: the spec the chip was built with)."""
        return price(self.counts, spec if spec is not None else self.spec)

    def summary(self) -> dict:
        """Problems of the run, counted (every entry 0 on a clean run) + headline counts."""
        c = self.counts
        overruns = c.pe["tick_overruns"].sum(axis=1)
        qfull = c.pe["queue_full"].sum(axis=1)
        return {
            "ticks": c.n_ticks,
            "duration_ps": c.duration_ps,
            "pes_loaded": int(c.loaded.sum()),
            "packets_sent": c.total("packets_sent"),
            "packets_received": c.total("packets_received"),
            "queue_full": int(qfull.sum()),
            "queue_full_pes": [c.pe_ids[i] for i in np.flatnonzero(qfull)],
            "tick_overruns": int(overruns.sum()),
            "tick_overrun_pes": [c.pe_ids[i] for i in np.flatnonzero(overruns)],
            "dropped_to_off_pes": int(c.noc["dropped"].sum()),
            "undelivered_at_end": int(c.undelivered),
        }

    @property
    def ok(self) -> bool:
        s = self.summary()
        return not (s["queue_full"] or s["tick_overruns"] or s["dropped_to_off_pes"])

    def report(self) -> str:
        """One line per problem (empty string on a clean run)."""
        s = self.summary()
        lines = []
        if s["queue_full"]:
            lines.append(f"queue_full: {s['queue_full']} packet(s) dropped at full packet queues "
                         f"on {len(s['queue_full_pes'])} PE(s), first "
                         f"{pe_label(s['queue_full_pes'][0])}")
        if s["tick_overruns"]:
            lines.append(f"tick_overrun: {s['tick_overruns']} tick(s) overran on "
                         f"{len(s['tick_overrun_pes'])} PE(s), first "
                         f"{pe_label(s['tick_overrun_pes'][0])}")
        if s["dropped_to_off_pes"]:
            lines.append(f"dropped: {s['dropped_to_off_pes']} packet(s) routed to PEs that are "
                         f"not loaded")
        return "\n".join(lines)


class Chip:
    """One SpiNNaker2 chip. See the module doc and docs/design.md ("PE runtime")."""

    def __init__(self, spec):
        self.spec = spec
        self.pes: list[int] = spec.pe_ids()
        self.qpes: list[tuple[int, int]] = spec.qpes()
        self.router = RoutingTable(int(spec.router.table_entries.value), self.pes,
                                   int(spec.links.chip_links.value))
        self.noc = Noc(spec, self.pes)
        self._loop = EventLoop(spec, self.pes, self.router, self.noc,
                               PerformanceLevelTable.from_spec(spec))
        self._ran = False

    @property
    def tick_period_ps(self) -> int:
        """The timer tick period in picoseconds (``spec.timing.tick_period_s``)."""
        return self._loop.period_ps

    def pe_index(self, pe_id: int) -> int:
        """Position of ``pe_id`` in ``chip.pes`` (the row of the count arrays)."""
        return self._loop.core(pe_id).index

    # -- set-up ---------------------------------------------------------------------------------

    def pe(self, pe_id: int) -> PE:
        """The PE of ``pe_id`` as firmware sees it (its SRAM, program, PL)."""
        return self._loop.core(pe_id).facade

    def load(self, pe_id: int, program: Program, pl: int = 0) -> PE:
        """Put ``program`` on ``pe_id`` at performance level ``pl`` (powers the PE on)."""
        if self._ran:
            raise S2SimError("chip.load() after chip.run(): build a new Chip for another run")
        core = self._loop.core(pe_id)
        core.load(program, pl)
        return core.facade

    def inject(self, time_ps: int, keys, payloads=None, from_host: bool = True) -> None:
        """Packets entering the chip at ``time_ps``: from the host through the Ethernet bridge
        (1 Gbit/s serialisation + per-packet overhead), or with ``from_host=False`` directly at
        the event router (as from a chip link)."""
        if self._ran:
            raise S2SimError("chip.inject() after chip.run(): build a new Chip for another run")
        t = int(time_ps)
        if t < 0 or t != time_ps:
            raise S2SimError(f"inject time_ps {time_ps!r} must be a non-negative integer")
        k = np.asarray(keys).reshape(-1)
        if k.size and (k.dtype.kind not in "iu" or k.min() < 0 or k.max() > 0xFFFFFFFF):
            raise S2SimError("inject keys must be 32-bit unsigned integers")
        k = k.astype(np.uint32)
        pay, widths = payload_block(payloads, k.shape[0], "host inject")
        self._loop.inject(t, k, pay, widths, bool(from_host))

    # -- run ------------------------------------------------------------------------------------

    def run(self, ticks: int, ticks_per_column: int = 1) -> ChipRun:
        """Simulate ``ticks`` tick periods (deterministic). A chip runs once.

        ``ticks_per_column``: ticks summed into one column of the per-tick count arrays (1 =
        per tick; larger values bound the memory of long runs, ~27 kB per column).
        """
        if self._ran:
            raise S2SimError("chip.run() called twice: build a new Chip for another run")
        if isinstance(ticks, bool) or int(ticks) != ticks or ticks < 1:
            raise S2SimError(f"run(ticks={ticks!r}): ticks must be a positive integer")
        tpc = ticks_per_column
        if isinstance(tpc, bool) or int(tpc) != tpc or tpc < 1:
            raise S2SimError(f"run(ticks_per_column={tpc!r}): must be a positive integer")
        self._ran = True
        counts, host_rx, link_tx = self._loop.run(int(ticks), int(tpc))
        return ChipRun(counts=counts, host_rx=host_rx, link_tx=link_tx, spec=self.spec)
