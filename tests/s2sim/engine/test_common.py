"""What the engines share (s2sim.engine.common): input preparation, activity metrics on a
hand-made case, the oracle comparison, NoC geometry, per-PE totals and the host link."""

import dataclasses

import numpy as np
import pytest

from firmware_py.kinds.input_source import HOST_PACKET_BYTES, host_packets_per_step
from models.egru.reference import EGRULayer
from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import InputSource, Network, Readout
from s2sim.compiler.random_net import random_network
from s2sim.engine.common import (
    PE_SUMMARY_FIELDS,
    PreparedRun,
    activity_metrics,
    compare_with_oracle,
    host_link,
    packets_and_hops,
    pe_totals,
    prepare_run,
    route_geometry,
    slice_events,
)
from s2sim.engine.functional import run_functional
from s2sim.engine.result import HostWork
from s2sim.errors import S2SimError
from s2sim.spec.models import decode_pe_id

NET = dict(sizes=(24, 18), n_in=10, density=0.35, seed=81, readout_out=2)  # `net` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, placer="random", seed=5)
INPUTS = dict(seed=2, steps=6)  # `xs` (conftest)


def _tiny_network() -> Network:
    """1 layer, 2 inputs, 2 units; W rows hold 3 and 2 nonzeros, R rows 1 and 4."""
    W = np.zeros((2, 6), np.float32)
    W[0, [0, 2, 4]] = 1
    W[1, [1, 5]] = 1
    R = np.zeros((2, 6), np.float32)
    R[0, 3] = 1
    R[1, [0, 1, 2, 3]] = 1
    z = np.zeros(6, np.float32)
    layer = EGRULayer(W, R, z, z.copy(), np.full(2, 0.1, np.float32))
    return Network(layers=[layer], input=InputSource(2), readout=Readout(2))


def test_activity_metrics_on_a_hand_made_case():
    xs = np.array([[1, 0], [0, 0], [2, 3]], np.float32)
    ys = [np.array([[0.5, 0], [0, 0], [0.1, 0.2]], np.float32)]
    run = PreparedRun(mapping=None, network=_tiny_network(), spec=None, xs=xs, tokens=None)
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    assert events.tolist() == [[1], [0], [2]]
    assert in_events.tolist() == [1, 0, 2]
    assert sparsity == [0.5]
    # step 0: input 0 (3 W nonzeros); step 1: unit 0 of step 0 (1 R nonzero); step 2: both
    # inputs (3 + 2), no unit fired at step 1
    assert eff.tolist() == [3, 1, 5]
    assert dense == 3 * 2 * (2 + 2)


def test_prepare_run_refuses_bad_inputs(net, mapping):
    with pytest.raises(S2SimError, match="token ids given, but network 'random' has no embedding"):
        prepare_run(mapping, np.arange(3), network=net)
    with pytest.raises(S2SimError, match=r"shape \(3, 4\), the network takes 10 inputs"):
        prepare_run(mapping, np.zeros((3, 4), np.float32), network=net)
    with pytest.raises(S2SimError, match="no steps"):
        prepare_run(mapping, np.zeros((0, 10), np.float32), network=net)
    bad = np.zeros((2, 10), np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(S2SimError, match="NaN or infinity"):
        prepare_run(mapping, bad, network=net)
    with pytest.raises(S2SimError, match="give token ids"):
        prepare_run(mapping, np.zeros((2, 2, 2)), network=net)


def test_prepare_run_looks_tokens_up_in_the_embedding():
    base = random_network(sizes=(8,), n_in=4, seed=1)
    emb = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    net = Network(layers=base.layers, input=InputSource(4, embedding=emb),
                  readout=Readout(8, host_decoder="tied"))
    m = compile_network(net)
    run = prepare_run(m, np.array([4, 0, 4]))
    np.testing.assert_array_equal(run.xs, emb[[4, 0, 4]])
    assert run.tokens.tolist() == [4, 0, 4] and run.n_steps == 3
    with pytest.raises(S2SimError, match=r"token id out of range \[0, 5\)"):
        prepare_run(m, np.array([5]))


def test_compare_with_oracle_counts_planted_mismatches(net, mapping, xs):
    run = prepare_run(mapping, xs, network=net)
    res = run_functional(run)
    compare_with_oracle(run, res)
    assert res.mismatches.compared and res.mismatches.total == 0
    assert res.mismatches.first_mismatch is None and res.mismatches.diverged_steps == 0
    ys = [y.copy() for y in res.layer_outputs]
    t_ev, u_ev = map(int, np.argwhere(ys[1] == 0)[-1])  # a unit that did not fire
    ys[1][t_ev, u_ev] = 1.0
    t_val, u_val = map(int, np.argwhere(ys[0] != 0)[-1])  # one that fired
    ys[0][t_val, u_val] += 0.01
    planted = dataclasses.replace(res, layer_outputs=ys)
    compare_with_oracle(run, planted)
    mm = planted.mismatches
    assert (mm.event_mismatches, mm.value_mismatches) == (1, 1)
    assert mm.per_layer_event_mismatches == [0, 1]
    assert mm.max_abs_error == pytest.approx(0.01, rel=1e-3)
    first = min((t_ev, 1, u_ev), (t_val, 0, u_val))
    assert mm.first_mismatch == first and mm.diverged_steps == xs.shape[0] - first[0]
    assert planted.meta["readout_max_abs_error"] == 0.0


def _manhattan(a, b):
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def test_route_geometry_hop_counts(mapping):
    spec = mapping.load_spec()
    geo = route_geometry(mapping, spec)
    router = tuple(spec.organisation.router_position.value)
    bridge = tuple(spec.host.bridge_qpe.value)
    q = {sid: decode_pe_id(pe)[:2] for sid, pe in mapping.placement.items()}
    for r in mapping.routes:
        fan = sum(_manhattan(router, qq) for qq in {decode_pe_id(p)[:2] for p in r.pes})
        for src in r.sources:
            origin = bridge if src == "host" else q[src]
            assert geo[src] == _manhattan(origin, router) + fan, src
    assert geo["to_host"] == _manhattan(q["readout"], bridge)
    assert geo["host"] > 0 and geo["to_host"] > 0  # the random placer moved the readout


def test_packets_and_hops_add_up_the_senders(net, mapping, xs):
    run = prepare_run(mapping, xs, network=net)
    ys = run.oracle().ys
    _, in_events, *_ = activity_metrics(run, ys)
    pk, hops = packets_and_hops(run, in_events, ys)
    geo = route_geometry(mapping, run.spec)
    host_pk = host_packets_per_step(run.xs)
    want_pk, want_hops = host_pk + in_events, host_pk * geo["host"] + in_events * geo["input"]
    for sid, ev in slice_events(mapping, ys).items():
        if mapping.slice(sid).key_base is not None:
            want_pk = want_pk + ev
            want_hops = want_hops + ev * geo[sid]
    np.testing.assert_array_equal(pk, want_pk)
    np.testing.assert_array_equal(hops, want_hops + geo["to_host"])
    total = sum(int(np.count_nonzero(y)) for y in ys)
    assert sum(int(v.sum()) for v in slice_events(mapping, ys).values()) == total


def test_pe_totals_and_host_link():
    pe = {k: np.arange(12, dtype=np.int64).reshape(3, 4) for k in PE_SUMMARY_FIELDS}
    tot = pe_totals(pe, [2, 0])
    assert set(tot) == set(PE_SUMMARY_FIELDS)
    assert tot["active_cycles"].tolist() == [8 + 9 + 10 + 11, 0 + 1 + 2 + 3]
    from s2sim.spec import load_spec

    spec = load_spec()
    hw = host_link(HostWork(), spec, 10, 300)
    assert hw.packets_to_chip == 10 and hw.bytes_to_chip == 10 * HOST_PACKET_BYTES
    eth = float(spec.host.ethernet_bits_per_s.value)
    assert hw.link_time_ps == int(np.ceil((10 * HOST_PACKET_BYTES + 300) * 8 * 1e12 / eth))


def test_rows_finite_checks_only_the_given_rows_in_every_chunk():
    from s2sim.engine.common import _rows_finite

    emb = np.zeros((50, 3), np.float32)
    emb[37, 1] = np.inf
    assert _rows_finite(emb, np.arange(37), chunk=4)
    assert not _rows_finite(emb, np.arange(50), chunk=4)  # in the tenth chunk
    assert not _rows_finite(emb, np.array([37]))
    assert _rows_finite(emb, np.zeros(0, np.int64))
