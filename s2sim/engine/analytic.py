"""Analytic engine: prices the firmware's per-PE op counts without per-event simulation.

From the oracle's per-layer outputs it counts, for every PE and tick, exactly the handler work the
programs would do in the DES (events received and the weights they touch, tick updates, units
fired, sends, host packets, readout messages), prices it with the same cost model
(``firmware_py.cost``), lays it out on the same tick pipeline, and builds an ``s2sim.hw`` Counts
object that ``price`` turns into energy. Packet queues: a fluid model of the send schedule on the
oracle's events estimates what the receivers' queues drop (``dropped_packets``, per PE in
``queue_full``) and counts the ticks whose events exceed the activity the compiler sized the
schedule for (``meta["ticks_over_tolerated_activity"]``: the DES may then drop packets the
estimate misses). Not modelled: NoC contention (hops are exact, times are the uncontended
path). A step's latency is the pipeline depth in ticks plus the readout handler, the NoC path
to the bridge and the Ethernet transfer.
"""

from __future__ import annotations

import numpy as np

from firmware_py.cost import CostModel
from s2sim.compiler.build import source_row_order
from s2sim.engine.common import (
    PreparedRun,
    activity_metrics,
    host_packets_per_step,
    packets_and_hops,
    route_geometry,
)
from s2sim.engine.functional import host_work
from s2sim.engine.result import RunResult

__all__ = ["run_analytic"]


def _slice_row_nnz(M: np.ndarray, H: int, units: np.ndarray) -> np.ndarray:
    cols = np.concatenate([units, H + units, 2 * H + units])
    return np.count_nonzero(M[:, cols], axis=1).astype(np.int64)


def _queue_estimate(m, ys, receivers, cm, n_ticks: int) -> tuple[dict, int]:
    """Packets the receivers' queues would drop under the mapping's send schedule, per PE and
    tick, from the oracle's events (a fluid model, vectorised over ticks; the DES times every
    packet).

    Senders go group by group: a sender sends its events at its group's start or, when its PE
    is still busy with its own backlog (packets run before user events), once that is drained;
    the sends take ``slice_send`` cycles each. A receiver drains at its mean handler time per
    packet (``mean_event_cycles`` of its slices + irq); what exceeds ``packet_queue_depth`` when
    a sender's events arrive is counted as dropped. Ticks start with empty queues (the schedule
    ends inside the tick's headroom); the input source's paced events are not counted (one per
    slot, slower than its receivers drain). Returns ({pe: drops per tick}, largest queue, ticks
    whose events exceed the schedule's tolerated activity)."""
    sch = m.schedule or {}
    if "group_start_cycles" not in sch:
        return {}, 0, 0
    irq = cm.irq_cycles
    send_c = cm.c("slice_send")
    depth = int(m.options.get("queue_depth") or sch.get("queue_depth") or 256)
    by = {s.id: s for s in m.slices}
    cost = {p: sum(by[sid].mean_event_cycles for sid in ss) + irq
            for p, ss in m.pe_slices().items()}
    T = ys[0].shape[0]
    senders = []
    for s in m.slices:
        if s.kind != "egru" or s.key_base is None or s.send_slot is None:
            continue
        ev = np.zeros(n_ticks)
        ticks = np.arange(T) + 2 + s.layer
        ok = ticks < n_ticks
        ev[ticks[ok]] = np.count_nonzero(ys[s.layer][:, s.units], axis=1)[ok]
        start = int(sch["group_start_cycles"][s.send_phase][s.send_slot])
        dest = sorted({m.placement[sid] for sid in receivers.get(s.id, ())})
        senders.append((start, s.send_phase, s.send_slot, m.placement[s.id], ev, dest))
    senders.sort(key=lambda x: x[:3])
    busy: dict[int, np.ndarray] = {}  # cycle from the tick start at which the PE is free
    drops: dict[int, np.ndarray] = {}
    peak = 0.0
    zero = np.zeros(n_ticks)
    for start, _, _, p_s, ev, dest in senders:
        t_s = np.maximum(start, busy.get(p_s, zero))
        busy[p_s] = t_s + ev * send_c
        for p in dest:
            c = cost[p]
            b = busy.get(p, zero)
            q = np.maximum(0.0, (b - t_s) / c) + ev
            peak = max(peak, float(q.max()))
            over = np.maximum(0.0, q - depth)
            if over.any():
                drops[p] = drops.get(p, zero) + over
            busy[p] = np.maximum(b, t_s) + (ev - over) * c
    # ticks where a group's events exceed what the compiler guaranteed the queues hold
    # (schedule["tolerated_activity"] x group_size x the largest slice): beyond it the fluid
    # model above is only an estimate (senders delayed by their own backlog fire together)
    tol = float(sch.get("tolerated_activity", 1.0))
    max_u = max((len(by[sid].units) for sid in by if by[sid].kind == "egru"), default=0)
    cap = tol * int(sch.get("group_size", 1)) * max_u
    per_group: dict[tuple[int, int], np.ndarray] = {}
    for _, ph, slot, _, ev, _ in senders:
        per_group[(ph, slot)] = per_group.get((ph, slot), zero) + ev
    over_ticks = np.zeros(n_ticks, bool)
    for ev in per_group.values():
        over_ticks |= ev > cap + 1e-9
    return ({p: np.floor(d).astype(np.int64) for p, d in drops.items()},
            int(np.ceil(peak)), int(over_ticks.sum()))


def run_analytic(run: PreparedRun, progress: bool = False) -> RunResult:
    from s2sim.hw.dvfs import cycles_to_ps, seconds_to_ps
    from s2sim.hw.energy import price
    from s2sim.hw.ledger import NOC_FIELDS, PE_FIELDS, PL_FIELDS, Counts

    m, net, spec = run.mapping, run.network, run.spec
    cm = CostModel(spec)
    irq = cm.irq_cycles
    T, L = run.n_steps, m.n_layers
    tr = run.oracle()
    ys = [y.astype(np.float32) for y in tr.ys]
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    n_ticks = T + L + 2
    P = m.tick_period_ps
    f = m.frequency_hz
    all_pes = spec.pe_ids()
    idx_of = {p: i for i, p in enumerate(all_pes)}
    n_pe = len(all_pes)
    pe = {k: np.zeros((n_pe, n_ticks), np.int64) for k in PE_FIELDS}

    def book(pe_id, ticks, **vals):
        i = idx_of[pe_id]
        ok = (ticks >= 0) & (ticks < n_ticks)
        for k, v in vals.items():
            v = np.broadcast_to(np.asarray(v, np.int64), ticks.shape)
            np.add.at(pe[k][i], ticks[ok], v[ok])

    steps = np.arange(T, dtype=np.int64)
    host_pk = host_packets_per_step(run.xs)
    routed = {src for r in m.routes for src in r.sources}
    receivers: dict[str, set[str]] = {}
    pe_sl = m.pe_slices()
    for r in m.routes:
        dest = {sid for p in r.pes for sid in pe_sl[p]}
        for src in r.sources:
            receivers.setdefault(src, set()).update(dest)

    # -- input source -------------------------------------------------------------------------
    s_in = m.slice("input")
    pin = m.placement["input"]
    n_in = s_in.n_in
    n_send = in_events if s_in.key_base is not None else np.zeros(T, np.int64)
    slot_a = int(m.schedule.get("slot_a_cycles", 0)) if m.schedule else 0
    per_chunk = int(m.schedule.get("input_chunk_events", 0)) if m.schedule else 0
    if per_chunk > 0:  # one user event per chunk of sends (firmware_py.input_source)
        n_chunks = -(-n_send // per_chunk)
    else:  # one user event sends the whole step
        n_chunks = (n_send > 0).astype(np.int64)
    send_c = max(cm.c("input_send"), slot_a)
    rx_c = host_pk * (cm.c("input_packet") + 4 * cm.c("input_value") + irq)
    book(pin, steps, active_cycles=rx_c, packets_received=host_pk, handlers=host_pk,
         sram_read_bytes=host_pk * 4 * cm.work("input_value").sram_read_bytes,
         sram_written_bytes=host_pk * 4 * cm.work("input_value").sram_written_bytes)
    tick_c = cm.c("input_tick") + n_in * cm.c("input_scan") + irq
    book(pin, steps + 1, active_cycles=tick_c + n_chunks * (cm.c("input_chunk") + irq)
         + n_send * send_c, packets_sent=n_send, handlers=1 + n_chunks,
         sram_read_bytes=n_in * cm.work("input_scan").sram_read_bytes,
         sram_written_bytes=n_send * cm.work("input_send").sram_written_bytes)

    # -- EGRU slices ----------------------------------------------------------------------------
    in_act = [(run.xs != 0)] + [(y != 0) for y in ys[:-1]]
    for s in m.slices:
        if s.kind != "egru":
            continue
        i = s.layer
        layer = net.layers[i]
        U = np.asarray(s.units, np.int64)
        H = layer.hidden
        w_nnz = _slice_row_nnz(layer.W, H, U)  # by global input index
        r_nnz = _slice_row_nnz(layer.R, H, U)
        # which sources reach this slice (routing per source slice)
        w_order, w_off, _ = source_row_order(m, i)
        src_in = ["input"] if i == 0 else [x.id for x in m.layer_slices(i - 1)]
        src_rec = [x.id for x in m.layer_slices(i)]
        w_mask = np.zeros(layer.n_in, bool)
        for k, sid in enumerate(src_in):
            if sid in routed and s.id in receivers.get(sid, ()):
                w_mask[w_order[w_off[k]:w_off[k + 1]]] = True
        r_mask = np.zeros(H, bool)
        for sid in src_rec:
            if sid in routed and s.id in receivers.get(sid, ()):
                r_mask[np.asarray(m.slice(sid).units)] = True
        a_in = in_act[i] & w_mask  # (T, n_in): input events of step t, received in tick t+1+i
        a_rec = (ys[i] != 0) & r_mask  # own events of step t, received in tick t+2+i
        nz_w = cm.work("slice_nnz")
        ev_base = cm.c("slice_event") + irq
        rd_ev = int(cm.event_sram(0)[0])
        for a, nnz_row, off in ((a_in, w_nnz, 1), (a_rec, r_nnz, 2)):
            n_ev = a.sum(1).astype(np.int64)
            nnz = a.astype(np.int64) @ nnz_row
            book(m.placement[s.id], steps + off + i,
                 active_cycles=n_ev * ev_base + nnz * cm.c("slice_nnz"),
                 packets_received=n_ev, handlers=n_ev, cpu_macs=nnz, synaptic_events=nnz,
                 sram_read_bytes=n_ev * rd_ev + nnz * nz_w.sram_read_bytes,
                 sram_written_bytes=nnz * nz_w.sram_written_bytes)
        fired = np.count_nonzero(ys[i][:, U], axis=1).astype(np.int64)
        u = len(U)
        sends = fired if s.key_base is not None else np.zeros(T, np.int64)
        t_c = cm.slice_tick_cycles(u, 0) + fired * cm.c("slice_fire") + irq
        uw, fw, tw, sw = (cm.work(k) for k in ("slice_unit", "slice_fire", "slice_tick",
                                               "slice_send"))
        burst = (sends > 0).astype(np.int64)  # one user event sends the step's events
        book(m.placement[s.id], steps + 2 + i,
             active_cycles=t_c + sends * cm.c("slice_send") + burst * irq, handlers=1 + burst,
             packets_sent=sends, exp_calls=np.full(T, 3 * u),
             sram_read_bytes=tw.sram_read_bytes + u * uw.sram_read_bytes
             + sends * sw.sram_read_bytes,
             sram_written_bytes=tw.sram_written_bytes + u * uw.sram_written_bytes
             + fired * fw.sram_written_bytes + sends * sw.sram_written_bytes)

    # -- readout ------------------------------------------------------------------------------
    ro = net.readout
    pro = m.placement["readout"]
    n_last = events[:, L - 1]
    n_out = m.readout_n_out
    ev_c = cm.c("readout_event") + irq + (n_out * cm.c("readout_mac")
                                          if ro.weights is not None and not ro.trace else 0)
    ev_macs = n_out if ro.weights is not None and not ro.trace else 0
    book(pro, steps + 1 + L, active_cycles=n_last * ev_c, packets_received=n_last,
         handlers=n_last, cpu_macs=n_last * ev_macs,
         sram_read_bytes=n_last * cm.work("readout_event").sram_read_bytes,
         sram_written_bytes=n_last * cm.work("readout_event").sram_written_bytes)
    H_last = m.layer_sizes[-1]
    ro_tick = cm.c("readout_tick") + irq + n_out * cm.c("readout_out")
    if ro.weights is not None and ro.trace:
        ro_tick += H_last * (cm.c("readout_trace_unit") + n_out * cm.c("readout_mac"))
    nbytes = 8 + (8 * n_last if ro.weights is None else np.full(T, 4 * n_out, np.int64))
    tick_macs = H_last * n_out if ro.weights is not None and ro.trace else 0
    book(pro, steps + 2 + L, active_cycles=np.full(T, ro_tick), handlers=1,
         host_tx_bytes=nbytes, cpu_macs=np.full(T, tick_macs))
    # idle ticks of every loaded program (outside its step window) still take an interrupt
    for s in m.slices:
        idle_c = {"input": cm.c("input_tick"), "egru": cm.c("slice_tick"),
                  "readout": cm.c("readout_tick")}[s.kind] + irq
        window = np.zeros(n_ticks, bool)
        window[s.first_tick:s.first_tick + T] = True
        ticks = np.flatnonzero(~window)
        book(m.placement[s.id], ticks, active_cycles=np.full(ticks.size, idle_c), handlers=1)
    # -- packet queues under the send schedule (the DES drops what overflows them) -------------
    q_drop, q_peak, q_over = _queue_estimate(m, ys, receivers, cm, n_ticks)
    depth = int(spec.timing.packet_queue_depth.value)
    for p_id, drops in q_drop.items():
        pe["queue_full"][idx_of[p_id]] += drops
    loaded = np.zeros(n_pe, bool)
    for p in m.pes_used():
        loaded[idx_of[p]] = True
    pe["ticks_handled"][loaded] = 1
    pe["active_ps"] = cycles_to_ps(pe["active_cycles"], f)
    over = pe["active_ps"] > P
    pe["tick_overruns"] = over.astype(np.int64)
    pe["active_ps"] = np.minimum(pe["active_ps"], P)
    pe["sleep_ps"] = np.where(loaded[:, None], P - pe["active_ps"], 0)
    pe["off_ps"] = np.where(loaded[:, None], 0, P)
    n_pls = len(spec.performance_levels)
    pl = {k: np.zeros((n_pe, n_pls), np.int64) for k in PL_FIELDS}
    pl["residency_ps"][loaded, m.pl] = n_ticks * P
    pl["cycles"][:, m.pl] = pe["active_cycles"].sum(1)

    # -- NoC ----------------------------------------------------------------------------------
    pk, hops = packets_and_hops(run, events, in_events, ys)
    geo = route_geometry(m, spec)
    noc = {k: np.zeros(n_ticks, np.int64) for k in NOC_FIELDS}
    # per step: host packets in tick t, input events tick t+1, layer i events tick t+2+i
    def add(field, ticks, v):
        ok = (ticks >= 0) & (ticks < n_ticks)
        np.add.at(noc[field], ticks[ok], np.asarray(v, np.int64)[ok])

    add("host_injected", steps, host_pk)
    add("packets", steps, host_pk)
    add("hops", steps, host_pk * geo.get("host", 0))
    if s_in.key_base is not None:
        add("packets", steps + 1, in_events)
        add("hops", steps + 1, in_events * geo.get("input", 0))
    for s in m.slices:
        if s.kind == "egru" and s.key_base is not None:
            ev = np.count_nonzero(ys[s.layer][:, s.units], axis=1)
            add("packets", steps + 2 + s.layer, ev)
            add("hops", steps + 2 + s.layer, ev * geo.get(s.id, 0))
    add("hops", steps + 2 + L, np.full(T, geo["to_host"]))
    add("host_rx_packets", steps + 2 + L, np.ones(T, np.int64))
    noc["router_lookups"] = noc["packets"].copy()
    noc["deliveries"] = pe["packets_received"].sum(0) - np.bincount(
        np.clip(steps, 0, n_ticks - 1), weights=host_pk, minlength=n_ticks).astype(np.int64)
    counts = Counts(pe_ids=all_pes, tick_period_ps=P, n_ticks=n_ticks, duration_ps=n_ticks * P,
                    loaded=loaded, pe=pe, pl=pl, noc=noc,
                    link_packets_per_link=np.zeros(int(spec.links.chip_links.value), np.int64))
    energy = price(counts, spec)

    # -- latency ------------------------------------------------------------------------------
    eth = float(spec.host.ethernet_bits_per_s.value)
    hop_ps = cycles_to_ps(int(spec.noc.cycles_per_hop.value), float(spec.noc.frequency_hz.value))
    overhead = seconds_to_ps(float(spec.host.per_packet_overhead_s.value))
    ser = np.ceil(nbytes * 8 * 1e12 / eth).astype(np.int64)
    latency = ((L + 2) * P + cycles_to_ps(np.full(T, ro_tick, np.int64), f)
               + geo["to_host"] * hop_ps + ser + overhead).astype(np.int64)

    used = m.pes_used()
    ix = [idx_of[p] for p in used]
    pe_counts = {k: pe[k][ix].sum(axis=1).astype(np.int64)
                 for k in ("active_cycles", "packets_sent", "packets_received", "cpu_macs",
                           "sram_read_bytes", "sram_written_bytes", "exp_calls", "active_ps",
                           "sleep_ps", "tick_overruns", "queue_full")}
    hw = host_work(run, ys[-1])
    hw.packets_to_chip = int(host_pk.sum())
    hw.bytes_to_chip = int(host_pk.sum()) * 20
    hw.bytes_from_chip = int(nbytes.sum())
    hw.link_time_ps = int(np.ceil((hw.bytes_to_chip + hw.bytes_from_chip) * 8 * 1e12 / eth))
    return RunResult(
        engine="analytic", n_steps=T, n_layers=L, outputs=ys[-1], layer_outputs=ys,
        events_per_step=events, input_events=in_events, activation_sparsity=sparsity,
        effective_macs_per_step=eff, dense_macs_per_step=dense, readout=run.oracle_readout(),
        latency_ps=latency, step_period_ps=P, sim_time_ps=n_ticks * P, packets_per_step=pk,
        hops_per_step=hops, pe_ids=used, pe_counts=pe_counts,
        max_step_cycles=pe["active_cycles"][ix].max(axis=1).astype(np.int64), counts=counts,
        energy=energy, energy_j=energy.total_j, tick_overruns=int(over[loaded].sum()), host=hw,
        dropped_packets=int(pe["queue_full"].sum()),
        meta={"n_ticks": n_ticks, "noc_hops_total": int(noc["hops"].sum()),
              "noc_packets_total": int(noc["packets"].sum()),
              "queue_peak_packets_est": q_peak, "packet_queue_depth": depth,
              "ticks_over_tolerated_activity": q_over,
              # a schedule whose sends end after the tick (compiled with check_schedule=False)
              # makes the DES send steps late or not at all: the figures here are then optimistic
              "schedule_overruns_tick": bool(
                  int((m.schedule or {}).get("est_end_cycles", 0)) > m.cycles_per_tick),
              "dropped_packets_are": "estimated (fluid model of the send schedule)"},
    )
