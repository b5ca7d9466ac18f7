"""Compiling across chips: a network onto a machine of several SpiNNaker2 chips.

    from s2sim.compiler.machine_map import compile_machine
    mm = compile_machine(net, "board48")        # the fewest chips that hold it (or chips=N)
    print(mm.report()); mm.to_json()

Stages (the single-chip stages are reused; what is new is the chip level):

1. **partition** and **slices**: as on one chip (``partition_network``, ``describe_slices``): every
   slice fits one PE's SRAM and cycle budget at the PL and tick.
2. **chips**: the fewest chips whose usable PEs (``organisation.usable_pes`` each) hold the slices
   (or exactly ``chips``). The input source and the readout go to logical chip 0, which is placed
   on the Ethernet chip (host traffic enters and leaves there). The layers follow in pipeline
   order; a layer that fits in what is left of the current chip stays there, a layer that does
   not goes whole to the next chip when the chips after it still hold all that is left, otherwise
   it is split across the boundary (``assign_chips``).
3. **chip placement**: logical chips onto the machine's chips, greedily, each next logical chip
   onto the free chip that minimises its expected link traffic (packets per step at the sizing
   activity) times hops to the chips already placed (``place_chips``).
4. **PE placement** within each chip: the serpentine from the host bridge (``serpentine_pes``),
   slices in pipeline order.
5. **routing**: the single-chip per-slice entries (``slice_routes``) over global PE ids, then per
   key block a multicast tree over the chip links (the union of the machine's shortest paths
   from the sending chip to every chip holding a destination); every chip on the tree gets an
   entry for the block with its local destination PEs and its outgoing tree links. Each chip's
   table is compressed as on one chip (links count as destinations) and checked against
   ``router.table_entries`` (16,384), naming the chip.
6. **send schedule**: the single-chip schedule over all slices (``schedule_sends``), so every
   chip runs the same windows.

Errors are one line: a network needing more chips than the machine has names both counts.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from firmware_py import keys as K
from s2sim.compiler.partition import partition_network
from s2sim.compiler.place import serpentine_pes
from s2sim.compiler.route import Route, check_table, compress_routes, slice_routes
from s2sim.compiler.schedule import schedule_sends
from s2sim.compiler.slices import describe_slices
from s2sim.errors import CompileError, RoutingError

__all__ = ["MachineMapping", "ChipPart", "compile_machine", "assign_chips", "place_chips",
           "global_pe", "split_global_pe", "route_machine", "link_load_estimate"]

PE_FIELD = 256  # global PE id = chip * 256 + the chip's own PE id (8-bit SpiNNaker2 PE ids)


def global_pe(chip: int, pe: int) -> int:
    return int(chip) * PE_FIELD + int(pe)


def split_global_pe(g: int) -> tuple[int, int]:
    return divmod(int(g), PE_FIELD)


def _link_code(d: int) -> int:
    """A chip link as a destination in a compressed route (negative: never a PE id)."""
    return -1 - int(d)


@dataclass
class ChipPart:
    """One physical chip's share of a machine mapping."""

    chip: int  # physical chip index in the machine
    slices: list[str]
    placement: dict[str, int]  # slice id -> this chip's PE id
    routes: list[tuple[int, int, list[int], list[int], list[str]]]  # key, mask, pes, links, srcs
    routes_before: int
    sram_bytes: dict[int, int] = field(default_factory=dict)  # PE -> data bytes used

    @property
    def pes(self) -> int:
        return len(set(self.placement.values()))

    @property
    def table_entries(self) -> int:
        return len(self.routes)


@dataclass
class MachineMapping:
    """A network compiled onto a machine: per-chip parts, link routes, estimated link load."""

    machine: object
    network: object
    spec: object
    slices: list  # SliceInfo, all chips
    chip_of_slice: dict[str, int]  # slice id -> physical chip
    placement: dict[str, int]  # slice id -> global PE id
    parts: list[ChipPart]  # chips used, logical order (parts[0] is on the Ethernet chip)
    uncompressed: list[Route]  # per-slice entries over global PE ids
    trees: dict[int, list[tuple[int, int]]]  # key base -> (chip, link) edges of its tree
    key_chip: dict[int, int]  # key base -> sending chip
    schedule: object
    pl: int
    tick_s: float
    cycles_per_tick: int
    activity: float
    chips_needed: int
    compile_s: float = 0.0
    mapping: object = None  # the whole network as one Mapping over global PE ids (as_mapping)

    @property
    def chips_used(self) -> list[int]:
        return [p.chip for p in self.parts]

    def link_load(self) -> dict[tuple[int, int], float]:
        """Expected packets per step on every used (chip, link), at the sizing activity."""
        return link_load_estimate(self, {s.id: self.activity * len(s.units)
                                         for s in self.slices if s.kind == "egru"}
                                  | {"input": float(self.network.input.n_out)})

    def report(self) -> str:
        m = self.machine
        out = [f"machine {m.name}: {len(self.parts)} of {m.n_chips} chips used "
               f"(needed: {self.chips_needed}), {len(self.slices)} slices, "
               f"{len(set(self.placement.values()))} PEs; PL{self.pl}, tick "
               f"{self.tick_s * 1e6:g} us; compiled in {self.compile_s:.1f} s", "",
               "chip  board (x,y)  PEs  max SRAM/PE  mean SRAM/PE  entries (before)  layers"]
        for p in self.parts:
            b, x, y = m.chips[p.chip]
            sram = list(p.sram_bytes.values()) or [0]
            layers = sorted({s.split(".")[0] for s in p.slices})
            out.append(f"{p.chip:>4}  {b:>5} ({x},{y})  {p.pes:>3}  {max(sram) / 1024:>8.1f} KiB"
                       f"  {np.mean(sram) / 1024:>9.1f} KiB  {p.table_entries:>7} "
                       f"({p.routes_before:>4})  {','.join(layers)}")
        load = self.link_load()
        out.append("")
        per_tick_s = self.tick_s
        if load:
            out.append(f"links used: {len(load)}; expected per step at activity "
                       f"{self.activity:.3f}: {sum(load.values()):.0f} link packets")
            for (c, d), pk in sorted(load.items(), key=lambda kv: (-kv[1], kv[0]))[:8]:
                util = pk * m.packet_bits / (per_tick_s * m.link_bits_per_s(c, d))
                out.append(f"  chip {c} link {d} -> chip {int(m.neighbour[c, d])}: "
                           f"{pk:.0f} packets/step, {100 * util:.2f} % of the link")
        else:
            out.append("links used: none (one chip)")
        return "\n".join(out)

    def to_json(self) -> dict:
        load = self.link_load()
        return {
            "machine": self.machine.name, "chips_used": self.chips_used,
            "chips_needed": self.chips_needed, "pl": self.pl, "tick_s": self.tick_s,
            "chips": [{"chip": p.chip, "pes": p.pes, "slices": p.slices,
                       "placement": p.placement, "table_entries": p.table_entries,
                       "routes_before": p.routes_before,
                       "max_sram_bytes": max(p.sram_bytes.values(), default=0),
                       "routes": [{"key": k, "mask": mk, "pes": pes, "links": links,
                                   "sources": src} for k, mk, pes, links, src in p.routes]}
                      for p in self.parts],
            "link_load_packets_per_step": [[c, d, round(v, 3)]
                                           for (c, d), v in sorted(load.items())],
        }


# -- stage 2: chips ------------------------------------------------------------------------------

def assign_chips(layer_slices: list[int], n_chips: int, per_chip: int,
                 host_slices: int = 2) -> list[list[int]]:
    """Logical chip of every slice of every layer (``layer_slices[l]`` slices in layer l), the
    ``host_slices`` (input, readout) on chip 0; see the module doc. CompileError when the slices
    do not fit ``n_chips`` x ``per_chip``."""
    total = sum(layer_slices) + host_slices
    if total > n_chips * per_chip:
        raise CompileError(f"{total} slices do not fit {n_chips} chip(s) of {per_chip} PEs")
    room = [per_chip] * n_chips
    room[0] -= host_slices
    out: list[list[int]] = []
    c = 0
    left = total - host_slices
    for n in layer_slices:
        if n > room[c] and n <= per_chip and c + 1 < n_chips and sum(room[c + 1:]) >= left:
            c += 1  # the whole layer on the next chip: its slices stay together
        chips = []
        for _ in range(n):
            while room[c] == 0:
                c += 1
            chips.append(c)
            room[c] -= 1
        if n > 0 and room[c] == 0 and c + 1 < n_chips:
            c += 1
        out.append(chips)
        left -= n
    return out


def place_chips(traffic: np.ndarray, machine, start: int = 0) -> list[int]:
    """Physical chip of every logical chip: logical 0 on ``start`` (the Ethernet chip), then
    each next one on the free chip minimising sum(traffic x hops) to those placed (ties: the
    lowest chip index). ``traffic[i, j]``: expected packets per step from i to j."""
    n = traffic.shape[0]
    sym = traffic + traffic.T
    phys = [start]
    free = [c for c in range(machine.n_chips) if c != start]
    for i in range(1, n):
        best = min(free, key=lambda c: (sum(sym[i, j] * machine.hops(c, phys[j])
                                            for j in range(i)), c))
        phys.append(best)
        free.remove(best)
    return phys


# -- stage 5: routing ----------------------------------------------------------------------------

def route_machine(uncompressed: list[Route], machine, src_chip_of_key: dict[int, int],
                  chip_of_pe, table_entries: int):
    """Per-chip compressed tables and the multicast tree of every key block.

    ``uncompressed``: per-slice routes over global PE ids; ``src_chip_of_key``: the sending chip
    of each key block (the host channel enters at its input PE's chip). Returns
    ``(tables: chip -> [(key, mask, pes, links, sources)], before: chip -> n, trees)``."""
    per_chip: dict[int, list[Route]] = defaultdict(list)
    trees: dict[int, list[tuple[int, int]]] = {}
    for r in uncompressed:
        src = src_chip_of_key[r.key]
        local: dict[int, set[int]] = defaultdict(set)
        for g in r.pes:
            c, pe = chip_of_pe(g)
            local[c].add(pe)
        edges: set[tuple[int, int]] = set()
        for c in sorted(local):
            if c != src:
                edges.update(machine.path(src, c))
        trees[r.key] = sorted(edges)
        out_links: dict[int, set[int]] = defaultdict(set)
        for c, d in edges:
            out_links[c].add(d)
        for c in sorted(set(local) | set(out_links) | {src}):
            dest = sorted(local.get(c, set())) + sorted(_link_code(d) for d in out_links.get(c, ()))
            if dest:
                per_chip[c].append(Route(r.key, r.mask, dest, r.sources))
    tables, before = {}, {}
    for c, routes in sorted(per_chip.items()):
        comp = compress_routes(routes)
        try:
            check_table(len(comp), len(routes), table_entries)
        except RoutingError as e:
            raise RoutingError(f"{machine.label(c)}: {e}") from None
        tables[c] = [(r.key, r.mask, [p for p in r.pes if p >= 0],
                      sorted(-1 - p for p in r.pes if p < 0), list(r.sources)) for r in comp]
        before[c] = len(routes)
    return tables, before, trees


def link_load_estimate(mm: MachineMapping, packets_of_slice: dict[str, float]):
    """Packets per step on every (chip, link) when slice s sends ``packets_of_slice[s]``."""
    load: dict[tuple[int, int], float] = defaultdict(float)
    sender = {s.key_base: s.id for s in mm.slices if s.key_base is not None}
    for r in mm.uncompressed:
        sid = sender.get(r.key)
        if sid is None:
            continue
        for e in mm.trees.get(r.key, ()):
            load[e] += float(packets_of_slice.get(sid, 0.0))
    return dict(load)


# -- the pipeline --------------------------------------------------------------------------------

# Ticks tried when none is given: the shortest at which the partition fits the key layout and
# the machine and the send schedule fits the tick (a long tick lets slices be SRAM-bound).
TICK_STEP_S = 5e-4
TICK_MIN_S = 1e-3
TICK_MAX_S = 2e-2


def compile_machine(network, machine="board48", *, chips: int | None = None, spec=None,
                    pl: int | None = None, tick_period_s: float | None = None,
                    partitioner="by_units", **options) -> MachineMapping:
    """Compile ``network`` onto ``machine`` (a name or a ``Machine``), on the fewest chips that
    hold it or on exactly ``chips``. ``tick_period_s``: None = the shortest multiple of 0.5 ms
    (1..20 ms) at which the partition fits, lengthened to the send schedule's end if that is
    later (the compiler's estimate, as ``--tick-s estimate`` on one chip); ``options``: the
    compile options of ``compile_network``."""
    from s2sim.compiler.compile import _target
    from s2sim.compiler.schedule import check_schedule
    from s2sim.spec.machine import load_machine

    t0 = time.perf_counter()
    m = (load_machine(machine, spec) if isinstance(machine, str | type(None)) else machine)
    if tick_period_s is None:
        ticks = [TICK_MAX_S] + [TICK_MIN_S + i * TICK_STEP_S for i in
                                range(int(round((TICK_MAX_S - TICK_MIN_S) / TICK_STEP_S)))]
    else:
        ticks = [float(tick_period_s)]
    found = None
    for i, tick in enumerate(ticks):
        tg = _target(network, spec, None, None, tick, pl, None, dict(options))
        try:
            part, need = _partition(network, tg, partitioner, m, chips)
        except CompileError:
            if i == 0:
                raise  # the longest tick (or the one given) does not fit: the real error
            continue
        found = (tg, part, need)
        if i > 0 or len(ticks) == 1:
            break
    tg, part, need = found
    mm = _compile_at(network, m, tg, part, need, chips)
    tick = tg.tick_s
    while tick_period_s is None and mm.schedule.est_end_cycles > tg.cycles_per_tick \
            and tick < TICK_MAX_S:
        # the send schedule sets the tick: the next 0.5 ms step above its end (recompiled, as
        # the partition adapts to the tick's cycle budget, which can move the end again)
        end_s = mm.schedule.est_end_cycles / tg.frequency_hz
        tick = min(TICK_MAX_S, max(tick + TICK_STEP_S,
                                   math.ceil(end_s / TICK_STEP_S) * TICK_STEP_S))
        tg = _target(network, spec, None, None, tick, pl, None, dict(options))
        part, need = _partition(network, tg, partitioner, m, chips)
        mm = _compile_at(network, m, tg, part, need, chips)
    check_schedule(mm.schedule, activity=mm.activity, cycles_per_tick=tg.cycles_per_tick,
                   tick_s=tg.tick_s, pl=tg.pl)
    mm.compile_s = time.perf_counter() - t0
    return mm


def _partition(network, tg, partitioner, m, chips):
    from s2sim.compiler.compile import HOST_FACING_SLICES

    part = partition_network(network, tg.budget, tg.cost, partitioner, pl=tg.pl,
                             cycles_per_tick=tg.cycles_per_tick)
    per_chip = int(tg.spec.organisation.usable_pes.value)
    n_slices = part.n_slices + HOST_FACING_SLICES
    need = math.ceil(n_slices / per_chip)
    if need > m.n_chips:
        raise CompileError(
            f"network {network.name!r} needs {need} chips ({n_slices} PEs at {per_chip} usable "
            f"per chip); machine {m.name} has {m.n_chips} chip(s)")
    if chips is not None and not need <= int(chips) <= m.n_chips:
        raise CompileError(f"--chips {chips}: must be {need}..{m.n_chips} (the network needs "
                           f"{need} at this tick; machine {m.name} has {m.n_chips})")
    return part, need


def _compile_at(network, m, tg, part, need: int, chips) -> MachineMapping:
    n = need if chips is None else int(chips)
    per_chip = int(tg.spec.organisation.usable_pes.value)
    activity = float(tg.opts["activity"])
    infos = describe_slices(network, part, tg.budget, tg.cost)
    logical = _logical_chips(infos, part, n, per_chip)
    key_of = {s.id: s.key_base for s in infos if s.key_base is not None}
    # routes once, over placeholder PEs (logical chip, serial); remapped after placement
    seen: dict[int, int] = defaultdict(int)
    serial = {}
    for s in infos:
        serial[s.id] = global_pe(logical[s.id], seen[logical[s.id]])
        seen[logical[s.id]] += 1
    routes0 = slice_routes(network, part.parts, key_of, serial)
    phys = place_chips(_chip_traffic(routes0, infos, logical, n, network.input.n_out, activity),
                       m, m.ethernet[0])
    chip_of = {sid: phys[lc] for sid, lc in logical.items()}
    placement = _place_pes(infos, chip_of, tg.spec)
    remap = {serial[sid]: placement[sid] for sid in serial}
    uncompressed = [Route(r.key, r.mask, [remap[p] for p in r.pes], r.sources) for r in routes0]
    src_chip = {key_of[s]: chip_of[s] for s in key_of}
    src_chip[K.key_base(K.HOST_SRC, 0)] = chip_of["input"]
    tables, before, trees = route_machine(uncompressed, m, src_chip, split_global_pe,
                                          int(tg.spec.router.table_entries.value))
    routed = {src for r in uncompressed for src in r.sources}
    for s in infos:
        if s.key_base is not None and s.id not in routed:
            s.key_base = None
    schedule = schedule_sends(network, infos, placement, tg.cost, activity=activity,
                              queue_depth=int(tg.opts["queue_depth"]))
    parts = []
    for c in phys:
        sl = [s for s in infos if chip_of[s.id] == c]
        pl_c = {s.id: split_global_pe(placement[s.id])[1] for s in sl}
        sram: dict[int, int] = defaultdict(int)
        for s in sl:
            sram[pl_c[s.id]] += int(s.sram_bytes)
        parts.append(ChipPart(chip=c, slices=[s.id for s in sl], placement=pl_c,
                              routes=tables.get(c, []), routes_before=before.get(c, 0),
                              sram_bytes=dict(sram)))
    mm = MachineMapping(machine=m, network=network, spec=tg.spec, slices=infos,
                        chip_of_slice=chip_of, placement=placement, parts=parts,
                        uncompressed=uncompressed, trees=trees, key_chip=src_chip,
                        schedule=schedule, pl=tg.pl, tick_s=tg.tick_s,
                        cycles_per_tick=tg.cycles_per_tick, activity=activity,
                        chips_needed=need)
    mm.mapping = as_mapping(mm, tg)
    return mm


def as_mapping(mm: MachineMapping, tg):
    """The machine mapping as one ``Mapping`` over global PE ids (``global_pe``): what the
    kinds build their programs from and the reference and analytic traffic count on; its
    ``routes`` are the per-slice entries before the per-chip split."""
    from firmware_py.pipeline import pipeline_ticks
    from s2sim.compiler.mapping import Mapping, RouteEntry

    net = mm.network
    m = Mapping(
        network_name=net.name, network_ref=net.ref, network_fingerprint=net.fingerprint(),
        layer_sizes=net.sizes, n_in=net.input.n_out, readout_n_out=net.readout.n_out,
        readout_trace=bool(net.readout.trace), host_decoder=net.readout.host_decoder,
        spec_path=None, spec_overrides={str(k): str(v) for k, v in tg.spec_overrides.items()},
        pl=tg.pl, frequency_hz=tg.frequency_hz, tick_period_ps=tg.tick_ps,
        cycles_per_tick=tg.cycles_per_tick, partitioner="by_units", placer="machine",
        options={k: tg.opts[k] for k in sorted(tg.opts)} | {"machine": mm.machine.name},
        slices=mm.slices, placement=dict(mm.placement),
        routes_before=sum(p.routes_before for p in mm.parts),
        routes=[RouteEntry(key=r.key, mask=r.mask, pes=list(r.pes), sources=list(r.sources))
                for r in mm.uncompressed],
        table_entries=max(p.table_entries for p in mm.parts),
        data_bytes_available=tg.budget.bytes_available,
        pipeline_ticks=pipeline_ticks(len(net.layers), False), schedule=mm.schedule)
    return m.bind(net, tg.spec)


def _logical_chips(infos, part, n: int, per_chip: int) -> dict[str, int]:
    sizes = [len(p) for p in part.parts]
    # n chips share the slices evenly (the fewest chips fill each; --chips N spreads them)
    even = math.ceil((sum(sizes) + 2) / n)
    layer_chips = assign_chips(sizes, n, min(per_chip, even))
    out = {"input": 0, "readout": 0}
    for s in infos:
        if s.kind == "egru":
            out[s.id] = layer_chips[s.layer][s.index]
    return out


def _chip_traffic(routes, infos, logical: dict[str, int], n: int, n_inputs: int,
                  activity: float) -> np.ndarray:
    """Expected packets per step between logical chips (one per destination chip a sending
    slice's events reach), at the sizing activity (the input source: every input);
    ``routes`` over placeholder global PEs whose chip field is the logical chip."""
    size = {s.id: (n_inputs if s.kind == "input" else activity * len(s.units)) for s in infos}
    sender = {s.key_base: s.id for s in infos if s.key_base is not None}
    t = np.zeros((n, n))
    for r in routes:
        sid = sender.get(r.key)
        if sid is None:
            continue
        for c in {split_global_pe(p)[0] for p in r.pes}:
            if c != logical[sid]:
                t[logical[sid], c] += size[sid]
    return t


def _place_pes(infos, chip_of: dict[str, int], spec) -> dict[str, int]:
    """Global PE of every slice: per chip, slices in pipeline order along the serpentine from
    the host bridge (the input source and the readout first on their chip)."""
    order = serpentine_pes(spec, spec.pe_ids())
    by_chip: dict[int, list] = defaultdict(list)
    host = [s for s in infos if s.kind != "egru"]
    for s in host + [s for s in infos if s.kind == "egru"]:
        by_chip[chip_of[s.id]].append(s.id)
    out = {}
    for c, ids in by_chip.items():
        for sid, pe in zip(ids, order, strict=False):
            out[sid] = global_pe(c, pe)
    return out
