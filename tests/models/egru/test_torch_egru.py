"""The torch training cell and the numpy reference agree: same events, outputs within 1e-5."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.egru.reference import EGRUStack  # noqa: E402
from models.egru.torch_egru import (  # noqa: E402
    EGRU,
    EGRULM,
    SpikeFunction,
    egru_layer_to_numpy,
    egru_lm_to_numpy,
)


def _scaled_layer(n_in, h, seed, thr_mean):
    gen = torch.Generator().manual_seed(seed)
    layer = EGRU(n_in, h, thr_mean=thr_mean, generator=gen)
    with torch.no_grad():  # stronger weights than the init: richer event dynamics
        layer.kernel.mul_(2.0)
        layer.recurrent_kernel.mul_(1.5)
        layer.bias.normal_(0, 0.2, generator=gen)
        layer.recurrent_bias.normal_(0, 0.2, generator=gen)
    return layer.eval()


@pytest.mark.parametrize("seed,thr_mean", [(0, 0.01), (1, 0.1), (2, 0.3)])
def test_numpy_and_torch_forward_agree(seed, thr_mean):
    torch.manual_seed(seed)
    l1, l2 = _scaled_layer(12, 32, seed, thr_mean), _scaled_layer(32, 20, seed + 7, thr_mean)
    x = torch.randn(60, 3, 12)
    with torch.no_grad():
        y1, _ = l1(x)
        y2, _ = l2(y1)
    stack = EGRUStack([egru_layer_to_numpy(l1), egru_layer_to_numpy(l2)])
    ref = stack.run(x.numpy())
    for name, yt, yn in (("layer0", y1.numpy(), ref.ys[0]), ("layer1", y2.numpy(), ref.ys[1])):
        mism = int(np.count_nonzero((yt != 0) != (yn != 0)))
        assert mism == 0, f"{name}: {mism} of {yt.size} events differ between torch and numpy"
        np.testing.assert_allclose(yt, yn, atol=1e-5, rtol=0)
    act = ref.activity()
    assert all(0.02 < a < 0.98 for a in act), act  # a genuinely sparse, non-trivial pattern


def test_lm_conversion_matches_torch_logits():
    torch.manual_seed(0)
    m = EGRULM(50, 8, [16, 8], seed=0).eval()
    toks = torch.randint(0, 50, (30, 1))
    with torch.no_grad():
        logits, _, _ = m(toks)
    lm = egru_lm_to_numpy(m)
    state = lm.stack.zero_state()
    for t in range(30):
        y, state = lm.stack.step(lm.embedding[int(toks[t, 0])], state)
        np.testing.assert_allclose(lm.logits(y), logits[t, 0].numpy(), atol=1e-5)


def test_pseudo_derivative_is_triangular():
    v = torch.tensor([-1.0, -0.1, 0.0, 0.1, 0.2, 1.0], requires_grad=True)
    out = SpikeFunction.apply(v, 3.6, 3.6)
    assert out.tolist() == [0, 0, 0, 1, 1, 1]  # strict: v == 0 does not fire
    out.sum().backward()
    exp = [3.6 * max(0.0, 1 - 3.6 * abs(float(a))) for a in v.detach()]
    assert v.grad.tolist() == pytest.approx(exp, rel=1e-6)


def test_gradients_flow_through_events():
    torch.manual_seed(0)
    layer = EGRU(6, 10, thr_mean=0.05)
    x = torch.randn(20, 2, 6)
    y, _ = layer(x)
    y.sum().backward()
    assert layer.recurrent_kernel.grad is not None
    assert float(layer.recurrent_kernel.grad.abs().sum()) > 0
    assert layer.thr.grad is None  # LM recipe: thresholds frozen
    assert float(layer.thr.min()) >= 0 and float(layer.thr.max()) <= 1
