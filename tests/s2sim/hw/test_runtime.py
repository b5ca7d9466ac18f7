import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2sim.errors import S2SimError
from s2sim.hw import Chip, Program
from s2sim.hw.dvfs import cycles_to_ps, seconds_to_ps
from s2sim.hw.runtime import lazy_enabled
from s2sim.spec import encode_pe_id, load_spec

F0 = 150e6
IRQ = 12 + 10


class Slow(Program):
    """Handles each packet in `cycles` cycles and records (start, keys, payloads) per batch."""

    def __init__(self, cycles):
        self.cycles = cycles
        self.batches = []

    def on_packets(self, pe, keys, payloads):
        self.batches.append((pe.now_ps, keys.copy(), payloads.copy()))
        return np.full(len(keys), self.cycles, dtype=np.int64)


def _host_chip(spec, dst_prog, n_packets, payloads=None, t0=0):
    chip = Chip(spec)
    dst = encode_pe_id(2, 2, 0)
    chip.load(dst, dst_prog)
    chip.router.add(0x50, 0xFFFFFFF0, pes={dst})
    keys = 0x50 + (np.arange(n_packets) % 16)
    chip.inject(t0, keys, payloads, from_host=False)  # all enter at the router at t0
    return chip, dst


def test_packets_are_timed_serially_in_one_batch(spec):
    prog = Slow(100)
    chip, dst = _host_chip(spec, prog, 5, payloads=np.arange(10, dtype=np.uint32).reshape(5, 2))
    res = chip.run(ticks=1)
    assert len(prog.batches) == 1  # one on_packets call for the 5 packets
    start, keys, pay = prog.batches[0]
    assert keys.tolist() == [0x50, 0x51, 0x52, 0x53, 0x54]
    assert pay.shape == (5, 2) and pay[4].tolist() == [8, 9]
    c = res.counts
    i = chip.pe_index(dst)
    assert c.pe["packets_received"][i, 0] == 5
    assert c.pe["active_cycles"][i, 0] == 5 * (100 + IRQ)
    # each packet holds the PE for 122 cycles; packets arrive one flit time apart, far less
    assert c.pe["active_ps"][i, 0] == 5 * cycles_to_ps(122, F0)


def test_full_queue_drops_and_counts(spec):
    small = load_spec(overrides={"timing.packet_queue_depth": 4})
    prog = Slow(10_000)  # much slower than the arrivals
    chip, dst = _host_chip(small, prog, 10)
    res = chip.run(ticks=1)
    i = chip.pe_index(dst)
    # one packet running + 4 waiting; the other 5 find the queue full
    assert res.counts.pe["queue_full"][i, 0] == 5
    assert res.counts.pe["packets_received"][i, 0] == 5
    got = np.concatenate([b[1] for b in prog.batches]).tolist()
    assert got == [0x50, 0x51, 0x52, 0x53, 0x54]
    s = res.summary()
    assert s["queue_full"] == 5 and s["queue_full_pes"] == [dst]
    assert "queue_full: 5 packet(s)" in res.report() and not res.ok


def test_no_drop_when_queue_is_deep_enough(spec):
    prog = Slow(10_000)
    chip, dst = _host_chip(spec, prog, 10)
    res = chip.run(ticks=1)
    assert res.counts.total("queue_full") == 0 and res.ok and res.report() == ""
    assert res.counts.total("packets_received") == 10


class Overrun(Program):
    def __init__(self, cycles_tick0):
        self.cycles_tick0 = cycles_tick0
        self.starts = []

    def on_tick(self, pe, tick):
        self.starts.append(pe.now_ps)
        if tick == 0:
            pe.charge(self.cycles_tick0)


def test_tick_overrun_is_detected_per_pe_and_tick(spec):
    P = seconds_to_ps(spec.timing.tick_period_s.value)
    chip = Chip(spec)
    a, b = chip.pes[0], chip.pes[1]
    pa, pb = Overrun(225_000), Overrun(1000)  # 1.5 ticks at 150 MHz / well inside
    chip.load(a, pa)
    chip.load(b, pb)
    res = chip.run(ticks=4)
    ov = res.counts.pe["tick_overruns"]
    assert ov[0].tolist() == [1, 0, 0, 0] and ov[1].sum() == 0
    # tick 1 runs late, when tick 0's handler is done
    assert pa.starts[1] == cycles_to_ps(225_000 + IRQ, F0) and pb.starts[1] == P
    assert pa.starts[2] == 2 * P
    assert res.summary()["tick_overrun_pes"] == [a]
    # active time is split across the tick boundary
    assert res.counts.pe["active_ps"][0, :2].tolist() == [P, cycles_to_ps(225_022, F0) - P
                                                          + cycles_to_ps(IRQ, F0)]


def test_busy_at_end_of_run_counts_an_overrun(spec):
    chip = Chip(spec)
    chip.load(chip.pes[0], Overrun(10**6))
    res = chip.run(ticks=2)
    assert res.counts.pe["tick_overruns"][0].tolist() == [1, 1]


class Echo(Program):
    """Re-sends every packet's key + 0x100 right after handling that packet."""

    def on_packets(self, pe, keys, payloads):
        cyc = np.full(len(keys), 50, dtype=np.int64)
        pe.send(keys + 0x100, payloads, at_cycles=np.cumsum(cyc))
        return cyc


def test_send_at_cycles_inside_a_batch_maps_to_each_packet(spec):
    chip = Chip(spec)
    mid = encode_pe_id(2, 2, 0)
    sink_pe = encode_pe_id(2, 2, 1)
    chip.load(mid, Echo())
    sink = Slow(0)
    chip.load(sink_pe, sink)
    chip.router.add(0x50, 0xFFFFFFF0, pes={mid})
    chip.router.add(0x150, 0xFFFFFFF0, pes={sink_pe})
    chip.inject(0, [0x50, 0x51, 0x52], [[1], [2], [3]], from_host=False)
    res = chip.run(ticks=1)
    got = np.concatenate([b[1] for b in sink.batches]).tolist()
    assert got == [0x150, 0x151, 0x152]
    assert np.concatenate([b[2] for b in sink.batches]).ravel().tolist() == [1, 2, 3]
    assert res.counts.pe["packets_sent"][chip.pe_index(mid), 0] == 3
    # the first echo leaves after packet 0's 12 + 50 cycles, so the sink's first batch starts
    # before the middle PE has finished all three
    first_sink_start = sink.batches[0][0]
    mid_busy_ps = 3 * cycles_to_ps(50 + IRQ, F0)
    assert first_sink_start < mid_busy_ps


class Prio(Program):
    """Tick 0: a user event, a DMA and a self-sent packet all become due; records the order."""

    def __init__(self):
        self.log = []

    def on_tick(self, pe, tick):
        if tick == 0:
            pe.user_event("u")          # due at once
            pe.dma_read(4096, tag=7)    # done after 512 NoC cycles
            pe.charge(10_000)
            pe.send([0x9])              # leaves at the end of the handler

    def on_packets(self, pe, keys, payloads):
        self.log.append(("pk", pe.now_ps))
        return np.zeros(len(keys), dtype=np.int64)

    def on_dma_done(self, pe, tag):
        self.log.append(("dma", tag, pe.now_ps))

    def on_user_event(self, pe, arg):
        self.log.append(("user", arg, pe.now_ps))


def test_priorities_dma_and_user_events(spec):
    chip = Chip(spec)
    pid = chip.pes[0]
    prog = Prio()
    chip.load(pid, prog)
    chip.router.add(0x9, 0xFFFFFFFF, pes={pid})
    res = chip.run(ticks=1)
    # at the end of the tick the DMA (priority 2) and the user event (3) are both due; the DMA
    # runs first; the packet (1) arrives while it runs and goes next; the user event comes last
    end_tick = cycles_to_ps(10_000 + IRQ, F0)
    h = cycles_to_ps(IRQ, F0)
    assert prog.log == [("dma", 7, end_tick), ("pk", end_tick + h), ("user", "u", end_tick + 2 * h)]
    # the DMA of 4096 B takes 512 NoC cycles at 8 B/cycle (DRAM at 6.4 GB/s is faster)
    assert cycles_to_ps(12, F0) + cycles_to_ps(512, 300e6) < end_tick
    c = res.counts
    assert c.total("dma_bytes") == 4096 and c.total("dram_bytes") == 4096
    e = res.energy()
    assert e.components_j["dram"] == pytest.approx(4096 * spec.power.dram_energy_j_per_byte.value)
    assert e.components_j["sram"] == pytest.approx(4096 * spec.power.sram_energy_j_per_byte.value)


class Reporter(Program):
    def on_tick(self, pe, tick):
        pe.charge(100)
        pe.to_host(64, payload=("tick", tick))
        pe.count(macs=1000, sram_read_bytes=64, my_counter=3)


def test_to_host_and_counters(spec):
    chip = Chip(spec)
    chip.load(chip.pes[0], Reporter())
    res = chip.run(ticks=2)
    assert [r[1:] for r in res.host_rx] == [(chip.pes[0], 64, ("tick", 0)),
                                             (chip.pes[0], 64, ("tick", 1))]
    overhead = seconds_to_ps(spec.host.per_packet_overhead_s.value)
    assert res.host_rx[0][0] > overhead + cycles_to_ps(100, F0)
    c = res.counts
    assert c.total("macs") == 2000 and c.pl["macs"][0].tolist() == [2000, 0]
    assert c.total("my_counter") == 6 and c.total("host_tx_bytes") == 128
    assert res.energy().components_j["mla"] == pytest.approx(
        2000 * spec.performance_levels[0].mla_energy_j_per_mac.value)


class BadReturn(Program):
    def on_packets(self, pe, keys, payloads):
        return [1]


class BadCount(Program):
    def on_tick(self, pe, tick):
        pe.count(active_cycles=5)


class BadPayload(Program):
    def on_tick(self, pe, tick):
        pe.send([1], np.zeros((1, 3), dtype=np.uint32))


def test_program_mistakes_are_one_line_errors(spec):
    chip, _ = _host_chip(spec, BadReturn(), 2)
    with pytest.raises(S2SimError, match=r"on_packets must return int cycles of shape \(2,\)"):
        chip.run(ticks=1)
    chip = Chip(spec)
    chip.load(chip.pes[0], BadCount())
    with pytest.raises(S2SimError, match="'active_cycles' is booked by the runtime"):
        chip.run(ticks=1)
    chip = Chip(spec)
    chip.load(chip.pes[0], BadPayload())
    chip.router.add(1, 0xFFFFFFFF, pes={chip.pes[1]})
    with pytest.raises(S2SimError, match="payload of 3 32-bit words"):
        chip.run(ticks=1)
    with pytest.raises(S2SimError, match="outside a handler"):
        chip.pe(chip.pes[0]).charge(5)


def test_unloaded_destinations_are_dropped_and_counted(spec):
    chip = Chip(spec)
    chip.router.add(0x50, 0xFFFFFFF0, pes={chip.pes[0], chip.pes[1]})
    chip.load(chip.pes[0], Slow(1))
    chip.inject(0, [0x50, 0x51])
    res = chip.run(ticks=1)
    assert res.counts.total("packets_received") == 2
    assert res.summary()["dropped_to_off_pes"] == 2


def test_host_injection_pays_ethernet_and_overhead(spec):
    prog = Slow(0)
    chip, _ = _host_chip(spec, prog, 1)
    chip2 = Chip(spec)
    dst = encode_pe_id(2, 2, 0)
    prog2 = Slow(0)
    chip2.load(dst, prog2)
    chip2.router.add(0x50, 0xFFFFFFF0, pes={dst})
    chip2.inject(0, [0x50])  # from the host
    chip.run(ticks=1)
    chip2.run(ticks=1)
    eth_ps = cycles_to_ps(32, 1e9)  # a 4-byte key at 1 Gbit/s
    overhead = seconds_to_ps(spec.host.per_packet_overhead_s.value)
    direct = prog.batches[0][0]
    via_host = prog2.batches[0][0]
    assert via_host - direct > eth_ps + overhead
    assert via_host - direct < eth_ps + overhead + 20 * cycles_to_ps(5, 300e6)


def test_packets_left_at_the_end_are_counted_as_undelivered(spec):
    prog = Slow(0)
    chip, _ = _host_chip(spec, prog, 3, t0=10**9 - 1000)  # arrive after the 1 ms run ends
    chip.inject(5 * 10**9, [0x50])                        # injected after the end
    res = chip.run(ticks=1)
    assert res.counts.total("packets_received") == 0
    assert res.summary()["undelivered_at_end"] == 4


class KeyCost(Program):
    """Handler cycles depend on the key; records every handled key in order."""

    def __init__(self):
        self.keys = []

    def on_packets(self, pe, keys, payloads):
        self.keys += keys.tolist()
        return (keys.astype(np.int64) % 16) * 37


class KnownKeyCost(KeyCost):
    """KeyCost that states its cycles beforehand (Program.packet_cycles)."""

    def packet_cycles(self, tick, keys, payloads):
        return (keys.astype(np.int64) % 16) * 37


@settings(max_examples=25, deadline=None)
@given(gaps=st.lists(st.integers(min_value=4_000, max_value=900_000), min_size=1, max_size=40),
       keys=st.lists(st.integers(min_value=0, max_value=15), min_size=40, max_size=40),
       depth=st.integers(min_value=1, max_value=6), burst=st.booleans(), lazy=st.booleans(),
       known=st.booleans())
def test_queue_and_serial_timing_match_a_packet_by_packet_reference(gaps, keys, depth, burst,
                                                                    lazy, known):
    """Spread: one injection per time (many small batches). Burst: all at one instant, so the
    PE gets one big batch that the queue scan must split exactly. Lazy: the PE (no timer) takes
    every packet in the end sweep, as one batch the scan splits. Known: the program states its
    cycles beforehand, so a lazy batch's drops are decided in one pass (queue_time)."""
    spec = load_spec(overrides={"timing.packet_queue_depth": depth})
    chip = Chip(spec)
    dst = encode_pe_id(4, 2, 0)  # one hop south of the event router
    prog = KnownKeyCost() if known else KeyCost()
    prog.lazy_packets = lazy
    chip.load(dst, prog)
    chip.router.add(0x50, 0xFFFFFFF0, pes={dst})
    flit_ps = cycles_to_ps(1, 300e6)
    if burst:
        keys = keys[:len(gaps)]
        chip.inject(1000, [0x50 + k for k in keys], from_host=False)
        # the first link out of the router serialises them one flit time apart
        times = [1000 + i * flit_ps for i in range(len(keys))]
    else:
        times = np.cumsum(gaps).tolist()
        for t, k in zip(times, keys, strict=False):
            chip.inject(t, [0x50 + k], from_host=False)  # >= 1 flit time apart: no contention
    res = chip.run(ticks=1)
    # reference: one packet at a time, FIFO, drop when `depth` packets wait
    latency = cycles_to_ps(4, 400e6) + cycles_to_ps(5, 300e6)
    accepted, starts, end, drops = [], [], 0, 0
    for t, k in zip(times, keys, strict=False):
        a = t + latency
        if sum(s > a for s in starts) >= depth:
            drops += 1
            continue
        s = max(a, end)
        end = s + cycles_to_ps((k % 16) * 37 + IRQ, F0)
        starts.append(s)
        accepted.append(0x50 + k)
    assert prog.keys == accepted
    assert res.counts.total("queue_full") == drops
    busy = res.counts.total("active_ps")
    assert busy == sum(cycles_to_ps((k - 0x50) * 37 + IRQ, F0) for k in accepted)


# -- lazy packet batches (Program.lazy_packets; docs/chip.md "Packet batches") ---------------


class Talker(Program):
    """Each tick: sends `n` packets spread over the handler (and more from a user event)."""

    def __init__(self, key, n):
        self.key, self.n = key, n

    def on_tick(self, pe, tick):
        pe.charge(300 + 41 * self.key)
        at = (np.arange(self.n) * (17 + self.key)) % 300
        pe.send(np.full(self.n, self.key), np.full((self.n, 1), tick, np.uint32), at_cycles=at)
        pe.user_event("more", delay_cycles=5_000 + 997 * self.key)

    def on_user_event(self, pe, arg):
        pe.charge(50)
        pe.send([self.key, self.key], np.array([[7], [8]], np.uint32))


class Listener(Program):
    """Records the packets in handling order; its tick reports how many it has seen so far."""

    def __init__(self, lazy, cycles=40):
        self.lazy_packets = lazy
        self.cycles = cycles
        self.order = []
        self.calls = 0
        self.tick_log = []

    def on_tick(self, pe, tick):
        self.tick_log.append((tick, pe.now_ps, len(self.order)))
        pe.charge(100)
        if tick % 2:
            pe.user_event("late", delay_cycles=20_000)

    def on_packets(self, pe, keys, payloads):
        self.calls += 1
        self.order += list(zip(keys.tolist(), payloads[:, 0].tolist(), strict=True))
        pe.count(synaptic_events=len(keys))
        return self.cycles + (keys.astype(np.int64) * 13) % 29

    def on_user_event(self, pe, arg):
        self.tick_log.append((arg, pe.now_ps, len(self.order)))
        pe.charge(30)


def _talk(spec, lazy, n_talkers=24, n=6, cycles=40, ticks=5):
    chip = Chip(spec)
    listeners = []
    for i, pid in enumerate(chip.pes[:n_talkers]):
        chip.load(pid, Talker(i, n))
    for pid in chip.pes[n_talkers:n_talkers + 3]:
        lst = Listener(lazy, cycles)
        listeners.append(lst)
        chip.load(pid, lst)
    dests = set(chip.pes[n_talkers:n_talkers + 3])
    for i in range(n_talkers):
        chip.router.add(i, 0xFFFFFFFF, pes=dests)
    return chip.run(ticks=ticks), listeners


@pytest.mark.parametrize("cycles", [40, 500])
def test_lazy_batches_time_every_packet_as_at_its_arrival(spec, cycles):
    # 500 cycles per packet keeps the listeners busy for most of each tick (no overrun)
    eager, le = _talk(spec, False, cycles=cycles)
    lazy, ll = _talk(spec, True, cycles=cycles)
    for a, b in zip(le, ll, strict=True):
        assert a.order == b.order          # same packets, same handling order
        assert a.tick_log == b.tick_log    # ticks and user events see the same history
        assert b.calls < a.calls           # ... in fewer on_packets calls
    for group in ("pe", "pl", "noc"):
        d1, d2 = getattr(eager.counts, group), getattr(lazy.counts, group)
        for k in d1:
            assert np.array_equal(d1[k], d2[k]), (group, k)
    assert eager.counts.undelivered == lazy.counts.undelivered
    assert eager.counts.total("packets_received") > 0
    assert lazy.ok


def test_lazy_batches_in_overload_run_packets_before_the_tick_they_precede(spec):
    # 3_000 cycles per packet: more work than a tick holds (documented approximation: every
    # packet that arrived before tick T runs before tick T's handler)
    res, ls = _talk(spec, True, cycles=3_000)
    c = res.counts
    assert c.total("tick_overruns") > 0
    assert (c.total("packets_received") + c.total("queue_full") + c.undelivered
            == c.total("deliveries"))
    P = 10**9
    for lst in ls:
        for tick, t_ps, seen in lst.tick_log:
            if isinstance(tick, int) and tick > 0:
                # all packets sent in earlier ticks arrived before this tick and were taken
                assert seen >= 48 * min(tick, 2) and t_ps >= tick * P


def test_lazy_batches_keep_queue_full_drops_exact(spec):
    small = load_spec(overrides={"timing.packet_queue_depth": 8})
    eager, le = _talk(small, False, n=12, cycles=200)
    lazy, ll = _talk(small, True, n=12, cycles=200)
    assert eager.counts.total("queue_full") > 0
    assert np.array_equal(eager.counts.pe["queue_full"], lazy.counts.pe["queue_full"])
    assert [x.order for x in le] == [x.order for x in ll]


class KnownListener(Listener):
    """Listener that states its cycles beforehand (Program.packet_cycles)."""

    def packet_cycles(self, tick, keys, payloads):
        return self.cycles + (keys.astype(np.int64) * 13) % 29


def _talk_known(spec, n=12, cycles=200):
    chip = Chip(spec)
    for i, pid in enumerate(chip.pes[:24]):
        chip.load(pid, Talker(i, n))
    listeners = [KnownListener(True, cycles) for _ in range(3)]
    for pid, lst in zip(chip.pes[24:27], listeners, strict=True):
        chip.load(pid, lst)
    for i in range(24):
        chip.router.add(i, 0xFFFFFFFF, pes=set(chip.pes[24:27]))
    return chip.run(ticks=5), listeners


@pytest.mark.parametrize("cycles", [200, 3_000])
def test_known_cycles_decide_a_lazy_batch_in_one_call_with_the_same_drops(cycles):
    """A lazy program with packet_cycles: the same packets, order, drops and counts as the
    piecewise path (200 cycles: drops within a tick; 3,000: overload, batches across ticks,
    where the loop falls back to the piecewise path)."""
    small = load_spec(overrides={"timing.packet_queue_depth": 8})
    lazy, ll = _talk(small, True, n=12, cycles=cycles)
    known, lk = _talk_known(small, n=12, cycles=cycles)
    assert lazy.counts.total("queue_full") > 0
    assert [x.order for x in ll] == [x.order for x in lk]
    assert [x.tick_log for x in ll] == [x.tick_log for x in lk]
    for group in ("pe", "pl", "noc"):
        d1, d2 = getattr(lazy.counts, group), getattr(known.counts, group)
        for k in d1:
            assert np.array_equal(d1[k], d2[k]), (group, k)
    assert sum(x.calls for x in lk) < sum(x.calls for x in ll)


class LyingListener(KnownListener):
    def packet_cycles(self, tick, keys, payloads):
        return super().packet_cycles(tick, keys, payloads) + 1


def test_packet_cycles_that_disagree_with_on_packets_are_an_error():
    small = load_spec(overrides={"timing.packet_queue_depth": 8})
    chip = Chip(small)
    for i, pid in enumerate(chip.pes[:24]):
        chip.load(pid, Talker(i, 12))
    chip.load(chip.pes[24], LyingListener(True, 200))
    for i in range(24):
        chip.router.add(i, 0xFFFFFFFF, pes={chip.pes[24]})
    with pytest.raises(S2SimError, match="other cycles than its packet_cycles"):
        chip.run(ticks=5)


def test_timer_programs_are_lazy_by_default_and_the_end_sweep_takes_late_packets(spec):
    chip = Chip(spec)
    src, dst = chip.pes[0], chip.pes[1]
    lst = Listener(None)
    chip.load(dst, lst)
    assert lazy_enabled(lst)
    chip.router.add(0x7, 0xFFFFFFFF, pes={dst})
    P = chip.tick_period_ps
    chip.inject(P + P // 2, [0x7, 0x7], np.ones((2, 1), np.uint32), from_host=False)  # late
    res = chip.run(ticks=2)
    assert len(lst.order) == 2 and lst.calls == 1
    assert res.counts.pe["packets_received"][chip.pe_index(dst), 1] == 2
    assert chip.pe(src).program is None


class LazySender(Program):
    lazy_packets = True

    def on_tick(self, pe, tick):
        pass

    def on_packets(self, pe, keys, payloads):
        pe.send([0x3])
        return np.zeros(len(keys), dtype=np.int64)


def test_lazy_on_packets_that_sends_is_refused(spec):
    chip = Chip(spec)
    pid = chip.pes[0]
    chip.load(pid, LazySender())
    chip.router.add(0x2, 0xFFFFFFFF, pes={pid})
    chip.router.add(0x3, 0xFFFFFFFF, pes={chip.pes[1]})
    chip.inject(0, [0x2], from_host=False)
    with pytest.raises(S2SimError, match="lazy_packets = False"):
        chip.run(ticks=2)


# -- the firmware facade exposes only the documented API (docs/design.md, "PE runtime") --------

FIRMWARE_API = {"pe_id", "index", "qpe", "spec", "now_ps", "tick", "pl", "frequency_hz", "charge",
                "send", "count", "sram", "dma_read", "dma_write", "to_host", "user_event",
                "set_pl", "program"}


def test_the_pe_facade_has_no_public_name_outside_the_documented_api():
    from s2sim.hw.runtime import PE
    assert {n for n in dir(PE) if not n.startswith("_")} == FIRMWARE_API


class Snooper(Program):
    """Touches something that is not firmware API in its tick handler."""

    def __init__(self, how):
        self.how = how

    def on_tick(self, pe, tick):
        self.how(pe)


def _set_pl_directly(pe):
    pe.pl = 1


def _stash_state(pe):
    pe.my_state = 1


@pytest.mark.parametrize("how", [lambda pe: pe.service(), lambda pe: pe.busy_until,
                                 _set_pl_directly, _stash_state])
def test_a_program_touching_anything_else_fails(spec, how):
    chip = Chip(spec)
    pe = chip.load(chip.pes[0], Snooper(how))
    assert (pe.pe_id, pe.index, pe.qpe) == (chip.pes[0], 0, spec.qpe_of(chip.pes[0]))
    with pytest.raises(AttributeError):
        chip.run(ticks=1)
