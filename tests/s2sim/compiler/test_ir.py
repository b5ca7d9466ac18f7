"""The network IR (s2sim.compiler.ir): shape checks, per-unit statistics, fingerprint."""

import numpy as np
import pytest

from models.egru.reference import EGRULayer
from s2sim.compiler.ir import (
    InputSource,
    Network,
    Readout,
    activity_from_meta,
    resolve_network,
)
from s2sim.compiler.random_net import random_network
from s2sim.errors import CompileError, S2SimError


def _layer(n_in, H, seed=0):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((n_in, 3 * H)) * (rng.random((n_in, 3 * H)) < 0.5))
    R = (rng.standard_normal((H, 3 * H)) * (rng.random((H, 3 * H)) < 0.5))
    return EGRULayer(W.astype(np.float32), R.astype(np.float32),
                     np.zeros(3 * H, np.float32), np.zeros(3 * H, np.float32),
                     np.full(H, 0.1, np.float32))


def test_shape_errors_name_the_layer():
    a, b = _layer(4, 6), _layer(5, 3)
    with pytest.raises(CompileError, match="layer 1 takes 5 inputs, layer 0 has 6 units"):
        Network(layers=[a, b], input=InputSource(4), readout=Readout(3))
    with pytest.raises(CompileError, match="layer 0 takes 4 inputs, the input source gives 7"):
        Network(layers=[a], input=InputSource(7), readout=Readout(6))
    with pytest.raises(CompileError, match="readout takes 2 inputs, last layer has 6 units"):
        Network(layers=[a], input=InputSource(4), readout=Readout(2))
    with pytest.raises(CompileError, match="needs at least one EGRU layer"):
        Network(layers=[], input=InputSource(4), readout=Readout(2))


def test_stats_count_the_nonzeros_per_unit_and_row():
    layer = _layer(5, 4, seed=3)
    net = Network.from_layers([layer])
    st = net.stats(0)
    H = 4
    for u in range(H):
        cols = [u, H + u, 2 * H + u]
        assert st.nnz_w_per_unit[u] == np.count_nonzero(layer.W[:, cols])
        assert st.nnz_r_per_unit[u] == np.count_nonzero(layer.R[:, cols])
    np.testing.assert_array_equal(st.nnz_w_per_row, np.count_nonzero(layer.W, axis=1))
    np.testing.assert_array_equal(st.nnz_r_per_row, np.count_nonzero(layer.R, axis=1))
    (d,) = net.describe()
    assert d["nnz_w"] == np.count_nonzero(layer.W) and d["nnz_r"] == np.count_nonzero(layer.R)
    assert d["density"] == pytest.approx(
        (np.count_nonzero(layer.W) + np.count_nonzero(layer.R)) / (3 * H * (5 + H)))


def test_fingerprint_is_stable_and_sees_every_parameter():
    a = random_network(sizes=(8,), n_in=4, seed=1, readout_out=2)
    b = random_network(sizes=(8,), n_in=4, seed=1, readout_out=2)
    assert a.fingerprint() == b.fingerprint()
    c = random_network(sizes=(8,), n_in=4, seed=1, readout_out=2)
    c.layers[0].theta[3] += 0.01
    assert c.fingerprint() != a.fingerprint()
    d = random_network(sizes=(8,), n_in=4, seed=1, readout_out=2, trace=True)
    assert d.fingerprint() != a.fingerprint()


def test_from_layers_readout():
    layer = _layer(4, 6)
    net = Network.from_layers([layer], readout_weights=np.ones((2, 6)))
    assert net.readout.n_out == 2 and net.readout.bias.tolist() == [0.0, 0.0]
    assert net.sizes == [6] and net.input.n_out == 4
    assert Network.from_layers([layer]).readout.n_out == 0


def test_activity_from_meta():
    assert activity_from_meta(None) is None
    assert activity_from_meta({"train": {"activity_reached": [0.1, 0.18]}}) == 0.18
    assert activity_from_meta({"a": {"b": {"activity": 0.2}}, "activity": 3.0}) == 0.2
    assert activity_from_meta({"activity": [0.0, "x"]}) is None


def test_resolve_network_errors():
    with pytest.raises(CompileError, match="no network_ref"):
        resolve_network(None)
    with pytest.raises(S2SimError, match="no such file or model name"):
        resolve_network("zoo:1")


def test_stack_is_kept_while_the_layers_are_the_same_objects():
    import pickle

    a = random_network(sizes=(8, 6), n_in=4, seed=1, readout_out=2)
    st = a.stack
    assert a.stack is st and st.layers == a.layers
    a.layers[1] = _layer(8, 6, seed=5)  # a layer replaced: a new stack of the new layers
    assert a.stack is not st and a.stack.layers[1] is a.layers[1]
    assert pickle.loads(pickle.dumps(a))._stack is None  # the cache is not shipped
