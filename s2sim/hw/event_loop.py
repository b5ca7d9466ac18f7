"""The event loop behind the firmware API: ``EventLoop`` (the chip-wide part: routing, the
outbox, the NoC, host and DRAM traffic, the run) and ``PECore`` (one PE's state machine).

``Chip`` (chip.py) is the set-up API over one ``EventLoop``; firmware sees only the ``PE`` facade
(runtime.py), which shares a ``PEState`` with its ``PECore`` and calls it only through
``route_keys``, ``count`` and ``check_pl``. The numba kernels are in pe_kernels.py (batch timing,
queue acceptance) and noc.py (link reservations).

Performance design (docs/chip.md): SimPy events exist per PE per batch of work, never per packet.
Sends are collected in an outbox and, once per simulated instant, routed together: link
reservations (numba) give every delivery's arrival time, deliveries are grouped per destination
PE, and each destination gets at most one wake-up event at its earliest new arrival.
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy

from s2sim.errors import ResourceError, S2SimError
from s2sim.hw.dvfs import Residency, cycles_to_ps, ps_per_cycle_ratio, seconds_to_ps
from s2sim.hw.ledger import Counts, Ledger
from s2sim.hw.pe_kernels import (
    all_at,
    ascending,
    block_fields,
    book_sends,
    common_masked,
    group_by_destination,
    inbox_put,
    inbox_take,
    queue_peak,
    queue_scan,
    queue_time_in_tick,
    same_values,
    send_times,
    time_serial,
)
from s2sim.hw.runtime import PE, PEState, Program, filled, lazy_enabled, timer_enabled
from s2sim.hw.sram import SramAllocator, pe_label

INF = np.iinfo(np.int64).max
_EMPTY_I64 = np.zeros(0, dtype=np.int64)


class EventLoop:
    """The chip's dynamic part: the PE cores, the routing caches, the outbox and the shared
    channels (Ethernet, DRAM, chip links). ``Chip`` builds one and calls ``core``, ``inject``
    and ``run``; the ``PECore``s call ``route_ids``, ``outbox_add``, ``next_seq``, ``to_host``
    and ``dram_transfer`` and read the run's ``env``, ``ledger``, ``residency``, ``period_ps``,
    ``n_ticks``, ``run_end_ps`` and constants.
    """

    def __init__(self, spec, pe_ids: list[int], router, noc, pl_table):
        self.spec = spec
        self.router = router
        self.noc = noc
        self.pl_table = pl_table
        self.pe_ids = list(pe_ids)
        self.index = {pid: i for i, pid in enumerate(pe_ids)}
        self.cores = [PECore(self, pid, i) for i, pid in enumerate(pe_ids)]
        cyc = spec.cpu.cycles
        self.irq_in = int(cyc.irq_entry.value)
        self.irq_out = int(cyc.irq_exit.value)
        self.depth = int(spec.timing.packet_queue_depth.value)
        self.period_ps = seconds_to_ps(spec.timing.tick_period_s.value)
        if self.period_ps <= 0:
            raise S2SimError("timing.tick_period_s is below one picosecond")
        self.f_noc = float(spec.noc.frequency_hz.value)
        self.dma_bytes_per_cycle = float(spec.accelerators.dma_bytes_per_cycle.value)
        self._dram_bw = float(spec.memory.dram_bandwidth_bytes_per_s.value)
        self._eth_bps = float(spec.host.ethernet_bits_per_s.value)
        self._eth_overhead_ps = seconds_to_ps(spec.host.per_packet_overhead_s.value)
        self._link_ps = int(np.ceil(float(spec.links.link_packet_bits.value) * 1e12
                                    / float(spec.links.board_link_bits_per_s.value)))
        self._injections: list[tuple] = []
        # set by a machine of chips (s2sim.hw.machine): takes the packets routed to chip links
        self.link_sink = None
        self._key_route: dict[int, int] = {}
        self._entry_route: dict[int, int] = {}
        self._route_version = -1
        self._key_bits = 0
        self.env: simpy.Environment | None = None
        # set by run()
        self.n_ticks = 0
        self.run_end_ps = 0

    def core(self, pe_id: int) -> PECore:
        """The core of ``pe_id`` (ResourceError if it is not a PE of this chip)."""
        try:
            return self.cores[self.index[int(pe_id)]]
        except (KeyError, TypeError, ValueError):
            raise ResourceError(f"PE id {pe_id!r} is not a PE of this chip "
                                f"({len(self.cores)} PEs)") from None

    def inject(self, t: int, keys, pay, widths, from_host: bool) -> None:
        """Queue checked packets to enter the chip at ``t`` (see ``Chip.inject``)."""
        self._injections.append((t, keys, pay, widths, from_host))

    # -- routing --------------------------------------------------------------------------------

    def route_ids(self, keys: np.ndarray, who: str) -> np.ndarray:
        """Compiled route id of every key; ``who`` (a PE label or "host") names the sender of
        an unrouted key in the RoutingError. Cached by the key's bits that some entry looks at
        (``RoutingTable.key_bits``): the keys of one sender usually share them."""
        if self.router.version != self._route_version:
            self._key_route.clear()
            self._entry_route.clear()
            self.noc.clear_routes()
            self._route_version = self.router.version
            self._key_bits = self.router.key_bits()
        n = keys.shape[0]
        if n == 0:
            return _EMPTY_I64.copy()
        m0 = int(common_masked(keys, self._key_bits))
        if m0 >= 0:
            rid = self._key_route.get(m0)
            if rid is None:
                rid = self._route_miss(m0, int(keys[0]), who)
            return filled(n, rid, np.int64)
        masked = keys & self._key_bits
        uniq, first, inv = np.unique(masked, return_index=True, return_inverse=True)
        rids = np.empty(uniq.shape[0], dtype=np.int64)
        for j in np.argsort(first, kind="stable").tolist():  # first-use order: errors, routes
            rid = self._key_route.get(int(uniq[j]))
            if rid is None:
                rid = self._route_miss(int(uniq[j]), int(keys[first[j]]), who)
            rids[j] = rid
        return rids[inv.reshape(-1)]

    def _route_miss(self, masked: int, key: int, who: str) -> int:
        """Route id of the keys whose looked-at bits are ``masked`` (``key``: the first such key,
        named in the RoutingError if no entry matches); compiles the entry's route on first use."""
        e = self.router.match(masked)
        if e < 0:
            self.router.lookup(key, who)  # raises RoutingError naming key and sender
        rid = self._entry_route.get(e)
        if rid is None:
            rid = self.noc.compile_route(self.router.entries[e], self.index).id
            self._entry_route[e] = rid
        self._key_route[masked] = rid
        return rid

    # -- outbox: sends of one simulated instant are routed together ----------------------------

    def next_seq(self) -> int:
        """A run-wide sequence number (orders heap entries with equal times)."""
        self._seq += 1
        return self._seq

    def outbox_add(self, t_send, pe: PECore | None, rids, keys, pay, widths, src_node=None):
        """Packets sent by ``pe`` (or, with ``pe`` None, entering at ``src_node``) at the
        times ``t_send``; routed at the end of the current simulated instant."""
        n = keys.shape[0]
        if pe is not None:
            src = filled(n, pe.node, np.int64)
            inj = filled(n, pe.inj_res, np.int64)
            srcpe = filled(n, pe.index, np.int64)
        else:
            src = filled(n, int(src_node), np.int64)
            inj = filled(n, -1, np.int64)
            srcpe = filled(n, -1, np.int64)
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
        if not ascending(t):
            # reservations in send-time order, ties by seq (already so in the common case)
            order = np.argsort(t, kind="stable")
            t, src, inj, rids, keys, pay, widths, srcpe = (
                x[order] for x in (t, src, inj, rids, keys, pay, widths, srcpe))
        t = np.ascontiguousarray(t, dtype=np.int64)
        router_ps, dpk, dpe, dps, hops, flits = self.noc.multicast(t, src, inj, rids)
        ks = self.ledger.ticks_of(t)
        self._book_sends(ks, srcpe, hops, flits)
        if self.noc.any_links:
            self._chip_links(router_ps, rids, keys, ks, pay, widths)
        if dpe.shape[0]:
            self._deliver(ks, keys, widths, pay, dpk, dpe, dps)

    def _book_sends(self, ks, srcpe, hops, flits) -> None:
        """NoC counts of one flush's packets (``ks``: their tick columns) and PE sends."""
        noc = self.ledger.noc
        book_sends(ks, srcpe, hops, flits, noc["packets"], noc["router_lookups"], noc["flits"],
                   noc["hops"], self.ledger.pe["packets_sent"])

    def _deliver(self, ks, keys, widths, pay, dpk, dpe, dps) -> None:
        """Queue the deliveries (packet ``dpk`` to PE index ``dpe`` arriving at ``dps``) at
        their loaded destinations, one chunk per destination; count those to PEs that are off."""
        noc = self.ledger.noc
        # by destination, then arrival; stable for ties (np.lexsort((dps, dpe)) in O(n))
        o, group_dest, group_start = group_by_destination(dpe, dps, len(self.cores))
        if not all_at(self._loaded, group_dest):  # (one look per destination, not per delivery)
            on = self._loaded[dpe]
            np.add.at(noc["dropped"], ks[dpk[~on]], 1)
            dpk, dpe, dps = dpk[on], dpe[on], dps[on]
            if dpe.shape[0] == 0:
                return
            o, group_dest, group_start = group_by_destination(dpe, dps, len(self.cores))
        if ks[0] == ks[-1]:  # one tick column (ks is sorted: packets in send-time order)
            noc["deliveries"][int(ks[0])] += dpk.shape[0]
        else:
            np.add.at(noc["deliveries"], ks[dpk], 1)
        # lazy PEs' packets go to their inbox rows in that order (taken at the PE's next own
        # event, see PECore._take_lazy_batch), in one compiled pass
        ib = self.inbox
        args = (o, group_dest, group_start, dpk, dps, keys, widths, pay, self._lazy)
        need, words = inbox_put(*args, ib.a, ib.b, ib.x, ib.n)
        if need or words:
            ib.grow(need, words)
            inbox_put(*args, ib.a, ib.b, ib.x, ib.n)
        if all_at(self._lazy, group_dest):
            return
        eager = ~self._lazy[group_dest]
        dps = dps[o]
        # one uint32 block per packet: [key, payload words, payload 0..3] (see PECore._chunks)
        blk = np.empty((keys.shape[0], 6), dtype=np.uint32)
        blk[:, 0] = keys
        blk[:, 1] = widths
        blk[:, 2:] = pay
        dblk = np.take(blk, dpk[o], axis=0)  # rows: np.take is ~3x faster than blk[idx]
        bounds = group_start.tolist()
        cores = self.cores
        for j in np.flatnonzero(eager).tolist():
            a, b = bounds[j], bounds[j + 1]
            cores[int(group_dest[j])].add_packets(dps[a:b], dblk[a:b])

    def _chip_links(self, router_ps, rids, keys, ks, pay, widths) -> None:
        routes = self.noc.routes
        if self.link_sink is not None:  # a machine of chips: the links carry packets on
            out = [(int(router_ps[i]), ln, i) for i, rid in enumerate(rids.tolist())
                   for ln in routes[rid].links]
            if out:
                self.link_sink(self, out, keys, pay, widths, ks)
            return
        for i, rid in enumerate(rids.tolist()):
            links = routes[rid].links
            for ln in links:
                s = max(int(router_ps[i]), self._link_free[ln])
                self._link_free[ln] = s + self._link_ps
                self._link_tx.append((s + self._link_ps, ln, int(keys[i])))
                self.ledger.link_packets[ln] += 1
                self.ledger.noc["link_packets"][int(ks[i])] += 1

    # -- host and DRAM --------------------------------------------------------------------------

    def _inject_at(self, items) -> None:
        node = self.noc.bridge_node
        for t, k, pay, widths, from_host in items:
            n = k.shape[0]
            if n == 0:
                continue
            rids = self.route_ids(k, "host")
            if from_host:
                times = np.empty(n, dtype=np.int64)
                for i in range(n):
                    bits = 8 * (4 + 4 * int(widths[i]))
                    ser = int(np.ceil(bits * 1e12 / self._eth_bps))
                    s = max(t, self._eth_in_free)
                    self._eth_in_free = s + ser
                    times[i] = s + ser + self._eth_overhead_ps
                self.outbox_add(times, None, rids, k, pay, widths, src_node=node)
            else:
                self.outbox_add(np.full(n, t, dtype=np.int64), None, rids, k, pay, widths,
                                src_node=self.noc.router_node)
            self.ledger.noc["host_injected"][self.ledger.tick_of(t)] += n

    def to_host(self, index: int, pe_id: int, qpe, t: int, nbytes: int, payload) -> None:
        """``nbytes`` from PE ``pe_id`` (row ``index``, at ``qpe``) to the host, sent at ``t``:
        mesh to the bridge, then the Ethernet out channel."""
        t_bridge, hops = self.noc.unicast_path_time(t, qpe, self.noc.bridge_xy)
        ser = int(np.ceil(8 * nbytes * 1e12 / self._eth_bps))
        s = max(t_bridge, self._eth_out_free)
        self._eth_out_free = s + ser
        k = self.ledger.tick_of(t)
        self.ledger.noc["hops"][k] += hops
        self.ledger.noc["flits"][k] += 1
        self.ledger.noc["host_rx_packets"][k] += 1
        self.ledger.pe["host_tx_bytes"][index, k] += nbytes
        self._host_rx.append((s + ser + self._eth_overhead_ps, self.next_seq(), pe_id, nbytes,
                              payload))

    def dram_transfer(self, start: int, nbytes: int) -> int:
        """End of ``nbytes`` over the one chip-wide DRAM channel, requested at ``start``."""
        s2 = max(start, self._dram_free)
        d2 = s2 + int(np.ceil(nbytes * 1e12 / self._dram_bw))
        self._dram_free = d2
        return d2

    # -- run ------------------------------------------------------------------------------------

    def run(self, n_ticks: int, ticks_per_column: int):
        """Simulate ``n_ticks`` tick periods; returns ``(counts, host_rx, link_tx)``."""
        timer_cores = self.begin(n_ticks, ticks_per_column)
        self.env.run(until=self.run_end_ps)
        return self._finish(timer_cores)

    def begin(self, n_ticks: int, ticks_per_column: int, env: simpy.Environment | None = None):
        """Set the run up in ``env`` (a new one if None; a machine of chips shares one) and
        return the timer cores ``_finish`` needs; the caller runs ``env`` to ``run_end_ps``."""
        P = self.period_ps
        self.n_ticks = n_ticks
        self.run_end_ps = n_ticks * P
        self.env = env = simpy.Environment() if env is None else env
        self.ledger = Ledger(self.pe_ids, len(self.pl_table), n_ticks, P,
                             int(self.spec.links.chip_links.value), int(ticks_per_column))
        self.residency = Residency(len(self.cores), len(self.pl_table))
        self._loaded = np.array([c.loaded for c in self.cores], dtype=bool)
        self._lazy = np.array([c.lazy for c in self.cores], dtype=bool)
        self.inbox = Inbox(len(self.cores))
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
        loaded = [c for c in self.cores if c.loaded]
        for c in loaded:
            self.residency.power_on(c.index, c.state.pl, 0)
        self._schedule_injections()
        for c in loaded:
            c.start()
        timer_cores = [c for c in loaded if c.timer]
        env.process(self._ticker(timer_cores))
        # Lazy PEs take packets at their own events; a last sweep just before the end takes
        # those that arrived after their last one (every arrival <= end - 1 is known by then).
        for c in loaded:
            if c.lazy:
                ev = env.timeout(self.run_end_ps - 1)
                ev.callbacks.append(lambda _e, c=c: c.service())
        return timer_cores

    def _schedule_injections(self) -> None:
        """One event per injection time; unroutable injected keys fail now, naming the key and
        "host", not mid-run. Injections at or after the end never enter the chip (counted)."""
        env = self.env
        by_time: dict[int, list] = {}
        for item in self._injections:
            self.route_ids(item[1], "host")
            by_time.setdefault(item[0], []).append(item)
        late = 0
        for t in sorted(by_time):
            if t < self.run_end_ps:
                ev = env.timeout(t)
                ev.callbacks.append(lambda _e, items=by_time[t]: self._inject_at(items))
            else:
                late += sum(int(item[1].shape[0]) for item in by_time[t])
        self._late_injections = late

    def _ticker(self, timer_cores):
        """One SimPy process serves every timer PE's tick."""
        env = self.env
        P = self.period_ps
        for k in range(self.n_ticks):
            if k:
                yield env.timeout(P)
            for c in timer_cores:
                c.service()

    def _finish(self, timer_cores) -> tuple[Counts, list, list]:
        end = self.run_end_ps
        L = self.ledger
        self.residency.close(end)
        for c in self.cores:
            c.close_books()
        for c in timer_cores:
            if c.busy_until > end:
                L.pe["tick_overruns"][c.index, L.last_tick] += 1
        col_ps = L.powered_ps_per_column()[None, :]
        on = self._loaded[:, None]
        L.pe["sleep_ps"][:] = np.where(on, col_ps - L.pe["active_ps"] - L.pe["switch_ps"], 0)
        L.pe["off_ps"][:] = np.where(on, 0, col_ps)
        L.pl["residency_ps"][:] = self.residency.ps
        undelivered = self._late_injections + sum(c.queued_packets() for c in self.cores)
        counts = L.freeze(self._loaded, end, undelivered)
        host_rx = [(t, pid, nb, p) for t, _s, pid, nb, p in sorted(self._host_rx,
                                                                 key=lambda r: (r[0], r[1]))]
        return counts, host_rx, sorted(self._link_tx)


class Inbox:
    """The packets queued at each lazy PE: row i of ``a`` (arrival times, int64) and ``b``
    (blocks [key, words, payload 0..], uint32) holds PE index i's first ``n[i]``: those its
    last take left (arriving after that batch's horizon, sorted), then those delivered since,
    in delivery order (flush by flush, by arrival within a flush: the order of the per-flush
    chunks they replace). One array for all PEs lets a flush queue its packets in one compiled
    pass (``pe_kernels.inbox_put``) instead of one numpy slice per destination, and a PE take
    its batch in one (``take``); rows grow (doubling) when a flush needs more room. A block
    ``b`` is [key, words, payload 0]; a packet's payload words 1..3 go to ``x`` (made when the
    first such packet comes): the queue is memory-bound and most packets carry one word, so the
    PEs that get only those keep 12-byte blocks (one PE's wide host packets do not widen every
    PE's row)."""

    def __init__(self, n_cores: int, row: int = 256):
        self.a = np.empty((n_cores, row), dtype=np.int64)
        self.b = np.zeros((n_cores, row, 3), dtype=np.uint32)
        self.x = np.zeros((n_cores, 0, 3), dtype=np.uint32)  # no rows: no wide packet yet
        self.n = np.zeros(n_cores, dtype=np.int64)

    def grow(self, need: int, words: int = 0) -> None:
        """Room for rows of ``need`` packets and for packets of ``words`` payload words."""
        row = old = self.a.shape[1]
        while row < need:
            row *= 2
        if row != old:
            a = np.empty((self.a.shape[0], row), dtype=np.int64)
            b = np.zeros((self.b.shape[0], row, 3), dtype=np.uint32)
            a[:, :old] = self.a
            b[:, :old] = self.b
            self.a, self.b = a, b
        if (self.x.shape[1] or words > 1) and self.x.shape[1] != row:
            x = np.zeros((self.x.shape[0], row, 3), dtype=np.uint32)
            x[:, :self.x.shape[1]] = self.x
            self.x = x

    def take(self, i: int, horizon: int = INF) -> tuple | None:
        """PE i's queued packets arriving before ``horizon`` (copies: the row is reused) in
        arrival order, ties in delivery order, or None; the later ones stay queued
        (``pe_kernels.inbox_take``)."""
        if not self.n[i]:  # the common case at a tick or user event: no kernel call
            return None
        a, blk, _, _ = inbox_take(self.a, self.b, self.x, self.n, i, horizon)
        return (a, blk) if a.shape[0] else None


class PECore:
    """One PE's state machine: its packet queue, timer, DMA and user events, running handlers
    and booking their cycles and time. Firmware never sees it: it gets ``facade`` (a ``PE``),
    which shares ``state`` with the core and calls only ``route_keys``, ``count``, ``check_pl``.
    """

    def __init__(self, loop: EventLoop, pe_id: int, index: int):
        spec = loop.spec
        self._loop = loop
        self.pe_id = int(pe_id)
        self.index = int(index)
        self.node = int(loop.noc.pe_node[self.index])  # its QPE's mesh node (packet source)
        self.inj_res = loop.noc.inj_base + self.index  # its NoC injection resource
        self.label = pe_label(self.pe_id)
        self.sram = SramAllocator(
            self.pe_id,
            int(spec.memory.data_sram_bytes.value),
            int(spec.memory.sram_alignment_bytes.value),
            int(spec.memory.code_sram_bytes.value),
        )
        self.state = PEState(frequency_hz=loop.pl_table.frequency_hz[0])
        self.facade = PE(self.pe_id, self.index, spec, self.sram, self.state, self, self.label)
        self.timer = False                   # the program's timer is on (set at load)
        self.lazy = False                    # packets are taken lazily (set at load)
        self._packet_cycles = None           # the program's packet_cycles, if it has one
        self.busy_until = 0                  # the PE executes (or switches PL) until then
        self._next_tick = 0
        self._overrun_mark = 0               # last tick already counted as an overrun
        # queued packets: (arrival int64 (n,), block uint32 (n, 6)); a block row is
        # [key, payload words, payload 0..3] (one array per chunk keeps numpy calls few)
        self._chunks: list[tuple] = []
        self._last_starts = _EMPTY_I64       # start times of the previous packet batch
        self._dma: list[tuple] = []          # heap of (due_ps, seq, tag)
        self._user: list[tuple] = []         # heap of (due_ps, seq, arg)
        self._wakes: list[int] = []          # heap of scheduled wake-up times
        self._dma_free = 0
        # per-tick accumulators (see _flush_acc)
        self._acc_k = -1
        self._acc_cycles = self._acc_handlers = self._acc_ticks = self._acc_active_ps = 0
        self._acc_packets = 0
        self._acc_rec: list[tuple] = []
        self._pl_cycles = [0] * len(loop.pl_table)

    @property
    def loaded(self) -> bool:
        return self.state.program is not None

    # -- the facade's interface (PE in runtime.py calls these, once per API call) -------------

    def route_keys(self, keys: np.ndarray) -> np.ndarray:
        """Route ids of ``keys`` sent by this PE (RoutingError naming key and PE if unrouted)."""
        return self._loop.route_ids(keys, self.label)

    def count(self, counters: dict) -> None:
        """Book a program's ``pe.count(**counters)`` at the running handler's tick."""
        L = self._loop.ledger
        st = self.state
        L.add_program(self.index, L.tick_of(st.now_ps), counters, self.label)
        macs = counters.get("macs")
        if macs:
            L.pl["macs"][self.index, st.pl] += int(macs)

    def check_pl(self, index: int, who: str) -> int:
        """``index`` as a valid performance level (S2SimError naming ``who`` otherwise)."""
        return self._loop.pl_table.check(index, who)

    # -- set-up and the start and end of the run (called by EventLoop / Chip) -----------------

    def load(self, program: Program, pl: int) -> None:
        """Put ``program`` on this PE at performance level ``pl``: allocate its SRAM, power on."""
        if not isinstance(program, Program):
            raise S2SimError(f"{self.label}: program must be an s2sim.hw.runtime.Program, got "
                             f"{type(program).__name__}")
        st = self.state
        if st.program is not None:
            raise ResourceError(f"{self.label}: already has program {st.program.name!r} loaded")
        pl = self._loop.pl_table.check(pl, f"{self.label}: load")
        regions = program.sram_regions() or {}
        if not isinstance(regions, dict):
            raise S2SimError(f"{self.label}: {program.name}.sram_regions() must return a dict")
        self.sram.alloc_code(int(program.code_bytes), program.name)
        for name, nbytes in regions.items():
            self.sram.alloc(name, nbytes)
        st.program = program
        st.pl = pl
        st.frequency_hz = self._loop.pl_table.frequency_hz[pl]
        self.timer = timer_enabled(program)
        self.lazy = lazy_enabled(program)
        self._packet_cycles = getattr(program, "packet_cycles", None)

    def start(self) -> None:
        """Run ``on_start`` at time 0 (not charged: its sends and actions happen at time 0)."""
        st = self.state
        self._begin(0)
        try:
            st.program.on_start(self.facade)
        finally:
            st.in_handler = False
        for keys, pay, widths, _at, rids in st.sends:
            self._loop.outbox_add(np.zeros(keys.shape[0], dtype=np.int64), self, rids, keys, pay,
                                  widths)
        if st.actions:
            self._do_actions([(0,) + act for act in st.actions], 0)

    def close_books(self) -> None:
        """Write the run's accumulated cycles and time into the ledger (end of the run)."""
        self._write_acc()
        self._flush_pl_cycles()

    def queued_packets(self) -> int:
        """Packets still waiting in the queue (at the end of the run: undelivered)."""
        waiting = int(self._loop.inbox.n[self.index]) if self.lazy else 0
        return waiting + sum(int(c[0].shape[0]) for c in self._chunks)

    # -- wake-ups -------------------------------------------------------------------------------

    def _ensure_wake(self, t: int) -> None:
        wakes = self._wakes
        if wakes and wakes[0] <= t:
            return  # an earlier wake-up will look again
        env = self._loop.env
        if t < env.now:
            t = env.now
        heapq.heappush(wakes, t)
        ev = env.timeout(t - env.now)
        ev.callbacks.append(self._on_wake)

    def _on_wake(self, _ev) -> None:
        now = self._loop.env.now
        wakes = self._wakes
        while wakes and wakes[0] <= now:
            heapq.heappop(wakes)
        self.service()

    def add_packets(self, arrival, block) -> None:
        """Queue delivered packets (arrival times, [key, words, payload] rows) for this PE."""
        self._chunks.append((arrival, block))
        if self.lazy:
            return  # taken at the PE's next own event (a tick at the latest, or the end sweep)
        a0 = int(arrival[0])
        b = self.busy_until
        self._ensure_wake(a0 if a0 > b else b)

    # -- the scheduler --------------------------------------------------------------------------

    def service(self) -> None:
        """Run the highest-priority work that is due, if the PE is free."""
        loop = self._loop
        now = loop.env.now
        if self.busy_until > now:
            self._wait_busy(now)
            return
        if self.lazy and self._take_lazy_batch(now):
            self.service()  # the tick / DMA / user event now due, or a wake when busy
            return
        nt = self._next_tick
        P = loop.period_ps
        if self.timer and nt < loop.n_ticks and nt * P <= now:
            self._next_tick = nt + 1
            self._run_simple(now, 0, nt)
        elif self._chunks or self._dma or self._user:
            self._run_queued(now)
        # next wake-up (ticks come from the loop's ticker, which calls service() at every tick
        # time); inline when nothing is pending, the common case after a tick
        if self._chunks or self._dma or self._user:
            self._schedule_wake(now)
        elif (self.timer and self._next_tick < loop.n_ticks and self.busy_until > now
              and self._next_tick * P < self.busy_until):
            self._ensure_wake(self.busy_until)

    def _wait_busy(self, now: int) -> None:
        """The PE is busy at ``now``: count a tick that fires now as an overrun, wake later."""
        loop = self._loop
        P = loop.period_ps
        if self.timer and now % P == 0:
            k = now // P
            if 0 < k < loop.n_ticks and self._overrun_mark < k:
                # tick k fires while the PE is still busy: the work of tick k-1 overran
                self._overrun_mark = k
                L = loop.ledger
                L.pe["tick_overruns"][self.index, L.col_of_tick(k - 1)] += 1
        self._ensure_wake(self.busy_until)

    def _take_lazy_batch(self, now: int) -> bool:
        """Lazy batch: every packet arriving at or before ``now`` is already queued (any send
        made from now on leaves at >= now and arrives later), so taking them now times them
        exactly as if each had run at its arrival. Packets go before a tick that fires now
        (they arrived first) but after one that fired while the PE was busy (the tick was
        pending first; the eager runtime does the same). The PE has been free since
        busy_until, so the batch is timed from there."""
        loop = self._loop
        ib = loop.inbox
        i = self.index
        if not ib.n[i]:  # the common case at a tick or user event: nothing queued
            return False
        nt = self._next_tick
        P = loop.period_ps
        horizon = now + 1
        if self.timer and nt < loop.n_ticks and nt * P <= now:
            horizon = now if nt * P == now else -1
        if horizon <= 0:
            return False
        a, blk, keys, w = inbox_take(ib.a, ib.b, ib.x, ib.n, i, horizon)  # (Inbox.take)
        if not a.shape[0]:
            return False
        self._run_taken(a, blk, self.busy_until, (keys, w))
        return True

    def _run_queued(self, now: int) -> None:
        """No tick is due: an eager packet batch, else a due DMA completion, else a user event."""
        if self._chunks and not self.lazy and self._take_batch(now, self._eager_horizon(now),
                                                               now):
            return
        if self._dma and self._dma[0][0] <= now:
            _, _, tag = heapq.heappop(self._dma)
            self._run_simple(now, 2, tag)
            return
        if self._user and self._user[0][0] <= now:
            _, _, arg = heapq.heappop(self._user)
            self._run_simple(now, 3, arg)

    def _eager_horizon(self, now: int) -> int:
        """An eager batch takes the packets arriving before the next tick and before a pending
        DMA completion or user event (those keep their priority order)."""
        loop = self._loop
        horizon = loop.run_end_ps
        if self.timer and self._next_tick < loop.n_ticks:
            horizon = self._next_tick * loop.period_ps
        other = INF
        if self._dma:
            other = self._dma[0][0]
        if self._user and self._user[0][0] < other:
            other = self._user[0][0]
        if other < INF:
            horizon = min(horizon, max(other, now + 1))
        return horizon

    def _schedule_wake(self, now: int) -> None:
        """Next wake-up when work is pending: the earliest pending item, not before the PE is
        free (a lazy PE's queued packets wait for its next own event)."""
        t = INF
        if not self.lazy:
            for a, _b in self._chunks:
                if a[0] < t:
                    t = int(a[0])
        if self._dma and self._dma[0][0] < t:
            t = self._dma[0][0]
        if self._user and self._user[0][0] < t:
            t = self._user[0][0]
        if t < INF:
            b = self.busy_until
            self._ensure_wake(t if t > b else b)
        elif (self.timer and self._next_tick < self._loop.n_ticks and self.busy_until > now
              and self._next_tick * self._loop.period_ps < self.busy_until):
            self._ensure_wake(self.busy_until)

    # -- simple handlers (tick, DMA done, user event) ------------------------------------------

    def _flush_acc(self) -> None:
        """Close the current tick's accumulators (appended as one record; _write_acc books
        all records into the ledger arrays at the end of the run)."""
        if self._acc_k < 0:
            return
        self._acc_rec.append((self._acc_k, self._acc_cycles, self._acc_handlers,
                              self._acc_ticks, self._acc_active_ps, self._acc_packets))
        self._acc_cycles = self._acc_handlers = self._acc_ticks = self._acc_active_ps = 0
        self._acc_packets = 0
        self._acc_k = -1

    def _write_acc(self) -> None:
        self._flush_acc()
        if not self._acc_rec:
            return
        L = self._loop.ledger
        rec = np.array(self._acc_rec, dtype=np.int64)
        self._acc_rec = []
        ks = L.cols_of_ticks(rec[:, 0])
        i = self.index
        for col, name in enumerate(("active_cycles", "handlers", "ticks_handled", "active_ps",
                                    "packets_received"), start=1):
            np.add.at(L.pe[name][i], ks, rec[:, col])

    def _flush_pl_cycles(self) -> None:
        pl_cycles = self._loop.ledger.pl["cycles"][self.index]
        for j, c in enumerate(self._pl_cycles):
            if c:
                pl_cycles[j] += c
                self._pl_cycles[j] = 0

    def _begin(self, start: int) -> None:
        st = self.state
        st.in_handler = True
        st.charged = 0
        st.sends = []
        st.actions = []
        st.now_ps = start
        st.tick = start // self._loop.period_ps

    def _run_simple(self, start: int, kind: int, arg) -> None:
        loop = self._loop
        st = self.state
        prog = st.program
        self._begin(start)
        try:
            if kind == 0:
                prog.on_tick(self.facade, arg)
            elif kind == 2:
                prog.on_dma_done(self.facade, arg)
            else:
                prog.on_user_event(self.facade, arg)
        finally:
            st.in_handler = False
        body = st.charged
        cycles = loop.irq_in + body + loop.irq_out
        f = st.frequency_hz
        num, den = ps_per_cycle_ratio(f)
        end = start - ((-cycles * num) // den)
        # book into Python-int accumulators of the current tick (numpy scalar updates per
        # handler would dominate an idle chip's run time); _flush_acc writes them out
        P = loop.period_ps
        k = start // P
        if k != self._acc_k:
            self._flush_acc()
            self._acc_k = k
        self._acc_cycles += cycles
        self._acc_handlers += 1
        if kind == 0:
            self._acc_ticks += 1
        self._pl_cycles[st.pl] += cycles
        if end <= (k + 1) * P and end <= loop.run_end_ps:
            self._acc_active_ps += end - start
        else:
            loop.ledger.add_interval("active_ps", self.index, start, end, loop.run_end_ps)
        self.busy_until = end
        if st.sends:
            self._send_simple(start, body, f)
        if st.actions:
            irq_in = loop.irq_in
            self._do_actions(
                [(start + cycles_to_ps(irq_in + act[1], f),) + act for act in st.actions], end)

    def _send_simple(self, start: int, body: int, f: float) -> None:
        """Hand the sends of a tick/DMA/user handler to the outbox, timed by their at_cycles."""
        loop = self._loop
        irq_in = loop.irq_in
        num, den = ps_per_cycle_ratio(f)
        for keys, pay, widths, at, rids in self.state.sends:
            if at is None:
                t = np.full(keys.shape[0], start + cycles_to_ps(irq_in + body, f),
                            dtype=np.int64)
            else:
                status, t = send_times(at, start, irq_in, body, num, den)
                if status == 1:
                    raise S2SimError(
                        f"{self.label}: send at_cycles {int(at.max())} is after the end of "
                        f"the handler's {body} charged cycles ({self.state.program.name})")
                if status == 2:
                    t = start + cycles_to_ps(irq_in + at, f)
            loop.outbox_add(t, self, rids, keys, pay, widths)

    # -- packet batches -------------------------------------------------------------------------

    def _take_batch(self, now: int, horizon: int, free: int) -> bool:
        """Run the queued packets of an eager PE arriving before ``horizon`` (the PE is free
        from ``free``)."""
        chunks = self._chunks
        if len(chunks) == 1:
            a, blk = chunks[0]
        else:
            a = np.concatenate([c[0] for c in chunks])
            blk = np.concatenate([c[1] for c in chunks])
        # packets of later flushes may arrive earlier: in arrival order, ties in delivery order
        if a.shape[0] > 1 and (a[1:] < a[:-1]).any():
            order = np.argsort(a, kind="stable")
            a = a[order]
            blk = np.take(blk, order, axis=0)
        m = int(np.searchsorted(a, horizon, side="left"))
        if m == 0:
            if len(chunks) > 1:
                self._chunks = [(a, blk)]
            return False
        if m < a.shape[0]:
            self._chunks = [(a[m:], blk[m:])]
            a, blk = a[:m], blk[:m]
        else:
            self._chunks = []
        self._run_taken(a, blk, free)
        return True

    def _run_taken(self, a, blk, free, fields=None) -> None:
        """Run taken packets (arrivals ``a``, ascending; blocks ``blk``; ``fields``: their
        ``block_fields`` if known) from ``free`` on."""
        depth = self._loop.depth
        prev = self._last_starts
        if a.shape[0] <= depth and (prev.shape[0] == 0 or prev[-1] <= a[0]):
            # nothing of the previous batch still waits and the batch fits: no drop possible
            self._last_starts = self._run_batch(a, blk, free, fields=fields)
        else:
            self._last_starts = self._run_batch_bounded(a, blk, free, fields)

    def _run_batch_bounded(self, a, blk, free, fields=None) -> np.ndarray:
        """A batch that may fill the queue: acceptance is decided chunk by chunk (queue_scan)
        so that only accepted packets reach the program, each chunk as one on_packets call.
        Returns the start times of the accepted packets."""
        if self.lazy and self._packet_cycles is not None:
            starts = self._run_batch_known_cycles(a, blk, free, fields)
            if starts is not None:
                return starts
        depth = self._loop.depth
        known = self._last_starts[-depth:]
        L = self._loop.ledger
        free = max(free, self.busy_until)
        starts_all = []
        idx = 0
        n = a.shape[0]
        accept = np.empty(n, dtype=np.bool_)
        while idx < n:
            stop = idx + queue_scan(a[idx:], known, free, depth, accept[idx:])
            seg = accept[idx:stop]
            if seg.all():  # the usual case: no drop, the piece is a slice
                acc = slice(idx, stop)
                n_acc = stop - idx
            else:
                acc = np.flatnonzero(seg) + idx
                n_acc = acc.shape[0]
                dropped = np.flatnonzero(~seg) + idx
                np.add.at(L.pe["queue_full"][self.index], L.ticks_of(a[dropped]), 1)
            if n_acc:
                st = self._run_batch(a[acc], blk[acc], free, known)
                starts_all.append(st)
                known = st[-depth:] if st.shape[0] >= depth else np.concatenate([known,
                                                                                 st])[-depth:]
                free = self.busy_until
            idx = stop
        return np.concatenate(starts_all) if starts_all else _EMPTY_I64

    def _run_batch_known_cycles(self, a, blk, free, fields=None) -> np.ndarray | None:
        """The bounded batch in one on_packets call, for a program whose per-packet cycles are
        known beforehand (``Program.packet_cycles``, given the tick): acceptance and timing in
        one pass (queue_time), then the accepted packets as one batch. The same result as the
        piecewise path, which runs each piece with the tick of its start: so this path is taken
        only when every accepted packet starts in one tick (else None: nothing has run)."""
        loop = self._loop
        st = self.state
        P = loop.period_ps
        if self.busy_until > free:
            free = self.busy_until
        a0 = int(a[0])
        tick = (a0 if a0 > free else free) // P
        keys, w = block_fields(blk) if fields is None else fields
        pay = blk[:, 2:2 + w]
        body = np.asarray(self._packet_cycles(tick, keys, pay), dtype=np.int64)
        n = a.shape[0]
        accept = np.empty(n, dtype=np.bool_)
        start_end = np.empty((2, n), dtype=np.int64)
        start, end = start_end[0], start_end[1]
        overhead = loop.irq_in + loop.irq_out
        num, den = ps_per_cycle_ratio(st.frequency_hz)
        depth = loop.depth
        L = loop.ledger
        # acceptance, timing, the one-tick check and (if it passes) queue_peak, in one call
        status, n_acc, total_c, total_d = queue_time_in_tick(
            a, body, self._last_starts[-depth:], free, depth, overhead, num, den, accept, start,
            end, P, tick, L.pe["queue_peak"][self.index], L.col_ps, L.last_tick)
        if status != 0:
            return None
        if n_acc < n:
            start, end = start[:n_acc], end[:n_acc]
            np.add.at(L.pe["queue_full"][self.index], L.ticks_of(a[~accept]), 1)
            keys, pay, body = keys[accept], pay[accept], body[accept]
        self._begin(int(start[0]))
        got = self._call_on_packets(keys, pay)
        # (the program's own array of packet_cycles is the common answer: nothing to compare)
        if got is not body and not same_values(got, body):  # both (n_acc,), shape checked
            raise S2SimError(f"{self.label}: {st.program.name}.on_packets returned other cycles "
                             f"than its packet_cycles")
        self._book_batch(start, end, body, overhead, total_c, total_d)
        self.busy_until = int(end[-1])
        return start

    def _call_on_packets(self, keys, payloads) -> np.ndarray:
        """The program's on_packets on one batch, its returned cycles checked; int64 (n,)."""
        st = self.state
        prog = st.program
        n = keys.shape[0]
        try:
            body = prog.on_packets(self.facade, keys, payloads)
        finally:
            st.in_handler = False
        if self.lazy and (st.sends or st.actions):
            raise S2SimError(
                f"{self.label}: {prog.name}.on_packets sends or starts work (send/to_host/dma/"
                f"user_event/set_pl) while its packets are batched lazily; set "
                f"lazy_packets = False on the program (packets then run at their arrival)")
        body = np.asarray(body)
        if body.shape != (n,) or (n and body.dtype.kind not in "iu"):
            raise S2SimError(
                f"{self.label}: {prog.name}.on_packets must return int cycles of shape ({n},), "
                f"got shape {body.shape} dtype {body.dtype}")
        if st.charged:
            body = body.astype(np.int64)  # a copy: the program's array is left as it was
            body[-1] += st.charged
        elif body.dtype != np.int64:
            body = body.astype(np.int64)
        return body

    def _run_batch(self, a, blk, free, prev=_EMPTY_I64, fields=None) -> np.ndarray:
        """Run the packets arriving at ``a`` (ps, ascending) from ``free`` on; ``prev``: the
        start times of earlier accepted packets that may still wait. Returns the start times."""
        loop = self._loop
        st = self.state
        n = a.shape[0]
        keys, w = block_fields(blk) if fields is None else fields
        a0 = int(a[0])
        self._begin(a0 if a0 > free else free)
        body = self._call_on_packets(keys, blk[:, 2:2 + w])
        overhead = loop.irq_in + loop.irq_out
        f = st.frequency_hz
        num, den = ps_per_cycle_ratio(f)
        start = np.empty(n, dtype=np.int64)
        end = np.empty(n, dtype=np.int64)
        # start_i = max(a_i, end_{i-1}), end_i = start_i + ceil(c_i * 1e12 / f) (numba loop)
        status, total_c, total_d = time_serial(a, body, overhead, num, den, free, start, end)
        if status < 0:
            raise S2SimError(f"{self.label}: {st.program.name}.on_packets returned negative "
                             f"cycles")
        if status > 0:  # cycles * num could overflow int64: exact Python integers instead
            c = body + overhead
            d = cycles_to_ps(c, f)
            D = np.cumsum(d)
            M = np.maximum.accumulate(a - (D - d))
            end = D + np.maximum(M, free)
            start = end - d
            total_c = int(c.sum())
            total_d = int(d.sum())
        self._book_batch(start, end, body, overhead, total_c, total_d)
        self._note_queue(a, start, prev)
        last_end = int(end[-1])
        self.busy_until = last_end
        if st.sends or st.actions:
            self._batch_effects(start, body, last_end)
        return start

    def _note_queue(self, a, start, prev) -> None:
        """Book queue_peak: the most packets waiting at an arrival, per tick column
        (``pe_kernels.queue_peak``)."""
        L = self._loop.ledger
        queue_peak(a, start, prev, L.pe["queue_peak"][self.index], L.col_ps, L.last_tick)

    def _book_batch(self, start, end, body, overhead: int, total_c: int, total_d: int) -> None:
        """Book a batch's cycles (``body`` + ``overhead`` each), handlers, packets and active
        time (accumulated when the batch lies in one tick and the run, per packet otherwise)."""
        loop = self._loop
        L = loop.ledger
        i = self.index
        n = start.shape[0]
        P = loop.period_ps
        run_end = loop.run_end_ps
        self._pl_cycles[self.state.pl] += total_c
        k0 = int(start[0]) // P
        last_end = int(end[-1])
        if last_end <= (k0 + 1) * P and last_end <= run_end:
            if k0 != self._acc_k:
                self._flush_acc()
                self._acc_k = k0
            self._acc_cycles += total_c
            self._acc_handlers += n
            self._acc_active_ps += total_d
            self._acc_packets += n
        else:
            ks = L.ticks_of(start)
            np.add.at(L.pe["active_cycles"][i], ks, body + overhead)
            np.add.at(L.pe["handlers"][i], ks, 1)
            np.add.at(L.pe["packets_received"][i], ks, 1)
            for s_, e_ in zip(start.tolist(), end.tolist(), strict=True):
                L.add_interval("active_ps", i, s_, e_, run_end)

    def _batch_effects(self, start, body, last_end: int) -> None:
        """The sends (timed by their at_cycles into the batch) and actions of an eager batch."""
        loop = self._loop
        st = self.state
        n = body.shape[0]
        irq_in = loop.irq_in
        f = st.frequency_hz
        cum = np.cumsum(body)
        total_body = int(cum[-1])
        end_body = int(start[-1]) + cycles_to_ps(irq_in + int(body[-1]), f)
        for k, pay_s, widths_s, at, rids in st.sends:
            if at is None:
                t = np.full(k.shape[0], end_body, dtype=np.int64)
            else:
                if int(at.max()) > total_body:
                    raise S2SimError(
                        f"{self.label}: send at_cycles {int(at.max())} is after the end of "
                        f"the batch's {total_body} handler cycles ({st.program.name})")
                j = np.minimum(np.searchsorted(cum, at, side="right"), n - 1)
                off = at - (cum[j] - body[j])
                t = start[j] + cycles_to_ps(irq_in + off, f)
            loop.outbox_add(t, self, rids, k, pay_s, widths_s)
        if st.actions:
            self._do_actions([(end_body,) + act for act in st.actions], last_end)

    # -- deferred actions ------------------------------------------------------------------------

    def _do_actions(self, actions, handler_end: int) -> None:
        loop = self._loop
        L = loop.ledger
        new_pl = None
        for act in actions:
            t, kind = act[0], act[1]
            if kind == "dma":
                _, _, _, nb, tag, dram = act
                done = self._dma_done_time(t, nb, dram)
                heapq.heappush(self._dma, (done, loop.next_seq(), tag))
                k = L.tick_of(t)
                L.pe["dma_bytes"][self.index, k] += nb
                if dram:
                    L.pe["dram_bytes"][self.index, k] += nb
            elif kind == "host":
                _, _, _, nb, payload = act
                loop.to_host(self.index, self.pe_id, self.facade.qpe, t, nb, payload)
            elif kind == "user":
                _, _, _, arg, delay = act
                due = t + cycles_to_ps(delay, self.state.frequency_hz)
                heapq.heappush(self._user, (due, loop.next_seq(), arg))
            elif kind == "pl":
                new_pl = act[3]
        if new_pl is not None and new_pl != self.state.pl:
            self._switch_pl(new_pl, handler_end)

    def _switch_pl(self, new_pl: int, handler_end: int) -> None:
        """DVFS switch at the end of a handler: the PE stalls, booked at the old PL."""
        loop = self._loop
        L = loop.ledger
        st = self.state
        self._flush_pl_cycles()
        t_done = handler_end + loop.pl_table.switch_ps
        L.add_interval("switch_ps", self.index, handler_end, t_done, loop.run_end_ps)
        L.pe["pl_switches"][self.index, L.tick_of(handler_end)] += 1
        loop.residency.switch(self.index, new_pl, t_done)
        st.pl = new_pl
        st.frequency_hz = loop.pl_table.frequency_hz[new_pl]
        self.busy_until = t_done

    def _dma_done_time(self, t: int, nbytes: int, dram: bool) -> int:
        """DMA transfers of one PE are serialised; a DRAM transfer also waits for the channel."""
        loop = self._loop
        s = max(t, self._dma_free)
        cycles = int(np.ceil(nbytes / loop.dma_bytes_per_cycle))
        done = s + cycles_to_ps(cycles, loop.f_noc)
        if dram:
            done = max(done, loop.dram_transfer(s, nbytes))
        self._dma_free = done
        return done
