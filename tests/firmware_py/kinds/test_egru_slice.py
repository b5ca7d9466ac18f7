"""The EGRU slice kind: its cores, driven step by step without the chip, equal the numpy
oracle; its SRAM regions and cycle estimate."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py.cost import CostModel
from firmware_py.keys import PARITY_BIT, egru_src, key_base, make_keys
from firmware_py.kinds.egru_slice import (
    CSR,
    EGRUSliceCore,
    _joined,
    build_cores,
    fixed_costs,
    rowptr_bytes,
    slice_regions,
    unit_costs,
)
from models.egru.reference import egru_cell
from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.spec import load_spec


def _drive(mapping, net, xs):
    """Feed each slice the events of the previous layer and of its own last step, in order."""
    cores = build_cores(mapping, net)
    T = xs.shape[0]
    outs = [np.zeros((T, H), np.float32) for H in net.sizes]
    prev_events = [None] * len(net.sizes)  # per layer: list of (slice index, local, value)
    for t in range(T):
        nz = np.flatnonzero(xs[t])
        in_ev = [(0, 0, nz, xs[t][nz])]  # (src, slice, local, values)
        for i in range(len(net.sizes)):
            src_ev = in_ev + (prev_events[i] or [])
            new_ev = []
            for s in mapping.layer_slices(i):
                core = cores[s.id]
                for src, sl, local, vals in src_ev:
                    if src in core.consumes():
                        keys = make_keys(key_base(src, sl), local, t & 1)
                        cyc, ok, late, _ = core.on_events(keys, vals, t & 1, 10, 3, 5)
                        assert ok == local.size and late == 0 and cyc.shape == keys.shape
                fired, vals = core.update(t & 1)
                outs[i][t, np.asarray(s.units)[fired]] = vals
                new_ev.append((egru_src(i), s.index, fired, vals))
            prev_events[i] = new_ev
            in_ev = new_ev
    return outs


@pytest.mark.parametrize("partitioner", ["by_units", "interleaved"])
def test_cores_equal_oracle(partitioner):
    net = random_network(sizes=(40, 30), n_in=20, density=0.3, seed=3)
    m = compile_network(net, partitioner=partitioner, activity=1.0,
                        spec_overrides={"memory.data_sram_bytes": 12000})
    assert len(m.layer_slices(0)) > 1  # the small SRAM forces several slices
    xs = np.random.default_rng(1).standard_normal((15, 20)).astype(np.float32)
    outs = _drive(m, net, xs)
    ref = net.stack.run(xs)
    for a, b in zip(outs, ref.ys, strict=True):
        assert np.array_equal(a != 0, b != 0)
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert np.count_nonzero(b) > 0


def test_the_split_is_kept_for_the_next_run_and_redone_after_an_edit():
    """build_cores splits a layer's CSR by slice once per mapping and keeps it (read-only) on
    the CSR; a W edited in place (checked) gives a new CSR and so a new split."""
    net = random_network(sizes=(40, 30), n_in=20, density=0.3, seed=3)
    m = compile_network(net, activity=1.0, spec_overrides={"memory.data_sram_bytes": 12000})
    first, again = build_cores(m, net), build_cores(m, net)
    s = m.layer_slices(0)[0].id
    assert again[s].W is first[s].W and again[s].R is first[s].R
    assert not first[s].W.vals.flags.writeable
    net.layers[0].W[:, :] *= 2  # in place: the checked build sees it
    edited = build_cores(m, net)
    assert edited[s].W is not first[s].W
    np.testing.assert_array_equal(edited[s].W.vals, 2 * first[s].W.vals)
    xs = np.random.default_rng(1).standard_normal((6, 20)).astype(np.float32)
    for a, b in zip(_drive(m, net, xs), net.stack.run(xs).ys, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("u", [3, 22_000])
def test_joined_holds_w_then_r_past_3u(u):
    W = CSR.from_dense(np.array([[0, 1.5, 0], [2, 0, 0]], np.float32))
    R = CSR.from_dense(np.array([[0, 0, -1], [0, 0, 0], [4, 0.5, 0]], np.float32))
    rp_w, rp_r, cols, vals = _joined(W, R, u)
    assert rp_w.tolist() == W.rowptr.tolist() and rp_r.tolist() == R.rowptr.tolist()
    assert cols.tolist() == [1, 0, 3 * u + 2, 3 * u, 3 * u + 1]
    assert vals.tolist() == [1.5, 2, -1, 4, 0.5]
    assert cols.dtype == (np.uint16 if 3 * u + 2 < 2**16 else np.uint32)


def test_csr_from_dense_roundtrip():
    M = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, -1]], np.float32)
    c = CSR.from_dense(M)
    assert list(c.rowptr) == [0, 1, 1, 3]
    assert list(c.cols) == [1, 0, 2]
    assert c.nnz == 3 and list(c.row_nnz()) == [1, 0, 2]


def test_late_events_are_counted_and_not_applied():
    net = random_network(sizes=(8,), n_in=4, density=1.0, seed=0)
    m = compile_network(net)
    core = build_cores(m, net)["L0.S0"]
    keys = make_keys(key_base(0, 0), np.array([0, 1]), 1)
    cyc, ok, late, nnz = core.on_events(keys, np.ones(2, np.float32), 0, 10, 3, 5)
    assert (ok, late, nnz) == (0, 2, 0) and list(cyc) == [5, 5]
    assert not core.acc.any()


def test_a_batch_decoded_by_event_cycles_is_applied_as_decoded_afresh():
    """on_events after event_cycles on the same keys reuses that decode: the same cycles, counts
    and accumulator bits as a fresh decode; other keys (or parity) are decoded afresh."""
    net = random_network(sizes=(12, 9), n_in=6, density=0.6, seed=4)
    m = compile_network(net)
    rng = np.random.default_rng(2)
    keys = make_keys(key_base(0, 0), rng.integers(0, 6, 40), 1)  # input events to layer 0
    keys[::7] ^= np.uint32(1 << PARITY_BIT)  # some late events
    xs = rng.standard_normal(40).astype(np.float32)

    def core():
        return build_cores(m, net)["L0.S0"]

    fresh, reused, stale = core(), core(), core()
    want = fresh.on_events(keys, xs, 1, 10, 3, 5)
    cyc = reused.event_cycles(keys, 1, 10, 3, 5)
    got = reused.on_events(keys, xs, 1, 10, 3, 5)
    stale.event_cycles(keys.copy(), 1, 10, 3, 5)  # another keys array: not this batch's decode
    got_stale = stale.on_events(keys, xs, 1, 10, 3, 5)
    assert want[1] > 0 and want[2] > 0 and want[3] > 0  # applied, late, weights touched
    assert np.array_equal(cyc, want[0])
    for g, c in ((got, reused), (got_stale, stale)):
        assert np.array_equal(g[0], want[0]) and g[1:] == want[1:]
        assert np.array_equal(c.acc.view(np.uint32), fresh.acc.view(np.uint32))
    other, fresh0 = core(), core()  # parity 0 on the same keys: parity 1's decode not reused
    other.event_cycles(keys, 1, 10, 3, 5)
    got0, want0 = other.on_events(keys, xs, 0, 10, 3, 5), fresh0.on_events(keys, xs, 0, 10, 3, 5)
    assert np.array_equal(got0[0], want0[0]) and got0[1:] == want0[1:]
    assert np.array_equal(other.acc.view(np.uint32), fresh0.acc.view(np.uint32))


def test_slice_regions_are_aligned_and_grow_with_weights():
    small = slice_regions(100, 50, 10, 200, 100, 1, 2, 8)
    big = slice_regions(100, 50, 10, 400, 100, 1, 2, 8)
    assert all(v % 8 == 0 for v in small.values())
    assert big["w_vals"] - small["w_vals"] == 800 and big["w_cols"] - small["w_cols"] == 400
    assert rowptr_bytes(0xFFFF) == 2 and rowptr_bytes(0x10000) == 4


def test_cycle_estimate_is_linear_in_activity():
    cm = CostModel(load_spec())
    nnz = np.array([10, 20])
    _, c0 = unit_costs(cm, nnz, nnz, 0.0, 0.0)
    _, c1 = unit_costs(cm, nnz, nnz, 1.0, 1.0)
    assert np.all(c1 - c0 == cm.c("slice_fire") + cm.c("slice_nnz") * 2 * nnz)
    b0, f0 = fixed_costs(cm, 100, 50, 0.0, 0.0, 8, 2, 2)
    _, f1 = fixed_costs(cm, 100, 50, 1.0, 1.0, 8, 2, 2)
    assert f1 - f0 == 150 * (cm.c("slice_event") + cm.irq_cycles) and b0 > 0


@settings(max_examples=200, deadline=None)
@given(u=st.integers(1, 70), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.1, 3.0, 60.0]), special=st.booleans())
def test_update_bit_exact_with_egru_cell(u, seed, scale, special):
    """The compiled tick update equals the reference's ``egru_cell`` bit for bit (y, the fired
    units, the new state), over several steps of one slice, and clears its accumulator row."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    b_x, b_r = ((rng.standard_normal(3 * u) * scale).astype(f32) for _ in range(2))
    theta = np.abs(rng.standard_normal(u)).astype(f32) * f32(0.3)
    core = EGRUSliceCore(CSR.from_dense(np.zeros((1, 3 * u), f32)),
                         CSR.from_dense(np.zeros((1, 3 * u), f32)), b_x, b_r, theta,
                         w_src=0, r_src=1, w_off=np.array([0, 1]), r_off=np.array([0, 1]))
    c = np.zeros(u, f32)
    for step in range(4):
        acc = (rng.standard_normal(6 * u) * scale).astype(f32)
        if special:  # zeros, signed zeros, huge values: the select and exp edges
            acc[rng.integers(0, 6 * u, size=u)] = rng.choice(
                np.array([0.0, -0.0, 1e30, -1e30, 88.0, -104.0], f32), size=u)
        p = step & 1
        core.acc[p] = acc
        y, c_new, o = egru_cell(acc[:3 * u] + b_x, acc[3 * u:] + b_r, c, theta, u)
        fired, vals = core.update(p)
        want = np.flatnonzero(o)
        assert fired.dtype == want.dtype and np.array_equal(fired, want)
        assert vals.dtype == np.float32 and np.array_equal(vals.view(np.uint32),
                                                           y[want].view(np.uint32))
        assert np.array_equal(core.c.view(np.uint32), c_new.view(np.uint32))
        assert not core.acc[p].any()
        c = c_new
