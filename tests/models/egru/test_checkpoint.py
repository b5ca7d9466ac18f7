"""Checkpoint round trip, one clear error per corruption, EvNN state-dict import."""

import json
import zipfile

import numpy as np
import pytest

from models.egru.checkpoint import (
    import_evnn_state_dict,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from models.egru.errors import CheckpointError
from models.egru.paper import paper_shape_model


@pytest.fixture(scope="module")
def small_model():
    m = paper_shape_model(seed=3, activity=(0.3, 0.3), weight_sparsity=0.9, vocab_size=40,
                          embedding_dim=8, layers=(12, 8))
    m.vocab = [f"w{i}" for i in range(40)]
    return m


def _rewrite(src, dst, edit):
    """Copy an npz, applying edit(dict of arrays, meta) -> (arrays, meta)."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    arrays, meta = edit(arrays, meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(dst, **arrays)
    return dst


def test_round_trip_is_exact(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model,
                        {"provenance": {"data": "none", "seed": 3}})
    m2 = load_checkpoint(p)
    np.testing.assert_array_equal(m2.embedding, small_model.embedding)
    np.testing.assert_array_equal(m2.decoder_bias, small_model.decoder_bias)
    for a, b in zip(small_model.stack.layers, m2.stack.layers, strict=True):
        for name in ("W", "R", "b_x", "b_r", "theta"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype == np.float32
            np.testing.assert_array_equal(x, y)
    assert m2.vocab == small_model.vocab
    assert m2.placement["embedding"] == "host" and m2.placement["decoder"] == "host"
    meta = read_meta(p)
    assert meta["version"] == 1 and meta["arch"]["layers"] == [12, 8]
    assert meta["provenance"]["seed"] == 3
    # pruned matrices are stored as CSR, the sparsity is recorded
    assert meta["arrays"]["layer0.R"]["storage"] == "csr"
    assert meta["sparsity"]["weight"]["recurrent"] == pytest.approx(0.9, abs=0.01)
    # same model, same bytes of outputs
    toks = np.arange(20) % 40
    assert m2.evaluate(toks).nll_nats == small_model.evaluate(toks).nll_nats


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.npz: checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.npz")


def test_wrong_version(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)

    def edit(a, m):
        m["version"] = 99
        return a, m

    bad = _rewrite(p, tmp_path / "v.npz", edit)
    with pytest.raises(CheckpointError, match=r"v.npz: checkpoint version 99, this loader reads"):
        load_checkpoint(bad)


def test_wrong_shape(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)

    def edit(a, m):
        a["layer1.b_x"] = a["layer1.b_x"][:-1]
        m["arrays"]["layer1.b_x"]["shape"] = [23]
        return a, m

    bad = _rewrite(p, tmp_path / "s.npz", edit)
    with pytest.raises(CheckpointError, match=r"s.npz: array 'layer1.b_x' declared shape \(23,\)"):
        load_checkpoint(bad)

    def edit2(a, m):
        a["decoder_bias"] = a["decoder_bias"][:-1]
        return a, m

    bad = _rewrite(p, tmp_path / "s2.npz", edit2)
    with pytest.raises(CheckpointError, match=r"array 'decoder_bias' has shape \(39,\)"):
        load_checkpoint(bad)


def test_wrong_dtype(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)

    def edit(a, m):
        a["embedding"] = a["embedding"].astype(np.float64)
        return a, m

    with pytest.raises(CheckpointError, match="'embedding' has dtype float64"):
        load_checkpoint(_rewrite(p, tmp_path / "d.npz", edit))


def test_nan(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)

    def edit(a, m):
        a["layer0.R.data"] = a["layer0.R.data"].copy()
        a["layer0.R.data"][3] = np.nan
        return a, m

    with pytest.raises(CheckpointError, match="n.npz: array 'layer0.R' contains NaN"):
        load_checkpoint(_rewrite(p, tmp_path / "n.npz", edit))
    small_model.stack.layers[0].b_r[0] = np.inf
    try:
        with pytest.raises(CheckpointError, match="refusing to save layer0.b_r"):
            save_checkpoint(tmp_path / "inf.npz", small_model)
        assert not (tmp_path / "inf.npz").exists()
    finally:
        small_model.stack.layers[0].b_r[0] = 0


def test_truncated(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)
    raw = p.read_bytes()
    for n in (len(raw) // 2, 10):
        t = tmp_path / f"t{n}.npz"
        t.write_bytes(raw[:n])
        with pytest.raises(CheckpointError, match=f"t{n}.npz: not a readable .npz checkpoint"):
            load_checkpoint(t)


def test_broken_csr_and_missing_array(small_model, tmp_path):
    p = save_checkpoint(tmp_path / "m.npz", small_model)

    def edit(a, m):
        a["layer0.W.indices"] = a["layer0.W.indices"].copy()
        a["layer0.W.indices"][0] = 500
        return a, m

    with pytest.raises(CheckpointError, match="'layer0.W' has an inconsistent CSR"):
        load_checkpoint(_rewrite(p, tmp_path / "c.npz", edit))

    def edit2(a, m):
        del a["layer1.theta"]
        return a, m

    with pytest.raises(CheckpointError, match="array 'layer1.theta' missing"):
        load_checkpoint(_rewrite(p, tmp_path / "x.npz", edit2))


def test_not_our_format(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="array '__meta__' missing"):
        load_checkpoint(p)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("__meta__.npy", b"garbage")
    with pytest.raises(CheckpointError, match="z.npz: array '__meta__' unreadable"):
        load_checkpoint(tmp_path / "z.npz")


def test_import_evnn_state_dict(small_model):
    torch = pytest.importorskip("torch")
    sd = {"encoder.weight": torch.from_numpy(small_model.embedding.copy()),
          "decoder.bias": torch.from_numpy(small_model.decoder_bias.copy())}
    for i, layer in enumerate(small_model.stack.layers):
        sd[f"rnns.{i}.kernel"] = torch.from_numpy(layer.W.copy())
        sd[f"rnns.{i}.recurrent_kernel"] = torch.from_numpy(layer.R.copy())
        sd[f"rnns.{i}.bias"] = torch.from_numpy(layer.b_x.copy())
        sd[f"rnns.{i}.recurrent_bias"] = torch.from_numpy(layer.b_r.copy())
        sd[f"rnns.{i}.thr"] = torch.from_numpy(layer.theta.copy())
        sd[f"rnns.{i}.dampening_factor"] = torch.tensor([0.7])
    m = import_evnn_state_dict(sd)
    toks = np.arange(15) % 40
    assert m.evaluate(toks).nll_nats == small_model.evaluate(toks).nll_nats
    assert m.meta["evnn"]["dampening_factor"] == pytest.approx([0.7, 0.7])
    del sd["rnns.1.thr"]
    with pytest.raises(CheckpointError, match="layer 1 key 'rnns.1.thr' missing"):
        import_evnn_state_dict(sd)


def test_named_checkpoints():
    from models.egru.checkpoint import NAMED_CHECKPOINTS, load_named, named_checkpoint_path

    with pytest.raises(CheckpointError, match="model 'huge': no such file or model name"):
        load_named("huge")
    for name in NAMED_CHECKPOINTS:
        try:
            path = named_checkpoint_path(name)
        except CheckpointError as exc:
            pytest.skip(str(exc))
        m = load_named(name)
        assert path.stat().st_size <= 20_000_000  # the size rule for shipped checkpoints
        assert m.meta["provenance"]["test_ppl"] > 1
        assert m.placement["embedding"] == "host"
