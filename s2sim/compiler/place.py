"""Placement: slices onto PEs.

Built-in placers (``PLACERS``), each ``fn(problem: PlacementProblem) -> dict[slice_id, pe_id]``:
- ``locality`` (default): the input source and the readout go to the QPE of the host bridge
  (shortest host path); the EGRU slices follow layer by layer along a serpentine walk over the QPE
  mesh that starts next to the bridge, so a layer's slices share QPEs and sit next to the layers
  they talk to (layer l sends to l and l+1 only).
- ``linear``: slices in order onto PEs in ascending id order (ignores the mesh).
- ``random``: a seeded random permutation (a stress test for routing and timing).
User placement from Python: a function with the same signature, or an explicit table
``{slice_id: pe_id}`` (every slice). ``pins`` fix single slices for any placer. A placement may
put several slices on one PE; the compiler refuses it when their SRAM regions do not fit,
naming the PE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from s2sim.compiler.strategies import resolve_strategy
from s2sim.errors import CompileError
from s2sim.spec.models import decode_pe_id

__all__ = ["PlacementProblem", "PLACERS", "register_placer", "get_placer", "serpentine_pes",
           "place_slices"]


@dataclass
class PlacementProblem:
    """What a placer sees: slices in pipeline order, the free PEs, the chip geometry."""

    slice_ids: list[str]  # in order: input, layer 0 slices, layer 1 slices, ..., readout
    slice_layer: dict[str, int]  # -1 input, 0..L-1 EGRU layers, L readout
    slice_bytes: dict[str, int]
    free_pes: list[int]  # ascending ids not taken by pins
    spec: object
    seed: int = 0
    pinned: dict[str, int] = field(default_factory=dict)

    def qpe(self, pe: int) -> tuple[int, int]:
        return decode_pe_id(pe)[:2]


def serpentine_pes(spec, free_pes: list[int]) -> list[int]:
    """Free PEs ordered along a serpentine over QPE columns starting at the host bridge."""
    bx, by = (int(v) for v in spec.host.bridge_qpe.value)
    qpe = {pe: decode_pe_id(pe)[:2] for pe in free_pes}
    xs = sorted({q[0] for q in qpe.values()}, key=lambda x: (abs(x - bx), x))
    order = []
    for i, x in enumerate(xs):
        col = sorted({q[1] for q in qpe.values() if q[0] == x},
                     key=lambda y: (abs(y - by), y) if i == 0 else y)
        if i > 0 and i % 2 == 1:
            col = col[::-1]
        for y in col:
            order += sorted(pe for pe in free_pes if qpe[pe] == (x, y))
    return order


def place_locality(p: PlacementProblem) -> dict[str, int]:
    order = serpentine_pes(p.spec, p.free_pes)
    out: dict[str, int] = {}
    # host-facing programs first (they come first in the walk: the bridge QPE)
    host_facing = [s for s in p.slice_ids if p.slice_layer[s] in (-1, max(p.slice_layer.values()))]
    rest = [s for s in p.slice_ids if s not in host_facing]
    for s, pe in zip(host_facing + rest, order, strict=False):
        out[s] = pe
    return out


def place_linear(p: PlacementProblem) -> dict[str, int]:
    return dict(zip(p.slice_ids, p.free_pes, strict=False))


def place_random(p: PlacementProblem) -> dict[str, int]:
    rng = np.random.default_rng(p.seed)
    pes = list(rng.permutation(p.free_pes))
    return {s: int(pe) for s, pe in zip(p.slice_ids, pes, strict=False)}


Placer = Callable[[PlacementProblem], dict[str, int]]
PLACERS: dict[str, Placer] = {
    "locality": place_locality,
    "linear": place_linear,
    "random": place_random,
}


def register_placer(name: str, fn: Placer) -> None:
    PLACERS[name] = fn


def get_placer(p) -> tuple[str, Placer]:
    if isinstance(p, dict):
        table = {str(k): int(v) for k, v in p.items()}
        return "table", lambda prob: {s: table[s] for s in prob.slice_ids if s in table}
    return resolve_strategy("placer", p, PLACERS,
                            ", pass a function or a {slice_id: pe_id} table")


# -- the stage ----------------------------------------------------------------------------------

def place_slices(infos, spec, placer, *, pins: dict[str, int] | None, seed: int, max_pes: int,
                 bytes_available: int, cycles_available: int, pl: int) -> tuple[str, dict[str, int],
                                                                               dict[str, int]]:
    """(placer name, slice id -> PE id, pins) for the slices ``infos``; refuses pins and
    placements onto PEs the chip does not have, PEs whose slices together exceed the data SRAM
    or (for several slices) the cycle budget, and more than ``max_pes`` PEs."""
    all_pes = spec.pe_ids()
    pins = {str(k): int(v) for k, v in (pins or {}).items()}
    ids = [s.id for s in infos]
    _check_pins(pins, ids, all_pes)
    pl_name, pl_fn = get_placer(placer)
    taken = set(pins.values())
    problem = PlacementProblem(
        slice_ids=[s for s in ids if s not in pins], slice_layer={s.id: s.layer for s in infos},
        slice_bytes={s.id: s.sram_bytes for s in infos},
        free_pes=[p for p in all_pes if p not in taken], spec=spec, seed=seed, pinned=dict(pins))
    placed = dict(pl_fn(problem))
    placed.update(pins)
    missing = [s for s in ids if s not in placed]
    if missing:
        raise CompileError(f"placement ({pl_name}) left {len(missing)} slice(s) unplaced, first "
                           f"{missing[0]} (the chip has {len(all_pes)} PEs)")
    per_pe = _slices_per_pe(infos, placed, set(all_pes), pl_name)
    check_pe_budgets(per_pe, spec, bytes_available, cycles_available, pl)
    if len(per_pe) > max_pes:
        raise CompileError(f"placement ({pl_name}) uses {len(per_pe)} PEs, --max-pes is {max_pes}")
    return pl_name, {sid: int(placed[sid]) for sid in ids}, pins


def _check_pins(pins: dict[str, int], ids: list[str], all_pes: list[int]) -> None:
    for sid, pe in pins.items():
        if sid not in ids:
            raise CompileError(f"pin {sid}={pe}: no slice {sid!r} (slices: {ids[0]}..{ids[-1]})")
        if pe not in all_pes:
            raise CompileError(f"pin {sid}={pe}: PE {pe} is not a PE of this chip")


def _slices_per_pe(infos, placed: dict[str, int], pe_set: set[int], pl_name: str) -> dict:
    per_pe: dict[int, list] = {}
    for s in infos:
        pe = int(placed[s.id])
        if pe not in pe_set:
            raise CompileError(f"placement ({pl_name}) puts {s.id} on PE {pe}, not a PE of this "
                               "chip")
        per_pe.setdefault(pe, []).append(s)
    return per_pe


def check_pe_budgets(per_pe: dict, spec, bytes_available: int, cycles_available: int,
                     pl: int) -> None:
    """Refuse a PE whose slices together exceed the data SRAM, or (several slices) the cycle
    budget per step, naming the PE and its slices."""
    from s2sim.errors import ResourceError

    for pe, ss in sorted(per_pe.items()):
        total = sum(s.sram_bytes for s in ss)
        if total > bytes_available:
            qx, qy = spec.qpe_of(pe)
            raise ResourceError(
                f"PE {pe} (QPE {qx},{qy}): slices {', '.join(s.id for s in ss)} need {total} "
                f"bytes of data SRAM together, the PE has {bytes_available} available")
        cyc = sum(s.est_cycles_per_step for s in ss)
        if len(ss) > 1 and cyc > cycles_available:
            raise ResourceError(
                f"PE {pe}: slices {', '.join(s.id for s in ss)} need ~{cyc} cycles per step "
                f"together, the budget is {cycles_available} (PL{pl})")
