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

from firmware_py.kinds import KINDS, AnalyticContext, cost_model_for, kind_of
from firmware_py.kinds.input_source import host_packets_per_step
from firmware_py.pipeline import layer_first_tick, readout_first_tick, run_ticks
from s2sim.engine.common import (
    PreparedRun,
    activity_metrics,
    host_link,
    packets_and_hops,
    pe_totals,
    route_geometry,
)
from s2sim.engine.functional import host_work
from s2sim.engine.result import RunResult

__all__ = ["run_analytic"]


def _senders(m, ys, receivers, n_ticks: int) -> list:
    """(group start, phase, slot, PE, events per tick, destination PEs) of each EGRU sender,
    in sending order."""
    sch = m.schedule
    T = ys[0].shape[0]
    senders = []
    for s in m.slices:
        if s.kind != "egru" or s.key_base is None or s.send_slot is None:
            continue
        ev = np.zeros(n_ticks)
        ticks = np.arange(T) + layer_first_tick(s.layer)
        ok = ticks < n_ticks
        ev[ticks[ok]] = np.count_nonzero(ys[s.layer][:, s.units], axis=1)[ok]
        start = int(sch.group_start_cycles[s.send_phase][s.send_slot])
        dest = sorted({m.placement[sid] for sid in receivers.get(s.id, ())})
        senders.append((start, s.send_phase, s.send_slot, m.placement[s.id], ev, dest))
    senders.sort(key=lambda x: x[:3])
    return senders


def _ticks_over_tolerated(m, senders, n_ticks: int) -> int:
    """Ticks where a group's events exceed what the compiler guaranteed the queues hold
    (tolerated_activity x group_size x the largest slice): beyond it the fluid model is only an
    estimate (senders delayed by their own backlog fire together)."""
    sch = m.schedule
    max_u = max((len(s.units) for s in m.slices if s.kind == "egru"), default=0)
    cap = float(sch.tolerated_activity) * int(sch.group_size) * max_u
    per_group: dict[tuple[int, int], np.ndarray] = {}
    zero = np.zeros(n_ticks)
    for _, ph, slot, _, ev, _ in senders:
        per_group[(ph, slot)] = per_group.get((ph, slot), zero) + ev
    over_ticks = np.zeros(n_ticks, bool)
    for ev in per_group.values():
        over_ticks |= ev > cap + 1e-9
    return int(over_ticks.sum())


def _queue_estimate(m, xs, ys, receivers, cm, n_ticks: int, spec_depth: int) -> dict:
    """Packets the receivers' queues would drop under the mapping's send schedule, per PE and
    tick, from the oracle's events (a fluid model, vectorised over ticks; the DES times every
    packet).

    Senders go group by group: a sender sends its events at its group's start or, when its PE
    is still busy with its own backlog (packets run before user events), once that is drained;
    the sends take ``slice_send`` cycles each. A receiver drains at its mean handler time per
    packet (``mean_event_cycles`` of its slices + irq); what exceeds ``packet_queue_depth`` when
    a sender's events arrive is counted as dropped. Ticks start with empty queues; the input
    source's paced events are not counted (one per slot, slower than its receivers drain).
    ``late_ticks``: ticks whose sends or receivers' handlers (or the input's paced sends) are
    still running when the next tick fires — their packets would be late (the DES counts them).
    Returns {"drops": {pe: drops per tick}, "peak": largest queue, "over_tolerated": ticks,
    "late_ticks": ticks, "drained_by_cycles": latest end of a tick's traffic}."""
    sch = m.schedule
    if sch is None:
        return {"drops": {}, "peak": 0, "over_tolerated": 0, "late_ticks": 0,
                "drained_by_cycles": 0}
    irq = cm.irq_cycles
    send_c = cm.c("slice_send")
    depth = int(m.options.get("queue_depth") or sch.queue_depth or spec_depth)
    by = {s.id: s for s in m.slices}
    cost = {p: sum(by[sid].mean_event_cycles for sid in ss) + irq
            for p, ss in m.pe_slices().items()}
    senders = _senders(m, ys, receivers, n_ticks)
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
    end = np.max(np.stack(list(busy.values())), axis=0) if busy else zero
    end = np.maximum(end, _input_sends_end(m, xs, cm, n_ticks))
    return {"drops": {p: np.floor(d).astype(np.int64) for p, d in drops.items()},
            "peak": int(np.ceil(peak)), "over_tolerated": _ticks_over_tolerated(m, senders,
                                                                               n_ticks),
            "late_ticks": int((end > m.cycles_per_tick).sum()),
            "drained_by_cycles": int(np.ceil(end.max(initial=0)))}


def _input_sends_end(m, xs: np.ndarray, cm, n_ticks: int) -> np.ndarray:
    """Per tick: when the input source's last paced event of the step is sent (cycles from the
    tick start): one per slot from the schedule's start, plus each chunk's handler."""
    s_in = m.slice("input")
    end = np.zeros(n_ticks)
    if s_in.key_base is None:
        return end
    sch = m.schedule
    n = np.count_nonzero(xs, axis=1)
    per = max(1, int(sch.input_chunk_events) or int(n.max(initial=1)))
    gap = max(cm.c("input_send"), int(sch.slot_a_cycles))
    t_end = np.where(n > 0, sch.start_a_cycles + n * gap
                     + -(-n // per) * (cm.c("input_chunk") + cm.irq_cycles), 0)
    ticks = np.arange(n.size) + s_in.first_tick
    ok = ticks < n_ticks
    end[ticks[ok]] = t_end[ok]
    return end


def _receivers(m) -> tuple[dict[str, set[str]], set[str]]:
    """(sender slice id -> slices its route reaches, sender slice ids that have a route)."""
    routed = {src for r in m.routes for src in r.sources}
    receivers: dict[str, set[str]] = {}
    pe_sl = m.pe_slices()
    for r in m.routes:
        dest = {sid for p in r.pes for sid in pe_sl[p]}
        for src in r.sources:
            receivers.setdefault(src, set()).update(dest)
    return receivers, routed


def _time_ledger(ctx: AnalyticContext, m, spec, n_pe: int):
    """Active/sleep/off time and PL residency from the booked cycles (a tick's work beyond the
    tick counts an overrun and is cut at the tick)."""
    from s2sim.hw.dvfs import cycles_to_ps
    from s2sim.hw.ledger import PL_FIELDS

    pe, P, n_ticks = ctx.pe, m.tick_period_ps, ctx.n_ticks
    loaded = np.zeros(n_pe, bool)
    for p in m.pes_used():
        loaded[ctx.idx_of[p]] = True
    pe["ticks_handled"][loaded] = 1
    pe["active_ps"] = cycles_to_ps(pe["active_cycles"], m.frequency_hz)
    over = pe["active_ps"] > P
    pe["tick_overruns"] = over.astype(np.int64)
    pe["active_ps"] = np.minimum(pe["active_ps"], P)
    pe["sleep_ps"] = np.where(loaded[:, None], P - pe["active_ps"], 0)
    pe["off_ps"] = np.where(loaded[:, None], 0, P)
    n_pls = len(spec.performance_levels)
    pl = {k: np.zeros((n_pe, n_pls), np.int64) for k in PL_FIELDS}
    pl["residency_ps"][loaded, m.pl] = n_ticks * P
    pl["cycles"][:, m.pl] = pe["active_cycles"].sum(1)
    return loaded, pl, int(over[loaded].sum())


def _noc_ledger(ctx: AnalyticContext, run: PreparedRun, in_events: np.ndarray) -> dict:
    """Per tick NoC counts: host packets in tick t, input events tick t+1, layer i events in
    its update tick, the readout's message in the readout's tick."""
    from s2sim.hw.ledger import NOC_FIELDS

    m, n_ticks, steps, T = run.mapping, ctx.n_ticks, ctx.steps, ctx.n_steps
    geo = route_geometry(m, run.spec)
    host_pk = host_packets_per_step(run.xs)
    noc = {k: np.zeros(n_ticks, np.int64) for k in NOC_FIELDS}

    def add(field, ticks, v):
        ok = (ticks >= 0) & (ticks < n_ticks)
        np.add.at(noc[field], ticks[ok], np.asarray(v, np.int64)[ok])

    add("host_injected", steps, host_pk)
    add("packets", steps, host_pk)
    add("hops", steps, host_pk * geo.get("host", 0))
    s_in = m.slice("input")
    if s_in.key_base is not None:
        add("packets", steps + s_in.first_tick, in_events)
        add("hops", steps + s_in.first_tick, in_events * geo.get("input", 0))
    egru = KINDS["egru"]
    for s in m.slices:
        if s.kind == "egru" and s.key_base is not None:
            ev = egru.events_sent(s, ctx.ys)
            add("packets", steps + s.first_tick, ev)
            add("hops", steps + s.first_tick, ev * geo.get(s.id, 0))
    out_tick = steps + readout_first_tick(m.n_layers)
    add("hops", out_tick, np.full(T, geo["to_host"]))
    add("host_rx_packets", out_tick, np.ones(T, np.int64))
    noc["router_lookups"] = noc["packets"].copy()
    noc["deliveries"] = ctx.pe["packets_received"].sum(0) - np.bincount(
        np.clip(steps, 0, n_ticks - 1), weights=host_pk, minlength=n_ticks).astype(np.int64)
    return noc


def _latency(ctx: AnalyticContext, m, spec, nbytes: np.ndarray) -> np.ndarray:
    """Pipeline depth in ticks + the readout handler + the NoC path to the bridge + Ethernet."""
    from s2sim.hw.dvfs import cycles_to_ps, seconds_to_ps

    eth = float(spec.host.ethernet_bits_per_s.value)
    hop_ps = cycles_to_ps(int(spec.noc.cycles_per_hop.value), float(spec.noc.frequency_hz.value))
    overhead = seconds_to_ps(float(spec.host.per_packet_overhead_s.value))
    ser = np.ceil(nbytes * 8 * 1e12 / eth).astype(np.int64)
    ro_tick = KINDS["readout"].tick_cycles(ctx) + ctx.irq
    to_host = route_geometry(m, spec)["to_host"]
    return (readout_first_tick(m.n_layers) * m.tick_period_ps
            + cycles_to_ps(np.full(ctx.n_steps, ro_tick, np.int64), m.frequency_hz)
            + to_host * hop_ps + ser + overhead).astype(np.int64)


def run_analytic(run: PreparedRun, progress: bool = False) -> RunResult:
    from s2sim.hw.energy import price
    from s2sim.hw.ledger import PE_FIELDS, Counts

    m, spec = run.mapping, run.spec
    T, L = run.n_steps, m.n_layers
    ys = [y.astype(np.float32) for y in run.oracle().ys]
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    n_ticks = run_ticks(T, L)
    P = m.tick_period_ps
    all_pes = spec.pe_ids()
    n_pe = len(all_pes)
    receivers, routed = _receivers(m)
    ctx = AnalyticContext(mapping=m, network=run.network, spec=spec, cost=cost_model_for(m, spec),
                          xs=run.xs, ys=ys, n_ticks=n_ticks,
                          pe={k: np.zeros((n_pe, n_ticks), np.int64) for k in PE_FIELDS},
                          idx_of={p: i for i, p in enumerate(all_pes)}, receivers=receivers,
                          routed=routed)
    for s in m.slices:
        kind_of(s).book_counts(ctx, s)
    for s in m.slices:
        kind_of(s).book_idle_ticks(ctx, s)
    # -- packet queues under the send schedule (the DES drops what overflows them) -------------
    depth = int(spec.timing.packet_queue_depth.value)
    queues = _queue_estimate(m, run.xs, ys, receivers, ctx.cost, n_ticks, depth)
    for p_id, drops in queues["drops"].items():
        ctx.pe["queue_full"][ctx.idx_of[p_id]] += drops
    loaded, pl, n_overruns = _time_ledger(ctx, m, spec, n_pe)
    noc = _noc_ledger(ctx, run, in_events)
    counts = Counts(pe_ids=all_pes, tick_period_ps=P, n_ticks=n_ticks, duration_ps=n_ticks * P,
                    loaded=loaded, pe=ctx.pe, pl=pl, noc=noc,
                    link_packets_per_link=np.zeros(int(spec.links.chip_links.value), np.int64))
    energy = price(counts, spec)
    nbytes = KINDS["readout"].message_bytes(ctx)
    pk, hops = packets_and_hops(run, in_events, ys)
    ix = [ctx.idx_of[p] for p in m.pes_used()]
    hw = host_link(host_work(run, ys[-1]), spec, int(host_packets_per_step(run.xs).sum()),
                   int(nbytes.sum()))
    return RunResult(
        engine="analytic", n_steps=T, n_layers=L, outputs=ys[-1], layer_outputs=ys,
        events_per_step=events, input_events=in_events, activation_sparsity=sparsity,
        effective_macs_per_step=eff, dense_macs_per_step=dense, readout=run.oracle_readout(),
        latency_ps=_latency(ctx, m, spec, nbytes), step_period_ps=P, sim_time_ps=n_ticks * P,
        packets_per_step=pk, hops_per_step=hops, pe_ids=m.pes_used(),
        pe_counts=pe_totals(ctx.pe, ix),
        max_step_cycles=ctx.pe["active_cycles"][ix].max(axis=1).astype(np.int64), counts=counts,
        energy=energy, energy_j=energy.total_j, tick_overruns=n_overruns, host=hw,
        dropped_packets=int(ctx.pe["queue_full"].sum()),
        meta={"n_ticks": n_ticks, "noc_hops_total": int(noc["hops"].sum()),
              "noc_packets_total": int(noc["packets"].sum()),
              "queue_peak_packets_est": queues["peak"], "packet_queue_depth": depth,
              "ticks_over_tolerated_activity": queues["over_tolerated"],
              # ticks whose traffic (sends, receivers' handlers) outlasts the tick: the DES
              # would count late packets there; and the latest end of a tick's traffic
              "late_ticks_est": queues["late_ticks"],
              "traffic_drained_by_cycles_est": queues["drained_by_cycles"],
              # a schedule whose sends end after the tick (compiled with check_schedule=False)
              # makes the DES send steps late or not at all: the figures here are then optimistic
              "schedule_overruns_tick": bool(
                  m.schedule is not None and m.schedule.est_end_cycles > m.cycles_per_tick),
              "dropped_packets_are": "estimated (fluid model of the send schedule)"},
    )
