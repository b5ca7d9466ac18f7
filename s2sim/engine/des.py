"""Discrete-event engine: the mapping's programs run on ``s2sim.hw.Chip`` (SimPy).

The host side: step t's input vector (the token's embedding, looked up on the host) goes to the
input-source PE as one packet per nonzero element, injected at t·tick through the Ethernet bridge
(1 Gbit/s serialisation + per-packet overhead, modelled by the chip). The readout's message for
step t comes back through the bridge; its arrival time minus t·tick is the step's latency.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cores import encode
from firmware_py.input_source import HOST_VALUES_PER_PACKET
from firmware_py.keys import HOST_SRC, key_base
from s2sim.compiler.build import build_programs
from s2sim.engine.common import PreparedRun, activity_metrics, packets_and_hops
from s2sim.engine.functional import host_work
from s2sim.engine.result import Mismatches, RunResult
from s2sim.errors import S2SimError

__all__ = ["run_des"]


def run_des(run: PreparedRun, progress: bool = False) -> RunResult:
    from s2sim.hw.chip import Chip
    from s2sim.hw.energy import price

    m, net, spec = run.mapping, run.network, run.spec
    T, L = run.n_steps, m.n_layers
    chip = Chip(spec)
    P = int(chip._period_ps)
    if P != m.tick_period_ps:
        raise S2SimError(f"mapping tick {m.tick_period_ps} ps differs from the spec's {P} ps: "
                         "recompile the mapping with this spec")
    pe_progs, progs = build_programs(m, net, spec, T)
    for pe, prog in pe_progs.items():
        chip.load(pe, prog, pl=m.pl)
    for r in m.routes:
        chip.router.add(r.key, r.mask, pes=set(r.pes))
    host_base = key_base(HOST_SRC, 0)
    n_pk = 0
    V = HOST_VALUES_PER_PACKET
    n_in = run.xs.shape[1]
    padded = np.zeros((T, -(-n_in // V) * V), np.float32)
    padded[:, :n_in] = run.xs
    groups = padded.reshape(T, -1, V)
    for t in range(T):
        g = np.flatnonzero(np.any(groups[t] != 0, axis=1))  # groups holding a nonzero value
        if g.size:
            chip.inject(t * P, encode(host_base, g * V, t & 1),
                        np.ascontiguousarray(groups[t][g]).view(np.uint32))
            n_pk += g.size
    n_ticks = T + L + 2
    res = chip.run(ticks=n_ticks)

    # -- outputs: per layer from the slices' event logs, the last layer as the host received it
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
    outputs = np.zeros((T, m.layer_sizes[-1]), np.float32)
    readout = np.zeros((T, m.readout_n_out), np.float32) if m.readout_n_out else None
    latency = np.full(T, -1, np.int64)
    bytes_from_chip = 0
    for t_rx, _pe, nbytes, payload in res.host_rx:
        step = int(payload[0])
        if not 0 <= step < T:
            continue
        outputs[step, payload[1]] = payload[2]
        if readout is not None and len(payload) > 3:
            readout[step] = payload[3]
        latency[step] = t_rx - step * P
        bytes_from_chip += int(nbytes)
    missing = int((latency < 0).sum())

    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    counts = res.counts
    energy = price(counts, spec)
    used = m.pes_used()
    idx = [counts.pe_ids.index(p) for p in used]
    pe_counts = {k: counts.pe[k][idx].sum(axis=1).astype(np.int64)
                 for k in ("active_cycles", "packets_sent", "packets_received", "cpu_macs",
                           "sram_read_bytes", "sram_written_bytes", "exp_calls", "active_ps",
                           "sleep_ps", "tick_overruns", "queue_full")}
    max_step = counts.pe["active_cycles"][idx].max(axis=1).astype(np.int64)
    pk, hops = packets_and_hops(run, events, in_events, ys)
    hw = host_work(run, outputs)
    hw.packets_to_chip = n_pk
    hw.bytes_to_chip = n_pk * (4 + 4 * V)  # 32-bit key + 128-bit payload per host packet
    hw.bytes_from_chip = bytes_from_chip
    eth = float(spec.host.ethernet_bits_per_s.value)
    hw.link_time_ps = int(np.ceil((hw.bytes_to_chip + bytes_from_chip) * 8 * 1e12 / eth))
    summ = res.summary()
    return RunResult(
        engine="des", n_steps=T, n_layers=L, outputs=outputs, layer_outputs=ys,
        events_per_step=events, input_events=in_events, activation_sparsity=sparsity,
        effective_macs_per_step=eff, dense_macs_per_step=dense, readout=readout,
        latency_ps=latency, step_period_ps=P, sim_time_ps=int(counts.duration_ps),
        packets_per_step=pk, hops_per_step=hops, pe_ids=used, pe_counts=pe_counts,
        max_step_cycles=max_step, counts=counts, energy=energy, energy_j=energy.total_j,
        mismatches=Mismatches(late_packets=late),
        dropped_packets=int(summ.get("queue_full", 0)) + int(counts.total("dropped")),
        tick_overruns=int(summ.get("tick_overruns", 0)), host=hw,
        meta={"missing_host_outputs": missing, "n_ticks": n_ticks, "unsent_events": unsent,
              "host_output_mismatches": int(np.sum((outputs != 0) != (ys[-1] != 0))),
              "noc_hops_total": counts.total("hops"),
              "noc_packets_total": counts.total("packets"),
              "undelivered": int(counts.undelivered)},
    )
