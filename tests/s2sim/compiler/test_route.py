"""The route stage (s2sim.compiler.route), called directly: destinations, compression, table."""

import numpy as np
import pytest

from firmware_py import keys as K
from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.compiler.route import (
    Route,
    check_table,
    compress_routes,
    route_network,
    slice_routes,
)
from s2sim.errors import RoutingError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30, 24), n_in=20, density=0.15, seed=31)  # `net` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, spec_overrides=SMALL_SRAM, placer="random", seed=4)


def _parts(m):
    return [[np.asarray(s.units, np.int64) for s in m.layer_slices(i)] for i in range(m.n_layers)]


def _key_of(m):
    return {s.id: s.key_base for s in m.slices if s.key_base is not None}


def _consumers(net, m, sender) -> set[int]:
    """PEs of the slices holding a nonzero weight of one of the sender's units (brute force)."""
    L = len(net.layers)
    if sender.kind == "input":
        rows, targets = np.arange(net.input.n_out), [(0, net.layers[0].W)]
    else:
        i = sender.layer
        rows = np.asarray(sender.units)
        targets = [(i, net.layers[i].R)] + ([(i + 1, net.layers[i + 1].W)] if i + 1 < L else [])
    pes = set()
    for layer, M in targets:
        H = net.layers[layer].hidden
        for s in m.layer_slices(layer):
            U = np.asarray(s.units)
            cols = np.concatenate([U, H + U, 2 * H + U])
            if np.any(M[np.ix_(rows, cols)] != 0):
                pes.add(m.placement[s.id])
    if sender.kind == "egru" and sender.layer == L - 1:
        pes.add(m.placement["readout"])
    return pes


def test_each_route_reaches_exactly_the_consumers_of_its_events(net, mapping):
    m = mapping
    routes = slice_routes(net, _parts(m), _key_of(m), m.placement)
    by_src = {r.sources[0]: r for r in routes}
    assert by_src["host"].pes == (m.placement["input"],)
    senders = [s for s in m.slices if s.kind != "readout"]
    for s in senders:
        want = _consumers(net, m, s)
        if want:
            assert set(by_src[s.id].pes) == want, s.id
            assert by_src[s.id].key == s.key_base and by_src[s.id].mask == K.SLICE_ENTRY_MASK
        else:
            assert s.id not in by_src


def _first_match(routes, key):
    for r in routes:
        if (key & r.mask) == (r.key & r.mask):
            return r
    return None


def test_compression_keeps_the_destinations_of_every_used_key(net, mapping):
    m = mapping
    routes = slice_routes(net, _parts(m), _key_of(m), m.placement)
    compressed = compress_routes(routes)
    assert len(compressed) <= len(routes)
    by_id = {s.id: s for s in m.slices}
    for r in routes:
        src = r.sources[0]
        units = [0] if src == "host" else range(len(by_id[src].units))
        for u in units:
            for parity in (0, 1):
                key = int(K.make_keys(r.key, np.array([u]), parity)[0])
                hit = _first_match(compressed, key)
                assert hit is not None and hit.pes == r.pes, (src, u, parity)
                assert src in hit.sources


def test_compression_merges_equal_destinations_over_unused_indices():
    src = K.egru_src(0)
    routes = [Route(K.key_base(src, 0), K.SLICE_ENTRY_MASK, [5], ["L0.S0"]),
              Route(K.key_base(src, 2), K.SLICE_ENTRY_MASK, [5], ["L0.S2"])]
    (one,) = compress_routes(routes)  # no other index is used: "don't care"
    assert one.pes == (5,) and one.sources == ("L0.S0", "L0.S2")
    assert one.mask == 0xFF000000 and one.key == K.key_base(src, 0)  # all 256 indices
    # a slice with other destinations in between splits the block
    routes.append(Route(K.key_base(src, 1), K.SLICE_ENTRY_MASK, [6], ["L0.S1"]))
    out = compress_routes(routes)
    for r in routes:
        assert _first_match(out, r.key).pes == r.pes
    assert len(out) == 3
    # entries of other masks (the host channel) pass through unchanged
    host = Route(K.key_base(K.HOST_SRC, 0), 0xFF000000, [1], ["host"])
    assert host in compress_routes([host] + routes)


def test_table_overflow_raises_routing_error(net, mapping):
    check_table(4, 9, 4)
    with pytest.raises(RoutingError, match=r"5 entries after compression \(9 before\), the "
                                           "router holds 4"):
        check_table(5, 9, 4)
    from s2sim.spec import load_spec

    tiny = load_spec(overrides={**SMALL_SRAM, "router.table_entries": 1})
    infos = [s.model_copy(deep=True) for s in mapping.slices]
    with pytest.raises(RoutingError, match="router holds 1"):
        route_network(net, _parts(mapping), infos, mapping.placement, tiny)


def test_a_slice_nobody_consumes_loses_its_key():
    net = random_network(sizes=(20, 10), n_in=8, density=0.4, seed=2)
    dead = np.arange(10, 20)  # units of L0.S1 under the halves partitioner
    net.layers[0].R[dead, :] = 0
    net.layers[1].W[dead, :] = 0
    m = compile_network(net, partitioner=lambda v: np.array_split(np.arange(v.hidden), 2))
    assert m.slice("L0.S1").key_base is None
    assert m.slice("L0.S0").key_base is not None
    assert all("L0.S1" not in r.sources for r in m.routes)
    rerouted = route_network(net, _parts(m), [s.model_copy(deep=True) for s in m.slices],
                             m.placement, m.load_spec())
    assert [(r.key, r.mask, list(r.pes)) for r in rerouted.routes] == [
        (r.key, r.mask, r.pes) for r in m.routes]
    assert rerouted.routes_before == m.routes_before
