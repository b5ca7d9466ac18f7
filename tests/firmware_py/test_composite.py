"""CompositeProgram (firmware_py/composite.py): several programs on one PE."""

import numpy as np
import pytest

from firmware_py.composite import CompositeProgram
from firmware_py.cost import CostModel, Ops
from firmware_py.keys import key_base
from s2sim.hw.runtime import Program
from s2sim.spec import load_spec


class _PE:
    """Records what the composite hands the real PE."""

    def __init__(self):
        self.charged, self.sent, self.events = 0, [], []
        self.tick = 0

    def charge(self, c):
        self.charged += int(c)

    def send(self, keys, payloads=None, at_cycles=None):
        self.sent.append((np.asarray(keys).tolist(), np.asarray(at_cycles).tolist()))

    def user_event(self, arg, delay_cycles=0):
        self.events.append((arg, int(delay_cycles)))


class _Member(Program):
    def __init__(self, src, per_packet, tick_work, send_at=None):
        self.src, self.per_packet, self.tick_work = src, per_packet, tick_work
        self.send_at = send_at
        self.got, self.started, self.user = [], 0, []

    def sram_regions(self):
        return {"state": 8 * self.src}

    def consumes(self):
        return {self.src}

    def on_start(self, pe):
        self.started += 1

    def on_packets(self, pe, keys, payloads):
        self.got.append(np.asarray(keys).tolist())
        return np.full(len(keys), self.per_packet, np.int64)

    def on_tick(self, pe, tick):
        pe.charge(self.tick_work)
        pe.send(np.array([key_base(self.src, 0)], np.uint32), at_cycles=self.send_at)
        pe.user_event("later", delay_cycles=7)

    def on_user_event(self, pe, arg):
        self.user.append(arg)
        pe.charge(30)


@pytest.fixture
def parts():
    cost = CostModel(load_spec())
    a, b = _Member(1, 10, 100), _Member(2, 20, 50, send_at=[5])
    return CompositeProgram([("L0.S0", a), ("L1.S0", b)], cost), a, b, cost


def test_regions_are_prefixed_and_start_reaches_every_member(parts):
    comp, a, b, _ = parts
    assert comp.sram_regions() == {"L0.S0.state": 8, "L1.S0.state": 16}
    comp.on_start(_PE())
    assert a.started == b.started == 1


def test_packets_go_to_the_members_that_consume_their_source(parts):
    comp, a, b, cost = parts
    keys = np.array([key_base(1, 0), key_base(2, 3) | 5, key_base(7, 0), key_base(1, 1)],
                    np.uint32)
    cycles = comp.on_packets(_PE(), keys, np.zeros((4, 1), np.uint32))
    dispatch = cost.cycles(Ops(load=1, alu=1, branch_taken=1))
    assert comp.dispatch_cycles == dispatch > 0
    assert cycles.tolist() == [2 * dispatch + 10, 2 * dispatch + 20, 2 * dispatch,
                               2 * dispatch + 10]
    assert a.got == [[int(keys[0]), int(keys[3])]] and b.got == [[int(keys[1])]]


def test_tick_handlers_run_one_after_the_other(parts):
    comp, a, b, _ = parts
    pe = _PE()
    comp.on_tick(pe, 3)
    assert pe.charged == 150
    # a's send at the end of its work (100); b's at its own 5 cycles, after a's 100
    assert pe.sent == [([key_base(1, 0)], [100]), ([key_base(2, 0)], [105])]
    # user events come back tagged with the member, due after the members before + own work
    assert pe.events == [((0, "later"), 7 + 0 + 100), ((1, "later"), 7 + 100 + 50)]
    comp.on_user_event(pe, (1, "later"))
    assert b.user == ["later"] and a.user == [] and pe.charged == 180
