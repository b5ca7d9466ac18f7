"""Model metrics under the names NeuroBench uses (Yik et al., "NeuroBench", 2023/2025).

Static metrics: ``footprint`` (NeuroBench's Footprint: bytes of every parameter, dense),
``connection_sparsity``, ``parameter_count``; ``footprint_csr`` is s2sim's own (bytes with the
pruned matrices in CSR, as the checkpoint and the chip store them). Workload metrics:
``activation_sparsity`` (NeuroBench's ActivationSparsity, pooled over every neuron of every
layer), ``activation_sparsity_by_layer`` (ActivationSparsityByLayer) and
``synaptic_operations`` (SynapticOperations) with the keys ``Effective_MACs``,
``Effective_ACs`` and ``Dense``, averaged per sample, where a sample here is one token (one
time step), the unit of LM inference at batch size 1 (NeuroBench's sample is a whole input
sequence: divide its figures by the sequence length). NeuroBench's own classes on the torch
model (``models.egru.torch_egru.egru_lm_from_numpy``) give the same figures:
tests/models/egru/test_neurobench.py.

Conventions (stated because the definitions leave choices):
- EGRU events are *graded* (y = o ⊙ c), so every synaptic operation is a multiply-accumulate:
  ``Effective_ACs`` is 0 for this model; ``Effective_MACs`` counts, per step, for every input
  that is nonzero, the *nonzero* weights of its row (in W and R of every layer), i.e. exactly the
  work of the event-driven sparse path. ``Dense`` counts every weight entry of W and R of every
  layer once per step (no activation or weight sparsity exploited).
- Biases and gate nonlinearities are not synaptic operations (as in NeuroBench).
- By default only the recurrent stack (what runs on the chip) is counted; ``include_decoder``
  adds the tied decoder (top-layer events × V MACs effective, E × V dense), which runs on the host.
- ``connection_sparsity`` is the fraction of exact zeros over the weight matrices counted
  (stack W and R, and the embedding when ``part="all"``).
- ``activation_sparsity`` is the fraction of zero outputs over all neurons of the stack and all
  steps (not the mean of the layers' figures); ``activation_sparsity_by_layer`` gives each
  layer's.
"""

from __future__ import annotations

import numpy as np

from models.egru.lm import LMModel
from models.egru.reference import EGRUStack, StackTrace

__all__ = [
    "parameter_count",
    "connection_sparsity",
    "footprint",
    "footprint_csr",
    "activation_sparsity",
    "activation_sparsity_by_layer",
    "synaptic_operations",
    "all_metrics",
]


def _stack(model) -> EGRUStack:
    return model.stack if isinstance(model, LMModel) else model


def _matrices(model, part: str) -> list[np.ndarray]:
    mats = []
    for layer in _stack(model).layers:
        mats += [layer.W, layer.R]
    if part == "all":
        if not isinstance(model, LMModel):
            raise ValueError("part='all' needs an LMModel (with an embedding)")
        mats.append(model.embedding)
    elif part != "stack":
        raise ValueError(f"part must be 'stack' or 'all', got {part!r}")
    return mats


def parameter_count(model, part: str = "all") -> int:
    """Number of parameters (including pruned zeros, biases and thresholds)."""
    n = sum(layer.n_params for layer in _stack(model).layers)
    if part == "all" and isinstance(model, LMModel):
        n += model.embedding.size + model.decoder_bias.size
    return int(n)


def connection_sparsity(model, part: str = "stack") -> float:
    """Fraction of exact zeros in the weight matrices (W, R; plus embedding for 'all')."""
    mats = _matrices(model, part)
    zeros = sum(int(np.count_nonzero(m == 0)) for m in mats)
    return zeros / sum(m.size for m in mats)


def _csr_bytes(m: np.ndarray) -> int:
    nnz = int(np.count_nonzero(m))
    idx = 2 if m.shape[1] <= 65536 else 4
    return nnz * (4 + idx) + (m.shape[0] + 1) * 4


def footprint(model, part: str = "all") -> int:
    """NeuroBench's Footprint: bytes of every parameter held dense in float32 (pruned zeros
    included): the matrices, biases, thresholds, and for ``part="all"`` the embedding and the
    decoder bias."""
    return _bytes(model, part, csr=False)


def footprint_csr(model, part: str = "all") -> int:
    """Bytes with the matrices that are more than half zeros held in CSR (float32 values, uint16
    column indices when the width allows, int32 row pointers — the layout of the checkpoint and
    of the SpiNNaker2 deployment), the rest as in ``footprint``."""
    return _bytes(model, part, csr=True)


def _bytes(model, part: str, csr: bool) -> int:
    total = 0
    for m in _matrices(model, part):
        dense = m.size * 4
        if csr and np.count_nonzero(m) < 0.5 * m.size:
            total += min(dense, _csr_bytes(m))
        else:
            total += dense
    for layer in _stack(model).layers:
        total += (layer.b_x.size + layer.b_r.size + layer.theta.size) * 4
    if part == "all" and isinstance(model, LMModel):
        total += model.decoder_bias.size * 4
    return int(total)


def activation_sparsity_by_layer(trace: StackTrace) -> list[float]:
    return trace.activation_sparsity()


def activation_sparsity(trace: StackTrace) -> float:
    """Fraction of zero outputs over every neuron of every layer and every step."""
    zeros = sum(int(y.size - np.count_nonzero(y)) for y in trace.ys)
    return zeros / sum(y.size for y in trace.ys)


def synaptic_operations(model, xs: np.ndarray, trace: StackTrace,
                        include_decoder: bool = False) -> dict:
    """Per-step average of ``Effective_MACs``, ``Effective_ACs`` and ``Dense`` (see module doc).

    ``xs`` (T, n_in) is the stack input the ``trace`` was produced from (batch 1), e.g.
    ``model.embedding[tokens]``. Also returns ``per_layer`` effective MACs per step.
    """
    stack = _stack(model)
    xs = np.asarray(xs)
    if xs.ndim != 2:
        raise ValueError("synaptic_operations expects batch-1 input of shape (T, n_in)")
    T = xs.shape[0]
    eff = []
    dense = 0
    for i, layer in enumerate(stack.layers):
        nnz_w = np.count_nonzero(layer.W, axis=1)
        nnz_r = np.count_nonzero(layer.R, axis=1)
        inp = xs if i == 0 else trace.ys[i - 1]
        # recurrent input at step t is the layer's own output at t-1 (zero state before t=0)
        rec = np.concatenate([np.zeros((1, layer.hidden), np.float32), trace.ys[i][:-1]])
        e = int(((inp != 0) * nnz_w).sum()) + int(((rec != 0) * nnz_r).sum())
        eff.append(e / T)
        dense += layer.W.size + layer.R.size
    result = {"Effective_MACs": float(sum(eff)), "Effective_ACs": 0.0, "Dense": float(dense),
              "per_layer": eff}
    if include_decoder:
        if not isinstance(model, LMModel):
            raise ValueError("include_decoder needs an LMModel")
        top = trace.ys[-1]
        dec_eff = float(np.count_nonzero(top)) * model.vocab_size / T
        result["Effective_MACs"] += dec_eff
        result["Dense"] += model.embedding.size
        result["decoder"] = dec_eff
    return result


def all_metrics(model: LMModel, tokens: np.ndarray) -> dict:
    """Every metric for ``model`` on ``tokens`` at batch size 1, NeuroBench names as keys."""
    xs = model.embedding[np.asarray(tokens, dtype=np.int64)]
    trace = model.stack.run(xs)
    return {
        "parameter_count": parameter_count(model),
        "footprint": footprint(model),
        "footprint_csr": footprint_csr(model),
        "connection_sparsity": connection_sparsity(model),
        "connection_sparsity_all": connection_sparsity(model, part="all"),
        "activation_sparsity": activation_sparsity(trace),
        "activation_sparsity_by_layer": activation_sparsity_by_layer(trace),
        "synaptic_operations": synaptic_operations(model, xs, trace),
    }
