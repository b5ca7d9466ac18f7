import numpy as np
import pytest

from s2sim.errors import RoutingError
from s2sim.hw import Chip, Program
from s2sim.hw.router import RoutingTable


def test_first_match_wins():
    t = RoutingTable(16, [1, 2, 3], chip_links=6)
    t.add(0x100, 0xFFFFFF00, pes={1})
    t.add(0x120, 0xFFFFFFF0, pes={2})   # never reached for 0x12x: the entry above matches first
    t.add(0x0, 0x0, pes={3}, links={5})  # catch-all
    assert t.lookup(0x123).pes == {1}
    assert t.lookup(0x7).pes == {3} and t.lookup(0x7).links == {5}
    assert t.match(0x120) == 0


def test_table_limit_is_16384_entries(spec):
    chip = Chip(spec)
    assert chip.router.capacity == 16_384
    pe = chip.pes[0]
    for k in range(16_384):
        chip.router.add(k, 0xFFFFFFFF, pes={pe})
    with pytest.raises(RoutingError) as exc:
        chip.router.add(16_384, 0xFFFFFFFF, pes={pe})
    msg = str(exc.value)
    assert "routing table full" in msg and "16,385" in msg and "16,384" in msg


def test_bad_entries():
    t = RoutingTable(4, [1], chip_links=6)
    with pytest.raises(RoutingError, match="bits outside mask"):
        t.add(0x1FF, 0xFFFFFF00, pes={1})
    with pytest.raises(RoutingError, match=r"PE id\(s\) \[9\]"):
        t.add(0x1, 0xFFFFFFFF, pes={9})
    with pytest.raises(RoutingError, match=r"chip link\(s\) \[6\]"):
        t.add(0x1, 0xFFFFFFFF, links={6})
    with pytest.raises(RoutingError, match="32-bit"):
        t.add(-1, 0xFFFFFFFF, pes={1})


class SendKey(Program):
    def __init__(self, key):
        self.key = key

    def on_tick(self, pe, tick):
        pe.send(np.array([self.key], dtype=np.uint32))


def test_unroutable_key_names_key_and_sender(spec):
    chip = Chip(spec)
    src = chip.pes[10]
    chip.load(src, SendKey(0xDEAD))
    chip.router.add(0xBEEF, 0xFFFFFFFF, pes={chip.pes[0]})
    with pytest.raises(RoutingError) as exc:
        chip.run(ticks=1)
    msg = str(exc.value)
    assert "0x0000dead" in msg and f"PE {src:#04x}" in msg and "matches no routing entry" in msg


def test_unroutable_host_key_fails_before_the_run(spec):
    chip = Chip(spec)
    chip.inject(0, [0x42])
    with pytest.raises(RoutingError, match="0x00000042 sent by host"):
        chip.run(ticks=1)


def test_chip_link_routes_are_counted(spec):
    chip = Chip(spec)
    chip.load(chip.pes[0], SendKey(0x7))
    chip.router.add(0x7, 0xFFFFFFFF, links={2})
    res = chip.run(ticks=3)
    assert res.counts.link_packets_per_link.tolist() == [0, 0, 3, 0, 0, 0]
    assert [x[1:] for x in res.link_tx] == [(2, 7)] * 3
    assert res.energy().components_j["chip_links"] == pytest.approx(
        3 * spec.links.link_packet_bits.value * spec.links.link_energy_j_per_bit.value)


def test_a_key_routes_by_the_bits_the_entries_look_at():
    rng = np.random.default_rng(8)
    t = RoutingTable(64, pe_ids=[0, 1], chip_links=6)
    for mask in (0xFF000000, 0xFFFF0000, 0xFF00FF00):
        for _ in range(6):
            t.add(int(rng.integers(0, 1 << 32)) & mask, mask, pes={0})
    bits = t.key_bits()
    assert bits == 0xFFFFFF00
    for k in rng.integers(0, 1 << 32, 300).tolist() + [e.key | 0xAB for e in t.entries]:
        assert t.match(k) == t.match(k & bits)


def test_first_unroutable_key_of_a_send_is_named(spec):
    chip = Chip(spec)
    chip.load(chip.pes[10], SendKeys([0x01000005, 0x02000007, 0x01000009, 0x03000001]))
    chip.router.add(0x01000000, 0xFF000000, pes={chip.pes[0]})
    with pytest.raises(RoutingError, match="0x02000007"):
        chip.run(ticks=1)


class SendKeys(Program):
    def __init__(self, keys):
        self.keys = keys

    def on_tick(self, pe, tick):
        pe.send(np.array(self.keys, dtype=np.uint32))
