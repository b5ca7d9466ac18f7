"""``Chip``: the simulated SpiNNaker2 chip on SimPy (PEs, router, NoC, DVFS, ledger).

    chip = Chip(spec)                       # all PEs off until loaded
    chip.load(pe_id, program, pl=0)         # allocates SRAM, powers the PE on
    chip.router.add(key, mask, pes={...})   # first match wins
    chip.inject(time_ps, keys, payloads)    # host -> chip through the Ethernet bridge
    result = chip.run(ticks=N)              # deterministic; integer picoseconds
    price(result.counts, spec)              # -> EnergyReport

Performance design (docs/chip.md): SimPy events exist per PE per batch of work, never per packet.
Sends are collected in an outbox and, once per simulated instant, routed together: link
reservations (numba) give every delivery's arrival time, deliveries are grouped per destination
PE, and each destination gets at most one wake-up event at its earliest new arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from s2sim.errors import ResourceError, S2SimError
from s2sim.hw.dvfs import PerformanceLevelTable, Residency, cycles_to_ps, seconds_to_ps
from s2sim.hw.energy import EnergyReport, price
from s2sim.hw.ledger import Counts, Ledger
from s2sim.hw.noc import Noc
from s2sim.hw.router import RoutingTable
from s2sim.hw.runtime import PE, Program, _lazy_enabled, _payload_block, _timer_enabled
from s2sim.hw.sram import pe_label


@dataclass
class RunResult:
    """What a run produced: counts (price them with ``energy()``), host output, a summary."""

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
        self._index = {pid: i for i, pid in enumerate(self.pes)}
        self._pl = PerformanceLevelTable.from_spec(spec)
        self.router = RoutingTable(int(spec.router.table_entries.value), self.pes,
                                   int(spec.links.chip_links.value))
        self.noc = Noc(spec, self.pes)
        self._pes = [PE(self, pid, i) for i, pid in enumerate(self.pes)]
        cyc = spec.cpu.cycles
        self._irq_in = int(cyc.irq_entry.value)
        self._irq_out = int(cyc.irq_exit.value)
        self._depth = int(spec.timing.packet_queue_depth.value)
        self._period_ps = seconds_to_ps(spec.timing.tick_period_s.value)
        if self._period_ps <= 0:
            raise S2SimError("timing.tick_period_s is below one picosecond")
        self._f_noc = float(spec.noc.frequency_hz.value)
        self._dma_bpc = float(spec.accelerators.dma_bytes_per_cycle.value)
        self._dram_bw = float(spec.memory.dram_bandwidth_bytes_per_s.value)
        self._eth_bps = float(spec.host.ethernet_bits_per_s.value)
        self._eth_overhead_ps = seconds_to_ps(spec.host.per_packet_overhead_s.value)
        self._link_ps = int(np.ceil(float(spec.links.link_packet_bits.value) * 1e12
                                    / float(spec.links.board_link_bits_per_s.value)))
        self._injections: list[tuple] = []
        self._key_route: dict[int, int] = {}
        self._entry_route: dict[int, int] = {}
        self._route_version = -1
        self._ran = False
        self.env: simpy.Environment | None = None

    @property
    def tick_period_ps(self) -> int:
        """The timer tick period in picoseconds (``spec.timing.tick_period_s``)."""
        return self._period_ps

    def pe_index(self, pe_id: int) -> int:
        """Position of ``pe_id`` in ``chip.pes`` (the row of the count arrays)."""
        return self.pe(pe_id).index

    # -- set-up ---------------------------------------------------------------------------------

    def pe(self, pe_id: int) -> PE:
        """The PE object of ``pe_id`` (its SRAM, program, PL)."""
        try:
            return self._pes[self._index[int(pe_id)]]
        except (KeyError, TypeError, ValueError):
            raise ResourceError(f"PE id {pe_id!r} is not a PE of this chip "
                                f"({len(self.pes)} PEs)") from None

    def load(self, pe_id: int, program: Program, pl: int = 0) -> PE:
        """Put ``program`` on ``pe_id`` at performance level ``pl`` (powers the PE on)."""
        if self._ran:
            raise S2SimError("chip.load() after chip.run(): build a new Chip for another run")
        pe = self.pe(pe_id)
        if not isinstance(program, Program):
            raise S2SimError(f"{pe.label}: program must be an s2sim.hw.runtime.Program, got "
                             f"{type(program).__name__}")
        if pe.loaded:
            raise ResourceError(f"{pe.label}: already has program {pe.program.name!r} loaded")
        pl = self._pl.check(pl, f"{pe.label}: load")
        regions = program.sram_regions() or {}
        if not isinstance(regions, dict):
            raise S2SimError(f"{pe.label}: {program.name}.sram_regions() must return a dict")
        pe.sram.alloc_code(int(program.code_bytes), program.name)
        for name, nbytes in regions.items():
            pe.sram.alloc(name, nbytes)
        pe.program = program
        pe.loaded = True
        pe.pl = pl
        pe.frequency_hz = self._pl.frequency_hz[pl]
        pe._timer = _timer_enabled(program)
        pe._lazy = _lazy_enabled(program, pe._timer)
        return pe

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
        pay, widths = _payload_block(payloads, k.shape[0], "host inject")
        self._injections.append((t, k, pay, widths, bool(from_host)))

    # -- routing --------------------------------------------------------------------------------

    def _route_ids(self, keys: np.ndarray, sender: PE | None) -> np.ndarray:
        if self.router.version != self._route_version:
            self._key_route.clear()
            self._entry_route.clear()
            self.noc.clear_routes()
            self._route_version = self.router.version
        cache = self._key_route
        out = []
        for key in keys.tolist():
            rid = cache.get(key)
            if rid is None:
                who = sender.label if sender is not None else "host"
                e = self.router.match(key)
                if e < 0:
                    self.router.lookup(key, who)  # raises RoutingError naming key and sender
                rid = self._entry_route.get(e)
                if rid is None:
                    rid = self.noc.compile_route(self.router.entries[e], self._index).id
                    self._entry_route[e] = rid
                cache[key] = rid
            out.append(rid)
        return np.array(out, dtype=np.int64)

    # -- outbox: sends of one simulated instant are routed together ----------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _outbox_add(self, t_send, pe: PE | None, rids, keys, pay, widths, src_node=None):
        n = keys.shape[0]
        if pe is not None:
            src = np.full(n, self.noc.pe_node[pe.index], dtype=np.int64)
            inj = np.full(n, self.noc.inj_base + pe.index, dtype=np.int64)
            srcpe = np.full(n, pe.index, dtype=np.int64)
        else:
            src = np.full(n, src_node, dtype=np.int64)
            inj = np.full(n, -1, dtype=np.int64)
            srcpe = np.full(n, -1, dtype=np.int64)
        self._outbox.append((t_send, src, inj, rids, keys, pay, widths, srcpe))
        if not self._flush_pending:
            self._flush_pending = True
            ev = self.env.timeout(0)
            ev.callbacks.append(self._flush)

    def _flush(self, _ev=None) -> None:
        self._flush_pending = False
        box = self._outbox
        self._outbox = []
        if len(box) == 1:
            t, src, inj, rids, keys, pay, widths, srcpe = box[0]
        else:
            t, src, inj, rids, keys, pay, widths, srcpe = (np.concatenate(x) for x in zip(*box,
                                                                                       strict=True))
        order = np.argsort(t, kind="stable")  # reservations in send-time order, ties by seq
        if not np.array_equal(order, np.arange(order.shape[0])):
            t, src, inj, rids, keys, pay, widths, srcpe = (
                x[order] for x in (t, src, inj, rids, keys, pay, widths, srcpe))
        t = np.ascontiguousarray(t, dtype=np.int64)
        router_ps, dpk, dpe, dps, hops, flits = self.noc.multicast(t, src, inj, rids)
        L = self._ledger
        ks = L.ticks_of(t)
        n = t.shape[0]
        noc = L.noc
        if n and ks[0] == ks[-1]:
            k = int(ks[0])
            noc["packets"][k] += n
            noc["router_lookups"][k] += n
            noc["flits"][k] += int(flits.sum())
            noc["hops"][k] += int(hops.sum())
        else:
            np.add.at(noc["packets"], ks, 1)
            np.add.at(noc["router_lookups"], ks, 1)
            np.add.at(noc["flits"], ks, flits)
            np.add.at(noc["hops"], ks, hops)
        from_pe = srcpe >= 0
        if from_pe.all():
            np.add.at(L.pe["packets_sent"], (srcpe, ks), 1)
        elif from_pe.any():
            np.add.at(L.pe["packets_sent"], (srcpe[from_pe], ks[from_pe]), 1)
        if self.noc.any_links:
            self._chip_links(router_ps, rids, keys, ks)
        if dpe.shape[0] == 0:
            return
        on = self._loaded[dpe]
        if not on.all():
            off = ~on
            np.add.at(noc["dropped"], ks[dpk[off]], 1)
            dpk, dpe, dps = dpk[on], dpe[on], dps[on]
            if dpe.shape[0] == 0:
                return
        np.add.at(noc["deliveries"], ks[dpk], 1)
        o = np.lexsort((dps, dpe))  # by destination, then arrival; stable for ties
        dpe, dps, dpk = dpe[o], dps[o], dpk[o]
        # one uint32 block per packet: [key, payload words, payload 0..3] (see PE._chunks)
        blk = np.empty((n, 6), dtype=np.uint32)
        blk[:, 0] = keys
        blk[:, 1] = widths
        blk[:, 2:] = pay
        dblk = blk[dpk]
        cut = np.flatnonzero(np.diff(dpe)) + 1
        bounds = [0, *cut.tolist(), dpe.shape[0]]
        pes = self._pes
        for j in range(len(bounds) - 1):
            a, b = bounds[j], bounds[j + 1]
            pes[int(dpe[a])]._add_packets(dps[a:b], dblk[a:b])

    def _chip_links(self, router_ps, rids, keys, ks) -> None:
        routes = self.noc.routes
        for i, rid in enumerate(rids.tolist()):
            links = routes[rid].links
            for ln in links:
                s = max(int(router_ps[i]), self._link_free[ln])
                self._link_free[ln] = s + self._link_ps
                self._link_tx.append((s + self._link_ps, ln, int(keys[i])))
                self._ledger.link_packets[ln] += 1
                self._ledger.noc["link_packets"][int(ks[i])] += 1

    # -- host and DMA ---------------------------------------------------------------------------

    def _inject_at(self, items) -> None:
        node = self.noc.bridge_node
        for t, k, pay, widths, from_host in items:
            n = k.shape[0]
            if n == 0:
                continue
            rids = self._route_ids(k, None)
            if from_host:
                times = np.empty(n, dtype=np.int64)
                for i in range(n):
                    bits = 8 * (4 + 4 * int(widths[i]))
                    ser = int(np.ceil(bits * 1e12 / self._eth_bps))
                    s = max(t, self._eth_in_free)
                    self._eth_in_free = s + ser
                    times[i] = s + ser + self._eth_overhead_ps
                self._outbox_add(times, None, rids, k, pay, widths, src_node=node)
            else:
                self._outbox_add(np.full(n, t, dtype=np.int64), None, rids, k, pay, widths,
                                 src_node=self.noc.router_node)
            self._ledger.noc["host_injected"][self._ledger.tick_of(t)] += n

    def _to_host(self, pe: PE, t: int, nbytes: int, payload) -> None:
        t_bridge, hops = self.noc.unicast_path_time(t, pe.qpe, self.noc.bridge_xy)
        ser = int(np.ceil(8 * nbytes * 1e12 / self._eth_bps))
        s = max(t_bridge, self._eth_out_free)
        self._eth_out_free = s + ser
        k = self._ledger.tick_of(t)
        self._ledger.noc["hops"][k] += hops
        self._ledger.noc["flits"][k] += 1
        self._ledger.noc["host_rx_packets"][k] += 1
        self._ledger.pe["host_tx_bytes"][pe.index, k] += nbytes
        self._host_rx.append((s + ser + self._eth_overhead_ps, self._next_seq(), pe.pe_id, nbytes,
                              payload))

    def _dma_done_time(self, pe: PE, t: int, nbytes: int, dram: bool) -> int:
        s = max(t, pe._dma_free)
        cycles = int(np.ceil(nbytes / self._dma_bpc))
        done = s + cycles_to_ps(cycles, self._f_noc)
        if dram:
            s2 = max(s, self._dram_free)
            d2 = s2 + int(np.ceil(nbytes * 1e12 / self._dram_bw))
            self._dram_free = d2
            done = max(done, d2)
        pe._dma_free = done
        return done

    # -- run ------------------------------------------------------------------------------------

    def run(self, ticks: int, ticks_per_column: int = 1) -> RunResult:
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
        n_ticks = int(ticks)
        P = self._period_ps
        self._n_ticks = n_ticks
        self._run_end_ps = n_ticks * P
        self.env = env = simpy.Environment()
        self._ledger = Ledger(self.pes, len(self._pl), n_ticks, P,
                              int(self.spec.links.chip_links.value), int(tpc))
        self._residency = Residency(len(self.pes), len(self._pl))
        self._loaded = np.array([pe.loaded for pe in self._pes], dtype=bool)
        self._outbox = []
        self._flush_pending = False
        self._seq = 0
        self._eth_in_free = 0
        self._eth_out_free = 0
        self._dram_free = 0
        self._link_free = [0] * int(self.spec.links.chip_links.value)
        self._link_tx: list[tuple] = []
        self._host_rx: list[tuple] = []
        self.router.frozen = True
        loaded = [pe for pe in self._pes if pe.loaded]
        for pe in loaded:
            self._residency.power_on(pe.index, pe.pl, 0)
        # Unroutable injected keys fail now, naming the key and "host", not mid-run.
        by_time: dict[int, list] = {}
        for item in self._injections:
            self._route_ids(item[1], None)
            by_time.setdefault(item[0], []).append(item)
        late = 0
        for t in sorted(by_time):
            if t < self._run_end_ps:
                ev = env.timeout(t)
                ev.callbacks.append(lambda _e, items=by_time[t]: self._inject_at(items))
            else:  # injected after the end of the run: never enter the chip, counted
                late += sum(int(item[1].shape[0]) for item in by_time[t])
        self._late_injections = late
        for pe in loaded:
            pe._begin(0, False)
            try:
                pe.program.on_start(pe)
            finally:
                pe._in_handler = False
            # on_start is not charged: its sends and actions happen at time 0.
            for keys, pay, widths, _at, rids in pe._h_sends:
                self._outbox_add(np.zeros(keys.shape[0], dtype=np.int64), pe, rids, keys, pay,
                                 widths)
            if pe._h_actions:
                pe._do_actions([(0,) + act for act in pe._h_actions], 0)
        timer_pes = [pe for pe in loaded if pe._timer]

        def ticker():
            for k in range(n_ticks):
                if k:
                    yield env.timeout(P)
                for pe in timer_pes:
                    pe.service()

        env.process(ticker())
        # Lazy PEs take packets at their own events; a last sweep just before the end takes
        # those that arrived after their last one (every arrival <= end - 1 is known by then).
        for pe in loaded:
            if pe._lazy:
                ev = env.timeout(self._run_end_ps - 1)
                ev.callbacks.append(lambda _e, pe=pe: pe.service())
        env.run(until=self._run_end_ps)
        return self._finish(timer_pes)

    def _finish(self, timer_pes) -> RunResult:
        end = self._run_end_ps
        L = self._ledger
        self._residency.close(end)
        for pe in self._pes:
            pe._write_acc()
            pe._flush_pl_cycles()
        for pe in timer_pes:
            if pe._busy_until > end:
                L.pe["tick_overruns"][pe.index, L.last_tick] += 1
        col_ps = L.powered_ps_per_column()[None, :]
        on = self._loaded[:, None]
        L.pe["sleep_ps"][:] = np.where(on, col_ps - L.pe["active_ps"] - L.pe["switch_ps"], 0)
        L.pe["off_ps"][:] = np.where(on, 0, col_ps)
        L.pl["residency_ps"][:] = self._residency.ps
        undelivered = self._late_injections + sum(int(c[0].shape[0]) for pe in self._pes
                                                  for c in pe._chunks)
        counts = L.freeze(self._loaded, end, undelivered)
        host_rx = [(t, pid, nb, p) for t, _s, pid, nb, p in sorted(self._host_rx,
                                                                 key=lambda r: (r[0], r[1]))]
        link_tx = sorted(self._link_tx)
        return RunResult(counts=counts, host_rx=host_rx, link_tx=link_tx, spec=self.spec)

