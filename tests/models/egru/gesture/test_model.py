"""The gesture classifier: shipped checkpoint, held-out accuracy, training, checkpoint errors."""

from __future__ import annotations

import numpy as np
import pytest

from models.egru.gesture.io import N_CLASSES
from models.egru.gesture.model import DEFAULT_CHECKPOINT, GestureModel, load_default
from models.egru.gesture.preprocess import batch_frames
from models.egru.gesture.synthetic import (
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    SyntheticConfig,
    make_samples,
)
from s2sim.errors import CheckpointError


def test_shipped_checkpoint_small_and_loadable():
    assert DEFAULT_CHECKPOINT.stat().st_size <= 5 * 2**20
    model = load_default()
    assert model.stack.n_in == model.frame.n_in
    assert model.meta["test_subjects"] == list(TEST_SUBJECTS)


def test_beats_chance_widely_on_held_out_subjects():
    # fresh performances (a seed the training never used) by subjects the training never saw
    assert not set(TEST_SUBJECTS) & set(TRAIN_SUBJECTS)
    model = load_default()
    xs, ys = batch_frames(make_samples(TEST_SUBJECTS, SyntheticConfig(repeats=1, seed=12345)),
                          model.frame)
    preds = np.array([model.predict(x).label for x in xs])
    acc = float(np.mean(preds == ys))
    chance = 1 / N_CLASSES
    assert acc >= 0.6, f"held-out accuracy {acc:.3f} (chance {chance:.3f})"
    # every class is recognised at least once: not a degenerate majority predictor
    assert len(set(preds[preds == ys].tolist())) >= N_CLASSES - 2


def test_logits_are_the_mean_of_the_per_step_trace_readout():
    # the identity that lets the chip's per-step readout of the trace give the same prediction
    model = load_default()
    rng = np.random.default_rng(0)
    ys = (rng.random((20, model.stack.sizes[-1])) < 0.2).astype(np.float32)
    tr = model.output_trace(ys)
    per_step = tr @ model.readout_W + model.readout_b
    np.testing.assert_allclose(per_step.mean(axis=0), model.logits_from_outputs(ys), atol=1e-5)


def test_training_code_runs_and_torch_matches_numpy(tmp_path):
    torch = pytest.importorskip("torch")
    from models.egru.gesture import train as tr

    cfg = tr.TrainConfig(hidden=(12,), epochs=1, repeats_train=1, repeats_test=1, batch=64)
    out = tmp_path / "g.npz"
    model, metrics = tr.train(cfg, out, log=lambda s: None)
    back = GestureModel.load(out)
    for a, b in zip(model.stack.layers, back.stack.layers, strict=True):
        np.testing.assert_array_equal(a.W, b.W)
    assert 0.0 <= metrics["activation_sparsity"] <= 1.0 and metrics["samples"] > 0
    # the exported numpy model computes what the torch model computed
    _, Net = tr._torch_modules()
    torch.manual_seed(0)
    net = Net(model.frame.n_in, (12,), cfg.thr_mean, 0)
    with torch.no_grad():
        layer = net.layers[0]
        for view, name in ((layer.kernel, "W"), (layer.recurrent_kernel, "R"), (layer.bias, "b_x"),
                           (layer.recurrent_bias, "b_r"), (layer.thr, "theta")):
            view.copy_(torch.from_numpy(getattr(model.stack.layers[0], name)))
        net.readout.weight.copy_(torch.from_numpy(model.readout_W.T.copy()))
        net.readout.bias.copy_(torch.from_numpy(model.readout_b))
        xs, _ = batch_frames(make_samples([TEST_SUBJECTS[0]], SyntheticConfig(repeats=1)),
                             model.frame)
        logits_t, _ = net(torch.from_numpy(xs[:4]))
    logits_n = np.stack([model.predict(x).logits for x in xs[:4]])
    np.testing.assert_allclose(logits_t.numpy(), logits_n, atol=2e-3)


def test_checkpoint_errors(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.npz"):
        GestureModel.load(p)
    with pytest.raises(CheckpointError, match="not found"):
        GestureModel.load(tmp_path / "missing.npz")
    model = load_default()
    out = model.save(tmp_path / "ok.npz")
    with np.load(out) as z:
        arrays = {k: z[k] for k in z.files if k != "readout.b"}
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(CheckpointError, match="readout.b"):
        GestureModel.load(tmp_path / "cut.npz")
