"""Several programs on one PE (a placement may put more than one slice on a PE).

The composite dispatches each received packet to every member that consumes the packet's source
id (key bits 31..24), adds the members' handler cycles per packet plus the dispatch (a source
lookup: LDR + CMP + taken branch per member), and runs the members' tick handlers one after the
other; a member's sends and user events are offset by the cycles of the members before it, and
user events go back to the member that scheduled them. SRAM regions are the members' regions,
prefixed with the member's slice id.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cost import CostModel, Ops
from firmware_py.keys import decode
from s2sim.hw.runtime import Program

__all__ = ["CompositeProgram"]


class _OffsetPE:
    """The PE context seen by a member's tick or user-event handler: charges add up, sends and
    user events are offset by the members that ran before, user events come back tagged with the
    member's index."""

    def __init__(self, pe, offset_cycles: int, member: int):
        self._pe = pe
        self._offset = int(offset_cycles)
        self._member = int(member)
        self.charged = 0

    def user_event(self, arg, delay_cycles: int = 0):
        # the real handler has charged nothing yet (the composite charges at its end)
        return self._pe.user_event((self._member, arg),
                                   delay_cycles=int(delay_cycles) + self._offset + self.charged)

    def __getattr__(self, name):
        return getattr(self._pe, name)

    def charge(self, cycles: int) -> None:
        self.charged += int(cycles)

    def send(self, keys, payloads=None, at_cycles=None):
        n = np.asarray(keys).size
        if at_cycles is None:
            at_cycles = np.full(n, self.charged, np.int64)  # sent when the member's work ends
        return self._pe.send(keys, payloads,
                             at_cycles=np.asarray(at_cycles, np.int64) + self._offset)


class CompositeProgram(Program):
    name = "composite"

    def __init__(self, members: list[tuple[str, Program]], cost: CostModel):
        self.members = list(members)
        self.cost = cost
        self.dispatch_cycles = cost.cycles(Ops(load=1, alu=1, branch_taken=1))

    def sram_regions(self) -> dict[str, int]:
        out = {}
        for sid, prog in self.members:
            for k, v in prog.sram_regions().items():
                out[f"{sid}.{k}"] = v
        return out

    def on_start(self, pe) -> None:
        for _, prog in self.members:
            prog.on_start(pe)

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        src = decode(keys)[0]
        cycles = np.full(src.size, self.dispatch_cycles * len(self.members), np.int64)
        for _, prog in self.members:
            m = np.isin(src, list(prog.consumes()))
            if m.any():
                cycles[m] += prog.on_packets(pe, keys[m], payloads[m])
        return cycles

    def on_tick(self, pe, tick: int) -> None:
        offset = 0
        for j, (_, prog) in enumerate(self.members):
            proxy = _OffsetPE(pe, offset, j)
            prog.on_tick(proxy, tick)
            offset += proxy.charged
        pe.charge(offset)

    def on_user_event(self, pe, arg) -> None:
        j, inner = arg
        proxy = _OffsetPE(pe, 0, j)
        self.members[j][1].on_user_event(proxy, inner)
        pe.charge(proxy.charged)
