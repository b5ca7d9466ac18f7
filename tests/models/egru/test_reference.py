"""Reference EGRU: hand-checked math, sparse path == dense path, events and traces."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.egru.errors import ModelError
from models.egru.reference import (
    CSRMatrix,
    EGRULayer,
    EGRUStack,
    _csr_product,
    _Fused,
    _lanes_product,
    _wave_candidate,
    _wave_gates,
    _wave_update,
    egru_cell,
    sigmoid,
)


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
    W, R = layer.W.copy(), layer.R.copy()
    W[[0, 1, 3, 4, 5, 6, 8, 9]] = np.nan
    R[[0, 1, 2, 3, 5]] = np.nan
    bad = EGRULayer(W, R, layer.b_x, layer.b_r, layer.theta)  # its CSR holds the NaN rows
    y, c = bad.step(x, y_prev, c_prev)
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


# -- the sparse (CSR, numba) path against the dense specification --------------------------------

def firmware_order_product(x, M, b):
    """x·M + b as the firmware sums it: per nonzero input (ascending), per nonzero weight,
    ``acc += x * w`` with the product and the sum rounded to float32; then ``acc + b``."""
    acc = np.zeros(M.shape[1], np.float32)
    for i in np.flatnonzero(x):
        for c in np.flatnonzero(M[i]):
            acc[c] = np.float32(acc[c] + np.float32(x[i] * M[i, c]))
    return (acc + b).astype(np.float32)


def _pre_reset_state(y, c_new):
    """The state before the subtractive reset, c: y where the unit fired, else c_new."""
    return np.where(y != 0, y, c_new).astype(np.float32)


@st.composite
def sparse_nets(draw, exact: bool):
    """A random pruned layer and one step's inputs. ``exact``: weights k/16 and inputs k/8 with
    small k, so that every product and partial sum is exact in float32 and any summation order
    (BLAS's too) gives the same bits."""
    n_in = draw(st.integers(1, 24))
    hidden = draw(st.integers(1, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    w_density = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    x_density = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    y_density = draw(st.sampled_from([0.0, 0.3, 1.0]))
    rng = np.random.default_rng(seed)

    def values(shape, step):
        if exact:
            return (rng.integers(-16, 17, shape) * step).astype(np.float32)
        return (rng.standard_normal(shape) * 0.7).astype(np.float32)

    W = values((n_in, 3 * hidden), 1 / 16)
    R = values((hidden, 3 * hidden), 1 / 16)
    W[rng.random(W.shape) >= w_density] = 0
    R[rng.random(R.shape) >= w_density] = 0
    b_x = values(3 * hidden, 1 / 16) * np.float32(0.5)
    b_r = values(3 * hidden, 1 / 16) * np.float32(0.5)
    x = values(n_in, 1 / 8)
    x[rng.random(n_in) >= x_density] = 0
    y_prev = np.abs(values(hidden, 1 / 8))
    y_prev[rng.random(hidden) >= y_density] = 0
    c_prev = (rng.uniform(-0.5, 1.0, hidden)).astype(np.float32)
    theta_mode = draw(st.sampled_from(["random", "zero", "one"]))
    theta = {"random": rng.uniform(0, 0.6, hidden), "zero": np.zeros(hidden),
             "one": np.ones(hidden)}[theta_mode].astype(np.float32)
    return EGRULayer(W, R, b_x, b_r, theta), x, y_prev, c_prev


_HYP = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_HYP
@given(sparse_nets(exact=True))
def test_sparse_equals_dense_bit_for_bit_when_sums_are_exact(net):
    layer, x, y_prev, c_prev = net
    np.testing.assert_array_equal(layer.input_product(x), layer.input_product(x, dense=True))
    np.testing.assert_array_equal(layer.recurrent_product(y_prev),
                                  layer.recurrent_product(y_prev, dense=True))
    y_s, c_s = layer.step(x, y_prev, c_prev)
    y_d, c_d = layer.step(x, y_prev, c_prev, dense=True)
    np.testing.assert_array_equal(y_s, y_d)
    np.testing.assert_array_equal(c_s, c_d)
    # thresholds exactly at the state value: c - θ = 0 does not fire, on either path
    c_pre = _pre_reset_state(y_d, c_d)
    at = (c_pre >= 0) & (c_pre <= 1)
    theta = np.where(at, c_pre, layer.theta).astype(np.float32)
    edge = EGRULayer(layer.W, layer.R, layer.b_x, layer.b_r, theta)
    y_s, c_s = edge.step(x, y_prev, c_prev)
    y_d, c_d = edge.step(x, y_prev, c_prev, dense=True)
    np.testing.assert_array_equal(y_s, y_d)
    np.testing.assert_array_equal(c_s, c_d)
    assert not np.any(y_s[at]), "a unit whose state equals its threshold fired"
    np.testing.assert_array_equal(c_s[at], c_pre[at])  # no reset either
    _assert_run_equals_step(edge, x, y_prev, c_prev)


def _assert_run_equals_step(layer, x, y_prev, c_prev):
    """``EGRUStack.run`` (the wavefront: compiled cell around numpy's exp and tanh) gives the
    bits of ``layer.step`` (``egru_cell``), a batch of the same step too."""
    y_s, c_s = layer.step(x, y_prev, c_prev)
    run = EGRUStack([layer]).run(x[None], state=[(y_prev, c_prev)])
    np.testing.assert_array_equal(run.ys[0][0].view(np.uint32), y_s.view(np.uint32))
    np.testing.assert_array_equal(run.cs[0][0].view(np.uint32), c_s.view(np.uint32))
    both = EGRUStack([layer]).run(np.stack([x, x])[None],
                                  state=[(np.stack([y_prev, y_prev]), np.stack([c_prev, c_prev]))])
    np.testing.assert_array_equal(both.ys[0][0, 1], y_s)


@_HYP
@given(sparse_nets(exact=False))
def test_sparse_path_sums_in_the_firmware_order_and_agrees_with_dense(net):
    layer, x, y_prev, c_prev = net
    wx = layer.input_product(x)
    rh = layer.recurrent_product(y_prev)
    # bit for bit the firmware's order (ascending inputs, rounded product, rounded sum)
    np.testing.assert_array_equal(wx, firmware_order_product(x, layer.W, layer.b_x))
    np.testing.assert_array_equal(rh, firmware_order_product(y_prev, layer.R, layer.b_r))
    # and the dense specification to float32 round-off
    scale = 1 + np.abs(x) @ np.abs(layer.W) + np.abs(layer.b_x)
    np.testing.assert_array_less(np.abs(wx - layer.input_product(x, dense=True)), 1e-6 * scale)
    scale = 1 + np.abs(y_prev) @ np.abs(layer.R) + np.abs(layer.b_r)
    np.testing.assert_array_less(np.abs(rh - layer.recurrent_product(y_prev, dense=True)),
                                 1e-6 * scale)
    y_s, c_s = layer.step(x, y_prev, c_prev)
    y_d, c_d = layer.step(x, y_prev, c_prev, dense=True)
    c_pre = _pre_reset_state(y_d, c_d)
    flip = (y_s != 0) != (y_d != 0)
    # an event may differ only where the state sits within round-off of the threshold
    assert np.all(np.abs(c_pre[flip] - layer.theta[flip]) < 1e-5)
    same = ~flip
    np.testing.assert_allclose(y_s[same], y_d[same], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_s[same], c_d[same], rtol=1e-5, atol=1e-6)
    _assert_run_equals_step(layer, x, y_prev, c_prev)


def test_edge_cases_nothing_fires_everything_fires():
    layer = random_layer(12, 10, seed=9, prune=0.8)
    H = layer.hidden
    # no input, no event: the products are the biases, on both paths
    z_in, y0 = np.zeros(12, np.float32), layer.zero_state()[0]
    np.testing.assert_array_equal(layer.input_product(z_in), layer.b_x)
    np.testing.assert_array_equal(layer.recurrent_product(y0), layer.b_r)
    # θ = 1 with states below 1: no unit fires
    hi = EGRULayer(layer.W, layer.R, layer.b_x, layer.b_r, np.ones(H, np.float32))
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((30, 12)).astype(np.float32)
    tr = EGRUStack([hi]).run(xs)
    tr_d = EGRUStack([hi]).run(xs, dense=True)
    assert tr.events[0].sum() == 0 == tr_d.events[0].sum()
    np.testing.assert_allclose(tr.cs[0], tr_d.cs[0], rtol=1e-6, atol=1e-6)
    # θ = 0 with positive states: every unit fires every step (all rows of R are used)
    lo = EGRULayer(layer.W, layer.R, np.abs(layer.b_x) + 3, layer.b_r, np.zeros(H, np.float32))
    tr = EGRUStack([lo]).run(np.abs(xs))
    tr_d = EGRUStack([lo]).run(np.abs(xs), dense=True)
    assert tr.events[0].tolist() == [H] * 30 == tr_d.events[0].tolist()
    np.testing.assert_allclose(tr.ys[0], tr_d.ys[0], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_sparse_step_equals_per_element_steps(seed):
    layer = random_layer(9, 7, seed, prune=0.6)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 9)).astype(np.float32)
    x[rng.random(x.shape) < 0.5] = 0
    x[2] = 0  # one batch element without any input event
    y_prev = np.abs(rng.standard_normal((4, 7))).astype(np.float32)
    y_prev[rng.random(y_prev.shape) < 0.5] = 0
    c_prev = rng.uniform(0, 0.5, (4, 7)).astype(np.float32)
    y, c = layer.step(x, y_prev, c_prev)
    for b in range(4):
        yb, cb = layer.step(x[b], y_prev[b], c_prev[b])
        np.testing.assert_array_equal(y[b], yb)
        np.testing.assert_array_equal(c[b], cb)


def test_csr_is_cached_and_follows_in_place_edits_at_run():
    layer = random_layer(6, 5, seed=5, prune=0.5)
    stack = EGRUStack([layer])
    xs = np.random.default_rng(5).standard_normal((8, 6)).astype(np.float32)
    before = stack.run(xs)
    csr = layer.csr
    assert layer.csr is csr  # built once, cached on the layer
    assert csr[0].nnz == np.count_nonzero(layer.W) and csr[1].nnz == np.count_nonzero(layer.R)
    layer.W[0, :] *= 2  # in-place edit: EGRUStack.run notices and rebuilds the CSR
    layer.W[1, 0] = 0.25
    after = stack.run(xs)
    assert layer.csr is not csr
    fresh = EGRUStack([EGRULayer(layer.W.copy(), layer.R, layer.b_x, layer.b_r, layer.theta)])
    np.testing.assert_array_equal(after.ys[0], fresh.run(xs).ys[0])
    assert not np.array_equal(after.cs[0], before.cs[0])
    csr = layer.csr
    stack.run(xs)
    assert layer.csr is csr  # unchanged weights: the cache is kept
    layer.refresh()
    assert layer._csr is None


def test_csr_matrix_layout():
    M = np.array([[0, 1.5, 0, -2], [0, 0, 0, 0], [3, 0, 0, 0.5]], np.float32)
    m = CSRMatrix.from_dense(M)
    assert m.rowptr.tolist() == [0, 2, 2, 4]
    assert m.cols.tolist() == [1, 3, 0, 3] and m.cols.dtype == np.uint16
    assert m.vals.tolist() == [1.5, -2, 3, 0.5]
    assert m.matches(M) and not m.matches(M * 2)
    wide = np.zeros((2, 70002), np.float32)
    wide[1, 70001] = 1.0
    wide[0, 5] = 2.0
    mw = CSRMatrix.from_dense(wide)
    assert mw.cols.dtype == np.int32 and mw.cols.tolist() == [5, 70001]
    out = EGRULayer._product(np.array([0.5, 3.0], np.float32), mw,
                             np.zeros(70002, np.float32))
    assert out[5] == 1.0 and out[70001] == 3.0 and np.count_nonzero(out) == 2


@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("block", [1, 4, 256])
def test_blocked_run_equals_a_loop_of_steps_bit_for_bit(batch, block, monkeypatch):
    monkeypatch.setattr(EGRUStack, "RUN_BLOCK", block)
    rng = np.random.default_rng(11)
    stack = EGRUStack([random_layer(8, 12, 11, prune=0.7), random_layer(12, 6, 12, theta=0.15)])
    shape = (13, 8) if batch is None else (13, batch, 8)
    xs = rng.standard_normal(shape).astype(np.float32)
    xs[rng.random(shape) < 0.5] = 0
    state = [(np.abs(rng.standard_normal(s[0].shape)).astype(np.float32),
              rng.uniform(0, 0.3, s[0].shape).astype(np.float32))
             for s in stack.zero_state(batch)]
    a = stack.run(xs, state=state, trace=True)
    b = stack._run_steps(xs, state=state, trace=True)  # step() in a loop, sparse products
    for f in ("ys", "cs", "events", "traces"):
        for u, v in zip(getattr(a, f), getattr(b, f), strict=True):
            np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.input_events, b.input_events)
    empty = stack.run(xs[:0])
    assert [y.shape[0] for y in empty.ys] == [0, 0]


def test_cell_equals_the_masked_formulation_bit_for_bit():
    # the cell as first written (sigmoid by boolean masks, gates one by one): same bits
    def sigmoid_masked(v):
        out = np.empty_like(v)
        pos = v >= 0
        out[pos] = np.float32(1) / (np.float32(1) + np.exp(-v[pos]))
        e = np.exp(v[~pos])
        out[~pos] = e / (np.float32(1) + e)
        return out

    layer = random_layer(3, 500, seed=13, theta=0.2)
    H = layer.hidden
    rng = np.random.default_rng(13)
    for scale in (0.01, 1.0, 30.0):
        wx = (rng.standard_normal(3 * H) * scale).astype(np.float32)
        rh = (rng.standard_normal(3 * H) * scale).astype(np.float32)
        c_prev = rng.uniform(-1, 1, H).astype(np.float32)
        z = sigmoid_masked(wx[:H] + rh[:H])
        r = sigmoid_masked(wx[H:2 * H] + rh[H:2 * H])
        g = np.tanh(wx[2 * H:] + r * rh[2 * H:]).astype(np.float32)
        c = z * c_prev + (np.float32(1) - z) * g
        o = c - layer.theta > 0
        y, c_new, o2 = layer.cell(wx, rh, c_prev)
        np.testing.assert_array_equal(o2, o)
        np.testing.assert_array_equal(y.view(np.uint32),
                                      np.where(o, c, np.float32(0)).view(np.uint32))
        np.testing.assert_array_equal(c_new, c - np.where(o, layer.theta, np.float32(0)))


def test_run_with_a_given_input_product_and_with_theta_are_the_same_bits():
    rng = np.random.default_rng(5)
    layer = random_layer(9, 14, seed=5, prune=0.6)
    xs = rng.standard_normal((11, 9)).astype(np.float32)
    xs[rng.random(xs.shape) < 0.4] = 0
    built = layer.csr
    other = layer.with_theta(np.full(14, 0.3, np.float32))
    assert other.csr is built  # shared: no rebuild per threshold
    assert np.all(other.theta == np.float32(0.3)) and np.all(layer.theta == np.float32(0.1))
    want = EGRUStack([EGRULayer(layer.W, layer.R, layer.b_x, layer.b_r,
                                np.full(14, 0.3, np.float32))]).run(xs)
    got = EGRUStack([other]).run(xs, input_product=other.input_product(xs))
    np.testing.assert_array_equal(got.ys[0], want.ys[0])
    np.testing.assert_array_equal(got.cs[0], want.cs[0])
    with pytest.raises(ModelError, match="input_product"):
        EGRUStack([other]).run(xs, input_product=np.zeros((11, 5), np.float32))
    with pytest.raises(ModelError, match="input_product"):
        EGRUStack([other]).run(xs, dense=True, input_product=other.input_product(xs))


def _sparse_case(rng, n_in, n_out, n, density, x_zeros):
    # magnitudes over many octaves: a different summation order would round differently
    W = (rng.standard_normal((n_in, n_out)) * 2.0 ** rng.integers(-12, 12, (n_in, n_out)))
    W = W.astype(np.float32)
    W[rng.random(W.shape) >= density] = 0
    if n_in > 1:
        W[rng.integers(n_in)] = 0  # a row with no nonzeros
    x = (rng.standard_normal((n, n_in)) * 2.0 ** rng.integers(-8, 8, (n, n_in))).astype(np.float32)
    x[rng.random(x.shape) < x_zeros] = 0
    x[rng.random(x.shape) < 0.1] = -0.0  # negative zeros are zero inputs, skipped
    return W, x


@settings(max_examples=60, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 50), n=st.integers(0, 200),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]), x_zeros=st.sampled_from([0.0, 0.6, 1.0]),
       seed=st.integers(0, 2**31))
def test_lanes_product_equals_the_per_step_product_bit_for_bit(n_in, n_out, n, density, x_zeros,
                                                               seed):
    rng = np.random.default_rng(seed)
    W, x = _sparse_case(rng, n_in, n_out, n, density, x_zeros)
    bias = rng.standard_normal(n_out).astype(np.float32)
    m = CSRMatrix.from_dense(W)
    want = np.empty((n, n_out), np.float32)
    _csr_product(x, m.rowptr, m.cols, m.vals, bias, want)
    # into scattered columns of a wider output, as into the stack's joint gate layout
    dst = np.sort(rng.choice(2 * n_out + 3, n_out, replace=False))
    out = np.full((n, 2 * n_out + 3), np.float32(7))
    t = m.transpose()
    _lanes_product(x, t.rowptr, t.cols, t.vals, bias, dst, out)
    np.testing.assert_array_equal(out[:, dst].view(np.uint32), want.view(np.uint32))
    assert np.all(np.delete(out, dst, axis=1) == 7)  # no other column written


def test_csr_transpose_is_the_csr_of_the_transposed_matrix():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((37, 21)).astype(np.float32)
    M[rng.random(M.shape) < 0.8] = 0
    M[5] = 0
    M[:, 7] = 0
    t, want = CSRMatrix.from_dense(M).transpose(), CSRMatrix.from_dense(M.T)
    assert t.shape == want.shape == (21, 37) and t.cols.dtype == want.cols.dtype
    for a, b in ((t.rowptr, want.rowptr), (t.cols, want.cols), (t.vals, want.vals)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("block", [1, 5, 23, 64])
def test_skewed_wavefront_of_three_layers_equals_a_loop_of_steps(batch, block, monkeypatch):
    # layer l runs a block behind layer l-1; blocks that do not divide T, or exceed it
    monkeypatch.setattr(EGRUStack, "RUN_BLOCK", block)
    rng = np.random.default_rng(17)
    stack = EGRUStack([random_layer(9, 14, 21, prune=0.6), random_layer(14, 11, 22, prune=0.5),
                       random_layer(11, 6, 23, theta=0.05)])
    shape = (23, 9) if batch is None else (23, batch, 9)
    xs = rng.standard_normal(shape).astype(np.float32)
    xs[rng.random(shape) < 0.5] = 0
    state = [(np.abs(rng.standard_normal(s[0].shape)).astype(np.float32),
              rng.uniform(-0.3, 0.3, s[0].shape).astype(np.float32))
             for s in stack.zero_state(batch)]
    a = stack.run(xs, state=state)
    b = stack._run_steps(xs, state=state)
    assert all(np.count_nonzero(y) for y in a.ys)  # events reach every layer
    for u, v in zip(a.ys + a.cs, b.ys + b.cs, strict=True):
        np.testing.assert_array_equal(u.view(np.uint32), v.view(np.uint32))


def _wave_case(rng, sizes, n_b, fire):
    """A stack of len(sizes) layers with pruned R (one unit's row empty) and a joint state y
    whose units fired with probability ``fire`` (some of them -0: not fired)."""
    layers = []
    for H in sizes:
        la = random_layer(3, H, int(rng.integers(2**31)), scale=float(rng.uniform(0.2, 2)),
                          prune=float(rng.choice([0.0, 0.5, 0.95])))
        la.R[rng.integers(H)] = 0  # a unit whose row has no nonzeros
        la.theta[:] = rng.uniform(0, 0.4, H).astype(np.float32)
        layers.append(la)
    h = sum(sizes)
    y = (rng.standard_normal((n_b, h)) * 2.0 ** rng.integers(-6, 6, (n_b, h))).astype(np.float32)
    y[rng.random(y.shape) >= fire] = 0
    y[rng.random(y.shape) < 0.1] = -0.0
    return layers, y


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 70), min_size=1, max_size=4), n_b=st.integers(1, 3),
       fire=st.sampled_from([0.0, 0.46, 1.0]), data=st.data(), seed=st.integers(0, 2**31))
def test_wave_kernels_equal_the_per_step_products_and_cell_bit_for_bit(sizes, n_b, fire, data,
                                                                     seed):
    # one wave of the running layers lo .. hi-1 (the others untouched): the recurrent products
    # as ``_csr_product`` and the cell as ``egru_cell``, per layer, bit for bit
    rng = np.random.default_rng(seed)
    layers, y = _wave_case(rng, sizes, n_b, fire)
    L = len(sizes)
    lo = data.draw(st.integers(0, L - 1))
    hi = data.draw(st.integers(lo + 1, L))
    f = _Fused.of(layers)
    h = int(f.hid.sum())
    wx = rng.standard_normal((n_b, 3 * h)).astype(np.float32) * np.float32(4)
    c = rng.standard_normal((n_b, h)).astype(np.float32)
    rh = np.full((n_b, 3 * h), np.float32(7))
    v, e = np.zeros((n_b, 2 * h), np.float32), np.full((n_b, 2 * h), np.float32(7))
    a = np.full((n_b, h), np.float32(7))
    T, k, lag = L, hi - 1, 1  # layer l does step k - l: inside its T steps for lo .. hi-1
    ys = tuple(np.full((T, n_b, H), np.float32(5)) for H in sizes)
    cs = tuple(np.full((T, n_b, H), np.float32(5)) for H in sizes)
    y0, c0 = y.copy(), c.copy()
    _wave_gates(lo, hi, y, wx, rh, f.fr, f.off, f.hid, f.b_r, v, e)
    for ll in range(L):
        o, H = f.off[ll], f.hid[ll]
        for q in range(2):  # e is 0 outside the running layers (no overflow in exp)
            eq = e[:, q * h + o:q * h + o + H]
            assert (eq == 0).all() if not lo <= ll < hi else (eq <= 0).all()
    np.exp(e, out=e)
    _wave_candidate(lo, hi, f.off, f.hid, wx, rh, v, e, a)
    np.tanh(a, out=a)
    _wave_update(lo, hi, k, lag, f.off, f.hid, f.theta, e, a, y, c, ys, cs)
    u32 = np.uint32
    for ll, la in enumerate(layers):
        o, H = f.off[ll], f.hid[ll]
        cols = np.concatenate([q * h + o + np.arange(H) for q in range(3)])
        if not lo <= ll < hi:  # not running: state and outputs untouched
            np.testing.assert_array_equal(y[:, o:o + H].view(u32), y0[:, o:o + H].view(u32))
            assert (ys[ll] == 5).all() and (cs[ll] == 5).all()
            continue
        m = la.csr[1]
        want_rh = np.empty((n_b, 3 * H), np.float32)
        _csr_product(np.ascontiguousarray(y0[:, o:o + H]), m.rowptr, m.cols, m.vals, la.b_r,
                     want_rh)
        np.testing.assert_array_equal(rh[:, cols].view(u32), want_rh.view(u32))
        wy, wc, _ = egru_cell(wx[:, cols], want_rh, c0[:, o:o + H], la.theta, H)
        t = k - ll * lag
        for got in (y[:, o:o + H], ys[ll][t]):
            np.testing.assert_array_equal(got.view(u32), wy.view(u32))
        for got in (c[:, o:o + H], cs[ll][t]):
            np.testing.assert_array_equal(got.view(u32), wc.view(u32))
        assert (np.delete(ys[ll], t, axis=0) == 5).all()
