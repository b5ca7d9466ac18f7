"""random_network (s2sim.compiler.random_net): shapes, density, determinism."""

import numpy as np

from s2sim.compiler.random_net import random_network


def test_shapes_and_readout():
    net = random_network(sizes=(12, 7), n_in=5, readout_out=3, trace=True, name="x")
    assert net.sizes == [12, 7] and net.input.n_out == 5 and net.name == "x"
    assert net.layers[0].W.shape == (5, 36) and net.layers[1].R.shape == (7, 21)
    assert net.readout.weights.shape == (3, 7) and net.readout.trace
    assert random_network(sizes=(4,), n_in=2).readout.weights is None


def test_density_and_theta_range():
    net = random_network(sizes=(200,), n_in=100, density=0.2, theta_max=0.3, seed=4)
    layer = net.layers[0]
    assert abs(np.count_nonzero(layer.W) / layer.W.size - 0.2) < 0.01
    assert abs(np.count_nonzero(layer.R) / layer.R.size - 0.2) < 0.01
    assert (layer.theta >= 0).all() and (layer.theta <= 0.3).all()
    assert all(a.dtype == np.float32 for a in (layer.W, layer.R, layer.b_x, layer.theta))


def test_seeded():
    a, b = random_network(seed=9), random_network(seed=9)
    assert a.fingerprint() == b.fingerprint()
    assert random_network(seed=10).fingerprint() != a.fingerprint()
