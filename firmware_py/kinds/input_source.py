"""Input source: collects a step's input from the host and emits it as events.

Everything about this core kind lives here (``firmware_py.kinds.base`` says what a kind holds):

- **Host protocol**: the host sends step t's values (the embedding vector of a token, or a frame's
  pooled pixels) as packets with key ``HOST_SRC | parity(t) | element`` and a 128-bit payload
  holding the float32 values of elements element..element+3 (``HOST_VALUES_PER_PACKET``), during
  tick interval t — only groups of four holding a nonzero value are sent. Four values per packet
  keep the Ethernet bridge's packet rate below what the input PE's handler can absorb (1 Gbit/s
  delivers a 20-byte packet every 160 ns).
- **SRAM**: the double-buffered frame, a dirty map, the program constants.
- **DES program** (``InputSourceProgram``): host packets are added into the frame buffer of their
  parity (several packets may hit one element, which is how event frames are pooled). At tick t+1
  the program scans the buffer, sends one multicast event per nonzero element (ascending element
  order) and clears it. The events go out from user events at the input's time of the send
  schedule (``firmware_py.schedule``), one per slot (the receivers' mean handler time; the PE
  busy-waits between sends, charged), handed to the NoC in chunks, so a dense input vector does
  not overflow the receivers' packet queues. Host packets arriving after their step was emitted
  are late: counted (``late_packets``) and dropped.
- **Analytic counts** (``InputSourceKind.book_counts``).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import EMBED_SRC, HOST_SRC, decode, key_base, make_keys
from firmware_py.kinds.base import CONFIG_BYTES, AnalyticContext, BuildContext, CoreKind, aligned
from firmware_py.schedule import delay_until
from s2sim.hw.runtime import Program

__all__ = ["InputCore", "InputSourceProgram", "InputSourceKind", "HOST_VALUES_PER_PACKET",
           "HOST_PACKET_BYTES", "host_packet_groups", "host_packets_per_step",
           "host_values_per_step", "regions", "estimate_cycles"]

HOST_VALUES_PER_PACKET = 4  # the 128-bit multicast payload
HOST_PACKET_BYTES = 4 + 4 * HOST_VALUES_PER_PACKET  # 32-bit key + 128-bit payload
HOST_KEY_BASE = key_base(HOST_SRC, 0)


# -- host protocol ------------------------------------------------------------------------------

def host_packet_groups(xs: np.ndarray) -> np.ndarray:
    """(T, n_groups, 4) float32: each step's input in groups of four elements (zero padded)."""
    T, n = xs.shape
    V = HOST_VALUES_PER_PACKET
    padded = np.zeros((T, -(-n // V) * V), np.float32)
    padded[:, :n] = xs
    return padded.reshape(T, -1, V)


def host_packets_per_step(xs: np.ndarray) -> np.ndarray:
    """Host -> input-source packets per step: groups of four elements holding a nonzero value."""
    return np.count_nonzero(np.any(host_packet_groups(xs) != 0, axis=2), axis=1).astype(np.int64)


def host_values_per_step(xs: np.ndarray) -> np.ndarray:
    """Values the input source stores per step: every element (zero or not) of the groups it
    receives, up to the input size (the last group's padding is not stored)."""
    n = xs.shape[1]
    V = HOST_VALUES_PER_PACKET
    sent = np.any(host_packet_groups(xs) != 0, axis=2)  # (T, n_groups)
    inside = np.minimum(V, n - V * np.arange(sent.shape[1]))  # elements of each group < n
    return (sent * inside).sum(axis=1).astype(np.int64)


def host_packets(step: int, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, payloads) of step ``step``'s host packets from its (n_groups, 4) value groups."""
    g = np.flatnonzero(np.any(groups != 0, axis=1))
    V = HOST_VALUES_PER_PACKET
    return (make_keys(HOST_KEY_BASE, g * V, step & 1),
            np.ascontiguousarray(groups[g]).view(np.uint32))


# -- SRAM and cycle estimate --------------------------------------------------------------------

def regions(n_in: int, align: int) -> dict[str, int]:
    """SRAM regions of the input source: frame buffer (float32), dirty map, constants."""
    return aligned({"frame": 4 * n_in, "dirty": n_in, "config": CONFIG_BYTES}, align)


def estimate_cycles(cm: CostModel, n_in: int, input_activity: float) -> int:
    """Cycles per step: the tick's scan, every value received, the host packets, the sends."""
    n_host_pk = -(-n_in // HOST_VALUES_PER_PACKET)
    return (cm.c("input_tick") + n_in * (cm.c("input_scan") + cm.c("input_value"))
            + n_host_pk * (cm.c("input_packet") + cm.irq_cycles)
            + int(math.ceil(input_activity * n_in)) * cm.c("input_send"))


# -- the core and the DES program ---------------------------------------------------------------

class InputCore:
    """Collects a step's input values from the host (double-buffered by step parity)."""

    def __init__(self, n: int):
        self.frame = np.zeros((2, n), np.float32)

    def receive(self, parity, elem, xs) -> None:
        # frame[p, e] += x, in arrival order (several host packets may hit one element)
        np.add.at(self.frame, (parity, elem), np.asarray(xs, np.float32))

    def emit(self, parity: int):
        f = self.frame[parity]
        nz = np.flatnonzero(f)
        vals = f[nz].copy()
        f[:] = 0
        return nz, vals


class InputSourceProgram(Program):
    name = "input_source"

    def __init__(self, n: int, cost: CostModel, regions: dict[str, int], key_base: int | None,
                 first_tick: int, last_tick: int, schedule=None):
        self.core = InputCore(n)
        self.n = int(n)
        self.cost = cost
        self.regions = dict(regions)
        self.key_base = key_base
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.late_packets = 0
        self.sent_per_step: list[int] = []
        self.schedule = schedule  # firmware_py.schedule.SenderSlot or None
        self._pending = None  # (tick, idx, vals, next index)
        # a chunk's prices, looked up once: input_chunk, then one send every ``gap`` cycles
        # (``_send_at[j]``: send j's cycle in its handler; a chunk holds at most n events)
        self._send = cost.work("input_send")
        self._chunk_cycles = cost.c("input_chunk")
        self._gap = max(self._send.cycles, schedule.period_cycles if schedule else 0)
        self._send_at = self._chunk_cycles + np.arange(1, self.n + 1, dtype=np.int64) * self._gap

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        # with the decoder on the chip the values come from the decoder blocks, one per packet
        return {HOST_SRC, EMBED_SRC}

    def on_start(self, pe) -> None:
        return None

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        _, _, parity, elem = decode(keys)
        w_words = payloads.shape[1]
        ok = (parity == (int(pe.tick) & 1)) & (elem < self.n)
        n_bad = int((~ok).sum())
        if n_bad:
            self.late_packets += n_bad
        vals = np.ascontiguousarray(payloads[ok]).view(np.float32)  # (n_ok, w)
        e = elem[ok][:, None] + np.arange(w_words)[None, :]
        inside = e < self.n
        par = np.broadcast_to(parity[ok][:, None], e.shape)
        self.core.receive(par[inside], e[inside], vals[inside])
        pk, val = self.cost.work("input_packet"), self.cost.work("input_value")
        n_vals = int(inside.sum())
        pe.count(sram_read_bytes=pk.sram_read_bytes * int(ok.sum()) + val.sram_read_bytes * n_vals,
                 sram_written_bytes=val.sram_written_bytes * n_vals)
        return np.full(keys.size, pk.cycles + w_words * val.cycles, np.int64)

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("input_tick"))
            return
        idx, vals = self.core.emit((tick - 1) & 1)
        scan = cm.work("input_scan")
        pe.charge(cm.c("input_tick") + self.n * scan.cycles)
        pe.count(sram_read_bytes=self.n * scan.sram_read_bytes)
        n_sent = idx.size if self.key_base is not None else 0
        self.sent_per_step.append(int(n_sent))
        if n_sent:
            self._pending = (tick, idx, vals, 0)
            self._arm(pe, cm.c("input_tick") + self.n * scan.cycles, 0)

    def _arm(self, pe, charged: int, chunk: int) -> None:
        sch = self.schedule
        if sch is None:
            pe.user_event("send", delay_cycles=0)
            return
        target = sch.chunk_target_ps(self._pending[0], chunk, pe.frequency_hz)
        pe.user_event("send", delay_cycles=delay_until(pe, target, charged))

    def on_user_event(self, pe, arg) -> None:
        """Send the next chunk of the pending events, one every ``period_cycles`` (the
        receivers' mean handler time; the PE busy-waits between sends, receiving nothing but host
        packets meanwhile), and arm the user event of the chunk after it."""
        if self._pending is None:
            return
        tick, idx, vals, k = self._pending
        sch = self.schedule
        per = int(sch.chunk_events) if sch is not None else 0
        end = idx.size if per <= 0 else min(idx.size, k + per)
        n = end - k
        charged = self._chunk_cycles + n * self._gap
        pe.charge(charged)
        pe.count(sram_written_bytes=n * self._send.sram_written_bytes)
        pe.send(make_keys(self.key_base, idx[k:end], tick & 1),
                vals[k:end].view(np.uint32).reshape(-1, 1), at_cycles=self._send_at[:n])
        if end < idx.size:
            self._pending = (tick, idx, vals, end)
            self._arm(pe, charged, end // per)
        else:
            self._pending = None


# -- the kind ------------------------------------------------------------------------------------

class InputSourceKind(CoreKind):
    name = "input"

    def idle_tick_cycles(self, cm: CostModel) -> int:
        return cm.c("input_tick")

    def schedule_costs(self, s, network, cm: CostModel, cache: dict) -> tuple[int, int]:
        return (cm.c("input_packet") + HOST_VALUES_PER_PACKET * cm.c("input_value"),
                cm.c("input_tick") + s.n_in * cm.c("input_scan"))

    def program(self, ctx: BuildContext, s) -> InputSourceProgram:
        from firmware_py.schedule import sender_slot

        return InputSourceProgram(s.n_in, ctx.cost, s.regions, s.key_base, s.first_tick,
                                  ctx.last_tick(s), schedule=sender_slot(ctx.mapping, s))

    def book_counts(self, ctx: AnalyticContext, s) -> None:
        cm, irq, steps = ctx.cost, ctx.irq, ctx.steps
        pe_id = ctx.mapping.placement[s.id]
        host_pk = host_packets_per_step(ctx.xs)
        in_events = np.count_nonzero(ctx.xs, axis=1).astype(np.int64)
        V = HOST_VALUES_PER_PACKET
        n_vals = host_values_per_step(ctx.xs)
        if ctx.mapping.decoder_on_chip:  # one value per packet, from the decoder block
            host_pk, n_vals, V = in_events, in_events, 1
        n_send = in_events if s.key_base is not None else np.zeros(ctx.n_steps, np.int64)
        sch = ctx.mapping.schedule
        slot_a = int(sch.slot_a_cycles) if sch else 0
        per_chunk = int(sch.input_chunk_events) if sch else 0
        if per_chunk > 0:  # one user event per chunk of sends
            n_chunks = -(-n_send // per_chunk)
        else:  # one user event sends the whole step
            n_chunks = (n_send > 0).astype(np.int64)
        send_c = max(cm.c("input_send"), slot_a)
        val = cm.work("input_value")
        # host packets of step t arrive during tick interval t; the handler loops over the
        # payload's 4 words, but stores only the elements inside the input
        ctx.book(pe_id, steps, active_cycles=host_pk * (cm.c("input_packet") + V * val.cycles
                                                        + irq),
                 packets_received=host_pk, handlers=host_pk,
                 sram_read_bytes=n_vals * val.sram_read_bytes,
                 sram_written_bytes=n_vals * val.sram_written_bytes)
        tick_c = cm.c("input_tick") + s.n_in * cm.c("input_scan") + irq
        ctx.book(pe_id, steps + s.first_tick,
                 active_cycles=tick_c + n_chunks * (cm.c("input_chunk") + irq) + n_send * send_c,
                 packets_sent=n_send, handlers=1 + n_chunks,
                 sram_read_bytes=s.n_in * cm.work("input_scan").sram_read_bytes,
                 sram_written_bytes=n_send * cm.work("input_send").sram_written_bytes)

    def events_sent(self, s, xs: np.ndarray) -> np.ndarray:
        return np.count_nonzero(xs, axis=1).astype(np.int64)
