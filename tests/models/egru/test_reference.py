"""Reference EGRU: hand-checked math, sparse path == dense path, events and traces."""

import math

import numpy as np
import pytest

from models.egru.errors import ModelError
from models.egru.reference import EGRULayer, EGRUStack, sigmoid


def random_layer(n_in, hidden, seed, scale=0.5, theta=0.1, prune=0.0):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((n_in, 3 * hidden)) * scale).astype(np.float32)
    R = (rng.standard_normal((hidden, 3 * hidden)) * scale).astype(np.float32)
    if prune:
        W[rng.random(W.shape) < prune] = 0
        R[rng.random(R.shape) < prune] = 0
    b_x = (rng.standard_normal(3 * hidden) * 0.1).astype(np.float32)
    b_r = (rng.standard_normal(3 * hidden) * 0.1).astype(np.float32)
    th = np.full(hidden, theta, np.float32)
    return EGRULayer(W, R, b_x, b_r, th)


def test_single_unit_matches_hand_computation():
    # one input, one unit: every gate by hand in float64, compared to the float32 layer
    W = np.array([[0.5, -0.3, 1.2]], np.float32)
    R = np.array([[0.7, 0.2, -0.4]], np.float32)
    b_x = np.array([0.1, 0.0, -0.1], np.float32)
    b_r = np.array([0.0, 0.05, 0.2], np.float32)
    layer = EGRULayer(W, R, b_x, b_r, np.array([0.3], np.float32))
    x, y_prev, c_prev = 1.5, 0.4, 0.25
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    wx = [x * W[0, k] + b_x[k] for k in range(3)]
    rh = [y_prev * R[0, k] + b_r[k] for k in range(3)]
    z, r = sig(wx[0] + rh[0]), sig(wx[1] + rh[1])
    g = math.tanh(wx[2] + r * rh[2])
    c = z * c_prev + (1 - z) * g
    fired = c > 0.3
    y_exp, c_exp = (c if fired else 0.0), (c - 0.3 if fired else c)
    y, c_new = layer.step(np.array([x], np.float32), np.array([y_prev], np.float32),
                          np.array([c_prev], np.float32))
    assert fired  # the chosen numbers make the unit fire, so the reset path is exercised
    assert y[0] == pytest.approx(y_exp, abs=1e-6)
    assert c_new[0] == pytest.approx(c_exp, abs=1e-6)
    assert y.dtype == np.float32 and c_new.dtype == np.float32


def test_no_event_below_threshold_and_strict_comparison():
    layer = random_layer(4, 8, seed=1)
    H = layer.hidden
    wx = np.zeros(3 * H, np.float32)
    rh = np.zeros(3 * H, np.float32)
    # z = 0.5, g = 0 -> c = 0.5 * c_prev; choose c_prev so that c == theta exactly for unit 0
    c_prev = np.full(H, 0.0, np.float32)
    c_prev[0] = 2 * layer.theta[0]
    y, c, o = layer.cell(wx, rh, c_prev)
    assert not o[0] and y[0] == 0 and c[0] == layer.theta[0]  # c == θ does not fire
    c_prev[0] = 2 * layer.theta[0] + 0.1
    y, c, o = layer.cell(wx, rh, c_prev)
    assert o[0] and y[0] == pytest.approx(layer.theta[0] + 0.05)
    assert c[0] == pytest.approx(0.05)


def test_thresholds_are_clamped_to_unit_interval():
    layer = random_layer(3, 4, seed=2)
    th = np.array([-0.5, 0.2, 1.7, 1.0], np.float32)
    l2 = EGRULayer(layer.W, layer.R, layer.b_x, layer.b_r, th)
    assert l2.theta.tolist() == pytest.approx([0.0, 0.2, 1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("batch", [None, 3])
def test_sparse_path_equals_dense_reference(seed, batch):
    rng = np.random.default_rng(seed)
    stack = EGRUStack([random_layer(16, 32, seed, prune=0.5),
                       random_layer(32, 24, seed + 10, theta=0.2)])
    shape = (40, 16) if batch is None else (40, batch, 16)
    xs = rng.standard_normal(shape).astype(np.float32)
    xs[rng.random(shape) < 0.7] = 0  # sparse input events
    sp = stack.run(xs)
    de = stack.run(xs, dense=True)
    for l in range(2):
        mism = int(np.count_nonzero((sp.ys[l] != 0) != (de.ys[l] != 0)))
        assert mism == 0, f"layer {l}: {mism} events differ between sparse and dense paths"
        np.testing.assert_allclose(sp.ys[l], de.ys[l], atol=1e-5)
        np.testing.assert_allclose(sp.cs[l], de.cs[l], atol=1e-5)
    # the run is genuinely sparse: some units fire, many do not
    act = sp.activity()
    assert all(0.0 < a < 1.0 for a in act), act


def test_sparse_path_ignores_rows_of_silent_inputs():
    # corrupting the rows of inputs that never fire must not change anything
    layer = random_layer(10, 6, seed=3)
    x = np.zeros(10, np.float32)
    x[[2, 7]] = [0.5, -1.0]
    y_prev = np.zeros(6, np.float32)
    y_prev[4] = 0.8
    c_prev = np.full(6, 0.05, np.float32)
    y_ref, c_ref = layer.step(x, y_prev, c_prev)
    layer.W[[0, 1, 3, 4, 5, 6, 8, 9]] = np.nan
    layer.R[[0, 1, 2, 3, 5]] = np.nan
    y, c = layer.step(x, y_prev, c_prev)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(c, c_ref)


def test_events_and_trace():
    rng = np.random.default_rng(4)
    stack = EGRUStack([random_layer(5, 7, seed=4)])
    xs = rng.standard_normal((20, 5)).astype(np.float32)
    tr = stack.run(xs, trace=True)
    assert tr.events[0].tolist() == [int(np.count_nonzero(y)) for y in tr.ys[0]]
    exp = np.zeros(7, np.float32)
    for t in range(20):
        exp = np.float32(0.9) * exp + np.float32(0.1) * tr.ys[0][t]
        np.testing.assert_allclose(tr.traces[0][t], exp, rtol=1e-6)
    assert tr.input_events.tolist() == [5] * 20


def test_sigmoid_is_stable():
    v = np.array([-1000, -5, 0, 5, 1000], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(v)
    assert s.tolist() == pytest.approx([0, 1 / (1 + math.exp(5)), 0.5, 1 / (1 + math.exp(-5)), 1])


def test_bad_parameters_give_model_errors():
    layer = random_layer(4, 5, seed=0)
    with pytest.raises(ModelError, match="parameter R: shape"):
        EGRULayer(layer.W, layer.R[:4], layer.b_x, layer.b_r, layer.theta)
    with pytest.raises(ModelError, match="parameter W: dtype float64"):
        EGRULayer(layer.W.astype(np.float64), layer.R, layer.b_x, layer.b_r, layer.theta)
    with pytest.raises(ModelError, match="layer 1 expects 4 inputs"):
        EGRUStack([layer, layer])
    with pytest.raises(ModelError, match="3 features"):
        layer.step(np.zeros(3, np.float32), *layer.zero_state())
