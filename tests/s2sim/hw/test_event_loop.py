"""The event loop (s2sim/hw/event_loop.py) directly: EventLoop and PECore without a Chip."""

import numpy as np
import pytest

from s2sim.errors import ResourceError, RoutingError, S2SimError
from s2sim.hw.dvfs import PerformanceLevelTable, cycles_to_ps
from s2sim.hw.event_loop import EventLoop
from s2sim.hw.noc import Noc
from s2sim.hw.router import RoutingTable
from s2sim.hw.runtime import Program


def _loop(spec):
    pes = spec.pe_ids()
    router = RoutingTable(int(spec.router.table_entries.value), pes,
                          int(spec.links.chip_links.value))
    return EventLoop(spec, pes, router, Noc(spec, pes), PerformanceLevelTable.from_spec(spec))


class Ticker(Program):
    def __init__(self, cycles):
        self.cycles = cycles

    def on_tick(self, pe, tick):
        pe.charge(self.cycles)


class Sink(Program):
    lazy_packets = False

    def on_packets(self, pe, keys, payloads):
        return np.full(len(keys), 10, dtype=np.int64)


def test_core_lookup_and_load(spec):
    loop = _loop(spec)
    with pytest.raises(ResourceError, match="not a PE of this chip"):
        loop.core(0x3)  # (0, 0) is not a QPE
    pid = spec.pe_ids()[5]
    core = loop.core(pid)
    assert core.index == 5 and not core.loaded
    core.load(Ticker(10), pl=1)
    assert core.loaded and core.timer and core.lazy  # a timer program is lazy by default
    assert core.facade.program is core.state.program and core.facade.pl == 1
    assert core.facade.frequency_hz == loop.pl_table.frequency_hz[1]
    with pytest.raises(ResourceError, match="already has program"):
        core.load(Ticker(10), pl=0)
    with pytest.raises(S2SimError, match="must be an s2sim.hw.runtime.Program"):
        loop.core(spec.pe_ids()[6]).load(object(), pl=0)


def test_run_books_every_tick_and_the_idle_rest(spec):
    loop = _loop(spec)
    pid = spec.pe_ids()[0]
    loop.core(pid).load(Ticker(1000), pl=0)
    counts, host_rx, link_tx = loop.run(3, 1)
    f = loop.pl_table.frequency_hz[0]
    per_tick = 1000 + loop.irq_in + loop.irq_out
    assert counts.pe["active_cycles"][0].tolist() == [per_tick] * 3
    assert counts.pe["active_ps"][0].tolist() == [cycles_to_ps(per_tick, f)] * 3
    assert counts.pe["sleep_ps"][0, 0] == loop.period_ps - cycles_to_ps(per_tick, f)
    assert counts.loaded.sum() == 1 and host_rx == [] and link_tx == []


def test_injections_are_routed_before_the_run_and_late_ones_count_undelivered(spec):
    loop = _loop(spec)
    dst = spec.pe_ids()[3]
    loop.core(dst).load(Sink(), pl=0)
    loop.router.add(0x10, 0xFFFFFFFF, pes={dst})
    keys = np.array([0x10, 0x10], np.uint32)
    pay, widths = np.zeros((2, 4), np.uint32), np.zeros(2, np.int8)
    loop.inject(0, keys, pay, widths, False)
    loop.inject(10 * loop.period_ps, keys, pay, widths, False)  # after the end of the run
    counts, _, _ = loop.run(1, 1)
    assert counts.pe["packets_received"][3, 0] == 2 and counts.undelivered == 2

    loop = _loop(spec)
    loop.inject(0, np.array([0x99], np.uint32), pay[:1], widths[:1], True)
    with pytest.raises(RoutingError, match="host"):
        loop.run(1, 1)


def test_route_ids_are_cached_until_the_table_changes(spec):
    loop = _loop(spec)
    a, b = spec.pe_ids()[:2]
    loop.router.add(0x20, 0xFFFFFFF0, pes={a})
    r1 = loop.route_ids(np.array([0x21, 0x22], np.uint32), "test")
    assert r1[0] == r1[1]  # one entry, one compiled route
    loop.router.add(0x30, 0xFFFFFFFF, pes={b})
    r2 = loop.route_ids(np.array([0x30], np.uint32), "test")
    assert loop.noc.routes[int(r2[0])] is not None
    with pytest.raises(RoutingError, match="PE 0x99 here"):
        loop.route_ids(np.array([0x40], np.uint32), "PE 0x99 here")


def test_dram_transfers_share_one_channel(spec):
    loop = _loop(spec)
    loop.run(1, 1)
    first = loop.dram_transfer(0, 1 << 20)
    second = loop.dram_transfer(0, 1 << 20)
    assert second == 2 * first  # the second waits for the first
