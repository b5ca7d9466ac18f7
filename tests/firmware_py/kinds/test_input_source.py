"""The input-source kind: its core pools host values per parity, its host protocol packs four
values per packet and skips all-zero groups."""

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import decode
from firmware_py.kinds.input_source import (
    HOST_VALUES_PER_PACKET,
    InputCore,
    estimate_cycles,
    host_packet_groups,
    host_packets,
    host_packets_per_step,
    regions,
)
from s2sim.spec import load_spec


def test_input_core_pools_and_clears():
    c = InputCore(4)
    c.receive(np.array([1, 1, 1]), np.array([2, 2, 0]), np.array([1.0, 0.5, -1.0], np.float32))
    idx, vals = c.emit(1)
    assert list(idx) == [0, 2] and list(vals) == [-1.0, 1.5]
    assert c.emit(1)[0].size == 0


def test_host_packets_skip_zero_groups():
    xs = np.zeros((2, 10), np.float32)
    xs[0, 1] = 1.0
    xs[0, 9] = 2.0
    groups = host_packet_groups(xs)
    assert groups.shape == (2, 3, HOST_VALUES_PER_PACKET)
    assert list(host_packets_per_step(xs)) == [2, 0]
    keys, payloads = host_packets(0, groups[0])
    _, _, parity, elem = decode(keys)
    assert list(elem) == [0, 8] and list(parity) == [0, 0]
    assert payloads.view(np.float32)[1, 1] == 2.0
    assert host_packets(1, groups[1])[0].size == 0


def test_regions_and_estimate():
    cm = CostModel(load_spec())
    r = regions(10, 16)
    assert set(r) == {"frame", "dirty", "config"} and all(v % 16 == 0 for v in r.values())
    assert estimate_cycles(cm, 10, 1.0) - estimate_cycles(cm, 10, 0.0) == 10 * cm.c("input_send")
