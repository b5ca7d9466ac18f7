"""Quantised EGRU numerics (models.egru.quant) and PTQ of an LM (models.egru.quant_lm)."""

from pathlib import Path

import numpy as np
import pytest

from models.egru.checkpoint import load_checkpoint, save_checkpoint
from models.egru.errors import ModelError
from models.egru.quant import (
    _LUT,
    INT8_MAX,
    ONE,
    calibrate_input_scale,
    quantise_input,
    quantise_layer,
    quantise_stack,
    sigmoid_lut,
)
from models.egru.quant_lm import is_quantised, load_qlm, ptq, quant_meta

TINY = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"


@pytest.fixture(scope="module")
def tiny():
    return load_checkpoint(TINY)


def test_weights_are_int8_per_output_column_within_half_a_step(tiny):
    layer = tiny.stack.layers[0]
    q = quantise_layer(layer, 0.02, INT8_MAX)
    assert q.Wq.dtype == np.int8 and np.abs(q.Wq.astype(int)).max() == INT8_MAX
    assert q.w_scale.shape == (layer.W.shape[1],)
    err = np.abs(q.dequantised().W - layer.W)
    assert (err <= q.w_scale[None, :] / 2 + 1e-7).all()
    assert ((layer.W == 0) <= (q.Wq == 0)).all()  # a pruned weight stays pruned


def test_requantising_the_dequantised_layer_gives_the_same_integers(tiny):
    q = quantise_layer(tiny.stack.layers[1], 1.0 / ONE, ONE)
    q2 = quantise_layer(q.dequantised(), 1.0 / ONE, ONE)
    for name in ("Wq", "Rq", "m_w", "m_r", "b_x", "b_r", "theta"):
        np.testing.assert_array_equal(getattr(q, name), getattr(q2, name))


def test_sigmoid_table_is_sigma_on_the_1_64_grid_in_q14():
    lut = sigmoid_lut()
    assert lut.shape == (1024,) and lut.dtype == np.int16
    a = -8 + np.arange(1024) / 64
    np.testing.assert_allclose(lut / ONE, 1 / (1 + np.exp(-a)), atol=0.5 / ONE + 1e-12)
    assert (np.diff(lut.astype(int)) >= 0).all()
    np.testing.assert_array_equal(_LUT, lut)


def test_input_scale_maps_the_calibration_range_to_int8():
    xs = np.linspace(-2.0, 2.0, 10001)
    s = calibrate_input_scale(xs)
    assert s == pytest.approx(2.0 / INT8_MAX, rel=1e-3)
    q = quantise_input(np.array([-5.0, 0.0, 1.0, 5.0]), s)
    assert q.tolist() == [-INT8_MAX, 0, round(1.0 / s), INT8_MAX]


def test_integer_stack_tracks_the_float_stack(tiny):
    x = tiny.embed(np.arange(60) % tiny.vocab_size)
    qs = quantise_stack(tiny.stack.layers, calibrate_input_scale(x))
    tr = qs.run_float(x)
    ref = tiny.stack.run(x)
    for got, want in zip(tr.real_ys(), ref.ys, strict=True):
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 0.25  # few flipped events, each |y| <= 1
        assert abs(np.count_nonzero(got) - np.count_nonzero(want)) <= 0.1 * want.size
    for y in tr.ys:
        assert y.dtype == np.int64 and (np.abs(y) <= ONE).all()


def test_integer_stack_refuses_a_wrong_input_width(tiny):
    qs = quantise_stack(tiny.stack.layers, 0.02)
    with pytest.raises(ModelError, match="expected"):
        qs.run(np.zeros((3, tiny.stack.layers[0].n_in + 1), np.int64))


def test_a_ptq_checkpoint_round_trips_with_its_recorded_scale(tiny, tmp_path):
    q = ptq(tiny, np.arange(tiny.vocab_size))
    m = q.model
    m.meta = dict(m.meta) | {"quantisation": quant_meta(q.x_scale, "PTQ test")}
    path = tmp_path / "tiny_int8.npz"
    save_checkpoint(path, m, meta=m.meta)
    back = load_checkpoint(path)
    assert is_quantised(back) and not is_quantised(tiny)
    q2 = load_qlm(back)
    assert q2.x_scale == q.x_scale
    for a, b in zip(q.qstack.layers, q2.qstack.layers, strict=True):
        np.testing.assert_array_equal(a.Wq, b.Wq)
        np.testing.assert_array_equal(a.theta, b.theta)
    toks = np.arange(40) % tiny.vocab_size
    assert q.evaluate(toks).perplexity == q2.evaluate(toks).perplexity
    with pytest.raises(ModelError, match="not quantised"):
        load_qlm(tiny)
