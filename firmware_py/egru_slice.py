"""EGRU slice program: one PE's share of an EGRU layer (see ``cores.EGRUSliceCore``).

- on each received event (a batch of packets): look up the event's CSR row and accumulate it into
  the three gate pre-activations of the step the packet belongs to (the key's parity bit);
  cycles per packet from ``CostModel.slice_event_cycles(nnz of the row)``.
- on each tick k (first_tick <= k <= last_tick): close the step of the previous tick (parity
  (k-1) mod 2), apply the gate nonlinearities (exp unit), update the state, threshold, reset, and
  queue one multicast packet per event with its value (payload float32); the packets go out
  back to back at this slice's time of the send schedule (``firmware_py.schedule``), from a
  user event.
- a packet whose parity says it belongs to a step this PE has already closed is *late*: it is
  counted (``late_packets``) and dropped, so the engine's oracle comparison shows its effect.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cores import EGRUSliceCore, encode
from firmware_py.cost import CostModel
from firmware_py.schedule import SenderSlot, delay_until
from s2sim.hw.runtime import Program

__all__ = ["EGRUSliceProgram"]


class EGRUSliceProgram(Program):
    name = "egru_slice"

    def __init__(self, slice_id: str, core: EGRUSliceCore, cost: CostModel,
                 regions: dict[str, int], key_base: int | None, first_tick: int, last_tick: int,
                 schedule: SenderSlot | None = None):
        self.slice_id = slice_id
        self.core = core
        self.cost = cost
        self.regions = dict(regions)
        self.key_base = key_base
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.fired_log: list[tuple[int, np.ndarray, np.ndarray]] = []  # (step, units, values)
        self.late_packets = 0
        self.max_tick_cycles = 0
        self.schedule = schedule
        self._queue = None  # (tick, fired, values, next index)
        ev, nz = cost.work("slice_event"), cost.work("slice_nnz")
        self._ev_cycles, self._nnz_cycles = ev.cycles, nz.cycles
        self._ev_rd, self._nnz_rd, self._nnz_wr = (ev.sram_read_bytes, nz.sram_read_bytes,
                                                   nz.sram_written_bytes)
        self.unsent = 0  # events still queued when the next step's sends began

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return self.core.consumes()

    def on_start(self, pe) -> None:
        return None

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        xs = np.ascontiguousarray(payloads[:, 0]).view(np.float32)
        cycles, n_ok, n_late, nnz = self.core.on_events(
            keys, xs, int(pe.tick) & 1, self._ev_cycles, self._nnz_cycles, self._ev_cycles)
        self.late_packets += n_late
        pe.count(cpu_macs=nnz, synaptic_events=nnz,
                 sram_read_bytes=self._ev_rd * (n_ok + n_late) + self._nnz_rd * nnz,
                 sram_written_bytes=self._nnz_wr * nnz)
        return cycles

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("slice_tick"))  # wake, check the step window, sleep
            return
        fired, vals = self.core.update((tick - 1) & 1)
        u = self.core.u
        cyc = cm.slice_tick_cycles(u, fired.size)
        self.max_tick_cycles = max(self.max_tick_cycles, cyc)
        pe.charge(cyc)
        unit_w, fire_w = cm.work("slice_unit"), cm.work("slice_fire")
        tick_w = cm.work("slice_tick")
        pe.count(exp_calls=3 * u,
                 sram_read_bytes=tick_w.sram_read_bytes + u * unit_w.sram_read_bytes,
                 sram_written_bytes=(tick_w.sram_written_bytes + u * unit_w.sram_written_bytes
                                     + fired.size * fire_w.sram_written_bytes))
        self.fired_log.append((tick - self.first_tick, fired, vals))
        if fired.size and self.key_base is not None:
            if self._queue is not None:
                self.unsent += self._queue[1].size - self._queue[3]
            self._queue = (tick, fired, vals, 0)
            self._arm(pe, cyc)

    def _arm(self, pe, charged: int) -> None:
        """Schedule the user event that sends the queued events at this slice's send time."""
        sch = self.schedule
        if sch is None:
            pe.user_event("send", delay_cycles=0)
            return
        target = sch.target_ps(self._queue[0], pe.frequency_hz)
        pe.user_event("send", delay_cycles=delay_until(pe, target, charged))

    def on_user_event(self, pe, arg) -> None:
        """Send the step's events back to back (``slice_send`` cycles each)."""
        if self._queue is None:
            return
        tick, fired, vals, k = self._queue
        n = fired.size - k
        w = self.cost.work("slice_send")
        pe.charge(n * w.cycles)
        pe.count(sram_read_bytes=n * w.sram_read_bytes, sram_written_bytes=n * w.sram_written_bytes)
        pe.send(encode(self.key_base, fired[k:], tick & 1), vals[k:].view(np.uint32).reshape(-1, 1),
                at_cycles=np.arange(1, n + 1, dtype=np.int64) * w.cycles)
        self._queue = None
