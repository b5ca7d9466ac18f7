"""What all engines share: preparing a run (inputs, network, spec), the oracle, the comparison,
and the activity metrics (events, effective MACs) computed from per-layer outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2sim.engine.result import Mismatches, RunResult
from s2sim.errors import S2SimError

__all__ = ["PreparedRun", "prepare_run", "compare_with_oracle", "activity_metrics"]


@dataclass
class PreparedRun:
    mapping: object
    network: object
    spec: object
    xs: np.ndarray  # (T, n_in) float32 input vectors
    tokens: np.ndarray | None  # (T,) token ids when the host looked them up
    _oracle: object = field(default=None, repr=False)

    @property
    def n_steps(self) -> int:
        return int(self.xs.shape[0])

    def oracle(self):
        """The numpy reference run (models.egru.reference) on the same inputs, cached."""
        if self._oracle is None:
            self._oracle = self.network.stack.run(self.xs, trace=bool(self.network.readout.trace))
        return self._oracle

    def oracle_readout(self) -> np.ndarray | None:
        ro = self.network.readout
        if ro.weights is None:
            return None
        tr = self.oracle()
        y = tr.traces[-1] if ro.trace else tr.ys[-1]
        return (y @ ro.weights.T + ro.bias).astype(np.float32)


def prepare_run(mapping, inputs, network=None) -> PreparedRun:
    if network is not None:
        mapping.attach(network)
    net = mapping.network
    a = np.asarray(inputs)
    tokens = None
    if a.ndim == 1 and a.dtype.kind in "iu":
        if net.input.embedding is None:
            raise S2SimError(f"inputs: token ids given, but network {net.name!r} has no "
                             f"embedding; give input vectors of shape (T, {net.input.n_out})")
        V = net.input.embedding.shape[0]
        if a.size and (a.min() < 0 or a.max() >= V):
            raise S2SimError(f"inputs: token id out of range [0, {V})")
        tokens = a.astype(np.int64)
        xs = net.input.embedding[tokens]
    elif a.ndim == 2 and a.dtype.kind == "f":
        if a.shape[1] != net.input.n_out:
            raise S2SimError(f"inputs: shape {a.shape}, the network takes "
                             f"{net.input.n_out} inputs per step")
        xs = a.astype(np.float32)
    else:
        raise S2SimError(f"inputs: shape {a.shape} dtype {a.dtype}: give token ids (T,) int or "
                         f"input vectors (T, {net.input.n_out}) float32")
    if not np.all(np.isfinite(xs)):
        raise S2SimError("inputs: contain NaN or infinity")
    return PreparedRun(mapping=mapping, network=net, spec=mapping.load_spec(),
                       xs=np.ascontiguousarray(xs, np.float32), tokens=tokens)


def activity_metrics(run: PreparedRun, ys: list[np.ndarray]):
    """events (T, L), input events (T,), sparsity per layer, effective MACs (T,), dense MACs."""
    net = run.network
    T = run.n_steps
    L = len(net.layers)
    events = np.zeros((T, L), np.int64)
    eff = np.zeros(T, np.int64)
    dense = 0
    for i, layer in enumerate(net.layers):
        st = net.stats(i)
        inp = run.xs if i == 0 else ys[i - 1]
        act_in = (inp != 0).astype(np.int64)
        prev = np.zeros_like(ys[i])
        prev[1:] = ys[i][:-1]
        act_rec = (prev != 0).astype(np.int64)
        eff += act_in @ st.nnz_w_per_row + act_rec @ st.nnz_r_per_row
        events[:, i] = np.count_nonzero(ys[i], axis=1)
        dense += 3 * layer.hidden * (layer.n_in + layer.hidden)
    in_events = np.count_nonzero(run.xs, axis=1).astype(np.int64)
    sparsity = [1.0 - float(np.count_nonzero(y)) / y.size if y.size else 0.0 for y in ys]
    return events, in_events, sparsity, eff, dense


def compare_with_oracle(run: PreparedRun, result: RunResult, atol: float = 1e-5) -> None:
    """Fill ``result.mismatches``: event and value mismatches per layer vs the numpy oracle."""
    tr = run.oracle()
    mm = Mismatches(compared=True, atol=atol, late_packets=result.mismatches.late_packets)
    first = None
    for i, (a, b) in enumerate(zip(result.layer_outputs, tr.ys, strict=True)):
        fa, fb = a != 0, b != 0
        ev = fa != fb
        both = fa & fb
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        val = both & (diff > atol)
        n_ev = int(ev.sum())
        mm.per_layer_event_mismatches.append(n_ev)
        mm.event_mismatches += n_ev
        mm.value_mismatches += int(val.sum())
        if both.any():
            mm.max_abs_error = max(mm.max_abs_error, float(diff[both].max()))
        bad = ev | val
        if bad.any():
            t, u = np.argwhere(bad)[0]
            cand = (int(t), i, int(u))
            if first is None or cand < first:
                first = cand
    if result.readout is not None:
        ref = run.oracle_readout()
        if ref is not None:
            err = float(np.max(np.abs(result.readout.astype(np.float64) - ref))) if ref.size \
                else 0.0
            result.meta["readout_max_abs_error"] = err
    mm.first_mismatch = first
    mm.diverged_steps = 0 if first is None else run.n_steps - first[0]
    result.mismatches = mm
