"""Discrete-event engine: the mapping's programs run on ``s2sim.hw.Chip`` (SimPy).

The host side: step t's input vector (the token's embedding, looked up on the host) goes to the
input-source PE as the input kind's host packets (``firmware_py.kinds.input_source``), injected
at t·tick through the Ethernet bridge (1 Gbit/s serialisation + per-packet overhead, modelled by
the chip). The readout's message for step t comes back through the bridge; its arrival time minus
t·tick is the step's latency. With the decoder on the chip the host sends each step's token as
one packet to the decoder block holding its row, and receives the step's token back.
"""

from __future__ import annotations

import numpy as np

from firmware_py.kinds import build_programs
from firmware_py.kinds.decoder import token_packets
from firmware_py.kinds.input_source import host_packet_groups, host_packets
from firmware_py.kinds.readout import decode_message, decode_token
from firmware_py.pipeline import run_ticks
from s2sim.engine.common import (
    PreparedRun,
    activity_metrics,
    host_link,
    packets_and_hops,
    pe_totals,
)
from s2sim.engine.functional import host_work
from s2sim.engine.result import Mismatches, RunResult
from s2sim.errors import S2SimError

__all__ = ["run_des"]


def _load(chip, run: PreparedRun):
    """Programs onto their PEs, the routing table into the router; (slice id -> Program)."""
    m = run.mapping
    pe_progs, progs = build_programs(m, run.network, run.spec, run.n_steps,
                                      csr_checked=run.csr_checked)
    for pe, prog in pe_progs.items():
        chip.load(pe, prog, pl=m.pl)
    for r in m.routes:
        chip.router.add(r.key, r.mask, pes=set(r.pes))
    return progs


def _inject_inputs(chip, run: PreparedRun, P: int) -> int:
    """Each step's host packets at t·tick; returns how many were injected."""
    if run.mapping.decoder_on_chip:
        _, _, keys = token_packets(run.mapping, run.tokens)
        for t, k in enumerate(keys):
            chip.inject(t * P, k.reshape(1), np.array([[run.tokens[t]]], np.uint32))
        return int(keys.size)
    n_pk = 0
    for t, groups in enumerate(host_packet_groups(run.xs)):
        keys, payloads = host_packets(t, groups)
        if keys.size:
            chip.inject(t * P, keys, payloads)
            n_pk += keys.size
    return n_pk


def _layer_outputs(run: PreparedRun, progs) -> tuple[list[np.ndarray], int, int]:
    """Per layer (T, H) from the slices' event logs; late packets and unsent events."""
    m, T = run.mapping, run.n_steps
    ys = [np.zeros((T, H), np.float32) for H in m.layer_sizes]
    late = 0
    unsent = 0  # events a slice had not sent yet when its next step's events replaced them
    for s in m.slices:
        prog = progs[s.id]
        late += int(getattr(prog, "late_packets", 0))
        unsent += int(getattr(prog, "unsent", 0))
        if s.kind != "egru":
            continue
        units = np.asarray(s.units, np.int64)
        for step, fired, vals in prog.fired_log:
            if 0 <= step < T:
                ys[s.layer][step, units[fired]] = vals
    return ys, late, unsent


def _host_outputs(run: PreparedRun, host_rx, P: int):
    """The last layer's outputs, readout values and per-step latency as the host received them."""
    m, T = run.mapping, run.n_steps
    outputs = np.zeros((T, m.layer_sizes[-1]), np.float32)
    readout = np.zeros((T, m.readout_n_out), np.float32) if m.readout_n_out else None
    latency = np.full(T, -1, np.int64)
    tokens = np.full(T, -1, np.int64) if m.decoder_on_chip else None
    nbytes_total = 0
    for t_rx, _pe, nbytes, payload in host_rx:
        step, units, vals, out = decode_message(payload)
        if not 0 <= step < T:
            continue
        tok = decode_token(payload)
        if tok is not None:
            tokens[step] = tok[1]
        outputs[step, units] = vals
        if readout is not None and out is not None:
            readout[step] = out
        latency[step] = t_rx - step * P
        nbytes_total += int(nbytes)
    return outputs, readout, latency, nbytes_total, tokens


def run_des(run: PreparedRun, progress: bool = False) -> RunResult:
    from s2sim.hw.chip import Chip
    from s2sim.hw.energy import price

    m, spec = run.mapping, run.spec
    T, L = run.n_steps, m.n_layers
    chip = Chip(spec)
    P = int(chip.tick_period_ps)
    if m.decoder_on_chip and run.tokens is None:
        raise S2SimError("--decoder chip: the inputs must be token ids (the chip looks up the "
                         "embedding)")
    if P != m.tick_period_ps:
        raise S2SimError(f"mapping tick {m.tick_period_ps} ps differs from the spec's {P} ps: "
                         "recompile the mapping with this spec")
    progs = _load(chip, run)
    n_pk = _inject_inputs(chip, run, P)
    n_ticks = run_ticks(T, L, m.decoder_on_chip)
    res = chip.run(ticks=n_ticks)

    ys, late, unsent = _layer_outputs(run, progs)
    outputs, readout, latency, bytes_from_chip, tokens = _host_outputs(run, res.host_rx, P)
    if tokens is not None:  # the host gets tokens: the last layer's outputs from the slices' logs
        outputs = ys[-1]
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    counts = res.counts
    energy = price(counts, spec)
    used = m.pes_used()
    idx = [counts.pe_ids.index(p) for p in used]
    pk, hops = packets_and_hops(run, in_events, ys)
    hw = host_link(host_work(run, outputs), spec, n_pk, bytes_from_chip, m.decoder_on_chip)
    summ = res.summary()
    return RunResult(
        engine="des", n_steps=T, n_layers=L, outputs=outputs, layer_outputs=ys,
        events_per_step=events, input_events=in_events, activation_sparsity=sparsity,
        effective_macs_per_step=eff, dense_macs_per_step=dense, readout=readout,
        latency_ps=latency, step_period_ps=P, sim_time_ps=int(counts.duration_ps),
        packets_per_step=pk, hops_per_step=hops, pe_ids=used, pe_counts=pe_totals(counts.pe, idx),
        max_step_cycles=counts.pe["active_cycles"][idx].max(axis=1).astype(np.int64),
        counts=counts, energy=energy, energy_j=energy.total_j, tokens=tokens,
        mismatches=Mismatches(late_packets=late),
        dropped_packets=int(summ.get("queue_full", 0)) + int(counts.total("dropped")),
        tick_overruns=int(summ.get("tick_overruns", 0)), host=hw,
        undelivered_packets=int(counts.undelivered),
        missing_host_outputs=int((latency < 0).sum()),
        meta={"missing_host_outputs": int((latency < 0).sum()), "n_ticks": n_ticks,
              "unsent_events": unsent,
              "host_output_mismatches": int(np.sum((outputs != 0) != (ys[-1] != 0))),
              "noc_hops_total": counts.total("hops"),
              "noc_packets_total": counts.total("packets"),
              "undelivered": int(counts.undelivered)},
    )
