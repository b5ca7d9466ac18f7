"""The PE runtime: ``Program`` (what firmware subclasses) and ``PE`` (the context handlers get).

Modelled on the SpiNNaker event-driven API (spin1_api / the Spin2 API skeleton, MC): a program
registers handlers; the runtime calls them on events in priority order and the core sleeps (WFI)
when nothing is pending.

Events and priorities (lower runs first when several are pending; handlers are not preempted):

====  ===================  =================================================================
0     timer tick           every ``spec.timing.tick_period_s``, if the program has ``on_tick``
1     multicast packets    ``on_packets(pe, keys, payloads)`` on a batch (see below)
2     DMA done             ``on_dma_done(pe, tag)`` after ``pe.dma_read``/``pe.dma_write``
3     user event           ``on_user_event(pe, arg)`` after ``pe.user_event``
====  ===================  =================================================================

Every handler invocation costs ``cpu.cycles.irq_entry + charged + cpu.cycles.irq_exit`` cycles at
the PE's current PL frequency (ARM). Packets are handled in batches. A PE with a timer takes them
lazily (``Program.lazy_packets``): at its next own event (tick, DMA, user event, end of run) it
takes every packet that has arrived by then; its ``on_packets`` must not send or start work.
Other PEs take every packet already queued that arrives before their next tick (or before a
pending lower-priority event). Either way ``on_packets`` gets the batch in one call; the program
returns the handler cycles of each packet and the
runtime times them serially, ``start_i = max(arrival_i, end_{i-1})``, exactly as if each packet
had its own callback. A packet arriving while ``timing.packet_queue_depth`` packets wait is
dropped and counted (``queue_full``). See docs/chip.md for the approximations.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np

from s2sim.errors import ResourceError, S2SimError
from s2sim.hw.dvfs import _ratio, cycles_to_ps
from s2sim.hw.sram import SramAllocator, pe_label

INF = np.iinfo(np.int64).max
_EMPTY_I64 = np.zeros(0, dtype=np.int64)
PAYLOAD_WORDS = (0, 1, 2, 4)


class Program:
    """Base class of PE programs. Override the handlers you need.

    A program without its own ``on_tick`` does not enable the timer (no tick interrupts, as on
    SpiNNaker where a callback is only called if registered); set ``uses_timer`` to force it.
    """

    name: str = "program"
    code_bytes: int = 0          # checked against spec.memory.code_sram_bytes at load
    uses_timer: bool | None = None
    # Lazy packet batches (docs/chip.md): queued packets are taken at the PE's next own event
    # (tick, DMA done, user event, the end of the run) instead of at their arrival; per-packet
    # timing is the same. Requires an on_packets without pe.send/to_host/dma_*/user_event/
    # set_pl (checked: a lazy batch that calls them is an error). None: lazy iff the timer is on.
    lazy_packets: bool | None = None

    def sram_regions(self) -> dict[str, int]:
        """Region name -> bytes, allocated from the PE's data SRAM at load."""
        return {}

    def on_start(self, pe: PE) -> None:
        """Called once at time 0, before the first tick; not charged."""

    def on_tick(self, pe: PE, tick: int) -> None:
        """Timer tick ``tick`` (priority 0)."""

    def on_packets(self, pe: PE, keys: np.ndarray, payloads: np.ndarray) -> np.ndarray:
        """A batch of packets in arrival order; return int64 (n,) handler cycles per packet.

        ``keys`` uint32 (n,); ``payloads`` uint32 (n, w), w in {0, 1, 2, 4} (a batch mixing
        widths is zero-padded to the widest). ``pe.send(..., at_cycles=c)`` inside this handler
        means "after c cycles of the batch's handler work", i.e. c is an offset into
        ``np.cumsum(returned_cycles)`` (use ``np.cumsum(cycles)[i]`` to send right after packet
        i). ``pe.charge(c)`` inside this handler adds c cycles to the last packet.
        """
        return np.zeros(len(keys), dtype=np.int64)

    def on_dma_done(self, pe: PE, tag: int) -> None:
        """A DMA transfer started with ``tag`` completed (priority 2)."""

    def on_user_event(self, pe: PE, arg) -> None:
        """A user event (priority 3, below packets)."""


def _timer_enabled(program: Program) -> bool:
    if program.uses_timer is not None:
        return bool(program.uses_timer)
    return type(program).on_tick is not Program.on_tick


def _lazy_enabled(program: Program, timer: bool) -> bool:
    """Whether the PE takes packets lazily (see ``Program.lazy_packets``)."""
    if program.lazy_packets is not None:
        return bool(program.lazy_packets)
    return timer


class PE:
    """One processing element: the context handlers receive, and its event loop.

    Public attributes: ``pe_id``, ``index`` (position in ``chip.pes``), ``qpe`` (qx, qy),
    ``spec``, ``program``, ``sram``, ``pl``, ``frequency_hz``, ``now_ps`` (start of the running
    handler), ``tick`` (tick period of ``now_ps``).
    """

    def __init__(self, chip, pe_id: int, index: int):
        spec = chip.spec
        self._chip = chip
        self.pe_id = int(pe_id)
        self.index = int(index)
        self.qpe = (self.pe_id >> 5, (self.pe_id >> 2) & 7)
        self.spec = spec
        self.label = pe_label(self.pe_id)
        self.sram = SramAllocator(
            self.pe_id,
            int(spec.memory.data_sram_bytes.value),
            int(spec.memory.sram_alignment_bytes.value),
            int(spec.memory.code_sram_bytes.value),
        )
        self.program: Program | None = None
        self.pl = 0
        self.frequency_hz = chip._pl.frequency_hz[0]
        self.loaded = False
        self.now_ps = 0
        self.tick = 0
        # event-loop state
        self._timer = False
        self._lazy = False
        self._busy_until = 0
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
        self._acc_rec: list[tuple] = []
        self._pl_cycles = [0] * len(chip._pl)
        # running-handler context
        self._in_handler = False
        self._h_start = 0
        self._h_charged = 0
        self._h_sends: list[tuple] = []
        self._h_actions: list[tuple] = []
        self._h_batch = False

    # ------------------------------------------------------------------------------------------
    # API for handlers (docs/design.md, "PE runtime")
    # ------------------------------------------------------------------------------------------

    def _need_handler(self, what: str) -> None:
        if not self._in_handler:
            raise S2SimError(f"{self.label}: pe.{what}() called outside a handler")

    def charge(self, cycles: int) -> None:
        """Add ``cycles`` of work to the running handler."""
        self._need_handler("charge")
        c = int(cycles)
        if c < 0 or c != cycles:
            raise S2SimError(f"{self.label}: charge({cycles!r}) must be a non-negative integer")
        self._h_charged += c

    def send(self, keys, payloads=None, at_cycles=None) -> None:
        """Multicast ``keys`` (n,) with ``payloads`` (n, w) uint32/float32, w in {0,1,2,4}.

        ``at_cycles``: per-packet (or one) cycle offset from the handler's start at which the
        packet leaves (default: the end of the handler's work). Costs no cycles by itself.
        """
        self._need_handler("send")
        chip = self._chip
        k = np.asarray(keys)
        if k.ndim == 0:
            k = k.reshape(1)
        if k.ndim != 1 or (k.size and k.dtype.kind not in "iu"):
            raise S2SimError(f"{self.label}: send() keys must be a 1-D integer array, got "
                             f"shape {k.shape} dtype {k.dtype}")
        n = k.shape[0]
        if n == 0:
            return
        if k.dtype != np.uint32:
            if k.min() < 0 or k.max() > 0xFFFFFFFF:
                raise S2SimError(f"{self.label}: send() key out of the 32-bit range")
            k = k.astype(np.uint32)
        pay, widths = _payload_block(payloads, n, self.label)
        if at_cycles is None:
            at = None
        else:
            at = np.broadcast_to(np.asarray(at_cycles, dtype=np.int64), (n,)).copy()
            if at.min() < 0:
                raise S2SimError(f"{self.label}: send() at_cycles must be >= 0")
        rids = chip._route_ids(k, self)
        self._h_sends.append((k, pay, widths, at, rids))

    def count(self, **counters) -> None:
        """Add to the ledger's counters (macs=, sram_read_bytes=, exp_calls=, ...)."""
        chip = self._chip
        tick = chip._ledger.tick_of(self.now_ps)
        chip._ledger.add_program(self.index, tick, counters, self.label)
        macs = counters.get("macs")
        if macs:
            chip._ledger.pl["macs"][self.index, self.pl] += int(macs)

    def dma_read(self, nbytes: int, tag: int, source: str = "dram") -> None:
        """Start a DMA into this PE's SRAM from ``source`` ("dram" or "sram": another PE over the
        NoC); ``on_dma_done(tag)`` follows. Costs no CPU cycles by itself: the firmware charges
        the set-up (``spec.accelerators.dma_setup_cycles``)."""
        self._dma_request(nbytes, tag, source, "dma_read")

    def dma_write(self, nbytes: int, tag: int, dest: str = "dram") -> None:
        """Start a DMA from this PE's SRAM to ``dest`` ("dram" or "sram"); see ``dma_read``."""
        self._dma_request(nbytes, tag, dest, "dma_write")

    def _dma_request(self, nbytes, tag, where, what) -> None:
        self._need_handler(what)
        if where not in ("dram", "sram"):
            raise S2SimError(f"{self.label}: {what} location {where!r} is not 'dram' or 'sram'")
        nb = int(nbytes)
        if nb < 0 or nb != nbytes:
            raise S2SimError(f"{self.label}: {what}({nbytes!r}) must be a non-negative integer")
        self._h_actions.append(("dma", self._h_charged, nb, tag, where == "dram"))

    def to_host(self, nbytes: int, payload=None) -> None:
        """Send ``nbytes`` to the host over the NoC and the Ethernet bridge."""
        self._need_handler("to_host")
        nb = int(nbytes)
        if nb < 0 or nb != nbytes:
            raise S2SimError(f"{self.label}: to_host({nbytes!r}) must be a non-negative integer")
        self._h_actions.append(("host", self._h_charged, nb, payload))

    def user_event(self, arg, delay_cycles: int = 0) -> None:
        """Schedule ``on_user_event(arg)`` ``delay_cycles`` after this point of the handler."""
        self._need_handler("user_event")
        d = int(delay_cycles)
        if d < 0:
            raise S2SimError(f"{self.label}: user_event delay_cycles must be >= 0")
        self._h_actions.append(("user", self._h_charged, arg, d))

    def set_pl(self, index: int) -> None:
        """Switch to performance level ``index`` when the running handler ends.

        The switch stalls the PE for ``spec.timing.pl_switch_s`` (booked at the old PL) and costs
        ``spec.power.pl_switch_energy_j``; switching to the current PL is free.
        """
        self._need_handler("set_pl")
        idx = self._chip._pl.check(index, f"{self.label}: set_pl")
        self._h_actions.append(("pl", self._h_charged, idx))

    # ------------------------------------------------------------------------------------------
    # Event loop (called by the chip; not for programs)
    # ------------------------------------------------------------------------------------------

    def _ensure_wake(self, t: int) -> None:
        wakes = self._wakes
        if wakes and wakes[0] <= t:
            return  # an earlier wake-up will look again
        env = self._chip.env
        if t < env.now:
            t = env.now
        heapq.heappush(wakes, t)
        ev = env.timeout(t - env.now)
        ev.callbacks.append(self._on_wake)

    def _on_wake(self, _ev) -> None:
        now = self._chip.env.now
        wakes = self._wakes
        while wakes and wakes[0] <= now:
            heapq.heappop(wakes)
        self.service()

    def _add_packets(self, arrival, block) -> None:
        self._chunks.append((arrival, block))
        if self._lazy:
            return  # taken at the PE's next own event (a tick at the latest, or the end sweep)
        a0 = int(arrival[0])
        b = self._busy_until
        self._ensure_wake(a0 if a0 > b else b)

    def service(self) -> None:
        """Run the highest-priority work that is due, if the PE is free."""
        chip = self._chip
        now = chip.env.now
        P = chip._period_ps
        if self._busy_until > now:
            if self._timer and now % P == 0:
                k = now // P
                if 0 < k < chip._n_ticks and self._overrun_mark < k:
                    # tick k fires while the PE is still busy: the work of tick k-1 overran
                    self._overrun_mark = k
                    L = chip._ledger
                    L.pe["tick_overruns"][self.index, L.col_of_tick(k - 1)] += 1
            self._ensure_wake(self._busy_until)
            return
        nt = self._next_tick
        ran = False
        if self._lazy and self._chunks:
            # Lazy batch: every packet arriving at or before ``now`` is already queued (any
            # send made from now on leaves at >= now and arrives later), so taking them now
            # times them exactly as if each had run at its arrival. Packets go before a tick
            # that fires now (they arrived first) but after one that fired while the PE was
            # busy (the tick was pending first; the eager runtime does the same). The PE has
            # been free since _busy_until, so the batch is timed from there.
            horizon = now + 1
            if self._timer and nt < chip._n_ticks and nt * P <= now:
                horizon = now if nt * P == now else -1
            if horizon > 0 and self._take_batch(now, horizon, self._busy_until):
                self.service()  # the tick / DMA / user event now due, or a wake when busy
                return
        if self._timer and nt < chip._n_ticks and nt * P <= now:
            self._next_tick = nt + 1
            self._run_simple(now, 0, nt)
            ran = True
        if not ran and self._chunks and not self._lazy:
            horizon = chip._run_end_ps
            if self._timer and self._next_tick < chip._n_ticks:
                horizon = self._next_tick * P
            other = INF
            if self._dma:
                other = self._dma[0][0]
            if self._user and self._user[0][0] < other:
                other = self._user[0][0]
            if other < INF:
                horizon = min(horizon, max(other, now + 1))
            ran = self._take_batch(now, horizon, now)
        if not ran and self._dma and self._dma[0][0] <= now:
            _, _, tag = heapq.heappop(self._dma)
            self._run_simple(now, 2, tag)
            ran = True
        if not ran and self._user and self._user[0][0] <= now:
            _, _, arg = heapq.heappop(self._user)
            self._run_simple(now, 3, arg)
        # next wake-up: the earliest pending item, not before the PE is free (ticks come from
        # the chip's ticker, which calls service() at every tick time)
        t = INF
        if not self._lazy:
            for a, _b in self._chunks:
                if a[0] < t:
                    t = int(a[0])
        if self._dma and self._dma[0][0] < t:
            t = self._dma[0][0]
        if self._user and self._user[0][0] < t:
            t = self._user[0][0]
        if t < INF:
            b = self._busy_until
            self._ensure_wake(t if t > b else b)
        elif (self._timer and self._next_tick < chip._n_ticks and self._busy_until > now
              and self._next_tick * P < self._busy_until):
            self._ensure_wake(self._busy_until)

    # -- simple handlers (tick, DMA done, user event) ------------------------------------------

    def _flush_acc(self) -> None:
        """Close the current tick's accumulators (appended as one record; _write_acc books
        all records into the ledger arrays at the end of the run)."""
        if self._acc_k < 0:
            return
        self._acc_rec.append((self._acc_k, self._acc_cycles, self._acc_handlers,
                              self._acc_ticks, self._acc_active_ps))
        self._acc_cycles = self._acc_handlers = self._acc_ticks = self._acc_active_ps = 0
        self._acc_k = -1

    def _write_acc(self) -> None:
        self._flush_acc()
        if not self._acc_rec:
            return
        L = self._chip._ledger
        rec = np.array(self._acc_rec, dtype=np.int64)
        self._acc_rec = []
        ks = L.cols_of_ticks(rec[:, 0])
        i = self.index
        for col, name in enumerate(("active_cycles", "handlers", "ticks_handled", "active_ps"),
                                   start=1):
            np.add.at(L.pe[name][i], ks, rec[:, col])

    def _flush_pl_cycles(self) -> None:
        pl_cycles = self._chip._ledger.pl["cycles"][self.index]
        for j, c in enumerate(self._pl_cycles):
            if c:
                pl_cycles[j] += c
                self._pl_cycles[j] = 0

    def _begin(self, start: int, batch: bool) -> None:
        self._in_handler = True
        self._h_start = start
        self._h_charged = 0
        self._h_sends = []
        self._h_actions = []
        self._h_batch = batch
        self.now_ps = start
        self.tick = start // self._chip._period_ps

    def _run_simple(self, start: int, kind: int, arg) -> None:
        chip = self._chip
        prog = self.program
        self._begin(start, False)
        try:
            if kind == 0:
                prog.on_tick(self, arg)
            elif kind == 2:
                prog.on_dma_done(self, arg)
            else:
                prog.on_user_event(self, arg)
        finally:
            self._in_handler = False
        body = self._h_charged
        cycles = chip._irq_in + body + chip._irq_out
        f = self.frequency_hz
        num, den = _ratio(f)
        end = start - ((-cycles * num) // den)
        # book into Python-int accumulators of the current tick (numpy scalar updates per
        # handler would dominate an idle chip's run time); _flush_acc writes them out
        P = chip._period_ps
        k = start // P
        if k != self._acc_k:
            self._flush_acc()
            self._acc_k = k
        self._acc_cycles += cycles
        self._acc_handlers += 1
        if kind == 0:
            self._acc_ticks += 1
        self._pl_cycles[self.pl] += cycles
        if end <= (k + 1) * P and end <= chip._run_end_ps:
            self._acc_active_ps += end - start
        else:
            chip._ledger.add_interval("active_ps", self.index, start, end, chip._run_end_ps)
        self._busy_until = end
        irq_in = chip._irq_in
        if self._h_sends:
            for keys, pay, widths, at, rids in self._h_sends:
                if at is None:
                    t = np.full(keys.shape[0], start + cycles_to_ps(irq_in + body, f),
                                dtype=np.int64)
                else:
                    if int(at.max()) > body:
                        raise S2SimError(
                            f"{self.label}: send at_cycles {int(at.max())} is after the end of "
                            f"the handler's {body} charged cycles ({prog.name})")
                    t = start + cycles_to_ps(irq_in + at, f)
                chip._outbox_add(t, self, rids, keys, pay, widths)
        if self._h_actions:
            self._do_actions(
                [(start + cycles_to_ps(irq_in + act[1], f),) + act for act in self._h_actions],
                end)

    # -- packet batches -------------------------------------------------------------------------

    def _take_batch(self, now: int, horizon: int, free: int) -> bool:
        """Run the queued packets arriving before ``horizon`` (the PE is free from ``free``)."""
        chunks = self._chunks
        if len(chunks) == 1:
            a, blk = chunks[0]
        else:
            a = np.concatenate([c[0] for c in chunks])
            order = np.argsort(a, kind="stable")
            a = a[order]
            blk = np.concatenate([c[1] for c in chunks])[order]
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
        depth = self._chip._depth
        prev = self._last_starts
        n = a.shape[0]
        if n <= depth and (prev.shape[0] == 0 or prev[-1] <= a[0]):
            # nothing of the previous batch still waits and the batch fits: no drop possible
            self._last_starts = self._run_batch(a, blk, free)
            return True
        # The queue may fill up. Decide acceptance chunk by chunk (_queue_scan) so that only
        # accepted packets reach the program, each chunk as one on_packets call.
        known = prev[-depth:]
        L = self._chip._ledger
        free = max(free, self._busy_until)
        starts_all = []
        idx = 0
        accept = np.empty(n, dtype=np.bool_)
        while idx < n:
            stop = idx + _queue_scan(a[idx:], known, free, depth, accept[idx:])
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
                st = self._run_batch(a[acc], blk[acc], free)
                starts_all.append(st)
                known = np.concatenate([known, st])[-depth:]
                free = self._busy_until
            idx = stop
        self._last_starts = np.concatenate(starts_all) if starts_all else _EMPTY_I64
        return True

    def _run_batch(self, a, blk, free) -> np.ndarray:
        chip = self._chip
        prog = self.program
        n = a.shape[0]
        keys = np.ascontiguousarray(blk[:, 0])
        w = int(blk[:, 1].max())
        payloads = blk[:, 2:2 + w]
        t0 = int(a[0]) if int(a[0]) > free else free
        self._begin(t0, True)
        try:
            body = prog.on_packets(self, keys, payloads)
        finally:
            self._in_handler = False
        if self._lazy and (self._h_sends or self._h_actions):
            raise S2SimError(
                f"{self.label}: {prog.name}.on_packets sends or starts work (send/to_host/dma/"
                f"user_event/set_pl) while its packets are batched lazily; set "
                f"lazy_packets = False on the program (packets then run at their arrival)")
        body = np.asarray(body)
        if body.shape != (n,) or (n and body.dtype.kind not in "iu"):
            raise S2SimError(
                f"{self.label}: {prog.name}.on_packets must return int cycles of shape ({n},), "
                f"got shape {body.shape} dtype {body.dtype}")
        body = body.astype(np.int64)
        if self._h_charged:
            body[-1] += self._h_charged
        irq_in = chip._irq_in
        overhead = irq_in + chip._irq_out
        f = self.frequency_hz
        num, den = _ratio(f)
        start = np.empty(n, dtype=np.int64)
        end = np.empty(n, dtype=np.int64)
        # start_i = max(a_i, end_{i-1}), end_i = start_i + ceil(c_i * 1e12 / f) (numba loop)
        status, total_c, total_d = _time_serial(a, body, overhead, num, den, free, start, end)
        if status < 0:
            raise S2SimError(f"{self.label}: {prog.name}.on_packets returned negative cycles")
        c = body + overhead
        if status > 0:  # cycles * num could overflow int64: exact Python integers instead
            d = cycles_to_ps(c, f)
            D = np.cumsum(d)
            M = np.maximum.accumulate(a - (D - d))
            end = D + np.maximum(M, free)
            start = end - d
            total_c = int(c.sum())
            total_d = int(d.sum())
        L = chip._ledger
        i = self.index
        P = chip._period_ps
        run_end = chip._run_end_ps
        self._pl_cycles[self.pl] += total_c
        k0 = int(start[0]) // P
        last_end = int(end[-1])
        if last_end <= (k0 + 1) * P and last_end <= run_end:
            if k0 != self._acc_k:
                self._flush_acc()
                self._acc_k = k0
            self._acc_cycles += total_c
            self._acc_handlers += n
            self._acc_active_ps += total_d
            L.pe["packets_received"][i, L.col_of_tick(k0)] += n
        else:
            ks = L.ticks_of(start)
            np.add.at(L.pe["active_cycles"][i], ks, c)
            np.add.at(L.pe["handlers"][i], ks, 1)
            np.add.at(L.pe["packets_received"][i], ks, 1)
            for s_, e_ in zip(start.tolist(), end.tolist(), strict=True):
                L.add_interval("active_ps", i, s_, e_, run_end)
        self._busy_until = last_end
        if self._h_sends or self._h_actions:
            cum = np.cumsum(body)
            total_body = int(cum[-1])
            end_body = int(start[-1]) + cycles_to_ps(irq_in + int(body[-1]), f)
            for k, pay_s, widths_s, at, rids in self._h_sends:
                if at is None:
                    t = np.full(k.shape[0], end_body, dtype=np.int64)
                else:
                    if int(at.max()) > total_body:
                        raise S2SimError(
                            f"{self.label}: send at_cycles {int(at.max())} is after the end of "
                            f"the batch's {total_body} handler cycles ({prog.name})")
                    j = np.minimum(np.searchsorted(cum, at, side="right"), n - 1)
                    off = at - (cum[j] - body[j])
                    t = start[j] + cycles_to_ps(irq_in + off, f)
                chip._outbox_add(t, self, rids, k, pay_s, widths_s)
            if self._h_actions:
                self._do_actions([(end_body,) + act for act in self._h_actions], last_end)
        return start

    # -- deferred actions ------------------------------------------------------------------------

    def _do_actions(self, actions, handler_end: int) -> None:
        chip = self._chip
        L = chip._ledger
        new_pl = None
        for act in actions:
            t, kind = act[0], act[1]
            if kind == "dma":
                _, _, _, nb, tag, dram = act
                done = chip._dma_done_time(self, t, nb, dram)
                heapq.heappush(self._dma, (done, chip._next_seq(), tag))
                k = L.tick_of(t)
                L.pe["dma_bytes"][self.index, k] += nb
                if dram:
                    L.pe["dram_bytes"][self.index, k] += nb
            elif kind == "host":
                _, _, _, nb, payload = act
                chip._to_host(self, t, nb, payload)
            elif kind == "user":
                _, _, _, arg, delay = act
                due = t + cycles_to_ps(delay, self.frequency_hz)
                heapq.heappush(self._user, (due, chip._next_seq(), arg))
            elif kind == "pl":
                new_pl = act[3]
        if new_pl is not None and new_pl != self.pl:
            self._flush_pl_cycles()
            t_done = handler_end + chip._pl.switch_ps
            L.add_interval("switch_ps", self.index, handler_end, t_done, chip._run_end_ps)
            L.pe["pl_switches"][self.index, L.tick_of(handler_end)] += 1
            chip._residency.switch(self.index, new_pl, t_done)
            self.pl = new_pl
            self.frequency_hz = chip._pl.frequency_hz[new_pl]
            self._busy_until = t_done


@numba.njit(cache=True, nogil=True)
def _time_serial(a, body, overhead, num, den, free, start, end):  # pragma: no cover - compiled
    """Serial timing of one batch: ``start_i = max(a_i, end_{i-1})`` (``end_{-1} = free``),
    ``end_i = start_i + ceil((body_i + overhead) * num / den)`` ps (as ``cycles_to_ps``).

    Returns ``(status, total_cycles, total_ps)``: status -1 if a body is negative, 1 if
    ``cycles * num`` could overflow int64 (the caller then uses exact Python integers), else 0.
    """
    limit = (1 << 62) // num
    total_c = 0
    total_d = 0
    for i in range(body.shape[0]):
        if body[i] < 0:
            return -1, 0, 0
        if body[i] + overhead >= limit:
            return 1, 0, 0
    t = free
    for i in range(body.shape[0]):
        c = body[i] + overhead
        d = (c * num + den - 1) // den
        s = a[i] if a[i] > t else t
        t = s + d
        start[i] = s
        end[i] = t
        total_c += c
        total_d += d
    return 0, total_c, total_d


@numba.njit(cache=True, nogil=True)
def _queue_scan(a, known, free, depth, accept):  # pragma: no cover - compiled
    """Which packets (arrivals ``a``, sorted) the queue accepts, as far as it can be decided.

    ``known``: sorted start times of packets already timed (all before ``free``, the time the
    PE can start the next one). A packet is waiting at ``a_r`` if it arrived before and has not
    started. Waiting = known starts after ``a_r`` + accepted-but-untimed packets before r; the
    latter cannot start before ``free``, so for ``a_r < free`` the count is exact, and for
    ``a_r >= free`` it is an upper bound. Accept when it is below ``depth``; drop when it is
    exact; otherwise stop (returns the number of packets decided).
    """
    j = 0
    nk = known.shape[0]
    acc = 0
    for r in range(a.shape[0]):
        while j < nk and known[j] <= a[r]:
            j += 1
        w = nk - j + acc
        if w < depth:
            accept[r] = True
            acc += 1
        elif a[r] < free:
            accept[r] = False
        else:
            return r
    return a.shape[0]


def _payload_block(payloads, n: int, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Payloads as a zero-padded (n, 4) uint32 block and per-packet widths (words)."""
    if payloads is None:
        return np.zeros((n, 4), dtype=np.uint32), np.zeros(n, dtype=np.int8)
    p = np.asarray(payloads)
    if p.ndim == 1:
        p = p.reshape(n, -1) if p.size == n or n == 1 else p
    if p.ndim != 2 or p.shape[0] != n:
        raise S2SimError(f"{label}: send() payloads must have shape ({n}, w), got {p.shape}")
    w = p.shape[1]
    if w not in PAYLOAD_WORDS:
        raise ResourceError(
            f"{label}: payload of {w} 32-bit words does not fit a multicast packet "
            f"(0, 32, 64 or 128 bits: w in {PAYLOAD_WORDS})")
    if p.dtype == np.float32:
        p = p.view(np.uint32)
    elif p.dtype != np.uint32:
        if p.dtype.kind not in "iu":
            raise S2SimError(f"{label}: send() payloads must be uint32 or float32, got {p.dtype}")
        if p.size and (p.min() < 0 or p.max() > 0xFFFFFFFF):
            raise S2SimError(f"{label}: send() payload word out of the 32-bit range")
        p = p.astype(np.uint32)
    block = np.zeros((n, 4), dtype=np.uint32)
    block[:, :w] = p
    return block, np.full(n, w, dtype=np.int8)
