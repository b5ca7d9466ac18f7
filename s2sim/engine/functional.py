"""Functional engine: the numpy reference (models.egru.reference) on the mapped network.

Outputs, events, sparsity and effective MACs; no time, traffic or energy (those fields are None).
The mapping does not change anything here — that is the point: the other engines are compared
against it.
"""

from __future__ import annotations

import numpy as np

from s2sim.engine.common import PreparedRun, activity_metrics
from s2sim.engine.result import HostWork, RunResult

__all__ = ["run_functional"]


def host_work(run: PreparedRun, ys_last: np.ndarray) -> HostWork:
    net = run.network
    hw = HostWork()
    if run.mapping.decoder_on_chip:  # lookups and decoder run on the chip
        return hw
    if run.tokens is not None:
        hw.embedding_lookups = int(run.tokens.size)
    if net.readout.host_decoder == "tied" and net.input.embedding is not None:
        V = net.input.embedding.shape[0]
        hw.decoder_macs = int(np.count_nonzero(ys_last)) * V
    return hw


def run_functional(run: PreparedRun, progress: bool = False) -> RunResult:
    tr = run.oracle()
    ys = [y.astype(np.float32) for y in tr.ys]
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    return RunResult(
        engine="functional", n_steps=run.n_steps, n_layers=len(ys), outputs=ys[-1],
        layer_outputs=ys, events_per_step=events, input_events=in_events,
        activation_sparsity=sparsity, effective_macs_per_step=eff, dense_macs_per_step=dense,
        readout=run.oracle_readout(), host=host_work(run, ys[-1]),
    )
