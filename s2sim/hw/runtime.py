"""The firmware API: ``Program`` (what firmware subclasses) and ``PE`` (all a handler may touch).

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

This module is the whole contract between firmware (firmware_py) and the chip. The event loop
that calls the handlers is behind it (``PECore`` in event_loop.py, its numba kernels in
pe_kernels.py). The ``PE`` facade and its ``PECore`` share one ``PEState`` (public fields: what
firmware may read, and the record of the running handler that the facade fills in and the loop
reads when the handler returns); the facade calls the loop only through ``PECore.route_keys``,
``PECore.count`` and ``PECore.check_pl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2sim.errors import ResourceError, S2SimError
from s2sim.hw.pe_kernels import nonnegative
from s2sim.spec.models import decode_pe_id

PAYLOAD_WORDS = (0, 1, 2, 4)   # 32-bit payload words a multicast packet can carry (0-128 bits)


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

    # Optional: ``packet_cycles(tick, keys, payloads) -> int (n,)``, the cycles on_packets would
    # return for a batch handled in ``tick``, computed without side effects. A lazy program that
    # has it lets the event loop decide a batch's queue drops in one pass and run the accepted
    # packets as one on_packets call (checked: on_packets must return the same cycles).
    packet_cycles = None

    def on_dma_done(self, pe: PE, tag: int) -> None:
        """A DMA transfer started with ``tag`` completed (priority 2)."""

    def on_user_event(self, pe: PE, arg) -> None:
        """A user event (priority 3, below packets)."""


def timer_enabled(program: Program) -> bool:
    """Whether the PE runs ``program``'s timer (see ``Program``)."""
    if program.uses_timer is not None:
        return bool(program.uses_timer)
    return type(program).on_tick is not Program.on_tick


def lazy_enabled(program: Program) -> bool:
    """Whether the PE takes packets lazily (see ``Program.lazy_packets``)."""
    if program.lazy_packets is not None:
        return bool(program.lazy_packets)
    return timer_enabled(program)


@dataclass(slots=True)
class PEState:
    """What a PE's facade and its event loop (``PECore``) share, with public names.

    ``program``, ``pl``, ``frequency_hz``, ``now_ps`` and ``tick`` are the PE as firmware sees it
    (written by the loop; read-only through the facade). ``in_handler``, ``charged``, ``sends``
    and ``actions`` record the running handler: the facade appends to them while it runs and the
    loop books them when it returns (one shared record, so a ``pe.charge`` costs no call).
    """

    frequency_hz: float
    program: Program | None = None
    pl: int = 0
    now_ps: int = 0              # start of the running handler
    tick: int = 0                # tick period of now_ps
    in_handler: bool = False
    charged: int = 0             # cycles charged so far by the running handler
    sends: list[tuple] = field(default_factory=list)    # (keys, payloads, widths, at, routes)
    actions: list[tuple] = field(default_factory=list)  # (kind, at_charged, ...): dma/host/user/pl


class PE:
    """One processing element as firmware sees it: the context every handler receives.

    Everything public here is the documented API (docs/design.md, "PE runtime"): ``pe_id``,
    ``index`` (position in ``chip.pes``), ``qpe`` (qx, qy), ``spec``, ``sram``, and read-only
    ``program``, ``pl``, ``frequency_hz``, ``now_ps`` (start of the running handler), ``tick``
    (tick period of ``now_ps``); the methods below. ``__slots__`` keeps firmware from hanging
    state on the PE; the event loop behind it is not reachable through a public name.
    """

    __slots__ = ("pe_id", "index", "qpe", "spec", "sram", "_state", "_core", "_label")

    def __init__(self, pe_id: int, index: int, spec, sram, state: PEState, core, label: str):
        self.pe_id = int(pe_id)
        self.index = int(index)
        qx, qy, _ = decode_pe_id(self.pe_id)
        self.qpe = (qx, qy)
        self.spec = spec
        self.sram = sram
        self._state = state
        self._core = core     # the PECore: route_keys, count, check_pl
        self._label = label

    @property
    def program(self) -> Program | None:
        """The loaded Program (None while the PE is off)."""
        return self._state.program

    @property
    def pl(self) -> int:
        """The current performance level (index into ``spec.performance_levels``)."""
        return self._state.pl

    @property
    def frequency_hz(self) -> float:
        """The CPU clock of the current performance level."""
        return self._state.frequency_hz

    @property
    def now_ps(self) -> int:
        """Start of the running handler (for a packet batch: of its first packet)."""
        return self._state.now_ps

    @property
    def tick(self) -> int:
        """The tick period that ``now_ps`` falls in."""
        return self._state.tick

    def _need_handler(self, what: str) -> None:
        if not self._state.in_handler:
            raise S2SimError(f"{self._label}: pe.{what}() called outside a handler")

    def charge(self, cycles: int) -> None:
        """Add ``cycles`` of work to the running handler."""
        self._need_handler("charge")
        c = int(cycles)
        if c < 0 or c != cycles:
            raise S2SimError(f"{self._label}: charge({cycles!r}) must be a non-negative integer")
        self._state.charged += c

    def send(self, keys, payloads=None, at_cycles=None) -> None:
        """Multicast ``keys`` (n,) with ``payloads`` (n, w) uint32/float32, w in {0,1,2,4}.

        ``at_cycles``: per-packet (or one) cycle offset from the handler's start at which the
        packet leaves (default: the end of the handler's work). Costs no cycles by itself.
        """
        self._need_handler("send")
        k = np.asarray(keys)
        if k.ndim == 0:
            k = k.reshape(1)
        if k.ndim != 1 or (k.size and k.dtype.kind not in "iu"):
            raise S2SimError(f"{self._label}: send() keys must be a 1-D integer array, got "
                             f"shape {k.shape} dtype {k.dtype}")
        n = k.shape[0]
        if n == 0:
            return
        if k.dtype != np.uint32:
            if k.min() < 0 or k.max() > 0xFFFFFFFF:
                raise S2SimError(f"{self._label}: send() key out of the 32-bit range")
            k = k.astype(np.uint32)
        pay, widths = payload_block(payloads, n, self._label)
        if at_cycles is None:
            at = None
        else:
            at = np.array(at_cycles, dtype=np.int64)  # a copy: the program may reuse its array
            if at.shape != (n,):
                at = np.broadcast_to(at, (n,)).copy()
            if not nonnegative(at):
                raise S2SimError(f"{self._label}: send() at_cycles must be >= 0")
        self._state.sends.append((k, pay, widths, at, self._core.route_keys(k)))

    def count(self, **counters) -> None:
        """Add to the ledger's counters (macs=, sram_read_bytes=, exp_calls=, ...)."""
        self._core.count(counters)

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
            raise S2SimError(f"{self._label}: {what} location {where!r} is not 'dram' or 'sram'")
        nb = int(nbytes)
        if nb < 0 or nb != nbytes:
            raise S2SimError(f"{self._label}: {what}({nbytes!r}) must be a non-negative integer")
        self._state.actions.append(("dma", self._state.charged, nb, tag, where == "dram"))

    def to_host(self, nbytes: int, payload=None) -> None:
        """Send ``nbytes`` to the host over the NoC and the Ethernet bridge."""
        self._need_handler("to_host")
        nb = int(nbytes)
        if nb < 0 or nb != nbytes:
            raise S2SimError(f"{self._label}: to_host({nbytes!r}) must be a non-negative integer")
        self._state.actions.append(("host", self._state.charged, nb, payload))

    def user_event(self, arg, delay_cycles: int = 0) -> None:
        """Schedule ``on_user_event(arg)`` ``delay_cycles`` after this point of the handler."""
        self._need_handler("user_event")
        d = int(delay_cycles)
        if d < 0:
            raise S2SimError(f"{self._label}: user_event delay_cycles must be >= 0")
        self._state.actions.append(("user", self._state.charged, arg, d))

    def set_pl(self, index: int) -> None:
        """Switch to performance level ``index`` when the running handler ends.

        The switch stalls the PE for ``spec.timing.pl_switch_s`` (booked at the old PL) and costs
        ``spec.power.pl_switch_energy_j``; switching to the current PL is free.
        """
        self._need_handler("set_pl")
        idx = self._core.check_pl(index, f"{self._label}: set_pl")
        self._state.actions.append(("pl", self._state.charged, idx))


class _Filled:
    """``filled(n, value, dtype)``: a read-only (n,) array of ``value``, a view of one long
    array per (value, dtype). The event loop's per-send columns (source node, injection
    resource, sender, route, payload width) are such constants; an ``np.full`` per send was a
    measurable share of the run. Readers only: numpy refuses writes into them."""

    def __init__(self):
        self._arrays: dict[tuple, np.ndarray] = {}

    def __call__(self, n: int, value, dtype) -> np.ndarray:
        key = (value, dtype)
        a = self._arrays.get(key)
        if a is None or a.shape[0] < n:
            a = np.full(max(n, 64, 0 if a is None else 2 * a.shape[0]), value, dtype=dtype)
            a.flags.writeable = False
            self._arrays[key] = a
        return a[:n]


filled = _Filled()


def payload_block(payloads, n: int, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Payloads as a zero-padded (n, 4) uint32 block and per-packet widths (words)."""
    if payloads is None:
        return np.zeros((n, 4), dtype=np.uint32), filled(n, 0, np.int8)
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
    return block, filled(n, w, np.int8)
