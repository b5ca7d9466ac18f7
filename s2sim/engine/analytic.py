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

from dataclasses import dataclass, field

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


def _fluid_queues(m, senders, input_end: np.ndarray, cm, spec_depth: int) -> dict:
    """Packets the receivers' queues would drop under the mapping's send schedule, per PE and
    tick, from the oracle's events per sender and tick (a fluid model, vectorised over ticks;
    the DES times every packet).

    Senders go group by group: a sender sends its events at its group's start or, when its PE
    is still busy with its own backlog (packets run before user events), once that is drained;
    the sends take ``slice_send`` cycles each. A receiver drains at its mean handler time per
    packet (``mean_event_cycles`` of its slices + irq); what exceeds ``packet_queue_depth`` when
    a sender's events arrive is counted as dropped. Ticks start with empty queues; the input
    source's paced events are not counted (one per slot, slower than its receivers drain).
    ``late_ticks``: ticks whose sends or receivers' handlers (or the input's paced sends,
    ``input_end``) are still running when the next tick fires — their packets would be late
    (the DES counts them). Returns {"drops": {pe: drops per tick}, "peak": largest queue,
    "over_tolerated": ticks, "late_ticks": ticks, "drained_by_cycles": latest end of a tick's
    traffic}."""
    sch = m.schedule
    n_ticks = input_end.size
    if sch is None:
        return {"drops": {}, "peak": 0, "over_tolerated": 0, "late_ticks": 0,
                "drained_by_cycles": 0}
    irq = cm.irq_cycles
    send_c = cm.c("slice_send")
    depth = int(m.options.get("queue_depth") or sch.queue_depth or spec_depth)
    by = {s.id: s for s in m.slices}
    pes = sorted(m.pe_slices())
    row = {p: k for k, p in enumerate(pes)}
    cost = np.array([sum(by[sid].mean_event_cycles for sid in m.pe_slices()[p]) + irq
                     for p in pes], np.float64)
    # cycle from the tick start at which each PE is free, PE by tick (the arithmetic of one
    # receiver at a time, done for all of a sender's receivers at once: they are distinct)
    busy = np.zeros((len(pes), n_ticks))
    drops = np.zeros((len(pes), n_ticks))
    dropped = np.zeros(len(pes), bool)
    peak = 0.0
    for start, _, _, p_s, ev, dest in senders:
        k_s = row[p_s]
        t_s = np.maximum(start, busy[k_s])
        busy[k_s] = t_s + ev * send_c
        if not dest:
            continue
        d = np.array([row[p] for p in dest], np.int64)
        c = cost[d][:, None]
        b = busy[d]
        q = np.maximum(0.0, (b - t_s) / c) + ev
        peak = max(peak, float(q.max(initial=0)))
        over = np.maximum(0.0, q - depth)
        hit = over.any(axis=1)
        if hit.any():
            drops[d[hit]] += over[hit]
            dropped[d[hit]] = True
        busy[d] = np.maximum(b, t_s) + (ev - over) * c
    end = busy.max(axis=0) if len(pes) else np.zeros(n_ticks)
    end = np.maximum(end, input_end)
    return {"drops": {p: np.floor(drops[row[p]]).astype(np.int64) for p in pes
                      if dropped[row[p]]},
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


# -- the run, window by window --------------------------------------------------------------------

# Steps counted at once: a longer run is counted window by window, so memory stays bounded
# (per-tick arrays of one window, plus the run's ledger binned to at most MAX_COLUMNS columns,
# unless the run asks for more: ``run_mapping(tick_columns=)``, 0 = one column per tick).
WINDOW_STEPS = 4096
MAX_COLUMNS = 4096


@dataclass
class _Window:
    """Per-tick arrays of one window of the run (column 0 = global tick ``step0``): the PE
    ledger, the NoC ledger, each sender's events and when the input source's sends end. Later
    windows still book into the last columns (a step's work spans L + 2 ticks): their tail is
    carried over."""

    step0: int
    pe: dict[str, np.ndarray]
    noc: dict[str, np.ndarray]
    sender_ev: list[np.ndarray]
    input_end: np.ndarray

    def absorb(self, carry: _Window | None) -> None:
        if carry is None:
            return
        n = carry.input_end.size
        for k, v in carry.pe.items():
            self.pe[k][:, :n] += v
        for k, v in carry.noc.items():
            self.noc[k][:n] += v
        for ev, cv in zip(self.sender_ev, carry.sender_ev, strict=True):
            ev[:n] += cv
        self.input_end[:n] = np.maximum(self.input_end[:n], carry.input_end)

    def tail(self, f: int) -> _Window:
        return _Window(self.step0 + f, {k: v[:, f:].copy() for k, v in self.pe.items()},
                       {k: v[f:].copy() for k, v in self.noc.items()},
                       [ev[f:].copy() for ev in self.sender_ev], self.input_end[f:].copy())


def _noc_window(ctx: AnalyticContext, run: PreparedRun, in_events: np.ndarray, geo) -> dict:
    """Per tick NoC counts of a window: host packets in tick t, input events tick t+1, layer i
    events in its update tick, the readout's message in the readout's tick."""
    from s2sim.hw.ledger import NOC_FIELDS

    m, w, steps, T = run.mapping, ctx.n_ticks, ctx.steps, ctx.n_steps
    host_pk = host_packets_per_step(ctx.xs)
    noc = {k: np.zeros(w, np.int64) for k in NOC_FIELDS}
    chip_dec = m.decoder_on_chip

    def add(field, ticks, v):
        ticks = ticks - ctx.step0
        ok = (ticks >= 0) & (ticks < w)
        np.add.at(noc[field], ticks[ok], np.asarray(v, np.int64)[ok])

    if chip_dec:  # token in, embedding values to the input source in the same interval
        from firmware_py.kinds.decoder import step_traffic

        tr = step_traffic(m, geo, ctx.cache["tokens"], in_events)
        best_tick = steps + m.decoder_slices()[0].first_tick
        add("packets", steps, tr["front_packets"])
        add("hops", steps, tr["front_hops"])
        add("packets", best_tick, tr["best_packets"])
        add("hops", best_tick, tr["best_hops"])
        add("host_injected", steps, tr["host_packets"])
    else:
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
    out_tick = steps + readout_first_tick(m.n_layers, chip_dec)
    add("hops", out_tick, np.full(T, geo["to_host"]))
    add("host_rx_packets", out_tick, np.ones(T, np.int64))
    return noc


@dataclass
class _Totals:
    """What the run adds up over its windows (per-step arrays are concatenated)."""

    pe: dict[str, np.ndarray]  # binned ledger columns
    noc: dict[str, np.ndarray]
    tpc: int  # ticks per column
    per_step: dict[str, list] = field(default_factory=dict)
    nonzero: np.ndarray | None = None  # per layer: nonzero outputs (sparsity)
    decoder_events: int = 0
    max_step_cycles: np.ndarray | None = None
    overruns: int = 0
    queues: dict = field(default_factory=lambda: {"peak": 0, "over_tolerated": 0,
                                                  "late_ticks": 0, "drained_by_cycles": 0})

    def bin(self, g0: int, pe: dict, noc: dict) -> None:
        """Add finalized per-tick columns (global ticks g0 ..) into the binned ledger."""
        n = next(iter(noc.values())).size
        if n == 0:
            return
        bins = (g0 + np.arange(n)) // self.tpc
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        for k, v in pe.items():
            self.pe[k][:, bins[starts]] += np.add.reduceat(v, starts, axis=1)
        for k, v in noc.items():
            self.noc[k][bins[starts]] += np.add.reduceat(v, starts)

    def step(self, **arrays) -> None:
        for k, v in arrays.items():
            self.per_step.setdefault(k, []).append(v)

    def steps(self, k: str) -> np.ndarray:
        return np.concatenate(self.per_step[k])


def _latency(ctx: AnalyticContext, m, spec, nbytes: np.ndarray) -> np.ndarray:
    """Pipeline depth in ticks + the readout handler + the NoC path to the bridge + Ethernet."""
    from s2sim.hw.dvfs import cycles_to_ps, seconds_to_ps

    eth = float(spec.host.ethernet_bits_per_s.value)
    hop_ps = cycles_to_ps(int(spec.noc.cycles_per_hop.value), float(spec.noc.frequency_hz.value))
    overhead = seconds_to_ps(float(spec.host.per_packet_overhead_s.value))
    ser = np.ceil(nbytes * 8 * 1e12 / eth).astype(np.int64)
    ro_tick = KINDS["readout"].tick_cycles(ctx) + ctx.irq
    to_host = route_geometry(m, spec)["to_host"]
    return (readout_first_tick(m.n_layers, m.decoder_on_chip) * m.tick_period_ps
            + cycles_to_ps(np.full(ctx.n_steps, ro_tick, np.int64), m.frequency_hz)
            + to_host * hop_ps + ser + overhead).astype(np.int64)


def _finalize(win: _Window, f: int, m, spec, shared: dict, senders_static, loaded,
              tot: _Totals) -> None:
    """Columns [0, f) of the window are complete: queue drops, time, NoC deliveries; binned."""
    from s2sim.hw.dvfs import cycles_to_ps

    P = m.tick_period_ps
    senders = [(*st[:4], ev[:f], st[5]) for st, ev in zip(senders_static, win.sender_ev,
                                                          strict=True)]
    q = _fluid_queues(m, senders, win.input_end[:f], shared["cm"],
                      int(spec.timing.packet_queue_depth.value))
    pe = {k: v[:, :f].copy() for k, v in win.pe.items()}
    noc = {k: v[:f].copy() for k, v in win.noc.items()}
    for p_id, drops in q["drops"].items():
        pe["queue_full"][shared["idx_of"][p_id]] += drops
    for k in ("peak", "drained_by_cycles"):
        tot.queues[k] = max(tot.queues[k], q[k])
    for k in ("over_tolerated", "late_ticks"):
        tot.queues[k] += q[k]
    pe["ticks_handled"][loaded] = 1
    act = cycles_to_ps(pe["active_cycles"], m.frequency_hz)
    over = act > P
    pe["tick_overruns"] = over.astype(np.int64)
    pe["active_ps"] = np.minimum(act, P)
    pe["sleep_ps"] = np.where(loaded[:, None], P - pe["active_ps"], 0)
    pe["off_ps"] = np.where(loaded[:, None], 0, np.full(f, P, np.int64))  # per tick, as the DES
    tot.overruns += int(over[loaded].sum())
    mx = pe["active_cycles"].max(axis=1, initial=0)
    tot.max_step_cycles = mx if tot.max_step_cycles is None else np.maximum(tot.max_step_cycles,
                                                                             mx)
    noc["router_lookups"] = noc["packets"].copy()
    noc["deliveries"] = pe["packets_received"].sum(0) - noc["host_injected"]
    tot.bin(win.step0, pe, noc)


def _window(run: PreparedRun, a: int, b: int, trace, prev, tot: _Totals, shared: dict):
    """Count steps [a, b) into a new window; per-step figures go into ``tot``."""
    from s2sim.hw.ledger import PE_FIELDS

    m, spec = run.mapping, run.spec
    T, L = run.n_steps, m.n_layers
    ys = [y.astype(np.float32) for y in trace.ys]
    xs = run.inputs(a, b)
    wrun = PreparedRun(mapping=m, network=run.network, spec=spec, xs=xs,
                       tokens=None if run.tokens is None else run.tokens[a:b], _oracle=trace)
    chip_dec = m.decoder_on_chip
    width = min(b - a + L + 2 + int(chip_dec), run_ticks(T, L, chip_dec) - a)
    ctx = AnalyticContext(mapping=m, network=run.network, spec=spec, cost=shared["cm"], xs=xs,
                          ys=ys, n_ticks=width,
                          pe={k: np.zeros((shared["n_pe"], width), np.int64) for k in PE_FIELDS},
                          idx_of=shared["idx_of"], receivers=shared["receivers"],
                          routed=shared["routed"], step0=a, run_steps=T,
                          run_cache=shared["run_cache"])
    if chip_dec:  # which block serves each step's token
        from firmware_py.kinds.decoder import token_packets

        owner, local, _ = token_packets(m, wrun.tokens)
        ctx.cache["decoder_tokens_window"] = (owner, local)
        ctx.cache["tokens"] = wrun.tokens
    for s in m.slices:
        kind_of(s).book_counts(ctx, s)
    events, in_events, _, eff, _ = activity_metrics(wrun, ys, prev)
    nbytes = KINDS["readout"].message_bytes(ctx)
    pk, hops = packets_and_hops(wrun, in_events, ys)
    tot.step(events=events, in_events=in_events, eff=eff, nbytes=nbytes, pk=pk, hops=hops,
             latency=_latency(ctx, m, spec, nbytes))
    counts = np.array([np.count_nonzero(y) for y in ys], np.int64)
    tot.nonzero = counts if tot.nonzero is None else tot.nonzero + counts
    tot.decoder_events += int(np.count_nonzero(ys[-1]))
    win = _Window(a, ctx.pe, _noc_window(ctx, run, in_events, shared["geo"]),
                  [st[4] for st in _senders(m, ys, shared["receivers"], width)],
                  _input_sends_end(m, xs, shared["cm"], width))
    return ctx, win, [y[-1] for y in ys]


def _book_idle(ctx: AnalyticContext, win: _Window, f: int) -> None:
    """Idle ticks of every slice in the window's complete columns (booked once, globally)."""
    ctx.pe = win.pe
    ctx.step0 = win.step0
    ctx.n_ticks = win.input_end.size
    for s in ctx.mapping.slices:
        kind_of(s).book_idle_ticks(ctx, s, n_cols=f)


def run_analytic(run: PreparedRun, progress: bool = False) -> RunResult:
    """The analytic engine; a run longer than ``WINDOW_STEPS`` is counted window by window with
    its reference run continued from the previous window's state, its ledger binned to at most
    ``MAX_COLUMNS`` columns (``run.tick_columns``: another bound, 0 = none), and its layer
    outputs not kept (``outputs`` empty): memory stays bounded however many steps are priced.
    Identical results for any window size."""
    from s2sim.hw.energy import price
    from s2sim.hw.ledger import NOC_FIELDS, PE_FIELDS, PL_FIELDS, Counts

    m, spec, net = run.mapping, run.spec, run.network
    T, L = run.n_steps, m.n_layers
    n_ticks = run_ticks(T, L, m.decoder_on_chip)
    P = m.tick_period_ps
    all_pes = spec.pe_ids()
    n_pe = len(all_pes)
    receivers, routed = _receivers(m)
    shared = {"cm": cost_model_for(m, spec), "n_pe": n_pe, "receivers": receivers,
              "routed": routed, "idx_of": {p: i for i, p in enumerate(all_pes)},
              "geo": route_geometry(m, spec), "run_cache": {}}
    window = WINDOW_STEPS if net.readout.weights is None else max(T, 1)
    cols = MAX_COLUMNS if run.tick_columns is None else run.tick_columns  # 0: every tick
    tpc = max(1, -(-n_ticks // cols)) if T > window and cols else 1
    n_cols = -(-n_ticks // tpc)
    tot = _Totals(pe={k: np.zeros((n_pe, n_cols), np.int64) for k in PE_FIELDS},
                  noc={k: np.zeros(n_cols, np.int64) for k in NOC_FIELDS}, tpc=tpc)
    loaded = np.zeros(n_pe, bool)
    loaded[[shared["idx_of"][p] for p in m.pes_used()]] = True
    senders_static = _senders(m, [np.zeros((0, h), np.float32) for h in m.layer_sizes],
                              receivers, 0)
    carry, state, prev = None, None, None
    starts = range(0, T, window)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="analytic", unit="window", leave=False)
    for a in starts:
        b = min(T, a + window)
        trace = run.oracle() if T <= window else net.stack.run(
            run.inputs(a, b), state=state, check_csr=not run.csr_checked)
        state = [(y[-1], c[-1]) for y, c in zip(trace.ys, trace.cs, strict=True)]
        if run.observe is not None:
            run.observe(a, trace)
        ctx, win, prev = _window(run, a, b, trace, prev, tot, shared)
        win.absorb(carry)
        f = (b - a) if b < T else win.input_end.size
        _book_idle(ctx, win, f)
        _finalize(win, f, m, spec, shared, senders_static, loaded, tot)
        carry = win.tail(f)
    pl = {k: np.zeros((n_pe, len(spec.performance_levels)), np.int64) for k in PL_FIELDS}
    pl["residency_ps"][loaded, m.pl] = n_ticks * P
    pl["cycles"][:, m.pl] = tot.pe["active_cycles"].sum(1)
    pl["macs"][:, m.pl] = tot.pe["macs"].sum(1)  # MLA MACs (--mla)
    counts = Counts(pe_ids=all_pes, tick_period_ps=P, n_ticks=n_ticks, duration_ps=n_ticks * P,
                    loaded=loaded, pe=tot.pe, pl=pl, noc=tot.noc, ticks_per_column=tpc,
                    link_packets_per_link=np.zeros(int(spec.links.chip_links.value), np.int64))
    return _result(run, m, spec, tot, counts, price(counts, spec), window)


def _result(run: PreparedRun, m, spec, tot: _Totals, counts, energy, window: int) -> RunResult:
    T, L = run.n_steps, m.n_layers
    P = m.tick_period_ps
    whole = T <= window
    ys = [y.astype(np.float32) for y in run.oracle().ys] if whole else None
    ix = [counts.pe_ids.index(p) for p in m.pes_used()]
    sizes = np.array(m.layer_sizes, np.int64)
    sparsity = [1.0 - float(n) / (T * h) if T * h else 0.0 for n, h in zip(tot.nonzero, sizes,
                                                                            strict=True)]
    hw = host_work(run, ys[-1]) if whole else _host_work_of(run, tot.decoder_events)
    hw = host_link(hw, spec, int(tot.noc["host_injected"].sum()), int(tot.steps("nbytes").sum()),
                   m.decoder_on_chip)
    dense = sum(3 * layer.hidden * (layer.n_in + layer.hidden) for layer in run.network.layers)
    empty = np.zeros((0, m.layer_sizes[-1]), np.float32)
    return RunResult(
        engine="analytic", n_steps=T, n_layers=L, outputs=ys[-1] if whole else empty,
        layer_outputs=ys if whole else [], events_per_step=tot.steps("events"),
        input_events=tot.steps("in_events"), activation_sparsity=sparsity,
        effective_macs_per_step=tot.steps("eff"), dense_macs_per_step=dense,
        readout=run.oracle_readout() if whole else None,
        latency_ps=tot.steps("latency"), step_period_ps=P, sim_time_ps=counts.n_ticks * P,
        packets_per_step=tot.steps("pk"), hops_per_step=tot.steps("hops"), pe_ids=m.pes_used(),
        pe_counts=pe_totals(tot.pe, ix), max_step_cycles=tot.max_step_cycles[ix].astype(np.int64),
        counts=counts, energy=energy, energy_j=energy.total_j, tick_overruns=tot.overruns,
        host=hw, dropped_packets=int(tot.pe["queue_full"].sum()),
        meta={"n_ticks": counts.n_ticks, "noc_hops_total": int(tot.noc["hops"].sum()),
              "noc_packets_total": int(tot.noc["packets"].sum()),
              "queue_peak_packets_est": tot.queues["peak"],
              "packet_queue_depth": int(spec.timing.packet_queue_depth.value),
              "ticks_over_tolerated_activity": tot.queues["over_tolerated"],
              # ticks whose traffic (sends, receivers' handlers) outlasts the tick: the DES
              # would count late packets there; and the latest end of a tick's traffic
              "late_ticks_est": tot.queues["late_ticks"],
              "traffic_drained_by_cycles_est": tot.queues["drained_by_cycles"],
              # a schedule whose sends end after the tick (compiled with check_schedule=False)
              # makes the DES send steps late or not at all: the figures here are then optimistic
              "schedule_overruns_tick": bool(
                  m.schedule is not None and m.schedule.est_end_cycles > m.cycles_per_tick),
              "dropped_packets_are": "estimated (fluid model of the send schedule)",
              **({} if whole else {"windows_of_steps": window, "ticks_per_column":
                                   counts.ticks_per_column})},
    )


def _host_work_of(run: PreparedRun, decoder_events: int):
    """Host work of a long run from its counts (the outputs are not kept)."""
    from s2sim.engine.result import HostWork

    net = run.network
    hw = HostWork()
    if run.mapping.decoder_on_chip:  # lookups and decoder run on the chip
        return hw
    if run.tokens is not None:
        hw.embedding_lookups = int(run.tokens.size)
    if net.readout.host_decoder == "tied" and net.input.embedding is not None:
        hw.decoder_macs = int(decoder_events) * net.input.embedding.shape[0]
    return hw
