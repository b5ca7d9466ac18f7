"""``compile_network``: Network -> Mapping, as a pipeline of stages with typed outputs.

    partition (s2sim.compiler.partition)  layers -> slices of units, sized against SRAM + cycles
              (s2sim.compiler.decoder_blocks) with --decoder chip: the table -> row blocks
    slices    (s2sim.compiler.slices)     -> SliceInfo per program (regions, estimate, keys)
    place     (s2sim.compiler.place)      -> slice id -> PE id
    route     (s2sim.compiler.route)      -> compressed multicast table
    schedule  (s2sim.compiler.schedule)   -> SendSchedule
    tick      (s2sim.compiler.tick)       -> the auto tick (recompiles until work + schedule fit)

Each stage checks its output and fails with a one-line error naming the layer, slice, PE or
table; each has its section in ``Mapping.report()``. The time-step scheme is in
``firmware_py.pipeline``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.kinds import cost_model_for, egru_slice
from firmware_py.pipeline import pipeline_ticks
from s2sim.compiler.ir import Network
from s2sim.compiler.mapping import Mapping, RouteEntry
from s2sim.compiler.partition import Budget, check_pe_count, partition_network
from s2sim.compiler.place import place_slices
from s2sim.compiler.route import route_network
from s2sim.compiler.schedule import check_schedule, schedule_sends
from s2sim.compiler.slices import describe_slices
from s2sim.compiler.tick import compile_auto_tick, parse_tick
from s2sim.errors import CompileError

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
    "index_bits": 16,  # width of a stored weight's column index: 16 | 32
}
OBJECTIVES = ("pes", "latency", "energy")
DECODERS = ("host", "chip")  # where the tied embedding/decoder runs
# Sizing activity over the model's recorded one (fraction of units), and without a record.
ACTIVITY_MARGIN = 0.05
DEFAULT_ACTIVITY = 0.25
# Slices besides the EGRU layers': the input source and the readout.
HOST_FACING_SLICES = 2
# PEs of the chip an explicit --pes may not use: the published EGRU LM deployment ran on 150 of
# the 152 application PEs (Nazeer et al. 2024), so that many can run application code; the
# spec's usable_pes (the vendor runtime's reservation) stays the limit of the other objectives.
SYSTEM_PES = 2


@dataclass
class Target:
    """What the pipeline compiles for: the chip spec, PL and tick, the per-PE budget, options."""

    spec: object
    in_memory_spec: object | None  # from a given spec object: used as is by the engines
    spec_overrides: dict
    opts: dict
    pl: int
    frequency_hz: float
    tick_s: float
    cycles_per_tick: int
    max_pes: int
    budget: Budget
    cost: CostModel

    @property
    def tick_ps(self) -> int:
        return int(round(self.tick_s * 1e12))


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
    tick_period_s: float | str | None = None,
    seed: int = 0,
    pes: int | None = None,
    objective: str = "pes",
    decoder: str = "host",
    **options,
) -> Mapping:
    """Compile ``network`` for the chip; ``pes``: spread it over exactly this many PEs;
    ``objective``: ``pes`` (fewest PEs), ``latency`` (all usable PEs) or ``energy`` (the PE
    count with the lowest estimated energy per step, ``s2sim.compiler.objective``);
    ``decoder``: where an LM's tied embedding/decoder runs, ``host`` or ``chip`` (its table as
    row blocks on PEs, ``firmware_py.kinds.decoder``)."""
    kw = dict(spec=spec, spec_path=spec_path, spec_overrides=spec_overrides, pl=pl,
              max_pes=max_pes, partitioner=partitioner, placer=placer, pins=pins, seed=seed,
              decoder=decoder, **options)
    tick = parse_tick(tick_period_s)
    if objective not in OBJECTIVES:
        raise CompileError(f"objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
    if decoder not in DECODERS:
        raise CompileError(f"decoder {decoder!r}: choose host or chip")
    if pes is None and objective != "pes":
        from s2sim.compiler.objective import compile_for_objective

        return compile_for_objective(compile_network, network, objective, tick, kw)
    if tick == "auto":
        return compile_auto_tick(compile_network, network, pes=pes, objective=objective, **kw)
    t0 = time.perf_counter()
    tg = _target(network, spec, spec_path, spec_overrides, tick, pl, max_pes, options, pes)
    blocks = None
    extra = HOST_FACING_SLICES
    if decoder == "chip":
        from s2sim.compiler.decoder_blocks import partition_decoder

        blocks = partition_decoder(network, tg.budget, tg.cost)
        extra += len(blocks[1])
    part = partition_network(network, tg.budget, tg.cost, partitioner, pl=tg.pl,
                             cycles_per_tick=tg.cycles_per_tick,
                             slice_pes=None if pes is None else _layer_pes(pes, extra))
    check_pe_count(part, tg.max_pes, extra)
    infos = describe_slices(network, part, tg.budget, tg.cost, decoder_blocks=blocks)
    placer_name, placement, pins = place_slices(
        infos, tg.spec, placer, pins=pins, seed=seed, max_pes=tg.max_pes,
        bytes_available=tg.budget.bytes_available, cycles_available=tg.budget.cycles_available,
        pl=tg.pl)
    routing = route_network(network, part.parts, infos, placement, tg.spec)
    schedule = schedule_sends(network, infos, placement, tg.cost,
                              activity=float(tg.opts["activity"]),
                              queue_depth=int(tg.opts["queue_depth"]))
    if pes is not None and len(set(placement.values())) != pes:
        raise CompileError(f"--pes {pes}: the placement ({placer_name}) uses "
                           f"{len(set(placement.values()))} PEs")
    if tg.opts["check_schedule"]:
        check_schedule(schedule, activity=float(tg.opts["activity"]),
                       cycles_per_tick=tg.cycles_per_tick, tick_s=tg.tick_s, pl=tg.pl)
    mapping = Mapping(
        network_name=network.name, network_ref=network.ref,
        network_fingerprint=network.fingerprint(), layer_sizes=network.sizes,
        n_in=network.input.n_out, readout_n_out=network.readout.n_out,
        readout_trace=bool(network.readout.trace), host_decoder=network.readout.host_decoder,
        spec_path=None if spec_path is None else str(spec_path),
        spec_overrides={str(k): str(v) for k, v in tg.spec_overrides.items()},
        pl=tg.pl, frequency_hz=tg.frequency_hz, tick_period_ps=tg.tick_ps,
        cycles_per_tick=tg.cycles_per_tick, partitioner=part.partitioner, placer=placer_name,
        options={k: tg.opts[k] for k in sorted(tg.opts)}
        | {"seed": seed, "max_pes": tg.max_pes, "pes": pes, "objective": objective}
        | ({"decoder": "chip"} if blocks else {}),
        slices=infos, placement=placement, pins=pins, routes_before=routing.routes_before,
        routes=[RouteEntry(key=r.key, mask=r.mask, pes=list(r.pes), sources=list(r.sources))
                for r in routing.routes],
        table_entries=routing.table_entries, data_bytes_available=tg.budget.bytes_available,
        pipeline_ticks=pipeline_ticks(len(network.layers), blocks is not None),
        schedule=schedule,
    )
    mapping.bind(network, tg.in_memory_spec)
    mapping.compile_s = time.perf_counter() - t0
    return mapping


def _layer_pes(pes: int, extra: int) -> int:
    """PEs of a ``--pes`` deployment left for the EGRU slices after the ``extra`` others."""
    if pes - extra < 1:
        raise CompileError(f"--pes {pes}: the input source, the readout and the decoder's blocks "
                           f"take {extra} PEs, none is left for the EGRU layers")
    return pes - extra


def _load_target_spec(spec, spec_path, overrides: dict, tick: float | None):
    """The spec to compile for; the tick is a chip setting, so it goes through the spec (and the
    mapping's overrides) so that every engine runs at this tick."""
    if tick is not None:
        overrides["timing.tick_period_s"] = float(tick)
    if spec is None:
        from s2sim.spec import load_spec

        return load_spec(spec_path, overrides or None)
    if tick is not None:
        from s2sim.spec import with_overrides

        return with_overrides(spec, {"timing.tick_period_s": float(tick)})
    return spec


def _check_pes(pes, max_pes: int, ceiling: int, n_layers: int) -> None:
    if pes is None:
        return
    lo, hi = n_layers + HOST_FACING_SLICES, min(max_pes, ceiling)
    if not isinstance(pes, int | np.integer) or not lo <= pes <= hi:
        raise CompileError(f"--pes {pes}: must be a whole number {lo}..{hi} (one PE per slice: "
                           f"input, readout and at least one per layer; at most --max-pes, or "
                           f"{ceiling} of the chip's PEs)")


def _target(network, spec, spec_path, spec_overrides, tick, pl, max_pes, options,
            pes=None) -> Target:
    overrides = dict(spec_overrides or {})
    given_spec = spec
    spec = _load_target_spec(spec, spec_path, overrides, tick)
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise CompileError(f"unknown compile option(s) {sorted(unknown)}; "
                           f"known: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    if opts["activity"] is None:
        hint = getattr(network, "activity_hint", None)
        opts["activity"] = min(1.0, hint + ACTIVITY_MARGIN) if hint else DEFAULT_ACTIVITY
    pl = len(spec.performance_levels) - 1 if pl is None else pl
    freq = float(spec.pl(pl).frequency_hz.value)
    tick_s = float(spec.timing.tick_period_s.value)
    if tick_s <= 0:
        raise CompileError(f"tick period {tick_s} s: must be > 0")
    cycles_per_tick = int(math.floor(tick_s * freq))
    avail = (int(spec.memory.data_sram_bytes.value) - int(spec.memory.stack_heap_bytes.value)
             - int(opts["sram_headroom_bytes"]))
    n_pes = len(spec.pe_ids())
    usable = int(spec.organisation.usable_pes.value)
    if max_pes is None:
        max_pes = usable if pes is None else max(usable, n_pes - SYSTEM_PES)
    max_pes = int(max_pes)
    if not 1 <= max_pes <= n_pes:
        raise CompileError(f"--max-pes {max_pes}: must be 1..{n_pes}")
    _check_pes(pes, max_pes, n_pes - SYSTEM_PES, len(network.layers))
    if opts["index_bits"] not in egru_slice.INDEX_BITS:
        raise CompileError(f"--index-bits {opts['index_bits']}: choose 16 or 32 (the width of a "
                           "stored weight's column index)")
    if opts["queue_depth"] is None:
        opts["queue_depth"] = int(spec.timing.packet_queue_depth.value)
    budget = Budget(bytes_available=avail,
                    cycles_available=int(cycles_per_tick * (1 - float(opts["cycle_headroom"]))),
                    align=int(spec.memory.sram_alignment_bytes.value),
                    activity=float(opts["activity"]),
                    input_activity=float(opts["input_activity"]))
    return Target(spec=spec, in_memory_spec=None if given_spec is None else spec,
                  spec_overrides=overrides, opts=opts, pl=pl, frequency_hz=freq, tick_s=tick_s,
                  cycles_per_tick=cycles_per_tick, max_pes=max_pes, budget=budget,
                  cost=CostModel(spec, index_bytes=int(opts["index_bits"]) // 8))


def reroute(mapping: Mapping, network: Network) -> Mapping:
    """Compile from a given placement: keep the mapping's slices, recompute their keys, the
    routing table and the send schedule from ``mapping.placement`` (PE budgets checked)."""
    from s2sim.compiler.place import check_pe_budgets
    from s2sim.compiler.slices import slice_key_base

    spec = mapping.load_spec()
    infos = [s.model_copy(deep=True) for s in mapping.slices]
    for s in infos:
        s.key_base = slice_key_base(s.kind, s.layer, s.index)
        s.send_phase = s.send_slot = None
    placement = dict(mapping.placement)
    cycles_available = int(mapping.cycles_per_tick
                           * (1 - float(mapping.options.get("cycle_headroom", 0.0) or 0.0)))
    per_pe: dict[int, list] = {}
    for s in infos:
        per_pe.setdefault(int(placement[s.id]), []).append(s)
    check_pe_budgets(per_pe, spec, mapping.data_bytes_available, cycles_available, mapping.pl)
    parts = [[np.asarray(s.units, np.int64) for s in infos if s.kind == "egru" and s.layer == i]
             for i in range(mapping.n_layers)]
    routing = route_network(network, parts, infos, placement, spec)
    cost = cost_model_for(mapping, spec)
    queue_depth = int(mapping.options.get("queue_depth")
                      or int(spec.timing.packet_queue_depth.value))
    schedule = schedule_sends(network, infos, placement, cost,
                              activity=float(mapping.options["activity"]),
                              queue_depth=queue_depth)
    out = mapping.model_copy(update={
        "slices": infos, "placement": placement, "placer": "table",
        "routes_before": routing.routes_before, "table_entries": routing.table_entries,
        "routes": [RouteEntry(key=r.key, mask=r.mask, pes=list(r.pes), sources=list(r.sources))
                   for r in routing.routes],
        "schedule": schedule}, deep=True)
    return out.bind(network, mapping.bound_spec)
