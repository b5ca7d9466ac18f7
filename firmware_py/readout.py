"""Readout program: collects the last EGRU layer's events of a step and sends the step's result
to the host at the next tick.

Without readout weights (the LM: tied decoder on the host) the message is the step's events,
8 bytes each (uint32 unit, float32 value) plus an 8-byte header (step, count). With weights
(gesture), the program keeps the output trace when asked, computes ``W · y`` (or ``W · tr``) + b
on the Cortex-M4F and sends the ``n_out`` float32 outputs (+ header).
"""

from __future__ import annotations

import numpy as np

from firmware_py.cores import ReadoutCore, decode
from firmware_py.cost import CostModel
from s2sim.hw.runtime import Program

__all__ = ["ReadoutProgram", "HEADER_BYTES"]

HEADER_BYTES = 8  # step index + event/output count, two uint32


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
        cyc = cm.c("readout_tick")
        if out is None:
            nbytes = HEADER_BYTES + 8 * units.size
            payload = (step, units, vals)
        else:
            n_out = out.size
            if self.core.trace:
                H = self.core.n_in
                cyc += H * cm.c("readout_trace_unit") + H * n_out * cm.c("readout_mac")
                pe.count(cpu_macs=H * n_out)
            cyc += n_out * cm.c("readout_out")
            nbytes = HEADER_BYTES + 4 * n_out
            payload = (step, units, vals, out)
        pe.charge(cyc)
        pe.to_host(nbytes, payload=payload)
