"""The firmware cores, driven step by step without the chip, equal the numpy oracle."""

import numpy as np
import pytest

from firmware_py.cores import CSR, InputCore, decode, encode
from firmware_py.keys import egru_src, key_base
from s2sim.compiler.build import build_cores
from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network


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
                        n = local.size
                        core.accumulate(np.full(n, src), np.full(n, sl), np.full(n, t & 1),
                                        local, vals)
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


def test_csr_from_dense_roundtrip():
    M = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, -1]], np.float32)
    c = CSR.from_dense(M)
    assert list(c.rowptr) == [0, 1, 1, 3]
    assert list(c.cols) == [1, 0, 2]
    assert c.nnz == 3 and list(c.row_nnz()) == [1, 0, 2]


def test_key_encode_decode():
    base = key_base(egru_src(2), 17)
    k = encode(base, np.array([0, 5, 0x7FFF]), 1)
    src, sl, par, loc = decode(k)
    assert list(src) == [3, 3, 3] and list(sl) == [17] * 3 and list(par) == [1] * 3
    assert list(loc) == [0, 5, 0x7FFF]


def test_input_core_pools_and_clears():
    c = InputCore(4)
    c.receive(np.array([1, 1, 1]), np.array([2, 2, 0]), np.array([1.0, 0.5, -1.0], np.float32))
    idx, vals = c.emit(1)
    assert list(idx) == [0, 2] and list(vals) == [-1.0, 1.5]
    assert c.emit(1)[0].size == 0
