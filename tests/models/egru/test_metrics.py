"""NeuroBench-named metrics, checked against counts made by hand."""

import numpy as np
import pytest

from models.egru.lm import LMModel
from models.egru.metrics import (
    activation_sparsity,
    all_metrics,
    connection_sparsity,
    footprint,
    footprint_csr,
    parameter_count,
    synaptic_operations,
)
from models.egru.reference import EGRULayer, EGRUStack


def _model():
    rng = np.random.default_rng(0)
    layers = []
    n_in = 4
    for h in (6, 4):
        W = rng.standard_normal((n_in, 3 * h)).astype(np.float32)
        R = rng.standard_normal((h, 3 * h)).astype(np.float32)
        W[rng.random(W.shape) < 0.75] = 0
        R[rng.random(R.shape) < 0.75] = 0
        layers.append(EGRULayer(W, R, np.zeros(3 * h, np.float32), np.zeros(3 * h, np.float32),
                                np.full(h, 0.05, np.float32)))
        n_in = h
    emb = rng.standard_normal((9, 4)).astype(np.float32)
    return LMModel(embedding=emb, stack=EGRUStack(layers))


def test_static_metrics():
    m = _model()
    l0, l1 = m.stack.layers
    assert parameter_count(m) == (4 * 18 + 6 * 18 + 36 + 6) + (6 * 12 + 4 * 12 + 24 + 4) + 36 + 9
    zeros = sum(int((a == 0).sum()) for a in (l0.W, l0.R, l1.W, l1.R))
    assert connection_sparsity(m) == zeros / (72 + 108 + 72 + 48)
    assert footprint(m) == 4 * parameter_count(m)  # NeuroBench's: dense bytes
    assert footprint_csr(m) < footprint(m)


def test_synaptic_operations_count_events_times_row_nonzeros():
    m = _model()
    toks = np.array([1, 3, 5, 7, 2, 2, 8])
    xs = m.embedding[toks]
    tr = m.stack.run(xs)
    # brute force: every (nonzero input, nonzero weight) pair, step by step
    eff = 0
    for i, layer in enumerate(m.stack.layers):
        prev = np.zeros(layer.hidden, np.float32)
        for t in range(len(toks)):
            inp = xs[t] if i == 0 else tr.ys[i - 1][t]
            for j in np.flatnonzero(inp):
                eff += np.count_nonzero(layer.W[j])
            for j in np.flatnonzero(prev):
                eff += np.count_nonzero(layer.R[j])
            prev = tr.ys[i][t]
    so = synaptic_operations(m, xs, tr)
    assert so["Effective_MACs"] == pytest.approx(eff / len(toks))
    assert so["Effective_ACs"] == 0
    assert so["Dense"] == 72 + 108 + 72 + 48
    assert so["Effective_MACs"] < so["Dense"]
    so2 = synaptic_operations(m, xs, tr, include_decoder=True)
    assert so2["decoder"] == pytest.approx(np.count_nonzero(tr.ys[-1]) * 9 / len(toks))


def test_activation_sparsity_and_all_metrics():
    m = _model()
    toks = np.arange(9)
    tr = m.stack.run(m.embedding[toks])
    total = sum(y.size for y in tr.ys)
    nz = sum(np.count_nonzero(y) for y in tr.ys)
    assert activation_sparsity(tr) == pytest.approx(1 - nz / total, abs=1e-12)
    res = all_metrics(m, toks)
    assert set(res) >= {"parameter_count", "footprint", "connection_sparsity",
                        "activation_sparsity", "synaptic_operations"}
    assert set(res["synaptic_operations"]) >= {"Effective_MACs", "Effective_ACs", "Dense"}
