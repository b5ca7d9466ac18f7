"""``compile_network``: Network -> Mapping (partition -> place -> route), each stage checked.

Time-step scheme (docs/compiler.md): one step (token / frame) per tick, pipelined across layers.
The host sends step t's input to the input-source PE during tick interval t; the input source
emits it as events at tick t+1; EGRU layer l updates step t at tick t+2+l (consuming the events
layer l-1 sent in the previous tick and its own events of the step before); the readout collects
the last layer's events and sends step t to the host at tick t+2+L. A new step enters every tick.
"""

from __future__ import annotations

import math
import time

import numpy as np

from firmware_py.cost import CostModel
from s2sim.compiler import keys as K
from s2sim.compiler.ir import Network
from s2sim.compiler.mapping import Mapping, RouteEntry, SliceInfo
from s2sim.compiler.partition import (
    CONFIG_BYTES,
    Budget,
    LayerView,
    check_partition,
    get_partitioner,
    slice_regions,
)
from s2sim.compiler.place import PlacementProblem, get_placer
from s2sim.compiler.route import Route, check_table, compress_routes
from s2sim.errors import CompileError, ResourceError

__all__ = ["compile_network", "DEFAULTS"]

DEFAULTS = {
    # expected firing fraction of EGRU units per step, for sizing: None = the model's recorded
    # activity (Network.activity_hint) + 5 points, else 0.25 (ICLR: 15-20 % on the LM)
    "activity": None,
    "input_activity": 1.0,  # embeddings are dense: every input is an event
    "cycle_headroom": 0.3,  # keep 30 % of each tick free for jitter and bursts
    "queue_depth": None,  # packet-queue depth the send schedule plans for (None: the spec's)
    "check_schedule": True,  # refuse a mapping whose send schedule overruns the tick
    "sram_headroom_bytes": 0,
}


# Longest stretch of paced input sends handed to the NoC at once (cycles); see _schedule.
INPUT_CHUNK_CYCLES = 4096


def _align(n: int, a: int) -> int:
    return -(-int(n) // a) * a


def _gate_cols(units: np.ndarray, H: int) -> np.ndarray:
    return np.concatenate([units, H + units, 2 * H + units])


def compile_network(
    network: Network,
    *,
    spec=None,
    spec_path: str | None = None,
    spec_overrides: dict | None = None,
    pl: int | None = None,
    max_pes: int | None = None,
    partitioner="by_units",
    placer="locality",
    pins: dict[str, int] | None = None,
    tick_period_s: float | None = None,
    seed: int = 0,
    **options,
) -> Mapping:
    if isinstance(tick_period_s, str):
        if tick_period_s != "auto":
            raise CompileError(f"tick_period_s {tick_period_s!r}: seconds or 'auto'")
        return _compile_auto_tick(network, spec=spec, spec_path=spec_path,
                                  spec_overrides=spec_overrides, pl=pl, max_pes=max_pes,
                                  partitioner=partitioner, placer=placer, pins=pins, seed=seed,
                                  **options)
    t0 = time.perf_counter()
    spec_overrides = dict(spec_overrides or {})
    if tick_period_s is not None:
        # the tick is a chip setting: through the spec, so that every engine runs at this tick
        spec_overrides["timing.tick_period_s"] = float(tick_period_s)
    given_spec = spec
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec(spec_path, spec_overrides or None)
    elif tick_period_s is not None:
        from s2sim.spec import with_overrides

        spec = with_overrides(spec, {"timing.tick_period_s": float(tick_period_s)})
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise CompileError(f"unknown compile option(s) {sorted(unknown)}; "
                           f"known: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    if opts["activity"] is None:
        hint = getattr(network, "activity_hint", None)
        opts["activity"] = min(1.0, hint + 0.05) if hint else 0.25
    n_levels = len(spec.performance_levels)
    pl = n_levels - 1 if pl is None else pl
    freq = float(spec.pl(pl).frequency_hz.value)
    tick_s = float(spec.timing.tick_period_s.value)
    if tick_s <= 0:
        raise CompileError(f"tick period {tick_s} s: must be > 0")
    tick_ps = int(round(tick_s * 1e12))
    cycles_per_tick = int(math.floor(tick_s * freq))
    align = int(spec.memory.sram_alignment_bytes.value)
    avail = (int(spec.memory.data_sram_bytes.value) - int(spec.memory.stack_heap_bytes.value)
             - int(opts["sram_headroom_bytes"]))
    usable = int(spec.organisation.usable_pes.value)
    max_pes = usable if max_pes is None else int(max_pes)
    all_pes = spec.pe_ids()
    if not 1 <= max_pes <= len(all_pes):
        raise CompileError(f"--max-pes {max_pes}: must be 1..{len(all_pes)}")
    budget = Budget(bytes_available=avail,
                    cycles_available=int(cycles_per_tick * (1 - float(opts["cycle_headroom"]))),
                    align=align, activity=float(opts["activity"]),
                    input_activity=float(opts["input_activity"]))
    cm = CostModel(spec)
    pname, pfn = get_partitioner(partitioner)
    L = len(network.layers)

    # -- stage 1: partition ------------------------------------------------------------------
    views, parts = [], []
    for i, layer in enumerate(network.layers):
        view = LayerView(index=i, n_in=layer.n_in, hidden=layer.hidden, stats=network.stats(i),
                         budget=budget, cost=cm)
        views.append(view)
        lname = f"L{i}"
        greedy = view.greedy_cuts()
        if not greedy:
            ub, uc = view.unit_costs()
            u = int(np.argmax(ub))
            b, _, c = view.footprint(np.array([u]))
            raise CompileError(
                f"layer {lname} ({layer.hidden} units): even a single unit (unit {u}) needs "
                f"{b} bytes / {c} cycles per step, a PE offers {avail} bytes / "
                f"{budget.cycles_available} cycles: no PE count fits this layer by output units")
        slices = [np.asarray(s, np.int64) for s in pfn(view)]
        check_partition(view, slices, lname)
        for k, s in enumerate(slices):
            b, _, c = view.footprint(s)
            if b > avail or c > budget.cycles_available:
                need = len(greedy)
                raise CompileError(
                    f"layer {lname} slice {k} ({len(s)} units): needs {b} bytes and ~{c} "
                    f"cycles/step, a PE has {avail} bytes and {budget.cycles_available} cycles "
                    f"(PL{pl}, {100 * budget.cycles_available / cycles_per_tick:.0f}% of a tick); "
                    f"smallest PE count that fits this layer: {need}")
        parts.append(slices)
    n_slices_total = sum(len(p) for p in parts) + 2
    if n_slices_total > max_pes:
        _raise_too_large(network, views, parts, max_pes, avail)

    # -- slices, with the real slice-offset table sizes ----------------------------------------
    infos: list[SliceInfo] = []
    n_in0 = network.input.n_out
    in_regions = {k: _align(v, align) for k, v in
                  {"frame": 4 * n_in0, "dirty": n_in0, "config": CONFIG_BYTES}.items()}
    n_host_pk = -(-n_in0 // 4)  # 4 values per host packet (firmware_py.input_source)
    in_cycles = (cm.c("input_tick") + n_in0 * (cm.c("input_scan") + cm.c("input_value"))
                 + n_host_pk * (cm.c("input_packet") + cm.irq_cycles)
                 + int(math.ceil(budget.input_activity * n_in0)) * cm.c("input_send"))
    infos.append(SliceInfo(id="input", kind="input", layer=-1, index=0,
                           units=list(range(n_in0)), n_in=n_in0, regions=in_regions,
                           sram_bytes=sum(in_regions.values()), est_cycles_per_step=in_cycles,
                           key_base=K.key_base(K.INPUT_SRC, 0), first_tick=1))
    for i, slices in enumerate(parts):
        view = views[i]
        n_src_in = 1 if i == 0 else len(parts[i - 1])
        for k, s in enumerate(slices):
            _, _, c = view.footprint(s)
            st = network.stats(i)
            nnz_w = int(st.nnz_w_per_unit[s].sum())
            nnz_r = int(st.nnz_r_per_unit[s].sum())
            regions = slice_regions(view.n_in, view.hidden, len(s), nnz_w, nnz_r, n_src_in,
                                    len(slices), align)
            infos.append(SliceInfo(
                id=f"L{i}.S{k}", kind="egru", layer=i, index=k, units=[int(u) for u in s],
                n_in=view.n_in, nnz_w=nnz_w, nnz_r=nnz_r, regions=regions,
                sram_bytes=sum(regions.values()), est_cycles_per_step=c,
                key_base=K.key_base(K.egru_src(i), k), first_tick=i + 2))
    ro = network.readout
    H_last = network.layers[-1].hidden
    ro_raw = {"events": 2 * 8 * H_last, "unit_table": 2 * H_last, "config": CONFIG_BYTES}
    if ro.weights is not None:
        ro_raw.update({"weights": 4 * ro.n_out * H_last, "acc": 4 * ro.n_out,
                       "bias": 4 * ro.n_out})
    if ro.trace:
        ro_raw["trace"] = 4 * H_last
    ro_regions = {k: _align(v, align) for k, v in ro_raw.items()}
    ro_cycles = (cm.c("readout_tick")
                 + int(math.ceil(budget.activity * H_last))
                 * (cm.c("readout_event") + cm.irq_cycles
                    + (0 if ro.trace else ro.n_out * cm.c("readout_mac")))
                 + (H_last * (cm.c("readout_trace_unit") + ro.n_out * cm.c("readout_mac"))
                    if ro.trace else 0)
                 + ro.n_out * cm.c("readout_out"))
    infos.append(SliceInfo(id="readout", kind="readout", layer=L, index=0, units=[],
                           n_in=H_last, regions=ro_regions, sram_bytes=sum(ro_regions.values()),
                           est_cycles_per_step=ro_cycles, key_base=None, first_tick=L + 2))
    for s in infos:
        if s.sram_bytes > avail:
            raise CompileError(f"{s.id}: needs {s.sram_bytes} bytes of data SRAM, a PE has "
                               f"{avail} available (regions: {s.regions})")

    # -- stage 2: placement -------------------------------------------------------------------
    pins = {str(k): int(v) for k, v in (pins or {}).items()}
    ids = [s.id for s in infos]
    for sid, pe in pins.items():
        if sid not in ids:
            raise CompileError(f"pin {sid}={pe}: no slice {sid!r} (slices: {ids[0]}..{ids[-1]})")
        if pe not in all_pes:
            raise CompileError(f"pin {sid}={pe}: PE {pe} is not a PE of this chip")
    pl_name, pl_fn = get_placer(placer)
    free = [p for p in all_pes if p not in set(pins.values())]
    problem = PlacementProblem(
        slice_ids=[s for s in ids if s not in pins], slice_layer={s.id: s.layer for s in infos},
        slice_bytes={s.id: s.sram_bytes for s in infos}, free_pes=free, spec=spec, seed=seed,
        pinned=dict(pins))
    placed = dict(pl_fn(problem))
    placed.update(pins)
    missing = [s for s in ids if s not in placed]
    if missing:
        raise CompileError(f"placement ({pl_name}) left {len(missing)} slice(s) unplaced, first "
                           f"{missing[0]} (the chip has {len(all_pes)} PEs)")
    pe_set = set(all_pes)
    per_pe: dict[int, list[SliceInfo]] = {}
    by_id = {s.id: s for s in infos}
    for sid in ids:
        pe = int(placed[sid])
        if pe not in pe_set:
            raise CompileError(f"placement ({pl_name}) puts {sid} on PE {pe}, not a PE of this "
                               "chip")
        per_pe.setdefault(pe, []).append(by_id[sid])
    for pe, ss in sorted(per_pe.items()):
        total = sum(s.sram_bytes for s in ss)
        if total > avail:
            raise ResourceError(
                f"PE {pe} (QPE {(pe >> 5) & 7},{(pe >> 2) & 7}): slices "
                f"{', '.join(s.id for s in ss)} need {total} bytes of data SRAM together, the PE "
                f"has {avail} available")
        cyc = sum(s.est_cycles_per_step for s in ss)
        if len(ss) > 1 and cyc > budget.cycles_available:
            raise ResourceError(
                f"PE {pe}: slices {', '.join(s.id for s in ss)} need ~{cyc} cycles per step "
                f"together, the budget is {budget.cycles_available} (PL{pl})")
    if len(per_pe) > max_pes:
        raise CompileError(f"placement ({pl_name}) uses {len(per_pe)} PEs, --max-pes is {max_pes}")

    # -- stage 3: routing ---------------------------------------------------------------------
    routes = _routes(network, parts, infos, placed)
    n_before = len(routes)
    routes_c = compress_routes(routes)
    table = int(spec.router.table_entries.value)
    check_table(len(routes_c), n_before, table)
    routed_sources = {src for r in routes_c for src in r.sources}
    for s in infos:
        if s.key_base is not None and s.id not in routed_sources:
            s.key_base = None  # nobody consumes this slice's events: it sends nothing

    if opts["queue_depth"] is None:
        opts["queue_depth"] = int(spec.timing.packet_queue_depth.value)
    schedule = _schedule(network, parts, infos, placed, cm, opts, cycles_per_tick)
    if opts["check_schedule"] and schedule["est_end_cycles"] > cycles_per_tick:
        raise CompileError(
            f"send schedule overruns the tick: at the assumed activity "
            f"{float(opts['activity']):.2f} the events of a step are sent by cycle "
            f"~{schedule['est_end_cycles']}, a tick of {tick_s * 1e6:g} us at PL{pl} has "
            f"{cycles_per_tick}; use a longer tick (tick_period_s='auto' / --tick-s auto picks "
            f"the shortest that fits) or a faster PL")
    if opts["check_schedule"] and schedule["tolerated_activity"] < float(opts["activity"]):
        raise CompileError(
            f"send schedule cannot hold the assumed activity {float(opts['activity']):.2f}: "
            f"with packet queues of {opts['queue_depth']} packets, groups of "
            f"{schedule['group_size']} senders and {sum(schedule['phase_groups'])} groups per "
            f"tick, receivers overflow above a firing fraction of "
            f"{schedule['tolerated_activity']:.3f} (smaller slices or a deeper queue)")

    mapping = Mapping(
        network_name=network.name, network_ref=network.ref,
        network_fingerprint=network.fingerprint(), layer_sizes=network.sizes, n_in=n_in0,
        readout_n_out=ro.n_out, readout_trace=bool(ro.trace), host_decoder=ro.host_decoder,
        spec_path=None if spec_path is None else str(spec_path),
        spec_overrides={str(k): str(v) for k, v in spec_overrides.items()},
        pl=pl, frequency_hz=freq, tick_period_ps=tick_ps, cycles_per_tick=cycles_per_tick,
        partitioner=pname, placer=pl_name,
        options={k: opts[k] for k in sorted(opts)} | {"seed": seed, "max_pes": max_pes},
        slices=infos, placement={sid: int(placed[sid]) for sid in ids}, pins=pins,
        routes_before=n_before,
        routes=[RouteEntry(key=r.key, mask=r.mask, pes=list(r.pes), sources=list(r.sources))
                for r in routes_c],
        table_entries=table, data_bytes_available=avail, pipeline_ticks=L + 1,
        schedule=schedule,
    )
    mapping._network = network
    mapping._spec = given_spec and spec  # an in-memory spec object is used as is by the engines
    mapping.compile_s = time.perf_counter() - t0
    return mapping


def _compile_auto_tick(network, **kw) -> Mapping:
    """The shortest tick (whole microseconds) whose cycles hold the busiest slice's estimated
    work (+ headroom) and the whole send schedule (shorter or longer than the spec's)."""
    t0 = time.perf_counter()
    # the first estimate at the spec's tick; where the slices' cycle budget at that tick needs
    # more PEs than there are (a slow PL, a busy model), from a longer tick
    first, tick_try, exc0 = None, None, None
    for _ in range(6):
        try:
            first = compile_network(network, tick_period_s=tick_try,
                                    **{**kw, "check_schedule": False})
            break
        except CompileError as exc:
            exc0 = exc
            base = tick_try or float(_spec_tick_s(kw))
            tick_try = 2 * base
    if first is None:
        raise exc0
    need = first.required_cycles_per_tick
    last_exc = None
    for _ in range(8):
        tick_s = math.ceil(need / first.frequency_hz * 1e6) / 1e6
        try:
            m = compile_network(network, tick_period_s=tick_s, **kw)
        except CompileError as exc:  # a shorter tick re-partitioned, or the schedule grew
            last_exc = exc
            need = int(need * 1.05) + 1
            continue
        if m.required_cycles_per_tick <= m.cycles_per_tick:
            m.compile_s = time.perf_counter() - t0
            return m
        need = max(int(need * 1.05) + 1, m.required_cycles_per_tick)
    raise CompileError(f"tick_period_s='auto': no tick found that holds the work and the send "
                       f"schedule (last: {last_exc})")


def _spec_tick_s(kw) -> float:
    spec = kw.get("spec")
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec(kw.get("spec_path"), kw.get("spec_overrides") or None)
    return float(spec.timing.tick_period_s.value)


def _raise_too_large(network, views, parts, max_pes, avail):
    need = sum(len(p) for p in parts) + 2
    room = max_pes - 2
    # share the PEs there are in proportion to each layer's need; report the worst layer
    shares = [max(1, int(room * len(p) / (need - 2))) for p in parts]
    worst = None
    for i, (view, share) in enumerate(zip(views, shares, strict=True)):
        if share >= len(parts[i]):
            continue
        H = view.hidden
        edges = np.linspace(0, H, share + 1).astype(np.int64)
        for k in range(share):
            units = np.arange(edges[k], edges[k + 1])
            b, _, _ = view.footprint(units)
            if worst is None or b - avail > worst[3] - avail:
                worst = (i, k, share, b)
    if worst is None:
        raise CompileError(f"network needs {need} PEs (slices + input + readout), "
                           f"--max-pes is {max_pes}")
    i, k, share, b = worst
    raise CompileError(
        f"network too large for {max_pes} PEs: layer L{i} ({views[i].hidden} units) on {share} "
        f"PEs needs {b} bytes in slice {k}, a PE has {avail} bytes available; smallest PE count "
        f"that fits: {need}")


def _fold_units(M: np.ndarray, H: int) -> np.ndarray:
    nz = M != 0
    return (nz[:, :H] | nz[:, H:2 * H] | nz[:, 2 * H:]).astype(np.float32)


def _block_any(rows_slices: list[np.ndarray], Mu: np.ndarray,
               cols_slices: list[np.ndarray]) -> np.ndarray:
    """(n_row_slices, n_col_slices) bool: any nonzero of Mu in the block."""
    n_rows, n_cols = Mu.shape
    S = np.zeros((len(rows_slices), n_rows), np.float32)
    for a, r in enumerate(rows_slices):
        S[a, r] = 1
    T = np.zeros((n_cols, len(cols_slices)), np.float32)
    for b, c in enumerate(cols_slices):
        T[c, b] = 1
    return (S @ Mu @ T) > 0


def _routes(network, parts, infos, placed) -> list[Route]:
    L = len(network.layers)
    by = {s.id: s for s in infos}
    routes = [Route(K.key_base(K.HOST_SRC, 0), 0xFF000000, [placed["input"]], ["host"])]
    # input source -> layer 0 slices with any nonzero W row
    Wu0 = _fold_units(network.layers[0].W, network.layers[0].hidden)
    any0 = _block_any([np.arange(network.input.n_out)], Wu0, parts[0])[0]
    pes = {placed[f"L0.S{b}"] for b in np.flatnonzero(any0)}
    if pes:
        routes.append(Route(by["input"].key_base, K.SLICE_ENTRY_MASK, pes, ["input"]))
    for i in range(L):
        H = network.layers[i].hidden
        rec = _block_any(parts[i], _fold_units(network.layers[i].R, H), parts[i])
        nxt = None
        if i + 1 < L:
            nxt = _block_any(parts[i], _fold_units(network.layers[i + 1].W,
                                                   network.layers[i + 1].hidden), parts[i + 1])
        for k in range(len(parts[i])):
            pes = {placed[f"L{i}.S{b}"] for b in np.flatnonzero(rec[k])}
            if nxt is not None:
                pes |= {placed[f"L{i + 1}.S{b}"] for b in np.flatnonzero(nxt[k])}
            if i == L - 1:
                pes.add(placed["readout"])
            if pes:
                routes.append(Route(by[f"L{i}.S{k}"].key_base, K.SLICE_ENTRY_MASK, pes,
                                    [f"L{i}.S{k}"]))
    return routes


def _slice_row_nnz(M: np.ndarray, H: int, parts: list[np.ndarray]) -> list[np.ndarray]:
    """Per slice: nonzeros of each row of M within the slice's gate columns."""
    nz = (M != 0).astype(np.float32)
    out = []
    for U in parts:
        out.append(nz[:, _gate_cols(U, H)].sum(axis=1))
    return out


def _schedule(network, parts, infos, placed, cm, opts, cycles_per_tick) -> dict[str, int]:
    """The send schedule (firmware_py.schedule): windows and slots from per-event handler costs.

    Senders of a phase go in groups of ``group_size``; a group sends all its events at once at
    the start of its window, sized so that the expected burst (group_size x activity x units)
    fills at most half a packet queue, and the window lasts as long as the receivers need to
    drain it at their *mean* handler time per event (+ 25 %).
    """
    irq = cm.irq_cycles
    by = {s.id: s for s in infos}
    L = len(network.layers)
    for i, layer in enumerate(network.layers):
        H = layer.hidden
        w_rows = _slice_row_nnz(layer.W, H, parts[i])
        r_rows = _slice_row_nnz(layer.R, H, parts[i])
        for k, U in enumerate(parts[i]):
            s = by[f"L{i}.S{k}"]
            rows = np.concatenate([w_rows[k], r_rows[k]])
            s.mean_event_cycles = int(math.ceil(cm.c("slice_event")
                                                + cm.c("slice_nnz") * float(rows.mean())))
            s.tick_cycles_max = cm.slice_tick_cycles(len(U), len(U))
            # the input window only feeds layer 0: keep its own mean (W rows only)
            if i == 0:
                s.__dict__["_mean_w"] = int(math.ceil(
                    cm.c("slice_event") + cm.c("slice_nnz") * float(w_rows[k].mean())))
    ro = network.readout
    rs = by["readout"]
    rs.mean_event_cycles = cm.c("readout_event") + (
        ro.n_out * cm.c("readout_mac") if ro.weights is not None and not ro.trace else 0)
    rs.tick_cycles_max = rs.est_cycles_per_step
    inp = by["input"]
    inp.mean_event_cycles = cm.c("input_packet") + 4 * cm.c("input_value")
    inp.tick_cycles_max = cm.c("input_tick") + inp.n_in * cm.c("input_scan")
    per_pe_event: dict[int, int] = {}
    per_pe_tick: dict[int, int] = {}
    per_pe_event_a: dict[int, int] = {}
    for s in infos:
        pe = placed[s.id]
        per_pe_event[pe] = per_pe_event.get(pe, 0) + s.mean_event_cycles
        per_pe_tick[pe] = per_pe_tick.get(pe, 0) + s.tick_cycles_max
        if s.kind == "egru" and s.layer == 0:
            per_pe_event_a[pe] = per_pe_event_a.get(pe, 0) + s.__dict__.pop("_mean_w")
    margin = 1.25
    slot_a = int(math.ceil(margin * (max(per_pe_event_a.values()) + irq)))
    start_a = max(per_pe_tick.values()) + irq + 500  # + NoC latency across the mesh
    senders = [s for s in infos if s.kind == "egru" and s.key_base is not None]
    phase_of = {s.id: (0 if s.layer % 2 else 1) for s in senders}
    # receivers per phase: the consumers of that phase's senders (layers l and l+1, readout)
    recv_event: list[dict[int, int]] = [{}, {}]
    for s in infos:
        if s.kind == "input":
            continue
        pe = placed[s.id]
        lay = s.layer
        for ph in (0, 1):
            src_layers = [l_ for l_ in range(L) if (0 if l_ % 2 else 1) == ph]
            if any(lay in (sl, sl + 1) for sl in src_layers):
                recv_event[ph][pe] = recv_event[ph].get(pe, 0) + s.mean_event_cycles
    max_u = max((len(s.units) for s in senders), default=0)
    per_sender = max(1, int(math.ceil(float(opts["activity"]) * max_u)))  # expected events
    queue = int(opts.get("queue_depth") or 256)
    chunk = max(1, min(network.input.n_out, INPUT_CHUNK_CYCLES // max(1, slot_a)))
    delay = chunk * slot_a  # the most the input's chunk can delay a phase-0 group (cycles)
    slot0 = int(math.ceil(margin * (max(recv_event[0].values(), default=0) + irq)))

    def room_for(g: int) -> int:
        """Queue room left when a group arrives: receiver r (c_r cycles per packet) may still
        hold max(0, D c_r + delay - W) / c_r packets of the previous group, delayed by the
        input source's chunk, in a window W = D x slot sized for D packets."""
        D = g * per_sender
        held = 0
        for c in recv_event[0].values():
            c_r = c + irq
            held = max(held, int(math.ceil(max(0, D * c_r + delay - D * slot0) / c_r)))
        return queue - held

    group_size = max(1, (queue // 2) // per_sender)  # a group's burst fills half a queue
    # ... and, where a group of one allows it, even a group whose every unit fires fits the
    # queue room (the worst-case burst a receiver can see from one group)
    while group_size > 1 and group_size * max_u > room_for(group_size):
        group_size -= 1
    room = room_for(group_size)
    starts, slots, counts, group_starts = [], [], [], []
    t = start_a
    for ph in (0, 1):
        members = [s for s in senders if phase_of[s.id] == ph]
        slot = int(math.ceil(margin * (max(recv_event[ph].values(), default=0) + irq)))
        for j, s in enumerate(members):
            s.send_phase, s.send_slot = ph, j // group_size
        n_groups = -(-len(members) // group_size)
        gs, t_g = [], t
        for k in range(n_groups):
            gs.append(int(t_g))
            n_k = min(group_size, len(members) - k * group_size)
            t_g += n_k * per_sender * slot  # receivers drain the group's expected burst
        dur = t_g - t
        if ph == 0:
            dur = max(dur, network.input.n_out * slot_a)
        starts.append(int(t))
        slots.append(slot)
        counts.append(n_groups)
        group_starts.append(gs)
        t += dur + 500
    # The activity this schedule holds: a receiver drains (at least) group_size x per_sender
    # packets per window; with a per-group burst b above that, the backlog grows by the excess
    # per group, so over the n groups of a tick the queue peaks at n*b - (n-1)*D (+ the chunk
    # delay's packets). The largest b that keeps this within the queue, per worst-case group
    # (group_size x largest slice), is the tolerated firing fraction.
    n_all = sum(counts)
    D = group_size * per_sender
    if room < D:
        b_max = float(max(0, room))
    else:
        b_max = (room + (n_all - 1) * D) / max(1, n_all)
    tolerated = min(1.0, b_max / (group_size * max_u)) if max_u else 1.0
    # the input source hands its paced events over in chunks of at most INPUT_CHUNK_CYCLES of
    # pacing: the NoC reserves a send when it is handed over (one next-free time per resource),
    # so a chunk delays other senders' bursts by at most this much (firmware_py.schedule)
    return {"start_a_cycles": int(start_a), "slot_a_cycles": slot_a,
            "input_chunk_events": int(chunk), "queue_depth": int(queue),
            "tolerated_activity": round(float(tolerated), 4),
            "phase_start_cycles": starts, "phase_slot_cycles": slots, "phase_groups": counts,
            "group_size": group_size, "group_start_cycles": group_starts,
            "est_end_cycles": int(t)}
