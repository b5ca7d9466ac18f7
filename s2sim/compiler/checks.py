"""``Mapping.validate``: a mapping is checked wherever it enters an engine.

A mapping is plain data: it comes from the compiler, from a JSON file a user may have edited, or
from Python code that changed its fields. Every engine runs these checks before it starts, so
that a mapping the compiler would not have produced is refused with a one-line error naming the
slice, PE, key or field, instead of running on stale routes or over-full SRAM. A hand-edited
placement is made valid again with ``Mapping.reroute()`` (routes and send schedule recomputed
from it).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.pipeline import (
    INPUT_FIRST_TICK,
    decoder_first_tick,
    layer_first_tick,
    pipeline_ticks,
    readout_first_tick,
)
from s2sim.compiler.slices import slice_key_base
from s2sim.errors import CompileError, ResourceError

__all__ = ["validate_mapping", "expected_routes"]


def validate_mapping(m, spec, network) -> None:
    """Raise CompileError / ResourceError (one line) for the first inconsistency found."""
    _check_slices(m, network)
    _check_placement(m, spec)
    _check_sram(m, spec)
    _check_timing(m, spec)
    _check_routes(m, spec, network)
    _check_schedule(m)


def _check_slices(m, network) -> None:
    ids = [s.id for s in m.slices]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise CompileError(f"mapping: slice {dup[0]} appears {ids.count(dup[0])} times")
    for kind, want in (("input", 1), ("readout", 1)):
        n = sum(s.kind == kind for s in m.slices)
        if n != want:
            raise CompileError(f"mapping: {n} {kind} slices, a mapping has exactly {want}")
    if list(m.layer_sizes) != list(network.sizes):
        raise CompileError(f"mapping: layer_sizes {m.layer_sizes} differ from the network's "
                           f"{network.sizes}")
    for i, H in enumerate(m.layer_sizes):
        _check_layer_cover(m, i, H)
    _check_decoder_cover(m, network)
    for s in m.slices:
        _check_slice_fields(m, s)


def _check_decoder_cover(m, network) -> None:
    blocks = m.decoder_slices()
    if bool(blocks) != m.decoder_on_chip:
        raise CompileError(f"mapping: {len(blocks)} decoder blocks, but option decoder is "
                           f"{m.options.get('decoder', 'host')!r}")
    if not blocks:
        return
    emb = network.input.embedding
    V = 0 if emb is None else emb.shape[0]
    rows = np.concatenate([np.asarray(s.units, np.int64) for s in blocks])
    if rows.size != V or not np.array_equal(np.sort(rows), np.arange(V)):
        raise CompileError(f"mapping: the decoder blocks must hold rows 0..{V - 1} of the table "
                           f"exactly once (they hold {rows.size} entries)")
    if sorted(s.index for s in blocks) != list(range(len(blocks))):
        raise CompileError(f"mapping: the decoder blocks' indices are not 0..{len(blocks) - 1}")


def _check_layer_cover(m, i: int, H: int) -> None:
    sl = m.layer_slices(i)
    if not sl:
        raise CompileError(f"mapping: layer L{i} has no slices")
    units = np.concatenate([np.asarray(s.units, np.int64) for s in sl])
    if units.size != H or not np.array_equal(np.sort(units), np.arange(H)):
        counts = np.bincount(np.clip(units, 0, H), minlength=H + 1)[:H]
        bad = int(np.flatnonzero(counts != 1)[0]) if (counts != 1).any() else H
        raise CompileError(f"mapping: layer L{i}'s slices must hold units 0..{H - 1} exactly "
                           f"once (unit {bad} is held {int(counts[bad]) if bad < H else '?'} "
                           f"times)")
    if sorted(s.index for s in sl) != list(range(len(sl))):
        raise CompileError(f"mapping: layer L{i}'s slice indices are not 0..{len(sl) - 1}")


def _expected_key(s) -> int | None:
    return slice_key_base(s.kind, s.layer, s.index)


def _check_slice_fields(m, s) -> None:
    first = {"input": INPUT_FIRST_TICK, "decoder": decoder_first_tick(m.n_layers),
             "readout": readout_first_tick(m.n_layers, m.decoder_on_chip)}.get(
        s.kind, layer_first_tick(s.layer) if s.kind == "egru" else None)
    if s.first_tick != first:
        raise CompileError(f"slice {s.id}: first_tick {s.first_tick}, the pipeline has {first}")
    want = _expected_key(s)
    if s.key_base is not None and want is None:
        raise CompileError(f"slice {s.id}: key_base 0x{s.key_base:08x}, but a {s.kind} slice "
                           "sends no packets (its key_base is null)")
    if s.key_base is not None and s.key_base != want:
        raise CompileError(f"slice {s.id}: key_base 0x{s.key_base:08x}, the key layout gives "
                           f"0x{want:08x}")
    if sum(s.regions.values()) != s.sram_bytes:
        raise CompileError(f"slice {s.id}: sram_bytes {s.sram_bytes} != the sum of its regions "
                           f"({sum(s.regions.values())})")
    if any(v < 0 for v in s.regions.values()) or s.est_cycles_per_step < 0:
        raise CompileError(f"slice {s.id}: negative region size or cycle estimate")


def _check_placement(m, spec) -> None:
    ids = {s.id for s in m.slices}
    for sid in m.slices:
        if sid.id not in m.placement:
            raise CompileError(f"mapping: slice {sid.id} is not placed")
    extra = sorted(set(m.placement) - ids)
    if extra:
        raise CompileError(f"mapping: placement names {extra[0]}, which is not a slice")
    pes = set(spec.pe_ids())
    for sid, pe in m.placement.items():
        if pe not in pes:
            raise CompileError(f"slice {sid}: placed on PE {pe}, not a PE of this chip")
    n_used = len(m.pes_used())
    usable = int(spec.organisation.usable_pes.value)
    # the compile's max_pes (spec usable_pes by default; an explicit --pes may go up to the
    # chip's PEs less the system ones, as the published 150-PE deployment did)
    limit = min(len(pes), int(m.options.get("max_pes") or usable))
    if n_used > limit:
        raise ResourceError(f"mapping uses {n_used} PEs, the limit is {limit} (option max_pes; "
                            f"spec organisation.usable_pes {usable})")


def _check_sram(m, spec) -> None:
    avail = (int(spec.memory.data_sram_bytes.value) - int(spec.memory.stack_heap_bytes.value)
             - int(m.options.get("sram_headroom_bytes") or 0))
    by = {s.id: s for s in m.slices}
    for pe, sids in m.pe_slices().items():
        total = sum(by[sid].sram_bytes for sid in sids)
        if total > avail:
            raise ResourceError(f"PE {pe} ({'+'.join(sids)}): needs {total} bytes of data "
                                f"SRAM, the spec leaves {avail} (data_sram_bytes less "
                                f"stack_heap_bytes)")


def _check_timing(m, spec) -> None:
    n_pl = len(spec.performance_levels)
    if not 0 <= m.pl < n_pl:
        raise CompileError(f"mapping: pl {m.pl}, the spec has PL0..PL{n_pl - 1}")
    tick_s = float(spec.timing.tick_period_s.value)
    freq = float(spec.pl(m.pl).frequency_hz.value)
    if int(round(tick_s * 1e12)) != m.tick_period_ps:
        raise CompileError(f"mapping: tick {m.tick_period_ps} ps, the spec's is "
                           f"{int(round(tick_s * 1e12))} ps: recompile with this spec")
    if freq != m.frequency_hz or int(math.floor(tick_s * freq)) != m.cycles_per_tick:
        raise CompileError(f"mapping: PL{m.pl} at {m.frequency_hz:g} Hz / {m.cycles_per_tick} "
                           f"cycles per tick, the spec gives {freq:g} Hz: recompile")
    want = pipeline_ticks(m.n_layers, m.decoder_on_chip)
    if m.pipeline_ticks != want:
        raise CompileError(f"mapping: pipeline_ticks {m.pipeline_ticks}, the scheme has {want}")


def expected_routes(m, network) -> list:
    """The uncompressed routes the mapping's slices and placement call for."""
    from s2sim.compiler.route import slice_routes

    parts = [[np.asarray(s.units, np.int64) for s in sorted(m.layer_slices(i),
                                                             key=lambda x: x.index)]
             for i in range(m.n_layers)]
    key_of = {s.id: _expected_key(s) for s in m.slices if _expected_key(s) is not None}
    return slice_routes(network, parts, key_of, m.placement)


def _first_match(routes, key: int):
    for r in routes:
        if (key & r.mask) == (r.key & r.mask):
            return r
    return None


def _check_routes(m, spec, network) -> None:
    table = int(spec.router.table_entries.value)
    if len(m.routes) > table:
        raise CompileError(f"mapping: {len(m.routes)} routing entries, the router holds {table}")
    for want in expected_routes(m, network):
        sender = want.sources[0]
        s_key = m.slice(sender).key_base if sender != "host" else want.key
        got = _first_match(m.routes, want.key)
        if s_key is None:
            raise CompileError(f"slice {sender}: has consumers on PEs {sorted(want.pes)} but no "
                               f"key (it would send nothing)")
        if got is None:
            raise CompileError(f"key 0x{want.key:08x} ({sender}): no routing entry; its "
                               f"consumers are on PEs {sorted(want.pes)} (mapping.reroute())")
        if set(got.pes) != set(want.pes):
            raise CompileError(
                f"key 0x{want.key:08x} ({sender}): routed to PEs {sorted(got.pes)}, its "
                f"consumers are on {sorted(want.pes)} (stale routes: mapping.reroute())")
        if sender not in got.sources:
            raise CompileError(f"routing entry 0x{got.key:08x}/0x{got.mask:08x}: matches "
                               f"{sender}'s key but does not list it in its sources")
    routed = {src for r in m.routes for src in r.sources}
    senders = {s.id for s in m.slices if s.key_base is not None} | {"host"}
    for r in m.routes:
        stray = [src for src in r.sources if src not in senders]
        if stray:
            raise CompileError(f"routing entry 0x{r.key:08x}/0x{r.mask:08x}: source {stray[0]} "
                               f"sends nothing (no key): stale routes, mapping.reroute()")
    for s in m.slices:
        if s.key_base is not None and s.id not in routed:
            raise CompileError(f"slice {s.id}: has a key but no route (nobody consumes it)")


def _check_schedule(m) -> None:
    senders = [s for s in m.slices if s.kind == "egru" and s.key_base is not None]
    sch = m.schedule
    if sch is None:
        return  # without a schedule every sender sends at once (mappings built by hand)
    for s in senders:
        if s.send_phase is None or s.send_slot is None:
            raise CompileError(f"slice {s.id}: sends but has no slot in the send schedule")
        groups = sch.group_start_cycles
        if not (0 <= s.send_phase < len(groups) and 0 <= s.send_slot < len(groups[s.send_phase])):
            raise CompileError(f"slice {s.id}: send slot ({s.send_phase}, {s.send_slot}) is not "
                               f"in the schedule's groups {sch.phase_groups}")
