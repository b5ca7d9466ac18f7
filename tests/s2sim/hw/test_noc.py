import numpy as np

from s2sim.hw import Chip, Program
from s2sim.hw.dvfs import cycles_to_ps
from s2sim.hw.noc import EAST, NORTH, Mesh, Noc
from s2sim.spec import encode_pe_id


def test_xy_paths_go_x_first():
    m = Mesh([(0, 0), (7, 6)])
    p = m.path((1, 1), (3, 3))
    assert p == [m.link(1, 1, EAST), m.link(2, 1, EAST), m.link(3, 1, NORTH),
                 m.link(3, 2, NORTH)]
    assert m.path((3, 3), (3, 3)) == []
    assert len(m.path((6, 5), (1, 1))) == m.hops((6, 5), (1, 1)) == 9


class Sender(Program):
    """On tick 0 sends `keys` right after interrupt entry (at_cycles=0)."""

    def __init__(self, keys):
        self.keys = keys

    def on_tick(self, pe, tick):
        if tick == 0:
            pe.send(np.array(self.keys, dtype=np.uint32), at_cycles=0)


class Recorder(Program):
    def __init__(self):
        self.arrivals = []

    def on_packets(self, pe, keys, payloads):
        # the PE is idle, so the batch starts at the arrival of its first packet
        self.arrivals.append(pe.now_ps)
        return np.zeros(len(keys), dtype=np.int64)


def _latency_to(spec, src, dst_qpe):
    chip = Chip(spec)
    dst = encode_pe_id(*dst_qpe, 1)
    chip.load(src, Sender([1]))
    rec = Recorder()
    chip.load(dst, rec)
    chip.router.add(1, 0xFFFFFFFF, pes={dst})
    chip.run(ticks=1)
    assert len(rec.arrivals) == 1
    return rec.arrivals[0]


def test_latency_grows_by_5_noc_cycles_per_hop(spec):
    hop_ps = cycles_to_ps(5, 300e6)
    src = encode_pe_id(3, 3, 0)   # one hop west of the event router at (4, 3)
    send_ps = cycles_to_ps(12, 150e6)  # after interrupt entry at PL0
    lookup_ps = cycles_to_ps(4, 400e6)
    # destinations west of the router along y = 3 (1, 2, 3 hops), then away along y
    for dst, hops_out in [((3, 3), 1), ((2, 3), 2), ((1, 3), 3), ((1, 2), 4), ((1, 1), 5)]:
        t = _latency_to(spec, src, dst)
        assert t == send_ps + 1 * hop_ps + lookup_ps + hops_out * hop_ps, dst
    # and through the gap above the router: (4, 3) -> (4, 4) -> (4, 5) -> (4, 6)
    t5 = _latency_to(spec, src, (4, 5))
    t6 = _latency_to(spec, src, (4, 6))
    assert t6 - t5 == hop_ps


def test_two_packets_contending_for_a_link_are_serialised(spec):
    # Two PEs of QPE (1,1) send at the same time; their flits share the XY path to the router and
    # each goes to its own PE of QPE (6,6). The second must wait one flit time on the first link.
    flit_ps = cycles_to_ps(1, 300e6)
    chip = Chip(spec)
    a, b = encode_pe_id(1, 1, 0), encode_pe_id(1, 1, 1)
    da, db = encode_pe_id(6, 6, 0), encode_pe_id(6, 6, 1)
    chip.load(a, Sender([10]))
    chip.load(b, Sender([11]))
    ra, rb = Recorder(), Recorder()
    chip.load(da, ra)
    chip.load(db, rb)
    chip.router.add(10, 0xFFFFFFFF, pes={da})
    chip.router.add(11, 0xFFFFFFFF, pes={db})
    chip.run(ticks=1)
    alone = _latency_to(spec, a, (6, 6))
    assert ra.arrivals == [alone]
    assert rb.arrivals == [alone + flit_ps]


def test_noc_reservations_directly(spec):
    noc = Noc(spec, spec.pe_ids())
    pes = spec.pe_ids()
    from s2sim.hw.router import RouteEntry
    idx = {p: i for i, p in enumerate(pes)}
    # multicast to all 4 PEs of two QPEs: one flit per destination QPE, 4 deliveries each
    dests = {encode_pe_id(1, 1, p) for p in range(4)} | {encode_pe_id(6, 6, p) for p in range(4)}
    r = noc.compile_route(RouteEntry(1, 0xFFFFFFFF, frozenset(dests), frozenset()), idx)
    assert len(r.flit_nodes) == 2 and len(r.deliv_pe) == 8
    src_i = idx[encode_pe_id(2, 2, 0)]
    t = np.array([0, 0], dtype=np.int64)
    out = noc.multicast(t, noc.pe_node[[src_i, src_i]], np.array([noc.inj_base + src_i] * 2),
                        np.array([0, 0]))
    router_ps, dpk, dpe, dps, hops, flits = out
    # the second packet waits one flit time at the shared injection port
    assert router_ps[1] - router_ps[0] == cycles_to_ps(1, 300e6)
    assert dpk.tolist() == [0] * 8 + [1] * 8
    assert flits.tolist() == [3, 3]
    # hops: (2,2)->(4,3) = 3, router->(1,1) = 5, router->(6,6) = 5
    assert hops.tolist() == [13, 13]
    # the 4 PEs of one QPE get the same flit, so the same arrival time
    assert len(set(dps[:4].tolist())) == 1


def test_expand_deliveries_matches_the_numpy_expansion():
    from s2sim.hw.noc import _expand_deliveries

    rng = np.random.default_rng(3)
    n_routes = 5
    nflits = rng.integers(1, 4, n_routes)
    ndeliv = rng.integers(0, 5, n_routes)
    rd = np.concatenate([[0], np.cumsum(ndeliv)]).astype(np.int64)
    dflit = np.concatenate([rng.integers(0, f, d) for f, d in zip(nflits, ndeliv,
                                                                       strict=True)]).astype(
        np.int64)
    dpe_of = rng.integers(0, 152, int(rd[-1])).astype(np.int64)
    rid = rng.integers(0, n_routes, 40).astype(np.int64)
    nf = nflits[rid]
    out_flit = rng.integers(0, 10**6, int(nf.sum())).astype(np.int64)
    # the numpy expansion it replaced
    dcount = rd[rid + 1] - rd[rid]
    pk = np.repeat(np.arange(rid.size), dcount)
    src = np.repeat(rd[rid] - (np.cumsum(dcount) - dcount), dcount) + np.arange(dcount.sum())
    ps = out_flit[np.repeat(np.cumsum(nf) - nf, dcount) + dflit[src]]
    got = _expand_deliveries(rid, rd, dflit, dpe_of, nflits.astype(np.int64), out_flit)
    assert [g.tolist() for g in got] == [pk.tolist(), dpe_of[src].tolist(), ps.tolist()]
