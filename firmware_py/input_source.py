"""Input-source program: collects a step's input from the host and emits it as events.

The host sends step t's values (embedding vector of a token, or a frame's pooled pixels) as
packets with key ``HOST_SRC | parity(t) | element`` and a 128-bit payload holding the float32
values of elements element..element+3 (``HOST_VALUES_PER_PACKET``), during tick interval t. Four
values per packet keep the Ethernet bridge's packet rate below what the input PE's handler
can absorb (1 Gbit/s delivers a 20-byte packet every 160 ns).
They are added into the frame buffer of that parity (several packets may hit one element, which
is how event frames are pooled). At tick t+1 the program scans the buffer, sends one multicast
event per nonzero element (ascending element order) and clears it. The events go out from a user
event at the input's time of the send schedule (``firmware_py.schedule``), one per slot (the
receivers' mean handler time; the PE busy-waits between sends, charged), so a dense input vector
does not overflow the receivers' packet queues. Host packets arriving after their step was
emitted are late: counted (``late_packets``) and dropped.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cores import InputCore, decode, encode
from firmware_py.cost import CostModel
from firmware_py.keys import HOST_SRC
from firmware_py.schedule import SenderSlot, delay_until
from s2sim.hw.runtime import Program

__all__ = ["InputSourceProgram", "HOST_VALUES_PER_PACKET"]

HOST_VALUES_PER_PACKET = 4  # the 128-bit multicast payload


class InputSourceProgram(Program):
    name = "input_source"

    def __init__(self, n: int, cost: CostModel, regions: dict[str, int], key_base: int | None,
                 first_tick: int, last_tick: int, schedule: SenderSlot | None = None):
        self.core = InputCore(n)
        self.n = int(n)
        self.cost = cost
        self.regions = dict(regions)
        self.key_base = key_base
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.late_packets = 0
        self.sent_per_step: list[int] = []
        self.schedule = schedule
        self._pending = None  # (tick, idx, vals, next index)

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return {HOST_SRC}

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
        send = self.cost.work("input_send")
        gap = max(send.cycles, sch.period_cycles if sch else 0)
        charged = self.cost.c("input_chunk") + n * gap
        pe.charge(charged)
        pe.count(sram_written_bytes=n * send.sram_written_bytes)
        at = self.cost.c("input_chunk") + np.arange(1, n + 1, dtype=np.int64) * gap
        pe.send(encode(self.key_base, idx[k:end], tick & 1),
                vals[k:end].view(np.uint32).reshape(-1, 1), at_cycles=at)
        if end < idx.size:
            self._pending = (tick, idx, vals, end)
            self._arm(pe, charged, end // per)
        else:
            self._pending = None
