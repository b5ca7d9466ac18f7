"""Input-source program: collects a step's input from the host and emits it as events.

The host sends step t's values (embedding vector of a token, or a frame's pooled pixels) as
packets with key ``HOST_SRC | parity(t) | element``, payload float32, during tick interval t.
They are added into the frame buffer of that parity (several packets may hit one element, which
is how event frames are pooled). At tick t+1 the program scans the buffer, sends one multicast
event per nonzero element (ascending element order) and clears it. Host packets arriving after
their step was emitted are late: counted (``late_packets``) and dropped.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cores import InputCore, decode, encode
from firmware_py.cost import CostModel
from firmware_py.keys import HOST_SRC
from s2sim.hw.runtime import Program

__all__ = ["InputSourceProgram"]


class InputSourceProgram(Program):
    name = "input_source"

    def __init__(self, n: int, cost: CostModel, regions: dict[str, int], key_base: int | None,
                 first_tick: int, last_tick: int):
        self.core = InputCore(n)
        self.n = int(n)
        self.cost = cost
        self.regions = dict(regions)
        self.key_base = key_base
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.late_packets = 0
        self.sent_per_step: list[int] = []

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return {HOST_SRC}

    def on_start(self, pe) -> None:
        return None

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        _, _, parity, elem = decode(keys)
        xs = np.ascontiguousarray(payloads[:, 0]).view(np.float32)
        ok = (parity == (int(pe.tick) & 1)) & (elem < self.n)
        n_bad = int((~ok).sum())
        if n_bad:
            self.late_packets += n_bad
            pe.count(late_packets=n_bad)
        self.core.receive(parity[ok], elem[ok], xs[ok])
        w = self.cost.work("input_packet")
        pe.count(sram_read_bytes=w.sram_read_bytes * int(ok.sum()),
                 sram_written_bytes=w.sram_written_bytes * int(ok.sum()))
        return np.full(keys.size, w.cycles, np.int64)

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("input_tick"))
            return
        idx, vals = self.core.emit((tick - 1) & 1)
        n_sent = idx.size if self.key_base is not None else 0
        scan, send = cm.work("input_scan"), cm.work("input_send")
        pe.charge(cm.c("input_tick") + self.n * scan.cycles + n_sent * send.cycles)
        pe.count(sram_read_bytes=self.n * scan.sram_read_bytes,
                 sram_written_bytes=n_sent * send.sram_written_bytes)
        self.sent_per_step.append(int(n_sent))
        if n_sent:
            # the scan reaches element e after e + 1 scan bodies; its send ends that body
            at = (cm.c("input_tick") + (idx.astype(np.int64) + 1) * scan.cycles
                  + (np.arange(n_sent, dtype=np.int64) + 1) * send.cycles)
            pe.send(encode(self.key_base, idx, tick & 1), vals.view(np.uint32).reshape(-1, 1),
                    at_cycles=at)
