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
    assert layer.R.weight.grad is not None
    assert float(layer.R.weight.grad.abs().sum()) > 0
    assert layer.thr.grad is None  # LM recipe: thresholds frozen
    assert float(layer.thr.min()) >= 0 and float(layer.thr.max()) <= 1


def _evnn_state(model):
    """``model``'s state dict under EvNN's names and layout (how states were saved before the
    nn.Linear layout)."""
    out = {}
    for k, v in model.state_dict().items():
        for new, old, transpose in ((".W.weight", ".kernel", True),
                                    (".R.weight", ".recurrent_kernel", True),
                                    (".W.bias", ".bias", False),
                                    (".R.bias", ".recurrent_bias", False)):
            if k.endswith(new):
                k, v = k[: -len(new)] + old, v.t().contiguous() if transpose else v
                break
        out[k] = v.clone()
    return out


def test_linear_layout_and_evnn_names():
    from torch import nn

    m = EGRULM(40, 8, [12, 8], seed=1).eval()
    layer = m.rnns[0]
    assert isinstance(layer.W, nn.Linear) and isinstance(layer.R, nn.Linear)
    assert layer.W.weight.shape == (36, 8) and layer.R.weight.shape == (36, 12)
    assert torch.equal(layer.kernel, layer.W.weight.t())  # EvNN's (n_in, 3H) view
    old = _evnn_state(m)
    assert "rnns.0.kernel" in old and old["rnns.0.kernel"].shape == (8, 36)
    fresh = EGRULM(40, 8, [12, 8], seed=2).eval()
    fresh.load_state_dict(old)  # EvNN names are converted on load
    toks = torch.randint(0, 40, (20, 1), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, _, _ = m(toks)
        b, _, _ = fresh(toks)
    assert torch.equal(a, b)


def test_old_training_state_resumes():
    from models.egru.torch_egru import upgrade_training_state

    torch.manual_seed(0)
    m = EGRULM(40, 8, [12, 8], seed=1)
    opt = torch.optim.AdamW(m.parameters())
    toks = torch.randint(0, 40, (10, 2))
    m(toks)[0].sum().backward()
    opt.step()
    # the optimiser state as it was saved in EvNN's layout: per-parameter state in the old
    # parameters() order (decoder_bias, encoder, then kernel, recurrent_kernel, bias,
    # recurrent_bias, thr of each layer), weights transposed
    old_model = _evnn_state(m)
    new_names = [n for n, _ in m.named_parameters()]
    sd = opt.state_dict()
    old_names = list(old_model)

    def new_name(old):
        for o, n in ((".kernel", ".W.weight"), (".recurrent_kernel", ".R.weight"),
                     (".recurrent_bias", ".R.bias"), (".bias", ".W.bias")):
            if old.endswith(o) and not old.endswith("decoder_bias"):
                return old[: -len(o)] + n
        return old

    old_state = {}
    for i, name in enumerate(old_names):
        j = new_names.index(new_name(name))
        if j not in sd["state"]:  # frozen thresholds have no optimiser state
            continue
        per = sd["state"][j]
        old_state[i] = {k: (v.t().contiguous() if torch.is_tensor(v) and v.dim() == 2
                            and name.endswith("kernel") else v) for k, v in per.items()}
    old_opt = {"state": old_state, "param_groups": sd["param_groups"]}
    masks = {"rnns.0.kernel": (old_model["rnns.0.kernel"] != 0).float()}
    m2 = EGRULM(40, 8, [12, 8], seed=5)
    ms, os_, mk = upgrade_training_state(m2, old_model, old_opt, masks)
    m2.load_state_dict(ms)
    opt2 = torch.optim.AdamW(m2.parameters())
    opt2.load_state_dict(os_)
    for j, (p, q) in enumerate(zip(m.parameters(), m2.parameters(), strict=True)):
        assert torch.equal(p, q)
        if p.requires_grad:
            assert torch.equal(opt.state[p]["exp_avg"], opt2.state[q]["exp_avg"]), new_names[j]
    assert mk["rnns.0.W.weight"].shape == m2.rnns[0].W.weight.shape
    same = upgrade_training_state(m2, m2.state_dict(), sd, {})
    assert same[1] is sd  # a state in the new layout is left as it is
