"""Readout: collects the last EGRU layer's events of a step and sends the step's result to the
host at the next tick.

Everything about this core kind lives here (``firmware_py.kinds.base`` says what a kind holds):

- **Host protocol** (``message_bytes``, ``decode_message``): without readout weights (the LM:
  tied decoder on the host) the message is the step's events, 8 bytes each (uint32 unit, float32
  value) plus an 8-byte header (step, count). With weights (gesture), the program keeps the
  output trace when asked, computes ``W · y`` (or ``W · tr``) + b on the Cortex-M4F and sends the
  ``n_out`` float32 outputs (+ header).
- **With the decoder on the chip** (``--decoder chip``, ``firmware_py.kinds.decoder``) the
  readout receives each decoder block's best (logit, row) of a step, one packet per block, keeps
  the best (ties: the lower row, ``np.argmax``'s rule) and sends the step's token (header + uint32)
  to the host at the next tick (``ArgmaxReadoutProgram``).
- **SRAM** (``regions``): a double-buffered event list, the unit table, weights/bias/accumulators
  and the trace when computed on chip, constants.
- **Cycle estimate** (``estimate_cycles``), **DES program** (``ReadoutProgram``) and **analytic
  counts** (``ReadoutKind.book_counts``).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import DECODER_SRC, decode, egru_src
from firmware_py.kinds.base import CONFIG_BYTES, AnalyticContext, BuildContext, CoreKind, aligned
from s2sim.hw.runtime import Program

__all__ = ["ReadoutCore", "ReadoutProgram", "ArgmaxReadoutProgram", "ReadoutKind",
           "HEADER_BYTES", "EVENT_BYTES", "TOKEN_MESSAGE_BYTES", "message_bytes",
           "decode_message", "regions", "estimate_cycles"]

HEADER_BYTES = 8  # step index + event/output count, two uint32
EVENT_BYTES = 8  # uint32 unit + float32 value per event sent to the host
TOKEN_MESSAGE_BYTES = HEADER_BYTES + 4  # the on-chip decoder's token (uint32) per step
_F32 = np.float32


# -- host protocol ------------------------------------------------------------------------------

def message_bytes(n_events, n_out: int, has_weights: bool):
    """Bytes of a step's message to the host: the events, or the ``n_out`` outputs."""
    n_events = np.asarray(n_events, np.int64)
    if has_weights:
        return np.full(n_events.shape, HEADER_BYTES + 4 * n_out, np.int64)
    return HEADER_BYTES + EVENT_BYTES * n_events


def decode_message(payload) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
    """(step, units, values, outputs or None) of a message the readout sent to the host (a
    token message: no units, no values; ``decode_token`` gives its token)."""
    if payload[0] == "token":
        return int(payload[1]), np.zeros(0, np.int64), np.zeros(0, _F32), None
    out = payload[3] if len(payload) > 3 else None
    return int(payload[0]), payload[1], payload[2], out


def decode_token(payload) -> tuple[int, int] | None:
    """(step, token) of a token message from the on-chip decoder's readout, else None."""
    if payload[0] != "token":
        return None
    return int(payload[1]), int(payload[2])


# -- SRAM and cycle estimate --------------------------------------------------------------------

def regions(n_in: int, n_out: int, has_weights: bool, trace: bool, align: int) -> dict[str, int]:
    raw = {"events": 2 * EVENT_BYTES * n_in, "unit_table": 2 * n_in, "config": CONFIG_BYTES}
    if has_weights:
        raw.update({"weights": 4 * n_out * n_in, "acc": 4 * n_out, "bias": 4 * n_out})
    if trace:
        raw["trace"] = 4 * n_in
    return aligned(raw, align)


def event_cycles(cm: CostModel, n_out: int, has_weights: bool, trace: bool) -> int:
    """Handler cycles per received event (irq excluded): with weights and no trace the event's
    column of W is accumulated into the outputs right away."""
    return cm.c("readout_event") + (n_out * cm.c("readout_mac") if has_weights and not trace
                                    else 0)


def tick_cycles(cm: CostModel, n_in: int, n_out: int, has_weights: bool, trace: bool) -> int:
    """Tick handler cycles (irq excluded) of a step in the window."""
    c = cm.c("readout_tick") + n_out * cm.c("readout_out")
    if has_weights and trace:
        c += n_in * (cm.c("readout_trace_unit") + n_out * cm.c("readout_mac"))
    return c


def estimate_cycles(cm: CostModel, n_in: int, n_out: int, has_weights: bool, trace: bool,
                    activity: float) -> int:
    """Cycles per step at the expected firing fraction ``activity`` of the last layer."""
    ev = cm.c("readout_event") + cm.irq_cycles + (0 if trace else n_out * cm.c("readout_mac"))
    return (cm.c("readout_tick") + int(math.ceil(activity * n_in)) * ev
            + (n_in * (cm.c("readout_trace_unit") + n_out * cm.c("readout_mac")) if trace else 0)
            + n_out * cm.c("readout_out"))


# -- the core and the DES program ---------------------------------------------------------------

class ReadoutCore:
    """Collects the last layer's events per step; optional on-chip trace + linear readout."""

    DECAY = _F32(0.9)

    def __init__(self, n_in: int, unit_of: dict[int, np.ndarray], weights=None, bias=None,
                 trace: bool = False):
        self.n_in = n_in
        self.unit_of = unit_of  # slice index -> global units of that last-layer slice
        self.weights = None if weights is None else np.asarray(weights, _F32)
        self.bias = None if bias is None else np.asarray(bias, _F32)
        self.trace = bool(trace)
        self.tr = np.zeros(n_in, _F32)
        self.events: list[list[tuple[np.ndarray, np.ndarray]]] = [[], []]

    def receive(self, sl, parity, local, xs) -> None:
        units = np.empty(sl.size, np.int64)
        for s in np.unique(sl):
            m = sl == s
            units[m] = self.unit_of[int(s)][local[m]]
        for p in (0, 1):
            m = parity == p
            if m.any():
                self.events[p].append((units[m], np.asarray(xs, _F32)[m]))

    def close(self, parity: int):
        """(units, values, outputs or None) of the step held under ``parity``."""
        evs = self.events[parity]
        self.events[parity] = []
        if evs:
            units = np.concatenate([e[0] for e in evs])
            vals = np.concatenate([e[1] for e in evs])
        else:
            units, vals = np.zeros(0, np.int64), np.zeros(0, _F32)
        out = None
        if self.weights is not None:
            y = np.zeros(self.n_in, _F32)
            y[units] = vals
            if self.trace:
                self.tr = self.DECAY * self.tr + (_F32(1) - self.DECAY) * y
                out = (self.weights @ self.tr + self.bias).astype(_F32)
            else:
                out = (self.weights @ y + self.bias).astype(_F32)
        return units, vals, out


class ReadoutProgram(Program):
    name = "readout"

    def __init__(self, core: ReadoutCore, cost: CostModel, regions: dict[str, int],
                 src: int, first_tick: int, last_tick: int):
        self.core = core
        self.cost = cost
        self.regions = dict(regions)
        self.src = int(src)
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.late_packets = 0

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return {self.src}

    def on_start(self, pe) -> None:
        return None

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        _, sl, parity, local = decode(keys)
        xs = np.ascontiguousarray(payloads[:, 0]).view(np.float32)
        ok = parity == (int(pe.tick) & 1)
        n_bad = int((~ok).sum())
        if n_bad:
            self.late_packets += n_bad
        self.core.receive(sl[ok], parity[ok], local[ok], xs[ok])
        w = self.cost.work("readout_event")
        n_ok = int(ok.sum())
        cyc = np.full(keys.size, w.cycles, np.int64)
        if self.core.weights is not None and not self.core.trace:
            # accumulate W[:, unit] * value into the outputs right away
            n_out = self.core.weights.shape[0]
            mac = self.cost.work("readout_mac")
            cyc[ok] += n_out * mac.cycles
            pe.count(cpu_macs=n_out * n_ok)
        pe.count(sram_read_bytes=w.sram_read_bytes * n_ok,
                 sram_written_bytes=w.sram_written_bytes * n_ok)
        return cyc

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("readout_tick"))
            return
        units, vals, out = self.core.close((tick - 1) & 1)
        step = tick - self.first_tick
        core = self.core
        n_out = 0 if out is None else out.size
        cyc = tick_cycles(cm, core.n_in, n_out, out is not None, core.trace)
        if out is not None and core.trace:
            pe.count(cpu_macs=core.n_in * n_out)
        nbytes = int(message_bytes(units.size, n_out, out is not None))
        payload = (step, units, vals) if out is None else (step, units, vals, out)
        pe.charge(cyc)
        pe.to_host(nbytes, payload=payload)


class ArgmaxReadoutProgram(Program):
    """The readout of the on-chip decoder: the best of the blocks' best rows, per step."""

    name = "readout"

    def __init__(self, cost: CostModel, regions: dict[str, int], first_tick: int,
                 last_tick: int):
        self.cost = cost
        self.regions = dict(regions)
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.late_packets = 0
        self.best = [(-np.inf, -1), (-np.inf, -1)]  # per parity: (logit, row)

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return {DECODER_SRC}

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        _, _, parity, _ = decode(keys)
        logits = np.ascontiguousarray(payloads[:, 0]).view(np.float32)
        rows = payloads[:, 1].astype(np.int64)
        ok = parity == (int(pe.tick) & 1)
        self.late_packets += int((~ok).sum())
        for i in np.flatnonzero(ok):
            p = int(parity[i])
            v, r = float(logits[i]), int(rows[i])
            bv, br = self.best[p]
            if v > bv or (v == bv and (br < 0 or r < br)):
                self.best[p] = (v, r)
        w = self.cost.work("readout_best")
        pe.count(sram_written_bytes=w.sram_written_bytes * int(ok.sum()))
        return np.full(keys.size, w.cycles, np.int64)

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        pe.charge(cm.c("readout_tick"))
        if not self.first_tick <= tick <= self.last_tick:
            return
        p = (tick - 1) & 1
        _, row = self.best[p]
        self.best[p] = (-np.inf, -1)
        pe.to_host(TOKEN_MESSAGE_BYTES, payload=("token", tick - self.first_tick, row))


# -- the kind ------------------------------------------------------------------------------------

class ReadoutKind(CoreKind):
    name = "readout"

    def idle_tick_cycles(self, cm: CostModel) -> int:
        return cm.c("readout_tick")

    def schedule_costs(self, s, network, cm: CostModel, cache: dict) -> tuple[int, int]:
        ro = network.readout
        return (event_cycles(cm, ro.n_out, ro.weights is not None, ro.trace),
                s.est_cycles_per_step)

    def program(self, ctx: BuildContext, s) -> ReadoutProgram | ArgmaxReadoutProgram:
        if ctx.mapping.decoder_on_chip:
            return ArgmaxReadoutProgram(ctx.cost, s.regions, s.first_tick, ctx.last_tick(s))
        ro = ctx.network.readout
        L = ctx.mapping.n_layers
        unit_of = {x.index: np.asarray(x.units, np.int64) for x in ctx.mapping.layer_slices(L - 1)}
        core = ReadoutCore(ro.n_in, unit_of, ro.weights, ro.bias, ro.trace)
        return ReadoutProgram(core, ctx.cost, s.regions, egru_src(L - 1), s.first_tick,
                              ctx.last_tick(s))

    def book_counts(self, ctx: AnalyticContext, s) -> None:
        if ctx.mapping.decoder_on_chip:
            self._book_argmax(ctx, s)
            return
        cm, irq, T = ctx.cost, ctx.irq, ctx.n_steps
        ro = ctx.network.readout
        m = ctx.mapping
        L = m.n_layers
        pe_id = m.placement[s.id]
        has_w = ro.weights is not None
        n_out = m.readout_n_out
        n_last = np.count_nonzero(ctx.ys[L - 1], axis=1).astype(np.int64)
        ev_macs = n_out if has_w and not ro.trace else 0
        w = cm.work("readout_event")
        # the last layer's events of step t arrive in the tick before the readout's
        ctx.book(pe_id, ctx.steps + s.first_tick - 1,
                 active_cycles=n_last * (event_cycles(cm, n_out, has_w, ro.trace) + irq),
                 packets_received=n_last, handlers=n_last, cpu_macs=n_last * ev_macs,
                 sram_read_bytes=n_last * w.sram_read_bytes,
                 sram_written_bytes=n_last * w.sram_written_bytes)
        tick_macs = m.layer_sizes[-1] * n_out if has_w and ro.trace else 0
        ctx.book(pe_id, ctx.steps + s.first_tick,
                 active_cycles=np.full(T, self.tick_cycles(ctx) + irq), handlers=1,
                 host_tx_bytes=self.message_bytes(ctx), cpu_macs=np.full(T, tick_macs))

    def _book_argmax(self, ctx: AnalyticContext, s) -> None:
        m, cm, irq, T = ctx.mapping, ctx.cost, ctx.irq, ctx.n_steps
        pe_id = m.placement[s.id]
        n_blocks = len(m.decoder_slices())
        w = cm.work("readout_best")
        ctx.book(pe_id, ctx.steps + s.first_tick - 1,
                 active_cycles=np.full(T, n_blocks * (w.cycles + irq)),
                 packets_received=n_blocks, handlers=n_blocks,
                 sram_written_bytes=n_blocks * w.sram_written_bytes)
        ctx.book(pe_id, ctx.steps + s.first_tick,
                 active_cycles=np.full(T, self.tick_cycles(ctx) + irq), handlers=1,
                 host_tx_bytes=self.message_bytes(ctx))

    def tick_cycles(self, ctx: AnalyticContext) -> int:
        if ctx.mapping.decoder_on_chip:
            return ctx.cost.c("readout_tick")
        ro = ctx.network.readout
        return tick_cycles(ctx.cost, ctx.mapping.layer_sizes[-1], ctx.mapping.readout_n_out,
                           ro.weights is not None, ro.trace)

    def message_bytes(self, ctx: AnalyticContext) -> np.ndarray:
        """(T,) bytes of each step's message to the host."""
        m = ctx.mapping
        if m.decoder_on_chip:
            return np.full(ctx.n_steps, TOKEN_MESSAGE_BYTES, np.int64)
        n_last = np.count_nonzero(ctx.ys[m.n_layers - 1], axis=1).astype(np.int64)
        return message_bytes(n_last, m.readout_n_out, ctx.network.readout.weights is not None)
